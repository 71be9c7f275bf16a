"""The rate budget every thread of a client shares: pace requests under the platform's limits.

API.md: per token, 100 requests per minute and bursts of at most 20 per 10
seconds; a well-behaved client paces itself below the limits instead of
discovering them through 429s. A `RateBudget` keeps, per window, the send times
of the last N requests, and lets a request go only when every window has room
(a sliding window is stricter than the server's fixed or sliding one, so a
paced client is never refused). It also obeys the platform's own word: an
`X-RateLimit-Remaining` of 0 or a 429 pauses everyone until the reset.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .patterns import LazyPattern

DOCUMENTED = "100/60s,20/10s"
# Requests reach the server a little after we send them, and not always in the order sent: leave room, in
# proportion to a window and, for a short window, in time (on a busy machine a request taken from the budget may
# reach the server tens of milliseconds after one taken later: 2% of half a second is not enough).
_MARGIN = 1.02
_MARGIN_SECONDS = 0.1
_SPEC = LazyPattern(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Window:
    requests: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}s"


def parse_rate_limit(text: str) -> tuple[Window, ...]:
    """'off' -> (); 'documented' -> the platform's limits; '100/60s,20/10s' -> those windows."""
    text = (text or "").strip().lower()
    if text in ("off", "none", "0"):
        return ()
    if text in ("documented", "default"):
        text = DOCUMENTED
    windows = []
    for part in text.split(","):
        match = _SPEC.fullmatch(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a rate limit like 100/60s (or 'off', 'documented')")
        count, seconds = int(match.group(1)), float(match.group(2)) * _UNITS[match.group(3) or "s"]
        if count < 1 or not 0 < seconds <= 86400:
            raise ValueError(f"{part.strip()!r}: need at least 1 request per a period of up to a day")
        windows.append(Window(count, seconds))
    return tuple(windows)


def describe(windows: tuple[Window, ...]) -> str:
    return ",".join(str(w) for w in windows) if windows else "off"


class WaitCancelled(Exception):
    """The wait for the rate budget was cancelled (an interrupted apply): the request was not sent."""


class RateBudget:
    def __init__(self, windows: tuple[Window, ...] = (), *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None):
        self.windows = windows
        self._clock = clock
        self._cancelled = threading.Event()
        # Waiting on the event (not time.sleep) lets cancel() end every wait at once.
        self._sleep = sleep or self._cancelled.wait
        self._lock = threading.Lock()
        self._sent = [collections.deque() for _ in windows]
        self._paused_until = 0.0
        self.waited = 0.0  # seconds spent waiting for the budget, all threads together
        self._mine = threading.local()  # per thread: requests let through and seconds waited (thread_counters)

    def cancel(self) -> None:
        """From now on no request is let through: every wait, and every later acquire, raises WaitCancelled."""
        self._cancelled.set()

    def resume(self) -> None:
        """Let requests through again after cancel(): an apply that stopped for its state store (not an interrupt)
        cancels what waits, then reads back what it changed."""
        self._cancelled.clear()

    def thread_counters(self) -> tuple[int, float]:
        """(requests let through, seconds spent waiting) by the calling thread so far: a caller compares two
        readings to tell what one piece of its work waited, and whether it sent anything."""
        return getattr(self._mine, "sent", 0), getattr(self._mine, "waited", 0.0)

    def unsent(self) -> None:
        """The request acquire() last let through on this thread was not sent after all (the client refused it):
        not counted as this thread's, so that its caller sees it sent nothing."""
        self._mine.sent = getattr(self._mine, "sent", 0) - 1

    def acquire(self) -> None:
        """Block until a request may be sent, and count it; WaitCancelled once cancel() was called."""
        while True:
            if self._cancelled.is_set():
                raise WaitCancelled("not sent: the apply was interrupted while it waited for the rate budget")
            with self._lock:
                now = self._clock()
                wait = max(self._paused_until - now, self._windows_wait(now))
                if wait <= 0:
                    for sent in self._sent:
                        sent.append(now)
                    self._mine.sent = getattr(self._mine, "sent", 0) + 1
                    return
                self.waited += wait
            began = self._clock()
            self._sleep(min(wait, 5.0))
            self._mine.waited = getattr(self._mine, "waited", 0.0) + max(0.0, self._clock() - began)

    def _windows_wait(self, now: float) -> float:
        """How long the windows alone hold the next request (under the lock; forgets sends that left them)."""
        wait = 0.0
        for window, sent in zip(self.windows, self._sent):
            span = window.seconds * _MARGIN + _MARGIN_SECONDS
            while sent and sent[0] <= now - span:
                sent.popleft()
            if len(sent) >= window.requests:
                wait = max(wait, sent[0] + span - now)
        return wait

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a retry's backoff), or until cancel(): WaitCancelled then, as a wait for the budget."""
        if self._cancelled.wait(max(0.0, seconds)):
            raise WaitCancelled("not sent: the apply was interrupted while it waited to retry")

    def pause(self, seconds: float) -> float:
        """Nobody sends for `seconds` (the platform said so). Returns how much longer the next request waits for
        it: 0 when the windows or an earlier pause held it that long anyway (a paced run meeting the platform's
        reset, every answer repeating the same reset)."""
        with self._lock:
            now = self._clock()
            held = max(self._paused_until, now + self._windows_wait(now))
            self._paused_until = max(self._paused_until, now + max(0.0, seconds))
            return max(0.0, self._paused_until - held)

    def expected_seconds(self, requests: int) -> float:
        """At least how long `requests` more take within the budget, from an idle start: the pacing schedule,
        where request k goes out one window after request k - N of each window of N requests."""
        if not self.windows or requests <= 0:
            return 0.0
        times: list[float] = []
        for k in range(requests):
            times.append(max([0.0] + [times[k - w.requests] + w.seconds * _MARGIN + _MARGIN_SECONDS
                                      for w in self.windows if k >= w.requests]))
        return times[-1]
