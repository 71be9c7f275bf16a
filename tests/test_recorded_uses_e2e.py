"""End to end: what state records an object uses (`depends_on`) follows its manifest when the object itself does not
change, through the real CLI against the emulator over HTTP. A destroy orders its deletes by that record
(docs/apply.md, rule 2)."""
from __future__ import annotations

import json

from test_graph_apply_e2e import GRAPH

TOOL = GRAPH.split("---\n")[0]  # tool.lookup


def ok(result):
    assert result.exit_code == 0, result.all
    return result


def _named_by_address_after_its_id(workspace) -> int:
    """A fleet applied with `caller` naming tool.lookup by its id, then its manifest naming it by address (the same
    id: nothing to change on the platform); `helper` names it by address throughout. Returns the tool's id."""
    workspace.dialect = "v2"
    workspace.write("manifests/tool.yaml", TOOL)
    for address in ("plain-a", "plain-b", "plain-c"):
        workspace.add(address)
    workspace.add("helper", tool_ids=["tool.lookup"])
    ok(workspace.run("apply", "--auto-approve"))
    tool = workspace.state()["resources"]["tool.lookup"]["id"]
    workspace.add("caller", tool_ids=[tool])
    ok(workspace.run("apply", "--auto-approve"))
    assert workspace.state()["resources"]["caller"].get("depends_on", []) == []
    workspace.add("caller", tool_ids=["tool.lookup"])
    return tool


def test_a_reference_written_by_address_where_its_id_was_is_recorded_without_any_change(workspace):
    """The plan had nothing to change, so state kept `caller` as using nothing, and a destroy whose delete of it
    failed deleted the tool alongside: the assistant stayed on the platform without it. The plan now refreshes that
    one record (no other of the fleet), and the tool's delete waits for the assistant's."""
    tool = _named_by_address_after_its_id(workspace)
    plan = json.loads(ok(workspace.run("plan", "--json")).output)
    assert plan["changes"] == []
    assert [(s["address"], s["record"]["depends_on"]) for s in plan["state_sync"]] == [("caller", ["tool.lookup"])]
    ok(workspace.run("apply", "--auto-approve"))
    assert workspace.state()["resources"]["caller"]["depends_on"] == ["tool.lookup"]
    assert json.loads(ok(workspace.run("plan", "--json")).output)["state_sync"] == []

    workspace.platform.faults(error_rate=1, kinds=["assistants"], methods=["DELETE"])
    failed = workspace.run("destroy", "--auto-approve", "--max-retries", "1")
    workspace.platform.faults(error_rate=0, kinds=None, methods=None)
    assert failed.exit_code == 1, failed.all
    assert tool in [t["id"] for t in workspace.platform.http.get("/user/tools").json()], failed.all
    assert "tool.lookup" in workspace.state()["resources"]

