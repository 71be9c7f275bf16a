"""The one place that knows how the platform's read shape maps to the create fields.

The manifest speaks create fields (`calls_direction: make`); the platform's
list answers in its read shape (`type: outbound`), and shows back only some
fields at all (API.md, "List: the read shape"). Both directions live here: the
client uses `create_fields_from_read`, the emulator uses `read_shape`.
"""
from __future__ import annotations

from typing import Any

from .spec import CREATE_FIELDS

DIRECTION_TO_TYPE = {"receive": "inbound", "make": "outbound"}
TYPE_TO_DIRECTION = {v: k for k, v in DIRECTION_TO_TYPE.items()}

# Create fields the platform shows back under the same name.
SAME_NAME_FIELDS = (
    "voice_id", "phone_number_id", "language", "timezone", "initial_message", "system_prompt",
    "variables", "post_call_evaluation", "post_call_schema", "is_webhook_active", "webhook_url",
)
# Create fields the platform shows back under another name (create name -> read name).
RENAMED_FIELDS = {
    "assistant_name": "name",
    "calls_direction": "type",
    "engine_type": "mode",
    "filler_audios": "fillers",
    "max_call_duration": "max_duration",
    "record_call": "record",
    "end_call_tool": "tools",
}
READABLE_FIELDS: frozenset[str] = frozenset(SAME_NAME_FIELDS) | frozenset(RENAMED_FIELDS)
WRITE_ONLY_FIELDS: tuple[str, ...] = tuple(f for f in CREATE_FIELDS if f not in READABLE_FIELDS)


def create_fields_from_read(item: dict[str, Any]) -> dict[str, Any]:
    """Readable create fields of one listed assistant; a field the item lacks is left out."""
    fields = {name: item[name] for name in SAME_NAME_FIELDS if name in item}
    if "name" in item:
        fields["assistant_name"] = item["name"]
    if "type" in item:
        fields["calls_direction"] = TYPE_TO_DIRECTION.get(item["type"], item["type"])
    if "mode" in item:
        fields["engine_type"] = item["mode"]
    if "fillers" in item:
        fields["filler_audios"] = bool(item["fillers"])
    if "max_duration" in item:
        fields["max_call_duration"] = item["max_duration"]
    if "record" in item:
        fields["record_call"] = bool(item["record"])
    if "tools" in item:
        fields["end_call_tool"] = _end_call_tool(item["tools"] or [])
    return fields


def _end_call_tool(tools: list[dict]) -> dict | None:
    for tool in tools:
        if tool.get("type") == "end_call":
            return dict(tool.get("data") or {})
    return None


def read_shape(fields: dict[str, Any], *, id: int, user_id: int, status: str,
               created_at: str, updated_at: str) -> dict[str, Any]:
    """The platform's read shape for an assistant whose create fields (defaults filled in) are `fields`."""
    item: dict[str, Any] = {"id": id, "user_id": user_id, "name": fields["assistant_name"], "status": status}
    item.update({name: fields.get(name) for name in SAME_NAME_FIELDS})
    item["type"] = DIRECTION_TO_TYPE[fields["calls_direction"]]
    item["mode"] = fields["engine_type"]
    item["fillers"] = 1 if fields.get("filler_audios") else 0
    item["max_duration"] = fields.get("max_call_duration")
    item["record"] = bool(fields.get("record_call"))
    tool = fields.get("end_call_tool")
    item["tools"] = [{"type": "end_call", "data": dict(tool)}] if tool else []
    item["created_at"] = created_at
    item["updated_at"] = updated_at
    return item


def created_summary(id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a create or update answer."""
    return {
        "id": id,
        "name": fields["assistant_name"],
        "status": "active",
        "type": DIRECTION_TO_TYPE[fields["calls_direction"]],
        "mode": fields["engine_type"],
    }
