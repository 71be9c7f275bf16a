"""The contract every managed kind fulfils: a table of facts, not a code path (docs/graph.md).

A kind is one small module in `provisioner/kinds/` that builds one `Kind`:
its manifest model (pydantic, strict), per field the facts the generic
planner needs (`FieldFacts`), its wire mapping (platform item -> manifest
terms; manifest fields with resolved ids -> request body) and its endpoints
(`Endpoints`). The planner, the graph walk, state, renderers, import and
export read these facts and never branch on a kind's name.

References. A field whose `FieldFacts.ref` names a kind takes, in a manifest,
one syntax for every kind:

- an address of a manifest in the repository: `"tool.order-lookup"`
  (`<kind>.<metadata.name>`; an assistant is `assistant.<name>`);
- a lookup by name of an object nobody manages: `{name: "Order lookup"}`;
- a raw platform id: `4412` (still works, as before);
- for phone numbers only, an E.164 string: `"+14155550100"`.

`parse_reference` turns such a value into a `Reference`; validation checks
addresses (unknown, wrong kind, cycle) with file:line before any call; the
graph resolves a reference to an id only once the referenced object exists
(until then a plan shows `(known after apply)`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal, Optional

from pydantic import AfterValidator, BaseModel, Field

# The address of any managed object: `<kind>.<name>`. Assistants keep their bare name in state (stores written
# before other kinds existed) and accept `assistant.<name>` wherever an address is taken.
NAME = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?"
ADDRESS = re.compile(rf"(?P<kind>[a-z]+)\.(?P<name>{NAME})")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class _Missing:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _Missing()


@dataclass(frozen=True)
class FieldFacts:
    """What the generic planner must know about one manifest field of a kind."""

    name: str
    # Shown back by the platform's read shape: compared with the platform (drift). False: write-only, compared with
    # what state recorded as sent (sip_password, tool_ids, a campaign's assistant_id, a document's content).
    shown: bool = True
    sensitive: bool = False      # never in plans, logs, state (a digest), JSON; a change shown by name only
    replace: bool = False        # cannot be updated in place: a change replaces the object (new id)
    ref: Optional[str] = None    # the kind this field points at (its value is a Reference, or a list of them)
    many: bool = False           # a list of references (tool_ids, label_ids, phone_number_ids)
    default: Any = NO_DEFAULT    # the platform's documented default when the manifest leaves it out
    # Send only when its value changed since state recorded it (sip_password re-creates voice trunks).
    send_only_on_change: bool = False


@dataclass(frozen=True)
class Reference:
    """A parsed reference value: exactly one of `address`, `name`, `id`, `number` is set."""

    kind: str
    address: Optional[str] = None   # "tool.order-lookup"
    name: Optional[str] = None      # lookup by name among objects nobody manages
    id: Optional[int] = None        # a raw platform id
    number: Optional[str] = None    # an E.164 phone number (kind "number" only)


def parse_reference(value: Any, kind: str) -> Reference | str:
    """A manifest value of a reference field -> Reference, or a message saying why it is not one."""
    if isinstance(value, bool):
        return "must be an address (\"kind.name\"), {name: ...} or an id"
    if isinstance(value, int):
        return Reference(kind, id=value) if 0 < value < 2**63 else "an id must be a positive integer"
    if isinstance(value, dict) and set(value) == {"name"} and isinstance(value["name"], str) and value["name"]:
        return Reference(kind, name=value["name"])
    if isinstance(value, str):
        if kind == "number" and E164.fullmatch(value):
            return Reference(kind, number=value)
        if ADDRESS.fullmatch(value):
            return Reference(kind, address=value)
    hint = " or an E.164 number (\"+14155550100\")" if kind == "number" else ""
    return f"must be an address such as \"{kind}.my-name\", {{name: ...}}, an id{hint}"


def reference_value(kind: str) -> Any:
    """The pydantic type of one reference value to `kind` in a spec model (a kind's `spec_model`, the assistant's
    spec): any of the syntaxes above, kept as written (resolving it is the graph's job), anything else refused
    with parse_reference's message. Use `list[reference_value("label")]` for a list of them."""

    def check(value: Any) -> Any:
        parsed = parse_reference(value, kind)
        if isinstance(parsed, str):
            raise ValueError(parsed)
        return value

    shapes: list[dict[str, Any]] = [
        {"type": "string", "pattern": rf"^[a-z]+\.{NAME}$", "description": f"the address of a manifest ({kind}.NAME)"},
        {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"],
         "additionalProperties": False, "description": "a lookup by name of an object nobody manages"},
        {"type": "integer", "minimum": 1, "description": "a raw platform id"},
    ]
    if kind == "number":
        shapes.insert(1, {"type": "string", "pattern": f"^{E164.pattern}$", "description": "an E.164 number"})
    return Annotated[Any, AfterValidator(check), Field(json_schema_extra={"anyOf": shapes, "x-reference": kind})]


@dataclass(frozen=True)
class ReadProblem:
    """A value in the platform's answer that could not be read: nothing is decided from it."""

    field: str
    message: str


@dataclass(frozen=True)
class Endpoints:
    """How one kind is listed, created, updated and deleted. `parent` is the id of the owning object for kinds
    listed under another (a knowledge base's documents), else None. Each function uses the client's generic
    request (rate budget, retries, deadlines, answer checks) and returns platform items (plain dicts)."""

    list: Callable[..., list[dict[str, Any]]]                 # (client, parent) -> items
    create: Callable[..., dict[str, Any]]                     # (client, body, parent) -> item
    update: Optional[Callable[..., dict[str, Any]]]           # (client, id, body, parent) -> item; None: no update
    delete: Callable[..., None]                               # (client, id, parent) -> None (404: already gone)
    # Before a delete whose endpoint is shared with another kind (a SIP trunk and a number release): confirm the
    # id really is this kind's, else refuse. (client, id) -> bool
    confirm_delete: Optional[Callable[..., bool]] = None
    # Asynchronous readiness (a document being processed): (client, item, parent) -> "ready" | "pending" | message
    # of failure. The graph waits for it as a step, with a deadline and progress.
    readiness: Optional[Callable[..., str]] = None


@dataclass(frozen=True)
class Kind:
    """One managed kind, as data."""

    name: str                      # "tool": address prefix, state kind column, JSON `kind`
    manifest_kind: str             # "Tool": the manifest's `kind:`
    title: str                     # "mid-call tool": for messages
    spec_model: type[BaseModel]    # the manifest's spec, strict; rules that span fields in its validators
    fields: tuple[FieldFacts, ...]
    endpoints: Endpoints
    # platform item -> (manifest-term values of the shown fields, problems); the id and name are read generically.
    read: Callable[[dict[str, Any]], tuple[dict[str, Any], list[ReadProblem]]]
    # (manifest fields with every reference resolved to ids, for create or update) -> request body
    create_body: Callable[[dict[str, Any]], dict[str, Any]]
    update_body: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None
    name_field: str = "name"       # the platform's name of an object: adoption and `{name: ...}` lookups
    unique_names: bool = False     # the platform refuses two of one name (folders, labels)
    # Replacing it destroys data the user cannot get back (a campaign's leads): apply refuses without a flag.
    replace_loses: Optional[str] = None
    # Whether a replacement creates the new object before destroying the old one (two exist for a moment).
    # None: yes, unless names are unique (then the old one must go first). A kind whose platform refuses two
    # alike for another reason (a SIP trunk's number, username and address) says False.
    create_before_destroy: Optional[bool] = None
    # Created, read and deleted with a parent (a document under its knowledge base): the parent's field.
    parent_field: Optional[str] = None
    # Never created or deleted by the provisioner, only referenced (phone numbers).
    reference_only: bool = False
    # Cross-manifest rules checked once the whole graph is known: (spec, graph) -> [(field path, message)]
    check_graph: Optional[Callable[..., list[tuple[tuple, str]]]] = None

    @property
    def by_name(self) -> dict[str, FieldFacts]:
        return {f.name: f for f in self.fields}

    def facts(self, name: str) -> FieldFacts:
        return self.by_name[name]
