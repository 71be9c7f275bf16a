"""The generic planner of every registered kind, and the resolution of references to ids (docs/graph.md).

Pure: (manifests, state, the platform's lists) -> changes. No I/O, and no branch on a kind's name: what
differs between kinds is in their `FieldFacts` (kinds/base.py).

Each object is decided once, as an assistant is (planner.py): state says which platform id it is and what
was last sent; the platform's list what is there now. A field the platform shows back is compared with it
(drift); a write-only one with what state recorded; a sensitive one by digest, and shown by name only. A
changed field that cannot be updated in place (`replace`), or any change of a kind without an update,
makes a `-/+` replacement. Without a state entry, the one unclaimed object of the manifest's name is
adopted (two is an error, never a guess), else the object is created.

References are resolved last, in the graph's order: an address becomes the id of its object, or a
`{"$ref": address}` marker when that object is created (or replaced) by the same apply; `{name: ...}`
becomes the id of the one object of that name nobody manages; an E.164 string the id of that number.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .errors import Problem
from .graph import Graph, Use, uses
from .kinds import ASSISTANT, KINDS
from .kinds.base import NO_DEFAULT, FieldFacts, Kind, ReadProblem
from .manifest import Manifest
from .plan import Action, Change, FieldChange, StateSync
from .planner import same
from .redaction import SENSITIVE, digest, digest_fields, is_digest
from .state import Owner, ResourceState

REF = "$ref"
KNOWN_AFTER_APPLY = "(known after apply)"


def marker(address: str) -> dict[str, str]:
    """An id this apply will know once `address` is created: apply puts the id in its place."""
    return {REF: address}


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(REF), str)


def markers_in(value: Any) -> list[str]:
    """The addresses of every marker in a value (a field, a body), in order."""
    if is_marker(value):
        return [value[REF]]
    if isinstance(value, dict):
        return [a for v in value.values() for a in markers_in(v)]
    if isinstance(value, list):
        return [a for v in value for a in markers_in(v)]
    return []


@dataclass(frozen=True)
class RemoteObject:
    """One object of a kind as the platform lists it, read into manifest terms by the kind."""

    kind: str
    id: int
    name: str
    fields: dict[str, Any]
    item: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    problems: tuple[ReadProblem, ...] = ()

    @classmethod
    def from_item(cls, kind: Kind, item: dict[str, Any]) -> "RemoteObject":
        fields, problems = kind.read(item)
        return cls(kind.name, int(item["id"]), str(item.get(kind.name_field, "")), fields, item, tuple(problems))

    @property
    def fingerprint(self) -> str:
        return digest(self.item)


def read_list(kind: Kind, items: Iterable[dict[str, Any]]) -> list[RemoteObject]:
    """A kind's list in manifest terms; items without an integer id are not objects anyone can manage."""
    return [RemoteObject.from_item(kind, item) for item in items
            if isinstance(item, dict) and isinstance(item.get("id"), int) and not isinstance(item.get("id"), bool)]


def kind_of_address(address: str) -> str:
    return address.split(".", 1)[0] if "." in address else ASSISTANT


# --- which object each manifest is, before anything is decided ---

@dataclass
class Identities:
    """address -> the platform id its object has now (None: none yet, created by this apply), and the
    objects nobody manages, per kind (for `{name: ...}` lookups and adoption)."""

    ids: dict[str, int | None]
    unmanaged: dict[str, list[Any]]
    adopted: dict[str, Any] = field(default_factory=dict)  # address -> the unclaimed object it adopts
    # address -> (object, owner): the only objects of its name are managed by another workspace or project
    owned_elsewhere: dict[str, list[tuple[Any, Owner]]] = field(default_factory=dict)


def identify(manifests: Iterable[Manifest], state: Mapping[str, ResourceState],
             remote: Mapping[str, list[Any]], foreign: Mapping[tuple[str, int], Owner] | None = None) -> Identities:
    """Which platform object each manifest is: its state entry's (if still there), else the one unclaimed
    object of its name. `remote`: kind -> objects with `.id` and `.name` (assistants included)."""
    foreign = foreign or {}
    claimed: dict[str, set[int]] = {}
    for address, entry in state.items():
        claimed.setdefault(kind_of_address(address), set()).add(entry.id)
    unmanaged = {kind: [r for r in objects if r.id not in claimed.get(kind, set())
                        and (kind, r.id) not in foreign]
                 for kind, objects in remote.items()}
    ids: dict[str, int | None] = {}
    adopted: dict[str, Any] = {}
    owned_elsewhere: dict[str, list[tuple[Any, Owner]]] = {}
    live = {kind: {r.id for r in objects} for kind, objects in remote.items()}
    by_name = _by_name(unmanaged)  # a fleet that lost its state adopts thousands: no scan per manifest
    for manifest in manifests:
        entry = state.get(manifest.address)
        if entry is not None and entry.id in live.get(manifest.kind, set()):
            ids[manifest.address] = entry.id
            continue
        namesakes = by_name.get(manifest.kind, {}).get(manifest.platform_name, [])
        ids[manifest.address] = namesakes[0].id if len(namesakes) == 1 else None
        if len(namesakes) == 1:
            adopted[manifest.address] = namesakes[0]
        elif not namesakes:
            elsewhere = [(r, foreign[(manifest.kind, r.id)]) for r in remote.get(manifest.kind, [])
                         if r.name == manifest.platform_name and (manifest.kind, r.id) in foreign]
            if elsewhere:
                owned_elsewhere[manifest.address] = elsewhere
    taken = {(kind_of_address(a), i) for a, i in ids.items() if i is not None}
    return Identities(ids, {kind: [r for r in objects if (kind, r.id) not in taken]
                            for kind, objects in unmanaged.items()}, adopted, owned_elsewhere)


def _by_name(objects: Mapping[str, list[Any]]) -> dict[str, dict[str, list[Any]]]:
    """kind -> name -> the objects of that name."""
    index: dict[str, dict[str, list[Any]]] = {}
    for kind, listed in objects.items():
        names = index.setdefault(kind, {})
        for r in listed:
            names.setdefault(r.name, []).append(r)
    return index


# --- references -> ids ---

@dataclass
class Resolver:
    identities: Identities
    graph: Graph
    # address -> True once a change this apply makes gives it a new id (a create or a replacement)
    renewed: set[str] = field(default_factory=set)
    # How a number lookup reads an object's E.164 string.
    number_field: str = "phone_number"
    _names: dict[str, dict[str, list[Any]]] | None = field(default=None, repr=False)

    def resolve(self, manifest: Manifest) -> tuple[dict[str, Any], list[str], list[Problem]]:
        """The manifest's fields with every reference an id or a marker, the addresses it must wait for, and
        the lookups that found no object or more than one."""
        found = list(uses(manifest))
        if not found:  # most assistants of a fleet: nothing to resolve, nothing copied
            return manifest.fields, [], []
        fields = copy.deepcopy(manifest.fields)
        waits: list[str] = []
        problems: list[Problem] = []
        for use in found:
            value, problem = self._value(use)
            if problem:
                problems.append(Problem(problem, manifest.location("spec", *use.path), use.field, manifest.address))
                continue
            if use.target is not None and use.target in self.graph.manifests:
                # A marker's object is created first; an existing one may be updated by the same apply: first too.
                waits.append(use.target)
            _put(fields, use.path, value)
        return fields, sorted(set(waits)), problems

    def _value(self, use: Use) -> tuple[Any, str | None]:
        reference = use.reference
        if reference.id is not None:
            return reference.id, None
        if reference.address is not None:
            target = use.target
            known = self.identities.ids.get(target)
            if target in self.renewed or known is None:
                return marker(target), None
            return known, None
        if reference.number is not None:
            found = [r for r in self._objects(use.facts.ref)
                     if getattr(r, "item", {}).get(self.number_field) == reference.number]
            what = f"phone number {reference.number}"
        else:
            if self._names is None:
                self._names = _by_name(self.identities.unmanaged)
            found = list(self._names.get(use.facts.ref, {}).get(reference.name, []))
            what = f"{_title(use.facts.ref)} named {reference.name!r}"
        found = list({r.id: r for r in found}.values())
        if len(found) == 1:
            return found[0].id, None
        if not found:
            if use.facts.ref not in self.identities.unmanaged and reference.number is None:
                return None, (f"cannot look up a {_title(use.facts.ref)} by name: this provisioner does not read "
                              f"{use.facts.ref} lists; use an id")
            return None, (f"no {what} that no manifest manages exists on the platform; create it, or name a "
                          "manifest by its address")
        ids = ", ".join(str(r.id) for r in found)
        return None, (f"the platform has {len(found)} objects for {what} (ids {ids}): choosing one would be a "
                      "guess; use its id")

    def _objects(self, kind: str) -> list[Any]:
        return self.identities.unmanaged.get(kind, [])


def _put(fields: dict[str, Any], path: tuple, value: Any) -> None:
    target: Any = fields
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _title(kind: str) -> str:
    return KINDS[kind].title if kind in KINDS else {"number": "phone number"}.get(kind, kind)


# --- the diff of one kind's objects ---

@dataclass
class KindsPlan:
    changes: list[Change] = field(default_factory=list)
    syncs: list[StateSync] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_alone: list[dict[str, str]] = field(default_factory=list)


def desired(kind: Kind, fields: dict[str, Any]) -> dict[str, Any]:
    """The managed fields: those the manifest sets, and the documented defaults of those it leaves out."""
    return {f.name: fields[f.name] if f.name in fields else f.default
            for f in kind.fields if f.name in fields or f.default is not NO_DEFAULT}


def record(manifest: Manifest, fields: dict[str, Any], remote_fields: dict[str, Any]) -> dict[str, Any]:
    """What state keeps once the change is done: what was sent (resolved, secrets digested), and the platform's
    view of the fields it shows."""
    kind = KINDS[manifest.kind]
    shown = {f.name for f in kind.fields if f.shown}
    return {
        "spec": digest_fields(fields, manifest.sensitive),
        "protect": manifest.protect,
        "sensitive": sorted(manifest.sensitive),
        "remote": digest_fields({k: remote_fields[k] for k in sorted(remote_fields) if k in shown},
                                manifest.sensitive),
        "source": manifest.document.file,
    }


def plan_object(manifest: Manifest, fields: dict[str, Any], depends_on: list[str],
                entry: ResourceState | None, live: RemoteObject | None, adopt: RemoteObject | None) -> Change | None:
    """The change of one object of a kind (None: nothing to do). `fields` are resolved (ids, markers)."""
    kind = KINDS[manifest.kind]
    wanted = desired(kind, fields)
    common = dict(kind=kind.name, location=str(manifest.location()), sensitive=sorted(manifest.sensitive),
                  depends_on=depends_on)
    ready_step = kind.endpoints.readiness is not None  # a new object of this kind is waited for
    if live is None and adopt is None:
        reason = f"id {entry.id} is gone from the platform (deleted outside the provisioner)" if entry else None
        changes = [_field_change(manifest, f, None, wanted[f.name], known=False)
                   for f in kind.fields if f.name in wanted and f.name in fields]
        return Change(manifest.address, Action.CREATE, manifest.platform_name, reason=reason, fields=changes,
                      body=dict(wanted), record=record(manifest, wanted, _shown_fields(kind, wanted)),
                      wait=ready_step, **common)
    current = live or adopt
    last = entry.spec if (entry is not None and live is not None) else None
    changes = _field_changes(manifest, kind, wanted, fields, last, current)
    if not changes and live is not None:
        return None
    replace = [c.field for c in changes if kind.facts(c.field).replace] or (
        [c.field for c in changes] if kind.endpoints.update is None else [])
    if replace:
        why = ", ".join(replace)
        lost = f"; {kind.replace_loses}" if kind.replace_loses else ""
        adopted = "" if live is not None else f" (the one named {manifest.platform_name!r}, adopted)"
        return Change(manifest.address, Action.CREATE, manifest.platform_name, remote_id=current.id,
                      reason=f"{why} cannot be changed in place: the {kind.title}{adopted} is replaced{lost}",
                      fields=changes, body=dict(wanted), record=record(manifest, wanted, _shown_fields(kind, wanted)),
                      remote_fingerprint=current.fingerprint, replace=True,
                      replace_reason=kind.replace_loses or f"{why} cannot be updated", wait=ready_step, **common)
    body = {c.field: wanted[c.field] for c in changes}
    after = {**current.fields, **{k: v for k, v in wanted.items() if k in current.fields}}
    if live is None:
        reason = (f"no {kind.title} in state for this manifest, and the platform has exactly one named "
                  f"{manifest.platform_name!r}: adopting it instead of creating a second")
        if entry is not None:
            reason = f"id {entry.id} is gone from the platform; adopting id {current.id}, the one named alike"
        return Change(manifest.address, Action.IMPORT, manifest.platform_name, remote_id=current.id, reason=reason,
                      fields=changes, body=body, record=record(manifest, wanted, after),
                      remote_fingerprint=current.fingerprint, **common)
    return Change(manifest.address, Action.UPDATE, manifest.platform_name, remote_id=current.id, fields=changes,
                  body=body, record=record(manifest, wanted, after), remote_fingerprint=current.fingerprint, **common)


def _shown_fields(kind: Kind, wanted: dict[str, Any]) -> dict[str, Any]:
    return {f.name: wanted[f.name] for f in kind.fields if f.shown and f.name in wanted}


def _field_changes(manifest: Manifest, kind: Kind, wanted: dict[str, Any], fields: dict[str, Any],
                   last: dict[str, Any] | None, current: RemoteObject) -> list[FieldChange]:
    changes = []
    for facts in kind.fields:
        if facts.name not in wanted:
            continue
        value = wanted[facts.name]
        hidden = facts.name in manifest.sensitive
        reset = last is not None and facts.name in last and facts.name not in fields
        if facts.shown and facts.name in current.fields:
            before = current.fields[facts.name]
            if same(before, value):
                continue
            applied = last.get(facts.name, _default(facts)) if last is not None else None
            drift = last is not None and not reset and _same_recorded(applied, value, hidden)
            changes.append(_field_change(manifest, facts, before, value, reset=reset, drift=drift))
        elif last is None:
            if facts.name in fields:  # adopted or imported: what the platform holds is unknowable; send it
                changes.append(_field_change(manifest, facts, None, value, source="last-applied", known=False))
        else:
            before = last.get(facts.name, _default(facts))
            if not _same_recorded(before, value, hidden):
                changes.append(_field_change(manifest, facts, before, value, source="last-applied", reset=reset))
    return changes


def _default(facts: FieldFacts) -> Any:
    return None if facts.default is NO_DEFAULT else facts.default


def _same_recorded(recorded: Any, wanted: Any, hidden: bool) -> bool:
    """A value state recorded (a digest when sensitive) against a wanted one. A marker never equals an id."""
    if markers_in(wanted):
        return False
    if hidden and is_digest(recorded) and wanted is not None:
        return recorded == digest(wanted)
    return same(recorded, wanted)


def _field_change(manifest: Manifest, facts: FieldFacts, before: Any, after: Any, *, source: str = "platform",
                  known: bool = True, reset: bool = False, drift: bool = False) -> FieldChange:
    hidden = facts.name in manifest.sensitive

    def shown(value: Any) -> Any:
        return SENSITIVE if hidden and value is not None else value

    return FieldChange(facts.name, shown(before), shown(after), source=source, before_known=known, reset=reset,
                       drift=drift, sensitive=hidden)


def plan_kinds(manifests: list[Manifest], resolver: Resolver, state: Mapping[str, ResourceState],
               remote: Mapping[str, list[RemoteObject]], *, destroy: bool = False,
               wanted: Callable[[str], bool] = lambda address: True,
               left_alone: Mapping[str, str] | None = None) -> KindsPlan:
    """The changes of every object of a registered kind: creates, updates, adoptions and replacements of the
    manifests (in the graph's order: a replaced object's referrers then wait for its new id), deletes and
    forgets of the state entries whose manifest is gone. `state`: the entries of these kinds only."""
    result = KindsPlan()
    identities = resolver.identities
    left_alone = {} if destroy else dict(left_alone or {})
    by_id = {kind: {r.id: r for r in objects} for kind, objects in remote.items()}
    by_address = {m.address: m for m in manifests}
    for manifest in ([] if destroy else manifests):
        if not wanted(manifest.address):
            continue
        entry = state.get(manifest.address)
        live = by_id.get(manifest.kind, {}).get(entry.id) if entry else None
        adopt = None if live else identities.adopted.get(manifest.address)
        if live is None and adopt is None:
            refused = _adoption_problems(manifest, remote, identities)
            if refused:
                result.problems += refused
                continue
        current = live or adopt
        if current is not None and current.problems:
            for p in current.problems:
                result.problems.append(Problem(
                    f"the platform's {KINDS[manifest.kind].title} id {current.id} shows {p.field} in a form the "
                    f"provisioner cannot read: {p.message}; nothing was planned from it",
                    manifest.location("spec", p.field), f"spec.{p.field}", manifest.address))
            continue
        fields, depends_on, problems = resolver.resolve(manifest)
        if problems:
            result.problems += problems
            continue
        if live is not None:
            result.notes += _unmanaged_notes(manifest, entry, fields)
        change = plan_object(manifest, fields, depends_on, entry, live, adopt)
        if change is not None:
            result.changes.append(change)
            if change.replace or change.action is Action.CREATE:
                resolver.renewed.add(manifest.address)
        elif entry is not None and _sync_owed(manifest, entry, fields):
            result.syncs.append(StateSync(manifest.address, record(manifest, desired(KINDS[manifest.kind], fields),
                                                                   live.fields)))
    managed_now = set() if destroy else set(by_address)
    for address in sorted(state):
        if address in managed_now or not wanted(address):
            continue
        if address in left_alone:
            result.left_alone.append({"address": address, "source": left_alone[address]})
            continue
        entry = state[address]
        # The row's own kind (a document's address begins with its knowledge base's); rows of old stores: by address.
        kind = KINDS.get(entry.kind if entry.kind != ASSISTANT else kind_of_address(address))
        if kind is None or kind.reference_only:
            continue
        manifest = by_address.get(address)
        live = by_id.get(kind.name, {}).get(entry.id)
        name = str((entry.remote or {}).get(kind.name_field, "")) if live is None else live.name
        if live is None:
            result.changes.append(Change(address, Action.FORGET, name, remote_id=entry.id, kind=kind.name,
                                         reason=f"id {entry.id} is already gone from the platform"))
            continue
        if (manifest.protect if manifest else entry.protect):
            cause = "`destroy` would delete it" if destroy else "its manifest was removed, so it would be deleted"
            result.problems.append(Problem(
                f"{kind.title} {address!r} (id {entry.id}) is protected, and {cause}; to allow this, set "
                "metadata.protect: false in its manifest and apply first (or `provisioner state rm` it to stop "
                "managing it)", manifest.location("metadata", "protect") if manifest else None, address=address))
            continue
        why = "destroy requested" if destroy else "its manifest was removed"
        result.changes.append(Change(address, Action.DELETE, live.name, remote_id=live.id, reason=why,
                                     remote_fingerprint=live.fingerprint, kind=kind.name))
    return result


def _adoption_problems(manifest: Manifest, remote: Mapping[str, list[RemoteObject]],
                       identities: Identities) -> list[Problem]:
    """Why a manifest without an object cannot adopt one by name: two namesakes (choosing would be a guess), or
    the only ones managed by another workspace or project (one object has one owner)."""
    kind = KINDS[manifest.kind]

    def at_name(message: str) -> Problem:
        return Problem(message, manifest.location("spec", kind.name_field), f"spec.{kind.name_field}",
                       manifest.address)

    unclaimed = {r.id for r in identities.unmanaged.get(manifest.kind, [])}
    namesakes = [r for r in remote.get(manifest.kind, []) if r.name == manifest.platform_name and r.id in unclaimed]
    if len(namesakes) > 1:
        ids = ", ".join(str(r.id) for r in namesakes)
        return [at_name(f"the platform has {len(namesakes)} {kind.title}s named {manifest.platform_name!r} (ids "
                        f"{ids}) and none is in state, so adopting one would be a guess; choose one with "
                        f"`provisioner import {manifest.address} ID`")]
    return [at_name(f"{manifest.address!r} would adopt the platform's {kind.title} id {other.id} ({other.name!r}) "
                    f"by its name, but {owner.describe()} of this state store manages it; one object has one "
                    f"owner. Move it with `provisioner state rm {owner.address} --workspace {owner.workspace}` "
                    f"there, then `provisioner import {manifest.address} {other.id}` here")
            for other, owner in identities.owned_elsewhere.get(manifest.address, [])]


def _unmanaged_notes(manifest: Manifest, entry: ResourceState, fields: dict[str, Any]) -> list[str]:
    """Fields without a documented default that the manifest no longer sets: the platform keeps them."""
    kind = KINDS[manifest.kind]
    dropped = sorted(f.name for f in kind.fields
                     if f.default is NO_DEFAULT and f.name in (entry.spec or {}) and f.name not in fields)
    return [f"{manifest.address}: spec.{name} is no longer set, so it is no longer managed; the platform keeps "
            f"its current value (set it to null to clear it)." for name in dropped]


def _sync_owed(manifest: Manifest, entry: ResourceState, fields: dict[str, Any]) -> bool:
    wanted = desired(KINDS[manifest.kind], fields)
    return (entry.protect != manifest.protect or sorted(entry.sensitive) != sorted(manifest.sensitive)
            or entry.spec != digest_fields(wanted, manifest.sensitive) or entry.source != manifest.document.file)
