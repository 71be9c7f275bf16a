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
