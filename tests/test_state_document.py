"""The state document parser (state push, migrated JSON files): anything malformed is a clear StateError."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.errors import StateError
from provisioner.state import HistoryEntry, ResourceState, State

GOOD = {"version": 1, "lineage": "l-1", "serial": 3,
        "resources": {"a": {"id": 1, "spec": {"x": 1}, "protect": False, "sensitive": [], "remote": {}}}}


def variant(**changes):
    document = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        target = document
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return json.dumps(document)


BAD = {
    "not JSON": ("{nope", "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "a list": ("[1, 2]", "not a provisioner state document"),
    "no lineage": (variant(lineage=KeyError), "not a provisioner state document"),
    "unknown version": (variant(version=2), "format version 2"),
    "version as text": (variant(version="1"), "format version '1'"),
    "resources a list": (variant(resources=[1]), "resources must be an object"),
    "resource a number": (variant(resources={"a": 1}), r"resources\[\"a\"\] must be an object"),
    "id as text": (variant(resources__a__id="1"), r"\.id must be a positive integer"),
    "id a boolean": (variant(resources__a__id=True), r"\.id must be a positive integer"),
    "id negative": (variant(resources__a__id=-4), r"\.id must be a positive integer"),
    "id too big": (variant(resources__a__id=2**70), r"\.id must be a positive integer"),
    "spec a list": (variant(resources__a__spec=[1]), r"\.spec must be an object or null"),
    "protect as text": (variant(resources__a__protect="yes"), r"\.protect must be true or false"),
    "sensitive numbers": (variant(resources__a__sensitive=[1]), r"\.sensitive must be a list"),
    "remote a string": (variant(resources__a__remote="x"), r"\.remote must be an object"),
    "unknown record key": (variant(resources__a__idd=1), "unknown key"),
    "bad address": (variant(resources={"Bad Name": GOOD["resources"]["a"]}), "not a valid address"),
    "serial negative": (variant(serial=-1), "serial must be a non-negative integer"),
    "serial a float": (variant(serial=1.5), "serial must be a non-negative integer"),
    "lineage empty": (variant(lineage=""), "lineage must be a non-empty string"),
    "lineage a number": (variant(lineage=5), "lineage must be a non-empty string"),
    "unknown top-level key": (variant(extra=1), "unknown top-level key"),
    "history not a list": (variant(history={}), "history must be a list"),
    "history entry bad": (variant(history=[{"serial": "1"}]), r"history\[0\]\.serial"),
    "two addresses with one id": (variant(resources__b={"id": 1, "spec": None}), "both claim platform id 1"),
    "a key twice": ('{"version": 1, "lineage": "l", "serial": 1, "resources": {"a": {"id": 1}, "a": {"id": 2}}}',
                    "the key 'a' appears twice"),
    "deeply nested": ("[" * 100000 + "]" * 100000, "not"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_malformed_document_is_a_clear_error(case):
    text, message = BAD[case]
    with pytest.raises(StateError, match=message) as error:
        State.loads(text, "pushed.json")
    assert str(error.value).startswith("pushed.json")


def test_a_good_document_parses():
    state = State.loads(variant(), "x")
    assert state.serial == 3 and state.resources["a"] == ResourceState(id=1, spec={"x": 1})


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_is_a_state_or_a_state_error(value):
    try:
        State.loads(json.dumps(value), "x")
    except StateError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["version", "lineage", "serial", "resources", "history"]), json_values))
def test_any_document_shaped_value_is_a_state_or_a_state_error(value):
    try:
        State.loads(json.dumps(value), "x")
    except StateError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_a_state_or_a_state_error(data):
    try:
        State.loads(data, "x")
    except StateError:
        pass


addresses = st.from_regex(r"[a-z0-9]([a-z0-9_-]{0,10}[a-z0-9])?", fullmatch=True)
scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=20)
fields = st.dictionaries(st.text(min_size=1, max_size=10), scalars | st.lists(scalars, max_size=3), max_size=5)
records = st.builds(ResourceState, id=st.integers(1, 2**63 - 1), spec=st.none() | fields, protect=st.booleans(),
                    sensitive=st.lists(st.text(max_size=10), max_size=3), remote=fields)
entries = st.builds(HistoryEntry, serial=st.integers(0, 2**40), at=st.text(max_size=25),
                    operation=st.text(max_size=10), address=st.text(max_size=10), action=st.text(max_size=8),
                    remote_id=st.none() | st.integers(1, 2**63 - 1), who=st.text(max_size=10),
                    lineage=st.text(max_size=10))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(addresses, records, max_size=6), st.integers(0, 2**63 - 1), st.text(min_size=1, max_size=40)
       .filter(str.strip), st.lists(entries, max_size=4))
def test_a_state_survives_dump_and_parse(resources, serial, lineage, history):
    ids = [entry.id for entry in resources.values()]
    if len(set(ids)) != len(ids):
        with pytest.raises(StateError, match="both claim"):
            State.loads(State(lineage=lineage, serial=serial, resources=resources).dumps(), "x")
        return
    state = State(lineage=lineage, serial=serial, resources=resources, history=history)
    assert State.loads(state.dumps(with_history=True), "x") == state
