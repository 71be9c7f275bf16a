"""Edit values in a YAML file in place, leaving every other byte as it was (`provisioner pull`).

A round-trip library re-emits the whole file: it may re-indent a list, re-flow a long line or move a comment.
Here ruamel.yaml only *locates*: its parser's events give where each value starts and ends in the text, and the
new value's text is spliced into the original between those two offsets. Everything outside the spliced spans is
byte-identical by construction, and the result is read back (with PyYAML, as the manifest loader reads it) and
compared with the intended data before anyone writes it.

A value is written in the style it had: plain, 'single' or "double" quoted, a `|` block (multi-line text always
becomes one), a flow `[...]`/`{...}` collection, or a block collection at the value's indentation. A key the
document does not hold yet (a default that drifted, a value a `<<` merge gave) is added as the mapping's last
key. A value shared through an anchor (`&x` used by an alias elsewhere, or reached through an alias) is not
edited: changing it would change the other places too (`SpliceError` says where).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml
from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import YAMLError as RuamelError

Path_ = tuple[str | int, ...]


_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a date read as the text it is written as, as the manifest loader reads it
    (manifest.py): a value that looks like a date and is none (`2026-02-30`) reads, as it did in the manifests,
    instead of raising a ValueError."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def load_all(text: str) -> list[Any]:
    """Every document of `text`, its values read as the manifest loader reads them (dates as text)."""
    return list(yaml.load_all(text, Loader=_Loader))


class SpliceError(ValueError):
    """A value that cannot be written in place safely; the message says why (and the line)."""


@dataclass
class Node:
    kind: str                  # "scalar", "map", "seq" or "alias"
    start: int                 # where the value's own text starts (after any anchor or tag)
    end: int                   # where it ends (a block collection: the end of its last value)
    line: int                  # 1-based line of `start`
    column: int                # 0-based column of `start`
    anchor: str | None = None
    style: str | None = None   # a scalar's: None (plain), "'", '"', "|", ">"
    flow: bool = False         # a collection written [...] or {...}
    value: Any = None          # a scalar's text
    pairs: list[tuple["Node", "Node"]] = field(default_factory=list)  # a mapping's (key, value)
    items: list["Node"] = field(default_factory=list)                  # a sequence's


def documents(text: str) -> list[Node]:
    """The root node of every document of `text`, with spans into `text`."""
    roots: list[Node] = []
    stack: list[Node] = []
    pending_key: list[Node | None] = []

    def add(node: Node) -> None:
        if not stack:
            roots.append(node)
            return
        parent = stack[-1]
        if parent.kind == "seq":
            parent.items.append(node)
        elif pending_key[-1] is None:
            pending_key[-1] = node
        else:
            parent.pairs.append((pending_key[-1], node))
            pending_key[-1] = None

    try:
        events = list(YAML(typ="rt").parse(text))
    except RuamelError as error:
        raise SpliceError(f"the file does not read as YAML here ({str(error).splitlines()[0]}); edit it by hand") \
            from None
    for event in events:
        if isinstance(event, (ev.ScalarEvent, ev.AliasEvent, ev.CollectionStartEvent)):
            start = _value_start(text, event.start_mark.index, event)
            line, column = text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1)
            if isinstance(event, ev.ScalarEvent):
                add(Node("scalar", start, event.end_mark.index, line, column, event.anchor, event.style or None,
                         value=event.value))
            elif isinstance(event, ev.AliasEvent):
                add(Node("alias", start, event.end_mark.index, line, column, anchor=event.anchor))
            else:
                kind = "map" if isinstance(event, ev.MappingStartEvent) else "seq"
                node = Node(kind, start, start, line, column, event.anchor, flow=bool(event.flow_style))
                add(node)
                stack.append(node)
                pending_key.append(None)
        elif isinstance(event, ev.CollectionEndEvent):
            node = stack.pop()
            pending_key.pop()
            last = node.items[-1] if node.items else (node.pairs[-1][1] if node.pairs else None)
            node.end = event.end_mark.index if node.flow or last is None else last.end
    return roots


def _value_start(text: str, index: int, event: Any) -> int:
    """Skip an anchor (`&x`) and a tag (`!!str`) before a value: they stay as they are."""
    while getattr(event, "anchor", None) or getattr(event, "tag", None):
        if index < len(text) and text[index] in "&!":
            while index < len(text) and text[index] not in " \t\n":
                index += 1
            while index < len(text) and text[index] in " \t\n":
                index += 1
            continue
        break
    return index


def _aliases(node: Node, found: dict[str, list[int]]) -> dict[str, list[int]]:
    if node.kind == "alias":
        found.setdefault(node.anchor, []).append(node.line)
    for key, value in node.pairs:
        _aliases(value, found)
    for item in node.items:
        _aliases(item, found)
    return found


@dataclass(frozen=True)
class Splice:
    start: int
    end: int
    text: str


def edit(text: str, document: int, changes: Iterable[tuple[Path_, Any]]) -> str:
    """`text` with each (path, value) of `changes` written into its `document` (0-based), every other byte kept:
    only the parts of a mapping or list that differ are rewritten. Raises SpliceError when a value cannot be
    written in place (or would not read back as intended)."""
    changes = [(tuple(path), value) for path, value in changes]
    if any(c in text for c in _OTHER_BREAKS):  # YAML 1.1 (PyYAML) breaks a line there, YAML 1.2 (ruamel) does not
        raise SpliceError("the file holds a line break other than \\n and \\r\\n (U+0085, U+2028 or U+2029), which "
                          "this editor cannot place; edit it by hand")
    if "\r" in text:  # Windows line breaks: edited as \n, written back as they were (all of them, or refused)
        if text.count("\r") != text.count("\r\n") or text.count("\n") != text.count("\r\n"):
            raise SpliceError("the file mixes line break styles (\\r\\n and \\n); edit it by hand")
        return edit(text.replace("\r\n", "\n"), document, changes).replace("\n", "\r\n")
    try:
        old = load_all(text)
    except yaml.YAMLError as error:
        raise SpliceError(f"the file does not read as YAML ({error})") from None
    if not 0 <= document < len(old):
        raise SpliceError(f"the file has no document {document + 1}")
    expected = with_values(old, [(document, path, value) for path, value in changes])
    out = text
    # One leaf at a time, each located in the text as the previous ones left it (a block scalar's span runs on
    # to where the next key starts: a key added after it must be placed in the text that holds it).
    for path, value in [leaf for path, value in changes for leaf in _leaves(_get(old[document], path), value, path)]:
        root = documents(out)[document]
        splice = _splice(out, root, path, value, _aliases(root, {}), expected[document])
        out = out[:splice.start] + splice.text + out[splice.end:]
    try:
        if load_all(out) != expected:
            raise SpliceError("the edited file would not read back as the intended values")
    except yaml.YAMLError as error:
        raise SpliceError(f"the edited file would not read back as YAML ({error})") from None
    return out


class DocumentEditor:
    """edit() for a file of many documents, a document at a time: each edit reads its document's own text (lines
    before it kept as blank lines, so that every line number stays the file's), not the whole file, which edit()
    parses three times or more per value. A file of 50 assistants with three dashboard edits each was parsed some
    600 times whole (`pull` of 200 assistants: 166 s of CPU). The documents' places are found once, by a parse of
    the file's events, and moved along as edits change the text. A file this cannot split safely (other line
    breaks than \\n, a parse that fails) is edited whole, as edit() does; `text` is then checked whole too."""

    def __init__(self, text: str):
        self.text = text
        self._starts = _document_starts(text)

    def edit(self, document: int, changes: Iterable[tuple[Path_, Any]]) -> str:
        """The file's text with `changes` written into its `document`: what edit(text, document, changes) gives."""
        starts = self._starts
        if starts is None or not 0 <= document < len(starts):  # (out of range: edit() says so)
            self.text = edit(self.text, document, changes)
            return self.text
        begin = starts[document]
        end = starts[document + 1] if document + 1 < len(starts) else len(self.text)
        before = "\n" * self.text.count("\n", 0, begin)
        piece = edit(before + self.text[begin:end], 0, changes)[len(before):]
        self.text = self.text[:begin] + piece + self.text[end:]
        shift = len(piece) - (end - begin)
        self._starts = starts[:document + 1] + [start + shift for start in starts[document + 1:]]
        return self.text


def _document_starts(text: str) -> list[int] | None:
    """Where each document's lines begin (the first at 0), from the file's parse events; None where a document is
    not to be read alone: a line break other than \\n (as edit() treats them), or a parse that fails."""
    if "\r" in text or any(c in text for c in _OTHER_BREAKS):
        return None
    try:
        marks = [event.start_mark.index for event in YAML(typ="rt").parse(text)
                 if isinstance(event, ev.DocumentStartEvent)]
    except RuamelError:
        return None
    starts = [text.rfind("\n", 0, mark) + 1 for mark in marks]
    if not starts or any(text[start:mark].strip() for start, mark in zip(starts, marks)):
        return None  # a document that begins mid-line (after another's content): not split there
    try:
        if len(load_all(text)) != len(starts):  # the documents as the manifests were read (PyYAML) are these
            return None
    except yaml.YAMLError:
        return None
    starts[0] = 0  # the first document's lines take what comes before it (comments, directives)
    return starts


_ABSENT = object()


def value_at(data: Any, path: Path_, missing: Any = None) -> Any:
    """The value at `path` in loaded YAML data (mapping keys, list indexes), or `missing`."""
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return missing
    return data


def _get(data: Any, path: Path_) -> Any:
    return value_at(data, path, _ABSENT)


def with_values(documents: list[Any], changes: Iterable[tuple[int, Path_, Any]]) -> list[Any]:
    """A copy of loaded `documents` with each (document, path, value) of `changes` set (missing mappings on the way
    made): what a file edited in place must read back as."""
    expected = [unshared(d) for d in documents]
    for document, path, value in changes:
        parent = expected[document]
        for part in path[:-1]:
            if isinstance(parent, dict) and part not in parent:
                parent[part] = {}
            parent = parent[part]
        parent[path[-1]] = unshared(value)
    return expected


def unshared(value: Any) -> Any:
    """A copy with no object shared between two places (PyYAML shares an anchor's value with its aliases)."""
    if isinstance(value, dict):
        return {k: unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unshared(v) for v in value]
    return value


def _leaves(old: Any, new: Any, path: Path_) -> list[tuple[Path_, Any]]:
    """The smallest edits that turn `old` into `new`: into a mapping whose keys stay (or are only added to) and a
    list whose length stays; anything else is replaced whole."""
    if isinstance(old, dict) and isinstance(new, dict) and old and set(old) <= set(new):
        return [leaf for key in new if key not in old or not _equal(old[key], new[key])
                for leaf in _leaves(old.get(key, _ABSENT), new[key], path + (key,))]
    if isinstance(old, list) and isinstance(new, list) and old and len(old) == len(new):
        return [leaf for index, (a, b) in enumerate(zip(old, new)) if not _equal(a, b)
                for leaf in _leaves(a, b, path + (index,))]
    return [] if old is not _ABSENT and _equal(old, new) else [(path, new)]


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _splice(text: str, root: Node, path: Path_, value: Any, used: dict[str, list[int]], expected: Any) -> Splice:
    node = root
    for depth, part in enumerate(path):
        _refuse_shared(node, used, root)
        child = _child(node, part)
        if child is None:
            if node.kind != "map" or node.flow and not node.pairs:
                raise SpliceError(f"line {node.line}: no item {part} to write")
            # A key the text does not hold (a default, or a `<<` merge's): its whole new value, explicitly.
            return _insert(text, node, part, _get(expected, path[:depth + 1]))
        node = child
    _refuse_shared(node, used, None)
    return _replace(text, node, value)


def _refuse_shared(node: Node, used: dict[str, list[int]], root: Node | None) -> None:
    if node.kind == "alias":
        raise SpliceError(f"line {node.line}: the value is shared through the alias *{node.anchor}; edit it by hand")
    if node.anchor and node.anchor in used and node is not root:
        raise SpliceError(f"line {node.line}: the value is shared through the anchor &{node.anchor} (also used at "
                          f"line {', '.join(map(str, used[node.anchor]))}); edit it by hand")


def _child(node: Node, part: str | int) -> Node | None:
    if node.kind == "map":
        for key, value in node.pairs:
            if key.kind == "scalar" and key.value == part and key.value != "<<":
                return value
        return None
    if node.kind == "seq" and isinstance(part, int) and 0 <= part < len(node.items):
        return node.items[part]
    return None


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end


def _content_end(text: str, end: int) -> int:
    """The end of the line a value's text ends on (a block scalar's span runs on over its trailing breaks)."""
    while end > 0 and text[end - 1] in " \n":
        end -= 1
    return _line_end(text, end)


def _insert(text: str, mapping: Node, key: str | int, value: Any) -> Splice:
    """A new last key of `mapping`."""
    key_text = render_scalar(key, None, 0, flow=mapping.flow)
    if mapping.flow:
        close = mapping.end - 1  # the `}`
        return Splice(close, close, (", " if mapping.pairs else "") + f"{key_text}: {render_flow(value)}")
    column = mapping.pairs[0][0].column
    at = _content_end(text, mapping.end)
    last = _last_value(mapping)
    if _keeps_blank_lines(text, last) and text[last.end - 1:last.end] == "\n":
        at = last.end - 1  # after the blank lines a `|+` block keeps: they are its text
    if isinstance(value, (dict, list)) and value:
        rendered = "\n" + render_block(value, column + 2)
    else:  # a `|` block without its last line break: the line's own break follows it, as after any value
        rendered = " " + _inline(value, column + 2)
    return Splice(at, at, f"\n{' ' * column}{key_text}:{rendered}")


def _last_value(node: Node) -> Node:
    """The value a block collection's text ends with (its last item's or key's, at any depth)."""
    while not node.flow and (node.items or node.pairs):
        node = node.items[-1] if node.items else node.pairs[-1][1]
    return node


def _keeps_blank_lines(text: str, node: Node) -> bool:
    """Whether `node` is a block scalar with keep chomping (`|+`, `>+`): its trailing blank lines are its text."""
    if node.kind != "scalar" or node.style not in ("|", ">"):
        return False
    match = _BLOCK_HEADER.match(text, node.start, _line_end(text, node.start))
    return bool(match) and "+" in match.group(0).split("#", 1)[0]


def _replace(text: str, node: Node, value: Any) -> Splice:
    if node.kind in ("map", "seq") and _holds_comment(text, node):
        # Rewritten whole (a list that grows or shrinks, a mapping that loses a key), its comments would be dropped
        # or land on other items: a comment is the user's text as much as a value.
        raise SpliceError(f"line {node.line}: the value is written over several lines with comments among them, "
                          "which rewriting it would drop or move; edit it by hand")
    flow = node.flow or _inside_flow(text, node)
    # A block collection's text ends where its last value's content does: a block scalar's span runs on over its
    # line break (and blank lines), which belong to the lines after it (up to there, only blanks or a comment,
    # refused above, stand).
    end = _content_end(text, node.end) if node.kind in ("map", "seq") and not flow else node.end
    if isinstance(value, (dict, list)) and value:
        if flow:
            return Splice(node.start, node.end, render_flow(value))
        if node.kind in ("map", "seq"):  # a block collection, at its own indentation
            return Splice(node.start, end, render_block(value, node.column)[node.column:])
        # A collection where a scalar stood: a list item's starts where it stood; a key's on the next lines.
        start = node.start
        while start > 0 and text[start - 1] in " \t":
            start -= 1
        if start > 0 and text[start - 1] == "-":
            return Splice(node.start, node.end, render_block(value, node.column)[node.column:])
        return Splice(start, node.end, "\n" + render_block(value, _indent_of(text, node) + 2))
    if node.kind in ("map", "seq") and not flow:
        # A block collection becomes a scalar (or an empty one): after its key's colon, when nothing (a comment)
        # stands between them.
        start = node.start
        while start > 0 and text[start - 1] in " \t\n":
            start -= 1
        shown = render_flow(value) if isinstance(value, (dict, list)) else \
            render_scalar(value, None, _indent_of(text, node), flow=False)
        if start > 0 and text[start - 1] == ":":
            return Splice(start, end, " " + (shown[:-1] if shown.startswith("|") else shown))
        return Splice(node.start, end, shown[:-1] if shown.startswith("|") else shown)
    if isinstance(value, (dict, list)):
        return Splice(node.start, node.end, render_flow(value))
    rendered = render_scalar(value, node, _block_indent(text, node) or _indent_of(text, node) + 2, flow=flow)
    end = node.end
    if rendered.startswith("|") and node.style not in ("|", ">"):
        # A new block where an inline value stood: its last line break is the line's own; a comment after the old
        # value would become the block's text, so then the value is written quoted instead.
        rendered = rendered[:-1] if not text[node.end:_line_end(text, node.end)].strip() else _double(value)
    elif node.kind == "scalar" and node.style in ("|", ">"):
        tail = _trailing_breaks(text[node.start:node.end])
        if not rendered.startswith(("|", ">")):
            end -= len(tail)  # the line break after the value stays
        elif tail and "+" not in text[node.start:node.end].split("\n", 1)[0] and "+" not in rendered.split("\n", 1)[0]:
            rendered += tail[1:]  # blank lines after the block stay
        rendered = _with_header_comment(rendered, _header_comment(text, node))
    return Splice(node.start, end, rendered)


_BLOCK_HEADER = re.compile(r"[|>][0-9+-]*([ \t]+#[^\n]*)?")


def _header_comment(text: str, node: Node) -> str:
    """The comment on a block scalar's header line (`| # owned by CX`), with the blanks before it, or "": it stands
    inside the block's span, which is replaced whole, and the read-back cannot miss it (a comment is no value)."""
    match = _BLOCK_HEADER.match(text, node.start, _line_end(text, node.start))
    return match.group(1) or "" if match else ""


def _with_header_comment(rendered: str, comment: str) -> str:
    """`rendered` with `comment` on its first line: after a new block's header, or after an inline value."""
    if not comment:
        return rendered
    first, newline, rest = rendered.partition("\n")
    return first + comment + newline + rest


def _holds_comment(text: str, node: Node) -> bool:
    """Whether a comment stands within the collection `node`'s text: a `#` after a space or at a line's start that
    is not inside one of its scalars."""
    scalars: list[tuple[int, int]] = []
    todo = [node]
    while todo:
        current = todo.pop()
        if current.kind == "scalar" and current.style in ("|", ">"):
            # A block scalar's text starts on the line after its header: a `# note` on the header is a comment.
            scalars.append((_line_end(text, current.start), current.end))
        elif current.kind in ("scalar", "alias"):
            scalars.append((current.start, current.end))
        todo += [n for pair in current.pairs for n in pair] + current.items
    # A block collection's last item's comment is on its line, after the collection's text ends (a block scalar's
    # span runs on over the blank lines after it: the line its content ends on). And a comment on the lines
    # between its key and its first item is about it too.
    end = node.end if node.flow else _content_end(text, node.end)
    start = node.start
    if not node.flow:
        line_start = text.rfind("\n", 0, node.start) + 1
        while line_start > 0:
            previous = text.rfind("\n", 0, line_start - 1) + 1
            if text[previous:line_start - 1].strip(" ")[:1] not in ("", "#"):
                break
            line_start = previous
        start = min(start, line_start)
    at = text.find("#", start, end)
    while at >= 0:
        if (at == start or text[at - 1] in " \t\n") and not any(a <= at < b for a, b in scalars):
            return True
        at = text.find("#", at + 1, end)
    return False


def _block_indent(text: str, node: Node) -> int | None:
    """The indentation of an existing block scalar's content (kept when it is rewritten)."""
    if node.kind != "scalar" or node.style not in ("|", ">"):
        return None
    for line in text[node.start:node.end].split("\n")[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return None


def _trailing_breaks(span: str) -> str:
    """The line breaks (and blank lines) a block scalar's span ends with."""
    stripped = span.rstrip(" \n")
    return span[len(stripped):]


def _inside_flow(text: str, node: Node) -> bool:
    """Whether the value stands inside a flow collection (`[...]`, `{...}`) on its line."""
    line_start = text.rfind("\n", 0, node.start) + 1
    depth = 0
    quote = None
    for char in text[line_start:node.start]:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth > 0


def _indent_of(text: str, node: Node) -> int:
    """The column of the key (or list item) a value belongs to."""
    line_start = text.rfind("\n", 0, node.start) + 1
    line = text[line_start:node.start]
    indent = len(line) - len(line.lstrip(" "))
    stripped = line.lstrip(" ")
    while stripped.startswith("- "):  # an item of a list: its content's column
        rest = stripped[2:]
        indent += 2 + len(rest) - len(rest.lstrip(" "))
        stripped = rest.lstrip(" ")
    return indent


# --- rendering a value ---

_FLOAT_SPECIAL = {math.inf: ".inf", -math.inf: "-.inf"}


def render_scalar(value: Any, old: Node | None, indent: int, *, flow: bool) -> str:
    """A scalar's text in the style `old` had where that style can hold it."""
    if value is None:
        return old.value if old is not None and old.kind == "scalar" and old.style is None \
            and old.value in ("~", "null", "Null", "NULL", "") and old.value else "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if value in _FLOAT_SPECIAL:
            return _FLOAT_SPECIAL[value]
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent if exponent[0] in '+-' else '+' + exponent}"
        return text
    if not isinstance(value, str):
        raise SpliceError(f"cannot write a {type(value).__name__}")
    style = old.style if old is not None and old.kind == "scalar" else None
    if ("\n" in value or style in ("|", ">")) and not flow:
        block = _literal(value, indent)
        if block is not None:
            return block
    if style in ("|", ">") or style is None:
        if "\n" not in value and _plain_ok(value, flow):
            return value
        style = "'" if style is None else '"'
    if style == "'" and "\n" not in value and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return _double(value)


def _double(value: str) -> str:
    text = _json(value)
    return text if _reads_as(text, value) else json.dumps(value)


def _json(value: Any) -> str:
    """JSON (a double-quoted scalar, a flow collection: YAML reads it alike), its non-ASCII text as it is, but the
    line breaks YAML 1.1 knows and YAML 1.2 does not (U+0085, U+2028, U+2029) escaped: PyYAML reads them back
    raw between double quotes, but a file that holds one is a file edit() refuses, so every later pull of it (any
    field) was refused. In JSON they can only stand inside a string, where `\\uXXXX` is the same character."""
    text = json.dumps(value, ensure_ascii=False)
    for char in _OTHER_BREAKS:
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _plain_ok(value: str, flow: bool) -> bool:
    if not value or value != value.strip() or not value.isprintable():
        return False
    if flow and any(c in value for c in ",[]{}"):
        return False
    if any(s in value for s in (": ", " #", "\t")) or value[0] in "!&*|>'\"%@`#,[]{}?:-" and not (
            value[0] in "-?:" and len(value) > 1 and value[1] not in " "):
        return False
    return _reads_as(value, value)


def _reads_as(text: str, value: str) -> bool:
    try:
        return load_all(f"k: {text}\n") == [{"k": value}]
    except yaml.YAMLError:
        return False


def _literal(value: str, indent: int) -> str | None:
    """A `|` block scalar holding `value` exactly, or None when one cannot (leading spaces, control characters)."""
    if value.startswith((" ", "\n")) or any(not (c.isprintable() or c in "\n\t") for c in value):
        return None
    if any(line != line.rstrip(" \t") or line.startswith("\t") for line in value.split("\n")):
        return None
    body = value
    if value.endswith("\n\n"):
        chomp = "+"
        body = value[:-1]
    elif value.endswith("\n"):
        chomp = ""
        body = value[:-1]
    else:
        chomp = "-"
    pad = " " * indent
    return f"|{chomp}\n" + "\n".join(pad + line if line else "" for line in body.split("\n")) + "\n"


def render_flow(value: Any) -> str:
    """A collection as a flow `[...]`/`{...}` (JSON, which YAML reads alike)."""
    return _json(value)


def render_block(value: Any, indent: int) -> str:
    """A collection as block YAML, every line indented by `indent` (the first included), ending with no newline:
    two spaces per level, a list's dashes under its key's value."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{render_scalar(key, None, 0, flow=False)}:"
            lines.append(head + ("\n" + render_block(item, indent + 2) if isinstance(item, (dict, list)) and item
                                 else " " + _inline(item, indent + 2)))
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}- " + render_block(item, indent + 2)[indent + 2:])
            else:
                lines.append(f"{pad}- " + _inline(item, indent + 2))
    return "\n".join(lines)


def _inline(value: Any, indent: int) -> str:
    """A scalar (or an empty collection) after `key: ` or `- ` in block context; a multi-line text as a `|` block
    whose lines are at `indent`."""
    if isinstance(value, (dict, list)):
        return render_flow(value)
    text = render_scalar(value, None, indent, flow=False)
    return text[:-1] if text.startswith("|") else text
