"""Edits and views of the state by hand (`state mv`, `rm`, `show`), and whether a lock's holder still runs."""
from __future__ import annotations

import os
import socket
from typing import Any

from ..errors import StateError
from ..manifest import ADDRESS_PATTERN
from ..state import ResourceState
from ..state.sql import process_alive
from ..wire import READABLE_FIELDS
from .session import Session


def state_move(session: Session, old: str, new: str) -> None:
    resources = session.state.resources
    if old not in resources:
        raise StateError(f"{old!r} is not in state")
    if new in resources:
        raise StateError(f"{new!r} is already in state")
    if not ADDRESS_PATTERN.fullmatch(new):
        raise StateError(f"{new!r} is not a valid address (lowercase letters, digits, '-' and '_')")
    resources[new] = resources.pop(old)
    session.backend.write(session.state)


def state_remove(session: Session, address: str) -> ResourceState:
    if address not in session.state.resources:
        raise StateError(f"{address!r} is not in state")
    entry = session.state.resources.pop(address)
    session.backend.write(session.state)
    return entry


def describe_entry(address: str, entry: ResourceState) -> dict[str, Any]:
    return {"address": address, "id": entry.id, "protect": entry.protect, "sensitive": entry.sensitive,
            "last_applied_spec": entry.spec, "platform": entry.remote,
            "readable_fields": sorted(READABLE_FIELDS)}


def holder_alive_here(holder) -> bool:
    """Whether a lock's holder is a process still running on this machine (force-unlock warns about it)."""
    return holder.host == socket.gethostname() and holder.pid > 0 and holder.pid != os.getpid() \
        and process_alive(holder.pid)
