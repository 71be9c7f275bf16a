"""The other kinds against API.md's text, end to end: what a review of the kinds found (each test names the API.md
line it rests on)."""
from __future__ import annotations

import json

from rewriting_proxy import through

CAMPAIGN = ("apiVersion: provisioner/v1\nkind: Campaign\nmetadata:\n  name: winter\nspec:\n  name: Winter\n"
            "  assistant_id: assistant.caller\n  max_calls_in_parallel: 2\n")


def test_a_campaign_status_the_client_has_not_seen_does_not_stop_the_plan_when_the_manifest_leaves_status_out(
        workspace, proxy):
    """API.md "Campaigns": "`status` is the platform's: the sources show `draft` (new), `in-progress` (started),
    `stopped`, and in list examples `active`, `paused` and `completed`; the full set is not documented." A campaign
    whose manifest does not set `status` (unmanaged: nothing is started or stopped) read in another status made the
    whole plan fail ("nothing was planned from it"), so nothing else could be applied either."""
    workspace.dialect = "v2"
    workspace.add("caller", calls_direction="make")
    workspace.write("manifests/winter.yaml", CAMPAIGN)
    assert workspace.run("apply", "--auto-approve").exit_code == 0

    def scheduled(method, path, status, body):
        if method == "GET" and path.split("?")[0].endswith("/user/campaigns") and status == 200:
            items = json.loads(body)
            for item in items:
                item["status"] = "scheduled"
            return status, json.dumps(items).encode(), "application/json"
        return None

    proxy.rewrite = scheduled
    result = through(workspace, proxy, "plan", "--detailed-exitcode")
    assert result.exit_code == 0 and "No changes." in result.output, result.all
    # A manifest that does manage the status is still never started or stopped from a status it cannot read.
    workspace.write("manifests/winter.yaml", CAMPAIGN + "  status: started\n")
    managed = through(workspace, proxy, "plan")
    assert managed.exit_code == 1 and "'scheduled' is not a status this client knows" in managed.all, managed.all


def test_an_exported_campaign_leaves_its_status_out_so_it_validates_and_starts_or_stops_nothing(workspace, proxy):
    """API.md "Campaigns": "`status` is the platform's: ... in list examples `active`, `paused` and `completed`",
    and "Starting and stopping is an action, not a setting ... A client starts or stops a campaign only when the
    user asked for it explicitly." export wrote the platform's status as `status:`: a `completed` campaign's manifest
    did not validate (`status` takes started or stopped), and a draft's `status: stopped` had the next apply stop
    it once it was started in the dashboard, which nobody asked for."""
    import yaml

    workspace.dialect = "v2"
    http = workspace.platform.http
    caller = http.post("/user/assistant", json={
        "assistant_name": "Caller", "voice_id": 1, "language": "English", "llm_model": "gpt-4o",
        "calls_direction": "make", "engine_type": "pipeline", "timezone": "Europe/London", "initial_message": "Hi",
        "system_prompt": "Call about the winter offer."}).json()["data"]["id"]
    for name in ("Done", "Draft"):
        assert http.post("/user/campaigns", json={"name": name, "assistant_id": caller}).status_code == 201

    def completed(method, path, status, body):
        if method == "GET" and path.split("?")[0].endswith("/user/campaigns") and status == 200:
            items = json.loads(body)
            for item in items:
                item["status"] = "completed" if item["name"] == "Done" else item["status"]
            return status, json.dumps(items).encode(), "application/json"
        return None

    proxy.rewrite = completed
    exported = through(workspace, proxy, "export", "--out", "exported")
    assert exported.exit_code == 0, exported.all
    for name in ("done", "draft"):
        text = (workspace.root / "exported" / f"campaign.{name}.yaml").read_text()
        assert "status" not in yaml.safe_load(text)["spec"], text
        (workspace.root / "manifests" / f"campaign.{name}.yaml").write_text(
            text.replace("assistant_id: ''", "assistant_id: assistant.caller"))
    (workspace.root / "manifests" / "caller.yaml").write_text((workspace.root / "exported" / "caller.yaml").read_text())
    assert workspace.run("validate").exit_code == 0, workspace.run("validate").all
    plan = through(workspace, proxy, "plan", "--json")
    changes = json.loads(plan.output)["changes"]
    assert sorted((c["address"], c["action"], c["actions"]) for c in changes) == [
        ("caller", "import", []), ("campaign.done", "import", []), ("campaign.draft", "import", [])], changes
