"""The assistant's manifest fields and every rule the platform enforces on them (API.md).

`AssistantSpec` is the one vocabulary of a manifest's `spec`: the seed's (v1)
field names, with `language` and `llm_model` by name, plus the settings that
exist only in the current create dialect (v2), marked `x-dialect: v2`. Which
dialect the platform is spoken to in (`--api-dialect`) changes only what is
allowed and how a body is shaped on the wire (wire.py), never the manifest's
words.

Defaults are the platform's documented ones (`DEFAULTS`, API.md "Defaults").
A field left out of a manifest means that default; a field with no documented
default is unmanaged while left out (nothing compared, nothing sent), and an
explicit `null` manages it as empty (clears it on the platform).
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
import difflib
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .patterns import LazyPattern
from .reference_syntax import reference_value
from .timezones import iana_timezones, is_iana_timezone

DIALECTS = ("v1", "v2")
DEFAULT_DIALECT = "v1"

Unit = Annotated[float, Field(ge=0, le=1)]
Sensitivity = Annotated[float, Field(ge=0, le=5)]
NonEmpty = Annotated[str, Field(min_length=1)]
# An optional text the platform keeps: "" is refused, as the platform reads it as no value (it would never read back
# as written, a plan that never settles); leave the key out instead.
OptionalText = Union[NonEmpty, None]
V2 = {"x-dialect": "v2"}


def _variable_value(value: Any) -> Any:
    if value == "":
        raise ValueError('a variable must not be an empty string (the platform reads "" as no value, so it would '
                         'never read back as written): leave the variable out')
    if isinstance(value, (str, int, bool)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ValueError(f"a variable must be a string, a finite number or true/false (got {value!r})")


# An http(s) URL whose host part urlparse takes as it is (ASCII, no IPv6 brackets, no tab or line break for it
# to remove): its scheme and netloc are then what _url asks for, without urlparse's work (a fleet checks a
# webhook URL per manifest, each a new one for urlparse's cache).
_PLAIN_HTTP_URL = re.compile(r"https?://[^/?#\[\]\t\r\n]+(?:[/?#]|\Z)").match


def _url(value: str | None) -> str | None:
    if value is not None and not (value.isascii() and _PLAIN_HTTP_URL(value)):
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http:// or https:// URL")
    return value


VariableValue = Annotated[Any, AfterValidator(_variable_value)]
Url = Annotated[str, AfterValidator(_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PostCallField(_Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$",
                               description="Letters, digits and underscores (v2: 3-16 lowercase).")]
    type: Literal["string", "number", "bool"]
    description: NonEmpty


class EndCallTool(_Strict):
    description: Annotated[str, Field(min_length=1, max_length=500)]


class CallTransferTool(_Strict):
    type: Literal["call_transfer"]
    phone_number: NonEmpty
    description: OptionalText = None
    custom: bool | None = None
    timezone: OptionalText = None
    warm_transfer: bool | None = None
    warm_transfer_message: OptionalText = None


class WarmCallTransferTool(_Strict):
    type: Literal["warm_call_transfer"]
    supervisor_phone: NonEmpty
    outbound_phone_id: int
    description: NonEmpty
    custom: bool | None = None
    timezone: OptionalText = None
    warm_transfer_message: OptionalText = None


class DtmfInputTool(_Strict):
    type: Literal["dtmf_input"]
    description: OptionalText = None


class CollectKeypadTool(_Strict):
    type: Literal["collect_keypad"]
    description: OptionalText = None
    timeout: Annotated[int, Field(ge=1, le=30)] | None = None
    stop_key: Literal["#", "*"] | None = None


class CalendarIntegrationTool(_Strict):
    type: Literal["calendar_integration"]
    calcom_api_key: Annotated[str, Field(min_length=1, description="A secret: masked in plans and state.")]
    calcom_event_slug: NonEmpty
    description: OptionalText = None


BuiltInTool = Annotated[Union[CallTransferTool, WarmCallTransferTool, DtmfInputTool, CollectKeypadTool,
                              CalendarIntegrationTool], Field(discriminator="type")]


class FillerConfig(_Strict):
    positive: list[str] | None = None
    negative: list[str] | None = None
    question: list[str] | None = None
    neutral: list[str] | None = None


def _f(description: str, **kwargs) -> Any:
    return Field(None, description=description, **kwargs)


def _v2(description: str, **kwargs) -> Any:
    return Field(None, description=description + " (API dialect v2 only.)", json_schema_extra=V2, **kwargs)


class AssistantSpec(_Strict):
    """An assistant's settings, in the manifest's words. Optional fields default to None = "not set"."""

    # Required.
    assistant_name: Annotated[str, Field(min_length=1, max_length=255, description="The assistant's name.")]
    voice_id: Annotated[int, Field(description="A voice of the platform that suits engine_type.")]
    language: Annotated[str, Field(min_length=1, max_length=100,
                                   description="The name of a platform language, e.g. English.")]
    llm_model: Annotated[str, Field(min_length=1, max_length=100,
                                    description="The name of a model of the platform's models catalogue "
                                                "for the engine type.")]
    calls_direction: Annotated[Literal["receive", "make"], Field(description="receive (inbound) or make (outbound).")]
    engine_type: Annotated[Literal["pipeline", "multimodal", "dualplex"],
                           Field(description="pipeline, multimodal, or dualplex (v2 only).")]
    timezone: Annotated[NonEmpty, Field(description="An IANA time zone, e.g. America/New_York.")]
    initial_message: Annotated[NonEmpty, Field(description="What the assistant says first (v2: at most 200 "
                                                           "characters).")]
    system_prompt: Annotated[NonEmpty, Field(description="The assistant's instructions.")]

    # Optional, in both dialects.
    phone_number_id: reference_value("number") | None = _f(
        "One of your phone numbers (an id, an E.164 number \"+14155550100\", a siptrunk.NAME address or "
        "{name: ...}); an inbound assistant's must be free for inbound.")
    tool_ids: list[reference_value("tool")] | None = _f(
        "Your own mid-call tools: tool.NAME addresses, {name: ...} lookups or ids (write-only).")
    endpoint_type: Literal["vad", "ai"] | None = _f("End-of-speech detection.")
    endpoint_sensitivity: Sensitivity | None = _f("0 to 5.")
    interrupt_sensitivity: Sensitivity | None = _f("0 to 5.")
    ambient_sound_volume: Unit | None = _f("0 to 1.")
    post_call_evaluation: bool | None = _f("Evaluate calls after they end.")
    send_webhook_only_on_completed: bool | None = _f("Send the webhook only for completed calls.")
    include_recording_in_webhook: bool | None = _f("Include the recording in the webhook.")
    is_webhook_active: bool | None = _f("Send the post-call webhook (then webhook_url is required).")
    webhook_url: Url | None = _f("The post-call webhook URL; sensitive by default.")
    use_min_interrupt_words: bool | None = _f("Require min_interrupt_words before an interruption (write-only).")
    min_interrupt_words: Annotated[int, Field(ge=0, le=10)] | None = _f("0 to 10.")
    variables: dict[str, VariableValue] | None = _f("Key-value pairs usable in prompts as {{name}}.")
    post_call_schema: list[PostCallField] | None = _f("Fields extracted after each call.")
    end_call_tool: EndCallTool | None = _f("Let the assistant end the call: {description}.")
    llm_temperature: Unit | None = _f("0 to 1.")
    voice_stability: Unit | None = _f("0 to 1.")
    voice_similarity: Unit | None = _f("0 to 1.")
    speech_speed: Annotated[float, Field(ge=0.7, le=1.2)] | None = _f("0.7 to 1.2.")
    allow_interruptions: bool | None = _f("Callers may interrupt (always on for multimodal and dualplex).")
    filler_audios: bool | None = _f("Filler sounds while thinking (pipeline only).")
    end_call_on_voicemail: bool | None = _f("Hang up on voicemail.")
    noise_cancellation: bool | None = _f("Noise cancellation.")
    record_call: bool | None = _f("Record calls.")
    re_engagement_interval: Annotated[int, Field(ge=7, le=600)] | None = _f("Seconds, 7 to 600.")
    max_call_duration: Annotated[int, Field(ge=20, le=1200)] | None = _f("Seconds, 20 to 1200.")
    max_silence_duration: Annotated[int, Field(ge=1, le=360)] | None = _f("Seconds, 1 to 120 (v2: 1 to 360).")
    who_speaks_first: Literal["AI assistant", "Customer"] | None = _f("Who speaks first.")

    # Only in the current dialect (v2).
    secondary_languages: list[Annotated[str, Field(min_length=1)]] | None = _v2("Other language names (write-only).")
    knowledgebase_id: reference_value("knowledgebase") | None = _v2(
        "A knowledge base: a knowledgebase.NAME address, {name: ...} or an id.")
    knowledgebase_mode: Literal["function_call", "prompt"] | None = _v2(
        "function_call (required for multimodal and dualplex) or prompt (pipeline only).")
    tools: list[BuiltInTool] | None = _v2("Built-in tools (the end-call tool is end_call_tool).")
    tts_emotion_enabled: bool | None = _v2("Emotional speech synthesis (write-only).")
    synthesizer_provider_id: int | None = _v2("A TTS provider (pipeline, dualplex).")
    transcriber_provider_id: int | None = _v2("A speech-to-text provider (pipeline).")
    chat_llm_fallback_id: int | None = _v2("A fallback model id (write-only).")
    turn_detection_threshold: Unit | None = _v2("0 to 1 (write-only).")
    filler_config: FillerConfig | None = _v2("Filler phrases: positive, negative, question, neutral.")
    max_initial_silence_duration: Annotated[int, Field(ge=1, le=120)] | None = _v2("Seconds, 1 to 120.")
    ringing_time: Annotated[int, Field(ge=1, le=60)] | None = _v2("Seconds, 1 to 60.")
    reengagement_prompt: Annotated[str, Field(max_length=1000)] | None = _v2("At most 1000 characters (write-only).")
    voice_mail_message: Annotated[str, Field(max_length=1000)] | None = _v2("At most 1000 characters (write-only).")
    ambient_sound: Literal["off", "office", "city", "forest", "crowded_room", "cafe", "nature"] | None = _v2(
        "Background sound.")
    conversation_inactivity_timeout: Annotated[int, Field(ge=1, le=1440)] | None = _v2(
        "Minutes, 1 to 1440 (write-only).")
    conversation_ended_retrigger: bool | None = _v2("Retrigger when a conversation ends.")
    conversation_ended_webhook_url: Url | None = _v2("Webhook for ended conversations; sensitive by default.")
    folder_id: reference_value("folder") | None = _v2(
        "Its folder: a folder.NAME address, {name: ...} or an id; null: uncategorized (write-only).")
    label_ids: list[reference_value("label")] | None = _v2(
        "Its labels: label.NAME addresses, {name: ...} lookups or ids (write-only).")

    @field_validator("timezone")
    @classmethod
    def _iana_timezone(cls, value: str) -> str:
        if not is_iana_timezone(value):
            raise ValueError(f"'{value}' is not an IANA time zone{did_you_mean(value, iana_timezones())}")
        return value


CREATE_FIELDS: tuple[str, ...] = tuple(AssistantSpec.model_fields)
_VALIDATE = AssistantSpec.__pydantic_validator__.validate_python
_DUMP = AssistantSpec.__pydantic_serializer__.to_python
REQUIRED_FIELDS: tuple[str, ...] = tuple(n for n, f in AssistantSpec.model_fields.items() if f.is_required())
V2_ONLY_FIELDS: frozenset[str] = frozenset(
    n for n, f in AssistantSpec.model_fields.items() if (f.json_schema_extra or {}).get("x-dialect") == "v2")

# API.md "Defaults (what an omitted field means)". Fields not here have no documented default.
DEFAULTS: dict[str, Any] = {
    "post_call_evaluation": True,
    "send_webhook_only_on_completed": True,
    "include_recording_in_webhook": True,
    "noise_cancellation": True,
    "end_call_on_voicemail": True,
    "allow_interruptions": True,
    "filler_audios": False,
    "record_call": False,
    "is_webhook_active": False,
    "who_speaks_first": "AI assistant",
    "endpoint_type": "vad",
    "llm_temperature": 0.10,
    "voice_stability": 0.70,
    "voice_similarity": 0.50,
    "speech_speed": 1.00,
    "endpoint_sensitivity": 0.5,
    "interrupt_sensitivity": 0.5,
    "ambient_sound_volume": 0.5,
    "max_call_duration": 600,
    "max_silence_duration": 40,
    "re_engagement_interval": 30,
    "ringing_time": 30,
    "tts_emotion_enabled": True,
    "conversation_inactivity_timeout": 30,
    "conversation_ended_retrigger": False,
}
# Settings that carry credentials: masked in output, digested in state and plan files, unless a manifest
# says otherwise is not possible (a secret stays a secret).
ALWAYS_SENSITIVE = frozenset({"webhook_url", "conversation_ended_webhook_url"})


def fields_of(dialect: str) -> tuple[str, ...]:
    """The manifest fields a dialect can manage."""
    return CREATE_FIELDS if dialect == "v2" else tuple(f for f in CREATE_FIELDS if f not in V2_ONLY_FIELDS)


def has_default(field: str) -> bool:
    return field in DEFAULTS


def platform_default(field: str) -> Any:
    """The value the platform gives an optional field left out of a create (None: no documented default)."""
    return DEFAULTS.get(field)


def secret_fields(fields: dict[str, Any]) -> set[str]:
    """Fields that hold secrets by their content: a calendar tool carries a Cal.com API key."""
    tools = fields.get("tools")
    return {"tools"} if isinstance(tools, list) and any(isinstance(t, dict) and t.get("calcom_api_key")
                                                         for t in tools) else set()


@dataclass(frozen=True)
class FieldProblem:
    """One broken rule, at a path inside the spec, e.g. ("post_call_schema", 0, "name")."""

    path: tuple[str | int, ...]
    message: str
    kind: str  # pydantic's error type, or our own for cross-field rules
    context: dict[str, Any] | None = None
    # Where a reader should look when `path` itself is absent (a missing field that another one requires).
    anchor: tuple[str | int, ...] | None = None


def validate_spec(data: Any, *, dialect: str = DEFAULT_DIALECT) -> tuple[AssistantSpec | None, list[FieldProblem]]:
    """Check a spec against every rule of the dialect; all problems, not just the first."""
    spec, _, problems = checked_spec(data, dialect=dialect)
    return spec, problems


def checked_spec(data: Any, *, dialect: str = DEFAULT_DIALECT
                 ) -> tuple[AssistantSpec | None, dict[str, Any] | None, list[FieldProblem]]:
    """validate_spec, and the valid spec's fields as JSON values (`model_dump(mode="json", exclude_unset=True)`,
    what `Manifest.fields` is). One dump serves the rules, the secret fields and the manifest: a fleet's parse
    dumped every spec three times."""
    try:
        # What model_validate and model_dump call, without their Python wrappers: a fleet checks one per manifest.
        spec = _VALIDATE(data, strict=True)
    except ValidationError as error:
        problems = [_problem_from_pydantic(e) for e in error.errors(include_url=False)]
        return None, None, problems + _rule_problems(data if isinstance(data, dict) else {}, dialect)
    # The rules read plain values: a JSON dump and a Python one agree on every value they look at (strings,
    # numbers, booleans, nested models as mappings).
    fields = _DUMP(spec, mode="json", exclude_unset=True)
    problems = _null_problems(fields) + _rule_problems(fields, dialect)
    return (None, None, problems) if problems else (spec, fields, [])


def validate_model(model: type[BaseModel], data: Any,
                   context: dict[str, Any] | None = None) -> tuple[BaseModel | None, list[FieldProblem]]:
    """Check another kind's spec against its strict model: every problem, in the assistant's messages. `context`:
    the manifest's file (kinds/base.MANIFEST_FILE, ROOT), for specs that name files (a knowledge base's documents)."""
    try:
        return model.model_validate(data, strict=True, context=context), []
    except ValidationError as error:
        return None, [_problem_from_pydantic(e, model) for e in error.errors(include_url=False)]


def _null_problems(fields: dict[str, Any]) -> list[FieldProblem]:
    """null clears a field that has no default; a field with a default is reset by leaving it out. `fields`: the
    spec's set fields (its dump: a field is None there exactly when it is None in the spec)."""
    if None not in fields.values():  # the usual spec: no null at all, found at C speed
        return []
    return [FieldProblem((name,), f"must not be null: leave it out to get the platform's default "
                                  f"({_show(DEFAULTS[name])})", "null_default")
            for name, value in fields.items() if value is None and name in DEFAULTS]


_V2_NAME = LazyPattern(r"[a-z0-9_]{3,16}")


def _rule_problems(raw: dict, dialect: str) -> list[FieldProblem]:
    """The platform's rules that span fields or depend on the dialect (API.md)."""
    problems: list[FieldProblem] = []

    def add(path: tuple, message: str, kind: str = "rule", anchor: tuple | None = None) -> None:
        problems.append(FieldProblem(path, message, kind, anchor=anchor))

    engine = raw.get("engine_type")
    if dialect != "v2":
        for name in sorted(V2_ONLY_FIELDS.intersection(raw)):
            add((name,), "exists only in API dialect v2; use --api-dialect v2 (or api_dialect: v2) to manage it",
                "dialect")
        if engine == "dualplex":
            add(("engine_type",), "dualplex exists only in API dialect v2; use --api-dialect v2", "dialect")
    else:
        message = raw.get("initial_message")
        if isinstance(message, str) and len(message) > 200:
            add(("initial_message",), f"must be at most 200 characters in API dialect v2 (got {len(message)})")
        schema = raw.get("post_call_schema")
        for index, item in enumerate(schema if isinstance(schema, list) else []):
            if not isinstance(item, dict):
                continue
            name, description = item.get("name"), item.get("description")
            if isinstance(name, str) and not _V2_NAME.fullmatch(name):
                add(("post_call_schema", index, "name"),
                    "must be 3-16 lowercase letters, digits or underscores in API dialect v2")
            if isinstance(description, str) and not 3 <= len(description) <= 255:
                add(("post_call_schema", index, "description"), "must be 3-255 characters in API dialect v2")
    silence = raw.get("max_silence_duration")
    if dialect != "v2" and isinstance(silence, int) and not isinstance(silence, bool) and silence > 120:
        add(("max_silence_duration",), f"must be at most 120 in API dialect v1 (got {silence}; v2 allows 360)")
    if raw.get("is_webhook_active") is True and not raw.get("webhook_url"):
        add(("webhook_url",), "is required when is_webhook_active is true", "required_if", anchor=("is_webhook_active",))
    if engine in ("multimodal", "dualplex"):
        if raw.get("filler_audios") is True:
            add(("filler_audios",), f"fillers exist only in the pipeline engine (engine_type is {engine})")
        if raw.get("allow_interruptions") is False:
            add(("allow_interruptions",), f"interruptions cannot be turned off in the {engine} engine")
        if raw.get("knowledgebase_mode") == "prompt":
            add(("knowledgebase_mode",), f"prompt is for the pipeline engine only; {engine} needs function_call")
        if raw.get("knowledgebase_id") is not None and raw.get("knowledgebase_mode") is None:
            add(("knowledgebase_mode",), f"is required (function_call) with a knowledge base in the {engine} engine",
                "required_if", anchor=("knowledgebase_id",))
        if raw.get("transcriber_provider_id") is not None:
            add(("transcriber_provider_id",), "is for the pipeline engine only")
        if engine == "multimodal" and raw.get("synthesizer_provider_id") is not None:
            add(("synthesizer_provider_id",), "is for the pipeline and dualplex engines only")
    return problems


def _problem_from_pydantic(error: dict, model: type[BaseModel] | None = None) -> FieldProblem:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    path = tuple(error["loc"])
    # A tagged union reports its member's name in the path ("tools", 0, "call_transfer", "phone_number").
    if len(path) >= 3 and path[0] == "tools" and isinstance(path[1], int) and isinstance(path[2], str) \
            and path[2] in _TOOL_MODELS:
        path = path[:2] + path[3:]
    message = _MESSAGES.get(kind, "{msg}").format(msg=error["msg"], **{k: _plain(v) for k, v in ctx.items()})
    if kind == "extra_forbidden" and path:
        message = f"unknown field '{path[-1]}'{did_you_mean(str(path[-1]), _sibling_fields(path, model))}"
    if kind == "union_tag_invalid":
        message = f"unknown tool type {_show(ctx.get('tag'))}; tools: {', '.join(_TOOL_MODELS)}"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    shows_input = kind not in ("missing", "extra_forbidden", "value_error", "union_tag_invalid", "union_tag_not_found")
    if shows_input and "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {_show(error['input'])})"
    return FieldProblem(path, message, kind, ctx or None)


_TOOL_MODELS = {"call_transfer": CallTransferTool, "warm_call_transfer": WarmCallTransferTool,
                "dtmf_input": DtmfInputTool, "collect_keypad": CollectKeypadTool,
                "calendar_integration": CalendarIntegrationTool}


def _sibling_fields(path: tuple, model: type[BaseModel] | None = None) -> list[str]:
    """Field names allowed next to an unknown one, for "did you mean"."""
    if model is not None:  # another kind's spec: its own fields, or a nested model's
        for part in path[:-1]:
            inner = model.model_fields.get(part) if isinstance(part, str) else None
            annotation = getattr(inner, "annotation", None)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
        return list(model.model_fields)
    nested = {"post_call_schema": PostCallField, "end_call_tool": EndCallTool, "filler_config": FillerConfig}
    if path[:1] == ("tools",):
        return sorted({f for model in _TOOL_MODELS.values() for f in model.model_fields})
    model = nested.get(path[0]) if len(path) > 1 else None
    return list(model.model_fields) if model else list(CREATE_FIELDS)


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
    "union_tag_not_found": "needs a 'type' (one of call_transfer, warm_call_transfer, dtmf_input, "
                           "collect_keypad, calendar_integration)",
}


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def closest(word: str, choices) -> str | None:
    """The choice `word` is a near miss of (a typo), or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices) -> str:
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""
