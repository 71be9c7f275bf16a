"""The plan as plain data: what will change, field by field. No I/O, no decisions about how to apply it.

A saved plan file is `Plan.to_dict()` as JSON. Sensitive values never enter it:
field changes carry "(sensitive)", and request bodies carry a digest that
`apply` swaps back for the manifest's value, refusing the plan if they differ.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .redaction import digest_fields

PLAN_FORMAT = "provisioner-plan"
PLAN_FORMAT_VERSION = 1


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    IMPORT = "import"   # adopt an assistant that already exists, then update it if needed
    FORGET = "forget"   # drop from state an assistant that is already gone from the platform

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "import": "<=", "forget": "-"}[self.value]


@dataclass
class FieldChange:
    field: str
    before: Any
    after: Any
    # Where `before` comes from: the platform's read-back, or the last applied spec for write-only fields.
    source: str = "platform"
    before_known: bool = True   # False for a write-only field of an adopted assistant
    reset: bool = False         # removed from the manifest: back to the platform's default
    drift: bool = False         # changed on the platform outside the provisioner
    sensitive: bool = False
    # For mappings and lists: the changed paths inside them, [path, before, after].
    details: list[list[Any]] = field(default_factory=list)


@dataclass
class Change:
    address: str
    action: Action
    assistant_name: str
    remote_id: int | None = None
    reason: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    # The request body: the create fields for a create, only the changed fields for an update.
    body: dict[str, Any] = field(default_factory=dict)
    # What state records once the change succeeds (ResourceState without the id).
    record: dict[str, Any] = field(default_factory=dict)
    # Digest of the platform's item when planned; a saved plan is stale if it changed since.
    remote_fingerprint: str | None = None
    location: str | None = None
    sensitive: list[str] = field(default_factory=list)
    # The engine the assistant will have: which models catalogue names its llm_model on the wire.
    engine_type: str | None = None


@dataclass
class StateSync:
    """A state record to refresh without any request to the platform (e.g. `protect` turned on)."""

    address: str
    record: dict[str, Any]


@dataclass
class Plan:
    changes: list[Change]
    lineage: str
    serial: int
    state_sync: list[StateSync] = field(default_factory=list)
    destroy: bool = False
    targets: list[str] = field(default_factory=list)
    manifest_paths: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dialect: str = "v1"  # the create dialect the bodies will be sent in (wire.py)
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def counts(self) -> dict[str, int]:
        count = {"import": 0, "add": 0, "change": 0, "destroy": 0, "forget": 0}
        for change in self.changes:
            if change.action is Action.CREATE:
                count["add"] += 1
            elif change.action is Action.UPDATE:
                count["change"] += 1
            elif change.action is Action.DELETE:
                count["destroy"] += 1
            elif change.action is Action.FORGET:
                count["forget"] += 1
            elif change.action is Action.IMPORT:
                count["import"] += 1
                count["change"] += 1 if change.body else 0
        return count

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data, with sensitive values digested."""
        changes = []
        for change in self.changes:
            data = asdict(change)
            data["action"] = change.action.value
            data["body"] = digest_fields(change.body, change.sensitive)
            changes.append(data)
        return {
            "format": PLAN_FORMAT,
            "format_version": PLAN_FORMAT_VERSION,
            "created_at": self.created_at,
            "lineage": self.lineage,
            "serial": self.serial,
            "destroy": self.destroy,
            "dialect": self.dialect,
            "targets": self.targets,
            "manifest_paths": self.manifest_paths,
            "summary": self.counts,
            "changes": changes,
            "state_sync": [asdict(s) for s in self.state_sync],
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        changes = []
        for raw in data["changes"]:
            raw = dict(raw)
            raw["action"] = Action(raw["action"])
            raw["fields"] = [FieldChange(**f) for f in raw.get("fields", [])]
            changes.append(Change(**raw))
        return cls(changes=changes, lineage=data["lineage"], serial=data["serial"],
                   state_sync=[StateSync(**s) for s in data.get("state_sync", [])],
                   destroy=data.get("destroy", False), targets=data.get("targets", []),
                   manifest_paths=data.get("manifest_paths", []), notes=data.get("notes", []),
                   dialect=data.get("dialect", "v1"),
                   created_at=data.get("created_at", ""))
