"""End to end: objects brought into state by `provisioner import` (the graph example, every kind, applied by one state
and imported into another) are destroyed as applied ones are, through the real CLI against the emulator over HTTP."""
from __future__ import annotations

import json

import pytest

from conftest import copy_graph_example

# Parents before their children: a document is imported under its knowledge base's id in state.
IMPORT_ORDER = ["folder.sales", "label.vip", "siptrunk.office", "tool.order-lookup", "knowledgebase.faq",
                "knowledgebase.faq.help-center", "knowledgebase.faq.hours", "knowledgebase.faq.pricing",
                "winter-caller", "campaign.winter"]


def ok(result):
    assert result.exit_code == 0, result.all
    return result


@pytest.fixture
def imported(workspace, monkeypatch):
    """The graph example applied, its state lost, and every object imported again: the workspace, and the
    resources the apply had recorded (address -> state entry)."""
    return imported_again(workspace, monkeypatch, IMPORT_ORDER)


def imported_again(workspace, monkeypatch, order):
    """The `imported` fixture's workspace, its objects imported in `order`."""
    copy_graph_example(workspace)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-E2E_DO_NOT_LEAK_57")
    monkeypatch.setenv("ORDERS_API_KEY", "key-E2E_DO_NOT_LEAK_58")
    ok(workspace.run("apply", "--auto-approve"))
    # Then the assistant names its number by nickname, the same SIP trunk found by a lookup of the account's numbers.
    assistant = workspace.root / "manifests" / "assistant.yaml"
    text = assistant.read_text()
    assert "phone_number_id: siptrunk.office" in text
    assistant.write_text(text.replace("phone_number_id: siptrunk.office", "phone_number_id: {name: Office line}"))
    assert "No changes." in ok(workspace.run("plan")).output
    applied = workspace.state()["resources"]
    assert sorted(applied) == sorted(IMPORT_ORDER)
    workspace.lose_state()
    for address in order:
        ok(workspace.run("import", address, str(applied[address]["id"])))
    return workspace, applied


def test_an_imported_document_is_deleted_under_the_knowledge_base_it_is_listed_under(imported):
    """Import records no spec, where the delete looked for the document's knowledge base: it failed, "its
    knowledgebase_id (the knowledge base document's parent) is not known", and state kept the document."""
    workspace, applied = imported
    ok(workspace.run("destroy", "--auto-approve", "--target", "knowledgebase.faq.hours"))
    kb = applied["knowledgebase.faq"]["id"]
    assert [w["path"] for w in workspace.platform.writes() if w["method"] == "DELETE"] == [
        f"/user/knowledgebases/{kb}/documents/{applied['knowledgebase.faq.hours']['id']}"]
    assert "knowledgebase.faq.hours" not in workspace.state()["resources"]


def test_import_records_what_each_object_points_at_as_an_apply_of_the_same_manifests_does(imported):
    workspace, applied = imported
    recorded = workspace.state()["resources"]
    assert {a: e.get("depends_on", []) for a, e in recorded.items()} == {
        a: e.get("depends_on", []) for a, e in applied.items()}
    # What the destroy below orders by: the campaign's assistant, the documents' knowledge base, and the SIP trunk
    # the assistant names by its nickname.
    assert "winter-caller" in recorded["campaign.winter"]["depends_on"]
    assert recorded["knowledgebase.faq.hours"]["depends_on"] == ["knowledgebase.faq"]
    assert "siptrunk.office" in recorded["winter-caller"]["depends_on"]
    ok(workspace.run("refresh"))
    assert workspace.state()["resources"]["campaign.winter"]["depends_on"] == recorded["campaign.winter"]["depends_on"]


def test_destroy_after_import_deletes_what_points_at_an_object_before_it(imported):
    """Ordered by state's recorded references (walk.py, rule 2), which import left empty: the assistant was deleted
    before the campaign calling with it, the knowledge base before its documents."""
    workspace, applied = imported
    ok(workspace.run("destroy", "--auto-approve", "--parallelism", "1"))
    assert workspace.state()["resources"] == {}
    deleted = [w["path"] for w in workspace.platform.writes() if w["method"] == "DELETE"]
    at = {address: next(i for i, path in enumerate(deleted) if path.endswith(f"/{entry['id']}"))
          for address, entry in applied.items()}
    for address, entry in applied.items():
        for used in entry.get("depends_on", []):
            assert at[address] < at[used], f"{address} was deleted after {used}, which it points at: {deleted}"


def test_an_assistant_imported_before_the_trunk_it_names_by_nickname_records_it(workspace, monkeypatch):
    """The nickname's lookup finds the trunk's address only through its id in state: imported first, the assistant
    recorded no use of the trunk, and a destroy deleted the trunk although the assistant's delete had failed (the
    platform takes the number from an assistant whose trunk is deleted)."""
    trunk_last = [a for a in IMPORT_ORDER if a != "siptrunk.office"] + ["siptrunk.office"]
    workspace, applied = imported_again(workspace, monkeypatch, trunk_last)
    recorded = workspace.state()["resources"]
    assert recorded["winter-caller"]["depends_on"] == applied["winter-caller"]["depends_on"]
    assert "siptrunk.office" in recorded["winter-caller"]["depends_on"]
    workspace.platform.faults(error_rate=1, kinds=["assistants"], methods=["DELETE"])
    result = workspace.run("destroy", "--auto-approve", "--max-retries", "1")
    assert result.exit_code == 1, result.all
    deleted = [w["path"] for w in workspace.platform.writes() if w["method"] == "DELETE"]
    assert f"/user/phone-numbers/{applied['siptrunk.office']['id']}" not in deleted, deleted
    assert {"winter-caller", "siptrunk.office"} <= set(workspace.state()["resources"])



CALLER = """apiVersion: provisioner/v1
kind: Assistant
metadata: {name: caller}
spec:
  assistant_name: Caller
  voice_id: 1
  language: English
  llm_model: gpt-4o
  calls_direction: receive
  engine_type: pipeline
  timezone: America/New_York
  initial_message: Hi
  system_prompt: Be brief.
  phone_number_id: "+14155551234"
"""


def test_a_trunk_an_apply_adopts_after_the_assistant_naming_it_was_imported_is_deleted_after_it(
        workspace, monkeypatch):
    """The trunk left to the next apply, which adopts it by its number: the assistant imported before it recorded no
    use of it (nothing of the assistant changes, so that apply records nothing for it), and a destroy deleted the
    trunk although the assistant's delete had failed, leaving it without its number. The plan now orders a delete
    by the trunk id its object holds (the platform's phone_number_id, for one imported and never applied)."""
    applied = caller_without_a_recorded_trunk(workspace, monkeypatch)
    workspace.platform.faults(error_rate=1, kinds=["assistants"], methods=["DELETE"])
    result = workspace.run("destroy", "--auto-approve", "--max-retries", "1")
    assert result.exit_code == 1, result.all
    deleted = [w["path"] for w in workspace.platform.writes() if w["method"] == "DELETE"]
    assert f"/user/phone-numbers/{applied['siptrunk.office']['id']}" not in deleted, deleted
    assert sorted(workspace.state()["resources"]) == ["caller", "siptrunk.office"]


CAMPAIGN = """apiVersion: provisioner/v1
kind: Campaign
metadata: {name: winter}
spec:
  name: Winter
  assistant_id: assistant.caller
  max_calls_in_parallel: 2
  phone_number_ids: ["+14155551234"]
"""


def caller_without_a_recorded_trunk(workspace, monkeypatch, campaign: bool = False):
    """The caller (naming its trunk by number) imported before the apply that adopts its trunk: state holds both, and
    no use of the trunk in the depends_on of the caller (or, with `campaign`, of the campaign calling with it, which
    names the trunk's number too, the caller then outbound and imported alike), as an earlier version's apply left it
    (nothing of them changed, so it recorded nothing for them; the plan now refreshes those records, and the use is
    taken out again here). The resources that first apply recorded."""
    copy_graph_example(workspace)
    for name in ("assistant", "campaign", "groups", "knowledgebase", "tool"):
        (workspace.root / "manifests" / f"{name}.yaml").unlink()
    workspace.write("manifests/caller.yaml", CALLER.replace("receive", "make") if campaign else CALLER)
    if campaign:
        workspace.write("manifests/winter.yaml", CAMPAIGN)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-E2E_DO_NOT_LEAK_59")
    ok(workspace.run("apply", "--auto-approve"))
    applied = workspace.state()["resources"]
    workspace.lose_state()
    for address in ("caller", "campaign.winter") if campaign else ("caller",):
        ok(workspace.run("import", address, str(applied[address]["id"])))
    adopted = ok(workspace.run("apply", "--auto-approve"))
    assert "1 imported, 0 added, 0 changed" in adopted.output, adopted.all
    document = workspace.state()
    assert document["resources"]["caller"]["depends_on"] == ["siptrunk.office"], "refreshed by that apply"
    for address in ("caller", "campaign.winter") if campaign else ("caller",):
        record = document["resources"][address]
        record["depends_on"] = [a for a in record.get("depends_on", []) if a != "siptrunk.office"]
        if not record["depends_on"]:
            del record["depends_on"]
    document["serial"] += 1
    workspace.write("earlier.json", json.dumps(document))
    ok(workspace.run("state", "push", "earlier.json"))
    return applied


def test_a_targeted_destroy_of_a_trunk_takes_along_what_holds_its_number_whatever_state_recorded(workspace,
                                                                                                 monkeypatch):
    """`destroy --target siptrunk.office` takes along what refers to the trunk by its recorded depends_on or by
    manifest address only: the caller, which names it by number and recorded no use of it, was left on the platform
    without its number (the platform takes it from an assistant whose trunk is deleted). As for a trunk named by its
    address, the caller now goes too, and first."""
    applied = caller_without_a_recorded_trunk(workspace, monkeypatch)
    result = ok(workspace.run("destroy", "--auto-approve", "--parallelism", "1", "--target", "siptrunk.office"))
    assert "Destroy complete! Resources: 2 destroyed." in result.output, result.all
    deleted = [w["path"] for w in workspace.platform.writes() if w["method"] == "DELETE"]
    assert deleted == [f"/user/assistant/{applied['caller']['id']}",
                       f"/user/phone-numbers/{applied['siptrunk.office']['id']}"], deleted
    assert workspace.state()["resources"] == {}


def test_a_replaced_trunk_is_destroyed_after_the_delete_of_what_holds_its_id(workspace, monkeypatch):
    """The same assistant, deleted (its manifest removed) while its SIP trunk is replaced (its type changed: the trunk
    destroys first): nothing recorded the assistant's use of the trunk, and the trunk's old half went as soon as the
    walk began, so an assistant whose delete failed stayed on the platform without its number. The plan now gives
    the delete the trunk's address whether the trunk is deleted or replaced; the new trunk still comes after the
    old one (one number, username and address at a time)."""
    applied = caller_without_a_recorded_trunk(workspace, monkeypatch)
    trunk = workspace.root / "manifests" / "siptrunk.yaml"
    trunk.write_text(trunk.read_text().replace("sip_trunk_type: number", "sip_trunk_type: extension"))
    (workspace.root / "manifests" / "caller.yaml").unlink()
    assert "-/+ siptrunk \"office\"" in ok(workspace.run("plan")).output
    before = len(workspace.platform.writes())
    workspace.platform.faults(error_rate=1, kinds=["assistants"], methods=["DELETE"])
    result = workspace.run("apply", "--auto-approve", "--parallelism", "1", "--max-retries", "1")
    assert result.exit_code == 1, result.all
    assert "Resources: 0 added, 0 changed, 0 destroyed, 1 failed." in result.output, result.all
    assert workspace.platform.writes()[before:] == [], "the trunk was neither deleted nor made again"
    workspace.platform.faults(error_rate=0)
    ok(workspace.run("apply", "--auto-approve", "--parallelism", "4"))
    sent = [(w["method"], w["path"]) for w in workspace.platform.writes()[before:]]
    assert sent == [("DELETE", f"/user/assistant/{applied['caller']['id']}"),
                    ("DELETE", f"/user/phone-numbers/{applied['siptrunk.office']['id']}"),
                    ("POST", "/user/phone-numbers/sip-trunks")], sent
    assert sorted(workspace.state()["resources"]) == ["siptrunk.office"]


def test_a_replaced_holder_of_a_replaced_trunk_is_destroyed_before_the_trunks_old_half(workspace, monkeypatch):
    """The same caller replaced (--replace) in the apply that replaces its trunk (its type changed): both destroy
    first, and the caller's old self, which holds the trunk's id with no recorded use of it, was not ordered before
    the trunk's old half, so with the caller's delete failing the trunk was deleted and made again all the same, and
    the caller stayed on the platform without its number."""
    applied = caller_without_a_recorded_trunk(workspace, monkeypatch)
    trunk = workspace.root / "manifests" / "siptrunk.yaml"
    trunk.write_text(trunk.read_text().replace("sip_trunk_type: number", "sip_trunk_type: extension"))
    before = len(workspace.platform.writes())
    workspace.platform.faults(error_rate=1, kinds=["assistants"], methods=["DELETE"])
    result = workspace.run("apply", "--auto-approve", "--replace", "caller", "--parallelism", "4",
                           "--max-retries", "1")
    assert result.exit_code == 1, result.all
    assert workspace.platform.writes()[before:] == [], "the trunk was neither deleted nor made again"
    caller = workspace.platform.by_name("Caller")[0]
    assert caller["phone_number_id"] == applied["siptrunk.office"]["id"], caller
    workspace.platform.faults(error_rate=0)
    ok(workspace.run("apply", "--auto-approve", "--replace", "caller", "--parallelism", "4"))
    sent = [(w["method"], w["path"]) for w in workspace.platform.writes()[before:]]
    assert sent[:2] == [("DELETE", f"/user/assistant/{applied['caller']['id']}"),
                        ("DELETE", f"/user/phone-numbers/{applied['siptrunk.office']['id']}")], sent
    renewed = workspace.state()["resources"]["siptrunk.office"]["id"]
    assert workspace.platform.by_name("Caller")[0]["phone_number_id"] == renewed


def test_a_holder_updated_to_a_new_trunk_of_the_same_number_waits_for_the_old_ones_delete(workspace, monkeypatch):
    """The trunk's manifest renamed (no moved block: the old trunk is deleted, a new one of the same number,
    username and address made, which the platform refuses while the old one exists) and the caller named by the
    new address: its update needs the new trunk, which comes after the old one's delete (walk.py, rule 3), so what
    the caller holds of the old trunk must not put its update before that delete (it made a cycle, its barrier was
    dropped, and the platform answered the early create 409 at every apply)."""
    applied = caller_without_a_recorded_trunk(workspace, monkeypatch)
    workspace.write("manifests/caller.yaml", CALLER.replace('"+14155551234"', "siptrunk.main"))
    trunk = workspace.root / "manifests" / "siptrunk.yaml"
    trunk.write_text(trunk.read_text().replace("metadata:\n  name: office", "metadata:\n  name: main"))
    before = len(workspace.platform.writes())
    ok(workspace.run("apply", "--auto-approve", "--parallelism", "4"))
    sent = [(w["method"], w["path"]) for w in workspace.platform.writes()[before:]]
    assert sent == [("DELETE", f"/user/phone-numbers/{applied['siptrunk.office']['id']}"),
                    ("POST", "/user/phone-numbers/sip-trunks"), ("PUT", f"/user/assistant/{applied['caller']['id']}")]
    assert workspace.platform.by_name("Caller")[0]["phone_number_id"] == workspace.state()["resources"][
        "siptrunk.main"]["id"]


def test_a_campaign_replaced_with_its_trunk_is_destroyed_before_the_trunks_old_half(workspace, monkeypatch):
    """The campaign's numbers change with its trunk (named by number: the new trunk's id), so it is replaced,
    destroying first as the trunk does; it recorded no use of the trunk, and with its delete failing the apply deleted
    the trunk all the same, which the platform dropped from the old campaign's rotation."""
    applied = caller_without_a_recorded_trunk(workspace, monkeypatch, campaign=True)
    trunk = workspace.root / "manifests" / "siptrunk.yaml"
    trunk.write_text(trunk.read_text().replace("sip_trunk_type: number", "sip_trunk_type: extension"))
    before = len(workspace.platform.writes())
    workspace.platform.faults(error_rate=1, kinds=["campaigns"], methods=["DELETE"])
    result = workspace.run("apply", "--auto-approve", "--allow-replace", "--parallelism", "4", "--max-retries", "1")
    assert result.exit_code == 1, result.all
    assert f"/user/phone-numbers/{applied['siptrunk.office']['id']}" not in [
        w["path"] for w in workspace.platform.writes()[before:]], "the trunk was deleted"


def test_a_trunk_destroyed_under_an_assistant_that_stopped_naming_it_says_the_number_goes(workspace, monkeypatch):
    """The caller's manifest stops setting phone_number_id and the trunk's manifest is removed: the plan noted "the
    platform keeps its current value" for the caller, then its apply deleted the trunk, and the platform took the
    number from the caller. The note now says the number goes, and how to keep it; with the trunk excluded, the
    usual note again."""
    copy_graph_example(workspace)
    for name in ("assistant", "campaign", "groups", "knowledgebase", "tool"):
        (workspace.root / "manifests" / f"{name}.yaml").unlink()
    workspace.write("manifests/caller.yaml", CALLER)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-E2E_DO_NOT_LEAK_61")
    ok(workspace.run("apply", "--auto-approve"))
    workspace.write("manifests/caller.yaml", CALLER.replace('  phone_number_id: "+14155551234"\n', ""))
    (workspace.root / "manifests" / "siptrunk.yaml").unlink()
    planned = " ".join(ok(workspace.run("plan")).output.split())
    trunk = workspace.state()["resources"]["siptrunk.office"]["id"]
    assert (f"caller: spec.phone_number_id is no longer set, so it is no longer managed, but the platform shows it "
            f"holding the number of siptrunk.office (id {trunk}), which this plan destroys: the platform takes the "
            "number from it. To keep it, keep siptrunk.office's manifest (or --exclude siptrunk.office).") in planned
    assert "the platform keeps its current value" not in planned
    excluded = " ".join(ok(workspace.run("plan", "--exclude", "siptrunk.office")).output.split())
    assert "caller: spec.phone_number_id is no longer set, so it is no longer managed; the platform keeps" in excluded
