"""JSON Schemas of the answers of the kinds beside assistants, written by hand from API.md (not from the emulator)."""
from __future__ import annotations

from conformance_schemas import BOOL, INT, STR, STR_OR_NULL


def closed(fields: dict, optional: dict | None = None) -> dict:
    """An object with exactly these fields (plus the optional ones)."""
    return {"type": "object", "required": list(fields), "properties": {**fields, **(optional or {})},
            "additionalProperties": False}


def answer(text: str, data: dict | None = None, **extra) -> dict:
    required = {"message": {"const": text}, **({"data": data} if data else {}), **extra}
    return closed(required)


def array(item: dict) -> dict:
    return {"type": "array", "items": item}


def wrapped(item: dict) -> dict:
    return closed({"data": array(item)})


def errors_422(message: dict | None = None) -> dict:
    return closed({"message": message or STR, "errors": {
        "type": "object", "minProperties": 1, "propertyNames": {"pattern": r"^[a-z_0-9]+(\.[a-z_0-9]+)*$"},
        "additionalProperties": {"type": "array", "minItems": 1, "items": STR}}})


def error_body(text: str) -> dict:
    return closed({"error": {"const": text}})


TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT"}

# --- mid-call tools ---
HEADER = closed({"name": STR, "value": STR})
PARAMETER = closed({"name": STR, "type": {"enum": ["string", "number", "boolean"]}, "description": STR})
TOOL = closed({"id": INT, "name": {"type": "string", "pattern": "^[a-z][a-z_]*$"}, "description": STR,
               "endpoint": {"type": "string", "pattern": "^https?://"},
               "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
               "timeout": {"type": "integer", "minimum": 1, "maximum": 30}, "headers": array(HEADER),
               "schema": array(PARAMETER), "created_at": TIME, "updated_at": TIME})
TOOLS = array(TOOL)
TOOL_CREATED = answer("Tool created successfully", TOOL)
TOOL_UPDATED = answer("Tool updated successfully", TOOL)
TOOL_DELETED = answer("Tool deleted successfully")
TOOL_404 = closed({"message": {"const": "Tool not found"}})
TOOL_LIMIT = closed({"message": {"type": "string", "pattern": r"^You have reached your plan limit of \d+ mid call "
                                                             r"tools\. Please upgrade your plan to create more "
                                                             r"tools\.$"}})

# --- knowledge bases and documents ---
KB_STATUS = {"enum": ["empty", "processing", "active", "failed"]}
KB = closed({"id": INT, "name": STR, "description": STR_OR_NULL, "status": KB_STATUS, "status_label": STR,
             "documents_count": INT, "assistants_count": INT, "created_at": TIME, "updated_at": TIME})
KB_CREATED = answer("Knowledgebase created successfully.", closed({
    "id": INT, "name": STR, "description": STR_OR_NULL, "status": {"const": "empty"}, "status_label": STR,
    "created_at": TIME, "updated_at": TIME}))
KB_UPDATED = answer("Knowledgebase updated successfully.", closed({
    "id": INT, "name": STR, "description": STR_OR_NULL, "status": KB_STATUS, "status_label": STR,
    "updated_at": TIME}))
KB_DELETED = answer("Knowledgebase deleted successfully.")
KB_LIST = wrapped(KB)
KB_ONE = closed({"data": KB})
KB_404 = error_body("Knowledgebase not found.")
DOC_TYPE = {"enum": ["website", "pdf", "txt", "docx"]}
DOCUMENT = closed({"id": INT, "name": STR, "description": STR_OR_NULL, "type": DOC_TYPE, "type_label": STR,
                   "status": {"enum": ["processing", "active", "failed"]}, "status_label": STR, "created_at": TIME,
                   "updated_at": TIME})
DOC_CREATED = answer("Document created successfully. Processing will begin shortly.", closed({
    "id": INT, "name": STR, "description": STR_OR_NULL, "type": DOC_TYPE, "type_label": STR,
    "status": {"const": "processing"}, "status_label": STR, "created_at": TIME}))
DOC_UPDATED = answer("Document updated successfully.", closed({
    "id": INT, "name": STR, "description": STR_OR_NULL, "type": DOC_TYPE, "type_label": STR,
    "status": {"enum": ["processing", "active", "failed"]}, "status_label": STR, "updated_at": TIME}))
DOC_DELETED = answer("Document deleted successfully.")
DOC_LIST = wrapped(DOCUMENT)
DOC_ONE = closed({"data": DOCUMENT})
DOC_404 = error_body("Document not found.")

# --- folders and labels ---
COLOR = {"enum": ["gray", "slate", "red", "orange", "amber", "green", "teal", "blue", "purple", "pink", None]}
GROUP = closed({"id": INT, "name": STR, "color": COLOR, "assistants_count": INT})


def group_page(word: str) -> dict:
    # The reference's example, exactly: API.md has the emulator answer it, not the whole Laravel page the vendor's
    # MCP client expects (a client paging by `last_page` must fail here as on the platform).
    return closed({"data": array(GROUP), "current_page": {"type": "integer", "minimum": 1},
                   "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
                   "total": {"type": "integer", "minimum": 0}})


def group_answers(word: str) -> dict:
    title = word.capitalize()
    return {"created": answer(f"{title} created successfully", GROUP),
            "updated": answer(f"{title} updated successfully", GROUP),
            "deleted": answer(f"{title} deleted successfully"),
            "404": closed({"message": {"const": f"{title} not found"}}),
            "page": group_page(word)}


# --- phone numbers and SIP trunks ---
E164 = {"type": "string", "pattern": r"^\+[1-9]\d{1,14}$"}
COUNTRY = {"type": "string", "pattern": "^[A-Z]{2}$"}
NUMBER = closed({"id": INT, "phone_number": STR, "nickname": STR_OR_NULL, "country_code": COUNTRY,
                 "type": {"enum": ["normal", "sip", "caller_id"]}, "type_label": STR, "sms_capable": BOOL,
                 "region": STR_OR_NULL, "has_active_subscription": BOOL, "created_at": TIME})
NUMBERS_ALL = wrapped(NUMBER)
NUMBER_UPDATED = answer("Phone number updated successfully.", closed({
    "id": INT, "phone_number": STR, "nickname": STR_OR_NULL, "country_code": COUNTRY,
    "type": {"enum": ["normal", "sip", "caller_id"]}}))
OFFER = closed({"phone_number": E164, "phone_number_formatted": STR, "country_code": COUNTRY,
                "price": {"type": "number", "exclusiveMinimum": 0}, "stripe_price_id": STR,
                "address_requirements": {"enum": ["none", "local", "foreign", "inventory"]}, "sms_capable": BOOL})
SEARCH = wrapped(OFFER)
PURCHASED = answer("Phone number purchased successfully.", closed({
    "id": INT, "phone_number": E164, "country_code": COUNTRY, "type": {"const": "normal"}, "sms_capable": BOOL}))
RELEASED = answer("Phone number released successfully. It will be removed at the end of the billing period.")
DELETED_NUMBER = answer("Phone number deleted successfully.")
NUMBER_404 = error_body("Phone number not found.")
ERROR = closed({"error": STR})
TRUNK_FIELDS = {"id": INT, "phone_number": STR, "nickname": STR_OR_NULL, "sip_username": STR, "sip_address": STR,
                "sip_calling_format": {"enum": ["+e164", "e164", "national"]},
                "inbound_authorization_type": {"enum": ["auth", "ip"]},
                "allowed_inbound_ips": {"type": ["array", "null"], "items": STR}, "outbound_proxy": BOOL,
                "country_code": COUNTRY, "created_at": TIME, "updated_at": TIME}
TRUNK = closed({**TRUNK_FIELDS, "inbound_trunk_id": STR, "outbound_trunk_id": STR})
TRUNK_IN_LIST = closed(TRUNK_FIELDS)
TRUNKS = wrapped(TRUNK_IN_LIST)
TRUNK_ONE = closed({"data": TRUNK})
TRUNK_CREATED = answer("SIP trunk created successfully.", TRUNK)
TRUNK_UPDATED = answer("SIP trunk updated successfully.", TRUNK)
TRUNK_404 = error_body("SIP trunk not found.")

# --- campaigns ---
DAYS = {"type": "array", "items": {"enum": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                            "sunday"]}}


def campaign(time_pattern: str) -> dict:
    hours = {"type": "string", "pattern": time_pattern}
    return closed({"id": INT, "name": STR, "status": STR, "max_calls_in_parallel": INT,
                   "mark_complete_when_no_leads": BOOL, "allowed_hours_start_time": hours,
                   "allowed_hours_end_time": hours, "allowed_days": DAYS, "max_retries": INT, "retry_interval": INT,
                   "created_at": TIME, "updated_at": TIME})


CAMPAIGN_CREATED = answer("Campaign created successfully", campaign(r"^\d\d:\d\d(:\d\d)?$"))
CAMPAIGNS = array(campaign(r"^\d\d:\d\d(:\d\d)?$"))
CAMPAIGN_DELETED = answer("Campaign deleted successfully")
CAMPAIGN_404 = closed({"message": {"const": "Campaign not found"}})
NOT_OUTBOUND = closed({"message": {"const": "Assistant not found or not an outbound assistant."}})
STATUS_CHANGED = closed({"message": STR, "success": {"const": True},
                         "data": closed({"campaign_id": INT, "status": {"enum": ["in-progress", "stopped"]}})})


def status_refused(text: str, **extra) -> dict:
    return closed({"message": {"const": text}, "success": {"const": False}, **extra})
