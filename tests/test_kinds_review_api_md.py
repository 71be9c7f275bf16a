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


TOOL = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: lookup\nspec:\n  name: order_lookup\n"
        "  description: Look up an order.\n  endpoint: https://api.example.com/orders/{order_id}\n  method: GET\n"
        "  headers:\n    Authorization: \"${env.ORDERS_KEY}\"\n    X-Trace: \"on\"\n  schema:\n"
        "    - {name: order_id, type: string, description: The order number.}\n")


def test_a_header_value_changed_in_the_manifest_is_sent_when_the_platform_masks_header_values(workspace, platform,
                                                                                         proxy, monkeypatch):
    """API.md "Mid-call tools": "Masking is not documented; a client treats a header read back without a `value`
    as unknown, not as drift." Unknown is not "the same as the manifest": a rotated credential (the manifest's
    header value no longer the one last applied) was "No changes" when the platform answered headers without their
    values, and state then recorded the new value as applied, so it was never sent."""
    workspace.dialect = "v2"
    monkeypatch.setenv("ORDERS_KEY", "Bearer first-E2E-key")
    workspace.write("manifests/tool.yaml", TOOL)
    assert workspace.run("apply", "--auto-approve").exit_code == 0

    def masked(method, path, status, body):
        if method == "GET" and path.split("?")[0].rstrip("/").split("/api", 1)[1].startswith("/user/tools") \
                and status == 200:
            answer = json.loads(body)
            for tool in answer if isinstance(answer, list) else [answer]:
                for header in tool.get("headers") or []:
                    header.pop("value", None)
            return status, json.dumps(answer).encode(), "application/json"
        return None

    proxy.rewrite = masked
    unchanged = through(workspace, proxy, "plan", "--detailed-exitcode")
    assert unchanged.exit_code == 0 and "No changes." in unchanged.output, unchanged.all  # unknown: not drift
    monkeypatch.setenv("ORDERS_KEY", "Bearer rotated-E2E-key")
    rotated = through(workspace, proxy, "plan", "--json")
    [change] = json.loads(rotated.output)["changes"]
    assert change["action"] == "update" and [f["field"] for f in change["fields"]] == ["headers"], change
    assert "Authorization (changed)" in json.dumps(change["fields"]) and "E2E" not in rotated.all
    applied = through(workspace, proxy, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    [tool] = platform.http.get("/user/tools").json()
    assert {h["name"]: h["value"] for h in tool["headers"]} == {"Authorization": "Bearer rotated-E2E-key",
                                                                "X-Trace": "on"}
    again = through(workspace, proxy, "plan", "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def test_a_campaign_status_no_longer_set_is_not_said_to_clear_with_null(workspace):
    """A manifest that stops setting a campaign's `status` is told the field is no longer managed. The note went on
    "(set it to null to clear it)", but `status` is an action (API.md "Campaigns": "Starting and stopping is an
    action, not a setting"), and the manifest refuses `status: null`: the note must not suggest it."""
    workspace.dialect = "v2"
    workspace.add("caller", calls_direction="make")
    workspace.write("manifests/winter.yaml", CAMPAIGN + "  status: stopped\n")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/winter.yaml", CAMPAIGN)
    result = workspace.run("plan")
    assert result.exit_code == 0, result.all
    [note] = [line for line in result.all.splitlines() if "spec.status is no longer set" in line]
    assert "null" not in note and note.rstrip().endswith("the platform keeps its current value."), note
    workspace.write("manifests/winter.yaml", CAMPAIGN + "  status: null\n")
    assert workspace.run("validate", api=False).exit_code == 1  # what the note used to suggest is refused
