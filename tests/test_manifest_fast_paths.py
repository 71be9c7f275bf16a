"""The loader's fast paths (manifest.py) give exactly what PyYAML's own rules give: the character check, the
tags of scalars and collections, and the location of every value."""
import pathlib
import tempfile

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from provisioner.manifest import Location, load_documents


def load(tmp_path, text: str):
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return load_documents([path])


@pytest.mark.parametrize("code", range(0x80))
def test_every_ascii_character_is_allowed_or_refused_as_pyyaml_rules(tmp_path, code):
    text = f"a: 1\nb: x{chr(code)}y\n" if chr(code) not in "\n\r" else "a: 1\nb: xy\n"
    allowed = yaml.reader.Reader.NON_PRINTABLE.search(text) is None
    documents, problems = load(tmp_path, text)
    if allowed:
        assert not problems or "character" not in problems[0].message
    else:
        assert len(problems) == 1 and f"U+{code:04X}" in problems[0].message
        assert problems[0].location.line == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["1", "'1'", '"1"', "1.5", "'1.5'", "true", "'true'", "null", "~", "''", "no",
                                 "0x1A", "1e3", "2026-12-05", "'2026-12-05'", "!!str 1", "! 1", "abc", "'a b'",
                                 "[1, '2']", "{k: 'v', n: 2}", "-1", ".5", "+1"]), min_size=1, max_size=6))
def test_scalars_and_collections_get_the_tags_pyyaml_gives(values):
    text = "".join(f"k{i}: {v}\n" for i, v in enumerate(values))
    expected = yaml.load(text, Loader=yaml.SafeLoader)
    with tempfile.TemporaryDirectory() as tmp:
        documents, problems = load(pathlib.Path(tmp), text)
    assert not problems
    got = documents[0].content
    # Dates stay the text written (JSON has no dates); everything else is PyYAML's value, of PyYAML's type.
    for key, value in expected.items():
        if type(value).__name__ == "date":
            assert got[key] == str(value)
        else:
            assert got[key] == value and type(got[key]) is type(value)


def test_values_are_located_at_their_key_and_list_items_at_themselves(tmp_path):
    documents, _ = load(tmp_path, "spec:\n  name: x\n  items:\n    - 1\n    -   two\n")
    locations = {path: (where.line, where.column) for path, where in documents[0].locations.items()}
    assert all(type(where) is Location for where in documents[0].locations.values())
    assert locations == {(): (1, 1), ("spec",): (1, 1), ("spec", "name"): (2, 3), ("spec", "items"): (3, 3),
                         ("spec", "items", 0): (4, 7), ("spec", "items", 1): (5, 9)}
