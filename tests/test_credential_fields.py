"""manifest.credential_fields looks at every text of a spec's fields at once (orjson's text of them) and asks field
by field only when one could carry credentials: the answer is always the field-by-field one
(manifest._credential_fields), for any value a spec may hold and for the ones orjson refuses or writes otherwise."""
import datetime

from hypothesis import example, given, settings, strategies as st

from provisioner.manifest import _credential_fields, credential_fields

TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "x", "a=b", "@", "Bearer", "Bearer abc123", "Authorization: Bearer tok",
                     "https://u:p@h.example/x", "https://h.example/?api_key=abc", "https://h.example/?q=1",
                     "mail@example.com", "Bea", "rer", "\ud800", "é=ü", "\x00@", "token=x&y=z", '"=\\"', "B\u0065arer"]))


class Text(str):
    pass


class Mapping(dict):
    pass


SCALARS = st.one_of(TEXTS, st.integers(), st.integers(min_value=2 ** 64, max_value=2 ** 70), st.floats(),
                    st.booleans(), st.none(), st.just(datetime.date(2026, 12, 5)), TEXTS.map(Text),
                    st.just(b"a=b"))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXTS, inner, max_size=4),
                            st.dictionaries(st.integers(0, 3), inner, max_size=2), st.tuples(inner),
                            st.dictionaries(TEXTS, inner, max_size=2).map(Mapping)),
    max_leaves=12)


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(st.sampled_from(["system_prompt", "webhook_url", "variables", "tools", "a", "b"]), VALUES,
                       max_size=5))
@example({"webhook_url": "https://u:p@h.example/x"})
@example({"variables": {"https://u:p@h.example/?token=1": 1}})
@example({"tools": [{"description": "Bearer abcdefghijkl"}]})
@example({"a": "Bearer abc", "b": "\ud800"})
@example({"a": [1, {"k": "x=1"}], "b": 2 ** 70})
def test_the_one_look_gives_the_field_by_field_answer(fields):
    assert credential_fields(fields) == _credential_fields(fields)


def test_a_spec_that_is_no_mapping_has_none():
    assert credential_fields(["https://u:p@h.example/x"]) == frozenset()
    assert credential_fields(None) == frozenset()
