"""Campaigns (API.md "Campaigns"): create under both spellings, list, start and stop, delete; the outbound and
goal-variable rules; numbers leaving the rotation when released."""
from __future__ import annotations

import pytest

import conformance_kind_schemas as S
from conformance_bodies import v2_body
from conformance_fixtures import admin, answered, api, other, settings  # noqa: F401 (pytest fixtures)

SCHEMA = [{"name": "booked", "type": "bool", "description": "Was a meeting booked?"},
          {"name": "notes", "type": "string", "description": "Anything else"}]


@pytest.fixture
def outbound(api) -> int:
    return api.create(v2_body(api, post_call_schema=SCHEMA))["data"]["id"]


def body(assistant_id: int, **overrides) -> dict:
    return {"name": "Spring outreach", "assistant_id": assistant_id, **overrides}


@pytest.mark.parametrize("path", ["/user/campaigns", "/user/campaign"])
def test_create_under_both_spellings_with_the_defaults(api, outbound, path):
    created = answered(api.raw("POST", path, json=body(outbound)), 201, S.CAMPAIGN_CREATED)["data"]
    assert (created["status"], created["max_calls_in_parallel"], created["max_retries"], created["retry_interval"],
            created["mark_complete_when_no_leads"]) == ("draft", 3, 3, 60, True)
    assert (created["allowed_hours_start_time"], created["allowed_hours_end_time"]) == ("00:00:00", "23:59:00")
    assert len(created["allowed_days"]) == 7


def test_list_is_a_bare_array_with_times_as_h_i_and_settings_as_sent(api, outbound):
    sent = body(outbound, max_calls_in_parallel=5, allowed_hours_start_time="09:00",
                allowed_hours_end_time="17:30", allowed_days=["monday", "friday"], max_retries=2,
                retry_interval=300, retry_on_voicemail=True, goal_completion_variable="booked",
                mark_complete_when_no_leads=False, phone_number_ids=[45, 46], timezone="Europe/London")
    created = api.post("/user/campaigns", sent)["data"]
    assert created["allowed_hours_start_time"] == "09:00:00"
    [listed] = answered(api.raw("GET", "/user/campaigns"), 200, S.CAMPAIGNS)
    assert listed["id"] == created["id"]
    assert (listed["allowed_hours_start_time"], listed["allowed_hours_end_time"]) == ("09:00", "17:30")
    assert (listed["retry_interval"], listed["allowed_days"], listed["max_calls_in_parallel"]) == \
        (300, ["monday", "friday"], 5)
    for hidden in ("assistant_id", "timezone", "retry_on_voicemail", "retry_on_goal_incomplete",
                   "goal_completion_variable", "phone_number_ids"):
        assert hidden not in listed


def test_the_assistant_must_be_the_users_outbound_assistant(api, other):
    inbound = api.create(v2_body(api, type="inbound"))["data"]["id"]
    theirs = other.create(v2_body(other))["data"]["id"]
    for assistant_id in (inbound, theirs, 999999):
        answered(api.raw("POST", "/user/campaigns", json=body(assistant_id)), 404, S.NOT_OUTBOUND)


def test_the_goal_variable_names_a_bool_item_of_the_assistants_schema(api, outbound):
    for variable in ("notes", "missing"):
        answer = answered(api.raw("POST", "/user/campaigns", json=body(outbound, goal_completion_variable=variable)),
                          422, S.errors_422())
        assert list(answer["errors"]) == ["goal_completion_variable"]
    api.post("/user/campaigns", body(outbound, goal_completion_variable="booked"))


@pytest.mark.parametrize("overrides, key", [
    ({"name": None}, "name"), ({"name": "x" * 256}, "name"), ({"assistant_id": None}, "assistant_id"),
    ({"timezone": "Mars/Base"}, "timezone"), ({"max_calls_in_parallel": 0}, "max_calls_in_parallel"),
    ({"max_calls_in_parallel": 11}, "max_calls_in_parallel"), ({"allowed_hours_start_time": "9am"},
                                                               "allowed_hours_start_time"),
    ({"allowed_hours_end_time": "24:00"}, "allowed_hours_end_time"), ({"allowed_days": ["funday"]}, "allowed_days.0"),
    ({"max_retries": 6}, "max_retries"), ({"retry_interval": 9}, "retry_interval"),
    ({"retry_interval": 4321}, "retry_interval"), ({"retry_on_voicemail": "often"}, "retry_on_voicemail"),
    ({"phone_number_ids": [45, 45]}, "phone_number_ids.1"), ({"phone_number_ids": [90]}, "phone_number_ids.0"),
])
def test_rules(api, outbound, overrides, key):
    answer = answered(api.raw("POST", "/user/campaigns", json={**body(outbound), **overrides}), 422,
                      S.errors_422({"const": "The given data was invalid."}))
    assert list(answer["errors"]) == [key]


def test_start_stop_and_their_errors(api, other, outbound):
    campaign = api.post("/user/campaigns", body(outbound))["data"]
    started = answered(api.raw("POST", "/user/campaigns/update-status",
                               json={"campaign_id": campaign["id"], "action": "start"}), 200, S.STATUS_CHANGED)
    assert started["data"] == {"campaign_id": campaign["id"], "status": "in-progress"}
    assert started["message"] == "Campaign started successfully."
    assert api.get("/user/campaigns")[0]["status"] == "in-progress"
    stopped = api.post("/user/campaigns/update-status", {"campaign_id": campaign["id"], "action": "stop"})
    assert stopped["data"]["status"] == "stopped"
    answered(api.raw("POST", "/user/campaigns/update-status", json={"campaign_id": campaign["id"], "status": "start"}),
             400, S.status_refused("Invalid action. Must be either 'start' or 'stop'."))
    answered(api.raw("POST", "/user/campaigns/update-status", json={"campaign_id": 999999, "action": "start"}), 404,
             S.status_refused("Campaign not found."))
    answered(other.raw("POST", "/user/campaigns/update-status", json={"campaign_id": campaign["id"],
                                                                      "action": "stop"}),
             403, S.status_refused("Access denied - Campaign does not belong to authenticated user."))


def test_delete_and_another_users_campaign(api, other, outbound):
    campaign = api.post("/user/campaign", body(outbound))["data"]
    answered(other.raw("DELETE", f"/user/campaign/{campaign['id']}"), 404, S.CAMPAIGN_404)
    answered(api.raw("DELETE", f"/user/campaign/{campaign['id']}"), 200, S.CAMPAIGN_DELETED)
    answered(api.raw("DELETE", f"/user/campaign/{campaign['id']}"), 404, S.CAMPAIGN_404)
    assert api.get("/user/campaigns") == []


def test_a_running_campaigns_leads_go_with_it_and_another_campaigns_stay(api, admin, outbound):
    doomed = api.post("/user/campaigns", body(outbound))["data"]["id"]
    kept = api.post("/user/campaigns", body(outbound, name="Kept"))["data"]["id"]
    leads = [{"phone_number": "+14155550123", "name": "Ada"}, {"phone_number": "+14155550124"}]
    for campaign in (doomed, kept):
        added = admin.post(f"/_emulator/campaigns/{campaign}/leads", json={"leads": leads})
        assert added.status_code == 201 and added.json() == {"campaign_id": campaign, "leads": 2}
    api.post("/user/campaigns/update-status", {"campaign_id": doomed, "action": "start"})
    answered(api.raw("DELETE", f"/user/campaign/{doomed}"), 200, S.CAMPAIGN_DELETED)
    assert admin.get(f"/_emulator/campaigns/{doomed}/leads").json()["data"] == []
    assert [lead["phone_number"] for lead in admin.get(f"/_emulator/campaigns/{kept}/leads").json()["data"]] == [
        "+14155550123", "+14155550124"]


def test_leads_are_added_only_with_the_admin_token_and_in_the_documented_form(api, admin, outbound):
    campaign = api.post("/user/campaigns", body(outbound))["data"]["id"]
    as_tenant = admin.post(f"/_emulator/campaigns/{campaign}/leads", json={"leads": []},
                           headers={"Authorization": "Bearer local-dev-token"})
    assert as_tenant.status_code == 401
    assert admin.post(f"/_emulator/campaigns/{campaign}/leads", json={"leads": [{"name": "no number"}]}
                      ).status_code == 422
    assert admin.post("/_emulator/campaigns/999999/leads", json={"leads": []}).status_code == 404


def test_there_is_no_update_endpoint(api, outbound):
    campaign = api.post("/user/campaigns", body(outbound))["data"]
    for method in ("PUT", "PATCH"):
        assert api.raw(method, f"/user/campaign/{campaign['id']}", json={"name": "x"}).status_code == 405


def test_the_plan_limit(api, outbound, settings):
    settings(campaign_limit=1)
    api.post("/user/campaigns", body(outbound))
    answered(api.raw("POST", "/user/campaigns", json=body(outbound)), 403, closed_message(
        "You have reached the maximum number of campaigns allowed by your plan."))


def closed_message(text: str) -> dict:
    return S.closed({"message": {"const": text}})


def test_a_released_number_leaves_every_campaigns_rotation(api, admin, outbound):
    campaign = api.post("/user/campaigns", body(outbound, phone_number_ids=[45, 47]))["data"]
    api.remove("/user/phone-numbers/45")
    stored = admin.get(f"/_emulator/objects/campaigns/{campaign['id']}").json()["fields"]
    assert stored["phone_number_ids"] == [47]


def test_outbound_assistants_are_the_ones_a_campaign_may_use(api, outbound):
    api.create(v2_body(api, type="inbound", name="In"))
    assert [a["id"] for a in api.outbound_assistants()] == [outbound]
