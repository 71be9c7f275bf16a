"""End to end, the real CLI (`validate`, `plan`, `plan --json`) against the emulator over HTTP, for the kinds wired
into the plan by issue 17: tools, SIP trunks, knowledge bases with their documents, campaigns, phone numbers.
Objects that exist already are made through the kinds' own endpoints (a real client) and adopted by name."""
import json
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import REQUIRED, TOKEN, manifest_text
from provisioner.client import PlatformClient
from provisioner.kinds import campaign, document, siptrunk, tool
from provisioner.kinds.knowledgebase import KNOWLEDGEBASE

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Bearer sk_live_E2E_DO_NOT_LEAK_77"
PASSWORD = "pw-E2E-DO_NOT_LEAK-31"


def tool_manifest(name="lookup", secret=SECRET, timeout=10, description="Look up an order."):
    return (f"apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: {name}\nspec:\n  name: order_{name}\n"
            f"  description: {description}\n  endpoint: https://api.example.com/orders/{{order_id}}\n  method: GET\n"
            f"  timeout: {timeout}\n  headers:\n    Authorization: \"{secret}\"\n    X-Trace: \"on\"\n  schema:\n"
            "    - {name: order_id, type: string, description: The order number.}\n")


def trunk_manifest(password=PASSWORD, nickname="Office line"):
    return ("apiVersion: provisioner/v1\nkind: SipTrunk\nmetadata:\n  name: office\nspec:\n  sip_trunk_type: number\n"
            f"  phone_number: \"+14155551234\"\n  nickname: {nickname}\n  sip_username: office\n"
            f"  sip_password: \"{password}\"\n  sip_address: sip.provider.com\n  sip_calling_format: \"+e164\"\n"
            "  inbound_authorization_type: auth\n  country_code: US\n  outbound_proxy: false\n")


def kb_manifest(url="https://example.com/pricing", description="What callers ask"):
    return ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: faq\nspec:\n  name: FAQ\n"
            f"  description: {description}\n  documents:\n"
            f"    - {{name: Pricing page, key: pricing, type: website, url: \"{url}\"}}\n"
            "    - {name: Handbook, type: txt, file: handbook.txt}\n")


def campaign_manifest(assistant="assistant.caller", extra=""):
    return ("apiVersion: provisioner/v1\nkind: Campaign\nmetadata:\n  name: winter\nspec:\n  name: Winter\n"
            f"  assistant_id: {assistant}\n  max_calls_in_parallel: 2\n{extra}")


@pytest.fixture
def client(platform):
    with PlatformClient(platform.url, TOKEN) as client:
        yield client


def plan_json(workspace, *args):
    result = workspace.run("plan", "--json", *args)
    assert result.exit_code in (0, 2), result.all
    return json.loads(result.output)


def changes_of(workspace, *args):
    return {c["address"]: c for c in plan_json(workspace, *args)["changes"]}


class _WithRows:
    """A state backend whose reads also hold `rows` (address -> ResourceState): the rows an apply of an adoption
    records (each change's `record`, with the adopted id). This branch's store and `import` take assistant
    addresses only (the apply helper's branch makes them per kind), so the rows are given to the real CLI here."""

    def __init__(self, inner, rows):
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_rows", rows)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        setattr(self._inner, name, value)

    def read(self):
        state = self._inner.read()
        state.resources.update(self._rows)
        return state


@pytest.fixture
def rows(monkeypatch):
    """The rows the next CLI runs' state holds besides the store's own."""
    from provisioner.workflow import session

    held: dict = {}
    opened = session.open_backend
    # They stand for what an apply recorded, so there is a store to hold them (a plan alone makes none).
    monkeypatch.setattr(session, "open_backend", lambda *a, **k: _WithRows(opened(*a, **{**k, "create": True}), held))
    return held


def import_all(rows, plan):
    from provisioner.state import ResourceState

    rows.update({address: ResourceState.from_dict({"id": change["remote_id"], **change["record"]})
                 for address, change in plan.items() if change["action"] == "import"})


# --- tools ---

def test_tool_create_is_planned_and_a_header_value_never_appears(workspace):
    workspace.write("manifests/lookup.yaml", tool_manifest())
    assert workspace.run("validate").exit_code == 0
    text = workspace.run("plan")
    assert text.exit_code == 0, text.all
    assert '+ tool "lookup"' in text.output and "Authorization (added)" in text.output
    change = changes_of(workspace)["tool.lookup"]
    assert change["action"] == "create" and change["kind"] == "tool"
    markdown = workspace.run("plan", "--format", "markdown").output
    saved = workspace.root / "tool.plan"
    assert workspace.run("plan", "--out", str(saved)).exit_code == 0
    for shown in (text.output, json.dumps(change), markdown, saved.read_text()):
        assert SECRET not in shown and "sk_live" not in shown


def test_tool_adopted_then_no_change_then_drift_and_a_header_change_by_name(workspace, client, rows):
    fields = tool.KIND.spec_model.model_validate({
        "name": "order_lookup", "description": "Look up an order.",
        "endpoint": "https://api.example.com/orders/{order_id}", "method": "GET", "timeout": 10,
        "headers": {"Authorization": SECRET, "X-Trace": "on"},
        "schema": [{"name": "order_id", "type": "string", "description": "The order number."}]}).model_dump(mode="json")
    created = tool.KIND.endpoints.create(client, tool.create_body(fields), None)
    workspace.write("manifests/lookup.yaml", tool_manifest())
    adopted = changes_of(workspace)
    assert adopted["tool.lookup"]["action"] == "import" and adopted["tool.lookup"]["remote_id"] == created["id"]
    import_all(rows, adopted)
    recorded = json.dumps(rows["tool.lookup"].spec) + json.dumps(rows["tool.lookup"].remote)
    assert SECRET not in recorded and "Authorization" in recorded  # a digest per header, names readable
    # Headers are shown back by the platform: compared with it, so once recorded nothing differs.
    assert "No changes." in workspace.run("plan").output
    # Drift on a shown field.
    tool.KIND.endpoints.update(client, created["id"], {"timeout": 25}, None)
    drift = changes_of(workspace)["tool.lookup"]
    assert drift["action"] == "update" and drift["body"] == {"timeout": 10}
    [timeout] = [f for f in drift["fields"] if f["field"] == "timeout"]
    assert timeout["before"] == 25 and timeout["after"] == 10
    # A header change: by name only.
    tool.KIND.endpoints.update(client, created["id"], {"timeout": 10}, None)
    workspace.write("manifests/lookup.yaml", tool_manifest(secret=SECRET + "-rotated"))
    text = workspace.run("plan")
    assert "Authorization (changed)" in text.output and "X-Trace (changed)" not in text.output
    plan = plan_json(workspace)
    [headers] = [f for f in plan["changes"][0]["fields"] if f["field"] == "headers"]
    assert headers["sensitive"] and headers["after"] == "(sensitive): Authorization (changed)"
    saved = workspace.root / "header.plan"
    assert workspace.run("plan", "--out", str(saved)).exit_code in (0, 2)
    everything = (text.all + json.dumps(plan) + workspace.run("plan", "--format", "markdown").all
                  + saved.read_text())
    assert SECRET not in everything and "rotated" not in everything
    assert "Authorization (changed)" in saved.read_text()


# --- SIP trunks ---

def trunk_fields(password=PASSWORD):
    return siptrunk.KIND.spec_model.model_validate({
        "sip_trunk_type": "number", "phone_number": "+14155551234", "nickname": "Office line",
        "sip_username": "office", "sip_password": password, "sip_address": "sip.provider.com",
        "sip_calling_format": "+e164", "inbound_authorization_type": "auth", "country_code": "US",
        "outbound_proxy": False}).model_dump(mode="json")


def test_siptrunk_create_then_password_compared_with_state_only(workspace, client):
    workspace.write("manifests/office.yaml", trunk_manifest())
    assert workspace.run("validate").exit_code == 0
    created_plan = changes_of(workspace)
    assert created_plan["siptrunk.office"]["action"] == "create"
    assert PASSWORD not in json.dumps(created_plan)
    created = siptrunk.KIND.endpoints.create(client, siptrunk.create_body(trunk_fields()), None)
    adopted = changes_of(workspace)
    assert adopted["siptrunk.office"]["action"] == "import"
    assert adopted["siptrunk.office"]["remote_id"] == created["id"]


def test_two_siptrunk_manifests_alike_are_refused_before_anything_is_sent(workspace):
    """The platform refuses a second trunk of the same number, username and address (its 409), as it refuses a second
    folder of one name; two such manifests were valid and planned as two creates, and every apply made the first and
    failed the second, never converging. Validation now refuses them, as it does two folders of one name."""
    other = trunk_manifest(nickname="Desk line").replace("metadata:\n  name: office", "metadata:\n  name: desk")
    workspace.write("manifests/office.yaml", trunk_manifest() + "---\n" + other)
    for command in ("validate", "plan", "apply"):
        refused = workspace.run(command, *(("--auto-approve",) if command == "apply" else ()))
        assert refused.exit_code == 1, refused.all
        assert ("office.yaml:23: siptrunk.desk: spec.phone_number: '+14155551234', 'office', 'sip.provider.com' (its "
                "phone_number, sip_username and sip_address) is also used by the manifest at manifests/office.yaml:7; "
                "the platform refuses a second SIP trunk alike") in refused.all, refused.all
        assert PASSWORD not in refused.all
    assert workspace.platform.writes() == [] and workspace.stored_state() is None
    workspace.write("manifests/office.yaml", trunk_manifest() + "---\n" + other.replace("sip_username: office", "sip_username: desk"))
    assert workspace.run("validate").exit_code == 0  # another username: another trunk


def test_two_siptrunks_alike_are_refused_without_quoting_a_value_marked_sensitive(workspace):
    """The refusal of two trunks alike quoted the three values in clear, a username the manifests mark sensitive
    included, where every spec error about such a field hides it."""
    username = "desk-user-DO_NOT_LEAK"
    secret = trunk_manifest().replace("sip_username: office", f"sip_username: {username}").replace(
        "  name: office\n", "  name: office\n  sensitive: [sip_username]\n")
    other = secret.replace("name: office", "name: desk")
    workspace.write("manifests/office.yaml", secret + "---\n" + other)
    for command in ("validate", "plan"):
        refused = workspace.run(command)
        assert refused.exit_code == 1, refused.all
        assert ("office.yaml:25: siptrunk.desk: spec.phone_number: '+14155551234', (sensitive), 'sip.provider.com' (its "
                "phone_number, sip_username and sip_address) is also used by the manifest at manifests/office.yaml:8"
                ) in refused.all, refused.all
        assert username not in refused.all and PASSWORD not in refused.all
    # A name marked sensitive is not quoted either; an address, never a secret, still is.
    folder = "apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: {}\n  sensitive: [name]\nspec:\n  name: {}\n"
    workspace.write("manifests/office.yaml", folder.format("f", "Payroll-DO_NOT_LEAK") + "---\n"
                    + folder.format("g", "Payroll-DO_NOT_LEAK") + "---\n" + folder.format("g", "Other"))
    refused = workspace.run("validate")
    assert ("office.yaml:15: folder.g: spec.name: (sensitive) is also used by the manifest at manifests/office.yaml:7"
            in refused.all and "office.yaml:20: folder.g: metadata.name: 'folder.g' is also used by the manifest at "
            "manifests/office.yaml:12" in refused.all and "DO_NOT_LEAK" not in refused.all), refused.all


def test_siptrunk_password_sent_only_when_its_digest_changed(load_state):
    state, plan = load_state
    # nothing recorded changed: no change at all
    assert plan("same") is None
    change = plan("new")
    assert [f.field for f in change.fields] == ["sip_password"] and set(change.body) == {"sip_password"}
    assert change.fields[0].before == "(sensitive)" and change.fields[0].after == "(sensitive)"


@pytest.fixture
def load_state(tmp_path):
    """A SIP trunk in state (its password's digest recorded), planned against the same trunk on the platform."""
    from provisioner.manifest import load_manifests
    from provisioner.plan_kinds import RemoteObject, record
    from provisioner.plan_graph import Platform, plan_graph
    from provisioner.state import ResourceState, State

    item = {"id": 700, **{k: v for k, v in trunk_fields().items() if k not in ("sip_password", "sip_trunk_type")},
            "type": "sip_trunk"}

    def plan(which):
        password = PASSWORD if which == "same" else PASSWORD + "x"
        path = tmp_path / "office.yaml"
        path.write_text(trunk_manifest(password=PASSWORD))
        [first] = load_manifests([path])
        state = State.new()
        state.resources["siptrunk.office"] = ResourceState(700, **{k: v for k, v in record(
            first, {k: v for k, v in first.fields.items()}, {}).items()})
        path.write_text(trunk_manifest(password=password))
        manifests = load_manifests([path])
        live = RemoteObject.from_item(siptrunk.KIND, item)
        result, _ = plan_graph(manifests, state, Platform([], {"siptrunk": [live]}))
        return result.changes[0] if result.changes else None

    return None, plan


# --- knowledge bases and documents ---

def processed(client, kb_id: int) -> None:
    """Until the platform has processed every document of the knowledge base (a plan waits again for one it still
    processes: no "No changes" before)."""
    deadline = time.monotonic() + 10
    while any(d["status"] == "processing" for d in document.DOCUMENT.endpoints.list(client, kb_id)):
        assert time.monotonic() < deadline, "the documents were never processed"
        time.sleep(0.05)


def test_knowledgebase_documents_planned_then_a_content_change_replaces_one(workspace, client, rows):
    workspace.write("manifests/handbook.txt", "Opening hours: 9-5.\n")
    workspace.write("manifests/faq.yaml", kb_manifest())
    assert workspace.run("validate").exit_code == 0
    first = changes_of(workspace)
    assert first["knowledgebase.faq"]["action"] == "create"
    pricing = first["knowledgebase.faq.pricing"]
    assert pricing["kind"] == "document" and pricing["depends_on"] == ["knowledgebase.faq"]
    assert pricing["body"]["url"] == "https://example.com/pricing" and pricing["wait"] is True
    assert pricing["body"]["knowledgebase_id"] == {"$ref": "knowledgebase.faq"}
    assert first["knowledgebase.faq.handbook"]["body"]["file"].endswith("handbook.txt")
    # The objects on the platform, adopted by name, then imported.
    kb = KNOWLEDGEBASE.endpoints.create(client, {"name": "FAQ", "description": "What callers ask"}, None)
    page = document.DOCUMENT.endpoints.create(client, {"name": "Pricing page", "type": "website",
                                                       "url": "https://example.com/pricing"}, kb["id"])
    adopted = changes_of(workspace)
    assert adopted["knowledgebase.faq"]["action"] == "import"
    assert adopted["knowledgebase.faq.pricing"]["action"] == "import"
    assert adopted["knowledgebase.faq.pricing"]["remote_id"] == page["id"]
    assert adopted["knowledgebase.faq.handbook"]["action"] == "create"
    assert adopted["knowledgebase.faq.handbook"]["body"]["knowledgebase_id"] == kb["id"]
    import_all(rows, adopted)
    handbook = document.DOCUMENT.endpoints.create(client, {"name": "Handbook", "type": "txt", "file": str(
        workspace.root / "manifests/handbook.txt"), "content": first["knowledgebase.faq.handbook"]["body"]["content"]},
        kb["id"])
    with_handbook = changes_of(workspace)
    assert with_handbook["knowledgebase.faq.handbook"]["action"] == "import"
    import_all(rows, with_handbook)
    processed(client, kb["id"])
    assert "No changes." in workspace.run("plan").output
    # A content change: a replacement, said so.
    workspace.write("manifests/faq.yaml", kb_manifest(url="https://example.com/prices"))
    replaced = changes_of(workspace)["knowledgebase.faq.pricing"]
    assert replaced["action"] == "create" and replaced["replace"] is True and replaced["remote_id"] == page["id"]
    text = workspace.run("plan").output
    assert "-/+" in text and "knowledgebase.faq.pricing" in text


def test_documents_are_not_listed_when_nothing_about_them_can_have_changed(tmp_path):
    from provisioner.graph import expand
    from provisioner.manifest import load_manifests
    from provisioner.plan_kinds import desired, hidden_fields, read_list
    from provisioner.reading import children_to_read
    from provisioner.state import ResourceState

    (tmp_path / "handbook.txt").write_text("x")
    path = tmp_path / "faq.yaml"
    path.write_text(kb_manifest())
    manifests = expand(load_manifests([path]))
    kbs = {"knowledgebase": read_list(KNOWLEDGEBASE, [{"id": 3, "name": "FAQ", "description": "What callers ask",
                                                       "documents_count": 2}])}
    state = {"knowledgebase.faq": ResourceState(3, {})}
    for number, child in enumerate(m for m in manifests if m.kind == "document"):
        fields = desired(document.DOCUMENT, {**child.fields, "knowledgebase_id": 3})
        state[child.address] = ResourceState(10 + number, hidden_fields(document.DOCUMENT, fields, ()))
    assert children_to_read(manifests, state, kbs) == ({}, frozenset({"knowledgebase.faq"}))
    kbs["knowledgebase"][0].item["documents_count"] = 1  # one deleted outside the provisioner
    assert children_to_read(manifests, state, kbs)[0] == {"knowledgebase.faq": ("document", 3)}
    kbs["knowledgebase"][0].item["documents_count"] = 2
    del state["knowledgebase.faq.handbook"]  # a new document
    assert children_to_read(manifests, state, kbs)[0] == {"knowledgebase.faq": ("document", 3)}


# --- campaigns ---

def outbound(workspace, name="caller", direction="make"):
    workspace.add(name, calls_direction=direction)


def test_campaign_create_then_a_settings_change_is_a_replacement_that_deletes_leads(workspace, client, dialect):
    outbound(workspace)
    workspace.write("manifests/winter.yaml", campaign_manifest())
    assert workspace.run("validate").exit_code == 0, workspace.run("validate").all
    first = changes_of(workspace)
    assert first["campaign.winter"]["action"] == "create"
    assert first["campaign.winter"]["body"]["assistant_id"] == {"$ref": "caller"} or \
        first["campaign.winter"]["body"]["assistant_id"] == {"$ref": "assistant.caller"}
    # The assistant and the campaign exist on the platform.
    created = workspace.platform.http.post("/user/assistants", json={"assistant_name": "caller"})
    assert workspace.run("plan").exit_code in (0, 2)


def test_campaign_with_an_inbound_assistant_is_refused_at_validate_time_with_file_and_line(workspace, dialect):
    outbound(workspace, direction="receive")
    workspace.write("manifests/winter.yaml", campaign_manifest())
    result = workspace.run("validate")
    assert result.exit_code == 1
    assert "manifests/winter.yaml:7" in result.all and "inbound" in result.all


def test_campaign_settings_change_shown_as_replacement_that_deletes_leads(tmp_path):
    from provisioner.manifest import load_manifests
    from provisioner.plan_kinds import RemoteObject, record
    from provisioner.plan_graph import Platform, plan_graph
    from provisioner.planner import RemoteAssistant
    from provisioner.state import ResourceState, State

    path = tmp_path / "winter.yaml"
    path.write_text(campaign_manifest(assistant=41, extra="  status: started\n"))
    [first] = load_manifests([path])
    state = State.new()
    state.resources["campaign.winter"] = ResourceState(9, **record(first, {**first.fields}, {}))
    item = {"id": 9, "name": "Winter", "max_calls_in_parallel": 2, "allowed_hours_start_time": "00:00",
            "allowed_hours_end_time": "23:59", "allowed_days": list(campaign.DAYS), "max_retries": 3,
            "retry_interval": 60, "mark_complete_when_no_leads": True, "status": "draft"}
    live = RemoteObject.from_item(campaign.KIND, item)
    assistant = RemoteAssistant(41, "caller", {}, {"id": 41, "type": "outbound"})
    # Only the status differs: a start, no replacement, its note in the plan.
    plan, _ = plan_graph([first], state, Platform([assistant], {"campaign": [live]}))
    [change] = plan.changes
    assert change.action.value == "update" and not change.replace and change.body == {}
    assert change.actions == [{"field": "status", "action": "start", "value": "started",
                               "note": campaign.STATUS_ACTION.notes["start"]}]
    assert change.reason.startswith("then start: ") and "real calls" in change.reason
    # A setting changed: -/+ that deletes leads, the start planned again for the new campaign.
    path.write_text(campaign_manifest(assistant=41, extra="  status: started\n").replace("parallel: 2", "parallel: 3"))
    plan, _ = plan_graph(load_manifests([path]), state, Platform([assistant], {"campaign": [live]}))
    [change] = plan.changes
    assert change.replace and change.replace_reason == "deletes leads" and change.actions[0]["action"] == "start"
    from provisioner.render.text import plan_text
    assert "deletes leads" in plan_text(plan)


def test_campaign_assistant_by_id_is_checked_at_plan_time(tmp_path):
    from provisioner.errors import PlanError
    from provisioner.manifest import load_manifests
    from provisioner.plan_graph import Platform, plan_graph
    from provisioner.planner import RemoteAssistant
    from provisioner.state import State

    path = tmp_path / "winter.yaml"
    path.write_text(campaign_manifest(assistant=41))
    inbound = RemoteAssistant(41, "caller", {}, {"id": 41, "type": "inbound"})
    with pytest.raises(PlanError, match="inbound assistant") as error:
        plan_graph(load_manifests([path]), State.new(), Platform([inbound], {"campaign": []}))
    assert "winter.yaml:7" in str(error.value.problems[0].location)


# --- phone numbers ---

def test_an_unknown_e164_number_is_a_plan_error_and_a_known_one_resolves(workspace):
    outbound(workspace)
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  phone_number_ids: [\"+19995550000\"]\n"))
    result = workspace.run("plan")
    assert result.exit_code == 1 and "no phone number +19995550000" in result.all
    assert "manifests/winter.yaml:" in result.all
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  phone_number_ids: [\"+14155550100\"]\n"))
    change = changes_of(workspace)["campaign.winter"]
    assert change["body"]["phone_number_ids"] == [45]


def test_siptrunk_no_change_after_adoption_and_a_new_password_is_sent_alone(workspace, client, rows):
    created = siptrunk.KIND.endpoints.create(client, siptrunk.create_body(trunk_fields()), None)
    workspace.write("manifests/office.yaml", trunk_manifest())
    adopted = changes_of(workspace)
    assert adopted["siptrunk.office"]["action"] == "import"
    # Not sent on adoption: the platform would re-create the trunk's voice trunks for a password it may hold already.
    assert "sip_password" not in (adopted["siptrunk.office"]["body"] or {}), adopted["siptrunk.office"]
    assert "sip_password" not in [f["field"] for f in adopted["siptrunk.office"]["fields"]]
    import_all(rows, adopted)
    assert PASSWORD not in json.dumps(rows["siptrunk.office"].spec)
    assert "No changes." in workspace.run("plan").output
    workspace.write("manifests/office.yaml", trunk_manifest(password=PASSWORD + "-new"))
    change = changes_of(workspace)["siptrunk.office"]
    assert change["action"] == "update" and change["remote_id"] == created["id"]
    assert list(change["body"]) == ["sip_password"] and change["body"]["sip_password"].startswith("sha256:")
    [field] = change["fields"]
    assert field["source"] == "last-applied" and field["before"] == field["after"] == "(sensitive)"
    text = workspace.run("plan").all
    assert PASSWORD not in text and "sip_password" in text
    # Another field changes: the password (unchanged) stays out of the body.
    workspace.write("manifests/office.yaml", trunk_manifest(nickname="Front desk"))
    change = changes_of(workspace)["siptrunk.office"]
    assert change["body"] == {"nickname": "Front desk"}


def test_campaign_adopted_no_change_then_a_setting_is_a_replacement_that_deletes_leads(workspace, client, rows,
                                                                                     dialect):
    workspace.add("caller", calls_direction="make")
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assistant_id = workspace.state()["resources"]["caller"]["id"]
    created = campaign.KIND.endpoints.create(client, {"name": "Winter", "assistant_id": assistant_id,
                                                      "max_calls_in_parallel": 2}, None)
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  status: stopped\n"))
    adopted = changes_of(workspace)
    assert adopted["campaign.winter"]["action"] == "import" and adopted["campaign.winter"]["remote_id"] == created["id"]
    assert not adopted["campaign.winter"]["replace"]  # its write-only settings are unknowable: never a guess
    import_all(rows, adopted)
    assert "No changes." in workspace.run("plan").output
    # status started: an action with its note, no replacement
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  status: started\n"))
    change = changes_of(workspace)["campaign.winter"]
    assert change["action"] == "update" and change["body"] == {} and change["actions"][0]["action"] == "start"
    assert "places real calls" in workspace.run("plan").output
    # a setting: -/+ that deletes leads
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  status: stopped\n").replace(
        "parallel: 2", "parallel: 3"))
    change = changes_of(workspace)["campaign.winter"]
    assert change["replace"] and change["replace_reason"] == "deletes leads"
    text = workspace.run("plan").output
    assert "-/+" in text and "deletes leads" in text


def test_a_saved_plan_with_documents_is_checked_under_their_knowledge_base(workspace, client, rows):
    # Documents ready at once: one that turned active between `plan --out` and `apply` would make the saved
    # plan stale (its item changed), which is right, but not what this test is about.
    workspace.platform.faults(document_delay_ms=0)
    workspace.write("manifests/handbook.txt", "Opening hours: 9-5.\n")
    workspace.write("manifests/faq.yaml", kb_manifest())
    kb = KNOWLEDGEBASE.endpoints.create(client, {"name": "FAQ", "description": "What callers ask"}, None)
    document.DOCUMENT.endpoints.create(client, {"name": "Pricing page", "type": "website",
                                                "url": "https://example.com/pricing"}, kb["id"])
    import_all(rows, changes_of(workspace))
    workspace.write("manifests/faq.yaml", kb_manifest(url="https://example.com/prices"))
    saved = workspace.root / "kb.plan"
    assert workspace.run("plan", "--out", str(saved)).exit_code in (0, 2)
    result = workspace.run("apply", str(saved), "--auto-approve")
    # Each document is checked as a document under its knowledge base (not refused as the address of a
    # knowledge base): the changed one is replaced, and nothing is left to do.
    assert result.exit_code == 0, result.all
    # The -/+ of the pricing page, and the handbook file created.
    assert "Resources: 2 added, 0 changed, 1 destroyed." in result.output, result.output
    # (No re-plan here: this test's `rows` are laid over every read of state, the replaced row included.)


def counts(workspace):
    return workspace.platform.admin.get("/_emulator/stats").json()["requests"]


def test_numbers_are_read_only_when_a_reference_names_one_and_documents_only_when_needed(workspace, client, rows):
    workspace.write("manifests/lookup.yaml", tool_manifest())
    workspace.platform.admin.post("/_emulator/reset")
    assert workspace.run("plan").exit_code == 0
    assert not any("phone-numbers/all" in key for key in counts(workspace)), counts(workspace)
    outbound(workspace)
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  phone_number_ids: [\"+14155550100\"]\n"))
    assert workspace.run("plan").exit_code == 0
    assert any("phone-numbers/all" in key for key in counts(workspace)), counts(workspace)
    # A knowledge base whose documents are as state recorded: its documents are not listed.
    workspace.write("manifests/handbook.txt", "Opening hours: 9-5.\n")
    workspace.write("manifests/faq.yaml", kb_manifest())
    kb = KNOWLEDGEBASE.endpoints.create(client, {"name": "FAQ", "description": "What callers ask"}, None)
    document.DOCUMENT.endpoints.create(client, {"name": "Pricing page", "type": "website",
                                                "url": "https://example.com/pricing"}, kb["id"])
    first = changes_of(workspace)
    handbook = first["knowledgebase.faq.handbook"]
    handbook_item = document.DOCUMENT.endpoints.create(client, {**handbook["body"], "knowledgebase_id": kb["id"],
                                                                "file": str(workspace.root / "manifests" /
                                                                            "handbook.txt")}, kb["id"])
    import_all(rows, changes_of(workspace))
    assert set(rows) >= {"knowledgebase.faq", "knowledgebase.faq.pricing", "knowledgebase.faq.handbook"}
    for name in ("lookup", "winter", "caller"):
        (workspace.root / "manifests" / f"{name}.yaml").unlink()
    processed(client, kb["id"])  # while one is processed, the plan lists them to wait for it again
    before = sum(n for key, n in counts(workspace).items() if "/documents" in key)
    assert before > 0  # the adoption plans listed them
    assert "No changes." in workspace.run("plan").output
    assert sum(n for key, n in counts(workspace).items() if "/documents" in key) == before
    # One deleted outside the provisioner: the count differs, the documents are listed, the create planned.
    document.DOCUMENT.endpoints.delete(client, handbook_item["id"], kb["id"])
    again = changes_of(workspace)
    assert again["knowledgebase.faq.handbook"]["action"] == "create"
    assert "gone from the platform" in again["knowledgebase.faq.handbook"]["reason"]


def test_targeting_a_knowledge_base_plans_its_documents_and_an_assistant_pulls_them_in(workspace):
    workspace.write("manifests/handbook.txt", "Opening hours: 9-5.\n")
    workspace.write("manifests/faq.yaml", kb_manifest())
    workspace.write("manifests/lookup.yaml", tool_manifest())
    planned = changes_of(workspace, "--target", "knowledgebase.faq")
    assert set(planned) == {"knowledgebase.faq", "knowledgebase.faq.pricing", "knowledgebase.faq.handbook"}
    only = changes_of(workspace, "--target", "knowledgebase.faq.pricing")
    assert set(only) == {"knowledgebase.faq", "knowledgebase.faq.pricing"}


def test_a_siptrunk_adopted_by_identity_says_so(workspace, client):
    siptrunk.KIND.endpoints.create(client, siptrunk.create_body({**trunk_fields(), "nickname": "Renamed"}), None)
    workspace.write("manifests/office.yaml", trunk_manifest())
    change = changes_of(workspace)["siptrunk.office"]
    assert change["action"] == "import"
    assert "exactly one that is +14155551234, office, sip.provider.com" in change["reason"]
    assert [f["field"] for f in change["fields"] if f["field"] == "nickname"] == ["nickname"]


def test_siptrunks_without_a_nickname_are_not_one_name_for_export_and_the_rename_hint(workspace, client):
    """A trunk the platform reads with `nickname: null` was named 'None': an unrelated trunk without a nickname
    (another number) was "the same name on the platform" to the rename hint, whose moved block would have made the
    live trunk the other one; and export skipped an unmanaged trunk without a nickname whenever a manifest of one
    without a nickname existed (it would adopt it "by its name")."""
    workspace.dialect = "v2"
    workspace.write("manifests/office.yaml", trunk_manifest(nickname="null"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    other = trunk_manifest(nickname="null").replace("name: office", "name: desk").replace("+14155551234",
                                                                                         "+14155559876")
    workspace.write("manifests/office.yaml", other)
    planned = plan_json(workspace)
    assert sorted((c["address"], c["action"]) for c in planned["changes"]) == [("siptrunk.desk", "create"),
                                                                             ("siptrunk.office", "delete")]
    assert not [n for n in planned["notes"] if "looks like a rename" in n], planned["notes"]
    siptrunk.KIND.endpoints.create(client, siptrunk.create_body({**trunk_fields(), "phone_number": "+14155550199",
                                                                 "nickname": None}), None)
    exported = workspace.run("export", "--out", "exported")
    assert exported.exit_code == 0, exported.all
    assert "1 siptrunk(s)" in exported.output, exported.all
    assert "none" not in exported.output, exported.all


def test_only_objects_of_a_manifests_own_identity_make_its_adoption_a_guess(workspace, client):
    """Two unclaimed objects of a manifest's name made its plan an error ('adopting one would be a guess') though
    neither was its object: a trunk of its own number was refused for two trunks of other numbers that share its
    nickname, and a document for two namesakes in other knowledge bases (told to import one of those under its own
    knowledge base). Identify matches a trunk by its number, username and address and a document under its
    knowledge base only, and the refusal now counts what identify matched: both are created."""
    workspace.dialect = "v2"
    for number in ("+14155550101", "+14155550102"):
        siptrunk.KIND.endpoints.create(client, siptrunk.create_body({**trunk_fields(), "phone_number": number}), None)
    bases = "".join(f"---\napiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {{name: {name}}}\n"
                    f"spec:\n  name: {name.title()}\n" for name in ("one", "two", "three"))
    pricing = "  documents:\n    - {name: Pricing, key: pricing, type: website, url: \"https://example.com/%s\"}\n"
    workspace.write("manifests/bases.yaml", bases.replace("  name: One\n", "  name: One\n" + pricing % "one")
                    .replace("  name: Two\n", "  name: Two\n" + pricing % "two"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    for address in ("knowledgebase.one.pricing", "knowledgebase.two.pricing"):  # on the platform, unclaimed
        assert workspace.run("state", "rm", address).exit_code == 0
    workspace.write("manifests/bases.yaml", bases.replace("  name: Three\n", "  name: Three\n" + pricing % "three"))
    workspace.write("manifests/office.yaml", trunk_manifest())
    planned = workspace.run("plan", "--json")
    assert planned.exit_code == 0, planned.all
    changes = {c["address"]: c["action"] for c in json.loads(planned.output)["changes"]}
    assert changes["siptrunk.office"] == "create" and changes["knowledgebase.three.pricing"] == "create", changes


def test_a_document_moved_to_another_knowledge_base_is_no_rename_to_hint(workspace):
    """A document's manifest moved from one knowledge base to another (the same name) got the hint "this looks like a
    rename ... add these lines ... (nothing is then destroyed or re-created)", but a document cannot change its
    knowledge base: with the moved block, the plan replaced it all the same. A hint is given only where the moved
    block keeps the live object: a document renamed under its own knowledge base, whose moved block leaves nothing
    to destroy."""
    workspace.dialect = "v2"
    bases = ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {name: one}\nspec:\n  name: One\n%s"
             "---\napiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {name: two}\nspec:\n  name: Two\n%s")
    pricing = "  documents:\n    - {name: Pricing, key: %s, type: website, url: \"https://example.com/pricing\"}\n"
    workspace.write("manifests/bases.yaml", bases % (pricing % "pricing", ""))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/bases.yaml", bases % ("", pricing % "pricing"))
    moved = plan_json(workspace)
    assert not [n for n in moved["notes"] if "looks like a rename" in n], moved["notes"]
    workspace.write("manifests/bases.yaml", bases % (pricing % "prices", ""))
    renamed = plan_json(workspace)
    [hint] = [n for n in renamed["notes"] if "looks like a rename" in n]
    assert "knowledgebase.one.pricing (id" in hint and "knowledgebase.one.prices created" in hint, hint
    workspace.write("manifests/moved.yaml", hint[hint.index("---"):])
    kept = workspace.run("plan", "--detailed-exitcode")
    assert kept.exit_code == 2 and "0 to add, 0 to change, 0 to destroy, 1 to move" in kept.output, kept.all


def test_a_renamed_campaign_whose_create_only_setting_changed_is_no_rename_to_hint(workspace, dialect):
    """A campaign renamed (its address) whose manifest left out a setting the platform never shows back got the hint
    'this looks like a rename ... (nothing is then destroyed or re-created)': the hint compared only the fields both
    the state and the manifest set, and with the moved block added the plan replaced the campaign all the same,
    deleting its leads. A campaign renamed with its settings as they were keeps its hint, and its moved block leaves
    nothing to destroy."""
    workspace.add("caller", calls_direction="make", post_call_schema=[
        {"name": "booked", "type": "bool", "description": "Whether they booked"}])
    with_goal = campaign_manifest(extra="  goal_completion_variable: booked\n")
    workspace.write("manifests/winter.yaml", with_goal)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    for changed in (campaign_manifest(), with_goal.replace("max_calls_in_parallel: 2", "max_calls_in_parallel: 3")):
        workspace.write("manifests/winter.yaml", changed.replace("name: winter", "name: cold"))
        notes = plan_json(workspace)["notes"]
        assert not [n for n in notes if "looks like a rename" in n], notes
    workspace.write("manifests/winter.yaml", with_goal.replace("name: winter", "name: cold"))
    [hint] = [n for n in plan_json(workspace)["notes"] if "looks like a rename" in n]
    workspace.write("manifests/moved.yaml", hint[hint.index("---"):])
    kept = workspace.run("plan", "--detailed-exitcode")
    assert kept.exit_code == 2 and "0 to add, 0 to change, 0 to destroy, 1 to move" in kept.output, kept.all


def _documents_read(workspace) -> int:
    return sum(n for key, n in counts(workspace).items() if "/documents" in key and key.startswith("GET"))


def test_a_document_changed_on_the_platform_is_found_after_refresh_or_with_read_documents(workspace):
    """Documents are listed only when something suggests a change (issue 17: a no-change plan reads one list per
    kind). A rename in the dashboard shows nowhere in the knowledge base's item, so a plan found it only with
    --read-documents, and not even after `refresh` had recorded it in state (docs/graph.md)."""
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", (ROOT / "manifests" / "knowledge.yaml").read_text())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    entries = workspace.state()["resources"]
    kb, returns = entries["knowledgebase.help"]["id"], entries["knowledgebase.help.returns"]["id"]
    before = _documents_read(workspace)
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0
    assert _documents_read(workspace) == before  # nothing suggests a change: not listed
    workspace.platform.http.put(f"/user/knowledgebases/{kb}/documents/{returns}",
                                json={"name": "Changed in dashboard"}).raise_for_status()
    exact = workspace.run("plan", "--detailed-exitcode", "--read-documents")
    assert exact.exit_code == 2 and '"Changed in dashboard" -> "Returns policy"' in exact.output, exact.all
    assert workspace.run("refresh").exit_code == 0
    after_refresh = workspace.run("plan", "--detailed-exitcode")  # state now records the platform's name
    assert after_refresh.exit_code == 2 and '"Changed in dashboard" -> "Returns policy"' in after_refresh.output, \
        after_refresh.all
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    [item] = [d for d in workspace.platform.http.get(f"/user/knowledgebases/{kb}/documents").json()["data"]
              if d["id"] == returns]
    assert item["name"] == "Returns policy"
    before = _documents_read(workspace)
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0
    assert _documents_read(workspace) == before


def test_a_document_is_imported_under_its_knowledge_base(workspace):
    """`import` takes any kind (README, docs/state.md); a document was refused as a kind this version does not
    import, leaving adoption by name as the only way back."""
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", (ROOT / "manifests" / "knowledge.yaml").read_text())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    returns = workspace.state()["resources"]["knowledgebase.help.returns"]["id"]
    assert workspace.run("state", "rm", "knowledgebase.help.returns").exit_code == 0
    missing = workspace.run("import", "knowledgebase.help.returns", str(returns + 1000))
    assert missing.exit_code == 1 and "no knowledge base document with id" in missing.all, missing.all
    imported = workspace.run("import", "knowledgebase.help.returns", str(returns))
    assert imported.exit_code == 0, imported.all
    assert workspace.state()["resources"]["knowledgebase.help.returns"]["id"] == returns
    planned = workspace.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 0 and "No changes." in planned.output, planned.all
    assert workspace.run("state", "rm", "knowledgebase.help.returns").exit_code == 0
    assert workspace.run("state", "rm", "knowledgebase.help").exit_code == 0
    orphan = workspace.run("import", "knowledgebase.help.returns", str(returns))
    assert orphan.exit_code == 1 and "import it first (`provisioner import knowledgebase.help ID`)" in orphan.all


def test_a_campaign_setting_left_out_after_it_was_applied_is_a_replacement_not_a_silent_no_op(workspace, dialect):
    """No update can clear a campaign's setting: left out of the manifest, it was planned as "No changes" (with
    advice to set null, which is refused) while the platform kept it and state forgot it, and putting the line
    back then replaced the campaign for a value the platform already had."""
    workspace.add("caller", calls_direction="make", post_call_schema=[
        {"name": "booked", "type": "bool", "description": "Whether they booked"}])
    with_goal = campaign_manifest(extra="  goal_completion_variable: booked\n")
    workspace.write("manifests/winter.yaml", with_goal)
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    workspace.write("manifests/winter.yaml", campaign_manifest())
    removed = workspace.run("plan", "--json")
    [change] = [c for c in json.loads(removed.output)["changes"] if c["address"] == "campaign.winter"]
    assert change["replace"] and [f["field"] for f in change["fields"]] == ["goal_completion_variable"], change
    refused = workspace.run("apply", "--auto-approve")  # a replacement deletes the leads: asked for explicitly
    assert refused.exit_code == 1 and "--allow-replace" in refused.all, refused.all
    workspace.write("manifests/winter.yaml", with_goal)
    back = workspace.run("plan", "--detailed-exitcode")
    assert back.exit_code == 0 and "No changes." in back.output, back.all
    # An empty setting is no setting: a campaign made with `phone_number_ids: []`, the line then left out, changes
    # nothing (it was planned as a replacement that deletes the leads).
    workspace.write("manifests/spring.yaml", campaign_manifest().replace("winter", "spring").replace(
        "name: Winter", "name: Spring") + "  phone_number_ids: []\n")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/spring.yaml", campaign_manifest().replace("winter", "spring").replace(
        "name: Winter", "name: Spring"))
    emptied = workspace.run("plan", "--detailed-exitcode")
    assert emptied.exit_code in (0, 2) and "-/+" not in emptied.output and "replace" not in emptied.output, \
        emptied.all
    # And the other way: a campaign made without the line, which then says `phone_number_ids: []`, still has no
    # setting: it was planned as a replacement that deletes the leads.
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/spring.yaml", campaign_manifest().replace("winter", "spring").replace(
        "name: Winter", "name: Spring") + "  phone_number_ids: []\n")
    filled = workspace.run("plan", "--detailed-exitcode")
    assert filled.exit_code == 0 and "No changes." in filled.output, filled.all
    # Marked sensitive, state records the empty value's digest: still an empty setting, the line added or removed.
    autumn = campaign_manifest().replace("winter", "autumn").replace("name: Winter", "name: Autumn").replace(
        "  name: autumn\n", "  name: autumn\n  sensitive: [phone_number_ids]\n")
    for text in (autumn + "  phone_number_ids: []\n", autumn, autumn + "  phone_number_ids: []\n"):
        workspace.write("manifests/autumn.yaml", text)
        assert workspace.run("apply", "--auto-approve").exit_code == 0
        again = workspace.run("plan", "--detailed-exitcode")
        assert again.exit_code == 0 and "No changes." in again.output, (text, again.all)
    workspace.write("manifests/autumn.yaml", autumn)
    removed = workspace.run("plan", "--detailed-exitcode")
    assert removed.exit_code == 0 and "No changes." in removed.output, removed.all


def test_a_replacement_the_platform_refuses_keeps_the_old_object_at_its_address(workspace, dialect):
    """A 403 (the plan's campaign limit) is a refusal as surely as a 422: nothing was made, so the old campaign
    goes back to its address. It stayed deposed, and the next plain apply deleted it with its leads."""
    outbound(workspace)
    workspace.write("manifests/winter.yaml", campaign_manifest())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    old = workspace.state()["resources"]["campaign.winter"]["id"]
    workspace.platform.faults(campaign_limit=1)
    workspace.write("manifests/winter.yaml", campaign_manifest().replace("max_calls_in_parallel: 2",
                                                                         "max_calls_in_parallel: 3"))
    refused = workspace.run("apply", "--auto-approve", "--allow-replace")
    assert refused.exit_code == 1 and "403" in refused.all, refused.all
    resources = workspace.state()["resources"]
    assert resources["campaign.winter"]["id"] == old and not [a for a in resources if "~deposed" in a]
    workspace.platform.faults(campaign_limit=None)
    workspace.write("manifests/winter.yaml", campaign_manifest())
    back = workspace.run("plan", "--detailed-exitcode")
    assert back.exit_code == 0 and "No changes." in back.output, back.all


def test_a_replaced_knowledge_base_gets_its_documents_again_in_the_same_apply(workspace):
    """Its documents go with the old one. They were not listed (nothing about them had changed), so the apply
    said complete and left the new knowledge base empty, with state still naming the deleted documents."""
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", (ROOT / "manifests" / "knowledge.yaml").read_text())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()["resources"]
    replaced = workspace.run("apply", "--auto-approve", "--replace", "knowledgebase.help")
    assert replaced.exit_code == 0, replaced.all
    after = workspace.state()["resources"]
    kb = after["knowledgebase.help"]["id"]
    assert kb != before["knowledgebase.help"]["id"]
    listed = workspace.platform.http.get(f"/user/knowledgebases/{kb}/documents").json()["data"]
    assert [d["id"] for d in listed] == [after["knowledgebase.help.returns"]["id"]], (listed, after)
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def test_a_saved_plan_that_replaces_a_knowledge_base_applies(workspace):
    """`plan --replace knowledgebase.help --out`: its documents are replaced with it, their bodies naming the new
    knowledge base by a marker. The saved plan's check listed documents only under an id a body names, so it read
    none and refused the plan as stale ("id N is gone from the platform"): such a plan never applied."""
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", (ROOT / "manifests" / "knowledge.yaml").read_text())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()["resources"]
    planned = workspace.run("plan", "--replace", "knowledgebase.help", "--out", "r.plan")
    assert planned.exit_code == 0, planned.all
    applied = workspace.run("apply", "r.plan")
    assert applied.exit_code == 0, applied.all
    after = workspace.state()["resources"]
    assert after["knowledgebase.help"]["id"] != before["knowledgebase.help"]["id"]
    assert after["knowledgebase.help.returns"]["id"] != before["knowledgebase.help.returns"]["id"]
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all

def test_a_saved_plan_whose_document_create_names_another_knowledge_base_is_refused(workspace):
    """A saved plan's create of a managed document's address is the platform's to judge (made again only if its id
    is gone); it was looked for under the knowledge base the change's body names. A body edited to name another
    one hid the managed document: it applied, made a document in the other knowledge base and recorded it in the
    managed one's place, the live document dropped from state. A child is made under the parent its address names."""
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", (ROOT / "manifests" / "knowledge.yaml").read_text())
    other = ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: other\nspec:\n  name: Other\n"
             "  documents:\n    - {name: First, key: first, type: website, url: \"https://example.com/first\"}\n")
    workspace.write("manifests/other.yaml", other)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()
    workspace.write("manifests/other.yaml", other + "    - {name: Second, key: second, type: website, "
                                                   "url: \"https://example.com/second\"}\n")
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    plan = json.loads((workspace.root / "p.plan").read_text())
    [create] = [c for c in plan["changes"] if c["address"] == "knowledgebase.other.second"]
    create["address"] = "knowledgebase.help.returns"
    (workspace.root / "p.plan").write_text(json.dumps(plan))
    refused = workspace.run("apply", "p.plan")
    assert refused.exit_code == 1, refused.all
    assert "knowledgebase.help.returns: its body names knowledgebase id" in refused.stderr, refused.stderr
    assert workspace.state() == before

def test_an_interrupted_replacement_of_a_campaigns_assistant_converges(workspace, dialect):
    """An apply stopped between an assistant's new half and its old half's destruction leaves the old one at
    `caller~deposed`, still the campaign's. Every later plan refused: it could not see that the campaign, which
    state records as using `caller`, uses the deposed object, so it could not order the two. Now the campaign is
    replaced first, and the deposed assistant destroyed by the next apply (said in a note)."""
    outbound(workspace)
    workspace.write("manifests/winter.yaml", campaign_manifest())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    old = workspace.depose("caller")
    new = workspace.platform.create(**{**REQUIRED, "assistant_name": old["spec"]["assistant_name"],
                                       "calls_direction": "make"})
    assert workspace.run("import", "caller", str(new["id"])).exit_code == 0
    planned = workspace.run("plan")
    assert planned.exit_code == 0 and "caller~deposed (the old half of an interrupted replacement) is destroyed " \
        "by the next apply, once campaign.winter no longer calls with it" in planned.all, planned.all
    applied = workspace.run("apply", "--auto-approve", "--allow-replace")
    assert applied.exit_code == 0, applied.all
    assert "caller~deposed" in workspace.state()["resources"]
    finished = workspace.run("apply", "--auto-approve")
    assert finished.exit_code == 0 and "caller~deposed" not in workspace.state()["resources"], finished.all
    assert [a["id"] for a in workspace.platform.by_name(old["spec"]["assistant_name"])] == [new["id"]]
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all



def test_a_siptrunk_replacement_deletes_the_old_trunk_first(workspace):
    """API.md: a second trunk with the same number, username and address is refused (409), so `--replace` of a
    trunk created the new one first and always failed, leaving the live trunk deposed."""
    workspace.dialect = "v2"
    workspace.write("manifests/office.yaml", trunk_manifest())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    old = workspace.state()["resources"]["siptrunk.office"]["id"]
    replaced = workspace.run("apply", "--auto-approve", "--replace", "siptrunk.office")
    assert replaced.exit_code == 0, replaced.all
    resources = workspace.state()["resources"]
    assert resources["siptrunk.office"]["id"] != old and not [a for a in resources if "~deposed" in a]
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def test_a_replaced_knowledge_base_brings_its_documents_and_users_into_a_targeted_plan(workspace):
    """`--replace knowledgebase.help --target knowledgebase.help.returns`: the plan replaced the knowledge base
    (deleting every document with it) and made only the targeted document again; state kept the others' dead
    ids and the assistant lost its knowledge base."""
    workspace.dialect = "v2"
    for name in ("knowledge.yaml", "support.yaml", "groups.yaml", "tools.yaml"):
        text = (ROOT / "manifests" / name).read_text()
        if name == "knowledge.yaml":
            text += '    - {name: Opening hours, key: hours, type: website, url: "https://example.com/help/hours"}\n'
        workspace.write(f"manifests/{name}", text)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    replaced = workspace.run("apply", "--auto-approve", "--replace", "knowledgebase.help", "--target",
                             "knowledgebase.help.returns")
    assert replaced.exit_code == 0, replaced.all
    resources = workspace.state()["resources"]
    kb = resources["knowledgebase.help"]["id"]
    listed = {d["id"] for d in workspace.platform.http.get(f"/user/knowledgebases/{kb}/documents").json()["data"]}
    assert listed == {resources["knowledgebase.help.returns"]["id"], resources["knowledgebase.help.hours"]["id"]}
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def test_replace_and_target_of_one_object_bring_in_only_its_direct_users(workspace, dialect):
    """`--replace tool.lookup --target tool.lookup` planned the tool's replacement and the update of the assistant
    that takes its new id, and nothing else: not unrelated pending edits, not the deletion of an object whose
    manifest is gone (the first fix brought in users of users and all their dependencies, and so deleted a
    campaign with its leads)."""
    workspace.dialect = "v2"
    workspace.write("manifests/lookup.yaml", tool_manifest())
    workspace.add("caller", calls_direction="make", tool_ids=["tool.lookup"])
    workspace.add("other")
    workspace.write("manifests/winter.yaml", campaign_manifest())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("other", system_prompt="An unrelated edit.")
    (workspace.root / "manifests" / "winter.yaml").unlink()
    planned = plan_json(workspace, "--replace", "tool.lookup", "--target", "tool.lookup")
    assert sorted((c["address"], c["action"]) for c in planned["changes"]) == [
        ("caller", "update"), ("tool.lookup", "create")], planned["changes"]
    # A user that also needs an object that does not exist yet brings its create along (it takes its id too).
    workspace.write("manifests/second.yaml", tool_manifest(name="second"))
    workspace.add("caller", calls_direction="make", tool_ids=["tool.lookup", "tool.second"])
    planned = plan_json(workspace, "--replace", "tool.lookup", "--target", "tool.lookup")
    assert sorted((c["address"], c["action"]) for c in planned["changes"]) == [
        ("caller", "update"), ("tool.lookup", "create"), ("tool.second", "create")], planned["changes"]
    applied = workspace.run("apply", "--auto-approve", "--replace", "tool.lookup", "--target", "tool.lookup")
    assert applied.exit_code == 0, applied.all


def test_destroy_with_a_deposed_assistant_a_campaign_uses_destroys_everything_at_once(workspace, dialect):
    """The deletion deferred for a replaced campaign was deferred for a deleted one too: `destroy` said complete
    and left the deposed assistant on the platform and in state."""
    outbound(workspace)
    workspace.write("manifests/winter.yaml", campaign_manifest())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.depose("caller")
    destroyed = workspace.run("destroy", "--auto-approve")
    assert destroyed.exit_code == 0, destroyed.all
    assert workspace.state()["resources"] == {} and workspace.platform.assistants() == []


def test_replace_of_a_document_replaces_it(workspace):
    """Its knowledge base's documents were not listed (nothing suggested a change), so the document was never
    planned: `--replace` only warned, and a plan saved with it was refused at apply."""
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", (ROOT / "manifests" / "knowledge.yaml").read_text())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    old = workspace.state()["resources"]["knowledgebase.help.returns"]["id"]
    planned = workspace.run("plan", "--replace", "knowledgebase.help.returns", "--out", "r.plan")
    assert planned.exit_code == 0 and "knowledgebase.help.returns" in planned.output, planned.all
    applied = workspace.run("apply", "r.plan")
    assert applied.exit_code == 0, applied.all
    new = workspace.state()["resources"]["knowledgebase.help.returns"]["id"]
    kb = workspace.state()["resources"]["knowledgebase.help"]["id"]
    listed = [d["id"] for d in workspace.platform.http.get(f"/user/knowledgebases/{kb}/documents").json()["data"]]
    assert new != old and listed == [new]
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.all


def test_a_replace_outside_the_targets_is_refused_not_dropped(workspace):
    """It was dropped without a word (while the plan's text showed its users' ids as known after apply)."""
    workspace.dialect = "v2"
    workspace.write("manifests/lookup.yaml", tool_manifest())
    workspace.write("manifests/second.yaml", tool_manifest(name="second"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    refused = workspace.run("plan", "--replace", "tool.lookup", "--replace", "tool.second", "--target", "tool.lookup")
    assert refused.exit_code == 1 and "--replace tool.second: it is not among the targets" in refused.all, refused.all
    both = plan_json(workspace, "--replace", "tool.lookup", "--replace", "tool.second", "--target", "tool.lookup",
                     "--target", "tool.second")
    assert sorted(c["address"] for c in both["changes"]) == ["tool.lookup", "tool.second"]


def test_replace_is_refused_whenever_the_selection_would_drop_it_and_takes_either_address_form(workspace):
    """--exclude (or -l) took a replacement out of the plan without a word, and a plan saved so was refused at
    apply; a mistyped address with --target was told to add it as a target; `assistant.NAME` was not taken."""
    workspace.write("manifests/lookup.yaml", tool_manifest())
    workspace.add("caller", tool_ids=["tool.lookup"])
    workspace.dialect = "v2"
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    excluded = workspace.run("plan", "--exclude", "caller", "--replace", "caller")
    assert excluded.exit_code == 1 and "--replace caller: the selection (--target, --exclude, -l) leaves it out" \
        in excluded.all, excluded.all
    typo = workspace.run("plan", "--target", "tool.lookup", "--replace", "tool.lookp")
    assert typo.exit_code == 1 and "--replace 'tool.lookp' names no manifest" in typo.all, typo.all
    for form in ("caller", "assistant.caller"):
        planned = plan_json(workspace, "--replace", form)
        assert [c["address"] for c in planned["changes"] if c.get("replace")] == ["caller"], (form, planned)
        assert planned["replace_requested"] == ["caller"]


def test_a_document_another_workspace_manages_is_never_adopted(workspace):
    """The ownership look-up grouped state's ids by their address's first part (a document's is its knowledge
    base's) and read the manifests unexpanded (no documents): a knowledge base imported into a second workspace
    had its documents adopted by name there as well, two workspaces managing each."""
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", (ROOT / "manifests" / "knowledge.yaml").read_text())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    kb_id = workspace.state()["resources"]["knowledgebase.help"]["id"]
    # Its documents stay managed here: a hand edit of the store (`state push` refuses a document without its
    # knowledge base, and `state rm` takes the documents along).
    with sqlite3.connect(workspace.state_file) as database:
        database.execute("DELETE FROM provisioner_resources WHERE address = 'knowledgebase.help'")
    assert workspace.run("workspace", "new", "other").exit_code == 0
    imported = workspace.run("import", "knowledgebase.help", str(kb_id))
    assert imported.exit_code == 0, imported.all
    adopting = workspace.run("plan", "--json")
    assert adopting.exit_code == 1, adopting.all
    assert "knowledgebase.help.returns" in adopting.all and "default" in adopting.all, adopting.all


def test_state_mv_and_rm_of_a_knowledge_base_take_its_documents_along(workspace):
    """`state mv knowledgebase.help knowledgebase.help2` left its documents at the old addresses (the next plan
    destroyed and created them again); `state rm` left them managed without their knowledge base; and
    `state mv folder.x folder.x.y` was taken (an address of no kind)."""
    workspace.dialect = "v2"
    text = (ROOT / "manifests" / "knowledge.yaml").read_text()
    workspace.write("manifests/knowledge.yaml", text)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()["resources"]
    documents = sorted(a for a in before if a.startswith("knowledgebase.help."))
    assert documents
    assert workspace.run("state", "mv", "knowledgebase.help", "knowledgebase.desk").exit_code == 0
    after = workspace.state()["resources"]
    assert sorted(a for a in after if a.startswith("knowledgebase.desk.")) == \
        [a.replace("knowledgebase.help.", "knowledgebase.desk.") for a in documents]
    assert not [a for a in after if a.startswith("knowledgebase.help")]
    workspace.write("manifests/knowledge.yaml", text.replace("name: help", "name: desk"))
    planned = workspace.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 0 and "No changes." in planned.output, planned.all
    document_address = next(a for a in workspace.state()["resources"] if a.startswith("knowledgebase.desk."))
    orphaned = workspace.run("state", "mv", document_address, "knowledgebase.gone.x")
    assert orphaned.exit_code == 1 and "which is not in state" in orphaned.all, orphaned.all
    for bad in ("knowledgebase.desk.x.y", "knowledgebase", "knowledgebase.desk.x"):
        refused = workspace.run("state", "mv", "knowledgebase.desk", bad)
        assert refused.exit_code == 1, (bad, refused.all)
    removed = workspace.run("state", "rm", "knowledgebase.desk")
    assert removed.exit_code == 0 and "and what is inside it" in removed.output, removed.all
    assert not [a for a in workspace.state()["resources"] if a.startswith("knowledgebase.")]


def test_a_saved_plan_whose_document_file_changed_is_refused_before_anything_is_sent(workspace):
    """The change was found at the document's own request: the apply had created its knowledge base already, and
    ended with "1 added, 1 failed" (a rotated secret refuses the whole plan before any request; a file now too)."""
    workspace.dialect = "v2"
    workspace.write("manifests/handbook.txt", "Opening hours: 9-5.\n")
    workspace.write("manifests/faq.yaml", kb_manifest())
    saved = workspace.root / "kb.plan"
    assert workspace.run("plan", "--out", str(saved)).exit_code in (0, 2)
    workspace.write("manifests/handbook.txt", "Opening hours: 8-6.\n")
    result = workspace.run("apply", str(saved), "--auto-approve")
    assert result.exit_code == 1 and "the saved plan is stale" in result.all, result.all
    assert "handbook.txt changed since the plan was made" in result.all
    writes = {route: n for route, n in workspace.platform.admin.get("/_emulator/stats").json()["requests"].items()
              if not route.startswith("GET")}
    assert not writes, writes


def test_state_mv_renames_the_address_in_what_state_recorded_as_using_it(workspace):
    """`state mv knowledgebase.help knowledgebase.desk` left `depends_on: [knowledgebase.help, ...]` in the support
    assistant's record (a moved block's apply renames it): `destroy --target knowledgebase.desk` of the knowledge
    base's own file then deleted it and left the assistant that state recorded as using it, where the same
    command before the mv destroyed the assistant too."""
    workspace.dialect = "v2"
    for name in ("knowledge.yaml", "support.yaml", "groups.yaml", "tools.yaml"):
        workspace.write(f"manifests/{name}", (ROOT / "manifests" / name).read_text())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.run("state", "mv", "knowledgebase.help", "knowledgebase.desk").exit_code == 0
    resources = workspace.state()["resources"]
    assert "knowledgebase.desk" in resources["support-inbound"]["depends_on"], resources["support-inbound"]
    assert not [d for e in resources.values() for d in e.get("depends_on", ()) if d.startswith("knowledgebase.help")]
    workspace.write("manifests/knowledge.yaml",
                    (ROOT / "manifests" / "knowledge.yaml").read_text().replace("name: help", "name: desk"))
    destroying = workspace.run("destroy", "--target", "knowledgebase.desk", "manifests/knowledge.yaml",
                               input="no\n")
    # support-inbound is protected: the plan that would destroy it stops, where it destroyed the base alone.
    assert "support-inbound" in destroying.all, destroying.all


def test_refresh_of_a_knowledge_base_gone_from_the_platform_forgets_its_documents_with_it(workspace):
    """`refresh --target knowledgebase.help` read the knowledge base alone: gone from the platform (its documents
    deleted with it, API.md), it was forgotten and its documents stayed in state without it. Its address selects
    its documents, as for plan and pull; an --exclude still leaves one as it is."""
    workspace.dialect = "v2"
    text = (ROOT / "manifests" / "knowledge.yaml").read_text()
    workspace.write("manifests/knowledge.yaml", text + '    - {name: Opening hours, key: hours, type: website, '
                    'url: "https://example.com/help/hours"}\n')
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    kb = workspace.state()["resources"]["knowledgebase.help"]["id"]
    assert workspace.platform.http.delete(f"/user/knowledgebases/{kb}").status_code == 200
    refreshed = workspace.run("refresh", "--target", "knowledgebase.help", "--exclude", "knowledgebase.help.hours")
    assert refreshed.exit_code == 0, refreshed.all
    assert "knowledgebase.help.returns: id" in refreshed.output, refreshed.all
    assert sorted(a for a in workspace.state()["resources"] if a.startswith("knowledgebase.")) == [
        "knowledgebase.help.hours"]  # excluded: left as it is


def test_a_number_named_by_its_e164_or_nickname_that_is_a_trunk_of_the_repository_follows_that_trunk(workspace):
    """A phone_number_id or phone_number_ids naming a SipTrunk of the repository by its number or nickname, not
    its address: a trunk created by the same apply was "no phone number ... in this account", and a replaced one
    kept its old id in the plan: the apply left the assistant without a number and the campaign without it in its
    rotation, and only the next plan showed the campaign's replacement (deleting its leads)."""
    workspace.dialect = "v2"
    workspace.write("manifests/office.yaml", trunk_manifest())
    workspace.add("caller", calls_direction="make", phone_number_id="+14155551234")
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  phone_number_ids: [\"+14155551234\"]\n"))
    # A trunk --target leaves out is not created by this apply: nothing to wait for, the lookup finds no number.
    alone = workspace.run("plan", "--target", "caller")
    assert alone.exit_code == 1 and "no phone number +14155551234 in this account" in alone.all, alone.all
    created = workspace.run("apply", "--auto-approve")
    assert created.exit_code == 0, created.all
    trunk = workspace.state()["resources"]["siptrunk.office"]["id"]
    assert workspace.platform.by_name("Caller")[0]["phone_number_id"] == trunk
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  phone_number_ids: [{name: Office line}]\n"))
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0  # the same id, by its nickname
    planned = changes_of(workspace, "--replace", "siptrunk.office")
    assert planned["caller"]["body"]["phone_number_id"] == {"$ref": "siptrunk.office"}, planned["caller"]
    assert planned["campaign.winter"]["replace"], planned["campaign.winter"]
    assert "siptrunk.office" in planned["campaign.winter"]["depends_on"]
    replaced = workspace.run("apply", "--auto-approve", "--allow-replace", "--replace", "siptrunk.office")
    assert replaced.exit_code == 0, replaced.all
    new = workspace.state()["resources"]["siptrunk.office"]["id"]
    assert new != trunk and workspace.platform.by_name("Caller")[0]["phone_number_id"] == new
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def test_a_trunk_changed_to_the_number_username_and_address_of_another_is_a_plan_error(workspace, client):
    """API.md: a second trunk with the same phone number, username and address is refused (409). An update that
    made one so was planned, and only the apply met the 409."""
    workspace.dialect = "v2"
    workspace.write("manifests/office.yaml", trunk_manifest())
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    other = siptrunk.create_trunk(client, {"sip_trunk_type": "number", "phone_number": "+14155551234",
                                           "sip_username": "other", "sip_password": "pw-other",
                                           "sip_address": "sip.provider.com", "sip_calling_format": "e164",
                                           "inbound_authorization_type": "auth", "country_code": "US"})
    workspace.write("manifests/office.yaml", trunk_manifest().replace("sip_username: office", "sip_username: other"))
    refused = workspace.run("plan")
    assert refused.exit_code == 1, refused.all
    assert f"manifests/office.yaml:9: siptrunk.office: spec.sip_username: the platform's SIP trunk id {other['id']} " \
        "is already +14155551234, other, sip.provider.com" in refused.all, refused.all
    workspace.write("manifests/office.yaml", trunk_manifest().replace("sip_username: office", "sip_username: third"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0


def test_a_number_two_trunks_share_is_still_an_error_when_the_repository_declares_one(workspace, client):
    """Following a SIP trunk of the repository never picks it over another number of the same E.164 string."""
    workspace.dialect = "v2"
    workspace.write("manifests/office.yaml", trunk_manifest())
    workspace.add("caller", calls_direction="make", phone_number_id="+14155551234")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    siptrunk.create_trunk(client, {"sip_trunk_type": "number", "phone_number": "+14155551234",
                                   "sip_username": "other", "sip_password": "pw-other",
                                   "sip_address": "sip.provider.com", "sip_calling_format": "e164",
                                   "inbound_authorization_type": "auth", "country_code": "US"})
    refused = workspace.run("plan")
    assert refused.exit_code == 1 and "2 numbers match phone number +14155551234" in refused.all, refused.all


def trunk_in_use_by_number(workspace) -> int:
    """The office trunk, an assistant and a campaign naming its number by its E.164 string, applied: the trunk's id."""
    workspace.dialect = "v2"
    workspace.write("manifests/office.yaml", trunk_manifest())
    workspace.add("caller", calls_direction="make", phone_number_id="+14155551234")
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  phone_number_ids: [\"+14155551234\"]\n"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    return workspace.state()["resources"]["siptrunk.office"]["id"]


def test_a_trunk_replaced_while_a_kept_manifest_names_its_old_id_is_refused_before_anything_is_sent(workspace):
    """A SIP trunk replaced (its type changed: a new trunk, a new id) while an assistant and a campaign name it by its
    id: an address or a number follows the new trunk, an id stays the old one, so the apply deleted the trunk, the
    platform took the number from both, and the next plan said "phone number 91 is not one of your phone numbers".
    The plan is refused as for a trunk destroyed, saying how to name it so that it follows."""
    trunk = trunk_in_use_by_number(workspace)
    workspace.add("caller", calls_direction="make", phone_number_id=trunk)
    workspace.write("manifests/winter.yaml", campaign_manifest(extra=f"  phone_number_ids: [{trunk}]\n"))
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0  # the same number, by its id
    workspace.write("manifests/office.yaml", trunk_manifest().replace("sip_trunk_type: number",
                                                                      "sip_trunk_type: extension"))
    writes = len(workspace.platform.writes())
    for command in (("plan",), ("apply", "--auto-approve")):
        refused = workspace.run(*command)
        assert refused.exit_code == 1, refused.all
        assert (f"caller.yaml:15: caller: spec.phone_number_id: names siptrunk.office by its id {trunk}, which this "
                "plan replaces: the new trunk has another id, and the platform would take the number from caller. "
                "Name it by its address (siptrunk.office) or its number, which follow the new trunk") \
            in refused.all, refused.all
        assert "winter.yaml" in refused.all and "spec.phone_number_ids: names siptrunk.office by its id" \
            in refused.all, refused.all
    assert len(workspace.platform.writes()) == writes  # nothing was sent
    # Named by address, the assistant follows; the campaign goes (its numbers cannot change in place).
    workspace.add("caller", calls_direction="make", phone_number_id="siptrunk.office")
    (workspace.root / "manifests" / "winter.yaml").unlink()
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    renewed = workspace.state()["resources"]["siptrunk.office"]["id"]
    assert renewed != trunk and workspace.platform.by_name("Caller")[0]["phone_number_id"] == renewed


def test_a_trunk_whose_number_a_kept_manifest_names_is_not_destroyed_from_under_it(workspace):
    """A SIP trunk's manifest removed while an assistant and a campaign still name its number by its E.164 string
    or nickname (not its address, which the graph checks): the plan destroyed the trunk, the platform took the
    number from the assistant, and only the next plan said "no phone number ... in this account"."""
    trunk = trunk_in_use_by_number(workspace)
    workspace.write("manifests/winter.yaml", campaign_manifest(extra="  phone_number_ids: [{name: Office line}]\n"))
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0  # the same number, by its nickname
    (workspace.root / "manifests" / "office.yaml").unlink()
    for command in (("plan",), ("apply", "--auto-approve")):
        refused = workspace.run(*command)
        assert refused.exit_code == 1, refused.all
        assert "caller.yaml" in refused.all and "spec.phone_number_id: names the number of siptrunk.office" in refused.all
        assert "winter.yaml" in refused.all and "spec.phone_number_ids" in refused.all, refused.all
    assert workspace.platform.by_name("Caller")[0]["phone_number_id"] == trunk  # nothing was destroyed
    # Without the references, the trunk goes; a destroy takes everything, as ever.
    workspace.add("caller", calls_direction="make")
    (workspace.root / "manifests" / "winter.yaml").unlink()
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert "siptrunk.office" not in workspace.state()["resources"]


def caller_of_a_retyped_trunk(workspace, reference) -> tuple[int, int]:
    """The caller alone naming the office trunk (`reference(id)`), applied, then the trunk's type changed (a
    replacement): the trunk's id and how many writes the platform had seen."""
    trunk = trunk_in_use_by_number(workspace)
    (workspace.root / "manifests" / "winter.yaml").unlink()
    workspace.add("caller", calls_direction="make", phone_number_id=reference(trunk))
    assert workspace.run("apply", "--auto-approve").exit_code == 0  # the campaign goes
    writes = len(workspace.platform.writes())
    workspace.write("manifests/office.yaml", trunk_manifest().replace("sip_trunk_type: number",
                                                                      "sip_trunk_type: extension"))
    return trunk, writes


def refused_targeting_the_trunk(workspace, message: str) -> None:
    for command in (("plan",), ("apply", "--auto-approve")):
        refused = workspace.run(*command, "--target", "siptrunk.office")
        assert refused.exit_code == 1 and message in refused.all, refused.all


def test_a_targeted_plan_of_a_trunk_does_not_destroy_it_from_under_an_assistant_left_out(workspace):
    """`--target siptrunk.office` plans no assistant, and the check that a kept manifest still names a trunk this
    plan destroys or replaces read only the assistants planned: with the trunk replaced (its type changed) while the
    caller names it by its id, or its manifest removed while the caller names its number, the targeted apply deleted
    the trunk, the platform took the number from the caller, and the next plan failed ("phone number 91 is not one
    of your phone numbers"); the plan is refused as the whole plan is, whichever objects the targets bring in."""
    trunk, writes = caller_of_a_retyped_trunk(workspace, lambda trunk: trunk)
    refused_targeting_the_trunk(workspace, f"caller.yaml:15: caller: spec.phone_number_id: names siptrunk.office by "
                                           f"its id {trunk}, which this plan replaces")
    workspace.add("caller", calls_direction="make", phone_number_id="+14155551234")
    (workspace.root / "manifests" / "office.yaml").unlink()
    refused_targeting_the_trunk(workspace, "caller.yaml:15: caller: spec.phone_number_id: names the number of "
                                           "siptrunk.office")
    assert len(workspace.platform.writes()) == writes  # nothing was sent
    assert workspace.platform.by_name("Caller")[0]["phone_number_id"] == trunk


def test_a_trunk_that_exclude_leaves_as_it_is_does_not_refuse_what_names_its_id(workspace):
    """The trunk's type changed while the caller names it by its id, and `--exclude siptrunk.office` to leave the
    trunk as it is for now: the plan was refused all the same ("names siptrunk.office by its id ..., which this plan
    replaces"), though --exclude takes the replacement out of it; the caller's own change is planned and applied, and
    the trunk and the caller's number stay."""
    trunk, writes = caller_of_a_retyped_trunk(workspace, lambda trunk: trunk)
    workspace.add("caller", calls_direction="make", phone_number_id=trunk, system_prompt="Be brief.")
    applied = workspace.run("apply", "--auto-approve", "--exclude", "siptrunk.office")
    assert applied.exit_code == 0, applied.all
    assert "Resources: 0 added, 1 changed, 0 destroyed." in applied.output, applied.all
    caller_id = workspace.state()["resources"]["caller"]["id"]
    assert [(w["method"], w["path"]) for w in workspace.platform.writes()[writes:]] == [
        ("PUT", f"/user/assistant/{caller_id}")]
    caller = workspace.platform.by_name("Caller")[0]
    assert caller["phone_number_id"] == trunk and caller["system_prompt"] == "Be brief."
    assert workspace.state()["resources"]["siptrunk.office"]["id"] == trunk


def test_an_apply_never_deletes_a_trunk_whose_id_an_object_it_leaves_as_it_is_holds(workspace):
    """The checks that a trunk replaced or deleted is no kept manifest's (numbers_destroyed_in_use,
    replaced_users_left_out) are the plan's: a plan saved before them (`plan --target siptrunk.office --out`, the
    caller naming the trunk by its address), or one whose holder has no manifest any more, was applied all the same,
    and the apply deleted the trunk the caller holds on the platform, which took the number from it. The apply now
    refuses, before anything is sent, to delete or replace a trunk that an object it leaves as it is uses (state's
    record, as the plan refreshes it); with the holder targeted too, its delete goes first."""
    trunk, writes = caller_of_a_retyped_trunk(workspace, lambda trunk: "siptrunk.office")
    caller = (workspace.root / "manifests" / "caller.yaml").read_text()
    workspace.remove("caller")  # a plan the checks pass: no manifest names the trunk, as before them with one
    assert workspace.run("plan", "--target", "siptrunk.office", "--out", "old.plan").exit_code == 0
    message = ("caller uses siptrunk.office, which this plan replaces, and the plan leaves caller as it "
               "is: the platform would take the number from it. Nothing was applied")
    workspace.write("manifests/caller.yaml", caller)
    for args in (("apply", "old.plan"), ("apply", "--auto-approve", "--target", "siptrunk.office")):
        if args[1] != "old.plan":
            workspace.remove("caller")
        refused = workspace.run(*args)
        assert refused.exit_code == 1 and message in refused.all, refused.all
    assert len(workspace.platform.writes()) == writes  # nothing was sent
    assert workspace.platform.by_name("Caller")[0]["phone_number_id"] == trunk
    applied = workspace.run("apply", "--auto-approve", "--target", "siptrunk.office", "--target", "caller")
    assert applied.exit_code == 0, applied.all
    assert workspace.platform.by_name("Caller") == [] and "caller" not in workspace.state()["resources"]


def test_a_targeted_plan_that_must_replace_an_object_is_refused_while_it_leaves_out_its_users(workspace):
    """`--replace` brings a replaced object's direct users into a targeted plan (they take its new id), but a
    replacement the plan finds itself (a SIP trunk's type changed) did not: `apply --target siptrunk.office` deleted
    the trunk the caller names by its address and made it again, the platform took the number from the caller, and
    the caller kept no number until a whole plan was applied. Such a plan is now refused before anything is sent,
    naming the user and how to bring it in; targeted too, the caller takes the new trunk's id."""
    trunk, writes = caller_of_a_retyped_trunk(workspace, lambda trunk: "siptrunk.office")
    refused_targeting_the_trunk(workspace, "caller: caller refers to siptrunk.office, which this plan replaces "
                                           "(sip_trunk_type cannot be updated), and the targets leave it out: it would "
                                           "keep the id of the old siptrunk.office, which the apply deletes; add "
                                           "--target caller")
    # Left as it is by --exclude, the trunk is not replaced: what stops the plan is that the caller needs it replaced.
    workspace.add("other", calls_direction="make", phone_number_id="siptrunk.office")
    excluded = workspace.run("plan", "--target", "caller", "--exclude", "siptrunk.office")
    assert excluded.exit_code == 1 and "other refers to" not in excluded.all, excluded.all
    assert "--exclude siptrunk.office: caller depends on it, and this plan would replace siptrunk.office first" \
        in excluded.all, excluded.all
    workspace.remove("other")
    # Chosen by -l, the caller is brought in by the selector (a --target alone would narrow the plan to it).
    workspace.write("manifests/office.yaml", trunk_manifest().replace(
        "sip_trunk_type: number", "sip_trunk_type: extension").replace("  name: office\n", "  name: office\n"
                                                                       "  labels: {team: ops}\n"))
    selected = workspace.run("plan", "-l", "team=ops")
    assert selected.exit_code == 1 and "which the apply deletes; make the -l selector match caller too (and add " \
        "--target caller, if --target is given)" in selected.all, selected.all
    assert len(workspace.platform.writes()) == writes  # nothing was sent
    assert workspace.platform.by_name("Caller")[0]["phone_number_id"] == trunk
    # An assistant not made yet holds no id: left out, it takes the new one when it is made.
    workspace.add("newcomer", calls_direction="make", phone_number_id="siptrunk.office")
    applied = workspace.run("apply", "--auto-approve", "--target", "siptrunk.office", "--target", "caller")
    assert applied.exit_code == 0, applied.all
    assert "newcomer" not in workspace.state()["resources"]
    renewed = workspace.state()["resources"]["siptrunk.office"]["id"]
    assert renewed != trunk and workspace.platform.by_name("Caller")[0]["phone_number_id"] == renewed


def test_an_excluded_manifest_whose_adoption_would_be_a_guess_leaves_the_rest_of_the_plan(workspace, client):
    """Two unclaimed tools of a manifest's name refused the whole plan ('adopting one would be a guess'), and
    `--exclude tool.lookup`, which leaves that manifest as it is, was refused the same: the rest of the project
    could not be applied until the tool was settled. The excluded manifest's own problem no longer stops the plan;
    it still does when a kept manifest refers to it (that assistant would wait for a tool nothing makes)."""
    fields = tool.KIND.spec_model.model_validate({
        "name": "order_lookup", "description": "Look up an order.",
        "endpoint": "https://api.example.com/orders/{order_id}", "method": "GET", "timeout": 10,
        "schema": [{"name": "order_id", "type": "string", "description": "The order number."}]}).model_dump(mode="json")
    for _ in range(2):
        tool.KIND.endpoints.create(client, tool.create_body(fields), None)
    workspace.write("manifests/lookup.yaml", tool_manifest())
    workspace.add("bot")
    refused = workspace.run("plan")
    assert refused.exit_code == 1 and "adopting one would be a guess" in refused.stderr, refused.all
    assert set(changes_of(workspace, "--exclude", "tool.lookup")) == {"bot"}
    workspace.write("manifests/caller.yaml",
                    manifest_text("caller").replace("spec:\n", "spec:\n  tool_ids: [tool.lookup]\n", 1))
    needed = workspace.run("plan", "--exclude", "tool.lookup")
    assert needed.exit_code == 1 and "adopting one would be a guess" in needed.stderr, needed.all
    assert len(workspace.platform.writes()) == 2  # the two tools made above: no plan wrote anything
