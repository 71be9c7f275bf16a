"""API.md's examples and tables, replayed against the emulator over HTTP at its /api base URL.

Everything here is written from the shared API.md; the client is plain httpx (conformance_client.py).
"""
from __future__ import annotations

import time

import httpx
import pytest

from conformance_bodies import v1_body, v2_body
from conformance_client import TOKEN, ApiError, PlatformClient
from conformance_fixtures import api, other  # noqa: F401 (pytest fixtures)



def only(api: PlatformClient) -> dict:
    [item] = api.list_all()
    return item


def errors_of(call) -> dict:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.status == 422, info.value
    assert info.value.body["message"] == "Validation failed"
    return info.value.body["errors"]


# --- the base URL and the catalogues ---

def test_the_api_is_served_under_api_and_not_at_the_root(platform):
    assert platform.url.endswith("/api")
    root = platform.url[: -len("/api")]
    ok = httpx.get(platform.url + "/user/assistants/languages", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    missing = httpx.get(root + "/user/assistants/languages", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 404


def test_languages_example_german_is_id_5_with_iso_2_de(api, platform):
    raw = httpx.get(platform.url + "/user/assistants/languages", headers={"Authorization": f"Bearer {TOKEN}"})
    assert isinstance(raw.json(), list), "catalogues answer bare JSON arrays"
    assert {"id": 5, "name": "German", "iso_2": "de"} in api.languages()


def test_voices_are_filtered_by_mode_including_dualplex(api):
    pipeline = {v["name"] for v in api.voices("pipeline")}
    multimodal = {v["name"] for v in api.voices("multimodal")}
    dualplex = {v["name"] for v in api.voices("dualplex")}
    assert {"Sarah", "James", "Maria", "Aiko"} <= pipeline
    assert {"Nova", "Echo"} <= multimodal and {"Orion", "Lyra"} <= dualplex
    assert not (pipeline & multimodal) and not (multimodal & dualplex) and not (pipeline & dualplex)
    assert all({"id", "name"} <= set(v) for v in api.voices("pipeline"))


def test_voices_can_be_filtered_by_language(api):
    spanish = api.language_id("Spanish")
    names = {v["name"] for v in api.voices("pipeline", language_id=spanish)}
    assert "Maria" in names and "Aiko" not in names


def test_models_per_type(api):
    assert {"id": 11, "name": "gpt-4o"} in api.models("llm")
    assert all(set(m) == {"id", "name"} for m in api.models("llm"))
    assert {"id": 21, "name": "gpt-4o-realtime", "code": "gpt-4o-realtime-preview"} in api.models("multimodal")
    assert {"id": 31, "name": "gemini-live", "code": "gemini-2.5-flash-live"} in api.models("dualplex")


def test_providers(api):
    providers = api.synthesizer_providers()
    assert providers and all({"id", "name", "code"} <= set(p) for p in providers)
    japanese = api.language_id("Japanese")
    assert len(api.synthesizer_providers(japanese)) < len(providers)
    assert api.transcriber_providers() and all({"id", "name", "code"} <= set(p) for p in api.transcriber_providers())


def test_phone_numbers_inbound_lists_only_numbers_an_inbound_assistant_may_take(api):
    everything = api.phone_numbers()
    assert {n["id"] for n in everything} == {45, 46, 47}
    assert {n["id"] for n in api.phone_numbers("outbound")} == {45, 46, 47}
    assert {n["id"] for n in api.phone_numbers("inbound")} == {45, 47}     # 46 is a caller-ID number
    assert all(n["is_available"] is True for n in everything)
    api.create(v1_body(calls_direction="receive", phone_number_id=45))
    assert {n["id"] for n in api.phone_numbers("inbound")} == {47}
    held = next(n for n in api.phone_numbers("outbound") if n["id"] == 45)
    assert held["is_available"] is False


# --- errors, tenants, rate-limit headers ---

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}])
@pytest.mark.parametrize("method, path", [("GET", "/user/assistants/get"), ("POST", "/user/assistant"),
                                          ("PUT", "/user/assistant/999999"), ("DELETE", "/user/assistant/1"),
                                          ("GET", "/user/assistants/voices")])
def test_a_missing_or_unknown_token_answers_401_invalid_api_key_never_404(platform, headers, method, path):
    response = httpx.request(method, platform.url + path, headers=headers, json={})
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "Invalid API key" and isinstance(body["message"], str) and body["message"]


def test_another_users_assistant_answers_404_saying_it_does_not_belong_to_the_user(api, other):
    created = api.create(v1_body())["data"]
    for call in (lambda: other.update(created["id"], {"assistant_name": "Mine"}),
                 lambda: other.delete(created["id"])):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.status == 404
        assert "does not belong to the authenticated user" in info.value.body["message"]
    assert other.list_all() == [] and len(api.list_all()) == 1


def test_a_missing_assistant_answers_404(api):
    for call in (lambda: api.update(424242, {"assistant_name": "x"}), lambda: api.delete(424242)):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.status == 404 and "message" in info.value.body


def test_validation_error_shape_with_dotted_nested_keys(api):
    errors = errors_of(lambda: api.create(v1_body(post_call_schema=[{"name": "bad name!", "type": "string",
                                                                      "description": "d"}])))
    assert list(errors) == ["post_call_schema.0.name"]
    assert all(isinstance(m, str) for m in errors["post_call_schema.0.name"])


def test_every_answer_carries_the_rate_limit_headers(platform, api):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = api.create(v1_body())["data"]
    answers = [
        httpx.get(platform.url + "/user/assistants/get", headers=auth),                      # 200
        httpx.post(platform.url + "/user/assistant", headers=auth, json=v1_body(assistant_name="B")),  # 201
        httpx.put(platform.url + f"/user/assistant/{created['id']}", headers=auth, json={"speech_speed": 9}),  # 422
        httpx.delete(platform.url + "/user/assistant/999999", headers=auth),                 # 404
        httpx.get(platform.url + "/user/assistants/get"),                                    # 401
        httpx.get(platform.url + "/user/no-such-route", headers=auth),                      # 404 route
    ]
    assert [a.status_code for a in answers] == [200, 201, 422, 404, 401, 404]
    now = time.time()
    for answer in answers:
        limit = int(answer.headers["X-RateLimit-Limit"])
        remaining = int(answer.headers["X-RateLimit-Remaining"])
        reset = int(answer.headers["X-RateLimit-Reset"])
        assert limit > 0 and 0 <= remaining <= limit
        assert now - 5 <= reset <= now + 24 * 3600, "the reset is in epoch seconds"


def test_429_body_with_retry_after_and_no_retry_after_header(platform, api):
    platform.faults(rate_limit="3/60s")
    for _ in range(3):
        api.languages()
    response = httpx.get(platform.url + "/user/assistants/languages", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "Rate limit exceeded" and isinstance(body["message"], str)
    assert isinstance(body["retry_after"], int) and 1 <= body["retry_after"] <= 60
    assert "Retry-After" not in response.headers
    assert response.headers["X-RateLimit-Remaining"] == "0" and response.headers["X-RateLimit-Limit"] == "3"


def test_unknown_routes_answer_404_in_laravels_words(platform):
    response = httpx.get(platform.url + "/user/nothing-here", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert response.json() == {"message": "The route api/user/nothing-here could not be found."}


# --- create: both dialects, responses ---

def test_create_v2_answers_201_inactive_as_in_the_example(api, platform):
    response = httpx.post(platform.url + "/user/assistant", json=v2_body(api),
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Assistant created successfully"
    assert set(body["data"]) == {"id", "name", "status", "type", "mode"}
    assert body["data"]["status"] == "inactive" and body["data"]["type"] == "outbound"
    assert body["data"]["mode"] == "pipeline" and body["data"]["name"] == "Support"


def test_create_v1_starts_active(api):
    data = api.create(v1_body(calls_direction="receive"))["data"]
    assert data["status"] == "active" and data["type"] == "inbound" and data["mode"] == "pipeline"


def test_unknown_fields_are_ignored(api):
    api.create(v1_body(colour="red", nested={"a": 1}))
    assert "colour" not in only(api)


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_required_fields(api, dialect):
    errors = errors_of(lambda: api.create({"assistant_name": "x"} if dialect == "v1" else {"name": "x"}))
    expected = ({"voice_id", "language", "llm_model", "calls_direction", "engine_type", "timezone",
                 "initial_message", "system_prompt"} if dialect == "v1" else
                {"voice_id", "language_id", "type", "mode", "timezone", "initial_message", "system_prompt"})
    assert expected <= set(errors)
    assert all(m == [f"The {k.replace('_', ' ')} field is required."] for k, m in errors.items() if k in expected)


# --- the read shape ---

def test_read_shape_of_a_v1_create(api):
    tool_ids = [api.create_tool()["id"], api.create_tool(name="book_table")["id"]]
    api.create(v1_body(
        language="German", filler_audios=True, end_call_on_voicemail=False, noise_cancellation=False,
        re_engagement_interval=45, who_speaks_first="Customer", max_call_duration=300, record_call=True,
        end_call_tool={"description": "Say goodbye"}, speech_speed=1.1, voice_stability=0.7, llm_temperature=0.125,
        voice_similarity=1, ambient_sound_volume=0.33, endpoint_sensitivity=3, interrupt_sensitivity=1.5,
        post_call_schema=[{"name": "happy", "type": "bool", "description": "Was the customer happy?"}],
        variables={"company": "ACME"}, phone_number_id=47, min_interrupt_words=2, use_min_interrupt_words=True,
        tool_ids=tool_ids, is_webhook_active=True, webhook_url="https://hooks.example.com/x", max_silence_duration=90))
    item = only(api)
    assert item["name"] == "Sales"
    assert item["language"] == "de" and item["language_id"] == 5
    assert item["llm_model_id"] == 11 and item["multimodal_model_id"] is None
    assert item["type"] == "outbound" and item["mode"] == "pipeline"
    assert item["fillers"] == 1 and item["end_call_on_voicemail"] == 0
    assert item["enable_noise_cancellation"] is False
    assert item["reengagement_interval"] == 45 and item["max_duration"] == 300 and item["record"] is True
    assert item["wait_for_customer"] is True
    assert item["tools"] == [{"type": "end_call", "description": "Say goodbye"}]
    assert item["speech_speed"] == "1.10" and item["voice_stability"] == "0.70"
    assert item["llm_temperature"] == "0.125" and item["voice_similarity"] == "1.00"
    assert item["ambient_sound_volume"] == "0.33"
    assert item["endpoint_sensitivity"] == 3 and item["interrupt_sensitivity"] == 1.5
    assert item["post_call_schema"] == [{"name": "happy", "type": "boolean", "description": "Was the customer happy?"}]
    assert item["variables"] == {"company": "ACME"} and item["phone_number_id"] == 47
    assert item["min_interrupt_words"] == 2 and item["max_silence_duration"] == 90
    assert item["is_webhook_active"] is True and item["webhook_url"] == "https://hooks.example.com/x"
    for write_only in ("use_min_interrupt_words", "tool_ids", "assistant_name", "llm_model", "end_call_tool"):
        assert write_only not in item
    for owned in ("id", "uuid", "user_id", "status", "instance_id", "engine_id", "synthesizer_id", "transcriber_id",
                  "flows_platform_id", "created_at", "updated_at", "deleted_at", "widget_settings",
                  "inbound_webhook_url"):
        assert owned in item
    assert item["user_id"] == 1 and item["deleted_at"] is None


def test_read_shape_of_a_v2_create_with_v2_settings(api):
    kb = api.create_knowledgebase()["id"]
    body = v2_body(
        api, mode="dualplex", voice_id=21, llm_model_id=..., multimodal_model_id=api.model_id("dualplex", "gemini-live"),
        type="inbound", phone_number_id=45, fillers=False, record=True, max_duration=900, reengagement_interval=60,
        enable_noise_cancellation=False, wait_for_customer=True, secondary_language_ids=[2, 3],
        knowledgebase_id=kb, knowledgebase_mode="function_call",
        tools=[{"type": "end_call", "description": "Bye"},
               {"type": "call_transfer", "phone_number": "+14155550000", "description": "To sales"},
               {"type": "collect_keypad", "timeout": 10, "stop_key": "#"}],
        tts_emotion_enabled=False, synthesizer_provider_id=1, chat_llm_fallback_id=12,
        turn_detection_threshold=0.4, max_initial_silence_duration=15, ringing_time=20,
        reengagement_prompt="Still there?", voice_mail_message="Call me back", ambient_sound="office",
        conversation_inactivity_timeout=60, conversation_ended_retrigger=True,
        conversation_ended_webhook_url="https://hooks.example.com/ended", max_silence_duration=300)
    api.create(body)
    item = only(api)
    assert item["mode"] == "dualplex" and item["multimodal_model_id"] == 31 and item["llm_model_id"] is None
    assert item["type"] == "inbound" and item["phone_number_id"] == 45
    assert item["fillers"] == 0 and item["record"] is True and item["max_duration"] == 900
    assert item["wait_for_customer"] is True and item["enable_noise_cancellation"] is False
    assert item["tools"] == body["tools"]
    assert item["knowledgebase_id"] == kb and item["knowledgebase_mode"] == "function_call"
    assert item["synthesizer_provider_id"] == 1 and item["ambient_sound"] == "office"
    assert item["max_initial_silence_duration"] == 15 and item["ringing_time"] == 20
    assert item["conversation_ended_retrigger"] is True
    assert item["conversation_ended_webhook_url"] == "https://hooks.example.com/ended"
    assert item["max_silence_duration"] == 300 and item["language"] == "en"
    for write_only in ("secondary_language_ids", "tts_emotion_enabled", "chat_llm_fallback_id",
                       "turn_detection_threshold", "reengagement_prompt", "voice_mail_message",
                       "conversation_inactivity_timeout"):
        assert write_only not in item


# API.md's defaults table, as each reads back (the decimal ones as decimal strings).
READ_DEFAULTS = {
    "post_call_evaluation": True, "send_webhook_only_on_completed": True, "include_recording_in_webhook": True,
    "enable_noise_cancellation": True, "end_call_on_voicemail": 1, "allow_interruptions": True, "fillers": 0,
    "record": False, "is_webhook_active": False, "wait_for_customer": False, "endpoint_type": "vad",
    "llm_temperature": "0.10", "voice_stability": "0.70", "voice_similarity": "0.50", "speech_speed": "1.00",
    "endpoint_sensitivity": 0.5, "interrupt_sensitivity": 0.5, "ambient_sound_volume": "0.50",
    "max_duration": 600, "max_silence_duration": 40, "reengagement_interval": 30, "ringing_time": 30,
    "conversation_ended_retrigger": False,
}
NO_DEFAULT = ("min_interrupt_words", "phone_number_id", "webhook_url", "knowledgebase_id", "knowledgebase_mode",
              "filler_config", "ambient_sound", "synthesizer_provider_id", "transcriber_provider_id",
              "max_initial_silence_duration", "conversation_ended_webhook_url")


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_the_defaults_table(api, dialect):
    api.create(v1_body() if dialect == "v1" else v2_body(api))
    item = only(api)
    assert {k: item[k] for k in READ_DEFAULTS} == READ_DEFAULTS
    for field in NO_DEFAULT:
        assert item[field] is None, field
    assert item["tools"] == [] and item["post_call_schema"] == [] and item["variables"] in ({}, [])


# --- update and delete ---

def test_update_changes_only_what_is_sent_and_answers_like_create(api):
    created = api.create(v1_body(record_call=True, speech_speed=0.8))["data"]
    answer = api.update(created["id"], {"system_prompt": "New prompt"})
    assert answer["message"] == "Assistant updated successfully"
    assert answer["data"] == {**created, "status": created["status"]}
    item = only(api)
    assert item["system_prompt"] == "New prompt" and item["record"] is True and item["speech_speed"] == "0.80"
    assert item["initial_message"] == "Hi!"


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_update_takes_either_dialect(api, dialect):
    created = api.create(v1_body())["data"]
    if dialect == "v1":
        api.update(created["id"], {"assistant_name": "Renamed", "filler_audios": True, "calls_direction": "receive",
                                   "who_speaks_first": "Customer", "max_call_duration": 100})
    else:
        api.update(created["id"], {"name": "Renamed", "fillers": True, "type": "inbound",
                                   "wait_for_customer": True, "max_duration": 100})
    item = only(api)
    assert (item["name"], item["fillers"], item["type"], item["wait_for_customer"], item["max_duration"]) == \
        ("Renamed", 1, "inbound", True, 100)


def test_null_clears_and_arrays_and_objects_are_replaced_whole(api):
    tool_ids = [api.create_tool()["id"], api.create_tool(name="book_table")["id"]]
    created = api.create(v1_body(
        phone_number_id=47, is_webhook_active=False, webhook_url="https://h.example.com",
        variables={"a": "1", "b": "2"}, post_call_schema=[{"name": "x", "type": "string", "description": "d"}],
        tool_ids=tool_ids, end_call_tool={"description": "bye"}))["data"]
    api.update(created["id"], {"phone_number_id": None, "webhook_url": None, "variables": {"c": "3"},
                               "post_call_schema": []})
    item = only(api)
    assert item["phone_number_id"] is None and item["webhook_url"] is None
    assert item["variables"] == {"c": "3"} and item["post_call_schema"] == []
    api.update(created["id"], {"tools": [{"type": "dtmf_input", "description": "Keys"}]})
    assert only(api)["tools"] == [{"type": "dtmf_input", "description": "Keys"}]
    api.update(created["id"], {"tools": []})
    assert only(api)["tools"] == []


def test_v1_end_call_tool_sets_replaces_and_removes_the_end_call_item_of_tools(api):
    created = api.create(v2_body(api, tools=[{"type": "dtmf_input", "description": "Keys"}]))["data"]
    api.update(created["id"], {"end_call_tool": {"description": "First"}})
    assert only(api)["tools"] == [{"type": "dtmf_input", "description": "Keys"},
                                  {"type": "end_call", "description": "First"}]
    api.update(created["id"], {"end_call_tool": {"description": "Second"}})
    assert only(api)["tools"] == [{"type": "dtmf_input", "description": "Keys"},
                                  {"type": "end_call", "description": "Second"}]
    api.update(created["id"], {"end_call_tool": None})
    assert only(api)["tools"] == [{"type": "dtmf_input", "description": "Keys"}]


def test_changing_the_mode_resets_the_mode_specific_settings(api):
    created = api.create(v2_body(api, fillers=True, filler_config={"positive": ["Great"]},
                                 transcriber_provider_id=1, synthesizer_provider_id=1))["data"]
    # The old mode's model and fillers do not survive; the new mode's model must come with the change.
    errors = errors_of(lambda: api.update(created["id"], {"mode": "multimodal", "voice_id": 11}))
    assert "multimodal_model_id" in errors
    api.update(created["id"], {"mode": "multimodal", "voice_id": 11,
                               "multimodal_model_id": api.model_id("multimodal", "gpt-4o-realtime")})
    item = only(api)
    assert item["mode"] == "multimodal" and item["multimodal_model_id"] == 21 and item["llm_model_id"] is None
    assert item["fillers"] == 0 and item["filler_config"] is None
    assert item["transcriber_provider_id"] is None and item["synthesizer_provider_id"] is None


def test_delete_is_soft_and_hides_the_assistant(api):
    created = api.create(v1_body())["data"]
    assert api.delete(created["id"]) == {"message": "Assistant deleted successfully"}
    assert api.list_all() == []
    with pytest.raises(ApiError) as info:
        api.delete(created["id"])
    assert info.value.status == 404


# --- pagination ---

def test_pagination_per_page_1_to_100_default_10(api, platform):
    for i in range(23):
        api.create(v1_body(assistant_name=f"A{i:02}"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    first = httpx.get(platform.url + "/user/assistants/get", headers=auth).json()
    assert (first["per_page"], first["total"], first["last_page"], first["current_page"]) == (10, 23, 3, 1)
    assert (first["from"], first["to"], first["prev_page_url"]) == (1, 10, None)
    assert first["next_page_url"].startswith(platform.url + "/user/assistants/get?")
    last = httpx.get(first["last_page_url"], headers=auth).json()
    assert (last["current_page"], last["from"], last["to"], last["next_page_url"]) == (3, 21, 23, None)
    assert [a["name"] for a in api.list_all(per_page=7)] == [f"A{i:02}" for i in range(23)]
    assert len(api.list_all(per_page=100)) == 23
    for bad in ({"per_page": 0}, {"per_page": 101}, {"per_page": "x"}, {"page": 0}):
        response = httpx.get(platform.url + "/user/assistants/get", headers=auth, params=bad)
        assert response.status_code == 422 and response.json()["message"] == "Validation failed"
