"""What a policy expression sees of an object: Kubernetes' shape, every field of its kind present.

    object    {apiVersion, kind, address, metadata: {name, labels}, spec: {...}} as it will be applied (after
              variables and overlays); every field of the kind is in `spec`, null when the manifest leaves it
              unset (the platform's default then applies), so a key that is not there is a field that does not
              exist: an unknown field is an evaluation error, never a silent false.
    oldObject for update and import, the object as it is now (`object` with the plan's `before` values);
              for delete, what state last applied; null otherwise.
    workspace the workspace's name.
    action    create | update | import | delete | none (no change); null in `validate` (offline).

Secrets: `expression` sees the values (a host allow-list must read the webhook URL), but `messageExpression`
sees the REDACTED object: every sensitive field (webhook URLs, ${env.X} values, ...) reads "(sensitive)", so no
message can show one. Sensitive `before` values are never known: oldObject holds "(sensitive)" for them.
"""
from __future__ import annotations

from typing import Any

from ..kinds import ASSISTANT, ASSISTANT_MANIFEST_KIND, KINDS
from ..manifest import Manifest
from ..plan import Change
from ..redaction import SENSITIVE, is_digest

API_VERSION = "provisioner/v1"


def manifest_kind(kind: str) -> str:
    if kind == ASSISTANT:
        return ASSISTANT_MANIFEST_KIND
    return KINDS[kind].manifest_kind or kind.capitalize()


def view(manifest: Manifest) -> dict[str, Any]:
    """The object as policies see it (secrets included: for `expression` only)."""
    return _shaped(manifest.kind, manifest.address, manifest.name, manifest.labels,
                   manifest.spec.model_dump(mode="json"))


def redacted(data: dict[str, Any] | None, sensitive: frozenset[str] | set[str]) -> dict[str, Any] | None:
    """`data` (a view) with its sensitive spec fields reading "(sensitive)" (null stays null: nothing to hide)."""
    if data is None or not sensitive:
        return data
    spec = {k: (SENSITIVE if k in sensitive and v is not None else v) for k, v in data["spec"].items()}
    return dict(data, spec=spec)


def old_view(new: dict[str, Any], change: Change) -> dict[str, Any]:
    """For an update or import: `new` with each changed field's value before the change."""
    spec = dict(new["spec"])
    for field_change in change.fields:
        if field_change.field not in spec:
            continue
        before = field_change.before if field_change.before_known else None
        spec[field_change.field] = SENSITIVE if field_change.sensitive or is_digest(before) else before
    return dict(new, spec=spec)


def state_view(kind: str, address: str, name: str, spec: dict[str, Any] | None,
               labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A deleted object: what state last applied (sensitive values as "(sensitive)"), with its manifest's labels
    when there is one (state keeps none)."""
    shown = {k: SENSITIVE if is_digest(v) else v for k, v in (spec or {}).items()}
    return _shaped(kind, address, name, labels or {}, shown)


def _shaped(kind: str, address: str, name: str, labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": manifest_kind(kind), "address": address,
            "metadata": {"name": name, "labels": dict(labels)}, "spec": spec}
