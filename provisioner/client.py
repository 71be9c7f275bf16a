"""The platform's REST API (over http11.py; httpx where it is needed): the rate budget, retries, deadlines, and
strict reading of every answer.

Retries follow one rule: a request is repeated only when repeating it cannot
do harm. Reads, updates and deletes are idempotent and retry on 429, 5xx and
network errors. A create is retried only when the platform certainly did not
act (its own 429, or a connection that never opened); any other failure of a
create (a 429 without the platform's body included) leaves its outcome unknown,
and the caller must look before it creates again (see apply.py).

Every answer is checked before anything is decided from it: a list page that is
not a proper page, pages that do not add up, a catalogue that is not a list of
items with ids, a body larger than the cap or slower than the deadline are
errors, never "the platform is empty".
"""
from __future__ import annotations

import math
import random
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit, urlunsplit

from . import answer_json, http11
from .errors import (ApiError, AuthenticationError, NotFoundError, RateLimitedError, RateLimitSpentError,
                     RejectedError, ServerError, TransportError)
from .ratelimit import RateBudget

if TYPE_CHECKING:  # imported when first needed (PlatformClient._http): a run over http11.py never loads it
    import httpx

PAGE_SIZE = 100  # the most the list endpoint gives per page
LIST_ATTEMPTS = 4  # whole-list re-reads when pages disagree (the list changed while being read)
MAX_WAIT_ANSWER = 86_400.0  # a Retry-After beyond a day is not an answer but a fault
MIN_WAIT_AFTER_429 = 0.25  # seconds, whatever a 429 says: 4 retries a second at most, not a tight loop
PAUSE_ANNOUNCED = 2.0  # seconds: a pause the platform adds to the run's own pace, this long or longer, is said


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10   # per request, not counting 429s
    # Seconds, across all attempts of one request; also the longest wait a 429 or an X-RateLimit-Reset may ask.
    max_elapsed: float = 120.0
    backoff_base: float = 0.5   # first backoff; doubles per attempt, with full jitter
    backoff_max: float = 15.0
    timeout: float = 30.0       # one attempt, from sending to the last byte of the answer


@dataclass(frozen=True)
class ClientLimits:
    max_response_bytes: int = 64 * 1024 * 1024
    max_assistants: int = 100_000  # the list is read whole; beyond this, something is wrong


class UnknownOutcomeError(ServerError):
    """A write answered with something that does not say what happened: a 2xx without its object, a 429 that is
    not the platform's."""


class TimedOutError(TransportError):
    """No whole answer within --request-timeout: the platform may still be working on the request."""


class UnansweredError(TransportError):
    """The request went out whole and the connection failed before its answer: the platform may have it, and may
    still be working on it."""


class UnreachableError(TransportError):
    """The base URL itself is wrong: nothing listens there, or its host name does not resolve. Found on the
    first contact and not retried: waiting would not change it, and a wrong --api-url should fail in a moment."""


def _unreachable_reason(error: BaseException, base_url: str) -> str | None:
    """'connection refused at URL' or 'cannot resolve host NAME' for a connect error that says so."""
    seen = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return f"connection refused at {base_url}: nothing listens there"
        if isinstance(seen, socket.gaierror) and seen.errno in _NO_SUCH_NAME:
            return f"cannot resolve host {urlsplit(base_url).hostname} (from {base_url})"
        seen = seen.__cause__ or seen.__context__
    return None


# getaddrinfo's "no such name" answers (not EAI_AGAIN, a resolver that may answer on a retry).
_NO_SUCH_NAME = {code for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
                 if code is not None}


def _print_notice(line: str) -> None:
    from .scrub import scrub

    print(scrub(line), file=sys.stderr, flush=True)


def display_url(url: str) -> str:
    """A URL safe to print: no user:password, no query string (where tokens hide)."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "(an unparsable URL)"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class PlatformClient:
    def __init__(self, base_url: str, token: str, *, retry: RetryPolicy | None = None,
                 max_connections: int = 20, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 budget: RateBudget | None = None, limits: ClientLimits | None = None,
                 notify: Callable[[str], None] | None = _print_notice):
        self.retry = retry or RetryPolicy()
        self._notify = notify or (lambda line: None)  # retry notices, as they happen (stderr by default)
        self._answered_ok = False  # any 2xx yet: until then a 404 may mean a base URL without /api
        self._reached = False  # any answer yet: from then on a refused connection is a restart, not a wrong URL
        self.limits = limits or ClientLimits()
        self.request_count = 0
        self.rate_limited = 0  # 429 answers seen
        # (until, why): X-RateLimit-Reset further away than --retry-max-time: nothing is sent before it (_send_once)
        self._closed: tuple[float, str] | None = None
        self._count_lock = threading.Lock()
        self._clock = clock
        self.budget = budget or RateBudget(clock=clock, sleep=sleep)
        # Retries' backoffs wait on the budget, so that an interrupt (budget.cancel) ends them at once too: only the
        # requests on the wire are left to finish.
        self._sleep = sleep or self.budget.sleep
        self.base_url = display_url(base_url)
        self.max_connections = max_connections
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        # JSON exchanges go through http11.py (a fraction of httpx's CPU per request, the same deadline, cap
        # and answers); httpx serves an injected transport, a proxy from the environment and multipart bodies.
        self._fast = None
        if transport is None and not http11.proxies_configured():
            try:
                self._fast = http11.Http11(base_url.rstrip("/"), headers, max_connections)
            except ValueError:  # not an http(s) URL: httpx says what is wrong with it
                pass
        self._httpx_settings = (base_url.rstrip("/"), headers, transport)
        self._httpx = None
        self._httpx_lock = threading.Lock()

    @property
    def _http(self):
        """The httpx client, made on first use (importing httpx costs a noticeable part of a short run)."""
        with self._httpx_lock:
            if self._httpx is None:
                import httpx

                from .deadline import install as install_deadline

                base_url, headers, transport = self._httpx_settings
                self._httpx = httpx.Client(
                    base_url=base_url, headers=headers, timeout=self.retry.timeout,
                    limits=httpx.Limits(max_connections=self.max_connections,
                                        max_keepalive_connections=self.max_connections),
                    transport=transport, follow_redirects=False)
                if transport is None:
                    install_deadline(self._httpx)  # --request-timeout bounds the whole exchange, not each read
            return self._httpx

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
        if self._httpx is not None:
            self._httpx.close()

    def __enter__(self) -> "PlatformClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- assistants ---

    def list_assistants(self) -> list[dict[str, Any]]:
        """Every assistant of the user, in the read shape, from pages that add up (re-read if they don't)."""
        problem = ""
        for attempt in range(1, LIST_ATTEMPTS + 1):
            items, problem = self._read_all_pages()
            if not problem:
                return items
            if attempt < LIST_ATTEMPTS:
                self._sleep(self.backoff(attempt))
        raise ApiError(f"GET /user/assistants/get: {problem}, on {LIST_ATTEMPTS} readings in a row; nothing was "
                       "decided from it. If assistants are being created or deleted right now, try again later.")

    def _read_all_pages(self) -> tuple[list[dict[str, Any]], str]:
        first = self._page(1)
        total, last_page = first["total"], first["last_page"]
        pages = [first]
        if last_page > 1:
            workers = max(1, min(self.max_connections, last_page - 1))
            with ThreadPoolExecutor(workers, thread_name_prefix="list") as pool:
                pages += list(pool.map(self._page, range(2, last_page + 1)))
        items = [item for page in pages for item in page["data"]]
        unique = {item["id"]: item for item in items}
        if any(page["total"] != total for page in pages):
            return [], "the total changed between pages"
        if any(page_size(page, PAGE_SIZE) != page_size(first, PAGE_SIZE) for page in pages):
            return [], "the page size changed between pages"
        if len(unique) != len(items):
            return [], "an assistant appeared on two pages"
        if len(unique) != total:
            return [], f"the pages hold {len(unique)} assistants but the total says {total}"
        return sorted(unique.values(), key=lambda item: item["id"]), ""

    def _page(self, number: int) -> dict[str, Any]:
        where = "GET /user/assistants/get"
        page = self._request("GET", "/user/assistants/get", params={"per_page": PAGE_SIZE, "page": number})
        return check_page(page, number, PAGE_SIZE, where, self.limits.max_assistants)

    def create_assistant(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._request("POST", "/user/assistant", json=body, idempotent=False)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict) or not is_id(data.get("id")):
            raise UnknownOutcomeError("POST /user/assistant: the platform answered success without the new "
                                      f"assistant's id ({_short(answer)})", status=200)
        return data

    def update_assistant(self, assistant_id: int, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._request("PUT", f"/user/assistant/{assistant_id}", json=body)
        return (answer.get("data") if isinstance(answer, dict) else None) or {}

    def delete_assistant(self, assistant_id: int) -> None:
        self._request("DELETE", f"/user/assistant/{assistant_id}")

    # --- catalogues ---

    def voices(self, mode: str) -> list[dict[str, Any]]:
        voices = self._catalogue("/user/assistants/voices", {"mode": mode})
        # Older catalogues carry a mode per voice and may ignore the filter.
        return [v for v in voices if v.get("mode") in (None, mode)]

    def languages(self) -> list[dict[str, Any]]:
        return self._catalogue("/user/assistants/languages")

    def models(self, kind: str) -> list[dict[str, Any]] | None:
        """The models of a type (llm, multimodal, dualplex); None if the platform has no models catalogue."""
        try:
            return self._catalogue("/user/assistants/models", {"type": kind})
        except NotFoundError:
            return None

    def phone_numbers(self, kind: str) -> list[dict[str, Any]]:
        return self._catalogue("/user/assistants/phone-numbers", {"type": kind})

    def synthesizer_providers(self, language_id: int) -> list[dict[str, Any]]:
        return self._catalogue("/user/assistants/synthesizer-providers", {"language_id": language_id})

    def transcriber_providers(self) -> list[dict[str, Any]]:
        return self._catalogue("/user/assistants/transcriber-providers")

    def _catalogue(self, path: str, params: dict | None = None) -> list[dict[str, Any]]:
        return check_catalogue(self._request("GET", path, params=params), f"GET {path}")

    # --- any kind (provisioner/kinds/) ---

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                idempotent: bool | None = None, files: dict | None = None, data: dict | None = None) -> Any:
        """One call to the platform for any kind, under the same rate budget, retries, deadline, size cap and
        answer checks as assistants; the parsed JSON answer. A POST is not idempotent unless said so: an unknown
        outcome is never re-sent blindly (the caller looks for the object first).

        `files` (with `data`, its form fields) sends a `multipart/form-data` body instead of JSON (a knowledge
        base document's file): `{"file": (file name, bytes, media type)}`. Give bytes, not an open file, so that
        a retry the rules allow (a 429, a connection that never opened) sends the same body again."""
        if idempotent is None:
            idempotent = method.upper() != "POST"
        if (files is not None or data is not None) and json is not None:
            raise ValueError("a request body is either JSON or a multipart form, not both")
        form = (files, data) if files is not None or data is not None else None
        return self._request(method.upper(), path, json=json, params=params, idempotent=idempotent, form=form)

    # --- transport ---

    def _request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                 idempotent: bool = True, form: tuple[dict | None, dict | None] | None = None) -> Any:
        """One request, repeated while repeating is safe (`_retryable`) within --max-retries and --retry-max-time.

        A plain loop (it was a tenacity.Retrying per request: building one, with its per-attempt action list,
        cost more CPU than the request itself, and the rule fits in a few lines)."""
        policy = self.retry
        failures = 0  # 429s are not failures: the platform said when to come back; time still bounds them
        started = self._clock()
        while True:
            try:
                return self._send_once(method, path, json, params, form)
            except Exception as error:
                if isinstance(error, RateLimitedError) and not error.by_platform and not idempotent:
                    # A proxy may answer 429 for a request the platform carried out: resent, a create made a second
                    # object on every such answer. The caller looks for it instead (after the pause it asked for).
                    raise UnknownOutcomeError(f"{error}: a proxy's 429 perhaps, which does not say the request was "
                                              "refused", status=429) from None
                if not _retryable(error, idempotent):
                    raise
                limited = isinstance(error, RateLimitedError)
                if not limited:
                    failures += 1
                # After a 429 the budget's shared pause does the waiting, for every thread at once.
                wait = (error.retry_after or 0.0) if limited else self.backoff(max(1, failures))
                if failures >= policy.max_attempts:
                    raise
                # No attempt starts after --retry-max-time: a wait that would end past it gives up now, so the
                # bound is that time plus one --request-timeout, not twice it after a long Retry-After.
                if self._clock() - started + wait >= policy.max_elapsed:
                    if limited:
                        raise ApiError(f"{error}; giving up: the next attempt would start after --retry-max-time "
                                       f"{policy.max_elapsed:g}s", status=429) from error
                    raise
                if not limited:  # 429s are paced by the budget, not failures
                    self._notify(f"{error}; retrying in {wait:.1f}s (attempt {failures + 1} of {policy.max_attempts})")
                self._sleep(0.0 if limited else wait)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: random in [0, min(max, base * 2**(attempt-1))]."""
        return random.uniform(0, min(self.retry.backoff_max, self.retry.backoff_base * 2 ** (attempt - 1)))

    def pause(self, seconds: float) -> None:
        self._sleep(seconds)

    def _send_once(self, method: str, path: str, json_body: Any, params: dict | None,
                   form: tuple[dict | None, dict | None] | None = None) -> Any:
        where = f"{method} {path}"
        self.budget.acquire()
        why = self.rate_limit_spent  # after the wait for the budget: an answer meanwhile may have closed it
        if why is not None:
            self.budget.unsent()  # its caller sent nothing: an apply reports its change not started
            raise RateLimitSpentError(f"{where}: not sent: {why}. Run again after that time, or raise "
                                      "--retry-max-time", why)
        with self._count_lock:
            self.request_count += 1
        status, headers, raw = self._exchange(method, path, json_body, params, where, form)
        self._obey_rate_headers(headers)
        return self._parse(where, status, headers, raw)

    def _exchange(self, method: str, path: str, json_body: Any, params: dict | None,
                  where: str, form: tuple[dict | None, dict | None] | None = None) -> tuple[int, Any, bytes]:
        """Send and read the whole answer within the deadline and the size cap: (status, headers, body).
        `form`: (files, data) of a multipart body, sent instead of JSON."""
        if self._fast is not None and form is None:
            return self._exchange_fast(method, path, json_body, params, where)
        import httpx

        from .deadline import exchange_deadline

        deadline = self._clock() + self.retry.timeout
        cap = self.limits.max_response_bytes
        body = {"json": json_body} if form is None else {"files": form[0], "data": form[1]}
        try:
            with exchange_deadline(self.retry.timeout), \
                    self._http.stream(method, path, params=params, **body) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise ApiError(f"{where}: the answer would be {int(declared):,} bytes, more than the "
                                   f"{cap:,}-byte cap; refusing to read it", status=response.status_code)
                chunks, size = [], 0
                for chunk in response.iter_bytes():  # decoded as it arrives, so the cap bounds what we hold
                    size += len(chunk)
                    if size > cap:
                        raise ApiError(f"{where}: the answer is larger than the {cap:,}-byte cap; refusing to "
                                       "read more", status=response.status_code)
                    if self._clock() > deadline:
                        raise httpx.ReadTimeout("the answer did not arrive whole within the deadline")
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise self._not_connected(where, error, type(error).__name__) from None
        except httpx.TimeoutException as error:
            raise TimedOutError(f"{where}: no whole answer within --request-timeout {self.retry.timeout:g}s "
                                f"({type(error).__name__})", request_sent=True) from None
        except httpx.TransportError as error:
            raise TransportError(f"{where}: the connection failed before the platform answered "
                                 f"({type(error).__name__})", request_sent=True) from None

    def _not_connected(self, where: str, error: Exception, name: str) -> TransportError:
        """No connection: unreachable (a name that does not resolve, a refused port) before any answer, else a
        transport failure; either way the request was not sent."""
        reason = None if self._reached else _unreachable_reason(error, self.base_url)
        if reason:
            return UnreachableError(f"{where}: {reason}; check --api-url or PROVISIONER_API_URL", request_sent=False)
        return TransportError(f"{where}: could not connect to the platform at {self.base_url} ({name})",
                              request_sent=False)

    def _exchange_fast(self, method: str, path: str, json_body: Any, params: dict | None,
                       where: str) -> tuple[int, Any, bytes]:
        """`_exchange` through http11.py, its failures told as the httpx path tells them."""
        cap = self.limits.max_response_bytes
        try:
            return self._fast.exchange(method, path, params, json_body, self.retry.timeout, cap)
        except http11.TooLarge as error:
            if error.declared is not None:
                raise ApiError(f"{where}: the answer would be {error.declared:,} bytes, more than the "
                               f"{cap:,}-byte cap; refusing to read it", status=error.status) from None
            raise ApiError(f"{where}: the answer is larger than the {cap:,}-byte cap; refusing to read more",
                           status=error.status) from None
        except http11.ConnectFailed as error:
            raise self._not_connected(where, error, error.args[0]) from None
        except http11.Expired:
            raise TimedOutError(f"{where}: no whole answer within --request-timeout {self.retry.timeout:g}s "
                                "(ReadTimeout)", request_sent=True) from None
        except http11.Unanswered as error:
            raise UnansweredError(f"{where}: the connection failed before the platform answered "
                                  f"({error.args[0]})", request_sent=True) from None
        except http11.Broken as error:
            raise TransportError(f"{where}: the connection failed before the platform answered "
                                 f"({error.args[0]})", request_sent=True) from None

    @property
    def rate_limit_spent(self) -> str | None:
        """Why no request is sent now (the platform's rate limit is used up until a reset further away than
        --retry-max-time), or None."""
        closed = self._closed
        return closed[1] if closed is not None and self._clock() < closed[0] else None

    def _obey_rate_headers(self, headers: Any) -> None:
        """X-RateLimit-Remaining 0: nobody sends until X-RateLimit-Reset (others may share the token), saying so.

        A reset further away than --retry-max-time is a wait this run does not make: every later request fails at
        once, saying until when. (Each answer paused the run for up to --retry-max-time, silently: with the reset
        hours away on every answer, an apply took that long per round of requests, 100 rounds for 1,000
        assistants.)"""
        remaining = headers.get("x-ratelimit-remaining", "").strip()
        if remaining != "0":
            return
        wait = _seconds_until_epoch(headers.get("x-ratelimit-reset", ""), _platform_now(headers))
        if wait is None:
            return
        if wait > self.retry.max_elapsed:
            until = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + wait))
            self._closed = (self._clock() + wait, (
                f"the platform's rate limit is used up until {until} (X-RateLimit-Remaining: 0, X-RateLimit-Reset "
                f"in {wait:.0f}s), longer than --retry-max-time {self.retry.max_elapsed:g}s allows waiting"))
            return
        self._announce_pause(self.budget.pause(wait), wait, "the platform's rate limit is used up "
                             "(X-RateLimit-Remaining: 0) until its X-RateLimit-Reset")

    def _announce_pause(self, added: float, wait: float, why: str) -> None:
        """Say on stderr why nothing is sent for a while, when the platform's pause (`wait`) holds the run `added`
        seconds longer than its own pace and earlier pauses did: once per pause, not per answer repeating it."""
        if added >= PAUSE_ANNOUNCED:
            self._notify(f"{why}: sending nothing for {wait:.0f}s")

    def _parse(self, where: str, status: int, headers: Any, raw: bytes) -> Any:
        self._reached = True  # whatever it says: something answers at this URL (a 503 during a restart included)
        try:
            body = answer_json.loads(raw) if raw else None
        except ValueError:
            body = _NOT_JSON
        if 200 <= status < 300:
            self._answered_ok = True
            if body is _NOT_JSON:
                if where.startswith("POST"):
                    raise UnknownOutcomeError(f"{where}: the platform answered {status} with a body that is not "
                                              f"JSON ({_short(raw)})", status=status)
                raise ApiError(f"{where}: the platform answered {status} with a body that is not JSON "
                               f"({_short(raw)})", status=status)
            return body if body is not None else {}
        message = _error_text(body)
        message = _short(message if isinstance(message, str) and message else raw.decode("utf-8", "replace")
                         or f"HTTP {status}", 200)
        if status == 401:
            raise AuthenticationError(f"{where}: the platform rejected the API token (401 {message}). "
                                      "Check PROVISIONER_API_TOKEN or --token-file.", status=401)
        if status == 404:
            hint = ""
            if not self._answered_ok and not urlsplit(self.base_url).path.rstrip("/").endswith("/api"):
                hint = (f"; {self.base_url} has answered nothing but 404 so far: is it the platform's base URL? It "
                        f"usually ends in /api ({self.base_url.rstrip('/')}/api)")
            if not isinstance(body, dict):
                # The platform's 404 is its JSON error (API.md: {"message": ...} or {"error": ...}); an HTML page
                # or an empty body is a gateway's or a proxy's, and says nothing about the object: taken as
                # "not found", it would drop a live object from state or report a delete that never happened.
                raise ApiError(f"{where}: answered 404 with a body that is not the platform's JSON error "
                               f"({_short(raw) or 'empty'}): not taken to mean the object "
                               f"is gone{hint}", status=404)
            raise NotFoundError(f"{where}: not found (404 {message}){hint}", status=404)
        if status == 422:
            errors = body.get("errors") if isinstance(body, dict) else None
            errors = {str(k): [str(m) for m in (v if isinstance(v, list) else [v])][:5]
                      for k, v in list(errors.items())[:50]} if isinstance(errors, dict) else {}
            raise RejectedError(message, errors)
        if status == 429:
            self.rate_limited += 1
            # API.md's 429 is `{"error", "message", "retry_after"}`: without `retry_after`, someone else answered.
            by_platform = isinstance(body, dict) and "retry_after" in body
            said = (f"rate limited by the platform (429 {message})" if by_platform else
                    f"answered 429 ({message}) without the platform's rate-limit body")
            try:
                wait = self._retry_after(where, body, headers)
            except ApiError as unusable:
                if by_platform:
                    raise
                # Still not a refusal: a create stays unknown (looked for), anything else gives up (`_request`).
                raise RateLimitedError(f"{where}: {said}; {str(unusable).removeprefix(where + ': ')}", math.inf,
                                       by_platform=False) from None
            self._announce_pause(self.budget.pause(wait), wait, f"{where}: answered 429 (rate limited)")
            raise RateLimitedError(f"{where}: {said}; waiting {wait:g}s", wait, by_platform=by_platform)
        if status >= 500:
            raise ServerError(f"{where}: the platform failed ({status} {message})", status=status)
        raise ApiError(f"{where}: the platform answered {status}: {message}", status=status)

    def _retry_after(self, where: str, body: Any, headers: Any) -> float:
        """How long a 429 asks us to wait: the body's `retry_after`, else a Retry-After header, else backoff."""
        raw = body.get("retry_after") if isinstance(body, dict) else None
        if raw is None:
            raw = headers.get("retry-after")
        if raw is None:
            return self.backoff(3)
        wait = _wait_seconds(raw)
        if wait is None or wait > MAX_WAIT_ANSWER:
            raise ApiError(f"{where}: rate limited, with a wait the client cannot honour ({_short(raw)})", status=429)
        if wait > self.retry.max_elapsed:
            raise ApiError(f"{where}: rate limited, and the platform asks to wait {wait:g}s, longer than "
                           f"--retry-max-time {self.retry.max_elapsed:g}s", status=429)
        # A 429 that asks for no wait at all (retry_after: 0) would be sent again at once, and again: a short floor
        # keeps the retries of one refusal from becoming a burst (429s do not count as attempts).
        return max(wait, MIN_WAIT_AFTER_429)


_NOT_JSON = object()


def _error_text(body: Any) -> str | None:
    """An error answer's text: `message`, else `error` (knowledge bases, phone numbers and SIP trunks answer
    `{"error": ...}`, API.md "Other resource kinds")."""
    if not isinstance(body, dict):
        return None
    for key in ("message", "error"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    return None


def _wait_seconds(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:  # an integer of hundreds of digits: no wait a client can honour
            return None
    else:
        text = str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            import email.utils  # only for a Retry-After date: 0.01 s of CPU that no other run needs

            try:
                # A date already past (the clocks disagree a little) means now, not a wait nobody can honour.
                value = max(0.0, email.utils.parsedate_to_datetime(text).timestamp() - time.time())
            except (TypeError, ValueError, OverflowError):
                return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _seconds_until_epoch(raw: str, now: float) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return max(0.0, value - now)


def _platform_now(headers: Any) -> float:
    """The platform's clock as its answer's Date says, else this machine's. An X-RateLimit-Reset is a moment of the
    platform's clock: read against a client clock minutes behind, a reset seconds away looked like one past
    --retry-max-time, and the run stopped where it had a few seconds to wait."""
    raw = headers.get("date", "")
    if raw:
        import datetime  # only after an answer saying X-RateLimit-Remaining 0 (see _wait_seconds)
        import email.utils
        try:
            said = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            said = None  # not a date: this machine's clock, as without one
        if said is not None:  # an HTTP date is GMT, "-0000" (no zone named) included
            return (said if said.tzinfo else said.replace(tzinfo=datetime.timezone.utc)).timestamp()
    return time.time()


def _retryable(error: BaseException, idempotent: bool) -> bool:
    if isinstance(error, RateLimitedError):
        return True
    if isinstance(error, UnreachableError):
        return False
    if isinstance(error, TransportError):
        return idempotent or not error.request_sent
    return idempotent and isinstance(error, ServerError) and not isinstance(error, UnknownOutcomeError)


# The largest id state can hold (SQLite's INTEGER, PostgreSQL's BIGINT): a larger one, taken from an answer, made
# the store's commit fail mid-apply with an OverflowError, losing the other records of its batch.
MAX_ID = 2**63 - 1


def is_id(value: Any) -> bool:
    """A platform id: a positive integer that state can record."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


# The fewest items a page may declare when more were asked and the list does not fit in it (see check_page): API.md
# allows 1-100, but each page is a request, and a list read a few items at a time makes the pages the run's length.
SMALLEST_PAGE = 5


def check_page(page: Any, number: int, per_page: int, where: str, max_items: int, *, noun: str = "assistant",
               last_page_optional: bool = False) -> dict[str, Any]:
    """A list page as API.md describes it, or an error: never a partial view taken for the whole.

    A page is read by the size it declares (`per_page`; the size asked for when it declares none): a platform
    may give fewer a page than asked, though not fewer than SMALLEST_PAGE (each page is a request). Otherwise only a page that contradicts itself (its last page, item count, position or
    numbering disagreeing with its own size and total) is refused. `last_page_optional`: the kind's pages
    may leave `last_page` out (folders, labels), though one given must agree."""
    def bad(reason: str) -> ApiError:
        return ApiError(f"{where}: page {number} is not a valid page ({reason}); nothing was decided from it")

    if not isinstance(page, dict):
        raise bad(f"expected an object, got {type(page).__name__}")
    data, total, last_page = page.get("data"), page.get("total"), page.get("last_page")
    declared = page.get("per_page", per_page)
    if not isinstance(data, list):
        raise bad("no 'data' list")
    if not is_count(total):
        raise bad(f"'total' is {_short(total)}")
    if total > max_items:
        raise bad(f"it reports {total:,} {noun}s, more than this client reads ({max_items:,})")
    if not is_count(declared) or declared == 0:
        raise bad(f"'per_page' is {_short(declared)}")
    if declared < min(per_page, SMALLEST_PAGE) and total > declared:
        # Fewer a page than asked is allowed, but not so few that the pages, read one request each, become the
        # run's length: 2,000 folders at 1 a page were 2,000 requests.
        raise bad(f"'per_page' is {declared} for {total:,} {noun}s, where {per_page} were asked: reading them "
                  f"would take {math.ceil(total / declared):,} requests (fewer than {SMALLEST_PAGE} a page is "
                  "refused)")
    size = declared
    expected_last = max(1, math.ceil(total / size))
    if (last_page != expected_last or isinstance(last_page, bool)) and not (last_page is None and last_page_optional):
        raise bad(f"'last_page' is {_short(last_page)}, but {total} {noun}s at {size} a page make "
                  f"{expected_last}")
    current = page.get("current_page")
    if current is not None and (current != number or isinstance(current, bool)):
        raise bad(f"asked for page {number}, got 'current_page' {_short(current)}")
    expected_items = min(size, max(0, total - (number - 1) * size))
    if len(data) != expected_items:
        raise bad(f"{len(data)} items where {total} {noun}s at {size} a page put {expected_items}")
    if data:  # Laravel's from/to: the positions of the first and last item (null on an empty page)
        first, last = (number - 1) * size + 1, (number - 1) * size + len(data)
        for key, expected in (("from", first), ("to", last)):
            value = page.get(key)
            if value is not None and (value != expected or isinstance(value, bool)):
                raise bad(f"'{key}' is {_short(value)}, but item {expected} is where page {number} of {size} "
                          f"a page puts it")
    for item in data:
        if not isinstance(item, dict) or not is_id(item.get("id")):
            raise bad(f"an item without an integer id (positive, at most 2**63-1): {_short(item)}")
        if not isinstance(item.get("name"), str):
            raise bad(f"{noun} {item['id']} has no name")
    return page


def page_size(page: dict[str, Any], asked: int) -> int:
    """The size a checked page was read by."""
    return page.get("per_page", asked)


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_catalogue(body: Any, where: str) -> list[dict[str, Any]]:
    """Catalogues come as a bare array or as {"data": [...]} (API.md); items need an id and a name."""
    items = body.get("data") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ApiError(f"{where}: expected a list, got {_short(body)}")
    for item in items:
        if not isinstance(item, dict) or not (is_id(item.get("id")) or isinstance(item.get("id"), str)):
            raise ApiError(f"{where}: an item without an id: {_short(item)}")
    return items


def _short(value: Any, limit: int = 120) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else (
        value if isinstance(value, str) else repr(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
