"""Mid-call tools (API.md "Mid-call tools"): /user/tools, bare-array list, header values shown back in clear."""
from __future__ import annotations

import copy
import re

from starlette.requests import Request
from starlette.responses import Response

from .answers import answer, invalid, message, object_body, path_id
from .catalog import Tenant
from .kind import Kind
from .validation import INVALID, Errors, add, check_fields, integer, nested, objects_of, one_of, string, url

NAME_RULE = "Tool name must contain only lowercase letters and underscores, and start with a letter."
NOT_FOUND = "Tool not found"


def _tool_name(value, key, errors):
    if string()(value, key, errors) is INVALID:
        return INVALID
    if not re.fullmatch(r"[a-z][a-z_]*", value):
        return add(errors, key, NAME_RULE) or INVALID
    return value


def _header(item, key, errors):
    checked = nested(item, key, errors, {"name": (string(), True), "value": (string(), True)})
    return INVALID if checked is INVALID else {"name": checked["name"], "value": checked["value"]}


def _parameter(item, key, errors):
    checked = nested(item, key, errors, {
        "name": (string(32, 2, r"[A-Za-z][A-Za-z_]*"), True),
        "type": (one_of("string", "number", "boolean"), True),
        "description": (string(255, 3), True)})
    return INVALID if checked is INVALID else {k: checked[k] for k in ("name", "type", "description")}


RULES = {
    "name": (_tool_name, True),
    "description": (string(255), True),
    "endpoint": (url, True),
    "method": (one_of("GET", "POST", "PUT", "PATCH", "DELETE"), True),
    "timeout": (integer(1, 30), False),
    "headers": (lambda v, k, e: objects_of(v, k, e, _header), False),
    "schema": (lambda v, k, e: objects_of(v, k, e, _parameter), False),
}
DEFAULTS = {"timeout": 10, "headers": [], "schema": []}


def check(body, existing: dict | None) -> tuple[dict | None, Errors]:
    """The tool's next fields, or errors (also used on the catalogue's initial tools)."""
    values, errors = check_fields(body, RULES, existing is None)
    if errors:
        return None, errors
    fields = copy.deepcopy(existing or DEFAULTS)
    for key, value in values.items():
        fields[key] = DEFAULTS[key] if value is None else value
    return fields, {}


def read_shape(row: dict) -> dict:
    f = row["fields"]
    return {"id": row["id"], "name": f["name"], "description": f["description"], "endpoint": f["endpoint"],
            "method": f["method"], "timeout": f["timeout"], "headers": f["headers"], "schema": f["schema"],
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


class Tools(Kind):
    name = "tools"
    table_kind = "tool"
    deleted_message = "Tool deleted successfully"

    def routes(self) -> list:
        endpoint = self.platform.endpoint
        return [
            endpoint("GET", "/user/tools", self.list, kind=self.name),
            endpoint("POST", "/user/tools", self.create, write=True, kind=self.name),
            endpoint("GET", "/user/tools/{id}", self.read, kind=self.name),
            endpoint("PUT", "/user/tools/{id}", self.update, write=True, kind=self.name),
            endpoint("DELETE", "/user/tools/{id}", self.delete, write=True, kind=self.name),
        ]

    async def list(self, request: Request, tenant: Tenant) -> Response:
        return answer(200, [read_shape(row) for row in self.store.objects(self.table_kind, tenant.user_id)])

    async def read(self, request: Request, tenant: Tenant) -> Response:
        row = self.find(tenant, path_id(request))
        return answer(200, read_shape(row)) if row else self.not_found()

    async def create(self, request: Request, tenant: Tenant) -> Response:
        body = await object_body(request)
        with self.store.lock:
            limit = self.settings.tool_limit
            fields, errors = check(body, None)
            if errors:
                return invalid(errors)
            if limit is not None and self.store.count(self.table_kind, tenant.user_id) >= limit:
                # A plan limit, not a field error: a 422 without `errors` (API.md).
                return message(422, f"You have reached your plan limit of {limit} mid call tools. Please upgrade "
                                    "your plan to create more tools.")
            row = self.store.insert(self.table_kind, tenant.user_id, fields)
        return answer(201, {"message": "Tool created successfully", "data": read_shape(row)})

    def not_found(self) -> Response:
        return message(404, NOT_FOUND)

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        return check(body, row["fields"])

    def updated(self, tenant: Tenant, row: dict) -> Response:
        return answer(200, {"message": "Tool updated successfully", "data": read_shape(row)})

    def let_go(self, user_id: int, tool_id: int) -> None:
        # The tool leaves every assistant that had it (API.md); nothing in a read shows it.
        self.store.rewrite_assistants(
            user_id, "EXISTS (SELECT 1 FROM json_each(fields, '$.tool_ids') WHERE value = ?)", (tool_id,),
            lambda f: f.__setitem__("tool_ids", [t for t in f.get("tool_ids") or [] if t != tool_id]), touch=False)
