"""The syntax of a reference to another object in a spec (`phone_number_id`, `tool_ids`, `label_ids`, ...): an
address, {name: ...}, an id or, for a number, an E.164 number; and the pydantic type that checks it.

Apart from kinds/base.py, which re-exports it, because the assistant's spec (spec.py) needs it while the kinds'
package imports spec.py: importing the kinds' base imports the whole registry of kinds first, so a program (or a
command) that imported spec.py or wire.py before the kinds failed on that circle.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, Field

from .patterns import LazyPattern

# The address of any managed object: `<kind>.<name>`. Assistants keep their bare name in state (stores written
# before other kinds existed) and accept `assistant.<name>` wherever an address is taken.
NAME = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?"
ADDRESS = LazyPattern(rf"(?P<kind>[a-z]+)\.(?P<name>{NAME})")

E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True)
class Reference:
    """A parsed reference value: exactly one of `address`, `name`, `id`, `number` is set."""

    kind: str
    address: Optional[str] = None   # "tool.order-lookup"
    name: Optional[str] = None      # lookup by name among objects nobody manages
    id: Optional[int] = None        # a raw platform id
    number: Optional[str] = None    # an E.164 phone number (kind "number" only)


def parse_reference(value: Any, kind: str) -> Reference | str:
    """A manifest value of a reference field -> Reference, or a message saying why it is not one.

    Validation and the graph parse every reference, and a fleet's assistants name the same few objects: the
    answers for text and integer values are kept (both kinds of answer are immutable). The key holds the value's
    type: True and 1 are equal keys of a dict, but not the same reference."""
    key = (type(value), value, kind)
    if key[0] is str or key[0] is int:
        found = _PARSED.get(key)
        if found is None:
            if len(_PARSED) >= _PARSED_LIMIT:
                _PARSED.clear()
            found = _PARSED[key] = _parse_reference(value, kind)
        return found
    return _parse_reference(value, kind)


_PARSED: dict[tuple[type, Any, str], "Reference | str"] = {}
_PARSED_LIMIT = 100_000  # a hostile repository's many distinct values must not grow it without end


def _parse_reference(value: Any, kind: str) -> Reference | str:
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
    from .kinds import KINDS  # the registry imports this module: read it when asked

    example = KINDS[kind].address_targets[0] if kind in KINDS else kind
    return f"must be an address such as \"{example}.my-name\", {{name: ...}}, an id{hint}"


def reference_value(kind: str) -> Any:
    """The pydantic type of one reference value to `kind` in a spec model (a kind's `spec_model`, the assistant's
    spec): any of the syntaxes above, kept as written (resolving it is the graph's job), anything else refused
    with parse_reference's message. Use `list[reference_value("label")]` for a list of them."""

    # The texts and integers found to be references: a fleet's manifests write the same few thousands of times,
    # and this runs inside pydantic's validation for each (only exact str and int: True == 1, 1.0 == 1).
    known: set[Any] = set()

    def check(value: Any) -> Any:
        cls = value.__class__
        if (cls is str or cls is int) and value in known:
            return value
        parsed = parse_reference(value, kind)
        if isinstance(parsed, str):
            raise ValueError(parsed)
        if cls is str or cls is int:
            if len(known) >= _PARSED_LIMIT:
                known.clear()
            known.add(value)
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
