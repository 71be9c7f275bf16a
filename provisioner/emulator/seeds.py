"""The tenants' initial objects from the catalogue: checked by each kind's own create rules when the catalogue
loads (problems located by field), and written to a fresh store (and again after a reset)."""
from __future__ import annotations

from typing import Any, Iterator

from . import folders, knowledge, numbers, tools
from .catalog import Catalog, Tenant
from .store import Store
from .validation import Errors

# What a catalogue's SIP number without trunk settings stands for (the trunk's create fields).
SIP_DEFAULTS = {"sip_username": "emulator", "sip_password": "emulator", "sip_address": "sip.example.com",
                "sip_calling_format": "+e164", "inbound_authorization_type": "auth"}
LEGACY_TOOL = {"name": "catalogue_tool", "description": "A tool the catalogue gives the tenant.",
               "endpoint": "https://tools.example.com/catalogue", "method": "POST"}


def _located(prefix: tuple, errors: Errors) -> list[tuple[tuple, str]]:
    return [((*prefix, *(int(p) if p.isdigit() else p for p in key.split("."))), texts[0])
            for key, texts in errors.items()]


def _objects(tenant: Tenant) -> Iterator[tuple[str, tuple, dict, Any]]:
    """(store kind, location, the object as written, its checked fields or errors) of a tenant's seeds."""
    for j, body in enumerate(tenant.tools):
        yield "tool", ("tools", j), body, tools.check(body, None)
    for j, tool_id in enumerate(tenant.tool_ids):
        yield "tool", ("tool_ids", j), {"id": tool_id}, tools.check(LEGACY_TOOL, None)
    for j, body in enumerate(tenant.knowledgebases):
        yield "knowledgebase", ("knowledgebases", j), body, knowledge.check_knowledgebase(body, None)
    for j, kb_id in enumerate(tenant.knowledgebase_ids):
        yield "knowledgebase", ("knowledgebase_ids", j), {"id": kb_id}, \
            knowledge.check_knowledgebase({"name": f"Knowledge base {kb_id}"}, None)
    for kind, module_kind in (("folders", "folder"), ("labels", "label")):
        taken: set[str] = set()
        for j, body in enumerate(getattr(tenant, kind)):
            yield module_kind, (kind, j), body, folders.check(body, None, taken)
            taken.add(body.get("name"))
    for j, number in enumerate(tenant.phone_numbers):
        yield "phone_number", ("phone_numbers", j), {"id": number.id}, _number(number)


def _number(number) -> tuple[dict | None, Errors]:
    extra = number.model_extra or {}
    kind = "caller_id" if number.caller_id else numbers.number_type(number.type_label)
    shown = {k: extra[k] for k in ("nickname", "sms_capable", "region") if k in extra}
    if kind != "sip":
        return numbers.number_fields(number.phone_number, number.country_code, kind, number.type_label,
                                     **shown), {}
    body = {**SIP_DEFAULTS, "sip_trunk_type": "number" if number.phone_number.startswith("+") else "extension",
            **extra, "phone_number": number.phone_number, "country_code": number.country_code}
    trunk, errors = numbers.check_trunk(body, None)
    if errors:
        return None, errors
    trunk.pop("phone_number"), trunk.pop("country_code")
    return numbers.number_fields(number.phone_number, number.country_code, "sip", number.type_label,
                                 **{**trunk, **shown}), {}


def problems(catalog: Catalog) -> list[tuple[tuple, str]]:
    found: list[tuple[tuple, str]] = []
    seen_ids: set[int] = set()
    for i, tenant in enumerate(catalog.tenants):
        for _, where, body, (_, errors) in _objects(tenant):
            found += _located(("tenants", i, *where), errors)
            object_id = body.get("id")
            if object_id is not None:
                if not isinstance(object_id, int) or isinstance(object_id, bool) or object_id < 1:
                    found.append((("tenants", i, *where, "id"), "an id is a positive integer"))
                elif object_id in seen_ids:
                    found.append((("tenants", i, *where, "id"), f"id {object_id} is already another object's"))
                seen_ids.add(object_id)
        for j, kb in enumerate(tenant.knowledgebases):
            for k, doc in enumerate(kb.get("documents") or []):
                _, errors = knowledge.check_document(doc if isinstance(doc, dict) else {}, (doc or {}).get("file"))
                found += _located(("tenants", i, "knowledgebases", j, "documents", k), errors)
    return found


def seed(store: Store, catalog: Catalog) -> None:
    """Write every tenant's initial objects, with their ids (objects without one get the next free ids)."""
    planned = [(tenant, kind, body, fields) for tenant in catalog.tenants
               for kind, _, body, (fields, _) in _objects(tenant)]
    next_id = max((body["id"] for *_, body, _ in planned if body.get("id")), default=0) + 1
    with store.lock:
        for tenant, kind, body, fields in planned:
            object_id = body.get("id")
            if object_id is None:
                object_id, next_id = next_id, next_id + 1
            store.insert(kind, tenant.user_id, fields, object_id=object_id)
            for doc in body.get("documents") or [] if kind == "knowledgebase" else []:
                doc_fields, _ = knowledge.check_document(doc, doc.get("file"))
                outcome = "failed" if knowledge.FAIL_MARKER in str(doc).lower() else "active"
                store.insert("document", tenant.user_id, {**doc_fields, "ready_at": 0, "outcome": outcome},
                             parent_id=object_id, object_id=next_id)
                next_id += 1
