"""The local platform: API.md's contract as a Starlette app under /api, with fault injection, rate limits and
admin endpoints (/_emulator/..., their own token)."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from . import fields as F
from .catalog import Catalog, Tenant
from .faults import Decision, Faults, Stats
from .store import Store
from .validation import MODES, Errors, Request as AssistantRequest

API_PREFIX = "/api"
DIALECTS = ("both", "v1", "v2")
Handler = Callable[[Request, Tenant], Awaitable[Response]]


class InjectedDrop(Exception):
    """Raised after the answer's headers are sent, so the server drops the connection mid-answer."""


class _QuietInjectedDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


logging.getLogger("uvicorn.error").addFilter(_QuietInjectedDrops())


async def _dropped_connection(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": b'{"message": "Assis', "more_body": True})
    raise InjectedDrop("connection dropped after the write was committed (fault injection)")


def _json(status: int, body: Any, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _message(status: int, message: str, **extra: Any) -> JSONResponse:
    return _json(status, {"message": message, **extra})


def validation_failed(errors: Errors) -> JSONResponse:
    return _json(422, {"message": "Validation failed", "errors": errors})


NOT_YOURS = "Assistant not found or does not belong to the authenticated user."


class Platform:
    """The emulator's state and its request handlers."""

    def __init__(self, store: Store, catalog: Catalog, faults: Faults | None = None, *, dialect: str = "both",
                 admin_token: str):
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}: expected one of {', '.join(DIALECTS)}")
        if not admin_token:
            raise ValueError("the admin token may not be empty")
        if catalog.tenant_for_token(admin_token) is not None:
            raise ValueError("the admin token may not be a tenant's token")
        self.store = store
        self.catalog = catalog
        self.faults = faults or Faults()
        self.dialect = dialect
        self.admin_token = admin_token
        self.stats = Stats()

    # --- the pipeline every platform request goes through ---

    def _rate(self, request: Request) -> Decision:
        token = _bearer(request)
        key = f"token:{token}" if token else f"address:{request.client.host if request.client else '?'}"
        return self.faults.limiter.admit(key)

    def _refused(self, decision: Decision) -> JSONResponse:
        self.stats.refused()
        return _json(429, {"error": "Rate limit exceeded",
                           "message": f"Too many requests for this API key. Retry in {decision.retry_after} "
                                      "seconds.",
                           "retry_after": decision.retry_after}, headers=decision.headers())

    async def _answer_at(self, arrived: float) -> None:
        """Hold the answer until --latency-ms after the request arrived.

        The latency is the platform's answer time as a client sees it, the emulator's own work included: a real
        platform serves requests side by side, while this single process would otherwise add the work of every
        request that arrived together to the latency of the last one."""
        due = arrived + self.faults.settings.latency_ms / 1000
        # The clock, not the loop's timers, decides: an event loop may wake a timer up to a millisecond early.
        while (remaining := due - time.monotonic()) > 0:
            await asyncio.sleep(remaining)

    def endpoint(self, method: str, template: str, handler: Handler, *, write: bool = False) -> Route:
        route_name = f"{method} {template}"

        async def run(request: Request) -> Response:
            self.stats.count(route_name)
            self.stats.entered()
            arrived = time.monotonic()
            try:
                decision = self._rate(request)
                response = await serve(request, decision)
                if isinstance(response, Response):
                    response.headers.update(decision.headers())
                await self._answer_at(arrived)
                return response
            finally:
                self.stats.left()

        async def serve(request: Request, decision: Decision):
            if not decision.allowed:
                return self._refused(decision)
            token = _bearer(request)
            tenant = self.catalog.tenant_for_token(token) if token else None
            if tenant is None:
                return _json(401, {"error": "Invalid API key",
                                   "message": "The API key is missing or invalid. Send Authorization: Bearer "
                                              "<your API key>."})
            if self.faults.fail_before():
                return _message(500, "Server Error")
            if write:
                path = request.url.path
                self.stats.journal(method, path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path,
                                   await _json_body(request))
            response = await handler(request, tenant)
            if write and response.status_code < 300:
                failure = self.faults.fail_after_commit()
                if failure == "500":
                    return _message(500, "Server Error")
                if failure == "drop":
                    return _dropped_connection
            return response

        return Route(template, run, methods=[method])

    # --- assistants ---

    def _request(self, tenant: Tenant) -> AssistantRequest:
        return AssistantRequest(self.catalog, tenant, self.dialect,
                                lambda number_id: self.store.inbound_holders(tenant.user_id, number_id))

    async def create(self, request: Request, tenant: Tenant) -> Response:
        body = await _json_body(request)
        with self.store.lock:
            record, dialect, errors = self._request(tenant).apply(body, None)
            if errors:
                return validation_failed(errors)
            row = self.store.create(tenant.user_id, record, "active" if dialect == "v1" else "inactive", dialect)
        return _json(201, {"message": "Assistant created successfully", "data": F.summary(row)})

    async def update(self, request: Request, tenant: Tenant) -> Response:
        body = await _json_body(request)
        with self.store.lock:
            row = self._owned(request, tenant)
            if row is None:
                return _message(404, NOT_YOURS)
            record, _, errors = self._request(tenant).apply(body, row)
            if errors:
                return validation_failed(errors)
            row = self.store.update(tenant.user_id, row["id"], record)
        return _json(200, {"message": "Assistant updated successfully", "data": F.summary(row)})

    async def delete(self, request: Request, tenant: Tenant) -> Response:
        row = self._owned(request, tenant)
        if row is None or not self.store.delete(tenant.user_id, row["id"]):
            return _message(404, NOT_YOURS)
        return _message(200, "Assistant deleted successfully")

    async def list(self, request: Request, tenant: Tenant) -> Response:
        errors: Errors = {}
        per_page = _int_param(request, "per_page", 10, 1, 100, errors)
        page = _int_param(request, "page", 1, 1, None, errors)
        if errors:
            return validation_failed(errors)
        rows, total = self.store.page(tenant.user_id, page, per_page)
        last_page = max(1, math.ceil(total / per_page))
        path = str(request.url.replace(query="", fragment=""))
        others = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

        def page_url(number: int) -> str:
            return f"{path}?{urlencode([*others, ('page', number)])}"

        first = (page - 1) * per_page + 1
        root = str(request.base_url).rstrip("/")
        return _json(200, {
            "current_page": page,
            "data": [F.read_shape(row, self.catalog, root) for row in rows],
            "first_page_url": page_url(1),
            "from": first if rows else None,
            "last_page": last_page,
            "last_page_url": page_url(last_page),
            "links": _links(page, last_page, page_url),
            "next_page_url": page_url(page + 1) if page < last_page else None,
            "path": path,
            "per_page": per_page,
            "prev_page_url": page_url(page - 1) if page > 1 else None,
            "to": first + len(rows) - 1 if rows else None,
            "total": total,
        })

    async def outbound(self, request: Request, tenant: Tenant) -> Response:
        return _json(200, [{"id": row["id"], "uuid": row["uuid"], "name": row["fields"].get("name"),
                            "status": row["status"], "mode": row["fields"].get("mode"),
                            "phone_number_id": row["fields"].get("phone_number_id")}
                           for row in self.store.outbound(tenant.user_id)])

    def _owned(self, request: Request, tenant: Tenant) -> dict | None:
        try:
            assistant_id = int(request.path_params["id"])
        except ValueError:
            return None
        return self.store.get(tenant.user_id, assistant_id)

    # --- catalogues: bare arrays ---

    async def voices(self, request: Request, tenant: Tenant) -> Response:
        errors: Errors = {}
        mode = _choice_param(request, "mode", MODES, errors)
        language_id = _int_param(request, "language_id", None, None, None, errors)
        if errors:
            return validation_failed(errors)
        return _json(200, [v.public() for v in self.catalog.voices
                           if (mode is None or v.suits(mode))
                           and (language_id is None or v.language_id in (None, language_id))])

    async def languages(self, request: Request, tenant: Tenant) -> Response:
        return _json(200, [language.public() for language in self.catalog.languages])

    async def models(self, request: Request, tenant: Tenant) -> Response:
        errors: Errors = {}
        kind = _choice_param(request, "type", ("llm", "multimodal", "dualplex"), errors)
        if errors:
            return validation_failed(errors)
        models = self.catalog.models or []
        if kind is not None:
            return _json(200, [m.public() for m in models if m.type == kind])
        return _json(200, [{**m.public(), "type": m.type} for m in models])

    async def synthesizer_providers(self, request: Request, tenant: Tenant) -> Response:
        errors: Errors = {}
        language_id = _int_param(request, "language_id", None, None, None, errors)
        if errors:
            return validation_failed(errors)
        return _json(200, [p.public() for p in self.catalog.synthesizer_providers if p.speaks(language_id)])

    async def transcriber_providers(self, request: Request, tenant: Tenant) -> Response:
        return _json(200, [p.public() for p in self.catalog.transcriber_providers])

    async def phone_numbers(self, request: Request, tenant: Tenant) -> Response:
        errors: Errors = {}
        kind = _choice_param(request, "type", ("inbound", "outbound"), errors)
        if errors:
            return validation_failed(errors)
        held = self.store.held_numbers(tenant.user_id)
        return _json(200, [
            {"id": n.id, "phone_number": n.phone_number, "country_code": n.country_code,
             "type_label": n.type_label, "is_available": n.id not in held}
            for n in tenant.phone_numbers
            if kind != "inbound" or (not n.caller_id and n.id not in held)])

    # --- admin endpoints: never part of the platform contract, never reachable with a tenant's token ---

    def admin(self, handler: Callable[[Request], Awaitable[Response]], method: str, path: str) -> Route:
        async def run(request: Request) -> Response:
            token = _bearer(request)
            if not token or not hmac.compare_digest(token.encode(), self.admin_token.encode()):
                return _json(401, {"error": "Invalid admin token",
                                   "message": "The /_emulator endpoints need the emulator's admin token "
                                              "(Authorization: Bearer <admin token>), never a tenant's."})
            return await handler(request)
        return Route(path, run, methods=[method])

    async def set_faults(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            settings = self.faults.update(body if isinstance(body, dict) else {})
        except ValidationError as error:
            return validation_failed({".".join(map(str, e["loc"])) or "body": [e["msg"]]
                                      for e in error.errors(include_url=False)})
        return _json(200, settings.model_dump())

    async def get_faults(self, request: Request) -> Response:
        return _json(200, self.faults.settings.model_dump())

    async def get_stats(self, request: Request) -> Response:
        return _json(200, self.stats.snapshot())

    async def get_requests(self, request: Request) -> Response:
        return _json(200, self.stats.writes())

    async def get_concurrency(self, request: Request) -> Response:
        return _json(200, {"in_flight": self.stats.in_flight, "max_in_flight": self.stats.max_in_flight})

    async def reset(self, request: Request) -> Response:
        self.store.reset()
        self.stats.reset()
        self.faults.limiter.reset()
        return _message(200, "Emulator reset.")

    def api_routes(self) -> list[Route]:
        return [
            self.endpoint("POST", "/user/assistant", self.create, write=True),
            self.endpoint("GET", "/user/assistants/get", self.list),
            self.endpoint("GET", "/user/assistants/outbound", self.outbound),
            self.endpoint("PUT", "/user/assistant/{id}", self.update, write=True),
            self.endpoint("DELETE", "/user/assistant/{id}", self.delete, write=True),
            self.endpoint("GET", "/user/assistants/voices", self.voices),
            self.endpoint("GET", "/user/assistants/languages", self.languages),
            self.endpoint("GET", "/user/assistants/models", self.models),
            self.endpoint("GET", "/user/assistants/synthesizer-providers", self.synthesizer_providers),
            self.endpoint("GET", "/user/assistants/transcriber-providers", self.transcriber_providers),
            self.endpoint("GET", "/user/assistants/phone-numbers", self.phone_numbers),
        ]

    def routes(self) -> list:
        return [
            Mount(API_PREFIX, routes=self.api_routes()),
            self.admin(self.set_faults, "POST", "/_emulator/faults"),
            self.admin(self.get_faults, "GET", "/_emulator/faults"),
            self.admin(self.get_stats, "GET", "/_emulator/stats"),
            self.admin(self.get_requests, "GET", "/_emulator/requests"),
            self.admin(self.get_concurrency, "GET", "/_emulator/concurrency"),
            self.admin(self.reset, "POST", "/_emulator/reset"),
        ]

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        """Unknown routes and methods, in Laravel's words; platform answers carry the rate-limit headers too."""
        route = request.url.path.lstrip("/")
        if exc.status_code == 404:
            response = _message(404, f"The route {route} could not be found.")
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            response = _message(405, f"The {request.method} method is not supported for route {route}. "
                                     f"Supported methods: {allowed}.")
        else:
            response = _message(exc.status_code, str(exc.detail))
        if not request.url.path.startswith("/_emulator"):
            decision = self._rate(request)
            if not decision.allowed:
                return self._refused(decision)
            response.headers.update(decision.headers())
        return response


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _json_body(request: Request) -> Any:
    """The JSON body, parsed once per request; like the platform, a body that is not JSON counts as empty."""
    if not hasattr(request.state, "json_body"):
        raw = await request.body()
        try:
            request.state.json_body = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError):
            request.state.json_body = {}
    return request.state.json_body


def _int_param(request: Request, name: str, default: int | None, low: int | None, high: int | None,
               errors: Errors) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    attr = name.replace("_", " ")
    try:
        value = int(raw)
    except ValueError:
        errors[name] = [f"The {attr} field must be an integer."]
        return default
    if low is not None and value < low:
        errors[name] = [f"The {attr} field must be at least {low}."]
    elif high is not None and value > high:
        errors[name] = [f"The {attr} field must not be greater than {high}."]
    return value


def _choice_param(request: Request, name: str, choices: tuple[str, ...], errors: Errors) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        errors[name] = [f"The selected {name.replace('_', ' ')} is invalid."]
    return raw


def _links(page: int, last_page: int, page_url: Callable[[int], str]) -> list[dict]:
    """Laravel's paginator links: previous, the page numbers (elided around the current one), next."""
    if last_page <= 12:
        numbers: list[int | None] = list(range(1, last_page + 1))
    else:
        window = set(range(max(1, page - 3), min(last_page, page + 3) + 1)) | {1, 2, last_page - 1, last_page}
        numbers = []
        for n in sorted(window):
            if numbers and n - numbers[-1] > 1:
                numbers.append(None)
            numbers.append(n)
    links = [{"url": page_url(page - 1) if page > 1 else None, "label": "&laquo; Previous", "active": False}]
    for n in numbers:
        links.append({"url": None, "label": "...", "active": False} if n is None
                     else {"url": page_url(n), "label": str(n), "active": n == page})
    links.append({"url": page_url(page + 1) if page < last_page else None, "label": "Next &raquo;",
                  "active": False})
    return links


def create_app(platform: Platform) -> Starlette:
    app = Starlette(routes=platform.routes(), exception_handlers={HTTPException: platform.http_error})
    app.state.platform = platform
    return app
