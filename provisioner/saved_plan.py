"""A saved plan is a file, and a file can be edited: before any of it is applied, each change is checked
against the state it will be recorded in (the platform is checked by Session.check_saved_plan). A plan this
program wrote from this state (same lineage and serial) always passes; a tampered one is refused whole,
before any write: a create carrying an id, an update, delete or forget of an id the state does not hold for
that address, an import or a replacement of an id another address holds, a child made or adopted under another
parent than its address names, one address or one id changed twice.
A create, an import or a replacement of another id at an address state holds is the platform's to judge (its
id gone from the platform's lists: Session.check_saved_plan refuses it when the id is still listed).
"""
from __future__ import annotations

from .json_text import canonical
from .kinds import KINDS
from .kinds.base import NO_DEFAULT
from .kinds import kind_of_address as _kind  # `folder.sales` a folder, `knowledgebase.faq.x` a document
from .plan import Action, Change, Plan
from .plan_kinds import markers_in
from .planner import _nested_changes as nested_changes
from .wire import companions
from .state import State


def conflicts_with_state(plan: Plan, state: State) -> list[str]:
    """What in `plan` does not fit `state`, one line per change; empty if it all fits."""
    problems: list[str] = []
    # Ids are per kind: an assistant and a folder may have the same one.
    owner_of = {(_kind(address), entry.id): address for address, entry in state.resources.items()}
    by_address = {c.address: c for c in plan.changes}
    seen_addresses: set[str] = set()
    seen_ids: dict[tuple[str, int], str] = {}
    for change in plan.changes:
        address, remote_id, action = change.address, change.remote_id, change.action
        entry = state.resources.get(address)
        if _kind(address) != change.kind:
            problems.append(f"{address}: the address of a {_kind(address)}, in a change of kind {change.kind}")
        if address in seen_addresses:
            problems.append(f"{address}: changed twice in one plan")
        seen_addresses.add(address)
        if remote_id is not None:
            if (change.kind, remote_id) in seen_ids:
                problems.append(f"{address}: id {remote_id} is also changed as "
                                f"{seen_ids[(change.kind, remote_id)]!r}")
            seen_ids.setdefault((change.kind, remote_id), address)
        if change.replace:  # -/+: the object state holds is deleted, and a new one created
            if action is not Action.CREATE:
                problems.append(f"{address}: a replacement must be a create")
            elif remote_id is None or remote_id < 1:
                problems.append(f"{address}: a replacement of no platform id")
            elif (entry is None or entry.id != remote_id) and (change.kind, remote_id) in owner_of:
                # An adopted object, replaced (of an address state holds: its id gone from the platform, apply
                # checks the platform), is never one another address manages.
                problems.append(f"{address}: id {remote_id} is already managed as "
                                f"{owner_of[(change.kind, remote_id)]!r}")
        elif action is Action.CREATE:
            # Of an address state holds: made again, its id gone from the platform (apply checks the platform).
            if remote_id is not None:
                problems.append(f"{address}: a create carries id {remote_id}")
        elif remote_id is None or remote_id < 1:
            problems.append(f"{address}: {action.value} of no platform id")
        elif action is Action.IMPORT:
            # Of an address state holds: its id gone from the platform (apply checks), the one named alike adopted.
            if entry is not None and entry.id == remote_id:
                problems.append(f"{address}: the state already manages it as id {remote_id}; it cannot adopt it")
            elif (change.kind, remote_id) in owner_of:
                problems.append(f"{address}: id {remote_id} is already managed as "
                                f"{owner_of[(change.kind, remote_id)]!r}")
        elif entry is None:
            problems.append(f"{address}: the state does not manage it, so it cannot {action.value} id {remote_id}")
        elif entry.id != remote_id:
            problems.append(f"{address}: the state holds id {entry.id} for it, not id {remote_id}")
        problems += _parent_conflicts(change, state, by_address)
        if entry is not None and entry.protect and (action is Action.DELETE or (
                change.replace and (change.record or {}).get("protect") is not False)):
            # A plan never destroys a protected object (its manifest must say `protect: false` first).
            problems.append(f"{address}: it is protected, and this plan would destroy it")
    problems += selection_conflicts(plan)
    for sync in plan.state_sync:
        if sync.address not in state.resources:
            problems.append(f"{sync.address}: a state refresh of an address the state does not manage")
        if sync.address in seen_addresses:
            problems.append(f"{sync.address}: both changed and refreshed in one plan")
    return problems


def _parent_conflicts(change: Change, state: State, changes: dict[str, Change]) -> list[str]:
    """A child (a document) is made or adopted under the parent its address names: as this plan leaves it (the one
    it adopts, else the one state holds; a marker for one it makes). Session.check_saved_plan looks for the id state
    holds at the child's address under the parent the body names: a body edited to name another hid a live child,
    which the apply then dropped from state for one made elsewhere."""
    kind = KINDS.get(change.kind)
    if kind is None or not kind.parent_field or change.action not in (Action.CREATE, Action.IMPORT):
        return []
    named = change.body.get(kind.parent_field)
    parent = change.address.rsplit(".", 1)[0]
    if isinstance(named, dict):  # a marker: the parent this apply makes
        return [] if named.get("$ref") == parent else [
            f"{change.address}: its body names the {kind.parent_kind} {named.get('$ref')!r}, not {parent!r}"]
    adopted = changes.get(parent)
    if adopted is not None and adopted.action is Action.IMPORT:
        expected = adopted.remote_id
    elif parent in state.resources:
        expected = state.resources[parent].id
    else:
        return []
    if named != expected:
        return [f"{change.address}: its body names {kind.parent_kind} id {named}, not the id of {parent} "
                f"({expected})"]
    return []


def selection_conflicts(plan: Plan) -> list[str]:
    """A plan applies exactly the selection it records: no change of an address it excluded, and a replacement
    of each address --replace named."""
    excluded = set(plan.excluded)
    problems = [f"{c.address}: excluded by the plan, yet changed in it" for c in plan.changes
                if c.address in excluded]
    problems += [f"{s.address}: excluded by the plan, yet refreshed in it" for s in plan.state_sync
                 if s.address in excluded]
    replaced = {c.address for c in plan.changes if c.replace}
    problems += [f"{address}: --replace was asked for it, but the plan does not replace it"
                 for address in plan.replace_requested if address not in replaced]
    return problems


def disagreements(plan: Plan) -> list[str]:
    """What a saved plan's changes would send that its views do not show, one line per problem; empty for every plan
    this program writes. `show PLANFILE` shows each change's field changes (`after`, a mapping's `details`), apply
    sends its `body`: a file edited in one and not the other was reviewed with one value and applied with another.
    A field change marked sensitive is shown masked and left to restore_secrets (its body holds a digest)."""
    created = {c.address for c in plan.changes if c.action is Action.CREATE}
    problems: list[str] = []
    for change in plan.changes:
        problems += _fields_disagree(change)
        problems += _sent_unshown(change, plan.dialect)
        for address in dict.fromkeys(markers_in(change.body) + markers_in(change.record)):
            if address not in change.depends_on:
                # apply resolves the references of a change that waits for some: this one's would be sent as they are
                problems.append(f"{change.address}: its body waits for the id of {address!r}, but its depends_on "
                                "does not name it")
            elif address not in created:
                problems.append(f"{change.address}: its body waits for the id of {address!r}, which no change of this "
                                "plan creates")
    return problems


def _fields_disagree(change: Change) -> list[str]:
    body, problems = change.body, []
    kind = KINDS.get(change.kind)
    for shown in change.fields:
        name = shown.field
        if shown.sensitive:
            continue
        if name not in body:
            # A field an action changes (a campaign's status) is never in a body: the change's actions carry it. One
            # shown going to null is not sent either (a create-only setting removed: its object is made without it).
            if change.action not in (Action.DELETE, Action.FORGET) and shown.after is not None \
                    and not (kind and kind.action(name)):
                problems.append(f"{change.address}: its field change of {name} is not in its body, so it would not "
                                "be sent")
            continue
        if canonical(body[name]) != canonical(shown.after):
            problems.append(f"{change.address}: body.{name} is not the value its field change shows")
        elif shown.details and shown.before_known and shown.details != nested_changes(shown.before, shown.after):
            problems.append(f"{change.address}: the details of its field change of {name} are not the difference "
                            "between its before and after")
    return problems


def _sent_unshown(change: Change, dialect: str) -> list[str]:
    """Body values no field change shows, but those a plan sends as they already are: an assistant update's whole
    managed spec when its engine changes (API.md: a new mode resets the others) and the dialect's companions of a
    changed field (v2's one `tools` array); a child's parent (sent in the path); a kind's create's documented
    defaults and the node fields that are not facts (a document's url or file); a kind's replacement's whole body
    (only what changes is shown, the rest is made again as it is)."""
    shown = {f.field for f in change.fields}
    # A sensitive value is a digest here, checked against the manifests by restore_secrets before anything is sent.
    unshown = [name for name in change.body if name not in shown and name not in change.sensitive]
    kind = KINDS.get(change.kind)
    if not unshown or (kind is not None and change.replace):  # a kind's -/+ makes the object again with all it has
        return []
    creating = change.action is Action.CREATE
    if kind is None:  # an assistant: a create sends exactly the fields it shows
        if not creating and "engine_type" in shown:
            return []
        allowed = set() if creating else companions(shown, dialect)
        return [_unshown(change, name) for name in unshown if name not in allowed]
    problems = []
    for name in unshown:
        facts = kind.by_name.get(name)
        if name == kind.parent_field or (creating and facts is None):
            continue
        if creating and facts.default is not NO_DEFAULT and canonical(change.body[name]) == canonical(facts.default):
            continue
        problems.append(_unshown(change, name))
    return problems


def _unshown(change: Change, name: str) -> str:
    return f"{change.address}: body.{name} would be sent, but no field change shows it"
