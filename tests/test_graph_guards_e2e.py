"""Issue 17's correctness items through the real CLI against the emulator over HTTP: a replacement that loses
data is refused before anything is asked or written (apply and apply PLANFILE), and the apply summary counts a
replacement as Terraform does (one added, one destroyed), as the plan summary does."""
from __future__ import annotations

from test_graph_apply_e2e import campaign


def winter_ids(platform) -> list[int]:
    return [c["id"] for c in platform.http.get("/user/campaigns").json() if c["name"] == "Winter"]


def applied_campaign(workspace, platform) -> int:
    workspace.add("caller", post_call_schema=[{"name": "booked", "type": "bool", "description": "Booked"}])
    workspace.write("manifests/campaign.yaml", campaign(parallel=2))
    first = workspace.run("apply", "--auto-approve")
    assert first.exit_code == 0, first.all
    (campaign_id,) = winter_ids(platform)
    workspace.write("manifests/campaign.yaml", campaign(parallel=4))
    return campaign_id


def test_a_lossy_replacement_is_refused_before_the_question_and_writes_nothing(workspace, platform):
    campaign_id = applied_campaign(workspace, platform)
    writes, serial = len(platform.writes()), workspace.state()["serial"]
    refused = workspace.run("apply", input="yes\n")  # a "yes" typed ahead is never asked for, nor used
    assert refused.exit_code == 1, refused.all
    assert "Do you want to perform these actions?" not in refused.all
    assert "campaign.winter (deletes leads)" in refused.all and "--allow-replace" in refused.all
    assert "Nothing was applied" in refused.all
    assert len(platform.writes()) == writes and workspace.state()["serial"] == serial
    assert winter_ids(platform) == [campaign_id]


def test_a_saved_plan_with_a_lossy_replacement_needs_allow_replace_too(workspace, platform):
    campaign_id = applied_campaign(workspace, platform)
    assert workspace.run("plan", "--out", "winter.plan").exit_code == 0
    writes, serial = len(platform.writes()), workspace.state()["serial"]
    refused = workspace.run("apply", "winter.plan")
    assert refused.exit_code == 1 and "campaign.winter (deletes leads)" in refused.all, refused.all
    assert len(platform.writes()) == writes and workspace.state()["serial"] == serial
    applied = workspace.run("apply", "--allow-replace", "winter.plan")
    assert applied.exit_code == 0, applied.all
    assert "Apply complete! Resources: 1 added, 0 changed, 1 destroyed." in applied.output, applied.all
    (new_id,) = winter_ids(platform)
    assert new_id != campaign_id


def test_the_apply_summary_counts_a_replacement_as_the_plan_does(workspace, platform):
    applied_campaign(workspace, platform)
    plan = workspace.run("plan")
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in plan.output, plan.all
    applied = workspace.run("apply", "--auto-approve", "--allow-replace")
    assert applied.exit_code == 0, applied.all
    assert "Apply complete! Resources: 1 added, 0 changed, 1 destroyed." in applied.output, applied.all
    assert "No changes." in workspace.run("plan").output


def knowledge_base(name: str, title: str, *documents: str) -> str:
    """A KnowledgeBase manifest; each document a YAML flow mapping."""
    return (f"apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {{name: {name}}}\nspec:\n  name: {title}\n"
            "  documents:\n" + "".join(f"    - {document}\n" for document in documents))


KB = knowledge_base("help", "Help", '{name: Returns, key: returns, type: website, url: "https://example.com/returns"}')


def test_a_document_adopted_unchanged_counts_as_an_import_only(workspace, platform):
    workspace.write("manifests/kb.yaml", KB)
    assert workspace.run("apply", "--auto-approve", "--api-dialect", "v2").exit_code == 0
    workspace.lose_state()
    plan = workspace.run("plan", "--api-dialect", "v2")
    assert "Plan: 2 to import, 0 to add, 0 to change, 0 to destroy." in plan.output, plan.all
    applied = workspace.run("apply", "--auto-approve", "--api-dialect", "v2")
    assert "Resources: 2 imported, 0 added, 0 changed, 0 destroyed." in applied.output, applied.all
    assert "No changes." in workspace.run("plan", "--api-dialect", "v2").output


def knowledge_bases(count: int) -> str:
    return "---\n".join(knowledge_base(f"kb{i}", f"KB {i}", f'{{name: Page, type: website, url: "https://example.com/{i}"}}')
                         for i in range(count))


def test_with_parallelism_one_documents_are_processed_side_by_side(workspace, platform):
    """Each document waits 2 s for processing: waiting one after the other would take 8 s or more; a wait holds no
    worker, so the four are created at once and processed side by side."""
    import time

    workspace.write("manifests/kbs.yaml", knowledge_bases(4))
    platform.faults(document_delay_ms=2000)
    try:
        started = time.monotonic()
        applied = workspace.run("apply", "--auto-approve", "--parallelism", "1", "--api-dialect", "v2")
        took = time.monotonic() - started
    finally:
        platform.faults(document_delay_ms=0)
    assert applied.exit_code == 0, applied.all
    assert "Apply complete! Resources: 8 added" in applied.output
    assert took < 7.5, f"the documents were waited for one after the other ({took:.1f}s)"
    assert "No changes." in workspace.run("plan", "--api-dialect", "v2").output
