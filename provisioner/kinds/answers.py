"""The calls and answers every kind shares: lists come bare or as {"data": [...]}, one object bare or as
{"data": {...}} (API.md "Other resource kinds"); an answer of any other shape is an error, never "empty"."""
from __future__ import annotations

from typing import Any

from ..client import UnknownOutcomeError, _short, is_id
from ..errors import ApiError, NotFoundError


def items_of(answer: Any, where: str) -> list[dict[str, Any]]:
    """A list answer's items, each an object with an integer id."""
    items = answer.get("data") if isinstance(answer, dict) else answer
    if not isinstance(items, list):
        raise ApiError(f"{where}: expected a list (or {{\"data\": [...]}}), got {_short(_shape(answer))}")
    for item in items:
        if not isinstance(item, dict) or not is_id(item.get("id")):
            raise ApiError(f"{where}: an item without an integer id: {_short(_shape(item))}")
    return items


def item_of(answer: Any, where: str, *, created: bool = False) -> dict[str, Any]:
    """One object from an answer that is the object or wraps it in `data`. For a create (`created`), an answer
    without the new object's id leaves the outcome unknown: the caller looks before it creates again."""
    item = answer.get("data") if isinstance(answer, dict) and isinstance(answer.get("data"), dict) else answer
    if isinstance(item, dict) and is_id(item.get("id")):
        return item
    text = f"{where}: the platform answered success without the object's id ({_short(_shape(answer))})"
    raise UnknownOutcomeError(text, status=200) if created else ApiError(text)


def update(client, path: str, object_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """PUT path: the object the platform answers, or just its id when the answer holds none (the update
    happened: a 2xx; the next read shows the result)."""
    answer = client.request("PUT", path, json=body)
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) else {"id": object_id}


def delete(client, path: str) -> None:
    """DELETE path; a 404 means already gone, which is what a delete wants."""
    try:
        client.request("DELETE", path)
    except NotFoundError:
        pass


def _shape(value: Any) -> Any:
    """What an answer looks like without its values: answers of secret-bearing kinds (a tool's headers) may
    hold credentials, and this goes into error messages."""
    if isinstance(value, dict):
        return {key: _shape(v) for key, v in list(value.items())[:8]}
    if isinstance(value, list):
        return [_shape(v) for v in value[:2]] + (["…"] if len(value) > 2 else [])
    return type(value).__name__
