"""Every answer of the emulator against JSON Schemas written by hand from API.md (conformance_schemas.py)."""
from __future__ import annotations

import httpx
import jsonschema
import pytest

import conformance_schemas as schemas
from conformance_bodies import v1_body, v2_body
from conformance_client import TOKEN
from conformance_fixtures import api  # noqa: F401 (pytest fixtures)



@pytest.fixture
def http(platform):
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        yield client


def check(response: httpx.Response, status: int, schema: dict) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    jsonschema.validate(body, schema)
    return body


def test_the_schemas_are_valid_schemas():
    for name in dir(schemas):
        value = getattr(schemas, name)
        if name.isupper() and isinstance(value, dict) and isinstance(value.get("type", value.get("oneOf")), (str, list)):
            jsonschema.Draft202012Validator.check_schema(value)


def test_the_read_schema_rejects_what_api_md_rules_out():
    """The schemas are strict enough to catch the usual misreadings of the read shape."""
    good = {**{k: None for k in schemas.PLATFORM_OWNED}, "id": 1, "uuid": "u", "user_id": 1, "status": "active",
            "created_at": "t", "updated_at": "t", "name": "n", "voice_id": 1, "phone_number_id": None,
            "timezone": "UTC", "initial_message": "i", "system_prompt": "s", "variables": {},
            "post_call_evaluation": True, "is_webhook_active": False, "webhook_url": None,
            "send_webhook_only_on_completed": True, "include_recording_in_webhook": True,
            "allow_interruptions": True, "endpoint_type": "vad", "max_silence_duration": 40,
            "min_interrupt_words": None, "endpoint_sensitivity": 0.5, "interrupt_sensitivity": 0.5,
            "llm_temperature": "0.10", "voice_stability": "0.70", "voice_similarity": "0.50", "speech_speed": "1.00",
            "ambient_sound_volume": "0.50", "language": "en", "language_id": 1, "llm_model_id": 11,
            "multimodal_model_id": None, "type": "outbound", "mode": "pipeline", "fillers": 0,
            "end_call_on_voicemail": 1, "enable_noise_cancellation": True, "reengagement_interval": 30,
            "wait_for_customer": False, "max_duration": 600, "record": False, "tools": [], "post_call_schema": [],
            "ringing_time": 30, "max_initial_silence_duration": None, "filler_config": None,
            "knowledgebase_id": None, "knowledgebase_mode": None, "ambient_sound": None,
            "synthesizer_provider_id": None, "transcriber_provider_id": None, "conversation_ended_retrigger": False,
            "conversation_ended_webhook_url": None}
    jsonschema.validate(good, schemas.ASSISTANT)
    for bad in ({"speech_speed": 1.0}, {"fillers": False}, {"end_call_on_voicemail": True}, {"language": "English"},
                {"tool_ids": [1]}, {"assistant_name": "n"}, {"tools": [{"data": {}}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, **bad}, schemas.ASSISTANT)


def test_page_and_read_shape(http, api):
    api.create(v1_body(end_call_tool={"description": "bye"}, post_call_schema=[
        {"name": "ok", "type": "bool", "description": "d"}], variables={"a": "b"}, phone_number_id=45,
        calls_direction="receive"))
    api.create(v2_body(api, mode="multimodal", voice_id=11, llm_model_id=..., multimodal_model_id=21,
                       tools=[{"type": "collect_keypad", "timeout": 3}], filler_config=None, ambient_sound="cafe"))
    api.create(v2_body(api, mode="dualplex", voice_id=22, llm_model_id=..., multimodal_model_id=31, name="Duo"))
    page = check(http.get("/user/assistants/get", params={"per_page": 2}), 200, schemas.PAGE)
    assert len(page["data"]) == 2 and page["next_page_url"]
    check(httpx.get(page["next_page_url"], headers=http.headers), 200, schemas.PAGE)
    empty = check(http.get("/user/assistants/get", params={"page": 50}), 200, schemas.PAGE)
    assert empty["data"] == [] and empty["from"] is None and empty["to"] is None


def test_catalogues(http):
    check(http.get("/user/assistants/voices"), 200, schemas.VOICES)
    for mode in ("pipeline", "multimodal", "dualplex"):
        assert check(http.get("/user/assistants/voices", params={"mode": mode}), 200, schemas.VOICES)
    check(http.get("/user/assistants/languages"), 200, schemas.LANGUAGES)
    assert check(http.get("/user/assistants/models", params={"type": "llm"}), 200, schemas.LLM_MODELS)
    for kind in ("multimodal", "dualplex"):
        assert check(http.get("/user/assistants/models", params={"type": kind}), 200, schemas.REALTIME_MODELS)
    assert check(http.get("/user/assistants/synthesizer-providers", params={"language_id": 1}), 200,
                 schemas.PROVIDERS)
    assert check(http.get("/user/assistants/transcriber-providers"), 200, schemas.PROVIDERS)
    for kind in (None, "inbound", "outbound"):
        params = {"type": kind} if kind else {}
        assert check(http.get("/user/assistants/phone-numbers", params=params), 200, schemas.PHONE_NUMBERS)
    check(http.get("/user/assistants/outbound"), 200, schemas.OUTBOUND_ASSISTANTS)


def test_write_answers(http, api):
    created = check(http.post("/user/assistant", json=v1_body()), 201, schemas.CREATE_ANSWER)
    check(http.post("/user/assistant", json=v2_body(api)), 201, schemas.CREATE_ANSWER)
    assistant_id = created["data"]["id"]
    check(http.put(f"/user/assistant/{assistant_id}", json={"assistant_name": "B"}), 200, schemas.UPDATE_ANSWER)
    check(http.put(f"/user/assistant/{assistant_id}", json={"name": "C"}), 200, schemas.UPDATE_ANSWER)
    check(http.delete(f"/user/assistant/{assistant_id}"), 200, schemas.DELETE_ANSWER)


def test_error_answers(http, platform):
    check(httpx.get(platform.url + "/user/assistants/get"), 401, schemas.ERROR_401)
    check(httpx.get(platform.url + "/user/assistants/get", headers={"Authorization": "Bearer x"}), 401,
          schemas.ERROR_401)
    check(http.put("/user/assistant/987654", json={}), 404, schemas.ERROR_404)
    check(http.delete("/user/assistant/987654"), 404, schemas.ERROR_404)
    check(http.get("/user/unknown"), 404, schemas.ERROR_404)
    check(http.post("/user/assistant", json={}), 422, schemas.ERROR_422)
    check(http.post("/user/assistant", json=v1_body(post_call_schema=[{"name": "a b"}])), 422, schemas.ERROR_422)
    check(http.get("/user/assistants/get", params={"per_page": 1000}), 422, schemas.ERROR_422)
    check(http.get("/user/assistants/voices", params={"mode": "x"}), 422, schemas.ERROR_422)
    platform.faults(rate_limit="1/60s")
    http.get("/user/assistants/languages")
    check(http.get("/user/assistants/languages"), 429, schemas.ERROR_429)
