"""Sensitive values: kept in memory only; files and output get a digest or "(sensitive)" instead."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

SENSITIVE = "(sensitive)"
DIGEST_PREFIX = "sha256:"


def digest(value: Any) -> str:
    """A stable fingerprint of a value, so a change is detectable without storing the value."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return DIGEST_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(DIGEST_PREFIX) and len(value) == len(DIGEST_PREFIX) + 64


def digest_fields(fields: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
    """`fields` with every sensitive value (other than null) replaced by its digest."""
    hidden = set(sensitive)
    if hidden.isdisjoint(fields):  # most manifests: a plain copy, one C step
        return dict(fields)
    return {k: digest(v) if k in hidden and v is not None and not is_digest(v) else v for k, v in fields.items()}
