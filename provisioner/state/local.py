"""The local JSON state file: atomic writes, a backup, and a lock file that says who holds it."""
from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from ..errors import LockError, StateError
from . import LockInfo, State


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


class LocalStateBackend:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.description = str(self.path)
        self._backed_up = False

    def read(self) -> State:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return State.new()
        except OSError as error:
            raise StateError(f"cannot read state {self.path}: {error}") from None
        try:
            data = json.loads(text)
        except ValueError as error:
            raise StateError(f"state {self.path} is not valid JSON ({error}); "
                             f"the previous state is in {self.backup_path}") from None
        return State.from_dict(data, str(self.path))

    def write(self, state: State) -> None:
        self.persist(state.next_version())

    def persist(self, data: bytes) -> None:
        # The backup is the state as it was before this run's first write: one step back, whole.
        if not self._backed_up and self.path.exists():
            atomic_write(self.backup_path, self.path.read_bytes())
        self._backed_up = True
        atomic_write(self.path, data)

    # --- locking ---

    def lock(self, operation: str, timeout: float) -> LockInfo:
        info = LockInfo(id=str(uuid.uuid4()), operation=operation, who=f"{_user()}@{socket.gethostname()}",
                        host=socket.gethostname(), pid=os.getpid(),
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), path=str(self.path))
        deadline = time.monotonic() + max(0.0, timeout)
        delay = 0.05
        while True:
            holder = self._try_lock(info)
            if holder is None:
                return info
            if time.monotonic() >= deadline:
                raise LockError(f"the state is locked by another run.\n  {holder.describe()}\n"
                                "Wait for it to finish, retry with a longer --lock-timeout, or, if that run is "
                                f"gone, remove the lock with: provisioner force-unlock {holder.id}")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def _try_lock(self, info: LockInfo) -> LockInfo | None:
        """Take the lock and return None, or return who holds it. A holder that died on this host is cleared."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        # The guard serialises lock attempts on this host, so two runs never both clear one stale lock.
        with open(self.lock_path.with_name(self.lock_path.name + ".guard"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            holder = self._holder()
            if holder is not None and holder.host == socket.gethostname() and not _alive(holder.pid):
                self.lock_path.unlink(missing_ok=True)
                holder = None
            if holder is not None:
                return holder
            # Written whole beside the lock, then linked into place: link fails if the lock exists, and a
            # crash can never leave a half-written lock file.
            candidate = self.lock_path.with_name(f".{self.lock_path.name}.{info.id}")
            try:
                with open(candidate, "w") as handle:
                    json.dump(info.__dict__, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.link(candidate, self.lock_path)
            except FileExistsError:
                return self._holder() or info
            finally:
                candidate.unlink(missing_ok=True)
            return None

    def _holder(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self.lock_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            # Unreadable (a crash while writing it): treat as held by an unknown run, removable by force-unlock.
            return LockInfo(id="unknown", operation="unknown", who="unknown", host="unknown", pid=0,
                            created="unknown", path=str(self.path))

    def unlock(self, lock_id: str) -> None:
        holder = self._holder()
        if holder is not None and holder.id == lock_id:
            self.lock_path.unlink(missing_ok=True)

    def force_unlock(self, lock_id: str) -> None:
        holder = self._holder()
        if holder is None:
            raise LockError(f"the state {self.path} is not locked")
        if holder.id != lock_id:
            raise LockError(f"lock ID {lock_id!r} does not match the lock on {self.path}:\n  {holder.describe()}")
        self.lock_path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # unknown holder: never assume it is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return f"uid-{os.getuid()}"
