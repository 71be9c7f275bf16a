"""import and refresh: bring what the platform holds into state, changing nothing on the platform."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ProvisionerError, StateError
from ..graph import manifest_address
from ..manifest import Manifest
from ..planner import RemoteAssistant, remote_snapshot, same
from ..state import DEFAULT_KIND, ResourceState
from .session import Session


def import_assistant(session: Session, manifests: list[Manifest], address: str, remote_id: int) -> RemoteAssistant:
    address = manifest_address(address)  # `assistant.support` is the assistant `support`
    by_address = {m.address: m for m in manifests}
    if address in by_address and by_address[address].kind != DEFAULT_KIND:
        raise ProvisionerError(f"{address!r} is a {by_address[address].kind}: this version imports assistants only; "
                               "nothing was imported")
    if address not in by_address:
        raise ProvisionerError(f"no manifest has metadata.name {address!r}; write the manifest first, so the "
                               "next plan does not destroy what you import")
    if address in session.state.resources:
        raise StateError(f"{address!r} is already in state (id {session.state.resources[address].id}); "
                         f"use `provisioner state rm {address}` first to replace it")
    # Ids are per kind: only an assistant's entry can hold this one.
    owner = next((a for a, e in session.state.resources.items() if e.id == remote_id and "." not in a), None)
    if owner:
        raise StateError(f"id {remote_id} is already managed as {owner!r}")
    live = next((r for r in session.remote() if r.id == remote_id), None)
    if live is None:
        raise ProvisionerError(f"the platform has no assistant with id {remote_id} for this token")
    # After reading the platform: ownership is per platform (the store learns which one on connecting).
    elsewhere = getattr(session.backend, "owners", lambda kind, ids: {})(DEFAULT_KIND, [remote_id]).get(remote_id)
    if elsewhere is not None:
        raise StateError(
            f"id {remote_id} is already managed as {elsewhere.describe()} of this state store; one object has one "
            f"owner, and nothing was imported. To move it here, first run `provisioner state rm {elsewhere.address} "
            f"--workspace {elsewhere.workspace}` (with that project's settings), then this import again")
    manifest = by_address[address]
    session.state.resources[address] = ResourceState(
        id=remote_id, spec=None, protect=manifest.protect, sensitive=sorted(manifest.sensitive),
        remote=remote_snapshot(live.fields, manifest.sensitive), source=manifest.document.file)
    session.backend.write(session.state)
    return live


@dataclass
class RefreshResult:
    """What `refresh` did: a line per assistant whose record changed, and the counts the summary gives."""

    lines: list[str] = field(default_factory=list)
    checked: int = 0
    updated: int = 0
    removed: int = 0

    def summary(self) -> str:
        unchanged = self.checked - self.updated - self.removed
        return (f"Refreshed {self.checked} assistant(s) in state: {self.updated} updated from the platform, "
                f"{self.removed} removed (gone from the platform), {unchanged} unchanged.")


def refresh(session: Session) -> RefreshResult:
    """Update state's view of the platform; forget what is gone. Nothing remote changes."""
    remote = {r.id: r for r in session.remote()}
    result = RefreshResult(checked=len(session.state.resources))
    for address in sorted(session.state.resources):
        entry = session.state.resources[address]
        live = remote.get(entry.id)
        if live is None:
            del session.state.resources[address]
            result.removed += 1
            result.lines.append(f"{address}: id {entry.id} is gone from the platform; removed from state")
            continue
        snapshot = remote_snapshot(live.fields, entry.sensitive)
        if snapshot != entry.remote:
            changed = sorted(k for k in snapshot if k in entry.remote and not same(snapshot[k], entry.remote[k]))
            entry.remote = snapshot
            result.updated += 1
            detail = f"; changed there: {', '.join(changed)}" if changed else ""
            result.lines.append(f"{address}: refreshed from the platform (id {entry.id}{detail})")
    session.backend.write(session.state)
    return result
