"""A saved plan is a file, and a file can be edited: before any of it is applied, each change is checked
against the state it will be recorded in (the platform is checked by Session.check_saved_plan). A plan this
program wrote from this state (same lineage and serial) always passes; a tampered one is refused whole,
before any write: a create of an address the state already manages (a duplicate), an update, delete or
forget of an id the state does not hold for that address, an import of an id another address holds, one
address or one id changed twice.
"""
from __future__ import annotations

from .plan import Action, Plan
from .state import State


def conflicts_with_state(plan: Plan, state: State) -> list[str]:
    """What in `plan` does not fit `state`, one line per change; empty if it all fits."""
    problems: list[str] = []
    owner_of = {entry.id: address for address, entry in state.resources.items()}
    seen_addresses: set[str] = set()
    seen_ids: dict[int, str] = {}
    for change in plan.changes:
        address, remote_id, action = change.address, change.remote_id, change.action
        entry = state.resources.get(address)
        if address in seen_addresses:
            problems.append(f"{address}: changed twice in one plan")
        seen_addresses.add(address)
        if remote_id is not None:
            if remote_id in seen_ids:
                problems.append(f"{address}: id {remote_id} is also changed as {seen_ids[remote_id]!r}")
            seen_ids.setdefault(remote_id, address)
        if action is Action.CREATE:
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
            elif remote_id in owner_of:
                problems.append(f"{address}: id {remote_id} is already managed as {owner_of[remote_id]!r}")
        elif entry is None:
            problems.append(f"{address}: the state does not manage it, so it cannot {action.value} id {remote_id}")
        elif entry.id != remote_id:
            problems.append(f"{address}: the state holds id {entry.id} for it, not id {remote_id}")
    for sync in plan.state_sync:
        if sync.address not in state.resources:
            problems.append(f"{sync.address}: a state refresh of an address the state does not manage")
        if sync.address in seen_addresses:
            problems.append(f"{sync.address}: both changed and refreshed in one plan")
    return problems
