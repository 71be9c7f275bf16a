"""End to end, the real CLI against the emulator over HTTP: plans of folders and labels, and assistants that
reference them (v2: folder_id and label_ids exist only there)."""
import json

import pytest

from conftest import REQUIRED, manifest_text


def folder(address, name, color=None, kind="Folder"):
    return (f"apiVersion: provisioner/v1\nkind: {kind}\nmetadata:\n  name: {address}\nspec:\n  name: {name}\n"
            + (f"  color: {color}\n" if color else ""))


@pytest.fixture
def v2(workspace):
    workspace.dialect = "v2"
    return workspace


def plan_json(workspace, *args):
    result = workspace.run("plan", "--json", *args)
    assert result.exit_code == 0, result.all
    return json.loads(result.output)


def test_plan_creates_folder_and_label_first_and_assistant_waits_for_them(v2):
    v2.write("manifests/groups.yaml", folder("sales", "Sales", "blue") + "---\n" + folder("vip", "VIP", kind="Label"))
    v2.add("support", folder_id="folder.sales", label_ids=["label.vip"])
    text = v2.run("plan")
    assert text.exit_code == 0, text.all
    out = text.output
    assert '+ folder "sales" {' in out and '+ label "vip" {' in out and '+ assistant "support" {' in out
    assert "folder_id       = (known after apply)" in out
    assert "label_ids       = [(known after apply)]" in out
    assert "Folders: 1 to add, 0 to change, 0 to destroy" in out
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in out and "  folder: 1 to add" in out
    plan = plan_json(v2)
    assert plan["format_version"] == 2
    changes = {c["address"]: c for c in plan["changes"]}
    assert {a: c["kind"] for a, c in changes.items()} == {"support": "assistant", "folder.sales": "folder",
                                                          "label.vip": "label"}
    assert changes["support"]["body"]["folder_id"] == {"$ref": "folder.sales"}
    assert changes["support"]["depends_on"] == ["folder.sales", "label.vip"]
    assert changes["folder.sales"]["body"] == {"name": "Sales", "color": "blue"}
    markdown = v2.run("plan", "--format", "markdown")
    assert "- Folders: 1 to add" in markdown.output and "_(known after apply)_" in markdown.output


def test_plan_adopts_an_existing_folder_by_name_and_uses_its_id(v2):
    created = v2.platform.http.post("/user/folder", json={"name": "Sales", "color": "red"})
    assert created.status_code == 201, created.text
    folder_id = created.json()["data"]["id"]
    v2.write("manifests/groups.yaml", folder("sales", "Sales", "blue"))
    v2.add("support", folder_id="folder.sales")
    plan = plan_json(v2)
    changes = {c["address"]: c for c in plan["changes"]}
    assert changes["folder.sales"]["action"] == "import" and changes["folder.sales"]["remote_id"] == folder_id
    assert changes["folder.sales"]["body"] == {"color": "blue"}
    assert changes["support"]["body"]["folder_id"] == folder_id


def test_lookup_by_name_of_an_unmanaged_label_and_its_errors(v2):
    v2.add("support", label_ids=[{"name": "Ops"}])
    missing = v2.run("plan")
    assert missing.exit_code == 1 and "no label named 'Ops'" in missing.all
    assert "manifests/support.yaml:" in missing.all
    for _ in range(2):
        assert v2.platform.http.post("/user/labels", json={"name": f"Ops{_}"}).status_code == 201
    label_id = [x for x in v2.platform.http.get("/user/labels").json()["data"] if x["name"] == "Ops0"][0]["id"]
    v2.add("support", label_ids=[{"name": "Ops0"}])
    assert plan_json(v2)["changes"][0]["body"]["label_ids"] == [label_id]


def test_folders_list_is_read_across_pages(v2):
    for i in range(120):
        assert v2.platform.http.post("/user/folder", json={"name": f"f{i:03}"}).status_code == 201
    v2.write("manifests/groups.yaml", folder("last", "f119"))
    [change] = plan_json(v2)["changes"]
    assert change["action"] == "import"  # found on the second page of 100, not created a second time


def test_offline_reference_errors_have_file_and_line(v2):
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("sales2", "Sales"))
    v2.add("support", folder_id="label.sales", label_ids=["label.nope"])
    result = v2.run("validate")
    assert result.exit_code == 1
    assert "groups.yaml:13: folder.sales2: spec.name: 'Sales' is also used by the manifest at" in result.all
    assert "support.yaml" in result.all and "spec.folder_id: 'label.sales' is a label" in result.all
    assert "spec.label_ids[0]: 'label.nope' names no manifest" in result.all


def test_assistant_only_plans_read_as_before(workspace):
    workspace.add("a")
    out = workspace.run("plan").output
    assert "Folders" not in out and "  assistant:" not in out
    assert out.rstrip().endswith("Plan: 1 to add, 0 to change, 0 to destroy.")


def test_graph_plan_json_matches_the_published_plan_schema(v2):
    from test_schemas import check_plan

    v2.write("manifests/groups.yaml", folder("sales", "Sales", "blue"))
    v2.add("support", folder_id="folder.sales")
    check_plan(plan_json(v2))


def test_folder_and_label_manifests_pass_the_editor_schema_and_bad_ones_fail_both(tmp_path):
    import yaml
    from jsonschema import Draft202012Validator

    from provisioner.manifest import load_manifests
    from provisioner.schema import manifest_schema

    validator = Draft202012Validator(manifest_schema())
    good = yaml.safe_load(folder("sales", "Sales", "blue"))
    assert not list(validator.iter_errors(good))
    assert not list(validator.iter_errors(yaml.safe_load(folder("vip", "VIP", kind="Label"))))
    assistant = yaml.safe_load(manifest_text("a", folder_id="folder.sales", label_ids=[{"name": "x"}, 3]))
    assert not list(validator.iter_errors(assistant))
    for bad in ({**good, "spec": {"name": "Sales", "color": "brown"}}, {**good, "spec": {"color": "red"}},
                {**good, "spec": {"name": "S", "voice_id": 1}},
                {**assistant, "spec": {**assistant["spec"], "folder_id": True}}):
        assert list(validator.iter_errors(bad)), bad
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(Exception):
            load_manifests([path], dialect="v2")


def test_apply_creates_folder_and_label_before_the_assistant_that_references_them_then_no_changes(v2):
    v2.write("manifests/groups.yaml", folder("sales", "Sales", "blue") + "---\n" + folder("vip", "VIP", kind="Label"))
    v2.add("support", folder_id="folder.sales", label_ids=["label.vip"])
    result = v2.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    state = v2.state()["resources"]
    folders = v2.platform.http.get("/user/folders").json()["data"]
    labels = v2.platform.http.get("/user/labels").json()["data"]
    assert [(f["name"], f["id"]) for f in folders] == [("Sales", state["folder.sales"]["id"])]
    assert [(f["name"], f["id"]) for f in labels] == [("VIP", state["label.vip"]["id"])]
    assert state["folder.sales"]["kind"] == "folder" and state["support"]["depends_on"] == ["folder.sales", "label.vip"]
    fields = v2.platform.admin.get(f"/_emulator/objects/assistants/{state['support']['id']}").json()["fields"]
    assert fields["folder_id"] == state["folder.sales"]["id"] and fields["label_ids"] == [state["label.vip"]["id"]]
    assert "\nNo changes." in v2.run("plan").output
    # The folder goes: the assistant drops it first, then it is deleted.
    v2.write("manifests/groups.yaml", folder("vip", "VIP", kind="Label"))
    v2.add("support", label_ids=["label.vip"])
    result = v2.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    assert v2.platform.http.get("/user/folders").json()["data"] == []
    assert "folder.sales" not in v2.state()["resources"]
    assert "\nNo changes." in v2.run("plan").output


def test_sigkill_during_a_graph_apply_then_apply_again_ends_with_each_object_once(v2):
    import random
    import signal
    import time

    from test_reliability import spawn

    groups = "---\n".join(folder(f"f{i}", f"F{i}") for i in range(4))
    v2.write("manifests/groups.yaml", groups + "---\n" + "---\n".join(folder(f"l{i}", f"L{i}", kind="Label")
                                                                     for i in range(4)))
    for i in range(16):
        v2.add(f"a{i}", folder_id=f"folder.f{i % 4}", label_ids=[f"label.l{i % 4}", f"label.l{(i + 1) % 4}"])
    v2.platform.faults(latency_ms=150)  # an apply takes seconds: each kill lands inside one

    def count(path):
        return len(v2.platform.http.get(path, params={"per_page": 100}).json()["data"])

    # Kill while folders and labels are being made, then while assistants are, at random moments after.
    moments = [lambda: count("/user/folders") + count("/user/labels") >= 2,
               lambda: len(v2.platform.assistants()) >= 2, lambda: len(v2.platform.assistants()) >= 8]
    rng = random.Random(11)
    for ready in moments:
        process = spawn(v2, "apply", "--auto-approve", "--parallelism=4", "--api-dialect=v2")
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.15))
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL  # killed, not finished
    v2.platform.faults(latency_ms=0)
    result = v2.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    assert "\nNo changes." in v2.run("plan").output
    state = v2.state()["resources"]
    folders = v2.platform.http.get("/user/folders", params={"per_page": 100}).json()["data"]
    labels = v2.platform.http.get("/user/labels", params={"per_page": 100}).json()["data"]
    assert sorted(f["name"] for f in folders) == [f"F{i}" for i in range(4)]
    assert sorted(f["name"] for f in labels) == [f"L{i}" for i in range(4)]
    assert sorted(a["name"] for a in v2.platform.assistants()) == sorted(f"A{i}" for i in range(16))
    for assistant in v2.platform.assistants():
        i = int(assistant["name"][1:])
        fields = v2.platform.admin.get(f"/_emulator/objects/assistants/{assistant['id']}").json()["fields"]
        assert state[f"a{i}"]["id"] == assistant["id"]
        assert fields["folder_id"] == state[f"folder.f{i % 4}"]["id"]
        assert fields["label_ids"] == [state[f"label.l{i % 4}"]["id"], state[f"label.l{(i + 1) % 4}"]["id"]]


def test_a_phone_number_by_its_e164_string_resolves_to_its_id_in_both_dialects(workspace):
    for dialect in ("v1", "v2"):
        workspace.dialect = dialect
        workspace.add("caller", phone_number_id="+14155550100")
        [change] = plan_json(workspace)["changes"]
        assert change["body"]["phone_number_id"] == 45 and change["depends_on"] == []
        workspace.add("caller", phone_number_id="+14155550190")  # another tenant's number
        result = workspace.run("plan")
        assert result.exit_code == 1 and "no phone number +14155550190" in result.all
        assert "manifests/caller.yaml:" in result.all


def test_an_overlay_patches_the_base_of_its_own_kind(v2):
    v2.write("manifests/groups.yaml", folder("sales", "Sales", "blue"))
    v2.add("sales", folder_id="folder.sales")
    v2.write("overlays/prod/sales.yaml", "apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: sales\n"
                                         "spec:\n  color: red\n")
    rendered = v2.run("render", "--workspace", "prod", api=False)
    assert rendered.exit_code == 0, rendered.all
    assert "kind: Folder" in rendered.output and "color: red" in rendered.output
    assert "name: sales\nspec:\n  assistant_name" in rendered.output


def test_target_of_an_assistant_pulls_in_the_folder_it_needs(v2):
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("vip", "VIP", kind="Label"))
    v2.add("support", folder_id="folder.sales")
    v2.add("other")
    plan = plan_json(v2, "--target", "assistant.support")
    assert sorted(c["address"] for c in plan["changes"]) == ["folder.sales", "support"]
    assert plan["targets"] == ["support"]
    plan = plan_json(v2, "--target", "label.vip")
    assert [c["address"] for c in plan["changes"]] == ["label.vip"]
    bad = v2.run("plan", "--target", "folder.nope")
    assert bad.exit_code == 1 and "folder.nope" in bad.all


def test_a_saved_graph_plan_shows_as_it_was_planned_and_applies(v2):
    v2.write("manifests/groups.yaml", folder("sales", "Sales", "blue"))
    v2.add("support", folder_id="folder.sales")
    assert v2.run("plan", "--out", "graph.plan").exit_code == 0
    shown = v2.run("show", "graph.plan")
    assert shown.exit_code == 0, shown.all
    assert '+ folder "sales" {' in shown.output and "folder_id       = (known after apply)" in shown.output
    as_json = json.loads(v2.run("show", "--json", "graph.plan").output)
    assert {c["kind"] for c in as_json["changes"]} == {"assistant", "folder"}
    applied = v2.run("apply", "graph.plan")
    assert applied.exit_code == 0, applied.all
    [made] = v2.platform.http.get("/user/folders").json()["data"]
    assert made["name"] == "Sales" and v2.state()["resources"]["folder.sales"]["id"] == made["id"]
    shown = v2.run("show", api=False).output  # the state, each object under its own kind
    assert f'# folder "folder.sales" (id {made["id"]})' in shown and 'folder "folder.sales" {' in shown
    assert 'assistant "support" {' in shown and "1 assistant(s), 1 folder(s) in state" in shown
    assert "\nNo changes." in v2.run("plan").output



def test_a_dashboard_change_to_a_field_the_manifest_never_set_is_drift_not_a_removal(v2):
    """State records a kind's defaults with what was applied, so a field the manifest never set is there too: a
    change made in the dashboard was labelled "removed from the manifest". Only a field set to something else
    than its default last time and left out now is a removal."""
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("vip", "VIP", "blue"))
    assert v2.run("apply", "--auto-approve").exit_code == 0
    ids = {a: e["id"] for a, e in v2.state()["resources"].items()}
    v2.platform.http.put(f"/user/folder/{ids['folder.sales']}", json={"color": "teal"}).raise_for_status()
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("vip", "VIP"))
    fields = {c["address"]: c["fields"][0] for c in plan_json(v2)["changes"]}
    assert (fields["folder.sales"]["drift"], fields["folder.sales"]["reset"]) == (True, False), fields
    assert (fields["folder.vip"]["drift"], fields["folder.vip"]["reset"]) == (False, True), fields
    text = v2.run("plan").output
    assert 'color = "teal" -> null  # changed on the platform outside the provisioner' in text, text
    assert 'color = "blue" -> null  # removed from the manifest' in text, text


def test_a_deposed_folder_is_destroyed_before_its_namesake_is_made(v2):
    """Names of folders are unique, so the old half an interrupted replacement left deposed must go before the
    new one is created, and the assistants that use the folder then take the new id. (Ordering the deposed row
    after its users' updates made a cycle with that, which dropped the order of every kind's deletes.)"""
    v2.write("manifests/groups.yaml", folder("sales", "Sales"))
    v2.add("support", folder_id="folder.sales")
    assert v2.run("apply", "--auto-approve").exit_code == 0
    v2.depose("folder.sales")
    applied = v2.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    resources = v2.state()["resources"]
    assert "folder.sales~deposed" not in resources
    [made] = v2.platform.http.get("/user/folders").json()["data"]
    assert resources["folder.sales"]["id"] == made["id"]
    again = v2.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.all


def test_what_is_left_alone_or_would_be_destroyed_is_counted_per_kind(v2):
    """A folder and a label are not assistants: the notes said "2 assistant(s) in state come from manifest files"
    and "the state manages 3 assistant(s)" of a state holding no assistant at all."""
    v2.write("manifests/sales.yaml", folder("sales", "Sales"))
    v2.write("manifests/support.yaml", folder("support", "Support"))
    v2.write("manifests/vip.yaml", folder("vip", "VIP", kind="Label"))
    assert v2.run("apply", "--auto-approve").exit_code == 0
    narrower = v2.run("plan", "manifests/sales.yaml")
    assert narrower.exit_code == 0, narrower.all
    assert "1 folder(s), 1 label(s) in state come from manifest files that exist" in narrower.output, narrower.all
    for name in ("sales", "support", "vip"):
        (v2.root / "manifests" / f"{name}.yaml").unlink()
    empty = v2.run("plan")
    assert empty.exit_code == 1 and "but the state manages 2 folder(s), 1 label(s) (" in empty.stderr, empty.all



def test_a_rename_to_a_name_another_folder_keeps_is_a_plan_error_and_one_given_up_is_not(v2):
    """Folder and label names are unique in the account: a rename to the name of a folder nobody manages was
    planned as an update, and only the apply found the platform's 422 "The name has already been taken"."""
    labels = folder("old", "Old", kind="Label") + "---\n" + folder("keep", "Keep", kind="Label")
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + labels)
    assert v2.run("apply", "--auto-approve").exit_code == 0
    taken = v2.platform.http.post("/user/folder", json={"name": "Marketing"}).json()["data"]["id"]
    v2.write("manifests/groups.yaml", folder("sales", "Marketing") + "---\n" + labels)
    refused = v2.run("plan")
    assert refused.exit_code == 1, refused.all
    assert f"manifests/groups.yaml:6: folder.sales: spec.name: the platform's folder id {taken} is already named " \
        "'Marketing'" in refused.all, refused.all
    assert v2.run("apply", "--auto-approve").exit_code == 1
    assert sorted(f["name"] for f in v2.platform.http.get("/user/folders").json()["data"]) == ["Marketing", "Sales"]
    # A name this plan gives up (its label deleted) may be taken by a rename in the same plan: deletes go first.
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("keep", "Old", kind="Label"))
    applied = v2.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert [f["name"] for f in v2.platform.http.get("/user/labels").json()["data"]] == ["Old"]


def test_state_keeps_everything_an_object_uses_through_updates_and_replacements(v2):
    """docs/apply.md rule 2 orders a delete after what pointed at the object when last applied, as state records
    it. Only campaigns recorded all they used: an assistant updated along with one of the objects it uses recorded
    only that one, and a replaced assistant none, so a later delete of the others was not ordered after it."""
    tool = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: t\nspec:\n  name: lookup\n"
            "  description: Look it up.\n  endpoint: https://api.example.com/x\n  method: GET\n")
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + tool)
    v2.add("support", folder_id="folder.sales", tool_ids=["tool.t"])
    assert v2.run("apply", "--auto-approve").exit_code == 0
    uses = ["folder.sales", "tool.t"]
    assert v2.state()["resources"]["support"]["depends_on"] == uses
    v2.write("manifests/groups.yaml", folder("sales", "Sales", "red") + "---\n" + tool)
    v2.add("support", folder_id="folder.sales", tool_ids=["tool.t"], system_prompt="Be brief.")
    assert v2.run("apply", "--auto-approve").exit_code == 0
    assert v2.state()["resources"]["support"]["depends_on"] == uses
    assert v2.run("apply", "--auto-approve", "--replace", "support").exit_code == 0
    assert v2.state()["resources"]["support"]["depends_on"] == uses


def test_a_rename_to_a_name_another_rename_of_the_plan_gives_up_is_a_plan_error(v2):
    """A name renamed away in the same plan was taken as free, but updates are not ordered between them: the rename
    that takes it could run first and the apply failed half-way on the platform's 422 (folder.b renamed, folder.a
    not). The plan says so before anything is sent: two applies."""
    v2.write("manifests/groups.yaml", folder("a", "A") + "---\n" + folder("b", "B"))
    assert v2.run("apply", "--auto-approve").exit_code == 0
    v2.write("manifests/groups.yaml", folder("a", "B") + "---\n" + folder("b", "C"))
    refused = v2.run("apply", "--auto-approve")
    assert refused.exit_code == 1 and "is already named 'B'" in refused.all, refused.all
    assert sorted(f["name"] for f in v2.platform.http.get("/user/folders").json()["data"]) == ["A", "B"]


def test_reordering_an_assistants_labels_or_tools_is_no_change_and_a_different_set_is(v2):
    """API.md takes tool_ids and label_ids as sets (the wanted set, sent whole when it changes): the same
    references in another order plan nothing; one dropped plans the update."""
    from test_moved_e2e import tool

    v2.write("manifests/groups.yaml", "---\n".join(folder(f"l{i}", f"L{i}", kind="Label") for i in range(3)))
    v2.write("manifests/tools.yaml", tool("t0", "lookup_a") + "---\n" + tool("t1", "lookup_b"))
    v2.add("support", label_ids=["label.l0", "label.l1", "label.l2"], tool_ids=["tool.t0", "tool.t1"])
    result = v2.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    sent = v2.platform.admin.get(f"/_emulator/objects/assistants/{v2.state()['resources']['support']['id']}").json()
    v2.add("support", label_ids=["label.l2", "label.l0", "label.l1"], tool_ids=["tool.t1", "tool.t0"])
    result = v2.run("plan", "--detailed-exitcode")
    assert result.exit_code == 0 and "\nNo changes." in result.output, result.all
    result = v2.run("apply", "--auto-approve")
    assert result.exit_code == 0 and "\nNo changes." in result.output, result.all
    after = v2.platform.admin.get(f"/_emulator/objects/assistants/{v2.state()['resources']['support']['id']}").json()
    assert after["updated_at"] == sent["updated_at"]  # nothing was sent
    v2.add("support", label_ids=["label.l2", "label.l0"], tool_ids=["tool.t1", "tool.t0"])
    plan = plan_json(v2)
    [change] = [c for c in plan["changes"] if c["address"] == "support"]
    assert change["action"] == "update" and [f["field"] for f in change["fields"]] == ["label_ids"]


def test_a_folder_or_label_without_a_color_is_created_without_a_color_key(v2):
    """API.md documents `color: null` on update (it clears it), not on create: a create sent `"color": null`."""
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("vip", "VIP", "red", kind="Label"))
    result = v2.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    creates = {w["path"]: w["body"] for w in v2.platform.writes() if w["method"] == "POST"}
    assert creates == {"/user/folder": {"name": "Sales"}, "/user/label": {"name": "VIP", "color": "red"}}
    # Taken away later, the color is cleared with null, as API.md documents for an update.
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("vip", "VIP", kind="Label"))
    result = v2.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    assert [w["body"] for w in v2.platform.writes() if w["method"] == "PUT"] == [{"color": None}]
    assert "\nNo changes." in v2.run("plan").output


TOOL = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata: {name: lookup}\nspec:\n  name: order_lookup\n"
        "  description: Look up an order.\n  endpoint: https://api.example.com/orders\n  method: GET\n")


def test_an_empty_tool_ids_or_label_ids_added_where_the_manifest_had_none_clears_nothing_on_the_platform(v2):
    """docs/graph.md: an empty value of a field the platform never shows is no setting. `tool_ids: []` added to an
    assistant that never had the line was planned as `tool_ids = null -> []` and sent, and the platform (API.md:
    `[]` removes them all) dropped the tools and labels someone had given it on the dashboard."""
    v2.write("manifests/groups.yaml", TOOL + "---\n" + folder("vip", "VIP", kind="Label"))
    v2.add("support")
    assert v2.run("apply", "--auto-approve").exit_code == 0
    ids = {address: entry["id"] for address, entry in v2.state()["resources"].items()}
    v2.platform.put(ids["support"], tool_ids=[ids["tool.lookup"]], label_ids=[ids["label.vip"]])  # the dashboard
    stored = f"/_emulator/objects/assistants/{ids['support']}"
    writes = len(v2.platform.writes())
    empty = dict(tool_ids=[], label_ids=[], secondary_languages=[], reengagement_prompt="", voice_mail_message="")
    v2.add("support", **empty)
    plan = v2.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    v2.add("support", system_prompt="Be brief.", **empty)  # with another change: only that one is sent
    assert v2.run("apply", "--auto-approve").exit_code == 0
    [update] = v2.platform.writes()[writes:]
    assert update["body"] == {"system_prompt": "Be brief."}, update
    fields = v2.platform.admin.get(stored).json()["fields"]
    assert fields["tool_ids"] == [ids["tool.lookup"]] and fields["label_ids"] == [ids["label.vip"]]
    # Tools the manifest did manage are still cleared by `[]`, as API.md says.
    v2.add("support", system_prompt="Be brief.", tool_ids=["tool.lookup"])
    assert v2.run("apply", "--auto-approve").exit_code == 0
    v2.add("support", system_prompt="Be brief.", tool_ids=[])
    cleared = v2.run("plan")
    assert "~ tool_ids" in cleared.output and "Plan: 0 to add, 1 to change" in cleared.output, cleared.all
    assert v2.run("apply", "--auto-approve").exit_code == 0
    assert v2.platform.admin.get(stored).json()["fields"]["tool_ids"] == []


def test_an_assistant_adopted_with_an_empty_tool_ids_keeps_the_tools_the_platform_gave_it(v2):
    """Adopted by name with `tool_ids: []`, the assistant was sent `[]`: its tools, never managed, were removed."""
    v2.write("manifests/tools.yaml", TOOL)
    assert v2.run("apply", "--auto-approve").exit_code == 0
    tool_id = v2.state()["resources"]["tool.lookup"]["id"]
    made = v2.platform.create(assistant_name="Support", **REQUIRED, tool_ids=[tool_id])
    v2.add("support", tool_ids=[])
    assert v2.run("apply", "--auto-approve").exit_code == 0
    assert v2.state()["resources"]["support"]["id"] == made["id"]  # adopted by name
    stored = v2.platform.admin.get(f"/_emulator/objects/assistants/{made['id']}").json()["fields"]
    assert stored["tool_ids"] == [tool_id]
    # null is no empty value: the manifest's way to clear a setting (`folder_id: null`: uncategorized), still sent.
    v2.write("manifests/tools.yaml", TOOL + "---\n" + folder("vip", "VIP"))
    assert v2.run("apply", "--auto-approve").exit_code == 0
    other = v2.platform.create(assistant_name="Other", **REQUIRED)
    v2.platform.put(other["id"], folder_id=v2.state()["resources"]["folder.vip"]["id"])
    v2.add("other", "Other", folder_id=None)
    v2.write("manifests/other.yaml", v2.root.joinpath("manifests/other.yaml").read_text() + "  folder_id: null\n")
    assert v2.run("apply", "--auto-approve").exit_code == 0
    assert v2.platform.admin.get(f"/_emulator/objects/assistants/{other['id']}").json()["fields"]["folder_id"] is None


def test_destroy_asks_about_the_objects_it_destroys_not_only_assistants(v2):
    """destroy deletes every kind, but asked "Do you really want to destroy these assistants?" of a plan that
    destroys a folder and a label only, and its help said it deletes every assistant the state manages."""
    v2.write("manifests/groups.yaml", folder("sales", "Sales") + "---\n" + folder("vip", "VIP", kind="Label"))
    assert v2.run("apply", "--auto-approve").exit_code == 0
    asked = v2.run("destroy", "--api-url", v2.platform.url, input="no\n", api=False)
    assert "Do you really want to destroy these objects? There is no undo." in asked.output, asked.all
    assert "assistants" not in asked.output and len(v2.platform.http.get("/user/folders").json()["data"]) == 1
    assert "Delete every object the state manages" in v2.run("destroy", "--help", api=False).output
