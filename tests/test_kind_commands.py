"""Every command per kind, end to end through the real CLI against the emulator over HTTP: import, refresh and
state list|show|rm|mv with folders, labels and assistants, on SQLite and PostgreSQL."""
import json
from pathlib import Path

from test_graph_e2e import folder, v2  # noqa: F401 (v2: a fixture)

ROOT = Path(__file__).resolve().parent.parent


def grouping(address, name, kind="Folder", color=None):
    return folder(address, name, color, kind)


def made(workspace, path, **body):
    answer = workspace.platform.http.post(path, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]["id"]


def ok(result):
    assert result.exit_code == 0, result.all
    return result


def test_import_refuses_unknown_ids_wrong_kinds_and_missing_manifests(v2):
    v2.write("manifests/groups.yaml", grouping("sales", "Sales"))
    missing = v2.run("import", "folder.sales", "999")
    assert missing.exit_code == 1 and "no folder with id 999" in missing.all
    label_id = made(v2, "/user/label", name="Sales")
    wrong = v2.run("import", "folder.sales", str(label_id + 1000))
    assert wrong.exit_code == 1 and "no folder with id" in wrong.all
    nothing = v2.run("import", "label.vip", str(label_id))
    assert nothing.exit_code == 1 and "no manifest has the address 'label.vip'" in nothing.all
    strange = v2.run("import", "gadget.x", "1")
    assert strange.exit_code == 1 and "'gadget' is not a kind this version imports" in strange.all
    # The addresses it lists are ones import takes: a document's is its knowledge base's, never `document.NAME`.
    assert "knowledgebase.NAME.KEY" in strange.all and "document.NAME" not in strange.all, strange.all
    assert v2.state()["resources"] == {}


def test_import_state_list_show_mv_rm_per_kind(v2, backend):
    folder_id = made(v2, "/user/folder", name="Sales", color="blue")
    label_id = made(v2, "/user/label", name="VIP")
    v2.write("manifests/groups.yaml", grouping("sales", "Sales", color="blue") + "---\n"
             + grouping("vip", "VIP", kind="Label") + "---\n" + grouping("spare", "Spare", kind="Label"))
    ok(v2.run("import", "folder.sales", str(folder_id)))
    ok(v2.run("import", "label.vip", str(label_id)))
    again = v2.run("import", "label.spare", str(label_id))
    assert again.exit_code == 1 and "already managed as 'label.vip'" in again.all
    listed = json.loads(ok(v2.run("state", "list", "--json")).output)
    assert listed == [{"address": "folder.sales", "kind": "folder", "id": folder_id, "protect": False},
                      {"address": "label.vip", "kind": "label", "id": label_id, "protect": False}]
    assert f"folder.sales\tid={folder_id}\tkind=folder" in ok(v2.run("state", "list")).output
    shown = json.loads(ok(v2.run("state", "show", "folder.sales")).output)
    assert shown["kind"] == "folder" and shown["platform"] == {"name": "Sales", "color": "blue"}
    # Imported objects plan nothing (the state says which they are); only the spare label is to create.
    changes = json.loads(ok(v2.run("plan", "--json")).output)["changes"]
    assert [(c["address"], c["action"]) for c in changes] == [("label.spare", "create")]
    across = v2.run("state", "mv", "folder.sales", "label.sales")
    assert across.exit_code == 1 and "renames within a kind only" in across.all
    ok(v2.run("state", "mv", "label.vip", "label.spare"))
    assert [e["address"] for e in json.loads(ok(v2.run("state", "list", "--json")).output)] == [
        "folder.sales", "label.spare"]
    ok(v2.run("state", "rm", "folder.sales"))
    assert list(v2.state()["resources"]) == ["label.spare"]
    assert v2.platform.http.get("/user/folders").json()["data"][0]["id"] == folder_id  # still on the platform


def test_refresh_per_kind_updates_and_forgets(v2, backend):
    folder_id = made(v2, "/user/folder", name="Sales")
    label_id = made(v2, "/user/label", name="VIP")
    v2.write("manifests/groups.yaml", grouping("sales", "Sales") + "---\n" + grouping("vip", "VIP", kind="Label"))
    ok(v2.run("import", "folder.sales", str(folder_id)))
    ok(v2.run("import", "label.vip", str(label_id)))
    assert v2.platform.http.put(f"/user/folder/{folder_id}", json={"color": "red"}).status_code == 200
    assert v2.platform.http.delete(f"/user/label/{label_id}").status_code == 200
    out = ok(v2.run("refresh")).output
    assert f"folder.sales: refreshed from the platform (id {folder_id}; changed there: color)" in out
    assert f"label.vip: id {label_id} is gone from the platform; removed from state" in out
    assert "1 folder(s), 1 label(s)" in out
    assert json.loads(ok(v2.run("state", "show", "folder.sales")).output)["platform"]["color"] == "red"
    assert list(v2.state()["resources"]) == ["folder.sales"]


def test_import_assistant_by_either_address_and_state_commands_take_assistant_prefix(v2, backend):
    v2.add("support")
    item = v2.platform.create(name="Support", voice_id=1, language_id=1, type="outbound", mode="pipeline",
                              timezone="America/New_York", initial_message="Hi", system_prompt="Be helpful.",
                              llm_model_id=11)
    ok(v2.run("import", "assistant.support", str(item["id"])))
    assert json.loads(ok(v2.run("state", "list", "--json")).output) == [
        {"address": "support", "kind": "assistant", "id": item["id"], "protect": False}]
    assert json.loads(ok(v2.run("state", "show", "assistant.support")).output)["kind"] == "assistant"
    across = v2.run("state", "mv", "support", "folder.support")
    assert across.exit_code == 1 and "renames within a kind only" in across.all
    assert "'support' is an assistant and" in across.all, across.all  # was "is a assistant"
    ok(v2.run("state", "mv", "assistant.support", "helpdesk"))
    out = ok(v2.run("refresh")).output
    assert "Refreshed 1 object(s) in state (1 assistant(s))" in out
    ok(v2.run("state", "rm", "assistant.helpdesk"))
    assert v2.state()["resources"] == {}


def test_export_writes_every_kind_nothing_manages_and_the_manifests_adopt_without_changes(v2):
    folder_id = made(v2, "/user/folder", name="Sales Team", color="teal")
    made(v2, "/user/label", name="VIP")
    made(v2, "/user/label", name="Managed")
    v2.write("manifests/groups.yaml", grouping("managed", "Managed", kind="Label"))
    result = ok(v2.run("export", "--out", "exported"))
    assert result.output.strip().endswith("Exported 0 assistant(s), 1 folder(s), 1 label(s).")
    files = sorted(p.name for p in (v2.root / "exported").glob("*.yaml"))
    assert files == ["folder.sales-team.yaml", "label.vip.yaml"]  # the label a manifest adopts is not exported
    import yaml
    document = yaml.safe_load((v2.root / "exported" / "folder.sales-team.yaml").read_text())
    assert document == {"apiVersion": "provisioner/v1", "kind": "Folder", "metadata": {"name": "sales-team"},
                        "spec": {"name": "Sales Team", "color": "teal"}}
    assert yaml.safe_load((v2.root / "exported" / "label.vip.yaml").read_text())["spec"] == {"name": "VIP"}
    for name in files:
        (v2.root / "manifests" / name).write_text((v2.root / "exported" / name).read_text())
    ok(v2.run("validate"))
    # Each exported manifest adopts its object, with nothing to change.
    changes = json.loads(ok(v2.run("plan", "--json")).output)["changes"]
    assert sorted((c["address"], c["action"], c["body"] or None) for c in changes) == [
        ("folder.sales-team", "import", None), ("label.managed", "import", None), ("label.vip", "import", None)]
    again = ok(v2.run("export", "--out", "exported2"))
    assert again.output.strip().endswith("Exported 0 assistant(s).")
    assert folder_id


def test_export_to_an_out_that_is_a_file_is_refused_naming_out_before_any_read(v2):
    """`export --out manifests/sales.yaml` (a file where the folder goes) read the platform, then said "export could
    not write manifests/sales.yaml/folder.x.yaml (File exists)", a path that is none; it is refused at once, naming
    --out, and nothing is written."""
    made(v2, "/user/folder", name="Sales Team", color="teal")
    sales = v2.add("sales")
    before = sales.read_text()
    requests = v2.platform.stats()["total"]
    result = v2.run("export", "--out", "manifests/sales.yaml")
    assert result.exit_code == 1, result.all
    assert ("--out manifests/sales.yaml exists and is not a folder: export writes a manifest per object into a "
            "folder; nothing was written") in result.stderr
    assert sales.read_text() == before and v2.platform.stats()["total"] == requests


def test_exported_kinds_imported_plan_no_changes(v2, backend):
    folder_id = made(v2, "/user/folder", name="Ops", color="red")
    ok(v2.run("export", "--out", "exported"))
    (v2.root / "manifests" / "folder.ops.yaml").write_text((v2.root / "exported" / "folder.ops.yaml").read_text())
    ok(v2.run("import", "folder.ops", str(folder_id)))
    assert "No changes." in ok(v2.run("plan")).output


def test_plan_target_of_a_folder_plans_it_alone_and_of_an_assistant_pulls_it_in(v2):
    v2.write("manifests/groups.yaml", grouping("sales", "Sales") + "---\n" + grouping("vip", "VIP", kind="Label"))
    v2.add("support", folder_id="folder.sales")
    alone = json.loads(ok(v2.run("plan", "--json", "--target", "folder.sales")).output)
    assert [c["address"] for c in alone["changes"]] == ["folder.sales"]
    pulled = json.loads(ok(v2.run("plan", "--json", "--target", "support")).output)
    assert sorted(c["address"] for c in pulled["changes"]) == ["folder.sales", "support"]


def test_destroy_target_of_a_folder_takes_the_assistant_in_it_along(v2, backend):
    folder_id = made(v2, "/user/folder", name="Sales")
    label_id = made(v2, "/user/label", name="VIP")
    v2.write("manifests/groups.yaml", grouping("sales", "Sales") + "---\n" + grouping("vip", "VIP", kind="Label"))
    v2.add("support", folder_id="folder.sales")
    item = v2.platform.create(name="Support", voice_id=1, language_id=1, type="outbound", mode="pipeline",
                              timezone="America/New_York", initial_message="Hi", system_prompt="Be helpful.",
                              llm_model_id=11)
    for address, remote_id in (("folder.sales", folder_id), ("label.vip", label_id), ("support", item["id"])):
        ok(v2.run("import", address, str(remote_id)))
    planned = json.loads(ok(v2.run("plan", "--json", "--destroy", "--target", "folder.sales")).output)
    assert sorted((c["address"], c["action"]) for c in planned["changes"]) == [("folder.sales", "delete"),
                                                                              ("support", "delete")]
    ok(v2.run("destroy", "--auto-approve", "--target", "folder.sales"))
    assert [e["address"] for e in json.loads(ok(v2.run("state", "list", "--json")).output)] == ["label.vip"]
    assert v2.platform.http.get("/user/folders").json()["data"] == []
    assert [x["id"] for x in v2.platform.http.get("/user/labels").json()["data"]] == [label_id]


def test_applied_kinds_are_listed_refreshed_and_not_exported(v2, backend):
    v2.write("manifests/groups.yaml", grouping("sales", "Sales", color="blue") + "---\n"
             + grouping("vip", "VIP", kind="Label"))
    v2.add("support", folder_id="folder.sales", label_ids=["label.vip"])
    ok(v2.run("apply", "--auto-approve"))
    listed = json.loads(ok(v2.run("state", "list", "--json")).output)
    assert [(e["address"], e["kind"]) for e in listed] == [("folder.sales", "folder"), ("label.vip", "label"),
                                                           ("support", "assistant")]
    assert json.loads(ok(v2.run("state", "show", "label.vip")).output)["platform"] == {"name": "VIP", "color": None}
    refreshed = ok(v2.run("refresh")).output
    assert "Refreshed 3 object(s) in state (1 assistant(s), 1 folder(s), 1 label(s)): 0 updated" in refreshed
    assert ok(v2.run("export", "--out", "exported")).output.strip().endswith("Exported 0 assistant(s).")
    assert "No changes." in ok(v2.run("plan")).output


def test_refresh_right_after_an_apply_finds_nothing_changed_on_the_platform(v2):
    """Apply and refresh keep the platform's view in one form (a tool's header values digested per name)."""
    from test_kinds_plan_e2e import tool_manifest

    v2.write("manifests/tool.yaml", tool_manifest())
    v2.add("caller", calls_direction="make")
    ok(v2.run("apply", "--auto-approve"))
    ok(v2.run("refresh"))  # the assistant's whole view (an apply records what it sent)
    serial = v2.state()["serial"]
    out = ok(v2.run("refresh")).output
    assert "changed there" not in out and "0 updated from the platform" in out, out
    assert v2.state()["serial"] == serial, "nothing new: nothing written (a saved plan stays valid)"


def test_refresh_reads_documents_under_their_knowledge_base(v2):
    """Every kind, documents included: one deleted outside the provisioner is forgotten; the rest read back as
    recorded (nothing "changed there" right after an apply)."""
    import pathlib

    for example in (pathlib.Path(__file__).parent.parent / "manifests").glob("*.yaml"):  # the README's example
        v2.write(f"manifests/{example.name}", example.read_text())
    ok(v2.run("apply", "--auto-approve"))
    resources = v2.state()["resources"]
    documents = sorted(a for a in resources if a.startswith("knowledgebase.help."))
    assert documents
    first = ok(v2.run("refresh")).output
    assert "changed there" not in first and "0 updated from the platform, 0 removed" in first, first
    assert "document(s)" in first, first
    kb, doc = resources["knowledgebase.help"]["id"], resources[documents[0]]["id"]
    assert v2.platform.http.delete(f"/user/knowledgebases/{kb}/documents/{doc}").status_code in (200, 204)
    out = ok(v2.run("refresh")).output
    assert f"{documents[0]}: id {doc} is gone from the platform; removed from state" in out, out
    assert documents[0] not in v2.state()["resources"]


def test_an_exported_tool_asks_for_each_header_value_by_name_and_then_adopts_with_nothing_to_change(v2, monkeypatch):
    """A tool's headers read as a mapping of name to value: each value a variable of its own, the names kept."""
    secret = "Bearer sk_live_EXPORT-DO-NOT-LEAK"
    made(v2, "/user/tools", name="order_lookup", description="Look up an order.", method="GET",
         endpoint="https://api.example.com/orders", headers=[{"name": "Authorization", "value": secret}])
    result = ok(v2.run("export", "--out", "exported"))
    [path] = (v2.root / "exported").glob("tool.*.yaml")
    text = path.read_text()
    assert secret not in text and secret not in result.all
    variable = next(word for word in result.output.split() if word.endswith("_HEADERS_AUTHORIZATION"))
    monkeypatch.setenv(variable, secret)
    (v2.root / "manifests" / path.name).write_text(text)
    ok(v2.run("validate"))
    changes = json.loads(ok(v2.run("plan", "--json")).output)["changes"]
    assert [(c["action"], c["body"] or None) for c in changes] == [("import", None)], changes


def test_an_exported_text_holding_a_reference_reads_back_as_the_same_text(v2, monkeypatch):
    """Only assistants' texts were escaped on export: a tool whose description says `${env.X}` was exported as is,
    and applying the manifest sent the environment's X (the API token itself) to the platform."""
    token_reference = "see ${env.PROVISIONER_API_TOKEN} and ${var.region}"
    tool_id = made(v2, "/user/tools", name="order_lookup", description=token_reference, method="GET",
                   endpoint="https://api.example.com/orders")
    ok(v2.run("export", "--out", "exported"))
    [path] = (v2.root / "exported").glob("tool.*.yaml")
    (v2.root / "manifests" / path.name).write_text(path.read_text())
    ok(v2.run("validate"))
    changes = json.loads(ok(v2.run("plan", "--json")).output)["changes"]
    assert [(c["action"], c["body"] or None) for c in changes] == [("import", None)], changes
    ok(v2.run("apply", "--auto-approve"))
    held = v2.platform.http.get("/user/tools").json()  # a bare array (API.md)
    assert [t["description"] for t in held if t["id"] == tool_id] == [token_reference]


def test_export_addresses_never_collide():
    """`faq-9` (id 5), then `FAQ` (id 7) and `faq` (id 9): the third took `faq-9`, the first's address, and its
    file was written over the first's (a manifest lost, a reference pointing at the wrong object)."""
    from provisioner.workflow.export_kinds import address_for

    taken: set[str] = set()
    for name, remote_id in (("faq-9", 5), ("FAQ", 7), ("faq", 9), ("faq", 9), ("", 3), ("", 3)):
        address = address_for("knowledgebase", name, remote_id, taken)
        assert address not in taken and address.startswith("knowledgebase.")
        taken.add(address)
    assert len(taken) == 6


def test_two_headers_whose_names_make_one_variable_get_a_variable_each(v2, monkeypatch):
    """`X-Api-Key` and `x_api_key` both became ..._HEADERS_X_API_KEY: one variable for both, so applying the
    exported manifest sent one credential in the other's place."""
    made(v2, "/user/tools", name="order_lookup", description="Look up an order.", method="GET",
         endpoint="https://api.example.com/orders",
         headers=[{"name": "X-Api-Key", "value": "first-E2E-secret"}, {"name": "x_api_key", "value": "second-E2E"}])
    result = ok(v2.run("export", "--out", "exported"))
    names = sorted({word.strip(".,;") for word in result.output.split() if "_HEADERS_X_API_KEY" in word})
    assert len(names) == 2, result.output
    [path] = (v2.root / "exported").glob("tool.*.yaml")
    assert all(f"${{env.{name}}}" in path.read_text() for name in names)


def test_an_exported_endpoint_holding_credentials_becomes_a_variable(v2, monkeypatch):
    """A tool's endpoint `https://user:pw@...?key=...` was written into the exported file in clear (a webhook URL
    becomes ${env.X}); the file is meant for git."""
    endpoint = "https://admin:E2E_PW_68@api.example.com/orders?key=E2E_KEY_69"
    made(v2, "/user/tools", name="order_lookup", description="Look up an order.", method="GET", endpoint=endpoint)
    result = ok(v2.run("export", "--out", "exported"))
    [path] = (v2.root / "exported").glob("tool.*.yaml")
    assert "E2E_" not in path.read_text() and "E2E_" not in result.all
    variable = next(word.strip(".,;") for word in result.output.split() if word.strip(".,;").endswith("_ENDPOINT"))
    monkeypatch.setenv(variable, endpoint)
    (v2.root / "manifests" / path.name).write_text(path.read_text())
    changes = json.loads(ok(v2.run("plan", "--json")).output)["changes"]
    assert [(c["action"], c["body"] or None) for c in changes] == [("import", None)], changes


def test_an_exported_campaign_asks_for_its_assistant_which_the_platform_never_shows(v2):
    """assistant_id is required and not shown back: the exported manifest asks for it (it was silently left out,
    so the file did not validate), and once it is filled in the campaign is adopted with nothing to change."""
    import yaml

    caller = made(v2, "/user/assistant", assistant_name="Caller", voice_id=1, language="English",
                  llm_model="gpt-4o", calls_direction="make", engine_type="pipeline", timezone="Europe/London",
                  initial_message="Hi", system_prompt="Call about the winter offer.")
    made(v2, "/user/campaigns", name="Winter", assistant_id=caller)
    result = ok(v2.run("export", "--out", "exported"))
    text = (v2.root / "exported" / "campaign.winter.yaml").read_text()
    assert "# Fill in before applying: assistant_id." in text, text
    assert "assistant_id: ''  # not shown by the platform: set it before applying" in text
    assert "assistant_id" in result.output, result.output
    for name in ("campaign.winter.yaml", "caller.yaml"):
        (v2.root / "manifests" / name).write_text((v2.root / "exported" / name).read_text())
    campaign = v2.root / "manifests" / "campaign.winter.yaml"
    refused = v2.run("validate")
    assert refused.exit_code == 1 and "campaign.winter.yaml" in refused.all and "assistant_id" in refused.all
    campaign.write_text(campaign.read_text().replace("assistant_id: ''", "assistant_id: assistant.caller"))
    ok(v2.run("validate"))
    changes = json.loads(ok(v2.run("plan", "--json")).output)["changes"]
    assert sorted((c["address"], c["action"], c["body"] or None) for c in changes) == [
        ("caller", "import", None), ("campaign.winter", "import", None)], changes
    assert yaml.safe_load(text)["spec"]["name"] == "Winter"


def test_the_state_views_show_a_tools_header_values_as_sensitive_never_their_digests(v2):
    """docs/plan-format.md: sensitive values appear as "(sensitive)" in `show`. A tool's header values are digests
    inside its headers mapping, and the views masked top-level values only."""
    v2.write("manifests/tool.yaml", (ROOT / "manifests" / "tools.yaml").read_text())
    ok(v2.run("apply", "--auto-approve"))
    document = json.loads(ok(v2.run("show", "--json")).output)
    (tool,) = [r for r in document["resources"] if r["kind"] == "tool"]
    assert tool["platform"]["headers"] == {"X-Client": "(sensitive)"}, tool
    assert tool["last_applied"]["headers"] == {"X-Client": "(sensitive)"}, tool
    for args in (("show",), ("show", "--json"), ("show", "--format", "markdown")):
        shown = ok(v2.run(*args)).output
        assert "sha256:" not in shown and "acme-support" not in shown, (args, shown)


def test_export_refuses_two_unmanaged_knowledge_bases_of_one_name_and_writes_nothing(v2):
    """A knowledge base is adopted by its name as an assistant is: two manifests of one name were written, and
    export's own next plan refused them both ('adopting one would be a guess')."""
    first = made(v2, "/user/knowledgebases", name="Same", description="one")
    second = made(v2, "/user/knowledgebases", name="Same", description="two")
    made(v2, "/user/label", name="VIP")
    result = v2.run("export", "--out", "exported")
    assert result.exit_code == 1, result.all
    assert f"2 knowledge bases named 'Same' (ids {first}, {second})" in result.stderr, result.all
    assert not (v2.root / "exported").exists() or not list((v2.root / "exported").iterdir())


def test_export_writes_an_unmanaged_knowledge_base_named_as_a_managed_one(v2):
    """A manifest already in state adopts nothing: its name made export skip an unmanaged knowledge base of the same
    name, silently ('Exported 0'), though nothing manages it and its manifest adopts it without changes."""
    v2.write("manifests/kb.yaml", "apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: same\n"
             "spec:\n  name: Same\n")
    ok(v2.run("apply", "--auto-approve"))
    twin = made(v2, "/user/knowledgebases", name="Same", description="unmanaged twin")
    result = ok(v2.run("export", "--out", "exported"))
    path = v2.root / "exported" / f"knowledgebase.same-{twin}.yaml"
    assert path.exists(), result.all
    (v2.root / "manifests" / path.name).write_text(path.read_text())
    changes = json.loads(ok(v2.run("plan", "--json")).output)["changes"]
    assert [(c["address"], c["action"], c["remote_id"], bool(c["fields"])) for c in changes] == [
        (f"knowledgebase.same-{twin}", "import", twin, False)], changes


def test_export_never_replaces_a_link_of_the_users_whose_target_is_missing(v2):
    """Path.exists() follows a symbolic link: one whose target is missing 'did not exist', and export replaced the
    user's link with a new file, silently."""
    made(v2, "/user/folder", name="Ops")
    (v2.root / "exported").mkdir()
    (v2.root / "exported" / "folder.ops.yaml").symlink_to("../elsewhere/ops.yaml")
    result = v2.run("export", "--out", "exported")
    assert result.exit_code == 1 and "folder.ops.yaml exists; export will not overwrite it" in result.all, result.all
    assert (v2.root / "exported" / "folder.ops.yaml").is_symlink()
