"""An independent client (conformance_client.py, plain httpx) driving the emulator end to end through /api:
list by following next_page_url, create and update in both dialects, read back, delete; rate limits with
tiny specs; single-dialect platforms; admin endpoints that only the admin token opens."""
from __future__ import annotations

import time

import httpx
import pytest

from conformance_client import OTHER_TOKEN, TOKEN, ApiError, PlatformClient
from conformance_fixtures import api  # noqa: F401 (pytest fixtures)
from conformance_bodies import v1_body, v2_body
from provisioner.emulator import EmbeddedPlatform, build_platform



@pytest.fixture
def own_platform():
    """A platform of the test's own, with the given build_platform() settings."""
    started = []

    def start(**settings) -> EmbeddedPlatform:
        embedded = EmbeddedPlatform(build_platform(**settings)).__enter__()
        started.append(embedded)
        return embedded

    yield start
    for embedded in started:
        embedded.__exit__(None, None, None)


def test_a_whole_lifecycle_in_both_dialects(api):
    for i in range(12):
        api.create(v1_body(assistant_name=f"Bulk {i}"))
    v1 = api.create(v1_body(assistant_name="Old style", language="French", end_call_tool={"description": "Bye"},
                            variables={"a": "1"}, speech_speed=0.9))["data"]
    v2 = api.create(v2_body(api, name="New style", language_id=api.language_id("pt"),
                            tools=[{"type": "dtmf_input", "description": "Keys"}], ringing_time=12))["data"]
    assert (v1["status"], v2["status"]) == ("active", "inactive")
    everyone = api.list_all(per_page=5)
    assert len(everyone) == 14 and len({a["id"] for a in everyone}) == 14

    old = api.find(v1["id"])
    assert (old["name"], old["language"], old["speech_speed"]) == ("Old style", "fr", "0.90")
    assert old["tools"] == [{"type": "end_call", "description": "Bye"}]
    new = api.find(v2["id"])
    assert (new["name"], new["language"], new["ringing_time"]) == ("New style", "pt", 12)

    # Update each in the other dialect.
    api.update(v1["id"], {"name": "Old, renamed", "tools": [], "variables": {}, "ringing_time": None})
    api.update(v2["id"], {"assistant_name": "New, renamed", "end_call_tool": {"description": "Later"},
                          "record_call": True, "who_speaks_first": "Customer", "language": "German"})
    old, new = api.find(v1["id"]), api.find(v2["id"])
    assert (old["name"], old["tools"], old["variables"], old["ringing_time"]) == ("Old, renamed", [], {}, 30)
    assert new["name"] == "New, renamed" and new["record"] is True and new["wait_for_customer"] is True
    assert new["language"] == "de" and new["tools"] == [{"type": "dtmf_input", "description": "Keys"},
                                                        {"type": "end_call", "description": "Later"}]
    assert api.outbound_assistants() and all(a["id"] != 0 for a in api.outbound_assistants())

    for assistant in api.list_all(per_page=100):
        api.delete(assistant["id"])
    assert api.list_all() == []


def test_outbound_assistants_lists_the_users_outbound_assistants_only(api, platform):
    out = api.create(v1_body(assistant_name="Caller"))["data"]
    api.create(v1_body(assistant_name="Receiver", calls_direction="receive"))
    with PlatformClient(platform.url, OTHER_TOKEN) as other:
        other.create(v1_body(assistant_name="Someone else's"))
    listed = api.outbound_assistants()
    assert [(a["id"], a["name"]) for a in listed] == [(out["id"], "Caller")]


def test_a_mixed_dialect_create_is_refused(api):
    with pytest.raises(ApiError) as info:
        api.create({**v1_body(), "name": "Both", "mode": "pipeline"})
    assert info.value.status == 422 and {"name", "mode", "assistant_name"} <= set(info.value.body["errors"])


@pytest.mark.parametrize("dialect, other", [("v1", "v2"), ("v2", "v1")])
def test_a_single_dialect_platform_refuses_the_other_dialect(own_platform, dialect, other):
    embedded = own_platform(dialect=dialect)
    with PlatformClient(embedded.url, TOKEN) as api:
        good = v1_body() if dialect == "v1" else v2_body(api)
        bad = v2_body(api) if dialect == "v1" else v1_body()
        created = api.create(good)["data"]
        with pytest.raises(ApiError) as info:
            api.create(bad)
        assert info.value.status == 422
        messages = " ".join(m for ms in info.value.body["errors"].values() for m in ms)
        expected = "assistant_name" if dialect == "v1" else "language_id"
        assert expected in messages, "the refusal names the fields the platform expects"
        with pytest.raises(ApiError) as info:
            api.update(created["id"], {"name": "x"} if dialect == "v1" else {"assistant_name": "x"})
        assert info.value.status == 422
        assert len(api.list_all()) == 1


def test_rate_limit_windows_per_token(own_platform):
    embedded = own_platform(rate_limit="4/30s,2/1s")
    url = embedded.url + "/user/assistants/languages"
    mine, theirs = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Bearer {OTHER_TOKEN}"}
    first = [httpx.get(url, headers=mine) for _ in range(3)]
    assert [r.status_code for r in first] == [200, 200, 429]            # the 1-second burst window
    assert [r.headers["X-RateLimit-Remaining"] for r in first] == ["1", "0", "0"]
    assert first[2].json()["retry_after"] == 1 and "Retry-After" not in first[2].headers
    assert httpx.get(url, headers=theirs).status_code == 200            # another token, another budget
    time.sleep(1.1)
    second = [httpx.get(url, headers=mine) for _ in range(3)]
    assert [r.status_code for r in second] == [200, 200, 429]           # the 30-second window is full now
    refusal = second[2]
    assert refusal.headers["X-RateLimit-Limit"] == "4" and 25 <= refusal.json()["retry_after"] <= 30
    assert int(refusal.headers["X-RateLimit-Reset"]) >= int(time.time()) + 25
    stats = httpx.get(embedded.root_url + "/_emulator/stats",
                      headers={"Authorization": f"Bearer {embedded.admin_token}"}).json()
    assert stats["rate_limited"] == 2 and stats["requests"]["GET /user/assistants/languages"] == 7


def test_the_documented_rate_limit_is_20_in_a_burst(own_platform):
    embedded = own_platform(rate_limit="documented")
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        codes = [http.get(embedded.url + "/user/assistants/voices") for _ in range(21)]
    assert [r.status_code for r in codes] == [200] * 20 + [429]
    assert codes[0].headers["X-RateLimit-Limit"] == "20" and codes[0].headers["X-RateLimit-Remaining"] == "19"
    assert codes[20].json()["error"] == "Rate limit exceeded"


def test_rate_limit_set_through_the_faults_endpoint(platform):
    platform.faults(rate_limit="2/60s")
    assert platform.admin.get("/_emulator/faults").json()["rate_limit"] == "2/60s"
    codes = [platform.http.get("/user/assistants/languages").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert platform.admin.post("/_emulator/faults", json={"rate_limit": "lots"}).status_code == 422
    platform.faults(rate_limit="off")
    assert platform.http.get("/user/assistants/languages").status_code == 200


@pytest.mark.parametrize("method, path", [("GET", "/_emulator/faults"), ("POST", "/_emulator/faults"),
                                          ("GET", "/_emulator/stats"), ("GET", "/_emulator/requests"),
                                          ("GET", "/_emulator/concurrency"), ("POST", "/_emulator/reset")])
def test_admin_endpoints_need_the_admin_token_never_a_tenants(emulator, method, path):
    url = emulator.root_url + path
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Bearer {OTHER_TOKEN}"},
                    {"Authorization": "Bearer guess"}):
        assert httpx.request(method, url, headers=headers, json={}).status_code == 401
    admin = {"Authorization": f"Bearer {emulator.admin_token}"}
    assert httpx.request(method, url, headers=admin, json={}).status_code == 200
    # They are not part of the platform API: not under /api, and the admin token is no API key.
    assert httpx.request(method, emulator.url + path, headers=admin, json={}).status_code in (401, 404)
    assert httpx.get(emulator.url + "/user/assistants/get", headers=admin).status_code == 401


def test_the_admin_token_is_random_unless_given():
    first, second = build_platform(), build_platform()
    assert first.admin_token != second.admin_token and len(first.admin_token) >= 20
    assert build_platform(admin_token="chosen").admin_token == "chosen"
    with pytest.raises(ValueError):
        build_platform(admin_token=TOKEN)
