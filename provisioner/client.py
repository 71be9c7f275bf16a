"""The platform's REST API over httpx: pagination, catalogues, retries and rate limits.

Retries follow one rule: a request is repeated only when repeating it cannot
do harm. Reads, updates and deletes are idempotent and retry on 429, 5xx and
network errors. A create is retried only when the platform certainly did not
act (429, or a connection that never opened); any other failure of a create
leaves its outcome unknown, and the caller must look before it creates again
(see apply.py).
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import tenacity

from .errors import (ApiError, AuthenticationError, NotFoundError, RateLimitedError, RejectedError,
                     ServerError, TransportError)

PAGE_SIZE = 100  # the most the list endpoint gives per page


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10   # per request, not counting 429s
    max_elapsed: float = 120.0  # seconds, across all attempts of one request
    backoff_base: float = 0.5   # first backoff; doubles per attempt, with full jitter
    backoff_max: float = 15.0
    timeout: float = 30.0       # per attempt


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


class PlatformClient:
    def __init__(self, base_url: str, token: str, *, retry: RetryPolicy | None = None,
                 max_connections: int = 20, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.retry = retry or RetryPolicy()
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.retry.timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
            event_hooks={"request": [self._count]},
        )
        self._sleep = sleep or tenacity.nap.sleep
        self._clock = clock
        self._gate = threading.Lock()
        self._resume_at = 0.0  # monotonic time before which no request is sent (set by a 429's Retry-After)
        self.max_connections = max_connections

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PlatformClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _count(self, request: httpx.Request) -> None:
        with self._count_lock:
            self.request_count += 1

    # --- assistants ---

    def list_assistants(self) -> list[dict[str, Any]]:
        """Every assistant of the user, in the read shape: page 1, then the other pages concurrently."""
        first = self._page(1)
        items = _page_items(first)
        last_page = int(first.get("last_page") or 1)
        if last_page > 1:
            workers = max(1, min(self.max_connections, last_page - 1))
            with ThreadPoolExecutor(workers, thread_name_prefix="list") as pool:
                for page in pool.map(self._page, range(2, last_page + 1)):
                    items += _page_items(page)
        # An assistant created between two page reads shifts the pages; never report one twice.
        unique = {item["id"]: item for item in items}
        return sorted(unique.values(), key=lambda item: item["id"])

    def _page(self, number: int) -> dict[str, Any]:
        page = self._get_json("/user/assistants/get", params={"per_page": PAGE_SIZE, "page": number})
        if not isinstance(page, dict):
            raise ApiError(f"GET /user/assistants/get: expected a page object, got {type(page).__name__}")
        return page

    def create_assistant(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", "/user/assistant", json=body, idempotent=False).get("data") or {}

    def update_assistant(self, assistant_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("PUT", f"/user/assistant/{assistant_id}", json=body).get("data") or {}

    def delete_assistant(self, assistant_id: int) -> None:
        self._request("DELETE", f"/user/assistant/{assistant_id}")

    # --- catalogues ---

    def voices(self) -> list[dict[str, Any]]:
        by_id: dict[Any, dict[str, Any]] = {}
        modes: dict[Any, set[str]] = {}
        for mode in ("pipeline", "multimodal"):
            for voice in _items(self._get_json("/user/assistants/voices", params={"mode": mode})):
                by_id[voice["id"]] = voice
                modes.setdefault(voice["id"], set()).add(mode)
        # A voice listed under one mode only is of that mode; one listed under both is of neither in particular.
        return [{**voice, "mode": voice.get("mode") or (next(iter(modes[key])) if len(modes[key]) == 1 else None)}
                for key, voice in by_id.items()]

    def languages(self) -> list[dict[str, Any]]:
        return _items(self._get_json("/user/assistants/languages"))

    def phone_numbers(self) -> list[dict[str, Any]]:
        by_id = {}
        for kind in ("inbound", "outbound"):
            for number in _items(self._get_json("/user/assistants/phone-numbers", params={"type": kind})):
                by_id[number["id"]] = number
        return list(by_id.values())

    # --- transport ---

    def _get_json(self, path: str, params: dict | None = None) -> Any:
        return self._request("GET", path, params=params)

    def _request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                 idempotent: bool = True) -> Any:
        policy = self.retry
        failures = 0  # 429s are not failures: the platform said when to come back; time still bounds them

        def stop(state: tenacity.RetryCallState) -> bool:
            nonlocal failures
            if not isinstance(state.outcome.exception(), RateLimitedError):
                failures += 1
            return failures >= policy.max_attempts or state.seconds_since_start >= policy.max_elapsed

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception()
            if isinstance(error, RateLimitedError) and error.retry_after is not None:
                return 0.0  # the shared pause in _send_once does the waiting, for every thread at once
            return self.backoff(max(1, failures))

        retrying = tenacity.Retrying(stop=stop, wait=wait, sleep=self._sleep, reraise=True,
                                     retry=tenacity.retry_if_exception(lambda e: _retryable(e, idempotent)))
        return retrying(self._send_once, method, path, json, params)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: random in [0, min(max, base * 2**(attempt-1))]."""
        return random.uniform(0, min(self.retry.backoff_max, self.retry.backoff_base * 2 ** (attempt - 1)))

    def pause(self, seconds: float) -> None:
        self._sleep(seconds)

    def _send_once(self, method: str, path: str, json: Any, params: dict | None) -> Any:
        with self._gate:
            pause = self._resume_at - self._clock()
        if pause > 0:
            self._sleep(pause)
        where = f"{method} {path}"
        try:
            response = self._http.request(method, path, json=json, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise TransportError(f"{where}: could not connect to the platform at {self._http.base_url} "
                                 f"({type(error).__name__}: {error})", request_sent=False) from None
        except httpx.TransportError as error:
            raise TransportError(f"{where}: the connection failed before the platform answered "
                                 f"({type(error).__name__}: {error or 'no detail'})", request_sent=True) from None
        try:
            return _parse(where, response)
        except RateLimitedError as error:
            if error.retry_after is not None:
                # One 429 pauses the whole client: the other threads would only be refused too.
                with self._gate:
                    self._resume_at = max(self._resume_at, self._clock() + error.retry_after)
            raise


def _retryable(error: BaseException, idempotent: bool) -> bool:
    if isinstance(error, RateLimitedError):
        return True
    if isinstance(error, TransportError):
        return idempotent or not error.request_sent
    return idempotent and isinstance(error, ServerError)


def _parse(where: str, response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body if body is not None else {}
    message = body.get("message") if isinstance(body, dict) else None
    message = message or response.text[:200] or response.reason_phrase
    status = response.status_code
    if status == 401:
        raise AuthenticationError(f"{where}: the platform rejected the API token (401 {message}). "
                                  "Check PROVISIONER_API_TOKEN or --token-file.", status=401)
    if status == 404:
        raise NotFoundError(f"{where}: not found (404 {message})", status=404)
    if status == 422:
        errors = body.get("errors") if isinstance(body, dict) else None
        raise RejectedError(message, errors if isinstance(errors, dict) else {})
    if status == 429:
        raise RateLimitedError(f"{where}: rate limited by the platform (429 {message})", _retry_after(response))
    if status >= 500:
        raise ServerError(f"{where}: the platform failed ({status} {message})", status=status)
    raise ApiError(f"{where}: the platform answered {status}: {message}", status=status)


def _page_items(page: dict[str, Any]) -> list[dict[str, Any]]:
    items = page.get("data") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
        raise ApiError("GET /user/assistants/get: the page's data is not a list of assistants")
    return items


def _items(body: Any) -> list[dict[str, Any]]:
    """Catalogues come as a bare array or as {"data": [...]} (API.md); accept both."""
    if isinstance(body, dict):
        body = body.get("data")
    return list(body) if isinstance(body, list) else []
