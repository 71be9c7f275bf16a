"""The emulator's request validation, answering in the platform's 422 shape (Laravel's wording)."""
from __future__ import annotations

from typing import Any

from ..spec import CREATE_FIELDS, FieldProblem, validate_spec
from .catalog import Catalog, Tenant

_LARAVEL = {
    "missing": "The {attr} field is required.",
    "string_too_short": "The {attr} field is required.",
    "int_type": "The {attr} field must be an integer.",
    "int_from_float": "The {attr} field must be an integer.",
    "int_parsing": "The {attr} field must be an integer.",
    "float_type": "The {attr} field must be a number.",
    "float_parsing": "The {attr} field must be a number.",
    "bool_type": "The {attr} field must be true or false.",
    "bool_parsing": "The {attr} field must be true or false.",
    "string_type": "The {attr} field must be a string.",
    "dict_type": "The {attr} field must be an array.",
    "list_type": "The {attr} field must be an array.",
    "model_type": "The {attr} field must be an array.",
    "model_attributes_type": "The {attr} field must be an array.",
    "string_too_long": "The {attr} field must not be greater than {max_length} characters.",
    "greater_than_equal": "The {attr} field must be at least {ge}.",
    "less_than_equal": "The {attr} field must not be greater than {le}.",
    "literal_error": "The selected {attr} is invalid.",
    "string_pattern_mismatch": "The {attr} field format is invalid.",
    "required_if": "The {attr} field is required when is webhook active is true.",
}
_VALUE_ERRORS = {
    "timezone": "The {attr} field must be a valid timezone.",
    "webhook_url": "The {attr} field must be a valid URL.",
}

Errors = dict[str, list[str]]


def known_fields(body: Any) -> dict[str, Any]:
    """The create fields of a request body; like the platform, unknown keys are ignored."""
    return {k: v for k, v in body.items() if k in CREATE_FIELDS} if isinstance(body, dict) else {}


def validate_assistant(fields: dict[str, Any], tenant: Tenant, catalog: Catalog) -> tuple[dict | None, Errors]:
    """Validate create fields (defaults filled in on success) and the references they make."""
    spec, problems = validate_spec(fields, strict=False)
    errors: Errors = {}
    for problem in problems:
        key = ".".join(str(p) for p in problem.path)
        errors.setdefault(key, []).append(_message(problem, key))
    if "voice_id" in fields and "voice_id" not in errors and fields["voice_id"] is not None:
        if not any(v.id == _as_int(fields["voice_id"]) for v in catalog.voices):
            errors["voice_id"] = ["The selected voice id is invalid."]
    if "language" in fields and "language" not in errors:
        if not any(lang.name == fields["language"] for lang in catalog.languages):
            errors["language"] = ["The selected language is invalid."]
    if fields.get("phone_number_id") is not None and "phone_number_id" not in errors:
        if not any(p.id == _as_int(fields["phone_number_id"]) for p in tenant.phone_numbers):
            errors["phone_number_id"] = ["The selected phone number id is invalid."]
    if errors:
        return None, errors
    return spec.model_dump(mode="json"), {}


def summary(errors: Errors) -> str:
    """Laravel's summary line: the first message, and how many more."""
    first = next(iter(errors.values()))[0]
    more = sum(len(m) for m in errors.values()) - 1
    return first if not more else f"{first} (and {more} more error{'s' if more > 1 else ''})"


def _message(problem: FieldProblem, key: str) -> str:
    attr = key.replace("_", " ")
    template = _LARAVEL.get(problem.kind)
    if problem.kind == "value_error":
        template = _VALUE_ERRORS.get(key, "The {attr} field is invalid.")
    if template is None:
        return f"The {attr} field is invalid."
    return template.format(attr=attr, **(problem.context or {}))


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
