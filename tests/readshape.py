"""API.md's read shape, written out for tests from the document (not from provisioner.wire).

`item(fields)` is how the platform lists an assistant whose settings, in the
manifest's words with the documented defaults filled in, are `fields`.
"""
from __future__ import annotations

from decimal import Decimal

LANGUAGES = [{"id": 1, "name": "English", "iso_2": "en"}, {"id": 2, "name": "Spanish", "iso_2": "es"},
             {"id": 3, "name": "French", "iso_2": "fr"}, {"id": 5, "name": "German", "iso_2": "de"}]
MODELS = {"llm": [{"id": 11, "name": "gpt-4o"}, {"id": 12, "name": "gpt-4o-mini"}, {"id": 13, "name": "m1"},
                  {"id": 14, "name": "m2"}, {"id": 15, "name": "x"}],
          "multimodal": [{"id": 21, "name": "gpt-4o-realtime", "code": "gpt-4o-realtime-preview"}],
          "dualplex": [{"id": 31, "name": "gemini-live", "code": "gemini-2.5-flash-live"}]}

DEFAULTS = {
    "post_call_evaluation": True, "send_webhook_only_on_completed": True, "include_recording_in_webhook": True,
    "noise_cancellation": True, "end_call_on_voicemail": True, "allow_interruptions": True, "filler_audios": False,
    "record_call": False, "is_webhook_active": False, "who_speaks_first": "AI assistant", "endpoint_type": "vad",
    "llm_temperature": 0.10, "voice_stability": 0.70, "voice_similarity": 0.50, "speech_speed": 1.00,
    "endpoint_sensitivity": 0.5, "interrupt_sensitivity": 0.5, "ambient_sound_volume": 0.5,
    "max_call_duration": 600, "max_silence_duration": 40, "re_engagement_interval": 30,
}


def decimal_string(value: float) -> str:
    text = format(Decimal(str(value)), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def item(fields: dict, *, id: int = 1, model_type_of=None) -> dict:
    f = {**DEFAULTS, **fields}
    language = next(lang for lang in LANGUAGES if lang["name"] == f["language"])
    mode = f["engine_type"]
    kind = {"pipeline": "llm"}.get(mode, mode)
    model = next((m for m in MODELS[kind] if m["name"] == f["llm_model"]), None)
    tools = [{"type": "end_call", **f["end_call_tool"]}] if f.get("end_call_tool") else []
    return {
        "id": id, "uuid": f"uuid-{id}", "user_id": 1, "status": "active", "name": f["assistant_name"],
        "voice_id": f["voice_id"], "language": language["iso_2"], "language_id": language["id"],
        "llm_model_id": model["id"] if model and mode == "pipeline" else None,
        "multimodal_model_id": model["id"] if model and mode != "pipeline" else None,
        "type": {"receive": "inbound", "make": "outbound"}[f["calls_direction"]], "mode": mode,
        "timezone": f["timezone"], "initial_message": f["initial_message"], "system_prompt": f["system_prompt"],
        "phone_number_id": f.get("phone_number_id"), "variables": f.get("variables") or {},
        "post_call_evaluation": f["post_call_evaluation"], "is_webhook_active": f["is_webhook_active"],
        "webhook_url": f.get("webhook_url"), "send_webhook_only_on_completed": f["send_webhook_only_on_completed"],
        "include_recording_in_webhook": f["include_recording_in_webhook"],
        "allow_interruptions": f["allow_interruptions"], "endpoint_type": f["endpoint_type"],
        "max_silence_duration": f["max_silence_duration"], "min_interrupt_words": f.get("min_interrupt_words"),
        "endpoint_sensitivity": f["endpoint_sensitivity"], "interrupt_sensitivity": f["interrupt_sensitivity"],
        **{k: decimal_string(f[k]) for k in ("llm_temperature", "voice_stability", "voice_similarity",
                                             "speech_speed", "ambient_sound_volume")},
        "fillers": 1 if f["filler_audios"] else 0, "end_call_on_voicemail": 1 if f["end_call_on_voicemail"] else 0,
        "enable_noise_cancellation": f["noise_cancellation"], "reengagement_interval": f["re_engagement_interval"],
        "wait_for_customer": f["who_speaks_first"] == "Customer", "max_duration": f["max_call_duration"],
        "record": f["record_call"], "tools": tools,
        "post_call_schema": [{**p, "type": "boolean" if p["type"] == "bool" else p["type"]}
                             for p in f.get("post_call_schema") or []],
        "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z",
        "deleted_at": None, "widget_settings": None, "inbound_webhook_url": None, "engine_id": 3,
    }
