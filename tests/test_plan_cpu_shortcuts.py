"""The plan's CPU shortcuts (issues 17 and 23) agree with the slow paths they skip: each may only say "the same
answer as the slow path", never another one."""
import copy
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner import planner
from provisioner.manifest import load_manifests
from provisioner.planner import (RemoteAssistant, _desired_each, compute_plan, desired_fields, identical,
                                 record_for, same)
from provisioner.spec import fields_of
from provisioner.state import ResourceState, State
from conftest import manifest_text

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, -0.0, 1.0, 0.5, 0.1, 1e-10]),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", "a", "1", "true", "nan"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
                      max_leaves=6)


# --- desired fields from a template per shape ---

@SETTINGS
@given(st.lists(st.sampled_from([*fields_of("v2"), "not_a_field"]), unique=True, max_size=12),
       st.sampled_from(["v1", "v2"]), st.data())
def test_desired_fields_from_a_template_are_the_field_by_field_ones(names, dialect, data):
    fields = {name: data.draw(values) for name in names}
    fast, slow = desired_fields(fields, dialect), _desired_each(fields, dialect)
    assert list(fast) == list(slow)  # the same names, in the same order
    assert all(fast[name] is slow[name] for name in slow)  # the very same values (a NaN is not equal to itself)
    assert desired_fields(fields, dialect) is not desired_fields(fields, dialect)  # a new dict each time


# --- identical: one C comparison of many values ---

@SETTINGS
@given(values, values)
def test_identical_values_are_same(a, b):
    if identical(a, b):
        assert same(a, b)
    if identical(a, a):  # the very same objects: a NaN inside is not equal to itself for `same`
        assert same(a, a)
    if identical((a, b), copy.deepcopy((a, b))):
        assert same(a, copy.deepcopy(a)) and same(b, copy.deepcopy(b))


def test_identical_tells_what_equality_does_not():
    assert not identical([True], [1]) and not identical((1.0,), (1,)) and not identical(0.0, -0.0)
    assert not identical([float("nan")], [float("nan")])
    nan = float("nan")
    assert not identical([nan], [nan])  # equal lists (identity), but `same` finds a NaN unequal
    assert identical(([1, 2], True, 30, None, {"n": 0}), ([1, 2], True, 30, None, {"n": 0}))


# --- a no-change assistant: nested and write-only fields compared as one tuple ---

def _manifest(metadata_extra=""):
    folder = Path(tempfile.mkdtemp())
    (folder / "a.yaml").write_text(manifest_text(
        "a", metadata_extra=metadata_extra, variables={"x": 1}, speech_speed=1.1, record_call=True,
        tool_ids=[3, 4], folder_id=5, label_ids=[6], use_min_interrupt_words=True, reengagement_prompt="Hi",
        end_call_tool={"description": "bye"}))
    [manifest] = load_manifests([folder], dialect="v2")
    return manifest


MANIFESTS = [_manifest(), _manifest("sensitive: [reengagement_prompt]")]
WRITE_ONLY = ["tool_ids", "folder_id", "label_ids", "use_min_interrupt_words", "reengagement_prompt",
              "tts_emotion_enabled", "turn_detection_threshold", "secondary_languages"]
SHOWN = ["variables", "end_call_tool", "post_call_schema", "speech_speed", "record_call", "tools"]
field_values = st.one_of(values, st.sampled_from([[3, 4], [4, 3], [3.0, 4], [True], 5, 5.0, True, 1, "Hi", None,
                                                  {"description": "bye"}, {"x": 1}, {"x": True}, [], 30]))


def _plans(manifest, state, live):
    fast = compute_plan([manifest], state, [live], dialect="v2")
    planner._REST_SHORTCUT, plainly_equal = False, planner.plainly_equal
    planner.plainly_equal = lambda *args: False  # every field by itself
    try:
        slow = compute_plan([manifest], state, [live], dialect="v2")
    finally:
        planner._REST_SHORTCUT, planner.plainly_equal = True, plainly_equal
    return fast, slow


@SETTINGS
@given(st.sampled_from(MANIFESTS), st.dictionaries(st.sampled_from(WRITE_ONLY), field_values, max_size=3),
       st.sets(st.sampled_from(WRITE_ONLY), max_size=2),
       st.dictionaries(st.sampled_from(SHOWN), field_values, max_size=2), st.sets(st.sampled_from(SHOWN), max_size=2))
def test_no_change_shortcut_plans_as_field_by_field(manifest, applied, forgotten, shown, hidden):
    wanted = desired_fields(manifest.fields, "v2")
    fields = {k: v for k, v in {**wanted, **shown}.items() if k not in hidden}
    live = RemoteAssistant(7, "A", fields)
    record = record_for(manifest, wanted)
    record["spec"] = {k: v for k, v in {**record["spec"], **applied}.items() if k not in forgotten}
    state = State.new()
    state.resources[manifest.address] = ResourceState.from_dict({"id": 7, **record})
    fast, slow = _plans(manifest, state, live)
    # repr: a NaN drawn for a value is not equal to itself
    assert repr(fast.changes) == repr(slow.changes) and repr(fast.state_sync) == repr(slow.state_sync)
    assert fast.notes == slow.notes


def test_the_shortcut_is_taken_when_nothing_changed():
    manifest = MANIFESTS[0]
    wanted = desired_fields(manifest.fields, "v2")
    state = State.new()
    state.resources[manifest.address] = ResourceState.from_dict({"id": 7, **record_for(manifest, wanted)})
    live = RemoteAssistant(7, "A", {**wanted, "variables": {"x": 1}})
    calls = []
    original = planner._field

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    planner._field = counted
    try:
        assert compute_plan([manifest], state, [live], dialect="v2").changes == []
        assert calls == []
        layout = planner._layout(tuple(wanted), tuple(live.fields))
        assert planner._rest_unchanged(layout, wanted, live.fields, state.resources["a"].spec, set())
    finally:
        planner._field = original


def test_the_applied_spec_is_digest_fields():
    from provisioner.redaction import digest_fields
    for manifest in MANIFESTS:
        assert planner._applied_spec(manifest) == digest_fields(manifest.fields, manifest.sensitive)
    assert planner._applied_spec(MANIFESTS[1])["reengagement_prompt"].startswith("sha256:")
    assert planner._applied_spec(MANIFESTS[0]) is MANIFESTS[0].fields  # no sensitive field set: no copy
