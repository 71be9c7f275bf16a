"""Folders (API.md "Folders and labels"); labels have the same shape and are built here too (label.py).

Names are unique within an account, so a manifest adopts an existing object of its name rather than
creating a second (the platform would refuse it anyway: 422 "The name has already been taken").
The list is a page: paged by `current_page`, `per_page` and `total`, with `last_page` used only when
present (the reference's example has no `last_page`; the vendor's client expects a whole Laravel page).
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..errors import NotFoundError
from .base import Endpoints, FieldFacts, Kind, ReadProblem

COLORS = ("gray", "slate", "red", "orange", "amber", "green", "teal", "blue", "purple", "pink")
PER_PAGE = 100  # the most a page holds: the fewest round trips
MAX_PAGES = 10_000  # a platform that never says it is done must not keep us reading forever


class GroupingSpec(BaseModel):
    """A folder's or a label's settings."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)  # see base.py

    name: Annotated[str, Field(min_length=1, max_length=255,
                               description="The name on the platform; unique among your folders (labels).")]
    color: Optional[Literal[COLORS]] = Field(None, description="One of " + ", ".join(COLORS)
                                             + "; left out or null: no color.")


def list_pages(client: Any, path: str) -> list[dict[str, Any]]:
    """Every item of a paged list, reading `last_page` only when the answer has it."""
    items: list[dict[str, Any]] = []
    page = 1
    while page <= MAX_PAGES:
        answer = client.request("GET", path, params={"per_page": PER_PAGE, "page": page})
        data = answer.get("data") if isinstance(answer, dict) else answer
        if not isinstance(data, list):
            raise ValueError(f"GET {path}: the answer holds no list of items")
        items += [item for item in data if isinstance(item, dict)]
        if not isinstance(answer, dict) or not data:
            return items
        current = _whole(answer.get("current_page"), page)
        last = _whole(answer.get("last_page"), None)
        if last is not None:
            if current >= last:
                return items
        else:
            per_page = _whole(answer.get("per_page"), len(data))
            total = _whole(answer.get("total"), None)
            if total is None or current * per_page >= total:
                return items
        page = current + 1
    return items


def _whole(value: Any, fallback: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else fallback


def _unwrapped(answer: Any) -> dict[str, Any]:
    data = answer.get("data", answer) if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise ValueError("the answer holds no object")
    return data


def grouping(name: str, manifest_kind: str, title: str) -> Kind:
    """The Kind of folders or labels: `name` is the singular of their paths (`/user/folder/{id}`)."""

    def list_all(client: Any, parent: Any = None) -> list[dict[str, Any]]:
        return list_pages(client, f"/user/{name}s")

    def create(client: Any, body: dict[str, Any], parent: Any = None) -> dict[str, Any]:
        return _unwrapped(client.request("POST", f"/user/{name}", json=body))

    def update(client: Any, object_id: int, body: dict[str, Any], parent: Any = None) -> dict[str, Any]:
        return _unwrapped(client.request("PUT", f"/user/{name}/{object_id}", json=body))

    def delete(client: Any, object_id: int, parent: Any = None) -> None:
        try:
            client.request("DELETE", f"/user/{name}/{object_id}")
        except NotFoundError:
            pass  # already gone: what a delete wants

    def read(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
        values: dict[str, Any] = {}
        problems: list[ReadProblem] = []
        if isinstance(item.get("name"), str):
            values["name"] = item["name"]
        else:
            problems.append(ReadProblem("name", f"not a string ({type(item.get('name')).__name__})"))
        color = item.get("color")
        if color is None or color in COLORS:
            values["color"] = color
        else:  # a color of a newer platform: shown as drift, never guessed
            values["color"] = str(color)
        return values, problems

    def body(fields: dict[str, Any]) -> dict[str, Any]:
        return {key: fields[key] for key in ("name", "color") if key in fields}

    return Kind(
        name=name, manifest_kind=manifest_kind, title=title, spec_model=GroupingSpec,
        fields=(FieldFacts("name"), FieldFacts("color", default=None)),
        endpoints=Endpoints(list=list_all, create=create, update=update, delete=delete),
        read=read, create_body=body, update_body=body, unique_names=True)


FOLDER = grouping("folder", "Folder", "folder")
