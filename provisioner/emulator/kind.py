"""What the handlers of every kind other than assistants share: the platform they belong to, and the update
flow (find the tenant's object, check the change by the kind's rules, store it, answer) that both the API's
update and the admin endpoints' dashboard edits go through."""
from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from .answers import invalid, message, object_body, path_id
from .catalog import Tenant
from .validation import Errors

if TYPE_CHECKING:
    from .app import Platform


class Kind:
    """One resource kind's endpoints. `routes()` lists them."""

    name = ""              # the kind's name in the admin and fault endpoints (`tools`, `folders`, ...)
    table_kind = ""        # its `kind` in the store
    invalid_message: str | None = None   # a 422's message (None: the first error's text)
    deleted_message = ""                 # a delete's answer

    def __init__(self, platform: "Platform"):
        self.platform = platform
        self.store = platform.store
        self.catalog = platform.catalog

    @property
    def settings(self):
        return self.platform.faults.settings

    def routes(self) -> list:
        raise NotImplementedError

    # --- the update flow; a kind supplies not_found, changed and updated ---

    def find(self, tenant: Tenant, object_id: int | None) -> dict | None:
        return self.store.object(self.table_kind, object_id, tenant.user_id)

    def not_found(self) -> Response:
        raise NotImplementedError

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        """The object's next fields after `body`, or errors."""
        raise NotImplementedError

    def updated(self, tenant: Tenant, row: dict) -> Response:
        raise NotImplementedError

    async def update(self, request: Request, tenant: Tenant) -> Response:
        return self.admin_update(tenant, path_id(request), await object_body(request))

    def admin_update(self, tenant: Tenant, object_id: int | None, body: dict) -> Response:
        with self.store.lock:
            row = self.find(tenant, object_id)
            if row is None:
                return self.not_found()
            fields, errors = self.changed(tenant, row, body)
            if errors:
                return invalid(errors, self.invalid_message)
            row = self.store.replace(self.table_kind, row["id"], fields)
        return self.updated(tenant, row)

    async def delete(self, request: Request, tenant: Tenant) -> Response:
        with self.store.lock:
            row = self.find(tenant, path_id(request))
            if row is None:
                return self.not_found()
            self.store.remove(self.table_kind, [row["id"]])
            self.let_go(tenant.user_id, row["id"])
        return message(200, self.deleted_message)

    def let_go(self, user_id: int, object_id: int) -> None:
        """What deleting the object does to the objects that refer to it (nothing unless the kind says)."""
