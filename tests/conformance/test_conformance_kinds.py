"""What every kind shares (API.md "Other resource kinds: what they share", "Errors, tenants and rate limits"):
the token on every endpoint, the rate-limit headers on every answer and one budget per token across kinds; and
the emulator's own test endpoints for them (dashboard edits, faults per kind)."""
from __future__ import annotations

import time

import httpx
import pytest

from conformance_client import OTHER_TOKEN, TOKEN
from conformance_fixtures import admin, api, fresh, settings  # noqa: F401 (pytest fixtures)
from provisioner.emulator import EmbeddedPlatform, build_platform

# Every endpoint of API.md's table beside the assistants' (ids need not exist: the token is checked first).
ENDPOINTS = [
    ("GET", "/user/tools"), ("POST", "/user/tools"), ("GET", "/user/tools/1"), ("PUT", "/user/tools/1"),
    ("DELETE", "/user/tools/1"), ("GET", "/user/knowledgebases"), ("POST", "/user/knowledgebases"),
    ("GET", "/user/knowledgebases/1"), ("PUT", "/user/knowledgebases/1"), ("DELETE", "/user/knowledgebases/1"),
    ("GET", "/user/knowledgebases/1/documents"), ("POST", "/user/knowledgebases/1/documents"),
    ("GET", "/user/knowledgebases/1/documents/2"), ("PUT", "/user/knowledgebases/1/documents/2"),
    ("DELETE", "/user/knowledgebases/1/documents/2"), ("GET", "/user/folders"), ("GET", "/user/labels"),
    ("POST", "/user/folder"), ("POST", "/user/folders"), ("POST", "/user/label"), ("POST", "/user/labels"),
    ("PUT", "/user/folder/1"), ("PUT", "/user/folders/1"), ("PUT", "/user/label/1"), ("PUT", "/user/labels/1"),
    ("DELETE", "/user/folder/1"), ("DELETE", "/user/folders/1"), ("DELETE", "/user/label/1"),
    ("DELETE", "/user/labels/1"), ("GET", "/user/phone-numbers/all"), ("PUT", "/user/phone-numbers/1"),
    ("GET", "/user/phone-numbers/search"), ("POST", "/user/phone-numbers/purchase"),
    ("DELETE", "/user/phone-numbers/1"), ("GET", "/user/phone-numbers/sip-trunks"),
    ("POST", "/user/phone-numbers/sip-trunks"), ("GET", "/user/phone-numbers/sip-trunks/1"),
    ("PUT", "/user/phone-numbers/sip-trunks/1"), ("GET", "/user/campaigns"), ("POST", "/user/campaigns"),
    ("POST", "/user/campaign"), ("POST", "/user/campaigns/update-status"), ("DELETE", "/user/campaign/1"),
    ("GET", "/user/assistants/outbound"),
]


def test_every_endpoint_needs_a_token_and_every_answer_carries_the_rate_limit_headers(fresh):
    with httpx.Client(base_url=fresh.url, timeout=30) as http:
        for method, path in ENDPOINTS:
            refused = http.request(method, path, json={})
            assert refused.status_code == 401 and refused.json()["error"] == "Invalid API key", (method, path)
            answer = http.request(method, path, json={}, headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code not in (401, 405, 500), (method, path, answer.text)
            for response in (refused, answer):
                limit, remaining = (int(response.headers[f"X-RateLimit-{k}"]) for k in ("Limit", "Remaining"))
                assert limit >= remaining >= 0, (method, path)
                assert int(response.headers["X-RateLimit-Reset"]) >= time.time() - 5


def test_one_budget_per_token_across_every_kind():
    with EmbeddedPlatform(build_platform(rate_limit="4/60s")) as embedded, httpx.Client(
            base_url=embedded.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        codes = [http.get(path).status_code for path in ("/user/tools", "/user/knowledgebases", "/user/folders",
                                                         "/user/phone-numbers/all", "/user/campaigns")]
        assert codes == [200, 200, 200, 200, 429]
        refused = http.get("/user/labels")
        assert refused.json()["error"] == "Rate limit exceeded" and refused.headers["X-RateLimit-Remaining"] == "0"
        other = http.get("/user/tools", headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
        assert other.status_code == 200


def test_faults_for_one_kind_leave_the_others_alone(admin, api, settings):
    settings(error_rate=1, kinds=["tools"])
    assert api.raw("GET", "/user/tools").status_code == 500
    assert api.raw("POST", "/user/tools", json={}).status_code == 500
    assert api.raw("GET", "/user/folders").status_code == 200
    assert api.raw("GET", "/user/assistants/get").status_code == 200
    settings(error_rate=0, commit_fail_rate=1, kinds=["folders"])
    try:
        status = api.raw("POST", "/user/folder", json={"name": "Lost answer"}).status_code
    except httpx.TransportError:
        status = "dropped"     # the connection dropped after the write
    assert status in (500, "dropped")
    assert api.raw("POST", "/user/label", json={"name": "kept"}).status_code == 201, "another kind's write answers"
    settings(commit_fail_rate=0, kinds=None)
    assert [f["name"] for f in api.get("/user/folders")["data"]] == ["Lost answer"], "the write took effect"
    assert admin.post("/_emulator/faults", json={"kinds": ["gadgets"]}).status_code == 422


def test_an_object_of_any_kind_changed_as_in_the_dashboard(admin, api):
    tool = api.create_tool()
    edited = admin.patch(f"/_emulator/objects/tools/{tool['id']}", json={"description": "Edited"})
    assert edited.status_code == 200 and edited.json()["data"]["description"] == "Edited"
    assert api.get(f"/user/tools/{tool['id']}")["description"] == "Edited"
    refused = admin.patch(f"/_emulator/objects/tools/{tool['id']}", json={"name": "Not Valid"})
    assert refused.status_code == 422 and list(refused.json()["errors"]) == ["name"]
    folder = api.post("/user/folder", {"name": "Sales"})["data"]
    assert admin.patch(f"/_emulator/objects/folders/{folder['id']}", json={"color": "red"}).status_code == 200
    assert api.get("/user/folders")["data"][0]["color"] == "red"
    edited = admin.patch("/_emulator/objects/phone_numbers/45", json={"nickname": "Dashboard"})
    assert edited.status_code == 200
    assert api.get("/user/phone-numbers/all")["data"][0]["nickname"] == "Dashboard"
    assistant = api.create({"name": "A", "voice_id": 1, "language_id": 1, "type": "outbound", "mode": "pipeline",
                            "llm_model_id": 11, "timezone": "UTC", "initial_message": "Hi", "system_prompt": "S"})
    assert admin.patch(f"/_emulator/objects/assistants/{assistant['data']['id']}",
                                json={"speech_speed": 1.2}).status_code == 200
    assert api.list_all()[0]["speech_speed"] == "1.20"
    assert admin.patch("/_emulator/objects/gadgets/1", json={}).status_code == 404
    assert admin.patch("/_emulator/objects/tools/999999", json={}).status_code == 404


def test_a_stored_object_shows_what_no_answer_does(admin, api):
    trunk = api.post("/user/phone-numbers/sip-trunks", {
        "sip_trunk_type": "extension", "phone_number": "1000", "sip_username": "acme", "sip_password": "s3cret",
        "sip_address": "pbx.example.com", "sip_calling_format": "national", "inbound_authorization_type": "auth",
        "country_code": "DE"})["data"]
    stored = admin.get(f"/_emulator/objects/sip_trunks/{trunk['id']}").json()
    assert stored["fields"]["sip_password"] == "s3cret" and stored["user_id"] == 1


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_the_object_endpoints_need_the_admin_token(emulator, method):
    url = emulator.root_url + "/_emulator/objects/phone_numbers/45"
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Bearer {OTHER_TOKEN}"}):
        assert httpx.request(method, url, headers=headers, json={}).status_code == 401
    admin = {"Authorization": f"Bearer {emulator.admin_token}"}
    assert httpx.request(method, url, headers=admin, json={}).status_code == 200
