"""Renames without re-creating (moved blocks, docs/day-two.md), through the real CLI against the emulator over HTTP:
a rename of every kind is a move in state (same id, nothing sent), a rename with a field change one update, chains,
the refusals, references that still name the old address, the "this looks like a rename" hint, saved plans,
workspaces, and both state backends."""
from __future__ import annotations

import json

import pytest

from conftest import manifest_text

V2 = ("--api-dialect", "v2")


def moved(source: str, target: str) -> str:
    return f"apiVersion: provisioner/v1\nkind: Moved\nspec:\n  from: {source}\n  to: {target}\n"


def tool(address: str, name: str = "order_lookup", description: str = "Look up an order.") -> str:
    return (f"apiVersion: provisioner/v1\nkind: Tool\nmetadata: {{name: {address}}}\nspec:\n  name: {name}\n"
            f"  description: {description}\n  endpoint: https://api.example.com/orders/{{order_id}}\n  method: GET\n"
            "  schema:\n    - {name: order_id, type: string, description: The order number.}\n")


def folder(address: str, name: str = "Support", color: str = "blue") -> str:
    return f"apiVersion: provisioner/v1\nkind: Folder\nmetadata: {{name: {address}}}\nspec: {{name: {name}, color: {color}}}\n"


def ids(workspace) -> dict[str, int]:
    return {r["address"]: r["id"] for r in workspace.run("state", "list", "--json").output and
            json.loads(workspace.run("state", "list", "--json").output)}


def state_ids(workspace) -> dict[str, int]:
    return {address: entry["id"] for address, entry in workspace.state()["resources"].items()}


def test_an_assistant_renamed_with_a_moved_block_keeps_its_id_and_sends_nothing(workspace, platform, backend):
    workspace.add("support", name="Support")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = state_ids(workspace)["support"]
    workspace.remove("support")
    workspace.add("helpdesk", name="Support")
    workspace.write("manifests/moves.yaml", moved("support", "helpdesk"))
    writes = len(platform.writes())
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.all
    assert "# helpdesk moved from support" in plan.output and "destroy" not in plan.output.replace("0 to destroy", "")
    assert "Plan: 0 to add, 0 to change, 0 to destroy, 1 to move." in plan.output
    as_json = json.loads(workspace.run("plan", "--json").output)
    assert as_json["moves"] == [{"from": "support", "to": "helpdesk", "kind": "assistant", "id": before}]
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert "1 moved" in applied.output
    assert len(platform.writes()) == writes  # only the state changed
    assert state_ids(workspace) == {"helpdesk": before}
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all
    assert "nothing to move" in again.output  # the block can stay: a note, not an error
