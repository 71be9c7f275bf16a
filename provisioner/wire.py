"""The one place that knows the platform's shapes: the read shape, both create dialects, and the catalogues' ids.

The manifest speaks one vocabulary (spec.py). The platform reads assistants back
in a third shape with its own value types (API.md, "List: the read shape"):
`"0.70"` for 0.7, `1`/`0` for booleans, `"de"` plus `language_id` for German,
model ids for model names, `type: outbound` for `calls_direction: make`. And it
takes creates in two dialects: v1 (the seed's names) and v2 (`name`,
`language_id`, `mode`, ...). Everything here converts between those and the
manifest's words; everything after it compares plain, normalised values.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from .json_text import SCALAR_TYPES
from .spec import CREATE_FIELDS, V2_ONLY_FIELDS

DIRECTION_TO_TYPE = {"receive": "inbound", "make": "outbound"}
TYPE_TO_DIRECTION = {v: k for k, v in DIRECTION_TO_TYPE.items()}
# Which models catalogue (`GET /user/assistants/models?type=`) serves an engine.
MODEL_TYPE = {"pipeline": "llm", "multimodal": "multimodal", "dualplex": "dualplex"}
MODEL_ID_FIELD = {"pipeline": "llm_model_id", "multimodal": "multimodal_model_id", "dualplex": "multimodal_model_id"}

# API.md: "Not shown back at all (write-only)". Every other setting is compared with the platform.
WRITE_ONLY_FIELDS: frozenset[str] = frozenset({
    "use_min_interrupt_words", "tool_ids", "secondary_languages", "tts_emotion_enabled", "chat_llm_fallback_id",
    "turn_detection_threshold", "reengagement_prompt", "voice_mail_message", "conversation_inactivity_timeout",
    "folder_id", "label_ids",
})
READABLE_FIELDS: frozenset[str] = frozenset(CREATE_FIELDS) - WRITE_ONLY_FIELDS

# Manifest field -> v2 create field, where the names differ.
V2_NAMES = {
    "assistant_name": "name",
    "calls_direction": "type",
    "engine_type": "mode",
    "filler_audios": "fillers",
    "record_call": "record",
    "max_call_duration": "max_duration",
    "re_engagement_interval": "reengagement_interval",
    "noise_cancellation": "enable_noise_cancellation",
    "who_speaks_first": "wait_for_customer",
    "language": "language_id",
    "secondary_languages": "secondary_language_ids",
}
# Settings that read back under another name than their (v1) create name.
READ_NAMES = {
    "assistant_name": "name",
    "calls_direction": "type",
    "engine_type": "mode",
    "filler_audios": "fillers",
    "record_call": "record",
    "max_call_duration": "max_duration",
    "re_engagement_interval": "reengagement_interval",
    "noise_cancellation": "enable_noise_cancellation",
    "who_speaks_first": "wait_for_customer",
    "end_call_tool": "tools",
}


class Unreadable(ValueError):
    """A read-shape value that cannot be turned into a manifest value."""


class _NotShown:
    def __repr__(self) -> str:
        return "NOT_SHOWN"


NOT_SHOWN = _NotShown()  # the item does not show this setting: compare it with the last applied spec


@dataclass
class Lookups:
    """The catalogues that turn ids into names and back. `models` is None when the platform has none."""

    languages: list[dict[str, Any]] = field(default_factory=list)
    # By type (llm, multimodal, dualplex). None, or a type that is missing or empty: the platform names no
    # models of it, so model names cannot be checked nor read back from ids.
    models: dict[str, list[dict[str, Any]] | None] | None = None

    def knows_models(self, engine: str) -> bool:
        return bool((self.models or {}).get(MODEL_TYPE[engine]))

    def language_name(self, *, id: Any = None, code: Any = None) -> str | None:
        for language in self.languages:
            if id is not None and language.get("id") == id:
                return str(language.get("name"))
            if code is not None and isinstance(code, str) and code and (
                    str(language.get("iso_2") or "").lower() == code.lower() or language.get("name") == code):
                return str(language.get("name"))
        return None

    def language_id(self, name: str) -> int:
        for language in self.languages:
            if language.get("name") == name:
                return language["id"]
        raise Unreadable(f"language {name!r} is not in the platform's languages catalogue")

    def model_name(self, engine: str, id: Any) -> str | None:
        for model in (self.models or {}).get(MODEL_TYPE[engine]) or []:
            if model.get("id") == id:
                return str(model.get("name"))
        return None

    def model_id(self, engine: str, name: str) -> int:
        for model in (self.models or {}).get(MODEL_TYPE[engine]) or []:
            if model.get("name") == name:
                return model["id"]
        raise Unreadable(f"model {name!r} is not in the platform's {MODEL_TYPE[engine]} models catalogue")


# --- reading: the read shape -> manifest values ---

def _integer(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unreadable(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    digits = value.strip().removeprefix("-") if isinstance(value, str) else ""
    # (ASCII digits only: "¹" is a digit to str.isdigit and no integer to int; one sign: "--5" is none either)
    if digits.isascii() and digits.isdigit() and len(value) < 20:
        return int(value)
    raise Unreadable(f"expected an integer, got {_short(value)}")


def _number(value: Any) -> float | None:
    """Numbers arrive as numbers or as decimal strings ("0.70", "1.10")."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unreadable(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and len(value) < 40:
        if _DECIMAL.fullmatch(value):  # "0.70", as the list shows numbers: the float its Decimal would make
            return float(value)
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return float(number)
    raise Unreadable(f"expected a number or a decimal string, got {_short(value)}")


# Plain decimal strings, for which float(text) is float(Decimal(text)) (both the nearest double; Decimal's float
# goes through its text).
_DECIMAL = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,15})?")


def _flag(value: Any) -> bool | None:
    """Booleans arrive as true/false or as 1/0."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return value.strip().lower() in ("1", "true")
    raise Unreadable(f"expected true/false or 1/0, got {_short(value)}")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Unreadable(f"expected a string, got {_short(value)}")


def _mapping(value: Any) -> dict:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise Unreadable(f"expected an object, got {_short(value)}")


def _enum(*allowed: str) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        if value is None or value in allowed:
            return value
        raise Unreadable(f"expected one of {', '.join(allowed)}, got {_short(value)}")
    return convert


def _list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise Unreadable(f"expected a list, got {_short(value)}")


def _post_call_schema(value: Any) -> list[dict]:
    items = []
    for item in _list(value):
        if not isinstance(item, dict):
            raise Unreadable(f"expected post_call_schema items to be objects, got {_short(item)}")
        kind = item.get("type")
        items.append({"name": item.get("name"), "type": "bool" if kind == "boolean" else kind,
                      "description": item.get("description")})
    return items


def _tool_items(value: Any) -> list[dict | str]:
    items = _list(value)
    for item in items:
        if not isinstance(item, (dict, str)) or (isinstance(item, dict) and not isinstance(item.get("type"), str)):
            raise Unreadable(f"expected tools to be objects with a type (or names), got {_short(item)}")
    return items


def _end_call_tool(value: Any) -> Any:
    for item in _tool_items(value):
        if item == "end_call":
            return NOT_SHOWN  # an older answer names the tool without its description
        if isinstance(item, dict) and item["type"] == "end_call":
            description = item.get("description", (item.get("data") or {}).get("description"))
            return {"description": description}
    return None


def _built_in_tools(value: Any) -> Any:
    items = [i for i in _tool_items(value) if i != "end_call" and not (isinstance(i, dict) and i["type"] == "end_call")]
    if any(isinstance(i, str) for i in items):
        return NOT_SHOWN
    return [{k: v for k, v in item.items() if v is not None} for item in items]


def _filler_config(value: Any) -> dict | None:
    if value is None:
        return None
    return {k: v for k, v in _mapping(value).items() if v}


# Readable settings shown under their own (v1) name, with the type they are read as.
_SAME_NAME: dict[str, Callable[[Any], Any]] = {
    "voice_id": _integer, "phone_number_id": _integer, "timezone": _text, "initial_message": _text,
    "system_prompt": _text, "variables": _mapping, "post_call_evaluation": _flag, "is_webhook_active": _flag,
    "webhook_url": _text, "send_webhook_only_on_completed": _flag, "include_recording_in_webhook": _flag,
    "allow_interruptions": _flag, "endpoint_type": _enum("vad", "ai"), "max_silence_duration": _integer,
    "min_interrupt_words": _integer, "endpoint_sensitivity": _number, "interrupt_sensitivity": _number,
    "llm_temperature": _number, "voice_stability": _number, "voice_similarity": _number, "speech_speed": _number,
    "ambient_sound_volume": _number, "end_call_on_voicemail": _flag, "post_call_schema": _post_call_schema,
    # v2 settings the list shows under their own names
    "ringing_time": _integer, "max_initial_silence_duration": _integer, "filler_config": _filler_config,
    "knowledgebase_id": _integer,
    # Any text (API.md: the list reference's example reads back "semantic", which no request sends): shown as drift.
    "knowledgebase_mode": _text,
    "ambient_sound": _enum("off", "office", "city", "forest", "crowded_room", "cafe", "nature"),
    "synthesizer_provider_id": _integer, "transcriber_provider_id": _integer,
    "conversation_ended_retrigger": _flag, "conversation_ended_webhook_url": _text,
}
_RENAMED: dict[str, Callable[[Any], Any]] = {
    "assistant_name": _text,
    "calls_direction": lambda v: TYPE_TO_DIRECTION[_enum("inbound", "outbound")(v)] if v is not None else None,
    "engine_type": _enum("pipeline", "multimodal", "dualplex"),
    "filler_audios": _flag, "record_call": _flag, "max_call_duration": _integer, "re_engagement_interval": _integer,
    "noise_cancellation": _flag,
    "who_speaks_first": lambda v: NOT_SHOWN if v is None else ("Customer" if _flag(v) else "AI assistant"),
    "end_call_tool": _end_call_tool,
}


@dataclass(frozen=True)
class ReadProblem:
    field: str       # the manifest field
    read_field: str  # where it came from in the read shape
    message: str


# The read-shape types a converter returns unchanged (an integer for _integer, null for most): such a value is
# taken as it is, without a call per field of every item of a fleet's list.
_PASSING: dict[Callable[[Any], Any], frozenset[type]] = {
    _integer: frozenset({int, type(None)}), _flag: frozenset({bool, type(None)}),
    _text: frozenset({str, type(None)}), _mapping: frozenset({dict}), _number: frozenset({type(None)}),
    _filler_config: frozenset({type(None)}),
}
# Enums (and calls_direction) read null as null.
_NULL_AS_NULL = frozenset({"endpoint_type", "knowledgebase_mode", "ambient_sound", "calls_direction", "engine_type"})

# (manifest field, read-shape field, converter, types it passes unchanged) for every setting read by name.
_READERS: tuple[tuple[str, str, Callable[[Any], Any], frozenset[type]], ...] = tuple(
    (name, read_name, convert,
     _PASSING.get(convert, frozenset({type(None)}) if name in _NULL_AS_NULL else frozenset()))
    for name, read_name, convert in (
        tuple((name, name, convert) for name, convert in _SAME_NAME.items())
        + tuple((name, READ_NAMES[name], convert) for name, convert in _RENAMED.items())
        + (("tools", "tools", _built_in_tools),)))


_NAMES = tuple(name for name, _, _, _ in _READERS)
_ALL_READ = operator.itemgetter(*(read_name for _, read_name, _, _ in _READERS))
# The types of an item's values (a tuple, in _READERS' order) -> the readers whose converter they need. A fleet's
# items share a few such shapes: the rest of their values are taken as read, in one step.
_CONVERSIONS: dict[tuple[type, ...], tuple[tuple[str, str, Callable[[Any], Any], int], ...]] = {}


def read_fields(item: dict[str, Any], lookups: Lookups) -> tuple[dict[str, Any], list[ReadProblem]]:
    """The manifest values an item of the list shows (settings it does not show are left out)."""
    try:
        raws = _ALL_READ(item)
    except KeyError:  # an item without some setting: field by field
        return _read_each(item, lookups)
    conversions = _conversions(tuple(map(type, raws)))
    fields = dict(zip(_NAMES, raws))  # in _READERS' order; a converted value keeps its place
    problems: list[ReadProblem] = []
    for name, read_name, convert, index in conversions:
        raw = raws[index]
        try:
            value = convert(raw)
        except (Unreadable, KeyError) as error:
            problems.append(ReadProblem(name, read_name, str(error) if isinstance(error, Unreadable)
                                        else f"unexpected value {_short(raw)}"))
            del fields[name]
            continue
        if value is NOT_SHOWN:
            del fields[name]
        else:
            fields[name] = value
    _read_language(item, lookups, fields, problems)
    _read_model(item, lookups, fields, problems)
    return fields, problems


# Read-shape values whose conversion a list read remembers (read_items): equal values of one of these types are
# the same value (a boolean is never taken for a number here: the item's shape, its values' types, is in the key).
# A float too: only -0.0 and 0.0 are equal and not alike, and a converter that gives back its value (_number) keeps
# the item's own (see `values` below); no other converter reads a float as itself.
_KEYED = SCALAR_TYPES
# What a remembered conversion may give: values no caller can change (a {} or [] is converted anew for each item).
_SHAREABLE = SCALAR_TYPES


@dataclass(frozen=True)
class _Shape:
    """One shape of items (the types of their values, in _READERS' order): which conversions a list read
    remembers by value (`keyed`, taken with `keys`), and which it makes for each item (`each`)."""

    keys: Callable[[tuple], tuple]
    keyed: tuple[tuple[str, int], ...]  # (name, index in the item's values)
    each: tuple[tuple[str, str, Callable[[Any], Any], int], ...]
    remembered: dict = field(default_factory=dict)  # (values, language and model ids) -> (values, removed, extra)
    # index of an `each` value -> what its converter makes of an empty list (None, NOT_SHOWN, or [], made anew)
    empty: dict = field(default_factory=dict)


def _conversions(shape: tuple[type, ...]) -> tuple[tuple[str, str, Callable[[Any], Any], int], ...]:
    """The readers an item of this shape needs a conversion from: (name, read name, converter, index)."""
    conversions = _CONVERSIONS.get(shape)
    if conversions is None:
        if len(_CONVERSIONS) > 1000:  # a hostile platform's many shapes must not grow it without end
            _CONVERSIONS.clear()
        conversions = _CONVERSIONS[shape] = tuple(
            (name, read_name, convert, index) for index, ((name, read_name, convert, passing), kind)
            in enumerate(zip(_READERS, shape)) if kind not in passing)
    return conversions


def read_items(items: list[dict[str, Any]], lookups: Lookups) -> list[tuple[dict[str, Any], list[ReadProblem]]]:
    """read_fields of each item of one list read. A fleet's items repeat a few values field by field ("0.70",
    "inbound", the language and model ids): each conversion of such values, and the catalogue look-ups, are made
    once per distinct set of them, and taken from there for the other items (in a few C calls per item)."""
    shapes: dict[tuple[type, ...], _Shape] = {}
    return [_read_remembered(item, lookups, shapes) for item in items]


def _read_remembered(item: dict[str, Any], lookups: Lookups,
                     shapes: dict[tuple[type, ...], _Shape]) -> tuple[dict[str, Any], list[ReadProblem]]:
    try:
        raws = _ALL_READ(item)
        ids = (item.get("language_id"), item.get("language"), item.get("llm_model_id"), item.get("multimodal_model_id"))
        shape = tuple(map(type, raws))
        known = shapes.get(shape)
        if known is None:
            known = shapes[shape] = _shape_of(shape)
        key = (known.keys(raws), ids, tuple(map(type, ids)))
        remembered = known.remembered.get(key)
    except (KeyError, TypeError):  # a setting missing, or a value that is no key (a list for an id): as it is
        return read_fields(item, lookups)
    if remembered is None:
        fields, problems = read_fields(item, lookups)
        if not problems:
            # A value given back as it was read (an enum's text, a finite float) stays the item's own.
            values = {name: fields[name] for name, index in known.keyed
                      if name in fields and fields[name] is not raws[index]}
            if _SHAREABLE.issuperset(map(type, values.values())):
                extra = {name: fields[name] for name in ("language", "llm_model") if name in fields}
                known.remembered[key] = (values, tuple(n for n, _ in known.keyed if n not in fields), extra)
        return fields, problems
    values, removed, extra = remembered
    fields = dict(zip(_NAMES, raws))
    fields.update(values)
    for name in removed:
        del fields[name]
    empty = known.empty
    for name, _, convert, index in known.each:
        raw = raws[index]
        if type(raw) is list and not raw and index in empty:  # an empty list, read before: a new [] or None
            value = empty[index]
            if value is not None and value is not NOT_SHOWN:
                value = []
        else:
            try:
                value = convert(raw)
            except (Unreadable, KeyError):
                return read_fields(item, lookups)  # a problem: read as ever, for its message and order
            if type(raw) is list and not raw and (value is None or value is NOT_SHOWN or value == []
                                                  and type(value) is list):
                empty[index] = value
        if value is NOT_SHOWN:
            del fields[name]
        else:
            fields[name] = value
    fields.update(extra)
    return fields, []


def tuple_getter(keys: tuple) -> Callable[[Any], tuple]:
    """The values at `keys` of a mapping or a sequence, as a tuple (itemgetter's, whatever their number)."""
    if len(keys) >= 2:
        return operator.itemgetter(*keys)
    return (lambda values: ()) if not keys else (lambda values, key=keys[0]: (values[key],))


def _shape_of(shape: tuple[type, ...]) -> _Shape:
    conversions = _conversions(shape)
    keyed = [c for c in conversions if shape[c[3]] in _KEYED]
    return _Shape(tuple_getter(tuple(c[3] for c in keyed)), tuple((c[0], c[3]) for c in keyed),
                  tuple(c for c in conversions if c not in keyed))


def _read_each(item: dict[str, Any], lookups: Lookups) -> tuple[dict[str, Any], list[ReadProblem]]:
    fields: dict[str, Any] = {}
    problems: list[ReadProblem] = []
    for name, read_name, convert, passing in _READERS:
        if read_name not in item:
            continue
        raw = item[read_name]
        if type(raw) in passing:
            fields[name] = raw
            continue
        try:
            value = convert(raw)
        except (Unreadable, KeyError) as error:
            problems.append(ReadProblem(name, read_name, str(error) if isinstance(error, Unreadable)
                                        else f"unexpected value {_short(raw)}"))
            continue
        if value is not NOT_SHOWN:
            fields[name] = value
    _read_language(item, lookups, fields, problems)
    _read_model(item, lookups, fields, problems)
    return fields, problems


def _read_language(item: dict, lookups: Lookups, fields: dict, problems: list[ReadProblem]) -> None:
    language_id, code = item.get("language_id"), item.get("language")
    if language_id is not None:
        name = lookups.language_name(id=language_id)
        if name is None:
            problems.append(ReadProblem("language", "language_id",
                                        f"language_id {_short(language_id)} is not in the languages catalogue"))
        else:
            fields["language"] = name
    elif code is not None:
        name = lookups.language_name(code=code)
        if name is None:
            problems.append(ReadProblem("language", "language", f"language {_short(code)} matches no language's "
                                                                "iso_2 code or name in the languages catalogue"))
        else:
            fields["language"] = name
    # Both null: the platform does not say; compare with the last applied spec.


def _read_model(item: dict, lookups: Lookups, fields: dict, problems: list[ReadProblem]) -> None:
    engine = fields.get("engine_type")
    if engine is None or not lookups.knows_models(engine):
        return  # without a models catalogue, ids cannot be named: llm_model is then compared as write-only
    read_name = MODEL_ID_FIELD[engine]
    model_id = item.get(read_name)
    if model_id is None:
        return
    name = lookups.model_name(engine, model_id)
    if name is None:
        problems.append(ReadProblem("llm_model", read_name, f"{read_name} {_short(model_id)} is not in the "
                                                            f"{MODEL_TYPE[engine]} models catalogue"))
    else:
        fields["llm_model"] = name


PROJECTED_FIELDS = frozenset({"tools", "filler_config"})  # compared in the manifest's terms (comparable())


def comparable(name: str, remote: Any, desired: Any) -> Any:
    """The platform's value in the terms a manifest states it in, so that only what it says is compared.

    Nested keys that a manifest's tool or post-call item leaves out are the platform's business (it may fill
    in its own defaults there); empty filler lists are the same as none.
    """
    if name == "tools" and isinstance(remote, list) and isinstance(desired, list) and len(remote) == len(desired):
        return [{k: r.get(k) for k in d} if isinstance(r, dict) and isinstance(d, dict) and r.get("type") == d.get("type")
                else r for r, d in zip(remote, desired)]
    if name == "filler_config":
        return {k: v for k, v in remote.items() if v} if isinstance(remote, dict) else remote
    return remote


def desired_comparable(name: str, value: Any) -> Any:
    if name == "filler_config" and isinstance(value, dict):
        return {k: v for k, v in value.items() if v}
    return value


# --- writing: manifest values -> a create or update body in a dialect ---

def create_body(fields: dict[str, Any], dialect: str, lookups: Lookups) -> dict[str, Any]:
    """The create request for the fields a manifest sets (the platform fills in the rest with its defaults)."""
    return to_dialect(fields, dialect, lookups, engine=fields["engine_type"])


def to_dialect(fields: dict[str, Any], dialect: str, lookups: Lookups, *, engine: str) -> dict[str, Any]:
    """Manifest values as request fields of a dialect (PUT takes the same fields as create)."""
    if dialect != "v2":
        return {k: v for k, v in fields.items() if k not in V2_ONLY_FIELDS}
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "language":
            body["language_id"] = lookups.language_id(value) if value is not None else None
        elif name == "llm_model":
            body[MODEL_ID_FIELD[engine]] = lookups.model_id(engine, value) if value is not None else None
        elif name == "calls_direction":
            body["type"] = DIRECTION_TO_TYPE[value]
        elif name == "who_speaks_first":
            body["wait_for_customer"] = value == "Customer"
        elif name == "secondary_languages":
            body["secondary_language_ids"] = [lookups.language_id(n) for n in value] if value is not None else None
        elif name in ("end_call_tool", "tools"):
            continue
        else:
            body[V2_NAMES.get(name, name)] = value
    if "end_call_tool" in fields or "tools" in fields:
        # v2 has one `tools` array, replaced whole: the built-in tools, then the end-call tool last (so a 422's
        # `tools.N` index is the manifest's own).
        end_call = fields.get("end_call_tool")
        body["tools"] = list(fields.get("tools") or []) + ([{"type": "end_call", **end_call}] if end_call else [])
    return body


def companions(changed: set[str], dialect: str) -> set[str]:
    """Fields an update must also send because the dialect carries them in one value with a changed one."""
    if dialect == "v2" and changed & {"end_call_tool", "tools"}:
        return {"end_call_tool", "tools"}
    return set()


_FROM_V2 = {v: k for k, v in V2_NAMES.items()}
# The required create fields only one dialect names: a 422 about several of the other dialect's means the
# platform takes that other dialect (API.md, "Create: two dialects").
DIALECT_ONLY_REQUIRED = {"v1": frozenset({"assistant_name", "language", "calls_direction", "engine_type"}),
                         "v2": frozenset({"name", "language_id", "type", "mode"})}


def manifest_field(wire_key: str, dialect: str) -> str:
    """The manifest path for a 422 error key (`name` -> `assistant_name`, `language_id` -> `language`). v2's names
    are mapped back whichever dialect was sent: a platform of the other dialect answers in its own words."""
    head, _, rest = wire_key.partition(".")
    if head in ("llm_model_id", "multimodal_model_id"):
        return "llm_model"
    if dialect == "v2" or head not in CREATE_FIELDS:  # v1's own names are the manifest's
        head = _FROM_V2.get(head, head)
    return head + ("." + rest if rest else "")


def dialect_asked_for(sent: str, error_keys) -> str | None:
    """The other dialect, when a 422 to a body in `sent` names several fields only that dialect requires."""
    other = "v2" if sent == "v1" else "v1"
    heads = {str(key).partition(".")[0] for key in error_keys}
    return other if len(heads & DIALECT_ONLY_REQUIRED[other]) >= 2 else None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
