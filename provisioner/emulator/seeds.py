"""The tenants' initial objects from the catalogue: checked by each kind's own create rules when the catalogue
loads (problems located by field), and written to a fresh store (and again after a reset).

Assistants and campaigns refer to the tenant's other objects (numbers, tools, ...) and campaigns to assistants, so
their rules are the API's creates run against a store holding those objects: at load time a scratch in-memory one."""
from __future__ import annotations

from typing import Any, Iterator

from . import campaigns, folders, knowledge, numbers, tools
from . import fields as F
from .catalog import Catalog, Tenant
from .store import Store
from .validation import Errors, Owned, Request

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


def _bad_id(object_id: Any) -> bool:
    return not isinstance(object_id, int) or isinstance(object_id, bool) or object_id < 1


def problems(catalog: Catalog) -> list[tuple[tuple, str]]:
    found: list[tuple[tuple, str]] = []
    seen_ids: set[int] = set()
    for i, tenant in enumerate(catalog.tenants):
        for _, where, body, (_, errors) in _objects(tenant):
            found += _located(("tenants", i, *where), errors)
            object_id = body.get("id")
            if object_id is not None:
                if _bad_id(object_id):
                    found.append((("tenants", i, *where, "id"), "an id is a positive integer"))
                elif object_id in seen_ids:
                    found.append((("tenants", i, *where, "id"), f"id {object_id} is already another object's"))
                seen_ids.add(object_id)
        for j, kb in enumerate(tenant.knowledgebases):
            for k, doc in enumerate(kb.get("documents") or []):
                _, errors = knowledge.check_document(doc if isinstance(doc, dict) else {}, (doc or {}).get("file"))
                found += _located(("tenants", i, "knowledgebases", j, "documents", k), errors)
    if any(tenant.assistants or tenant.campaigns for tenant in catalog.tenants):
        scratch = Store()
        try:
            found += plant(scratch, catalog)
        finally:
            scratch.close()
    return found


def seed(store: Store, catalog: Catalog) -> None:
    """Write every tenant's initial objects; a catalogue that was not loaded by load_catalog (a Catalog built in
    code) may still break a rule: ValueError."""
    trouble = plant(store, catalog)
    if trouble:
        raise ValueError("invalid initial objects in the catalogue: " + "; ".join(
            f"{'.'.join(map(str, loc))}: {text}" for loc, text in trouble))


class _Ids:
    """The ids of one table of the store as a catalogue fills it: an object's own `id` when it has a good one not
    yet taken, else (without one) the next id after every id the file gives, so that none collides."""

    def __init__(self, explicit: list):
        self.taken: set[int] = set()
        self.next = max((i for i in explicit if not _bad_id(i)), default=0) + 1

    def problem(self, wanted: Any, what: str) -> str | None:
        if wanted is None:
            return None
        if _bad_id(wanted):
            return "an id is a positive integer"
        return f"id {wanted} is already another {what}'s" if wanted in self.taken else None

    def take(self, wanted: int | None) -> int:
        if wanted is None:
            wanted, self.next = self.next, self.next + 1
        self.taken.add(wanted)
        return wanted


def plant(store: Store, catalog: Catalog) -> list[tuple[tuple, str]]:
    """Write every tenant's initial objects with their ids, then its assistants and campaigns by the API's create
    rules; the problems of those (the other kinds' are found by `problems` without a store, and their bad objects
    are left out here)."""
    planned = [(tenant, kind, body, fields) for tenant in catalog.tenants
               for kind, _, body, (fields, _) in _objects(tenant)]
    object_ids = _Ids([body.get("id") for *_, body, _ in planned]
                      + [c.get("id") for t in catalog.tenants for c in t.campaigns])
    with store.lock:
        for tenant, kind, body, fields in planned:
            if fields is None or object_ids.problem(body.get("id"), "object"):
                continue   # already one of `problems`
            object_id = object_ids.take(body.get("id"))
            store.insert(kind, tenant.user_id, fields, object_id=object_id)
            for doc in body.get("documents") or [] if kind == "knowledgebase" else []:
                doc_fields, _ = knowledge.check_document(doc, doc.get("file"))
                if doc_fields is None:
                    continue
                outcome = "failed" if knowledge.FAIL_MARKER in str(doc).lower() else "active"
                store.insert("document", tenant.user_id, {**doc_fields, "ready_at": 0, "outcome": outcome},
                             parent_id=object_id, object_id=object_ids.take(None))
        return _assistants_and_campaigns(store, catalog, object_ids)


def _assistants_and_campaigns(store: Store, catalog: Catalog, object_ids: _Ids) -> list[tuple[tuple, str]]:
    found: list[tuple[tuple, str]] = []
    assistant_ids = _Ids([a.get("id") for t in catalog.tenants for a in t.assistants])
    for i, tenant in enumerate(catalog.tenants):
        created: list[int | None] = []   # each initial assistant's id, None for a bad one
        for j, body in enumerate(tenant.assistants):
            where = ("tenants", i, "assistants", j)
            bad_id = assistant_ids.problem(body.get("id"), "assistant")
            if bad_id:
                found.append(((*where, "id"), bad_id))
            # The catalogue is the platform's own data: either dialect, whatever --dialect the server takes.
            record, dialect, errors = Request(catalog, tenant, "both", Owned(store, tenant.user_id)).apply(
                {k: v for k, v in body.items() if k != "id"}, None)
            found += _located(where, errors)
            if errors or bad_id:
                created.append(None)
                continue
            row = store.create(tenant.user_id, record, F.created_status(dialect), dialect,
                               assistant_id=assistant_ids.take(body.get("id")))
            created.append(row["id"])
        for j, body in enumerate(tenant.campaigns):
            where = ("tenants", i, "campaigns", j)
            bad_id = object_ids.problem(body.get("id"), "object")
            if bad_id:
                found.append(((*where, "id"), bad_id))
            body, key, problem = _campaign_body(tenant, body, created)
            if problem:
                found.append(((*where, key), problem))
                continue
            fields, errors = campaigns.check(store, tenant.user_id, body)
            errors = {key if k == "assistant_id" else k: v for k, v in errors.items()}
            found += _located(where, errors)
            if not errors and not bad_id:
                store.insert("campaign", tenant.user_id, fields, object_id=object_ids.take(body.get("id")))
    return found


def _campaign_body(tenant: Tenant, body: dict, created: list[int | None]) -> tuple[dict, str, str | None]:
    """The campaign's create body with `assistant` (an initial assistant's name or position) turned into its
    `assistant_id`; (body, the key naming the assistant, a problem with it)."""
    if "assistant" not in body:
        return body, "assistant_id", None
    ref, rest = body["assistant"], {k: v for k, v in body.items() if k != "assistant"}
    if "assistant_id" in body:
        return rest, "assistant", "give either assistant (an initial assistant's name or position) or assistant_id"
    if isinstance(ref, int) and not isinstance(ref, bool):
        if not 0 <= ref < len(created):
            return rest, "assistant", (f"no initial assistant at position {ref} (positions start at 0; the tenant "
                                       f"has {len(created)})")
        position = ref
    elif isinstance(ref, str):
        named = [j for j, a in enumerate(tenant.assistants) if ref in (a.get("name"), a.get("assistant_name"))]
        if len(named) != 1:
            return rest, "assistant", (f"no initial assistant of the tenant is named {ref!r}" if not named else
                                       f"{len(named)} initial assistants are named {ref!r}: give its position")
        position = named[0]
    else:
        return rest, "assistant", "an initial assistant's name (a string) or position (0 for the first)"
    if created[position] is None:
        return rest, "assistant", f"initial assistant {ref!r} is not valid itself"
    return {**rest, "assistant_id": created[position]}, "assistant", None
