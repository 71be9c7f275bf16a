"""Apply walks a graph of kinds against the emulator over loopback HTTP: references resolved to the ids their
objects got, any kind through its Endpoints, lost creates found instead of repeated, replacements both ways
round with the referrers updated between, readiness waits, and state rows per kind."""
from __future__ import annotations

import time

import pytest

from conftest import REQUIRED, TOKEN
from graph_kinds import KINDS, folder, record, tool
from provisioner.apply import StateRecorder, apply_plan, resolve_refs
from provisioner.client import PlatformClient, RetryPolicy
from provisioner.errors import ProvisionerError
from provisioner.plan import Action, Change, Plan
from provisioner.state import deposed_address
from provisioner.state.sql import open_store


@pytest.fixture
def setup(platform, tmp_path):
    client = PlatformClient(platform.url, TOKEN, retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
                            notify=lambda line: None)
    store = open_store("sqlite", tmp_path / "state" / "p.db")
    yield platform, client, store, applier(platform, client, store)
    client.close()
    store.close()
    platform.faults(kinds=None, document_delay_ms=300)  # what the shared fixture does not reset


def applier(platform, client: PlatformClient, store):
    """apply(changes, **apply_plan's options) through `client` into `store`, the ids known as the platform lists them."""
    def apply(changes, **options):
        state = store.read()
        plan = Plan(changes=changes, lineage=state.lineage, serial=state.serial)
        known = options.pop("known", None)
        if known is None:
            known = {"assistant": {a["id"] for a in platform.assistants()},
                     **{k: {i["id"] for i in kind.endpoints.list(client, None)} for k, kind in KINDS.items()
                        if k in ("tool", "folder", "knowledgebase")}}
        return apply_plan(plan, client, StateRecorder(store, state), known_ids=known, parallelism=4, kinds=KINDS,
                          **options)
    return apply


def assistant(address: str, action: Action = Action.CREATE, *, remote_id=None, depends_on=(), **fields) -> Change:
    spec = {"assistant_name": address.title(), **REQUIRED, **fields}
    return Change(address=address, action=action, assistant_name=spec["assistant_name"], remote_id=remote_id,
                  body=spec, record=record(spec), depends_on=list(depends_on))


def tool_and_its_assistant() -> list[Change]:
    return [tool("lookup"), assistant("support", tool_ids=[{"$ref": "tool.lookup"}], depends_on=["tool.lookup"])]


def stored(platform, kind: str, remote_id: int) -> dict:
    return platform.admin.get(f"/_emulator/objects/{kind}/{remote_id}").json()["fields"]


def test_a_reference_gets_the_id_its_object_got_in_this_apply_and_state_keeps_kind_and_ids(setup):
    platform, client, store, apply = setup
    report = apply([assistant("support", tool_ids=[{"$ref": "tool.lookup"}], depends_on=["tool.lookup"]),
                    tool("lookup")])
    assert report.ok, [r.message for r in report.results]
    state = store.read()
    made = state.resources["tool.lookup"]
    assert made.kind == "tool" and made.spec["name"] == "lookup"
    support = state.resources["support"]
    assert support.kind == "assistant" and support.spec["tool_ids"] == [made.id]  # ids in state, never markers
    assert support.depends_on == ["tool.lookup"]
    assert stored(platform, "assistants", support.id)["tool_ids"] == [made.id]


def test_an_unresolvable_reference_fails_its_change_clearly_and_skips_its_dependents(setup):
    platform, client, store, apply = setup
    campaign = Change(address="campaign.c", action=Action.CREATE, assistant_name="c", kind="campaign",
                      depends_on=["assistant.support"], body={"assistant_id": {"$ref": "assistant.support"}})
    report = apply([assistant("support", tool_ids=[{"$ref": "tool.nowhere"}], depends_on=["tool.nowhere"]),
                    campaign])
    by = {r.change.address: r for r in report.results}
    assert not by["support"].ok and "tool.nowhere has no id" in by["support"].message
    assert by["campaign.c"].skipped and by["campaign.c"].message == "not started: because support failed"
    assert platform.assistants() == []


def test_resolve_refs_replaces_markers_anywhere_and_leaves_the_rest():
    ids = {"tool.a": 1, "tool.b": 2}.__getitem__
    assert resolve_refs({"x": [{"$ref": "tool.a"}, 7, {"$ref": "tool.b"}], "y": {"$ref": "tool.a"}, "z": "$ref"},
                        ids) == {"x": [1, 7, 2], "y": 1, "z": "$ref"}


def test_a_create_whose_answer_is_lost_is_found_not_repeated_for_any_kind(setup):
    platform, client, store, apply = setup
    platform.faults(commit_fail_rate=1.0, kinds=["tools", "folders"], seed=1)
    report = apply([tool("lookup"), folder("sales")])
    platform.faults(commit_fail_rate=0.0)
    assert report.ok, [r.message for r in report.results]
    assert all("adopted" in r.message for r in report.results)
    assert [t["name"] for t in KINDS["tool"].endpoints.list(client, None)].count("lookup") == 1
    assert [f["name"] for f in KINDS["folder"].endpoints.list(client, None)].count("sales") == 1
    assert {"tool.lookup", "folder.sales"} <= set(store.read().resources)


def test_updates_and_deletes_of_a_kind_and_a_delete_after_the_update_that_dropped_it(setup):
    platform, client, store, apply = setup
    assert apply(tool_and_its_assistant()).ok
    state = store.read()
    tool_id, support_id = state.resources["tool.lookup"].id, state.resources["support"].id
    update = assistant("support", Action.UPDATE, remote_id=support_id, tool_ids=[])
    update.body = {"tool_ids": []}
    report = apply([tool("lookup", Action.DELETE, remote_id=tool_id), update])
    assert report.ok, [r.message for r in report.results]
    writes = [(w["method"], w["path"]) for w in platform.writes()]
    assert writes.index(("PUT", f"/user/assistant/{support_id}")) < writes.index(
        ("DELETE", f"/user/tools/{tool_id}"))
    assert "tool.lookup" not in store.read().resources


def test_a_state_sync_keeps_the_kind_and_an_update_without_references_clears_them(setup):
    from provisioner.plan import StateSync

    platform, client, store, apply = setup
    assert apply(tool_and_its_assistant()).ok
    state = store.read()
    plan = Plan(changes=[], lineage=state.lineage, serial=state.serial,
                state_sync=[StateSync("tool.lookup", record({"name": "lookup"}, protect=True))])
    apply_plan(plan, client, StateRecorder(store, state), known_ids=set(), kinds=KINDS)
    state = store.read()
    assert state.resources["tool.lookup"].kind == "tool" and state.resources["tool.lookup"].protect
    update = assistant("support", Action.UPDATE, remote_id=state.resources["support"].id, tool_ids=[])
    update.body = {"tool_ids": []}
    assert apply([update]).ok
    assert store.read().resources["support"].depends_on == []


def test_a_replaced_tool_is_created_first_its_assistants_get_the_new_id_then_the_old_is_destroyed(setup):
    platform, client, store, apply = setup
    assert apply(tool_and_its_assistant()).ok
    state = store.read()
    old, support_id = state.resources["tool.lookup"].id, state.resources["support"].id
    keep = assistant("support", Action.UPDATE, remote_id=support_id, depends_on=["tool.lookup"],
                     tool_ids=[{"$ref": "tool.lookup"}])
    keep.body = {"tool_ids": [{"$ref": "tool.lookup"}]}
    report = apply([tool("lookup", replace=True, remote_id=old, method="POST"), keep])
    assert report.ok, [r.message for r in report.results]
    state = store.read()
    new = state.resources["tool.lookup"].id
    assert new != old and deposed_address("tool.lookup") not in state.resources
    assert state.resources["support"].spec["tool_ids"] == [new]
    assert stored(platform, "assistants", support_id)["tool_ids"] == [new]
    writes = [(w["method"], w["path"]) for w in platform.writes()]
    assert writes.index(("POST", "/user/tools")) < writes.index(("PUT", f"/user/assistant/{support_id}")) \
        < writes.index(("DELETE", f"/user/tools/{old}"))


def test_a_replacement_whose_creation_had_an_unknown_outcome_leaves_the_old_object_deposed_in_state(setup):
    platform, client, store, apply = setup
    assert apply([tool("lookup")]).ok
    old = store.read().resources["tool.lookup"].id
    platform.faults(error_rate=1.0, kinds=["tools"])  # the create fails, and so does the look for its outcome
    report = apply([tool("lookup", replace=True, remote_id=old, method="POST")], known={"tool": {old}})
    platform.faults(error_rate=0.0)
    assert not report.ok
    state = store.read()
    # Whether a new one exists is unknown: the old one waits in state, deposed, for the next apply to destroy;
    # the address is free for the next plan to adopt the new one by name, or to create it.
    assert state.resources[deposed_address("tool.lookup")].id == old
    assert "tool.lookup" not in state.resources
    report = apply([Change(address=deposed_address("tool.lookup"), action=Action.DELETE, assistant_name="lookup",
                           kind="tool", remote_id=old)])
    assert report.ok and deposed_address("tool.lookup") not in store.read().resources


def test_a_replacement_the_platform_refuses_keeps_the_old_object_at_its_address(setup):
    platform, client, store, apply = setup
    assert apply([tool("lookup")]).ok
    old = store.read().resources["tool.lookup"].id
    report = apply([tool("lookup", replace=True, remote_id=old, method="SHOUT")])
    assert not report.ok and "rejected" in report.results[0].message
    state = store.read()
    assert state.resources["tool.lookup"].id == old and deposed_address("tool.lookup") not in state.resources
    assert [t["id"] for t in KINDS["tool"].endpoints.list(client, None)] == [old]


def test_a_kind_with_unique_names_is_destroyed_before_its_replacement_is_created(setup):
    platform, client, store, apply = setup
    assert apply([folder("sales", color="red")]).ok
    old = store.read().resources["folder.sales"].id
    report = apply([folder("sales", replace=True, remote_id=old, color="blue")])
    assert report.ok, [r.message for r in report.results]
    writes = [(w["method"], w["path"]) for w in platform.writes()]
    assert writes[-2:] == [("DELETE", f"/user/folder/{old}"), ("POST", "/user/folder")]
    assert store.read().resources["folder.sales"].id != old


def test_a_replacement_that_loses_data_is_refused_without_allow_replace(setup):
    platform, client, store, apply = setup
    campaign = Change(address="campaign.winter", action=Action.CREATE, assistant_name="winter", kind="campaign",
                      replace=True, remote_id=5, replace_reason="deletes leads")
    with pytest.raises(ProvisionerError, match=r"campaign.winter \(deletes leads\).*--allow-replace"):
        apply([campaign])
    assert platform.writes() == []


def test_a_delete_through_an_endpoint_shared_with_another_kind_is_confirmed_first(setup):
    platform, client, store, apply = setup
    gone = Change(address="siptrunk.office", action=Action.DELETE, assistant_name="office", kind="siptrunk",
                  remote_id=424242)
    report = apply([gone])
    assert not report.ok and "refusing to delete id 424242" in report.results[0].message
    assert platform.writes() == []


def knowledge(name="faq") -> Change:
    spec = {"name": name}
    return Change(address=f"knowledgebase.{name}", action=Action.CREATE, assistant_name=name, kind="knowledgebase",
                  body=spec, record=record(spec))


def document(kb="faq", name="page", url="https://example.com/page") -> Change:
    spec = {"name": name, "type": "website", "url": url, "knowledgebase_id": {"$ref": f"knowledgebase.{kb}"}}
    return Change(address=f"knowledgebase.{kb}.{name}", action=Action.CREATE, assistant_name=name, kind="document",
                  body=spec, record=record(spec), depends_on=[f"knowledgebase.{kb}"], wait=True)


def test_a_document_is_created_under_its_knowledge_base_and_waited_for_before_its_assistant(setup):
    platform, client, store, apply = setup
    platform.faults(document_delay_ms=400)
    support = assistant("support", engine_type="pipeline", depends_on=["knowledgebase.faq.page"])
    report = apply([support, document(), knowledge()])
    assert report.ok, [r.message for r in report.results]
    state = store.read()
    doc = state.resources["knowledgebase.faq.page"]
    assert doc.kind == "document" and doc.spec["knowledgebase_id"] == state.resources["knowledgebase.faq"].id
    items = KINDS["document"].endpoints.list(client, doc.spec["knowledgebase_id"])
    assert [i["status"] for i in items] == ["active"]  # the assistant was created after it was ready


def test_a_failed_document_is_a_clear_error_naming_it_and_its_dependents_are_skipped(setup):
    platform, client, store, apply = setup
    platform.faults(document_delay_ms=50)
    support = assistant("support", depends_on=["knowledgebase.faq.bad"])
    report = apply([knowledge(), document(name="bad", url="https://example.com/emulator-fail"), support])
    by = {r.change.address: r for r in report.results}
    assert not by["knowledgebase.faq.bad"].ok
    assert "knowledgebase.faq.bad (id" in by["knowledgebase.faq.bad"].message
    assert "will not become ready: processing failed" in by["knowledgebase.faq.bad"].message
    assert by["support"].skipped and "because knowledgebase.faq.bad failed" in by["support"].message
    # Its id is in state (it exists on the platform): the next plan replaces it rather than losing it.
    assert "knowledgebase.faq.bad" in store.read().resources


def test_a_document_still_processing_at_the_wait_timeout_fails_with_what_to_do(setup):
    platform, client, store, apply = setup
    platform.faults(document_delay_ms=60_000)
    report = apply([knowledge(), document()], wait_timeout=0.5)
    by = {r.change.address: r for r in report.results}
    assert "still being processed after 0.5s (--wait-timeout)" in by["knowledgebase.faq.page"].message


def test_an_interrupt_starts_nothing_new_and_names_what_was_not_started(setup):
    import threading

    platform, client, store, apply = setup
    interrupt = threading.Event()
    changes = [tool("lookup")] + [assistant(f"a{i}", tool_ids=[{"$ref": "tool.lookup"}], depends_on=["tool.lookup"])
                                  for i in range(3)]
    report = apply(changes, interrupt=interrupt, on_result=lambda result: interrupt.set())
    assert report.interrupted and not report.ok
    by = {r.change.address: r for r in report.results}
    assert by["tool.lookup"].ok and "tool.lookup" in store.read().resources
    assert all(by[f"a{i}"].skipped and by[f"a{i}"].message == "not started (interrupted)" for i in range(3))
    assert platform.assistants() == [] and len(report.results) == 4


@pytest.mark.parametrize("second_ctrl_c", [False, True])
def test_an_interrupt_while_a_delete_answered_404_waits_for_its_list_read_leaves_it_in_state(
        setup, proxy, tmp_path, second_ctrl_c):
    """A delete whose first attempt deleted (its answer lost) meets 404 on its retry, and waits without a worker for
    the list read that confirms it gone, made once nothing else is in flight (a tool's create, slow here). An
    interrupt meanwhile ends that wait, as it ends a document's readiness wait: the event the first Ctrl-C sets (no
    request is let through after it: the read, which waits for the write in flight, is not sent), or a second
    Ctrl-C's KeyboardInterrupt (the walk gives its waits up at once). The delete fails saying so and state keeps
    it; the create in flight finishes and is recorded."""
    import threading

    platform, client, store, apply = setup
    assert apply([assistant("beta")]).ok
    beta = store.read().resources["beta"].id
    slow = PlatformClient(proxy.url, TOKEN, retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
                          notify=lambda line: None)
    proxy.intercept = lambda method, path: (
        time.sleep(3) if method == "POST" and path.endswith("/user/tools") else None)
    platform.faults(commit_fail_rate=1.0, kinds=["assistants"], methods=["DELETE"], seed=2)
    interrupt = threading.Event()
    reported = []

    def on_result(result):
        reported.append(result.change.address)
        if second_ctrl_c and result.change.address == "tool.slow" and reported.count("tool.slow") == 1:
            raise KeyboardInterrupt

    def interrupt_once_both_deletes_were_answered():
        while [(m, p) for m, p in proxy.seen if m == "DELETE"] != [("DELETE", f"/api/user/assistant/{beta}")] * 2:
            time.sleep(0.01)
        time.sleep(0.3)
        interrupt.set()

    if not second_ctrl_c:
        threading.Thread(target=interrupt_once_both_deletes_were_answered, daemon=True).start()
    try:
        report = applier(platform, slow, store)([tool("slow"), assistant("beta", Action.DELETE, remote_id=beta)],
                                                interrupt=interrupt, on_result=on_result)
    finally:
        platform.faults(commit_fail_rate=0.0)
        slow.close()
    by = {r.change.address: r for r in report.results}
    assert report.interrupted and not by["beta"].ok and by["tool.slow"].ok, [r.message for r in report.results]
    assert (f"assistant {beta}: the platform answered 404 to its delete; interrupted before a list read could "
            "confirm it is gone: state keeps it") in by["beta"].message
    assert "beta" in store.read().resources and "tool.slow" in store.read().resources
    assert platform.assistants() == []  # its first attempt deleted it: the next plan finds it gone
    assert set(reported) == {"beta", "tool.slow"}, reported


# --- crash safety: SIGKILL anywhere in a graph apply ---

def test_sigkill_during_graph_applies_leaves_no_duplicate_and_nothing_lost(platform, tmp_path):
    """Rounds of apply (half of them replacing every tool, create before destroy, and so updating every
    assistant) killed at random moments; then an apply that finishes, and one that has nothing to do. The
    platform then holds each object once, state holds exactly those, and each assistant the tool ids state
    recorded (graph_apply_process.py plans as the real planner does: adoption by name, deposed rows destroyed)."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    script = os.path.join(os.path.dirname(__file__), "graph_apply_process.py")
    database = str(tmp_path / "state" / "p.db")
    platform.faults(latency_ms=200)  # an apply then takes about a second: most kills land inside it
    rng = random.Random(17)

    def run(*extra: str, kill_after: float | None = None) -> tuple[int, str]:
        process = subprocess.Popen([sys.executable, script, platform.url, database, *extra],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if kill_after is not None:
            line = process.stdout.readline()  # PLANNED n: the apply begins
            time.sleep(kill_after)
            process.send_signal(signal.SIGKILL)
            output = line + process.stdout.read()
        else:
            output = process.stdout.read()
        return process.wait(), output

    interrupted = 0
    for round_number in range(6):
        code, output = run(*(["replace"] if round_number % 2 else []), kill_after=rng.uniform(0.05, 0.8))
        assert code != 3, output  # the planner found two objects of one name: a duplicate
        interrupted += code == -signal.SIGKILL and "DONE" not in output
    assert interrupted >= 3  # most rounds were killed before their apply ended
    platform.faults(latency_ms=0, kinds=None)
    code, output = run("replace")
    assert code == 0 and "DONE" in output, output
    code, output = run("replace")
    assert code == 0 and "PLANNED 0" in output, output

    client = PlatformClient(platform.url, TOKEN)
    tools = KINDS["tool"].endpoints.list(client, None)
    client.close()
    assistants = platform.assistants()
    assert sorted(t["name"] for t in tools) == ["tool_a", "tool_b", "tool_c"]
    assert sorted(a["name"] for a in assistants) == [f"A{i}" for i in range(8)]
    store = open_store("sqlite", database, project="crash")
    state = store.read()
    store.close()
    assert {a: e.id for a, e in state.resources.items() if e.kind == "tool"} == {
        f"tool.t{'abc'.index(t['name'][-1])}": t["id"] for t in tools}
    for item in assistants:
        entry = state.resources[item["name"].lower()]
        assert entry.id == item["id"]
        assert stored(platform, "assistants", item["id"])["tool_ids"] == entry.spec["tool_ids"] == [
            state.resources[f"tool.t{int(item['name'][1:]) % 3}"].id]


def test_a_replacement_is_reported_once_saying_which_half_did_what():
    from provisioner.apply import ChangeResult, _replacement_result
    from provisioner.walk import CREATE, DESTROY

    change = tool("lookup", replace=True, remote_id=5)
    made = ChangeResult(change, True, 1.0, 9)
    assert _replacement_result({CREATE: made, DESTROY: ChangeResult(change, True, 1.0, 5)}).ok
    gone = ChangeResult(change, False, 0.0, 5, skipped=True, message="not started: because a failed")
    result = _replacement_result({CREATE: made, DESTROY: gone})
    assert not result.ok and not result.skipped and result.remote_id == 9
    assert result.message == ("the new object (id 9) was created, but the old one (id 5) was not destroyed: "
                              "because a failed; the next apply destroys it")
    failed = ChangeResult(change, False, 0.0, 5, message="the platform rejected it: x")
    other_half = ChangeResult(change, False, 0.0, 5, skipped=True, message="not started: its other half failed")
    assert _replacement_result({CREATE: failed, DESTROY: other_half}).message == "the platform rejected it: x"
    both = _replacement_result({CREATE: gone, DESTROY: gone})
    assert both.skipped and both.message == "not started: because a failed"


def test_a_plan_refused_for_a_cycle_writes_neither_its_moves_nor_its_state_refreshes(setup):
    """"nothing was applied", the cycle's message says: the moves and refreshes had been committed before the
    graph was built (state's serial advanced, and a saved plan of that state went stale)."""
    from provisioner.plan import StateSync
    from provisioner.walk import GraphCycle

    platform, client, store, apply = setup
    assert apply(tool_and_its_assistant()).ok
    state = store.read()
    cycle = [tool("a"), tool("b")]
    cycle[0].depends_on, cycle[1].depends_on = ["tool.b"], ["tool.a"]
    plan = Plan(changes=cycle, lineage=state.lineage, serial=state.serial,
                moves=[{"from": "support", "to": "helpdesk"}],
                state_sync=[StateSync("tool.lookup", record({"name": "lookup"}, protect=True))])
    with pytest.raises(GraphCycle):
        apply_plan(plan, client, StateRecorder(store, state), known_ids=set(), kinds=KINDS)
    after = store.read()
    assert after.serial == state.serial and set(after.resources) == set(state.resources)
    assert not after.resources["tool.lookup"].protect
    # The graph of a plan with moves is the one the committed moves give: a change that depends on the moved
    # address still runs after what it needs.
    plan = Plan(changes=[], lineage=state.lineage, serial=state.serial, moves=[{"from": "support", "to": "helpdesk"}])
    apply_plan(plan, client, StateRecorder(store, state), known_ids=set(), kinds=KINDS)
    assert "helpdesk" in store.read().resources and "support" not in store.read().resources
