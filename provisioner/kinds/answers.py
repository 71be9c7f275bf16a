"""The calls and answers every kind shares: lists come bare or as {"data": [...]}, one object bare or as
{"data": {...}} (API.md "Other resource kinds"); an answer of any other shape is an error, never "empty"."""
from __future__ import annotations

from typing import Any

from ..client import UnknownOutcomeError, _short, is_count, is_id
from ..errors import ApiError


def items_of(answer: Any, where: str, *, keys: tuple[str, ...] = ("data",), bare: bool = True,
             named: bool = False, noun: str = "item") -> list[dict[str, Any]]:
    """A list answer's items, or an error: never a partial or misread list taken for the whole account. The list
    is the answer itself (when its kind's API.md section allows a bare list: `bare`) or under exactly one of
    `keys` (tools: `data`; campaigns: `campaigns` or `data`); each item an object with an integer id (and a
    string name: `named`), no id twice."""
    items = answer if bare else None
    if isinstance(answer, dict):
        found = [key for key in keys if isinstance(answer.get(key), list)]
        items = answer[found[0]] if len(found) == 1 else None
    if not isinstance(items, list):
        shapes = ["[...]"] * bare + [f"{{\"{key}\": [...]}}" for key in keys]
        raise ApiError(f"{where}: expected a list of {noun}s ({' or '.join(shapes)}), got {_short(_shape(answer))}; "
                       "nothing was decided from it")
    more = _more_pages(answer, len(items)) if isinstance(answer, dict) else None
    if more:
        # API.md documents these lists whole; an answer that says it is one page of more (a newer or proxied
        # platform paging them) would hide the rest: what it hides could be created a second time.
        raise ApiError(f"{where}: the answer is one page of a longer list ({more}), where the whole list was "
                       "expected; nothing was decided from it")
    seen: set[int] = set()
    for item in items:
        if not isinstance(item, dict) or not is_id(item.get("id")) or (named and not isinstance(item.get("name"), str)):
            wanted = ("an integer id and a name" if named else "an integer id") + " (the id positive, at most 2**63-1)"
            article = "an" if noun[0] in "aeiou" else "a"
            raise ApiError(f"{where}: {article} {noun} without {wanted}: {_short(_shape(item))}; nothing was decided from it")
        if item["id"] in seen:
            raise ApiError(f"{where}: {noun} {item['id']} is listed twice; nothing was decided from it")
        seen.add(item["id"])
    return items


def _more_pages(answer: dict[str, Any], count: int) -> str:
    """What in a list answer says it holds only part of the list ("" when nothing does)."""
    total, current, last = answer.get("total"), answer.get("current_page"), answer.get("last_page")
    if is_count(total) and total > count:
        return f"'total' is {total}, the answer holds {count}"
    if is_count(last) and last > (current if is_count(current) else 1):
        return f"'last_page' is {last}"
    if answer.get("next_page_url"):
        return "it has a 'next_page_url'"
    return ""


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
    """DELETE path; a 404 raises NotFoundError, which apply confirms with a read (`Endpoints.delete`)."""
    client.request("DELETE", path)


def _shape(value: Any) -> Any:
    """What an answer looks like without its values: answers of secret-bearing kinds (a tool's headers) may
    hold credentials, and this goes into error messages."""
    if isinstance(value, dict):
        return {key: _shape(v) for key, v in list(value.items())[:8]}
    if isinstance(value, list):
        return [_shape(v) for v in value[:2]] + (["…"] if len(value) > 2 else [])
    return type(value).__name__
