"""Folders and labels (API.md "Folders and labels"): the same shape, pages of 15, names unique per account.

The list answers the reference's example, `{"data", "current_page", "per_page", "total"}`, and nothing more: API.md
has the emulator answer the reference's shape where the sources disagree (the vendor's MCP client expects a whole
Laravel page), so a client that pages by `last_page` or `next_page_url` fails here as it would on the platform."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .answers import answer, invalid, message, object_body, page_params, validation_failed
from .catalog import Tenant
from .kind import Kind
from .validation import Errors, add, check_fields, one_of, string

COLORS = ("gray", "slate", "red", "orange", "amber", "green", "teal", "blue", "purple", "pink")
RULES = {"name": (string(255), True), "color": (one_of(*COLORS), False)}


def check(body, existing: dict | None, taken: set[str]) -> tuple[dict | None, Errors]:
    """The next fields, or errors; `taken` are the account's other names of this kind."""
    values, errors = check_fields(body, RULES, existing is None)
    if "name" in values and values["name"] in taken:
        add(errors, "name", "The name has already been taken.")
    if errors:
        return None, errors
    return {"name": None, "color": None, **(existing or {}), **values}, {}


class Grouping(Kind):
    """Folders (an assistant in at most one: `folder_id`) or labels (many: `label_ids`)."""

    word = ""            # Folder / Label
    assistant_field = ""

    def routes(self) -> list:
        endpoint, one, many = self.platform.endpoint, self.word.lower(), self.word.lower() + "s"
        routes = [endpoint("GET", f"/user/{many}", self.list, kind=self.name)]
        # The reference's singular and the vendor's MCP client's plural, both served.
        for spelling in (one, many):
            routes += [
                endpoint("POST", f"/user/{spelling}", self.create, write=True, kind=self.name),
                endpoint("PUT", f"/user/{spelling}/{{id}}", self.update, write=True, kind=self.name),
                endpoint("DELETE", f"/user/{spelling}/{{id}}", self.delete, write=True, kind=self.name),
            ]
        return routes

    def counts(self, user_id: int) -> dict[int, int]:
        raise NotImplementedError

    def shape(self, row: dict, counts: dict[int, int]) -> dict:
        return {"id": row["id"], "name": row["fields"]["name"], "color": row["fields"]["color"],
                "assistants_count": counts.get(row["id"], 0)}

    async def list(self, request: Request, tenant: Tenant) -> Response:
        page, per_page, errors = page_params(request, 15)
        if errors:
            return validation_failed(errors)
        rows = self.store.objects(self.table_kind, tenant.user_id, limit=per_page, offset=(page - 1) * per_page)
        total = self.store.count(self.table_kind, tenant.user_id)
        # Counted even for an empty page: while there are few assistants (the plan before an apply) that is cheap,
        # and the store then carries the counts through the creates that follow (Store._carry_counts).
        counts = self.counts(tenant.user_id)
        return answer(200, {"data": [self.shape(r, counts) for r in rows], "current_page": page, "per_page": per_page,
                            "total": total})

    def _taken(self, tenant: Tenant, but: int | None = None) -> set[str]:
        return {r["fields"]["name"] for r in self.store.objects(self.table_kind, tenant.user_id) if r["id"] != but}

    async def create(self, request: Request, tenant: Tenant) -> Response:
        body = await object_body(request)
        with self.store.lock:
            fields, errors = check(body, None, self._taken(tenant))
            if errors:
                return invalid(errors)
            row = self.store.insert(self.table_kind, tenant.user_id, fields)
        return answer(201, {"message": f"{self.word} created successfully", "data": self.shape(row, {})})

    def not_found(self) -> Response:
        return message(404, f"{self.word} not found")

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        return check(body, row["fields"], self._taken(tenant, row["id"]))

    def updated(self, tenant: Tenant, row: dict) -> Response:
        return answer(200, {"message": f"{self.word} updated successfully",
                            "data": self.shape(row, self.counts(tenant.user_id))})

    @property
    def deleted_message(self) -> str:
        return f"{self.word} deleted successfully"


class Folders(Grouping):
    name, table_kind, word = "folders", "folder", "Folder"

    def counts(self, user_id: int) -> dict[int, int]:
        return self.store.assistant_counts(user_id, "folder_id")

    def let_go(self, user_id: int, object_id: int) -> None:
        # Its assistants stay, uncategorized.
        self.store.rewrite_assistants(user_id, "json_extract(fields, '$.folder_id') = ?", (object_id,),
                                      lambda f: f.__setitem__("folder_id", None), touch=False)


class Labels(Grouping):
    name, table_kind, word = "labels", "label", "Label"

    def counts(self, user_id: int) -> dict[int, int]:
        return self.store.assistant_list_counts(user_id, "label_ids")

    def let_go(self, user_id: int, object_id: int) -> None:
        # The label leaves every assistant; the assistants are otherwise unchanged.
        self.store.rewrite_assistants(
            user_id, "EXISTS (SELECT 1 FROM json_each(fields, '$.label_ids') WHERE value = ?)", (object_id,),
            lambda f: f.__setitem__("label_ids", [i for i in f.get("label_ids") or [] if i != object_id]),
            touch=False)
