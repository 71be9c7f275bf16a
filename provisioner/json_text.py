"""JSON written by the provisioner (request bodies, state records), and state records read back, through orjson.

The standard library's encoder took about 0.1 ms for a full assistant's state record (its floats and its
escaping) and half that for its request body: with a fleet of thousands, the largest share of a commit's CPU.
orjson (a Rust encoder, kept up to date for every CPython release, already the reader of the platform's answers:
answer_json.py) writes the same JSON value ten times faster, compact and in UTF-8. Where it would write anything
else, the standard library writes instead, so that nothing means other than what it meant before:

- NaN and infinities: orjson writes them as null; the standard library refuses them (ValueError), and so does
  this. A text orjson wrote with a null in it has its value's floats looked at (most have no null at all). A
  manifest cannot hold them, nor an answer's numbers, which are checked; an answer's free-form object could.
- what orjson refuses (an integer beyond 64 bits, a key that is not a string, a lone surrogate, a type it has no
  encoding for): the standard library's encoding, or its error.

Floats are written with the same shortest round-tripping digits by both; only the notation can differ
(`0.00006103515625` here, `6.103515625e-05` from the standard library): the same number to every JSON reader.
"""
from __future__ import annotations

import json
from math import isfinite
from typing import Any, Callable, Iterable, Iterator

import orjson

def holds(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether `test` is true of `value` or of anything inside it (through JSON's objects and arrays)."""
    if test(value):
        return True
    if isinstance(value, dict):
        return any(holds(item, test) for item in value.values())
    if isinstance(value, list):
        return any(holds(item, test) for item in value)
    return False


# The Python classes JSON's scalars are read as (exactly these: a subclass such as an IntEnum is none of them).
SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})

# A dataclass or a datetime is no JSON value: orjson would write one, the standard library refuses it (TypeError).
_STRICT = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_SORTED = orjson.OPT_SORT_KEYS | _STRICT
_NULL = b"null"
# The standard library's encoders, built once (json.dumps with any option builds one per call).
_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_RECORD = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def body(value: Any) -> bytes:
    """A request body: httpx's encoding (compact, UTF-8, no NaN), the same JSON value."""
    text = _written(value, _STRICT, _BODY)
    return text if text is not None else _BODY.encode(value).encode("utf-8")


def canonical(value: Any) -> str:
    """Canonical text of a state record: keys sorted at every level, compact, so that equal records are equal
    texts; no NaN (ValueError). What orjson refuses is written by the standard library, with non-ASCII escaped."""
    text = _written(value, _SORTED, _RECORD)
    return text.decode("utf-8") if text is not None else _RECORD.encode(value)


def _written(value: Any, option: int, standard: json.JSONEncoder) -> bytes | None:
    """orjson's text of `value`, or None where the `standard` encoder must write it (orjson refuses it). A NaN or
    an infinity, which orjson writes as null, raises the ValueError `standard` raises for it."""
    try:
        text = orjson.dumps(value, option=option)
    except TypeError:  # orjson.JSONEncodeError
        return None
    if _NULL in text and not _finite(value):
        standard.encode(value)  # raises ValueError
    return text


def _finite(value: Any) -> bool:
    """Whether a value orjson wrote holds no NaN and no infinity (a float subclass it would have refused)."""
    kind = type(value)
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return kind is not float or isfinite(value)
    for item in value:
        kind = type(item)
        if kind is float:
            if not isfinite(item):
                return False
        elif (kind is dict or kind is list or kind is tuple) and not _finite(item):
            return False
    return True


def read_canonical(text: str) -> Any | None:
    """The value of a text `canonical` wrote (orjson's output), or None for any other text (an older record, one
    edited by hand, a key twice, NaN, an integer beyond 64 bits...): the caller reads that one strictly.

    A text is canonical when writing its value gives it back byte for byte. That also proves it holds no key twice
    (reading keeps one of the two, and writing would give a shorter text), with every object's keys sorted and no
    whitespace, which is what the strict reader checks for and could disagree on. One read and one write in Rust
    cost a third of the standard library's read with its checks."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    try:
        written = orjson.dumps(value, option=_SORTED)
    except TypeError:
        return None
    return value if written == text.encode("utf-8", "surrogatepass") else None


class Items:
    """A list that `in_pieces` writes one item at a time, taking each from `items` as it goes: a plan's changes,
    whose document is hundreds of megabytes for a fleet, are never all held as text (nor as data) at once."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def in_pieces(members: Iterable[tuple[str, Any]], encoder: json.JSONEncoder,
              encode: Callable[[Any], str] | None = None) -> Iterator[str]:
    """The text `encoder` gives the object of `members` (at least one), in pieces: a piece per member, and a piece
    per item of a member whose value is `Items`. Joined, the pieces are byte for byte `encoder.encode` of the whole
    object. `members` is read as it is written, so a member may be decided by what was written before it (scrub's
    `masked`). `encode` writes each key, value and item (encoder.encode unless given)."""
    encode = encode or encoder.encode
    step = "" if encoder.indent is None else "\n" + " " * encoder.indent
    yield "{"
    for number, (key, value) in enumerate(members):
        yield (encoder.item_separator if number else "") + step + encode(key) + encoder.key_separator
        if isinstance(value, Items):
            yield from _list_in_pieces(value.items, encoder, encode, step)
        else:
            yield _indented(encode(value), step)
    yield step[:1] + "}"


def _list_in_pieces(items: Iterable[Any], encoder: json.JSONEncoder, encode: Callable[[Any], str],
                    step: str) -> Iterator[str]:
    """A member's list, an item a piece, as `in_pieces` writes the member: one level deeper."""
    inner = step + step[1:]
    empty = True
    for item in items:
        yield ("[" if empty else encoder.item_separator) + inner + _indented(encode(item), inner)
        empty = False
    yield "[]" if empty else step + "]"


def _indented(text: str, step: str) -> str:
    """A value's text written alone, moved to the depth `step` puts it at: a JSON text's only line breaks are
    between its tokens (a string's are escaped), each followed by its depth's indent."""
    return text.replace("\n", step) if step else text
