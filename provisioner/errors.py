"""Exceptions, written for the person at the terminal: what failed, where, and what to do next."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, NamedTuple


class Location(NamedTuple):
    """Where a value starts in a manifest file. A tuple: loading a fleet records one per value."""

    file: str
    line: int  # 1-based, as editors show it
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: at a file and line, a field path, an assistant address."""

    message: str
    location: Location | None = None
    field: str | None = None
    address: str | None = None

    def __str__(self) -> str:
        where = [str(self.location)] if self.location else []
        if self.address:
            where.append(self.address)
        if self.field:
            where.append(self.field)
        return ": ".join(where + [self.message])

    def as_dict(self) -> dict:
        return {
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "address": self.address,
            "field": self.field,
            "message": self.message,
        }


def closest_addresses(address: str, known: Iterable[str]) -> str:
    """"; did you mean 'a' or 'b'?" for the (at most three) known addresses `address` is a near miss of, else "":
    every command that takes an address says it the same way, whichever address it could not find."""
    import difflib  # only on the way to an error

    close = difflib.get_close_matches(address, sorted(set(known)), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


class ProvisionerError(Exception):
    """Anything the provisioner reports and exits 1 for."""


class ProblemsError(ProvisionerError):
    """Several problems found together, so a user fixes them in one pass, not one per run."""

    summary = "problems"

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = [f"{count} {self.summary if count != 1 else self.summary.rstrip('s')}:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ManifestError(ProblemsError):
    summary = "manifest errors"


class PlanError(ProblemsError):
    summary = "plan errors"


class StateError(ProvisionerError):
    """The state file is unreadable, of another lineage, or the operation on it is not allowed."""


class LockError(ProvisionerError):
    """The state is locked by another run."""


class StalePlanError(ProvisionerError):
    """A saved plan no longer matches the state or the platform."""


class ApiError(ProvisionerError):
    """The platform answered with an error, or could not be reached."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class AuthenticationError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class RejectedError(ApiError):
    """422: the platform named the fields it refused."""

    def __init__(self, message: str, errors: dict[str, list[str]]):
        details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(f"{message} ({details})" if details else message, status=422)
        self.summary = message
        self.errors = errors


class RateLimitedError(ApiError):
    def __init__(self, message: str, retry_after: float | None, *, by_platform: bool = True):
        super().__init__(message, status=429)
        self.retry_after = retry_after
        # False: the 429 lacks the platform's body (API.md: `retry_after` in it), so it may be a proxy's, given for a
        # request the platform may have received and carried out: a refusal only for a request safe to repeat.
        self.by_platform = by_platform


class RateLimitSpentError(ApiError):
    """A request not sent: the platform said its rate limit is used up until a reset further away than
    --retry-max-time allows waiting, so nothing is sent before it. `why`: until when, and the flag."""

    def __init__(self, message: str, why: str):
        super().__init__(message, status=429)
        self.why = why


class ServerError(ApiError):
    """5xx: for a write, the platform may or may not have done it."""


class TransportError(ApiError):
    """No answer: connection refused, dropped, or timed out."""

    def __init__(self, message: str, *, request_sent: bool):
        super().__init__(message)
        # False only when the request certainly never reached the platform (e.g. connection refused).
        self.request_sent = request_sent


def with_article(noun: str) -> str:
    """"a tool", "an assistant": a kind's name in a message."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
