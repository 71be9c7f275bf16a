"""JSON Schemas of the platform's answers, written by hand from API.md (not from the emulator)."""
from __future__ import annotations

INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}
INT_OR_NULL = {"type": ["integer", "null"]}
STR_OR_NULL = {"type": ["string", "null"]}
URL_OR_NULL = {"type": ["string", "null"], "pattern": "^https?://"}
# "decimal strings, e.g. "0.7", "1.10"".
DECIMAL = {"type": "string", "pattern": r"^-?\d+\.\d+$"}
ONE_OR_ZERO = {"type": "integer", "enum": [0, 1]}
MODE = {"enum": ["pipeline", "multimodal", "dualplex"]}

MESSAGE_ONLY = {"type": "object", "required": ["message"], "properties": {"message": STR}}

ERROR_401 = {
    "type": "object", "required": ["error", "message"],
    "properties": {"error": {"const": "Invalid API key"}, "message": STR},
}
ERROR_404 = MESSAGE_ONLY
ERROR_422 = {
    "type": "object", "required": ["message", "errors"],
    "properties": {
        "message": {"const": "Validation failed"},
        "errors": {
            "type": "object", "minProperties": 1,
            "propertyNames": {"pattern": r"^[a-z_0-9]+(\.[a-z_0-9]+)*$"},
            "additionalProperties": {"type": "array", "minItems": 1, "items": STR},
        },
    },
}
ERROR_429 = {
    "type": "object", "required": ["error", "message", "retry_after"],
    "properties": {"error": {"const": "Rate limit exceeded"}, "message": STR,
                   "retry_after": {"type": "integer", "minimum": 1}},
}


def _write_answer(message: str) -> dict:
    return {
        "type": "object", "required": ["message", "data"],
        "properties": {
            "message": {"const": message},
            "data": {
                "type": "object", "required": ["id", "name", "status", "type", "mode"],
                "properties": {"id": INT, "name": STR, "status": {"enum": ["active", "inactive"]},
                               "type": {"enum": ["inbound", "outbound"]}, "mode": MODE},
            },
        },
    }


CREATE_ANSWER = _write_answer("Assistant created successfully")
UPDATE_ANSWER = _write_answer("Assistant updated successfully")
DELETE_ANSWER = {"type": "object", "required": ["message"],
                 "properties": {"message": {"const": "Assistant deleted successfully"}}}

TOOL = {"oneOf": [STR, {"type": "object", "required": ["type"], "properties": {"type": STR}}]}
POST_CALL_ITEM = {"type": "object", "required": ["name", "type", "description"],
                  "properties": {"name": STR, "type": {"enum": ["string", "number", "bool", "boolean"]},
                                 "description": STR}}

# "List: the read shape": every documented field, with the value type it reads back as.
READ_FIELDS = {
    "name": STR, "voice_id": INT, "phone_number_id": INT_OR_NULL, "timezone": STR, "initial_message": STR,
    "system_prompt": STR, "variables": {"type": ["object", "array"]}, "post_call_evaluation": BOOL,
    "is_webhook_active": BOOL, "webhook_url": URL_OR_NULL, "send_webhook_only_on_completed": BOOL,
    "include_recording_in_webhook": BOOL, "allow_interruptions": BOOL, "endpoint_type": {"enum": ["vad", "ai"]},
    "max_silence_duration": INT, "min_interrupt_words": INT_OR_NULL,
    "endpoint_sensitivity": NUM, "interrupt_sensitivity": NUM,
    "llm_temperature": DECIMAL, "voice_stability": DECIMAL, "voice_similarity": DECIMAL, "speech_speed": DECIMAL,
    "ambient_sound_volume": DECIMAL,
    "language": {"type": ["string", "null"], "pattern": "^[a-z]{2}$"}, "language_id": INT,
    "llm_model_id": INT_OR_NULL, "multimodal_model_id": INT_OR_NULL,
    "type": {"enum": ["inbound", "outbound"]}, "mode": MODE,
    "fillers": ONE_OR_ZERO, "end_call_on_voicemail": ONE_OR_ZERO,
    "enable_noise_cancellation": BOOL, "reengagement_interval": INT, "wait_for_customer": BOOL,
    "max_duration": INT, "record": BOOL,
    "tools": {"type": "array", "items": TOOL},
    "post_call_schema": {"type": "array", "items": POST_CALL_ITEM},
    # v2-only settings the list documents, and the others "compared with the platform".
    "ringing_time": INT_OR_NULL, "max_initial_silence_duration": INT_OR_NULL,
    "filler_config": {"type": ["object", "null"]}, "knowledgebase_id": INT_OR_NULL,
    "knowledgebase_mode": {"enum": ["function_call", "prompt", None]},
    "ambient_sound": {"enum": ["off", "office", "city", "forest", "crowded_room", "cafe", "nature", None]},
    "synthesizer_provider_id": INT_OR_NULL, "transcriber_provider_id": INT_OR_NULL,
    "conversation_ended_retrigger": BOOL, "conversation_ended_webhook_url": URL_OR_NULL,
}
PLATFORM_OWNED = ("id", "uuid", "user_id", "status", "instance_id", "engine_id", "synthesizer_id",
                  "transcriber_id", "flows_platform_id", "created_at", "updated_at", "deleted_at",
                  "widget_settings", "inbound_webhook_url")
WRITE_ONLY = ("use_min_interrupt_words", "tool_ids", "secondary_language_ids", "tts_emotion_enabled",
              "chat_llm_fallback_id", "turn_detection_threshold", "reengagement_prompt", "voice_mail_message",
              "conversation_inactivity_timeout")
# The create names that differ from the read shape's never appear in it either.
CREATE_ONLY_NAMES = ("assistant_name", "llm_model", "calls_direction", "engine_type", "filler_audios",
                     "record_call", "max_call_duration", "re_engagement_interval", "noise_cancellation",
                     "who_speaks_first", "end_call_tool")

ASSISTANT = {
    "type": "object",
    "required": [*READ_FIELDS, *PLATFORM_OWNED],
    "properties": {
        **READ_FIELDS,
        "id": INT, "uuid": STR, "user_id": INT, "status": STR, "created_at": STR, "updated_at": STR,
        "deleted_at": {"type": "null"},   # deleted assistants are not listed
        "inbound_webhook_url": STR_OR_NULL,
    },
    "not": {"anyOf": [{"required": [name]} for name in WRITE_ONLY + CREATE_ONLY_NAMES]},
}

LINK = {"type": "object", "required": ["url", "label", "active"],
        "properties": {"url": URL_OR_NULL, "label": STR, "active": BOOL}}
PAGE = {
    "type": "object",
    "required": ["current_page", "last_page", "per_page", "total", "from", "to", "first_page_url",
                 "last_page_url", "next_page_url", "prev_page_url", "path", "links", "data"],
    "properties": {
        "current_page": {"type": "integer", "minimum": 1}, "last_page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100}, "total": {"type": "integer", "minimum": 0},
        "from": INT_OR_NULL, "to": INT_OR_NULL,
        "first_page_url": {"type": "string", "pattern": "^https?://.*/api/"},
        "last_page_url": {"type": "string", "pattern": "^https?://.*/api/"},
        "next_page_url": {"type": ["string", "null"], "pattern": "^https?://.*/api/"},
        "prev_page_url": {"type": ["string", "null"], "pattern": "^https?://.*/api/"},
        "path": {"type": "string", "pattern": "^https?://.*/api/user/assistants/get$"},
        "links": {"type": "array", "items": LINK},
        "data": {"type": "array", "items": ASSISTANT},
    },
}


def _array_of(item: dict) -> dict:
    return {"type": "array", "items": item}


def _closed(required: dict) -> dict:
    return {"type": "object", "required": list(required), "properties": required, "additionalProperties": False}


VOICES = _array_of({"type": "object", "required": ["id", "name"], "properties": {"id": INT, "name": STR}})
LANGUAGES = _array_of(_closed({"id": INT, "name": STR, "iso_2": STR_OR_NULL}))
LLM_MODELS = _array_of(_closed({"id": INT, "name": STR}))
REALTIME_MODELS = _array_of(_closed({"id": INT, "name": STR, "code": STR}))
PROVIDERS = _array_of({"type": "object", "required": ["id", "name", "code"],
                       "properties": {"id": INT, "name": STR, "code": STR_OR_NULL}})
PHONE_NUMBERS = _array_of(_closed({"id": INT, "phone_number": STR, "country_code": STR, "type_label": STR,
                                   "is_available": BOOL}))
# Not in API.md's table; the emulator documents it (docs/emulator.md).
OUTBOUND_ASSISTANTS = _array_of({"type": "object", "required": ["id", "name"], "properties": {"id": INT,
                                                                                          "name": STR}})
