"""Verify's shortcuts (issue 17: verify after a fleet's apply) give the answers of the slow paths they skip.

- compare(): all of an object's compared fields in one `identical` call; field by field (_agrees) only when that
  fails. The field-by-field loop is the reference.
- References resolved in the values compared only (not a copy of the whole body); compare() of
  apply.resolve_refs(body) is the reference. The ids, looked up once per address, are those state holds.
"""
import math

from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner.apply import resolve_refs
from provisioner.plan import Action, Change
from provisioner.state import ResourceState, State
from provisioner.verify import Mismatch, _agrees, _compare, _ids, _shown_names, compare
from provisioner.wire import PROJECTED_FIELDS, READABLE_FIELDS
from plan_strategies import values

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

NAMES = sorted(READABLE_FIELDS)[:8] + sorted(PROJECTED_FIELDS) + ["not_shown_back"]
near = st.sampled_from([0, 1, 1.0, True, False, None, "", "a", 0.7, 0.70000000001, -0.0, math.nan,
                        [1], [1.0], {"a": 1}, {"a": 1.0}, [{"type": "x", "a": 1}], [{"type": "x", "a": 1, "b": 2}],
                        {"a": 0}, {}])


def compared_field_by_field(change, sent, shown, remote_id):
    """compare() as it was: one _agrees per field."""
    shown_ok = _shown_names(change.kind)
    return [Mismatch(change.address, name, value, shown[name], remote_id) for name, value in sent.items()
            if name not in change.sensitive and name in shown_ok and name in shown
            and not _agrees(change.kind, name, value, shown[name])]


@SETTINGS
@given(st.dictionaries(st.sampled_from(NAMES), near | values, max_size=6), st.data(),
       st.lists(st.sampled_from(NAMES), max_size=2), st.sampled_from(["assistant", "tool"]))
def test_compare_finds_what_the_field_by_field_loop_finds(sent, data, sensitive, kind):
    # What the platform shows: often the very values sent, else a near value (1.0 for 1, a dict in another order).
    shown = {name: data.draw(st.sampled_from([value, value]) | near | values) for name, value in sent.items()
             if data.draw(st.booleans()) or name != "not_shown_back"}
    change = Change("tool.a" if kind == "tool" else "a", Action.UPDATE, "a", remote_id=3, sensitive=sensitive,
                    kind=kind, body=sent)
    assert compare(change, sent, shown, 3) == compared_field_by_field(change, sent, shown, 3)


def test_values_alike_but_not_identical_still_agree():
    change = Change("a", Action.UPDATE, "a", remote_id=1, body={})
    sent = {"speech_speed": 1, "variables": {"b": 1, "a": 2}, "initial_message": "Hi"}
    shown = {"speech_speed": 1.0, "variables": {"a": 2, "b": 1.0}, "initial_message": "Hi"}
    assert compare(change, sent, shown, 1) == []
    [mismatch] = compare(change, {**sent, "initial_message": "Hey"}, shown, 1)
    assert (mismatch.field, mismatch.sent, mismatch.held) == ("initial_message", "Hey", "Hi")
    assert compare(change, {"speech_speed": math.nan}, {"speech_speed": math.nan}, 1) != []  # NaN is never same


def state_with(*addresses):
    state = State.new()
    for number, address in enumerate(addresses, start=10):
        state.resources[address] = ResourceState(id=number, spec={})
    return state


@SETTINGS
@given(st.dictionaries(st.sampled_from(NAMES), values, max_size=6), st.data(), st.sampled_from(["assistant", "tool"]))
def test_references_are_resolved_in_the_values_compared_as_resolve_refs_resolves_the_body(body, data, kind):
    id_of = _ids(state_with("tool.a", "x", "folder.f"))
    resolved = resolve_refs(body, id_of)
    shown = {name: data.draw(st.sampled_from([value]) | near | values) for name, value in resolved.items()}
    change = Change("tool.a" if kind == "tool" else "a", Action.CREATE, "a", kind=kind, body=body)
    assert _compare(change, body, shown, 3, id_of) == compare(change, resolved, shown, 3)


def test_a_reference_and_a_list_of_them_are_the_ids_state_holds():
    id_of = _ids(state_with("tool.a", "x"))
    change = Change("a", Action.CREATE, "a", body={})
    body = {"tool_ids": [{"$ref": "tool.a"}, {"$ref": "x"}, 5], "knowledgebase_id": {"$ref": "x"},
            "variables": {"a": {"$ref": "x"}, "b": [{"$ref": "tool.b"}]}}
    shown = {"tool_ids": [10, 11, 5], "knowledgebase_id": 11, "variables": {"a": 11, "b": [{"$ref": "tool.b"}]}}
    assert _compare(change, body, shown, 1, id_of) == []
    [mismatch] = _compare(change, body, {**shown, "knowledgebase_id": 10}, 1, id_of)
    assert (mismatch.field, mismatch.sent, mismatch.held) == ("knowledgebase_id", 11, 10)


def test_ids_are_those_in_state_and_a_missing_one_stays_a_reference():
    id_of = _ids(state_with("tool.a"))
    assert [id_of("tool.a"), id_of("tool.a")] == [10, 10]
    assert id_of("tool.b") == {"$ref": "tool.b"} and id_of("tool.b") is not id_of("tool.b")  # a new one each time


def test_verify_reads_with_the_collector_paused_and_leaves_it_as_it_found_it():
    import gc

    from provisioner.apply import ApplyReport, ChangeResult
    from provisioner.verify import verify_apply

    seen = []

    class Listing:
        def list_assistants(self):
            seen.append(gc.isenabled())
            return [{"id": 3, "name": "a3", "initial_message": "Hi"}]

    report = ApplyReport(results=[ChangeResult(Change("a3", Action.UPDATE, "a3", remote_id=3,
                                                      body={"initial_message": "Hi"}), True, 0.0, 3)])
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            assert verify_apply(report, Listing(), State.new()).ok
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False, False]
