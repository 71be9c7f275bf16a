"""import and refresh: bring what the platform holds into state, changing nothing on the platform.

Both are generic over kinds: an address names its kind (`folder.sales`, `support` or `assistant.support`),
the kind's list is read (kinds/base.py `Endpoints.list`), and what state keeps for the object is the kind's
read of it. No branch per kind: assistants differ only in how their list is read and normalised.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields as dataclass_fields
from typing import Any

from ..errors import ProvisionerError, StateError, closest_addresses
from ..graph import Graph, address_kind, entry_kind, expand, manifest_address, uses
from ..kinds import ASSISTANT, KINDS, address_form
from ..manifest import Manifest
from ..plan import MASS_DESTROY_MIN, MASS_DESTROY_SHARE
from ..plan_graph import recorded_uses
from ..plan_kinds import NUMBER, Identities, Resolver, seen_fields
from ..planner import same
from ..reading import read_children
from ..state import ResourceState
from .session import Session


def _with_kind(kind: str, **values: Any) -> ResourceState:
    """A state entry that records its kind, where the store keeps one (ResourceState.kind, per engine's state)."""
    if "kind" in {f.name for f in dataclass_fields(ResourceState)}:
        values["kind"] = kind
    return ResourceState(**values)


def importable_kinds() -> list[str]:
    return [ASSISTANT, *sorted(k for k, kind in KINDS.items() if not kind.reference_only)]


def read_kinds(session: Session, kinds: set[str]) -> dict[str, dict[int, Any]]:
    """kind -> id -> the platform's object, for each of `kinds` (assistants as RemoteAssistant, others as
    RemoteObject), reading each list once."""
    others = tuple(sorted(k for k in kinds if k != ASSISTANT and k in KINDS))
    assistants = session.remote(kinds=others) if ASSISTANT in kinds else None
    if assistants is None and others:
        session.remote(kinds=others)  # the assistants' list is read alongside; cheap beside a plan
    listed: dict[str, dict[int, Any]] = {k: {o.id: o for o in session.objects.get(k, [])} for k in others}
    if assistants is not None:
        listed[ASSISTANT] = {r.id: r for r in assistants}
    return listed


def import_object(session: Session, manifests: list[Manifest], address: str, remote_id: int) -> Any:
    """Record the platform's object `remote_id` of the address's kind as that manifest's; returns it."""
    address = manifest_address(address)  # `assistant.support` is the assistant `support`
    kind = address_kind(address)
    if kind != ASSISTANT and kind not in importable_kinds():
        known = ", ".join(address_form(k) for k in importable_kinds())  # a document's: knowledgebase.NAME.KEY
        raise ProvisionerError(f"{address!r}: {kind!r} is not a kind this version imports (addresses: {known}); "
                               "nothing was imported")
    child = kind in KINDS and KINDS[kind].parent_field
    # A child (a knowledge base's document) is a node of its parent's manifest: found among the expanded ones.
    expanded = expand(manifests)
    manifest = next((m for m in (expanded if child else manifests) if m.address == address), None)
    if manifest is None:
        near = closest_addresses(address, [m.address for m in (expanded if child else manifests)])
        raise ProvisionerError(f"no manifest has the address {address!r}; write the manifest first, so the next "
                               f"plan does not destroy what you import{near}")
    resources = session.state.resources
    if address in resources:
        raise StateError(f"{address!r} is already in state (id {resources[address].id}); "
                         f"use `provisioner state rm {address}` first to replace it")
    # Ids are per kind: only an entry of this kind can hold this one.
    owner = next((a for a, e in resources.items() if e.id == remote_id and entry_kind(a, e) == kind), None)
    if owner:
        raise StateError(f"id {remote_id} is already managed as {owner!r}")
    live = _child(session, manifest, kind, remote_id) if child else read_kinds(session, {kind})[kind].get(remote_id)
    if live is None:
        title = KINDS[kind].title if kind in KINDS else kind
        under = f" under {manifest.parent}" if child else ""
        raise ProvisionerError(f"the platform has no {title} with id {remote_id}{under} for this token")
    # After reading the platform: ownership is per platform (the store learns which one on connecting).
    elsewhere = getattr(session.backend, "owners", lambda kind, ids: {})(kind, [remote_id]).get(remote_id)
    if elsewhere is not None:
        raise StateError(
            f"id {remote_id} is already managed as {elsewhere.describe()} of this state store; one object has one "
            f"owner, and nothing was imported. To move it here, first run `provisioner state rm {elsewhere.address} "
            f"--workspace {elsewhere.workspace}` (with that project's settings), then this import again")
    resources[address] = _with_kind(kind, id=remote_id, spec=None, protect=manifest.protect,
                                    sensitive=sorted(manifest.sensitive),
                                    remote=seen_fields(kind, live.fields, manifest.sensitive),
                                    source=manifest.document.state_source,
                                    depends_on=_uses(session, expanded, manifest))
    if kind in KINDS[NUMBER].accepts:
        _record_trunk_users(session, expanded, address)
    session.backend.write(session.state)
    return live


def _resolver(session: Session, expanded: list[Manifest], manifests: list[Manifest]) -> Resolver:
    """The plan's resolver over what state holds now, to find what `manifests` point at as an apply records it
    (plan_graph.recorded_uses of what it finds). Left out until the next apply, a destroy could not order its
    deletes by it (walk.py, rule 2): an imported assistant went before the imported campaign calling with it, a
    knowledge base before its documents. A number named by its E.164 string or nickname is looked up as a plan
    does (a SIP trunk's own): the account's numbers are read when one of `manifests` names one so."""
    ids = {address: entry.id for address, entry in session.state.resources.items()}
    numbers = {}
    if any(_looks_up_a_number(manifest) for manifest in manifests):
        numbers = {NUMBER: [number.item for number in read_kinds(session, {NUMBER})[NUMBER].values()]}
    return Resolver(Identities(ids, {}, numbers=numbers), Graph.of(expanded))


def _uses(session: Session, expanded: list[Manifest], manifest: Manifest) -> list[str]:
    """What the object's manifest points at, as an apply records it (its `depends_on`)."""
    return recorded_uses(_resolver(session, expanded, [manifest]).resolve(manifest)[1])


def _looks_up_a_number(manifest: Manifest) -> bool:
    return any(use.facts.ref == NUMBER and use.target is None and use.reference.id is None for use in uses(manifest))


def _record_trunk_users(session: Session, expanded: list[Manifest], trunk: str) -> None:
    """The entries of state whose manifests name the SIP trunk `trunk`, imported now, by its E.164 number or its
    nickname record it in `depends_on`. Such a lookup finds the trunk's address only through its id in state
    (Resolver._trunk): an assistant imported before its trunk recorded no use of it, and a destroy deleted the
    trunk alongside it, even when the assistant's delete failed and it stayed without its number."""
    resources = session.state.resources
    users = [m for m in expanded if m.address in resources and m.address != trunk and _looks_up_a_number(m)]
    if not users:
        return
    resolver = _resolver(session, expanded, users)
    for manifest in users:
        entry = resources[manifest.address]
        if trunk not in entry.depends_on and trunk in recorded_uses(resolver.resolve(manifest)[1]):
            entry.depends_on = sorted({*entry.depends_on, trunk})


def _child(session: Session, manifest: Manifest, kind: str, remote_id: int) -> Any:
    """The child `remote_id` as its parent's list shows it; its parent must be in state (its id is where to look)."""
    parent = session.state.resources.get(manifest.parent)
    if parent is None:
        raise ProvisionerError(f"{manifest.address!r} is a {KINDS[kind].title} of {manifest.parent!r}, which is not "
                               f"in state: import it first (`provisioner import {manifest.parent} ID`); nothing was "
                               "imported")
    with ThreadPoolExecutor(1, thread_name_prefix="read") as pool:
        listed = read_children(session.client, {manifest.parent: (kind, parent.id)}, pool).get(kind, [])
    return next((obj for obj in listed if obj.id == remote_id), None)


def _children_listed(session: Session, kinds_of: dict[str, str], children: set[str],
                     listed: dict[str, dict[int, Any]]) -> tuple[dict[str, dict[int, Any]], set[str]]:
    """kind -> id -> object for the child kinds in state (documents), listed under each parent the platform still
    has (a parent gone takes its children with it: none listed); and the children left as they are, whose
    parent's id is not known (no parent in state, none in their spec) or whose parents' list was not read."""
    resources = session.state.resources
    under: dict[str, tuple[str, int]] = {}
    unknown: set[str] = set()
    for address, kind in kinds_of.items():
        if kind not in children:
            continue
        parent_address = address.rsplit(".", 1)[0]
        parent = resources.get(parent_address)
        parent_id = parent.id if parent is not None else (resources[address].spec or {}).get(KINDS[kind].parent_field)
        if KINDS[kind].parent_kind not in listed or type(parent_id) is not int:
            unknown.add(address)
        elif parent_id in listed[KINDS[kind].parent_kind]:
            under[parent_address] = (kind, parent_id)
    found: dict[str, dict[int, Any]] = {kind: {} for kind in children}
    if under:
        with ThreadPoolExecutor(min(8, len(under)), thread_name_prefix="read") as pool:
            for kind, objects in read_children(session.client, under, pool).items():
                found.setdefault(kind, {}).update({o.id: o for o in objects})
    return found, unknown


def _empty(value: Any) -> bool:
    return value in (None, [], {}, "")


@dataclass
class RefreshResult:
    """What `refresh` did: a line per object whose record changed, and the counts the summary gives."""

    lines: list[str] = field(default_factory=list)
    checked: int = 0
    updated: int = 0
    removed: int = 0
    per_kind: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        unchanged = self.checked - self.updated - self.removed
        kinds = ", ".join(f"{n} {k}(s)" for k, n in sorted(self.per_kind.items())) or "nothing"
        return (f"Refreshed {self.checked} object(s) in state ({kinds}): {self.updated} updated from the "
                f"platform, {self.removed} removed (gone from the platform), {unchanged} unchanged.")


def refresh(session: Session, only: set[str] | None = None, allow_mass_forget: bool = False) -> RefreshResult:
    """Update state's view of the platform, per kind; forget what is gone. Nothing remote changes. A kind whose
    list cannot be read here (not registered in this version) is left as it is, never written. `only`: the
    addresses to refresh (--target, --exclude, -l), None for all. A read that finds most of what it looked for
    gone (the mass-destroy rule's share and minimum) is refused unless `allow_mass_forget`: a wrong token or URL
    reads like that. State is written only when a record changed."""
    resources = session.state.resources
    kinds_of = {a: entry_kind(a, e) for a, e in resources.items() if only is None or a in only}
    readable = {k for k in kinds_of.values() if k == ASSISTANT or (k in KINDS and not KINDS[k].parent_field
                                                                   and not KINDS[k].reference_only)}
    children = {k for k in kinds_of.values() if k in KINDS and KINDS[k].parent_field}
    parents = {KINDS[k].parent_kind for k in children}  # (a document's: knowledge bases)
    wanted = readable | parents
    listed = read_kinds(session, wanted) if wanted else {}
    left_as_they_are: set[str] = set()
    if children:
        found, left_as_they_are = _children_listed(session, kinds_of, children, listed)
        listed.update(found)
    result = RefreshResult()
    checked = [a for a in sorted(kinds_of) if kinds_of[a] in listed and a not in left_as_they_are]
    # (Of those an apply was deleting, gone is that delete's outcome: plan.count_vanished.)
    gone = [a for a in checked if resources[a].id not in listed[kinds_of[a]] and not resources[a].deleting]
    if not allow_mass_forget and len(gone) >= MASS_DESTROY_MIN and len(gone) > MASS_DESTROY_SHARE * len(checked):
        raise ProvisionerError(
            f"refresh would forget {len(gone)} of the {len(checked)} objects it read (gone from the platform's lists): "
            "nothing was changed. A wrong token (another account's) or URL reads like that; check them. If they "
            "really were deleted on the platform, pass --allow-mass-forget")
    for address in checked:
        kind = kinds_of[address]
        entry = resources[address]
        result.checked += 1
        result.per_kind[kind] = result.per_kind.get(kind, 0) + 1
        live = listed[kind].get(entry.id)
        if live is None:
            del resources[address]
            result.removed += 1
            result.lines.append(f"{address}: id {entry.id} is gone from the platform; removed from state")
            continue
        snapshot = seen_fields(kind, live.fields, entry.sensitive)
        if snapshot != entry.remote:
            # An empty value recorded as absent (an apply keeps only what it sent) is not news: left as it is.
            differing = sorted(k for k in {*snapshot, *entry.remote}
                               if not same(snapshot.get(k), entry.remote.get(k))
                               and not (_empty(snapshot.get(k)) and _empty(entry.remote.get(k))))
            if not differing:
                continue
            changed = [k for k in differing if k in entry.remote]
            entry.remote = snapshot
            result.updated += 1
            detail = f"; changed there: {', '.join(changed)}" if changed else ""
            result.lines.append(f"{address}: refreshed from the platform (id {entry.id}{detail})")
    if result.updated or result.removed:
        session.backend.write(session.state)
    return result

