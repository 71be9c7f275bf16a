"""One plan for the whole graph: every registered kind (plan_kinds.py) and the assistants (planner.py).

Pure, like both planners. In the graph's order, each manifest's references are resolved (ids, or
`{"$ref": address}` markers for objects this apply creates or replaces), the kinds are planned, and then
the assistants with their references resolved. Every change that needs another first names it in
`depends_on` (only addresses that have a change in this plan: the rest are done already).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from .errors import PlanError, Problem, closest_addresses
from .graph import Graph, entry_kind, expand, manifest_address
from .kinds import ASSISTANT, NUMBER, kind_title, reference_facts, reference_targets
from .manifest import Manifest
from .plan import Action, Change, FieldChange, Plan, StateSync
from .plan_campaigns import campaign_manifests, campaign_problems
from .walk import state_address
from .plan_kinds import FAILED_TO_PROCESS, RemoteObject, Resolver, identify, kind_of_address, plan_kinds
from .planner import (WRITE_ONLY_NOTE, RemoteAssistant, compute_plan, no_longer_set, shows_write_only,
                      unknown_target_problems)
from .state import Owner, ResourceState, State


@dataclass
class Platform:
    """What the platform holds, as read for one plan: the assistants, and per kind its objects (numbers too)."""

    assistants: list[RemoteAssistant]
    objects: dict[str, list[RemoteObject]] = field(default_factory=dict)
    # Parents (addresses) whose children this plan did not list (reading.py's rule): taken to be as state says.
    unread: frozenset[str] = frozenset()


def _replace_left_out(address: str, selector: str | None) -> Problem:
    """A --replace the targets do not bring in. With -l, a --target alone does not bring it in: the object must
    pass both (docs/selection.md), and advice naming only --target was refused again."""
    also = " and make the -l selector match it too" if selector is not None else ""
    return Problem(f"--replace {address}: it is not among the targets or what they bring in, so it would not be "
                   f"replaced; add --target {address}{also}, or leave out this --replace", address=address)


def plan_graph(manifests: list[Manifest], state: State, platform: Platform, *, destroy: bool = False,
               targets: Iterable[str] = (), manifest_paths: Iterable[str] = (), dialect: str = "v1",
               foreign: Mapping[int, Owner] | None = None,
               foreign_objects: Mapping[tuple[str, int], Owner] | None = None, left_alone: Mapping[str, str] | None = None,
               allow_mass_destroy: bool = False, replace: Iterable[str] = (),
               expanded: bool = False, selector: str | None = None,
               excluded: frozenset[str] = frozenset()) -> tuple[Plan, list[Manifest]]:
    """The plan, and the assistant manifests with their references resolved (for the catalogue checks).
    `foreign`: assistant ids, `foreign_objects`: (kind, id) of other kinds, that another workspace or project of
    the store manages (never adopted here). `expanded`: `manifests` are graph.expand's already. `selector`: the
    -l selector that chose `targets`, if one did. `excluded`: the addresses --exclude leaves as they are (narrowed
    out of the plan afterwards, workflow.selecting): a protected one among them stops nothing."""
    if not expanded:
        manifests = expand(manifests)  # a knowledge base's documents are nodes of their own
    graph = Graph.of(manifests)
    assistants = [m for m in manifests if m.kind == ASSISTANT]
    targets = sorted({manifest_address(t) for t in targets})
    unknown = [t for t in targets if t not in graph.manifests and t not in state.resources]
    if unknown:
        raise PlanError(unknown_target_problems(unknown, [*graph.manifests, *state.resources]))
    # --target pulls in what its objects need, as Terraform does; `destroy --target` what needs them (in reverse).
    # A targeted object brings the objects declared inside its manifest (a knowledge base its documents).
    wanted_set: set[str] = set()
    replace = frozenset(replace)  # addresses (session.plan reads `assistant.x` as `x`)

    def inside_of(parents: set[str]) -> set[str]:
        """The objects declared inside these (a knowledge base's documents), by manifest or in state."""
        found = {a for a, m in graph.manifests.items() if getattr(m, "parent", None) in parents}
        return found | {a for a in state.resources if any(prefix in parents for prefix in _enclosing(a))}

    if targets:  # (without targets, nothing is scanned for what they declare: a fleet's plan has none)
        targeted = set(targets)
        inside = inside_of(targeted)
        if destroy:
            recorded = recorded_uses_of(state.resources)
            # Through objects state holds only: `destroy --target tool.new` of a tool not applied yet destroyed
            # the assistant whose manifest names it (it could not use a tool that does not exist).
            wanted_set = graph.with_dependents([*targets, *inside], recorded, state.resources) | targeted | inside
        else:
            wanted_set = graph.with_dependencies([*targets, *inside]) | targeted | inside
            # A replaced object the targets bring in takes along what is inside it (a knowledge base's documents,
            # deleted with the old one) and what refers to it (updated with the new id), as docs/selection.md
            # says of --replace: left out, they would point at an object this apply deletes, and state would
            # keep the ids of documents that no longer exist.
            replaced = replace & wanted_set
            if replaced:
                within = inside_of(replaced)
                gone = replaced | within
                # Direct users only, and only those a manifest declares: they take the new id; what uses them,
                # and objects only state knows (deleted by a full plan), are not brought in. What those users need
                # that does not exist yet comes too (its create gives them its id); what exists has its id.
                users = {a for a in graph.manifests
                         if any(manifest_address(n) in gone for n in graph.needs.get(a, ()))}
                new = {a for a in graph.with_dependencies(users) if a not in state.resources}
                wanted_set |= within | users | new
            # (Only addresses a manifest declares: any other is replace_problems', "names no manifest".)
            outside = sorted((replace - wanted_set) & graph.manifests.keys())
            if outside:  # it would not be replaced, while the plan's text showed its users' new ids as unknown
                raise PlanError([_replace_left_out(r, selector) for r in outside])

    def wanted(address: str) -> bool:
        return not targets or address in wanted_set

    assistant_state, kind_state = {}, {}
    for address, entry in state.resources.items():  # one pass, each address's kind found once
        (assistant_state if kind_of_address(address) == ASSISTANT else kind_state)[address] = entry
    identities = identify(manifests, state.resources, {ASSISTANT: platform.assistants, **platform.objects},
                          {**{(ASSISTANT, i): o for i, o in (foreign or {}).items()}, **(foreign_objects or {})},
                          platform.unread)
    problems: list[Problem] = replace_problems(replace, graph, state, identities, destroy)
    if problems:
        raise PlanError(problems)
    resolver = Resolver(identities, graph, planned=wanted)
    resolver.renewed |= replace  # what refers to a replaced object waits for its new id
    ordered = [graph.manifests[a] for a in graph.order()]
    kinds = plan_kinds([m for m in ordered if m.kind != ASSISTANT], resolver, kind_state, platform.objects,
                       destroy=destroy, wanted=wanted, left_alone=left_alone, unread=platform.unread,
                       assistants=platform.assistants, replace=replace, excluded=excluded)
    problems = list(kinds.problems)
    if excluded:
        problems = _without_problems_left_out(problems, excluded, graph)
    resolved: list[Manifest] = []
    waits: dict[str, list[str]] = {}
    for manifest in ([] if destroy else assistants):
        fields, needs, found = resolver.resolve(manifest)
        problems += found
        waits[manifest.address] = needs
        resolved.append(manifest if fields is manifest.fields else manifest.with_fields(fields))
    if problems:
        raise PlanError(problems)
    assistant_targets = [t for t in sorted(wanted_set) if kind_of_address(t) == ASSISTANT]
    assistant_state_planned = assistant_state
    # Every assistant's references, planned or not: a targeted plan that replaces or deletes a SIP trunk is refused
    # for an assistant it leaves out as for one it plans (numbers_destroyed_in_use): the platform takes the number
    # from both.
    kept_assistants = [(m, m.fields) for m in resolved]
    if targets and not assistant_targets:
        # Only other kinds targeted: no assistant is planned (an empty target list would mean all of them).
        resolved, assistants, assistant_state_planned = [], [], {}
    plan = compute_plan(assistants if destroy else resolved, State(state.lineage, state.serial, assistant_state_planned), platform.assistants,
                        destroy=destroy, targets=assistant_targets, manifest_paths=manifest_paths,
                        dialect=dialect, foreign=foreign,
                        left_alone={a: s for a, s in (left_alone or {}).items() if a in assistant_state},
                        allow_mass_destroy=allow_mass_destroy, replace=replace, excluded=excluded)
    for change in plan.changes:
        if change.action in (Action.CREATE, Action.UPDATE, Action.IMPORT):
            change.depends_on = waits.get(change.address, [])
    plan.changes += sorted(kinds.changes, key=lambda c: (c.kind, c.address))
    plan.state_sync += kinds.syncs
    plan.notes += kinds.notes
    if WRITE_ONLY_NOTE not in plan.notes and shows_write_only(kinds.changes):
        plan.notes.append(WRITE_ONLY_NOTE)
    plan.left_alone = sorted(plan.left_alone + kinds.left_alone, key=lambda e: e["address"])
    plan.targets = targets
    plan.managed_count = len(state.resources)
    changed = {c.address for c in plan.changes}
    for change in plan.changes:
        if change.depends_on and change.record is not None:
            # What it uses, kept in state even when nothing it uses changes now (only those that change stay in
            # `depends_on` below): a later plan that deletes what it used, or deletes it, orders the two by it (a
            # campaign before its assistant, plan_campaigns.py; an update that drops a tool before the tool's
            # delete: walk.py rule 2). Recorded only for the changes that use one, it was lost from state by the
            # next update of an assistant that changed along with one of them alone, and by a replacement.
            change.record = {**change.record, "depends_on": recorded_uses(change.depends_on)}
        change.depends_on = [a for a in change.depends_on if a in changed]
    unchanged_needs = {**kinds.unchanged_needs, **{a: needs for a, needs in waits.items()
                                                   if a not in changed and wanted(a) and a in assistant_state}}
    refresh_recorded_uses(plan, state.resources, unchanged_needs)
    name_references(plan.changes, state.resources)
    campaigns = {m.address: (m, resolver.resolve(m)[0]) for m in campaign_manifests(ordered)}
    deleted_before_their_numbers(plan, state.resources)
    problems = protected_replacements(plan, graph) + campaign_problems(plan, state.resources, campaigns)
    if targets and not destroy and any(c.replace for c in plan.changes):
        # (Only objects that exist: one made later takes the new id then.)
        left_out = {m.address: resolver.resolve(m)[1] for m in ordered
                    if m.kind != ASSISTANT and not wanted(m.address) and m.address in state.resources}
        left_out.update((a, needs) for a, needs in waits.items() if not wanted(a) and a in state.resources)
        problems += replaced_users_left_out(plan, graph, left_out, excluded, selector)
    if not destroy:  # (a destroy destroys what names the number too)
        problems += numbers_destroyed_in_use(plan, kept_assistants + list(campaigns.values()), excluded)
        say_numbers_taken_from_unmanaged(plan, kept_assistants, state.resources, platform.assistants, excluded)
    if problems:
        raise PlanError(problems)
    return plan, resolved


def recorded_uses(needs: Iterable[str]) -> list[str]:
    """What state records an object uses (its `depends_on`): the state addresses of what its manifest's references
    wait for (Resolver.resolve), as an apply records them and as `import` records them before any apply."""
    return sorted({state_address(a) for a in needs})


def refresh_recorded_uses(plan: Plan, resources: Mapping[str, ResourceState],
                          unchanged_needs: Mapping[str, list[str]]) -> None:
    """State's `depends_on` of the objects the plan leaves as they are (`unchanged_needs`: address -> what its
    references wait for), as an apply of a change records it (recorded_uses). What an object uses can change while
    the object does not: a manifest that names by address the tool it named by id, a SIP trunk it names by number
    adopted by this plan. Left as it was, a later destroy deleted the tool alongside the assistant (gone from the
    assistant whose delete failed), and `destroy --target tool.x` left the assistant behind. A refresh of the
    record is planned only where the uses differ (one row written each: the fleet costs a comparison), and a
    refresh planned for another reason carries them too, so that apply orders its graph by what it writes."""
    synced = {sync.address: sync for sync in plan.state_sync}
    for address, needs in unchanged_needs.items():
        entry = resources.get(address)
        if entry is None or (not needs and not entry.depends_on and address not in synced):
            continue  # (most of a fleet: nothing used, nothing recorded)
        uses = recorded_uses(needs)
        sync = synced.get(address)
        if sync is not None:
            sync.record = {**sync.record, "depends_on": uses}
        elif uses != entry.depends_on:
            plan.state_sync.append(StateSync(address, {**entry.record(), "depends_on": uses}))


def _without_problems_left_out(problems: list[Problem], excluded: frozenset[str], graph: Graph) -> list[Problem]:
    """`problems` but those of a manifest --exclude leaves as it is and no kept manifest refers to: it gets no change,
    so its own problems (two platform objects it could adopt) do not stop the rest of the plan. One a kept manifest
    refers to still stops it: that manifest would be planned to wait for an object nothing makes."""
    needed = {target for address, needs in graph.needs.items() if address not in excluded for target in needs}
    return [p for p in problems if p.address not in excluded or p.address in needed]


def _enclosing(address: str) -> Iterator[str]:
    """Every address `address` is inside of, as written: its text before each of its dots (`knowledgebase.faq`
    and `knowledgebase` for `knowledgebase.faq.pricing`), so that the objects inside thousands of targets are
    found by a look-up of each state address's few prefixes, never by comparing it with every target (8,000
    targets in a state of 8,000 made 64 million comparisons)."""
    dot = address.find(".")
    while dot != -1:
        yield address[:dot]
        dot = address.find(".", dot + 1)


def name_references(changes: list[Change], resources: Mapping) -> None:
    """The address beside each id a reference field of `changes` holds, where the run knows it (FieldChange.names):
    an object of state (`resources`, after the moves), or one this plan adopts. A bare id told a reviewer nothing
    (`tool_ids ~ 1: 125 -> 115`); the names go into the plan file, so `show FILE` prints what the plan printed. An
    id of an object this state does not manage stays bare; an object this apply creates has no id yet (its marker
    is shown `(known after apply)`, its address in the JSON's `$ref`)."""
    index: dict[tuple[str, int], str] | None = None  # (kind, id) -> address: built only once an id is met
    # The names of each set of ids, found once and shared: a fleet's creates name the same few folders and tools.
    found: dict[tuple[tuple[str, ...], frozenset[int]], dict[str, str]] = {}
    for change in changes:
        targets = reference_targets(change.kind)
        if not targets:
            continue
        for shown in change.fields:
            kinds = targets.get(shown.field)
            ids = _ids_in(shown) if kinds and not shown.sensitive else None
            if not ids:
                continue
            names = found.get((kinds, ids))
            if names is None:
                if index is None:
                    index = _addresses_by_id(changes, resources)
                names = found[kinds, ids] = _named(ids, kinds, index)
            if names:
                shown.names = names



def _ids_in(shown: FieldChange) -> frozenset[int]:
    """The ids a reference field's change shows: its sides, and those of its details (markers and nulls left)."""
    values = (shown.after, shown.before) if shown.before_known else (shown.after,)
    if shown.details:
        values += tuple(side for _path, before, after in shown.details for side in (before, after))
    ids = []
    for value in values:
        if type(value) is int:  # (not a bool: True is no id)
            ids.append(value)
        elif type(value) is list:
            ids += [item for item in value if type(item) is int]
    return frozenset(ids)


def _named(ids: frozenset[int], kinds: tuple[str, ...], index: dict[tuple[str, int], str]) -> dict[str, str]:
    """id (as the JSON key it is) -> address, for the ids an object of one of `kinds` has."""
    names = {}
    for i in sorted(ids):
        address = next((index[kind, i] for kind in kinds if (kind, i) in index), None)
        if address is not None:
            names[str(i)] = address
    return names


def _addresses_by_id(changes: list[Change], resources: Mapping) -> dict[tuple[str, int], str]:
    """(kind, id) -> address: state's objects, and those the plan adopts (in state only once it is applied)."""
    index = {(entry_kind(address, entry), entry.id): address for address, entry in resources.items()}
    index.update({(c.kind, c.remote_id): c.address for c in changes
                  if c.action is Action.IMPORT and c.remote_id is not None})
    return index


def numbers_destroyed_in_use(plan: Plan, kept: list[tuple[Manifest, Mapping]],
                             excluded: frozenset[str] = frozenset()) -> list[Problem]:
    """A SIP trunk this plan destroys (its manifest removed) whose number a kept manifest still names by its E.164
    string or nickname: by its address, the graph refuses it already; by its number, the lookup found the trunk's
    id, the apply deleted the trunk, the platform dropped the number from the assistant, and only the next plan said
    "no phone number". A replacement makes the trunk again, and an address or a number (resolved to the new one's
    marker) follows it; an id does not: it names the old trunk, which the apply deletes, the same loss. A trunk
    --exclude leaves as it is (`excluded`, narrowed out afterwards) is neither."""
    gone = {number: trunk for number, trunk in trunks_going(plan).items() if trunk.address not in excluded}
    if not gone:
        return []
    problems = []
    for manifest, fields in kept:
        for name, number in numbers_held(manifest.kind, fields):
            if number in gone:
                problems.append(Problem(_number_lost(gone[number], manifest.address),
                                        manifest.location("spec", name), f"spec.{name}", manifest.address))
    return problems


def say_numbers_taken_from_unmanaged(plan: Plan, kept: list[tuple[Manifest, Mapping]], resources: Mapping[str, Any],
                                     live: list[RemoteAssistant], excluded: frozenset[str] = frozenset()) -> None:
    """A kept assistant whose manifest no longer sets its number field, while the platform shows it holding the id of
    a SIP trunk this plan deletes or replaces: its note said "the platform keeps its current value", and the apply
    deleted the trunk, the platform taking the number from it. The note now says that (a manifest that still names
    the trunk is refused instead: numbers_destroyed_in_use)."""
    gone = {number: trunk for number, trunk in trunks_going(plan).items() if trunk.address not in excluded}
    if not gone:
        return
    shown = {assistant.id: assistant.fields for assistant in live}
    for manifest, fields in kept:
        entry = resources.get(manifest.address)
        held = shown.get(entry.id, {}) if entry is not None else {}
        for name, number in numbers_held(manifest.kind, held):
            if name in fields or number not in gone:
                continue
            trunk = gone[number]
            told = no_longer_set(manifest.address, name)
            plan.notes = [note for note in plan.notes if not note.startswith(told + ";")]  # "the platform keeps it"
            plan.notes.append(
                f"{told}, but the platform shows it holding the number of {trunk.address} (id {number}), which this "
                f"plan {'replaces' if trunk.replace else 'destroys'}: the platform takes the number from it. "
                + (f"Set spec.{name} to {trunk.address} for the new trunk's number." if trunk.replace else
                   f"To keep it, keep {trunk.address}'s manifest (or --exclude {trunk.address})."))


def _number_lost(trunk: Change, holder: str) -> str:
    if trunk.replace:
        return (f"names {trunk.address} by its id {trunk.remote_id}, which this plan replaces: the new trunk has "
                f"another id, and the platform would take the number from {holder}. Name it by its address "
                f"({trunk.address}) or its number, which follow the new trunk")
    return (f"names the number of {trunk.address} (id {trunk.remote_id}), which this plan destroys: the platform "
            f"would take it from {holder}. Remove the reference first, or keep {trunk.address}'s manifest")


def trunks_going(plan: Plan) -> dict[int, Change]:
    """id -> change of each SIP trunk whose object this plan deletes or replaces (a new trunk, a new id)."""
    return {c.remote_id: c for c in plan.changes if c.kind in NUMBER.accepts and c.remote_id is not None
            and (c.replace or c.action is Action.DELETE)}


def trunk_addresses_going(plan: Plan) -> dict[int, str]:
    """trunks_going's ids -> the trunks' state addresses."""
    return {number: state_address(trunk.address) for number, trunk in trunks_going(plan).items()}


def holders_of_trunks_going(plan: Plan, resources: Mapping[str, Any]) -> dict[str, list[str]]:
    """state address -> the SIP trunks this plan deletes or replaces whose ids the entry of state at that address
    holds (trunks_held), for each object the plan deletes or replaces too: what the apply's walk counts as its
    recorded uses (walk.py, rule 2), whatever `depends_on` state recorded, so that the old self of a holder replaced
    by the same apply (an assistant given --replace, a campaign whose numbers change) is destroyed before the trunk's
    old half, as a deleted one is (deleted_before_their_numbers). Not an update: one that moves to a new trunk of
    the same number, username and address must wait for the old trunk's delete (walk.py, rule 3), not go before it."""
    gone = trunk_addresses_going(plan)
    if not gone:
        return {}
    going = [state_address(c.address) for c in plan.changes if c.replace or c.action is Action.DELETE]
    held = {address: trunks_held(getattr(resources[address], "kind", ASSISTANT), resources[address], gone)
            for address in going if address in resources}
    return {address: trunks for address, trunks in held.items() if trunks}


def numbers_held(kind: str, fields: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    """(field, id) of every number id the fields of an object of `kind` hold (ids only: not an address or a
    lookup)."""
    for name in [facts.name for facts in reference_facts(kind) if facts.ref == NUMBER.name]:
        value = fields.get(name)
        for number in (value if isinstance(value, list) else [value]):
            if isinstance(number, int) and not isinstance(number, bool):
                yield name, number


def deleted_before_their_numbers(plan: Plan, resources: Mapping[str, Any]) -> None:
    """A plain delete of an object that holds a SIP trunk (its number) this plan deletes or replaces is given the
    trunk's address in its `depends_on`, which the walk orders as a recorded use (walk.py, rule 2): deleted first,
    however its manifest named the number and whatever state recorded (trunks_held). A replaced trunk counts: it
    destroys first, and its old half went at once, so an assistant whose delete then failed was left on the
    platform without its number. (Only deletes: an update may need the new trunk, which comes after the old.)"""
    gone = trunk_addresses_going(plan)
    if not gone:
        return
    for change in plan.changes:
        if change.action is Action.DELETE:
            for trunk in trunks_held(change.kind, resources.get(state_address(change.address)), gone):
                if trunk not in change.depends_on:
                    change.depends_on = [*change.depends_on, trunk]


def recorded_uses_of(resources: Mapping[str, Any]) -> dict[str, list[str]]:
    """What each entry of state uses, as `destroy --target` follows it to what refers to its targets: its recorded
    `depends_on`, and the SIP trunks of state whose ids it holds (trunks_held). Through `depends_on` alone, `destroy
    --target siptrunk.office` deleted the trunk and left an assistant that names it by number, and recorded no use
    of it, on the platform without its number."""
    trunks = {entry.id: address for address, entry in resources.items()
              if getattr(entry, "kind", None) in NUMBER.accepts}
    return {address: [*(getattr(entry, "depends_on", None) or []),
                      *(trunks_held(getattr(entry, "kind", ASSISTANT), entry, trunks) if trunks else [])]
            for address, entry in resources.items()}


def trunks_held(kind: str, entry: Any, trunks: Mapping[int, str]) -> list[str]:
    """The addresses of those of `trunks` (id -> address) whose ids the entry of state `entry` (an object of `kind`;
    None: none) holds: as its last apply sent them (its spec), or, imported and never applied, as the platform showed
    them (an assistant's `phone_number_id`). State's `depends_on` records such a use only when the manifest named the
    trunk by address, or by a number that a plan or import found the trunk in state for: an assistant imported before
    its trunk was adopted (by an apply) recorded none, and a destroy deleted the trunk alongside it, even when the
    assistant's delete failed and it stayed on the platform without its number."""
    if entry is None or kind in NUMBER.accepts:
        return []
    held = (entry.spec if entry.spec is not None else entry.remote) or {}
    return [trunks[number] for _, number in numbers_held(kind, held) if number in trunks]


def protected_replacements(plan: Plan, graph: Graph) -> list[Problem]:
    """A replacement's old half is a destroy, which `metadata.protect` refuses (as Terraform's prevent_destroy refuses
    a replacement): `--replace support`, or a campaign's field that cannot change in place, deleted a protected
    object and what the platform keeps with it (an assistant's number binding and calls, a campaign's leads). One the
    platform failed to process is made again all the same: it holds nothing to lose."""
    problems = []
    for change in plan.changes:
        manifest = graph.manifests.get(change.address)
        if not change.replace or manifest is None or not manifest.protect \
                or (change.replace_reason or "").startswith(FAILED_TO_PROCESS):
            continue
        problems.append(Problem(
            f"{kind_title(change.kind)} {change.address!r} (id {change.remote_id}) is protected, and this plan would replace it "
            f"({change.replace_reason}): its old self would be deleted; to allow this, set metadata.protect: false "
            "in its manifest and apply first", manifest.location("metadata", "protect"), address=change.address))
    return problems


def replaced_users_left_out(plan: Plan, graph: Graph, left_out: Mapping[str, list[str]], excluded: frozenset[str],
                            selector: str | None) -> list[Problem]:
    """A replacement that a targeted plan finds itself (a SIP trunk's type changed, an object the platform failed
    to process), whose direct users (`left_out`: address -> what its references wait for) the targets leave out:
    they would keep the old object's id, which the apply deletes (the platform takes a trunk's number from its
    assistants). `--replace` brings them in before planning; this replacement is known only once planned, so the
    plan is refused, naming them. (An excluded user is --exclude's to refuse, workflow.selecting, and an excluded
    object is not replaced. A replaced document is no one's: what uses its knowledge base waits for it, and keeps
    the base's id.)"""
    replaced = {c.address: c for c in plan.changes if c.replace and c.action is not Action.DELETE
                and c.address not in excluded and not getattr(graph.manifests.get(c.address), "parent", None)}
    if not replaced:
        return []
    problems = []
    for user, needs in sorted(left_out.items()):
        for address in sorted({n for n in needs if n in replaced}):
            if user in excluded or address == user:
                continue
            change = replaced[address]
            problems.append(Problem(
                f"{user} refers to {address}, which this plan replaces ({change.replace_reason}), and the targets "
                f"leave it out: it would keep the id of the old {address}, which the apply deletes; "
                f"{_bring_in(user, selector)}", address=user))
    return problems


def _bring_in(address: str, selector: str | None) -> str:
    """How to bring `address` into a targeted plan: with -l, an object must pass the selector (and --target, if
    given), so `--target` alone would narrow the plan to it instead."""
    if selector is None:
        return f"add --target {address}"
    return f"make the -l selector match {address} too (and add --target {address}, if --target is given)"


def replace_problems(replace: frozenset[str], graph: Graph, state: State, identities, destroy: bool) -> list[Problem]:
    """--replace names objects that exist and stay: a manifest's, in state and on the platform."""
    problems = []
    for address in sorted(replace):
        if destroy:
            problems.append(Problem(f"--replace {address}: a destroy plan replaces nothing", address=address))
        elif address not in graph.manifests:
            known = (" (it is in state: its manifest was removed, so it is destroyed)" if address in state.resources
                     else closest_addresses(address, graph.manifests))
            problems.append(Problem(f"--replace {address!r} names no manifest{known}", address=address))
        elif address not in state.resources or identities.ids.get(address) != state.resources[address].id:
            problems.append(Problem(f"--replace {address!r}: there is nothing to replace (no object of it in state "
                                    "and on the platform: the plan creates or adopts it)", address=address))
    return problems
