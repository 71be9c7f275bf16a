"""What every kind's handlers share: JSON answers, the request body, query and path parameters, Laravel pages."""
from __future__ import annotations

import json
import math
from typing import Any, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Errors = dict[str, list[str]]


def answer(status: int, body: Any, headers: dict | None = None) -> JSONResponse:
    return _Answer(body, status_code=status, headers=headers)


# Starlette's JSONResponse encoding, built once: page_of_texts writes the same bytes.
JSON_TEXT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


class _Answer(JSONResponse):
    """A JSONResponse encoded by JSON_TEXT: the same bytes, without json.dumps building an encoder per answer."""

    def render(self, content: Any) -> bytes:
        return JSON_TEXT.encode(content).encode("utf-8")


def page_of_texts(page: dict, items: list[str]) -> Response:
    """200 with a Laravel page (laravel_page) whose items are JSON texts already: byte for byte what
    `answer(200, page)` writes with the items as values, without encoding each item again (a fleet's list is
    the same few thousand items read again and again)."""
    head = JSON_TEXT.encode({**page, "data": None})
    opening = JSON_TEXT.encode({"current_page": page["current_page"], "data": None})[:-1]  # `{..,"data":null`
    if not head.startswith(opening):  # pragma: no cover - laravel_page's first two keys are these
        raise AssertionError("a page starts with current_page and data")
    body = f"{opening[:-4]}[{','.join(items)}]{head[len(opening):]}"
    return Response(body.encode("utf-8"), status_code=200, media_type="application/json")


def message(status: int, text: str, **extra: Any) -> JSONResponse:
    return answer(status, {"message": text, **extra})


def error(status: int, text: str) -> JSONResponse:
    """The `{"error": ...}` body of knowledge bases, phone numbers and SIP trunks (API.md)."""
    return answer(status, {"error": text})


SERVER_ERROR = "Server Error"
# API.md "Other resource kinds": knowledge bases (their documents too), phone numbers and SIP trunks answer their
# errors, 500s included, as `{"error": ...}`; every other kind as `{"message": ...}`.
ERROR_BODY_KINDS = frozenset({"knowledgebases", "documents", "phone_numbers", "sip_trunks"})


def failure_body(kind: str, text: str = SERVER_ERROR, **extra: Any) -> dict:
    """The body of a 500 (an injected one) on an endpoint of `kind`, in that kind's error shape; `extra` goes
    with a `message` body only (a campaign status answer's `"success": false`)."""
    return {"error": text} if kind in ERROR_BODY_KINDS else {"message": text, **extra}


def invalid(errors: Errors, text: str | None = None) -> JSONResponse:
    """A 422 with `errors`; `text` is the kind's `message` (default: the first error's text, as Laravel says)."""
    return answer(422, {"message": text or next(iter(errors.values()))[0], "errors": errors})


def validation_failed(errors: Errors) -> JSONResponse:
    return invalid(errors, "Validation failed")


async def json_body(request: Request) -> Any:
    """The JSON body, parsed once per request; like the platform, a body that is not JSON counts as empty.

    Kept as `request.state.json_body`, looked up in the dict behind request.state (a missing attribute of
    Starlette's State costs an exception)."""
    state = request.scope.setdefault("state", {})
    if "json_body" not in state:
        raw = await request.body()
        try:
            state["json_body"] = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError):
            state["json_body"] = {}
    return state["json_body"]


def url_path(request: Request) -> str:
    """`request.url.path`, remembered per path and way of naming the server (url_naming): building the URL
    object is a parse of the whole URL, and a write's journal entry wants only its path."""
    key = (request.scope["path"], *url_naming(request))
    path = _URL_PATHS.get(key)
    if path is None:
        if len(_URL_PATHS) >= 100_000:  # bounded: ids make paths many
            _URL_PATHS.clear()
        path = _URL_PATHS[key] = request.url.path
    return path


_URL_PATHS: dict[tuple, str] = {}


def url_naming(request: Request) -> tuple:
    """What Starlette builds a request's URL from besides its path and query: the scheme, the Host header, the
    server's address and the root paths. A URL worked out from the request is the same for the same of these."""
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    return scope.get("scheme"), host, scope.get("server"), scope.get("root_path"), scope.get("app_root_path")


async def object_body(request: Request) -> dict:
    body = await json_body(request)
    return body if isinstance(body, dict) else {}


def path_id(request: Request, name: str = "id") -> int | None:
    """An integer path parameter; anything else names no object (answered as the kind's not-found)."""
    raw = request.path_params.get(name, "")
    return int(raw) if raw.isdigit() else None


def int_param(request: Request, name: str, default: int | None, low: int | None, high: int | None,
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


def choice_param(request: Request, name: str, choices: tuple[str, ...], errors: Errors) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        errors[name] = [f"The selected {name.replace('_', ' ')} is invalid."]
    return raw


def page_params(request: Request, default_per_page: int) -> tuple[int, int, Errors]:
    errors: Errors = {}
    per_page = int_param(request, "per_page", default_per_page, 1, 100, errors)
    page = int_param(request, "page", 1, 1, None, errors)
    return page, per_page, errors


def laravel_page(request: Request, items: list, total: int, page: int, per_page: int) -> dict:
    """A Laravel length-aware page of `items` (already the page's slice)."""
    last_page = max(1, math.ceil(total / per_page))
    path = str(request.url.replace(query="", fragment=""))
    others = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    # urlencode([*others, ("page", number)]), with the others encoded once for the page's dozen links.
    prefix = f"{path}?{urlencode(others)}&page=" if others else f"{path}?page="

    def page_url(number: int) -> str:
        return f"{prefix}{number}"

    first = (page - 1) * per_page + 1
    return {
        "current_page": page,
        "data": items,
        "first_page_url": page_url(1),
        "from": first if items else None,
        "last_page": last_page,
        "last_page_url": page_url(last_page),
        "links": _links(page, last_page, page_url),
        "next_page_url": page_url(page + 1) if page < last_page else None,
        "path": path,
        "per_page": per_page,
        "prev_page_url": page_url(page - 1) if page > 1 else None,
        "to": first + len(items) - 1 if items else None,
        "total": total,
    }


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
