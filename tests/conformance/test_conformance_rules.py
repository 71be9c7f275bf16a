"""Every validation rule of API.md, in both create dialects, and the platform rules (422, dotted keys)."""
from __future__ import annotations

import pytest

from conformance_client import ApiError, PlatformClient
from conformance_fixtures import api  # noqa: F401 (pytest fixtures)
from conformance_bodies import v1_body, v2_body



def refused(api: PlatformClient, body: dict, assistant_id: int | None = None) -> dict:
    with pytest.raises(ApiError) as info:
        api.create(body) if assistant_id is None else api.update(assistant_id, body)
    assert info.value.status == 422, info.value
    assert info.value.body["message"] == "Validation failed"
    return info.value.body["errors"]


# (field overrides, the error key) for a v1 body.
V1_CASES = [
    ({"assistant_name": "x" * 256}, "assistant_name"),
    ({"assistant_name": 5}, "assistant_name"),
    ({"voice_id": "one"}, "voice_id"),
    ({"voice_id": 999}, "voice_id"),
    ({"language": "Klingon"}, "language"),
    ({"language": "x" * 101}, "language"),
    ({"llm_model": "no-such-model"}, "llm_model"),
    ({"llm_model": "x" * 101}, "llm_model"),
    ({"calls_direction": "inbound"}, "calls_direction"),
    ({"engine_type": "dualplex"}, "engine_type"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"initial_message": 3}, "initial_message"),
    ({"system_prompt": ["x"]}, "system_prompt"),
    ({"phone_number_id": 90}, "phone_number_id"),           # the other tenant's number
    ({"phone_number_id": 12345}, "phone_number_id"),
    ({"tool_ids": "1,2"}, "tool_ids"),
    ({"tool_ids": [1, "x"]}, "tool_ids.1"),
    ({"endpoint_type": "manual"}, "endpoint_type"),
    ({"endpoint_sensitivity": 5.5}, "endpoint_sensitivity"),
    ({"interrupt_sensitivity": -1}, "interrupt_sensitivity"),
    ({"ambient_sound_volume": 1.5}, "ambient_sound_volume"),
    ({"post_call_evaluation": "yes"}, "post_call_evaluation"),
    ({"send_webhook_only_on_completed": 2}, "send_webhook_only_on_completed"),
    ({"include_recording_in_webhook": "no"}, "include_recording_in_webhook"),
    ({"is_webhook_active": True}, "webhook_url"),
    ({"webhook_url": "not a url"}, "webhook_url"),
    ({"use_min_interrupt_words": "sometimes"}, "use_min_interrupt_words"),
    ({"min_interrupt_words": 11}, "min_interrupt_words"),
    ({"min_interrupt_words": 1.5}, "min_interrupt_words"),
    ({"variables": "k=v"}, "variables"),
    ({"post_call_schema": {"name": "x"}}, "post_call_schema"),
    ({"post_call_schema": [{"type": "string", "description": "d"}]}, "post_call_schema.0.name"),
    ({"post_call_schema": [{"name": "a-b", "type": "string", "description": "d"}]}, "post_call_schema.0.name"),
    ({"post_call_schema": [{"name": "ok", "type": "text", "description": "d"}]}, "post_call_schema.0.type"),
    ({"post_call_schema": [{"name": "ok", "type": "string"}]}, "post_call_schema.0.description"),
    ({"end_call_tool": {"description": "x" * 501}}, "end_call_tool.description"),
    ({"end_call_tool": "bye"}, "end_call_tool"),
    ({"llm_temperature": 1.01}, "llm_temperature"),
    ({"voice_stability": -0.1}, "voice_stability"),
    ({"voice_similarity": 2}, "voice_similarity"),
    ({"speech_speed": 0.6}, "speech_speed"),
    ({"speech_speed": 1.25}, "speech_speed"),
    ({"allow_interruptions": "off"}, "allow_interruptions"),
    ({"filler_audios": "x"}, "filler_audios"),
    ({"end_call_on_voicemail": "x"}, "end_call_on_voicemail"),
    ({"noise_cancellation": "x"}, "noise_cancellation"),
    ({"record_call": "x"}, "record_call"),
    ({"re_engagement_interval": 6}, "re_engagement_interval"),
    ({"re_engagement_interval": 601}, "re_engagement_interval"),
    ({"max_call_duration": 19}, "max_call_duration"),
    ({"max_call_duration": 1201}, "max_call_duration"),
    ({"max_silence_duration": 0}, "max_silence_duration"),
    ({"max_silence_duration": 121}, "max_silence_duration"),   # v1: 1 to 120
    ({"who_speaks_first": "customer"}, "who_speaks_first"),
]


@pytest.mark.parametrize("overrides, key", V1_CASES, ids=[k for _, k in V1_CASES])
def test_v1_rules(api, overrides, key):
    errors = refused(api, v1_body(**overrides))
    assert list(errors) == [key], errors
    assert api.list_all() == []


def test_v1_boundaries_are_accepted(api):
    api.create(v1_body(speech_speed=0.7, llm_temperature=0, voice_stability=1, endpoint_sensitivity=5,
                       re_engagement_interval=7, max_call_duration=1200, max_silence_duration=120,
                       min_interrupt_words=10, assistant_name="x" * 255, end_call_tool={"description": "x" * 500},
                       post_call_schema=[{"name": "Mixed_Case_1", "type": "bool", "description": "d"}]))


V2_CASES = [
    ({"name": ""}, "name"),
    ({"language_id": 999}, "language_id"),
    ({"language_id": "English"}, "language_id"),
    ({"type": "receive"}, "type"),
    ({"mode": "hybrid"}, "mode"),
    ({"llm_model_id": ...}, "llm_model_id"),
    ({"llm_model_id": 21}, "llm_model_id"),                    # a multimodal model is not an llm
    ({"initial_message": "x" * 201}, "initial_message"),
    ({"max_silence_duration": 361}, "max_silence_duration"),   # v2: 1 to 360
    ({"fillers": "y"}, "fillers"),
    ({"record": "y"}, "record"),
    ({"max_duration": 10}, "max_duration"),
    ({"reengagement_interval": 700}, "reengagement_interval"),
    ({"enable_noise_cancellation": "y"}, "enable_noise_cancellation"),
    ({"wait_for_customer": "Customer"}, "wait_for_customer"),
    ({"secondary_language_ids": [1, 999]}, "secondary_language_ids.1"),
    ({"knowledgebase_mode": "rag"}, "knowledgebase_mode"),
    ({"tools": [{"type": "teleport"}]}, "tools.0.type"),
    ({"tools": [{"description": "no type"}]}, "tools.0.type"),
    ({"tools": [{"type": "call_transfer", "description": "x"}]}, "tools.0.phone_number"),
    ({"tools": [{"type": "warm_call_transfer", "supervisor_phone": "+1", "description": "d"}]},
     "tools.0.outbound_phone_id"),
    ({"tools": [{"type": "warm_call_transfer", "outbound_phone_id": 45, "description": "d"}]},
     "tools.0.supervisor_phone"),
    ({"tools": [{"type": "warm_call_transfer", "outbound_phone_id": 45, "supervisor_phone": "+1"}]},
     "tools.0.description"),
    ({"tools": [{"type": "collect_keypad", "timeout": 31}]}, "tools.0.timeout"),
    ({"tools": [{"type": "collect_keypad", "timeout": 0}]}, "tools.0.timeout"),
    ({"tools": [{"type": "collect_keypad", "stop_key": "0"}]}, "tools.0.stop_key"),
    ({"tools": [{"type": "calendar_integration", "calcom_event_slug": "demo"}]}, "tools.0.calcom_api_key"),
    ({"tools": [{"type": "calendar_integration", "calcom_api_key": "k"}]}, "tools.0.calcom_event_slug"),
    ({"tools": [{"type": "end_call", "description": "x" * 501}]}, "tools.0.description"),
    ({"tts_emotion_enabled": "y"}, "tts_emotion_enabled"),
    ({"synthesizer_provider_id": 999}, "synthesizer_provider_id"),
    ({"transcriber_provider_id": 999}, "transcriber_provider_id"),
    ({"turn_detection_threshold": 1.5}, "turn_detection_threshold"),
    ({"filler_config": ["um"]}, "filler_config"),
    ({"filler_config": {"positive": "Great"}}, "filler_config.positive"),
    ({"filler_config": {"question": ["ok", 3]}}, "filler_config.question.1"),
    ({"max_initial_silence_duration": 121}, "max_initial_silence_duration"),
    ({"ringing_time": 61}, "ringing_time"),
    ({"ringing_time": 0}, "ringing_time"),
    ({"reengagement_prompt": "x" * 1001}, "reengagement_prompt"),
    ({"voice_mail_message": "x" * 1001}, "voice_mail_message"),
    ({"ambient_sound": "jungle"}, "ambient_sound"),
    ({"conversation_inactivity_timeout": 1441}, "conversation_inactivity_timeout"),
    ({"conversation_ended_retrigger": "y"}, "conversation_ended_retrigger"),
    ({"conversation_ended_webhook_url": "ftp:/x"}, "conversation_ended_webhook_url"),
    ({"post_call_schema": [{"name": "ab", "type": "string", "description": "long enough"}]},
     "post_call_schema.0.name"),                                  # v2: 3 to 16 characters
    ({"post_call_schema": [{"name": "a" * 17, "type": "string", "description": "long enough"}]},
     "post_call_schema.0.name"),
    ({"post_call_schema": [{"name": "Upper", "type": "string", "description": "long enough"}]},
     "post_call_schema.0.name"),                                  # v2: lowercase only
    ({"post_call_schema": [{"name": "fine", "type": "string", "description": "ab"}]},
     "post_call_schema.0.description"),                           # v2: 3 to 255
]


@pytest.mark.parametrize("overrides, key", V2_CASES, ids=[k for _, k in V2_CASES])
def test_v2_rules(api, overrides, key):
    errors = refused(api, v2_body(api, **overrides))
    assert list(errors) == [key], errors
    assert api.list_all() == []


def test_v2_accepts_every_documented_tool(api):
    tools = [
        {"type": "call_transfer", "phone_number": "+14155550000", "description": "d", "custom": "x",
         "timezone": "America/Chicago", "warm_transfer": True, "warm_transfer_message": "Hi"},
        {"type": "warm_call_transfer", "supervisor_phone": "+14155550001", "outbound_phone_id": 45,
         "description": "Supervisor"},
        {"type": "end_call", "description": "Bye"},
        {"type": "dtmf_input", "description": "Keys"},
        {"type": "collect_keypad", "timeout": 30, "stop_key": "*"},
        {"type": "calendar_integration", "calcom_api_key": "cal_live_x", "calcom_event_slug": "demo"},
    ]
    api.create(v2_body(api, tools=tools, initial_message="x" * 200, max_silence_duration=360,
                       filler_config={"positive": ["Great"], "negative": [], "question": ["Hmm"], "neutral": ["Ok"]},
                       post_call_schema=[{"name": "abc_123", "type": "number", "description": "abc"}]))
    [item] = api.list_all()
    assert item["tools"] == tools


def test_v2_model_required_per_mode(api):
    assert "multimodal_model_id" in refused(api, v2_body(api, mode="multimodal", voice_id=11))
    assert "multimodal_model_id" in refused(api, v2_body(api, mode="dualplex", voice_id=21))
    # A dualplex mode needs a dualplex model, not a multimodal one.
    assert "multimodal_model_id" in refused(api, v2_body(api, mode="dualplex", voice_id=21, llm_model_id=...,
                                                         multimodal_model_id=21))


# --- platform rules, in both dialects ---

@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_the_voice_must_suit_the_mode(api, dialect):
    body = v1_body(voice_id=11) if dialect == "v1" else v2_body(api, voice_id=21)
    errors = refused(api, body)
    assert list(errors) == ["voice_id"]
    assert "not compatible with the chosen engine type" in errors["voice_id"][0]


def test_multimodal_v1_resolves_llm_model_against_multimodal_models(api):
    api.create(v1_body(engine_type="multimodal", voice_id=11, llm_model="gpt-4o-realtime"))
    api.create(v1_body(engine_type="multimodal", voice_id=12, llm_model="gpt-4o-mini-realtime-preview",
                       assistant_name="By code"))
    assert [(a["multimodal_model_id"], a["llm_model_id"]) for a in api.list_all()] == [(21, None), (22, None)]
    assert list(refused(api, v1_body(engine_type="multimodal", voice_id=11, llm_model="gpt-4o"))) == ["llm_model"]
    assert list(refused(api, v1_body(llm_model="gpt-4o-realtime"))) == ["llm_model"]


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_fillers_only_in_pipeline(api, dialect):
    body = (v1_body(engine_type="multimodal", voice_id=11, llm_model="gpt-4o-realtime", filler_audios=True)
            if dialect == "v1" else
            v2_body(api, mode="multimodal", voice_id=11, llm_model_id=..., multimodal_model_id=21, fillers=True))
    assert list(refused(api, body)) == ["filler_audios" if dialect == "v1" else "fillers"]


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_interruptions_cannot_be_turned_off_outside_pipeline(api, dialect):
    body = (v1_body(engine_type="multimodal", voice_id=11, llm_model="gpt-4o-realtime", allow_interruptions=False)
            if dialect == "v1" else
            v2_body(api, mode="dualplex", voice_id=21, llm_model_id=..., multimodal_model_id=31,
                    allow_interruptions=False))
    assert list(refused(api, body)) == ["allow_interruptions"]
    api.create(v1_body(allow_interruptions=False))     # pipeline may


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_an_inbound_number_is_neither_a_caller_id_nor_another_inbounds(api, dialect):
    def inbound(number_id, name):
        return (v1_body(calls_direction="receive", phone_number_id=number_id, assistant_name=name)
                if dialect == "v1" else v2_body(api, type="inbound", phone_number_id=number_id, name=name))

    assert list(refused(api, inbound(46, "Caller ID"))) == ["phone_number_id"]
    first = api.create(inbound(45, "First"))["data"]
    assert list(refused(api, inbound(45, "Second"))) == ["phone_number_id"]
    # Outbound assistants may use any of the tenant's numbers, caller IDs and held ones included.
    api.create(v1_body(phone_number_id=45, assistant_name="Out"))
    api.create(v1_body(phone_number_id=46, assistant_name="Out 2"))
    # The holder keeps its number through updates; once it lets go, another inbound may take it.
    api.update(first["id"], {"system_prompt": "still mine", "phone_number_id": 45})
    api.update(first["id"], {"phone_number_id": None})
    api.create(inbound(45, "Second"))


def test_knowledgebase_mode_rules(api):
    kb = api.create_knowledgebase()["id"]
    prompt_in_multimodal = v2_body(api, mode="multimodal", voice_id=11, llm_model_id=..., multimodal_model_id=21,
                                   knowledgebase_id=kb, knowledgebase_mode="prompt")
    assert list(refused(api, prompt_in_multimodal)) == ["knowledgebase_mode"]
    missing = {**prompt_in_multimodal, "knowledgebase_mode": None}
    assert list(refused(api, missing)) == ["knowledgebase_mode"]
    api.create({**prompt_in_multimodal, "knowledgebase_mode": "function_call"})
    api.create(v2_body(api, knowledgebase_id=kb, knowledgebase_mode="prompt", name="Pipeline KB"))


def test_transcriber_is_pipeline_only_and_synthesizer_not_multimodal(api):
    body = v2_body(api, mode="multimodal", voice_id=11, llm_model_id=..., multimodal_model_id=21)
    assert list(refused(api, {**body, "transcriber_provider_id": 1})) == ["transcriber_provider_id"]
    assert list(refused(api, {**body, "synthesizer_provider_id": 1})) == ["synthesizer_provider_id"]
    api.create(v2_body(api, mode="dualplex", voice_id=21, llm_model_id=..., multimodal_model_id=31,
                       synthesizer_provider_id=1))


def test_update_validates_like_create(api):
    created = api.create(v1_body())["data"]
    assert list(refused(api, {"speech_speed": 5, "system_prompt": "x"}, created["id"])) == ["speech_speed"]
    assert list(refused(api, {"assistant_name": None}, created["id"])) == ["assistant_name"]
    assert list(refused(api, {"voice_id": 11}, created["id"])) == ["voice_id"]
    assert list(refused(api, {"is_webhook_active": True}, created["id"])) == ["webhook_url"]
    [item] = api.list_all()
    assert item["system_prompt"] == "Be helpful." and item["speech_speed"] == "1.00"


def test_laravel_wording(api):
    errors = refused(api, v1_body(assistant_name=..., speech_speed=2, calls_direction="x", timezone="Nowhere",
                                  webhook_url="nope", max_call_duration="long", is_webhook_active="maybe"))
    assert errors["assistant_name"] == ["The assistant name field is required."]
    assert errors["speech_speed"] == ["The speech speed field must be between 0.7 and 1.2."]
    assert errors["calls_direction"] == ["The selected calls direction is invalid."]
    assert errors["timezone"] == ["The timezone field must be a valid timezone."]
    assert errors["webhook_url"] == ["The webhook url field must be a valid URL."]
    assert errors["max_call_duration"] == ["The max call duration field must be an integer."]
    assert errors["is_webhook_active"] == ["The is webhook active field must be true or false."]
