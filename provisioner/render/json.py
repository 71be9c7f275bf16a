"""JSON views: the plan document (`Plan.to_dict`, published as docs/plan.schema.json), the validation
result, problems, and the state's resources. Each is one JSON document, documented in docs/plan-format.md."""
from __future__ import annotations

import json
from typing import Any

from ..graph import entry_kind
from ..plan import Plan
from ..redaction import SENSITIVE, is_digest

VALIDATION_FORMAT = "provisioner-validation"
STATE_VIEW_FORMAT = "provisioner-state"
FORMAT_VERSION = 1


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def plan_json(plan: Plan) -> str:
    return dumps(plan.to_dict())


def problems_json(problems) -> str:
    return dumps({"errors": [p.as_dict() for p in problems]})


def validation_json(manifest_count: int, problems=()) -> str:
    """`validate --json`: valid, how many manifests, and every error with file, line and field."""
    errors = [p.as_dict() for p in problems]
    return dumps({"format": VALIDATION_FORMAT, "format_version": FORMAT_VERSION, "valid": not errors,
                  "manifest_count": manifest_count, "errors": errors})


def state_document(state) -> dict[str, Any]:
    """The state's resources as plain data, digests of sensitive values shown as "(sensitive)"."""
    def masked(values: dict[str, Any] | None) -> dict[str, Any] | None:
        if values is None:
            return None
        return {k: SENSITIVE if is_digest(v) else v for k, v in values.items()}

    return {
        "format": STATE_VIEW_FORMAT,
        "format_version": FORMAT_VERSION,
        "lineage": state.lineage,
        "serial": state.serial,
        "resources": [{"address": address, "kind": entry_kind(address, entry), "id": entry.id, "protect": entry.protect,
                       "sensitive": sorted(entry.sensitive), "last_applied": masked(entry.spec),
                       "platform": masked(entry.remote)}
                      for address, entry in sorted(state.resources.items())],
    }


def state_json(document: dict[str, Any]) -> str:
    return dumps(document)
