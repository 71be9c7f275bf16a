"""The pure parts of wiring the kinds into the plan: the registry, addresses, the hooks the generic planner reads
(identity, keys_shown, UNKNOWN, actions), child manifests and their locations, and validation with file:line."""
import json

import pytest
from click.testing import CliRunner

from provisioner import kinds
from provisioner.cli import cli
from provisioner.graph import children_of, expand
from provisioner.kinds import KINDS, address_targets, base, kind_of_address
from provisioner.kinds.base import UNKNOWN
from provisioner.manifest import load_manifests
from provisioner.plan_kinds import RemoteObject, hidden_fields, identify, known, planned_actions, read_list


def test_every_kind_is_registered_and_numbers_only_referenced():
    assert set(KINDS) == {"tool", "knowledgebase", "document", "folder", "label", "siptrunk", "number", "campaign"}
    assert kinds.MANIFEST_KINDS == ("Assistant", "Campaign", "Folder", "KnowledgeBase", "Label", "SipTrunk", "Tool")
    assert kinds.kind_of_manifest("Tool") == "tool" and kinds.kind_of_manifest("") is None


def test_one_rule_says_a_number_reference_may_name_a_siptrunk():
    assert address_targets("number") == ("siptrunk",) == KINDS["number"].address_targets
    assert address_targets("tool") == ("tool",) and address_targets("assistant") == ("assistant",)
    assert not hasattr(kinds, "ADDRESS_TARGETS") and not hasattr(base, "ADDRESS_KINDS")


@pytest.mark.parametrize("address, kind", [("support", "assistant"), ("tool.a", "tool"),
                                           ("knowledgebase.faq", "knowledgebase"),
                                           ("knowledgebase.faq.pricing", "document")])
def test_the_kind_of_an_address(address, kind):
    assert kind_of_address(address) == kind


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


TRUNK = """apiVersion: provisioner/v1
kind: SipTrunk
metadata: {name: office}
spec:
  sip_trunk_type: number
  phone_number: "+14155551234"
  nickname: Office line
  sip_username: office
  sip_password: pw-secret
  sip_address: sip.provider.com
  sip_calling_format: "+e164"
  inbound_authorization_type: auth
"""


def test_adoption_of_a_siptrunk_matches_its_identity_not_its_nickname(tmp_path):
    manifests = load_manifests([write(tmp_path, "t.yaml", TRUNK)])
    item = {"id": 7, "phone_number": "+14155551234", "nickname": "Renamed", "sip_username": "office",
            "sip_address": "sip.provider.com", "sip_calling_format": "+e164", "inbound_authorization_type": "auth",
            "allowed_inbound_ips": None, "country_code": "US", "outbound_proxy": False}
    objects = read_list(KINDS["siptrunk"], [item, {**item, "id": 8, "nickname": "Office line",
                                                   "sip_username": "other"}])
    identities = identify(manifests, {}, {"siptrunk": objects})
    assert identities.ids == {"siptrunk.office": 7}


def test_state_keeps_a_digest_per_header_and_never_unknown():
    tool = KINDS["tool"]
    hidden = hidden_fields(tool, {"headers": {"Authorization": "Bearer s3cret"}, "timeout": 5}, {"headers"})
    assert list(hidden["headers"]) == ["Authorization"] and "s3cret" not in json.dumps(hidden)
    assert hidden["headers"]["Authorization"].startswith("sha256:") and hidden["timeout"] == 5
    assert known({"A": UNKNOWN, "B": "x"}, {"A": "wanted", "B": "y"}) == {"A": "wanted", "B": "x"}
    assert known([UNKNOWN], [1]) == [1] and known(UNKNOWN, None) is None


def test_an_action_is_planned_only_for_a_field_the_manifest_sets_and_a_readable_status():
    campaign = KINDS["campaign"]
    item = {"id": 1, "name": "W", "max_calls_in_parallel": 3, "allowed_hours_start_time": "00:00",
            "allowed_hours_end_time": "23:59", "allowed_days": ["monday"], "max_retries": 3, "retry_interval": 60,
            "mark_complete_when_no_leads": True, "status": "draft"}
    current = RemoteObject.from_item(campaign, item)
    assert planned_actions(campaign, {"name": "W"}, current) == []
    assert [a["action"] for a in planned_actions(campaign, {"status": "started"}, current)] == ["start"]
    assert planned_actions(campaign, {"status": "stopped"}, current) == []
    assert [a["action"] for a in planned_actions(campaign, {"status": "started"}, None)] == ["start"]
    unreadable = RemoteObject.from_item(campaign, {**item, "status": "archived"})
    assert unreadable.problems and planned_actions(campaign, {"status": "started"}, unreadable) == []


KB = """apiVersion: provisioner/v1
kind: KnowledgeBase
metadata: {name: faq}
spec:
  name: FAQ
  documents:
    - name: Pricing page
      type: website
      url: https://example.com/pricing
    - {name: Hours, key: hours, type: txt, file: hours.txt}
"""


def test_documents_are_child_manifests_located_at_their_entries(tmp_path):
    write(tmp_path, "hours.txt", "9-5")
    [kb] = load_manifests([write(tmp_path, "kb.yaml", KB)])
    pricing, hours = children_of(kb)
    assert (pricing.address, pricing.kind, pricing.parent) == ("knowledgebase.faq.pricing-page", "document",
                                                                "knowledgebase.faq")
    assert pricing.location("spec", "url").line == 9 and hours.location("spec", "file").line == 10
    assert pricing.fields["knowledgebase_id"] == "knowledgebase.faq" and pricing.fields["content"].startswith("sha256:")
    assert hours.fields["file"].endswith("hours.txt") and pricing.platform_name == "Pricing page"
    assert [m.address for m in expand([kb])] == ["knowledgebase.faq", pricing.address, hours.address]


def validate(tmp_path, *files):
    for name, text in files:
        write(tmp_path, name, text)
    return CliRunner().invoke(cli, ["validate", str(tmp_path)])


def test_validate_gives_file_line_and_field_for_every_new_kind(tmp_path):
    result = validate(tmp_path, ("kb.yaml", KB),
                      ("tool.yaml", "apiVersion: provisioner/v1\nkind: Tool\nmetadata: {name: t}\nspec:\n"
                                    "  name: Bad-Name\n  description: d\n  endpoint: ftp://x\n  method: GET\n"),
                      ("trunk.yaml", TRUNK.replace("sip_calling_format", "sip_calling_formats")),
                      ("campaign.yaml", "apiVersion: provisioner/v1\nkind: Campaign\nmetadata: {name: c}\nspec:\n"
                                        "  name: C\n  assistant_id: 5\n  max_retries: 9\n"))
    out = result.output
    assert result.exit_code == 1
    assert "kb.yaml:10: spec.documents[1].file: no such file" in out
    assert "tool.yaml:5: spec.name:" in out and "tool.yaml:7: spec.endpoint:" in out
    assert "trunk.yaml:11: spec.sip_calling_formats: unknown field" in out
    assert "campaign.yaml:7: spec.max_retries:" in out
    assert "pw-secret" not in out


def test_a_knowledge_base_body_never_carries_its_documents_and_a_document_body_carries_its_url(tmp_path):
    from provisioner.plan_graph import Platform, plan_graph
    from provisioner.state import State

    write(tmp_path, "hours.txt", "9-5")
    plan, _ = plan_graph(load_manifests([write(tmp_path, "kb.yaml", KB)]), State.new(), Platform([], {}))
    bodies = {c.address: c.body for c in plan.changes}
    assert bodies["knowledgebase.faq"] == {"name": "FAQ", "description": None}
    assert bodies["knowledgebase.faq.pricing-page"]["url"] == "https://example.com/pricing"
    assert bodies["knowledgebase.faq.hours"]["file"].endswith("hours.txt")
