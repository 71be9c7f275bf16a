"""The core workflow through the real CLI against the emulator over HTTP."""
import json
import re

import pytest

from conftest import read_back as create_fields_from_read
from conftest import REQUIRED, manifest_text


def test_plan_apply_plan_no_changes(workspace):
    workspace.add("sales", name="Sales", calls_direction="make", record_call=True, max_call_duration=900,
                  filler_audios=True, end_call_tool={"description": "bye"}, variables={"team": "sales", "n": 3},
                  post_call_schema=[{"name": "ok", "type": "bool", "description": "d"}], phone_number_id=46)
    workspace.add("support", name="Support", calls_direction="receive", engine_type="multimodal", voice_id=11,
                  llm_model="gpt-4o-realtime", phone_number_id=45)

    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.all
    assert "# sales will be created" in plan.output and "# support will be created" in plan.output
    assert plan.output.rstrip().endswith("Plan: 2 to add, 0 to change, 0 to destroy.")
    assert workspace.platform.stats()["requests"].get("POST /user/assistant") is None

    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in applied.output

    by_name = {a["name"]: a for a in workspace.platform.assistants()}
    assert set(by_name) == {"Sales", "Support"}
    sales = create_fields_from_read(by_name["Sales"])
    assert sales["calls_direction"] == "make" and by_name["Sales"]["type"] == "outbound"
    assert sales["record_call"] is True and sales["max_call_duration"] == 900 and by_name["Sales"]["fillers"] == 1
    assert sales["end_call_tool"] == {"description": "bye"} and sales["variables"] == {"team": "sales", "n": 3}
    assert by_name["Support"]["mode"] == "multimodal" and by_name["Support"]["type"] == "inbound"

    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.all
    assert "No changes." in again.output

    state = workspace.state()
    assert {a: r["id"] for a, r in state["resources"].items()} == {"sales": by_name["Sales"]["id"],
                                                                   "support": by_name["Support"]["id"]}
    assert state["version"] == 1 and state["lineage"] and state["serial"] >= 1  # changes may share a commit


def test_an_added_manifest_creates_only_itself(workspace):
    workspace.add("one")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("two")
    plan = workspace.run("plan")
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.output and "# two will be created" in plan.output
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert sorted(a["name"] for a in workspace.platform.assistants()) == ["One", "Two"]


def test_plan_makes_no_write_requests_and_reads_the_list_in_pages_of_100(workspace):
    for i in range(250):
        workspace.platform.create(assistant_name=f"Other {i}", **REQUIRED)
    workspace.add("one")
    before = workspace.platform.stats()["requests"]
    assert workspace.run("plan").exit_code == 0
    after = workspace.platform.stats()["requests"]
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert delta["GET /user/assistants/get"] == 3
    assert not any(k.startswith(("POST", "PUT", "DELETE")) and v for k, v in delta.items())


def test_json_plan(workspace):
    workspace.add("one", is_webhook_active=True, webhook_url="https://hooks.example/x?token=SECRET123")
    result = workspace.run("plan", "--json")
    assert result.exit_code == 0
    plan = json.loads(result.output)
    assert plan["summary"] == {"import": 0, "add": 1, "change": 0, "destroy": 0, "forget": 0}
    [change] = plan["changes"]
    assert change["address"] == "one" and change["action"] == "create"
    assert "SECRET123" not in result.output


BAD_MANIFESTS = {
    "unknown voice": ("voice_id", dict(voice_id=999)),
    "unknown language": ("language", dict(language="Klingon")),
    "foreign phone number": ("phone_number_id", dict(phone_number_id=90)),
    "range": ("speech_speed", dict(speech_speed=1.5)),
    "enum": ("calls_direction", dict(calls_direction="both")),
    "timezone": ("timezone", dict(timezone="Moon/Base")),
    "webhook": ("webhook_url", dict(is_webhook_active=True)),
    "schema name": ("post_call_schema[0].name", dict(post_call_schema=[{"name": "a b", "type": "bool",
                                                                       "description": "d"}])),
    "tool length": ("end_call_tool.description", dict(end_call_tool={"description": "x" * 501})),
    "unknown field": ("voice", dict(voice=2)),
    "type": ("max_call_duration", dict(max_call_duration="long")),
    "missing": ("system_prompt", dict(system_prompt=None)),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_bad_manifest_fails_plan_and_apply_naming_file_and_field_and_creates_nothing(workspace, case):
    field, spec = BAD_MANIFESTS[case]
    workspace.add("good")
    path = workspace.add("bad", **spec)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = workspace.run(*command)
        assert result.exit_code == 1, result.all
        assert re.search(rf"manifests/bad\.yaml:\d+: (bad: )?spec\.{re.escape(field)}:", result.stderr), result.stderr
    assert workspace.platform.assistants() == []
    stored = workspace.stored_state()  # None where apply refused the manifests before it opened the state
    assert stored is None or (stored["resources"] == {} and stored["serial"] == 0)
    assert path.exists()


def test_validate_is_offline_and_reports_everything(workspace):
    workspace.add("a", voice_id="x")
    workspace.add("b", timezone="Nowhere")
    result = workspace.run("validate", api=False)
    assert result.exit_code == 1
    assert "2 manifest errors" in result.stderr
    assert workspace.platform.stats()["total"] == 0
    workspace.add("a")
    workspace.add("b")
    ok = workspace.run("validate", api=False)
    assert ok.exit_code == 0 and "2 manifest(s) are valid" in ok.output


def test_apply_asks_and_only_yes_proceeds(workspace):
    workspace.add("one")
    for answer in ("no\n", "YES please\n", ""):
        result = workspace.run("apply", input=answer)
        assert result.exit_code == 1 and "cancelled" in result.stderr
        assert workspace.platform.assistants() == []
    result = workspace.run("apply", input="yes\n")
    assert result.exit_code == 0 and len(workspace.platform.assistants()) == 1


def test_a_rejected_token_and_a_missing_token_say_so(workspace, monkeypatch):
    workspace.add("one")
    token_file = workspace.write("token", "wrong-token\n")
    result = workspace.run("plan", f"--token-file={token_file}")
    assert result.exit_code == 1 and "rejected the API token (401" in result.stderr
    assert "wrong-token" not in result.all
    no_url = workspace.run("plan", api=False)
    assert no_url.exit_code == 1 and "no platform URL" in no_url.stderr


def test_an_unreachable_platform_is_reported(workspace):
    workspace.add("one")
    result = workspace.run("plan", "--api-url=http://127.0.0.1:9", "--max-retries=2", api=False)
    assert result.exit_code == 1 and "connection refused at http://127.0.0.1:9" in result.stderr


def test_the_token_is_not_accepted_on_the_command_line(workspace):
    result = workspace.run("plan", "--token", "abc")
    assert result.exit_code != 0 and "No such option" in result.stderr


def test_local_platform_plan_apply_plan(tmp_path, monkeypatch):
    """`--local`: an embedded emulator persisted under state/, for a newcomer with no account."""
    from click.testing import CliRunner
    from provisioner.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a"))
    runner = CliRunner()
    first = runner.invoke(cli, ["apply", "--local", "--auto-approve"])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "state" / "local-platform.db").exists()
    second = runner.invoke(cli, ["plan", "--local", "--detailed-exitcode"])
    assert second.exit_code == 0 and "No changes." in second.output


def test_one_rejected_assistant_is_reported_field_by_field_and_the_others_complete(workspace):
    for name in ("a", "b", "c"):
        workspace.add(name)
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    # The platform rejects what the plan sends for b (as if its catalogue changed after planning).
    path = workspace.root / "p.plan"
    data = json.loads(path.read_text())
    [b] = [c for c in data["changes"] if c["address"] == "b"]
    b["body"]["voice_id"] = 999
    next(f for f in b["fields"] if f["field"] == "voice_id")["after"] = 999  # shown as it is sent
    path.write_text(json.dumps(data))
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 1
    assert "b: create failed: the platform rejected it" in result.output
    assert re.search(r"b \(manifests/b\.yaml:\d+\): spec\.voice_id: The selected voice id is invalid\.", result.output)
    assert "Apply failed. Resources: 2 added, 0 changed, 0 destroyed, 1 failed." in result.output
    assert sorted(a["name"] for a in workspace.platform.assistants()) == ["A", "C"]
    assert set(workspace.state()["resources"]) == {"a", "c"}
    fixed = workspace.run("apply", "--auto-approve")
    assert fixed.exit_code == 0 and "1 added" in fixed.output


def test_references_are_checked_against_the_catalogues_before_any_write(workspace):
    workspace.add("a", voice_id=11, engine_type="pipeline")  # a multimodal voice
    workspace.add("b", name="B", llm_model="gpt-4-turbo")      # no such model
    workspace.add("c", name="C", llm_model="gpt-4o", engine_type="multimodal", voice_id=11)  # an llm, not multimodal
    workspace.add("d", name="D", calls_direction="receive", phone_number_id=46)  # a caller-ID number
    workspace.add("e", name="E", calls_direction="receive", phone_number_id=45)
    workspace.add("f", name="F", calls_direction="receive", phone_number_id=45)  # taken by e in the same plan
    workspace.add("g", name="G", phone_number_id=90)  # the other tenant's
    workspace.add("h", name="H", language="Klingon")
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 1
    err = result.stderr
    assert "a.yaml:" in err and "voice 11 (Nova) exists, but for engine_type multimodal, not pipeline" in err
    assert "model 'gpt-4-turbo' is not in the platform's llm models" in err and "did you mean 'gpt-4o'" in err
    assert "model 'gpt-4o' is not in the platform's multimodal models" in err
    assert "phone number 46" in err and "cannot take inbound calls" in err
    assert "phone number 45 is also the inbound number of 'e'" in err
    assert "phone number 90 is not one of your phone numbers" in err
    assert "language 'Klingon' does not exist" in err
    assert workspace.platform.stats()["requests"].get("POST /user/assistant") is None


def test_an_inbound_number_an_assistant_already_holds_stays_valid(workspace):
    workspace.add("e", name="E", calls_direction="receive", phone_number_id=45)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    # 45 is now held by E, so ?type=inbound no longer offers it; E may keep it.
    workspace.add("e", name="E", calls_direction="receive", phone_number_id=45, system_prompt="Changed")
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    workspace.add("x", name="X", calls_direction="receive", phone_number_id=45)
    refused = workspace.run("plan")
    assert refused.exit_code == 1 and "cannot take inbound calls" in refused.stderr


def test_usage_errors_exit_1_not_2_which_means_changes(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "provisioner", "plan", "--no-such-flag"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "No such option" in result.stderr


def test_a_destroy_with_nothing_left_says_so_not_that_the_platform_matches_the_manifests(workspace):
    """A destroy plans from state only; once state manages nothing, its empty plan says nothing is left to destroy
    (Terraform's words), in the text and the markdown views, not the plan's "the platform matches the manifests",
    which it never compared."""
    workspace.add("sales", name="Sales")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.run("destroy", "--auto-approve").exit_code == 0

    for args in (("destroy", "--auto-approve"), ("plan", "--destroy")):
        again = workspace.run(*args)
        assert again.exit_code == 0, again.all
        assert "No changes. No objects need to be destroyed" in again.output, again.all
        assert "matches the manifests" not in again.output
    markdown = workspace.run("plan", "--destroy", "--format", "markdown")
    assert "no changes. No objects need to be destroyed" in markdown.output, markdown.all
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in workspace.run("plan").output  # the manifest is still there
