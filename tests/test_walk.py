"""The graph walk of apply (walk.py) over pure data: which step waits for which, the worker bound, skipped
dependents, reverse deletes, replacements both ways round, and stopping."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from provisioner.plan import Action, Change
from provisioner.walk import (BARRIER, CREATE, DESTROY, GraphCycle, Walk, WalkCallbacks, build_graph,
                              state_address)


def change(address: str, action: Action = Action.CREATE, *, kind: str = "tool", depends_on=(), replace=False,
           remote_id=None) -> Change:
    return Change(address=address, action=action, assistant_name=address, kind=kind, depends_on=list(depends_on),
                  replace=replace, remote_id=remote_id)


def run_walk(changes, *, recorded=None, create_first=lambda c: True, parallelism=4, fail=(), work=0.0,
             stop_after=None):
    """Walk the changes' graph with workers that record what ran and when; returns (log, skipped, not_started,
    max concurrent)."""
    recorded = recorded or {}
    graph = build_graph(changes, lambda a: recorded.get(a, ()), create_first)
    log: list[tuple[str, str]] = []
    skipped: dict[str, str] = {}
    not_started: list[str] = []
    lock = threading.Lock()
    running = [0, 0]
    walk_box: list[Walk] = []

    def run(number):
        step = graph.steps[number]
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(work)
        with lock:
            running[0] -= 1
            log.append((changes[step.change].address, step.part))
            if stop_after is not None and len(log) >= stop_after:
                walk_box[0].stop()
        return (changes[step.change].address, step.part) not in fail

    def finished(number, future):
        return future.result()

    def on_skip(number, because):
        step = graph.steps[number]
        skipped[f"{changes[step.change].address}/{step.part}"] = changes[graph.steps[because].change].address

    def on_not_started(number):
        step = graph.steps[number]
        not_started.append(f"{changes[step.change].address}/{step.part}")

    walk = Walk(graph, WalkCallbacks(run, finished, on_skip, on_not_started), parallelism)
    walk_box.append(walk)
    with ThreadPoolExecutor(parallelism) as pool:
        walk.run(pool)
    return log, skipped, not_started, running[1]


def position(log, address, part="whole"):
    return log.index((address, part))


def test_creates_run_after_what_they_depend_on_and_independent_ones_side_by_side():
    changes = [change("assistant.support", kind="assistant", depends_on=["tool.lookup", "knowledgebase.faq"]),
               change("tool.lookup"), change("knowledgebase.faq"),
               change("document.faq.page", kind="document", depends_on=["knowledgebase.faq"])]
    changes[0].address = "support"  # an assistant's state address is its bare name; references say assistant.x
    log, skipped, not_started, _ = run_walk(changes, work=0.01)
    assert position(log, "tool.lookup") < position(log, "support")
    assert position(log, "knowledgebase.faq") < position(log, "support")
    assert position(log, "knowledgebase.faq") < position(log, "document.faq.page")
    assert not skipped and not not_started and len(log) == 4


def test_never_more_steps_at_once_than_the_parallelism():
    changes = [change(f"tool.t{i}") for i in range(40)]
    log, _, _, most = run_walk(changes, parallelism=3, work=0.005)
    assert len(log) == 40 and most <= 3
    log, _, _, most = run_walk(changes, parallelism=8, work=0.01)
    assert most > 3  # independent steps do run side by side


def test_a_failed_step_skips_its_dependents_transitively_and_names_the_failure():
    changes = [change("tool.a"), change("assistant.b", kind="assistant", depends_on=["tool.a"]),
               change("campaign.c", kind="campaign", depends_on=["assistant.b"]), change("tool.other")]
    changes[1].address = "b"
    log, skipped, not_started, _ = run_walk(changes, fail={("tool.a", "whole")})
    assert skipped == {"b/whole": "tool.a", "campaign.c/whole": "tool.a"}
    assert ("tool.other", "whole") in log and not not_started


def test_a_delete_waits_for_deleting_what_used_it_as_state_recorded():
    # State recorded: assistant `a` used tool.t; campaign.c used assistant a; document d lives in kb.
    recorded = {"a": ["tool.t"], "campaign.c": ["assistant.a"], "document.kb.d": ["knowledgebase.kb"]}
    changes = [change("tool.t", Action.DELETE, remote_id=1),
               change("campaign.c", Action.DELETE, kind="campaign", remote_id=3),
               change("other", Action.DELETE, kind="assistant", remote_id=4),
               change("knowledgebase.kb", Action.DELETE, kind="knowledgebase", remote_id=5),
               change("document.kb.d", Action.DELETE, kind="document", remote_id=6),
               change("a", Action.DELETE, kind="assistant", remote_id=2)]
    log, _, _, _ = run_walk(changes, recorded=recorded, parallelism=6)
    assert position(log, "campaign.c") < position(log, "a") < position(log, "tool.t")
    assert position(log, "document.kb.d") < position(log, "knowledgebase.kb")


def test_an_update_that_drops_a_reference_runs_before_that_object_is_deleted():
    changes = [change("tool.t", Action.DELETE, remote_id=1), change("a", Action.UPDATE, kind="assistant", remote_id=2)]
    log, _, _, _ = run_walk(changes, recorded={"a": ["tool.t"]})
    assert position(log, "a") < position(log, "tool.t")


def test_create_before_destroy_puts_every_referrer_between_the_two_halves():
    changes = [change("tool.t", Action.CREATE, replace=True, remote_id=9),
               change("a", Action.UPDATE, kind="assistant", remote_id=2, depends_on=["tool.t"]),
               change("b", Action.CREATE, kind="assistant", depends_on=["tool.t"])]
    log, _, _, _ = run_walk(changes, recorded={"a": ["tool.t"]})
    made, gone = position(log, "tool.t", CREATE), position(log, "tool.t", DESTROY)
    assert made < position(log, "a") < gone and made < position(log, "b") < gone


def test_destroy_first_when_two_cannot_coexist_and_referrers_follow_the_new_one():
    changes = [change("folder.f", Action.CREATE, kind="folder", replace=True, remote_id=9),
               change("a", Action.UPDATE, kind="assistant", remote_id=2, depends_on=["folder.f"])]
    log, _, _, _ = run_walk(changes, recorded={"a": ["folder.f"]}, create_first=lambda c: False)
    assert position(log, "folder.f", DESTROY) < position(log, "folder.f", CREATE) < position(log, "a")


def test_a_replacement_that_references_one_destroyed_first_is_destroyed_first_too():
    """A campaign replaced because the SIP trunk it calls with is (the trunk destroys first: the platform refuses
    two alike), or because its assistant holding a number is: created first, the new campaign waited for the new
    trunk, which waited for the old campaign's destruction, which waited for the new campaign: a cycle, and
    nothing applied. The campaign gives way, and the chain goes on to what references it."""
    changes = [change("siptrunk.office", Action.CREATE, kind="siptrunk", replace=True, remote_id=9),
               change("campaign.c", Action.CREATE, kind="campaign", replace=True, remote_id=3,
                      depends_on=["siptrunk.office", "assistant.a"]),
               change("a", Action.UPDATE, kind="assistant", remote_id=2, depends_on=["siptrunk.office"]),
               change("tool.t", Action.CREATE, replace=True, remote_id=4, depends_on=["campaign.c"]),
               change("tool.u", Action.CREATE, replace=True, remote_id=5)]
    recorded = {"campaign.c": ["siptrunk.office", "assistant.a"], "a": ["siptrunk.office"],
                "tool.t": ["campaign.c"]}
    log, _, _, _ = run_walk(changes, recorded=recorded, create_first=lambda c: c.kind != "siptrunk",
                            parallelism=1)
    assert position(log, "tool.t", DESTROY) < position(log, "campaign.c", DESTROY) \
        < position(log, "siptrunk.office", DESTROY) < position(log, "siptrunk.office", CREATE) \
        < position(log, "campaign.c", CREATE) < position(log, "tool.t", CREATE)
    assert position(log, "siptrunk.office", CREATE) < position(log, "a")
    # A replacement that references nothing destroyed first keeps its own order.
    assert position(log, "tool.u", CREATE) < position(log, "tool.u", DESTROY)


def test_a_failed_creation_of_a_replacement_keeps_the_old_object():
    changes = [change("tool.t", Action.CREATE, replace=True, remote_id=9),
               change("a", Action.UPDATE, kind="assistant", remote_id=2, depends_on=["tool.t"])]
    log, skipped, _, _ = run_walk(changes, fail={("tool.t", CREATE)})
    assert ("tool.t", DESTROY) not in log
    assert skipped == {"tool.t/destroy": "tool.t", "a/whole": "tool.t"}


def test_depending_on_an_object_the_plan_only_destroys_is_a_problem_of_that_change():
    changes = [change("tool.t", Action.DELETE, remote_id=1), change("b", kind="assistant", depends_on=["tool.t"])]
    graph = build_graph(changes, lambda a: (), lambda c: True)
    assert graph.problems == {1: "it depends on tool.t, which this plan destroys"}


def test_deletes_of_a_kind_go_before_its_creates_unless_a_delete_waits_for_them():
    changes = [change("b", kind="assistant"), change("old", Action.DELETE, kind="assistant", remote_id=1),
               change("tool.n")]
    log, _, _, _ = run_walk(changes, parallelism=1)
    assert position(log, "old") < position(log, "b")
    graph = build_graph(changes, lambda a: (), lambda c: True)
    assert sum(1 for s in graph.steps if s.part == BARRIER) == 1
    # An update the delete waits for is not held back by that delete (no deadlock).
    changes = [change("a", Action.UPDATE, kind="assistant", remote_id=2),
               change("gone", Action.DELETE, kind="assistant", remote_id=3)]
    log, _, _, _ = run_walk(changes, recorded={"gone": [], "a": []}, parallelism=1)
    assert len(log) == 2


def test_a_cycle_is_refused_before_anything_runs():
    changes = [change("tool.a", depends_on=["tool.b"]), change("tool.b", depends_on=["tool.a"])]
    with pytest.raises(GraphCycle) as refused:
        build_graph(changes, lambda a: (), lambda c: True)
    # The message names the steps of the cycle, from any of them round to it again.
    assert ("(tool.a (create) -> tool.b (create) -> tool.a (create))" in str(refused.value)
            or "(tool.b (create) -> tool.a (create) -> tool.b (create))" in str(refused.value)), str(refused.value)


def test_stopping_starts_nothing_new_and_reports_the_rest_as_not_started():
    changes = [change(f"tool.t{i}") for i in range(30)]
    log, _, not_started, _ = run_walk(changes, parallelism=2, work=0.01, stop_after=3)
    assert 3 <= len(log) < 30
    assert len(log) + len(not_started) == 30


def test_assistant_addresses_in_references_are_their_state_names():
    assert state_address("assistant.support") == "support"
    assert state_address("tool.x") == "tool.x" and state_address("support") == "support"


def test_independent_creates_make_a_flat_graph_with_no_extra_steps():
    changes = [change(f"a{i}", kind="assistant") for i in range(10_000)]
    graph = build_graph(changes, lambda a: (), lambda c: True)
    assert not any(graph.waits_for) and not any(graph.successors) and len(graph.steps) == 10_000
