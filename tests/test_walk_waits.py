"""A step that waits (walk.Later: a document the platform processes) holds no worker while it waits: with
--parallelism 1, unrelated steps run meanwhile; a stop resumes every wait at once; the order rules stay."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from provisioner.plan import Action, Change
from provisioner.walk import Later, Walk, WalkCallbacks, build_graph


def change(address: str, *, depends_on=(), kind="tool", action=Action.CREATE) -> Change:
    return Change(address=address, action=action, assistant_name=address, kind=kind, depends_on=list(depends_on))


def walk(changes, answers, *, parallelism=1, stop_when=None, withdraws=None, recorded=None):
    """Run the walk; `answers[address]` is a list of what the step answers on each call (a number: wait that
    many seconds, then be called again; ("idle", seconds): the same, or sooner once no step is in flight;
    ("busy", seconds): take that long, then succeed). Returns the log of (event, address) in order."""
    recorded = recorded or {}
    graph = build_graph(changes, lambda a: recorded.get(a, ()), lambda c: True, withdraws)
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    walk_box: list[Walk] = []

    def run(number):
        address = changes[graph.steps[number].change].address
        with lock:
            log.append(("run", address))
        if stop_when is not None and stop_when(log):
            walk_box[0].stop()
        answer = answers.get(address, [True]).pop(0)
        if isinstance(answer, float):
            return Later(time.monotonic() + answer, lambda: run(number))
        if isinstance(answer, tuple) and answer[0] == "idle":
            return Later(time.monotonic() + answer[1], lambda: run(number), idle=True)
        if isinstance(answer, tuple) and answer[0] == "busy":
            time.sleep(answer[1])
            answer = True
        with lock:
            log.append(("done", address))
        return answer

    def finished(number, future):
        return future.result()

    callbacks = WalkCallbacks(run, finished, lambda n, m: log.append(("skipped", changes[graph.steps[n].change].address)),
                              lambda n: log.append(("not started", changes[graph.steps[n].change].address)))
    the_walk = Walk(graph, callbacks, parallelism)
    walk_box.append(the_walk)
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        the_walk.run(pool)
    return log


def test_with_parallelism_one_a_wait_lets_unrelated_steps_run():
    changes = [change("document.slow"), *(change(f"tool.t{i}") for i in range(5))]
    log = walk(changes, {"document.slow": [0.3, 0.3, True]}, parallelism=1)
    done = [address for event, address in log if event == "done"]
    assert done[-1] == "document.slow" and len(done) == 6, log
    # Every unrelated step finished while the document waited (after its first poll, before its last).
    first = log.index(("run", "document.slow"))
    assert all(log.index(("done", f"tool.t{i}")) > first for i in range(5)), log


def test_what_depends_on_a_waiting_step_waits_for_it():
    changes = [change("document.slow"), change("assistant.a", depends_on=["document.slow"], kind="assistant"),
               change("tool.free")]
    log = walk(changes, {"document.slow": [0.2, True]}, parallelism=1)
    assert log.index(("done", "tool.free")) < log.index(("done", "document.slow")) < log.index(("run", "assistant.a"))


def test_a_failed_wait_skips_its_dependents():
    changes = [change("document.slow"), change("assistant.a", depends_on=["document.slow"], kind="assistant")]
    log = walk(changes, {"document.slow": [0.1, False]}, parallelism=1)
    assert ("skipped", "assistant.a") in log and ("run", "assistant.a") not in log


def test_a_stop_resumes_the_waits_at_once():
    changes = [change("document.slow"), change("tool.next")]
    started = time.monotonic()
    log = walk(changes, {"document.slow": [30.0, True]}, parallelism=1,
               stop_when=lambda log: ("run", "tool.next") in log)
    assert time.monotonic() - started < 10, "the wait was not resumed at the stop"
    assert log.count(("run", "document.slow")) == 2, log


def test_an_idle_wait_is_resumed_once_no_step_is_in_flight_not_at_its_time():
    """apply's deletes answered 404 wait so (the read that confirms them is then made once for all of them)."""
    changes = [change("tool.gone", action=Action.DELETE), *(change(f"a{i}", kind="assistant") for i in range(4))]
    started = time.monotonic()
    log = walk(changes, {"tool.gone": [("idle", 30.0), True], **{f"a{i}": [("busy", 0.1)] for i in range(4)}},
               parallelism=2)
    assert time.monotonic() - started < 10, "the idle wait waited for its time"
    assert log.count(("run", "tool.gone")) == 2, log
    assert log.index(("done", "tool.gone")) > max(log.index(("done", f"a{i}")) for i in range(4)), log


def test_a_stop_resumes_the_idle_waits_at_once_too():
    changes = [change("tool.gone", action=Action.DELETE), change("next", kind="assistant")]
    log = walk(changes, {"tool.gone": [("idle", 30.0), True], "next": [("busy", 1.0)]}, parallelism=2,
               stop_when=lambda log: ("run", "next") in log and ("run", "tool.gone") in log)
    assert log.index(("done", "tool.gone")) < log.index(("done", "next")), log


def test_an_update_that_withdraws_its_object_waits_for_the_destruction_of_its_users():
    changes = [change("caller", kind="assistant", action=Action.UPDATE),
               change("campaign.winter", kind="campaign", action=Action.DELETE)]
    log = walk(changes, {}, parallelism=2, withdraws=lambda c: c.address == "caller",
               recorded={"campaign.winter": ["caller"]})
    assert log.index(("done", "campaign.winter")) < log.index(("run", "caller")), log


def test_a_plain_deletes_depends_on_counts_as_recorded():
    changes = [change("caller", kind="assistant", action=Action.DELETE),
               change("campaign.winter", kind="campaign", action=Action.DELETE, depends_on=["caller"])]
    log = walk(changes, {}, parallelism=2)
    assert log.index(("done", "campaign.winter")) < log.index(("run", "caller")), log


def test_a_readiness_wait_says_how_long_it_waited_and_keeps_its_deadline(monkeypatch):
    """apply._Waiting: a progress line every 10 s of waiting, the next poll never after the deadline, and a clear
    error at it (the clock is the test's)."""
    import pytest

    from provisioner import apply as apply_module
    from provisioner.errors import ApiError
    from provisioner.shared_reads import SharedReads

    clock = [1000.0]
    monkeypatch.setattr(apply_module.time, "monotonic", lambda: clock[0])
    said: list[str] = []

    class Endpoints:
        @staticmethod
        def list(client, parent):
            return [{"id": 7, "status": "processing"}]

        @staticmethod
        def readiness(item, current, parent):
            return "pending"

    class Kind:
        name = "document"
        name_field = "name"
        endpoints = Endpoints

    class Context:
        client = None
        wait_timeout = 25.0
        readiness_reads = SharedReads(lambda: clock[0])

        @staticmethod
        def progress(line):
            said.append(line)

    waiting = apply_module._Waiting(Kind, change("knowledgebase.faq.page", kind="document"), 7, 3, Context,
                                    threading.Event(), lambda: None, 0)
    delays = []
    with pytest.raises(ApiError, match=r"still being processed after 25s \(--wait-timeout\)"):
        while True:
            assert waiting.poll() is waiting
            delays.append(waiting.delay)
            clock[0] += waiting.delay
    assert delays[:3] == [1.0, 1.5, 2.25] and max(delays) <= 10.0
    assert clock[0] == 1025.0  # the last poll exactly at the deadline, not after it
    assert said and all("knowledgebase.faq.page: still processing after" in line for line in said), said
