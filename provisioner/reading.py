"""Which lists of the platform a plan reads besides the assistants', and reading them: once each, concurrently.

A plan reads the list of every kind its manifests and state hold, and of every kind a `{name: ...}` lookup
or an E.164 number names (the account's numbers: kinds/number, read only then). Children (a knowledge base's
documents) are listed per parent, and only where something may have changed (`children_to_read`).
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterable, Mapping

from .graph import uses
from .kinds import ASSISTANT, KINDS
from .manifest import Manifest
from .plan_kinds import RemoteObject, kind_of_address, read_list

def listable(kinds: Iterable[str]) -> set[str]:
    """Those of `kinds` whose whole list a plan reads: registered, and not children (listed per parent)."""
    return {k for k in kinds if k in KINDS and KINDS[k].parent_field is None}


def kinds_involved(manifests: Iterable[Manifest], state_addresses: Iterable[str]) -> set[str]:
    """The registered kinds whose list the plan needs: those of its manifests and state entries, and those a
    lookup names (the account's numbers only when a reference names a number by E.164 string or name)."""
    addresses = list(state_addresses)
    dotted = [a for a in addresses if "." in a]  # a bare name is an assistant's: most of a fleet, asked of nobody
    wanted = {m.kind for m in manifests} | {kind_of_address(a) for a in dotted}
    if len(dotted) < len(addresses):
        wanted.add(ASSISTANT)
    for manifest in manifests:
        for use in uses(manifest):
            if use.reference.name is not None or use.reference.number is not None:
                wanted.add(use.facts.ref)
    return listable(wanted)


def begin_reading(client: Any, kinds: Iterable[str], pool: ThreadPoolExecutor) -> dict[str, Future]:
    """Start reading each kind's whole list (all pages) on `pool`."""
    return {kind: pool.submit(KINDS[kind].endpoints.list, client, None) for kind in sorted(kinds)
            if KINDS[kind].parent_field is None}  # children are listed per parent (read_children)


def finish_reading(reads: Mapping[str, Future]) -> dict[str, list[RemoteObject]]:
    return {kind: read_list(KINDS[kind], future.result()) for kind, future in reads.items()}


def assistants_of(manifests: Iterable[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.kind == ASSISTANT]


# --- children (a knowledge base's documents): listed per parent, and only when something may have changed ---

def children_to_read(manifests: list[Manifest], state: Mapping[str, Any],
                     objects: Mapping[str, list[RemoteObject]], every: bool = False,
                     replace: frozenset[str] = frozenset()) -> tuple[dict[str, tuple[str, int]], frozenset[str]]:
    """Which parents' children a plan lists: {parent address: (child kind, parent id)}, and the parents it does not
    (`unread`: their children are taken to be as state says). A no-change plan of a fleet of knowledge bases must
    not cost one request per knowledge base, so a parent's documents are listed only when the parent exists on the
    platform and one of these holds (docs/graph.md):

    - a child manifest has no state entry, or a child state entry has no manifest (created, removed, adopted);
    - a child's fields differ from what state recorded (a change is planned: its platform view is needed);
    - the parent's list item counts its children (`documents_count`) differently from state's entries under it
      (a document deleted or added outside the provisioner);
    - the parent itself is not in state (adopted: its children may be there to adopt too);
    - a child's platform values as state recorded them differ from what was applied (a `refresh` saw a dashboard
      edit: the plan must show it, and apply put it back);
    - the parent, or one of its children, is to be replaced (`replace`: --replace): the children go with the old
      parent and are made again; a child's own replacement needs its platform view like any change;
    - the parent's status says one of its children is still being processed or failed (the plan waits for it
      again, or makes it again: plan_kinds.plan_object).

    `manifests` are expanded (graph.expand: children included). `every`: list the children of every parent that
    exists (`pull` compares every child's fields with the platform)."""
    from .plan_kinds import hidden_fields, identify, desired

    child_kinds = {KINDS[k].parent_kind: KINDS[k] for k in KINDS if KINDS[k].parent_field}
    if not child_kinds:
        return {}, frozenset()
    parents = {m.address: m.kind for m in manifests if m.kind in child_kinds}
    parents.update({a: kind for a in state if (kind := kind_of_address(a)) in child_kinds})
    if not parents:  # no parent in the manifests or the state (a fleet of assistants): nothing to list or look at
        return {}, frozenset()
    ids = identify([m for m in manifests if m.kind in child_kinds], state, objects).ids
    items = {kind: {r.id: r.item for r in objects.get(kind, [])} for kind in child_kinds}
    children = {m.address: m for m in manifests if getattr(m, "parent", None) in parents}
    # Grouped once by parent (not one scan of the whole state per parent: a fleet has thousands of entries).
    mine_of: dict[str, dict[str, Manifest]] = {}
    for address, manifest in children.items():
        mine_of.setdefault(manifest.parent, {})[address] = manifest
    recorded_of: dict[str, dict[str, Any]] = {}
    for address, entry in state.items():
        if address.count(".") == 2:
            recorded_of.setdefault(address.rsplit(".", 1)[0], {})[address] = entry
    read: dict[str, tuple[str, int]] = {}
    unread: set[str] = set()
    for parent, parent_kind in sorted(parents.items()):
        child = child_kinds[parent_kind]
        parent_id = ids.get(parent) if parent in ids else (state[parent].id if parent in state and
                                                           state[parent].id in items[parent_kind] else None)
        if parent_id is None:
            continue  # created by this apply (or gone): nothing to list
        mine = mine_of.get(parent, {})
        recorded = recorded_of.get(parent, {})
        listed = items[parent_kind].get(parent_id, {})
        count = listed.get(f"{child.name}s_count")
        # The parent's status says whether a child is still processed or failed (API.md: a knowledge base is
        # `processing` while one of its documents is, `failed` when one failed): the same words as its children's.
        unready = child.endpoints.stage is not None and child.endpoints.stage(listed) in ("pending", "failed")

        def differs(address: str) -> bool:
            fields = {**mine[address].fields, child.parent_field: parent_id}
            spec = recorded[address].spec
            return spec is None or spec != hidden_fields(child, desired(child, fields), mine[address].sensitive)

        if (every or parent in replace or any(a in replace for a in mine) or parent not in state
                or set(mine) != set(recorded)
                or any(differs(a) for a in mine)
                or (isinstance(count, int) and count != len(recorded)) or unready
                or any(map(_drift_recorded, recorded.values()))):
            read[parent] = (child.name, parent_id)
        else:
            unread.add(parent)
    return read, frozenset(unread)


def _drift_recorded(entry: Any) -> bool:
    """Whether state recorded platform values of an object that differ from the spec it applied (each field both
    hold; digests of secrets and fingerprints are only in the spec)."""
    remote, spec = entry.remote or {}, entry.spec or {}
    return any(key in spec and remote[key] != spec[key] for key in remote)


def read_children(client: Any, wanted: Mapping[str, tuple[str, int]], pool: ThreadPoolExecutor) -> dict[str, list[RemoteObject]]:
    """Each parent's children, listed concurrently, as objects whose `parent_field` holds the parent's id."""
    futures = {parent: (kind, parent_id, pool.submit(KINDS[kind].endpoints.list, client, parent_id))
               for parent, (kind, parent_id) in sorted(wanted.items())}
    found: dict[str, list[RemoteObject]] = {}
    for parent, (kind, parent_id, future) in futures.items():
        for obj in read_list(KINDS[kind], future.result()):
            obj.fields[KINDS[kind].parent_field] = parent_id
            found.setdefault(kind, []).append(obj)
    return found
