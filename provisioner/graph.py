"""References between manifests, checked offline, and the dependency graph they make (docs/graph.md).

A reference field (`FieldFacts.ref`; the assistant's `tool_ids`, `knowledgebase_id`, `folder_id`,
`label_ids`, `phone_number_id`) holds one syntax for every kind (`kinds.base.parse_reference`). An address
names a manifest of the repository: it must exist and be of the field's kind, and the references must not
make a cycle. Each is a file:line problem before any call to the platform. The edges (who needs whom)
give the order in which objects are created: Python's graphlib sorts them and finds cycles.
"""
from __future__ import annotations

import graphlib
import operator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Container, Iterable, Mapping

from . import kinds
from .errors import Problem, with_article
from .kinds import ASSISTANT, KINDS, address_targets, kind_of_address, manifest_address, reference_facts
from .kinds.base import FieldFacts, Reference, parse_reference
from .manifest import Manifest, credential_fields

Path_ = tuple[str | int, ...]


def address_kind(address: str) -> str:
    """`folder.sales` -> folder; `knowledgebase.faq.pricing` -> document; a bare name (or `assistant.x`) is an
    assistant's."""
    return kind_of_address(address)


@dataclass(frozen=True)
class ChildManifest(Manifest):
    """An object declared inside another's manifest (a knowledge base's document, `Kind.children`), as a manifest of
    its own kind: its spec is its entry, its fields the child node's (what create sends, its parent's address in
    `parent_field`), its locations those of its entry in the parent's file."""

    prefix: tuple = ()          # where its entry is in the parent's document: ("spec", "documents", 0)
    parent: str = ""            # the parent's address

    def location(self, *path: str | int):
        inner = path[1:] if path[:1] == ("spec",) else path
        return self.document.locate(self.prefix + tuple(inner))


def children_of(manifest: Manifest) -> list[Manifest]:
    """The child manifests a manifest declares (none for most kinds). Pure: no platform call.

    A plan asks several times (validation's graph, the plan's, the children to read): they are made once and kept
    with the manifest, for its spec (a manifest's spec is not replaced; `with_fields` makes a new manifest), so that
    every caller sees the same child objects and what is kept with them (their uses)."""
    return list(_kept_children(manifest))


def _kept_children(manifest: Manifest) -> tuple[Manifest, ...]:
    kind = KINDS.get(manifest.kind)
    if kind is None or kind.children is None:
        return ()
    kept = manifest.__dict__.get(_CHILDREN)
    if kept is None or kept[0] is not manifest.spec:
        kept = manifest.__dict__[_CHILDREN] = (manifest.spec, tuple(_children_of(manifest)))
    return kept[1]


_CHILDREN = "_children"  # the slot in a manifest's __dict__: (the spec they were made from, the child manifests)


def _children_of(manifest: Manifest) -> list[Manifest]:
    kind = KINDS[manifest.kind]
    found = []
    for node in kind.children(manifest.name, manifest.spec):
        spec = _entry(manifest.spec, node.path[1:])
        # Sensitive as a manifest's own fields are: its kind's secrets, and what carries credentials by its content
        # (a document's link with ?token=): state and saved plans then keep a digest, and a saved plan's apply
        # reads the value from the manifest again (restore_secrets).
        sensitive = frozenset(f.name for f in KINDS[node.kind].fields if f.sensitive) | credential_fields(node.fields)
        child = ChildManifest(node.address, spec, dict(manifest.labels), manifest.protect, sensitive,
                              manifest.document, node.kind, prefix=tuple(node.path), parent=node.parent)
        child.__dict__["fields"] = dict(node.fields)  # cached_property's slot: the node's own fields
        found.append(child)
    return found


def _entry(spec, path: tuple) -> object:
    for part in path:
        spec = spec[part] if isinstance(part, int) else getattr(spec, part)
    return spec


def expand(manifests: Iterable[Manifest]) -> list[Manifest]:
    """The manifests and every child they declare (each right after its parent)."""
    found: list[Manifest] = []
    for parent in manifests:
        found.append(parent)
        children = _kept_children(parent)
        if children:
            found += children
    return found


def entry_kind(address: str, entry: Any) -> str:
    """The kind of a state entry: the one the store recorded (ResourceState.kind), else the one its address
    names (entries of stores that kept no kind)."""
    recorded = getattr(entry, "kind", None)
    if recorded and recorded != ASSISTANT:
        return recorded
    # A bare name is an assistant's (kind_of_address's first answer, without its calls: asked of every entry).
    return ASSISTANT if "." not in address else address_kind(address)


@dataclass(frozen=True)
class Use:
    """One reference value in a manifest: where it is, to which kind, what it says."""

    path: Path_              # inside the spec: ("tool_ids", 0)
    facts: FieldFacts
    reference: Reference
    # The address referred to, as manifests and state know it; None for a lookup, an id or a number. Read many
    # times per use (the graph, the resolver, the checks): derived once, from `reference`.
    target: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.reference.address:
            object.__setattr__(self, "target", manifest_address(self.reference.address))

    @property
    def field(self) -> str:
        return "spec." + "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p)
                                  for i, p in enumerate(self.path))


def uses(manifest: Manifest, fields: Mapping[str, Any] | None = None) -> tuple[Use, ...]:
    """Every reference value the manifest sets (in its own words unless `fields` are given).

    A plan asks for a manifest's own uses several times (validation, the graph, the lists to read, resolution):
    they are found once and kept with the manifest, as its `fields` are (which they are read from)."""
    if fields is not None:
        return _find_uses(manifest.kind, fields)
    found = manifest.__dict__.get(_USES)
    if found is None or found[0] is not manifest.fields:
        found = (manifest.fields, _find_uses(manifest.kind, manifest.fields))
        manifest.__dict__[_USES] = found
    return found[1]


_USES = "_uses"  # the slot in a manifest's __dict__: (the fields they were read from, the uses)


def _find_uses(kind: str, fields: Mapping[str, Any]) -> tuple[Use, ...]:
    """The uses of a manifest's fields. A fleet's manifests refer to the same few objects in a few combinations: the
    uses of each combination of reference values are kept as one tuple (shared by the manifests that write it, so
    the graph and the check treat it once), made of the uses kept per field value."""
    entry = _reference_fields(kind)
    keys = []
    for facts, _ in entry[1]:
        value = fields.get(facts.name)
        key = _ABSENT if value is None else _value_key(value)
        if key is None:  # a lookup ({name: ...}) or a value validation refused: this manifest's uses are not kept
            return _uses_of(entry[1], fields)
        keys.append(key)
    combination = tuple(keys)
    combinations = entry[2]
    found = combinations.get(combination)
    if found is None:
        if len(combinations) >= _FIELD_USES_LIMIT:
            combinations.clear()
        found = combinations[combination] = _uses_of(entry[1], fields)
    return found


def _uses_of(reference_fields: tuple[tuple[FieldFacts, dict], ...], fields: Mapping[str, Any]) -> tuple[Use, ...]:
    found: tuple[Use, ...] = ()
    for facts, known in reference_fields:
        value = fields.get(facts.name)
        if value is None:
            continue
        key = _value_key(value)
        if key is None:  # a lookup ({name: ...}) or a value validation refused: not kept
            found += _field_uses(facts, value)
            continue
        field_uses = known.get(key)
        if field_uses is None:
            if len(known) >= _FIELD_USES_LIMIT:
                known.clear()
            field_uses = known[key] = _field_uses(facts, value)
        found += field_uses
    return found


_ABSENT = object()  # a combination's key for a field not set (or null): no uses


def _field_uses(facts: FieldFacts, value: Any) -> tuple[Use, ...]:
    """The uses one reference field's value makes (_find_uses without its cache)."""
    found = []
    values = enumerate(value) if facts.many and isinstance(value, list) else ((None, value),)
    for index, item in values:
        if item is None:
            continue
        parsed = parse_reference(item, facts.ref)
        if isinstance(parsed, Reference):
            found.append(Use((facts.name,) if index is None else (facts.name, index), facts, parsed))
    return tuple(found)


def _value_key(value: Any) -> Any:
    """A reference field's value as a key of the uses it makes: a text or an integer, or a list of them as a
    tuple; None for anything else. Only exact str and int: True == 1 and 1.0 == 1 as keys, but not as references
    (a list is keyed by a tuple, so never equal to a single value's key)."""
    cls = type(value)
    if cls is str or cls is int:
        return value
    if cls is list:
        for item in value:
            cls = type(item)
            if cls is not str and cls is not int:
                return None
        return tuple(value)
    return None


def _reference_fields(kind: str) -> tuple[Any, tuple[tuple[FieldFacts, dict], ...], dict]:
    """The kind's reference fields, each with its cache (value key -> the uses it makes), and the cache of
    combinations (_find_uses). A fleet's manifests name the same few objects, so each distinct value is parsed
    once (the uses are immutable, shared by the manifests that write the same value). Rebuilt when the
    registry's kind changes (a configured campaign)."""
    source = KINDS.get(kind) if kind != ASSISTANT else kinds.ASSISTANT_REFERENCES
    entry = _REFERENCE_FIELDS.get(kind)
    if entry is None or entry[0] is not source:
        entry = _REFERENCE_FIELDS[kind] = (source, tuple((facts, {}) for facts in reference_facts(kind)), {})
    return entry


_REFERENCE_FIELDS: dict[str, tuple[Any, tuple[tuple[FieldFacts, dict], ...], dict]] = {}
# Distinct values kept per field, and combinations per kind: a hostile repository's must not grow them without end.
_FIELD_USES_LIMIT = 10_000


@dataclass
class Graph:
    """The manifests and their references: `needs[a]` are the addresses `a` refers to (all in the graph)."""

    manifests: dict[str, Manifest]
    needs: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, manifests: Iterable[Manifest]) -> "Graph":
        """The graph of the manifests. Read-only (its mappings are views, its needs frozensets): a plan asks for
        the graph of the same manifests twice (validation's check, then the plan), and the second call gives the
        first's graph, its order included, when the manifests are the same objects, in the same order, with the
        same fields (which their uses are read from)."""
        manifests = list(manifests)
        fields = [m.fields for m in manifests]
        last = _LAST_GRAPH[0]
        if last is not None and same_objects(last[0], manifests) and same_objects(last[1], fields):
            return last[2]
        graph = cls._of(manifests)
        _LAST_GRAPH[0] = (manifests, fields, graph)
        return graph

    @classmethod
    def _of(cls, manifests: list[Manifest]) -> "Graph":
        """Graph.of without its memory."""
        known = {m.address: m for m in manifests}
        needs = {}
        # By the identity of a manifest's uses: manifests that refer to the same objects share them (_find_uses).
        # Each stays alive with its manifest during the loop, so an identity is never reused meanwhile.
        needs_of: dict[int, frozenset[str]] = {}
        for address, manifest in known.items():
            found = uses(manifest)
            if not found:
                needs[address] = _NOTHING
                continue
            needed = needs_of.get(id(found))
            if needed is None:
                needed = needs_of[id(found)] = frozenset([u.target for u in found if u.target in known])
            needs[address] = needed
        return cls(MappingProxyType(known), MappingProxyType(needs))  # type: ignore[arg-type]

    def manifest(self, address: str) -> Manifest | None:
        """The manifest at an address (`assistant.x` or `x` for an assistant)."""
        return self.manifests.get(manifest_address(address))

    def order(self) -> list[str]:
        """Every address, each after everything it needs (ties by address: plans read the same every time).

        Kahn's algorithm by levels, each level sorted: what graphlib's get_ready/done rounds give, without its
        per-node Python bookkeeping (a fleet's graph is mostly nodes that need nothing). A cycle leaves nodes
        out: graphlib then raises its CycleError (with the cycle, for _cycles' message).
        A read-only graph's (Graph.of's) order is computed once."""
        kept = self.__dict__.get("_ordered")
        if kept is not None and kept[0] is self.needs:
            return list(kept[1])
        ordered = self._order()
        if isinstance(self.needs, MappingProxyType):  # nobody can change its needs: the order stays right
            self.__dict__["_ordered"] = (self.needs, tuple(ordered))
        return ordered

    def _order(self) -> list[str]:
        """order() without its memory: each address's level is 1 + the highest of what it needs (0 for what needs
        nothing), the round of Kahn's algorithm that makes it ready; then level by level, each sorted. A cycle
        leaves nodes without a level: graphlib then raises its CycleError."""
        levels = _levels(self.needs)
        if levels is None:
            return self._graphlib_order()
        rounds: list[list[str]] = []
        for address, level in levels.items():
            while len(rounds) <= level:
                rounds.append([])
            rounds[level].append(address)
        ordered: list[str] = []
        for addresses in rounds:
            addresses.sort()
            ordered += addresses
        return ordered

    def _graphlib_order(self) -> list[str]:
        """order() by graphlib: raises its CycleError when the references make a cycle."""
        sorter = graphlib.TopologicalSorter({a: sorted(n) for a, n in sorted(self.needs.items())})
        sorter.prepare()
        ordered: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            ordered += ready
            sorter.done(*ready)
        return ordered

    def with_dependencies(self, addresses: Iterable[str]) -> set[str]:
        """`addresses` and everything they need, transitively (what `--target` pulls in)."""
        found: set[str] = set()
        stack = [manifest_address(a) for a in addresses]
        while stack:
            address = stack.pop()
            if address in found:
                continue
            found.add(address)
            stack += self.needs.get(address, ())
        return found

    def with_dependents(self, addresses: Iterable[str], recorded: Mapping[str, Iterable[str]] | None = None,
                        existing: Container[str] | None = None) -> set[str]:
        """`addresses` and everything that refers to them, transitively: what `destroy --target` takes along
        (Terraform's order: what points at an object goes before it). `recorded`: address -> the addresses state
        recorded it pointed at when last applied (objects whose manifest is gone still count).

        An object that waited for a child because it uses the parent (an assistant for the documents of the knowledge
        base it uses: state records them with what it pointed at, for the order) does not refer to the child:
        destroying one document leaves it be (destroying the knowledge base does not).

        `existing`: the addresses with an object (in state); None: all. Nothing refers to an object that was never
        made (a manifest not applied yet): what its manifest's users refer to it by is not taken along through it."""
        pointed_at: dict[str, set[str]] = {}
        for source in (self.needs, recorded or {}):
            for address, needs in source.items():
                needs = [manifest_address(needed) for needed in needs]
                for needed in needs:
                    parent, dot, child = needed.rpartition(".")
                    if dot and "." in parent and parent in needs:
                        continue  # a child of what it uses: waited for, not referred to
                    pointed_at.setdefault(needed, set()).add(manifest_address(address))
        found: set[str] = set()
        stack = [manifest_address(a) for a in addresses]
        while stack:
            address = stack.pop()
            if address not in found:
                found.add(address)
                if existing is None or address in existing:
                    stack += pointed_at.get(address, ())
        return found

    def dependents(self, address: str) -> set[str]:
        """The addresses that refer to `address` directly."""
        return {a for a, needs in self.needs.items() if address in needs}


def _levels(needs: Mapping[str, Iterable[str]]) -> dict[str, int] | None:
    """Each address's level (Graph._order), the addresses only needed included; None when there is a cycle.
    Depth first without recursion (a chain of 10,000 references is allowed): an address is computed once all it
    needs are; one met again on top of the stack while still waiting for what it needs is its own ancestor."""
    levels: dict[str, int] = {root: 0 for root, root_needs in needs.items() if not root_needs}
    waiting: set[str] = set()
    for root, root_needs in needs.items():
        if root in levels:
            continue
        try:  # most of a fleet: what it needs needs nothing (or is known already)
            levels[root] = 1 + max([levels[n] for n in root_needs])
            continue
        except KeyError:
            pass
        stack = [root]
        while stack:
            address = stack[-1]
            if address in levels:
                stack.pop()
                continue
            wanted = needs.get(address, ())
            missing = [n for n in wanted if n not in levels]
            if not missing:
                levels[address] = 1 + max([levels[n] for n in wanted]) if wanted else 0
                waiting.discard(address)
                stack.pop()
            elif address in waiting:
                return None
            else:
                waiting.add(address)
                stack += missing
    return levels


_NOTHING: frozenset[str] = frozenset()


def same_objects(kept: list, given: list) -> bool:
    """Whether two lists hold the very same objects in the same order."""
    return len(kept) == len(given) and all(map(operator.is_, kept, given))


# The last graph Graph.of made: (its manifests, their fields, the graph). One slot: a plan's second call is what it
# is for; it holds the manifests until the next call.
_LAST_GRAPH: list[tuple[list[Manifest], list[dict], "Graph"] | None] = [None]


def check(manifests: list[Manifest], invalid: frozenset[str] | set[str] = frozenset()) -> list[Problem]:
    """Unknown addresses, addresses of the wrong kind, cycles, and each kind's cross-manifest rules. `invalid`: the
    addresses of manifests left out for problems of their own, which a reference to them does not repeat."""
    graph = Graph.of(expand(manifests))
    problems: list[Problem] = []
    targets_of: dict[str, tuple[str, ...]] = {}  # reference kind -> address_targets (a fleet asks thousands of times)
    # The uses found right, by identity, each one and each manifest's whole tuple: manifests that write the same
    # values share them (_find_uses), and whether a use names a manifest of the right kind is the same for each
    # of them. Every use checked stays alive with its manifest until the end, so an identity is never reused.
    right: set[int] = set()
    for address in sorted(graph.manifests):  # the addresses alone: (address, manifest) pairs sort far slower
        manifest = graph.manifests[address]
        found = uses(manifest)
        if id(found) in right:
            found = ()
        wrong = len(problems)
        for use in found:
            if use.reference.address is None or id(use) in right:
                continue
            target_kind = use.reference.address.split(".", 1)[0]
            wanted = targets_of.get(use.facts.ref)
            if wanted is None:
                wanted = targets_of[use.facts.ref] = address_targets(use.facts.ref)
            if target_kind in wanted and use.target in graph.manifests:
                right.add(id(use))
                continue  # most references: nothing to locate
            if target_kind in wanted and (use.target in invalid or use.target.rsplit(".", 1)[0] in invalid):
                continue  # the manifest (or its parent, a document's) exists: its own problems are reported
            where = manifest.location("spec", *use.path)
            if target_kind not in wanted:
                problems.append(Problem(
                    f"{use.reference.address!r} is {with_article(target_kind)}, but {use.facts.name} takes "
                    f"{' or '.join(k + '.NAME' for k in wanted)} addresses", where, use.field, address))
            else:
                known = sorted(a if "." in a else f"assistant.{a}" for a in graph.manifests
                               if address_kind(a) in wanted)
                from .spec import did_you_mean
                problems.append(Problem(
                    f"{use.reference.address!r} names no manifest{did_you_mean(use.reference.address, known)}"
                    f" (to use an object no manifest manages, write {{name: \"...\"}} or its id)",
                    where, use.field, address))
        if found and len(problems) == wrong:
            right.add(id(found))
        checker = KINDS[manifest.kind].check_graph if manifest.kind in KINDS else None
        for path, message in (checker(manifest.spec, targets_in(manifest, graph)) if checker else []):
            problems.append(Problem(message, manifest.location("spec", *path),
                                    "spec." + ".".join(map(str, path)), address))
    problems += _cycles(graph)
    return problems


def targets_in(manifest: Manifest, graph: Graph) -> dict[str, object]:
    """For `Kind.check_graph` at validate time: each reference field -> the spec of the manifest its address names
    (a list for a `many` field, with None where an item is not an address of the repository); a field naming
    nothing in the repository is left out (the plan checks it against the platform's item)."""
    found: dict[str, object] = {}
    for use in uses(manifest):
        target = graph.manifests.get(use.target) if use.target else None
        if use.facts.many:
            value = manifest.fields.get(use.facts.name) or []
            items = found.setdefault(use.facts.name, [None] * len(value))
            items[use.path[1]] = target.spec if target else None
        elif target is not None:
            found[use.facts.name] = target.spec
    return {k: v for k, v in found.items() if not (isinstance(v, list) and not any(x is not None for x in v))}


def _cycles(graph: Graph) -> list[Problem]:
    try:
        graph.order()
    except graphlib.CycleError as error:
        cycle = list(reversed(error.args[1]))  # [a, b, ..., a]: each needs the next
        first = graph.manifests[cycle[0]]
        use = next((u for u in uses(first) if u.target == cycle[1]), None)
        where = first.location("spec", *use.path) if use else first.location()
        shown = " -> ".join(a if "." in a else f"assistant.{a}" for a in cycle)
        return [Problem(f"references make a cycle ({shown}): no order can create them", where,
                        use.field if use else None, cycle[0])]
    return []
