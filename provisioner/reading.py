"""Which lists of the platform a plan reads besides the assistants', and reading them: once each, concurrently.

A plan reads the list of every kind its manifests and state hold, and of every kind a `{name: ...}` lookup
or an E.164 number names. Phone numbers come from the `number` kind when one is registered, else from the
catalogue's numbers list (references.Catalog), which assistants read anyway.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterable, Mapping

from .graph import uses
from .kinds import ASSISTANT, KINDS
from .manifest import Manifest
from .plan_kinds import RemoteObject, kind_of_address, read_list

NUMBER = "number"


def kinds_involved(manifests: Iterable[Manifest], state_addresses: Iterable[str]) -> set[str]:
    """The registered kinds whose list the plan needs."""
    wanted = {m.kind for m in manifests} | {kind_of_address(a) for a in state_addresses}
    for manifest in manifests:
        for use in uses(manifest):
            if use.reference.name is not None or use.reference.number is not None:
                wanted.add(use.facts.ref)
    return {k for k in wanted if k in KINDS and KINDS[k].parent_field is None}


def needs_numbers(manifests: Iterable[Manifest]) -> bool:
    """Whether a reference names a phone number by its E.164 string or by name."""
    return any(u.facts.ref == NUMBER and (u.reference.number or u.reference.name)
               for m in manifests for u in uses(m))


def begin_reading(client: Any, kinds: Iterable[str], pool: ThreadPoolExecutor) -> dict[str, Future]:
    """Start reading each kind's whole list (all pages) on `pool`."""
    return {kind: pool.submit(KINDS[kind].endpoints.list, client, None) for kind in sorted(kinds)}


def finish_reading(reads: Mapping[str, Future]) -> dict[str, list[RemoteObject]]:
    return {kind: read_list(KINDS[kind], future.result()) for kind, future in reads.items()}


def catalogue_numbers(numbers: list[dict[str, Any]] | None) -> list[RemoteObject]:
    """The catalogue's numbers as objects of kind `number` (their name: the E.164 string)."""
    return [RemoteObject(NUMBER, n["id"], str(n.get("phone_number", "")), {}, n) for n in numbers or []
            if isinstance(n, dict) and isinstance(n.get("id"), int) and not isinstance(n.get("id"), bool)]


def assistants_of(manifests: Iterable[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.kind == ASSISTANT]
