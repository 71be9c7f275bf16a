"""yaml_splice: a value edited in place, every other byte of the file as it was (styles, comments, anchors)."""
from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner.yaml_splice import SpliceError, edit

TEXT = textwrap.dedent("""\
    # top comment
    apiVersion: provisioner/v1
    kind: Assistant
    metadata:
      name: support   # the address
    spec:
      assistant_name: 'Support'
      greeting: &g "Hi there"
      other: *g
      system_prompt: |
        You are helpful.
        Be brief.

      # a comment about temperature
      temperature: 0.7
      tools:
        - {name: a, url: "http://x"}
      list:
      - one
      - two
      nested:
        a: 1
        b: two
      short: x  # c
    ---
    apiVersion: provisioner/v1
    kind: Folder
    metadata: {name: sales}
    spec: &base
      name: Sales
    """)


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lines only in before, lines only in after), by position of the common prefix and suffix."""
    old, new = before.split("\n"), after.split("\n")
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return old[head:len(old) - tail], new[head:len(new) - tail]


@pytest.mark.parametrize("path, value, removed, added", [
    (("spec", "assistant_name"), "Support desk", ["  assistant_name: 'Support'"], ["  assistant_name: 'Support desk'"]),
    (("spec", "assistant_name"), "it's", ["  assistant_name: 'Support'"], ["  assistant_name: 'it''s'"]),
    (("spec", "temperature"), 0.25, ["  temperature: 0.7"], ["  temperature: 0.25"]),
    (("spec", "short"), "yes", ["  short: x  # c"], ["  short: 'yes'  # c"]),  # plain yes would read as a bool
    (("spec", "short"), "a\nb\n", ["  short: x  # c"], ['  short: "a\\nb\\n"  # c']),  # a comment stays a comment
    (("spec", "system_prompt"), "You are helpful.\nBe very brief.\n", ["    Be brief."], ["    Be very brief."]),
    (("spec", "system_prompt"), "One line", ["  system_prompt: |", "    You are helpful.", "    Be brief."],
     ["  system_prompt: |-", "    One line"]),
    (("spec", "tools"), [{"name": "a", "url": "http://y"}], ['    - {name: a, url: "http://x"}'],
     ['    - {name: a, url: "http://y"}']),
    (("spec", "list"), ["one", "three"], ["  - two"], ["  - three"]),
    (("spec", "nested"), {"a": 2, "b": "two"}, ["    a: 1"], ["    a: 2"]),
    (("spec", "nested"), "flat", ["  nested:", "    a: 1", "    b: two"], ["  nested: flat"]),
    (("spec", "new"), {"k": [1, 2]}, [], ["  new:", "    k:", "      - 1", "      - 2"]),
    (("spec", "new"), "text", [], ["  new: text"]),
    (("metadata", "labels"), {"team": "cx"}, [], ["  labels:", "    team: cx"]),
])
def test_one_value_changes_and_only_its_lines(path, value, removed, added):
    after = edit(TEXT, 0, [(path, value)])
    assert changed_lines(TEXT, after) == (removed, added)
    data = list(yaml.safe_load_all(after))
    node = data[0]
    for part in path:
        node = node[part]
    assert node == value


def test_a_flow_mapping_takes_a_new_key_inside_its_braces():
    after = edit(TEXT, 1, [(("metadata", "labels"), {"tier": "gold"})])
    assert "metadata: {name: sales, labels: {\"tier\": \"gold\"}}" in after


def test_values_shared_through_anchors_are_refused_with_their_line():
    with pytest.raises(SpliceError, match=r"line 8: .*anchor &g \(also used at line 9\)"):
        edit(TEXT, 0, [(("spec", "greeting"), "Hello")])
    with pytest.raises(SpliceError, match=r"line 9: .*alias \*g"):
        edit(TEXT, 0, [(("spec", "other"), "Hello")])


def test_an_anchor_nobody_uses_is_kept_with_the_new_value():
    text = "spec:\n  timezone: &tz America/New_York  # note\n"
    assert edit(text, 0, [(("spec", "timezone"), "Europe/Berlin")]) == \
        "spec:\n  timezone: &tz Europe/Berlin  # note\n"


def test_a_value_a_merge_key_gives_is_written_as_an_explicit_key():
    text = "base: &b\n  color: blue\n  name: x\nspec:\n  <<: *b\n  name: Sales\n"
    after = edit(text, 0, [(("spec", "color"), "red")])
    assert after == text + "  color: red\n"
    assert yaml.safe_load(after)["base"]["color"] == "blue"


def test_the_other_documents_of_the_file_are_untouched():
    after = edit(TEXT, 1, [(("spec", "name"), "Sales team")])
    assert after == TEXT.replace("  name: Sales\n", "  name: Sales team\n")


# --- property: random YAML with comments, one scalar edited, every other line identical ---

KEYS = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30)
SCALARS = st.one_of(WORDS, st.integers(-10**6, 10**6), st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
NEW_VALUES = st.one_of(SCALARS, st.text(st.sampled_from("ab c:#'\"\n-"), max_size=20))
STYLES = st.sampled_from(["plain", "single", "double", "literal"])


def _scalar_text(value, style: str, indent: int) -> str:
    if isinstance(value, str):
        if style == "literal" and value and value.strip() == value and "\n" not in value and value.isprintable():
            return "|-\n" + " " * indent + value
        if style == "single" and "\n" not in value and value.isprintable():
            return "'" + value.replace("'", "''") + "'"
        return yaml.safe_dump(value, default_style='"', width=10**6, allow_unicode=True).strip().split("\n...")[0]
    return yaml.safe_dump(value).strip().split("\n...")[0]


@st.composite
def documents(draw):
    """A mapping of scalars (some in a nested mapping or list), comments on lines and between them; returns the
    text and, per scalar's path, the 0-based numbers of the lines its value is written on."""
    lines, spans = ["# header comment"], {}

    def put(path, prefix: str, indent: int, comment: str = "") -> None:
        text = _scalar_text(draw(SCALARS), draw(STYLES), indent)
        first = len(lines)
        lines.extend((prefix + text + comment).split("\n"))
        spans[path] = range(first, len(lines))

    for key in draw(st.lists(KEYS, min_size=1, max_size=6, unique=True)):
        shape = draw(st.sampled_from(["scalar", "map", "list"]))
        if draw(st.booleans()):
            lines.append(f"# about {key}")
        if shape == "scalar":
            put((key,), f"{key}: ", 2, "  # note" if draw(st.booleans()) else "")
        elif shape == "map":
            lines.append(f"{key}:")
            for inner in draw(st.lists(KEYS, min_size=1, max_size=3, unique=True)):
                put((key, inner), f"  {inner}: ", 4)
        else:
            lines.append(f"{key}:")
            for index in range(draw(st.integers(1, 3))):
                put((key, index), "  - ", 4)
    return "\n".join(lines) + "\n", spans


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.data())
def test_editing_one_scalar_keeps_every_other_line_byte_identical(document, data):
    text, spans = document
    path = data.draw(st.sampled_from(sorted(spans, key=str)))
    value = data.draw(NEW_VALUES)
    try:
        after = edit(text, 0, [(path, value)])
    except SpliceError:
        return  # refused, never silently wrong (edit reads its result back before returning it)
    expected = yaml.safe_load(text)
    node = expected
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert yaml.safe_load(after) == expected
    # Everything before the value's first line and after its last is the same bytes, in the same place.
    old, new = text.split("\n"), after.split("\n")
    first, last = spans[path][0], spans[path][-1]
    assert new[:first] == old[:first]
    tail = old[last + 1:]
    assert new[len(new) - len(tail):] == tail


def test_windows_line_breaks_stay_windows_line_breaks():
    text = "spec:\r\n  name: a  # c\r\n  prompt: |\r\n    x\r\n    y\r\n"
    after = edit(text, 0, [(("spec", "prompt"), "x\nz\n"), (("spec", "extra"), 1)])
    assert after == "spec:\r\n  name: a  # c\r\n  prompt: |\r\n    x\r\n    z\r\n  extra: 1\r\n"
    with pytest.raises(SpliceError, match="mixes line break styles"):
        edit("a: 1\r\nb: 2\n", 0, [(("a",), 2)])


@pytest.mark.parametrize("text", ["a: 1\nb: x\x85y\n", "a: 1\nb: 'x\u2028y'\n", "a: 1\n# note\u2029\nb: 2\n"])
def test_a_line_break_yaml_1_1_knows_and_ruamel_does_not_is_refused_not_a_crash(text):
    """PyYAML (YAML 1.1, what plan reads) breaks a line at U+0085, U+2028 and U+2029; ruamel (YAML 1.2, what locates
    the values) does not, so the two disagreed on where things are: pull failed with "unexpected ScannerError"."""
    with pytest.raises(SpliceError, match="line break other than"):
        edit(text, 0, [(("a",), 2)])


@pytest.mark.parametrize("text, value", [
    ("k:\n  - a  # first\n  - b  # second\nz: 1\n", ["a"]),             # shrinks: "# second" went onto a
    ("k:\n  - a\n  - b  # second\nz: 1\n", ["a"]),
    ("k:\n  - a  # first\n  - b\nz: 1\n", ["a", "b", "c"]),              # grows: a comment moved onto the new item
    ("m:\n  x: 1\n  # y is the carrier's\n  y: 2\nz: 1\n", {"x": 1}),     # a key removed: every comment dropped
    ("m:\n  x: 1\n  y: 2  # why\nz: 1\n", {"x": 1}),
    ("m:\n  # keep x small\n  x: 1\n  y: 2\nz: 1\n", {"y": 2}),  # above the first key: it went onto y
    ("items:\n  # the first is the lookup tool\n  - a\n  - b\nz: 1\n", ["b"]),
])
def test_a_collection_rewritten_whole_that_holds_comments_is_refused(text, value):
    """A list that changes length or a mapping that loses a key is rewritten whole: its comments were dropped, or
    landed on other items. Comments are the user's text: refused, to be edited by hand."""
    key = text.split(":")[0]
    with pytest.raises(SpliceError, match="comments among them"):
        edit(text, 0, [((key,), value)])


@pytest.mark.parametrize("text, value, expected", [
    ("k:\n  - a\n  - b\nz: 1  # z's own\n", ["a"], "k:\n  - a\nz: 1  # z's own\n"),
    ("m:\n  x: '# not a comment'\n  y: a#b\nz: 1\n", {"x": "# not a comment"}, "m:\n  x: '# not a comment'\nz: 1\n"),
    ("k: [a, b]  # the list's line\nz: 1\n", ["a"], 'k: ["a"]  # the list\'s line\nz: 1\n'),
])
def test_a_collection_without_comments_of_its_own_is_still_rewritten(text, value, expected):
    key = text.split(":")[0]
    assert edit(text, 0, [((key,), value)]) == expected


def test_a_comment_above_the_collections_key_is_not_its_own():
    assert edit("# the file's\nk:\n  - a\n  - b\nz: 1\n", 0, [(("k",), ["a"])]) == "# the file's\nk:\n  - a\nz: 1\n"


@pytest.mark.parametrize("header", ["|", "|-", "|+", ">", ">-", "|2"])
@pytest.mark.parametrize("value, written", [
    ("New one.\nNew two.", "|- # keep this note\n    New one.\n    New two.\n"),
    ("  led by spaces", '"  led by spaces" # keep this note\n'),
])
def test_a_comment_on_a_block_scalars_header_line_is_kept(header, value, written):
    """`prompt: | # note`: the comment stood in the block's span (header to last line), which was replaced whole,
    and the edited file read back as intended all the same (a comment is no value): the note was silently lost."""
    text = f"spec:\n  prompt: {header} # keep this note\n    Old one.\n    Old two.\n  name: x\n"
    out = edit(text, 0, [(("spec", "prompt"), value)])
    assert out == f"spec:\n  prompt: {written}  name: x\n"
    assert yaml.safe_load(out)["spec"] == {"prompt": value, "name": "x"}


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
@pytest.mark.parametrize("text, path, value", [
    ("spec:\n  prompt: old\n  name: x\n", ("spec", "prompt"), "one{}two"),
    ("spec:\n  docs:\n  - {name: a, key: a}\n  name: x\n", ("spec", "docs", 0, "name"), "one{}two"),
    ("spec:\n  tags: [a]\n  name: x\n", ("spec", "tags"), ["a", "one{}two"]),
])
def test_a_line_break_only_yaml_1_1_knows_is_written_escaped_so_the_file_stays_editable(char, text, path, value):
    """A value holding U+2028 (or U+0085, U+2029) was written raw between double quotes: PyYAML reads it back, but
    the file then held a character edit() refuses, so every later pull of that file (any field) was refused."""
    value = value.replace("{}", char) if isinstance(value, str) else [v.replace("{}", char) for v in value]
    out = edit(text, 0, [(path, value)])
    assert char not in out
    again = edit(out, 0, [(("spec", "name"), "y")])
    assert yaml.safe_load(again)["spec"]["name"] == "y"
    loaded = yaml.safe_load(again)
    for part in path:
        loaded = loaded[part]
    assert loaded == value


@pytest.mark.parametrize("after", ["", "# closing comment\n", "---\nspec: {name: other}\n"])
def test_a_multi_line_key_added_to_a_mapping_adds_no_blank_line(after):
    """A new key holding a multi-line text (a prompt a `<<` merge gave, a default the dashboard changed) is a `|`
    block, whose last line break was written as well as the line's own: a blank line no one asked for followed."""
    text = "base: &b\n  system_prompt: Be brief.\nspec:\n  <<: *b\n  name: Sales\n" + after
    out = edit(text, 0, [(("spec", "system_prompt"), "Be kind.\nBe brief.")])
    assert out == ("base: &b\n  system_prompt: Be brief.\nspec:\n  <<: *b\n  name: Sales\n"
                   "  system_prompt: |-\n    Be kind.\n    Be brief.\n" + after)


def test_a_collection_rewritten_whole_holding_a_block_scalars_header_comment_is_refused():
    """`description: | # note` inside a list that grows: the note was taken for the block's text, so the list was
    rewritten whole and the note silently dropped."""
    text = ("spec:\n  schema:\n  - name: a\n    description: | # keep me\n      text\n"
            "  - name: c\n    description: e\n  name: x\n")
    value = [{"name": "a", "description": "text\n"}, {"name": "c", "description": "e"},
             {"name": "b", "description": "d"}]
    with pytest.raises(SpliceError, match="line 3: .*comments among them"):
        edit(text, 0, [(("spec", "schema"), value)])


@pytest.mark.parametrize("tail", ["", "\n", "\n\n# closing comment\n"])
def test_a_block_collection_ending_with_a_block_scalar_is_rewritten_whole(tail):
    """A block scalar's span runs on over its line break: rewriting whole a list whose last value is one (a
    post-call field's `|` description, then one more field) joined the next key onto the last new line, and the
    edit was refused as not YAML."""
    text = "spec:\n  schema:\n  - name: a\n    description: |\n      text\n" + tail + "  name: x\n"
    value = [{"name": "a", "description": "text\n"}, {"name": "b", "description": "d"}]
    out = edit(text, 0, [(("spec", "schema"), value)])
    assert yaml.safe_load(out)["spec"] == {"schema": value, "name": "x"}
    assert out.endswith(tail + "  name: x\n")
    empty = edit(text, 0, [(("spec", "schema"), [])])
    assert yaml.safe_load(empty)["spec"] == {"schema": [], "name": "x"} and empty.endswith(tail + "  name: x\n")


@pytest.mark.parametrize("after", ["", "next: 1\n", "# closing\nnext: 1\n"])
def test_a_key_added_after_a_keep_block_leaves_the_blocks_blank_lines_in_it(after):
    """`system_prompt: |+` keeps its blank lines: a key added after it went in before them, the prompt lost them,
    and a default changed in the dashboard could not be pulled ('would not read back as the intended values')."""
    text = "spec:\n  system_prompt: |+\n    Be brief.\n\n" + after
    out = edit(text, 0, [(("spec", "color"), "green")])
    assert out == "spec:\n  system_prompt: |+\n    Be brief.\n\n  color: green\n" + after
