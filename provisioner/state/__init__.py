"""State: what the provisioner manages (address -> platform id and last applied spec), behind one interface.

A backend reads and writes the whole state and locks it (Terraform's state
managers: read, write, lock with holder info, unlock). `local.LocalStateBackend`
keeps it in a JSON file.
"""
from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

from ..errors import StateError

STATE_VERSION = 1


@dataclass
class ResourceState:
    id: int
    # The create fields the manifest set when last applied; sensitive values as digests.
    # None after an import: nothing was applied yet, so write-only fields are unknown.
    spec: dict[str, Any] | None
    protect: bool = False
    sensitive: list[str] = field(default_factory=list)
    # The platform's readable fields as last seen, in create names (sensitive values as digests).
    remote: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ResourceState":
        spec = data.get("spec")
        return cls(id=int(data["id"]), spec=dict(spec) if spec is not None else None, protect=bool(data.get("protect")),
                   sensitive=list(data.get("sensitive") or []), remote=dict(data.get("remote") or {}))


def _resource_dict(entry: ResourceState) -> dict[str, Any]:
    return {"id": entry.id, "spec": entry.spec, "protect": entry.protect, "sensitive": entry.sensitive,
            "remote": entry.remote}


@dataclass
class State:
    lineage: str
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)
    version: int = STATE_VERSION

    @classmethod
    def new(cls) -> "State":
        return cls(lineage=str(uuid.uuid4()))

    def next_version(self) -> bytes:
        """Advance the serial and serialise: what every write of a changed state persists."""
        self.serial += 1
        return self.dumps()

    def dumps(self) -> bytes:
        """The state file: JSON with one resource per line, readable and diff-friendly, and fast to write
        (the C encoder only runs without indentation, and this is written after every change)."""
        head = json.dumps({"version": self.version, "lineage": self.lineage, "serial": self.serial})
        lines = [f"  {json.dumps(address)}: {json.dumps(_resource_dict(self.resources[address]), sort_keys=True)}"
                 for address in sorted(self.resources)]
        body = ",\n".join(lines)
        return f'{head[:-1]}, "resources": {{\n{body}\n}}}}\n'.encode()

    @classmethod
    def from_dict(cls, data: Any, source: str) -> "State":
        if not isinstance(data, dict) or "lineage" not in data:
            raise StateError(f"{source} is not a provisioner state file")
        if data.get("version") != STATE_VERSION:
            raise StateError(f"{source} has state format version {data.get('version')!r}; "
                             f"this provisioner reads version {STATE_VERSION}")
        try:
            resources = {a: ResourceState.from_dict(r) for a, r in (data.get("resources") or {}).items()}
            return cls(lineage=str(data["lineage"]), serial=int(data.get("serial", 0)), resources=resources)
        except (KeyError, TypeError, ValueError) as error:
            raise StateError(f"{source} is damaged: {error!r}") from None


@dataclass(frozen=True)
class LockInfo:
    id: str
    operation: str
    who: str
    host: str
    pid: int
    created: str
    path: str

    def describe(self) -> str:
        return (f"Lock ID:   {self.id}\n  Path:      {self.path}\n  Operation: {self.operation}\n"
                f"  Who:       {self.who}\n  Host:      {self.host} (pid {self.pid})\n  Since:     {self.created}")


class StateBackend(Protocol):
    description: str

    def read(self) -> State: ...

    def write(self, state: State) -> None:
        """Persist `state` atomically, with its serial increased by one."""

    def persist(self, data: bytes) -> None:
        """Persist an already serialised state (`State.dumps()`) atomically."""

    def lock(self, operation: str, timeout: float) -> LockInfo: ...

    def unlock(self, lock_id: str) -> None: ...

    def force_unlock(self, lock_id: str) -> None: ...


@contextlib.contextmanager
def locked(backend: StateBackend, operation: str, *, timeout: float = 0.0, enabled: bool = True) -> Iterator[None]:
    """Hold the state lock for the block (or do nothing when locking is turned off)."""
    if not enabled:
        yield
        return
    info = backend.lock(operation, timeout)
    try:
        yield
    finally:
        backend.unlock(info.id)
