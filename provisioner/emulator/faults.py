"""What the emulator does on purpose: rate limits per token, and faults (latency, errors, lost commits)."""
from __future__ import annotations

import bisect
import collections
import math
import random
import re
import threading
import time
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

DOCUMENTED_RATE_LIMIT = "100/60s,20/10s"   # API.md: 100 a minute, bursts of at most 20 in 10 seconds
# With rate limits off the headers are still sent, with this limit.
UNLIMITED = 1_000_000
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
KINDS = ("assistants", "catalogues", "tools", "knowledgebases", "documents", "folders", "labels", "phone_numbers",
         "sip_trunks", "campaigns")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def parse_rate_limit(spec: str) -> list[tuple[int, float]]:
    """'off' -> [], 'documented' -> API.md's windows, '1000/60s,200/10s' -> [(1000, 60.0), (200, 10.0)]."""
    spec = spec.strip().lower()
    if spec in ("off", "", "0"):
        return []
    if spec == "documented":
        spec = DOCUMENTED_RATE_LIMIT
    windows = []
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([smh]?)\s*", part)
        if not match or int(match.group(1)) < 1 or (match.group(2) is not None and float(match.group(2)) <= 0):
            raise ValueError(f"invalid rate limit {part.strip()!r}: expected off, documented or N/WINDOW "
                             "windows like 100/60s,20/10s")
        seconds = float(match.group(2) or 1) * _UNITS[match.group(3)]
        windows.append((int(match.group(1)), seconds))
    return windows


class FaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0, ge=0, le=60_000)
    # Share of platform requests answered 500 before anything is done.
    error_rate: float = Field(0, ge=0, le=1)
    # off | documented | windows like "1000/60s,200/10s" (a bare number N means N per second).
    rate_limit: str = "off"
    # Share of writes that take effect and then answer 500 or drop the connection.
    commit_fail_rate: float = Field(0, ge=0, le=1)
    # Share of writes that take effect and then answer 429 as a proxy in front of the platform would (no platform
    # body): an answer that does not say whether the write was made.
    commit_429_rate: float = Field(0, ge=0, le=1)
    seed: int | None = None
    # The kinds the latency and the faults above apply to (assistants, catalogues, tools, knowledgebases,
    # documents, folders, labels, phone_numbers, sip_trunks, campaigns); null: every request.
    kinds: list[str] | None = None
    # Likewise the HTTP methods (GET, POST, PUT, DELETE); null: every method. With `kinds`, a test holds the answer
    # of one kind's creates (a write that took effect, not yet acknowledged) while its lists answer at once.
    methods: list[str] | None = None
    # How long a new document reads `processing`, and the share of documents whose processing fails.
    document_delay_ms: float = Field(300, ge=0, le=3_600_000)
    document_failure_rate: float = Field(0, ge=0, le=1)
    # Plan limits: mid-call tools (a 422 without `errors` beyond it) and campaigns (403); null: none.
    tool_limit: int | None = Field(None, ge=0)
    campaign_limit: int | None = Field(None, ge=0)
    # Fields a kind's creates and updates silently ignore (answered 2xx, never saved): {"assistants":
    # ["system_prompt"]}, names as sent on the wire. What other platforms' users report; verify after apply finds it.
    drop_fields: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("drop_fields")
    @classmethod
    def _drop_kinds(cls, value):
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind {', '.join(unknown)}: expected some of {', '.join(KINDS)}")
        return value

    @field_validator("kinds", "methods")
    @classmethod
    def _known(cls, value, info):
        what, known = ("kind", KINDS) if info.field_name == "kinds" else ("method", METHODS)
        unknown = sorted(set(value or ()) - set(known))
        if unknown:
            raise ValueError(f"unknown {what} {', '.join(unknown)}: expected some of {', '.join(known)}")
        return value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _rate_limit(cls, value):
        if value is None or value is False or value == 0:
            return "off"
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            value = f"{int(value)}/1s"
        if not isinstance(value, str):
            raise ValueError("expected off, documented or windows like 100/60s,20/10s")
        parse_rate_limit(value)
        return value.strip()


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int             # epoch seconds
    retry_after: int = 0   # seconds, when refused

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """`headers()` as an ASGI answer carries them (Starlette's MutableHeaders writes these)."""
        return [(b"x-ratelimit-limit", str(self.limit).encode("latin-1")),
                (b"x-ratelimit-remaining", str(self.remaining).encode("latin-1")),
                (b"x-ratelimit-reset", str(self.reset).encode("latin-1"))]


class RateLimiter:
    """A strict sliding-window log per token: a request is admitted only if every window allows it, and counts
    (at its arrival time) only if admitted."""

    def __init__(self, spec: str = "off", clock=time.time):
        self._lock = threading.Lock()
        self._clock = clock
        self._log: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.configure(spec)

    def configure(self, spec: str) -> None:
        windows = parse_rate_limit(spec)
        with self._lock:
            self.windows = windows
            self._longest = max((w for _, w in windows), default=0)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()

    def admit(self, key: str) -> Decision:
        now = self._clock()
        with self._lock:
            if not self.windows:
                return Decision(True, UNLIMITED, UNLIMITED, math.ceil(now + 60))
            log = self._log[key]
            while log and log[0] <= now - self._longest:
                log.popleft()
            refusals = []
            for limit, window in self.windows:
                start = bisect.bisect_right(log, now - window)
                count = len(log) - start
                if count >= limit:
                    # The request fits once the oldest entries that fill this window have left it.
                    frees_at = log[start + count - limit] + window
                    refusals.append((frees_at, limit))
            if refusals:
                frees_at, limit = max(refusals)
                wait = max(1, math.ceil(frees_at - now))
                return Decision(False, limit, 0, math.ceil(frees_at), wait)
            log.append(now)
            tightest = None
            for limit, window in self.windows:
                start = bisect.bisect_right(log, now - window)
                remaining = limit - (len(log) - start)
                reset = math.ceil(log[start] + window)
                if tightest is None or remaining < tightest.remaining:
                    tightest = Decision(True, limit, remaining, reset)
            return tightest


class Faults:
    def __init__(self, settings: FaultSettings | None = None):
        self._lock = threading.Lock()
        self.limiter = RateLimiter()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = settings
            self._random = random.Random(settings.seed)
        self.limiter.configure(settings.rate_limit)

    def update(self, changes: dict) -> FaultSettings:
        merged = FaultSettings.model_validate({**self.settings.model_dump(), **changes})
        self.configure(merged)
        return merged

    def applies(self, kind: str, method: str | None = None) -> bool:
        """Whether the latency and faults touch a request of this kind (and method)."""
        kinds, methods = self.settings.kinds, self.settings.methods
        return (kinds is None or kind in kinds) and (methods is None or method is None or method in methods)

    def fail_before(self, kind: str, method: str | None = None) -> bool:
        return self.applies(kind, method) and self.chance(self.settings.error_rate)

    def fail_after_commit(self, kind: str, method: str | None = None) -> str | None:
        """'500', 'drop' or '429' when this committed write should not be acknowledged."""
        if not self.applies(kind, method):
            return None
        if self.chance(self.settings.commit_429_rate):
            return "429"
        if not self.chance(self.settings.commit_fail_rate):
            return None
        with self._lock:
            return "drop" if self._random.random() < 0.5 else "500"

    def dropped(self, kind: str) -> frozenset[str]:
        """The fields this kind's writes silently ignore (drop_fields)."""
        return frozenset(self.settings.drop_fields.get(kind, ()))

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate


class Stats:
    """Request counts per route template (without /api), 429s, and a short journal of recent writes."""

    JOURNAL_SIZE = 2000

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._journal: collections.deque[dict] = collections.deque(maxlen=self.JOURNAL_SIZE)
        self.rate_limited = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def arrived(self, route: str) -> None:
        """`count` and `entered` at once (one lock)."""
        with self._lock:
            self._counts[route] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

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

    def refused(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {"total": sum(self._counts.values()), "requests": dict(self._counts),
                    "rate_limited": self.rate_limited}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._journal.clear()
            self.rate_limited = 0
            self.max_in_flight = self.in_flight
