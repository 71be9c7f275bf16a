"""The Campaign kind (provisioner/kinds/campaign.py, API.md "Campaigns"): every rule of the manifest, the read
shape compared without false drift, the status action, the cross-manifest rules, and the endpoints end to end
against the emulator over loopback HTTP with the real PlatformClient."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from importlib import resources

import httpx
import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import OTHER_TOKEN, REQUIRED, TOKEN
from provisioner.client import PlatformClient, UnknownOutcomeError
from provisioner.emulator import EmbeddedPlatform, build_platform
from provisioner.errors import ApiError, NotFoundError
from provisioner.kinds import KINDS, base
from provisioner.kinds.campaign import (CREATE_PATHS, DAYS, FIELDS, KIND, SETTINGS, STATUS_READ, assistant_problems,
                                        campaign_kind, check_create_path, check_graph, create_body, list_campaigns,
                                        plan_status, read_campaign, run_status, validate_spec)
from provisioner.spec import iana_timezones, validate_spec as validate_assistant

MINIMAL = {"name": "Winter", "assistant_id": "assistant.sales"}
SHOWN = [f.name for f in FIELDS if f.shown and f.name != "status"]
SCHEMA = [{"name": "goal_met", "type": "bool", "description": "Was the goal met?"},
          {"name": "summary", "type": "string", "description": "What was said."}]


def problems(spec: dict) -> dict[tuple, str]:
    checked, found = validate_spec(spec)
    assert (checked is None) == bool(found)
    return {p.path: p.message for p in found}


# --- the kind's facts ---

def test_the_kind_is_a_campaign_with_no_update_every_setting_replaced_and_its_leads_named():
    assert (KIND.name, KIND.manifest_kind, KIND.title) == ("campaign", "Campaign", "campaign")
    assert KIND.endpoints.update is None and KIND.update_body is None
    assert KIND.replace_loses == "deletes leads"
    assert all(KIND.facts(name).replace for name in SETTINGS)
    assert not KIND.facts("status").replace and KIND.action("status").field == "status"
    assert KIND.action("name") is None
    assert {f.name for f in FIELDS if not f.shown} == {
        "assistant_id", "timezone", "retry_on_voicemail", "retry_on_goal_incomplete", "goal_completion_variable",
        "phone_number_ids"}
    assert (KIND.facts("assistant_id").ref, KIND.facts("phone_number_ids").ref) == ("assistant", "number")
    assert KIND.facts("phone_number_ids").many and not KIND.facts("assistant_id").many
    defaults = {f.name: f.default for f in FIELDS if f.default is not base.NO_DEFAULT}
    assert defaults == {"max_calls_in_parallel": 3, "allowed_hours_start_time": "00:00",
                        "allowed_hours_end_time": "23:59", "allowed_days": list(DAYS), "max_retries": 3,
                        "retry_interval": 60, "mark_complete_when_no_leads": True}
    assert set(SETTINGS) | {"status"} == {f.name for f in FIELDS} == set(KIND.spec_model.model_fields)


def test_the_kind_stays_hashable_with_a_list_default_and_action_notes():
    assert len({KIND, KIND}) == 1 and hash(KIND.facts("allowed_days")) == hash(KIND.facts("allowed_days"))


def test_the_create_path_is_configurable_between_the_documented_spellings():
    assert check_create_path("/user/campaign") == "/user/campaign"
    with pytest.raises(ValueError, match="/user/campaigns, /user/campaign"):
        check_create_path("/user/campaignz")
    with pytest.raises(ValueError):
        campaign_kind("/campaigns")
    assert campaign_kind("/user/campaign").endpoints.create.keywords == {"path": "/user/campaign"}
    assert KIND.endpoints.create.keywords == {"path": "/user/campaigns"}


def test_a_number_reference_takes_siptrunk_addresses_and_says_so():
    assert KINDS["number"].address_targets == ("siptrunk",) and KINDS["tool"].address_targets == ("tool",)
    assert '"siptrunk.my-name"' in base.parse_reference("office", "number")


# --- validation: every rule of API.md's table ---

def test_a_minimal_campaign_is_valid_and_leaves_every_optional_field_out():
    spec, found = validate_spec(MINIMAL)
    assert found == [] and spec.model_dump(exclude_unset=True) == MINIMAL


@pytest.mark.parametrize("field, value, expected", [
    ("name", "", "must not be empty"),
    ("name", "x" * 256, "at most 255"),
    ("name", 5, "must be a string"),
    ("assistant_id", "sales", 'such as "assistant.my-name"'),
    ("assistant_id", "tool.sales", "'tool.sales' is a tool; this field takes assistant addresses"),
    ("assistant_id", "+14155550100", 'such as "assistant.my-name"'),
    ("assistant_id", 0, "positive integer"),
    ("assistant_id", True, "must be an address"),
    ("assistant_id", {"name": ""}, "must be an address"),
    ("timezone", "Europe/Lndon", "did you mean 'Europe/London'"),
    ("timezone", "UTC+2", "not an IANA time zone"),
    ("max_calls_in_parallel", 0, "at least 1"),
    ("max_calls_in_parallel", 11, "at most 10"),
    ("max_calls_in_parallel", 3.0, "must be an integer"),
    ("max_calls_in_parallel", "3", "must be an integer"),
    ("allowed_hours_start_time", "9:00", 'time "HH:MM"'),
    ("allowed_hours_start_time", "24:00", 'time "HH:MM"'),
    ("allowed_hours_start_time", "09:00:00", 'time "HH:MM"'),
    ("allowed_hours_end_time", "12:60", 'time "HH:MM"'),
    ("allowed_hours_end_time", 1439, "write '23:59'"),
    ("allowed_days", [], "at least one day"),
    ("allowed_days", "monday", "must be a list"),
    ("allowed_days", ["monday", "monday"], "names monday more than once"),
    ("max_retries", 0, "at least 1"),
    ("max_retries", 6, "at most 5"),
    ("retry_interval", 9, "at least 10"),
    ("retry_interval", 4321, "at most 4320"),
    ("retry_on_voicemail", "yes", "true or false"),
    ("retry_on_goal_incomplete", 1, "true or false"),
    ("goal_completion_variable", "", "must not be empty"),
    ("goal_completion_variable", "v" * 256, "at most 255"),
    ("mark_complete_when_no_leads", "true", "true or false"),
    ("phone_number_ids", 45, "must be a list"),
    ("phone_number_ids", ["+14155550100", "+14155550100"], "items 0 and 1 are the same number"),
    ("phone_number_ids", [45, 45], "must be distinct"),
    ("status", "running", "'started' or 'stopped'"),
    ("status", "in-progress", "'started' or 'stopped'"),
])
def test_each_rule_refuses_a_bad_value_at_its_field(field, value, expected):
    found = problems({**MINIMAL, field: value})
    assert list(found) in ([(field,)], [(field, 0)]), found
    assert expected in next(iter(found.values()))


@pytest.mark.parametrize("field, index, value, expected", [
    ("allowed_days", 1, "Friday", "did you mean 'friday'"),
    ("allowed_days", 0, "someday", "monday to sunday"),
    ("phone_number_ids", 1, "tool.x", "'tool.x' is a tool; this field takes siptrunk addresses"),
    ("phone_number_ids", 1, "4155550100", 'or an E.164 number ("+14155550100")'),
    ("phone_number_ids", 1, True, "must be an address"),
])
def test_list_items_are_refused_at_their_index(field, index, value, expected):
    good = {"allowed_days": "monday", "phone_number_ids": 45}[field]
    items = [good, good + 1 if isinstance(good, int) else "tuesday"]
    items[index] = value
    found = problems({**MINIMAL, field: items})
    assert list(found) == [(field, index)] and expected in found[(field, index)]


def test_a_yaml_time_written_unquoted_is_read_as_a_number_and_the_message_says_how_to_write_it():
    spec = yaml.safe_load("allowed_hours_start_time: 10:30\nallowed_hours_end_time: 09:00\n")
    assert spec["allowed_hours_start_time"] == 630  # YAML 1.1's sexagesimal integers
    found = problems({**MINIMAL, **spec})
    assert list(found) == [("allowed_hours_start_time",)]
    assert "unquoted 10:30 as the number 630; write '10:30'" in found[("allowed_hours_start_time",)]


def test_null_is_refused_everywhere_since_there_is_nothing_to_clear():
    found = problems({"name": None, "assistant_id": None, "timezone": None, "max_retries": None, "status": None})
    assert found[("name",)] == found[("assistant_id",)] == "is required"
    assert all("leave it out" in found[(f,)] for f in ("timezone", "max_retries", "status"))


def test_missing_and_unknown_fields_are_named():
    found = problems({"name": "x", "retry_intervall": 60})
    assert found[("assistant_id",)] == "is required"
    assert found[("retry_intervall",)] == "unknown field 'retry_intervall' (did you mean 'retry_interval'?)"


def test_every_reference_syntax_is_taken():
    for value in ("assistant.sales", {"name": "Sales (unmanaged)"}, 789):
        assert problems({**MINIMAL, "assistant_id": value}) == {}
    numbers = ["+14155550100", "siptrunk.office", {"name": "Sales line"}, 45]
    assert problems({**MINIMAL, "phone_number_ids": numbers}) == {}
    assert problems({**MINIMAL, "phone_number_ids": []}) == {}


def test_allowed_days_are_kept_in_the_weeks_order_so_the_order_written_never_drifts():
    spec, _ = validate_spec({**MINIMAL, "allowed_days": ["sunday", "monday", "wednesday"]})
    assert spec.allowed_days == ["monday", "wednesday", "sunday"]


NAME = base.NAME
times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
number_refs = st.one_of(st.integers(1, 2**63 - 1), st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
                        st.from_regex(rf"siptrunk\.{NAME}", fullmatch=True),
                        st.builds(lambda n: {"name": n}, st.text(min_size=1, max_size=20)))
valid_specs = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=255),
     "assistant_id": st.one_of(st.integers(1, 2**63 - 1), st.from_regex(rf"assistant\.{NAME}", fullmatch=True),
                               st.builds(lambda n: {"name": n}, st.text(min_size=1, max_size=20)))},
    optional={
        "timezone": st.sampled_from(sorted(iana_timezones())),
        "max_calls_in_parallel": st.integers(1, 10),
        "allowed_hours_start_time": times, "allowed_hours_end_time": times,
        "allowed_days": st.lists(st.sampled_from(DAYS), min_size=1, unique=True),
        "max_retries": st.integers(1, 5), "retry_interval": st.integers(10, 4320),
        "retry_on_voicemail": st.booleans(), "retry_on_goal_incomplete": st.booleans(),
        "goal_completion_variable": st.text(min_size=1, max_size=255),
        "mark_complete_when_no_leads": st.booleans(),
        "phone_number_ids": st.lists(number_refs, max_size=4, unique_by=repr),
        "status": st.sampled_from(["started", "stopped"]),
    })

@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs)
def test_the_editor_schema_takes_every_valid_spec(spec):
    jsonschema.validate(spec, KIND.spec_model.model_json_schema())


@pytest.mark.parametrize("field, value", [
    ("allowed_hours_start_time", "9:00"), ("allowed_days", ["Monday"]), ("assistant_id", "tool.x"),
    ("assistant_id", "sales"), ("phone_number_ids", ["assistant.x"]), ("phone_number_ids", ["4155550100"]),
    ("status", "running"), ("max_retries", 6),
])
def test_the_editor_schema_refuses_what_validation_refuses(field, value):
    assert problems({**MINIMAL, field: value})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**MINIMAL, field: value}, KIND.spec_model.model_json_schema())


RANGES = {"max_calls_in_parallel": (1, 10), "max_retries": (1, 5), "retry_interval": (10, 4320)}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs)
def test_every_valid_spec_validates_unchanged_but_for_the_order_of_days(spec):
    checked, found = validate_spec(spec)
    assert found == []
    dumped = checked.model_dump(exclude_unset=True)
    if "allowed_days" in spec:
        assert dumped["allowed_days"] == sorted(spec["allowed_days"], key=DAYS.index)
    assert {k: v for k, v in dumped.items() if k != "allowed_days"} == \
        {k: v for k, v in spec.items() if k != "allowed_days"}


@given(st.sampled_from(sorted(RANGES)), st.integers(-10**6, 10**6))
def test_an_integer_setting_is_valid_exactly_within_its_range(field, value):
    low, high = RANGES[field]
    found = problems({**MINIMAL, field: value})
    assert (found == {}) == (low <= value <= high)
    assert set(found) <= {(field,)}


@given(st.sampled_from(["allowed_hours_start_time", "allowed_hours_end_time"]), st.text(max_size=8))
def test_a_time_is_valid_exactly_when_it_is_h_i(field, value):
    import re
    valid = re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value) is not None
    assert (problems({**MINIMAL, field: value}) == {}) == valid


@given(st.lists(st.text(max_size=10), min_size=1, max_size=8))
def test_allowed_days_are_valid_exactly_when_they_are_distinct_days(days):
    valid = all(d in DAYS for d in days) and len(set(days)) == len(days)
    assert (problems({**MINIMAL, "allowed_days": days}) == {}) == valid


# --- the body and the read shape: no false drift ---

def platform_item(body: dict, *, seconds: bool, status: str = "draft") -> dict:
    """A campaign as the platform answers it (API.md): the shown fields, defaults filled in, times with or
    without seconds, the write-only fields absent."""
    defaults = {f.name: f.default for f in FIELDS if f.default is not base.NO_DEFAULT}
    item = {"id": 7, "status": status, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
    for name in SHOWN:
        item[name] = body.get(name, defaults.get(name))
    for key in ("allowed_hours_start_time", "allowed_hours_end_time"):
        item[key] += ":00" if seconds else ""
    return item


def resolved(spec) -> dict:
    """The spec's fields with every reference resolved to an id, as apply hands them to create_body."""
    fields = spec.model_dump(exclude_unset=True)
    fields["assistant_id"] = 101
    if "phone_number_ids" in fields:
        fields["phone_number_ids"] = [200 + i for i, _ in enumerate(fields["phone_number_ids"])]
    return fields


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs, st.booleans())
def test_what_is_sent_reads_back_equal_to_the_manifest_or_its_default(spec, seconds):
    checked, _ = validate_spec(spec)
    body = create_body(resolved(checked))
    assert "status" not in body and body["assistant_id"] == 101
    assert set(body) == set(spec) - {"status"}
    values, found = read_campaign(platform_item(body, seconds=seconds))
    assert found == []
    for name in SHOWN:
        expected = getattr(checked, name)
        assert values[name] == (KIND.facts(name).default if expected is None else expected), name
    assert values["status"] == "stopped"


@given(st.integers(0, 23), st.integers(0, 59), st.booleans(), st.booleans())
def test_a_time_reads_as_h_i_with_or_without_seconds_and_leading_zero(hour, minute, seconds, pad):
    text = f"{hour:02d}:{minute:02d}" if pad else f"{hour}:{minute:02d}"
    item = platform_item({"name": "x", "allowed_hours_start_time": text + (":30" if seconds else "")},
                         seconds=False)
    values, found = read_campaign(item)
    assert found == [] and values["allowed_hours_start_time"] == f"{hour:02d}:{minute:02d}"


def test_retry_interval_reads_as_the_integer_sent_with_no_unit_conversion():
    item = platform_item({"name": "x", "retry_interval": 300}, seconds=True)
    assert read_campaign(item)[0]["retry_interval"] == 300
    item["retry_interval"] = "300"
    assert read_campaign(item)[0]["retry_interval"] == 300


@pytest.mark.parametrize("text", ["¹", "²³", "٣", "--5", "- -5"])
def test_an_integer_in_digits_that_are_not_ascii_is_a_read_problem_not_a_crash(text):
    """str.isdigit says yes to "¹", and int() then raised a ValueError: a traceback from a plan of a campaign
    (or an assistant) whose list answered such a count."""
    item = platform_item({"name": "x", "max_retries": text}, seconds=True)
    values, found = read_campaign(item)
    assert "max_retries" not in values and [p.field for p in found] == ["max_retries"], found


def test_flags_as_1_or_0_and_days_in_any_case_and_order_read_in_manifest_terms():
    item = platform_item({"name": "x"}, seconds=True)
    item.update(mark_complete_when_no_leads=0, allowed_days=["Sunday", "monday"])
    values, found = read_campaign(item)
    assert found == [] and values["mark_complete_when_no_leads"] is False
    assert values["allowed_days"] == ["monday", "sunday"]


@pytest.mark.parametrize("field, value, expected", [
    ("allowed_hours_end_time", "25:00", "expected a time"),
    ("allowed_hours_end_time", None, "expected a time"),
    ("allowed_days", ["someday"], "expected a list of days"),
    ("max_retries", None, "expected a value, got null"),
    ("max_retries", "three", "expected an integer"),
    ("mark_complete_when_no_leads", "maybe", "true/false"),
    ("status", "archived", "'archived' is not a status this client knows"),
    ("name", 5, "expected a string"),
])
def test_an_unreadable_value_is_a_read_problem_and_no_value(field, value, expected):
    item = platform_item({"name": "x"}, seconds=True)
    item[field] = value
    values, found = read_campaign(item)
    assert field not in values
    assert [(p.field, expected in p.message) for p in found] == [(field, True)]


def test_a_shown_field_missing_from_the_answer_is_a_read_problem():
    item = platform_item({"name": "x"}, seconds=True)
    del item["retry_interval"]
    values, found = read_campaign(item)
    assert "retry_interval" not in values and found == [base.ReadProblem("retry_interval",
                                                                          "missing from the platform's answer")]


# --- status: an action, managed only when set ---

@pytest.mark.parametrize("platform_status, reads", sorted(STATUS_READ.items()))
def test_every_documented_platform_status_reads_as_a_manifest_word(platform_status, reads):
    item = platform_item({"name": "x"}, seconds=True, status=platform_status)
    assert read_campaign(item)[0]["status"] == reads


@pytest.mark.parametrize("wanted, current, action", [
    (None, "started", None), (None, None, None),
    ("started", None, "start"), ("stopped", None, None),  # a new campaign is a draft
    ("started", "stopped", "start"), ("stopped", "started", "stop"),
    ("started", "started", None), ("stopped", "stopped", None),
    ("started", "completed", None), ("stopped", "completed", None),
])
def test_status_plans_an_action_only_when_the_platform_differs_from_what_the_manifest_asks(wanted, current, action):
    assert plan_status(wanted, current) == action


def test_the_actions_say_what_they_do_in_the_world():
    notes = KIND.action("status").notes
    assert "real calls" in notes["start"] and "aborts the calls" in notes["stop"]


# --- rules across manifests ---

def assistant_spec(**changes):
    spec, found = validate_assistant({"assistant_name": "Sales", **REQUIRED, "post_call_schema": SCHEMA, **changes})
    assert found == []
    return spec


def campaign(**changes):
    spec, found = validate_spec({**MINIMAL, **changes})
    assert found == []
    return spec


def test_at_validate_time_the_assistant_in_the_repository_must_be_outbound():
    assert check_graph(campaign(), {"assistant_id": assistant_spec()}) == []
    found = check_graph(campaign(), {"assistant_id": assistant_spec(calls_direction="receive")})
    assert found == [(("assistant_id",), "'assistant.sales' is an inbound assistant (it receives calls); "
                                         "a campaign needs an outbound one (calls_direction: make)")]


@pytest.mark.parametrize("variable, schema, expected", [
    ("goal_met", SCHEMA, None),
    ("summary", SCHEMA, "'summary' is a string item of 'assistant.sales''s post_call_schema; it must be a bool"),
    ("goal_mt", SCHEMA, "'goal_mt' is not in 'assistant.sales''s post_call_schema (its bool items: goal_met) "
                        "(did you mean 'goal_met'?)"),
    ("goal_met", SCHEMA[1:], "(it has no bool item)"),
    ("goal_met", None, "must name a bool item of 'assistant.sales''s post_call_schema, which sets none"),
])
def test_at_validate_time_the_goal_variable_must_be_a_bool_of_the_assistants_schema(variable, schema, expected):
    found = check_graph(campaign(goal_completion_variable=variable),
                        {"assistant_id": assistant_spec(post_call_schema=schema)})
    if expected is None:
        assert found == []
    else:
        assert [path for path, _ in found] == [("goal_completion_variable",)] and expected in found[0][1]


def test_at_plan_time_the_platforms_read_item_is_checked_with_bool_read_as_boolean():
    item = {"id": 9, "type": "outbound", "post_call_schema": [{"name": "goal_met", "type": "boolean"}]}
    assert check_graph(campaign(goal_completion_variable="goal_met"), {"assistant_id": item}) == []
    inbound = {**item, "type": "inbound", "post_call_schema": [{"name": "goal_met", "type": "string"}]}
    found = check_graph(campaign(goal_completion_variable="goal_met", assistant_id=9), {"assistant_id": inbound})
    assert [path for path, _ in found] == [("assistant_id",), ("goal_completion_variable",)]
    assert "9 is an inbound assistant" in found[0][1]


def test_a_target_not_known_yet_is_not_judged():
    assert check_graph(campaign(goal_completion_variable="x"), {}) == []
    assert assistant_problems(campaign(), {"type": "outbound"}) == []


def test_two_references_to_one_number_are_refused_once_resolved():
    spec = campaign(phone_number_ids=["+14155550100", 45, "siptrunk.office"])
    numbers = [{"id": 45, "phone_number": "+14155550100"}, 45, {"id": 47}]
    assert check_graph(spec, {"phone_number_ids": numbers}) == [
        (("phone_number_ids", 1), "is the same number as item 0 (id 45): the numbers must be distinct")]


# --- endpoints, against a fake answer ---

class FakeClient:
    def __init__(self, answer):
        self.answer = answer
        self.sent = []

    def request(self, method, path, **kwargs):
        self.sent.append((method, path, kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


ITEM = {"id": 3, "name": "Winter", "status": "draft"}


@pytest.mark.parametrize("answer", [[ITEM], {"campaigns": [ITEM]}, {"data": [ITEM]}])
def test_the_list_is_accepted_in_each_documented_shape(answer):
    assert list_campaigns(FakeClient(answer)) == [ITEM]


@pytest.mark.parametrize("answer, expected", [
    ({"campaigns": [ITEM], "data": [ITEM]}, "expected a list of campaigns"),
    ({"message": "ok"}, "expected a list of campaigns"),
    ([{"name": "x"}], "without an integer id"),
    ([{"id": True, "name": "x"}], "without an integer id"),
    ([ITEM, ITEM], "listed twice"),
])
def test_a_list_that_is_not_one_is_an_error_never_an_empty_account(answer, expected):
    with pytest.raises(ApiError, match=expected):
        list_campaigns(FakeClient(answer))


def test_a_create_answered_without_an_id_is_an_unknown_outcome():
    with pytest.raises(UnknownOutcomeError, match="without the new campaign's id"):
        KIND.endpoints.create(FakeClient({"message": "Campaign created successfully"}), {"name": "x"}, None)


def test_a_status_answer_that_does_not_confirm_is_an_error():
    with pytest.raises(ApiError, match="did not confirm it .'nope'"):
        run_status(FakeClient({"success": False, "message": "nope"}), 3, "start")
    with pytest.raises(ValueError):
        run_status(FakeClient({}), 3, "pause")


# --- end to end: the real client against the emulator over HTTP ---

OUTBOUND = {"assistant_name": "Caller", **REQUIRED, "post_call_schema": SCHEMA}


@pytest.fixture
def client(platform):
    with PlatformClient(platform.url, TOKEN, notify=None) as client:
        yield client


def create(client, kind=KIND, **spec):
    """A campaign made as apply makes it: validated, references resolved, the body sent through the kind."""
    checked, found = validate_spec({"name": "Winter", "assistant_id": 1, **spec})
    assert found == []
    return kind.endpoints.create(client, create_body(checked.model_dump(exclude_unset=True)), None)


def listed(client) -> dict[int, dict]:
    return {item["id"]: item for item in KIND.endpoints.list(client, None)}


FULL = {"timezone": "Europe/London", "max_calls_in_parallel": 5, "allowed_hours_start_time": "09:00",
        "allowed_hours_end_time": "17:30", "allowed_days": ["friday", "monday"], "max_retries": 2,
        "retry_interval": 300, "retry_on_voicemail": True, "retry_on_goal_incomplete": False,
        "goal_completion_variable": "goal_met", "mark_complete_when_no_leads": False, "phone_number_ids": [45, 47]}


def test_e2e_create_list_and_read_back_with_no_drift_and_the_write_only_fields_sent(client, platform):
    assistant = client.create_assistant(OUTBOUND)
    spec, _ = validate_spec({"name": "Winter", "assistant_id": assistant["id"], **FULL})
    created = KIND.endpoints.create(client, create_body(spec.model_dump(exclude_unset=True)), None)
    assert created["status"] == "draft" and created["allowed_hours_start_time"] == "09:00:00"
    for item in (created, listed(client)[created["id"]]):  # the create answer has seconds, the list not
        values, found = KIND.read(item)
        assert found == []
        assert values == {**{n: getattr(spec, n) for n in SHOWN}, "status": "stopped"}
    body = [w["body"] for w in platform.writes() if (w["method"], w["path"]) == ("POST", "/user/campaigns")][-1]
    assert body["timezone"] == "Europe/London" and body["phone_number_ids"] == [45, 47]
    assert body["assistant_id"] == assistant["id"] and "status" not in body


def test_e2e_the_defaults_read_back_equal_to_the_documented_ones(client):
    assistant = client.create_assistant(OUTBOUND)
    created = create(client, assistant_id=assistant["id"])
    values, found = KIND.read(listed(client)[created["id"]])
    assert found == []
    assert {n: values[n] for n in SHOWN if n != "name"} == {f.name: f.default for f in FIELDS
                                                            if f.default is not base.NO_DEFAULT}


def test_e2e_the_singular_create_path_of_other_white_labels(client):
    assistant = client.create_assistant(OUTBOUND)
    created = create(client, kind=campaign_kind("/user/campaign"), assistant_id=assistant["id"])
    assert created["id"] in listed(client)


def test_e2e_start_and_stop_are_actions_that_the_list_then_shows(client):
    assistant = client.create_assistant(OUTBOUND)
    created = create(client, assistant_id=assistant["id"], status="started")
    action = KIND.action("status")
    current = KIND.read(created)[0]["status"]
    assert action.plan("started", current) == "start"
    assert action.run(client, created["id"], "start") == "started"
    assert KIND.read(listed(client)[created["id"]])[0]["status"] == "started"
    assert action.plan("started", "started") is None
    assert action.run(client, created["id"], "stop") == "stopped"
    assert KIND.read(listed(client)[created["id"]])[0]["status"] == "stopped"


def test_e2e_delete_removes_it_and_a_second_delete_answers_the_platforms_404(client, platform):
    assistant = client.create_assistant(OUTBOUND)
    created = create(client, assistant_id=assistant["id"])
    platform.admin.post(f"/_emulator/campaigns/{created['id']}/leads",
                        json={"leads": [{"phone_number": "+14155550123"}]}).raise_for_status()
    KIND.endpoints.delete(client, created["id"], None)
    assert created["id"] not in listed(client)
    assert platform.admin.get(f"/_emulator/campaigns/{created['id']}/leads").json()["data"] == []
    with pytest.raises(NotFoundError):  # what it means is apply's to confirm (a list read agrees it is gone)
        KIND.endpoints.delete(client, created["id"], None)


def test_e2e_an_inbound_assistant_is_refused_with_the_documented_404_read_clearly(client):
    inbound = client.create_assistant({**OUTBOUND, "calls_direction": "receive"})
    with pytest.raises(NotFoundError) as refused:
        create(client, assistant_id=inbound["id"])
    message = str(refused.value)
    assert "Assistant not found or not an outbound assistant" in message
    assert f"assistant_id {inbound['id']} is not one of the account's outbound assistants" in message
    assert listed(client) == {}


def test_e2e_the_plan_time_rules_hold_on_the_platforms_read_of_the_assistant(client):
    assistant = client.create_assistant(OUTBOUND)
    item = next(a for a in client.list_assistants() if a["id"] == assistant["id"])
    assert item["post_call_schema"][0]["type"] == "boolean"
    assert check_graph(campaign(assistant_id=item["id"], goal_completion_variable="goal_met"),
                       {"assistant_id": item}) == []
    found = check_graph(campaign(assistant_id=item["id"], goal_completion_variable="summary"),
                        {"assistant_id": item})
    assert [path for path, _ in found] == [("goal_completion_variable",)]


def test_e2e_the_campaign_limit_is_a_403_that_says_what_to_do(client, platform):
    assistant = client.create_assistant(OUTBOUND)
    platform.faults(campaign_limit=1)
    try:
        create(client, assistant_id=assistant["id"])
        with pytest.raises(ApiError) as refused:
            create(client, assistant_id=assistant["id"], name="Spring")
    finally:
        platform.faults(campaign_limit=None)
    assert refused.value.status == 403
    assert "maximum number of campaigns" in str(refused.value) and "campaign limit" in str(refused.value)
    assert len(listed(client)) == 1


def test_e2e_status_refusals_read_clearly_403_and_404(client, platform):
    assistant = client.create_assistant(OUTBOUND)
    created = create(client, assistant_id=assistant["id"])
    with PlatformClient(platform.url, OTHER_TOKEN, notify=None) as other:
        with pytest.raises(ApiError) as foreign:
            run_status(other, created["id"], "start")
    assert foreign.value.status == 403 and "belongs to another account" in str(foreign.value)
    KIND.endpoints.delete(client, created["id"], None)
    with pytest.raises(NotFoundError) as gone:
        run_status(client, created["id"], "stop")
    assert "stopping campaign" in str(gone.value) and "no longer exists" in str(gone.value)


@pytest.fixture(scope="module")
def poor_platform(tmp_path_factory):
    """An emulator whose tenant has no balance: starting a campaign answers 400 (API.md)."""
    catalog = yaml.safe_load(resources.files("provisioner.emulator").joinpath("default_catalog.yaml").read_text())
    catalog["tenants"] = [{"token": "poor-token", "user_id": 1, "balance": False}]
    path = tmp_path_factory.mktemp("poor") / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog))
    with EmbeddedPlatform(build_platform(catalog=path)) as embedded:
        yield embedded


def test_e2e_starting_without_balance_is_refused_with_what_to_do(poor_platform):
    with PlatformClient(poor_platform.url, "poor-token", notify=None) as client:
        assistant = client.create_assistant(OUTBOUND)
        created = create(client, assistant_id=assistant["id"])
        with pytest.raises(ApiError) as refused:
            run_status(client, created["id"], "start")
        assert refused.value.status == 400
        assert "Insufficient balance" in str(refused.value) and "top up the account" in str(refused.value)
        assert KIND.read(listed(client)[created["id"]])[0]["status"] == "stopped"
        assert run_status(client, created["id"], "stop") == "stopped"  # stopping needs no balance


def _port_in_my_range() -> int:
    for port in range(19600, 19700):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 19600-19699")


def test_e2e_the_emulator_commands_campaign_limit_option():
    port = _port_in_my_range()
    process = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "--port", str(port),
                                "--campaign-limit", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=os.environ.copy())
    try:
        url = f"http://127.0.0.1:{port}/api"
        for _ in range(200):
            try:
                httpx.get(url + "/user/assistants/languages")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.05)
        with PlatformClient(url, TOKEN, notify=None) as client:
            assistant = client.create_assistant(OUTBOUND)
            with pytest.raises(ApiError) as refused:
                create(client, assistant_id=assistant["id"])
            assert refused.value.status == 403 and list_campaigns(client) == []
    finally:
        process.terminate()
        process.communicate(timeout=10)
