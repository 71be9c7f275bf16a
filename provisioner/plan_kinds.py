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

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Mapping

from .errors import Problem
from .graph import Graph, Use, uses
from .kinds import ASSISTANT, KINDS, kind_of_address, kind_title
from .kinds.base import NO_DEFAULT, UNKNOWN, FieldFacts, Kind, ReadProblem, hide, keyed_changes, matches
from .kinds.number import resolve_number
from .manifest import Manifest
from .plan import REF, Action, Change, FieldChange, StateSync, is_marker, marker
from .planner import empty_setting, no_longer_set, refresh_owed, remote_snapshot, same
from .redaction import SENSITIVE, digest, is_digest
from .state import Owner, ResourceState

NUMBER = "number"
KNOWN_AFTER_APPLY = "(known after apply)"
REPLACE_REQUESTED = "replace requested"  # --replace ADDRESS: the reason a plan gives for it


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
        # A name the platform reads as null (a SIP trunk without a nickname) is no name, not 'None': two such trunks
        # were "the same name on the platform" to the rename hint.
        name = item.get(kind.name_field)
        return cls(kind.name, int(item["id"]), "" if name is None else str(name), fields, item, tuple(problems))

    @property
    def fingerprint(self) -> str:
        return digest(self.item)


def read_list(kind: Kind, items: Iterable[dict[str, Any]]) -> list[RemoteObject]:
    """A kind's list in manifest terms; items without an integer id are not objects anyone can manage."""
    return [RemoteObject.from_item(kind, item) for item in items
            if isinstance(item, dict) and isinstance(item.get("id"), int) and not isinstance(item.get("id"), bool)]




# --- which object each manifest is, before anything is decided ---

@dataclass
class Identities:
    """address -> the platform id its object has now (None: none yet, created by this apply), and the
    objects nobody manages, per kind (for `{name: ...}` lookups and adoption)."""

    ids: dict[str, int | None]
    unmanaged: dict[str, list[Any]]
    adopted: dict[str, Any] = field(default_factory=dict)  # address -> the unclaimed object it adopts
    # "number" -> the account's numbers (GET /user/phone-numbers/all items), when the plan read them
    numbers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # address -> (object, owner): the only objects of its name are managed by another workspace or project
    owned_elsewhere: dict[str, list[tuple[Any, Owner]]] = field(default_factory=dict)
    # address -> (object, the other addresses): the one unclaimed object several manifests would adopt; none does
    contested: dict[str, tuple[Any, list[str]]] = field(default_factory=dict)
    # address -> the unclaimed objects a manifest matches when they are several (by what same_object compares)
    ambiguous: dict[str, list[Any]] = field(default_factory=dict)


def identify(manifests: Iterable[Manifest], state: Mapping[str, ResourceState],
             remote: Mapping[str, list[Any]], foreign: Mapping[tuple[str, int], Owner] | None = None,
             unread: frozenset[str] = frozenset()) -> Identities:
    """Which platform object each manifest is: its state entry's (if still there), else the one unclaimed
    object of its name. `remote`: kind -> objects with `.id` and `.name` (assistants included). `unread`: parents
    whose children this plan did not list (reading.py): their children are taken to be as state says."""
    foreign = foreign or {}
    claimed: dict[str, set[int]] = {}
    for address, entry in state.items():
        claimed.setdefault(kind_of_address(address), set()).add(entry.id)
    unmanaged = {kind: [r for r in objects if r.id not in claimed.get(kind, set())
                        and (kind, r.id) not in foreign]
                 for kind, objects in remote.items()}
    ids: dict[str, int | None] = {}
    adopted: dict[str, Any] = {}
    ambiguous: dict[str, list[Any]] = {}
    owned_elsewhere: dict[str, list[tuple[Any, Owner]]] = {}
    live = {kind: {r.id for r in objects} for kind, objects in remote.items()}
    # A fleet that lost its state adopts thousands, and a copy of a project finds thousands owned by the other:
    # each manifest looks its object up by what same_object compares, never scans every listed object (10,000 new
    # manifests in an account of 10,000 assistants made 100 million calls; 8,000 whose namesakes another project
    # manages, 64 million).
    unmanaged_keys = _by_identity(unmanaged)
    foreign_keys = _by_identity({kind: [r for r in objects if (kind, r.id) in foreign]
                                 for kind, objects in remote.items()})
    for manifest in manifests:
        entry = state.get(manifest.address)
        if entry is not None and (entry.id in live.get(manifest.kind, set())
                                  or getattr(manifest, "parent", None) in unread):
            ids[manifest.address] = entry.id
            continue
        key = manifest_identity(manifest, ids)
        namesakes = unmanaged_keys.get(manifest.kind, {}).get(key, []) if key is not None else []
        ids[manifest.address] = namesakes[0].id if len(namesakes) == 1 else None
        if len(namesakes) == 1:
            adopted[manifest.address] = namesakes[0]
        elif len(namesakes) > 1:
            ambiguous[manifest.address] = namesakes
        elif not namesakes and key is not None:
            elsewhere = [(r, foreign[(manifest.kind, r.id)]) for r in foreign_keys.get(manifest.kind, {}).get(key, [])]
            if elsewhere:
                owned_elsewhere[manifest.address] = elsewhere
    contested = _contested(adopted)
    for address in contested:
        ids[address] = None
        del adopted[address]
    taken = {(kind_of_address(a), i) for a, i in ids.items() if i is not None}
    numbers = {NUMBER: [r.item for r in remote[NUMBER]]} if NUMBER in remote else {}
    return Identities(ids, {kind: [r for r in objects if (kind, r.id) not in taken]
                            for kind, objects in unmanaged.items()}, adopted, owned_elsewhere=owned_elsewhere,
                      numbers=numbers, contested=contested, ambiguous=ambiguous)


def _contested(adopted: Mapping[str, Any]) -> dict[str, tuple[Any, list[str]]]:
    """The adoptions of one object by several manifests (two tools of one name, an apply killed after making the
    first: the platform holds one, unclaimed). Each recorded it as its own, and the store's one-owner index refused
    every apply after; which manifest the object is would be a guess, as with two namesakes for one manifest."""
    by_object: dict[tuple[str, int], list[str]] = {}
    for address, candidate in adopted.items():
        by_object.setdefault((kind_of_address(address), candidate.id), []).append(address)
    return {address: (adopted[address], [other for other in addresses if other != address])
            for addresses in by_object.values() if len(addresses) > 1 for address in addresses}


def same_object(manifest: Manifest, candidate: Any, ids: Mapping[str, int | None]) -> bool:
    """Whether an unclaimed platform object is the one a manifest describes, for adoption and the recovery of a
    lost create: same `Kind.identity` when the kind has one (a SIP trunk's number, username and address), else the
    same name; for a child (a document), under the same parent only."""
    kind = KINDS.get(manifest.kind)
    if kind is not None and kind.parent_field:
        parent_id = ids.get(getattr(manifest, "parent", ""))
        if parent_id is None or candidate.fields.get(kind.parent_field) != parent_id:
            return False
    if kind is not None and kind.identity is not None:
        key = kind.identity(manifest.fields)
        return key is not None and key == kind.identity(candidate.fields)
    return candidate.name == manifest.platform_name


def manifest_identity(manifest: Manifest, ids: Mapping[str, int | None]) -> Any:
    """What same_object compares of a manifest, as one hashable key (None: it is no unclaimed object): the
    parent's id for a child, with `Kind.identity` when the kind has one, else the platform name."""
    kind = KINDS.get(manifest.kind)
    parent_id = ids.get(getattr(manifest, "parent", ""))
    if kind is not None and kind.parent_field and parent_id is None:
        return None  # its parent is not on the platform yet: no listed object is it
    return _identity(kind, manifest.fields, manifest.platform_name, parent_id)


def object_identity(kind_name: str, candidate: Any) -> Any:
    """The same key of a listed object, equal (and so found) exactly when same_object says it is the manifest's."""
    kind = KINDS.get(kind_name)
    parent_id = candidate.fields.get(kind.parent_field) if kind is not None and kind.parent_field else None
    return _identity(kind, candidate.fields, candidate.name, parent_id)


def _identity(kind: Any, fields: Mapping[str, Any], name: Any, parent_id: Any) -> Any:
    """`Kind.identity` of the fields if the kind has one, else the name; with the parent's id for a child."""
    key = kind.identity(fields) if kind is not None and kind.identity is not None else name
    if key is None or kind is None or not kind.parent_field:
        return key
    return (parent_id, key)


def _by_identity(objects: Mapping[str, list[Any]]) -> dict[str, dict[Any, list[Any]]]:
    """kind -> identity key -> the objects of that key, in listed order. A key that cannot be hashed (a parent
    id the platform sent as a list) equals no manifest's, so it is left out."""
    return {kind: index_by(listed, partial(object_identity, kind)) for kind, listed in objects.items()}


def index_by(items: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    """`items` by `key`, in order; an item whose key cannot be hashed (a platform's list or object where a name or
    an id belongs) is left out: no key it is looked up by can equal it."""
    index: dict[Any, list[Any]] = {}
    for item in items:
        value = key(item)
        try:
            index.setdefault(value, []).append(item)
        except TypeError:
            continue
    return index


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
    _names: dict[str, dict[str, list[Any]]] | None = field(default=None, repr=False)
    _children: dict[str, list[str]] | None = field(default=None, repr=False)
    # the SIP trunk manifests' addresses by the number they declare, and by their id (Resolver._trunk)
    _trunks: tuple[dict[Any, str], dict[int, str]] | None = field(default=None, repr=False)
    # whether this plan plans an address (--target leaves others out)
    planned: Callable[[str], bool] = field(default=lambda address: True, repr=False)

    def resolve(self, manifest: Manifest) -> tuple[dict[str, Any], list[str], list[Problem]]:
        """The manifest's fields with every reference an id or a marker, the addresses it must wait for, and
        the lookups that found no object or more than one."""
        found = uses(manifest)
        if not found:  # most assistants of a fleet: nothing to resolve, nothing copied
            return manifest.fields, [], []
        # A reference is a top-level value or an item of a top-level list (Use.path): copying those lists is
        # enough for the manifest's own fields to stay as written (a deep copy cost more than the rest of it).
        own = manifest.fields
        fields = dict(own)
        for use in found:
            if len(use.path) == 2 and fields[use.path[0]] is own[use.path[0]]:
                fields[use.path[0]] = list(fields[use.path[0]])
        waits: list[str] = []
        problems: list[Problem] = []
        in_graph = self.graph.manifests
        parent = getattr(manifest, "parent", None)
        ids, renewed = self.identities.ids, self.renewed
        if self._children is None:
            self.children_of("")  # grouped once
        children = self._children
        for use in found:
            target = use.target
            if target is None and use.facts.ref == NUMBER and use.reference.id is None:
                # A number named by its E.164 string or nickname that is a SIP trunk of the repository: that
                # trunk's address, so that a trunk created or replaced by this apply is waited for and its new id
                # sent (its old id is gone once it is replaced).
                target = self._trunk(use.reference)
            if target is not None:
                # An address: its object's id, or a marker when this apply creates or replaces it (_value, inline:
                # a fleet's assistants hold several each).
                known = ids.get(target)
                value = marker(target) if target in renewed or known is None else known
            else:
                value, problem = self._value(use)
                if problem:
                    problems.append(Problem(problem, manifest.location("spec", *use.path), use.field,
                                            manifest.address))
                    continue
            if target is not None and target in in_graph:
                # A marker's object is created first; an existing one may be updated by the same apply: first too.
                waits.append(target)
                # An object is ready only once its children are (a knowledge base once its documents are
                # processed): what references it waits for them too, unless it is one of them.
                if parent != target and target in children:
                    waits += children[target]
            path = use.path
            if len(path) == 1:
                fields[path[0]] = value
            elif len(path) == 2:
                fields[path[0]][path[1]] = value
            else:
                _put(fields, path, value)
        return fields, sorted(set(waits)), problems

    def children_of(self, address: str) -> list[str]:
        """The addresses of the graph's objects declared inside `address` (a knowledge base's documents)."""
        if self._children is None:
            self._children = {}
            for child in self.graph.manifests.values():
                parent = getattr(child, "parent", None)
                if parent:
                    self._children.setdefault(parent, []).append(child.address)
        return self._children.get(address, [])

    def _trunk(self, reference: Any) -> str | None:
        """The address of the SipTrunk manifest a number lookup names: the one whose object the lookup finds on
        the platform, else the one declaring an E.164 number the platform does not have yet; None when it names no
        trunk of the repository."""
        if self._trunks is None:  # found once: a fleet's assistants may each name a number
            # (a trunk not created yet that --target leaves out cannot be waited for: the lookup finds nothing)
            trunks = [a for a, m in self.graph.manifests.items() if m.kind in KINDS[NUMBER].accepts
                      and (self.identities.ids.get(a) is not None or self.planned(a))]
            declared: dict[Any, list[str]] = {}
            for a in trunks:
                declared.setdefault(self.graph.manifests[a].fields.get("phone_number"), []).append(a)
            self._trunks = ({n: a[0] for n, a in declared.items() if len(a) == 1},
                            {self.identities.ids[a]: a for a in trunks if self.identities.ids.get(a) is not None})
        declaring, by_id = self._trunks
        if not by_id and not declaring:
            return None
        numbers = self.identities.numbers.get(NUMBER, [])
        found = resolve_number(reference, numbers)
        if isinstance(found, int):
            return by_id.get(found)
        if reference.number in declaring and not any(n.get("phone_number") == reference.number for n in numbers):
            return declaring[reference.number]  # not on the platform yet: the trunk this plan creates
        return None  # no such number, or two (the lookup's own error says so: never a guess)

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
        if use.facts.ref == NUMBER:
            # One lookup of numbers for every kind: kinds/number.resolve_number, over the account's numbers.
            if NUMBER not in self.identities.numbers:
                return None, ("cannot look up a phone number: this plan did not read the account's numbers; "
                              "use an id")
            found_id = resolve_number(reference, self.identities.numbers[NUMBER])
            return (None, found_id) if isinstance(found_id, str) else (found_id, None)
        else:
            if self._names is None:
                self._names = _by_name(self.identities.unmanaged)
            found = list(self._names.get(use.facts.ref, {}).get(reference.name, []))
            what = f"{kind_title(use.facts.ref)} named {reference.name!r}"
        found = list({r.id: r for r in found}.values())
        if len(found) == 1:
            return found[0].id, None
        if not found:
            if use.facts.ref not in self.identities.unmanaged and reference.number is None:
                return None, (f"cannot look up a {kind_title(use.facts.ref)} by name: this provisioner does not read "
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


# --- the diff of one kind's objects ---

@dataclass
class KindsPlan:
    changes: list[Change] = field(default_factory=list)
    syncs: list[StateSync] = field(default_factory=list)
    # Of each object in state this plan leaves as it is: the addresses its references wait for (Resolver.resolve),
    # for plan_graph.refresh_recorded_uses.
    unchanged_needs: dict[str, list[str]] = field(default_factory=dict)
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
        "spec": hidden_fields(kind, fields, manifest.sensitive),
        "protect": manifest.protect,
        "sensitive": sorted(manifest.sensitive),
        "remote": hidden_fields(kind, {k: known(remote_fields[k], fields.get(k)) for k in sorted(remote_fields)
                                       if k in shown}, manifest.sensitive),
        "source": manifest.document.state_source,
    }


def seen_fields(kind: str, fields: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
    """What state keeps of the platform's view of an object of `kind` whose fields (in manifest terms) the platform
    shows as `fields`: those the kind shows back, secrets as digests (an import's and refresh's record, and an
    adoption's claim before its update)."""
    if kind == ASSISTANT:
        return remote_snapshot(fields, sensitive)
    shown = {f.name for f in KINDS[kind].fields if f.shown}
    # In the very form an apply records (record, above): a tool's header values digested per name. A form of its own
    # (one digest for all) made the first refresh after an apply say the headers "changed there".
    return hidden_fields(KINDS[kind], {k: fields[k] for k in sorted(fields) if k in shown}, sensitive)


def hidden_fields(kind: Kind, fields: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
    """What state and plan files keep: sensitive values as digests, per key for a `keys_shown` mapping (a tool's
    header names stay readable, their values never)."""
    hidden = set(sensitive)
    facts = kind.by_name
    return {k: hide(v, facts[k]) if k in facts and facts[k].sensitive else
            (digest(v) if k in hidden and v is not None and not is_digest(v) else v) for k, v in fields.items()}


def known(seen: Any, wanted: Any) -> Any:
    """A read value with each UNKNOWN part (not shown back) replaced by the wanted one it agrees with: state never
    holds UNKNOWN."""
    if seen is UNKNOWN:
        return wanted
    if isinstance(seen, dict):
        other = wanted if isinstance(wanted, dict) else {}
        return {k: known(v, other.get(k)) for k, v in seen.items()}
    if isinstance(seen, list):
        other = wanted if isinstance(wanted, list) and len(wanted) == len(seen) else [None] * len(seen)
        return [known(v, w) for v, w in zip(seen, other)]
    return seen


def plan_object(manifest: Manifest, fields: dict[str, Any], depends_on: list[str],
                entry: ResourceState | None, live: RemoteObject | None, adopt: RemoteObject | None,
                replace_requested: bool = False) -> Change | None:
    """The change of one object of a kind (None: nothing to do). `fields` are resolved (ids, markers).

    Hooks read from the kind's facts: a field with an `Action` (a campaign's status) is compared only through
    `Action.plan` and never sent in a body; the actions planned ride on the change (`actions`, with their notes),
    an update with an empty body when nothing else changes. A child's `parent_field` (a document's knowledge base)
    is in every body, as an id or a marker: apply sends it in the path. Fields that are not facts (a document's
    url, links or file) are passed through to a create's body."""
    kind = KINDS[manifest.kind]
    wanted = desired(kind, fields)
    compared = {k: v for k, v in wanted.items() if kind.action(k) is None}
    # A child's node fields are what its create sends (a document's url, links or file): those that are not facts
    # pass through. A manifest's own spec fields that are not facts declare other nodes (a knowledge base's
    # documents) and are not sent.
    extra = {k: v for k, v in fields.items() if k not in kind.by_name} if getattr(manifest, "parent", None) else {}
    common = dict(kind=kind.name, location=str(manifest.location()), sensitive=sorted(manifest.sensitive),
                  depends_on=depends_on)
    ready_step = kind.endpoints.readiness is not None  # a new object of this kind is waited for
    current = live or adopt
    if current is None:
        reason = f"id {entry.id} is gone from the platform (deleted outside the provisioner)" if entry else None
        changes = [_field_change(manifest, f, None, wanted[f.name], known=False)
                   for f in kind.fields if f.name in wanted and f.name in fields]
        actions = planned_actions(kind, fields, None)
        return Change(manifest.address, Action.CREATE, manifest.platform_name, reason=_with_notes(reason, actions),
                      fields=changes, body={**extra, **compared},
                      record=record(manifest, wanted, _shown_fields(kind, wanted)), wait=ready_step, actions=actions,
                      **common)
    actions = planned_actions(kind, fields, current)
    last = entry.spec if (entry is not None and live is not None) else None
    # Imported and not applied since (no spec yet): the platform's view at the import is what the manifest was last
    # compared with. A dashboard edit after the import was not drift, and pull refused it as a manifest change.
    seen = entry.remote if (entry is not None and live is not None and last is None) else None
    changes = _field_changes(manifest, kind, compared, fields, last, current, seen)
    # A managed object the platform is still processing is waited for again (an apply that gave up waiting, or
    # was stopped, went on to what uses it next time); one it failed to process is made again (Terraform's
    # tainted resource): "No changes" hid both, and what uses it went ahead. A status the platform does not document
    # is not taken for ready either: apply looks at it again before what uses it goes ahead (and stops, naming it).
    stage = kind.endpoints.stage(current.item) if kind.endpoints.stage is not None else None
    failed = stage == "failed" and live is not None
    pending = stage == "pending" or (stage == "unknown" and live is not None)
    if not changes and not actions and live is not None and not replace_requested and not failed and not pending:
        return None
    replace = [c.field for c in changes if kind.facts(c.field).replace] or (
        [c.field for c in changes] if kind.endpoints.update is None else [])
    if replace or ((replace_requested or failed) and live is not None):
        why = ", ".join(replace)
        lost = f"; {kind.replace_loses}" if kind.replace_loses else ""
        adopted = "" if live is not None else f" (the one named {manifest.platform_name!r}, adopted)"
        renewed = planned_actions(kind, fields, None)
        asked = FAILED_TO_PROCESS if failed and not replace_requested else REPLACE_REQUESTED
        reason = (f"{why} cannot be changed in place: the {kind.title}{adopted} is replaced{lost}" if replace
                  else f"{asked}: the {kind.title} is destroyed and created again{lost}")
        because = (kind.replace_loses or f"{why} cannot be updated") if replace else \
            asked + (f"; {kind.replace_loses}" if kind.replace_loses else "")
        return Change(manifest.address, Action.CREATE, manifest.platform_name, remote_id=current.id,
                      reason=_with_notes(reason, renewed),
                      fields=changes, body={**extra, **compared},
                      record=record(manifest, wanted, _shown_fields(kind, wanted)),
                      remote_item=current.item, replace=True,
                      replace_reason=because, wait=ready_step,
                      # the new object starts as a new one does: its actions are planned against nothing
                      actions=renewed, **common)
    body = {c.field: compared[c.field] for c in changes}
    if kind.parent_field and kind.parent_field in wanted:
        body[kind.parent_field] = wanted[kind.parent_field]
    changes += [_field_change(manifest, kind.facts(a["field"]), current.fields.get(a["field"]), a["value"])
                for a in actions]
    after = {**current.fields, **{k: v for k, v in wanted.items() if k in current.fields}}
    if live is None:
        key = kind.identity(fields) if kind.identity is not None else None
        which = f"that is {', '.join(map(str, key))}" if isinstance(key, tuple) else \
            f"named {manifest.platform_name!r}"
        reason = (f"no {kind.title} in state for this manifest, and the platform has exactly one {which}: "
                  "adopting it instead of creating a second")
        if entry is not None:
            reason = f"id {entry.id} is gone from the platform; adopting id {current.id}, the one named alike"
        return Change(manifest.address, Action.IMPORT, manifest.platform_name, remote_id=current.id,
                      reason=_with_notes(reason, actions),
                      fields=changes, body=body, record=record(manifest, wanted, after),
                      remote_item=current.item, actions=actions, wait=pending, **common)
    return Change(manifest.address, Action.UPDATE, manifest.platform_name, remote_id=current.id, fields=changes,
                  body=body, record=record(manifest, wanted, after), remote_item=current.item,
                  reason=_with_notes(_still_processing(kind, body, stage) if pending else None, actions),
                  actions=actions, wait=pending, **common)


def _still_processing(kind: Kind, body: dict[str, Any], stage: str | None = "pending") -> str:
    """Why an update of an object the platform is still processing (or shows in a status it does not document)
    waits for it, and whether it sends anything (a description changed meanwhile is sent: "nothing is sent" beside
    it was untrue)."""
    updated = bool(kind.update_sends(body))
    if stage == "unknown":
        return UNDOCUMENTED_STATUS_UPDATED if updated else UNDOCUMENTED_STATUS
    return STILL_PROCESSING_UPDATED if updated else STILL_PROCESSING


FAILED_TO_PROCESS = "the platform failed to process it (status failed)"
STILL_PROCESSING = ("the platform is still processing it: nothing is sent, apply waits for it to be ready before "
                    "what uses it")
STILL_PROCESSING_UPDATED = ("the platform is still processing it: apply updates it, then waits for it to be ready "
                            "before what uses it")
UNDOCUMENTED_STATUS = ("the platform shows it in a status it does not document: nothing is sent, apply looks at "
                       "it again before what uses it, and stops unless it is ready")
UNDOCUMENTED_STATUS_UPDATED = ("the platform shows it in a status it does not document: apply updates it, then looks "
                               "at it again before what uses it, and stops unless it is ready")


def _with_notes(reason: str | None, actions: list[dict[str, Any]]) -> str | None:
    """The change's reason, then what each planned action does in the world ("then start: places real calls ...")."""
    notes = [f"then {a['action']}: {a['note']}" if a.get("note") else f"then {a['action']}" for a in actions]
    return "; ".join([reason] * bool(reason) + notes) or None


def planned_actions(kind: Kind, fields: dict[str, Any], current: "RemoteObject | None") -> list[dict[str, Any]]:
    """The actions to run after the create, replacement or update, in order: `{"field", "action", "value",
    "note"}` each. Only for fields the manifest sets, never from a value the read could not make sense of."""
    found = []
    unreadable = {p.field for p in current.problems} if current is not None else set()
    for action in kind.actions:
        if action.field not in fields or action.field in unreadable:
            continue
        planned = action.plan(fields[action.field], current.fields.get(action.field) if current else None)
        if planned is not None:
            found.append({"field": action.field, "action": planned, "value": fields[action.field],
                          "note": action.notes.get(planned, "")})
    return found


def _shown_fields(kind: Kind, wanted: dict[str, Any]) -> dict[str, Any]:
    return {f.name: wanted[f.name] for f in kind.fields if f.shown and f.name in wanted}


def _field_changes(manifest: Manifest, kind: Kind, wanted: dict[str, Any], fields: dict[str, Any],
                   last: dict[str, Any] | None, current: RemoteObject,
                   seen: dict[str, Any] | None = None) -> list[FieldChange]:
    changes = []
    for facts in kind.fields:
        if facts.name == kind.parent_field and facts.name in wanted and facts.name in current.fields:
            changes += _parent_change(manifest, facts, current.fields[facts.name], wanted[facts.name])
            continue
        if facts.name not in wanted:
            if facts.replace and not facts.shown and last is not None and not empty_setting(last.get(facts.name)) \
                    and facts.name not in fields:
                # A create-only setting the platform never shows back, no longer in the manifest after it was
                # applied: no update can clear it, and left alone the platform keeps it while state (its only
                # record) forgets it, so a line putting it back would replace the object for a value it already
                # has. Made again without it, as for any other change of such a setting.
                changes.append(_field_change(manifest, facts, last[facts.name], None, source="last-applied",
                                             reset=True))
            continue
        value = wanted[facts.name]
        hidden = facts.name in manifest.sensitive
        # Removed from the manifest: it set a value other than the default last time (state records the defaults
        # too, so a field the manifest never set is in `last` as its default: a change there is drift).
        reset = (last is not None and facts.name in last and facts.name not in fields
                 and not _same_recorded(last[facts.name], _default(facts), hidden))
        if facts.shown and facts.name in current.fields:
            before = current.fields[facts.name]
            if same(before, value) or matches(value, before):  # UNKNOWN (not shown back) is never drift
                if last is not None and facts.name in last and _hides(before) \
                        and not _same_recorded(last[facts.name], value, hidden):
                    # What the platform does not show (a masked header value) is compared with what was last
                    # applied: a value changed in the manifest (a rotated credential) is still a change to send.
                    changes.append(_field_change(manifest, facts, last[facts.name], value, source="last-applied",
                                                 reset=reset))
                continue
            applied = last.get(facts.name, _default(facts)) if last is not None else None
            drift = last is not None and not reset and _same_recorded(applied, value, hidden)
            if last is None and seen and facts.name in seen:  # imported: the platform moved off what it showed then
                drift = _same_recorded(seen[facts.name], value, hidden)
            changes.append(_field_change(manifest, facts, before, value, reset=reset, drift=drift))
        elif last is None:
            if facts.replace or facts.send_only_on_change:
                # Adopted or imported: unknowable, and it cannot be updated; replacing on a guess would lose the
                # object (a campaign's leads, a document's index), and sending a trunk's password on a guess makes
                # the platform re-create its voice trunks. Taken as the manifest says; state records it.
                continue
            if facts.name in fields:  # adopted or imported: what the platform holds is unknowable; send it
                changes.append(_field_change(manifest, facts, None, value, source="last-applied", known=False))
        else:
            before = last.get(facts.name, _default(facts))
            if not facts.shown and empty_setting(before) and empty_setting(value):
                continue  # an empty setting added where none was (or the reverse): still no setting, as above
            if not _same_recorded(before, value, hidden):
                changes.append(_field_change(manifest, facts, before, value, source="last-applied", reset=reset))
    return changes


def _parent_change(manifest: Manifest, facts: FieldFacts, listed_under: Any, value: Any) -> list[FieldChange]:
    """A child's parent (a document's knowledge base) as the plan found it listed, the platform's own word, never
    shown in its read: an imported document has no spec to compare with, so one moved to another knowledge base
    (a moved block) was taken to be there already, and state moved it while it stayed under the old one."""
    if same(listed_under, value):
        return []
    return [_field_change(manifest, facts, listed_under, value)]


def moved_from(change: Change) -> int | None:
    """The id of the parent a replaced child was listed under when the plan moves it to another (its parent's field
    change, _parent_change): where its old self is deleted, and where a saved plan looks for it."""
    parent_field = KINDS[change.kind].parent_field if change.kind in KINDS else None
    if not change.replace or not parent_field:
        return None
    was = next((c.before for c in change.fields if c.field == parent_field), None)
    return was if isinstance(was, int) and not isinstance(was, bool) else None


def _hides(value: Any) -> bool:
    """Whether a read value has a part the platform did not show (UNKNOWN anywhere in it)."""
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_hides(v) for v in value.values())
    if isinstance(value, list):
        return any(_hides(v) for v in value)
    return False


def _default(facts: FieldFacts) -> Any:
    return None if facts.default is NO_DEFAULT else facts.default


def _same_recorded(recorded: Any, wanted: Any, hidden: bool) -> bool:
    """A value state recorded (a digest when sensitive, a digest per key for a keys_shown mapping) against a wanted
    one. A marker never equals an id."""
    if markers_in(wanted):
        return False
    if hidden and isinstance(recorded, dict) and isinstance(wanted, dict) and recorded \
            and all(is_digest(v) for v in recorded.values()):
        return recorded == {k: v if is_digest(v) else digest(v) for k, v in wanted.items()}
    if hidden and is_digest(recorded) and wanted is not None:
        return recorded == digest(wanted)
    return same(recorded, wanted)


def _field_change(manifest: Manifest, facts: FieldFacts, before: Any, after: Any, *, source: str = "platform",
                  known: bool = True, reset: bool = False, drift: bool = False) -> FieldChange:
    hidden = facts.name in manifest.sensitive
    if hidden and facts.keys_shown and isinstance(after, dict):
        # By key only, never a value: "(sensitive): Authorization (changed)"; before: its keys, values hidden.
        keys = keyed_changes(before, after) if known and isinstance(before, dict) else \
            [f"{key} (added)" for key in sorted(after)]
        return FieldChange(facts.name, _keys_only(before), f"{SENSITIVE}: {', '.join(keys)}", source=source,
                           before_known=known, reset=reset, drift=drift, sensitive=True)

    def shown(value: Any) -> Any:
        return SENSITIVE if hidden and value is not None else value

    return FieldChange(facts.name, shown(before), shown(after), source=source, before_known=known, reset=reset,
                       drift=drift, sensitive=hidden)


def _keys_only(value: Any) -> Any:
    """A mapping of secrets before the change, masked as docs/plan.schema.json's `masked` says: its key names only
    ("(sensitive): Authorization, X-Trace"), never a value, and a string like every masked value."""
    if isinstance(value, dict):
        return f"{SENSITIVE}: {', '.join(str(key) for key in sorted(value)) or 'no keys'}"
    return SENSITIVE if value is not None else None


def plan_kinds(manifests: list[Manifest], resolver: Resolver, state: Mapping[str, ResourceState],
               remote: Mapping[str, list[RemoteObject]], *, destroy: bool = False,
               wanted: Callable[[str], bool] = lambda address: True,
               left_alone: Mapping[str, str] | None = None, unread: frozenset[str] = frozenset(),
               assistants: Iterable[Any] = (), replace: frozenset[str] = frozenset(),
               excluded: frozenset[str] = frozenset()) -> KindsPlan:
    """The changes of every object of a registered kind: creates, updates, adoptions and replacements of the
    manifests (in the graph's order: a replaced object's referrers then wait for its new id), deletes and
    forgets of the state entries whose manifest is gone. `state`: the entries of these kinds only. Children of an
    `unread` parent (their list was not read: nothing can have changed, reading.py) are left as they are.
    `assistants`: the platform's, for the kinds' cross-object rules on references by id or name (check_graph)."""
    result = KindsPlan()
    identities = resolver.identities
    # SIP trunks refer to nothing, so planning them first keeps the graph's order; it also makes known whether
    # one is created or replaced before a number lookup that names it is resolved (Resolver._trunk), wherever the
    # graph's order put the manifest that looks it up.
    manifests = sorted(manifests, key=lambda m: m.kind not in KINDS[NUMBER].accepts)
    left_alone = {} if destroy else dict(left_alone or {})
    by_id = {kind: {r.id: r for r in objects} for kind, objects in remote.items()}
    by_address = {m.address: m for m in manifests}
    items = {kind: {r.id: r.item for r in objects} for kind, objects in remote.items()}
    items[ASSISTANT] = {r.id: r.item for r in assistants}
    for manifest in ([] if destroy else manifests):
        if not wanted(manifest.address) or getattr(manifest, "parent", None) in unread:
            continue
        entry = state.get(manifest.address)
        live = by_id.get(manifest.kind, {}).get(entry.id) if entry else None
        adopt = None if live else identities.adopted.get(manifest.address)
        if live is None and adopt is None:
            refused = _adoption_problems(manifest, identities)
            if refused:
                result.problems += refused
                continue
        current = live or adopt
        # Only a field the manifest manages stops its plan: nothing is decided from one it leaves out (a campaign's
        # status, managed only when set, in a status API.md's incomplete list does not name).
        unreadable = []
        if current is not None and current.problems:
            managed = desired(KINDS[manifest.kind], manifest.fields)
            unreadable = [p for p in current.problems if p.field in managed]
        if unreadable:
            for p in unreadable:
                result.problems.append(Problem(
                    f"the platform's {KINDS[manifest.kind].title} id {current.id} shows {p.field} in a form the "
                    f"provisioner cannot read: {p.message}; nothing was planned from it",
                    manifest.location("spec", p.field), f"spec.{p.field}", manifest.address))
            continue
        fields, depends_on, problems = resolver.resolve(manifest)
        problems += platform_rules(manifest, fields, items)
        if problems:
            result.problems += problems
            continue
        if live is not None:
            result.notes += _unmanaged_notes(manifest, entry, fields)
        change = plan_object(manifest, fields, depends_on, entry, live, adopt,
                             replace_requested=manifest.address in replace)
        if change is not None:
            result.changes.append(change)
            if change.replace or change.action is Action.CREATE:
                resolver.renewed.add(manifest.address)
        elif entry is not None:
            result.unchanged_needs[manifest.address] = depends_on
            if _sync_owed(manifest, entry, fields):
                result.syncs.append(StateSync(manifest.address, record(
                    manifest, desired(KINDS[manifest.kind], fields), live.fields)))
    managed_now = set() if destroy else set(by_address)
    for address in sorted(state):
        if address in managed_now or not wanted(address) or address.rsplit(".", 1)[0] in unread:
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
            if address in excluded:  # left as it is (--exclude): no delete to refuse
                continue
            cause = "`destroy` would delete it" if destroy else "its manifest was removed, so it would be deleted"
            result.problems.append(Problem(
                f"{kind.title} {address!r} (id {entry.id}) is protected, and {cause}; to allow this, set "
                "metadata.protect: false in its manifest and apply first (or `provisioner state rm` it to stop "
                "managing it)", manifest.location("metadata", "protect") if manifest else None, address=address))
            continue
        why = "destroy requested" if destroy else "its manifest was removed"
        # A child is deleted under its parent: the parent's id rides in the body (apply puts it in the path).
        parent = {kind.parent_field: live.fields.get(kind.parent_field)} if kind.parent_field else {}
        result.changes.append(Change(address, Action.DELETE, live.name, remote_id=live.id, reason=why, body=parent,
                                     remote_item=live.item, kind=kind.name))
    result.problems += _names_taken(result.changes, remote, by_address)
    return result


def _names_taken(changes: list[Change], remote: Mapping[str, list[RemoteObject]],
                 manifests: Mapping[str, Manifest]) -> list[Problem]:
    """An update, in a kind whose platform refuses two objects alike (folders' and labels' names, unique in the
    account; a SIP trunk's number, username and address: its `identity`), that makes its object alike another that
    is still there once this plan is applied: the platform would refuse it ("The name has already been taken", a
    409), so the plan does, before anything is sent. An object this plan deletes or replaces gives its name or
    identity up (deletes of a kind go first); one this plan changes too still holds it (two applies)."""
    kinds = {k for k, kind in KINDS.items() if kind.identity is not None or kind.unique_names}
    by_id = {(kind, r.id): r for kind in kinds for r in remote.get(kind, [])} if any(
        c.kind in kinds and c.action in (Action.UPDATE, Action.IMPORT) for c in changes) else {}
    moving = []
    for change in changes:
        kind = KINDS.get(change.kind)
        current = by_id.get((change.kind, change.remote_id))
        if change.action not in (Action.UPDATE, Action.IMPORT) or change.replace or current is None:
            continue
        key = _alike(kind, {**current.fields, **change.body})
        if key is not None and key != _alike(kind, current.fields):
            moving.append((change, kind, key, current))
    if not moving:
        return []
    # Deletes (and a replacement's old half) go before a kind's updates; another update does not: renamed away in
    # the same plan, a name is still held when the rename that takes it may run (updates are not ordered).
    leaving = {(c.kind, c.remote_id) for c in changes if c.action in (Action.DELETE, Action.FORGET) or c.replace}
    problems = []
    for change, kind, key, current in moving:
        held = [r.id for r in remote.get(kind.name, []) if r.id != change.remote_id
                and (kind.name, r.id) not in leaving and _alike(kind, r.fields) == key]
        if held:
            manifest = manifests.get(change.address)
            was = _alike(kind, current.fields)
            field = next((k for k in change.body if _alike(kind, {**current.fields, k: change.body[k]}) != was),
                         None)
            what = (f"already named {key!r}, and {kind.title} names are unique within the account"
                    if kind.identity is None else
                    f"already {', '.join(map(str, key))}, and the platform refuses two {kind.title}s alike")
            problems.append(Problem(
                f"the platform's {kind.title} id {held[0]} is {what}: this change of {change.address} would be "
                f"refused. Change or delete that {kind.title} first, or manage it here (`provisioner import ADDRESS "
                f"{held[0]}`)", manifest.location("spec", field) if manifest and field else
                (manifest.location() if manifest else None), f"spec.{field}" if field else None, change.address))
    return problems


def _alike(kind: Kind | None, fields: Mapping[str, Any]) -> Any:
    """What the platform refuses two objects of `kind` to share (None: nothing, or the kind has no such rule)."""
    if kind is None:
        return None
    if kind.identity is not None:
        return kind.identity(dict(fields))
    return fields.get(kind.name_field) if kind.unique_names else None


def platform_rules(manifest: Manifest, fields: dict[str, Any], items: Mapping[str, Mapping[int, Any]]) -> list[Problem]:
    """A kind's cross-object rules (`Kind.check_graph`) on the references that name no manifest of the repository
    (ids, `{name: ...}`, numbers): checked here against the platform's items, as validation checked the others
    against the manifests."""
    kind = KINDS[manifest.kind]
    if kind.check_graph is None:
        return []
    graph: dict[str, Any] = {}
    for use in uses(manifest):
        if use.target is not None:
            continue  # a manifest of the repository: validation checked it
        value = fields.get(use.facts.name)
        if use.facts.many:
            graph[use.facts.name] = [items.get(use.facts.ref, {}).get(v, v) if isinstance(v, int) else None
                                     for v in value or []]
        elif isinstance(value, int) and value in items.get(use.facts.ref, {}):
            graph[use.facts.name] = items[use.facts.ref][value]
    return [Problem(message, manifest.location("spec", *path), "spec." + ".".join(map(str, path)), manifest.address)
            for path, message in kind.check_graph(manifest.spec, graph)]


def _adoption_problems(manifest: Manifest, identities: Identities) -> list[Problem]:
    """Why a manifest without an object cannot adopt one by name: two namesakes (choosing would be a guess), or
    the only ones managed by another workspace or project (one object has one owner)."""
    kind = KINDS[manifest.kind]

    def at_name(message: str) -> Problem:
        return Problem(message, manifest.location("spec", kind.name_field), f"spec.{kind.name_field}",
                       manifest.address)

    if manifest.address in identities.contested:
        other, rivals = identities.contested[manifest.address]
        return [at_name(f"{manifest.address!r} and {', '.join(map(repr, rivals))} would each adopt the platform's "
                        f"{kind.title} id {other.id} ({other.name!r}), the one object no state manages that they "
                        f"match, so adopting it for one would be a guess; choose its manifest with `provisioner "
                        f"import {manifest.address} {other.id}` (the others then create their own)")]
    # Those identify found by the manifest's identity, never every unclaimed object of its name: a trunk of its own
    # number was refused for two other numbers' trunks of its nickname, a document for namesakes in other
    # knowledge bases (and told to import one of them under its own).
    namesakes = identities.ambiguous.get(manifest.address, [])
    if namesakes:
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
    dropped = sorted(f.name for f in kind.fields  # a create-only one is a replacement instead (_field_changes)
                     if f.default is NO_DEFAULT and not (f.replace and not f.shown) and f.name in (entry.spec or {})
                     and f.name not in fields)
    # A field an action changes (a campaign's status) is no setting to clear: null is refused there.
    return [f"{no_longer_set(manifest.address, name)}; the platform keeps its current value"
            + ("." if kind.action(name) else " (set it to null to clear it).") for name in dropped]


def _sync_owed(manifest: Manifest, entry: ResourceState, fields: dict[str, Any]) -> bool:
    wanted = desired(KINDS[manifest.kind], fields)
    return refresh_owed(entry, manifest, hidden_fields(KINDS[manifest.kind], wanted, manifest.sensitive))
