"""Mid-call tools (provisioner/kinds/tool.py): the manifest's rules, the wire mapping with no false drift, secrets
kept out of everything but the request body, and the endpoints against the emulator over HTTP."""
from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import ValidationError

from kind_support import assert_no_drift as no_drift, assert_read_problem, changed, client, errors_of as spec_errors  # noqa: F401
from provisioner.client import PlatformClient
from provisioner.emulator.tools import check as platform_check, read_shape
from provisioner.errors import ApiError, NotFoundError, RejectedError
from provisioner.kinds import tool
from provisioner.kinds.base import UNKNOWN, hide, keyed_changes, matches
from provisioner.spec import _problem_from_pydantic

SECRET = "Bearer sk_live_DO_NOT_LEAK_4242"
VALID = {
    "name": "order_lookup",
    "description": "Look up an order's status by its number.",
    "endpoint": "https://api.example.com/orders/{order_id}/status",
    "method": "GET",
    "timeout": 12,
    "headers": {"Authorization": SECRET, "X-Trace": "on"},
    "schema": [{"name": "order_id", "type": "string", "description": "The order number."}],
}


def errors_of(raw: dict) -> dict[tuple, str]:
    return spec_errors(tool.ToolSpec, raw)


def with_(**changes) -> dict:
    return changed(VALID, **changes)


def emulated(body: dict, existing: dict | None = None) -> dict:
    """What the emulator stores and shows for a create (or an update of `existing`), without HTTP."""
    fields, errors = platform_check(body, existing)
    assert not errors, errors
    return read_shape({"id": 7, "fields": fields, "created_at": "t", "updated_at": "t"})


def wanted(raw: dict) -> dict:
    return tool.ToolSpec.model_validate(raw).model_dump(mode="json")


# --- the manifest's rules, by field path ---

def test_a_valid_tool_validates_and_dumps_in_the_platforms_words():
    fields = wanted(VALID)
    assert fields["schema"][0]["name"] == "order_id" and fields["headers"]["Authorization"] == SECRET
    assert wanted(with_(timeout=None, headers=None, schema=None, endpoint="https://x.example/a"))["timeout"] == 10


@pytest.mark.parametrize("changes, path, words", [
    ({"name": "Order"}, ("name",), "lowercase letters and underscores"),
    ({"name": "order1"}, ("name",), "lowercase letters and underscores"),
    # The example is said to be one (a bare "(get_weather)" after the rule read as if it were the value given).
    ({"name": "tool_v2"}, ("name",), "at most 64 characters, such as get_weather"),
    ({"name": "_order"}, ("name",), "starting with a letter"),
    ({"name": "a" * 65}, ("name",), "at most 64"),
    ({"description": ""}, ("description",), "1-255 characters"),
    ({"description": "x" * 256}, ("description",), "1-255 characters"),
    ({"endpoint": "ftp://x.example/a"}, ("endpoint",), "http"),
    ({"endpoint": "https://x.example/a b"}, ("endpoint",), "without spaces"),
    ({"endpoint": "https://x.example/" + "a" * 2048}, ("endpoint",), "2048"),
    ({"endpoint": "https://x.example/{missing}"}, ("endpoint",), "{missing} names no parameter"),
    ({"method": "get"}, ("method",), "GET"),
    ({"method": "HEAD"}, ("method",), "GET"),
    ({"timeout": 0}, ("timeout",), "at least 1"),
    ({"timeout": 31}, ("timeout",), "at most 30"),
    ({"timeout": True}, ("timeout",), "integer"),
    ({"headers": [{"name": "A", "value": "b"}]}, ("headers",), "mapping"),
    ({"headers": {"Bad Name": "x"}}, ("headers",), "HTTP header name"),
    ({"headers": {"X-A": "1", "x-a": "2"}}, ("headers",), "case-insensitive"),
    ({"headers": {"X-A": ""}}, ("headers", "X-A"), "empty"),
    ({"headers": {"X-A": 5}}, ("headers", "X-A"), "string"),
    ({"headers": {"X-A": "a\nb"}}, ("headers", "X-A"), "line break"),
    ({"schema": [{"name": "a", "type": "string", "description": "abc"}]}, ("schema", 0, "name"), "2-32"),
    ({"schema": [{"name": "a" * 33, "type": "string", "description": "abc"}]}, ("schema", 0, "name"), "2-32"),
    ({"schema": [{"name": "9ab", "type": "string", "description": "abc"}]}, ("schema", 0, "name"),
     "starting with a letter, such as order_id"),
    ({"schema": [{"name": "order_id", "type": "bool", "description": "abc"}]}, ("schema", 0, "type"), "boolean"),
    ({"schema": [{"name": "order_id", "type": "string", "description": "ab"}]},
     ("schema", 0, "description"), "3"),
    ({"schema": [{"name": "order_id", "type": "string", "description": "x" * 256}]},
     ("schema", 0, "description"), "255"),
    ({"schema": [{"name": "order_id", "type": "string"}]}, ("schema", 0, "description"), "required"),
    ({"schema": [{"name": "order_id", "type": "string", "description": "abc"}] * 2}, ("schema",), "twice"),
    ({"body_format": "json"}, ("body_format",), "unknown field"),
    ({"name": None}, ("name",), "required"),
    ({"method": None}, ("method",), "required"),
])
def test_every_rule_is_reported_at_its_field_path(changes, path, words):
    problems = errors_of(with_(**changes))
    assert path in problems, problems
    assert words.lower() in problems[path].lower(), problems[path]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=70))
def test_a_name_is_valid_exactly_when_lowercase_letters_and_underscores_from_a_letter_up_to_64(name):
    ok = bool(name) and len(name) <= 64 and name[0].isascii() and name[0].islower() and \
        all(c == "_" or (c.isascii() and c.islower()) for c in name)
    assert (("name",) not in errors_of(with_(name=name))) == ok


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(-100, 100), st.booleans(), st.floats(allow_nan=False), st.text(max_size=3)))
def test_timeout_is_an_integer_from_1_to_30(value):
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 30
    assert (("timeout",) not in errors_of(with_(timeout=value))) == ok


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=0, max_size=36))
def test_a_parameter_name_is_2_to_32_letters_and_underscores_from_a_letter(name):
    ok = 2 <= len(name) <= 32 and name[0].isascii() and name[0].isalpha() and \
        all(c == "_" or (c.isascii() and c.isalpha()) for c in name)
    raw = with_(endpoint="https://x.example/a", schema=[{"name": name, "type": "number", "description": "abc"}])
    assert (("schema", 0, "name") not in errors_of(raw)) == ok


# --- the wire mapping: what is sent comes back equal (no false drift) ---

header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)
header_values = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80)
parameters = st.lists(st.fixed_dictionaries({
    "name": st.from_regex(r"[A-Za-z][A-Za-z_]{1,31}", fullmatch=True),
    "type": st.sampled_from(["string", "number", "boolean"]),
    "description": st.text(st.characters(blacklist_categories=("Cs",)), min_size=3, max_size=255)
    .filter(lambda d: d.strip() != "")}), max_size=4, unique_by=lambda p: p["name"])


@st.composite
def tools(draw) -> dict:
    schema = draw(parameters)
    names = [p["name"] for p in schema]
    placeholders = "".join(f"/{{{n}}}" for n in draw(st.sets(st.sampled_from(names), max_size=2))) if names else ""
    raw = {
        "name": draw(st.from_regex(r"[a-z][a-z_]{0,63}", fullmatch=True)),
        "description": draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=255)
                            .filter(lambda d: d.strip() != "")),
        "endpoint": draw(st.from_regex(r"https?://[a-z]{1,12}\.example(:[0-9]{2,4})?(/[a-z0-9_.-]{0,10}){0,3}",
                                       fullmatch=True)) + placeholders,
        "method": draw(st.sampled_from(tool.METHODS)),
        "headers": draw(st.dictionaries(header_names, header_values, max_size=4)
                        .filter(lambda h: len({k.lower() for k in h}) == len(h))),
        "schema": schema,
    }
    if draw(st.booleans()):
        raw["timeout"] = draw(st.integers(1, 30))
    return raw


def assert_no_drift(fields: dict, item: dict) -> None:
    no_drift(tool.KIND, fields, item)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tools())
def test_create_body_read_back_equals_the_manifest(raw):
    fields = wanted(raw)
    assert_no_drift(fields, emulated(tool.create_body(fields)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tools(), tools(), st.sets(st.sampled_from([f.name for f in tool.FIELDS])))
def test_an_update_of_some_fields_reads_back_as_the_new_manifest(first, second, changed):
    before = wanted(first)
    second = {**second, "schema": first["schema"], "endpoint": first["endpoint"]} \
        if not {"schema", "endpoint"} <= changed else second
    after = wanted(second)
    stored, _ = platform_check(tool.create_body(before), None)
    body = tool.update_body({name: after[name] for name in changed})
    merged = {**before, **{name: after[name] for name in changed}}
    assert_no_drift(merged, emulated(body, stored))


def test_headers_replace_whole_and_an_empty_mapping_clears_them():
    stored, _ = platform_check(tool.create_body(wanted(VALID)), None)
    assert tool.update_body({"headers": {}}) == {"headers": []}
    assert emulated(tool.update_body({"headers": {}}), stored)["headers"] == []


def test_a_header_read_without_its_value_is_unknown_not_drift():
    item = emulated(tool.create_body(wanted(VALID)))
    item["headers"] = [{"name": "Authorization"}, {"name": "X-Trace", "value": None}]
    values, problems = tool.read(item)
    assert problems == [] and values["headers"] == {"Authorization": UNKNOWN, "X-Trace": UNKNOWN}
    assert matches(wanted(VALID)["headers"], values["headers"])
    assert not matches({"Authorization": SECRET}, values["headers"])   # a header gone is still drift


def test_a_header_twice_on_the_platform_is_drift():
    item = emulated(tool.create_body(wanted(VALID)))
    item["headers"].append({"name": "X-Trace", "value": "on"})
    values, _ = tool.read(item)
    assert not matches(wanted(VALID)["headers"], values["headers"])


@pytest.mark.parametrize("answer_field, value", [
    ("timeout", "10"), ("name", None), ("headers", "Authorization: x"), ("headers", [1]), ("schema", {"a": 1})])
def test_an_unreadable_answer_is_a_read_problem_naming_the_field(answer_field, value):
    assert_read_problem(tool.KIND, emulated(tool.create_body(wanted(VALID))), answer_field, value)


def test_newer_platforms_extras_are_not_read_as_drift():
    item = emulated(tool.create_body(wanted(VALID)))
    item.update(type="http", body_format="json", static_fields=[])
    item["schema"][0]["required"] = True
    assert_no_drift(wanted(VALID), item)


# --- facts and secrets ---

def test_the_kinds_facts():
    facts = tool.KIND.by_name
    assert tool.KIND.name == "tool" and tool.KIND.manifest_kind == "Tool" and tool.KIND.name_field == "name"
    assert facts["headers"].sensitive and facts["headers"].keys_shown and facts["headers"].default == {}
    assert facts["timeout"].default == 10 and facts["schema"].default == []
    assert all(f.shown and not f.replace for f in tool.FIELDS)
    assert {f.name for f in tool.FIELDS} == set(tool.ToolSpec.model_json_schema(by_alias=True)["properties"])


def test_a_header_change_is_shown_by_name_only_and_state_keeps_digests_per_header():
    facts = tool.KIND.facts("headers")
    before = hide(wanted(VALID)["headers"], facts)
    assert SECRET not in json.dumps(before) and set(before) == {"Authorization", "X-Trace"}
    after = {"Authorization": SECRET + "x", "X-Trace": "on", "X-New": "1"}
    lines = keyed_changes(before, after)
    assert lines == ["Authorization (changed)", "X-New (added)"]
    assert keyed_changes(before, {"X-Trace": "on"}) == ["Authorization (removed)"]
    assert keyed_changes(before, {"Authorization": UNKNOWN, "X-Trace": "on"}) == []


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=6, max_size=40), st.sampled_from([
    {"timeout": 99}, {"name": "BAD"}, {"endpoint": "nope"}, {"method": "x"}, {}]), st.sampled_from([
        lambda s: {"Authorization": s}, lambda s: {"Authorization": s + "\n"}, lambda s: {"Bad Name": s},
        lambda s: s, lambda s: [{"name": "A", "value": s}], lambda s: {"A": s, "a": s}]))
def test_a_header_value_is_never_in_a_validation_message(secret, other, headers):
    # A marker no message could hold by chance: a bare generated text may be a word of one ("starti").
    secret = f"SECRET-7f3a:{secret}"
    raw = with_(**other, headers=headers(secret))
    try:
        tool.ToolSpec.model_validate(raw)
    except ValidationError as error:
        for e in error.errors(include_url=False):
            report = _problem_from_pydantic(e).message + json.dumps(e.get("ctx") or {}, default=str)
            assert secret not in report and secret.strip() not in report.split("'")


def test_the_spec_repr_hides_header_values():
    assert SECRET not in repr(tool.ToolSpec.model_validate(VALID))


def test_read_problems_and_answer_errors_never_quote_a_header_value():
    item = emulated(tool.create_body(wanted(VALID)))
    item["timeout"] = SECRET
    _, problems = tool.read(item)
    assert SECRET not in repr(problems)
    with pytest.raises(ApiError) as caught:
        tool.item_of({"data": {"headers": [{"name": "Authorization", "value": SECRET}]}}, "POST /user/tools",
                     created=True)
    assert SECRET not in str(caught.value)


def test_the_editor_schema_speaks_the_platforms_words():
    schema = tool.ToolSpec.model_json_schema(by_alias=True)
    assert {"name", "description", "endpoint", "method", "timeout", "headers", "schema"} == set(schema["properties"])
    assert set(schema["required"]) == {"name", "description", "endpoint", "method"}
    assert schema["properties"]["headers"]["additionalProperties"]["maxLength"] == tool.MAX_URL


# --- the endpoints, against the emulator over HTTP with a real client ---



def test_create_list_update_delete_over_http(client, platform):
    endpoints, fields = tool.KIND.endpoints, wanted(VALID)
    created = endpoints.create(client, tool.create_body(fields), None)
    assert created["id"] > 0
    listed = {item["id"]: item for item in endpoints.list(client, None)}
    assert_no_drift(fields, listed[created["id"]])

    after = wanted(with_(timeout=30, headers={"Authorization": SECRET + "2"}, description="Changed."))
    updated = endpoints.update(client, created["id"], tool.update_body(
        {k: after[k] for k in ("timeout", "headers", "description")}), None)
    assert updated["id"] == created["id"]
    assert_no_drift(after, {i["id"]: i for i in endpoints.list(client, None)}[created["id"]])
    one = client.request("GET", f"/user/tools/{created['id']}")   # read one: the tool itself, unwrapped
    assert_no_drift(after, tool.item_of(one, "GET"))

    endpoints.delete(client, created["id"], None)
    assert created["id"] not in {item["id"] for item in endpoints.list(client, None)}
    with pytest.raises(NotFoundError):   # already gone: apply confirms it with a list read
        endpoints.delete(client, created["id"], None)
    assert not any(SECRET in notice for notice in client.notices)


def test_the_platforms_field_errors_come_back_as_a_rejection(client):
    body = tool.create_body(wanted(VALID))
    body["name"] = "Not Valid"
    with pytest.raises(RejectedError) as caught:
        tool.KIND.endpoints.create(client, body, None)
    assert "name" in caught.value.errors and SECRET not in str(caught.value)


def test_the_plan_limit_is_a_clear_error_with_no_retry(client, platform):
    platform.faults(tool_limit=1)
    try:
        tool.KIND.endpoints.create(client, tool.create_body(wanted(VALID)), None)
        sent = client.request_count
        with pytest.raises(tool.PlanLimitError) as caught:
            tool.KIND.endpoints.create(client, tool.create_body(wanted(with_(name="second"))), None)
    finally:
        platform.faults(tool_limit=None)
    assert client.request_count == sent + 1    # asked once: no retry helps
    message = str(caught.value)
    assert "plan limit" in message and "'second'" in message and "retrying will not help" in message
    assert SECRET not in message


def test_the_list_and_one_read_accept_both_shapes():
    item = {"id": 3, "name": "a"}
    assert tool.items_of([item], "GET") == tool.items_of({"data": [item]}, "GET") == [item]
    assert tool.item_of(item, "GET") == tool.item_of({"data": item}, "GET") == item
    with pytest.raises(ApiError):
        tool.items_of({"items": []}, "GET")
    with pytest.raises(ApiError):
        tool.items_of([{"name": "no id"}], "GET")


def test_list_over_a_mock_platform_answering_data_wrapped():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [emulated(tool.create_body(wanted(VALID)))]})

    with PlatformClient("http://p.test/api", "t", transport=httpx.MockTransport(handler)) as client:
        assert [i["id"] for i in tool.list_tools(client)] == [7]
