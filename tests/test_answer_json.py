"""answer_json.loads reads every answer as json.loads does: the same value (exactly: type, sign of zero, NaN), or
an error of the same class, for JSON texts of every kind and for arbitrary bytes."""
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner import answer_json

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(st.integers(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e308, 5e-324]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(), st.text(alphabet=st.characters(codec="utf-8")))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=4)),
                      max_leaves=12)


def same(a, b) -> bool:
    """Equal values of equal types, NaN equal to NaN and -0.0 told from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def outcome(decode, raw):
    try:
        return "value", decode(raw)
    except ValueError:  # what the client catches (a JSONDecodeError, a UnicodeDecodeError)
        return "error", ValueError
    except RecursionError:
        return "error", RecursionError


def assert_alike(raw: bytes):
    fast, slow = outcome(answer_json.loads, raw), outcome(json.loads, raw)
    assert fast[0] == slow[0], (raw[:200], fast, slow)
    if fast[0] == "value":
        assert same(fast[1], slow[1]), raw[:200]


@SETTINGS
@given(values, st.sampled_from([{}, {"ensure_ascii": False}, {"separators": (",", ":")}, {"indent": 1}]))
def test_json_texts_read_alike(value, options):
    assert_alike(json.dumps(value, **options).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.binary(max_size=64))
def test_any_bytes_read_alike(raw):
    assert_alike(raw)


@pytest.mark.parametrize("raw", [
    b'{"a":1,"a":2}', b"[18446744073709551616]", b"[-9223372036854775809]", b"[1234567890123456789]",
    b'["12345678901234567890"]', b"[NaN]", b"[Infinity, -Infinity]", b"[1e400]", b'"\\ud800"',
    b"\xef\xbb\xbf{}", '{"a": 1}'.encode("utf-16"), b"\xff", b"[1,]", b'{"a":1}x', b" [1] \n", b"[-0.0, 0.0, -0]",
    b"[" * 100_000, b"[0.1, 1E5, 1e-7, 123456789012345678.5]"])
def test_the_texts_orjson_reads_otherwise_are_json_loads(raw):
    assert_alike(raw)
    if raw == b"[18446744073709551616]":
        assert answer_json.loads(raw) == [2**64] and type(answer_json.loads(raw)[0]) is int
