"""The local platform: API.md's contract as a Starlette app, with fault injection and test endpoints."""
from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any, Awaitable, Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import wire
from .catalog import Catalog, Tenant
from .faults import Faults, Stats
from .store import Store
from .validation import known_fields, summary, validate_assistant

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


def _message(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status)


class Platform:
    """The emulator's state and its request handlers."""

    def __init__(self, store: Store, catalog: Catalog, faults: Faults | None = None):
        self.store = store
        self.catalog = catalog
        self.faults = faults or Faults()
        self.stats = Stats()

    # Every platform request passes through here: counted, delayed, authenticated, rate-limited, maybe failed.
    def endpoint(self, method: str, template: str, handler: Handler, *, write: bool = False) -> Route:
        route_name = f"{method} {template}"

        async def run(request: Request) -> Response:
            self.stats.count(route_name)
            self.stats.entered()
            try:
                return await serve(request)
            finally:
                self.stats.left()

        async def serve(request: Request) -> Response:
            settings = self.faults.settings
            if settings.latency_ms:
                await asyncio.sleep(settings.latency_ms / 1000)
            scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
            tenant = self.catalog.tenant_for_token(token) if token else None
            if tenant is None:
                return _message(401, "Unauthenticated.")
            wait = self.faults.retry_after(token)
            if wait is not None:
                return JSONResponse({"message": "Too Many Attempts."}, status_code=429,
                                    headers={"Retry-After": str(wait)})
            if self.faults.fail_before():
                return _message(500, "Server Error (injected before the request took effect).")
            if write:
                self.stats.journal(method, request.url.path, await _json_body(request))
            response = await handler(request, tenant)
            if write and response.status_code < 300:
                failure = self.faults.fail_after_commit()
                if failure == "500":
                    return _message(500, "Server Error (injected after the write was committed).")
                if failure == "drop":
                    return _dropped_connection
            return response

        return Route(template, run, methods=[method])

    # --- the contract ---

    async def create(self, request: Request, tenant: Tenant) -> Response:
        fields, errors = validate_assistant(known_fields(await _json_body(request)), tenant, self.catalog)
        if errors:
            return _message(422, summary(errors), errors=errors)
        row = self.store.create(tenant.user_id, fields)
        return JSONResponse({"message": "Assistant created successfully",
                             "data": wire.created_summary(row["id"], row["fields"])}, status_code=201)

    async def update(self, request: Request, tenant: Tenant) -> Response:
        row = self._owned(request, tenant)
        if row is None:
            return _message(404, "Assistant not found.")
        changes = known_fields(await _json_body(request))
        fields, errors = validate_assistant({**row["fields"], **changes}, tenant, self.catalog)
        if errors:
            return _message(422, summary(errors), errors=errors)
        row = self.store.update(tenant.user_id, row["id"], fields)
        return JSONResponse({"message": "Assistant updated successfully",
                             "data": wire.created_summary(row["id"], row["fields"])})

    async def delete(self, request: Request, tenant: Tenant) -> Response:
        row = self._owned(request, tenant)
        if row is None or not self.store.delete(tenant.user_id, row["id"]):
            return _message(404, "Assistant not found.")
        return _message(200, "Assistant deleted successfully")

    async def list(self, request: Request, tenant: Tenant) -> Response:
        errors: dict[str, list[str]] = {}
        per_page = _int_param(request, "per_page", 10, 1, 100, errors)
        page = _int_param(request, "page", 1, 1, None, errors)
        if errors:
            return _message(422, summary(errors), errors=errors)
        rows, total = self.store.page(tenant.user_id, page, per_page)
        first = (page - 1) * per_page + 1
        return JSONResponse({
            "current_page": page,
            "last_page": max(1, math.ceil(total / per_page)),
            "per_page": per_page,
            "total": total,
            "from": first if rows else None,
            "to": first + len(rows) - 1 if rows else None,
            "data": [wire.read_shape(r["fields"], id=r["id"], user_id=r["user_id"], status=r["status"],
                                     created_at=r["created_at"], updated_at=r["updated_at"]) for r in rows],
        })

    async def voices(self, request: Request, tenant: Tenant) -> Response:
        mode = request.query_params.get("mode")
        if mode not in (None, "pipeline", "multimodal"):
            return _message(422, "The selected mode is invalid.", errors={"mode": ["The selected mode is invalid."]})
        voices = [v.model_dump(exclude_none=True) for v in self.catalog.voices
                  if mode is None or v.mode in (None, mode)]
        return JSONResponse({"data": voices})

    async def phone_numbers(self, request: Request, tenant: Tenant) -> Response:
        kind = request.query_params.get("type")
        if kind not in (None, "inbound", "outbound"):
            return _message(422, "The selected type is invalid.", errors={"type": ["The selected type is invalid."]})
        numbers = [n.model_dump(include={"id", "phone_number", "country_code", "type_label", "is_available"})
                   for n in tenant.phone_numbers if n.listed_under(kind)]
        return JSONResponse({"data": numbers})

    async def languages(self, request: Request, tenant: Tenant) -> Response:
        # A bare array, as some platforms answer; clients must accept both shapes (API.md).
        return JSONResponse([lang.model_dump() for lang in self.catalog.languages])

    def _owned(self, request: Request, tenant: Tenant) -> dict | None:
        try:
            assistant_id = int(request.path_params["id"])
        except ValueError:
            return None
        return self.store.get(tenant.user_id, assistant_id)

    # --- test endpoints, never part of the platform contract ---

    async def set_faults(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            settings = self.faults.update(body if isinstance(body, dict) else {})
        except ValidationError as error:
            return _message(422, "Invalid fault settings.", errors={
                ".".join(map(str, e["loc"])): [e["msg"]] for e in error.errors(include_url=False)})
        return JSONResponse(settings.model_dump())

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self.faults.settings.model_dump())

    async def get_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.snapshot())

    async def get_requests(self, request: Request) -> Response:
        return JSONResponse(self.stats.writes())

    async def get_concurrency(self, request: Request) -> Response:
        return JSONResponse({"in_flight": self.stats.in_flight, "max_in_flight": self.stats.max_in_flight})

    async def reset(self, request: Request) -> Response:
        self.store.reset()
        self.stats.reset()
        return _message(200, "Emulator reset.")

    def routes(self) -> list[Route]:
        return [
            self.endpoint("POST", "/user/assistant", self.create, write=True),
            self.endpoint("GET", "/user/assistants/get", self.list),
            self.endpoint("PUT", "/user/assistant/{id}", self.update, write=True),
            self.endpoint("DELETE", "/user/assistant/{id}", self.delete, write=True),
            self.endpoint("GET", "/user/assistants/voices", self.voices),
            self.endpoint("GET", "/user/assistants/phone-numbers", self.phone_numbers),
            self.endpoint("GET", "/user/assistants/languages", self.languages),
            Route("/_emulator/faults", self.set_faults, methods=["POST"]),
            Route("/_emulator/faults", self.get_faults, methods=["GET"]),
            Route("/_emulator/stats", self.get_stats, methods=["GET"]),
            Route("/_emulator/requests", self.get_requests, methods=["GET"]),
            Route("/_emulator/concurrency", self.get_concurrency, methods=["GET"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
        ]


async def _json_body(request: Request) -> Any:
    """The JSON body, parsed once per request; like the platform, a body that is not JSON counts as empty."""
    if not hasattr(request.state, "json_body"):
        raw = await request.body()
        try:
            request.state.json_body = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError):
            request.state.json_body = {}
    return request.state.json_body


def _int_param(request: Request, name: str, default: int, low: int, high: int | None,
               errors: dict[str, list[str]]) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    attr = name.replace("_", " ")
    try:
        value = int(raw)
    except ValueError:
        errors[name] = [f"The {attr} field must be an integer."]
        return default
    if value < low:
        errors[name] = [f"The {attr} field must be at least {low}."]
    elif high is not None and value > high:
        errors[name] = [f"The {attr} field must not be greater than {high}."]
    return value


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return _message(exc.status_code, "Not Found." if exc.status_code == 404 else str(exc.detail))


def create_app(platform: Platform) -> Starlette:
    app = Starlette(routes=platform.routes(), exception_handlers={HTTPException: _http_error})
    app.state.platform = platform
    return app
