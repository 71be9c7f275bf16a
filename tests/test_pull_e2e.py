"""End to end: `provisioner pull` against the emulator over HTTP. Objects are edited on the emulator as a dashboard
would (its admin endpoint), pull writes the drifted fields back into manifests full of comments, anchors, block
scalars, variables and overlays; every untouched line stays byte-identical and `plan` is then `No changes.`"""
from __future__ import annotations

import json
import textwrap

import pytest

from conftest import copy_graph_example

SUPPORT = textwrap.dedent("""\
    # The support line: reviewed by the CX team.
    apiVersion: provisioner/v1
    kind: Assistant
    metadata:
      name: support   # the address: never rename
      labels: {team: cx}
    spec:
      assistant_name: "Support"
      voice_id: 1
      language: English   # callers are US-based
      llm_model: gpt-4o
      calls_direction: make
      engine_type: pipeline
      timezone: &tz America/New_York
      initial_message: 'Hello!'
      # The prompt below is owned by the CX team.
      system_prompt: |
        You are a helpful support agent.
        Keep answers short.

      llm_temperature: 0.7
    """)


def run(workspace, *args):
    command, *rest = args
    return workspace.run(command, f"--api-url={workspace.platform.url}", *rest, api=False)


def patch(workspace, kind: str, remote_id: int, **fields):
    answer = workspace.platform.admin.patch(f"/_emulator/objects/{kind}/{remote_id}", json=fields)
    assert answer.status_code == 200, answer.text


def untouched_lines_identical(before: str, after: str, changed: set[int]) -> None:
    """Every line of `before` except those numbered in `changed` (1-based) is in `after`, in order, byte for byte."""
    old = before.split("\n")
    new = after.split("\n")
    kept = [line for number, line in enumerate(old, 1) if number not in changed]
    import difflib

    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    matched = {i for block in matcher.get_matching_blocks() for i in range(block.a, block.a + block.size)}
    assert [old[i] for i in sorted(matched)] == kept, "an untouched line changed"


def applied(workspace):
    result = run(workspace, "apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    return workspace.state()


def test_assistant_prompt_and_name_edited_in_the_dashboard_are_pulled_in_place(workspace):
    path = workspace.write("manifests/support.yaml", SUPPORT)
    state = applied(workspace)
    remote_id = state["resources"]["support"]["id"] if "resources" in state else None
    remote_id = remote_id or next(r["id"] for a, r in state.get("assistants", {}).items() if a == "support")
    patch(workspace, "assistants", remote_id, system_prompt="You are a helpful support agent.\nKeep answers "
          "very short.\n", assistant_name="Support desk", llm_temperature=0.4)
    before = path.read_text()
    writes = len(workspace.platform.writes())
    result = run(workspace, "pull", "--detailed-exitcode")
    assert result.exit_code == 2, result.all
    after = path.read_text()
    assert len(workspace.platform.writes()) == writes  # nothing sent to the platform
    lines = before.split("\n")
    changed = {i for i, line in enumerate(lines, 1) if line.lstrip().startswith(("assistant_name", "Keep answers",
                                                                                  "llm_temperature"))}
    untouched_lines_identical(before, after, changed)
    assert '  assistant_name: "Support desk"\n' in after
    assert "  system_prompt: |\n    You are a helpful support agent.\n    Keep answers very short.\n\n" in after
    assert "  llm_temperature: 0.4\n" in after
    plan = run(workspace, "plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    again = run(workspace, "pull", "--detailed-exitcode")
    assert again.exit_code == 0 and "Nothing to pull" in again.output, again.all
    # State recorded what the manifest now says: the next dashboard edit of the same field is drift again.
    patch(workspace, "assistants", remote_id, llm_temperature=0.3)
    third = run(workspace, "pull")
    assert "support: pulled llm_temperature" in third.output, third.all
    assert "  llm_temperature: 0.3\n" in path.read_text()


SALES = textwrap.dedent("""\
    apiVersion: provisioner/v1
    kind: Assistant
    metadata:
      name: sales
    spec:
      assistant_name: Sales
      voice_id: 1
      language: English
      llm_model: gpt-4o
      calls_direction: make
      engine_type: pipeline
      timezone: &tz America/New_York   # anchored, used nowhere else
      initial_message: "Welcome to ${var.company}!"
      system_prompt: >-
        Sell politely.
      is_webhook_active: true
      webhook_url: "${env.SALES_HOOK}"
      voice_stability: &steady 0.5
      voice_similarity: *steady
      llm_temperature: 0.7
    """)
HOOK = "https://hooks.example.com/sales?key=E2E_DO_NOT_LEAK_41"


def test_variables_overlays_secrets_and_anchors_are_named_not_written(workspace, monkeypatch):
    monkeypatch.setenv("SALES_HOOK", HOOK)
    path = workspace.write("manifests/sales.yaml", SALES)
    workspace.write("vars/prod.yaml", "# prod values\ncompany: Acme\n")
    overlay = workspace.write("overlays/prod/sales.yaml", "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n"
                              "  name: sales\nspec:\n  speech_speed: 1.1\n")
    result = run(workspace, "apply", "--auto-approve", "--workspace", "prod")
    assert result.exit_code == 0, result.all
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Sales")
    patch(workspace, "assistants", remote_id, initial_message="Welcome to Acme Corp!", speech_speed=0.9,
          webhook_url="https://hooks.example.com/sales?key=NEW_E2E_DO_NOT_LEAK_42", voice_similarity=0.6,
          timezone="Europe/Berlin", llm_temperature=0.2)
    before = path.read_text()
    # The repository defines workspaces: the base file is every workspace's, so prod's values are named, not written
    # there, unless asked for with --into-base.
    shared = run(workspace, "pull", "--workspace", "prod", "--detailed-exitcode")
    assert shared.exit_code == 0 and path.read_text() == before, shared.all
    assert "sales: llm_temperature not pulled: the base manifests are every workspace's (inputs of their own: " \
           "prod): written there, workspace prod's value would change them all; set it in overlays/prod/, or pass " \
           "--into-base" in shared.all, shared.all
    dry = run(workspace, "pull", "--dry-run", "--workspace", "prod", "--detailed-exitcode", "--into-base")
    assert dry.exit_code == 2, dry.all
    assert path.read_text() == before
    assert "-  timezone: &tz America/New_York   # anchored, used nowhere else\n" \
           "+  timezone: &tz Europe/Berlin   # anchored, used nowhere else\n" in dry.output
    assert "+  llm_temperature: 0.2\n" in dry.output
    result = run(workspace, "pull", "--workspace", "prod", "--into-base")
    assert result.exit_code == 0, result.all
    after = path.read_text()
    changed = {i for i, line in enumerate(before.split("\n"), 1) if line.lstrip().startswith(("timezone",
                                                                                            "llm_temperature"))}
    untouched_lines_identical(before, after, changed)
    assert "  timezone: &tz Europe/Berlin   # anchored, used nowhere else\n" in after
    out = result.all
    assert "sales: initial_message not pulled: its value comes from a variable: ${var.company} is set at " \
           "vars/prod.yaml:2" in out, out
    assert "sales: speech_speed not pulled: set by the workspace overlay at overlays/prod/sales.yaml:6" in out
    assert "sales: webhook_url not pulled: sensitive" in out
    assert "sales: voice_similarity not pulled: not written in place: manifests/sales.yaml:19: the value is shared " \
           "through the alias *steady; edit it by hand" in out
    assert "E2E_DO_NOT_LEAK" not in out and "E2E_DO_NOT_LEAK" not in after
    assert overlay.read_text().endswith("speech_speed: 1.1\n")
    # Only what was not pulled is left for plan to show.
    plan = run(workspace, "plan", "--workspace", "prod")
    assert "timezone" not in plan.output and "llm_temperature" not in plan.output, plan.output




@pytest.fixture
def graph(workspace, monkeypatch):
    """The graph example (a manifest of every kind), applied: the workspace, and address -> id."""
    copy_graph_example(workspace)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-E2E_DO_NOT_LEAK_55")
    monkeypatch.setenv("ORDERS_API_KEY", "key-E2E_DO_NOT_LEAK_56")
    result = run(workspace, "apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    state = workspace.state()
    return workspace, {address: entry["id"] for address, entry in state["resources"].items()}


def test_every_kind_edited_in_the_dashboard_is_pulled_and_plan_is_then_clean(graph):
    workspace, ids = graph
    manifests = workspace.root / "manifests"
    before = {p.name: p.read_text() for p in manifests.glob("*.yaml")}
    edits = {  # kind on the emulator, address, the dashboard's change, the manifest line it must become
        ("assistants", "winter-caller", "initial_message", "Hi, Sam from Acme here about your order."):
            "  initial_message: Hi, Sam from Acme here about your order.",
        ("folders", "folder.sales", "color", "red"): "  color: red",
        ("labels", "label.vip", "color", "green"): "  color: green",
        ("tools", "tool.order-lookup", "description", "Look up an order by its number."):
            "  description: Look up an order by its number.",
        ("knowledgebases", "knowledgebase.faq", "description", "Top questions"): "  description: Top questions",
        ("documents", "knowledgebase.faq.pricing", "name", "Prices"):
            '    - {name: Prices, key: pricing, type: website, url: "https://example.com/pricing"}',
        ("sip_trunks", "siptrunk.office", "nickname", "Front desk"): "  nickname: Front desk",
        ("campaigns", "campaign.winter", "max_calls_in_parallel", 5): "  max_calls_in_parallel: 5",
    }
    for (kind, address, name, value) in edits:
        patch(workspace, kind, ids[address], **{name: value})
    writes = len(workspace.platform.writes())
    result = run(workspace, "pull", "--detailed-exitcode")
    assert result.exit_code == 2, result.all
    assert len(workspace.platform.writes()) == writes
    for (kind, address, name, value), line in edits.items():
        assert f"{address}: pulled {name} into manifests/" in result.output, result.all
    after = {p.name: p.read_text() for p in manifests.glob("*.yaml")}
    new_lines = set(edits.values())
    for file, text in before.items():
        added = [line for line in after[file].split("\n") if line not in text.split("\n")]
        assert set(added) <= new_lines, (file, added)
        removed = {i for i, line in enumerate(text.split("\n"), 1) if line not in after[file].split("\n")}
        untouched_lines_identical(text, after[file], removed)
        assert len(removed) <= len(added) == sum(line in after[file] for line in new_lines), file
    # A default the label's manifest left out, set in the dashboard: added as the mapping's last key.
    assert after["groups.yaml"].endswith("  name: VIP\n  color: green\n")
    plan = run(workspace, "plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    assert "E2E_DO_NOT_LEAK" not in result.all + "".join(after.values())


def test_a_reference_comes_back_as_the_address_and_target_limits_what_is_pulled(graph):
    workspace, ids = graph
    workspace.write("manifests/returns.yaml", "apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n"
                    "  name: returns\nspec:\n  name: Returns\n  documents: []\n")
    assert run(workspace, "apply", "--auto-approve").exit_code == 0
    returns = workspace.state()["resources"]["knowledgebase.returns"]["id"]
    patch(workspace, "assistants", ids["winter-caller"], knowledgebase_id=returns)
    patch(workspace, "folders", ids["folder.sales"], color="red")
    assistant = workspace.root / "manifests" / "assistant.yaml"
    groups = (workspace.root / "manifests" / "groups.yaml").read_text()
    result = run(workspace, "pull", "--target", "assistant.winter-caller")
    assert result.exit_code == 0, result.all
    assert "  knowledgebase_id: knowledgebase.returns\n" in assistant.read_text()
    assert (workspace.root / "manifests" / "groups.yaml").read_text() == groups  # not targeted
    plan = run(workspace, "plan")
    assert "folder.sales" in plan.output and "winter-caller" not in plan.output, plan.output


def test_an_object_a_moved_block_renamed_is_pulled_at_its_new_address(graph):
    """pull read the manifests without their moved blocks: a label renamed by a block not applied yet was planned as
    a destroy and a create, so its dashboard edit was neither pulled nor named, and the assistant that names it
    (followed to the new address by plan) was said to have changed label_ids in the manifest."""
    workspace, ids = graph
    groups = workspace.root / "manifests" / "groups.yaml"
    groups.write_text(groups.read_text().replace("name: vip ", "name: gold"))
    workspace.write("manifests/moves.yaml", "apiVersion: provisioner/v1\nkind: Moved\n"
                    "spec: {from: label.vip, to: label.gold}\n")
    patch(workspace, "labels", ids["label.vip"], color="green")
    result = run(workspace, "pull")
    assert result.exit_code == 0, result.all
    assert "label.gold: pulled color into manifests/groups.yaml" in result.output, result.all
    assert "not pulled" not in result.all, result.all
    assert groups.read_text().endswith("  name: VIP\n  color: green\n")
    resources = workspace.state()["resources"]  # recorded at the new address, the move with it
    assert "label.vip" not in resources and resources["label.gold"]["id"] == ids["label.vip"]
    assert resources["label.gold"]["spec"]["color"] == "green"
    plan = run(workspace, "plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all


def test_a_dashboard_edit_after_an_import_is_drift_and_is_pulled(graph):
    """An import records no applied spec (until the next apply): a dashboard edit made after it was shown as a plain
    change, not drift, and pull refused it as "changed in the manifest since the last apply as well", though the
    manifest had not changed. What the platform showed at the import is what the manifest was compared with."""
    workspace, ids = graph
    for address in ("folder.sales", "winter-caller"):
        assert workspace.run("state", "rm", address).exit_code == 0
        imported = run(workspace, "import", address, str(ids[address]))
        assert imported.exit_code == 0, imported.all
    patch(workspace, "folders", ids["folder.sales"], color="red")
    patch(workspace, "assistants", ids["winter-caller"], initial_message="Hi from the dashboard.")
    plan = run(workspace, "plan", "--json")
    fields = {(c["address"], f["field"]): f for c in json.loads(plan.output)["changes"] for f in c["fields"]}
    assert fields["folder.sales", "color"]["drift"] is True, fields
    assert fields["winter-caller", "initial_message"]["drift"] is True, fields
    result = run(workspace, "pull")
    assert result.exit_code == 0, result.all
    assert "folder.sales: pulled color into manifests/groups.yaml" in result.output, result.all
    assert "winter-caller: pulled initial_message into manifests/assistant.yaml" in result.output, result.all
    assert "changed in the manifest" not in result.all, result.all  # write-only ones: unknown since the import
    assert "winter-caller: tool_ids not pulled: write-only, and what the platform holds is unknown" in result.all


def test_a_field_changed_on_both_sides_is_named_and_the_manifest_kept(workspace):
    path = workspace.write("manifests/support.yaml", SUPPORT)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, llm_temperature=0.2)
    edited = SUPPORT.replace("llm_temperature: 0.7", "llm_temperature: 0.9")
    path.write_text(edited)
    result = run(workspace, "pull", "--detailed-exitcode")
    assert result.exit_code == 0, result.all
    assert "support: llm_temperature not pulled: changed in the manifest since the last apply as well" in result.output
    assert path.read_text() == edited


def test_a_secret_changed_in_the_dashboard_is_named_never_written(workspace):
    text = SUPPORT + "  is_webhook_active: true\n  webhook_url: https://hooks.example.com/a?key=E2E_DO_NOT_LEAK_60\n"
    path = workspace.write("manifests/support.yaml", text)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, webhook_url="https://hooks.example.com/b?key=E2E_DO_NOT_LEAK_61")
    result = run(workspace, "pull", "--dry-run")
    assert result.exit_code == 0, result.all
    assert "support: webhook_url not pulled: sensitive" in result.output
    assert "E2E_DO_NOT_LEAK" not in result.all and path.read_text() == text


def test_nothing_to_pull_exits_0_and_says_so(workspace):
    workspace.write("manifests/support.yaml", SUPPORT)
    applied(workspace)
    result = run(workspace, "pull", "--detailed-exitcode")
    assert result.exit_code == 0 and "Nothing to pull" in result.output, result.all


def test_write_only_fields_are_named_as_not_seen(graph):
    workspace, ids = graph
    result = run(workspace, "pull")
    assert result.exit_code == 0, result.all
    assert "Write-only, never shown back by the platform, so a dashboard change to them is not seen: " in result.output
    assert "sip_trunk_type, sip_password (siptrunk.office)" in result.output
    assert "tool_ids, folder_id, label_ids (winter-caller)" in result.output, result.output
    assert "content (knowledgebase" not in result.output  # a digest pull computes, not a setting of the file


def test_an_unknown_target_is_an_error_and_an_unadopted_manifest_is_named(workspace):
    workspace.write("manifests/support.yaml", SUPPORT)
    workspace.platform.http.post("/user/assistant", json={
        "assistant_name": "Support", "voice_id": 1, "language": "English", "llm_model": "gpt-4o",
        "calls_direction": "make", "engine_type": "pipeline", "timezone": "America/New_York",
        "initial_message": "Hi", "system_prompt": "S"}).raise_for_status()
    wrong = run(workspace, "pull", "--target", "suport")
    # As plan says it (docs/selection.md: "with the closest names"); pull named no close address.
    refusal = "--target 'suport' names no manifest and nothing in state; did you mean 'support'?"
    assert wrong.exit_code == 1 and refusal in wrong.all, wrong.all
    assert refusal in workspace.run("plan", "--target", "suport").all
    result = run(workspace, "pull")
    assert result.exit_code == 0, result.all
    assert "support: (all fields) not pulled: not in state yet" in result.output


def test_exclude_globs_and_label_selectors_choose_what_is_pulled(workspace):
    sales = SUPPORT.replace("name: support   # the address: never rename", "name: sales").replace(
        "labels: {team: cx}", "labels: {team: sales}").replace('assistant_name: "Support"', 'assistant_name: "Sales"')
    support_path = workspace.write("manifests/support.yaml", SUPPORT)
    sales_path = workspace.write("manifests/sales.yaml", sales)
    state = applied(workspace)
    for address in ("support", "sales"):
        patch(workspace, "assistants", state["resources"][address]["id"], llm_temperature=0.2)
    result = run(workspace, "pull", "-l", "team=sales", "--dry-run")
    assert result.exit_code == 0, result.all
    assert "sales: would pull llm_temperature" in result.output and "support:" not in result.output
    result = run(workspace, "pull", "--exclude", "sal*")
    assert result.exit_code == 0, result.all
    assert "support: pulled llm_temperature" in result.output and "sales:" not in result.output
    assert "llm_temperature: 0.2" in support_path.read_text() and sales_path.read_text() == sales
    assert run(workspace, "pull", "--target", "nothing-*").exit_code == 1  # a glob that matches nothing
    plan = run(workspace, "plan")
    assert "sales" in plan.output and "support" not in plan.output.replace("sales", ""), plan.output


def test_a_calendar_tool_added_in_the_dashboard_never_shows_its_key_in_plan_state_or_the_manifest(workspace):
    """Its Cal.com key is a secret by its content, whatever the manifest says of the tools field."""
    key = "cal_live_DO-NOT-LEAK-7"
    workspace.dialect = "v2"
    workspace.add("bot", tools=[{"type": "dtmf_input", "description": "Read keys"}])
    state = applied(workspace)
    patch(workspace, "assistants", state["resources"]["bot"]["id"], tools=[
        {"type": "dtmf_input", "description": "Read keys"},
        {"type": "calendar_integration", "calcom_api_key": key, "calcom_event_slug": "demo"}])
    planned = run(workspace, "plan", "--detailed-exitcode")
    assert planned.exit_code == 2 and key not in planned.all, planned.all
    assert key not in run(workspace, "plan", "--json").all
    pulled = run(workspace, "pull")
    assert key not in pulled.all and "tools not pulled: sensitive" in pulled.all, pulled.all
    assert key not in (workspace.root / "manifests" / "bot.yaml").read_text()
    assert run(workspace, "refresh").exit_code == 0
    assert key not in json.dumps(workspace.state())


def test_pull_keeps_a_files_permissions_and_leaves_a_read_only_file_and_every_other_unwritten(workspace):
    import os
    import stat

    workspace.add("a", system_prompt="Be helpful.")
    workspace.add("b", system_prompt="Be helpful.")
    state = applied(workspace)
    for address in ("a", "b"):
        patch(workspace, "assistants", state["resources"][address]["id"], system_prompt="Edited in the dashboard.")
    a, b = workspace.root / "manifests" / "a.yaml", workspace.root / "manifests" / "b.yaml"
    os.chmod(a, 0o600)
    os.chmod(b, 0o444)
    before = a.read_text(), b.read_text()
    refused = run(workspace, "pull")
    assert refused.exit_code == 1 and "read-only, so pull writes nothing" in refused.stderr, refused.all
    assert (a.read_text(), b.read_text()) == before  # all or nothing
    os.chmod(b, 0o644)
    assert run(workspace, "pull").exit_code == 0
    assert "Edited in the dashboard." in a.read_text() and stat.S_IMODE(os.stat(a).st_mode) == 0o600


def test_pull_keeps_a_files_owner_and_group(workspace):
    """Run as root (a container's CI job), the new file was root's: its owner could no longer edit it."""
    import os

    workspace.add("a", system_prompt="Be helpful.")
    state = applied(workspace)
    patch(workspace, "assistants", state["resources"]["a"]["id"], system_prompt="Edited in the dashboard.")
    a = workspace.root / "manifests" / "a.yaml"
    # Root gives the file to another user, as a checkout made by someone else would be; anyone else keeps their own
    # (what this can check without root: the file stays the runner's, and its group is kept).
    owner = (4242, 4343) if os.geteuid() == 0 else (os.geteuid(), os.stat(a).st_gid)
    os.chown(a, *owner)
    assert run(workspace, "pull").exit_code == 0
    status = os.stat(a)
    assert "Edited in the dashboard." in a.read_text() and (status.st_uid, status.st_gid) == owner


def test_pull_leaves_a_hard_linked_file_unwritten(workspace):
    """A new file in its place would leave the file's other name on the old text."""
    import os

    workspace.add("a", system_prompt="Be helpful.")
    state = applied(workspace)
    patch(workspace, "assistants", state["resources"]["a"]["id"], system_prompt="Edited in the dashboard.")
    a = workspace.root / "manifests" / "a.yaml"
    other = workspace.root / "a-copy.txt"
    os.link(a, other)
    before = a.read_text()
    refused = run(workspace, "pull")
    assert refused.exit_code == 1 and "has other names (hard links)" in refused.stderr, refused.all
    assert a.read_text() == before == other.read_text()
    other.unlink()
    assert run(workspace, "pull").exit_code == 0 and "Edited in the dashboard." in a.read_text()


def test_a_field_a_workspace_overlay_removes_is_named_never_pulled_into_the_base_file(workspace):
    """The base sets it, the prod overlay removes it (null): the platform's value for prod is the overlay's business;
    written into the base file it would change every other workspace."""
    path = workspace.add("caller", max_call_duration=300)
    workspace.write("vars/prod.yaml", "{}\n")
    overlay = workspace.write("overlays/prod/caller.yaml", "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n"
                              "  name: caller\nspec:\n  max_call_duration: null\n")
    result = run(workspace, "apply", "--auto-approve", "--workspace", "prod")
    assert result.exit_code == 0, result.all
    patch(workspace, "assistants", workspace.platform.assistants()[0]["id"], max_call_duration=900)
    before = path.read_text()
    pulled = run(workspace, "pull", "--workspace", "prod")
    assert "caller: max_call_duration not pulled: set by the workspace overlay at overlays/prod/caller.yaml:6" \
        in pulled.all, pulled.all
    assert path.read_text() == before and overlay.read_text().endswith("max_call_duration: null\n")


def test_a_manifest_edited_while_pull_reads_the_platform_keeps_the_edit(workspace):
    """The file was read again after the platform read and the dashboard's value spliced into it: a line the user
    changed meanwhile was overwritten without a word. Now the edits go into the bytes the decision was made from,
    and a file that no longer holds them is not written."""
    from rewriting_proxy import RewritingProxy

    path = workspace.write("manifests/support.yaml", SUPPORT)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, initial_message="Hi from the dashboard!")
    local = SUPPORT.replace("Keep answers short.", "Keep answers short and kind.")  # the user's edit

    def edit_while_listing(method, where, status, body):
        if method == "GET" and "/assistants/get" in where and path.read_text() != local:
            path.write_text(local)
        return None  # the answer itself passes unchanged

    with RewritingProxy(workspace.platform.url, edit_while_listing) as proxy:
        result = workspace.run("pull", f"--api-url={proxy.url}", api=False)
    assert result.exit_code == 1 and "changed since pull read it" in result.all, result.all
    assert path.read_text() == local
    again = run(workspace, "pull")  # nothing changes meanwhile: the dashboard's value goes in, the edit stays
    assert again.exit_code == 0, again.all
    assert "Hi from the dashboard!" in path.read_text() and "Keep answers short and kind." in path.read_text()


@pytest.mark.parametrize("held", ["See https://admin:E2E_DO_NOT_LEAK_62@docs.example.com/faq for answers.",
                                  "Our status page: https://status.example.com/?api_key=E2E_DO_NOT_LEAK_63"])
def test_a_dashboard_value_holding_a_credential_is_named_never_written(workspace, held):
    """plan masks a URL's credentials and query keys in what it shows; pull wrote the value itself into the file,
    so a password typed into the dashboard went into git in clear."""
    path = workspace.write("manifests/support.yaml", SUPPORT)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, initial_message=held)
    for args in (("--dry-run",), ()):
        result = run(workspace, "pull", *args)
        assert result.exit_code == 0, result.all
        assert "support: initial_message not pulled: the platform's value holds what looks like a credential" \
            in result.output, result.all
        assert "E2E_DO_NOT_LEAK" not in result.all and path.read_text() == SUPPORT


def test_the_dry_run_diff_shows_no_line_pull_does_not_write(workspace):
    """The diff's context lines showed the lines around a pulled field as they are, a secret webhook URL (its
    secret in the path, where no pattern finds it) or a field marked sensitive among them."""
    text = SUPPORT.replace("  labels: {team: cx}\n", "  labels: {team: cx}\n  sensitive: [initial_message]\n") + \
        "  is_webhook_active: true\n  webhook_url: https://hooks.example.com/a/E2E_DO_NOT_LEAK_64\n"
    text = text.replace("'Hello!'", "'E2E_DO_NOT_LEAK_65'")
    path = workspace.write("manifests/support.yaml", text)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, llm_temperature=0.2, timezone="America/Chicago")
    result = run(workspace, "pull", "--dry-run")
    assert result.exit_code == 0 and "+  llm_temperature: 0.2" in result.output, result.all
    assert "E2E_DO_NOT_LEAK" not in result.all and path.read_text() == text


def test_a_pulled_value_that_takes_a_file_past_the_manifest_limit_is_never_written(workspace):
    """The pulled prompt takes the file past --manifest-limit: the file was written, and reading it back failed
    (every later run with that limit failed too). The new texts are now loaded before anything is written, and
    that value is left out (an error) while the object's other drifted field is pulled."""
    path = workspace.write("manifests/support.yaml", SUPPORT)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, system_prompt="Be brief. " * 150, llm_temperature=0.4)
    result = run(workspace, "pull", "--manifest-limit", "bytes=1k")
    assert result.exit_code == 1, result.all
    # Where the prompt is in the manifest as it is (line 17), not a line of the text that was never written.
    assert "Error: manifests/support.yaml:17: support: system_prompt not pulled: the manifests cannot hold the " \
           "platform's value" in result.stderr, result.all
    assert "more than the limit of 1024" in result.stderr, result.all
    assert path.read_text() == SUPPORT.replace("llm_temperature: 0.7", "llm_temperature: 0.4")
    assert "Traceback" not in result.all


def test_a_failure_after_the_files_were_written_says_they_were(workspace, monkeypatch):
    """Recording state failed once the files were written: the error says which files hold the pulled values."""
    from provisioner.workflow import pull as pulling

    path = workspace.write("manifests/support.yaml", SUPPORT)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, system_prompt="Be brief.")

    def failing(*args, **kwargs):
        raise pulling.ProvisionerError("state store gone")

    monkeypatch.setattr(pulling, "_record", failing)
    result = run(workspace, "pull")
    assert result.exit_code == 1, result.all
    assert "the manifests were written (manifests/support.yaml), but reading them back failed" in result.all
    assert "Be brief." in path.read_text() and "Traceback" not in result.all


def test_a_write_that_fails_says_no_file_was_changed(workspace, monkeypatch):
    """A full disk was reported as "unexpected OSError ... a bug", though nothing had been written."""
    import errno

    from provisioner.state import local

    path = workspace.write("manifests/support.yaml", SUPPORT)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, llm_temperature=0.2)

    def full_disk(*args, **kwargs):  # the temporary file beside the manifest cannot be written
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(local, "open", full_disk, raising=False)  # atomic_write_all's `open`, nothing else's
    result = run(workspace, "pull")
    assert result.exit_code == 1, result.all
    assert "pull could not write the manifests (No space left on device): no file was changed" in result.all
    assert path.read_text() == SUPPORT and "bug" not in result.all


def test_pull_writes_the_file_it_read_whatever_its_name_shows(workspace):
    """Files were opened by their display name: one with a tab in its name crashed pull ("a bug"), and a path with
    `..` after a linked folder, folded as text, could write another file holding the same bytes."""
    import os

    odd = workspace.write("manifests/sup\tport.yaml", SUPPORT)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, llm_temperature=0.2)
    result = run(workspace, "pull")
    assert result.exit_code == 0 and "llm_temperature: 0.2" in odd.read_text(), result.all

    odd.unlink()
    real = workspace.root / "real" / "x" / "a.yaml"
    real.parent.mkdir(parents=True)
    (workspace.root / "real" / "sub").mkdir()
    real.write_text(SUPPORT.replace("0.7", "0.2"))
    os.symlink(workspace.root / "real" / "sub", workspace.root / "m")
    decoy = workspace.write("x/a.yaml", real.read_text())  # what `m/../x/a.yaml` reads as, folded as text
    patch(workspace, "assistants", remote_id, llm_temperature=0.3)
    result = run(workspace, "pull", "m/../x/a.yaml")
    assert result.exit_code == 0, result.all
    assert "llm_temperature: 0.3" in real.read_text() and decoy.read_text() == SUPPORT.replace("0.7", "0.2")


def test_a_repository_whose_only_workspace_inputs_are_the_default_ones_is_pulled_into(workspace):
    """vars/default.yaml alone: no other workspace can plan these manifests (any other is refused), so nothing is
    shared and pull writes, as without vars/."""
    path = workspace.write("manifests/support.yaml", SUPPORT)
    workspace.write("vars/default.yaml", "stage: default\n")
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, llm_temperature=0.2)
    result = run(workspace, "pull")
    assert result.exit_code == 0 and "llm_temperature: 0.2" in path.read_text(), result.all


def test_a_sensitive_value_on_the_pulled_fields_line_is_masked_in_the_dry_run_diff(workspace):
    """A flow mapping puts several fields on one line: the diff's - and + lines showed a secret webhook URL (its
    secret in the path) and a field marked sensitive beside the pulled one, which plan masks."""
    from conftest import REQUIRED

    fields = ", ".join(f"{k}: {v}" for k, v in REQUIRED.items() if k != "initial_message")
    text = ("apiVersion: provisioner/v1\nkind: Assistant\nmetadata: {name: flow, sensitive: [initial_message]}\n"
            f"spec: {{assistant_name: Flow, {fields}, is_webhook_active: true, "
            "webhook_url: \"https://hooks.example.com/T0/E2E_DO_NOT_LEAK_66\", llm_temperature: 0.7, "
            "initial_message: 'E2E_DO_NOT_LEAK_67'}\n")
    path = workspace.write("manifests/flow.yaml", text)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Flow")
    patch(workspace, "assistants", remote_id, llm_temperature=0.2)
    result = run(workspace, "pull", "--dry-run")
    assert result.exit_code == 0 and "llm_temperature: 0.2" in result.output, result.all
    assert "E2E_DO_NOT_LEAK" not in result.all and path.read_text() == text


def test_a_manifest_holding_a_date_that_is_none_is_pulled_into(workspace):
    """`2026-02-30` is text to the manifest loader (a date stays as written); pull read the file with PyYAML's
    safe_load, which raised ValueError building the date: the run stopped as an unexpected error. The dates are read
    as the loader reads them, so a dashboard edit is pulled, and a date edited in the dashboard is written back."""
    path = workspace.write("manifests/support.yaml",
                           SUPPORT + "  variables:\n    launch: 2026-02-30   # the last day\n    since: 2025-01-01\n")
    state = applied(workspace)
    remote_id = state["resources"]["support"]["id"] if "resources" in state else None
    remote_id = remote_id or next(r["id"] for a, r in state.get("assistants", {}).items() if a == "support")
    patch(workspace, "assistants", remote_id, llm_temperature=0.4,
          variables={"launch": "2026-02-30", "since": "2025-02-01"})
    result = run(workspace, "pull", "--detailed-exitcode")
    assert result.exit_code == 2, result.all
    after = path.read_text()
    assert "  llm_temperature: 0.4\n" in after and "    launch: 2026-02-30   # the last day\n" in after, after
    assert "    since: 2025-02-01\n" in after, after
    plan = run(workspace, "plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all


def test_a_value_the_manifests_cannot_hold_is_left_and_named_and_every_other_is_pulled(workspace):
    """The dashboard turned the post-call webhook on (its URL, a secret, is named, never written), so the manifest
    would not validate with `is_webhook_active: true` alone: the whole pull stopped, and no other dashboard edit of
    that object or any other could be taken back. Now only that field is left as the manifest has it, named on
    stderr with the validation error; every other is written (its file whole) and the run exits 1."""
    support = workspace.write("manifests/support.yaml", SUPPORT)
    billing_text = SUPPORT.replace("name: support", "name: billing").replace('"Support"', '"Billing"')
    billing = workspace.write("manifests/billing.yaml", billing_text)
    applied(workspace)
    ids = {a["name"]: a["id"] for a in workspace.platform.assistants()}
    patch(workspace, "assistants", ids["Support"], is_webhook_active=True, llm_temperature=0.4,
          webhook_url="https://hooks.example.com/in/E2E_DO_NOT_LEAK_70")
    patch(workspace, "assistants", ids["Billing"], initial_message="Hi there!")
    # At the line of the spec that leaves the field out (where pull adds a setting): the file and line to edit.
    refused = ("Error: manifests/support.yaml:7: support: is_webhook_active not pulled: the manifests cannot hold "
               "the platform's value, so the manifest's is kept")
    dry = run(workspace, "pull", "--dry-run", "--detailed-exitcode")
    assert dry.exit_code == 1 and refused in dry.stderr, dry.all
    assert "+  llm_temperature: 0.4\n" in dry.output and "+  initial_message: 'Hi there!'\n" in dry.output
    assert "is_webhook_active" not in dry.output and support.read_text() == SUPPORT
    result = run(workspace, "pull", "--detailed-exitcode")
    assert result.exit_code == 1, result.all
    assert refused + ": spec.webhook_url: is required when is_webhook_active is true" in result.stderr, result.all
    assert "support: pulled llm_temperature" in result.output and "billing: pulled initial_message" in result.output
    assert "Pulled 2 field(s) into 2 file(s); 1 the manifests cannot hold (error above)." in result.output
    assert "E2E_DO_NOT_LEAK" not in result.all
    assert support.read_text() == SUPPORT.replace("llm_temperature: 0.7", "llm_temperature: 0.4")
    assert billing.read_text() == billing_text.replace("'Hello!'", "'Hi there!'")
    assert workspace.run("validate").exit_code == 0
    plan = run(workspace, "plan")
    assert "is_webhook_active = true -> false" in plan.output, plan.all
    assert "llm_temperature" not in plan.output and "initial_message" not in plan.output, plan.all


def test_pull_json_says_what_was_pulled_named_and_refused(workspace, monkeypatch):
    """`pull --json` (there was none: a pipeline parsed the text): one document of what was pulled, named and
    refused, the refused value as an error object with its exit 1, and a failed run as `{"errors": [...]}`."""
    monkeypatch.setenv("SUPPORT_HOOK", "https://hooks.example.com/a?key=E2E_DO_NOT_LEAK_71")
    text = SUPPORT.replace("  labels: {team: cx}\n", "  labels: {team: cx}\n  sensitive: [initial_message]\n")
    path = workspace.write("manifests/support.yaml", text)
    applied(workspace)
    remote_id = next(a["id"] for a in workspace.platform.assistants() if a["name"] == "Support")
    patch(workspace, "assistants", remote_id, is_webhook_active=True, llm_temperature=0.4,
          initial_message="Hi, E2E_DO_NOT_LEAK_72", webhook_url="https://hooks.example.com/b?key=E2E_DO_NOT_LEAK_73")
    dry = run(workspace, "pull", "--json", "--dry-run")
    assert dry.exit_code == 1 and path.read_text() == text, dry.all
    document = json.loads(dry.output)
    assert document["format"] == "provisioner-pull" and document["dry_run"] is True
    assert document["pulled"] == [{"address": "support", "field": "llm_temperature", "file": "manifests/support.yaml"}]
    assert "+  llm_temperature: 0.4\n" in document["diff"] and document["files"] == ["manifests/support.yaml"]
    assert [(n["address"], n["field"]) for n in document["not_pulled"]] == [("support", "initial_message")]
    [error] = document["errors"]
    assert error["file"] == "manifests/support.yaml" and error["address"] == "support", error
    assert error["line"] == 8, error  # the spec's (below the added `sensitive:`), which leaves the field out
    # The field as every command's error objects name it, its path in the manifest (validate's and plan's).
    assert error["field"] == "spec.is_webhook_active" and "spec.webhook_url: is required" in error["message"]
    assert "Error: manifests/support.yaml:8: support: is_webhook_active not pulled" in dry.stderr, dry.all
    assert "E2E_DO_NOT_LEAK" not in dry.all
    written = run(workspace, "pull", "--json")
    assert written.exit_code == 1 and json.loads(written.output)["dry_run"] is False, written.all
    assert "  llm_temperature: 0.4\n" in path.read_text()
    failed = run(workspace, "pull", "--format", "json", "--target", "nosuch")
    assert failed.exit_code == 1 and list(json.loads(failed.output)) == ["errors"], failed.all


def test_two_objects_whose_values_the_manifests_cannot_hold_leave_only_those_fields(workspace):
    """Several refused values among many objects are each found (halving the edits, not one load per edit)."""
    texts = {name: SUPPORT.replace("name: support", f"name: {name}").replace('"Support"', f'"{name.title()}"')
             for name in ("a1", "a2", "a3", "a4", "a5")}
    for name, text in texts.items():
        workspace.write(f"manifests/{name}.yaml", text)
    applied(workspace)
    ids = {a["name"]: a["id"] for a in workspace.platform.assistants()}
    for name in texts:
        patch(workspace, "assistants", ids[name.title()], llm_temperature=0.4)
    for name in ("A2", "A5"):
        patch(workspace, "assistants", ids[name], is_webhook_active=True, webhook_url="https://hooks.example.com/in")
    result = run(workspace, "pull")
    assert result.exit_code == 1, result.all
    assert [line.split(": ")[1:3] for line in result.stderr.splitlines()] == [
        ["manifests/a2.yaml:7", "a2"], ["manifests/a5.yaml:7", "a5"]], result.all
    for name, text in texts.items():
        written = (workspace.root / f"manifests/{name}.yaml").read_text()
        assert written == text.replace("llm_temperature: 0.7", "llm_temperature: 0.4"), name




def test_a_documents_value_the_manifests_cannot_hold_is_named_at_its_entry(workspace):
    """A document's field is inside its knowledge base's entry for it: pull --json's error object named it
    `spec.description` (the knowledge base's own field), where validate and plan name spec.documents[0].description."""
    text = ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: faq\nspec:\n  name: FAQ\n"
            "  documents:\n    - name: Pricing page\n      key: pricing\n      type: website\n"
            "      url: https://example.com/pricing\n      description: Prices\n")
    path = workspace.write("manifests/faq.yaml", text)
    state = applied(workspace)
    patch(workspace, "documents", state["resources"]["knowledgebase.faq.pricing"]["id"], description="x" * 250)
    result = run(workspace, "pull", "--json", "--manifest-limit", "bytes=400")
    assert result.exit_code == 1 and path.read_text() == text, result.all
    [error] = json.loads(result.output)["errors"]
    assert (error["file"], error["line"], error["field"]) == ("manifests/faq.yaml", 12, "spec.documents[0].description")
    assert "Error: manifests/faq.yaml:12: knowledgebase.faq.pricing: description not pulled" in result.stderr
