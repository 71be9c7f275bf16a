"""A saved plan is a file, and a file can be edited: before any of it is applied, each change is checked
against the state it will be recorded in (the platform is checked by Session.check_saved_plan). A plan this
program wrote from this state (same lineage and serial) always passes; a tampered one is refused whole,
before any write: a create of an address the state already manages (a duplicate), an update, delete or
forget of an id the state does not hold for that address, an import of an id another address holds, one
address or one id changed twice.
"""
from __future__ import annotations

from .kinds import kind_of_address as _kind  # `folder.sales` a folder, `knowledgebase.faq.x` a document
from .plan import Action, Plan
from .state import State


def conflicts_with_state(plan: Plan, state: State) -> list[str]:
    """What in `plan` does not fit `state`, one line per change; empty if it all fits."""
    problems: list[str] = []
    # Ids are per kind: an assistant and a folder may have the same one.
    owner_of = {(_kind(address), entry.id): address for address, entry in state.resources.items()}
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
            elif entry is None and (change.kind, remote_id) in owner_of:  # an adopted object, replaced
                problems.append(f"{address}: id {remote_id} is already managed as "
                                f"{owner_of[(change.kind, remote_id)]!r}")
            elif entry is not None and entry.id != remote_id:
                problems.append(f"{address}: the state holds id {entry.id} for it, so it cannot replace id "
                                f"{remote_id}")
        elif action is Action.CREATE:
            if entry is not None:
                problems.append(f"{address}: the state already manages it (id {entry.id}); creating it again "
                                "would make a duplicate")
            elif remote_id is not None:
                problems.append(f"{address}: a create carries id {remote_id}")
        elif remote_id is None or remote_id < 1:
            problems.append(f"{address}: {action.value} of no platform id")
        elif action is Action.IMPORT:
            if entry is not None:
                problems.append(f"{address}: the state already manages it (id {entry.id}); it cannot adopt "
                                f"id {remote_id}")
            elif (change.kind, remote_id) in owner_of:
                problems.append(f"{address}: id {remote_id} is already managed as "
                                f"{owner_of[(change.kind, remote_id)]!r}")
        elif entry is None:
            problems.append(f"{address}: the state does not manage it, so it cannot {action.value} id {remote_id}")
        elif entry.id != remote_id:
            problems.append(f"{address}: the state holds id {entry.id} for it, not id {remote_id}")
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
