"""End to end, the real CLI against the emulator over HTTP: --target globs, --exclude, -l selectors and
--replace on plan, apply, destroy and refresh, and a saved plan that records them (docs/selection.md)."""
import json

import pytest

from test_graph_e2e import plan_json, v2  # noqa: F401  (v2: the fixture of a v2-dialect workspace)


def folder(address, name, labels=""):
    meta = f"  labels: {{{labels}}}\n" if labels else ""
    return f"apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: {address}\n{meta}spec:\n  name: {name}\n"


def addresses(plan):
    return sorted(c["address"] for c in plan["changes"])


def fleet(v2):
    """Two teams: sales (a folder, two assistants in it) and ops (one assistant), with labels."""
    v2.write("manifests/folders.yaml", folder("sales", "Sales", "team: sales") + "---\n" + folder("ops", "Ops", "team: ops"))
    v2.add("sales-gold", folder_id="folder.sales", metadata_extra="labels: {team: sales, tier: gold}")
    v2.add("sales-basic", folder_id="folder.sales", metadata_extra="labels: {team: sales, tier: basic}")
    v2.add("ops-bot", folder_id="folder.ops", metadata_extra="labels: {team: ops}")


def test_selector_glob_target_and_exclude_narrow_the_plan(v2):
    fleet(v2)
    assert addresses(plan_json(v2, "-l", "team=sales,tier!=gold")) == ["folder.sales", "sales-basic"]
    assert addresses(plan_json(v2, "-l", "tier in (gold,basic)")) == ["folder.sales", "sales-basic", "sales-gold"]
    assert addresses(plan_json(v2, "-l", "!tier")) == ["folder.ops", "folder.sales", "ops-bot"]
    assert addresses(plan_json(v2, "--target", "sales-*")) == ["folder.sales", "sales-basic", "sales-gold"]
    assert addresses(plan_json(v2, "--target", "folder.*", "--exclude", "folder.ops")) == ["folder.sales"]
    plan = plan_json(v2, "--exclude", "ops-bot")
    assert addresses(plan) == ["folder.ops", "folder.sales", "sales-basic", "sales-gold"]
    assert plan["excluded"] == ["ops-bot"] and plan["selector"] is None
    assert addresses(plan_json(v2, "-l", "team=nobody")) == []
    text = v2.run("plan", "--exclude", "ops-*")
    assert text.exit_code == 0 and "Excluded (left as they are): ops-bot" in text.output


def test_excluding_what_a_kept_change_depends_on_is_refused_naming_both(v2):
    fleet(v2)
    refused = v2.run("plan", "--exclude", "folder.sales")
    assert refused.exit_code == 1
    assert "--exclude folder.sales: sales-basic depends on it" in refused.all
    assert "--exclude folder.sales: sales-gold depends on it" in refused.all
    bad = v2.run("plan", "-l", "team=(x")
    assert bad.exit_code == 1 and "label selector" in bad.all
    nothing = v2.run("plan", "--exclude", "nothing-*")
    assert nothing.exit_code == 1 and "--exclude 'nothing-*' matches no address" in nothing.all


def test_selectors_on_apply_destroy_and_refresh(v2):
    fleet(v2)
    applied = v2.run("apply", "--auto-approve", "-l", "team=ops")
    assert applied.exit_code == 0, applied.all
    assert sorted(v2.state()["resources"]) == ["folder.ops", "ops-bot"]
    assert v2.run("apply", "--auto-approve").exit_code == 0
    sales = [a for a in v2.platform.assistants() if a["name"] == "Sales Gold"][0]
    v2.platform.put(sales["id"], system_prompt="Edited in the dashboard.")
    refreshed = v2.run("refresh", "--exclude", "sales-*")
    assert refreshed.exit_code == 0, refreshed.all
    assert "sales-gold" not in refreshed.output
    refreshed = v2.run("refresh", "-l", "tier=gold")
    assert refreshed.exit_code == 0 and "sales-gold: refreshed from the platform" in refreshed.output
    assert "Refreshed 1 object(s)" in refreshed.output
    destroyed = v2.run("destroy", "--auto-approve", "-l", "team=sales", "--exclude", "folder.sales")
    assert destroyed.exit_code == 0, destroyed.all
    assert sorted(v2.state()["resources"]) == ["folder.ops", "folder.sales", "ops-bot"]
    refused = v2.run("destroy", "--auto-approve", "--exclude", "ops-bot")
    assert refused.exit_code == 1 and "--exclude ops-bot: it refers to folder.ops" in refused.all
    # `assistant.ops-bot` is ops-bot: excluded, it is left as it is (it was named as excluded and destroyed).
    kept = v2.run("destroy", "--auto-approve", "--exclude", "assistant.ops-bot", "--exclude", "folder.ops")
    assert kept.exit_code == 0, kept.all
    assert sorted(v2.state()["resources"]) == ["folder.ops", "ops-bot"]


def test_replace_destroys_and_creates_and_updates_what_refers_to_it(v2):
    fleet(v2)
    assert v2.run("apply", "--auto-approve").exit_code == 0
    before = v2.state()["resources"]
    plan = plan_json(v2, "--replace", "folder.sales")
    changes = {c["address"]: c for c in plan["changes"]}
    assert changes["folder.sales"]["replace"] and changes["folder.sales"]["replace_reason"] == "replace requested"
    assert changes["sales-gold"]["body"]["folder_id"] == {"$ref": "folder.sales"}
    assert plan["replace_requested"] == ["folder.sales"]
    text = v2.run("plan", "--replace", "folder.sales")
    assert "-/+ folder" in text.output and "replace requested" in text.output
    applied = v2.run("apply", "--auto-approve", "--replace", "folder.sales", "--replace", "ops-bot")
    assert applied.exit_code == 0, applied.all
    after = v2.state()["resources"]
    assert after["folder.sales"]["id"] != before["folder.sales"]["id"]
    assert after["ops-bot"]["id"] != before["ops-bot"]["id"]
    # folder_id is write-only: the updates sent are the proof that the referrers follow the new folder
    moved = {w["path"] for w in v2.platform.writes()
             if w["method"] == "PUT" and (w["body"] or {}).get("folder_id") == after["folder.sales"]["id"]}
    assert moved == {f"/user/assistant/{after['sales-gold']['id']}", f"/user/assistant/{after['sales-basic']['id']}"}
    assert len([a for a in v2.platform.assistants() if a["name"] == "Ops Bot"]) == 1
    assert v2.run("plan", "--detailed-exitcode").exit_code == 0
    unknown = v2.run("plan", "--replace", "nothing")
    assert unknown.exit_code == 1 and "--replace 'nothing' names no manifest" in unknown.all


def test_saved_plan_records_the_selection_and_applies_exactly_it(v2):
    fleet(v2)
    assert v2.run("apply", "--auto-approve").exit_code == 0
    before = v2.state()["resources"]
    v2.add("sales-gold", folder_id="folder.sales", system_prompt="New prompt.",
           metadata_extra="labels: {team: sales, tier: gold}")
    v2.add("sales-basic", folder_id="folder.sales", system_prompt="Other prompt.",
           metadata_extra="labels: {team: sales, tier: basic}")
    saved = v2.run("plan", "--out", "selected.plan", "-l", "team=sales", "--exclude", "sales-basic",
                   "--replace", "sales-gold")
    assert saved.exit_code == 0, saved.all
    data = json.loads((v2.root / "selected.plan").read_text())
    assert data["selector"] == "team=sales" and data["excluded"] == ["sales-basic"]
    assert data["replace_requested"] == ["sales-gold"]
    assert [c["address"] for c in data["changes"]] == ["sales-gold"]
    assert "Excluded (left as they are): sales-basic" in saved.output
    assert "Replacement requested (--replace): sales-gold" in saved.output
    markdown = v2.run("plan", "--format", "markdown", "--exclude", "ops-bot")
    assert "**Selection.** Excluded (left as they are): ops-bot" in markdown.output
    mixed = v2.run("apply", "--auto-approve", "selected.plan", "--exclude", "x")
    assert mixed.exit_code == 1 and "a saved plan carries the selection" in mixed.all
    applied = v2.run("apply", "--auto-approve", "selected.plan")
    assert applied.exit_code == 0, applied.all
    assert "Excluded (left as they are): sales-basic" in applied.output
    after = v2.state()["resources"]
    assert after["sales-gold"]["id"] != before["sales-gold"]["id"]
    assert after["sales-basic"] == before["sales-basic"]
    assert addresses(plan_json(v2)) == ["sales-basic"]  # left out, so still to do


def test_a_tampered_saved_plan_with_an_excluded_change_is_refused(v2):
    fleet(v2)
    assert v2.run("plan", "--out", "p.plan", "--exclude", "ops-bot", "--exclude", "folder.ops").exit_code == 0
    data = json.loads((v2.root / "p.plan").read_text())
    data["excluded"] = ["sales-basic"]
    (v2.root / "p.plan").write_text(json.dumps(data))
    refused = v2.run("apply", "--auto-approve", "p.plan")
    assert refused.exit_code == 1 and "sales-basic: excluded by the plan, yet changed in it" in refused.all


@pytest.mark.parametrize("command, options", [
    ("plan", ["--exclude", "--selector", "--replace", "--target"]),
    ("apply", ["--exclude", "--selector", "--replace", "--target", "--no-verify"]),
    ("destroy", ["--exclude", "--selector", "--target"]),
    ("refresh", ["--exclude", "--selector", "--target"]),
])
def test_every_new_option_has_help(workspace, command, options):
    shown = workspace.run(command, "--help", api=False)
    assert shown.exit_code == 0
    for option in options:
        assert option in shown.output
    assert "-l, --selector" in shown.output and "glob" in shown.output


def test_an_exclude_that_names_nothing_is_an_error_as_a_glob_that_matches_nothing_is(workspace):
    """A mistyped --exclude would leave out nothing: the change it meant to keep back would be made."""
    workspace.add("sales-gold")
    for exclude in ("sales-gld", "assistant.sales-gld", "nosuch-*"):
        result = workspace.run("plan", "--exclude", exclude)
        assert result.exit_code == 1 and "--exclude" in result.stderr and "no address" in result.stderr, result.all
    assert workspace.run("plan", "--exclude", "assistant.sales-gold").exit_code == 0
    assert workspace.run("plan", "--exclude", "sales-gold").exit_code == 0


def test_every_command_that_takes_an_address_names_the_near_miss_of_a_mistyped_one(workspace):
    """`plan --target sales-gld` said "did you mean 'sales-gold'?", while --exclude, --replace, `state rm`, `state
    show`, `state mv` and `import` only said the address names nothing; each now names the close ones the same way,
    and changes nothing."""
    workspace.add("sales-gold")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    [made] = workspace.platform.assistants()
    before = workspace.state()
    for command in (("plan", "--exclude", "sales-gld"), ("plan", "--replace", "sales-gld"),
                    ("plan", "--target", "sales-gld"), ("state", "rm", "sales-gld"), ("state", "show", "sales-gld"),
                    ("state", "mv", "sales-gld", "sales-new"), ("import", "sales-gld", str(made["id"]))):
        result = workspace.run(*command)
        assert result.exit_code == 1 and "did you mean 'sales-gold'?" in result.stderr, (command, result.all)
    assert workspace.state() == before
    far = workspace.run("state", "rm", "zzz")
    assert far.exit_code == 1 and "did you mean" not in far.stderr, far.all


def test_a_refresh_target_is_an_assistant_with_or_without_its_kind_and_one_state_lacks_is_an_error(workspace):
    """As for plan and pull (docs/selection.md): `assistant.x` is the assistant `x`, and a plain address that names
    nothing is an error. refresh read neither and said "Refreshed 0 object(s)", a success."""
    workspace.add("alpha")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    for target in ("alpha", "assistant.alpha"):
        result = workspace.run("refresh", "--target", target)
        assert result.exit_code == 0 and "Refreshed 1 object(s)" in result.output, (target, result.all)
    for target in ("alpah", "assistant.nothing", "Not An Address"):
        result = workspace.run("refresh", "--target", target)
        assert result.exit_code == 1, (target, result.all)
        assert "no object in state has that address" in result.stderr and "Refreshed" not in result.output
    assert "(did you mean 'alpha'?)" in workspace.run("refresh", "--target", "alpah").stderr


def _tool(address, name):
    return (f"apiVersion: provisioner/v1\nkind: Tool\nmetadata: {{name: {address}}}\nspec:\n  name: {name}\n"
            "  description: Look up an order.\n  endpoint: https://api.example.com/orders/{order_id}\n  method: GET\n"
            "  schema:\n    - {name: order_id, type: string, description: The order number.}\n")


@pytest.mark.parametrize("how", ["replace", "delete", "replace-targeted"])
def test_a_plan_of_narrower_paths_never_deletes_what_an_assistant_it_leaves_alone_uses(v2, platform, how):
    """`apply manifests/tools` leaves alone the assistant of manifests/caller.yaml, which state records as using
    tool.lookup: replacing or deleting the tool left the live assistant calling a tool that no longer exists (as
    --exclude of the assistant is refused)."""
    v2.write("manifests/tools/tools.yaml", _tool("lookup", "lookup") + "---\n" + _tool("other", "other"))
    v2.add("caller", tool_ids=["tool.lookup"])
    assert v2.run("apply", "--auto-approve").exit_code == 0
    before = v2.state()["resources"]
    options = {"replace": ["--replace", "tool.lookup"], "delete": [],
               "replace-targeted": ["--replace", "tool.lookup", "--target", "tool.lookup"]}[how]
    if how == "delete":
        v2.write("manifests/tools/tools.yaml", _tool("other", "other"))
    writes = len(platform.writes())
    applied = v2.run("apply", "--auto-approve", *options, "manifests/tools")
    assert applied.exit_code == 1, applied.all
    assert "caller" in applied.all and "tool.lookup" in applied.all and "left alone" in applied.all
    assert len(platform.writes()) == writes and v2.state()["resources"] == before
    assert v2.run("apply", "--auto-approve", *options).exit_code == 0 or how == "delete"  # all paths: it takes the new id


@pytest.mark.parametrize("address", ["support", "tool.lookup"])
def test_replace_of_a_protected_object_is_refused_and_sends_nothing(v2, platform, address):
    """`metadata.protect` refuses any plan that would destroy the object; a replacement deletes its old self (an
    assistant's number binding and call history with it), and `--replace` of a protected one went through."""
    v2.add("support", metadata_extra="protect: true")
    v2.add("other")
    v2.write("manifests/tools.yaml", _tool("lookup", "lookup").replace("metadata: {name: lookup}",
                                                                      "metadata: {name: lookup, protect: true}"))
    assert v2.run("apply", "--auto-approve").exit_code == 0
    before = v2.state()["resources"]
    writes = len(platform.writes())
    for command in ("plan", "apply"):
        refused = v2.run(command, *(["--auto-approve"] if command == "apply" else []), "--replace", address)
        assert refused.exit_code == 1, refused.all
        assert "is protected, and this plan would replace it" in refused.all and "metadata.protect: false" in refused.all
    assert len(platform.writes()) == writes and v2.state()["resources"] == before


def test_a_plan_narrowed_to_no_change_has_no_note_about_write_only_fields(v2):
    """The note explaining fields marked (write-only) came from the whole plan: `plan -l team=nobody` or an
    --exclude of the one change printed "No changes." and then a note about marked fields it did not show."""
    fleet(v2)
    assert v2.run("apply", "--auto-approve").exit_code == 0
    v2.add("ops-bot", folder_id="folder.sales", metadata_extra="labels: {team: ops}")  # folder_id is write-only
    assert "(write-only)" in v2.run("plan").output
    for narrowed in (("-l", "team=nobody"), ("--exclude", "ops-bot"), ("--target", "sales-gold")):
        text = v2.run("plan", *narrowed)
        assert text.exit_code == 0 and "No changes." in text.output, (narrowed, text.all)
        assert "write-only" not in text.output, (narrowed, text.output)
        assert plan_json(v2, *narrowed)["notes"] == [], narrowed


def test_a_replace_a_selector_leaves_out_is_refused_with_advice_that_selects_it(v2):
    """`plan -l team=ops --replace sales-gold` said "add --target sales-gold", and with it the run was refused
    again (the object must pass both, docs/selection.md): the advice names the selector too."""
    fleet(v2)
    assert v2.run("apply", "--auto-approve").exit_code == 0
    refused = v2.run("plan", "-l", "team=ops", "--replace", "sales-gold")
    assert refused.exit_code == 1, refused.all
    assert "make the -l selector match it too" in refused.all, refused.all
    targeted = v2.run("plan", "--target", "ops-bot", "--replace", "sales-gold")
    assert targeted.exit_code == 1 and "add --target sales-gold" in targeted.all, targeted.all
    assert "-l" not in targeted.all, targeted.all


def test_a_protected_object_that_is_excluded_does_not_stop_a_destroy_of_the_others(v2):
    """--exclude leaves an object as it is "whatever the plan would do to it" (docs/selection.md), but `destroy
    --exclude ops-bot` of a protected ops-bot (or folder) was refused: "is protected, and `destroy` would delete
    it", the check made before the exclusion was applied."""
    v2.write("manifests/folders.yaml", folder("sales", "Sales", "team: sales")
             + "---\n" + folder("ops", "Ops", "team: ops").replace("metadata:\n", "metadata:\n  protect: true\n"))
    v2.add("sales-gold", folder_id="folder.sales", metadata_extra="labels: {team: sales, tier: gold}")
    v2.add("ops-bot", folder_id="folder.ops", metadata_extra="labels: {team: ops}\nprotect: true")
    assert v2.run("apply", "--auto-approve").exit_code == 0
    refused = v2.run("plan", "--destroy")
    assert refused.exit_code == 1 and "is protected" in refused.all, refused.all
    plan = plan_json(v2, "--destroy", "--exclude", "ops-bot", "--exclude", "folder.ops")
    assert addresses(plan) == ["folder.sales", "sales-gold"] and plan["excluded"] == ["folder.ops", "ops-bot"]
    destroyed = v2.run("destroy", "--auto-approve", "--exclude", "ops-*", "--exclude", "folder.ops")
    assert destroyed.exit_code == 0, destroyed.all
    assert sorted(v2.state()["resources"]) == ["folder.ops", "ops-bot"]
    assert [a["name"] for a in v2.platform.assistants()] == ["Ops Bot"]
    # Its manifest removed, a protected object that is excluded is left as it is too.
    v2.write("manifests/folders.yaml", folder("sales", "Sales", "team: sales"))
    v2.remove("ops-bot")
    left = v2.run("plan", "--exclude", "ops-bot", "--exclude", "folder.ops")
    assert left.exit_code == 0 and "is protected" not in left.all, left.all


def test_a_plans_targets_are_what_target_globs_and_l_chose(v2):
    """docs/plan-format.md said `targets` are the --target addresses; a -l plan (no --target) has the addresses
    the selector chose (folder.ops carries the label too), a glob the addresses it matched (not what they need),
    and either way the text view warns that the plan covers only those."""
    fleet(v2)
    assert plan_json(v2, "-l", "team=ops")["targets"] == ["folder.ops", "ops-bot"]
    assert plan_json(v2, "-l", "tier=gold")["targets"] == ["sales-gold"]
    assert plan_json(v2, "--target", "sales-*")["targets"] == ["sales-basic", "sales-gold"]
    assert plan_json(v2)["targets"] == []
    assert "Label selection is in effect (-l team=ops: folder.ops, ops-bot)" in v2.run("plan", "-l", "team=ops").output
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs"
    row = next(line for line in (docs / "plan-format.md").read_text().splitlines() if line.startswith("| `targets` |"))
    described = json.loads((docs / "plan.schema.json").read_text())["properties"]["targets"]["description"]
    for text in (row, described):
        assert "-l" in text and "glob" in text, text


LABEL_ADVICE = ("Label selection is in effect (-l team=ops: folder.ops, ops-bot): this plan covers only the objects "
                "whose labels match and what they need, so it may not show every change the manifests call for; plan "
                "the others with their own selector, or without -l, to bring the rest in step.")
TARGET_ADVICE = "Use --target for exceptional cases (a mistake to repair, a part to try), not routinely."


def test_a_label_selection_gets_advice_for_a_selection_not_for_target_in_every_view_and_saved(v2):
    """A plan narrowed by -l alone warned "Resource targeting is in effect ... Use --target for exceptional cases
    ..., not routinely", advice about a flag that was not given, for what a label selection is meant for (a team's
    part of the fleet at a time), then said the selector was in effect in a second warning. It now gives one warning
    that fits the selection, in the text and markdown views, and in `show FILE` and `apply FILE` of a saved plan
    (its `targets_by_selector`, a key added within format version 2 and written only on such a plan); with --target
    too, Terraform's advice stays."""
    fleet(v2)
    text = v2.run("plan", "-l", "team=ops")
    assert f"Warning: {LABEL_ADVICE}" in text.output, text.all
    assert TARGET_ADVICE not in text.output and "Label selector in effect" not in text.output
    markdown = v2.run("plan", "-l", "team=ops", "--format", "markdown").output
    assert "> [!NOTE]\n> **Label selection.** Label selection is in effect (-l team=ops: " in markdown, markdown
    assert "Targeted plan" not in markdown and "Use --target" not in markdown, markdown
    both = v2.run("plan", "-l", "team=ops", "--target", "ops-bot").output
    assert "Resource targeting is in effect (ops-bot)" in both and TARGET_ADVICE in both, both
    assert "Label selector in effect (team=ops)" in both and "Label selection is in effect" not in both
    assert "targets_by_selector" not in plan_json(v2, "--target", "ops-bot") and \
        "targets_by_selector" not in plan_json(v2)
    selected = plan_json(v2, "-l", "team=ops")
    assert selected["targets_by_selector"] is True
    from test_schemas import check_plan

    check_plan(selected)  # the key is in the published schema
    saved = v2.run("plan", "-l", "team=ops", "--out", "ops.plan")
    assert saved.exit_code == 0 and LABEL_ADVICE in saved.output, saved.all
    data = json.loads((v2.root / "ops.plan").read_text())
    assert data["targets_by_selector"] is True and data["selector"] == "team=ops"
    shown = v2.run("show", "ops.plan")
    assert LABEL_ADVICE in shown.output and TARGET_ADVICE not in shown.output, shown.all
    assert json.loads(v2.run("show", "--json", "ops.plan").output)["targets_by_selector"] is True
    applied = v2.run("apply", "--auto-approve", "ops.plan")
    assert applied.exit_code == 0 and LABEL_ADVICE in applied.output, applied.all
    assert TARGET_ADVICE not in applied.output
    # A plan saved before the key existed (none of it) reads as it did: the --target advice.
    del data["targets_by_selector"]
    v2.write("old.plan", json.dumps(data))
    assert TARGET_ADVICE in v2.run("show", "old.plan").output
    data["targets_by_selector"] = "yes"
    v2.write("bad.plan", json.dumps(data))
    refused = v2.run("show", "bad.plan")
    assert refused.exit_code == 1 and "targets_by_selector: Input should be a valid boolean" in refused.all, \
        refused.all


def test_an_excluded_knowledge_base_is_left_as_it_is_with_its_documents(v2):
    """A knowledge base's address selects its documents too (docs/selection.md), but --exclude of one left them in:
    `destroy --exclude knowledgebase.faq` deleted its documents and left it empty, and of a protected one (its
    documents protected with it) was refused as "knowledge base document ... is protected", so the exclusion of a
    protected object did not let the rest be destroyed. An excluded object is left as it is whole."""
    v2.write("manifests/folders.yaml", folder("sales", "Sales", "team: sales"))
    v2.write("manifests/kb.yaml", "apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {name: faq}\n"
             "spec:\n  name: FAQ\n  documents:\n"
             "    - {name: Pricing page, key: pricing, type: website, url: 'https://example.com/pricing'}\n")
    assert v2.run("apply", "--auto-approve").exit_code == 0
    plan = plan_json(v2, "--destroy", "--exclude", "knowledgebase.faq")
    assert addresses(plan) == ["folder.sales"], addresses(plan)
    assert plan["excluded"] == ["knowledgebase.faq", "knowledgebase.faq.pricing"]
    v2.write("manifests/kb.yaml", (v2.root / "manifests/kb.yaml").read_text().replace(
        "metadata: {name: faq}", "metadata: {name: faq, protect: true}"))
    assert v2.run("apply", "--auto-approve").exit_code == 0
    destroyed = v2.run("destroy", "--auto-approve", "--exclude", "knowledgebase.faq")
    assert destroyed.exit_code == 0, destroyed.all
    assert sorted(v2.state()["resources"]) == ["knowledgebase.faq", "knowledgebase.faq.pricing"]


def test_a_destroy_that_excludes_a_sip_trunk_deletes_what_holds_its_number_and_keeps_the_trunk(workspace, monkeypatch):
    """A plain delete of what holds a SIP trunk's id names the trunk in its `depends_on` when the plan deletes the
    trunk too (plan_graph.deleted_before_their_numbers), to go first: a `depends_on` the exclusion's check read as a
    need, refusing `destroy --exclude siptrunk.office` ("winter-caller depends on it, and this plan would delete
    siptrunk.office first"), where the trunk excluded is kept and nothing that is deleted needs it."""
    from conftest import copy_graph_example

    copy_graph_example(workspace)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-E2E_DO_NOT_LEAK_61")
    monkeypatch.setenv("ORDERS_API_KEY", "key-E2E_DO_NOT_LEAK_62")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    trunk = workspace.state()["resources"]["siptrunk.office"]["id"]
    destroyed = workspace.run("destroy", "--auto-approve", "--exclude", "siptrunk.office")
    assert destroyed.exit_code == 0, destroyed.all
    assert sorted(workspace.state()["resources"]) == ["siptrunk.office"]
    deleted = [w["path"] for w in workspace.platform.writes() if w["method"] == "DELETE"]
    assert f"/user/phone-numbers/{trunk}" not in deleted and len(deleted) == 9, deleted
