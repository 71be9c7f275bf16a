"""The plan path's shortcuts agree with the slow paths they skip (issue 23): each shortcut may only say "the same
answer as the slow path", never another one."""
import graphlib
import math
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner import planner, wire
from provisioner.graph import Graph
from provisioner.kinds.base import _parse_reference, parse_reference
from provisioner.manifest import load_manifests
from provisioner.planner import RemoteAssistant, compute_plan, desired_fields, plainly_equal, record_for, same
from provisioner.state import ResourceState, State
from conftest import manifest_text

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 0.5, 0.1, 0.7, 1e-10]),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", "a", "1", "true"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
                      max_leaves=6)


@SETTINGS
@given(st.dictionaries(st.sampled_from("pqrstu"), st.tuples(values, values), min_size=0, max_size=6))
def test_plainly_equal_only_when_every_field_is_same(pairs):
    desired = {name: pair[0] for name, pair in pairs.items()}
    shown = {name: pair[1] for name, pair in pairs.items()}
    if plainly_equal(desired, shown, frozenset(pairs)):
        assert all(same(desired[name], shown[name]) for name in pairs)
    if plainly_equal(desired, desired, frozenset(pairs)):  # the very same objects: a NaN is not equal to itself
        assert all(same(desired[name], desired[name]) for name in pairs)


@SETTINGS
@given(st.lists(st.sampled_from([True, False, 0, 1, 1.0, 0.0, None, "x", 2]), min_size=2, max_size=5))
def test_plainly_equal_finds_equal_scalars_equal(row):
    names = [f"f{i}" for i in range(len(row))]
    fields = dict(zip(names, row))
    assert plainly_equal(fields, dict(fields), frozenset(names))  # a copy: equal values of equal types


def _manifest():
    folder = Path(tempfile.mkdtemp())
    (folder / "a.yaml").write_text(manifest_text("a", variables={"x": 1}, speech_speed=1.1, record_call=True,
                                                 max_call_duration=300, use_min_interrupt_words=True))
    [manifest] = load_manifests([folder])
    return manifest


MANIFEST = _manifest()
READABLE = ["speech_speed", "record_call", "max_call_duration", "system_prompt", "variables", "voice_id",
            "allow_interruptions", "llm_temperature"]


@SETTINGS
@given(st.dictionaries(st.sampled_from(READABLE), values, max_size=4), st.booleans())
def test_field_changes_are_the_same_with_and_without_the_shortcut(overrides, in_state):
    wanted = desired_fields(MANIFEST.fields)
    live = RemoteAssistant(7, "A", {**wanted, **overrides})
    state = State.new()
    if in_state:
        state.resources[MANIFEST.address] = ResourceState.from_dict({"id": 7, **record_for(MANIFEST, wanted)})
    fast = compute_plan([MANIFEST], state, [live])
    original = planner.plainly_equal
    planner.plainly_equal = lambda *args: False  # the field-by-field path for every field
    try:
        slow = compute_plan([MANIFEST], state, [live])
    finally:
        planner.plainly_equal = original
    # repr: a NaN drawn for a value is not equal to itself
    assert repr(fast.changes) == repr(slow.changes) and repr(fast.state_sync) == repr(slow.state_sync)
    assert fast.notes == slow.notes


# --- reading the platform's list ---

@pytest.mark.parametrize("name, read_name, convert, passing", wire._READERS)
def test_values_taken_as_read_are_what_their_converter_returns(name, read_name, convert, passing):
    samples = {int: [0, 1, -5, 2**40], bool: [True, False], str: ["", "x", "0.70"], type(None): [None],
               dict: [{}, {"a": 1}], float: [0.5]}
    for kind in passing:
        for value in samples[kind]:
            converted = convert(value)
            assert type(converted) is type(value) and converted == value


@SETTINGS
@given(st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{1,15})?", fullmatch=True))
def test_decimal_strings_read_as_their_decimal(text):
    assert wire._number(text) == float(Decimal(text)) and type(wire._number(text)) is float


def _number_by_decimal(value):
    """wire._number as it was, every decimal string through Decimal."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise wire.Unreadable(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and len(value) < 40:
        try:
            number = Decimal(value.strip())
        except Exception:
            number = None
        if number is not None and number.is_finite():
            return float(number)
    raise wire.Unreadable(f"expected a number or a decimal string, got {wire._short(value)}")


def _outcome(convert, value):
    try:
        return repr(convert(value))
    except wire.Unreadable as error:
        return f"Unreadable: {error}"


@SETTINGS
@given(st.one_of(st.text(alphabet="0123456789.-+e _ nafiINF", max_size=24), st.text(max_size=8),
                 st.floats(), st.integers(), st.none(), st.booleans()))
def test_numbers_read_as_before(value):
    assert _outcome(wire._number, value) == _outcome(_number_by_decimal, value)


# --- references and the graph ---

@SETTINGS
@given(st.one_of(st.booleans(), st.integers(-2, 2**64), st.text(max_size=20),
                 st.sampled_from(["tool.x", "+14155550100", "label.a-b", "x", "tool.", 1, True, 1.0])),
       st.sampled_from(["tool", "number", "label", "folder"]))
def test_references_parsed_once_read_as_parsed_anew(value, kind):
    assert parse_reference(value, kind) == _parse_reference(value, kind)
    assert parse_reference(value, kind) == _parse_reference(value, kind)  # now from the cache


def test_true_and_1_are_not_the_same_reference():
    assert parse_reference(1, "tool") != parse_reference(True, "tool")
    assert isinstance(parse_reference(True, "tool"), str)


def _graphlib(needs):
    sorter = graphlib.TopologicalSorter({a: sorted(n) for a, n in sorted(needs.items())})
    sorter.prepare()
    ordered = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered += ready
        sorter.done(*ready)
    return ordered


@SETTINGS
@given(st.dictionaries(st.sampled_from("abcdefgh"), st.sets(st.sampled_from("abcdefgh"), max_size=3), max_size=8))
def test_graph_order_is_graphlibs(needs):
    graph = Graph({}, needs)
    try:
        expected = _graphlib(needs)
    except graphlib.CycleError as error:
        with pytest.raises(graphlib.CycleError) as raised:
            graph.order()
        assert raised.value.args == error.args
        return
    assert graph.order() == expected


read_values = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from(["0.70", "1", "x", "", "inbound",
                                                                                       "vad", "pipeline", "end_call"]),
                        st.floats(allow_nan=True), st.just([]), st.just({}), st.just([{"type": "end_call"}]),
                        st.just([{"type": "dtmf_input", "description": None}]), st.just({"positive": ["a"]}))


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted({r[1] for r in wire._READERS})), read_values, max_size=8),
       st.sets(st.sampled_from(sorted({r[1] for r in wire._READERS})), max_size=2))
def test_items_read_by_shape_read_as_field_by_field(changes, removed):
    from readshape import LANGUAGES, MODELS, item
    lookups = wire.Lookups(LANGUAGES, MODELS)
    shown = {read_name: None for _, read_name, _, _ in wire._READERS}  # every setting, as the list shows them
    listed = {k: v for k, v in {**shown, **item(desired_fields(MANIFEST.fields)), **changes}.items()
              if k not in removed}
    fast, slow = wire.read_fields(listed, lookups), wire._read_each(listed, lookups)
    assert repr(fast) == repr(slow)  # the same fields in the same order, the same problems in the same order


@SETTINGS
@given(values, values)
def test_equal_values_is_same(a, b):
    from provisioner.planner import equal_values
    assert equal_values(a, b) == same(a, b)
    assert equal_values(a, a) == same(a, a)


# --- a plan's document (Plan.to_dict): its own values, not deep copies ---

def _document_as_asdict_made_it(plan) -> list:
    """The changes of Plan.to_dict as it was made with `dataclasses.asdict` (every value copied deeply)."""
    from dataclasses import asdict, replace

    from provisioner import plan_record
    from provisioner.redaction import digest_fields

    changes = []
    for change in plan.changes:
        change.fingerprint()
        data = asdict(replace(change, remote_item=None))
        del data["remote_item"]
        for shown in data["fields"]:  # a field's names only where it has some (docs/plan-format.md)
            if not shown["names"]:
                del shown["names"]
        data["action"] = change.action.value
        data["body"] = digest_fields(change.body, change.sensitive)
        data["record"] = plan_record.written(data["record"], data["body"])
        changes.append(data)
    return changes


@SETTINGS
@given(st.data())
def test_a_plan_document_is_the_one_asdict_made(data):
    import json

    from plan_strategies import FIELD_NAMES, plans, values as plan_values

    plan = data.draw(plans())
    for change in plan.changes:
        change.body = data.draw(st.dictionaries(st.sampled_from(FIELD_NAMES), plan_values, max_size=4))
        change.sensitive = sorted(data.draw(st.sets(st.sampled_from(FIELD_NAMES), max_size=2)))
        change.record = data.draw(st.sampled_from([{}, {"spec": dict(change.body), "protect": False, "sensitive": [],
                                                        "remote": dict(sorted(change.body.items()))}]))
        change.field_locations = {name: f"m.yaml:{i}" for i, name in enumerate(change.body)}
        change.actions = data.draw(st.lists(st.fixed_dictionaries({"field": st.just("status"), "value": plan_values}),
                                            max_size=2))
        change.depends_on = data.draw(st.lists(st.sampled_from(["tool.a", "folder.f"]), max_size=2))
    expected = json.dumps(_document_as_asdict_made_it(plan))
    assert json.dumps(plan.to_dict()["changes"]) == expected


def test_a_plan_document_holds_the_plans_own_values_not_copies():
    """`plan --out` of 5,000 full creates took 10.8 s, 7 of them in `asdict` copying every value of every field
    change deeply, for a document that is only written out: it now holds the plan's values themselves."""
    from provisioner.plan import Action, Change, FieldChange, Plan

    schema = [{"name": "resolved", "type": "bool", "description": "Whether the question was answered."}]
    change = Change("a", Action.CREATE, "A", fields=[FieldChange("post_call_schema", None, schema, before_known=False)],
                    body={"post_call_schema": schema})
    document = Plan([change], "l", 1).to_dict()
    assert document["changes"][0]["fields"][0]["after"] is schema
    assert document["changes"][0]["body"]["post_call_schema"] is schema
    document["changes"][0]["body"]["voice_id"] = 2  # the document's containers are its own: the plan is unchanged
    assert change.body == {"post_call_schema": schema}
