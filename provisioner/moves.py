"""Moved blocks: an address renamed without re-creating its object (Terraform's `moved { from, to }`).

A manifest file may hold, besides manifests, documents of `kind: Moved` (docs/day-two.md):

    apiVersion: provisioner/v1
    kind: Moved
    spec:
      from: tool.order-lookup      # the address state knows the object by
      to: tool.orders              # the address of its manifest now

They are read with the manifests and checked offline (`check`: file:line problems). A chain (A -> B, B -> C) is
followed to its end (`destinations`), references to an old address are read as the new one (`follow`), and a
plan moves the state entries before comparing (`plan_moves`): the object keeps its id, so the plan is a move in
state, plus an update if its fields changed. Apply makes the moves one state commit (`moved_rows`), before any
change. A move whose `from` is not in state does nothing (the block can stay in the repository).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from .errors import Location, PlanError, Problem, with_article
from .kinds import ASSISTANT, KINDS, address_form, address_parts, kind_of_address
from .kinds import manifest_address as state_address  # `assistant.x` is the assistant `x` in state
from .kinds.base import NAME
from .patterns import LazyPattern

MOVED_KIND = "Moved"
MOVE_KEYS = ("apiVersion", "kind", "spec")
MOVE_SPEC_KEYS = ("from", "to")
# An assistant's bare name (or `assistant.NAME`), `<kind>.<name>`, or a document's `knowledgebase.<kb>.<key>`.
MOVE_ADDRESS = LazyPattern(rf"{NAME}|[a-z]+\.{NAME}(?:\.{NAME})?")


@dataclass(frozen=True)
class Move:
    """One moved block: `source` (from) and `target` (to) as state knows addresses (an assistant's bare name)."""

    source: str
    target: str
    kind: str
    location: Location            # the document's `kind:` line
    source_location: Location     # spec.from's line
    target_location: Location     # spec.to's line

    @property
    def label(self) -> str:
        return f"{self.source} -> {self.target}"


def movable_kinds() -> tuple[str, ...]:
    """The kinds whose objects a moved block may rename: assistants and every managed kind (not phone numbers,
    which are only referenced)."""
    return (ASSISTANT, *sorted(k for k, kind in KINDS.items() if not kind.reference_only))


def is_moved_document(content: Any) -> bool:
    return isinstance(content, dict) and content.get("kind") == MOVED_KIND


def parse_move(document, problems: list[Problem]) -> Move | None:
    """The Move a `kind: Moved` document says, or None after adding its problems (file:line)."""
    from .manifest import API_VERSION, _dotted, _shown
    from .spec import did_you_mean

    before = len(problems)

    def problem(message: str, *path: str | int) -> None:
        problems.append(Problem(message, document.locate(path), _dotted(path) or None))

    content = document.content
    for key in content:
        if key not in MOVE_KEYS:
            hint = " (a moved block has no metadata: it is named by its addresses)" if key == "metadata" else \
                did_you_mean(str(key), MOVE_KEYS)
            problem(f"unknown field {_shown(key)} in a moved block{hint}", key)
    if content.get("apiVersion") != API_VERSION:
        problem(f"apiVersion must be '{API_VERSION}' (got {_shown(content.get('apiVersion'))})", "apiVersion")
    spec = content.get("spec")
    if not isinstance(spec, dict):
        problem("spec is required: a mapping with `from` (the old address) and `to` (the new one)", "spec")
        return None
    for key in spec:
        if key not in MOVE_SPEC_KEYS:
            problem(f"unknown field {_shown(key)}{did_you_mean(str(key), MOVE_SPEC_KEYS)}", "spec", key)
    addresses: dict[str, tuple[str, str]] = {}
    for key in MOVE_SPEC_KEYS:
        value = spec.get(key)
        if value is None:
            problem(f"spec.{key} is required: the {'old' if key == 'from' else 'new'} address", "spec", key)
            continue
        if not isinstance(value, str) or not MOVE_ADDRESS.fullmatch(value):
            problem(f"must be an address such as tool.NAME, or an assistant's NAME (got {_shown(value)})",
                    "spec", key)
            continue
        address = state_address(value)
        kind = kind_of_address(address)
        if kind not in movable_kinds():
            problem(f"{_shown(value)} is not an address of a kind the provisioner manages (kinds: "
                    f"{', '.join(movable_kinds())}){did_you_mean(kind, movable_kinds())}", "spec", key)
            continue
        # The address's shape must be its kind's: `tool.a.b` (read as a tool) and `assistant.assistant.x` named
        # nothing state can hold, and the move was accepted and moved nothing.
        if address.count(".") + 1 != address_parts(kind):
            example = "an assistant's NAME (or assistant.NAME)" if kind == ASSISTANT else address_form(kind)
            problem(f"{_shown(value)} is no {kind}'s address: a {kind} is moved as {example}", "spec", key)
            continue
        addresses[key] = (address, kind)
    if len(problems) > before or len(addresses) < 2:
        return None
    (source, source_kind), (target, target_kind) = addresses["from"], addresses["to"]
    if source == target:
        problem(f"from and to are the same address ({source}): nothing moves", "spec", "to")
        return None
    if source_kind != target_kind:
        problem(f"{source} is {with_article(source_kind)} and {target} {with_article(target_kind)}: a move stays "
                "within its kind (an id names an object of one kind)", "spec", "to")
        return None
    return Move(source, target, source_kind, document.locate(("kind",)), document.locate(("spec", "from")),
                document.locate(("spec", "to")))


def check(moves: list[Move], manifests: Iterable[Any]) -> list[Problem]:
    """What no plan can follow: two moves from one address (or to one), a cycle, a `from` that a manifest still
    has (both would be managed), each with the file and line of the value to edit."""
    from .graph import expand  # the graph reads manifests: imported when asked

    problems: list[Problem] = []
    addresses = {m.address: m for m in expand(manifests)}  # a knowledge base's documents too
    first_from: dict[str, Move] = {}
    first_to: dict[str, Move] = {}
    for move in moves:
        if move.source in first_from:
            problems.append(Problem(f"{move.source} is also moved by the block at {first_from[move.source].location}"
                                    f" (to {first_from[move.source].target}): an address moves to one place",
                                    move.source_location, "spec.from"))
            continue
        if move.target in first_to:
            problems.append(Problem(f"{move.target} is also the destination of the block at "
                                    f"{first_to[move.target].location} (from {first_to[move.target].source}): two "
                                    "objects cannot move to one address", move.target_location, "spec.to"))
            continue
        first_from[move.source] = move
        first_to[move.target] = move
        manifest = addresses.get(move.source)
        if manifest is not None:
            problems.append(Problem(f"{move.source} still has a manifest ({manifest.location()}): remove it (or the "
                                    "moved block); an address cannot both move and stay", move.source_location,
                                    "spec.from"))
    for move in first_from.values():
        seen = [move.source]
        address = move.target
        while address in first_from:
            if address == move.source:
                chain = " -> ".join(seen + [address])
                problems.append(Problem(f"moved blocks make a cycle ({chain}): no address is the last",
                                        move.source_location, "spec.from"))
                break
            if address in seen:  # never reached (a chain into a cycle has two moves to one address): no endless loop
                break
            seen.append(address)
            address = first_from[address].target
    return _unique(problems)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, kept = set(), []
    for p in problems:
        key = (p.message, p.location)
        if key not in seen:
            seen.add(key)
            kept.append(p)
    return kept


def destinations(moves: Iterable[Move]) -> dict[str, Move]:
    """Each moved address -> the move that starts there, its `target` the end of its chain (A -> B, B -> C: A and
    B both go to C). Expects `check` to have passed (no cycle, one move per address)."""
    by_source = {m.source: m for m in moves}
    found: dict[str, Move] = {}
    for source, move in by_source.items():
        target, steps = move.target, 0
        while target in by_source and steps <= len(by_source):
            target, steps = by_source[target].target, steps + 1
        found[source] = replace(move, target=target)
    return found


def follow(manifests: list[Any], moves: Iterable[Move]) -> list[Any]:
    """The manifests with every reference to a moved address naming where it moved (`tool_ids: [tool.old]` reads
    as `[tool.new]`): the manifest is left as written, its `fields` say the new address."""
    from .graph import uses

    ends = destinations(moves)
    if not ends:
        return manifests
    followed = []
    for manifest in manifests:
        moved = [u for u in uses(manifest) if u.target in ends]
        if not moved:
            followed.append(manifest)
            continue
        fields = {k: (list(v) if isinstance(v, list) else v) for k, v in manifest.fields.items()}
        for use in moved:
            end = ends[use.target].target
            written = f"{ASSISTANT}.{end}" if "." not in end else end
            if len(use.path) == 1:
                fields[use.path[0]] = written
            else:
                fields[use.path[0]][use.path[1]] = written
        followed.append(manifest.with_fields(fields))
    return followed


# --- planning and applying: the state entries move, ids unchanged ---

def moved_rows(resources: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The state rows a plan's moves write (None: the row is gone): each moved entry at its new address, and the
    entries whose `depends_on` named a moved address, naming the new one. One commit: a move is never half done."""
    renamed = {r["from"]: r["to"] for r in records}

    def pointing_anew(entry):
        if not any(d in renamed for d in entry.depends_on):
            return entry
        return replace(entry, depends_on=[renamed.get(d, d) for d in entry.depends_on])

    rows: dict[str, Any] = {}
    for address, entry in resources.items():
        if address in renamed:
            rows[address] = None
            rows[renamed[address]] = pointing_anew(entry)
        elif pointing_anew(entry) is not entry:
            rows[address] = pointing_anew(entry)
    return rows


def after_moves(state, records: Iterable[Mapping[str, Any]]):
    """A copy of `state` with the moves done (the state itself is not changed: apply records them)."""
    records = list(records)
    if not records:
        return state
    resources = dict(state.resources)
    move_rows(resources, records)
    return replace(state, resources=resources)


def move_rows(resources: dict[str, Any], records: Iterable[Mapping[str, Any]]) -> None:
    """Do the moves in `resources` itself: its rows become moved_rows' (`state mv` edits the state it writes)."""
    for address, entry in moved_rows(resources, records).items():
        if entry is None:
            resources.pop(address, None)
        else:
            resources[address] = entry


def plan_moves(moves: Iterable[Move], state) -> tuple[list[dict[str, Any]], list[str]]:
    """The moves state needs ({"from", "to", "kind", "id"}, children included), and the notes on blocks with
    nothing to move. A move into an address state already manages is refused (PlanError): which of the two
    objects the manifest means is the user's call, never a guess."""
    resources = state.resources
    records: list[dict[str, Any]] = []
    problems: list[Problem] = []
    claimed: dict[str, str] = {}
    by_source = {m.source: m for m in moves}
    used: set[str] = set()  # the `from`s of the blocks that take an entry somewhere (a chain's middle ones too)
    # Every entry's route, not only the blocks' `from`s: a document moves with its knowledge base, and its own
    # block may name it under the base's old or new address (a workspace that missed one of two renames made at
    # different times). Routing only the `from`s left it at an address no manifest has: destroyed and re-created.
    for old in sorted(resources):
        new, route = _route(old, by_source)
        if not route:
            continue
        if new is None:
            chain = " -> ".join([old] + [m.target for m in route])
            problems.append(Problem(f"moved blocks make a cycle for {old} ({chain}): no address is the last",
                                    route[0].source_location, "spec.from"))
            continue
        if new in resources:
            problems.append(Problem(
                f"cannot move {old} to {new}: the state already manages {new} (id {resources[new].id}). If {new} "
                f"is the object you mean, delete the moved block (and `provisioner state rm {old}` if {old} is "
                f"gone); if {old} is, remove {new} from state first (`provisioner state rm {new}`)",
                route[0].source_location, "spec.from"))
            continue
        if new in claimed:
            problems.append(Problem(f"cannot move both {claimed[new]} and {old} to {new}: both are in state; "
                                    f"`provisioner state rm` the one that is not meant", route[0].source_location,
                                    "spec.from"))
            continue
        claimed[new] = old
        used.update(m.source for m in route)
        records.append({"from": old, "to": new, "kind": kind_of_address(old), "id": resources[old].id})
    if problems:
        raise PlanError(problems)
    idle = _idle_chains(by_source, used, resources)
    notes = []
    if idle:
        notes.append(f"moved block(s) with nothing to move, since their `from` is not in state: {', '.join(idle)}. "
                     "They do nothing and can stay in the repository (or be removed once every workspace applied "
                     "them).")
    return records, notes


def _idle_chains(by_source: Mapping[str, Move], used: set[str], resources: Mapping[str, Any]) -> list[str]:
    """The blocks that move nothing, a chain of them as one entry from its first address to its last (Terraform's
    `# a has moved to c`): listed block by block, `a -> b, b -> c` once applied read `a -> c, b -> c`, every middle
    step of every chain on the note's one line. A block that takes part in a move (`used`) is none of them."""
    idle = {source: move for source, move in by_source.items() if source not in used}
    ends = destinations(by_source.values())
    entered = {move.target for move in idle.values()}
    entries = []
    for source in sorted(s for s in idle if s not in entered):  # each chain from its first block
        blocks, address = 0, source
        while address in idle and blocks <= len(idle):  # (`check` refused cycles: the bound is a guard)
            blocks, address = blocks + 1, idle[address].target
        end = ends[source].target
        facts = [f"a chain of {blocks} blocks"] if blocks > 1 else []
        facts += ["already moved"] if end in resources else []
        entries.append(f"{source} -> {end}" + (f" ({', '.join(facts)})" if facts else ""))
    return entries


def _route(address: str, by_source: Mapping[str, Move]) -> tuple[str | None, list[Move]]:
    """Where `address` ends after the blocks (None: they loop), and the blocks that take it there: its own move,
    or its knowledge base's (`knowledgebase.a.doc` is at `knowledgebase.b.doc` once `a` moved to `b`), to the end."""
    route: list[Move] = []
    seen = {address}
    while True:
        move = by_source.get(address)
        if move is not None:
            address = move.target
        elif address.count(".") == 2 and address.rsplit(".", 1)[0] in by_source:  # a document: its base moved
            move = by_source[address.rsplit(".", 1)[0]]
            address = f"{move.target}.{address.rsplit('.', 1)[1]}"
        else:
            return address, route
        route.append(move)
        if address in seen:
            return None, route
        seen.add(address)


def mark_moved(plan, records: list[dict[str, Any]]) -> None:
    """Put the moves into the plan: each change at a moved address says where it moved from."""
    plan.moves = [dict(r) for r in records]
    moved_from = {r["to"]: r["from"] for r in records}
    for change in plan.changes:
        if change.address in moved_from:
            change.moved_from = moved_from[change.address]


def saved_moves_conflicts(records: Iterable[Mapping[str, Any]], state) -> list[str]:
    """What in a saved plan's moves does not fit `state` (a tampered file, or one made from another state)."""
    problems = []
    seen: set[str] = set()
    moved: set[str] = set()  # each address moves at most once (a second move of it would leave one target unmanaged)
    for record in records:
        old, new = record["from"], record["to"]
        if old in moved:
            problems.append(f"{old} -> {new}: {old} is moved twice")
        moved.add(old)
        entry = state.resources.get(old)
        if kind_of_address(old) != record["kind"] or kind_of_address(new) != record["kind"]:
            problems.append(f"{old} -> {new}: not addresses of a {record['kind']}")
        if entry is None:
            problems.append(f"{old} -> {new}: the state does not manage {old}")
        elif entry.id != record["id"]:
            problems.append(f"{old} -> {new}: the state holds id {entry.id} for {old}, not id {record['id']}")
        if new in state.resources or new in seen:
            problems.append(f"{old} -> {new}: {new} is already taken")
        seen.add(new)
    return problems
