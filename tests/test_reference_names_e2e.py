"""End to end, the real CLI against the emulator over HTTP: a plan shows the address beside each id a changed reference
holds, where the run can name it (docs/graph.md, "Names beside ids"). It showed `tool_ids ~ 0: 125 -> 115`, and a
reviewer could not tell which tools those were."""
from __future__ import annotations

import json

import pytest

from conftest import copy_graph_example

CALENDAR = """---
apiVersion: provisioner/v1
kind: Tool
metadata:
  name: calendar
spec:
  name: calendar
  description: Book a delivery slot.
  endpoint: https://api.example.com/calendar
  method: GET
  timeout: 10
  schema:
    - {name: day, type: string, description: The day the caller wants.}
"""
SUPPORT_FOLDER = """---
apiVersion: provisioner/v1
kind: Folder
metadata:
  name: support
spec:
  name: Support
"""


def ok(result):
    assert result.exit_code == 0, result.all
    return result


@pytest.fixture
def swapped(workspace, monkeypatch):
    """The graph example, with a second tool, applied; then its assistant's manifest swaps its tool for the other
    and a tool no manifest manages, and moves it to a folder that exists on the platform (adopted by this plan).
    The workspace, and the ids: (order-lookup, calendar, the unmanaged tool, sales, support)."""
    copy_graph_example(workspace)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-E2E_DO_NOT_LEAK_61")
    monkeypatch.setenv("ORDERS_API_KEY", "key-E2E_DO_NOT_LEAK_62")
    tools = workspace.root / "manifests" / "tool.yaml"
    tools.write_text(tools.read_text() + CALENDAR)
    ok(workspace.run("apply", "--auto-approve"))
    resources = workspace.state()["resources"]
    unmanaged = workspace.platform.http.post("/user/tools", json={
        "name": "weather", "description": "Weather.", "endpoint": "https://api.example.com/weather",
        "method": "GET", "timeout": 10, "schema": []})
    assert unmanaged.status_code == 201, unmanaged.text
    support = workspace.platform.http.post("/user/folder", json={"name": "Support"})
    assert support.status_code == 201, support.text
    groups = workspace.root / "manifests" / "groups.yaml"
    groups.write_text(groups.read_text() + SUPPORT_FOLDER)
    weather = unmanaged.json()["data"]["id"]
    assistant = workspace.root / "manifests" / "assistant.yaml"
    text = assistant.read_text()
    assert "tool_ids: [tool.order-lookup]" in text and "folder_id: folder.sales" in text
    assistant.write_text(text.replace("tool_ids: [tool.order-lookup]", f"tool_ids: [tool.calendar, {weather}]")
                         .replace("folder_id: folder.sales", "folder_id: folder.support"))
    return workspace, (resources["tool.order-lookup"]["id"], resources["tool.calendar"]["id"], weather,
                       resources["folder.sales"]["id"], support.json()["data"]["id"])


def test_a_changed_reference_shows_the_address_of_each_id_the_run_knows(swapped):
    workspace, (lookup, calendar, weather, sales, support) = swapped
    text = ok(workspace.run("plan")).output
    # The tools from state; the one no manifest manages stays a bare id; the folder this plan adopts is named too.
    # A set (the platform takes an assistant's tools as one): what it loses and what it gains, not by position
    # (`0: lookup -> calendar`, `1: (none) -> weather` read as a slot changed where a tool was swapped).
    assert (f"~ tool_ids  {{  # write-only\n          - {lookup} (tool.order-lookup)\n"
            f"          + {calendar} (tool.calendar)\n          + {weather}\n        }}\n") in text, text
    assert f"~ folder_id = {sales} (folder.sales) -> {support} (folder.support)  # write-only" in text, text
    markdown = ok(workspace.run("plan", "--format", "markdown")).output
    assert (f"| `tool_ids` | _removed:_ `{lookup} (tool.order-lookup)` | _added:_ `{calendar} (tool.calendar)`, "
            f"`{weather}` | write-only: compared with the last applied value |") in markdown, markdown
    assert f"| `folder_id` | `{sales} (folder.sales)` | `{support} (folder.support)` |" in markdown
    document = json.loads(ok(workspace.run("plan", "--json")).output)
    [change] = [c for c in document["changes"] if c["address"] == "winter-caller"]
    fields = {f["field"]: f for f in change["fields"]}
    # A new key beside the others, which keep their values (ids); only a field with an id to name has it.
    assert fields["tool_ids"]["names"] == {str(lookup): "tool.order-lookup", str(calendar): "tool.calendar"}
    assert (fields["tool_ids"]["before"], fields["tool_ids"]["after"]) == ([lookup], [calendar, weather])
    assert fields["folder_id"]["names"] == {str(sales): "folder.sales", str(support): "folder.support"}
    assert change["body"]["tool_ids"] == [calendar, weather]
    assert all("names" not in f for c in document["changes"] for f in c["fields"]
               if f["field"] not in ("tool_ids", "folder_id"))


def test_a_saved_plan_shows_the_names_it_was_planned_with(swapped):
    """`show FILE` reads the names from the file: the same text as the plan that wrote it, with no state at hand."""
    workspace, (lookup, calendar, *_rest) = swapped
    planned = ok(workspace.run("plan", "--out", "swap.plan")).output
    markdown = ok(workspace.run("plan", "--format", "markdown")).output
    workspace.lose_state()
    shown = ok(workspace.run("show", "swap.plan")).output
    assert f"- {lookup} (tool.order-lookup)\n          + {calendar} (tool.calendar)" in shown, shown
    assert planned.startswith(shown.rstrip("\n") + "\n\nSaved the plan to swap.plan."), (planned, shown)
    assert ok(workspace.run("show", "--format", "markdown", "swap.plan")).output == markdown


def test_the_state_view_names_the_ids_its_references_hold(swapped):
    """`show` without a plan file: each reference's ids with the address of the state's object beside them."""
    workspace, (lookup, _calendar, _weather, sales, _support) = swapped
    shown = ok(workspace.run("show")).output
    [assistant] = [block for block in shown.split("\n\n") if 'assistant "winter-caller"' in block]
    assert "tool_ids " in assistant and f"= [{lookup} (tool.order-lookup)]  # write-only" in assistant, assistant
    assert f"= {sales} (folder.sales)  # write-only" in assistant, assistant
    assert "voice_id" in assistant and "(voice" not in assistant  # not a reference: as it was
    document = json.loads(ok(workspace.run("show", "--json")).output)  # the JSON view is unchanged: ids
    [entry] = [r for r in document["resources"] if r["address"] == "winter-caller"]
    assert entry["last_applied"]["tool_ids"] == [lookup]
