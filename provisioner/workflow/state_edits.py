"""Edits and views of the state by hand (`state mv`, `rm`, `show`), and whether a lock's holder still runs."""
from __future__ import annotations

import os
import re
import socket
from typing import Any

from ..errors import StateError, closest_addresses, with_article
from ..graph import address_kind, entry_kind, manifest_address
from ..kinds import address_form, address_parts
from ..kinds.base import NAME
from ..moves import move_rows
from ..state import ResourceState
from ..state.sql import process_alive
from ..wire import READABLE_FIELDS
from .session import Session


# An assistant's bare name, or `<kind>.<name>` (a document's `knowledgebase.<kb>.<name>`).
STATE_ADDRESS = re.compile(rf"{NAME}|[a-z]+\.{NAME}(?:\.{NAME})?")


def valid_address(address: str) -> bool:
    return STATE_ADDRESS.fullmatch(address) is not None


def in_state(session: Session, address: str) -> str:
    """The state address `address` names (`assistant.support` is `support`), or a StateError."""
    found = manifest_address(address)
    if found not in session.state.resources:
        raise StateError(f"{address!r} is not in state{closest_addresses(address, session.state.resources)}")
    return found


def entry_in_state(session: Session, address: str) -> tuple[str, ResourceState]:
    """The state address `address` names and its entry, read alone (a session of READS_ITS_OWN_ROWS: one record in
    memory, whatever the size of the state), or in_state's StateError."""
    found = manifest_address(address)
    entry = session.backend.entry(found)
    if entry is None:
        raise StateError(f"{address!r} is not in state{closest_addresses(address, session.backend.addresses())}")
    return found, entry


def state_move(session: Session, old: str, new: str) -> None:
    """Rename an address; within its kind only (an id names an object of one kind: a folder never becomes a label)."""
    resources = session.state.resources
    old = in_state(session, old)
    if not valid_address(new):
        raise StateError(f"{new!r} is not a valid address (lowercase letters, digits, '-' and '_'; `kind.name` "
                         "for kinds other than assistants)")
    new = manifest_address(new)
    if new in resources:
        raise StateError(f"{new!r} is already in state")
    kind = entry_kind(old, resources[old])
    if address_kind(new) != kind or address_parts(kind) != new.count(".") + 1:
        raise StateError(f"{old!r} is {with_article(kind)} and {new!r} names {_named(new)}: `state mv` renames within a kind "
                         f"only (write the new address as {address_form(kind)})")
    parent = new.rsplit(".", 1)[0] if address_parts(kind) == 3 else None
    if parent is not None and parent not in resources:
        raise StateError(f"{new!r} would be inside {parent!r}, which is not in state: a {kind} lives inside its "
                         f"{address_kind(parent)}")
    # What lives inside it (a knowledge base's documents, `<old>.<name>`) moves with it: left behind, the next plan
    # would destroy and create them again.
    inside = children_of(resources, old)
    taken = [f"{new}{a[len(old):]}" for a in inside if f"{new}{a[len(old):]}" in resources]
    if taken:
        raise StateError(f"{', '.join(taken)} already in state: {old!r}'s objects inside it cannot move there")
    # As a moved block's apply does (moves.moved_rows): the entries whose `depends_on` named a moved address name
    # the new one. Left stale, `destroy --target NEW` would miss what state recorded as using it.
    move_rows(resources, [{"from": a, "to": f"{new}{a[len(old):]}"} for a in (old, *inside)])
    session.backend.write(session.state)


def state_remove(session: Session, address: str) -> tuple[ResourceState, list[str]]:
    """Forget `address` and what lives inside it (a knowledge base's documents): the entry, and those addresses."""
    address = in_state(session, address)
    resources = session.state.resources
    inside = children_of(resources, address)
    entry = resources.pop(address)
    for child in inside:
        del resources[child]
    session.backend.write(session.state)
    return entry, inside


def children_of(resources: dict, address: str) -> list[str]:
    """The state addresses inside `address` (`knowledgebase.faq.pricing` inside `knowledgebase.faq`)."""
    if "." not in address:  # an assistant holds none
        return []
    prefix = address + "."
    return sorted(a for a in resources if a.startswith(prefix))


def _named(address: str) -> str:
    kind = address_kind(address)
    return with_article(kind) if address_parts(kind) == address.count(".") + 1 else "no object (not an address of any kind)"


def list_entry(address: str, entry: ResourceState) -> dict[str, Any]:
    """One line of `state list --json`."""
    return {"address": address, "kind": entry_kind(address, entry), "id": entry.id, "protect": entry.protect}


def describe_entry(address: str, entry: ResourceState) -> dict[str, Any]:
    kind = entry_kind(address, entry)
    # The whole record (docs/state.md): `source` says whether a run given other paths leaves it alone or destroys
    # it, `depends_on` what `destroy --target` follows.
    described = {"address": address, "kind": kind, "id": entry.id, "protect": entry.protect,
                 "sensitive": entry.sensitive, "last_applied_spec": entry.spec, "platform": entry.remote,
                 "source": entry.source, "depends_on": entry.depends_on}
    if entry.deleting:  # an apply was deleting it and has not recorded the outcome (docs/reliability.md)
        described["deleting"] = True
    if kind == "assistant":
        described["readable_fields"] = sorted(READABLE_FIELDS)
    return described


def holder_alive_here(holder) -> bool:
    """Whether a lock's holder is a process still running on this machine (force-unlock warns about it)."""
    # A lock row is input: a pid that is not a number (a hand edit) is an unknown holder, never a crash here.
    return holder.host == socket.gethostname() and type(holder.pid) is int and holder.pid > 0 \
        and holder.pid != os.getpid() and process_alive(holder.pid)
