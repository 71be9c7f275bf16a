"""A plan never leaves a campaign with an assistant it deletes or makes inbound (API.md "Campaigns": a client
changes or deletes the campaigns that use an assistant first), through the real CLI against the emulator over
HTTP: a campaign kept while its assistant goes is a plan error, nothing sent; a campaign deleted with its
assistant is deleted first, whether it named the assistant by address or by id."""
from __future__ import annotations

import json

from test_graph_apply_e2e import campaign

SCHEMA = [{"name": "booked", "type": "bool", "description": "Booked"}]


def setup(workspace, by_id: bool = False) -> int:
    """The assistant, then (in an apply of its own) a campaign that calls with it; the assistant's id."""
    workspace.add("caller", post_call_schema=SCHEMA)
    workspace.add("bystander")  # the manifests are never empty, nor most of the state destroyed
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assistant_id = workspace.state()["resources"]["caller"]["id"]
    text = campaign().replace("assistant.caller", str(assistant_id)) if by_id else campaign()
    workspace.write("manifests/campaign.yaml", text)
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    return assistant_id


def deletes(platform) -> list[str]:
    return [w["path"] for w in platform.writes() if w["method"] == "DELETE"]


def destroyed_campaign_first(workspace, platform, assistant_id: int, parallelism: str) -> None:
    """`destroy` deletes the campaign, the assistant it calls with and the bystander, the campaign before that
    assistant."""
    destroyed = workspace.run("destroy", "--auto-approve", "--parallelism", parallelism)
    assert destroyed.exit_code == 0, destroyed.all
    gone = deletes(platform)
    campaign_at = next(i for i, path in enumerate(gone) if "/campaign/" in path)
    assert len(gone) == 3 and campaign_at < gone.index(f"/user/assistant/{assistant_id}"), gone


def imported_again(workspace) -> dict[str, int]:
    """Lose the state, then `import` every object it held by its id: state address -> id."""
    ids = {address: entry["id"] for address, entry in workspace.state()["resources"].items()}
    workspace.lose_state()
    for address, remote_id in sorted(ids.items()):
        imported = workspace.run("import", address, str(remote_id))
        assert imported.exit_code == 0, imported.all
    return ids


def test_a_campaign_kept_while_its_assistant_is_deleted_is_a_plan_error(workspace, platform):
    assistant_id = setup(workspace, by_id=True)  # by id: validation cannot see it, the plan must
    workspace.remove("caller")
    writes = len(platform.writes())
    for command in (("plan",), ("apply", "--auto-approve")):
        refused = workspace.run(*command)
        assert refused.exit_code == 1, refused.all
        assert "deletes assistant caller, which campaign.winter calls with" in refused.all, refused.all
        assert "campaign.yaml" in refused.all and "spec.assistant_id" in refused.all
    assert len(platform.writes()) == writes
    assert [a["id"] for a in platform.by_name("Caller")] == [assistant_id]


def test_a_campaign_kept_while_its_assistant_becomes_inbound_is_refused_before_any_request(workspace, platform):
    setup(workspace, by_id=True)
    workspace.add("caller", post_call_schema=SCHEMA, calls_direction="receive")
    writes = len(platform.writes())
    refused = workspace.run("apply", "--auto-approve")
    assert refused.exit_code == 1, refused.all
    assert "makes inbound assistant caller, which campaign.winter calls with" in refused.all, refused.all
    assert len(platform.writes()) == writes


def test_an_untargeted_campaign_still_counts(workspace, platform):
    setup(workspace, by_id=True)
    workspace.remove("caller")
    refused = workspace.run("apply", "--auto-approve", "--target", "caller")
    assert refused.exit_code == 1 and "campaign.winter calls with" in refused.all, refused.all


def test_a_campaign_deleted_with_its_assistant_goes_first_by_address(workspace, platform):
    setup(workspace)
    assert "caller" in workspace.state()["resources"]["campaign.winter"]["depends_on"]
    workspace.remove("caller")
    (workspace.root / "manifests" / "campaign.yaml").unlink()
    applied = workspace.run("apply", "--auto-approve", "--parallelism", "4")
    assert applied.exit_code == 0, applied.all
    gone = deletes(platform)
    assert len(gone) == 2 and "/campaign/" in gone[0] and "/assistant/" in gone[1], gone


def test_a_campaign_deleted_with_its_assistant_goes_first_by_id(workspace, platform):
    setup(workspace, by_id=True)
    assert not workspace.state()["resources"]["campaign.winter"].get("depends_on")
    workspace.remove("caller")
    (workspace.root / "manifests" / "campaign.yaml").unlink()
    plan = workspace.run("plan", "--json")
    (change,) = [c for c in json.loads(plan.output)["changes"] if c["address"] == "campaign.winter"]
    assert change["depends_on"] == ["caller"]
    applied = workspace.run("apply", "--auto-approve", "--parallelism", "4")
    assert applied.exit_code == 0, applied.all
    gone = deletes(platform)
    assert len(gone) == 2 and "/campaign/" in gone[0] and "/assistant/" in gone[1], gone


def test_a_campaign_is_deleted_before_its_assistant_becomes_inbound(workspace, platform):
    setup(workspace)
    workspace.add("caller", post_call_schema=SCHEMA, calls_direction="receive")
    (workspace.root / "manifests" / "campaign.yaml").unlink()
    applied = workspace.run("apply", "--auto-approve", "--parallelism", "4")
    assert applied.exit_code == 0, applied.all
    writes = [(w["method"], w["path"]) for w in platform.writes()]
    deleted = next(i for i, (method, path) in enumerate(writes) if method == "DELETE" and "/campaign/" in path)
    updated = max(i for i, (method, path) in enumerate(writes) if method in ("PUT", "PATCH") and "/assistant" in path)
    assert deleted < updated, writes
    assert "No changes." in workspace.run("plan").output


def test_destroy_deletes_campaigns_before_their_assistants(workspace, platform):
    assistant_id = setup(workspace, by_id=True)
    destroyed_campaign_first(workspace, platform, assistant_id, "4")


def test_an_imported_campaign_naming_its_assistant_by_id_counts_as_one_applied(workspace, platform):
    """Import records no spec (the platform does not show a campaign's assistant_id), where the plan looked for the
    assistant a campaign calls with: a destroy deleted the assistant first, and a plan deleting it alone kept the
    campaign. Its manifest now says, until an apply records it."""
    assistant_id = setup(workspace, by_id=True)
    imported_again(workspace)
    workspace.remove("caller")
    refused = workspace.run("plan")
    assert refused.exit_code == 1 and "deletes assistant caller, which campaign.winter calls with" in refused.all
    workspace.add("caller", post_call_schema=SCHEMA)
    destroyed_campaign_first(workspace, platform, assistant_id, "1")


def test_an_imported_campaign_deleted_with_its_manifest_goes_before_the_assistants_deleted(workspace, platform):
    """A campaign imported and not applied since has no spec, and once its manifest is removed too nothing says
    which assistant it calls with (the platform does not show it, an id leaves nothing in depends_on): its delete
    went after the assistant's. It now waits for every assistant the plan deletes or makes inbound."""
    assistant_id = setup(workspace, by_id=True)
    ids = imported_again(workspace)
    workspace.remove("caller")
    (workspace.root / "manifests" / "campaign.yaml").unlink()
    plan = workspace.run("plan", "--json")
    (change,) = [c for c in json.loads(plan.output)["changes"] if c["address"] == "campaign.winter"]
    assert change["depends_on"] == ["caller"], plan.all
    applied = workspace.run("apply", "--auto-approve", "--parallelism", "1")
    assert applied.exit_code == 0, applied.all
    gone = deletes(platform)
    assert gone == ["/user/campaign/%d" % ids["campaign.winter"], f"/user/assistant/{assistant_id}"], gone
