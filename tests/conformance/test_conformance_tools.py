"""Mid-call tools (API.md "Mid-call tools"), over HTTP with the independent client, answers against schemas."""
from __future__ import annotations

import pytest

import conformance_kind_schemas as S
from conformance_bodies import v2_body
from conformance_fixtures import admin, answered, api, other, settings  # noqa: F401 (pytest fixtures)

WEATHER = {"name": "get_weather", "description": "Look up the weather.", "endpoint":
           "https://api.example.com/orders/{order_id}/status", "method": "POST", "timeout": 12,
           "headers": [{"name": "Authorization", "value": "Bearer sk_live_123"}],
           "schema": [{"name": "order_id", "type": "string", "description": "The order's id."}]}


def test_create_list_read_update_delete_with_header_values_shown_back(api):
    created = answered(api.raw("POST", "/user/tools", json=WEATHER), 201, S.TOOL_CREATED)["data"]
    assert {k: created[k] for k in WEATHER} == WEATHER, "every field as sent, header values in clear"
    assert answered(api.raw("GET", "/user/tools"), 200, S.TOOLS) == [created], "a bare array"
    assert answered(api.raw("GET", f"/user/tools/{created['id']}"), 200, S.TOOL) == created, "not wrapped"
    updated = answered(api.raw("PUT", f"/user/tools/{created['id']}", json={"timeout": 30, "headers": []}), 200,
                       S.TOOL_UPDATED)["data"]
    assert updated["timeout"] == 30 and updated["headers"] == [] and updated["schema"] == WEATHER["schema"]
    assert updated["name"] == "get_weather", "only the fields sent change"
    answered(api.raw("DELETE", f"/user/tools/{created['id']}"), 200, S.TOOL_DELETED)
    assert api.tools() == []
    for method in ("GET", "PUT", "DELETE"):
        answered(api.raw(method, f"/user/tools/{created['id']}", json={}), 404, S.TOOL_404)


def test_defaults(api):
    tool = api.create_tool()
    assert (tool["timeout"], tool["headers"], tool["schema"]) == (10, [], [])


@pytest.mark.parametrize("overrides, key", [
    ({"name": "GetWeather"}, "name"), ({"name": "get-weather"}, "name"), ({"name": "1tool"}, "name"),
    ({"name": "get_weather2"}, "name"), ({"name": None}, "name"), ({"description": "x" * 256}, "description"),
    ({"description": None}, "description"), ({"endpoint": "not a url"}, "endpoint"), ({"endpoint": None}, "endpoint"),
    ({"method": "FETCH"}, "method"), ({"method": None}, "method"), ({"timeout": 0}, "timeout"),
    ({"timeout": 31}, "timeout"), ({"headers": [{"name": "X"}]}, "headers.0.value"),
    ({"headers": "X: y"}, "headers"), ({"schema": [{"name": "a", "type": "string", "description": "ddd"}]},
                                       "schema.0.name"),
    ({"schema": [{"name": "x" * 33, "type": "string", "description": "ddd"}]}, "schema.0.name"),
    ({"schema": [{"name": "ok_1", "type": "string", "description": "ddd"}]}, "schema.0.name"),
    ({"schema": [{"name": "ok", "type": "bool", "description": "ddd"}]}, "schema.0.type"),
    ({"schema": [{"name": "ok", "type": "string", "description": "dd"}]}, "schema.0.description"),
    ({"schema": [{"name": "ok", "type": "string"}]}, "schema.0.description"),
])
def test_rules(api, overrides, key):
    body = answered(api.raw("POST", "/user/tools", json={**WEATHER, **overrides}), 422, S.errors_422())
    assert list(body["errors"]) == [key]


def test_the_name_rule_in_the_references_words(api):
    body = answered(api.raw("POST", "/user/tools", json={**WEATHER, "name": "Bad"}), 422, S.errors_422())
    assert body["errors"]["name"] == ["Tool name must contain only lowercase letters and underscores, and start "
                                      "with a letter."]


def test_update_validates_and_refuses_a_required_field_as_null(api):
    tool = api.create_tool()
    for body, key in (({"name": "Nope"}, "name"), ({"method": None}, "method")):
        assert list(answered(api.raw("PUT", f"/user/tools/{tool['id']}", json=body), 422,
                             S.errors_422())["errors"]) == [key]


def test_the_plan_limit_is_a_422_without_errors(api, settings):
    settings(tool_limit=2)
    api.create_tool(), api.create_tool(name="other")
    body = answered(api.raw("POST", "/user/tools", json=WEATHER), 422, S.TOOL_LIMIT)
    assert "2 mid call tools" in body["message"]


def test_another_users_tool_is_not_found(api, other):
    tool = api.create_tool()
    for method in ("GET", "PUT", "DELETE"):
        answered(other.raw(method, f"/user/tools/{tool['id']}", json={"timeout": 5}), 404, S.TOOL_404)
    assert other.tools() == [] and api.tools() == [tool]


def test_deleting_a_tool_removes_it_from_every_assistant(api, admin):
    keep, gone = api.create_tool(name="keep"), api.create_tool(name="gone")
    first = api.create(v2_body(api, tool_ids=[keep["id"], gone["id"]]))["data"]
    second = api.create(v2_body(api, name="Second", tool_ids=[gone["id"]]))["data"]
    before = api.list_all()
    api.remove(f"/user/tools/{gone['id']}")
    assert api.list_all() == before, "nothing in any read shows that this happened (updated_at included)"
    stored = [admin.get(f"/_emulator/objects/assistants/{a['id']}").json()["fields"]["tool_ids"]
              for a in (first, second)]
    assert stored == [[keep["id"]], []]
    assert all("tool_ids" not in a for a in api.list_all()), "tool_ids is never shown back"


def test_an_assistants_tool_ids_must_be_the_users_own_tools(api, other):
    mine, theirs = api.create_tool(), other.create_tool()
    body = answered(api.raw("POST", "/user/assistant", json=v2_body(api, tool_ids=[mine["id"], theirs["id"], 999999])),
                    422, S.errors_422())
    assert sorted(body["errors"]) == ["tool_ids.1", "tool_ids.2"]
