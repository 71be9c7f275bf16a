"""The pure diff: (manifests, state, platform) -> Plan. No I/O happens here.

Each address is decided once, from three sources:
- the manifest (what git wants),
- the state entry (which platform id it is, and the spec last applied),
- the platform's assistant (what is really there).
Readable fields are compared with the platform; write-only fields, which the
platform never shows back, with the last applied spec. A field a manifest
leaves out is compared with the platform's default, so git describes the whole
assistant and a removed field goes back to its default without flapping.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from deepdiff import DeepDiff
from deepdiff.helper import notpresent

from .errors import PlanError, Problem
from .manifest import Manifest
from .plan import Action, Change, FieldChange, Plan, StateSync
from .redaction import SENSITIVE, digest, digest_fields
from .spec import CREATE_FIELDS, platform_default
from .state import ResourceState, State
from .wire import READABLE_FIELDS, create_fields_from_read


def canonical(value: Any) -> Any:
    """A form in which equal values are equal: 1 and 1.0 alike, mappings unordered."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    return json.dumps(canonical(a), sort_keys=True) == json.dumps(canonical(b), sort_keys=True)


@dataclass(frozen=True)
class RemoteAssistant:
    id: int
    name: str
    fields: dict[str, Any]  # readable create fields
    fingerprint: str        # digest of the whole item, to tell if it changed since a plan

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "RemoteAssistant":
        return cls(int(item["id"]), str(item.get("name", "")), create_fields_from_read(item), digest(item))


def full_spec(fields: dict[str, Any]) -> dict[str, Any]:
    """Every create field: the ones given, and the platform's defaults for the rest."""
    return {name: fields[name] if name in fields else _default(name) for name in CREATE_FIELDS}


def _default(name: str) -> Any:
    value = platform_default(name)
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def remote_snapshot(fields: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
    """What state keeps of the platform's view: the readable fields, sensitive ones digested."""
    return digest_fields({k: fields[k] for k in sorted(fields) if k in READABLE_FIELDS}, sensitive)


def record_for(manifest: Manifest, remote_fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "spec": digest_fields(manifest.fields, manifest.sensitive),
        "protect": manifest.protect,
        "sensitive": sorted(manifest.sensitive),
        "remote": remote_snapshot(remote_fields, manifest.sensitive),
    }


def compute_plan(manifests: list[Manifest], state: State, remote: list[RemoteAssistant], *,
                 destroy: bool = False, targets: Iterable[str] = (),
                 manifest_paths: Iterable[str] = ()) -> Plan:
    targets = sorted(set(targets))
    by_address = {m.address: m for m in manifests}
    unknown = [t for t in targets if t not in by_address and t not in state.resources]
    if unknown:
        raise PlanError([Problem(f"--target {t!r} names no manifest and no assistant in state", address=t)
                         for t in unknown])

    def wanted(address: str) -> bool:
        return not targets or address in targets

    remote_by_id = {r.id: r for r in remote}
    claimed = {entry.id for entry in state.resources.values()}
    unclaimed_by_name: dict[str, list[RemoteAssistant]] = defaultdict(list)
    for r in remote:
        if r.id not in claimed:
            unclaimed_by_name[r.name].append(r)
    changes: list[Change] = []
    syncs: list[StateSync] = []
    problems: list[Problem] = []

    for manifest in ([] if destroy else manifests):
        if not wanted(manifest.address):
            continue
        entry = state.resources.get(manifest.address)
        live = remote_by_id.get(entry.id) if entry else None
        if live is not None:
            change = _update(manifest, entry, live)
            if change:
                changes.append(change)
            else:
                record = record_for(manifest, live.fields)
                if record != _record_of(entry):
                    syncs.append(StateSync(manifest.address, record))
            continue
        namesakes = unclaimed_by_name.get(manifest.spec.assistant_name, [])
        if len(namesakes) > 1:
            ids = ", ".join(str(r.id) for r in namesakes)
            problems.append(Problem(
                f"the platform has {len(namesakes)} assistants named {manifest.spec.assistant_name!r} "
                f"(ids {ids}) and none is in state, so adopting one would be a guess; choose one with "
                f"`provisioner import {manifest.address} ID` (and delete or rename the others)",
                manifest.location("spec", "assistant_name"), "spec.assistant_name", manifest.address))
        elif namesakes:
            changes.append(_adopt(manifest, entry, namesakes[0]))
        else:
            changes.append(_create(manifest, entry))

    managed_now = set() if destroy else set(by_address)
    for address in sorted(state.resources):
        if address in managed_now or not wanted(address):
            continue
        entry = state.resources[address]
        manifest = by_address.get(address)
        protected = manifest.protect if manifest else entry.protect
        live = remote_by_id.get(entry.id)
        if live is None:
            changes.append(Change(address, Action.FORGET, str(entry.remote.get("assistant_name", "")),
                                  remote_id=entry.id, reason=f"id {entry.id} is already gone from the platform"))
            continue
        if protected:
            where = manifest.location("metadata", "protect") if manifest else None
            cause = "`destroy` would delete it" if destroy else "its manifest was removed, so it would be deleted"
            problems.append(Problem(
                f"assistant {address!r} (id {entry.id}) is protected, and {cause}; to allow this, set "
                "metadata.protect: false in its manifest and apply first", where, address=address))
            continue
        why = "destroy requested" if destroy else "its manifest was removed"
        changes.append(Change(address, Action.DELETE, live.name, remote_id=live.id, reason=why,
                              remote_fingerprint=live.fingerprint))

    if problems:
        raise PlanError(problems)
    changes.sort(key=lambda c: c.address)
    notes: list[str] = []
    for change in changes:
        renamed = change.action is Action.UPDATE and any(f.field == "assistant_name" for f in change.fields)
        unmanaged = [str(r.id) for r in unclaimed_by_name.get(change.assistant_name, [])] if renamed else []
        if unmanaged:
            notes.append(f"{change.address}: renaming to {change.assistant_name!r}, which assistant(s) "
                         f"{', '.join(unmanaged)} on the platform already have (not managed here).")
    if any(f.source == "last-applied" for c in changes for f in c.fields):
        notes.append("Fields marked (write-only) are never shown back by the platform; they are compared with "
                     "the spec last applied by the provisioner, so changes made to them outside it go unseen.")
    return Plan(changes, state.lineage, state.serial, syncs, destroy, list(targets),
                [str(p) for p in manifest_paths], notes)


def _record_of(entry: ResourceState) -> dict[str, Any]:
    return {"spec": entry.spec, "protect": entry.protect, "sensitive": sorted(entry.sensitive),
            "remote": entry.remote}


def _create(manifest: Manifest, entry: ResourceState | None) -> Change:
    desired = full_spec(manifest.fields)
    fields = [FieldChange(name, None, _shown(value, name in manifest.sensitive), before_known=False,
                          sensitive=name in manifest.sensitive)
              for name, value in manifest.fields.items()]
    reason = (f"id {entry.id} is gone from the platform (deleted outside the provisioner)" if entry else None)
    return Change(manifest.address, Action.CREATE, manifest.spec.assistant_name, reason=reason, fields=fields,
                  body=dict(manifest.fields), record=record_for(manifest, desired),
                  location=str(manifest.location()), sensitive=sorted(manifest.sensitive))


def _adopt(manifest: Manifest, entry: ResourceState | None, live: RemoteAssistant) -> Change:
    fields = _field_changes(manifest, None, live)
    reason = (f"no assistant in state for this manifest, and the platform has exactly one named "
              f"{manifest.spec.assistant_name!r}: adopting it instead of creating a second")
    if entry:
        reason = f"id {entry.id} is gone from the platform; adopting id {live.id}, the one named alike"
    return _with_fields(Change(manifest.address, Action.IMPORT, manifest.spec.assistant_name, remote_id=live.id,
                               reason=reason, remote_fingerprint=live.fingerprint,
                               location=str(manifest.location()), sensitive=sorted(manifest.sensitive)),
                        manifest, live, fields)


def _update(manifest: Manifest, entry: ResourceState, live: RemoteAssistant) -> Change | None:
    fields = _field_changes(manifest, entry, live)
    if not fields:
        return None
    return _with_fields(Change(manifest.address, Action.UPDATE, manifest.spec.assistant_name, remote_id=live.id,
                               remote_fingerprint=live.fingerprint, location=str(manifest.location()),
                               sensitive=sorted(manifest.sensitive)),
                        manifest, live, fields)


def _with_fields(change: Change, manifest: Manifest, live: RemoteAssistant, fields: list[FieldChange]) -> Change:
    desired = full_spec(manifest.fields)
    change.fields = fields
    change.body = {f.field: desired[f.field] for f in fields}
    change.record = record_for(manifest, {name: desired[name] for name in live.fields})
    return change


def _field_changes(manifest: Manifest, entry: ResourceState | None, live: RemoteAssistant) -> list[FieldChange]:
    desired = full_spec(manifest.fields)
    last = entry.spec if entry else None
    sensitive = manifest.sensitive | set(entry.sensitive if entry else ())

    # The fast path for fleets: one hash comparison per assistant when nothing changed. An adopted
    # assistant (nothing applied yet) never takes it: its write-only fields are unknown and must be sent.
    readable = [name for name in CREATE_FIELDS if name in live.fields]
    wanted_hash = digest(canonical({n: desired[n] for n in readable}))
    if (last is not None and wanted_hash == digest(canonical({n: live.fields[n] for n in readable}))
            and all(_write_only_unchanged(n, desired, last, sensitive) for n in CREATE_FIELDS if n not in live.fields)):
        return []

    changes = []
    for name in CREATE_FIELDS:
        hidden = name in sensitive
        reset = last is not None and name in last and name not in manifest.fields
        if name in live.fields:
            before = live.fields[name]
            if same(before, desired[name]):
                continue
            applied = last.get(name, _default(name)) if last is not None else None
            drift = last is not None and not reset and _same_secret_aware(applied, desired[name], hidden)
            changes.append(_field(name, before, desired[name], hidden, reset=reset, drift=drift))
        elif last is None:
            # Adopted: what the platform holds is unknowable; send what the manifest sets.
            if name in manifest.fields:
                changes.append(_field(name, None, desired[name], hidden, source="last-applied", known=False))
        elif not _write_only_unchanged(name, desired, last, sensitive):
            before = last.get(name, _default(name))
            changes.append(_field(name, before, desired[name], hidden, source="last-applied", reset=reset))
    return changes


def _write_only_unchanged(name: str, desired: dict, last: dict, sensitive: set[str]) -> bool:
    return _same_secret_aware(last.get(name, _default(name)), desired[name], name in sensitive)


def _same_secret_aware(recorded: Any, wanted: Any, hidden: bool) -> bool:
    """Compare a recorded value (a digest when sensitive) with a wanted one."""
    if hidden and isinstance(recorded, str) and recorded.startswith("sha256:") and wanted is not None:
        return recorded == digest(wanted)
    return same(recorded, wanted)


def _field(name: str, before: Any, after: Any, hidden: bool, *, source: str = "platform", known: bool = True,
           reset: bool = False, drift: bool = False) -> FieldChange:
    details = []
    if not hidden and known and isinstance(before, (dict, list)) and isinstance(after, (dict, list)):
        details = _nested_changes(before, after)
    return FieldChange(name, _shown(before, hidden), _shown(after, hidden), source=source, before_known=known,
                       reset=reset, drift=drift, sensitive=hidden, details=details)


def _shown(value: Any, hidden: bool) -> Any:
    return SENSITIVE if hidden and value is not None else value


def _nested_changes(before: Any, after: Any) -> list[list[Any]]:
    tree = DeepDiff(canonical(before), canonical(after), view="tree")
    details = []
    for levels in tree.values():
        for level in levels:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            old = None if level.t1 is notpresent else level.t1
            new = None if level.t2 is notpresent else level.t2
            details.append([path, old, new])
    return sorted(details, key=lambda d: d[0])
