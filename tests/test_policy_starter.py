"""The starter pack (examples/policies/): each policy denies (or warns on) a bad manifest and passes a good one.
Checked as plan checks them: the final manifests, the workspace, the planned action, and for updates the old
object from the plan's `before` values."""
from pathlib import Path

import pytest

from conftest import manifest_text
from provisioner.plan import Action, Change, FieldChange, Plan
from provisioner.workflow.manifests import validate
from provisioner.workflow.policies import check_offline, check_plan, load_rules

STARTER = Path(__file__).resolve().parent.parent / "examples" / "policies"


def rules_of(name):
    return load_rules([str(STARTER / f"{name}.yaml")])


def manifests(tmp_path, text, dialect="v2"):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return validate([str(path)], dialect)


def outcome(name, tmp_path, text, workspace="prod"):
    report = check_offline(rules_of(name), manifests(tmp_path, text), workspace)
    assert not report.errors, [str(e) for e in report.errors]
    return sorted((v.rule.name, v.rule.severity) for v in report.violations)


def tool(endpoint):
    return ("apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: lookup\nspec:\n  name: order_lookup\n"
            f"  description: Look up an order.\n  endpoint: {endpoint}\n  method: GET\n")


def test_post_call_evaluation_in_prod(tmp_path):
    assert outcome("post-call-evaluation", tmp_path, manifest_text("a")) == [("evaluated-in-prod", "deny")]
    assert outcome("post-call-evaluation", tmp_path, manifest_text("a", post_call_evaluation=False)) == \
        [("evaluated-in-prod", "deny")]
    assert outcome("post-call-evaluation", tmp_path, manifest_text("a", post_call_evaluation=True)) == []
    assert outcome("post-call-evaluation", tmp_path, manifest_text("a"), workspace="staging") == []


def test_recording_off_for_eu_numbers(tmp_path):
    bad = manifest_text("a", calls_direction="receive", phone_number_id="+4930123456", record_call=True)
    assert outcome("eu-recording", tmp_path, bad) == [("no-recording-on-eu-numbers", "deny")]
    off = manifest_text("a", calls_direction="receive", phone_number_id="+4930123456", record_call=False)
    us = manifest_text("a", calls_direction="receive", phone_number_id="+14155550100", record_call=True)
    assert outcome("eu-recording", tmp_path, off) == [] and outcome("eu-recording", tmp_path, us) == []


def test_webhook_and_tool_hosts_allow_list(tmp_path):
    bad = manifest_text("a", is_webhook_active=True, webhook_url="https://evil.example.org/hook")
    assert outcome("allowed-hosts", tmp_path, bad) == [("assistant-webhooks", "deny")]
    sneaky = manifest_text("a", is_webhook_active=True, webhook_url="https://example.com.evil.org/hook")
    assert outcome("allowed-hosts", tmp_path, sneaky) == [("assistant-webhooks", "deny")]
    good = manifest_text("a", is_webhook_active=True, webhook_url="https://hooks.example.com/calls")
    assert outcome("allowed-hosts", tmp_path, good) == []
    assert outcome("allowed-hosts", tmp_path, tool("https://api.other.net/orders")) == [("tool-endpoints", "deny")]
    assert outcome("allowed-hosts", tmp_path, tool("https://api.example.com/orders")) == []


def test_the_host_rule_never_shows_the_sensitive_webhook_url(tmp_path):
    bad = manifest_text("a", is_webhook_active=True, webhook_url="https://evil.example.org/hook?token=s3cr3t-value")
    report = check_offline(rules_of("allowed-hosts"), manifests(tmp_path, bad), "prod")
    [violation] = report.violations
    assert "s3cr3t" not in violation.message and "evil" not in violation.message


def test_call_duration_cap_and_warning(tmp_path):
    assert outcome("call-duration", tmp_path, manifest_text("a", max_call_duration=1200)) == \
        [("at-most-15-minutes", "deny"), ("over-10-minutes", "warn")]
    assert outcome("call-duration", tmp_path, manifest_text("a", max_call_duration=800)) == [("over-10-minutes", "warn")]
    assert outcome("call-duration", tmp_path, manifest_text("a", max_call_duration=300)) == []
    assert outcome("call-duration", tmp_path, manifest_text("a")) == []


def update_plan(before, after):
    return Plan([Change("a", Action.UPDATE, "A", remote_id=1, fields=[FieldChange("system_prompt", before, after)])],
                lineage="l", serial=1)


@pytest.mark.parametrize("labels, before, workspace, denied", [
    ("", "Be helpful.", "prod", False),                     # the prompt does not change
    ("", "Old prompt.", "prod", True),                      # it changes without a ticket
    ("labels: {ticket: OPS-42}", "Old prompt.", "prod", False),
    ("labels: {ticket: soon}", "Old prompt.", "prod", True),  # not an issue key
    ("", "Old prompt.", "staging", False),                  # only prod
])
def test_prompt_change_in_prod_needs_a_ticket_label(tmp_path, labels, before, workspace, denied):
    found = manifests(tmp_path, manifest_text("a", metadata_extra=labels))
    report = check_plan(rules_of("prompt-ticket"), update_plan(before, "Be helpful."), found, workspace)
    assert not report.errors
    assert bool(report.denied) is denied


def test_prompt_rule_is_not_checked_offline_nor_on_creates(tmp_path):
    found = manifests(tmp_path, manifest_text("a"))
    assert check_offline(rules_of("prompt-ticket"), found, "prod").checked == {"prompt-ticket/prompt-change-needs-ticket": 0}
    plan = Plan([Change("a", Action.CREATE, "A")], lineage="l", serial=1)
    assert check_plan(rules_of("prompt-ticket"), plan, found, "prod").to_dict()["rules"][0]["status"] == "not-applicable"


def test_every_starter_policy_loads():
    assert {r.policy for r in load_rules([str(STARTER)])} == {
        "post-call-evaluation", "eu-recording", "allowed-hosts", "call-duration", "prompt-ticket"}


def test_a_delete_is_checked_only_by_rules_that_name_it_with_the_old_object(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text("apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: keep\nspec:\n  rules:\n"
                    "    - name: no-deleting-prod\n      match: {actions: [delete]}\n"
                    "      expression: object == null && oldObject.spec.assistant_name != 'Prod line'\n"
                    "    - name: ordinary\n      expression: 'false'\n")
    plan = Plan([Change("a", Action.DELETE, "Prod line", remote_id=1)], lineage="l", serial=1)
    found = manifests(tmp_path, manifest_text("a"))  # a destroy plan: the manifest is there, its object deleted
    report = check_plan(load_rules([str(path)]), plan, found, "prod", {"a": {"assistant_name": "Prod line"}})
    assert not report.errors
    assert [(v.rule.name, v.action) for v in report.violations] == [("no-deleting-prod", "delete")]


def test_a_replacement_is_checked_as_the_delete_it_is(tmp_path):
    """A -/+ replacement deletes the object on the platform (a campaign's leads, a failed document) and the plan
    counts it "1 to destroy", but a rule on deletes never saw it: "no delete in prod" let it through."""
    path = tmp_path / "policies.yaml"
    path.write_text("apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: keep\nspec:\n  rules:\n"
                    "    - name: no-deleting-prod\n      match: {actions: [delete]}\n"
                    "      expression: oldObject.spec.assistant_name != 'Prod line'\n")
    plan = Plan([Change("a", Action.CREATE, "Prod line", remote_id=1, replace=True,
                        replace_reason="replace requested", fields=[])], lineage="l", serial=1)
    found = manifests(tmp_path, manifest_text("a"))
    report = check_plan(load_rules([str(path)]), plan, found, "prod", {"a": {"assistant_name": "Prod line"}})
    assert not report.errors
    assert [(v.rule.name, v.action, v.address) for v in report.violations] == [("no-deleting-prod", "delete", "a")]
