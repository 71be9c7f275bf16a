"""shared_reads.SharedReads: a poll is answered only by a read that began at or after its `since` (never one that
began before: it may predate the object), pollers of one key share one read, a first poll waits (boundedly) for the
creates of its siblings still coming, and nobody holds a worker waiting for another (Due)."""
from __future__ import annotations

import contextlib
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from provisioner.shared_reads import LONGEST_WAIT, SHORTEST_WAIT, Due, Read, SharedReads


class Clock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_read_begun_before_the_create_was_answered_never_answers_it():
    clock = Clock()
    reads = SharedReads(clock)
    answers = []

    def first_read():
        clock.now += 0.01
        # A document whose create was answered now, while that read is in flight: it waits (no request) ...
        answers.append(reads.poll("kb", clock.now, lambda: pytest.fail("a second read while one is in flight")))
        clock.now += 0.01
        return "listed before the second document existed"

    assert reads.poll("kb", 100.0, first_read) == Read("listed before the second document existed")
    assert isinstance(answers[0], Due) and answers[0].at > clock.now - 0.01
    # ... and once that read has answered, it is not used for it (it began before): the next read is its own.
    assert reads.poll("kb", 100.01, lambda: "listed after") == Read("listed after")
    # The first document may still use the newest read: it began after its own create.
    assert reads.poll("kb", 100.0, lambda: pytest.fail("no read needed")) == Read("listed after")


def test_pollers_of_one_key_share_one_read_and_keys_do_not():
    clock = Clock()
    reads = SharedReads(clock)
    sent = []

    def read(key):
        sent.append(key)
        return f"{key} at {clock.now}"

    assert reads.poll("kb1", 99.0, lambda: read("kb1")) == Read("kb1 at 100.0")
    clock.now += 1
    # Two more documents of kb1 created before that read began: answered by it, with no request.
    assert reads.poll("kb1", 99.5, lambda: read("kb1")) == Read("kb1 at 100.0")
    assert reads.poll("kb1", 100.0, lambda: read("kb1")) == Read("kb1 at 100.0")
    # Another knowledge base's list says nothing about kb1's documents.
    assert reads.poll("kb2", 99.0, lambda: read("kb2")) == Read("kb2 at 101.0")
    assert sent == ["kb1", "kb2"]


def test_concurrent_pollers_share_one_request():
    reads = SharedReads()
    since = time.monotonic()
    started, release = threading.Event(), threading.Event()
    sent = []

    def slow_read():
        sent.append(1)
        started.set()
        assert release.wait(10)
        return "the list"

    first = []
    reader = threading.Thread(target=lambda: first.append(reads.poll("kb", since, slow_read)))
    reader.start()
    assert started.wait(10)
    # Every other document waiting under kb while the read is in flight is told when to look again: no request.
    waits = [reads.poll("kb", since, slow_read) for _ in range(5)]
    assert all(isinstance(wait, Due) for wait in waits)
    release.set()
    reader.join(10)
    assert first == [Read("the list")]
    assert [reads.poll("kb", since, slow_read) for _ in range(5)] == [Read("the list")] * 5
    assert sent == [1]


def test_a_failed_read_is_not_shared_and_the_next_poller_reads_again():
    reads = SharedReads(Clock())

    def broken():
        raise RuntimeError("503")

    with pytest.raises(RuntimeError):
        reads.poll("kb", 100.0, broken)
    assert reads.poll("kb", 100.0, lambda: "the list") == Read("the list")


def test_a_wait_for_a_read_in_flight_ends_just_after_it_is_likely_answered_and_is_never_a_busy_loop():
    clock = Clock()
    reads = SharedReads(clock)

    def timed_read():
        clock.now += 0.02  # reads take 20 ms here
        return "x"

    reads.poll("kb", 100.0, timed_read)
    waits = {}

    def watched_read():
        for age in (0.0, 0.019, 0.5, 10.0):
            clock.now = began + age
            waits[age] = reads.poll("kb", began, lambda: "never").at - clock.now
        return "y"

    began = clock.now = 200.0
    reads.poll("kb", 200.0, watched_read)
    assert 0.02 < waits[0.0] < 0.03              # just after the last read's time
    assert waits[0.019] >= SHORTEST_WAIT         # about due: looked at again soon, not at once
    assert waits[0.5] == pytest.approx(0.125)    # late: a quarter of its age
    assert waits[10.0] == LONGEST_WAIT


def test_a_first_poll_waits_for_the_siblings_still_coming_and_the_last_of_them_reads_for_all():
    clock = Clock()
    reads = SharedReads(clock)
    sent = []

    def read():
        sent.append(clock.now)
        return "all three"

    with reads.coming("kb") as first, reads.coming("kb") as second, reads.coming("kb") as third:
        first()                                            # its create answered: its first poll comes
        wait = reads.poll("kb", 100.0, read, gather_until=100.25)
        assert isinstance(wait, Due) and 100.0 < wait.at <= 100.25
        clock.now += 0.01
        second()
        assert isinstance(reads.poll("kb", 100.01, read, gather_until=100.26), Due)
        clock.now += 0.01
        third()                                            # the last one: nobody else is coming
        assert reads.poll("kb", 100.02, read, gather_until=100.27) == Read("all three")
    assert reads.poll("kb", 100.0, read) == reads.poll("kb", 100.01, read) == Read("all three")
    assert sent == [pytest.approx(100.02)]


def test_a_sibling_that_does_not_come_delays_a_first_poll_only_until_gather_until():
    clock = Clock()
    reads = SharedReads(clock)
    with reads.coming("kb"):                               # a create stalled (retried, paced)
        wait = reads.poll("kb", 100.0, lambda: "x", gather_until=100.25)
        assert isinstance(wait, Due) and wait.at <= 100.25
        clock.now = 100.25
        assert reads.poll("kb", 100.0, lambda: "read anyway", gather_until=100.25) == Read("read anyway")
        # A later poll (its gather_until long past) never waits for creates.
        clock.now = 102.0
        assert reads.poll("kb", 101.5, lambda: "later", gather_until=100.25) == Read("later")


def test_a_create_that_fails_is_no_longer_coming_and_arriving_twice_counts_once():
    reads = SharedReads(Clock())
    with pytest.raises(RuntimeError):
        with reads.coming("kb"):
            raise RuntimeError("422")
    with reads.coming("kb") as arrived:
        arrived()
        arrived()                                          # then the block is left: still counted once
        assert reads.poll("kb", 100.0, lambda: "at once", gather_until=100.25) == Read("at once")
    with reads.coming("other"):                            # another key's creates do not hold this one
        assert reads.poll("kb", 100.0, lambda: "never", gather_until=100.25) == Read("at once")


# The property: whatever the interleaving of pollers, clock and reads (a read's callable runs more of the script
# while it is in flight, as other threads would), a poller is only ever answered by a read that began at or after
# its `since`, a key never has two reads in flight, and a Due is only answered while a read of its key is in flight.
STEP = st.one_of(st.tuples(st.just("advance"), st.floats(0, 2)),
                 st.tuples(st.just("poll"), st.integers(0, 2), st.floats(0, 3)),
                 st.tuples(st.just("come"), st.integers(0, 2)),
                 st.tuples(st.just("arrive"), st.integers(0, 5)),
                 st.just(("answer",)))


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=60))
def test_no_answer_predates_its_poller(script):
    clock = Clock(0.0)
    reads = SharedReads(clock)
    began_at: dict[int, float] = {}
    in_flight: set[int] = set()
    coming: list[tuple[int, contextlib.ExitStack]] = []
    steps = iter(script)

    def run() -> None:
        for step in steps:
            if step[0] == "advance":
                clock.now += step[1]
            elif step[0] == "come":
                stack = contextlib.ExitStack()
                stack.enter_context(reads.coming(step[1]))
                coming.append((step[1], stack))
            elif step[0] == "arrive":
                if coming:
                    coming.pop(step[1] % len(coming))[1].close()
            elif step[0] == "answer":
                return  # the read in flight (if any) answers now
            else:
                _, key, age = step
                since = clock.now - age  # its create was answered `age` ago

                def read(key=key) -> int:
                    assert key not in in_flight, "two reads of one key in flight"
                    in_flight.add(key)
                    token = len(began_at)
                    began_at[token] = clock.now
                    run()
                    in_flight.discard(key)
                    return token

                answer = reads.poll(key, since, read, gather_until=since + 0.25)
                if isinstance(answer, Read):
                    assert began_at[answer.value] >= since
                elif key in in_flight:
                    assert answer.at > clock.now
                else:  # waiting for a sibling's create, never past its bound
                    assert any(k == key for k, _ in coming) and clock.now < answer.at <= since + 0.25

    run()
