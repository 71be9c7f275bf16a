"""JSON views: the plan document (`Plan.to_dict`, published as docs/plan.schema.json), the validation
result, problems, and the state's resources. Each is one JSON document, documented in docs/plan-format.md."""
from __future__ import annotations

import json
from typing import Any, Iterator

from ..graph import entry_kind
from ..json_text import Items, in_pieces
from ..plan import Plan
from ..redaction import SENSITIVE, is_digest
from ..scrub import JsonMask

VALIDATION_FORMAT = "provisioner-validation"
STATE_VIEW_FORMAT = "provisioner-state"
FORMAT_VERSION = 1


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def plan_json(plan: Plan) -> str:
    return "".join(plan_json_pieces(plan))


# dumps's encoder, for the documents written in pieces.
_INDENTED = json.JSONEncoder(indent=2, ensure_ascii=False)


def plan_json_pieces(plan: Plan, *, scrubbed: bool = False) -> Iterator[str]:
    """The plan's JSON document in pieces, a change a piece (json_text.in_pieces): a fleet's is hundreds of
    megabytes (213 MB for a full graph of 8,000 objects), and its text built whole, with the copies scrubbing and
    printing it made, peaked at 1.7 GB. `scrubbed`: as scrub_json gives the whole text (scrub.JsonMask)."""
    members = _plan_members(plan)
    if not scrubbed:
        return in_pieces(members, _INDENTED)
    mask = JsonMask(_INDENTED)
    return in_pieces(mask.flagged(members), _INDENTED, mask)


def _plan_members(plan: Plan) -> Iterator[tuple[str, Any]]:
    yield from plan.to_dict(changes=Items(plan.change_documents())).items()
    if plan.policies is not None:  # additive: present when the repository has policies (docs/policies.md)
        yield "policies", plan.policies


def problems_json(problems) -> str:
    return dumps({"errors": [p.as_dict() for p in problems]})


def pull_json(result, dry_run: bool) -> str:
    """`pull --json` (docs/pull.md): the text's lines as one document; a value the manifests cannot hold as an
    error object of every command's --json (docs/plan-format.md), at the file and line of the field it was to be
    pulled into."""
    from ..manifest import _dotted  # (loaded already: pull read the manifests)

    return dumps({
        "format": "provisioner-pull", "format_version": 1, "dry_run": dry_run,
        "pulled": [{"address": e.address, "field": e.field, "file": e.file} for e in result.pulled],
        "not_pulled": [{"address": s.address, "field": s.field, "reason": s.reason} for s in result.skipped],
        # As every command's error objects name a field: its path in the manifest (`pulled` and `not_pulled` name
        # the platform's field as pull's lines do); a document's is inside its knowledge base's entry for it.
        "errors": [{"file": r.file, "line": r.line, "address": r.address, "field": _dotted(r.path),
                    "message": r.reason} for r in result.refused],
        "write_only": dict(sorted(result.write_only.items())),
        "files": sorted(result.texts),
        "diff": result.diff(),
    })


def validation_json(manifest_count: int, problems=(), policies: dict | None = None) -> str:
    """`validate --json`: valid, how many manifests, and every error with file, line and field; with policies,
    their offline check (`policies`, as in the plan JSON; a deny or a policy error makes it not valid)."""
    errors = [p.as_dict() for p in problems]
    blocked = bool(policies and (policies["summary"]["denied"] or policies["summary"]["error"]))
    data = {"format": VALIDATION_FORMAT, "format_version": FORMAT_VERSION, "valid": not errors and not blocked,
            "manifest_count": manifest_count, "errors": errors}
    if policies is not None:
        data["policies"] = policies
    return dumps(data)


def state_document(state) -> dict[str, Any]:
    """The state's resources as plain data, digests of sensitive values shown as "(sensitive)", at any depth (a
    tool's header values are digests inside its headers mapping)."""
    def masked(values: Any) -> Any:
        if is_digest(values):
            return SENSITIVE
        if isinstance(values, dict):
            return {k: masked(v) for k, v in values.items()}
        if isinstance(values, list):
            return [masked(v) for v in values]
        return values

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
