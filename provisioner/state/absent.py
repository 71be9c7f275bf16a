"""The state of a run that reads it where no store exists yet (a new project's first `plan`, or a mistyped --state
path): an empty state, from no database at all. Such a run makes no store (docs/state.md, "Commands that only read
the state"), so this stands in for one: it reads nothing, locks nothing and writes nothing."""
from __future__ import annotations

from typing import Iterable, Mapping

from . import LockInfo, NoStateStore, Owner, ResourceState, State, StateError


class AbsentStore:
    """What a SqlStateStore answers for a workspace without rows, with no database behind it."""

    def __init__(self, missing: NoStateStore):
        self.project, self.workspace = missing.project, missing.workspace
        self.where = missing.where
        self.description = f"{missing.where} (no state store there yet), project {self.project!r}, workspace " \
                           f"{self.workspace!r}"
        self.operation = "plan"
        self.platform = ""  # the run's platform (Session sets it); no row records one

    def read(self) -> State:
        return State.new()

    def exists(self) -> bool:
        return False

    def entry(self, address: str) -> ResourceState | None:
        return None

    def addresses(self) -> list[str]:
        return []

    def owners(self, kind: str, ids: Iterable[int]) -> dict[int, Owner]:
        return {}  # no other workspace or project: there is no store for them to be in

    def recorded_platform(self) -> str:
        return ""

    def held_elsewhere(self, limit: int = 5, *, recorded_only: bool = False) -> list:
        return []

    # Nothing to lock: the run reads no row and writes none. An apply that makes the store meanwhile gives it a
    # lineage and a serial that a plan saved now does not have, so the saved plan is refused as stale.
    def lock(self, operation: str, timeout: float, on_wait=None) -> LockInfo:
        return LockInfo(id="", operation=operation, who="", host="", pid=0, created="", path=self.where)

    def unlock(self, lock_id: str) -> None:
        pass

    def confirm_lock(self) -> None:
        pass

    def write(self, state: State) -> None:
        self._refuse()

    def commit(self, state: State, changes: Mapping[str, ResourceState | None]) -> None:
        self._refuse()

    def _refuse(self) -> None:
        raise StateError(f"cannot write the state: this run opened none at {self.where} (no store there), and makes "
                         "none")

    def close(self) -> None:
        pass
