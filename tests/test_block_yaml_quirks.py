"""A differential fuzz of the block YAML reader (provisioner/block_yaml.py) on YAML 1.1's quirks, against PyYAML.

tests/test_block_yaml.py generates texts from the part of YAML the reader takes; these texts are written as
people write manifests, with what YAML 1.1 makes of them: yes/no/on/off/y/n booleans, octal, hexadecimal,
binary and underscored integers, sexagesimal 1:30, timestamps, .inf/.nan, `~`, quoted scalars with escapes and
`''`, plain scalars with `: ` and ` #`, block scalars with chomping and indentation indicators, trailing spaces,
empty values, anchors, aliases, merge keys, tags, duplicate keys, CRLF line ends, a byte-order mark, tabs,
non-ASCII keys and values, long lines, comments everywhere, flow collections, `---` and `...`. For every text:
- the reader declines it, or gives what the PyYAML path (the fallback) gives: the same values of the same types and
  the same locations, and that path reports no problem;
- whatever the reader takes, pure-Python PyYAML's safe loader reads alike (timestamps kept as text, as manifests
  keep them);
- read from a file, the text with CRLF or lone CR line ends or a byte-order mark gives the same documents and the
  same problems (message, file, line, field) as with LF;
- one mistake written into it (a duplicate key, a tab, .inf, a control character, an unsupported tag, a `${...}`
  unquoted in a flow collection) is reported at its file and line (a duplicate key with its field), never as a
  traceback.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from provisioner.manifest import DEFAULT_LIMITS, _load_yaml, _read_block_yaml, load_documents


def typed(value):
    """The value with every type spelled out, so 1 == 1.0 == True no longer compare equal."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


class _PurePythonSafeLoader(yaml.SafeLoader):
    """PyYAML's own safe loader in Python (not libyaml), with dates kept as the text they are written as."""


_PurePythonSafeLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


# -- what people write -------------------------------------------------------------------------------------------

PLAIN_KEYS = ["name", "spec", "prompt", "llm_model", "a", "x-y", "k.v/w", "a b", "é", "ключ", "日本", "key_1"]
QUIRKY_KEYS = ["on", "off", "yes", "no", "y", "n", "Y", "true", "False", "null", "~", "1", "01", "0x1F", "1_0",
               "1:30", "1.5", "2026-12-05", "<<", "=", "a#b", "a #b", "a'b", '"q"', "'q'", "-1", "+1", "?x", "!x",
               "&x", "*x", "%x", "@x", "a\u00a0", "k" * 260]
WORDS = [
    # booleans and null, YAML 1.1 spellings
    "yes", "Yes", "YES", "no", "No", "on", "On", "OFF", "y", "Y", "n", "N", "true", "True", "FALSE", "tRue",
    "~", "null", "Null", "NULL", "",
    # integers: octal, hexadecimal, binary, underscores, signs, sexagesimal
    "0", "00", "007", "08", "0o17", "0x1F", "0X1f", "0x_1", "0b101", "0b2", "1_000", "_1", "+1", "-0", "+0x1",
    "1:30", "1:30:00", "-1:30", "1:60", "190:20:30", "12345678901234567890",
    # floats (not .inf or .nan, which manifests refuse: RARE_WORDS)
    "1.5", "1.", ".5", "-.5", "+.5", "1e3", "1.0e3", "1.0e+3", "6.8523015e+5", "1_0.5", "1:30.5", "inf", "nan",
    # timestamps, valid or not
    "2026-12-05", "2026-1-5", "2026-12-05 10:00:00", "2026-12-05T10:00:00Z", "2026-12-05t10:00:00.5+01:00",
    "2026-02-30",
]
# Text people write, plain or quoted, which the reader takes.
TEXTS = [
    "x", "hello world", "a:b", "a #b", "a#b", "a  #  b", "http://x.y/p?q=1#frag", "-x", "--", "---", "...", "a, b",
    "x]", "x}", "a [b] {c}", "x!", "${env.TOKEN}", "$${x}", "é ü", "\u00a0x", "x\u00a0", "x\u3000y", "😀", "a  b",
    "x" * 1500, "'x'", "'it''s'", "''", "''''", "'a # b'", "'a: b'", "'x' # c", '"x"', '""', '"a\\nb"',
    '"\\t\\"\\\\"', '"\\x41\\u00e9\\U0001F600"', '"\\/\\ \\0"', '"a # b"',
]
# What the reader leaves to PyYAML: indicators, escapes it does not take, anchors, aliases, tags, flow collections,
# values manifests refuse.
RARE_WORDS = [
    "a: b", "a :b", "x:", "- x", "? x", "?x", ":x", "[x", "{x", "=", "<<", "!", "!x", "&", "&x", "*", "*x", "%x",
    "@x", "`x", "|x", ">x", "'x'y", '"\\e\\a\\N\\_\\L\\P"', '"\\q"', '"\\ud800"', '"x" y', "&a x", "*a", "&a",
    "!!str 1", "!!int '1'", "!!int x", "!!float 1", "!!bool yes", "!!null ''", "!!binary aGk=", "!!set {a}",
    "!foo x", "! x", "[1, 2]", "[]", "{}", "{a: 1, b: [x, y]}", "[a, [b, {c: d}]]", "{a: 1", ".inf", "-.Inf",
    "+.INF", ".nan", ".NaN",
]
BLOCK_HEADERS = ["|", ">", "|-", "|+", ">-", ">+", "|1", "|2", ">2", "|-1", "|2+", "| # c", ">  "]
RARE_BLOCK_HEADERS = ["|#c", "|0", ">-+", "|10", "| x"]
BLOCK_LINES = ["x", "a: b", "# not a comment", "- y", "'q'", '"d"', "  deeper", "x  ", "é", "\\n", "''", "---", "..."]
COMMENTS = [""] * 6 + [" # c", "  #c", " #", " # é # x", " #: x"]
RARE_COMMENTS = ["#c", "\t# c"]
SEPARATORS = ["---", "--- # doc", "---  "]
RARE_SEPARATORS = ["...", "... # end", "--- |", "--- a: 1", "%YAML 1.1\n---", "---\t"]


@st.composite
def one_of(draw, usual: list, rare: list, odds: int):
    """An item of `usual`, or of `rare` one time in `odds` (never when `rare` is empty)."""
    return draw(st.sampled_from(rare if rare and draw(st.integers(1, odds)) == 1 else usual))


@st.composite
def scalar_lines(draw, owner: int, rare: bool):
    """A value after `key: ` or `- `, as lines (the first without indentation); `owner` is the column of its key or
    its dash. Only with `rare` anything the reader declines but a deeper or shallower line."""
    more = owner + draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["word"] * 4 + ["text"] * 2 + ["block", "quoted", "plain"]))
    if kind in ("word", "text"):
        return [draw(one_of(WORDS if kind == "word" else TEXTS, RARE_WORDS if rare else [], 6))]
    if kind == "block":
        width = more + draw(st.sampled_from([0, 0, 1]))
        lines = [draw(one_of(BLOCK_HEADERS, RARE_BLOCK_HEADERS if rare else [], 6))]
        for _ in range(draw(st.integers(0, 5))):
            line = draw(st.sampled_from(BLOCK_LINES + ["", ""]))
            lines.append(" " * width + line if line else draw(st.sampled_from(["", " " * width, " " * (width + 2)])))
        return lines
    if kind == "quoted":
        quote = draw(st.sampled_from(["'", '"']))
        lines = [quote + draw(st.sampled_from(["", "x", "x ", "a''b" if quote == "'" else "a'b", "é"]))]
        for _ in range(draw(st.integers(1, 4))):
            line = draw(st.sampled_from(["a", "b c ", "", "", "  ", "it''s" if quote == "'" else "it's", "# x", "- y",
                                         "e: f", "\\" if rare else "\\\\", "\\n"]))
            lines.append(" " * (more + draw(st.integers(0, 2))) + line if line.strip() else line)
        lines[-1] += quote + draw(st.sampled_from(["", " ", " # c"] + (["x"] if rare else [])))
        return lines
    lines = [draw(st.sampled_from(["a", "1", "yes", "x y", "-1", "1:30"]))]  # a plain scalar over several lines
    for _ in range(draw(st.integers(1, 4))):
        line = draw(st.sampled_from(["a", "b c", "1", "", "é", "yes", "~", "x\u00a0#y"]
                                    + (["e:f", "#x", "x #y", "- z"] if rare else [])))
        lines.append(" " * (more + draw(st.integers(0, 2))) + line if line else draw(st.sampled_from(["", "  "])))
    return lines


@st.composite
def mapping_lines(draw, column: int, depth: int, rare: bool, first_prefix: str | None = None):
    keys = draw(st.lists(st.sampled_from(PLAIN_KEYS), min_size=1, max_size=4, unique=True))
    keys = [draw(st.sampled_from(QUIRKY_KEYS)) if draw(st.integers(0, 11)) == 0 else key for key in keys]
    if rare and draw(st.integers(0, 9)) == 0:
        keys.append(keys[0])  # a duplicate key
    out: list[str] = []
    for number, key in enumerate(keys):
        prefix = first_prefix if (number == 0 and first_prefix is not None) else " " * column
        colon = draw(one_of([": ", ":  "], [" : ", ":\u00a0"] if rare else [], 8))
        kind = draw(st.sampled_from(["scalar"] * 5 + ["map", "map", "seq", "indentless", "empty"]))
        if depth > 3 and kind in ("map", "seq", "indentless"):
            kind = "scalar"
        comment = draw(one_of(COMMENTS, RARE_COMMENTS if rare else [], 6))
        if kind == "scalar":
            value = draw(scalar_lines(column, rare))
            out.append(prefix + key + colon + value[0] + (comment if len(value) == 1 else ""))
            out += value[1:]
        else:
            out.append(prefix + key + ":" + draw(one_of([""], [" &a", " !!map", " !!seq"] if rare else [], 4))
                       + comment)
            if draw(st.integers(0, 6)) == 0:
                out.append(" " * draw(st.integers(0, column + 4)) + "# a comment line anywhere")
            if kind == "map":
                out += draw(mapping_lines(column + draw(st.integers(1, 3)), depth + 1, rare))
            elif kind != "empty":
                width = column if kind == "indentless" else column + draw(st.integers(1, 3))
                out += draw(sequence_lines(width, depth + 1, rare))
        if rare and draw(st.integers(0, 7)) == 0:
            out.append(" " * column + draw(st.sampled_from(["<<: *a", "<<: {m: 1}", "<<: [*a, {m: 2}]"])))
        if draw(st.integers(0, 8)) == 0:
            out.append(draw(one_of(["", "# comment", "   # indented comment", "  "], ["\t# tab"] if rare else [], 4)))
    return out


@st.composite
def sequence_lines(draw, column: int, depth: int, rare: bool):
    out: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        dash = " " * column + "-" + " " * draw(st.integers(1, 3))
        shape = draw(st.integers(0, 9))
        if depth <= 3 and shape < 4:
            out += draw(mapping_lines(len(dash), depth + 1, rare, first_prefix=dash))
        elif shape == 4 and rare:
            out.append(" " * column + "-" + draw(st.sampled_from(COMMENTS)))  # the item on the lines below
            out.append(" " * (column + 2) + draw(st.sampled_from(["m: 1", "x", "- y"])))
        else:
            value = draw(scalar_lines(column, rare))
            out.append(dash + value[0])
            out += value[1:]
    return out


@st.composite
def manifest_texts(draw, documents: int = 3, rare: bool | None = None):
    """Manifest files: mostly of what the reader takes with now and then a construct it does not; one in three
    (or as `rare` says) `rare`, with all of YAML's other constructs, CRLF line ends, a byte-order mark or a tab."""
    rare = draw(st.integers(0, 2)) == 0 if rare is None else rare
    parts: list[str] = []
    for number in range(draw(st.integers(1, documents))):
        if number or draw(st.booleans()):
            parts.append(draw(one_of(SEPARATORS, RARE_SEPARATORS if rare else [], 4)) if documents > 1 else "---")
        if draw(st.integers(0, 9)) == 0:
            parts.append("# only a comment")
        else:
            parts += draw(mapping_lines(0, 0, rare))
    line_ends = ["\n", "\n", "\n", "\r\n", "\r"] if rare else ["\n"]
    text = "".join(part + draw(one_of(["\n", " \n"], line_ends, 4)) for part in parts)
    if draw(st.integers(0, 9)) == 0:
        text = text.rstrip("\n")  # no line break at the end
    if rare and draw(st.integers(0, 5)) == 0:
        text = "\ufeff" + text
    if rare and draw(st.integers(0, 5)) == 0:
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.sampled_from(["\t", "\t ", " \t"])) + text[position:]
    return text


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- the reader against the PyYAML path and against PyYAML itself ------------------------------------------------

@settings(max_examples=500, **SETTINGS)
@given(manifest_texts())
@example("on: yes\noff: No\ny: n\nnull: ~\n")
@example("a: 0o17\nb: 0x_1F\nc: 0b1_0\nd: 1_0:30\ne: +.5\nf: 1.e3\ng: 09\nh: 2026-02-30\n")
@example("k: |2-\n    x\n   y\n\n\nl: >+\n  a\n   b\n\n  c\n\n")
@example("k: 'it''s\n  a\n\n  ''b'''\nl: \"\\x41\\u00e9 # \\\\\"\n")
@example("é: ü\u00a0#x\nx\u00a0: a #b\n" + "w: " + "x" * 3000 + "\n")
@example("a: x\n  y\n\n  z # c\nb: - x\n")
@example("a:\n- x\n-  b: 1\n   c:\n   - 1\nd: 2\n---\n# c\n...\n")
def test_the_reader_declines_or_reads_as_pyyaml_does(text):
    fast = _read_block_yaml(text, "m.yaml", DEFAULT_LIMITS)
    if fast is None:
        return
    slow, problems = _load_yaml(text, "m.yaml", DEFAULT_LIMITS)
    assert not problems, (text, problems)
    assert [typed(d.content) for d in fast] == [typed(d.content) for d in slow], text
    assert [dict(d.locations) for d in fast] == [d.locations for d in slow], text
    assert [d.may_reference for d in fast] == [d.may_reference for d in slow], text
    pure = [d for d in yaml.load_all(text, Loader=_PurePythonSafeLoader) if d is not None]
    assert [typed(d.content) for d in fast] == [typed(d) for d in pure], text


def test_the_generated_texts_exercise_the_reader():
    """The fuzz means something only if the reader takes a fair share of the texts (and declines others)."""
    taken = []

    @settings(max_examples=150, database=None, derandomize=True, **SETTINGS)
    @given(manifest_texts())
    def count(text):
        taken.append(_read_block_yaml(text, "m.yaml", DEFAULT_LIMITS) is not None)

    count()
    assert 0.1 * len(taken) < sum(taken) < 0.9 * len(taken), sum(taken)


# -- the same text with other line ends or a byte-order mark, from a file ----------------------------------------

def read_file(folder: Path, data: bytes):
    path = folder / "m.yaml"
    path.write_bytes(data)
    documents, problems = load_documents([path])
    return ([(typed(d.content), sorted((repr(p), tuple(loc)) for p, loc in d.locations.items()))
             for d in documents],
            [(p.message, tuple(p.location) if p.location else None, p.field) for p in problems])


@settings(max_examples=150, **SETTINGS)
@given(manifest_texts(), st.sampled_from(["\r\n", "\r", "bom", "bom+\r\n"]))
@example("a: |\n  x\n\n  y\nb: 'p\n  q'\n", "\r\n")
@example("a: 1\na: 2\n", "\r")
@example("a: 1\nb:\n\tc: 2\n", "bom+\r\n")
def test_line_ends_and_a_byte_order_mark_change_nothing(text, variant):
    if any(c in text for c in "\r\ufeff\x85\u2028\u2029"):
        return
    other = text.replace("\n", variant.replace("bom+", "").replace("bom", "\n"))
    data = ("\ufeff" if variant.startswith("bom") else "") + other
    with tempfile.TemporaryDirectory() as folder:
        assert read_file(Path(folder), data.encode()) == read_file(Path(folder), text.encode()), repr(data)


# -- one mistake, reported where it is -----------------------------------------------------------------------------

MISTAKES = {
    "duplicate": ("{key}: again", "duplicate key"),
    "tab": ("\t{key}x: 1", "a tab character at line {line}"),
    "infinity": ("{key}x: .inf", "is not a finite number"),
    "nan": ("{key}x: .NaN", "is not a finite number"),
    "control": ("{key}x: \"a\x01b\"", "U+0001"),
    "binary": ("{key}x: !!binary aGk=", "!!binary is not supported"),
    "bad int": ("{key}x: !!int twelve", "is not a valid !!int"),
    "unquoted reference": ("{key}x: [a, ${{var.y}}]", 'must be quoted: write "${{var.NAME}}"'),
}


@settings(max_examples=250, **SETTINGS)
@given(manifest_texts(documents=1, rare=False), st.sampled_from(sorted(MISTAKES)), st.sampled_from(["\n", "\r\n"]))
@example("a: 1\nb: |\n  x\n", "duplicate", "\n")
@example("a: 'p\n  q'\n", "tab", "\r\n")
def test_a_mistake_is_reported_at_its_file_and_line(text, mistake, line_end):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if any(c in text for c in "\r\ufeff\t") or read_file(folder, text.encode())[1]:
            return  # a text with a problem of its own
        documents, _ = load_documents([folder / "m.yaml"])
        if len(documents) != 1 or not isinstance(documents[0].content, dict):
            return
        key = next((k for k in documents[0].content if isinstance(k, str) and k.isidentifier() and len(k) < 60),
                   None)  # (a longer key is shown clipped)
        # A merge key's value may be overridden (not a duplicate); a line after `...` or a last `---` is another
        # document's.
        if key is None or "..." in text or "<<" in text or text.rstrip("\n").endswith("---"):
            return
        written, said = MISTAKES[mistake]
        body = text if text.endswith("\n") else text + "\n"
        line = body.count("\n") + 1
        data = (body + written.format(key=key) + "\n").replace("\n", line_end)
        problems = read_file(folder, data.encode())[1]
    assert problems, data
    message, location, field = problems[0]
    assert location[:2] == (str(folder / "m.yaml"), line), (data, problems)
    assert said.format(line=line) in message, (data, problems)
    if mistake == "duplicate":
        assert field == key and f"'{key}'" in message, (data, problems)
