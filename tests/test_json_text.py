"""JSON the provisioner writes through orjson (json_text.py): request bodies mean what httpx's encoding meant,
state records are canonical, and only a canonical record is read without the strict reader's checks."""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from provisioner import json_text
from provisioner.state import ResourceState, _DuplicateKey, strict_json

SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=25)
# Beyond what orjson writes: integers past 64 bits (the standard library writes them exactly).
WIDE = st.recursive(SCALARS | st.integers(2**64, 2**80) | st.integers(-2**80, -2**63 - 1),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=25)


def httpx_body(value) -> bytes:
    return httpx.Request("POST", "http://x/", json=value).content


def same_types(a, b) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0, True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_types, a, b))
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@settings(max_examples=300, deadline=None)
@given(WIDE.filter(lambda value: value is not None))
def test_a_body_is_the_json_value_httpx_sends_and_its_bytes_but_for_a_float_s_notation(value):
    ours, theirs = json_text.body(value), httpx_body(value)
    assert same_types(json.loads(ours), json.loads(theirs))
    if not _has_float(value):  # a float's digits are the same, its notation may differ (6.1e-05, 0.000061)
        assert ours == theirs


def _has_float(value) -> bool:
    if isinstance(value, dict):
        return any(map(_has_float, value.values()))
    if isinstance(value, list):
        return any(map(_has_float, value))
    return type(value) is float


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"a": [1, {"b": math.nan}]}, [None, math.inf]])
def test_a_body_with_nan_or_infinity_is_refused_as_httpx_refuses_it(value):
    with pytest.raises(ValueError):
        httpx_body(value)
    with pytest.raises(ValueError):
        json_text.body(value)


def test_what_orjson_cannot_write_is_written_by_the_standard_library():
    assert json_text.body({1: 2**70}) == httpx_body({1: 2**70}) == b'{"1":1180591620717411303424}'
    assert json_text.canonical({"b": 2**70, "a": 1}) == '{"a":1,"b":1180591620717411303424}'
    assert json_text.canonical({"s": "\ud800"}) == '{"s":"\\ud800"}'  # a lone surrogate, escaped: never bad UTF-8
    for no_json in (object(), datetime.date(2026, 1, 1), Point(1, 2)):  # orjson alone would write the last two
        with pytest.raises(TypeError):
            json_text.body({"a": no_json})
        with pytest.raises(TypeError):
            json_text.canonical({"a": [no_json]})


@dataclasses.dataclass
class Point:
    x: int
    y: int


@settings(max_examples=300, deadline=None)
@given(WIDE)
def test_a_canonical_text_is_the_value_with_every_key_sorted(value):
    text = json_text.canonical(value)
    assert same_types(json.loads(text), _sorted(value))
    assert " " not in re.sub(r'"(?:[^"\\]|\\.)*"', "", text)  # compact: no space outside strings


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


@pytest.mark.parametrize("value", [{"a": math.nan}, {"remote": {"x": [math.inf]}}, {"a": None, "b": -math.inf}])
def test_a_record_with_nan_or_infinity_is_refused_not_written_as_null(value):
    with pytest.raises(ValueError):
        json_text.canonical(value)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_what_canonical_writes_is_read_back_as_the_strict_reader_reads_it(value):
    text = json_text.canonical(value)
    fast = json_text.read_canonical(text)
    if fast is None:  # only a float orjson reads back otherwise, or null itself, may take the strict road
        assert value is None or text != json_text.canonical(strict_json(text))
    else:
        assert same_types(fast, strict_json(text))


TEXTS = st.one_of(
    JSON.map(lambda v: json.dumps(v, sort_keys=True)),  # an older version's form: spaces, ASCII escapes
    JSON.map(lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)),
    JSON.map(json_text.canonical),
    st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \\u', max_size=40),
)


@settings(max_examples=500, deadline=None)
@given(TEXTS, st.integers(0, 60), st.sampled_from(["", " ", '"a":1,', "NaN", "1e400", '"', "0"]))
def test_a_text_is_read_without_the_checks_only_when_the_checks_would_read_it_the_same(text, at, insert):
    text = text[:at] + insert + text[at:]
    fast = json_text.read_canonical(text)
    if fast is not None:
        assert same_types(fast, strict_json(text))
        assert json_text.canonical(fast) == text


@pytest.mark.parametrize("text", [
    '{"a":1,"a":2}',                       # a key twice: the strict reader names it
    '{"spec":{"x":1,"x":1},"protect":false}',
])
def test_a_key_twice_is_never_read_by_the_fast_road(text):
    assert json_text.read_canonical(text) is None
    with pytest.raises(_DuplicateKey):
        strict_json(text)


@pytest.mark.parametrize("text", ['{"a":NaN}', '{"a":Infinity}', '{"b":1,"a":2}', '{"a": 1}', ' {"a":1}',
                                  '{"a":"\\u00e9"}', '{"a":1.0E5}', '{"a":18446744073709551616}'])
def test_any_other_form_takes_the_strict_road(text):
    assert json_text.read_canonical(text) is None


def test_a_full_record_is_canonical_and_read_back_whole():
    entry = ResourceState(id=7, spec={"assistant_name": "Ünïcode", "llm_temperature": 0.7, "max_tokens": 250,
                                      "variables": {"b": "2", "a": "1"}, "post_call_schema": [{"name": "x"}]},
                          remote={"speech_speed": 1.5e-7, "allow_interruptions": True}, sensitive=["webhook_url"],
                          source="manifests/a.yaml", depends_on=["tool.t"])
    text = entry.record_json()
    assert text.startswith('{"depends_on":["tool.t"],"protect":false,"remote":{"allow_interruptions":true,')
    assert "Ünïcode" in text  # UTF-8, not escaped
    assert json_text.read_canonical(text) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), WIDE, min_size=1, max_size=5), st.lists(WIDE, max_size=5), st.data())
def test_a_document_in_pieces_is_the_whole_documents_text(members, items, data):
    """A saved plan and `plan --json` are written a change at a time (json_text.in_pieces): joined, the pieces are the
    text of the whole document, indented (the printed plan) or compact (the file), for any values around the list."""
    key = data.draw(st.sampled_from(sorted(members)))
    whole = {**members, key: items}
    for encoder in (json.JSONEncoder(indent=2, ensure_ascii=False), json.JSONEncoder(separators=(",", ":"))):
        pieced = ((name, json_text.Items(iter(items)) if name == key else value) for name, value in members.items())
        assert "".join(json_text.in_pieces(pieced, encoder)) == encoder.encode(whole)
