"""The assistant's create fields and every rule the platform enforces on them.

`AssistantSpec` is the single description of the platform's create body
(API.md, "Create: request body"). The provisioner validates manifests with it
in strict mode; the emulator validates requests with it in lax mode, the way a
Laravel backend coerces "5" to 5. The pydantic defaults are the platform's
defaults: a field left out of a manifest means "whatever the platform puts
there", and that value is what the plan compares against.
"""
from __future__ import annotations

import difflib
import functools
import math
import zoneinfo
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

Unit = Annotated[float, Field(ge=0, le=1)]
Sensitivity = Annotated[float, Field(ge=0, le=5)]
NonEmpty = Annotated[str, Field(min_length=1)]


def _variable_value(value: Any) -> Any:
    if isinstance(value, (str, int, bool)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ValueError(f"a variable must be a string, a finite number or true/false (got {value!r})")


VariableValue = Annotated[Any, AfterValidator(_variable_value)]


class PostCallField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")]
    type: Literal["string", "number", "bool"]
    description: NonEmpty


class EndCallTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, Field(min_length=1, max_length=500)]


class AssistantSpec(BaseModel):
    # NaN and infinity are valid YAML floats but not JSON: refuse them before they reach a request body.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # Required.
    assistant_name: Annotated[str, Field(min_length=1, max_length=255)]
    voice_id: int
    language: Annotated[str, Field(min_length=1, max_length=100)]
    llm_model: Annotated[str, Field(min_length=1, max_length=100)]
    calls_direction: Literal["receive", "make"]
    engine_type: Literal["pipeline", "multimodal"]
    timezone: NonEmpty
    initial_message: NonEmpty
    system_prompt: NonEmpty

    # Optional, with the platform's defaults.
    phone_number_id: int | None = None
    endpoint_type: Literal["vad", "ai"] = "vad"
    endpoint_sensitivity: Sensitivity = 2.5
    interrupt_sensitivity: Sensitivity = 2.5
    ambient_sound_volume: Unit = 0.0
    post_call_evaluation: bool = False
    send_webhook_only_on_completed: bool = False
    include_recording_in_webhook: bool = False
    is_webhook_active: bool = False
    webhook_url: str | None = None
    use_min_interrupt_words: bool = False
    min_interrupt_words: Annotated[int, Field(ge=0, le=10)] = 2
    variables: dict[str, VariableValue] = Field(default_factory=dict)
    post_call_schema: list[PostCallField] = Field(default_factory=list)
    end_call_tool: EndCallTool | None = None
    llm_temperature: Unit = 0.7
    voice_stability: Unit = 0.5
    voice_similarity: Unit = 0.75
    speech_speed: Annotated[float, Field(ge=0.7, le=1.2)] = 1.0
    allow_interruptions: bool = True
    filler_audios: bool = False
    re_engagement_interval: Annotated[int, Field(ge=7, le=600)] = 30
    max_call_duration: Annotated[int, Field(ge=20, le=1200)] = 600
    max_silence_duration: Annotated[int, Field(ge=1, le=120)] = 30
    end_call_on_voicemail: bool = False
    noise_cancellation: bool = False
    record_call: bool = False
    who_speaks_first: Literal["AI assistant", "Customer"] = "AI assistant"

    @field_validator("timezone")
    @classmethod
    def _iana_timezone(cls, value: str) -> str:
        if value not in iana_timezones():
            raise ValueError(f"'{value}' is not an IANA time zone{did_you_mean(value, iana_timezones())}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError("must be an http:// or https:// URL")
        return value


CREATE_FIELDS: tuple[str, ...] = tuple(AssistantSpec.model_fields)
REQUIRED_FIELDS: tuple[str, ...] = tuple(n for n, f in AssistantSpec.model_fields.items() if f.is_required())


def platform_default(field: str) -> Any:
    """The value the platform gives an optional field that a request leaves out."""
    return AssistantSpec.model_fields[field].get_default(call_default_factory=True)


@dataclass(frozen=True)
class FieldProblem:
    """One broken rule, at a path inside the create body, e.g. ("post_call_schema", 0, "name")."""

    path: tuple[str | int, ...]
    message: str
    kind: str  # pydantic's error type, or our own for cross-field rules
    context: dict[str, Any] | None = None
    # Where a reader should look when `path` itself is absent (a missing field that another one requires).
    anchor: tuple[str | int, ...] | None = None


def validate_spec(data: Any, *, strict: bool = True) -> tuple[AssistantSpec | None, list[FieldProblem]]:
    """Check a create body against every rule; all problems, not just the first."""
    try:
        spec = AssistantSpec.model_validate(data, strict=strict)
    except ValidationError as error:
        problems = [_problem_from_pydantic(e) for e in error.errors(include_url=False)]
        problems += _cross_field_problems(data if isinstance(data, dict) else {}, None)
        return None, problems
    problems = _cross_field_problems({}, spec)
    return (None, problems) if problems else (spec, [])


def _cross_field_problems(raw: dict, spec: AssistantSpec | None) -> list[FieldProblem]:
    active = spec.is_webhook_active if spec else raw.get("is_webhook_active") is True
    url = spec.webhook_url if spec else raw.get("webhook_url")
    if active and not url:
        return [FieldProblem(("webhook_url",), "is required when is_webhook_active is true", "required_if",
                             anchor=("is_webhook_active",))]
    return []


def _problem_from_pydantic(error: dict) -> FieldProblem:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    path = tuple(error["loc"])
    message = _MESSAGES.get(kind, "{msg}").format(msg=error["msg"], **ctx)
    if kind == "extra_forbidden" and path:
        siblings = _sibling_fields(path)
        message = f"unknown field '{path[-1]}'{did_you_mean(str(path[-1]), siblings)}"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    shows_input = kind not in ("missing", "extra_forbidden", "value_error")
    if shows_input and "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {_show(error['input'])})"
    return FieldProblem(path, message, kind, ctx or None)


def _sibling_fields(path: tuple) -> list[str]:
    """Field names allowed next to an unknown one, for "did you mean"."""
    if path[:1] == ("post_call_schema",):
        return list(PostCallField.model_fields)
    if path[:1] == ("end_call_tool",):
        return list(EndCallTool.model_fields)
    return list(CREATE_FIELDS)


_MESSAGES = {
    "missing": "is required",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "int_parsing": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a mapping of names to values",
    "list_type": "must be a list",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "may contain only letters, digits and underscores",
    "finite_number": "must be a finite number",
}


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


@functools.cache
def iana_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
