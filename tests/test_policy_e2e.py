"""End to end, the real CLI against the emulator over HTTP: policies deny and warn on plan and apply, for every
kind, in every view (text, JSON, markdown); a deny writes nothing (no request, no state row, no plan file)."""
import json
from pathlib import Path

import jsonschema
import pytest

from test_kinds_plan_e2e import PASSWORD, SECRET, campaign_manifest, kb_manifest, tool_manifest, trunk_manifest

ROOT = Path(__file__).resolve().parent.parent
STARTER = ROOT / "examples" / "policies"
EVERY_KIND = {"assistant", "tool", "siptrunk", "knowledgebase", "document", "campaign", "folder", "label"}


def groups():
    return ("apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: sales\nspec:\n  name: Sales\n---\n"
            "apiVersion: provisioner/v1\nkind: Label\nmetadata:\n  name: vip\nspec:\n  name: VIP\n")


@pytest.fixture
def graph(workspace):
    """A repository with one object of every kind (v2: folders and labels exist only there)."""
    workspace.dialect = "v2"
    workspace.write("manifests/tool.yaml", tool_manifest())
    workspace.write("manifests/trunk.yaml", trunk_manifest())
    workspace.write("manifests/kb.yaml", kb_manifest())
    workspace.write("manifests/handbook.txt", "Opening hours: 9 to 5.\n")
    workspace.write("manifests/campaign.yaml", campaign_manifest())
    workspace.write("manifests/groups.yaml", groups())
    workspace.add("caller", folder_id="folder.sales", label_ids=["label.vip"], tool_ids=["tool.lookup"],
                  webhook_url="https://hooks.example.com/calls?token=whk-E2E-DO-NOT-LEAK-5", is_webhook_active=True)
    return workspace


def policy(name, severity, expression="false", kinds=None, message_expression=None, extra=""):
    match = f"  match: {{kinds: [{', '.join(kinds)}]}}\n" if kinds else ""
    said = (f"      messageExpression: {json.dumps(message_expression)}\n" if message_expression
            else "      messageExpression: \"object.kind + ' ' + object.address + ' ' + string(action)\"\n")
    return (f"apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: {name}\nspec:\n{match}  rules:\n"
            f"    - name: r\n      expression: {json.dumps(expression)}\n{said}      severity: {severity}\n{extra}")


def valid_policies(document):
    """The whole plan, its `policies` key and a tool's masked headers included, against docs/plan.schema.json."""
    schema = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
    jsonschema.validate(document, schema)


def run_all_views(workspace, command="plan"):
    text = workspace.run(command)
    as_json = workspace.run(command, "--json")
    markdown = workspace.run(command, "--format", "markdown")
    return text, as_json, markdown


def test_plan_warns_on_every_kind_in_every_view_and_exits_0(graph):
    graph.write("policies/everything.yaml", policy("everything", "warn"))
    text, as_json, markdown = run_all_views(graph)
    assert text.exit_code == 0, text.all
    assert "Policies: 1 rule(s): 1 warned." in text.output
    for kind_word in ("Assistant caller", "Tool tool.lookup", "SipTrunk siptrunk.office", "Campaign campaign.winter",
                      "KnowledgeBase knowledgebase.faq", "Folder folder.sales", "Label label.vip"):
        assert f"{kind_word} create" in text.output
    assert "[everything/r policies/everything.yaml:8]" in text.output
    assert "(manifests/tool.yaml:1)" in text.output
    assert as_json.exit_code == 0, as_json.all
    document = json.loads(as_json.output)
    valid_policies(document)
    report = document["policies"]
    assert {v["kind"] for v in report["violations"]} == EVERY_KIND
    assert report["summary"]["warned"] == 1 and report["rules"][0]["status"] == "warned"
    assert all(v["action"] == "create" and v["policy_file"] == "policies/everything.yaml" and v["policy_line"] == 8
               for v in report["violations"])
    assert markdown.exit_code == 0
    assert "**Policies:** 1 warned" in markdown.output and "⚠️ warned | `everything/r`" in markdown.output
    assert "⚠️ **warn** `tool.lookup` (`manifests/tool.yaml:1`)" in markdown.output


def test_plan_denies_on_every_kind_in_every_view_exits_1_and_writes_no_plan_file(graph):
    graph.write("policies/deny.yaml", policy("nothing-goes", "deny"))
    graph.write("policies/fine.yaml", policy("fine", "deny", "true"))
    text, as_json, markdown = run_all_views(graph)
    assert text.exit_code == 1
    # 9: a knowledge base's documents are objects too (kind document)
    assert "9 policy violation(s) deny this run; nothing was written" in text.stderr
    assert ("manifests/campaign.yaml:1: campaign.winter: denied by nothing-goes/r (policies/deny.yaml:8): "
            "Campaign campaign.winter create") in text.stderr
    assert as_json.exit_code == 1
    document = json.loads(as_json.output)
    valid_policies(document)
    assert {v["kind"] for v in document["policies"]["violations"]} == EVERY_KIND
    statuses = {r["policy"]: r["status"] for r in document["policies"]["rules"]}
    assert statuses == {"nothing-goes": "denied", "fine": "passed"}
    assert markdown.exit_code == 1
    assert "❌ denied | `nothing-goes/r`" in markdown.output and "✅ passed | `fine/r`" in markdown.output
    saved = graph.run("plan", "--out", "plan.json")
    assert saved.exit_code == 1 and not (graph.root / "plan.json").exists()
    assert graph.platform.writes() == []


def test_apply_denied_writes_nothing_to_platform_or_state(graph):
    graph.write("policies/deny.yaml", policy("no-campaigns", "deny", kinds=["Campaign"]))
    result = graph.run("apply", "--auto-approve")
    assert result.exit_code == 1
    assert "1 policy violation(s) deny this run; nothing was written" in result.stderr
    assert "deny: campaign.winter (manifests/campaign.yaml:1)" in result.output
    assert graph.platform.writes() == []
    assert not graph.state()["resources"]


def test_a_saved_plan_is_checked_again_against_the_policies_of_its_apply(graph):
    assert graph.run("plan", "--out", "saved.plan").exit_code == 0
    graph.write("policies/deny.yaml", policy("no-campaigns", "deny", kinds=["Campaign"]))
    result = graph.run("apply", "saved.plan")
    assert result.exit_code == 1, result.all
    assert "1 policy violation(s) deny this run; nothing was written" in result.stderr
    assert "manifests/campaign.yaml:1: campaign.winter: denied by no-campaigns/r" in result.stderr
    assert graph.platform.writes() == []
    assert not graph.state()["resources"]
    graph.write("policies/deny.yaml", policy("no-campaigns", "warn", kinds=["Campaign"]))
    assert graph.run("apply", "saved.plan").exit_code == 0


def test_a_saved_plan_is_checked_as_it_will_be_sent_whatever_its_manifests_say_now(workspace):
    """The policy is checked at the apply of a saved plan against what the plan sends, not against manifests edited
    (or removed) since: a value the policy denies never reaches the platform through a plan made before it."""
    workspace.add("caller", max_call_duration=1200)
    workspace.add("other")
    assert workspace.run("plan", "--out", "saved.plan").exit_code == 0
    workspace.write("policies/short.yaml", policy("short-calls", "deny", "object.spec.max_call_duration <= 900",
                                                  kinds=["Assistant"]))
    workspace.add("caller", max_call_duration=800)  # the manifest now complies; the plan still sends 1200
    denied = workspace.run("apply", "saved.plan")
    assert denied.exit_code == 1 and "caller" in denied.stderr and "short-calls" in denied.stderr, denied.all
    workspace.remove("caller")  # and with its manifest gone, the plan still creates it as it says
    denied = workspace.run("apply", "saved.plan")
    assert denied.exit_code == 1 and "short-calls" in denied.stderr, denied.all
    assert workspace.platform.writes() == []


def test_a_saved_destroy_plan_applies_with_policies_once_its_manifests_are_gone(workspace):
    workspace.add("caller")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("policies/warn.yaml", policy("look", "warn", kinds=["Assistant"]))
    import shutil

    shutil.rmtree(workspace.root / "manifests")  # gone, folder and all: `plan --destroy` reads none
    assert workspace.run("plan", "--destroy", "--out", "gone.plan").exit_code == 0
    applied = workspace.run("apply", "gone.plan")
    assert applied.exit_code == 0, applied.all
    assert workspace.platform.assistants() == []


def test_apply_with_warnings_applies_and_shows_them(workspace):
    workspace.add("caller")
    workspace.write("policies/warn.yaml", policy("look", "warn", kinds=["Assistant"]))
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    assert "warn: caller (manifests/caller.yaml:1): Assistant caller create [look/r policies/warn.yaml:9]" in \
        result.output
    assert len(workspace.platform.assistants()) == 1
    again = workspace.run("plan", "--json")
    assert json.loads(again.output)["policies"]["violations"][0]["action"] == "none"


def test_update_sees_the_old_object_a_prompt_change_in_prod_needs_a_ticket(workspace):
    workspace.write("vars/prod.yaml", "{}\n")
    workspace.write("policies/prompt-ticket.yaml", (STARTER / "prompt-ticket.yaml").read_text())
    workspace.add("caller", system_prompt="Be brief.")
    assert workspace.run("apply", "--auto-approve", "--workspace", "prod").exit_code == 0
    workspace.add("caller", system_prompt="Be very brief.")
    denied = workspace.run("apply", "--auto-approve", "--workspace", "prod")
    assert denied.exit_code == 1
    assert "the system prompt of caller changes in prod: add a label ticket: <ISSUE-123>" in denied.stderr
    assert workspace.platform.assistants()[0]["system_prompt"] == "Be brief."
    workspace.add("caller", system_prompt="Be very brief.", metadata_extra="labels: {ticket: OPS-42}")
    allowed = workspace.run("apply", "--auto-approve", "--workspace", "prod")
    assert allowed.exit_code == 0, allowed.all
    assert workspace.platform.assistants()[0]["system_prompt"] == "Be very brief."


def test_messages_never_show_secrets(graph, monkeypatch):
    documents = [policy("leak-trunk", "warn", kinds=["SipTrunk"], message_expression="'pw ' + object.spec.sip_password"),
                 policy("leak-hook", "warn", kinds=["Assistant"], message_expression="'hook ' + object.spec.webhook_url"),
                 policy("leak-tool", "warn", kinds=["Tool"], message_expression="'h ' + string(object.spec.headers)")]
    graph.write("policies/leak.yaml", "---\n".join(documents))
    text, as_json, markdown = run_all_views(graph)
    for result in (text, as_json, markdown):
        assert result.exit_code == 0, result.all
        for secret in (PASSWORD, "whk-E2E-DO-NOT-LEAK-5", SECRET, "sk_live_E2E"):
            assert secret not in result.all
    assert "pw (sensitive)" in text.output and "hook (sensitive)" in text.output and "h (sensitive)" in text.output


def test_a_rule_that_errs_never_quotes_a_secret_in_its_error(graph, monkeypatch):
    """An evaluation error may quote what the rule met (CEL names a missing key by its value; a result that is no
    bool): the rule sees the object whole, its error is shown in every view and by validate."""
    monkeypatch.setenv("E2E_GREETING", "TOPSECRET-from-env")
    graph.add("greeter", initial_message="Hi ${env.E2E_GREETING}")
    graph.write("policies/mistaken.yaml", "---\n".join([
        policy("not-a-bool", "deny", "object.spec.initial_message", kinds=["Assistant"]),
        policy("map-key", "deny", "{'a': true}[object.spec.webhook_url]", kinds=["Assistant"])]))
    for result in (*run_all_views(graph), graph.run("validate")):
        assert result.exit_code == 1, result.all
        for secret in ("TOPSECRET-from-env", "whk-E2E-DO-NOT-LEAK-5"):
            assert secret not in result.all, result.all
    assert "not a bool" in graph.run("validate").all


def test_a_rule_that_gives_a_number_is_an_error_even_beside_rules_that_hold(workspace):
    workspace.add("caller")
    workspace.write("policies/p.yaml", "---\n".join([policy("one", "deny", "object.spec.voice_id", kinds=["Assistant"]),
                                                     policy("two", "deny", "true", kinds=["Assistant"])]))
    result = workspace.run("validate")
    assert result.exit_code == 1 and "not a bool" in result.all, result.all


def test_a_broken_policy_stops_plan_with_its_file_and_line(workspace):
    workspace.add("caller")
    workspace.write("policies/broken.yaml", policy("broken", "deny", "object.spec.max_call_duration <"))
    result = workspace.run("plan")
    assert result.exit_code == 1
    assert "policies/broken.yaml:8: rule broken/r: expression does not compile: line 1, column" in result.stderr
    unknown = policy("unknown", "deny", "object.spec.max_call_durations > 0")
    workspace.write("policies/broken.yaml", unknown)
    result = workspace.run("plan")
    assert result.exit_code == 1
    assert ("policies/broken.yaml:8: rule unknown/r on caller (manifests/caller.yaml:1): names an unknown field "
            "'max_call_durations'") in result.stderr
    assert workspace.platform.writes() == []


@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve")])
def test_a_broken_policy_stops_the_run_before_any_request(workspace, command):
    """The policies do not depend on the platform: loaded after planning, a broken one was reported once the
    session had read the platform (five requests), against the docs' "before anything"."""
    workspace.add("caller")
    workspace.write("policies/broken.yaml", policy("broken", "deny", "object.spec.max_call_duration <"))
    before = workspace.platform.stats()["total"]
    result = workspace.run(*command)
    assert result.exit_code == 1 and "policies/broken.yaml:8: rule broken/r: expression does not compile" in \
        result.stderr, result.all
    assert workspace.platform.stats()["total"] == before


def test_a_policy_path_that_is_not_there_is_an_error_not_a_run_without_policies(workspace):
    """A mistyped --policy-dir (or `policies:` entry) would otherwise check nothing, and a pipeline would pass."""
    workspace.add("caller")
    for run in (lambda: workspace.run("validate", "--policy-dir", "polices"),
                lambda: workspace.run("plan", "--policy-dir", "polices")):
        result = run()
        assert result.exit_code == 1 and "no policies at polices" in result.stderr, result.all
    workspace.write("provisioner.yaml", "policies: [polices]\n")
    result = workspace.run("plan")
    assert result.exit_code == 1 and "no policies at" in result.stderr, result.all
    workspace.write("provisioner.yaml", "{}\n")
    assert workspace.run("plan").exit_code == 0  # no policies/ folder: none, as before


def test_policy_dir_help_names_no_environment_variable_it_does_not_read():
    from click.testing import CliRunner

    from provisioner.cli import cli

    shown = CliRunner().invoke(cli, ["plan", "--help"]).output
    assert "--policy-dir" in shown and "PROVISIONER_POLICIES" not in shown


def test_destroy_is_checked_against_the_policies_as_plan_destroy_is(workspace):
    workspace.add("caller")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("policies/keep.yaml", policy("no-deletes", "deny", "false", extra="")
                    .replace("spec:\n", "spec:\n  match: {actions: [delete]}\n", 1))
    assert workspace.run("plan", "--destroy").exit_code == 1
    denied = workspace.run("destroy", "--auto-approve")
    assert denied.exit_code == 1 and "no-deletes" in denied.stderr, denied.all
    assert len(workspace.platform.assistants()) == 1 and "caller" in workspace.state()["resources"]


def test_a_delete_rule_matching_labels_sees_the_labels_of_the_manifest_it_destroys(workspace):
    """State keeps no labels: a destroyed object whose manifest is there has that manifest's, so a rule on
    deletes of `tier: critical` objects stops the destroy instead of selecting nothing."""
    workspace.add("caller", metadata_extra="labels: {tier: critical}")
    workspace.add("helper")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("policies/keep.yaml", policy("keep-critical", "deny", "false")
                    .replace("spec:\n", "spec:\n  match: {labels: {tier: critical}, actions: [delete]}\n", 1))
    planned = workspace.run("plan", "--destroy", "--json")
    assert planned.exit_code == 1, planned.all
    [violation] = json.loads(planned.output)["policies"]["violations"]
    assert violation["address"] == "caller" and violation["file"] == "manifests/caller.yaml", violation
    denied = workspace.run("destroy", "--auto-approve")
    assert denied.exit_code == 1 and "keep-critical" in denied.stderr, denied.all
    assert len(workspace.platform.assistants()) == 2


def test_the_plan_json_with_its_policy_results_is_a_plan_that_show_and_apply_read(workspace):
    """docs/plan-format.md: `plan --json` and the file `plan --out` writes are the same document. With policies the
    JSON has `policies`, and show and apply refused it: "malformed ... policies: Extra inputs are not permitted"."""
    workspace.add("caller")
    workspace.write("policies/warn.yaml", policy("look", "warn", kinds=["Assistant"]))
    planned = workspace.run("plan", "--json")
    assert planned.exit_code == 0 and "policies" in json.loads(planned.output), planned.all
    workspace.write("from-json.plan", planned.output)
    shown = workspace.run("show", "--json", "from-json.plan", api=False)
    assert shown.exit_code == 0, shown.all
    assert json.loads(shown.output)["changes"] == json.loads(planned.output)["changes"]
    applied = workspace.run("apply", "from-json.plan")
    assert applied.exit_code == 0, applied.all
    assert len(workspace.platform.assistants()) == 1


def test_apply_of_a_saved_plan_shows_the_warnings_of_its_policies(workspace):
    """`apply PLANFILE` checked the policies after showing the plan: a warning was never shown (policies.md: "a warn
    is shown and the run goes on"), while `apply` shows it."""
    workspace.add("caller")
    workspace.write("policies/warn.yaml", policy("look", "warn", kinds=["Assistant"]))
    assert workspace.run("plan", "--out", "saved.plan").exit_code == 0
    result = workspace.run("apply", "saved.plan")
    assert result.exit_code == 0, result.all
    assert "Policies: 1 rule(s): 1 warned." in result.output
    assert "warn: caller (manifests/caller.yaml:1): Assistant caller create [look/r policies/warn.yaml:9]" in \
        result.output
    assert len(workspace.platform.assistants()) == 1
