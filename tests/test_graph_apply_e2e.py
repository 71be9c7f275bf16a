"""Applying a graph of every kind through the real CLI against the emulator over HTTP, in both API dialects: what
references a knowledge base waits for its documents, a campaign's start and stop run as actions, a replacement
that deletes leads is refused without --allow-replace, and the next plan is `No changes.`"""
from __future__ import annotations

from importlib import resources

import httpx
import pytest
import yaml

from conftest import TOKEN, Platform, Workspace, manifest_text
from provisioner.emulator import EmbeddedPlatform, build_platform

GRAPH = """\
apiVersion: provisioner/v1
kind: Tool
metadata: {name: lookup}
spec:
  name: order_lookup
  description: Look up an order.
  endpoint: https://api.example.com/orders/{order_id}
  method: GET
  headers: {X-Client: acme}
  schema:
    - {name: order_id, type: string, description: The order number.}
---
apiVersion: provisioner/v1
kind: KnowledgeBase
metadata: {name: help}
spec:
  name: Help
  documents:
    - {name: Returns, key: returns, type: website, url: "https://example.com/returns"}
    - {name: Hours, key: hours, type: txt, file: hours.txt}
---
apiVersion: provisioner/v1
kind: Folder
metadata: {name: support}
spec: {name: Support, color: blue}
---
apiVersion: provisioner/v1
kind: Label
metadata: {name: vip}
spec: {name: VIP}
"""


TRUNK = """\
---
apiVersion: provisioner/v1
kind: SipTrunk
metadata: {name: office}
spec:
  sip_trunk_type: number
  phone_number: "+14155551234"
  sip_username: office
  sip_password: secret-pass
  sip_address: sip.provider.com
  sip_calling_format: "+e164"
  inbound_authorization_type: auth
  country_code: US
"""

# What an assistant may reference in each dialect (API.md: knowledgebase_id, folder_id and label_ids are v2 only;
# tool_ids and phone_number_id are in both).
REFERENCES = {"v1": dict(tool_ids=["tool.lookup"], phone_number_id="siptrunk.office"),
              "v2": dict(tool_ids=["tool.lookup"], phone_number_id="siptrunk.office",
                         knowledgebase_id="knowledgebase.help", knowledgebase_mode="function_call",
                         folder_id="folder.support", label_ids=["label.vip"])}


def write_graph(workspace) -> None:
    workspace.write("manifests/hours.txt", "Open 9 to 5.\n")
    workspace.write("manifests/graph.yaml", GRAPH + TRUNK)
    workspace.add("caller", **REFERENCES[workspace.dialect],
                  post_call_schema=[{"name": "booked", "type": "bool", "description": "Whether a slot was booked"}])


def test_a_graph_applies_in_order_then_plans_no_changes(workspace, platform, dialect):
    write_graph(workspace)
    platform.faults(document_delay_ms=300)
    try:
        result = workspace.run("apply", "--auto-approve")
    finally:
        platform.faults(document_delay_ms=0)
    assert result.exit_code == 0, result.all
    assert "Apply complete! Resources: 8 added" in result.output
    writes = [(w["method"], w["path"]) for w in platform.writes()]
    posts = [path for method, path in writes if method == "POST"]
    assistant = next(i for i, path in enumerate(posts) if path.endswith("/user/assistant"))
    assert posts.index("/user/tools") < assistant and posts.index("/user/phone-numbers/sip-trunks") < assistant
    lines = result.output.splitlines()
    done = {line.split(":")[0]: i for i, line in enumerate(lines) if "Creation complete" in line}
    sent = next(w["body"] for w in platform.writes() if w["method"] == "POST" and w["path"].endswith("/assistant"))
    ids = {line.split(":")[0]: int(line.rsplit("[id=", 1)[1].rstrip("]")) for line in lines if "[id=" in line}
    assert sent["tool_ids"] == [ids["tool.lookup"]] and sent["phone_number_id"] == ids["siptrunk.office"]
    if dialect == "v1":  # the v1 create body: the knowledge base, folder and label are not the assistant's here
        assert sent["assistant_name"] == "Caller" and sent["calls_direction"] == "make", sent
        assert not {"knowledgebase_id", "folder_id", "label_ids", "name"} & set(sent), sent
    else:
        assert sent["name"] == "Caller" and sent["type"] == "outbound" and "assistant_name" not in sent, sent
        # Both documents before the assistant that attaches the knowledge base (and apply waited for them to be
        # processed: the assistant's line comes after theirs).
        assert sum(path.endswith("/documents") for path in posts[:assistant]) == 2, posts
        assert done["caller"] > done["knowledgebase.help.returns"] and done["caller"] > done["knowledgebase.help.hours"]
        assert sent["knowledgebase_id"] == ids["knowledgebase.help"]
        assert sent["folder_id"] == ids["folder.support"] and sent["label_ids"] == [ids["label.vip"]]
    fields = platform.admin.get(f"/_emulator/objects/assistants/{ids['caller']}").json()["fields"]
    assert fields["tool_ids"] == [ids["tool.lookup"]] and fields["phone_number_id"] == ids["siptrunk.office"]
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def campaign(status: str = "", parallel: int = 2) -> str:
    extra = f"  status: {status}\n" if status else ""
    return ("apiVersion: provisioner/v1\nkind: Campaign\nmetadata: {name: winter}\nspec:\n  name: Winter\n"
            f"  assistant_id: assistant.caller\n  max_calls_in_parallel: {parallel}\n"
            f"  goal_completion_variable: booked\n{extra}")


def campaign_status(platform) -> str:
    items = platform.http.get("/user/campaigns").json()
    items = items if isinstance(items, list) else items.get("data") or items.get("campaigns")
    (item,) = [c for c in items if c["name"] == "Winter"]
    return item["status"]


def test_a_campaign_is_started_and_stopped_only_as_its_manifest_says(workspace, platform, dialect):
    workspace.add("caller", post_call_schema=[{"name": "booked", "type": "bool", "description": "Booked"}])
    workspace.write("manifests/campaign.yaml", campaign())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert campaign_status(platform) == "draft"  # status not set: never started
    workspace.write("manifests/campaign.yaml", campaign("started"))
    plan = workspace.run("plan")
    assert "start" in plan.output, plan.all
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert campaign_status(platform) == "in-progress"
    assert "No changes." in workspace.run("plan").output
    workspace.write("manifests/campaign.yaml", campaign("stopped"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert campaign_status(platform) == "stopped"
    assert "No changes." in workspace.run("plan").output


def test_a_campaign_replacement_that_deletes_leads_needs_allow_replace(workspace, platform, dialect):
    workspace.add("caller", post_call_schema=[{"name": "booked", "type": "bool", "description": "Booked"}])
    workspace.write("manifests/campaign.yaml", campaign(parallel=2))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = campaign_id = next(c["id"] for c in platform.http.get("/user/campaigns").json() if c["name"] == "Winter")
    workspace.write("manifests/campaign.yaml", campaign(parallel=4))
    plan = workspace.run("plan")
    assert "deletes leads" in plan.output, plan.all
    refused = workspace.run("apply", "--auto-approve")
    assert refused.exit_code == 1 and "--allow-replace" in refused.all, refused.all
    assert [c["id"] for c in platform.http.get("/user/campaigns").json() if c["name"] == "Winter"] == [campaign_id]
    applied = workspace.run("apply", "--auto-approve", "--allow-replace")
    assert applied.exit_code == 0, applied.all
    after = [c for c in platform.http.get("/user/campaigns").json() if c["name"] == "Winter"]
    assert len(after) == 1 and after[0]["id"] != before and after[0]["max_calls_in_parallel"] == 4
    assert "No changes." in workspace.run("plan").output


@pytest.fixture
def without_balance(tmp_path):
    """A workspace on an emulator of its own whose tenant has no balance: starting a campaign answers 400."""
    catalog = yaml.safe_load(resources.files("provisioner.emulator").joinpath("default_catalog.yaml").read_text())
    catalog["tenants"] = [{"token": TOKEN, "user_id": 1, "balance": False}]
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    (tmp_path / "project").mkdir()
    with EmbeddedPlatform(build_platform(catalog=tmp_path / "catalog.yaml")) as embedded, \
            httpx.Client(base_url=embedded.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield Workspace(tmp_path / "project", Platform(embedded.url, http))


def test_a_replacements_new_campaign_whose_start_is_refused_stays_recorded_and_the_old_one_deposed(without_balance):
    """A campaign replaced (created first) and started: the platform made the new campaign and refused its start
    (no balance, a 400). That refusal was taken for the create's own, one that made nothing, and the old campaign
    was put back at its address over the new one's record: the new campaign stayed on the platform unrecorded, and
    every later apply made one more. The new one is recorded and the old one stays deposed (destroyed next time)."""
    workspace = without_balance
    workspace.add("caller", post_call_schema=[{"name": "booked", "type": "bool", "description": "Booked"}])
    workspace.write("manifests/campaign.yaml", campaign(parallel=2))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    old = workspace.state()["resources"]["campaign.winter"]["id"]
    workspace.write("manifests/campaign.yaml", campaign("started", parallel=4))
    applied = workspace.run("apply", "--auto-approve", "--allow-replace")
    assert applied.exit_code == 1 and "Insufficient balance" in applied.output, applied.all
    [new] = [item["id"] for item in workspace.platform.http.get("/user/campaigns").json() if item["id"] != old]
    state = {address: entry["id"] for address, entry in workspace.state()["resources"].items()}
    assert state["campaign.winter"] == new and state["campaign.winter~deposed"] == old, state
    plan = workspace.run("plan")
    assert "0 to add" in plan.output and "1 to destroy" in plan.output, plan.all


def knowledgebase(name: str, description: str | None) -> str:
    return ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {name: help}\nspec:\n  name: " + name + "\n"
            + (f"  description: {description}\n" if description else ""))


def test_a_knowledge_base_renamed_keeps_its_description_and_one_left_out_is_cleared(workspace, platform):
    """Found by the graph property test: an update sent every field, so a rename sent description null (and
    cleared it on the platform: drift on the next plan), and a description-only change failed (KeyError)."""
    def stored() -> tuple:
        [item] = platform.http.get("/user/knowledgebases").json()["data"]
        return item["name"], item["description"]

    for name, description in [("Help", "Answers"), ("Help center", "Answers"), ("Help center", "What we know"),
                              ("Help center", None)]:
        workspace.write("manifests/kb.yaml", knowledgebase(name, description))
        applied = workspace.run("apply", "--auto-approve")
        assert applied.exit_code == 0, applied.all
        assert stored() == (name, description)
        assert "No changes." in workspace.run("plan").output
