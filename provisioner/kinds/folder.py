"""Folders (API.md "Folders and labels"); labels have the same shape and are built here too (label.py).

Names are unique within an account, so a manifest adopts an existing object of its name rather than
creating a second (the platform would refuse it anyway: 422 "The name has already been taken").
The list is a page: paged by `current_page`, `per_page` and `total`, with `last_page` used only when
present (the reference's example has no `last_page`; the vendor's client expects a whole Laravel page).
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
import math
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..client import UnknownOutcomeError, _short, check_page, page_size
from ..errors import ApiError
from .answers import _shape, items_of
from .base import Endpoints, FieldFacts, Kind, ReadProblem

COLORS = ("gray", "slate", "red", "orange", "amber", "green", "teal", "blue", "purple", "pink")
PER_PAGE = 100  # the most a page holds: the fewest round trips
MAX_ITEMS = 100_000  # a total beyond this is refused before any page past the first is read


class GroupingSpec(BaseModel):
    """A folder's or a label's settings."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)  # see base.py

    name: Annotated[str, Field(min_length=1, max_length=255,
                               description="The name on the platform; unique among your folders (labels).")]
    color: Optional[Literal[COLORS]] = Field(None, description="One of " + ", ".join(COLORS)
                                             + "; left out or null: no color.")


def list_pages(client: Any, path: str, noun: str) -> list[dict[str, Any]]:
    """Every item of a paged list (API.md: folders and labels page by `current_page`, `per_page` and `total`, with
    `last_page` only when present), checked as the assistants' pages are: a page that contradicts itself, a total
    or page size that changes between pages, an item on two pages or fewer items than the total stop the run,
    and nothing is decided from them. The pages to read follow from the first page's total, so a platform that
    answers the same page again cannot keep a run reading."""
    where = f"GET {path}"

    def read(number: int) -> Any:
        return client.request("GET", path, params={"per_page": PER_PAGE, "page": number})

    def checked(answer: Any, number: int) -> dict[str, Any]:
        return check_page(answer, number, PER_PAGE, where, MAX_ITEMS, noun=noun, last_page_optional=True)

    answer = read(1)
    if isinstance(answer, list):  # a bare array is the whole list (it claims no page)
        return items_of(answer, where, named=True, noun=noun)
    first = checked(answer, 1)
    total, size = first["total"], page_size(first, PER_PAGE)
    pages = [first] + [checked(read(number), number) for number in range(2, max(1, math.ceil(total / size)) + 1)]
    for each in pages[1:]:
        if each["total"] != total or page_size(each, PER_PAGE) != size:
            raise ApiError(f"{where}: the total or the page size changed between pages; nothing was decided from it")
    items = [item for each in pages for item in each["data"]]
    if len({item["id"] for item in items}) != len(items):
        raise ApiError(f"{where}: a {noun} appeared on two pages; nothing was decided from it")
    return items


def _unwrapped(answer: Any, where: str, *, created: bool = False) -> dict[str, Any]:
    """The object a write answered. A 2xx without one ("[]", a string) is a write that happened or may have: a
    create's outcome is unknown (looked for before anything is sent again), an update's is the next read's.
    (It raised a ValueError, which a run reported as a bug in the provisioner, with no look for the object.)"""
    data = answer.get("data", answer) if isinstance(answer, dict) else None
    if isinstance(data, dict):
        return data
    text = f"{where}: the platform answered success without the object ({_short(_shape(answer))})"
    raise UnknownOutcomeError(text, status=200) if created else ApiError(text)


def grouping(name: str, manifest_kind: str, title: str) -> Kind:
    """The Kind of folders or labels: `name` is the singular of their paths (`/user/folder/{id}`)."""

    def list_all(client: Any, parent: Any = None) -> list[dict[str, Any]]:
        return list_pages(client, f"/user/{name}s", name)

    def create(client: Any, body: dict[str, Any], parent: Any = None) -> dict[str, Any]:
        return _unwrapped(client.request("POST", f"/user/{name}", json=body), f"POST /user/{name}", created=True)

    def update(client: Any, object_id: int, body: dict[str, Any], parent: Any = None) -> dict[str, Any]:
        path = f"/user/{name}/{object_id}"
        return _unwrapped(client.request("PUT", path, json=body), f"PUT {path}")

    def delete(client: Any, object_id: int, parent: Any = None) -> None:
        client.request("DELETE", f"/user/{name}/{object_id}")

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
        elif isinstance(color, str):  # a color of a newer platform: shown as drift, never guessed
            values["color"] = color
        else:  # a list, a number, a boolean: no color at all (it was read as its Python text, "[]", and updated)
            problems.append(ReadProblem("color", f"not a string or null ({type(color).__name__})"))
        return values, problems

    def body(fields: dict[str, Any]) -> dict[str, Any]:
        return {key: fields[key] for key in ("name", "color") if key in fields}

    def create_body(fields: dict[str, Any]) -> dict[str, Any]:
        """No color is no `color` key: API.md documents `null` on update (it clears the color), not on create,
        where a platform validating `color` as one of the names would refuse it."""
        return {key: value for key, value in body(fields).items() if value is not None or key != "color"}

    return Kind(
        name=name, manifest_kind=manifest_kind, title=title, spec_model=GroupingSpec,
        fields=(FieldFacts("name"), FieldFacts("color", default=None)),
        endpoints=Endpoints(list=list_all, create=create, update=update, delete=delete),
        read=read, create_body=create_body, update_body=body, unique_names=True)


FOLDER = grouping("folder", "Folder", "folder")
