"""Reading manifests: YAML documents with the file and line of every value, then the envelope checks.

PyYAML's composer gives every node a start mark; we walk the node tree once to
record a location per value path, so any later error (schema, reference,
duplicate) can point at the line the user has to edit.
"""
from __future__ import annotations

import contextlib
import math
import functools
import os
import re
import stat
from dataclasses import dataclass, field, fields as dataclass_fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson
import yaml

from . import block_yaml
from .errors import Location, ManifestError, Problem
from .paths import forbidden, leads_out
from .scrub import carries_credentials
from .kinds import ASSISTANT, KINDS, MANIFEST_KINDS, kind_of_manifest, object_address
from .kinds.base import MANIFEST_FILE
from .patterns import LazyPattern
from .spec import (ALWAYS_SENSITIVE, CREATE_FIELDS, DEFAULT_DIALECT, checked_spec, closest, did_you_mean,
                   secret_fields, validate_model)

API_VERSION = "provisioner/v1"
KIND = "Assistant"
# Always used with fullmatch(): with match(), '$' also matches before a final newline ("alpha\n"). The text
# stays ^...$ because the manifest JSON Schema publishes it (schema.py), and ECMA regexes have no \A or \Z.
ADDRESS_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")
ENVELOPE_KEYS = ("apiVersion", "kind", "metadata", "spec")
METADATA_KEYS = ("name", "labels", "protect", "sensitive")
# Webhook URLs often carry credentials in their query string: they are always secret.
DEFAULT_SENSITIVE = ALWAYS_SENSITIVE
MANIFEST_SUFFIXES = (".yaml", ".yml")  # in any case: .YAML and .Yml count too
# Pseudo-file systems: a link into them would read the process's memory or environment (and its token).
SHOWN_CHARS = 60
MAX_PROBLEMS = 500  # listed per run; the rest are counted

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML document, its plain value, and where each value path starts in the file."""

    file: str
    content: Any
    locations: dict[Path_, Location]
    # Spec fields that must be kept secret whatever the manifest says (e.g. filled from ${env.X}).
    sensitive: frozenset[str] = frozenset()
    # False when its file's text holds no "${" at all: there is nothing to substitute (variables.py).
    may_reference: bool = True
    # The file relative to the project's root (the folder of provisioner.yaml), as state records it: the same from
    # whichever folder a run starts in (set by workflow.manifests.validate; `file` is relative to that folder).
    source: str | None = None
    # True when a ${var.X} or ${env.X} in it could not be substituted (overlays.final_documents said why): it is
    # no manifest, but its address is one, so a reference to it is not "names no manifest".
    unresolved: bool = False

    @property
    def state_source(self) -> str:
        """What state records as this document's file."""
        return self.source if self.source is not None else self.file

    def locate(self, path: Iterable[str | int] = ()) -> Location:
        """The location of the deepest existing value on `path` (a missing field points at its parent)."""
        path = tuple(path)
        if path not in self.locations:
            path = self.written(path)
        while path not in self.locations:
            path = path[:-1]
        return self.locations[path]

    def written(self, path: tuple) -> tuple:
        """`path` with each mapping key as the file writes it. Locations are keyed by a key's text; a key YAML reads
        as another type (`on:` is true, `404:` a number) is found by reading each sibling key's text the same
        way. For problems' paths only (it scans the locations)."""
        out: tuple = ()
        for part in path:
            if out + (part,) not in self.locations:
                siblings = [key[-1] for key in self.locations if len(key) == len(out) + 1 and key[:-1] == out
                            and isinstance(key[-1], str)]
                if not isinstance(part, str):
                    # pydantic's paths carry a true key as 1: an exact match first, then a key read as a boolean.
                    part = next((text for text in siblings if _reads_as(text, part)),
                                next((text for text in siblings if _reads_as(text, part, loosely=True)), part))
                else:  # a key pydantic carries as text, "None" for a null key (`~:`, `null:`)
                    part = next((text for text in siblings if _reads_as_text(text, part)), part)
            out += (part,)
        return out


def _reads_as_text(text: str, shown: str) -> bool:
    """Whether a key written as `text` is read as a value other than a string that pydantic shows as `shown`."""
    read = _read_key(text)
    return read is not _UNREADABLE and not isinstance(read, str) and str(read) == shown


def _reads_as(text: str, value: Any, loosely: bool = False) -> bool:
    """Whether a key written as `text` is read as `value`, of its very type (true is not 1) unless `loosely`."""
    read = _read_key(text)
    return read == value and (type(read) is type(value) or (loosely and isinstance(read, bool)))


_UNREADABLE = object()  # a key YAML cannot read


def _read_key(text: str) -> Any:
    """The value YAML reads a key written as `text` as, or _UNREADABLE."""
    try:
        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - a YAMLError, or a key like `2024-02-30` that YAML cannot build (ValueError)
        return _UNREADABLE


@dataclass(frozen=True)
class Manifest:
    """A validated manifest of any kind: an assistant (`spec` an AssistantSpec) or a registered kind (`spec` its
    `Kind.spec_model`). Its address is `<kind>.<metadata.name>`, except an assistant's: the bare name."""

    address: str
    spec: Any  # AssistantSpec for assistants
    labels: dict[str, str]
    protect: bool
    sensitive: frozenset[str]
    document: Document = field(repr=False, compare=False)
    kind: str = ASSISTANT

    @functools.cached_property
    def fields(self) -> dict[str, Any]:
        """The create fields this manifest sets, as JSON values (the defaults it leaves out are not here).
        Computed once: a plan reads it many times per manifest. Callers must not modify it.
        References are as written (addresses, lookups, ids) unless `with_fields` resolved them."""
        return self.spec.model_dump(mode="json", exclude_unset=True)

    @property
    def name(self) -> str:
        """metadata.name"""
        return self.address if self.kind == ASSISTANT else self.address.split(".", 1)[1]

    @property
    def platform_name(self) -> str:
        """The object's name on the platform (adoption by name, `{name: ...}` lookups)."""
        if self.kind == ASSISTANT:
            return self.spec.assistant_name
        name = getattr(self.spec, KINDS[self.kind].name_field)
        return "" if name is None else str(name)  # a SIP trunk without a nickname has none (not 'None')

    def with_fields(self, fields: dict[str, Any]) -> "Manifest":
        """The same manifest whose `fields` are `fields` (its references resolved to ids or {"$ref": ...}).

        What dataclasses.replace(self) makes (the same dataclass fields, none of what is kept beside them), without
        its per-call look-up of the fields and its keyword call of __init__: a plan resolves every assistant."""
        cls = type(self)
        resolved = object.__new__(cls)
        own, new = self.__dict__, resolved.__dict__
        for name in _init_fields(cls):
            new[name] = own[name]
        new["fields"] = fields  # cached_property's slot: `spec` keeps the manifest's words
        return resolved

    def location(self, *path: str | int) -> Location:
        return self.document.locate(path)


@functools.cache
def _init_fields(cls: type) -> tuple[str, ...]:
    """The names of a manifest class's dataclass fields (what its __init__ sets)."""
    return tuple(f.name for f in dataclass_fields(cls) if f.init)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one manifest file may make the loader do, so a hostile file fails fast and small.

    Each is raisable with `--manifest-limit NAME=VALUE` (names: bytes, depth, nodes, aliases, int-digits).
    """

    bytes: int = 2 * 1024 * 1024   # file size; a bigger file is never read whole
    depth: int = 64                # nesting of mappings and lists, aliases expanded
    nodes: int = 100_000           # values in one file, every alias use counted as the values it stands for
    aliases: int = 1_000           # uses of YAML aliases (*name) in one file
    int_digits: int = 100          # characters of one integer (the platform's are 64-bit: 19 digits)

    NAMES = {"bytes": "bytes", "depth": "depth", "nodes": "nodes", "aliases": "aliases", "int-digits": "int_digits"}

    @classmethod
    def parse(cls, settings: Iterable[str]) -> "Limits":
        """From NAME=VALUE strings (VALUE may end in k, m or g: binary multiples); ValueError if malformed."""
        changes: dict[str, int] = {}
        for setting in settings:
            name, sep, value = str(setting).partition("=")
            attribute = cls.NAMES.get(name.strip().lower())
            match = re.fullmatch(r"\s*(\d{1,15})\s*([kmg]?)i?b?\s*", value, re.IGNORECASE)
            if not sep or attribute is None:
                raise ValueError(f"{_shown(setting)} is not NAME=VALUE with NAME one of {', '.join(cls.NAMES)}")
            if not match or int(match.group(1)) < 1:
                raise ValueError(f"{name}: {_shown(value)} is not a positive whole number")
            scale = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[match.group(2).lower()]
            changes[attribute] = int(match.group(1)) * scale
        return replace(cls(), **changes)


DEFAULT_LIMITS = Limits()


class _LimitError(yaml.MarkedYAMLError):
    """A manifest beyond a loader limit (or a shape we refuse), raised while composing: before any expansion."""

    def __init__(self, problem: str, mark: yaml.Mark | None, *, of_value: bool = False):
        super().__init__(problem=problem, problem_mark=mark)
        # About the value that starts at `mark` (raised as it is constructed): its field can be named.
        self.of_value = of_value


def _limit_hint(name: str) -> str:
    return f"; if the file is meant to be this way, raise it with --manifest-limit {name}=N"


class _BoundedConstruction:
    """Constructing values: an integer's length bounded, no NaN or infinity, dates kept as written, only the
    plain YAML types, and a clear message for an explicit tag a value does not fit."""

    limits: "Limits"
    _resolved: dict | None = None

    def resolve(self, kind, value, implicit):
        # PyYAML matches every plain scalar against its implicit-type patterns; a fleet repeats the same keys
        # and values thousands of times, so each answer is remembered for the file.
        # Without path resolvers (asserted below), a collection's tag and a quoted scalar's are the defaults.
        if kind is not yaml.ScalarNode:
            return _MAP if kind is yaml.MappingNode else _SEQ
        if not implicit[0]:
            return _STR
        memo = self._resolved
        if memo is None:
            memo = self._resolved = {}
        tag = memo.get(value)
        if tag is None:
            tag = memo[value] = super().resolve(kind, value, implicit)
        return tag

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError):
            # An explicit tag the value does not fit (`!!int ''`, `!!float x`, `!!bool maybe`): PyYAML's
            # constructors fail with whatever Python raised; the user needs the line and the tag.
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _LimitError(f"invalid YAML: {_clip(repr(node.value) if isinstance(node, yaml.ScalarNode) else 'this value')} "
                              f"is not a valid {_clip(tag)}", node.start_mark, of_value=True) from None

    def construct_yaml_int(self, node):
        if len(node.value) > self.limits.int_digits:
            raise _LimitError(f"an integer of {len(node.value)} characters is longer than the limit of "
                              f"{self.limits.int_digits}" + _limit_hint("int-digits"), node.start_mark,
                              of_value=True)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _LimitError(f"{_clip(node.value)} is not a finite number (JSON, and so the platform, has no "
                              "NaN or infinity)", node.start_mark, of_value=True)
        return value

    def construct_yaml_timestamp(self, node):
        # A date stays the text it was written as: the platform takes strings, and JSON has no dates.
        return self.construct_scalar(node)

    def construct_unsupported(self, node):
        raise _LimitError(f"the YAML tag {_clip(node.tag.replace('tag:yaml.org,2002:', '!!'))} is not supported in manifests (plain strings, "
                          "numbers, booleans, null, lists and mappings only)", node.start_mark, of_value=True)


_NOT_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
# The ASCII characters _NOT_PRINTABLE allows: tab, line feed, carriage return, space to '~'.
_ALLOWED_ASCII = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x7F)])
_BLOCK_ASCII = bytes(c for c in [0x0A, *range(0x20, 0x7F)] if c != ord("$"))  # what block_yaml takes, but `$`
_LIBYAML = getattr(yaml, "__with_libyaml__", False)
_LIBYAML_MAX_DEPTH = 1000  # libyaml's own nesting bound ("exceeded maximum nesting depth"), whatever ours is


def _allowed_text(text: str) -> bool:
    """Whether every character of the text is one PyYAML allows."""
    if text.isascii():  # the usual text: every character a tab, a line break or printable ASCII, at C speed
        return not text.encode("ascii").translate(None, _ALLOWED_ASCII)
    return _NOT_PRINTABLE.search(text) is None


def _check_printable(text: str) -> None:
    """PyYAML's own rule for the text (libyaml's message would not say which character is wrong)."""
    if _allowed_text(text):
        return
    match = _NOT_PRINTABLE.search(text)
    if match:
        raise yaml.reader.ReaderError("<manifest>", match.start(), ord(match.group()), "unicode",
                                      "special characters are not allowed")


if _LIBYAML:
    class _SafeBase(yaml.composer.Composer, yaml.cyaml.CParser, yaml.constructor.SafeConstructor,
                    yaml.resolver.Resolver):
        """libyaml scans and parses the text into events (most of the time loading takes); composing, where
        the limits below are counted, and constructing stay PyYAML's Python."""

        def __init__(self, stream: str):
            _check_printable(stream)
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:  # a PyYAML built without libyaml: the same loading, slower
    _SafeBase = yaml.SafeLoader


class _BoundedLoader(_BoundedConstruction, _SafeBase):
    """PyYAML's SafeLoader with bounds checked as nodes are composed and scalars constructed.

    Composition builds a graph in which an alias is the anchored node itself, so it stays as small as the
    text; everything after it (positions, construction, validation) walks that graph expanded. So each
    node's expanded size, height and characters are recorded as it is composed, every alias adds its
    target's to the file's running totals (checked at once), and an alias bomb or a deep nest stops before
    anything expands it. An alias to a node still being composed is a cycle.
    """

    def __init__(self, stream: str, limits: Limits):
        super().__init__(stream)
        self.limits = limits
        self._depth = 0
        self._aliases = 0
        self._file_nodes = 0
        self._file_chars = 0
        # id(node) -> (values, height, characters of its scalars), all with aliases expanded
        self._sizes: dict[int, tuple[int, int, int]] = {}

    def compose_document(self):
        node = super().compose_document()
        self._sizes.clear()  # aliases never reach into another document
        return node

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and target.end_mark is None:  # still being composed: it contains itself
                raise _LimitError(f"recursive alias *{_clip(event.anchor)}: the anchored value contains itself",
                                  event.start_mark)
            self._aliases += 1
            if self._aliases > self.limits.aliases:
                raise _LimitError(f"more than {self.limits.aliases} uses of YAML aliases in one file"
                                  + _limit_hint("aliases"), event.start_mark)
            node = super().compose_node(parent, index)
            # The running totals count what the file stands for: an alias adds all of its target again.
            size, _, chars = self._sizes[id(node)]
            self._count(size, chars, event.start_mark)
            return node
        self._count(1, 0, event.start_mark)
        self._depth += 1
        try:
            if self._depth > self.limits.depth:
                raise _LimitError(f"nested more than {self.limits.depth} levels deep" + _limit_hint("depth"),
                                  event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise _LimitError("a mapping key must be a plain value (a string, number or boolean), "
                                      "not a list or mapping", key.start_mark)
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        size, height = 1, 1
        chars = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
        if chars:
            self._count(0, chars, node.start_mark)
        for child in children:
            child_size, child_height, child_chars = self._sizes[id(child)]
            size += child_size
            height = max(height, child_height + 1)
            chars += child_chars
        if height > self.limits.depth:
            raise _LimitError(f"nested more than {self.limits.depth} levels deep once its aliases are expanded"
                              + _limit_hint("depth"), node.start_mark)
        self._sizes[id(node)] = (size, height, chars)
        return node

    def _count(self, values: int, chars: int, mark: yaml.Mark) -> None:
        """Add to the file's running totals, checked at once: a huge mapping is stopped part way through."""
        self._file_nodes += values
        self._file_chars += chars
        if self._file_nodes > self.limits.nodes:
            raise _LimitError(f"more than {self.limits.nodes} values in one file (each alias counts as the "
                              "values it stands for)" + _limit_hint("nodes"), mark)
        # Without aliases the text bounds this; with them, a long string repeated stands for far more.
        if self._file_chars > self.limits.bytes:
            raise _LimitError(f"more than {self.limits.bytes} characters of values in one file once its aliases "
                              "are expanded" + _limit_hint("bytes"), mark)


class _PlainLoader(_BoundedConstruction, yaml.CSafeLoader if _LIBYAML else yaml.SafeLoader):
    """For a text without anchors or aliases (most manifests): libyaml composes it too, since the graph is then
    no bigger than the text (bounded by the file size); depth, value count and keys are checked on each
    composed document before anything else walks it."""

    def __init__(self, stream: str, limits: "Limits"):
        _check_printable(stream)
        super().__init__(stream)
        self.limits = limits
        self._file_nodes = 0

    def build(self, root, file: str) -> tuple[Any, dict, list[Problem]] | None:
        """The document's value, the location of every value path and its duplicate keys, in one walk that also
        checks the limits; None for a document that needs PyYAML's own constructor (a merge key, another tag),
        which then gets the separate checks and walks."""
        counted = self._file_nodes
        locations: dict[Path_, Location] = {}
        problems: list[Problem] = []
        try:
            return self._value(root, (), 1, file, locations, problems), locations, problems
        except _NotPlain:
            self._file_nodes = counted
            self._check_tree(root)
            return None

    def _value(self, node, path: Path_, depth: int, file: str, locations: dict, problems: list[Problem],
               location: Location | None = None) -> Any:
        # The hot loop of loading a fleet (once per value): the limit checks of _counted are inlined, and a
        # Location is built as the plain tuple it is (NamedTuple's __new__ is a Python function). A mapping's
        # value is located at its key (`location`, given by the caller).
        self._file_nodes += 1
        if self._file_nodes > self.limits.nodes or depth > self.limits.depth:
            self._counted(node, depth)
        if location is None:
            mark = node.start_mark
            location = _location((file, mark.line + 1, mark.column + 1))
        locations[path] = location
        tag = node.tag
        kind = type(node)
        if kind is _ScalarNode:
            return node.value if tag == _STR else self._scalar(node)
        if kind is _MappingNode:
            if tag != _MAP:
                raise _NotPlain
            result: dict[Any, Any] = {}
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if type(key_node) is not _ScalarNode:
                    raise _LimitError("a mapping key must be a plain value (a string, number or boolean), "
                                      "not a list or mapping", key_node.start_mark)
                key_tag = key_node.tag
                if key_tag == _MERGE:
                    raise _NotPlain
                self._file_nodes += 1
                if self._file_nodes > self.limits.nodes or depth + 1 > self.limits.depth:
                    self._counted(key_node, depth + 1)
                name = key_node.value
                key = name if key_tag == _STR else self._scalar(key_node)
                key_mark = key_node.start_mark
                line = key_mark.line + 1
                if name in seen:
                    problems.append(Problem(f"duplicate key {_shown(name)} (first at line {seen[name]})",
                                            Location(file, line), _dotted(path + (name,))))
                seen[name] = line
                result[key] = self._value(value_node, path + (name,), depth + 1, file, locations, problems,
                                          _location((file, line, key_mark.column + 1)))
            return result
        if tag != _SEQ:
            raise _NotPlain
        return [self._value(item, path + (index,), depth + 1, file, locations, problems)
                for index, item in enumerate(node.value)]

    def _scalar(self, node) -> Any:
        constructor = self.yaml_constructors.get(node.tag) if node.tag in _PLAIN_SCALAR_TAGS else None
        if constructor is None:
            raise _NotPlain
        try:
            return constructor(self, node)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError):
            raise _NotPlain from None  # PyYAML's constructor path words this error

    def _counted(self, node, depth: int, counted: bool = True) -> None:
        """Raise if a limit is passed; counts the node first unless the caller did (`counted`)."""
        if not counted:
            self._file_nodes += 1
        if self._file_nodes > self.limits.nodes:
            raise _LimitError(f"more than {self.limits.nodes} values in one file (each alias counts as the "
                              "values it stands for)" + _limit_hint("nodes"), node.start_mark)
        if depth > self.limits.depth:
            raise _LimitError(f"nested more than {self.limits.depth} levels deep" + _limit_hint("depth"),
                              node.start_mark)

    def _check_tree(self, root) -> None:
        stack = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            self._counted(node, depth, counted=False)
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if not isinstance(key, yaml.ScalarNode):
                        raise _LimitError("a mapping key must be a plain value (a string, number or boolean), "
                                          "not a list or mapping", key.start_mark)
                    stack.append((key, depth + 1))
                    stack.append((value, depth + 1))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((item, depth + 1) for item in node.value)


for _loader in (_BoundedLoader, _PlainLoader):
    _loader.add_constructor("tag:yaml.org,2002:int", _BoundedConstruction.construct_yaml_int)
    _loader.add_constructor("tag:yaml.org,2002:float", _BoundedConstruction.construct_yaml_float)
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _BoundedConstruction.construct_yaml_timestamp)
    for _tag in ("binary", "set", "omap", "pairs"):
        _loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _BoundedConstruction.construct_unsupported)

_ScalarNode, _MappingNode = yaml.ScalarNode, yaml.MappingNode
_location = functools.partial(tuple.__new__, Location)  # Location(file, line, column) without its Python __new__
_STR, _MAP, _SEQ, _MERGE = (f"tag:yaml.org,2002:{t}" for t in ("str", "map", "seq", "merge"))
# The fast paths of _BoundedConstruction.resolve hold only while no loader resolves tags by path.
assert not _BoundedLoader.yaml_path_resolvers and not _PlainLoader.yaml_path_resolvers
assert (_STR, _MAP, _SEQ) == (yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG,
                              yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                              yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG)
_PLAIN_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp"))


_UNTYPED = object()


class _ScalarTyper(_BoundedConstruction, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """Types a plain scalar for the block reader (block_yaml.py) exactly as the loaders do: the same
    resolver, the same constructors (bounded), the same limits; anything but a plain value declines."""

    def __init__(self, limits: Limits):
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.limits = limits
        # The digits a decimal may have to be read by int() directly: within the limit, and far from the length
        # where int() itself refuses (sys.get_int_max_str_digits).
        self.digits = min(limits.int_digits, 18)
        self.values: dict[str, Any] = {}  # a fleet repeats the same keys and values: each typed once
        self.lines: dict[str, tuple] = {}  # the block reader's cache of what each line holds (block_yaml.py)

    def __call__(self, text: str) -> Any:
        value = self.values.get(text, _UNTYPED)  # not a try: a fleet's new values (`n: 17`) would each raise
        if value is not _UNTYPED:
            return value
        if text.isdigit() and text.isascii() and (text[0] != "0" or len(text) == 1) and len(text) <= self.digits:
            value = int(text)  # a plain decimal, what the resolver and construct_yaml_int make of it, in one call
        else:
            value = self._typed(text)
        if len(self.values) > 100_000:
            self.values.clear()
        self.values[text] = value
        return value

    def _typed(self, text: str) -> Any:
        tag = yaml.resolver.Resolver.resolve(self, _ScalarNode, text, (True, False))
        if tag == _STR:
            value = text
        else:
            constructor = _PlainLoader.yaml_constructors.get(tag) if tag in _PLAIN_SCALAR_TAGS else None
            if constructor is None:
                raise block_yaml.Decline
            try:
                value = constructor(self, _ScalarNode(tag, text, None, None))
            except Exception:  # whatever it is, PyYAML's path words it
                raise block_yaml.Decline from None
        return value


@functools.lru_cache(maxsize=4)
def _plain_scalar_typer(limits: Limits) -> _ScalarTyper:
    return _ScalarTyper(limits)


# The first characters of the plain scalars PyYAML may read as something other than a string.
_PLAIN_FIRST = frozenset(key for key in _PlainLoader.yaml_implicit_resolvers if key)
assert None not in _PlainLoader.yaml_implicit_resolvers  # no resolver for every first character
assert _PlainLoader.yaml_implicit_resolvers == yaml.resolver.Resolver.yaml_implicit_resolvers
_FAST_DEPTH = 200  # the block reader recurses per level; deeper (a raised limit) is PyYAML's


class _NotPlain(Exception):
    """A document the one-walk builder leaves to PyYAML's constructor."""


# Where an anchor or an alias may start; a text with none cannot expand beyond itself.
_ANCHOR_OR_ALIAS = LazyPattern(r"(?:^|[\s\[{,:?-])[&*][^\s\[\]{},]")


# Turns the loaded documents into the final ones (overlays, variables: see overlays.py) before validation.
Transform = Callable[[list[Document]], tuple[list[Document], list[Problem]]]
# The documents to read besides those of the files given (the files read): the moved blocks of the project's other
# manifest files (workflow.manifests.ProjectFiles), with their problems.
Outside = Callable[[list[Path]], tuple[list[Document], list[Problem]]]


def load_manifests(paths: Iterable[str | os.PathLike], *, dialect: str = DEFAULT_DIALECT,
                   transform: Transform | None = None, limits: Limits = DEFAULT_LIMITS,
                   skipped: list[str] | None = None, moves: list | None = None,
                   outside: Outside | None = None) -> list[Manifest]:
    """Every manifest under `paths`, validated for the API dialect; all problems raised together (ManifestError).

    Files under a directory without a YAML suffix are not manifests; their paths are appended to `skipped`
    (when given) so the caller can say so. Anything else that cannot be read is a problem, never skipped.
    The moved blocks found (moves.Move) are appended to `moves` when given, those `outside` gives too.
    """
    problems: list[Problem] = []
    files = find_manifest_files(paths, problems, skipped)
    documents, read_problems = load_documents(files, limits)
    if outside is not None:
        more, outside_problems = outside(files)
        documents += more
        read_problems += outside_problems
    if transform is not None:
        documents, transform_problems = transform(documents)
        read_problems += transform_problems
    manifests, parse_problems = parse_manifests(documents, dialect=dialect, moves=moves)
    problems += read_problems + parse_problems
    if problems:
        shown = [replace(p, message=_printable(p.message), field=p.field and _printable(p.field))
                 for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:  # a hostile file can hold 100,000 mistakes; a CI log need not
            shown.append(Problem(f"... and {len(problems) - MAX_PROBLEMS} more problems not shown"))
        raise ManifestError(shown)
    return manifests


def _printable(text: str) -> str:
    """`text` with whatever a terminal would act on (newlines, escape sequences) shown escaped instead."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def is_manifest_name(path: Path) -> bool:
    return path.suffix.lower() in MANIFEST_SUFFIXES


def is_hidden(name: str) -> bool:
    """A file or folder name a folder search leaves out (find_manifest_files): other tools' (.git, .github)."""
    return name.startswith(".") and name not in (".", "..")


def find_manifest_files(paths: Iterable[str | os.PathLike], problems: list[Problem],
                        skipped: list[str] | None = None, hidden: list[str] | None = None) -> list[Path]:
    """The files to read. A path given by name is read whatever its suffix; a directory is searched
    recursively (its hidden files and folders, named with a leading '.', left out, and appended to `hidden` when
    given), following links to directories (a link back into its own ancestry is a loop, reported);
    dangling links, FIFOs, sockets, devices and unreadable directories are problems, never skipped."""
    files: list[Path] = []
    skipped = skipped if skipped is not None else []

    def refuse(path: Path, why: str) -> None:
        # file:1, as every other problem: CI annotations and editors jump to it.
        problems.append(Problem(why, Location(display_path(path), 1)))

    def kind_of(path: Path) -> str | None:
        """'file', 'dir', or None after reporting why the path cannot be used."""
        try:
            info = path.stat()
        except FileNotFoundError:
            if path.is_symlink():
                refuse(path, "dangling symbolic link (its target does not exist)")
            else:
                problems.append(Problem(f"no such file or directory: {display_path(path)}"))
            return None
        except OSError as error:
            if error.errno == 40:  # ELOOP
                refuse(path, "symbolic link loop")
            else:
                refuse(path, f"cannot read ({error.strerror})")
            return None
        if forbidden(os.path.realpath(path)):
            refuse(path, "a link into /proc, /sys or /dev, which is not read")
            return None
        if stat.S_ISDIR(info.st_mode):
            return "dir"
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a socket"
                    if stat.S_ISSOCK(info.st_mode) else "a device or other special file")
            refuse(path, f"not a regular file but {kind}, so it is not read")
            return None
        return "file"

    def walk(directory: Path, ancestry: tuple[tuple[int, int], ...], allowed: tuple[str, ...]) -> None:
        try:
            info = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            refuse(directory, f"cannot read directory ({error.strerror})")
            return
        identity = (info.st_dev, info.st_ino)
        if identity in ancestry:
            refuse(directory, "symbolic link loop (a directory linked inside itself); not followed")
            return
        for entry in entries:
            if is_hidden(entry.name):
                # A repository's hidden files and folders are other tools' (.git, .github/workflows/*.yml,
                # .gitlab-ci.yml, .pre-commit-config.yaml): read as manifests, `validate .` failed on each.
                if hidden is not None:
                    hidden.append(display_path(Path(entry.path)))
                continue
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                kind = "dir"
            elif entry.is_file(follow_symlinks=False):
                kind = "file"
            else:  # a link (followed, checked) or something special (reported)
                kind = kind_of(path)
                # A link out of the checkout would let a pull request have the CI machine's own files read
                # (and their values quoted in errors).
                if kind and leads_out(path, allowed):
                    refuse(path, "a link out of the working directory and of the searched path, which is not "
                                 "followed")
                    kind = None
            if kind == "dir":
                walk(path, ancestry + (identity,), allowed)
            elif kind == "file":
                if is_manifest_name(path):
                    files.append(path)
                else:
                    skipped.append(display_path(path))

    for raw in paths:
        path = Path(raw)
        kind = kind_of(path)
        if kind == "dir":
            walk(path, (), (os.path.realpath(os.getcwd()), os.path.realpath(path)))
        elif kind == "file":
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for file in files:  # each file's real path worked out once: a narrow run lists every project file (ProjectFiles)
        real = file.resolve()
        if real not in seen:
            seen.add(real)
            unique.append(file)
    return unique


def manifest_sources(paths: Iterable[str | os.PathLike], limit: int) -> dict[str, tuple[Path, bytes]]:
    """Every manifest file under `paths`, by the name a Document gives its file (display_path): the path it was
    found at (a display name is for reading, not for opening: it escapes unprintable characters, and folds a `..`
    after a linked folder as text) and its bytes, what a command that writes manifests back (pull) compares with
    the disk before it writes. A file that cannot be read is left out (loading reports it)."""
    found: dict[str, tuple[Path, bytes]] = {}
    for file in find_manifest_files(paths, []):
        try:
            found[display_path(file)] = (file, _read_capped(file, limit))
        except (OSError, ValueError):
            continue
    return found


# Files read as the bytes they are about to hold (resolved path -> bytes): pull loads the manifests it would write,
# as every later run will, before it writes any (`reading_as`).
_PENDING: dict[Path, bytes] = {}


@contextlib.contextmanager
def reading_as(texts: dict[Path, bytes]):
    """Within it, each file of `texts` (resolved paths) is read as its bytes there, not as it is on disk."""
    _PENDING.update(texts)
    try:
        yield
    finally:
        for path in texts:
            _PENDING.pop(path, None)


def _read_capped(file: Path, limit: int) -> bytes:
    """The file's bytes; an OSError-like ValueError if it holds more than `limit` (never read whole)."""
    pending = _PENDING.get(Path(file).resolve()) if _PENDING else None
    if pending is not None:
        if len(pending) > limit:
            raise ValueError(f"the file is {len(pending)} bytes, more than the limit of {limit}" + _limit_hint("bytes"))
        return pending
    # O_NONBLOCK: if the file was swapped for a FIFO since it was checked, the open does not hang.
    descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError("not a regular file, so it is not read")
        data = handle.read(limit + 1)
    if len(data) > limit:
        size = os.stat(file).st_size
        raise ValueError(f"the file is {size if size > limit else 'more than ' + str(limit)} bytes, more than "
                         f"the limit of {limit}" + _limit_hint("bytes"))
    return data


def load_documents(files: Iterable[Path], limits: Limits = DEFAULT_LIMITS) -> tuple[list[Document], list[Problem]]:
    documents: list[Document] = []
    problems: list[Problem] = []
    for file in files:
        shown = display_path(file)
        try:
            data = _read_capped(file, limits.bytes)
        except OSError as error:
            problems.append(Problem(f"cannot read file: {error.strerror or error}", Location(shown, 1)))
            continue
        except ValueError as error:
            problems.append(Problem(str(error), Location(shown, 1)))
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            before = data[:error.start].decode("utf-8-sig")  # valid up to the bad byte
            line = line_at(before, len(before))
            # Manifests, provisioner.yaml, vars files, overlays and policies alike: the message names no one of them.
            problems.append(Problem(f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                                    "save the file as UTF-8", Location(shown, line)))
            continue
        found = _read_block_yaml(text, shown, limits)
        if found is None:  # not the usual manifest: PyYAML reads it
            found, file_problems = _load_yaml(text, shown, limits)
            problems += file_problems
        documents += found
    return documents, problems


# A `$` or a `{` written as a double-quoted scalar's escape (`"\x24{var.x}"`) makes a `${` the raw text lacks; so
# does a `$` before an escaped line break (`"$\` at a line's end, `{var.x}"` on the next), which joins the lines.
_ESCAPED_REFERENCE_PART = LazyPattern(r"\\(?:x24|u0024|U00000024|x7[bB]|u007[bB]|U0000007[bB])"
                                     r"|\$\\(?:\r\n?|[\n\x85\u2028\u2029])")


def _escaped_reference(text: str) -> bool:
    return "\\" in text and _ESCAPED_REFERENCE_PART.search(text) is not None


def may_reference_in(text: str) -> bool:
    """Whether a file's values may hold a `${`: the same answer for a value, whatever else the file holds (a
    reference written with escapes was left as text unless a `${` stood elsewhere in the file)."""
    return "${" in text or _escaped_reference(text)


def _read_block_yaml(text: str, shown: str, limits: Limits) -> list[Document] | None:
    """The documents of a text in the block YAML that manifests are written in, read by block_yaml.py (several
    times faster than PyYAML); None for any other text, and for one PyYAML would report a problem in."""
    ascii_text = text.isascii()
    if ascii_text:
        # One pass over the usual text finds all the reader needs to know of its characters: one PyYAML refuses,
        # or a tab or a carriage return (the reader declines both), and whether a `$` (of a `${`) is there at all.
        left = text.encode("ascii").translate(None, _BLOCK_ASCII)
        if left.strip(b"$"):
            return None
        may_reference = (bool(left) and "${" in text) or _escaped_reference(text)
    elif _allowed_text(text):
        may_reference = may_reference_in(text)
    else:
        return None
    typer = _plain_scalar_typer(limits)
    if len(typer.lines) > 200_000:
        typer.lines.clear()
    found = block_yaml.read(text, shown, typer, _PLAIN_FIRST, limits.nodes, min(limits.depth, _FAST_DEPTH),
                            typer.lines, ascii_checked=ascii_text)
    if found is None:
        return None
    return [Document(shown, content, locations, may_reference=may_reference) for content, locations in found]


def _load_yaml(text: str, shown: str, limits: Limits) -> tuple[list[Document], list[Problem]]:
    """The documents of a text and its problems, read by PyYAML (libyaml's parser when there is one)."""
    # The regex tries every position of the text; a text without '&' and '*' needs no search at all.
    plain = ("&" not in text and "*" not in text) or _ANCHOR_OR_ALIAS.search(text) is None
    found, problems = _load_text(text, shown, limits, _PlainLoader if plain else _BoundedLoader)
    if plain and problems and problems[0].message.startswith("nested more than"):
        # libyaml's own nesting bound met as it read ahead: the counting loader names the first line over ours.
        found, problems = _load_text(text, shown, limits, _BoundedLoader)
    return found, problems


def _load_text(text: str, shown: str, limits: Limits, loader_class) -> tuple[list[Document], list[Problem]]:
    documents: list[Document] = []
    problems: list[Problem] = []
    loader = node = None
    try:
        loader = loader_class(text, limits)  # checks every character first
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            built = loader.build(node, shown) if isinstance(loader, _PlainLoader) else None
            if built is not None:
                content, locations, node_problems = built
                if content is not None:  # None: an empty document, e.g. a trailing '---'
                    problems += node_problems
                    documents.append(Document(shown, content, locations, may_reference=may_reference_in(text)))
                continue
            # Positions first: constructing flattens merge keys ('<<') into the nodes, in place.
            locations: dict[Path_, Location] = {}
            node_problems: list[Problem] = []
            _record_locations(node, (), shown, locations, node_problems)
            content = loader.construct_document(node)
            if content is None:  # an empty document, e.g. a trailing '---'
                continue
            problems += node_problems
            documents.append(Document(shown, content, locations, may_reference=may_reference_in(text)))
    except yaml.YAMLError as error:
        if "maximum nesting depth" in str(getattr(error, "problem", "")):
            # libyaml's own bound (1000 levels in 0.2.5): under a limit raised to it or above, "more than <the
            # raised limit>" would be false, and raising it again would change nothing.
            error = _LimitError(f"nested more than {limits.depth} levels deep" + _limit_hint("depth")
                                if limits.depth < _LIBYAML_MAX_DEPTH else
                                f"nested more than {_LIBYAML_MAX_DEPTH} levels deep, the most the YAML parser "
                                "(libyaml) reads, whatever --manifest-limit depth allows",
                                getattr(error, "problem_mark", None))
        problem = _yaml_problem(error, text, shown)
        # Raised constructing one of `node`'s values (ours, or PyYAML's for a tag it has no constructor for).
        of_value = getattr(error, "of_value", False) or isinstance(error, yaml.constructor.ConstructorError)
        if of_value and node is not None:
            where: dict[Path_, Location] = {}
            _record_locations(node, (), shown, where, [])
            problem = replace(problem, field=_field_at(where, error.problem_mark))
        problems.append(problem)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError) as error:
        # Not expected (construct_object converts these); never a traceback all the same.
        problems.append(Problem(f"invalid YAML: cannot read it ({type(error).__name__})", Location(shown, 1)))
    except RecursionError:  # not expected within the depth limit; never a traceback all the same
        problems.append(Problem("nested too deeply to read" + _limit_hint("depth"), Location(shown, 1)))
    finally:
        if loader is not None:
            loader.dispose()
    return documents, problems


def _field_at(locations: dict[Path_, Location], mark: yaml.Mark | None) -> str | None:
    """The field of the value that starts at `mark`: of those recorded on its line, the last to start before it
    (a mapping's entry is recorded at its key, a list's item at the item)."""
    if mark is None:
        return None
    line, column = mark.line + 1, mark.column + 1
    found = [(where.column, len(path), path) for path, where in locations.items()
             if path and where.line == line and where.column <= column]
    return _dotted(max(found, key=lambda entry: entry[:2])[2]) if found else None  # paths themselves never compared


def _yaml_problem(error: yaml.YAMLError, text: str, shown: str) -> Problem:
    if isinstance(error, yaml.reader.ReaderError):
        line = line_at(text, error.position)
        code = ord(error.character) if isinstance(error.character, str) else error.character
        return Problem(f"invalid YAML: the character U+{code:04X} is not allowed in YAML text "
                       "(control characters and binary data are not)", Location(shown, line))
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark else 1
    reason = getattr(error, "problem", None) or str(error)
    tab = _tab_at(text, mark) if mark is not None and not isinstance(error, _LimitError) else None
    if tab is not None:  # PyYAML says "cannot start any token" or "violates indentation": say it is a tab
        return Problem(f"invalid YAML: a tab character at line {tab[0]}, column {tab[1]}: YAML indents with "
                       "spaces only; replace the tab with spaces", Location(shown, tab[0], tab[1]))
    prefix = "" if isinstance(error, _LimitError) else "invalid YAML: "
    context, opened = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context == "while scanning a simple key" and opened is not None and mark is not None \
            and mark.line == opened.line and mark.column - opened.column > _SIMPLE_KEY_CHARACTERS:
        # libyaml's words for a key past its bound: "could not find expected ':'", of a line that has one.
        return Problem(f"{prefix}a key longer than {_SIMPLE_KEY_CHARACTERS} characters, YAML's bound for a key "
                       "(written without `? `)", Location(shown, line, opened.column + 1))
    if isinstance(context, str) and context.startswith("while parsing a flow") and _reference_at(text, mark):
        # `[${var.x}]`: the reference's `{` opens a flow mapping there; "did not find expected ','" says nothing of it.
        reason += ' (a ${...} inside [...] or {...} must be quoted: write "${var.NAME}")'
    if isinstance(context, str) and opened is not None and opened.line + 1 != line:
        # Where what failed began: an unclosed quote is found only at the end of the file.
        reason += f" ({context}, from line {opened.line + 1})"
    return Problem(prefix + reason, Location(shown, line))


def _reference_at(text: str, mark) -> bool:
    """Whether a YAML error's mark is at the `{` of a `${`."""
    index = getattr(mark, "index", None)
    return isinstance(index, int) and 0 < index < len(text) and text[index - 1:index + 1] == "${"


_SIMPLE_KEY_CHARACTERS = 1024  # the YAML 1.1 bound on an implicit key, which libyaml and PyYAML keep

_LINE_BREAK = LazyPattern("\r\n|[\r\n\x85\u2028\u2029]")


def line_at(text: str, index: int) -> int:
    """The 1-based line of `text[index]`, counting line breaks as YAML does (CR LF, a lone CR, LF, NEL, LS, PS):
    the lines PyYAML's other messages give."""
    return len(_LINE_BREAK.findall(text, 0, index)) + 1


def _tab_at(text: str, mark) -> tuple[int, int] | None:
    """(line, column), 1-based, of the tab a YAML error is about: at the error's mark, else the first on its line."""
    index = getattr(mark, "index", None)
    if isinstance(index, int) and 0 <= index < len(text) and text[index] == "\t":
        return mark.line + 1, mark.column + 1
    lines = text.splitlines()
    if 0 <= mark.line < len(lines) and "\t" in lines[mark.line]:
        return mark.line + 1, lines[mark.line].index("\t") + 1
    return None


def _record_locations(node: yaml.Node, path: Path_, file: str, out: dict, problems: list[Problem]) -> None:
    out[path] = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged values may be overridden by explicit keys: that is the point of '<<'
            if key in seen:
                problems.append(Problem(f"duplicate key {_shown(key)} (first at line {seen[key]})",
                                        Location(file, line), _dotted(path + (key,))))
            seen[key] = line
            _record_locations(value_node, path + (key,), file, out, problems)
            out[path + (key,)] = Location(file, line, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_locations(item, path + (index,), file, out, problems)


def parse_manifests(documents: Iterable[Document], *, dialect: str = DEFAULT_DIALECT,
                    moves: list | None = None) -> tuple[list[Manifest], list[Problem]]:
    """The manifests and every problem. Moved blocks (`kind: Moved`, moves.py) are checked and appended to
    `moves` when given; references to a moved address are read as its new one either way."""
    from . import moves as moving
    from .graph import check  # the graph reads manifests: imported here, not at the top

    manifests: list[Manifest] = []
    problems: list[Problem] = []
    found: list = []
    invalid: set[str] = set()  # addresses of manifests with problems of their own
    for document in documents:
        if moving.is_moved_document(document.content):
            move = moving.parse_move(document, problems)
            if move:
                found.append(move)
            continue
        if document.unresolved:
            invalid.update(_address_named(document.content))
            continue
        manifest = _parse_document(document, problems, dialect, invalid)
        if manifest:
            manifests.append(manifest)
    problems += _duplicates(manifests)
    if found:
        move_problems = moving.check(found, manifests)
        problems += move_problems
        if not move_problems:
            manifests = moving.follow(manifests, found)
    if moves is not None:
        moves += found
    # Sorted before the check: the plan asks for the graph of this very list, which is then the one the check
    # made (Graph.of keeps it). The check's problems do not depend on the order it is given.
    manifests = sorted(manifests, key=lambda m: m.address)
    problems += check(manifests, invalid)
    return manifests, problems


def _address_named(content: Any) -> list[str]:
    """The address a document's kind and metadata.name give (none when either is not one), without its checks."""
    if not isinstance(content, dict) or not isinstance(content.get("kind"), str):
        return []
    kind, metadata = kind_of_manifest(content["kind"]), content.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return [object_address(kind, name)] if kind and isinstance(name, str) else []


def check_envelope(content: dict, problem: Callable[..., None], others: tuple[str, ...] = ()) -> None:
    """The keys around a spec, the same for manifests and overlays: no unknown ones, this apiVersion, a
    registered kind. `others`: the kinds of other documents the file may hold, a near miss of which is named too
    (a manifest file's `kind: moved` is a moved block's `Moved`)."""
    for key in content:
        if key not in ENVELOPE_KEYS:
            problem(f"unknown field {_shown(key)}{did_you_mean(str(key), ENVELOPE_KEYS)}", key)
    if content.get("apiVersion") != API_VERSION:
        problem(f"apiVersion must be '{API_VERSION}' ({_given(content, 'apiVersion')})", "apiVersion")
    kind = content.get("kind")
    if not isinstance(kind, str) or kind_of_manifest(kind) is None:
        if len(MANIFEST_KINDS) == 1:
            problem(f"kind must be '{KIND}' ({_given(content, 'kind')})", "kind")
        else:
            hint = did_you_mean(kind, (*MANIFEST_KINDS, *others)) if isinstance(kind, str) else ""
            problem(f"kind must be one of {', '.join(MANIFEST_KINDS)} ({_given(content, 'kind')}){hint}", "kind")


def _given(content: dict, key: str) -> str:
    """What a document gave for an envelope key: "got 'v2'", or that it has none (a YAML file of another tool)."""
    return f"got {_shown(content[key])}" if key in content else "missing"


def _parse_document(doc: Document, problems: list[Problem], dialect: str,
                    invalid: set[str] | None = None) -> Manifest | None:
    """The document's manifest, or None with its problems appended (and its address added to `invalid` when it
    has one: a reference to it is not "names no manifest", its own problems say what is wrong). A fleet's documents are nearly all usual
    (`_usual_header`): their envelope and metadata are read without the checks' bookkeeping; any other one is
    read by `_checked_header`, which finds and words every problem."""
    content = doc.content
    header = _usual_header(content)
    before = len(problems)
    if header is None:
        if not isinstance(content, dict):
            problems.append(Problem("a manifest must be a mapping with apiVersion, kind, metadata and spec",
                                    doc.locate(())))
            return None
        header = _checked_header(doc, problems)
        named = content.get("kind")
        if not isinstance(named, str) or (kind_of_manifest(named) is None and not closest(named, MANIFEST_KINDS)):
            # A kind nothing is close to: its spec read as an assistant's would add a line per field it lacks. (A
            # near miss, `Folde`, is read as the kind it suggests, so its other problems come at once.)
            return None
    kind, address, labels, protect, sensitive = header
    sensitive |= doc.sensitive

    raw_spec = content.get("spec")
    spec = fields = None
    if not isinstance(raw_spec, dict):
        what = "the assistant's create fields" if kind == ASSISTANT else f"the {KINDS[kind].title}'s fields"
        problems.append(Problem(f"spec is required: a mapping of {what}", doc.locate(("spec",)), "spec"))
    else:
        if kind == ASSISTANT:
            spec, fields, spec_problems = checked_spec(raw_spec, dialect=dialect)
        else:
            spec, spec_problems = validate_model(KINDS[kind].spec_model, raw_spec, {MANIFEST_FILE: doc.file})
        for p in spec_problems:
            message = _shorten_message(_without_secret(p.message, p.path, sensitive, raw_spec))
            problems.append(Problem(message, doc.locate(("spec",) + (p.anchor or p.path)),
                                    _dotted(doc.written(("spec",) + p.path))))

    if spec is None or address is None or len(problems) > before:
        if address is not None and invalid is not None:
            invalid.add(object_address(kind, address))
        return None
    if kind != ASSISTANT:
        return _manifest(Manifest, f"{kind}.{address}", spec, dict(labels), protect,
                         sensitive | credential_fields(raw_spec), doc, kind)
    secret = secret_fields(fields) | credential_fields(fields)
    manifest = _manifest(Manifest, address, spec, dict(labels), protect, sensitive | secret if secret else sensitive,
                         doc, ASSISTANT)
    manifest.__dict__["fields"] = fields  # cached_property's slot: the dump the checks made, not a second one
    return manifest


_Header = tuple  # (kind, address or None, labels, protect, sensitive fields)


def _usual_header(content: Any) -> _Header | None:
    """The header of a document whose envelope and metadata break no rule and take no default but the usual
    ones: what `_checked_header` gives it, without its problems' bookkeeping. None for any other document."""
    if type(content) is not dict or content.get("apiVersion") != API_VERSION or not _ENVELOPE.issuperset(content):
        return None
    manifest_kind = content.get("kind")
    kind = kind_of_manifest(manifest_kind) if type(manifest_kind) is str else None
    metadata = content.get("metadata")
    if kind is None or type(metadata) is not dict or not _METADATA.issuperset(metadata):
        return None
    address = metadata.get("name")
    if type(address) is not str or not ADDRESS_PATTERN.fullmatch(address):
        return None
    labels = metadata.get("labels")
    labels = {} if labels is None else labels  # `labels:` left empty; false, [] or "" are not a mapping
    protect = metadata.get("protect", False)
    if type(labels) is not dict or type(protect) is not bool or "sensitive" in metadata:
        return None
    for key, value in labels.items():
        if type(key) is not str or type(value) is not str:
            return None
    return kind, address, labels, protect, _default_sensitive(kind)


_ENVELOPE = frozenset(ENVELOPE_KEYS)
_METADATA = frozenset(METADATA_KEYS)


def _checked_header(doc: Document, problems: list[Problem]) -> _Header:
    """The envelope's and metadata's checks, every problem appended: the kind (an unknown one is reported, and its
    spec still checked as the kind it is a near miss of: _kind_meant), the address (None when wrong), labels, protect, sensitive fields."""
    def problem(message: str, *path: str | int) -> None:
        problems.append(Problem(message, doc.locate(path), _dotted(path) or None))

    from .moves import MOVED_KIND  # what else a manifest file holds: imported here, as parse_manifests does

    content = doc.content
    check_envelope(content, problem, others=(MOVED_KIND,))
    kind = _kind_meant(content.get("kind"))
    spec_fields = CREATE_FIELDS if kind == ASSISTANT else tuple(KINDS[kind].spec_model.model_fields)

    metadata = content.get("metadata")
    address, labels, protect, sensitive = None, {}, False, _default_sensitive(kind)
    if not isinstance(metadata, dict):
        problem("metadata is required: a mapping with at least a name", "metadata")
    else:
        for key in metadata:
            if key not in METADATA_KEYS:
                problem(f"unknown field {_shown(key)}{did_you_mean(str(key), METADATA_KEYS)}", "metadata", key)
        address = metadata.get("name")
        if not isinstance(address, str) or not ADDRESS_PATTERN.fullmatch(address):
            problem("must be 1-63 lowercase letters, digits, '-' or '_', starting and ending with a letter "
                    f"or digit (got {_shown(address)})", "metadata", "name")
            address = None
        labels = metadata.get("labels")
        labels = {} if labels is None else labels
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in labels.items()):
            problem("labels must map strings to strings", "metadata", "labels")
        protect = metadata.get("protect", False)
        if not isinstance(protect, bool):
            problem(f"must be true or false (got {_shown(protect)})", "metadata", "protect")
        extra = metadata.get("sensitive", [])
        if not isinstance(extra, list) or not all(isinstance(f, str) for f in extra):
            problem("must be a list of spec field names", "metadata", "sensitive")
        else:
            for index, name in enumerate(extra):
                if name not in spec_fields:
                    problem(f"unknown spec field {_shown(name)}{did_you_mean(name, spec_fields)}",
                            "metadata", "sensitive", index)
            sensitive = _default_sensitive(kind) | frozenset(extra)
    return kind, address, labels, protect, sensitive


def _kind_meant(named: Any) -> str:
    """The kind a document's `kind:` means: its own, else the one a near miss suggests (`Folde`: a folder, whose
    spec read as an assistant's would have every assistant field missing and the folder's own unknown), else an
    assistant."""
    if not isinstance(named, str):
        return ASSISTANT
    return kind_of_manifest(named) or kind_of_manifest(closest(named, MANIFEST_KINDS) or "") or ASSISTANT


def _manifest(cls: type, *values: Any) -> Manifest:
    """cls(*values) for a manifest class, without the frozen dataclass's __init__ (one object.__setattr__ per
    field): a fleet makes one per document. The values are all the class's fields, in order."""
    made = object.__new__(cls)
    made.__dict__.update(zip(_init_fields(cls), values))
    return made


def _default_sensitive(kind: str) -> frozenset[str]:
    """Fields secret whatever the manifest says: the assistant's webhook URLs, a kind's `sensitive` facts."""
    if kind == ASSISTANT:
        return DEFAULT_SENSITIVE
    return frozenset(f.name for f in KINDS[kind].fields if f.sensitive)


def credential_fields(fields: Any) -> frozenset[str]:
    """Fields that carry credentials by their content (a tool's endpoint https://user:pass@host/?api_key=..., a
    document's link with ?token=, a URL pasted in a message): sensitive as webhook_url is, so state and saved plans
    keep a digest, not the URL in clear (output only scrubbed it)."""
    if not isinstance(fields, dict):
        return frozenset()
    # One look at every text at once: orjson writes each string (and key) whole, escaping only quotes, backslashes
    # and control characters, and nothing else it writes holds an `@`, a `=` or "Bearer". Without any of them no
    # field carries credentials (a fleet's manifests: a full one's fields 10 -> 3 µs); with one, or what orjson
    # refuses (a key that is not a string, a lone surrogate...), each field is asked.
    try:
        text = orjson.dumps(fields)
    except TypeError:  # orjson.JSONEncodeError
        text = None
    if text is not None and b"@" not in text and b"=" not in text and text.rfind(b"Bearer") < 0:
        return frozenset()
    return _credential_fields(fields)


def _credential_fields(fields: dict) -> frozenset[str]:
    """credential_fields, field by field (what its one look stands for)."""
    return frozenset(name for name, value in fields.items() if _carries_credentials(value))


def _carries_credentials(value: Any) -> bool:
    """Whether a text in `value` (at any depth: a credential lives in one text) carries credentials. Asked of
    each field of a spec whose texts hold a character a credential pattern needs (`@`, `=`, `Bearer`: see
    credential_fields): a text without one is passed over at C speed."""
    kind = type(value)
    if kind is str:
        return ("@" in value or "=" in value or "Bearer" in value) and carries_credentials(value)
    if kind is dict:
        return any(_carries_credentials(k) or _carries_credentials(v) for k, v in value.items())
    if kind is list:
        return any(_carries_credentials(item) for item in value)
    return False


def _without_secret(message: str, path: tuple, sensitive: frozenset[str], raw_spec: dict) -> str:
    """A spec error about a sensitive field, without the value: no " (got VALUE)", no quoted VALUE."""
    if not path or path[0] not in sensitive:
        return message
    message = re.sub(r" \(got .*\)$", "", message, flags=re.S)
    value = raw_spec.get(path[0])
    return message.replace(value, "(sensitive)") if isinstance(value, str) and value else message


def _duplicates(manifests: list[Manifest]) -> list[Problem]:
    """One manifest per address; one per platform name where names must be unique (assistants: adoption by name
    needs it; folders, labels: the platform refuses a second); one per identity where the platform refuses two
    objects alike (SIP trunks: the second's create was refused with a 409 by every apply)."""
    problems = []

    def unique_name(manifest: Manifest) -> tuple[str, str] | None:
        kind = KINDS[manifest.kind]
        return (manifest.kind, manifest.platform_name) if kind.unique_names else None

    def identity(manifest: Manifest) -> tuple[str, Any] | None:
        kind = KINDS.get(manifest.kind)
        key = kind.identity(manifest.fields) if kind is not None and kind.identity is not None else None
        return None if key is None else (manifest.kind, key)

    addresses = [m.address for m in manifests]
    names = [(ASSISTANT, m.spec.assistant_name) if m.kind == ASSISTANT else unique_name(m) for m in manifests]
    identities = [None if m.kind == ASSISTANT else identity(m) for m in manifests]  # an assistant has no identity
    for keys, path_of in ((addresses, lambda m: ("metadata", "name")),
                          (names, lambda m: ("spec", _name_field(m))),
                          (identities, lambda m: ("spec", KINDS[m.kind].identity_fields[0]))):
        present = [k for k in keys if k is not None]
        if len(set(present)) == len(present):
            continue  # no value twice (a fleet's usual case): nothing to look for one by one
        first: dict[Any, Manifest] = {}
        for manifest, value in zip(manifests, keys):
            if value is None:
                continue
            count = len(first)
            other = first.setdefault(value, manifest)
            if len(first) == count:  # a duplicate (a fleet has none): only then where it is
                path = path_of(manifest)
                label = ".".join(path)
                whose = "assistant" if manifest.kind == ASSISTANT else KINDS[manifest.kind].title
                shown = value[1] if isinstance(value, tuple) else value
                # Values of fields either manifest marks sensitive are not quoted (an address never is one).
                secret = manifest.sensitive | other.sensitive if path[0] == "spec" else frozenset()
                if isinstance(shown, tuple):  # an identity: the fields the platform refuses two objects to share
                    named = KINDS[manifest.kind].identity_fields
                    parts = ", ".join(_shown_unless(v, n in secret) for v, n in zip(shown, named))
                    what = f"{parts} (its {', '.join(named[:-1])} and {named[-1]})"
                    need = f"the platform refuses a second {whose} alike"
                else:
                    what, need = _shown_unless(shown, path[-1] in secret), f"each {whose} needs its own {label}"
                problems.append(Problem(f"{what} is also used by the manifest at {other.location(*path)}; {need}",
                                        manifest.location(*path), label, manifest.address))
    return problems


def _name_field(manifest: Manifest) -> str:
    return "assistant_name" if manifest.kind == ASSISTANT else KINDS[manifest.kind].name_field


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        if not isinstance(part, int):
            part = str(part)
            # A key is the user's text: escape what a terminal would act on, and cut what would flood it.
            part = _clip(part if part.isprintable() else repr(part)[1:-1], SHOWN_CHARS)
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def display_path(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    # abspath, not resolve: a link is shown as itself, not as what it points to (or fails to).
    shown = os.path.abspath(path) if relative.startswith("..") else relative
    # A file name with a newline or an escape sequence must not forge or hide lines of the output.
    return shown if shown.isprintable() else repr(shown)[1:-1]


def _clip(text: Any, limit: int = SHOWN_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _shown(value: Any) -> str:
    """A value as messages show it: repr'd (so a newline shows as \\n), at most about 60 characters; YAML's own
    words for null and the booleans (the file wrote `null` or `true`, not Python's None or True)."""
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return _clip(repr(value))


def _shown_unless(value: Any, sensitive: bool) -> str:
    """A value as messages show it, or "(sensitive)" for a field either manifest marks so (a SIP trunk's username
    in metadata.sensitive was quoted in clear by the duplicate check, where every spec error hides it)."""
    return "(sensitive)" if sensitive else _shown(value)


def _shorten_message(message: str) -> str:
    """The spec's messages quote the value given; a huge one is cut, keeping the message's shape."""
    message = re.sub(r"\(got (.{%d}).+\)\Z" % SHOWN_CHARS, lambda m: f"(got {m.group(1)}…)", message,
                     flags=re.DOTALL)
    return _clip(message, 400)
