"""A change's `record` as a plan document writes it: without the values its body already holds.

A create's record repeats its whole body as `spec` (what state keeps of what was sent) and nearly all of it again
as `remote` (what the platform will show): a third of a full assistant's saved create, and what put a fleet of
5,000 full creates over the 128 MiB a saved plan may take. Written here, such a record says `spec_from_body` in
place of its spec, and gives its remote as the keys that differ from that spec (`remote_from_spec`); reading it
rebuilds the very record, which the plan file's schema then checks as it checks any other. Any other record (an
update's spec holds fields its body does not send) is written whole, as are records whose rebuilding would not
give them back exactly (a remote whose keys are not sorted).

A record is internal to apply (docs/plan-format.md: its inner shape may change within a version). A provisioner
that wrote only whole records refuses this form (its schema forbids keys it does not know): never a record
read wrong.
"""
from __future__ import annotations

import json
from typing import Any

SPEC_FROM_BODY = "spec_from_body"
REMOTE_FROM_SPEC = "remote_from_spec"
_PLAIN = (str, int, bool, type(None))


def written(record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """`record` as a plan document writes it, beside `body` (the change's body as written, secrets digested)."""
    spec = record.get("spec")
    if not isinstance(spec, dict) or not _same_mapping(spec, body):
        return record
    out: dict[str, Any] = {}
    for key, value in record.items():  # in the record's order, which rebuilt gives back
        if key == "spec":
            out[SPEC_FROM_BODY] = True
        elif key == "remote" and isinstance(value, dict) and list(value) == sorted(value):
            out[REMOTE_FROM_SPEC] = {"set": {k: v for k, v in value.items() if k not in spec or not _same(v, spec[k])},
                                     "unset": [k for k in spec if k not in value]}
        else:
            out[key] = value
    return out


def rebuilt(record: Any, body: Any) -> Any:
    """The record `written` wrote, whole again; a record written whole is given back as it is. ValueError names
    what is wrong with a compact one (a hand edit): it is refused, never guessed at."""
    if not isinstance(record, dict) or (SPEC_FROM_BODY not in record and REMOTE_FROM_SPEC not in record):
        return record
    if record.get(SPEC_FROM_BODY) is not True or "spec" in record:
        raise ValueError(f"{SPEC_FROM_BODY} must be true, in a record without a spec")
    if not isinstance(body, dict):
        raise ValueError(f"{SPEC_FROM_BODY} needs the change's body, an object")
    if REMOTE_FROM_SPEC in record and "remote" in record:
        raise ValueError(f"a record has either remote or {REMOTE_FROM_SPEC}, not both")
    whole: dict[str, Any] = {}
    for key, value in record.items():
        if key == SPEC_FROM_BODY:
            whole["spec"] = dict(body)  # a copy: apply puts the manifests' secrets back into the body, not in state
        elif key == REMOTE_FROM_SPEC:
            whole["remote"] = _remote(value, body)
        else:
            whole[key] = value
    return whole


def _remote(delta: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The remote `written` gave as its difference from `spec`, in sorted keys as it was."""
    if not isinstance(delta, dict) or set(delta) != {"set", "unset"} or not isinstance(delta["set"], dict) \
            or not isinstance(delta["unset"], list) or not all(isinstance(k, str) and k in spec
                                                               for k in delta["unset"]):
        raise ValueError(f"{REMOTE_FROM_SPEC} must be {{\"set\": an object, \"unset\": a list of the spec's fields}}")
    changed, unset = delta["set"], set(delta["unset"])
    keys = sorted({k for k in spec if k not in unset} | changed.keys())
    return {k: changed[k] if k in changed else spec[k] for k in keys}


def _same_mapping(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same keys in the same order, each with the same value."""
    return len(a) == len(b) and list(a) == list(b) and all(_same(v, b[k]) for k, v in a.items())


def _same(a: Any, b: Any) -> bool:
    """The same JSON value, exactly: 1, 1.0 and true differ, and so do a mapping's key orders (what is rebuilt
    from one is written as the other was)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) in _PLAIN:
        return a == b
    try:
        return json.dumps(a) == json.dumps(b)
    except (TypeError, ValueError):
        return False
