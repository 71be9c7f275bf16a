"""Reliability against the fault-injecting emulator: rate limits, failed commits, chaos, parallelism,
interrupted and killed applies, and locking."""
import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from provisioner.state import LockInfo
from provisioner.state.sql import open_store
from conftest import TOKEN, manifest_text

FAST_RETRIES = ("--max-retries=12", "--retry-backoff=0.01s")


def write_fleet(workspace, count, per_file=25, prefix="bot", edit=lambda i: {}):
    for path in workspace.root.glob("manifests/fleet-*.yaml"):
        path.unlink()
    for start in range(0, count, per_file):
        docs = [manifest_text(f"{prefix}-{i}", name=f"{prefix.title()} {i}", **{"speech_speed": 1.1, **edit(i)})
                for i in range(start, min(count, start + per_file))]
        workspace.write(f"manifests/fleet-{start}.yaml", "---\n".join(docs))


def assert_exactly_once(workspace, count, prefix="Bot"):
    items = workspace.platform.assistants()
    names = collections.Counter(item["name"] for item in items)
    assert [n for n, c in names.items() if c > 1] == []
    assert sorted(names) == sorted(f"{prefix} {i}" for i in range(count))
    state = workspace.state()["resources"]
    assert sorted(e["id"] for e in state.values()) == sorted(item["id"] for item in items)
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all


def test_rate_limits_are_waited_out(workspace):
    write_fleet(workspace, 30)
    # Well under what 10 workers send in a second, however busy the machine (at 25/1s a slow run met no 429).
    workspace.platform.faults(rate_limit="15/1s")
    result = workspace.run("apply", "--auto-approve", "--parallelism=10")  # --rate-limit off: it finds out
    assert result.exit_code == 0, result.all
    stats = workspace.platform.stats()
    workspace.platform.faults(rate_limit="off")
    assert stats["rate_limited"] > 0 and stats["requests"]["POST /user/assistant"] > 30
    assert_exactly_once(workspace, 30)


def test_a_paced_apply_stays_within_the_budget_and_is_never_refused(workspace):
    write_fleet(workspace, 45)
    budget = "40/2s,12/0.5s"
    workspace.platform.faults(rate_limit=budget)
    started = time.monotonic()
    result = workspace.run("apply", "--auto-approve", "--parallelism=10", f"--rate-limit={budget}")
    seconds = time.monotonic() - started
    stats = workspace.platform.stats()
    workspace.platform.faults(rate_limit="off")
    assert result.exit_code == 0, result.all
    assert stats["rate_limited"] == 0
    # 50 requests (4 reads, 45 creates, verify's list read) at 40 per 2 s cannot take less than one window.
    assert stats["total"] == 50 and seconds >= 2
    assert_exactly_once(workspace, 45)


def test_lost_answers_to_creates_never_duplicate(workspace):
    write_fleet(workspace, 20)
    workspace.platform.faults(commit_fail_rate=0.5, seed=7)
    result = workspace.run("apply", "--auto-approve", *FAST_RETRIES)
    workspace.platform.faults(commit_fail_rate=0)
    assert result.exit_code == 0, result.all
    assert "adopted: the create had succeeded though its answer was lost" in result.output
    assert_exactly_once(workspace, 20)


def test_deletes_retried_into_a_404_share_one_list_read_to_confirm_they_are_gone(workspace):
    """Every delete takes effect, answers 500, and its retry meets the platform's 404: each is "already gone" only
    once a list read begun after that 404 no longer shows it. Made at once, each such read held its worker and
    paused every write, and a read served the few deletes answered 404 while it ran: 60 deletes made about 15
    reads of the list. Waiting without a worker until nothing else is in flight, they share one."""
    write_fleet(workspace, 60)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.platform.faults(commit_fail_rate=1.0, kinds=["assistants"], methods=["DELETE"], seed=5)
    before = workspace.platform.stats()["requests"]
    result = workspace.run("destroy", "--auto-approve", *FAST_RETRIES)
    after = workspace.platform.stats()["requests"]
    workspace.platform.faults(commit_fail_rate=0, kinds=None, methods=None)
    assert result.exit_code == 0, result.all[-3000:]
    assert result.output.count("it was already gone") == 60, result.all[-3000:]
    sent = {route: after[route] - before.get(route, 0) for route in after}
    assert sent["DELETE /user/assistant/{id}"] == 120, sent
    # One page each (60 assistants): the plan's read, then one to confirm all 60.
    assert sent["GET /user/assistants/get"] == 2, sent
    assert workspace.platform.assistants() == [] and workspace.state()["resources"] == {}


def test_creates_whose_answers_are_lost_share_one_list_read_to_find_what_they_made(workspace):
    """Every create takes effect and its answer is lost: each is adopted once a list read begun after its failure
    shows its assistant. Looked for at once, each held its worker for a read of the whole list while every write
    paused, and a read served only the few creates that failed while it ran: a read per few creates, each of the
    whole list, an apply that grew with the square of the fleet. Waiting without a worker until nothing else is in
    flight, they share one read, and each finds its assistant in it by its name."""
    write_fleet(workspace, 60)
    result, sent = every_answer_lost(workspace, "POST", "apply", "--auto-approve", *FAST_RETRIES)
    assert result.exit_code == 0, result.all[-3000:]
    assert result.output.count("adopted: the create had succeeded though its answer was lost") == 60, result.all
    assert sent["POST /user/assistant"] == 60, sent
    # One page each (60 assistants): the plan's read, one to find all 60, and verify's.
    assert sent["GET /user/assistants/get"] == 3, sent
    assert_exactly_once(workspace, 60)


def apply_under_faults(workspace, kind, **rates):
    """The CLI's apply, two changes at once, while the creates of `kind` meet the faults `rates` (seed 1); then none."""
    workspace.platform.faults(**rates, kinds=[kind], methods=["POST"], seed=1)
    try:
        return workspace.run("apply", "--auto-approve", "--parallelism=2", *FAST_RETRIES)
    finally:
        workspace.platform.faults(**{name: 0 for name in rates}, kinds=None, methods=None)


def test_two_lost_creates_of_one_name_never_both_adopt_the_one_object_made(workspace):
    """Two tools of one name (tools may share names); both creates' answers are lost, one after it made its tool, the
    other before (seed 1: a 500 without effect, then a commit answered by a proxy's 429). Waiting for one shared read,
    each found the one new tool named so and adopted it: the store refused one object at two addresses, both changes
    failed ("another workspace ... recorded first") and neither was recorded, and every later plan refused the two
    manifests matching the one tool. One of them takes it; the other, whose create made nothing, sends again."""
    workspace.dialect = "v2"
    tool = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata: {{name: {}}}\nspec:\n  name: lookup\n"
            "  description: Look up an order.\n  endpoint: https://api.example.com/orders\n  method: GET\n")
    workspace.write("manifests/tools.yaml", tool.format("a") + "---\n" + tool.format("b"))
    result = apply_under_faults(workspace, "tools", error_rate=0.5, commit_429_rate=1.0)
    assert result.exit_code == 0, result.all
    assert "adopted: the create had succeeded though its answer was lost" in result.output
    tools = [item["id"] for item in workspace.platform.http.get("/user/tools").json() if item["name"] == "lookup"]
    state = workspace.state()["resources"]
    assert len(tools) == 2 and sorted(entry["id"] for entry in state.values()) == sorted(tools), (tools, state)
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all


def test_two_lost_creates_of_one_name_that_both_made_theirs_are_not_told_to_delete_each_others(workspace):
    """Two tools of one name whose creates both took effect and lost their answers: each look finds two new tools of
    its name and cannot tell which is its own. Each was told to import one "and delete the others", the other being
    the other manifest's tool. The advice now names the other create of that name and says to delete neither; once
    one is imported as told, the next apply adopts the other for the other manifest, and nothing is made twice."""
    workspace.dialect = "v2"
    tool = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata: {{name: {}}}\nspec:\n  name: lookup\n"
            "  description: Look up an order.\n  endpoint: https://api.example.com/{}\n  method: GET\n")
    workspace.write("manifests/tools.yaml", tool.format("a", "a") + "---\n" + tool.format("b", "b"))
    workspace.platform.faults(commit_fail_rate=1.0, kinds=["tools"], methods=["POST"], seed=1)
    try:
        failed = workspace.run("apply", "--auto-approve", "--parallelism=2", *FAST_RETRIES)
    finally:
        workspace.platform.faults(commit_fail_rate=0, kinds=None, methods=None)
    made = {item["endpoint"]: item["id"] for item in workspace.platform.http.get("/user/tools").json()}
    assert failed.exit_code == 1 and len(made) == 2, (made, failed.all)
    assert "delete the others" not in failed.all, failed.all
    for address, other in (("tool.a", "tool.b"), ("tool.b", "tool.a")):
        assert (f"{address}: create failed: the outcome of the create was unknown and the platform now has 2 new "
                f"mid-call tools named 'lookup' (ids {', '.join(map(str, sorted(made.values())))}); adopt this one's "
                f"with `provisioner import {address} ID`; the others may be those of {other}, which this apply "
                "also creates under that name, so delete none of them") in failed.all, failed.all
    assert workspace.run("import", "tool.a", str(made["https://api.example.com/a"])).exit_code == 0
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    state = workspace.state()["resources"]
    assert {address: entry["id"] for address, entry in state.items()} == {
        "tool.a": made["https://api.example.com/a"], "tool.b": made["https://api.example.com/b"]}, state
    assert len(workspace.platform.http.get("/user/tools").json()) == 2


def test_a_lost_create_that_finds_its_siblings_object_under_a_name_of_other_case_never_says_delete_it(workspace):
    """Two assistants 'Twin' and 'twin' (names differ in case only): both creates' answers are lost, one after it
    made its assistant, the other before (seed 1: a 500 without effect, then a commit answered by a 500). The one
    that made nothing found only the other's new assistant, of a name that differs from its own in case, and was
    told it may be its own, "adopt it ... (or delete it)": the other create took it, and deleting it deleted a
    recorded assistant. The failure now says whose name it has and to delete none of it; the next apply creates the
    one that failed, and both are recorded once."""
    workspace.add("big", "Twin")
    workspace.add("small", "twin")
    workspace.platform.faults(error_rate=0.5, commit_fail_rate=1.0, kinds=["assistants"], methods=["POST"], seed=1)
    try:
        failed = workspace.run("apply", "--auto-approve", "--parallelism=1", *FAST_RETRIES)
    finally:
        workspace.platform.faults(error_rate=0, commit_fail_rate=0, kinds=None, methods=None)
    [made] = workspace.platform.assistants()
    assert failed.exit_code == 1 and "(or delete it)" not in failed.all, failed.all
    owner, other = ("small", "big") if made["name"] == "twin" else ("big", "small")
    assert (f"{other}: create failed: the outcome of the create was unknown, and the platform now has a new assistant "
            f"whose name differs from {'Twin' if other == 'big' else 'twin'!r} only in spacing or case: id {made['id']} "
            f"({made['name']!r}), the name of {owner}, which this apply also creates, so it is likely theirs: delete "
            "none of it") in failed.all, failed.all
    assert workspace.state()["resources"][owner]["id"] == made["id"]
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert sorted(a["name"] for a in workspace.platform.assistants()) == ["Twin", "twin"]
    assert sorted(e["id"] for e in workspace.state()["resources"].values()) == sorted(
        a["id"] for a in workspace.platform.assistants())


def test_a_lost_create_never_takes_a_namesake_campaign_whose_hidden_settings_may_be_anothers(workspace):
    """Two campaigns of one name for two assistants; both creates' answers are lost, one after it made its campaign,
    the other before (seed 1). A look found the one new campaign of the name and took it, though it may be the other
    create's: a campaign's assistant_id is never shown back, so campaign.a held campaign.b's campaign (calling through
    b's assistant) and the next apply made a second one like it, every plan after saying "No changes". Neither takes
    it now: each says whose it cannot tell and to delete none of it; imported for the manifest whose it is, the next
    apply creates the other, each campaign with its own assistant."""
    for name in ("acaller", "bcaller"):
        workspace.add(name, calls_direction="make")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    campaign = ("apiVersion: provisioner/v1\nkind: Campaign\nmetadata: {{name: {0}}}\nspec:\n  name: Winter\n"
                "  assistant_id: assistant.{0}caller\n")
    workspace.write("manifests/winter.yaml", campaign.format("a") + "---\n" + campaign.format("b"))
    failed = apply_under_faults(workspace, "campaigns", error_rate=0.5, commit_fail_rate=1.0)

    def assistant_of(campaign_id):
        return workspace.platform.admin.get(f"/_emulator/objects/campaigns/{campaign_id}").json()["fields"][
            "assistant_id"]

    resources = workspace.state()["resources"]
    owner = {resources[f"{n}caller"]["id"]: f"campaign.{n}" for n in "ab"}
    [made] = [c["id"] for c in workspace.platform.http.get("/user/campaigns").json()]
    assert failed.exit_code == 1 and "campaign.a" not in resources and "campaign.b" not in resources, failed.all
    for address, other in (("campaign.a", "campaign.b"), ("campaign.b", "campaign.a")):
        assert (f"{address}: create failed: the outcome of the create was unknown and the platform now has one new "
                f"campaign named 'Winter' (id {made}), which may be this create's or that of {other}, which this "
                "apply also creates under that name with another assistant_id, never shown back, so whose it is "
                "cannot be told: delete none of it") in failed.all, failed.all
    assert workspace.run("import", owner[assistant_of(made)], str(made)).exit_code == 0
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    resources = workspace.state()["resources"]
    for n in "ab":
        assert assistant_of(resources[f"campaign.{n}"]["id"]) == resources[f"{n}caller"]["id"], n
    assert len(workspace.platform.http.get("/user/campaigns").json()) == 2
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all


def test_lost_creates_of_sip_trunks_sharing_a_nickname_each_take_the_trunk_of_their_identity(workspace):
    """Two SIP trunks of one nickname and of other numbers (and types: a setting never shown back) whose creates lost
    their answers, one after it made its trunk: a trunk is found by its number, username and address, so the one
    found is that create's whoever else shares the nickname, and is taken; the other is sent again."""
    trunk = ("apiVersion: provisioner/v1\nkind: SipTrunk\nmetadata: {{name: {0}}}\nspec:\n  sip_trunk_type: {1}\n"
             "  phone_number: \"{2}\"\n  nickname: Office\n  sip_username: office\n  sip_password: pw-office\n"
             "  sip_address: sip.provider.com\n  sip_calling_format: \"+e164\"\n  inbound_authorization_type: auth\n"
             "  country_code: US\n")
    workspace.write("manifests/trunks.yaml", trunk.format("a", "number", "+14155551234") + "---\n"
                    + trunk.format("b", "extension", "1000"))
    result = apply_under_faults(workspace, "sip_trunks", error_rate=0.5, commit_fail_rate=1.0)
    assert result.exit_code == 0 and "adopted: the create had succeeded" in result.output, result.all
    trunks = workspace.platform.http.get("/user/phone-numbers/sip-trunks").json()["data"]
    resources = workspace.state()["resources"]
    assert {t["id"]: t["phone_number"] for t in trunks} == {
        resources["siptrunk.a"]["id"]: "+14155551234", resources["siptrunk.b"]["id"]: "1000"}, (trunks, resources)


def every_answer_lost(workspace, method, *command):
    """The CLI's run of `command` while every write of `method` to an assistant takes effect and its answer is lost;
    and the requests it sent, by route."""
    workspace.platform.faults(commit_fail_rate=1.0, kinds=["assistants"], methods=[method], seed=5)
    try:
        before = workspace.platform.stats()["requests"]
        result = workspace.run(*command)
        after = workspace.platform.stats()["requests"]
    finally:
        workspace.platform.faults(commit_fail_rate=0, kinds=None, methods=None)
    return result, {route: count - before.get(route, 0) for route, count in after.items()}


def test_a_proxys_429_after_the_create_was_made_is_looked_up_never_resent(workspace):
    """A 429 without the platform's body (a proxy's, here after the platform made the assistant) does not say the
    request was refused: resent, every create made one more assistant until --retry-max-time. The creates are
    looked for by name instead, and adopted."""
    write_fleet(workspace, 3)
    workspace.platform.faults(commit_429_rate=1.0, kinds=["assistants"], methods=["POST"])
    result = workspace.run("apply", "--auto-approve", "--retry-max-time=5s", *FAST_RETRIES)
    workspace.platform.faults(commit_429_rate=0, kinds=None, methods=None)
    assert result.exit_code == 0, result.all
    assert result.output.count("adopted: the create had succeeded though its answer was lost") == 3, result.all
    assert_exactly_once(workspace, 3)


def test_chaos_several_hundred_assistants_under_injected_failures(workspace):
    count = 300
    write_fleet(workspace, count)
    workspace.platform.faults(error_rate=0.1, commit_fail_rate=0.1, latency_ms=1, seed=11)
    result = workspace.run("apply", "--auto-approve", "--parallelism=10", *FAST_RETRIES)
    assert result.exit_code == 0, result.all[-3000:]
    # Then updates of half of them and deletes of 50, under the same faults.
    write_fleet(workspace, count - 50, edit=lambda i: {"speech_speed": 1.2, "system_prompt": "v2"} if i % 2 else {})
    plan = workspace.run("plan")
    assert "Plan: 0 to add, 125 to change, 50 to destroy." in plan.output, plan.all[-2000:]
    result = workspace.run("apply", "--auto-approve", "--parallelism=10", *FAST_RETRIES)
    assert result.exit_code == 0, result.all[-3000:]
    workspace.platform.faults(error_rate=0, commit_fail_rate=0, latency_ms=0)
    assert_exactly_once(workspace, count - 50)
    odd = [a for a in workspace.platform.assistants() if int(a["name"].split()[1]) % 2]
    assert len(odd) == 125 and all(a["system_prompt"] == "v2" for a in odd)


@pytest.mark.parametrize("parallelism", [1, 6])
def test_changes_run_concurrently_up_to_parallelism(workspace, parallelism):
    write_fleet(workspace, 18)
    workspace.platform.faults(latency_ms=60)
    workspace.platform.reset()
    result = workspace.run("apply", "--auto-approve", f"--parallelism={parallelism}")
    workspace.platform.faults(latency_ms=0)
    assert result.exit_code == 0
    peak = workspace.platform.concurrency()["max_in_flight"]
    assert peak == parallelism if parallelism == 1 else 2 <= peak <= parallelism
    assert result.output.count("Creation complete") == 18


# --- subprocess runs: signals, crashes, concurrent applies ---

def spawn(workspace, *args):
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}
    return subprocess.Popen([sys.executable, "-m", "provisioner", *args, f"--api-url={workspace.platform.url}"],
                            cwd=workspace.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_assistants(workspace, at_least, timeout=20):
    deadline = time.monotonic() + timeout
    while len(workspace.platform.assistants()) < at_least:
        assert time.monotonic() < deadline, "apply made no progress"
        time.sleep(0.05)


def test_ctrl_c_finishes_in_flight_changes_records_them_and_exits_non_zero(workspace):
    write_fleet(workspace, 40)
    workspace.platform.faults(latency_ms=150)
    process = spawn(workspace, "apply", "--auto-approve", "--parallelism=3")
    wait_for_assistants(workspace, 4)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    workspace.platform.faults(latency_ms=0)
    assert process.returncode != 0
    assert "Interrupted" in err and "not started" in err
    created = workspace.platform.assistants()
    state = workspace.state()["resources"]
    assert 4 <= len(created) < 40
    assert sorted(e["id"] for e in state.values()) == sorted(a["id"] for a in created)  # nothing unrecorded
    assert open_store("sqlite", workspace.state_file).lock_holder() is None
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert_exactly_once(workspace, 40)


def test_sigkill_at_random_moments_then_rerun_ends_with_exactly_one_each(workspace):
    count = 60
    write_fleet(workspace, count)
    workspace.platform.faults(latency_ms=25)
    rng = random.Random(5)
    for _ in range(4):
        process = spawn(workspace, "apply", "--auto-approve", "--parallelism=4")
        time.sleep(rng.uniform(0.8, 1.8))
        process.kill()
        process.wait()
    workspace.platform.faults(latency_ms=0)
    # A killed run leaves its lock behind; the holder is dead, so the next run clears it by itself.
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    assert_exactly_once(workspace, count)


def test_two_applies_at_once_one_waits_for_the_other(workspace):
    write_fleet(workspace, 30)
    workspace.platform.faults(latency_ms=20)
    first = spawn(workspace, "apply", "--auto-approve", "--lock-timeout=60s")
    second = spawn(workspace, "apply", "--auto-approve", "--lock-timeout=60s")
    outputs = [p.communicate(timeout=60) for p in (first, second)]
    workspace.platform.faults(latency_ms=0)
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert sum("No changes." in out for out, _ in outputs) == 1
    assert_exactly_once(workspace, 30)


def test_two_applies_at_once_without_waiting_one_is_refused_with_the_holder(workspace):
    write_fleet(workspace, 30)
    # Slow answers, two at a time, and the second run started once the first has reached the platform (it holds
    # the lock from before its first request): the first applies for some 6 s (15 rounds of 400 ms), well past
    # the few seconds the second process takes to start on a busy machine, so it asks while the lock is held.
    workspace.platform.faults(latency_ms=400)
    before = sum(workspace.platform.stats()["requests"].values())
    first = spawn(workspace, "apply", "--auto-approve", "--parallelism=2")
    deadline = time.monotonic() + 30
    while sum(workspace.platform.stats()["requests"].values()) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    second = spawn(workspace, "apply", "--auto-approve")
    results = [(p.wait(timeout=60), p.stderr.read()) for p in (first, second)]
    workspace.platform.faults(latency_ms=0)
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    assert "locked by another run" in refused and "Operation: apply" in refused and "pid" in refused
    assert_exactly_once(workspace, 30)


# --- locking, in process ---

def test_every_state_command_respects_the_lock_and_force_unlock_frees_it(workspace):
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    backend = open_store("sqlite", workspace.state_file)
    held = backend.lock("apply", 0)
    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"], ["import", "a", "1"],
                    ["refresh"], ["state", "list"], ["state", "rm", "a"], ["state", "mv", "a", "b"]):
        result = workspace.run(*command)
        assert result.exit_code == 1, command
        assert "locked by another run" in result.stderr and held.id in result.stderr, command
        assert f"provisioner force-unlock {held.id}" in result.stderr
    assert workspace.run("plan", "--lock=false").exit_code == 0
    wrong = workspace.run("force-unlock", "not-the-id", api=False)
    assert wrong.exit_code == 1 and "does not match" in wrong.stderr
    assert workspace.run("force-unlock", held.id, "--force", api=False).exit_code == 0
    assert workspace.run("plan").exit_code == 0


def test_lock_timeout_waits_for_the_holder(workspace):
    workspace.add("a")
    backend = open_store("sqlite", workspace.state_file)
    held = backend.lock("plan", 0)
    threading.Timer(0.4, backend.unlock, args=(held.id,)).start()
    result = workspace.run("apply", "--auto-approve", "--lock-timeout=10s")
    assert result.exit_code == 0, result.all


def test_a_lock_left_by_a_dead_process_on_this_host_is_cleared(workspace):
    import socket

    workspace.add("a")
    dead = subprocess.Popen(["true"])
    dead.wait()
    store = open_store("sqlite", workspace.state_file)
    with store._transaction("write a lock row") as cursor:
        store._insert_lock(cursor, LockInfo(id="old", operation="apply", who="ci@elsewhere",
                                            host=socket.gethostname(), pid=dead.pid,
                                            created="2026-01-01T00:00:00+00:00", path="x"), None)
    assert store.lock_holder().id == "old"
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert store.lock_holder() is None


def test_only_plan_may_skip_the_lock(workspace):
    workspace.add("a")
    result = workspace.run("apply", "--auto-approve", "--lock=false")
    assert result.exit_code != 0 and "No such option" in result.stderr
    assert workspace.platform.assistants() == []
