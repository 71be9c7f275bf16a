"""SIGKILL of the real CLI at chosen points of a graph apply, then an apply that reconciles: no duplicate of any kind,
nothing lost, and then `No changes.` (issue 17: "SIGKILL anywhere leaves state and platform reconcilable").

Each kill point is made deterministic by the emulator, not by timing: the answer of one kind's writes of one method
is held (faults `kinds` + `methods`, with a long latency: the write has taken effect, the CLI waits for its answer),
or documents stay `processing` (document_delay_ms) while apply waits for them. The test waits until the platform's
journal (or its request counts) shows the CLI at that point, then kills it; the CLI cannot have gone further."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import TOKEN
from test_graph_apply_e2e import GRAPH

HELD = 60_000  # ms: an answer held this long is never seen by the killed CLI

CAMPAIGN = """\
apiVersion: provisioner/v1
kind: Campaign
metadata: {name: winter}
spec:
  name: Winter
  assistant_id: assistant.caller
  max_calls_in_parallel: %(parallel)d
  goal_completion_variable: booked
%(status)s"""


def write_graph(workspace, url="https://example.com/returns", parallel=2, status="", campaign=True) -> None:
    workspace.write("manifests/hours.txt", "Open 9 to 5.\n")
    workspace.write("manifests/graph.yaml", GRAPH.replace("https://example.com/returns", url))
    references = dict(tool_ids=["tool.lookup"], phone_number_id="+14155550100")
    if workspace.dialect == "v2":
        references.update(knowledgebase_id="knowledgebase.help", knowledgebase_mode="function_call",
                          folder_id="folder.support", label_ids=["label.vip"])
    workspace.add("caller", **references,
                  post_call_schema=[{"name": "booked", "type": "bool", "description": "Whether a slot was booked"}])
    if campaign:
        workspace.write("manifests/campaign.yaml", CAMPAIGN % {
            "parallel": parallel, "status": f"  status: {status}\n" if status else ""})
    else:
        (workspace.root / "manifests" / "campaign.yaml").unlink(missing_ok=True)


def spawn_apply(workspace, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off",
           "PROVISIONER_API_DIALECT": workspace.dialect}
    return subprocess.Popen([sys.executable, "-m", "provisioner", "apply", "--auto-approve", "--allow-replace",
                             f"--api-url={workspace.platform.url}", *extra], cwd=workspace.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_when(workspace, reached, *extra: str, timeout: float = 90) -> None:
    """Run apply in a process and SIGKILL it as soon as `reached()` holds; it must not have ended before."""
    process = spawn_apply(workspace, *extra)
    deadline = time.monotonic() + timeout
    try:
        while not reached():
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"apply ended (exit {process.returncode}) before the kill point:\n{out}\n{err}")
            assert time.monotonic() < deadline, "the kill point was never reached"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def sent(workspace, method: str, path_end: str) -> list[dict]:
    """The writes of that method whose path ends so, in the platform's journal (recorded as they arrive)."""
    return [w for w in workspace.platform.writes() if w["method"] == method and w["path"].endswith(path_end)]


def hold(workspace, kind: str, method: str) -> None:
    workspace.platform.faults(latency_ms=HELD, kinds=[kind], methods=[method], document_delay_ms=0)


def release(workspace) -> None:
    workspace.platform.faults(latency_ms=0, kinds=None, methods=None, document_delay_ms=0)


def listed(workspace) -> dict[str, list[dict]]:
    get = workspace.platform.http.get

    def items(answer):
        return answer["data"] if isinstance(answer, dict) else answer

    kinds = {"tool": items(get("/user/tools").json()), "knowledgebase": items(get("/user/knowledgebases").json()),
             "folder": items(get("/user/folders", params={"per_page": 100}).json()),
             "label": items(get("/user/labels", params={"per_page": 100}).json()),
             "campaign": items(get("/user/campaigns").json()), "assistant": workspace.platform.assistants()}
    kinds["document"] = [d for kb in kinds["knowledgebase"]
                         for d in items(get(f"/user/knowledgebases/{kb['id']}/documents").json())]
    return kinds


def reconcile(workspace, campaign: bool = True) -> dict:
    """Apply to the end, re-plan `No changes.`, and check every kind holds each wanted object once, the ones state
    records: {address: id}."""
    release(workspace)
    result = workspace.run("apply", "--auto-approve", "--allow-replace")
    assert result.exit_code == 0, result.all
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    wanted = {"tool": ["order_lookup"], "knowledgebase": ["Help"], "folder": ["Support"], "label": ["VIP"],
              "document": ["Hours", "Returns"], "campaign": ["Winter"] if campaign else [], "assistant": ["Caller"]}
    items = listed(workspace)
    state = workspace.state()["resources"]
    for kind, names in wanted.items():
        counts = collections.Counter(item["name"] for item in items[kind])
        assert sorted(counts.elements()) == names, (kind, items[kind])  # each once, nothing else
        assert {item["id"] for item in items[kind]} == {
            e["id"] for e in state.values() if e.get("kind", "assistant") == kind}, kind
    ids = {address: entry["id"] for address, entry in state.items()}
    fields = workspace.platform.admin.get(f"/_emulator/objects/assistants/{ids['caller']}").json()["fields"]
    assert fields["tool_ids"] == [ids["tool.lookup"]]
    if workspace.dialect == "v2":
        assert fields["knowledgebase_id"] == ids["knowledgebase.help"]
        assert (fields["folder_id"], fields["label_ids"]) == (ids["folder.support"], [ids["label.vip"]])
    if campaign:
        stored = workspace.platform.admin.get(f"/_emulator/objects/campaigns/{ids['campaign.winter']}").json()
        assert stored["fields"]["assistant_id"] == ids["caller"]
    return ids


def test_killed_after_a_tool_create_was_sent_before_it_was_recorded(workspace, dialect):
    write_graph(workspace)
    hold(workspace, "tools", "POST")
    kill_when(workspace, lambda: sent(workspace, "POST", "/user/tools"))
    release(workspace)
    assert [t["name"] for t in listed(workspace)["tool"]] == ["order_lookup"]  # made on the platform
    assert "tool.lookup" not in workspace.state()["resources"]                  # and unknown to state
    reconcile(workspace)


def test_killed_after_a_document_upload_was_sent_before_it_was_recorded(workspace):
    workspace.dialect = "v2"
    write_graph(workspace)
    hold(workspace, "documents", "POST")
    kill_when(workspace, lambda: len(sent(workspace, "POST", "/documents")) == 2)
    release(workspace)
    assert sorted(d["name"] for d in listed(workspace)["document"]) == ["Hours", "Returns"]
    assert not any(e.get("kind") == "document" for e in workspace.state()["resources"].values())
    reconcile(workspace)


def test_killed_while_apply_waits_for_documents_to_be_processed(workspace):
    workspace.dialect = "v2"
    write_graph(workspace)
    hold(workspace, "documents", "GET")  # the readiness polls: apply waits on their answers
    polled = "GET /user/knowledgebases/{kb}/documents"
    documents = {"knowledgebase.help.returns", "knowledgebase.help.hours"}
    # Each document is polled once it is recorded; the polls share their knowledge base's list read (held): the
    # kill point is that read sent and both documents recorded.
    kill_when(workspace, lambda: workspace.platform.stats()["requests"].get(polled, 0) >= 1
              and documents <= set(workspace.state()["resources"]))
    state = workspace.state()["resources"]
    assert documents <= set(state) and "caller" not in state
    assert workspace.platform.assistants() == []  # what attaches the knowledge base waited for its documents
    reconcile(workspace)


def test_killed_between_the_two_halves_of_a_document_replacement(workspace):
    workspace.dialect = "v2"
    write_graph(workspace)
    reconcile(workspace)
    write_graph(workspace, url="https://example.com/returns-v2")  # content changed: -/+ of that document
    hold(workspace, "documents", "DELETE")
    kill_when(workspace, lambda: sent(workspace, "DELETE", "") and sent(workspace, "DELETE", "")[-1]["path"]
              .startswith("/user/knowledgebases/"))
    state = workspace.state()["resources"]
    assert any("~deposed" in address for address in state), state  # the old half, kept to be destroyed
    reconcile(workspace)


def test_killed_between_the_two_halves_of_a_campaign_replacement(workspace):
    workspace.dialect = "v1"  # v2: the campaign kill points below
    write_graph(workspace)
    reconcile(workspace)
    old = workspace.state()["resources"]["campaign.winter"]["id"]
    write_graph(workspace, parallel=4)  # no update on the platform: -/+ that deletes leads
    hold(workspace, "campaigns", "DELETE")
    kill_when(workspace, lambda: sent(workspace, "DELETE", f"/user/campaign/{old}"))
    ids = reconcile(workspace)
    assert ids["campaign.winter"] != old
    [item] = listed(workspace)["campaign"]
    assert item["max_calls_in_parallel"] == 4


def test_killed_after_a_campaign_create_was_sent_before_it_was_recorded(workspace):
    workspace.dialect = "v2"
    write_graph(workspace, status="started")
    hold(workspace, "campaigns", "POST")
    kill_when(workspace, lambda: sent(workspace, "POST", "/user/campaigns"))
    release(workspace)
    assert [c["name"] for c in listed(workspace)["campaign"]] == ["Winter"]
    assert "campaign.winter" not in workspace.state()["resources"]
    reconcile(workspace)
    [item] = listed(workspace)["campaign"]
    assert item["status"] == "in-progress"  # started once it was known


def test_killed_during_a_campaign_start(workspace, dialect):
    write_graph(workspace)
    reconcile(workspace)
    write_graph(workspace, status="started")
    hold(workspace, "campaigns", "POST")
    kill_when(workspace, lambda: sent(workspace, "POST", "/user/campaigns/update-status"))
    ids = reconcile(workspace)
    [item] = listed(workspace)["campaign"]
    assert item["status"] == "in-progress" and item["id"] == ids["campaign.winter"]
    assert len(sent(workspace, "POST", "/user/campaigns")) == 1  # created once, never again


TWIN_TOOLS = "".join(f"""\
---
apiVersion: provisioner/v1
kind: Tool
metadata: {{name: {address}}}
spec: {{name: lookup, description: Look it up., endpoint: "https://example.com/{address}", method: GET}}
""" for address in ("first", "second"))


def test_killed_after_the_first_of_two_tools_of_one_name_was_made(workspace):
    """Two tools may share a name (assistants, folders and labels may not). Killed once the first create had taken
    effect, the platform held one unclaimed tool of that name, and every later plan adopted it for both manifests:
    every apply then failed recording the second adoption ('another workspace or project of this state store
    recorded [it] first', though none had) and never converged. Which manifest it is would be a guess: the plan
    says so, sends nothing, and once the user chose with `import`, the other manifest gets a tool of its own."""
    workspace.write("manifests/tools.yaml", TWIN_TOOLS)
    hold(workspace, "tools", "POST")
    kill_when(workspace, lambda: sent(workspace, "POST", "/user/tools"), "--parallelism", "1")
    release(workspace)
    [made] = listed(workspace)["tool"]
    refused = workspace.run("apply", "--auto-approve")
    assert refused.exit_code == 1, refused.all
    for address, other in (("first", "second"), ("second", "first")):
        assert (f"'tool.{address}' and 'tool.{other}' would each adopt the platform's mid-call tool id {made['id']} "
                f"('lookup')") in refused.all, refused.all
        assert f"`provisioner import tool.{address} {made['id']}`" in refused.all, refused.all
    assert "first (one object has one owner)" not in refused.all, refused.all
    assert len(workspace.platform.writes()) == 1 and workspace.state()["resources"] == {}
    assert workspace.run("import", "tool.first", str(made["id"])).exit_code == 0
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    state = workspace.state()["resources"]
    assert state["tool.first"]["id"] == made["id"]
    assert sorted(t["id"] for t in listed(workspace)["tool"]) == sorted(e["id"] for e in state.values())


def test_the_emulator_holds_only_the_chosen_methods_of_the_chosen_kinds(platform):
    from provisioner.emulator.faults import Faults, FaultSettings

    faults = Faults(FaultSettings(latency_ms=HELD, kinds=["tools"], methods=["POST"]))
    assert faults.applies("tools", "POST") and not faults.applies("tools", "GET")
    assert not faults.applies("campaigns", "POST") and Faults(FaultSettings()).applies("tools", "GET")
    refused = platform.admin.post("/_emulator/faults", json={"methods": ["BREW"]})
    assert refused.status_code == 422 and "unknown method BREW" in refused.text
    assert platform.admin.get("/_emulator/faults").json()["methods"] is None
