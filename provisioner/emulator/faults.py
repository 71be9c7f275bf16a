"""What the emulator does wrong on purpose: latency, errors, rate limits, commits that fail to answer."""
from __future__ import annotations

import collections
import math
import random
import threading
import time

from pydantic import BaseModel, ConfigDict, Field


class FaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0, ge=0, le=60_000)
    # Share of requests answered 500 before anything is done.
    error_rate: float = Field(0, ge=0, le=1)
    # Requests per second per token; beyond it, 429 with Retry-After. 0 means no limit.
    rate_limit: float = Field(0, ge=0)
    # Share of writes that take effect and then answer 500 or drop the connection.
    commit_fail_rate: float = Field(0, ge=0, le=1)
    seed: int | None = None


class Faults:
    def __init__(self, settings: FaultSettings | None = None):
        self._lock = threading.Lock()
        self._calls: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = settings
            self._random = random.Random(settings.seed)

    def update(self, changes: dict) -> FaultSettings:
        merged = FaultSettings.model_validate({**self.settings.model_dump(), **changes})
        self.configure(merged)
        return merged

    def retry_after(self, token: str) -> int | None:
        """Seconds to wait if this request is over the token's rate limit, else None (and it is counted)."""
        limit = self.settings.rate_limit
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            calls = self._calls[token]
            while calls and calls[0] <= now - 1.0:
                calls.popleft()
            if len(calls) >= limit:
                return max(1, math.ceil(calls[0] + 1.0 - now))
            calls.append(now)
        return None

    def fail_before(self) -> bool:
        return self._chance(self.settings.error_rate)

    def fail_after_commit(self) -> str | None:
        """'500' or 'drop' when this committed write should not be acknowledged."""
        if not self._chance(self.settings.commit_fail_rate):
            return None
        with self._lock:
            return "drop" if self._random.random() < 0.5 else "500"

    def _chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate


class Stats:
    """Request counts per route template, and a short journal of recent writes (for tests)."""

    JOURNAL_SIZE = 2000

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._journal: collections.deque[dict] = collections.deque(maxlen=self.JOURNAL_SIZE)
        self.in_flight = 0
        self.max_in_flight = 0

    def entered(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def left(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def journal(self, method: str, path: str, body) -> None:
        with self._lock:
            self._journal.append({"method": method, "path": path, "body": body})

    def writes(self) -> list[dict]:
        with self._lock:
            return list(self._journal)

    def count(self, route: str) -> None:
        with self._lock:
            self._counts[route] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {"total": sum(self._counts.values()), "requests": dict(self._counts)}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._journal.clear()
            self.max_in_flight = self.in_flight
