"""One list read shared by the pollers that wait on the same list (a knowledge base's documents being processed).

An apply waits for each created document until the platform has processed it. Reading the document alone
costs one request per document and poll; reading its knowledge base's list instead answers every document
of that knowledge base that is waiting, so pollers of one key (a knowledge base) share reads.

The rule that keeps a shared read truthful: a poller names the moment its answer must be newer than
(`since`: for a first poll, the moment its create was answered), and is answered only by a read that BEGAN at
or after that moment. A read that began earlier may have been answered before the object existed, so it is
never used for it, even if it ended later.

A poller never holds a worker to wait for somebody else's read: `poll` answers the read's value (`Read`), or
when to ask again (`Due`) because a read is in flight that will do (or is too old, and the next one will);
only when no read is in flight does the poller read itself, which any other poller then shares.

Documents of one knowledge base are usually created side by side, their creates answered a moment apart: a
first poll that read at once would be too early for its siblings, which would then need a read of their own.
So a create that will be polled says it is `coming` (until its first poll), and a first poll waits for the
siblings still coming (up to `gather_until`, SIBLINGS_WAIT after its create): the last of them reads for all.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Callable, Generic, Hashable, Iterator, TypeVar

T = TypeVar("T")

# How long a read is expected to take before one was timed (then: the last read's time).
FIRST_GUESS = 0.05
# Bounds of one wait for a read in flight: never a busy loop, never long after the read has answered.
SHORTEST_WAIT = 0.002
LONGEST_WAIT = 0.25
# How long a first poll may wait for the creates of its siblings still in flight (a stalled one: retried, paced).
SIBLINGS_WAIT = 0.25


@dataclass(frozen=True)
class Read(Generic[T]):
    """A read that began at or after the poller's `since`: its value."""

    value: T


@dataclass(frozen=True)
class Due:
    """No read that will do has answered yet: ask again at `at` (time.monotonic())."""

    at: float


class _Key:
    __slots__ = ("began", "value", "reading_since", "coming")

    def __init__(self) -> None:
        self.began: float | None = None           # when the newest answered read began
        self.value = None                         # ... and what it answered
        self.reading_since: float | None = None   # when the read in flight began (None: none in flight)
        self.coming = 0                           # creates under the key whose first poll has not come yet


class SharedReads:
    """The reads of many keys, each shared by its pollers (module docstring). Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[Hashable, _Key] = {}
        self._read_time = FIRST_GUESS

    def _key(self, key: Hashable) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        return state

    @contextlib.contextmanager
    def coming(self, key: Hashable) -> Iterator[Callable[[], None]]:
        """Around a create under `key` that will be polled: until its first poll calls the `arrived` this yields
        (or the block is left), the first polls of the others under `key` wait for it (module docstring)."""
        with self._lock:
            state = self._key(key)
            state.coming += 1
        here = []

        def arrived() -> None:
            with self._lock:
                if not here:
                    here.append(True)
                    state.coming -= 1
        try:
            yield arrived
        finally:
            arrived()

    def poll(self, key: Hashable, since: float, read: Callable[[], T], gather_until: float = 0.0) -> Read[T] | Due:
        """A read of `key` that began at or after `since`: one already answered, else this caller's own (`read`,
        sent now), or Due when a read is in flight (it will do if it began after `since`; if not, it ends before
        the next one can begin: one read of a key at a time is what lets pollers share), or until `gather_until`
        while creates under `key` are still coming."""
        with self._lock:
            state = self._key(key)
            if state.began is not None and state.began >= since:
                return Read(state.value)
            if state.reading_since is not None:
                return Due(self._wait_until(state.reading_since))
            now = self._clock()
            if state.coming and now < gather_until:  # the last create to come reads for all
                return Due(min(gather_until, now + min(LONGEST_WAIT, max(SHORTEST_WAIT, self._read_time))))
            began = state.reading_since = now
        try:
            value = read()
        except BaseException:
            with self._lock:
                state.reading_since = None  # the waiting pollers read again (each is told its own error)
            raise
        with self._lock:
            state.reading_since = None
            self._read_time = max(0.0, self._clock() - began)
            if state.began is None or state.began < began:
                state.began, state.value = began, value
        return Read(value)

    def _wait_until(self, reading_since: float) -> float:
        """When a read that began at `reading_since` is likely to have answered: just after the time the last read
        took; a read already late is looked at again after a quarter of its age (no busy loop)."""
        now = self._clock()
        expected = reading_since + self._read_time * 1.1 + SHORTEST_WAIT
        wait = expected - now if expected > now else (now - reading_since) / 4
        return now + min(LONGEST_WAIT, max(SHORTEST_WAIT, wait))
