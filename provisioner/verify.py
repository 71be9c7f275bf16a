"""Verify after apply: read back what an apply changed and compare every field the platform shows with what was
sent (docs/apply.md, "Verify"). A platform may answer 200 to an update and keep the old value; this finds it.

The read is one list per changed kind, all pages (the documents of a knowledge base: one list per knowledge
base that had a change), never a request per object. Write-only fields are not compared (the platform never
shows them); sensitive ones neither (a value read back would have to be shown to say it differs). What the
platform holds goes into state's view of it (`remote`) and its record of what was applied (`spec`), so `state show`
and the next plan see it; the next plan shows the manifest's value as a change still to make (not as drift).
"""
from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from .apply import PLAIN_VALUES, ApplyReport, resolve_refs
from .kinds import ASSISTANT, KINDS
from .kinds.base import matches
from .plan import Action, Change, is_marker, marker
from .planner import RemoteAssistant, identical, same
from .reading import begin_reading, finish_reading, read_children
from .state import State
from .walk import state_address
from .wire import PROJECTED_FIELDS, READABLE_FIELDS, Lookups, comparable, desired_comparable

SHOWN_LIMIT = 200  # characters of a value in a mismatch line


@dataclass(frozen=True)
class Mismatch:
    """A field the platform did not keep: what was sent and what it holds (never of a sensitive field)."""

    address: str
    field: str
    sent: Any
    held: Any
    remote_id: int

    def line(self) -> str:
        return (f"{self.address}: spec.{self.field} was sent as {_shown(self.sent)} but the platform holds "
                f"{_shown(self.held)} (id {self.remote_id})")


@dataclass
class Verification:
    mismatches: list[Mismatch]
    reads: int        # list reads made (one per changed kind, or per parent for a child kind), each all pages
    checked: int      # objects compared
    missing: list[str]  # addresses whose object the read did not find (deleted meanwhile)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.missing


def to_verify(report: ApplyReport) -> list[tuple[Change, int]]:
    """The changes that sent fields and succeeded, with the id of the object they left."""
    found = []
    for result in report.results:
        change = result.change
        if not result.ok or result.skipped or result.remote_id is None or not change.body:
            continue
        kind = KINDS.get(change.kind)
        if change.action is not Action.CREATE and kind is not None and not kind.update_sends(change.body):
            continue  # a child's body names its parent, sent in the path: alone, nothing was sent (apply.py)
        if change.action in (Action.CREATE, Action.UPDATE, Action.IMPORT):
            found.append((change, result.remote_id))
    return found


def verify_apply(report: ApplyReport, client: Any, state: State, lookups: Lookups | None = None) -> Verification:
    """Read back the objects `report` changed and compare; state's `remote` view is set to what was read."""
    # With the cyclic collector paused, as a run reads and plans (heap.py): the lists read are acyclic data, and
    # each collection would rescan the heap the apply left (a tenth of a fleet's verify, freeing nothing).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _verify(report, client, state, lookups)
    finally:
        if enabled:
            gc.enable()


def _verify(report: ApplyReport, client: Any, state: State, lookups: Lookups | None) -> Verification:
    changed = to_verify(report)
    if not changed:
        return Verification([], 0, 0, [])
    id_of = _ids(state)
    kinds = sorted({c.kind for c, _ in changed})
    parents: dict[str, set[int]] = {}
    for change, _ in changed:
        kind = KINDS.get(change.kind)
        if kind is not None and kind.parent_field:
            parent = resolve_refs(change.body.get(kind.parent_field), id_of)
            if isinstance(parent, int):
                parents.setdefault(change.kind, set()).add(parent)
    # The plan's own list reads (reading.py): every page of each top-level kind, a child kind per parent.
    children = {f"{kind} {parent}": (kind, parent) for kind, ids in parents.items() for parent in sorted(ids)}
    with ThreadPoolExecutor(8, thread_name_prefix="verify") as pool:
        assistants = pool.submit(client.list_assistants) if ASSISTANT in kinds else None
        lists = begin_reading(client, set(kinds) - {ASSISTANT}, pool)
        objects = {**read_children(client, children, pool), **finish_reading(lists)}
        if assistants is not None:
            # Only the assistants this apply changed are compared: only they are read into manifest fields.
            wanted = {remote_id for change, remote_id in changed if change.kind == ASSISTANT}
            # In one read_all (wire.read_items): a fleet's items share most values, each converted once.
            items = [item for item in assistants.result() if item["id"] in wanted]
            objects[ASSISTANT] = RemoteAssistant.read_all(items, lookups or Lookups())
    listed = {kind: {o.id: o for o in found} for kind, found in objects.items()}
    reads = len(lists) + len(children) + (assistants is not None)
    mismatches: list[Mismatch] = []
    missing: list[str] = []
    for change, remote_id in changed:
        live = listed.get(change.kind, {}).get(remote_id)
        if live is None:
            missing.append(change.address)
            continue
        # A change without references (no depends_on, apply._resolved) was sent as planned: nothing to resolve.
        # The others' references are resolved in the values compared, as they are taken (not a copy of the body).
        body = change.body
        if change.depends_on and is_marker(body):  # a body that is itself a reference
            body = resolve_refs(body, id_of)
        found = _compare(change, body, live.fields, remote_id, id_of if change.depends_on else None)
        if found:
            mismatches += found
            _record_held(state, change.address, found)
    return Verification(mismatches, reads, len(changed) - len(missing), missing)


def compare(change: Change, sent: Mapping[str, Any], shown: Mapping[str, Any], remote_id: int) -> list[Mismatch]:
    """The fields of `sent` that the platform shows back with another value. Sensitive and write-only fields
    are skipped: the first must never be shown, the second cannot be read."""
    return _compare(change, sent, shown, remote_id, None)


def _compare(change: Change, body: Mapping[str, Any], shown: Mapping[str, Any], remote_id: int,
             id_of: Callable[[str], Any] | None) -> list[Mismatch]:
    """compare(change, resolve_refs(body, id_of), ...); `id_of` None: nothing to resolve."""
    hidden = change.sensitive
    shown_ok = _shown_names(change.kind)
    names = [name for name in body if name not in hidden and name in shown_ok and name in shown]
    sent = [body[name] for name in names]
    if id_of is not None:  # only a mapping or a list can hold a reference
        sent = [value if type(value) in PLAIN_VALUES else resolve_refs(value, id_of) for value in sent]
    held = [shown[name] for name in names]
    # Nearly always every field stuck: values `identical` all through (planner.identical: equal, of the same
    # types, no NaN) agree whatever the field, so one C comparison of all of them answers, field by field only
    # when it cannot.
    if identical(sent, held):
        return []
    kind = change.kind
    return [Mismatch(change.address, name, value, seen, remote_id)
            for name, value, seen in zip(names, sent, held) if not _agrees(kind, name, value, seen)]


@lru_cache(maxsize=None)
def _shown_names(kind: str) -> frozenset[str]:
    """The fields a kind shows back (made once per kind, not once per object)."""
    if kind == ASSISTANT:
        return READABLE_FIELDS
    return frozenset(f.name for f in KINDS[kind].fields if f.shown and not f.sensitive)


def _agrees(kind: str, name: str, sent: Any, held: Any) -> bool:
    if kind == ASSISTANT and name in PROJECTED_FIELDS:
        return same(comparable(name, held, sent), desired_comparable(name, sent))
    return same(held, sent) or matches(sent, held)


def _record_held(state: State, address: str, mismatches: Iterable[Mismatch]) -> None:
    """What the platform holds, as its view (`remote`) and as what was applied (`spec`): the value sent did not
    take effect. Recorded as applied, the next plan took the platform's value for drift, and `pull` wrote it back
    over the manifest's edit; now the manifest's value is a change still to make."""
    entry = state.resources.get(state_address(address))
    if entry is None:
        return
    for mismatch in mismatches:
        entry.remote = {**(entry.remote or {}), mismatch.field: mismatch.held}
        if entry.spec is not None:
            entry.spec = {**entry.spec, mismatch.field: mismatch.held}


def _ids(state: State) -> Callable[[str], Any]:
    """An address's id in state; the reference itself (`{"$ref": address}`) for one state does not hold."""
    resources = state.resources
    found: dict[str, Any] = {}  # a fleet refers to the same few objects thousands of times: each looked up once

    def id_of(address: str) -> Any:
        known = found.get(address)
        if known is None:
            entry = resources.get(state_address(address))
            if entry is None:
                return marker(address)
            known = found[address] = entry.id
        return known
    return id_of


def _shown(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN_LIMIT else text[:SHOWN_LIMIT] + "…"

