"""The apply's promises where its threads meet its state store and interrupts (docs/reliability.md), against the
emulator over loopback HTTP and a real SQLite store (slowed down or made to fail by a wrapper around its commit):
every change reported only once committed, whatever its outcome; a store that fails stops the run with a report,
never an exception that loses what was done; a KeyboardInterrupt loses no report; a created object waiting to be
ready counts against the bound on changes done and not yet committed; a lost create never adopts the object a
same-named sibling of the same apply made."""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace

import pytest

from conftest import TOKEN
from graph_kinds import KINDS, folder, record, tool
from provisioner.apply import StateRecorder, apply_plan
from provisioner.client import PlatformClient, RetryPolicy
from provisioner.errors import ServerError, StateError
from provisioner.plan import Action, Change, Plan
from provisioner.ratelimit import RateBudget, parse_rate_limit
from provisioner.state import ResourceState
from provisioner.state.sql import open_store
from test_apply_graph import document, knowledge

FAILING_URL = "https://example.com/emulator-fail"  # the emulator's documents at such a URL fail processing


class Store:
    """A real SQLite store whose commits of some rows are slowed down (`slow(rows)`) or fail (`fail(rows)`)."""

    def __init__(self, path, *, delay=0.0, slow=lambda rows: True, fail=lambda rows: False):
        self.store = open_store("sqlite", path)
        self.delay, self.slow, self.fail = delay, slow, fail
        self.committed: list[set[str]] = []  # the rows of each commit that succeeded, in order

    def commit(self, state, changes):
        if self.delay and self.slow(changes):
            time.sleep(self.delay)
        if self.fail(changes):
            raise StateError("the disk is full (injected)")
        self.store.commit(state, changes)
        self.committed.append(set(changes))

    def rows(self) -> set[str]:
        return set(self.store.read().resources)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.fixture
def setup(platform, tmp_path):
    client = PlatformClient(platform.url, TOKEN, retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
                            notify=lambda line: None)
    stores = []

    def store(**options) -> Store:
        made = Store(tmp_path / f"state-{len(stores)}.db", **options)
        stores.append(made)
        return made

    def apply(store: Store, changes, *, recorder=StateRecorder, kinds=KINDS, parallelism=4, through=client,
              **options):
        """apply_plan of `changes` into `store`'s state, sent through `through` (by default the fixture's client)."""
        state = store.read()
        plan = Plan(changes=changes, lineage=state.lineage, serial=state.serial)
        known = {"assistant": set(), **{kind: set() for kind in KINDS}}
        return apply_plan(plan, through, recorder(store, state), known_ids=known, parallelism=parallelism,
                          kinds=kinds, **options)

    yield platform, client, store, apply
    client.close()
    for made in stores:
        made.store.close()
    platform.faults(latency_ms=0, methods=None, document_delay_ms=300)


def test_a_document_that_fails_processing_is_reported_only_once_its_create_is_committed(setup):
    platform, client, store, apply = setup
    platform.faults(document_delay_ms=50)
    bad = "knowledgebase.faq.bad"
    slow = store(delay=1.0, slow=lambda rows: bad in rows)
    in_state_when_reported = {}
    report = apply(slow, [knowledge(), document(name="bad", url=FAILING_URL)],
                   on_result=lambda r: in_state_when_reported.setdefault(r.change.address,
                                                                         r.change.address in slow.rows()))
    result = {r.change.address: r for r in report.results}[bad]
    assert not result.ok and "will not become ready" in result.message
    assert in_state_when_reported == {"knowledgebase.faq": True, bad: True}


def test_a_document_whose_create_cannot_be_committed_stops_the_run_and_says_so(setup):
    platform, client, store, apply = setup
    platform.faults(document_delay_ms=50)
    bad = "knowledgebase.faq.bad"
    failing = store(fail=lambda rows: bad in rows)
    report = apply(failing, [knowledge(), document(name="bad", url=FAILING_URL)])
    assert "the state could not be written" in report.halted
    result = {r.change.address: r for r in report.results}[bad]
    assert not result.ok and "recording its progress in state failed" in result.message
    # It is on the platform and not in state: the run said so rather than reporting a processing failure alone.
    kb = failing.store.read().resources["knowledgebase.faq"].id
    assert [d["name"] for d in KINDS["document"].endpoints.list(client, kb)] == ["bad"]
    assert bad not in failing.rows()


def test_documents_waiting_to_be_ready_count_against_the_bound_on_changes_not_yet_committed(setup):
    """At most 3 x --parallelism changes done on the platform and not committed, documents waiting included."""
    platform, client, store, apply = setup
    platform.faults(document_delay_ms=1500)
    slow = store(delay=0.3, slow=lambda rows: any(".doc" in address for address in rows))
    created: list[str] = []
    peak = [0]
    lock = threading.Lock()
    real = KINDS["document"].endpoints.create

    def create(client, body, parent):
        answer = real(client, body, parent)
        with lock:
            created.append(f"knowledgebase.faq.{body['name']}")
            committed = set().union(*slow.committed) if slow.committed else set()
            peak[0] = max(peak[0], len(set(created) - committed))
        return answer

    kinds = {**KINDS, "document": replace(KINDS["document"],
                                          endpoints=replace(KINDS["document"].endpoints, create=create))}
    documents = [document(name=f"doc{i}", url=f"https://example.com/{i}") for i in range(8)]
    report = apply(slow, [knowledge(), *documents], kinds=kinds, parallelism=1, wait_timeout=60)
    assert report.ok, [r.message for r in report.results]
    assert len(created) == 8 and peak[0] <= 3


def test_a_store_that_fails_under_a_replacement_stops_the_run_with_a_report_of_everything_done(setup):
    platform, client, store, apply = setup
    platform.faults(latency_ms=100)
    failing = [False]
    flaky = store(fail=lambda rows: failing[0])
    assert apply(flaky, [tool("ta")]).ok
    old = flaky.store.read().resources["tool.ta"].id
    failing[0] = True  # from now on the store takes no write
    reported = []
    # The replacement moves its old object aside in state (a worker's own commit) before it creates the new one.
    report = apply(flaky, [tool("ta", replace=True, remote_id=old, method="POST"), *[tool(f"t{c}") for c in "bcde"]],
                   on_result=lambda r: reported.append(r.change.address))
    assert "the state could not be written" in report.halted
    by = {r.change.address: r for r in report.results}
    assert not by["tool.ta"].ok and "recording its progress in state failed" in by["tool.ta"].message
    on_platform = {f"tool.{t['name']}" for t in KINDS["tool"].endpoints.list(client, None)}
    # Whatever reached the platform was reported (as not recorded), nothing silently.
    assert on_platform - {"tool.ta"} <= set(reported) and all(not by[a].ok for a in on_platform - {"tool.ta"})


class _InterruptOnce(StateRecorder):
    """The walking thread's first wait for a commit is where a KeyboardInterrupt lands (where it spends its time)."""

    fired = False

    def wait_durable(self, ticket: int) -> None:
        if ticket and not self.fired and threading.current_thread() is threading.main_thread():
            type(self).fired = True
            raise KeyboardInterrupt
        super().wait_durable(ticket)


def test_a_keyboard_interrupt_while_a_change_is_being_recorded_loses_no_report(setup):
    platform, client, store, apply = setup
    platform.faults(latency_ms=50)
    slow = store(delay=0.3)
    changes = [tool(f"t{c}") for c in "abcd"]
    _InterruptOnce.fired = False
    report = apply(slow, changes, recorder=_InterruptOnce, parallelism=2)
    assert _InterruptOnce.fired and report.interrupted
    done = {r.change.address for r in report.results if r.ok}
    assert slow.rows() <= done  # everything recorded is reported as done
    assert len(report.results) == len({r.change.address for r in report.results}) == 4  # each once


class _InterruptWhen:
    """An `interrupt` whose check, on the walking thread, is where a KeyboardInterrupt lands once `ready()`."""

    def __init__(self, ready):
        self.ready, self.fired = ready, False

    def is_set(self) -> bool:
        if not self.fired and self.ready():
            self.fired = True
            raise KeyboardInterrupt
        return False


def test_a_keyboard_interrupt_reports_a_document_waiting_to_be_ready_as_created_not_as_not_started(setup):
    platform, client, store, apply = setup
    platform.faults(document_delay_ms=60_000)
    plain = store()
    page = "knowledgebase.faq.page"
    interrupt = _InterruptWhen(lambda: page in plain.rows())
    report = apply(plain, [knowledge(), document()], wait_timeout=60, interrupt=interrupt)
    assert interrupt.fired and report.interrupted
    result = {r.change.address: r for r in report.results}[page]
    assert not result.ok and not result.skipped and result.remote_id is not None
    assert "was created; interrupted while waiting for it to be ready" in result.message
    assert page in plain.rows()


def test_a_create_whose_outcome_is_unknown_never_adopts_what_a_same_named_sibling_created(setup):
    """Tools need not have unique names: two of this apply are both named `lookup`. The first one's create fails
    without effect (an answer of 500) while the second one's is on the wire; the look for the first one's object
    must not take the second one's for it."""
    platform, client, store, apply = setup
    platform.faults(latency_ms=300, methods=["POST"])
    real = KINDS["tool"].endpoints.create

    def create(client, body, parent=None):
        if body["endpoint"].endswith("/one"):
            time.sleep(0.05)
            raise ServerError("500 Internal Server Error (injected: nothing was created)", status=500)
        return real(client, body, parent)

    def named_lookup(address: str, endpoint: str) -> Change:
        spec = {"name": "lookup", "description": "d", "method": "GET",
                "endpoint": f"https://api.example.com/{endpoint}"}
        return Change(address=address, action=Action.CREATE, assistant_name="lookup", kind="tool", body=spec,
                      record=record(spec))

    kinds = {**KINDS, "tool": replace(KINDS["tool"], endpoints=replace(KINDS["tool"].endpoints, create=create))}
    plain = store()
    report = apply(plain, [named_lookup("tool.one", "one"), named_lookup("tool.two", "two")], kinds=kinds)
    by = {r.change.address: r for r in report.results}
    assert by["tool.two"].ok and not by["tool.one"].ok
    assert "nothing was created" in by["tool.one"].message
    assert by["tool.one"].remote_id is None
    assert {a: e.id for a, e in plain.store.read().resources.items()} == {"tool.two": by["tool.two"].remote_id}


def test_a_create_whose_outcome_is_unknown_never_adopts_what_another_workspace_of_the_store_manages(setup, tmp_path):
    """Two workspaces of one store share a platform account and apply at once (each under its own lock): the other
    one created and recorded a tool of the same name after this apply listed the tools. This apply's create fails
    without effect; the look for its object must not take the other workspace's for it (both would then manage one
    object, and a destroy of either deletes the other's)."""
    platform, client, store, apply = setup
    real = KINDS["tool"].endpoints.create

    def create(client, body, parent=None):
        raise ServerError("500 Internal Server Error (injected: nothing was created)", status=500)

    spec = {"name": "lookup", "description": "d", "method": "GET", "endpoint": "https://api.example.com/x"}
    mine = store()  # tmp_path / "state-0.db"
    other = open_store("sqlite", tmp_path / "state-0.db", workspace="other", must_exist=False)
    theirs = real(client, dict(spec), None)["id"]  # made by the other workspace's apply, after this one's plan
    StateRecorder(other, other.read()).record("tool.lookup", theirs, {**record(spec), "kind": "tool"})
    other.close()
    kinds = {**KINDS, "tool": replace(KINDS["tool"], endpoints=replace(KINDS["tool"].endpoints, create=create))}
    change = Change(address="tool.lookup", action=Action.CREATE, assistant_name="lookup", kind="tool", body=spec,
                    record=record(spec))
    [result] = apply(mine, [change], kinds=kinds).results
    assert not result.ok and result.remote_id is None, result
    assert "nothing was created" in result.message
    assert mine.store.read().resources == {}


@pytest.mark.parametrize("halted", [True, False], ids=["store-failed", "healthy"])
def test_a_ctrl_c_after_the_walks_last_look_keeps_the_budget_cancelled_and_the_run_interrupted(setup, monkeypatch,
                                                                                                 halted):
    """The CLI's handler sets the interrupt and cancels the rate budget at once. One that lands after the walk's
    last look at the interrupt (while the last commit is made) was undone by the resume of a run the store had
    halted, and the run went on to verify as if no Ctrl-C came (a healthy run's verify read through the cancelled
    budget): the run is interrupted, its budget stays cancelled."""
    import provisioner.apply as apply_module

    platform, client, store, apply = setup
    interrupt = threading.Event()
    real_run = apply_module.Walk.run

    def run_then_ctrl_c(walk, pool, look):
        real_run(walk, pool, look)
        interrupt.set()  # as plan_apply's on_signal does
        client.budget.cancel()

    monkeypatch.setattr(apply_module.Walk, "run", run_then_ctrl_c)
    made = store(fail=lambda rows: halted)
    report = apply(made, [tool(f"t{c}") for c in "ab"], interrupt=interrupt)
    assert bool(report.halted) is halted
    assert report.interrupted
    with pytest.raises(apply_module.WaitCancelled):
        client.budget.acquire()


def test_a_change_waiting_to_retry_when_the_store_fails_says_the_store_stopped_it_not_an_interrupt(setup, tmp_path):
    """A store that fails cancels what waits for the rate budget, a retry's back-off included: that change was
    reported as 'interrupted while it waited for the rate budget', though nobody interrupted anything."""
    platform, _, store, apply = setup
    made = store(fail=lambda rows: "folder.fresh" in rows)
    assert apply(made, [tool("old")]).ok
    old = made.store.read().resources["tool.old"].id
    slow_retries = PlatformClient(platform.url, TOKEN, notify=lambda line: None,
                                  retry=RetryPolicy(max_attempts=3, backoff_base=30, backoff_max=30))
    try:
        platform.faults(error_rate=1.0, kinds=["tools"], methods=["DELETE"])
        started = time.monotonic()
        report = apply(made, [tool("old", Action.DELETE, remote_id=old), folder("fresh")], through=slow_retries,
                       parallelism=2)
    finally:
        platform.faults(error_rate=0.0, kinds=None, methods=None)
        slow_retries.close()
    assert time.monotonic() - started < 20, report  # the back-off was cut short, not waited out
    assert "the state could not be written" in report.halted
    by = {r.change.address: r for r in report.results}
    assert not by["tool.old"].ok and "interrupted" not in by["tool.old"].message, by["tool.old"].message
    assert "the state could not be written" in by["tool.old"].message, by["tool.old"].message


def made_by_another_state(setup) -> dict:
    """The platform's tool `shared`, made through a state of its own: the test's next state does not hold it."""
    _, client, store, apply = setup
    assert apply(store(), [tool("shared")]).ok
    return next(t for t in KINDS["tool"].endpoints.list(client, None) if t["name"] == "shared")


def far_reset_on(*requests: tuple[str, str]):
    """`proxy.headers` saying the platform's rate limit is used up for three hours on the answers to `requests`
    ((method, path) each) alone: a run that reads them stops (a reset further away than --retry-max-time)."""
    hours_away = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                  "X-RateLimit-Reset": str(int(time.time() + 3 * 3600))}
    return lambda method, path: hours_away if (method, path) in requests else {}


def ctrl_c_once(ready, interrupt: threading.Event, client: PlatformClient) -> threading.Thread:
    """A thread that types Ctrl-C (as plan_apply's on_signal does) a moment after `ready()` says so (at most 30 s)."""
    def typed():
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        interrupt.set()
        client.budget.cancel()

    thread = threading.Thread(target=typed)
    thread.start()
    return thread


def test_a_ctrl_c_after_a_far_rate_limit_reset_stopped_the_run_says_interrupted_not_that_the_store_failed(setup,
                                                                                                         proxy):
    """A rate-limit reset further away than --retry-max-time stops the run (report.halted) as a store that fails does,
    and the change a Ctrl-C then cut short, waiting for the rate budget to look for what its create made, said
    "stopped (the state could not be written)": its wording was chosen by report.halted alone. Nothing failed in
    the store; the Ctrl-C stopped it."""
    platform, _, store, apply = setup
    paced = PlatformClient(proxy.url, TOKEN, notify=lambda line: None, retry=RetryPolicy(max_elapsed=20),
                           budget=RateBudget(parse_rate_limit("3/60s")))
    # tool.a's answer says the limit is used up for hours; tool.c, after it, is refused unsent (the halt). folder.b's
    # create answers 500 a second later, and its look for what it made waits for the budget (3 requests a minute).
    # tool.a's answer comes 0.5 s late, so folder.b is surely sent before the halt: on a busy machine its worker
    # started after that answer, folder.b was refused unsent too, and the Ctrl-C waiting for it came after the run.
    proxy.headers = far_reset_on(("POST", "/api/user/tools"))
    proxy.rewrite = lambda method, path, status, body: time.sleep(0.5) if (method, path) == (
        "POST", "/api/user/tools") else None
    platform.faults(error_rate=1.0, latency_ms=1000, kinds=["folders"], methods=["POST"])
    interrupt = threading.Event()
    typed = ctrl_c_once(lambda: ("POST", "/api/user/folder") in proxy.seen, interrupt, paced)
    try:
        after_a = replace(tool("c"), depends_on=["tool.a"])
        report = apply(store(), [tool("a"), folder("b"), after_a], through=paced, parallelism=2, interrupt=interrupt)
    finally:
        typed.join()
        platform.faults(error_rate=0.0, kinds=None, methods=None)
        paced.close()
    assert "rate limit is used up until" in report.halted and report.interrupted, report
    by = {r.change.address: r for r in report.results}
    assert by["tool.a"].ok and by["tool.c"].skipped, report
    looking = by["folder.b"]
    assert not looking.ok and not looking.skipped, looking
    assert looking.message.startswith("interrupted while it waited for the rate budget to retry or to look for its "
                                      "outcome"), looking.message


def test_a_replacement_half_a_far_rate_limit_reset_left_not_started_says_so_not_interrupted(setup, proxy):
    """The steps a rate-limit halt (or a store that failed) kept from starting were said "not started
    (interrupted)", and a replacement whose old half was one of them reported "... was not destroyed: (interrupted)",
    though nobody interrupted anything."""
    platform, client, store, apply = setup
    made = store()
    assert apply(made, [tool("r")]).ok
    old = made.store.read().resources["tool.r"].id
    spent = PlatformClient(proxy.url, TOKEN, notify=lambda line: None, retry=RetryPolicy(max_elapsed=20))
    # folder.y's answer (after 0.3 s) says the limit is used up for hours; folder.x, after it, is refused unsent (the
    # halt) while tool.r's new half, sent before, is still being answered (1.5 s): its old half is kept from starting.
    proxy.headers = far_reset_on(("POST", "/api/user/folder"))
    proxy.rewrite = lambda method, path, status, body: time.sleep(1.5) if (method, path) == (
        "POST", "/api/user/tools") else None
    platform.faults(latency_ms=300, kinds=["folders"], methods=["POST"])
    try:
        report = apply(made, [tool("r", remote_id=old, replace=True, description="Replaced."), folder("y"),
                              replace(folder("x"), depends_on=["folder.y"])], through=spent, parallelism=2)
    finally:
        spent.close()
    assert "rate limit is used up until" in report.halted and not report.interrupted, report
    result = {r.change.address: r for r in report.results}["tool.r"]
    assert not result.ok and "interrupted" not in result.message, result.message
    assert result.message.endswith(f"the old one (id {old}) was not destroyed: (the platform's rate limit stopped the "
                                   "run); the next apply destroys it"), result.message


def test_a_keyboard_interrupt_while_a_result_line_is_printed_reports_that_change_once(setup):
    """Ctrl-C lands where the walking thread spends its time, the result line's print among them (`on_result`). The
    change was already in the report then; the walk finishing it again after the interrupt reported it twice."""
    platform, client, store, apply = setup
    platform.faults(latency_ms=20)
    printed = []

    def on_result(result):
        printed.append(result.change.address)
        if len(printed) == 1:
            raise KeyboardInterrupt

    report = apply(store(), [tool(f"t{c}") for c in "abcd"], on_result=on_result, parallelism=2)
    assert report.interrupted
    addresses = [r.change.address for r in report.results]
    assert len(addresses) == len(set(addresses)) == 4, addresses
    assert printed[0] in {r.change.address for r in report.results if r.ok}


def test_replacements_among_creates_in_a_large_state_look_for_their_old_half_without_crashing_the_apply(setup):
    """A replacement's destroy half looks through state for its old object's deposed row, on a worker, while the
    other workers' changes add rows to that state: walking the live dict, one in a large state met a row added
    meanwhile and the whole apply ended on "RuntimeError: dictionary changed size during iteration"."""
    platform, client, store, apply = setup
    made = store()
    names = ["r" + letter * size for size in (1, 2) for letter in "abcdefghijklmnopqrst"]
    assert apply(made, [tool(name) for name in names], parallelism=8).ok
    state = made.read()
    ids = {name: state.resources[f"tool.{name}"].id for name in names}
    # Rows of other objects (never in this plan): a large fleet's state, which each such look walks through.
    others = {f"folder.kept{i}": ResourceState(id=10**6 + i, spec={"name": f"kept{i}"}, kind="folder")
              for i in range(30000)}
    state.resources.update(others)
    made.store.commit(state, others)
    changes = [tool(name, remote_id=ids[name], replace=True, description="Replaced.") for name in names]
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often, as on a busy machine: the look is caught mid-walk
    try:
        report = apply(made, changes + [folder(f"new{i}") for i in range(300)], parallelism=10)
    finally:
        sys.setswitchinterval(switching)
    assert report.ok, [r.message for r in report.results if not r.ok][:3]
    after = made.read().resources
    assert {after[f"tool.{name}"].id for name in names}.isdisjoint(ids.values())


def test_an_adoption_whose_claim_cannot_be_committed_says_it_sent_nothing_and_stops_the_run(setup):
    """An adoption commits its claim on the object before it sends its update (apply._claim). A store that fails then
    stops the run as for any change, and the adoption sent nothing: it said "stopped: recording its progress in state
    failed ... (it finds on the platform what was done)", as if something had been done."""
    platform, client, store, apply = setup
    shared = made_by_another_state(setup)
    adoption = tool("shared", Action.IMPORT, remote_id=shared["id"])
    adoption.body, adoption.remote_item = {"description": "Adopted."}, shared
    elsewhere = store(fail=lambda rows: "tool.shared" in rows)  # another workspace's store, which has lost its disk
    before = len(platform.writes())
    report = apply(elsewhere, [adoption])
    result = report.results[0]
    assert not result.ok and result.message.startswith("not adopted, and nothing was sent to it: recording its claim "
                                                       "in state failed (the disk is full (injected))"), result.message
    assert report.halted == "the state could not be written (the disk is full (injected)); no further change started"
    assert platform.writes()[before:] == [] and elsewhere.rows() == set()


def test_an_adoption_to_be_replaced_claimed_before_a_far_rate_limit_reset_says_it_was_adopted(setup, proxy):
    """A namesake adopted to be replaced is claimed before its successor's create is sent. When the rate limit's far
    reset then kept that create from being sent, the replacement was reported not started while state held the
    object as adopted."""
    platform, client, store, apply = setup
    shared = made_by_another_state(setup)
    adoption = tool("shared", remote_id=shared["id"], replace=True, description="Replaced.")
    adoption.remote_item = shared
    spent = PlatformClient(proxy.url, TOKEN, notify=lambda line: None, retry=RetryPolicy(max_elapsed=20))
    proxy.headers = far_reset_on(("POST", "/api/user/folder"))
    mine = store()
    try:
        report = apply(mine, [folder("first"), adoption], through=spent, parallelism=1)
    finally:
        spent.close()
    assert "rate limit is used up until" in report.halted, report
    assert _adopted_and_untouched(report, mine, client, shared) == (
        "adopted (recorded in state), but nothing was sent to it: the platform's rate limit stopped the run; the "
        "next plan shows its replacement again")


def _adopted_and_untouched(report, mine, client, shared: dict) -> str:
    """The failed message of tool.shared, an adoption cut short after its claim: state holds the object as adopted,
    and the platform's tool is as it was (nothing was sent to it)."""
    result = {r.change.address: r for r in report.results}["tool.shared"]
    assert not result.ok and not result.skipped, result
    assert mine.store.read().resources["tool.shared"].id == shared["id"]
    assert [t["description"] for t in KINDS["tool"].endpoints.list(client, None) if t["name"] == "shared"] == [
        shared["description"]]
    return result.message


def test_an_adoption_claimed_then_cut_short_waiting_for_the_rate_budget_says_it_was_adopted(setup):
    """An adoption commits its claim, then waits for the rate budget to send its update. A Ctrl-C then cancelled that
    wait and the adoption was reported "not sent (interrupted while it waited for the rate budget)", among the changes
    not started (nothing was sent for them), while state held the object as adopted: the next plan showed an update
    (~) where the run had said an adoption (<=) was still to come. It fails saying it was adopted, as after a far
    rate-limit reset."""
    platform, client, store, apply = setup
    shared = made_by_another_state(setup)
    adoption = tool("shared", Action.IMPORT, remote_id=shared["id"])
    adoption.body, adoption.remote_item = {"description": "Adopted."}, shared
    # One request a minute: folder.first's create takes it, and the adoption's update waits for the next.
    paced = PlatformClient(platform.url, TOKEN, notify=lambda line: None, retry=RetryPolicy(max_elapsed=20),
                           budget=RateBudget(parse_rate_limit("1/60s")))
    mine = store()
    interrupt = threading.Event()
    typed = ctrl_c_once(lambda: "tool.shared" in mine.rows(), interrupt, paced)  # the claim committed
    try:
        report = apply(mine, [folder("first"), adoption], through=paced, parallelism=1, interrupt=interrupt)
    finally:
        typed.join()
        paced.close()
    assert report.interrupted, report
    assert _adopted_and_untouched(report, mine, client, shared) == (
        "adopted (recorded in state), but its update was not sent: interrupted while it waited for the rate budget; "
        "the next plan shows the update")
