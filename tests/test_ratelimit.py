"""The shared rate budget: parsed from the documented form, never over any window, shared by all threads."""
import threading

import pytest
from hypothesis import given, settings, strategies as st

from provisioner.ratelimit import RateBudget, Window, parse_rate_limit


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self):
        with self.lock:
            return self.now

    def sleep(self, seconds):
        with self.lock:
            self.now += seconds


def test_parsing():
    assert parse_rate_limit("documented") == (Window(100, 60.0), Window(20, 10.0))
    assert parse_rate_limit("1000/60s, 200/10s") == (Window(1000, 60.0), Window(200, 10.0))
    assert parse_rate_limit("5/1m") == (Window(5, 60.0),)
    assert parse_rate_limit("off") == ()
    for bad in ("fast", "0/10s", "10/0s", "10/10x", "10/100000000s"):
        with pytest.raises(ValueError):
            parse_rate_limit(bad)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 400))
def test_no_window_ever_holds_more_than_its_limit(requests):
    time = FakeTime()
    budget = RateBudget(parse_rate_limit("documented"), clock=time.clock, sleep=time.sleep)
    sent = []
    for _ in range(requests):
        budget.acquire()
        sent.append(time.clock())
    for window in budget.windows:
        for i, start in enumerate(sent):
            inside = [t for t in sent[i:] if t < start + window.seconds]
            assert len(inside) <= window.requests


def test_the_budget_is_used_almost_fully():
    time = FakeTime()
    budget = RateBudget(parse_rate_limit("documented"), clock=time.clock, sleep=time.sleep)
    for _ in range(300):
        budget.acquire()
    # Bursts of 20 every 10 s until 100 in the minute, then one minute after each of those: request 300 goes
    # out at 4 x 10.3 + 2 x 61.3 s, within 2% and 0.1 s per window of what the limits allow, and the estimate
    # shown before an apply agrees.
    assert time.clock() == pytest.approx(4 * (10 * 1.02 + 0.1) + 2 * (60 * 1.02 + 0.1))
    assert budget.expected_seconds(300) == pytest.approx(time.clock())


def test_a_pause_holds_every_thread():
    time = FakeTime()
    budget = RateBudget((), clock=time.clock, sleep=time.sleep)
    budget.pause(30)
    budget.acquire()
    assert time.clock() >= 30


def test_threads_share_one_budget():
    budget = RateBudget((Window(20, 0.5),))
    started = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            budget.acquire()
            with lock:
                started.append(__import__("time").monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started.sort()
    assert len(started) == 40
    for i in range(len(started) - 20):
        assert started[i + 20] - started[i] >= 0.5


def test_cancel_ends_every_wait_at_once_and_lets_nothing_through():
    from provisioner.ratelimit import WaitCancelled

    budget = RateBudget((Window(1, 3600.0),))  # one request an hour: the second waits
    budget.acquire()
    outcome = []

    def second():
        try:
            budget.acquire()
            outcome.append("sent")
        except WaitCancelled:
            outcome.append("cancelled")

    waiter = threading.Thread(target=second)
    waiter.start()
    budget.cancel()
    waiter.join(timeout=10)
    assert not waiter.is_alive() and outcome == ["cancelled"]
    with pytest.raises(WaitCancelled):
        budget.acquire()


def test_each_thread_counts_what_it_sent_and_waited():
    time = FakeTime()
    budget = RateBudget((Window(1, 2.0),), clock=time.clock, sleep=time.sleep)
    budget.acquire()
    budget.acquire()  # waits one window (with the margins: 2% and 0.1 s), on the fake clock
    sent, waited = budget.thread_counters()
    assert sent == 2 and waited == pytest.approx(2.0 * 1.02 + 0.1)
    other = []
    thread = threading.Thread(target=lambda: other.append(budget.thread_counters()))
    thread.start()
    thread.join()
    assert other == [(0, 0.0)]


def test_a_pause_says_how_much_longer_it_holds_the_run_than_its_own_pace_and_earlier_pauses():
    """What the client says on stderr: a paced run meeting the platform's reset every window was told of a pause
    its own pace made anyway, every ten seconds."""
    now = [100.0]
    budget = RateBudget((Window(2, 10.0),), clock=lambda: now[0], sleep=lambda seconds: None)
    budget.acquire()
    budget.acquire()
    assert budget.pause(10.0) < 0.5            # the window holds the next request about as long
    assert 19 < budget.pause(30.0) < 20.5      # the platform asks for 20 s more than the window
    assert budget.pause(30.0) == 0.0           # the same reset, said again by the next answer
