"""The local platform: API.md's contract as a Starlette app under /api, with fault injection, rate limits and
admin endpoints (/_emulator/..., their own token). Assistants and the catalogues are served here; every other
kind by its own module (tools, knowledge, folders, numbers, campaigns)."""
from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Awaitable, Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from . import fields as F
from .answers import (JSON_TEXT, answer as _json, choice_param as _choice_param, int_param as _int_param,
                      json_body as _json_body, failure_body, laravel_page, message as _message, object_body,
                      page_of_texts, page_params, path_id, url_naming, url_path as _url_path,
                      validation_failed)
from .campaigns import Campaigns
from .catalog import Catalog, Tenant
from .faults import Decision, Faults, Stats
from .folders import Folders, Labels
from .kind import Kind
from .knowledge import Documents, Knowledgebases
from .numbers import PhoneNumbers, SipTrunks
from .protocol import ARRIVED
from .routing import RememberingRouter
from .seeds import seed
from .store import Store
from .tools import Tools
from .validation import MODES, Errors, Owned, Request as AssistantRequest

API_PREFIX = "/api"
DIALECTS = ("both", "v1", "v2")
SHOWN_ITEMS = 100_000  # assistants' read-shape texts remembered (Platform._shown_items)


def _version(row, root: str) -> tuple:
    """One version of an assistant's row, as read from `root` (inbound assistants show a URL of it): its uuid
    (new with every create, a reset's too) and its update time (every write of the row sets it, to the
    microsecond), with its status."""
    return row["uuid"], row["updated_at"], row["status"], root
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


def _proxy_refusal() -> Response:
    """A 429 as a proxy in front of the platform answers it (commit_429_rate): plain text and a Retry-After header,
    not the platform's JSON with `retry_after`, so a client cannot tell whether the platform saw the request."""
    return Response("Too Many Requests", status_code=429, media_type="text/plain", headers={"Retry-After": "1"})


NOT_YOURS = "Assistant not found or does not belong to the authenticated user."


class Platform:
    """The emulator's state and its request handlers."""

    def __init__(self, store: Store, catalog: Catalog, faults: Faults | None = None, *, dialect: str = "both",
                 admin_token: str, public_root: str | None = None):
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}: expected one of {', '.join(DIALECTS)}")
        if not admin_token:
            raise ValueError("the admin token may not be empty")
        if catalog.tenant_for_token(admin_token) is not None:
            raise ValueError("the admin token may not be a tenant's token")
        self.store = store
        self.catalog = catalog
        # The root its answers name (an assistant's inbound_webhook_url), when it is not the one a request names:
        # an embedded platform (--local) listens on a new port every run, and its answers must not change with it.
        self.public_root = public_root
        self.faults = faults or Faults()
        self.dialect = dialect
        self.admin_token = admin_token
        self.stats = Stats()
        self._shown: dict[tuple, str] = {}  # _shown_items' texts
        self._roots: dict[tuple, str] = {}  # _root's answers
        self._tenants: dict[str, Tenant] = {}  # by token: catalog.tenant_for_token's answers, the first of a token
        for tenant in catalog.tenants:
            self._tenants.setdefault(tenant.token, tenant)
        if store.meta("seeded") is None:
            self._seed()
        documents = Documents(self)
        kinds: list[Kind] = [Tools(self), Knowledgebases(self, documents), documents, Folders(self), Labels(self),
                             PhoneNumbers(self), SipTrunks(self), Campaigns(self)]
        self.kinds = {kind.name: kind for kind in kinds}

    def _seed(self) -> None:
        """The tenants' initial objects (the catalogue's), once per database."""
        seed(self.store, self.catalog)
        self.store.set_meta("seeded", "1")

    # --- the pipeline every platform request goes through ---

    def _rate(self, request: Request, token: str | None = None) -> Decision:
        """The rate limiter's decision on a request (`token`: its bearer token when already read)."""
        token = _bearer(request) if token is None else token
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
        request that arrived together to the latency of the last one. The setting is read again as it waits, so
        that answers held by a long latency leave as soon as a test lowers it."""
        # The clock, not the loop's timers, decides: an event loop may wake a timer up to a millisecond early.
        # (Waits rounded up to the timers' millisecond would spin less through the last one, but leave half a
        # millisecond late on average: measured, the spin costs some 20 us per answer; the lateness, every
        # round trip.)
        while (remaining := arrived + self.faults.settings.latency_ms / 1000 - time.monotonic()) > 0:
            await asyncio.sleep(min(remaining, 0.1))

    def endpoint(self, method: str, template: str, handler: Handler, *, write: bool = False,
                 kind: str = "assistants", failure: dict | None = None) -> Route:
        """A platform route: rate limit, token, faults (those of its kind), the journal of writes, latency.

        `failure` is the body of its injected 500s: by default the kind's error shape (failure_body), so that a
        client's handling of each kind's errors can be tested with faults."""
        route_name = f"{method} {template}"
        failed = failure or failure_body(kind)

        async def run(request: Request) -> Response:
            self.stats.arrived(route_name)
            # When the server saw the request (protocol.py), else now (an ASGI server of another kind).
            arrived = request.scope.get(ARRIVED) or time.monotonic()
            try:
                token = _bearer(request)
                decision = self._rate(request, token)
                response = await serve(request, decision, token)
                if isinstance(response, Response):
                    _add_rate_headers(response, decision)
                if self.faults.applies(kind, method):
                    await self._answer_at(arrived)
                return response
            finally:
                self.stats.left()

        async def serve(request: Request, decision: Decision, token: str):
            if not decision.allowed:
                return self._refused(decision)
            tenant = self._tenants.get(token) if token else None
            if tenant is None:
                return _json(401, {"error": "Invalid API key",
                                   "message": "The API key is missing or invalid. Send Authorization: Bearer "
                                              "<your API key>."})
            if self.faults.fail_before(kind, method):
                return _json(500, failed)
            if write:
                path = _url_path(request)
                self.stats.journal(method, path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path,
                                   await _json_body(request))
                dropped = self.faults.dropped(kind)
                body = await _json_body(request) if dropped else None
                if isinstance(body, dict):  # answered as usual, but these fields never reach the store
                    request.state.json_body = {k: v for k, v in body.items() if k not in dropped}
            response = await handler(request, tenant)
            if write and response.status_code < 300:
                outcome = self.faults.fail_after_commit(kind, method)
                if outcome == "500":
                    return _json(500, failed)
                if outcome == "drop":
                    return _dropped_connection
                if outcome == "429":
                    return _proxy_refusal()
            return response

        return Route(template, run, methods=[method])

    # --- assistants ---

    def _request(self, tenant: Tenant) -> AssistantRequest:
        return AssistantRequest(self.catalog, tenant, self.dialect, Owned(self.store, tenant.user_id))

    async def create(self, request: Request, tenant: Tenant) -> Response:
        body = await _json_body(request)
        with self.store.lock:
            record, dialect, errors = self._request(tenant).apply(body, None)
            if errors:
                return validation_failed(errors)
            row = self.store.create(tenant.user_id, record, F.created_status(dialect), dialect)
        # Shaped for the lists now, while the row is in hand: the read that verifies a fleet's creates (every
        # page at once, at the end of an apply) then finds it ready instead of shaping thousands at once.
        self._remember_item(row, self._root(request))
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
        self._remember_item(row, self._root(request))  # as a create's
        return _json(200, {"message": "Assistant updated successfully", "data": F.summary(row)})

    async def delete(self, request: Request, tenant: Tenant) -> Response:
        row = self._owned(request, tenant)
        if row is None or not self.store.delete(tenant.user_id, row["id"]):
            return _message(404, NOT_YOURS)
        return _message(200, "Assistant deleted successfully")

    async def list(self, request: Request, tenant: Tenant) -> Response:
        page, per_page, errors = page_params(request, 10)
        if errors:
            return validation_failed(errors)
        rows, total = self.store.page_rows(tenant.user_id, page, per_page)
        root = self._root(request)
        items = self._shown_items(rows, root)
        return page_of_texts(laravel_page(request, items, total, page, per_page), items)

    def _root(self, request: Request) -> str:
        """The server's root URL as the request names it (its base URL without the trailing slash), worked out
        once per way of naming it (answers.url_naming); the platform's public root if it has one."""
        if self.public_root is not None:
            return self.public_root
        key = url_naming(request)
        root = self._roots.get(key)
        if root is None:
            if len(self._roots) >= 1000:  # bounded: a client may send any Host
                self._roots.clear()
            root = self._roots[key] = str(request.base_url).rstrip("/")
        return root

    def _shown_items(self, rows: list, root: str) -> list[str]:
        """Assistants' read shapes as JSON texts, remembered per version of their rows: a fleet's lists read the
        same rows again and again (every plan, every verify), and decoding, shaping and encoding each was most
        of the emulator's time. `rows` are page_rows' (no fields); those not remembered are read whole."""
        texts = [self._shown.get(_version(row, root)) for row in rows]
        missing = [row["id"] for row, text in zip(rows, texts) if text is None]
        if missing:
            whole = self.store.rows(missing)
            texts = [text if text is not None else self._remember_item(whole[row["id"]], root)
                     for row, text in zip(rows, texts)]
        return texts

    def _remember_item(self, row: dict, root: str) -> str:
        text = JSON_TEXT.encode(F.read_shape(row, self.catalog, root))
        if len(self._shown) >= SHOWN_ITEMS:  # bounded: a long-lived emulator's old versions do not pile up
            self._shown.clear()
        self._shown[_version(row, root)] = text
        return text

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
            {"id": row["id"], "phone_number": n["phone_number"], "country_code": n["country_code"],
             "type_label": n["type_label"], "is_available": row["id"] not in held}
            for row in self.store.objects("phone_number", tenant.user_id) if not (n := row["fields"]).get(
                "release_scheduled")
            # A caller ID never takes calls (its type_label says it); a held number is another inbound's.
            and (kind != "inbound" or (n["type"] != "caller_id" and row["id"] not in held))])

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
        with self.store.lock:
            self.store.reset()
            self._seed()
        self._shown.clear()
        self.stats.reset()
        self.faults.limiter.reset()
        return _message(200, "Emulator reset.")

    # --- objects of any kind, as a dashboard user changes them (drift tests) ---

    def _target(self, request: Request) -> tuple[str, Tenant | None, dict | None] | Response:
        """The admin endpoints' object: (kind, the tenant owning it, its row), or the 404 naming what is wrong."""
        kind, object_id = request.path_params["kind"], path_id(request)
        if kind != "assistants" and kind not in self.kinds:
            return _message(404, f"Unknown kind {kind}: expected assistants, {', '.join(self.kinds)}.")
        row = None if object_id is None else self.store.get_any(object_id) if kind == "assistants" else \
            self.store.object(self.kinds[kind].table_kind, object_id)
        if row is None:
            return _message(404, f"No object {request.path_params['id']} of kind {kind}.")
        return kind, next((t for t in self.catalog.tenants if t.user_id == row["user_id"]), None), row

    async def patch_object(self, request: Request) -> Response:
        target = self._target(request)
        if isinstance(target, Response):
            return target
        kind, tenant, row = target
        body = await object_body(request)
        if kind != "assistants":
            return self.kinds[kind].admin_update(tenant, row["id"], body)
        with self.store.lock:
            record, _, errors = self._request(tenant).apply(body, row)
            if errors:
                return validation_failed(errors)
            row = self.store.update(tenant.user_id, row["id"], record)
        self._remember_item(row, self._root(request))  # as a create's
        return _json(200, {"message": "Assistant updated successfully", "data": F.summary(row)})

    async def get_object(self, request: Request) -> Response:
        """An object as stored, write-only fields and secrets included (what no API answer shows)."""
        target = self._target(request)
        if isinstance(target, Response):
            return target
        _, _, row = target
        return _json(200, {"id": row["id"], "user_id": row["user_id"], "fields": row["fields"],
                           "created_at": row["created_at"], "updated_at": row["updated_at"]})

    def api_routes(self) -> list[Route]:
        return [
            self.endpoint("POST", "/user/assistant", self.create, write=True),
            self.endpoint("GET", "/user/assistants/get", self.list),
            self.endpoint("GET", "/user/assistants/outbound", self.outbound),
            self.endpoint("PUT", "/user/assistant/{id}", self.update, write=True),
            self.endpoint("DELETE", "/user/assistant/{id}", self.delete, write=True),
            self.endpoint("GET", "/user/assistants/voices", self.voices, kind="catalogues"),
            self.endpoint("GET", "/user/assistants/languages", self.languages, kind="catalogues"),
            self.endpoint("GET", "/user/assistants/models", self.models, kind="catalogues"),
            self.endpoint("GET", "/user/assistants/synthesizer-providers", self.synthesizer_providers,
                          kind="catalogues"),
            self.endpoint("GET", "/user/assistants/transcriber-providers", self.transcriber_providers,
                          kind="catalogues"),
            self.endpoint("GET", "/user/assistants/phone-numbers", self.phone_numbers, kind="catalogues"),
            # The SIP trunk paths come before /user/phone-numbers/{id}, which would take "sip-trunks" as an id.
            *self.kinds["sip_trunks"].routes(),
            *(route for name, kind in self.kinds.items() if name != "sip_trunks" for route in kind.routes()),
        ]

    def routes(self) -> list:
        return [
            Mount(API_PREFIX, app=RememberingRouter(routes=self.api_routes())),
            self.admin(self.set_faults, "POST", "/_emulator/faults"),
            self.admin(self.get_faults, "GET", "/_emulator/faults"),
            self.admin(self.get_stats, "GET", "/_emulator/stats"),
            self.admin(self.get_requests, "GET", "/_emulator/requests"),
            self.admin(self.get_concurrency, "GET", "/_emulator/concurrency"),
            self.admin(self.reset, "POST", "/_emulator/reset"),
            self.admin(self.get_object, "GET", "/_emulator/objects/{kind}/{id}"),
            self.admin(self.patch_object, "PATCH", "/_emulator/objects/{kind}/{id}"),
            self.admin(self.kinds["campaigns"].add_leads, "POST", "/_emulator/campaigns/{id}/leads"),
            self.admin(self.kinds["campaigns"].read_leads, "GET", "/_emulator/campaigns/{id}/leads"),
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


def _add_rate_headers(response: Response, decision: Decision) -> None:
    """The rate-limit headers on an answer: appended as `response.headers.update` appends them (lower-case
    names, in order) when the answer has none yet, else set by it (a 429 carries them already)."""
    raw = response.raw_headers
    if any(name.startswith(b"x-ratelimit-") for name, _ in raw):
        response.headers.update(decision.headers())
    else:
        raw.extend(decision.raw_headers())


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def create_app(platform: Platform) -> Starlette:
    app = Starlette(routes=platform.routes(), exception_handlers={HTTPException: platform.http_error})
    app.state.platform = platform
    return app
