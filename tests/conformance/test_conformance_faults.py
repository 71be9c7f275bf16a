"""Injected failures answer in each kind's own error body (API.md "Other resource kinds: what they share": knowledge
bases, phone numbers and SIP trunks answer `{"error": ...}`, campaign status answers add `"success": false`, the
others `{"message": ...}`), with the reference's own 500 text where it documents one; both before anything is
done (`error_rate`) and after a write took effect (`commit_fail_rate`)."""
from __future__ import annotations

import httpx
import pytest

import conformance_kind_schemas as S
from conformance_bodies import v1_body
from conformance_fixtures import answered, api, settings  # noqa: F401 (pytest fixtures)
from conformance_schemas import STR

MESSAGE = S.closed({"message": STR})
ERROR = S.closed({"error": STR})
STATUS_FAILED = S.closed({"message": STR, "success": {"const": False}})
KB_CREATE_FAILED = S.error_body("Failed to create knowledgebase. Please try again.")
DOC_CREATE_FAILED = S.error_body("Failed to create document. Please try again.")
DOC_DELETE_FAILED = S.error_body("Failed to delete document. Please try again.")
PURCHASE_FAILED = S.error_body("Failed to purchase phone number from provider. Please contact support.")
TRUNK_CREATE_FAILED = S.error_body("Failed to create SIP trunk. Please try again or contact support.")
TRUNK = {"sip_trunk_type": "extension", "phone_number": "1000", "sip_username": "acme", "sip_password": "s3cret",
         "sip_address": "sip.provider.com", "sip_calling_format": "+e164", "inbound_authorization_type": "auth",
         "country_code": "US"}

# (kind, method, path, schema of the injected 500) for at least one endpoint of every kind; ids need not exist
# (the fault comes before the handler).
BEFORE = [
    ("assistants", "GET", "/user/assistants/get", MESSAGE),
    ("assistants", "POST", "/user/assistant", MESSAGE),
    ("assistants", "GET", "/user/assistants/outbound", MESSAGE),
    ("catalogues", "GET", "/user/assistants/voices", MESSAGE),
    ("catalogues", "GET", "/user/assistants/phone-numbers", MESSAGE),
    ("tools", "GET", "/user/tools", MESSAGE),
    ("tools", "DELETE", "/user/tools/1", MESSAGE),
    ("knowledgebases", "GET", "/user/knowledgebases", ERROR),
    ("knowledgebases", "POST", "/user/knowledgebases", KB_CREATE_FAILED),
    ("knowledgebases", "PUT", "/user/knowledgebases/1", ERROR),
    ("documents", "GET", "/user/knowledgebases/1/documents", ERROR),
    ("documents", "POST", "/user/knowledgebases/1/documents", DOC_CREATE_FAILED),
    ("documents", "DELETE", "/user/knowledgebases/1/documents/2", DOC_DELETE_FAILED),
    ("folders", "GET", "/user/folders", MESSAGE),
    ("folders", "POST", "/user/folder", MESSAGE),
    ("labels", "PUT", "/user/labels/1", MESSAGE),
    ("phone_numbers", "GET", "/user/phone-numbers/all", ERROR),
    ("phone_numbers", "GET", "/user/phone-numbers/search", ERROR),
    ("phone_numbers", "POST", "/user/phone-numbers/purchase", PURCHASE_FAILED),
    ("phone_numbers", "DELETE", "/user/phone-numbers/45", ERROR),
    ("sip_trunks", "GET", "/user/phone-numbers/sip-trunks", ERROR),
    ("sip_trunks", "POST", "/user/phone-numbers/sip-trunks", TRUNK_CREATE_FAILED),
    ("sip_trunks", "PUT", "/user/phone-numbers/sip-trunks/1", ERROR),
    ("campaigns", "GET", "/user/campaigns", MESSAGE),
    ("campaigns", "POST", "/user/campaign", MESSAGE),
    ("campaigns", "DELETE", "/user/campaign/1", MESSAGE),
    ("campaigns", "POST", "/user/campaigns/update-status", STATUS_FAILED),
]


@pytest.mark.parametrize("kind, method, path, schema", BEFORE, ids=[f"{m} {p}" for _, m, p, _ in BEFORE])
def test_an_injected_failure_answers_the_kinds_error_body(api, settings, kind, method, path, schema):
    settings(error_rate=1, kinds=[kind])
    response = api.raw(method, path, json={})
    answered(response, 500, schema)
    assert "X-RateLimit-Remaining" in response.headers


def _failed_after_commit(api, method: str, path: str, body_for) -> dict:
    """The first 500 among writes that all take effect (a commit failure answers 500 or drops the connection)."""
    for attempt in range(12):
        try:
            response = api.raw(method, path, json=body_for(attempt))
        except httpx.TransportError:
            continue
        assert response.status_code == 500, response.text
        return response
    pytest.fail(f"no 500 in 12 committed writes to {method} {path}")


def test_a_commit_failure_answers_the_kinds_error_body(api, settings):
    """Each kind's write, failing after it took effect: the kind's body, and the object is there."""
    kb = api.create_knowledgebase()["id"]
    assistant = api.create(v1_body())["data"]["id"]
    campaign = api.post("/user/campaigns", {"name": "Spring", "assistant_id": assistant})["data"]["id"]
    writes = [
        ("assistants", "PUT", f"/user/assistant/{assistant}", lambda n: {"system_prompt": f"v{n}"}, MESSAGE),
        ("tools", "POST", "/user/tools", lambda n: {"name": "get_weather", "description": "Weather",
                                                    "endpoint": "https://api.example.com/w", "method": "GET"},
         MESSAGE),
        ("knowledgebases", "POST", "/user/knowledgebases", lambda n: {"name": f"KB {n}"}, KB_CREATE_FAILED),
        ("documents", "POST", f"/user/knowledgebases/{kb}/documents",
         lambda n: {"name": f"Page {n}", "type": "website", "url": "https://www.example.com/"}, DOC_CREATE_FAILED),
        ("labels", "POST", "/user/label", lambda n: {"name": f"label {n}"}, MESSAGE),
        ("phone_numbers", "PUT", "/user/phone-numbers/45", lambda n: {"nickname": f"Line {n}"}, ERROR),
        ("sip_trunks", "POST", "/user/phone-numbers/sip-trunks", lambda n: {**TRUNK, "phone_number": f"10{n:02}"},
         TRUNK_CREATE_FAILED),
        ("campaigns", "POST", "/user/campaigns/update-status",
         lambda n: {"campaign_id": campaign, "action": "start"}, STATUS_FAILED),
    ]
    for kind, method, path, body_for, schema in writes:
        settings(commit_fail_rate=1, seed=0, kinds=[kind])
        answered(_failed_after_commit(api, method, path, body_for), 500, schema)
    settings(commit_fail_rate=0, kinds=None)
    assert api.get("/user/knowledgebases")["data"][-1]["name"].startswith("KB "), "the write took effect"
    assert api.get("/user/campaigns")[0]["status"] == "in-progress"
    assert api.get("/user/phone-numbers/all")["data"][0]["nickname"].startswith("Line ")
