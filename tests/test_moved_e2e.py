"""Renames without re-creating (moved blocks, docs/day-two.md), through the real CLI against the emulator over HTTP:
a rename (assistants, tools, folders, labels, knowledge bases with their documents) is a move in state (same id,
nothing sent), a rename with a field change one update, chains,
the refusals, references that still name the old address, the "this looks like a rename" hint, saved plans,
workspaces, and both state backends."""
from __future__ import annotations

import json

import pytest

from conftest import manifest_text

V2 = ("--api-dialect", "v2")


def moved(source: str, target: str) -> str:
    return f"apiVersion: provisioner/v1\nkind: Moved\nspec:\n  from: {source}\n  to: {target}\n"


def tool(address: str, name: str = "order_lookup", description: str = "Look up an order.") -> str:
    return (f"apiVersion: provisioner/v1\nkind: Tool\nmetadata: {{name: {address}}}\nspec:\n  name: {name}\n"
            f"  description: {description}\n  endpoint: https://api.example.com/orders/{{order_id}}\n  method: GET\n"
            "  schema:\n    - {name: order_id, type: string, description: The order number.}\n")


def folder(address: str, name: str = "Support", color: str = "blue") -> str:
    return f"apiVersion: provisioner/v1\nkind: Folder\nmetadata: {{name: {address}}}\nspec: {{name: {name}, color: {color}}}\n"


def state_ids(workspace) -> dict[str, int]:
    return {address: entry["id"] for address, entry in workspace.state()["resources"].items()}


def test_an_assistant_renamed_with_a_moved_block_keeps_its_id_and_sends_nothing(workspace, platform, backend):
    workspace.add("support", name="Support")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = state_ids(workspace)["support"]
    workspace.remove("support")
    workspace.add("helpdesk", name="Support")
    workspace.write("manifests/moves.yaml", moved("support", "helpdesk"))
    writes = len(platform.writes())
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.all
    assert "# helpdesk moved from support" in plan.output and "destroy" not in plan.output.replace("0 to destroy", "")
    assert "Plan: 0 to add, 0 to change, 0 to destroy, 1 to move." in plan.output
    as_json = json.loads(workspace.run("plan", "--json").output)
    assert as_json["moves"] == [{"from": "support", "to": "helpdesk", "kind": "assistant", "id": before}]
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert "1 moved" in applied.output
    assert len(platform.writes()) == writes  # only the state changed
    assert state_ids(workspace) == {"helpdesk": before}
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all
    assert "nothing to move" in again.output  # the block can stay: a note, not an error


def test_a_renamed_tool_with_a_changed_field_is_one_update_and_references_to_its_old_address_follow(workspace,
                                                                                                   platform, backend):
    workspace.write("manifests/tools.yaml", tool("lookup"))
    workspace.add("caller", tool_ids=["tool.lookup"])
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = state_ids(workspace)
    # The tool's manifest now says tool.orders; the assistant's still names tool.lookup: the move says where it went.
    workspace.write("manifests/tools.yaml", tool("orders", description="Find an order.") + "---\n"
                    + moved("tool.lookup", "tool.orders"))
    plan = workspace.run("plan", *V2)
    assert plan.exit_code == 0, plan.all
    assert "# tool.orders will be updated in-place (moved from tool.lookup)" in plan.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy, 1 to move." in plan.output
    assert "caller" not in plan.output  # its reference follows the move: same id, nothing to update
    as_json = json.loads(workspace.run("plan", "--json", *V2).output)
    from test_schemas import check_plan

    check_plan(as_json)  # moves and moved_from are in the published schema
    [change] = as_json["changes"]
    assert change["moved_from"] == "tool.lookup" and change["remote_id"] == before["tool.lookup"]
    markdown = workspace.run("plan", "--format", "markdown", *V2).output
    assert "moved from `tool.lookup`" in markdown
    writes = len(platform.writes())
    applied = workspace.run("apply", "--auto-approve", *V2)
    assert applied.exit_code == 0, applied.all
    assert [w["method"] for w in platform.writes()[writes:]] == ["PUT"]  # one update, no delete, no create
    after = state_ids(workspace)
    assert after == {"caller": before["caller"], "tool.orders": before["tool.lookup"]}
    assert workspace.state()["resources"]["caller"]["depends_on"] == ["tool.orders"]
    again = workspace.run("plan", "--detailed-exitcode", *V2)
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def test_a_chain_of_moves_goes_to_its_last_address(workspace, platform):
    workspace.write("manifests/folders.yaml", folder("a"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    folder_id = state_ids(workspace)["folder.a"]
    workspace.write("manifests/folders.yaml", folder("c") + "---\n" + moved("folder.b", "folder.c") + "---\n"
                    + moved("folder.a", "folder.b"))
    plan = workspace.run("plan", "--json", *V2)
    assert json.loads(plan.output)["moves"] == [{"from": "folder.a", "to": "folder.c", "kind": "folder",
                                                 "id": folder_id}]
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    assert state_ids(workspace) == {"folder.c": folder_id}
    assert "No changes." in workspace.run("plan", *V2).output


def test_a_chain_of_moves_reads_as_one_move_from_its_first_address_to_its_last(workspace, platform):
    """Terraform shows `# a has moved to c`. The plan showed the move, and then listed the chain's middle blocks in
    its note as blocks with nothing to move (`folder.b -> folder.d, folder.c -> folder.d`), though they moved
    folder.a; once applied, every block of the chain was an entry of that one line. A block that takes part in a
    move is now no note, and a chain with nothing to move is one entry, from its first address to its last."""
    workspace.write("manifests/folders.yaml", folder("a"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    folder_id = state_ids(workspace)["folder.a"]
    workspace.write("manifests/folders.yaml", folder("d") + "---\n" + moved("folder.b", "folder.c") + "---\n"
                    + moved("folder.a", "folder.b") + "---\n" + moved("folder.c", "folder.d"))
    text = workspace.run("plan", *V2)
    assert "  # folder.d moved from folder.a\n" in text.output, text.all
    assert "folder.b" not in text.output and "folder.c" not in text.output and "Note:" not in text.output
    markdown = workspace.run("plan", "--format", "markdown", *V2).output
    assert "| `->` move (state only) | `folder.d` | | " in markdown and "folder.b" not in markdown
    as_json = json.loads(workspace.run("plan", "--json", *V2).output)
    assert as_json["moves"] == [{"from": "folder.a", "to": "folder.d", "kind": "folder", "id": folder_id}]
    assert as_json["notes"] == []
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    again = workspace.run("plan", *V2)
    assert "No changes." in again.output, again.all
    assert ("Note: moved block(s) with nothing to move, since their `from` is not in state: folder.a -> folder.d "
            "(a chain of 3 blocks, already moved).") in again.output, again.all
    assert "folder.b" not in again.output and "folder.c" not in again.output
    markdown = workspace.run("plan", "--format", "markdown", *V2).output
    assert "folder.a -\\> folder.d (a chain of 3 blocks, already moved)" in markdown, markdown


def test_a_move_into_an_address_state_already_manages_is_refused_and_changes_nothing(workspace, platform):
    workspace.write("manifests/folders.yaml", folder("a") + "---\n" + folder("b", name="Sales"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = workspace.state()
    workspace.write("manifests/folders.yaml", folder("b", name="Sales") + "---\n" + moved("folder.a", "folder.b"))
    plan = workspace.run("plan", *V2)
    assert plan.exit_code == 1
    assert "cannot move folder.a to folder.b: the state already manages folder.b" in plan.all
    assert "folders.yaml:" in plan.all  # where the block is
    applied = workspace.run("apply", "--auto-approve", *V2)
    assert applied.exit_code == 1 and workspace.state()["resources"] == before["resources"]


def test_a_knowledge_base_moves_with_its_documents(workspace, platform):
    def kb(address: str) -> str:
        return (f"apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {{name: {address}}}\nspec:\n  name: Help\n"
                "  documents:\n    - {name: Returns, key: returns, type: website, url: \"https://example.com/r\"}\n")

    workspace.write("manifests/kb.yaml", kb("help"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = state_ids(workspace)
    workspace.write("manifests/kb.yaml", kb("faq") + "---\n" + moved("knowledgebase.help", "knowledgebase.faq"))
    plan = workspace.run("plan", "--json", *V2)
    assert plan.exit_code == 0, plan.all
    moves = {m["from"]: m["to"] for m in json.loads(plan.output)["moves"]}
    assert moves == {"knowledgebase.help": "knowledgebase.faq",
                     "knowledgebase.help.returns": "knowledgebase.faq.returns"}
    writes = len(platform.writes())
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    assert len(platform.writes()) == writes
    assert state_ids(workspace) == {"knowledgebase.faq": before["knowledgebase.help"],
                                    "knowledgebase.faq.returns": before["knowledgebase.help.returns"]}
    assert "No changes." in workspace.run("plan", *V2).output


def test_a_saved_plan_with_moves_applies_them_and_is_refused_once_stale(workspace, platform, backend):
    workspace.write("manifests/folders.yaml", folder("a"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    folder_id = state_ids(workspace)["folder.a"]
    workspace.write("manifests/folders.yaml", folder("b", color="red") + "---\n" + moved("folder.a", "folder.b"))
    saved = workspace.run("plan", "--out", "rename.plan", *V2)
    assert saved.exit_code == 0, saved.all
    assert "(moved from folder.a)" in workspace.run("show", "rename.plan").output
    planfile = workspace.root / "rename.plan"
    original = planfile.read_text()
    tampered = json.loads(original)
    tampered["moves"][0]["id"] = folder_id + 1000
    planfile.write_text(json.dumps(tampered))
    refused = workspace.run("apply", "rename.plan", *V2)
    assert refused.exit_code == 1 and "does not fit the state" in refused.all, refused.all
    assert state_ids(workspace) == {"folder.a": folder_id}
    twice = json.loads(original)  # folder.a moved to two addresses: one of them would be left unmanaged
    twice["moves"].append({**twice["moves"][0], "to": "folder.c"})
    planfile.write_text(json.dumps(twice))
    refused = workspace.run("apply", "rename.plan", *V2)
    assert refused.exit_code == 1 and "folder.a is moved twice" in refused.all, refused.all
    assert state_ids(workspace) == {"folder.a": folder_id}
    planfile.write_text(original)
    applied = workspace.run("apply", "rename.plan", *V2)
    assert applied.exit_code == 0, applied.all
    assert state_ids(workspace) == {"folder.b": folder_id}
    assert workspace.run("apply", "rename.plan", *V2).exit_code == 1  # the state moved on: stale
    assert state_ids(workspace) == {"folder.b": folder_id}


def test_moves_are_per_workspace(workspace, platform):
    workspace.write("manifests/folders.yaml", folder("a", name='"${var.name}"'))
    workspace.write("vars/default.yaml", "name: Support\n")
    workspace.write("vars/staging.yaml", "name: Support staging\n")
    for space in ("default", "staging"):
        assert workspace.run("apply", "--auto-approve", "--workspace", space, *V2).exit_code == 0
    workspace.write("manifests/folders.yaml", folder("b", name='"${var.name}"') + "---\n" + moved("folder.a", "folder.b"))
    applied = workspace.run("apply", "--auto-approve", "--workspace", "staging", *V2)
    assert applied.exit_code == 0 and "1 moved" in applied.output, applied.all
    # The default workspace has not applied the move yet: its plan still shows it; staging's is done.
    assert "# folder.b moved from folder.a" in workspace.run("plan", *V2).output
    staging = workspace.run("plan", "--workspace", "staging", *V2)
    assert "No changes." in staging.output and "nothing to move" in staging.output


def test_a_destroy_and_create_of_the_same_object_is_called_a_rename_with_the_lines_to_add(workspace, platform):
    workspace.write("manifests/folders.yaml", folder("a"))
    workspace.add("support", name="Support")
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    workspace.write("manifests/folders.yaml", folder("b"))
    workspace.remove("support")
    workspace.add("helpdesk", name="Support")
    plan = workspace.run("plan", *V2)
    assert plan.exit_code == 0, plan.all
    assert "this looks like a rename: folder.a" in plan.output
    assert "kind: Moved\nspec:\n  from: folder.a\n  to: folder.b" in plan.output
    assert "this looks like a rename: support" in plan.output and "  from: support\n  to: helpdesk" in plan.output
    notes = json.loads(workspace.run("plan", "--json", *V2).output)["notes"]
    assert sum("this looks like a rename" in n for n in notes) == 2
    markdown = workspace.run("plan", "--format", "markdown", *V2).output
    assert "  ```yaml\n  ---\n  apiVersion: provisioner/v1\n  kind: Moved\n  spec:\n    from: folder.a\n    to: folder.b\n  ```" in markdown
    # The lines it printed, added as they are, make the plan a rename.
    block = plan.output.split("this looks like a rename: folder.a", 1)[1].split("\n---\n", 1)[1].split("\n\n", 1)[0]
    workspace.write("manifests/moves.yaml", block + "\n---\n" + moved("support", "helpdesk"))
    renamed = workspace.run("plan", *V2)
    assert "this looks like a rename" not in renamed.output
    assert "Plan: 0 to add, 0 to change, 0 to destroy, 2 to move." in renamed.output, renamed.output


def test_a_changed_spec_under_a_new_name_is_no_rename(workspace, platform):
    workspace.write("manifests/folders.yaml", folder("a"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    workspace.write("manifests/folders.yaml", folder("b", name="Sales"))
    assert "looks like a rename" not in workspace.run("plan", *V2).output


def test_a_moved_block_whose_from_is_not_in_state_does_nothing_but_say_so(workspace, platform):
    workspace.write("manifests/labels.yaml", "apiVersion: provisioner/v1\nkind: Label\nmetadata: {name: vip}\n"
                    "spec: {name: VIP}\n---\n" + moved("label.gold", "label.vip"))
    plan = workspace.run("plan", *V2)
    assert plan.exit_code == 0, plan.all
    assert "+ label \"vip\"" in plan.output and "moved from" not in plan.output
    assert "moved block(s) with nothing to move, since their `from` is not in state: label.gold -> label.vip" \
        in plan.output
    assert json.loads(workspace.run("plan", "--json", *V2).output)["moves"] == []


def test_validate_names_the_line_of_a_bad_moved_block(workspace):
    workspace.write("manifests/moves.yaml", moved("folder.a", "label.b"))
    result = workspace.run("validate")
    assert result.exit_code == 1
    assert "manifests/moves.yaml:5: spec.to: folder.a is a folder and label.b a label" in result.all


def kbs(faq_in: str) -> str:
    """Knowledge bases one and two, the Faq document in `faq_in`."""
    documents = {"one": "    - {name: Pricing, key: pricing, type: website, url: \"https://example.com/p\"}\n",
                 "two": "    - {name: Keep, key: keep, type: website, url: \"https://example.com/k\"}\n"}
    documents[faq_in] += "    - {name: Faq, key: faq, type: website, url: \"https://example.com/f\"}\n"
    return "---\n".join(f"apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {{name: {name}}}\nspec:\n"
                        f"  name: KB {name}\n  documents:\n{documents[name]}" for name in ("one", "two"))


@pytest.mark.parametrize("imported, saved", [(False, False), (True, False), (False, True), (True, True)])
def test_a_document_moved_to_another_knowledge_base_deletes_its_old_self_where_it_was(workspace, platform, imported,
                                                                                     saved):
    """The move changes the document's knowledge base: a -/+ whose old half lives under the old knowledge base. Its
    delete sent under the new one answered 404 ("already gone"): the old document stayed on the platform, forgotten.
    Imported, the document has no spec in state to say where it was: the knowledge base it was read under does.
    Saved, the plan was refused as stale ("id N is gone from the platform"): apply looked for the old half under the
    new knowledge base only."""
    workspace.write("manifests/kb.yaml", kbs("two"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = state_ids(workspace)
    if imported:
        workspace.lose_state()
        for address in sorted(before, key=lambda a: a.count(".")):  # a knowledge base before its documents
            assert workspace.run("import", address, str(before[address]), *V2).exit_code == 0
    workspace.write("manifests/kb.yaml", kbs("one") + "---\n"
                    + moved("knowledgebase.two.faq", "knowledgebase.one.faq"))
    if saved:
        assert workspace.run("plan", "--out", "move.plan", *V2).exit_code == 0
    applied = workspace.run("apply", *(("move.plan",) if saved else ("--auto-approve", *V2)))
    assert applied.exit_code == 0, applied.all
    old = before["knowledgebase.two.faq"]
    [delete] = [w for w in platform.writes() if w["method"] == "DELETE"]
    assert delete["path"] == f"/user/knowledgebases/{before['knowledgebase.two']}/documents/{old}"
    listed = platform.http.get(f"/user/knowledgebases/{before['knowledgebase.two']}/documents").json()["data"]
    assert [d["name"] for d in listed] == ["Keep"]  # the old Faq is gone, not left behind unmanaged
    assert "No changes." in workspace.run("plan", *V2).output


def test_destroy_targets_the_address_a_moved_block_gives_and_takes_what_uses_it(workspace, platform):
    """A destroy skipped the moved blocks, while the manifests' references follow them: `destroy --target
    tool.orders` (the tool's address now, a block not applied yet) found it in no state and destroyed only the
    assistant that uses it, leaving the tool; `--target tool.lookup` (its address in state) destroyed the tool and
    left the assistant that uses it."""
    workspace.write("manifests/tools.yaml", tool("lookup"))
    workspace.add("caller", tool_ids=["tool.lookup"])
    workspace.add("other", name="Other")
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = state_ids(workspace)
    workspace.write("manifests/tools.yaml", tool("orders"))
    workspace.write("manifests/moves.yaml", moved("tool.lookup", "tool.orders"))
    old = workspace.run("destroy", "--target", "tool.lookup", *V2, input="no\n")
    assert old.exit_code == 1 and "'tool.lookup' names no manifest and nothing in state" in old.all, old.all
    destroyed = workspace.run("destroy", "--target", "tool.orders", "--auto-approve", *V2)
    assert destroyed.exit_code == 0, destroyed.all
    assert "tool.orders will be destroyed (moved from tool.lookup)" in destroyed.output, destroyed.output
    assert state_ids(workspace) == {"other": before["other"]}
    assert platform.http.get("/user/tools").json() == []


def _kb_with(address: str, key: str) -> str:
    return (f"apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {{name: {address}}}\nspec:\n  name: Help\n"
            f"  documents:\n    - {{name: Returns, key: {key}, type: website, url: \"https://example.com/r\"}}\n")


def test_a_document_renamed_after_its_knowledge_base_moved_follows_both_blocks(workspace, platform):
    """A workspace that had not applied the knowledge base's rename (help -> faq) gets the later document rename
    (faq.returns -> faq.refunds) with it: the document's chain goes through its parent's move. It was moved to
    faq.returns only, and the plan destroyed it and created faq.refunds."""
    _renamed_twice_moves_both(workspace, platform, ("knowledgebase.help", "knowledgebase.faq"),
                              ("knowledgebase.faq.returns", "knowledgebase.faq.refunds"))


def test_a_knowledge_base_renamed_after_its_document_moved_takes_the_moved_document(workspace, platform):
    """The other order: help.returns -> help.refunds was applied elsewhere, then help -> faq. The document went
    to help.refunds, under a knowledge base that had moved away: orphaned, destroyed, and faq.refunds created."""
    _renamed_twice_moves_both(workspace, platform, ("knowledgebase.help.returns", "knowledgebase.help.refunds"),
                              ("knowledgebase.help", "knowledgebase.faq"))


def _renamed_twice_moves_both(workspace, platform, *blocks: tuple[str, str]) -> None:
    """Knowledge base help with document returns applied; then the manifest renamed to faq and refunds with these
    two moved blocks: both entries move, ids kept, and the apply sends nothing."""
    workspace.write("manifests/kb.yaml", _kb_with("help", "returns"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = state_ids(workspace)
    workspace.write("manifests/kb.yaml", _kb_with("faq", "refunds") + "".join(
        "---\n" + moved(source, target) for source, target in blocks))
    plan = workspace.run("plan", "--json", *V2)
    assert plan.exit_code == 0, plan.all
    assert {m["from"]: m["to"] for m in json.loads(plan.output)["moves"]} == {
        "knowledgebase.help": "knowledgebase.faq", "knowledgebase.help.returns": "knowledgebase.faq.refunds"}
    writes = len(platform.writes())
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    assert len(platform.writes()) == writes
    assert state_ids(workspace) == {"knowledgebase.faq": before["knowledgebase.help"],
                                    "knowledgebase.faq.refunds": before["knowledgebase.help.returns"]}


def test_a_plan_of_narrower_paths_follows_a_moved_block_in_a_file_it_was_not_given(workspace, platform):
    """Moved blocks are the repository's: `plan manifests/team` read only the blocks under manifests/team, so a tool
    renamed there, its block in manifests/moves.yaml, was destroyed and made again (a new id), and the assistant
    still naming the old address could not be read at all."""
    workspace.write("manifests/team/tools.yaml", tool("lookup"))
    workspace.write("manifests/team/caller.yaml", manifest_text("caller", tool_ids=["tool.lookup"]))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = state_ids(workspace)
    workspace.write("manifests/team/tools.yaml", tool("orders"))
    workspace.write("manifests/moves.yaml", moved("tool.lookup", "tool.orders"))
    plan = workspace.run("plan", "manifests/team", *V2)
    assert plan.exit_code == 0, plan.all
    assert "# tool.orders moved from tool.lookup" in plan.output
    assert "Plan: 0 to add, 0 to change, 0 to destroy, 1 to move." in plan.output
    # A secret sent by the saved plan is read back from its manifests, which are read again: the block with them.
    workspace.write("manifests/team/caller.yaml", manifest_text("caller", tool_ids=["tool.lookup"],
                                                                webhook_url="https://hooks.example.com/s3cret"))
    saved = workspace.run("plan", "manifests/team", "--out", "team.plan", *V2)
    assert saved.exit_code == 0, saved.all
    writes = len(platform.writes())
    applied = workspace.run("apply", "team.plan", *V2)
    assert applied.exit_code == 0, applied.all
    assert [w["method"] for w in platform.writes()[writes:]] == ["PUT"]  # the caller's webhook; the tool only moved
    assert state_ids(workspace) == {"caller": before["caller"], "tool.orders": before["tool.lookup"]}
    assert "No changes." in workspace.run("plan", *V2).output


def test_a_narrower_plan_leaves_alone_what_a_moved_block_takes_to_a_manifest_it_was_not_given(workspace, platform):
    """The block moves tool.lookup (recorded from manifests/team/tools.yaml) to tool.orders, whose manifest is now in
    manifests/other/: a plan of manifests/team found no manifest for it in a file it was given, and destroyed it.
    The object is left alone, at its new address, in that plan and in the next."""
    workspace.write("manifests/team/tools.yaml", tool("lookup"))
    workspace.write("manifests/team/folders.yaml", folder("support"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = state_ids(workspace)
    workspace.write("manifests/team/tools.yaml", folder("sales", name="Sales"))
    workspace.write("manifests/other/tools.yaml", tool("orders"))
    workspace.write("manifests/moves.yaml", moved("tool.lookup", "tool.orders"))
    plan = workspace.run("plan", "--json", "manifests/team", *V2)
    assert plan.exit_code == 0, plan.all
    as_json = json.loads(plan.output)
    assert [(c["address"], c["action"]) for c in as_json["changes"]] == [("folder.sales", "create")]
    assert as_json["moves"] == [{"from": "tool.lookup", "to": "tool.orders", "kind": "tool",
                                 "id": before["tool.lookup"]}]
    assert {"address": "tool.orders", "source": "manifests/other/tools.yaml"} in as_json["left_alone"]
    applied = workspace.run("apply", "manifests/team", "--auto-approve", *V2)
    assert applied.exit_code == 0, applied.all
    assert state_ids(workspace)["tool.orders"] == before["tool.lookup"]
    again = workspace.run("plan", "--detailed-exitcode", "manifests/team", *V2)
    assert again.exit_code == 0 and "No changes." in again.output, again.all
    whole = workspace.run("plan", "--detailed-exitcode", *V2)
    assert whole.exit_code in (0, 2) and "destroy" not in whole.output.replace("0 to destroy", ""), whole.all


def test_a_bad_moved_block_outside_the_paths_given_is_refused_with_its_line(workspace, platform):
    """A block the narrower plan cannot follow (here one whose `to` is another kind) is an error naming its file and
    line, as in a plan of every manifest, and nothing is changed."""
    workspace.write("manifests/team/tools.yaml", tool("lookup"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = workspace.state()["resources"]
    workspace.write("manifests/team/tools.yaml", tool("orders"))
    workspace.write("manifests/moves.yaml", moved("tool.lookup", "folder.orders"))
    for command in (("plan",), ("apply", "--auto-approve"), ("validate",)):
        result = workspace.run(*command, "manifests/team", *V2)
        assert result.exit_code == 1, result.all
        assert "manifests/moves.yaml:" in result.all and "a move stays within its kind" in result.all, result.all
    assert workspace.state()["resources"] == before


def test_a_narrower_run_refuses_a_block_whose_from_still_has_a_manifest_in_a_file_it_was_not_given(workspace,
                                                                                                     platform):
    """Both addresses would be managed: a plan of every manifest says so; a narrower one moved the entry and left the
    old manifest for a later plan to make again."""
    workspace.write("manifests/team/tools.yaml", tool("lookup"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = workspace.state()["resources"]
    workspace.write("manifests/team/tools.yaml", tool("orders"))
    workspace.write("manifests/other/tools.yaml", tool("lookup", name="lookup_again"))
    workspace.write("manifests/moves.yaml", moved("tool.lookup", "tool.orders"))
    for command in (("plan",), ("apply", "--auto-approve")):
        result = workspace.run(*command, "manifests/team", *V2)
        assert result.exit_code == 1, result.all
        assert ("manifests/moves.yaml:4: spec.from: tool.lookup still has a manifest (manifests/other/tools.yaml)"
                in result.all), result.all
    assert workspace.run("plan", *V2).exit_code == 1
    assert workspace.state()["resources"] == before


def test_a_narrow_plan_parses_only_the_project_files_it_needs(workspace, platform):
    """Every file of the project's manifest paths was parsed by a plan given narrower paths, for the moved blocks and
    manifests they might hold: 2 s of a 10,000-manifest project's `plan manifests/team` (0.3 s before blocks were
    read there). A file is parsed for its blocks only when its text can spell `Moved`, and for its manifests only
    when a block's `from` or an entry the paths no longer declare asks: a file that cannot be read is an error then,
    and only then."""
    workspace.write("manifests/team/tools.yaml", tool("lookup"))
    workspace.write("manifests/other/folders.yaml", folder("support"))
    assert workspace.run("apply", "--auto-approve", *V2).exit_code == 0
    before = workspace.state()["resources"]
    workspace.write("manifests/other/draft.yaml", "apiVersion: provisioner/v1\nkind: Folder\nspec: [unclosed\n")
    plan = workspace.run("plan", "--detailed-exitcode", "manifests/team", *V2)
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    workspace.write("manifests/team/tools.yaml", tool("orders"))
    workspace.write("manifests/moves.yaml", moved("tool.lookup", "tool.orders"))
    plan = workspace.run("plan", "manifests/team", *V2)
    assert plan.exit_code == 0 and "1 to move." in plan.output, plan.all
    # A block that can be spelled only with an escape is read too.
    workspace.write("manifests/moves.yaml", moved("tool.lookup", "tool.orders").replace("kind: Moved",
                                                                                          'kind: "\\x4Doved"'))
    plan = workspace.run("plan", "manifests/team", *V2)
    assert plan.exit_code == 0 and "1 to move." in plan.output, plan.all
    # An entry the paths no longer declare may have its manifest in the file that cannot be read: refused, never
    # destroyed.
    workspace.write("manifests/team/tools.yaml", folder("sales", name="Sales"))
    (workspace.root / "manifests/moves.yaml").unlink()
    for command in (("plan",), ("apply", "--auto-approve")):
        result = workspace.run(*command, "manifests/team", *V2)
        assert result.exit_code == 1 and "manifests/other/draft.yaml" in result.all, result.all
    assert workspace.state()["resources"] == before
    (workspace.root / "manifests/other/draft.yaml").unlink()
    plan = workspace.run("plan", "--json", "manifests/team", *V2)
    assert plan.exit_code == 0, plan.all
    assert sorted((c["address"], c["action"]) for c in json.loads(plan.output)["changes"]) == [
        ("folder.sales", "create"), ("tool.lookup", "delete")]
