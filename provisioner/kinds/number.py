"""Phone numbers (kind `number`): referenced, never bought or released (API.md "Phone numbers and SIP trunks").

A reference field of kind `number` (an assistant's `phone_number_id`, a campaign's `phone_number_ids`) takes:

- an E.164 string, `"+14155550100"`: the one number of the account with that `phone_number`;
- `{name: "Sales line"}`: the one number with that nickname;
- a raw id, `45`: it must be one of the account's numbers;
- a SIP trunk's address, `"siptrunk.office"`: a trunk IS a phone number, its id a phone-number id.

`resolve_number` is the pure function the planner calls with the account's numbers (`list_numbers`, read once
per plan): an id, an unresolved `{"$ref": address}` marker for a trunk not created yet, or the message of a plan
error. No match, or two, is an error, never a guess.

There is no manifest kind for numbers and no create, update or delete: buying costs money and releasing loses
the number, which nothing here ever does as a side effect (`reference_only`).
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict

from ..errors import ApiError, ProvisionerError
from ..plan import marker
from .answers import items_of
from .base import ADDRESS, Endpoints, FieldFacts, Kind, ReadProblem, Reference

ALL = "/user/phone-numbers/all"
TRUNK_KIND = "siptrunk"
SHOWN = 5   # numbers listed in a "no such number" message


def list_numbers(client, parent=None) -> list[dict[str, Any]]:
    """Every number of the account (rented, SIP trunks, caller IDs), each with an id and an E.164 string."""
    items = items_of(client.request("GET", ALL), f"GET {ALL}")
    for item in items:
        if not isinstance(item.get("phone_number"), str):
            raise ApiError(f"GET {ALL}: number {item['id']} has no phone_number string; nothing was decided from it")
    return items


def resolve_number(reference: Reference, numbers: list[dict[str, Any]],
                   addresses: Optional[Mapping[str, Optional[int]]] = None) -> int | dict[str, str] | str:
    """A phone-number reference -> its id, `{"$ref": address}` (a SIP trunk of the repository not created yet:
    known after apply), or a message saying why it resolves to nothing.

    `numbers` is GET /user/phone-numbers/all's items; `addresses` maps the SIP trunk addresses of the repository
    to their ids (None: not created yet)."""
    if reference.address is not None:
        return _by_address(reference.address, addresses or {})
    if reference.number is not None:
        found = [n for n in numbers if n.get("phone_number") == reference.number]
        return _one(found, f"phone number {reference.number}", numbers)
    if reference.name is not None:
        found = [n for n in numbers if n.get("nickname") == reference.name]
        return _one(found, f"phone number nicknamed {reference.name!r}", numbers)
    if reference.id is not None:
        if any(n["id"] == reference.id for n in numbers):
            return reference.id
        return f"phone number id {reference.id} is not one of this account's numbers{_listing(numbers)}"
    return "names no phone number"


def _by_address(address: str, addresses: Mapping[str, Optional[int]]) -> int | dict[str, str] | str:
    match = ADDRESS.fullmatch(address)
    kind = match.group("kind") if match else None
    if kind != TRUNK_KIND:
        return (f"{address} is not a phone number: a number is named by its E.164 string (\"+14155550100\"), "
                f"{{name: nickname}}, an id, or a SIP trunk's address (\"{TRUNK_KIND}.office\")")
    if address not in addresses:
        return f"{address}: no SipTrunk manifest has this name"
    trunk_id = addresses[address]
    return marker(address) if trunk_id is None else trunk_id


def _one(found: list[dict[str, Any]], what: str, numbers: list[dict[str, Any]]) -> int | str:
    if len(found) == 1:
        return found[0]["id"]
    if not found:
        return f"no {what} in this account{_listing(numbers)}"
    described = ", ".join(f"{n['id']} ({n.get('type') or 'unknown type'})" for n in found)
    return f"{len(found)} numbers match {what} (ids {described}): name one by its id"


def _listing(numbers: list[dict[str, Any]]) -> str:
    if not numbers:
        return " (it has no phone numbers)"
    shown = ", ".join(str(n["phone_number"]) for n in numbers[:SHOWN])
    more = f" and {len(numbers) - SHOWN} more" if len(numbers) > SHOWN else ""
    return f" (its numbers: {shown}{more})"


# --- the kind, as the graph sees it: listed and referenced, nothing else ---

class NumberSpec(BaseModel):
    """Numbers have no manifest: there is nothing to declare."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)  # see base.py


FIELDS = (FieldFacts("phone_number"), FieldFacts("nickname", default=None), FieldFacts("type"),
          FieldFacts("country_code"))


def read(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
    values = {name: item.get(name) for name in ("phone_number", "nickname", "type", "country_code")}
    problems = [ReadProblem("phone_number", "expected an E.164 string")] \
        if not isinstance(values["phone_number"], str) else []
    return values, problems


class NeverBoughtOrReleased(ProvisionerError):
    """A create or delete reached a phone number: a bug, refused here rather than costing money or a number."""


def _never(*args: Any, **kwargs: Any) -> Any:
    raise NeverBoughtOrReleased("phone numbers are only referenced: the provisioner never buys, changes or "
                                "releases one")


KIND = Kind(
    name="number",
    manifest_kind="",          # no manifest declares a number
    title="phone number",
    spec_model=NumberSpec,
    fields=FIELDS,
    endpoints=Endpoints(list=list_numbers, create=_never, update=None, delete=_never),
    read=read,
    create_body=_never,
    name_field="nickname",
    reference_only=True,
    accepts=(TRUNK_KIND,),
)
