"""The assistant resource as the emulator holds it, written from API.md alone.

An assistant is stored as one "canonical" record whose keys are the read shape's names (v2's names where the
two create dialects differ) plus the write-only fields. Both create dialects map onto it; the list answers it
in the read shape, with the read shape's own value types.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from .catalog import Catalog

# v1 name -> canonical (read shape / v2) name, for the fields the dialects name differently.
V1_RENAMES = {
    "assistant_name": "name",
    "language": "language_id",
    "llm_model": "llm_model_id",
    "calls_direction": "type",
    "engine_type": "mode",
    "filler_audios": "fillers",
    "record_call": "record",
    "max_call_duration": "max_duration",
    "re_engagement_interval": "reengagement_interval",
    "noise_cancellation": "enable_noise_cancellation",
    "who_speaks_first": "wait_for_customer",
    "end_call_tool": "tools",
}
V1_ONLY = frozenset(V1_RENAMES)
# v2's names for the same fields (multimodal_model_id is the other half of v1's llm_model).
V2_RENAMED = frozenset(set(V1_RENAMES.values()) | {"multimodal_model_id"})
# Settings only the v2 reference documents.
V2_SETTINGS = frozenset({
    "secondary_language_ids", "knowledgebase_id", "knowledgebase_mode", "tts_emotion_enabled",
    "synthesizer_provider_id", "transcriber_provider_id", "chat_llm_fallback_id", "turn_detection_threshold",
    "filler_config", "max_initial_silence_duration", "ringing_time", "reengagement_prompt", "voice_mail_message",
    "ambient_sound", "conversation_inactivity_timeout", "conversation_ended_retrigger",
    "conversation_ended_webhook_url", "folder_id", "label_ids",
})
V2_ONLY = V2_RENAMED | V2_SETTINGS
# Fields both dialects share, under the same name.
SHARED = frozenset({
    "voice_id", "phone_number_id", "timezone", "initial_message", "system_prompt", "tool_ids", "endpoint_type",
    "endpoint_sensitivity", "interrupt_sensitivity", "ambient_sound_volume", "post_call_evaluation",
    "send_webhook_only_on_completed", "include_recording_in_webhook", "is_webhook_active", "webhook_url",
    "use_min_interrupt_words", "min_interrupt_words", "variables", "post_call_schema", "llm_temperature",
    "voice_stability", "voice_similarity", "speech_speed", "allow_interruptions", "end_call_on_voicemail",
    "max_silence_duration",
})
KNOWN = V1_ONLY | V2_ONLY | SHARED

REQUIRED = {
    "v1": ("assistant_name", "voice_id", "language", "llm_model", "calls_direction", "engine_type", "timezone",
           "initial_message", "system_prompt"),
    "v2": ("name", "voice_id", "language_id", "type", "mode", "timezone", "initial_message", "system_prompt"),
}

# API.md's defaults table, in canonical names. Fields not listed default to null, lists to [], variables to {}.
DEFAULTS: dict[str, Any] = {
    "post_call_evaluation": True, "send_webhook_only_on_completed": True, "include_recording_in_webhook": True,
    "enable_noise_cancellation": True, "end_call_on_voicemail": True, "allow_interruptions": True,
    "fillers": False, "record": False, "is_webhook_active": False, "wait_for_customer": False,
    "endpoint_type": "vad", "llm_temperature": 0.1, "voice_stability": 0.7, "voice_similarity": 0.5,
    "speech_speed": 1.0, "endpoint_sensitivity": 0.5, "interrupt_sensitivity": 0.5, "ambient_sound_volume": 0.5,
    "max_duration": 600, "max_silence_duration": 40, "reengagement_interval": 30, "ringing_time": 30,
    "tts_emotion_enabled": True, "conversation_inactivity_timeout": 30, "conversation_ended_retrigger": False,
    "variables": {}, "post_call_schema": [], "tools": [], "tool_ids": [], "secondary_language_ids": [], "label_ids": [],
}
CANONICAL = (sorted((SHARED | V2_ONLY) - {"tools"}) + ["tools", "llm_model"])


def default(field: str) -> Any:
    value = DEFAULTS.get(field)
    return type(value)() if isinstance(value, (list, dict)) else value


def blank_record() -> dict[str, Any]:
    record = dict(_BLANK)  # one copy of the defaults, then a fresh list or dict where a default is one
    for field, fresh in _FRESH:
        record[field] = fresh()
    return record


_BLANK = {field: DEFAULTS.get(field) for field in CANONICAL}  # blank_record's defaults, looked up once
_FRESH = tuple((field, type(value)) for field, value in _BLANK.items() if type(value) in (list, dict))


# Changing the mode puts these back to the new mode's defaults (unless the same request sends them).
MODE_SPECIFIC = ("llm_model_id", "multimodal_model_id", "llm_model", "fillers", "filler_config",
                 "synthesizer_provider_id", "transcriber_provider_id", "knowledgebase_mode", "allow_interruptions")


def reset_for_mode(record: dict[str, Any], mode: str) -> None:
    for field in MODE_SPECIFIC:
        record[field] = default(field)
    if record.get("knowledgebase_id") is not None:
        # function_call is the only knowledge-base mode every engine takes.
        record["knowledgebase_mode"] = "function_call"


# --- the read shape ---

READ_AS_STORED = (
    "name", "voice_id", "phone_number_id", "timezone", "initial_message", "system_prompt", "variables",
    "post_call_evaluation", "is_webhook_active", "webhook_url", "send_webhook_only_on_completed",
    "include_recording_in_webhook", "allow_interruptions", "endpoint_type", "max_silence_duration",
    "min_interrupt_words", "endpoint_sensitivity", "interrupt_sensitivity", "language_id", "llm_model_id",
    "multimodal_model_id", "type", "mode", "enable_noise_cancellation", "reengagement_interval",
    "wait_for_customer", "max_duration", "record", "tools", "ringing_time", "max_initial_silence_duration",
    "filler_config", "knowledgebase_id", "knowledgebase_mode", "ambient_sound", "synthesizer_provider_id",
    "transcriber_provider_id", "conversation_ended_retrigger", "conversation_ended_webhook_url",
)
READ_AS_DECIMAL = ("llm_temperature", "voice_stability", "voice_similarity", "speech_speed", "ambient_sound_volume")
READ_AS_ONE_OR_ZERO = ("fillers", "end_call_on_voicemail")
WRITE_ONLY = ("use_min_interrupt_words", "tool_ids", "secondary_language_ids", "tts_emotion_enabled",
              "chat_llm_fallback_id", "turn_detection_threshold", "reengagement_prompt", "voice_mail_message",
              "conversation_inactivity_timeout", "llm_model", "folder_id", "label_ids")
ENGINE_IDS = {"pipeline": 1, "multimodal": 2, "dualplex": 3}


def decimal_string(value: Any) -> str | None:
    """A decimal column as the platform answers it: at least two decimals, never less precision than sent."""
    if value is None:
        return None
    if type(value) is float:  # a fleet's few values (0.5, 0.7, ...): each one's text is worked out once
        key = repr(value)
        text = _FLOAT_TEXTS.get(key)
        if text is None:
            if len(_FLOAT_TEXTS) >= 10_000:  # bounded
                _FLOAT_TEXTS.clear()
            text = _FLOAT_TEXTS[key] = _decimal_text(Decimal(key))
        return text
    return _decimal_text(Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value))


_FLOAT_TEXTS: dict[str, str] = {}  # decimal_string of a float, by its repr (which tells 0.0 from -0.0)


def _decimal_text(number: Decimal) -> str:
    if number.as_tuple().exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return format(number, "f")


def read_shape(row: dict[str, Any], catalog: Catalog, root_url: str) -> dict[str, Any]:
    record = row["fields"]
    item: dict[str, Any] = {"id": row["id"], "uuid": row["uuid"], "user_id": row["user_id"],
                            "status": row["status"]}
    item.update(zip(READ_AS_STORED, map(record.get, READ_AS_STORED)))
    language = catalog.language(record.get("language_id"))
    item["language"] = language.iso_2 if language else None
    for field in READ_AS_DECIMAL:
        item[field] = decimal_string(record.get(field))
    for field in READ_AS_ONE_OR_ZERO:
        item[field] = None if record.get(field) is None else int(bool(record[field]))
    item["post_call_schema"] = [
        {**entry, "type": "boolean"} if isinstance(entry, dict) and entry.get("type") == "bool" else entry
        for entry in record.get("post_call_schema") or []]
    item.update({
        "instance_id": None,
        "engine_id": ENGINE_IDS.get(record.get("mode")),
        "synthesizer_id": None,
        "transcriber_id": None,
        "flows_platform_id": None,
        "widget_settings": None,
        "inbound_webhook_url": (f"{root_url}/api/inbound/{row['uuid']}" if record.get("type") == "inbound"
                                else None),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "deleted_at": row["deleted_at"],
    })
    return item


def created_status(dialect: str) -> str:
    """A new assistant's platform status (API.md "Create: responses"): a v1 create starts active, a v2 one
    inactive."""
    return "active" if dialect == "v1" else "inactive"


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a create or update answer."""
    record = row["fields"]
    return {"id": row["id"], "name": record.get("name"), "status": row["status"], "type": record.get("type"),
            "mode": record.get("mode")}
