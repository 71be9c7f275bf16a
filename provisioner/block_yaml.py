"""A fast reader for the block-style YAML that manifests are written in; it gives up on anything else.

Why: loading a fleet spent most of its CPU in libyaml building a node per value and PyYAML's Python walking
those nodes. Manifests use a small part of YAML, one construct per line, so reading that part line by line
with one regex match per line costs a fraction. It is a fast path only: `read` returns None ("not mine") for
any text outside the part below, and the caller then loads the text with PyYAML exactly as before, so every
error message and every rare construct stays PyYAML's. A wrong answer is the one thing it must never give:
tests/test_block_yaml.py checks it against PyYAML on generated and mutated texts.

What it takes (anything else declines the whole file):
- `---` document separators (alone on their line, a comment allowed), comments, blank lines;
- a block mapping at column 0 as each document's root; nested block mappings and block sequences, including
  `- key: value` items and a sequence at its key's indentation (`key:` then `- item`);
- plain keys (no quotes, no `#`, `:`, flow characters or leading indicator);
- plain scalars, also over several lines (folded as YAML folds them), typed by PyYAML's YAML 1.1 rules through
  the caller's `scalar` function (`yes`, `0x1F`, `1:20`, `.inf`, dates...);
- single- and double-quoted scalars, also over several lines (a double-quoted one with a backslash escape
  only on one line, and only the escapes listed in _ESCAPES);
- literal `|` and folded `>` block scalars with chomping and indentation indicators.
It declines on tabs, carriage returns and the other line breaks YAML knows, a byte-order mark, anchors,
aliases, tags, flow collections, `?` keys, directives, `...`, an empty `-` item, an empty block scalar, any
indentation it does not expect, a duplicate key, and a document over the node or depth limit (PyYAML's path
then reports it in its own words).
"""
from __future__ import annotations

import copy
import functools
import re
import threading
from collections.abc import Mapping
from typing import Any, Callable

from .errors import Location
from .patterns import LazyPattern

Path_ = tuple[Any, ...]


_CACHED_LINES = 100_000  # what a reader's line cache holds at most (see next_content)
_LOCATING = threading.Lock()  # held while a reader's lines are split again for `locate`


class Decline(Exception):
    """The text is outside what this reader takes: load it the general way."""


# One structural line: indentation, an optional `- `, an optional plain `key:`, the rest. A key is plain text
# without the characters that would make it something else (or that this reader leaves to PyYAML), and at
# most 250 characters (YAML bounds a key at 1024, which libyaml counts its own way: far from that).
_KEY = r"[^ \-?:,\[\]{}#&*!|>'\"%@`](?:[^:#,\[\]{}'\"]{0,248}[^ :#,\[\]{}'\"])?"
_LINE = re.compile(r"( *)(-(?: +|$))?(?:(" + _KEY + r"):(?: +|$))?(.*)").match
# What is before a line's first `: ` when it is a plain key (indentation, key): the line is then `key: ...`.
_HEAD = re.compile(r"( *)(" + _KEY + r")").fullmatch
# What may follow a closed quoted scalar or a block scalar's header on its line: spaces, then a comment.
_TRAIL = re.compile(r"(?: +(?:#.*)?)?").fullmatch
_TRAIL_IN_TEXT = re.compile(r"(?: +(?:#[^\n]*)?)?(?=\n|\Z)").match
_SEPARATOR = re.compile(r"---(?: +(?:#.*)?)?").fullmatch
_BLOCK_HEADER = re.compile(r"([|>])([+-]?)([1-9]?)([+-]?)((?: +(?:#.*)?)?)").fullmatch
# A quoted scalar from after its opening quote to its closing one (for single quotes: the first not doubled),
# on one line or over several. Possessive (`*+`): giving back a character or a pair never lets a quote followed
# by none close the scalar, and on a line that does not close it (a prompt's first) backtracking took 5 µs.
_SINGLE_END = re.compile(r"[^'\n]*+(?:''[^'\n]*+)*+'(?!')").match
_SINGLE_SPAN = re.compile(r"[^']*+(?:''[^']*+)*+'(?!')").match
_DOUBLE_ONE_LINE = re.compile(r'((?:[^"\\\n]++|\\[^\n])*+)"').match
_DOUBLE_SPAN = re.compile(r'[^"\\]*+"').match  # without escapes only
_ESCAPE = LazyPattern(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_ESCAPES = {"\\": "\\", '"': '"', "/": "/", "n": "\n", "t": "\t", "r": "\r", " ": " ", "0": "\0"}
# Folding a quoted scalar's line breaks (spaces around each already gone): a lone break is a space, n breaks
# are n-1. Each pattern starts with a line break, which the regex engine searches for fast.
_LAST_TWO_BREAKS = LazyPattern(r"\n\n(?!\n)")
_LONE_BREAK = LazyPattern(r"\n(?![\n\x00])")
_SPACES = re.compile(" *").match
# A plain scalar may not start with these (or with `-`, `?`, `:` before a space); some could, but the reader
# leaves them to PyYAML.
_NOT_PLAIN_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")
# Characters YAML counts as line breaks besides "\n", and the others this reader declines anywhere.
_DECLINED_CHARACTERS = ("\t", "\r", "\x85", "\u2028", "\u2029", "\ufeff", "\x00")
_location = functools.partial(tuple.__new__, Location)  # Location(file, line, column) without its Python __new__


@functools.lru_cache(maxsize=64)
def _shallow_line(owner: int):
    """Finds, in a scalar's text over several lines, a line that is not blank and not indented past `owner`."""
    return re.compile(r"\n {0,%d}(?![ \n])" % owner).search


def _decline_unusual(text: str) -> None:
    if text.isascii():
        if "\t" in text or "\r" in text or "\x00" in text:
            raise Decline
    elif any(c in text for c in _DECLINED_CHARACTERS):
        raise Decline


def _fold(text: str) -> str:
    """A quoted scalar's text over several lines as YAML folds it (the text holds no NUL: see `read`)."""
    lines = text.split("\n")
    pieces = [line.strip(" ") for line in lines]
    pieces[0] = lines[0].rstrip(" ")  # the spaces after the opening quote and before the closing one stay
    pieces[-1] = lines[-1].lstrip(" ")
    # Of n > 1 breaks, the last one goes (marked first, so it is not taken for a lone break); a lone one is a
    # space.
    marked = _LAST_TWO_BREAKS.sub("\n\x00", "\n".join(pieces))
    return _LONE_BREAK.sub(" ", marked).replace("\x00", "")


def _fold_even(text: str, owner: int, breaks: int) -> str | None:
    """`_fold(text)` for the usual text (a dumped prompt), in a few passes over the whole text: every line after
    the first at one indentation past `owner`, or empty; no space before a break; at most one empty line in a
    row. None for any other text. `breaks`: the text's count of line breaks."""
    start = text.find("\n") + 1
    width = _SPACES(text, start).end() - start
    # rfind, not `in`: CPython searches a short needle backwards several times faster (a space is everywhere).
    if width <= owner or text.rfind(" \n") >= 0:
        return None
    indent = "\n" + " " * width
    if text.rfind(indent + " ") >= 0:
        return None  # a line indented further
    # A blank line and the indentation after it (its own break, then the next line's) fold to one break; every
    # other break and its indentation to a space. split and join: what replace does, in fewer passes.
    parts = text.split("\n" + indent)
    pairs = len(parts) - 1
    if pairs:
        text = "\n".join(parts)
    parts = text.split(indent)
    # Each break is one of a pair or of a lone break with the indentation when the counts add up: none is left
    # (two blank lines in a row, a line at another indentation, the closing quote at column 0). A pair's break
    # left in the text is followed by a line that does not start with a space, so it never starts a lone one.
    if breaks != len(parts) - 1 + 2 * pairs:
        return None
    return " ".join(parts)


# What a structural line holds (`_Reader.classify`), after its indentation, `- ` and key.
_BLANK, _PLAIN, _EMPTY, _SPECIAL, _OTHER = range(5)
# A line's entry: (the column of its key when it is a `key:` line without `- `, else -1; the column of its `-`
# when it is a `- ` line, else -1; indentation; length of its `- ` or 0; key text or None; the key typed; what
# follows (_PLAIN...); the plain value typed; its text when it may continue on the next lines; the text after
# key and dash). The first two let the loops below see with one comparison that a line continues their mapping
# or sequence, which most lines do.
_BLANK_LINE = (-1, -1, 0, 0, None, None, _BLANK, None, None, "")  # every blank or comment line's entry
_END = (-1, -1, -1, 0, None, None, _OTHER, None, None, "")  # after the last line: ends every collection


class _Reader:
    """One file's documents. `scalar(text)` types a plain scalar (raising Decline for anything but str, int,
    float, bool, null and dates kept as text); `plain_first` holds the characters a non-str plain scalar can
    start with (any other plain scalar is the str it reads). `cache` maps a line's text to what `classify`
    made of it: a fleet repeats most of its lines (`kind: Assistant`, `  language: English`) thousands of
    times, and a line means the same wherever it is (the lines below it are read separately).

    Each collection method returns its value, the index of the first line after it that is not blank and that
    line's entry (_END after the last line), so no line is looked at twice. Locations are not recorded on the
    first reading: a run asks for a few documents' locations only (to report a problem), so `locate` reads a
    document again, recording them (see Locations)."""

    def __init__(self, text: str, file: str, scalar: Callable[[str], Any], plain_first: frozenset,
                 max_nodes: int, max_depth: int, cache: dict):
        self.text = text
        self.file = file
        self.scalar = scalar
        self.plain_first = plain_first
        if len(cache) >= _CACHED_LINES:  # bounded: a fleet's repeated lines fit many times over
            cache.clear()
        self.cache = cache
        self.split()
        self.start = (0, 0)  # a line's index and where it starts in the text (see `offset`)
        self.nodes = 0
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.locations: dict[Path_, Location] | None = None  # recorded only when `locate` reads a document

    def split(self) -> None:
        """The text's lines, and each line's entry when the cache knows the line, else None until `entry`
        classifies it (a line inside a quoted or block scalar never is)."""
        lines = self.text.split("\n")
        self.last_has_break = lines[-1] == ""
        if self.last_has_break:
            lines.pop()
        self.lines: list[str] = lines
        self.entries: list[tuple | None] = list(map(self.cache.get, lines))
        self.entries.append(_END)

    def classify(self, line: str) -> tuple:
        """The line's entry (see _BLANK_LINE)."""
        # Most lines the cache does not know yet are `key: value` with a key seen before (`  name: bench-7`):
        # what is before the first `: ` is looked up (in the same cache, after a line break no line holds),
        # and only the value is read.
        head, colon, rest = line.partition(": ")
        if colon:
            cache = self.cache
            known = cache.get("\n" + head)
            if known is None:
                match = _HEAD(head)
                known = cache["\n" + head] = (len(match[1]), match[2], self.key(match[2])) if match else ()
            if known:
                column, name, key = known
                return self.value_entry(column, -1, column, 0, name, key, rest.lstrip(" "))
        indent, dash, name, rest = _LINE(line).groups()
        if dash is None and name is None:
            if not rest or rest[0] == "#":
                return _BLANK_LINE
            return (-1, -1, len(indent), 0, None, None, _OTHER, None, None, rest)
        column = len(indent)
        if dash:
            return self.value_entry(-1, column, column, len(dash), name, self.key(name), rest)
        return self.value_entry(column, -1, column, 0, name, self.key(name), rest)

    def key(self, name: str | None) -> Any:
        return None if name is None else name if name[0] not in self.plain_first else self.scalar(name)

    def value_entry(self, key_column: int, dash_column: int, column: int, dash: int, name: str | None, key: Any,
                    rest: str) -> tuple:
        """The entry of a line with a key or a `- ` (see _BLANK_LINE), `rest` what follows them."""
        first = rest[:1]
        if first and (first not in _NOT_PLAIN_FIRST or (first == "-" and rest[1:2] not in ("", " "))):
            comment = rest.find(" #")
            text = rest if comment < 0 else rest[:comment]
            if ": " in text or text[-1] == ":":
                raise Decline
            if text[-1] == " ":
                text = text.rstrip(" ")
            value = text if first not in self.plain_first else self.scalar(text)
            return (key_column, dash_column, column, dash, name, key, _PLAIN, value,
                    text if comment < 0 else None, rest)
        kind = _EMPTY if not first or first == "#" else _SPECIAL
        return (key_column, dash_column, column, dash, name, key, kind, None, None, rest)

    def entry(self, i: int) -> tuple:
        """Line i's entry, classified now (the cache did not know the line when the text was split)."""
        line = self.lines[i]
        cache = self.cache
        entry = cache.get(line)
        if entry is None:
            entry = cache[line] = self.classify(line)
        self.entries[i] = entry
        return entry

    def next_content(self, i: int) -> tuple[int, tuple]:
        """The index of the first line from i that is not blank or a comment, and its entry (_END at the end)."""
        entries = self.entries
        entry = entries[i] or self.entry(i)
        while entry is _BLANK_LINE:
            i += 1
            entry = entries[i] or self.entry(i)
        return i, entry

    # -- documents ---------------------------------------------------------------------------------------------

    def documents(self) -> list[tuple[Any, "Locations"]]:
        found = []
        lines = self.lines
        i, entry = self.next_content(0)
        while entry is not _END:
            if entry[6] == _OTHER and not entry[2]:
                if not _SEPARATOR(lines[i]):
                    raise Decline  # `...`, or content after `---`
                i, entry = self.next_content(i + 1)
                if entry[6] == _OTHER and entry[2] <= 0:  # the end, or another `---`
                    self.nodes += 1  # an empty document: PyYAML counts its null
                    if self.nodes > self.max_nodes:
                        raise Decline
                continue
            if entry[0] != 0:
                raise Decline  # a root that is not a block mapping at column 0
            start = i
            content, i, entry = self.mapping(i, 0, (), 2, entry)
            self.nodes += 1  # the root; its keys and values are counted by `mapping`
            if self.nodes > self.max_nodes:
                raise Decline
            found.append((content, Locations(self, start)))
        # A run keeps every file's documents, and so their readers: a reader keeps its text only (the lines and
        # their entries took more memory than the text and the documents' locations together).
        self.lines = self.entries = None
        return found

    def locate(self, i: int) -> dict[Path_, Location]:
        """The locations of the document whose root mapping starts on line i (read before, so read alike)."""
        with _LOCATING:
            if self.lines is None:
                self.split()  # kept from now on: a file whose documents are located is often located again
            reader = copy.copy(self)  # its own `locations` and counts; the lines and entries are shared
        reader.locations = locations = {(): _location((self.file, i + 1, 1))}
        reader.mapping(i, 0, (), 2, reader.entries[i] or reader.entry(i))
        return locations

    # -- collections -------------------------------------------------------------------------------------------

    def mapping(self, i: int, column: int, path: Path_, depth: int, entry: tuple):
        """The block mapping whose first key is on line i at `column` (`entry` is that line's); its keys and
        values are at `depth`. `path` is where it is in the document (used only when recording locations)."""
        if depth > self.max_depth:
            raise Decline
        result: dict[Any, Any] = {}
        locations = self.locations
        entries = self.entries
        while True:
            _, _, _, _, name, key, kind, value, plain, rest = entry
            if key in result:
                raise Decline  # a duplicate key: PyYAML's path reports it
            if locations is not None:
                locations[path + (name,)] = _location((self.file, i + 1, column + 1))
            if kind == _PLAIN:
                result[key] = value
                i += 1
                entry = entries[i] or self.entry(i)
                if entry[0] == column:  # the next key: most lines
                    continue
                after = i
            elif kind == _EMPTY:  # the value is on the lines below, or null
                i, entry = self.next_content(i + 1)
                indent = entry[2]
                if indent > column:
                    if entry[3]:
                        value, i, entry = self.sequence(i, indent, path + (name,), depth + 1, entry)
                    elif entry[4] is not None:
                        value, i, entry = self.mapping(i, indent, path + (name,), depth + 1, entry)
                    else:
                        raise Decline  # a scalar on the line below its key
                elif entry[1] == column:
                    value, i, entry = self.sequence(i, column, path + (name,), depth + 1, entry)
                result[key] = value
            else:
                value, i = self.special_scalar(i, rest, column)
                result[key] = value
                entry = entries[i] or self.entry(i)
            if entry is _BLANK_LINE:
                i, entry = self.next_content(i)
            if entry[0] == column:
                continue
            indent = entry[2]
            if indent > column and plain is not None:
                # From the line after the scalar's: a comment line between them ends the scalar.
                result[key], i = self.continued_plain(plain, after, column)
                i, entry = self.next_content(i)
                if entry[0] == column:
                    continue
                indent = entry[2]
            if indent < column or (indent == 0 and entry[6] == _OTHER):
                self.nodes += 2 * len(result)  # a node per key and per value
                return result, i, entry  # the caller checks the line (at column 0: a document marker?)
            raise Decline

    def sequence(self, i: int, column: int, path: Path_, depth: int, entry: tuple):
        """The block sequence whose first `-` is on line i at `column` (`entry` is that line's)."""
        if depth > self.max_depth:
            raise Decline
        result: list[Any] = []
        locations = self.locations
        entries = self.entries
        while True:
            dash = entry[3]
            if dash == 1:
                raise Decline  # `-` alone: an empty item or one on the lines below
            item_column = column + dash
            if locations is not None:
                locations[path + (len(result),)] = _location((self.file, i + 1, item_column + 1))
            plain = None
            if entry[4] is not None:
                value, i, entry = self.mapping(i, item_column, path + (len(result),), depth + 1, entry)
            else:
                kind = entry[6]
                if kind == _PLAIN:
                    value, plain = entry[7], entry[8]
                    i += 1
                elif kind == _SPECIAL:  # `- - x` and `- ? x` decline there
                    value, i = self.special_scalar(i, entry[9], column)
                else:
                    raise Decline  # an empty item
                entry = entries[i] or self.entry(i)
                after = i
            result.append(value)
            if entry is _BLANK_LINE:
                i, entry = self.next_content(i)
            if entry[1] == column:
                continue
            indent = entry[2]
            if indent > column and plain is not None:
                result[-1], i = self.continued_plain(plain, after, column)
                i, entry = self.next_content(i)
                if entry[1] == column:
                    continue
                indent = entry[2]
            if indent <= column:
                self.nodes += len(result)
                return result, i, entry  # the caller checks what the line is
            raise Decline

    # -- scalars -----------------------------------------------------------------------------------------------

    def special_scalar(self, i: int, rest: str, owner: int) -> tuple[str, int]:
        """The quoted or block scalar starting `rest` on line i, whose mapping or sequence is at column
        `owner`, and the index of the line after it; Decline for anything else."""
        first = rest[0]
        if first == "'":
            body = rest[1:]
            end = _SINGLE_END(body)
            if end is not None:
                if not _TRAIL(body, end.end()):
                    raise Decline
                return body[:end.end() - 1].replace("''", "'"), i + 1
            return self.quoted_lines(i, rest, owner, _SINGLE_SPAN)
        if first == '"':
            body = rest[1:]
            end = _DOUBLE_ONE_LINE(body)
            if end is not None:
                if not _TRAIL(body, end.end()):
                    raise Decline
                value = end.group(1)
                if "\\" in value:
                    value = _ESCAPE.sub(_unescape, value)
                return value, i + 1
            return self.quoted_lines(i, rest, owner, _DOUBLE_SPAN)
        if first == "|" or first == ">":
            return self.block_scalar(i, rest, owner)
        raise Decline

    def quoted_lines(self, i: int, rest: str, owner: int, span) -> tuple[str, int]:
        """A quoted scalar over several lines, opening in `rest` on line i: found and folded in the whole text
        at once (a prompt is dozens of lines). Every line after the first is blank or indented past `owner`."""
        text = self.text
        opening = self.offset(i) + len(self.lines[i]) - len(rest)
        end = span(text, opening + 1)
        if end is None:
            raise Decline  # never closed; or, in double quotes, an escape: left to PyYAML
        closing = end.end()
        body = text[opening + 1:closing - 1]
        if not _TRAIL_IN_TEXT(text, closing):
            raise Decline
        breaks = body.count("\n")
        value = _fold_even(body, owner, breaks)
        if value is None:
            if _shallow_line(owner)(body):
                raise Decline
            value = _fold(body)
        if rest[0] == "'":
            value = "'".join(value.split("''"))  # replace's result, a third faster on a prompt
        # The next `offset` counts on from the closing quote's line, not over the scalar's lines again.
        self.start = (i + breaks, text.rfind("\n", 0, closing) + 1)
        return value, i + breaks + 1

    def offset(self, i: int) -> int:
        """Where line i starts in the text: counted on from the last line asked for (lines are asked for in
        order, so the text's lines are summed once), or from the start."""
        line, at = self.start
        if i < line:
            line, at = 0, 0
        at += sum(map(len, self.lines[line:i])) + (i - line)
        self.start = (i, at)
        return at

    def continued_plain(self, text: str, i: int, owner: int) -> tuple[Any, int]:
        """A plain scalar `text` continued on lines i... (indented past `owner`), folded as YAML folds it."""
        lines = self.lines
        n = len(lines)
        pieces = [text]
        blanks = 0
        while i < n:
            line = lines[i]
            stripped = line.strip(" ")
            if not stripped:
                blanks += 1
                i += 1
                continue
            if len(line) - len(line.lstrip(" ")) <= owner or stripped[0] == "#":
                break
            if (stripped[0] in _NOT_PLAIN_FIRST or ": " in stripped or stripped[-1] == ":"
                    or " #" in stripped):
                raise Decline
            pieces.append("\n" * blanks if blanks else " ")
            pieces.append(stripped)
            blanks = 0
            i += 1
        # Blank lines after the last piece are not part of it: the caller skips them again.
        text = "".join(pieces)
        return (text if text[0] not in self.plain_first else self.scalar(text)), i - blanks

    def block_scalar(self, i: int, rest: str, owner: int) -> tuple[str, int]:
        """A literal (`|`) or folded (`>`) block scalar whose header is `rest` on line i."""
        header = _BLOCK_HEADER(rest)
        if header is None or (header.group(2) and header.group(4)):
            raise Decline
        folded = header.group(1) == ">"
        chomping = header.group(2) or header.group(4)
        lines = self.lines
        n = len(lines)
        j = i + 1
        leading = 0
        if header.group(3):
            indent = owner + int(header.group(3))
        else:
            longest_blank = 0
            while j < n and not lines[j].strip(" "):
                longest_blank = max(longest_blank, len(lines[j]))
                leading += 1
                j += 1
            if j >= n:
                raise Decline  # empty
            indent = len(lines[j]) - len(lines[j].lstrip(" "))
            if indent <= owner or longest_blank > indent:
                raise Decline  # empty, or blank lines deeper than the text (YAML's own corner)
            j = i + 1  # read the leading blank lines again below, with the indentation now known
        # Lines: content (at least `indent` spaces, then anything but nothing), blank (at most `indent`
        # spaces), or the end (fewer spaces, then text).
        pieces: list[str] = []
        breaks = 0
        previous: str | None = None  # the last content line
        last = j
        pad = " " * indent
        while j < n:
            line = lines[j]
            if len(line) > indent and line.startswith(pad):
                content = line[indent:]
                last = j
                if previous is None:
                    pieces.append("\n" * breaks)
                elif folded and previous[0] != " " and content[0] != " ":
                    pieces.append("\n" * breaks if breaks else " ")
                else:
                    pieces.append("\n" * (breaks + 1))
                pieces.append(content)
                previous = content
                breaks = 0
            elif not line.strip(" "):
                if j < n - 1 or self.last_has_break:
                    breaks += 1
            else:
                break
            j += 1
        if previous is None:
            raise Decline  # empty
        # The line break after the last content line (none when it ends the text), then the trailing ones.
        if chomping != "-" and (last < n - 1 or self.last_has_break):
            pieces.append("\n")
            if chomping == "+":
                pieces.append("\n" * breaks)
        return "".join(pieces), j


class Locations(Mapping):
    """A document's locations (path -> Location), found when first asked for: by reading the document again
    with the reader that read it, recording them. A plan asks for a few documents' locations, to report a
    problem or a change, and recording every value's location cost a quarter of the first reading."""

    __slots__ = ("_reader", "_line", "_found")

    def __init__(self, reader: _Reader, line: int):
        self._reader = reader
        self._line = line
        self._found: dict[Path_, Location] | None = None

    def _all(self) -> dict[Path_, Location]:
        found = self._found
        if found is None:  # two threads may both read the document: the same answer, the last one kept
            found = self._found = self._reader.locate(self._line)
        return found

    def __getitem__(self, path: Path_) -> Location:
        if path == () and self._found is None:  # the document's own place is known without reading it again
            return _location((self._reader.file, self._line + 1, 1))
        return self._all()[path]

    def __contains__(self, path: object) -> bool:
        return path == () or path in self._all()  # `locate` records the root first, always

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def get(self, path, default=None):
        return self._all().get(path, default)

    def keys(self):
        return self._all().keys()

    def items(self):
        return self._all().items()

    def values(self):
        return self._all().values()

    def __repr__(self) -> str:
        return f"Locations({self._all()!r})"


def _unescape(match: re.Match) -> str:
    escape = match.group(1)
    if len(escape) == 1:
        replacement = _ESCAPES.get(escape)
        if replacement is None:
            raise Decline
        return replacement
    code = int(escape[1:], 16)
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        raise Decline
    return chr(code)


def read(text: str, file: str, scalar: Callable[[str], Any], plain_first: frozenset, max_nodes: int,
         max_depth: int, cache: dict | None = None, ascii_checked: bool = False
         ) -> list[tuple[Any, Locations]] | None:
    """Each non-empty document of `text` as (value, locations), or None when the text is not all in the part of
    YAML this reader takes (see the module's docstring). Locations are Location(file, line, column), 1-based:
    a mapping's value at its key, a sequence item at its first character, a document at its first key; they
    are found when first asked for (see Locations). `cache` (kept by the caller for texts read with the same `scalar`) remembers what each line holds.
    `ascii_checked`: the caller found the text all ASCII without a tab, a carriage return or a NUL (the characters
    this reader declines), so it is not searched for them again."""
    try:
        if not ascii_checked:
            _decline_unusual(text)
        return _Reader(text, file, scalar, plain_first, max_nodes, max_depth,
                       {} if cache is None else cache).documents()
    except (Decline, RecursionError):
        return None
