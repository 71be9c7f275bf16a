"""Knowledge bases and their documents (API.md "Knowledge bases and documents").

Processing is asynchronous on the platform; here a document's outcome (`active`, or `failed` for the configured
share and for content naming FAIL_MARKER) is decided when it is created, and it reads `processing` until its
`ready_at` has passed: computed on read from the clock, so no timers run."""
from __future__ import annotations

import time

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from .answers import answer, error, failure_body, invalid, message, object_body, path_id
from .catalog import Tenant
from .kind import Kind
from .validation import INVALID, Errors, add, check_fields, integer, nested, objects_of, one_of, string, url

FAIL_MARKER = "emulator-fail"       # in a document's URL, a link or a file name: its processing fails
MAX_FILE_BYTES = 20 * 1024 * 1024   # 20 MB
KB_NOT_FOUND = "Knowledgebase not found."
DOC_NOT_FOUND = "Document not found."
TYPE_LABELS = {"website": "Website", "pdf": "PDF", "txt": "Text", "docx": "Word"}
STATUS_LABELS = {"empty": "Empty", "processing": "Processing", "active": "Active", "failed": "Failed"}
KB_RULES = {"name": (string(255), True), "description": (string(255), False)}


def _link(item, key, errors):
    checked = nested(item, key, errors, {"link": (url, True)})
    return INVALID if checked is INVALID else {"link": checked["link"]}


DOC_RULES = {
    "name": (string(255), True), "description": (string(255), False),
    "type": (one_of(*TYPE_LABELS), True), "url": (url, False),
    "links": (lambda v, k, e: objects_of(v, k, e, _link), False),
    "relative_links_limit": (integer(1, 50), False),
}


def check_knowledgebase(body, existing: dict | None) -> tuple[dict | None, Errors]:
    values, errors = check_fields(body, KB_RULES, existing is None)
    return (None, errors) if errors else ({"name": None, "description": None, **(existing or {}), **values}, {})


def check_document(body: dict, file: UploadFile | None | str) -> tuple[dict | None, Errors]:
    """A new document's content fields, or errors (also used on the catalogue's initial documents)."""
    values, errors = check_fields(body, DOC_RULES, True)
    kind = values.get("type")
    if kind == "website":
        # (Laravel's `required_without`: an empty list counts as absent, as an empty text does)
        if body.get("url") in (None, "") and body.get("links") in (None, "", []):
            add(errors, "url", "The url field is required when links is not present.")
    elif kind is not None:
        if not isinstance(file, (UploadFile, str)):
            add(errors, "file", "A file is required for this document type.")
        elif isinstance(file, UploadFile) and (file.size or 0) > MAX_FILE_BYTES:
            add(errors, "file", "The file field must not be greater than 20480 kilobytes.")
    if errors:
        return None, errors
    fields = {"name": values["name"], "description": values.get("description"), "type": kind}
    if kind == "website":
        fields.update(url=values.get("url"), links=values.get("links"),
                      relative_links_limit=values.get("relative_links_limit") or 10)
    else:
        fields["file_name"] = file.filename if isinstance(file, UploadFile) else file
    return fields, {}


def document_status(fields: dict, now: float) -> str:
    return "processing" if now < fields.get("ready_at", 0) else fields.get("outcome", "active")


def knowledgebase_status(statuses: list[str]) -> str:
    if not statuses:
        return "empty"
    for status in ("processing", "failed"):
        if status in statuses:
            return status
    return "active"


def document_shape(row: dict, now: float, keys: tuple[str, ...] | None = None) -> dict:
    f = row["fields"]
    status = document_status(f, now)
    shape = {"id": row["id"], "name": f["name"], "description": f.get("description"), "type": f["type"],
             "type_label": TYPE_LABELS[f["type"]], "status": status, "status_label": STATUS_LABELS[status],
             "created_at": row["created_at"], "updated_at": row["updated_at"]}
    return {k: shape[k] for k in keys} if keys else shape


class Knowledgebases(Kind):
    name = "knowledgebases"
    table_kind = "knowledgebase"
    deleted_message = "Knowledgebase deleted successfully."

    def __init__(self, platform, documents: "Documents"):
        super().__init__(platform)
        self.document_kind = documents

    def routes(self) -> list:
        endpoint, kb, docs = self.platform.endpoint, "/user/knowledgebases", "/user/knowledgebases/{kb}/documents"
        return [
            endpoint("GET", kb, self.list, kind=self.name),
            # The 500s the reference documents, for injected failures (app.Platform.endpoint).
            endpoint("POST", kb, self.create, write=True, kind=self.name,
                     failure=failure_body(self.name, "Failed to create knowledgebase. Please try again.")),
            endpoint("GET", kb + "/{id}", self.read, kind=self.name),
            endpoint("PUT", kb + "/{id}", self.update, write=True, kind=self.name),
            endpoint("DELETE", kb + "/{id}", self.delete, write=True, kind=self.name),
            endpoint("GET", docs, self.documents, kind="documents"),
            endpoint("POST", docs, self.add_document, write=True, kind="documents",
                     failure=failure_body("documents", "Failed to create document. Please try again.")),
            endpoint("GET", docs + "/{id}", self.read_document, kind="documents"),
            endpoint("PUT", docs + "/{id}", self.update_document, write=True, kind="documents"),
            endpoint("DELETE", docs + "/{id}", self.delete_document, write=True, kind="documents",
                     failure=failure_body("documents", "Failed to delete document. Please try again.")),
        ]

    # --- knowledge bases ---

    def _shapes(self, user_id: int, rows: list[dict]) -> list[dict]:
        """Knowledge bases with their status and counts: one query for the documents, one for the assistants."""
        now = time.time()
        statuses: dict[int, list[str]] = {}
        # One knowledge base: its own documents; a list: every document of the tenant, in one query.
        docs = self.store.objects("document", user_id, rows[0]["id"]) if len(rows) == 1 else \
            self.store.objects("document", user_id)
        for doc in docs:
            statuses.setdefault(doc["parent_id"], []).append(document_status(doc["fields"], now))
        assistants = self.store.assistant_counts(user_id, "knowledgebase_id")  # even for none: see Grouping.list
        shapes = []
        for row in rows:
            status = knowledgebase_status(statuses.get(row["id"], []))
            shapes.append({"id": row["id"], "name": row["fields"]["name"],
                           "description": row["fields"]["description"], "status": status,
                           "status_label": STATUS_LABELS[status], "documents_count": len(statuses.get(row["id"], [])),
                           "assistants_count": assistants.get(row["id"], 0), "created_at": row["created_at"],
                           "updated_at": row["updated_at"]})
        return shapes

    async def list(self, request: Request, tenant: Tenant) -> Response:
        return answer(200, {"data": self._shapes(tenant.user_id, self.store.objects(self.table_kind,
                                                                                     tenant.user_id))})

    async def read(self, request: Request, tenant: Tenant) -> Response:
        row = self.find(tenant, path_id(request))
        return answer(200, {"data": self._shapes(tenant.user_id, [row])[0]}) if row else self.not_found()

    async def create(self, request: Request, tenant: Tenant) -> Response:
        fields, errors = check_knowledgebase(await object_body(request), None)
        if errors:
            return invalid(errors)
        row = self.store.insert(self.table_kind, tenant.user_id, fields)
        shape = self._shapes(tenant.user_id, [row])[0]
        return answer(201, {"message": "Knowledgebase created successfully.",
                            "data": {k: shape[k] for k in ("id", "name", "description", "status", "status_label",
                                                           "created_at", "updated_at")}})

    def not_found(self) -> Response:
        return error(404, KB_NOT_FOUND)

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        return check_knowledgebase(body, row["fields"])

    def updated(self, tenant: Tenant, row: dict) -> Response:
        shape = self._shapes(tenant.user_id, [row])[0]
        return answer(200, {"message": "Knowledgebase updated successfully.",
                            "data": {k: shape[k] for k in ("id", "name", "description", "status", "status_label",
                                                           "updated_at")}})

    def let_go(self, user_id: int, kb_id: int) -> None:
        self.store.remove_children("document", kb_id)
        # Its assistants lose the reference and go on working without it.
        self.store.rewrite_assistants(user_id, "json_extract(fields, '$.knowledgebase_id') = ?", (kb_id,),
                                      lambda f: f.__setitem__("knowledgebase_id", None))

    # --- documents ---

    def _document(self, request: Request, tenant: Tenant) -> tuple[dict | None, Response | None]:
        kb = self.store.object(self.table_kind, path_id(request, "kb"), tenant.user_id)
        if kb is None:
            return None, error(404, KB_NOT_FOUND)
        doc = self.store.object("document", path_id(request), tenant.user_id)
        if doc is None or doc["parent_id"] != kb["id"]:
            return None, error(404, DOC_NOT_FOUND)
        return doc, None

    async def documents(self, request: Request, tenant: Tenant) -> Response:
        kb = self.store.object(self.table_kind, path_id(request, "kb"), tenant.user_id)
        if kb is None:
            return error(404, KB_NOT_FOUND)
        now = time.time()
        return answer(200, {"data": [document_shape(d, now) for d in self.store.objects("document", tenant.user_id,
                                                                                         kb["id"])]})

    async def read_document(self, request: Request, tenant: Tenant) -> Response:
        doc, refused = self._document(request, tenant)
        return refused or answer(200, {"data": document_shape(doc, time.time())})

    async def add_document(self, request: Request, tenant: Tenant) -> Response:
        kb = self.store.object(self.table_kind, path_id(request, "kb"), tenant.user_id)
        if kb is None:
            return error(404, KB_NOT_FOUND)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            body = {k: v for k, v in form.items() if not isinstance(v, UploadFile)}
            file = form.get("file")
        else:
            body, file = await object_body(request), None
        fields, errors = check_document(body, file if isinstance(file, UploadFile) else None)
        if errors:
            return invalid(errors)
        row = self.store.insert("document", tenant.user_id, self.processing(fields), parent_id=kb["id"])
        # The create answer always says processing (API.md), however short the configured delay.
        shape = {**document_shape(row, time.time(), ("id", "name", "description", "type", "type_label",
                                                     "created_at")), "status": "processing",
                 "status_label": STATUS_LABELS["processing"]}
        return answer(201, {"message": "Document created successfully. Processing will begin shortly.",
                            "data": shape})

    def processing(self, fields: dict) -> dict:
        """The document's fields with when its processing ends and how."""
        content = " ".join(str(fields.get(k) or "") for k in ("url", "file_name"))
        content += " ".join(link["link"] for link in fields.get("links") or [])
        failed = FAIL_MARKER in content.lower() or self.platform.faults.chance(self.settings.document_failure_rate)
        return {**fields, "ready_at": time.time() + self.settings.document_delay_ms / 1000,
                "outcome": "failed" if failed else "active"}

    async def update_document(self, request: Request, tenant: Tenant) -> Response:
        body = await object_body(request)
        with self.store.lock:
            doc, refused = self._document(request, tenant)
            return refused or self.document_kind.admin_update(tenant, doc["id"], body)

    async def delete_document(self, request: Request, tenant: Tenant) -> Response:
        with self.store.lock:
            doc, refused = self._document(request, tenant)
            if refused:
                return refused
            self.store.remove("document", [doc["id"]])
        return message(200, "Document deleted successfully.")


class Documents(Kind):
    """A document's update: through its knowledge base's path, or by id from the admin endpoints."""

    name = "documents"
    table_kind = "document"

    def routes(self) -> list:
        return []   # served under their knowledge base's path, by Knowledgebases

    def not_found(self) -> Response:
        return error(404, DOC_NOT_FOUND)

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        # Only the name and the description can change.
        values, errors = check_fields(body, {k: DOC_RULES[k] for k in ("name", "description")}, False)
        return (None, errors) if errors else ({**row["fields"], **values}, {})

    def updated(self, tenant: Tenant, row: dict) -> Response:
        return answer(200, {"message": "Document updated successfully.",
                            "data": document_shape(row, time.time(), ("id", "name", "description", "type",
                                                                      "type_label", "status", "status_label",
                                                                      "updated_at"))})
