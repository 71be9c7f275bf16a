"""State from the command line: migration of JSON state files, pull/push, workspaces, a store that cannot
be written (found before any platform write, or mid-apply), on the real CLI against the emulator."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from provisioner.state import ResourceState, State
from provisioner.state.sql import SqlStateStore, open_store
from test_reliability import assert_exactly_once, write_fleet


def test_an_old_json_state_file_is_migrated_and_kept_as_a_backup(workspace):
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    applied = workspace.state()
    workspace.lose_state()
    legacy = workspace.root / "state" / "default.json"
    old = State(lineage=applied["lineage"], serial=applied["serial"],
                resources={a: ResourceState.from_dict(r) for a, r in applied["resources"].items()})
    legacy.write_bytes(old.dumps())
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    assert not legacy.exists() and legacy.with_name("default.json.migrated").exists()
    migrated = workspace.state()
    assert (migrated["lineage"], migrated["serial"], migrated["resources"]) == (
        applied["lineage"], applied["serial"], applied["resources"])


def test_pull_and_push(workspace):
    workspace.add("a")
    workspace.add("b")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    pulled = workspace.run("state", "pull")
    document = json.loads(pulled.output)
    assert set(document["resources"]) == {"a", "b"} and document["history"]
    saved = workspace.write("backup.json", pulled.output)
    assert "nothing to do" in workspace.run("state", "push", str(saved)).output

    # An edited copy with a newer serial replaces the state; an older one is refused.
    newer = dict(document, serial=document["serial"] + 5, resources={"a": document["resources"]["a"]})
    edited = workspace.write("edited.json", json.dumps(newer))
    result = workspace.run("state", "push", str(edited))
    assert result.exit_code == 0, result.all
    assert set(workspace.state()["resources"]) == {"a"} and workspace.state()["serial"] == newer["serial"]
    refused = workspace.run("state", "push", str(saved))
    assert refused.exit_code == 1 and "older" in refused.stderr and "--force" in refused.stderr

    other = workspace.write("other.json", json.dumps(dict(document, lineage="another-lineage")))
    refused = workspace.run("state", "push", str(other))
    assert refused.exit_code == 1 and "is not the lineage" in refused.stderr
    assert workspace.state()["lineage"] == document["lineage"]
    assert workspace.run("state", "push", "--force", str(other)).exit_code == 0
    assert workspace.state()["lineage"] == "another-lineage"


@pytest.mark.parametrize("text", ['{"version": 1, "lineage": "x", "resources": [1]}', "not json",
                                  '{"version": 9, "lineage": "x"}'])
def test_pushing_a_malformed_document_changes_nothing(workspace, text):
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()
    bad = workspace.write("bad.json", text)
    result = workspace.run("state", "push", "--force", str(bad))
    assert result.exit_code == 1 and "bad.json" in result.stderr
    assert workspace.state() == before


def test_pushing_a_document_past_the_size_bound_reads_no_more_and_changes_nothing(workspace, monkeypatch):
    """`state push /dev/zero` read until the memory ran out: the read stops one byte past the bound."""
    monkeypatch.setattr("provisioner.commands.state.MAX_STATE_DOCUMENT_BYTES", 4096)
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()
    for source in ("/dev/zero", str(workspace.write("big.json", "{" + " " * 5000 + "}"))):
        result = workspace.run("state", "push", "--force", source)
        assert result.exit_code == 1 and f"{source} is larger than" in result.stderr, result.all
    assert workspace.state() == before
    pulled = workspace.run("state", "pull").output
    assert len(pulled) < 4096 and workspace.run("state", "push", "--force", "-", input=pulled).exit_code == 0


def test_workspaces(workspace, monkeypatch):
    workspace.add("a")
    assert workspace.run("workspace", "show").output.strip() == "default"
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    created = workspace.run("workspace", "new", "staging")
    assert created.exit_code == 0, created.all
    assert workspace.run("workspace", "show").output.strip() == "staging"
    assert (workspace.root / "state" / "workspace").read_text().strip() == "staging"
    assert workspace.run("state", "list").output == ""  # its own, empty, state
    workspace.add("b")
    workspace.platform.delete(workspace.platform.by_name("A")[0]["id"])  # staging's apply must not adopt default's
    assert workspace.run("apply", "--auto-approve", "--target", "b").exit_code == 0
    assert "b\tid=" in workspace.run("state", "list").output
    assert workspace.run("workspace", "list").output.splitlines() == ["  default", "* staging"]
    staging = workspace.state()

    assert workspace.run("workspace", "select", "default").exit_code == 0
    default = workspace.state()
    assert set(default["resources"]) == {"a"} and default["lineage"] != staging["lineage"]
    assert set(json.loads(workspace.run("state", "pull", "--workspace", "staging").output)["resources"]) == {"b"}
    monkeypatch.setenv("PROVISIONER_WORKSPACE", "staging")
    assert "b\tid=" in workspace.run("state", "list").output
    monkeypatch.delenv("PROVISIONER_WORKSPACE")

    missing = workspace.run("plan", "--workspace", "nope")
    assert missing.exit_code == 1 and "workspace 'nope' does not exist" in missing.stderr
    assert "does not exist" in workspace.run("workspace", "select", "nope").stderr
    assert "already exists" in workspace.run("workspace", "new", "staging").stderr
    refused = workspace.run("workspace", "delete", "staging")
    assert refused.exit_code == 1 and "still manages 1 object" in refused.stderr
    workspace.run("workspace", "select", "staging")
    assert "current workspace" in workspace.run("workspace", "delete", "staging", "--force").stderr
    workspace.run("workspace", "select", "default")
    assert "cannot be deleted" in workspace.run("workspace", "delete", "default").stderr
    assert workspace.run("workspace", "delete", "staging", "--force").exit_code == 0
    assert workspace.run("workspace", "list").output.splitlines() == ["* default"]
    assert "Bad name" not in workspace.run("workspace", "new", "Bad name").output
    assert workspace.run("workspace", "new", "bad name!").exit_code == 1


def test_an_empty_workspace_name_is_refused_not_read_as_the_current_workspace(workspace):
    """`workspace delete ''` opened the current workspace (an empty name reads as it) after the checks that refuse
    it by name: it dropped the current workspace's state, with --force the assistants it managed too."""
    workspace.add("b")
    assert workspace.run("workspace", "new", "staging").exit_code == 0
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    for command in (("workspace", "delete", "", "--force"), ("workspace", "delete", ""), ("workspace", "new", ""),
                    ("workspace", "select", "")):
        result = workspace.run(*command)
        assert result.exit_code == 1 and "'' is not a valid workspace name" in result.stderr, (command, result.all)
    assert workspace.run("workspace", "list").output.splitlines() == ["  default", "* staging"]
    assert set(workspace.state()["resources"]) == {"b"}


def test_a_workspace_is_locked_on_its_own(workspace):
    workspace.add("a")
    workspace.run("workspace", "new", "staging", "--no-select")
    held = open_store("sqlite", workspace.state_file).lock("apply", 0)
    assert workspace.run("plan", "--workspace", "staging").exit_code == 0
    locked = workspace.run("plan")
    assert locked.exit_code == 1 and held.id in locked.stderr
    forced = workspace.run("force-unlock", held.id, "--force")
    assert forced.exit_code == 0, forced.all


def test_force_unlock_removes_a_lock_whose_row_holds_a_pid_that_is_not_a_number(workspace):
    """A hand-edited lock row (SQLite keeps text in an INTEGER column): the way out of a stuck lock still works."""
    import sqlite3

    workspace.add("a")
    held = open_store("sqlite", workspace.state_file).lock("apply", 0)
    with sqlite3.connect(workspace.state_file) as database:
        database.execute("UPDATE provisioner_locks SET pid = 'abc' WHERE lock_id = ?", (held.id,))
    forced = workspace.run("force-unlock", held.id, input="yes\n")
    assert forced.exit_code == 0 and "unexpected" not in forced.all, forced.all
    assert workspace.run("plan").exit_code == 0


def test_state_push_never_merges_rows_left_without_their_workspace_into_the_document(workspace):
    import json
    import sqlite3

    def document(lineage: str, serial: int, ids: dict[str, int]) -> str:
        path = workspace.root / f"{lineage}.json"
        path.write_text(json.dumps({"version": 1, "lineage": lineage, "serial": serial, "resources": {
            address: {"id": remote_id, "spec": None, "protect": False, "sensitive": [], "remote": {}}
            for address, remote_id in ids.items()}}))
        return str(path)

    assert workspace.run("state", "push", document("L-one", 3, {"x": 101, "y": 102})).exit_code == 0
    with sqlite3.connect(workspace.state_file) as database:  # a hand edit: the workspace row goes, its rows stay
        database.execute("DELETE FROM provisioner_workspaces")
    refused = workspace.run("state", "push", document("L-two", 1, {"z": 201}))
    assert refused.exit_code == 1 and "2 resource row(s) but no row in provisioner_workspaces" in refused.stderr
    assert workspace.run("state", "push", "--force", document("L-two", 1, {"z": 201})).exit_code == 0
    state = workspace.state()
    assert state["lineage"] == "L-two" and set(state["resources"]) == {"z"}


def test_an_unwritable_state_store_is_found_before_any_platform_write(workspace):
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("b")
    before = workspace.platform.stats()["total"]
    # Read-only: an immutable file (root ignores permissions, not this attribute).
    if subprocess.run(["chattr", "+i", str(workspace.state_file)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        result = workspace.run("apply", "--auto-approve")
    finally:
        subprocess.run(["chattr", "-i", str(workspace.state_file)], check=True)
    assert result.exit_code == 1 and "cannot write to the state store" in result.stderr, result.all
    assert "readonly" in result.stderr
    assert workspace.platform.stats()["total"] == before  # not even a read
    assert [x["name"] for x in workspace.platform.assistants()] == ["A"]


def test_a_state_path_that_cannot_be_created_fails_before_any_request(workspace):
    workspace.add("a")
    workspace.write("blocker", "a file where the state folder should be")
    before = workspace.platform.stats()["total"]
    result = workspace.run("apply", "--auto-approve", "--state", "blocker/provisioner.db")
    assert result.exit_code == 1 and "blocker" in result.stderr
    assert workspace.platform.stats()["total"] == before


def test_a_store_failing_mid_apply_stops_new_changes_and_exits_1(workspace, monkeypatch):
    write_fleet(workspace, 30)
    workspace.platform.faults(latency_ms=30)
    real_commit = SqlStateStore.commit
    calls = []

    def failing_commit(self, state, changes):
        calls.append(len(changes))
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        return real_commit(self, state, changes)

    monkeypatch.setattr(SqlStateStore, "commit", failing_commit)
    result = workspace.run("apply", "--auto-approve", "--parallelism=3")
    monkeypatch.setattr(SqlStateStore, "commit", real_commit)
    workspace.platform.faults(latency_ms=0)
    assert result.exit_code == 1
    assert "Stopped: the state could not be written" in result.stderr and "not started" in result.stderr
    assert "No space left on device" in result.output
    created = workspace.platform.assistants()
    recorded = workspace.state()["resources"]
    assert 1 <= len(recorded) < len(created) < 30  # it stopped early
    # Nothing new started once the failure was seen: at most the window of 3 x --parallelism changes in flight
    # (docs/reliability.md, walk.WINDOW) is done on the platform and not in state.
    assert len(created) - len(recorded) <= 3 * 3
    # The next run adopts what was created but not recorded: no duplicate.
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert_exactly_once(workspace, 30)


def test_a_command_that_fails_prints_the_documented_error_object_under_json(workspace):
    """docs/plan-format.md: `{"errors": [...]}` with the same error objects (file, line, address, field, message)."""
    import json

    result = workspace.run("state", "list", "--json", "--workspace", "nosuch")
    assert result.exit_code == 1
    [error] = json.loads(result.output)["errors"]
    assert set(error) == {"file", "line", "address", "field", "message"} and "nosuch" in error["message"]


def test_state_push_from_a_closed_stdin_is_an_error_not_a_bug(workspace):
    """`state push - <&-`: Python's sys.stdin is None, and the push failed with an AttributeError reported as a bug."""
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()
    pushed = subprocess.run([sys.executable, "-m", "provisioner", "state", "push", "-"], cwd=workspace.root,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                            preexec_fn=lambda: os.close(0))
    assert pushed.returncode == 1 and "Error: cannot read stdin: it is closed" in pushed.stderr, pushed.stderr
    assert "bug" not in pushed.stderr and workspace.state() == before


def test_state_push_of_a_show_json_view_or_a_plan_says_what_it_is(workspace):
    """`show --json` prints a document of format "provisioner-state": pushed, it was refused as "state format version
    None", which does not tell a script's author to use `state pull`."""
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()
    workspace.write("view.json", workspace.run("show", "--json", api=False).output)
    assert workspace.run("plan", "--out", "a.plan").exit_code == 0
    for name, what in (("view.json", "the `show --json` view of a state"), ("a.plan", "a plan")):
        refused = workspace.run("state", "push", name)
        assert refused.exit_code == 1
        assert f"{name} is {what}, not a state document; `provisioner state pull` writes one" in refused.stderr
    assert workspace.state() == before


def test_state_show_shows_the_whole_record_with_its_source_and_depends_on(workspace):
    """docs/state.md: `state show ADDRESS` is the record as JSON. It left out `source` (the manifest file that says
    whether a run given other paths leaves the object alone or destroys it) and `depends_on` (what
    `destroy --target` follows), which only `state pull` then showed."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "manifests", workspace.root / "manifests", dirs_exist_ok=True)
    applied = workspace.run("apply", "--auto-approve", "--api-dialect", "v2")
    assert applied.exit_code == 0, applied.all
    record = workspace.state()["resources"]["support-inbound"]
    shown = json.loads(workspace.run("state", "show", "support-inbound").output)
    assert shown["source"] == record["source"] == "manifests/support.yaml"
    assert shown["depends_on"] == record["depends_on"] and "tool.order-lookup" in shown["depends_on"]
    assert json.loads(workspace.run("state", "show", "label.tier-1").output)["depends_on"] == []
