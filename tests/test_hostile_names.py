"""Addresses, names, workspaces, projects and variables match whole: a `$` that accepts a final newline, or a
`match` that stops early, lets "a\\n" pass for "a" (and the apply then destroys one assistant and creates
another). Each neighbour of a good name (newline, carriage return, NUL, the Unicode line and paragraph
separators, NEL) is refused wherever a name comes in: manifests, state documents, pushed state, store rows
(test_hostile_store.py), CLI arguments and the environment.
"""
from __future__ import annotations

import json

import pytest

from provisioner.errors import StateError
from provisioner.state import State

NEIGHBOURS = {"newline": "\n", "carriage return": "\r", "NUL": "\x00", "line separator": "\u2028",
              "paragraph separator": "\u2029", "next line": "\x85", "CRLF": "\r\n"}
YAML_ESCAPES = {"\n": "\\n", "\r": "\\r", "\x00": "\\0", "\u2028": "\\L", "\u2029": "\\P", "\x85": "\\N",
                "\r\n": "\\r\\n"}
PLACES = ("after", "before")


def _around(name: str, neighbour: str, place: str) -> str:
    return name + neighbour if place == "after" else neighbour + name


@pytest.fixture
def managed(workspace):
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    return workspace


def platform_writes(workspace) -> dict:
    return {k: v for k, v in workspace.platform.stats()["requests"].items() if k.startswith(("POST", "PUT", "DELETE"))}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("neighbour", sorted(NEIGHBOURS))
def test_a_state_document_address_with_a_neighbour_is_refused(neighbour, place):
    address = _around("a", NEIGHBOURS[neighbour], place)
    document = {"version": 1, "lineage": "l", "serial": 1, "resources": {address: {"id": 1, "spec": None}}}
    with pytest.raises(StateError, match="not a valid address"):
        State.loads(json.dumps(document), "doc.json")


@pytest.mark.parametrize("neighbour", sorted(NEIGHBOURS))
def test_a_manifest_name_with_a_neighbour_is_refused_before_any_request(workspace, neighbour):
    escaped = YAML_ESCAPES[NEIGHBOURS[neighbour]]
    workspace.add("a")
    text = (workspace.root / "manifests" / "a.yaml").read_text().replace("name: a\n", f'name: "a{escaped}"\n', 1)
    (workspace.root / "manifests" / "a.yaml").write_text(text)
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 1, result.all
    assert "a.yaml" in result.stderr and "Traceback" not in result.all
    assert workspace.platform.assistants() == []


@pytest.mark.parametrize("neighbour", sorted(NEIGHBOURS))
def test_pushed_state_with_a_neighbour_in_an_address_changes_nothing(managed, neighbour):
    document = managed.state()
    entry = document["resources"].pop("a")
    document["resources"]["a" + NEIGHBOURS[neighbour]] = entry
    document["serial"] += 1
    (managed.root / "doc.json").write_text(json.dumps(document))
    before = managed.state()
    result = managed.run("state", "push", "--force", "doc.json")
    assert result.exit_code == 1 and "not a valid address" in result.stderr, result.all
    assert managed.state() == before


def _cli_cases(neighbour: str, remote_id: int) -> dict[str, tuple[str, ...]]:
    bad = "a" + neighbour
    return {
        "state mv to": ("state", "mv", "a", bad),
        "state mv from": ("state", "mv", bad, "b"),
        "state rm": ("state", "rm", bad),
        "import": ("import", bad, str(remote_id)),
        "plan --target": ("plan", "--target", bad),
        "apply --target": ("apply", "--auto-approve", "--target", bad),
        "destroy --target": ("destroy", "--auto-approve", "--target", bad),
        "workspace new": ("workspace", "new", "w" + neighbour),
        "workspace select": ("workspace", "select", "default" + neighbour),
        "--workspace": ("plan", "--workspace", "default" + neighbour),
        "--var": ("plan", "--var", f"x{neighbour}=1"),
    }


CLI_CASES = sorted(_cli_cases("\n", 1))


@pytest.mark.parametrize("case", CLI_CASES)
@pytest.mark.parametrize("neighbour", ["newline", "line separator", "NUL"])
def test_a_cli_argument_with_a_neighbour_is_refused_and_changes_nothing(managed, case, neighbour):
    remote_id = managed.state()["resources"]["a"]["id"]
    argv = _cli_cases(NEIGHBOURS[neighbour], remote_id)[case]
    before, writes = managed.state(), platform_writes(managed)
    result = managed.run(*argv)
    assert result.exit_code == 1, result.all
    assert "Traceback" not in result.all
    assert managed.state() == before
    assert platform_writes(managed) == writes
    assert [w.name for w in (managed.root / "state").iterdir() if w.name == "workspace"] == []


@pytest.mark.parametrize("neighbour", ["newline", "line separator", "carriage return", "next line"])
def test_a_project_name_with_a_neighbour_is_refused(managed, neighbour, monkeypatch):
    monkeypatch.setenv("PROVISIONER_PROJECT", "p" + NEIGHBOURS[neighbour] + "q")
    result = managed.run("state", "list")
    assert result.exit_code == 1 and "not a valid project name" in result.stderr, result.all


@pytest.mark.parametrize("neighbour", ["line separator", "next line", "NUL"])
def test_a_remembered_workspace_with_a_neighbour_is_refused(managed, neighbour):
    (managed.root / "state" / "workspace").write_text("default" + NEIGHBOURS[neighbour] + "\n")
    result = managed.run("plan")
    assert result.exit_code == 1 and "not a valid workspace name" in result.stderr, result.all


@pytest.mark.parametrize("template", ["{id}\n", " {id}", "{id} ", "+{id}", "{id}_0", "\u0665", "0", "0{id}",
                                      "{id}.0", "9223372036854775808", "{id}\u2028", "{id}\x00"])
def test_an_id_on_the_command_line_matches_whole(managed, template):
    text = template.format(id=managed.state()["resources"]["a"]["id"])
    before, writes = managed.state(), platform_writes(managed)
    result = managed.run("import", "b", text)
    assert result.exit_code != 0 and "is not a platform id" in result.stderr, result.all
    assert "Traceback" not in result.all
    assert managed.state() == before and platform_writes(managed) == writes
