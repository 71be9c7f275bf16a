"""The plan's CPU shortcuts (issues 17 and 23) agree with the slow paths they skip: each may only say "the same
answer as the slow path", never another one."""
import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner import planner, wire
from provisioner.errors import PlanError
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
    # A scalar of the same type: no marshal needed (a text holding "nan" is not a NaN)
    assert identical("banana", "banana") and identical(7, 7) and identical(None, None) and identical(False, False)
    assert not identical(True, 1) and not identical(1, True) and not identical(1, 1.0) and not identical("a", "b")


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
SHOWN = ["variables", "end_call_tool", "post_call_schema", "speech_speed", "record_call", "tools",
         "system_prompt", "max_call_duration"]
field_values = st.one_of(values, st.sampled_from([[3, 4], [4, 3], [3.0, 4], [True], 5, 5.0, True, 1, "Hi", None,
                                                  {"description": "bye"}, {"x": 1}, {"x": True}, [], 30]))


def _plans(manifest, state, live):
    """The plan with the shortcuts and without them (or, for each, the plan errors it ended with)."""
    def plan():
        try:
            return compute_plan([manifest], state, [live], dialect="v2")
        except PlanError as refused:
            return _Refused(str(refused))

    fast = plan()
    planner._REST_SHORTCUT, plainly_equal = False, planner.plainly_equal
    planner.plainly_equal = lambda *args: False  # every field by itself
    try:
        slow = plan()
    finally:
        planner._REST_SHORTCUT, planner.plainly_equal = True, plainly_equal
    return fast, slow


@dataclass
class _Refused:
    """A plan that ended in plan errors (e.g. a v2 update whose tools the platform names only): as a plan, no change
    and the message."""
    message: str
    changes: tuple = ()
    state_sync: tuple = ()
    notes: tuple = ()

    def __repr__(self) -> str:
        return self.message


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
    if isinstance(fast, _Refused) or isinstance(slow, _Refused):
        assert repr(fast) == repr(slow)  # the same plan errors both ways
        return
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


def test_an_update_of_one_plain_field_compares_only_it_one_by_one():
    """A prompt edited: the other fields are found the same without a Python comparison each (issue 23)."""
    manifest = MANIFESTS[0]
    wanted = desired_fields(manifest.fields, "v2")
    state = State.new()
    state.resources[manifest.address] = ResourceState.from_dict({"id": 7, **record_for(manifest, wanted)})
    live = RemoteAssistant(7, "A", {**wanted, "system_prompt": "Before.", "speech_speed": 1})  # 1 and 1.1: differ
    compared = []
    original = planner.equal_values

    def counted(a, b):
        compared.append((a, b))
        return original(a, b)

    planner.equal_values = counted
    try:
        [change] = compute_plan([manifest], state, [live], dialect="v2").changes
    finally:
        planner.equal_values = original
    assert [f.field for f in change.fields] == [name for name in wanted if name in ("system_prompt", "speech_speed")]
    assert sorted(map(repr, compared)) == sorted([repr(("Before.", wanted["system_prompt"])), repr((1, 1.1))])
    fast, slow = _plans(manifest, state, live)
    assert repr(fast.changes) == repr(slow.changes)


def test_the_applied_spec_is_digest_fields():
    from provisioner.redaction import digest_fields
    for manifest in MANIFESTS:
        assert planner._applied_spec(manifest) == digest_fields(manifest.fields, manifest.sensitive)
    assert planner._applied_spec(MANIFESTS[1])["reengagement_prompt"].startswith("sha256:")
    assert planner._applied_spec(MANIFESTS[0]) is MANIFESTS[0].fields  # no sensitive field set: no copy


# --- the platform's list read with its repeated values converted once ---

READ_NAMES = sorted({r[1] for r in wire._READERS} | {"language_id", "language", "llm_model_id", "multimodal_model_id"})
read_values = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from(
    ["0.70", "0.7", "1", "x", "", "inbound", "outbound", "vad", "pipeline", "multimodal", "end_call", "en", "de"]),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, float("nan"), float("inf")]), st.floats(allow_nan=True),
    st.just([]), st.just({}), st.just([{"type": "end_call"}]), st.just(["end_call"]), st.just([1]),
    st.just([{"type": "dtmf_input", "description": None}]), st.just({"positive": ["a"]}), st.sampled_from([11, 21, 99]))


@SETTINGS
@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(READ_NAMES), read_values, max_size=4),
                          st.sets(st.sampled_from(READ_NAMES), max_size=1)), min_size=1, max_size=8), st.data())
def test_a_list_read_once_per_value_reads_as_item_by_item(changes, data):
    from readshape import LANGUAGES, MODELS, item
    lookups = wire.Lookups(LANGUAGES, MODELS)
    base = {**{read_name: None for _, read_name, _, _ in wire._READERS}, **item(desired_fields(MANIFESTS[0].fields))}
    items = [{k: v for k, v in {**base, "id": i, **change}.items() if k not in removed}
             for i, (change, removed) in enumerate(changes)]
    items += [dict(data.draw(st.sampled_from(items))) for _ in range(3)]  # values met before, in other items
    fast, slow = wire.read_items(items, lookups), [wire.read_fields(i, lookups) for i in items]
    # the same fields in the same order, of the same types (-0.0 stays -0.0), the same problems in the same order
    assert repr([(list(f.items()), [type(v) for v in f.values()], p) for f, p in fast]) == \
        repr([(list(f.items()), [type(v) for v in f.values()], p) for f, p in slow])
    # a mapping or list is shared between items only where item-by-item reading shares it (an item's own value)
    for i in range(len(items)):
        for j in range(i):
            for name, value in fast[i][0].items():
                if isinstance(value, (dict, list)):
                    assert (value is fast[j][0].get(name)) == (slow[i][0][name] is slow[j][0].get(name))


def test_a_list_read_remembers_the_values_it_met():
    from readshape import LANGUAGES, MODELS, item
    lookups = wire.Lookups(LANGUAGES, MODELS)
    listed = {**{read_name: None for _, read_name, _, _ in wire._READERS}, **item(desired_fields(MANIFESTS[0].fields))}
    items = [{**listed, "id": i} for i in range(3)]
    expected = [wire.read_fields(i, lookups) for i in items]
    calls = []
    original = wire.read_fields
    wire.read_fields = lambda *args: calls.append(args) or original(*args)
    try:
        assert wire.read_items(items, lookups) == expected
    finally:
        wire.read_fields = original
    assert len(calls) == 1  # the first item is read as ever; the others from what it met


def test_equal_values_read_alike_are_still_each_items_own():
    from readshape import LANGUAGES, MODELS, item
    lookups = wire.Lookups(LANGUAGES, MODELS)
    listed = {**{read_name: None for _, read_name, _, _ in wire._READERS}, **item(desired_fields(MANIFESTS[0].fields)),
              "id": 1}
    items = [{**listed, "endpoint_sensitivity": 0.0}, {**listed, "endpoint_sensitivity": -0.0},
             {**listed, "record": 1}, {**listed, "record": True}, {**listed, "tools": None}, {**listed, "tools": None}]
    fast = wire.read_items(items, lookups)
    assert repr(fast) == repr([wire.read_fields(i, lookups) for i in items])
    assert repr(fast[1][0]["endpoint_sensitivity"]) == "-0.0"
    assert fast[4][0]["tools"] == [] and fast[4][0]["tools"] is not fast[5][0]["tools"]


# --- a manifest with its references resolved ---

def test_with_fields_is_dataclasses_replace():
    import dataclasses
    from provisioner.graph import expand, uses
    folder = Path(tempfile.mkdtemp())
    (folder / "kb.yaml").write_text(
        "apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: faq\nspec:\n  name: FAQ\n"
        "  documents:\n    - {name: Returns, key: returns, type: website, url: \"https://example.com/returns\"}\n")
    (folder / "a.yaml").write_text(manifest_text("a"))
    manifests = expand(load_manifests([folder], dialect="v2"))
    assert {type(m).__name__ for m in manifests} == {"Manifest", "ChildManifest"}
    for manifest in manifests:
        uses(manifest)  # a value cached from its own fields
        fields = {"x": 1}
        fast = manifest.with_fields(fields)
        slow = dataclasses.replace(manifest)
        assert type(fast) is type(slow) and fast == slow and fast.fields is fields
        assert {k: v for k, v in fast.__dict__.items() if k != "fields"} == slow.__dict__
        assert all(getattr(fast, f.name) is getattr(manifest, f.name) for f in dataclasses.fields(manifest))
        assert uses(fast) == ()  # found anew from the given fields, not the manifest's own


# --- the catalogue checks: one set of voice ids per engine ---

voice_ids = st.one_of(st.integers(0, 3), st.booleans(), st.sampled_from([1.0, "1", None, float("nan")]), st.just([1]))


@SETTINGS
@given(st.dictionaries(st.sampled_from(["pipeline", "multimodal"]), st.lists(voice_ids, max_size=4), max_size=2),
       st.sampled_from(["pipeline", "multimodal", "dualplex"]), voice_ids)
def test_a_voice_suits_as_the_catalogue_scan_finds(voices, engine, voice_id):
    from provisioner.references import Catalog, _VoiceIds
    catalog = Catalog(wire.Lookups(), {mode: [{"id": i, "name": "v"} for i in ids] for mode, ids in voices.items()})
    if _VoiceIds(catalog).suits(engine, voice_id):
        assert any(v.get("id") == voice_id for v in catalog.voices.get(engine, []))
    ids = voices.get(engine, [])
    if voice_id in ids and type(voice_id) in (int, str, bool) and not any(isinstance(i, list) for i in ids):
        assert _VoiceIds(catalog).suits(engine, voice_id)  # the shortcut is taken where it can be


# --- digest_fields and counts_by_kind: one C step / one pass ---

@SETTINGS
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "webhook_url"]), values, max_size=4),
       st.sets(st.sampled_from(["a", "b", "x", "webhook_url"]), max_size=3))
def test_digest_fields_is_the_field_by_field_rewrite(fields, sensitive):
    from provisioner.redaction import digest, digest_fields, is_digest

    slow = {k: digest(v) if k in sensitive and v is not None and not is_digest(v) else v for k, v in fields.items()}
    fast = digest_fields(fields, sensitive)
    assert list(fast) == list(slow) and all(fast[k] is slow[k] or fast[k] == slow[k] for k in slow)
    assert fast is not fields  # a copy: the caller may keep it while the manifest's fields stay as they are


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["assistant", "tool", "label", "folder"]),
                          st.sampled_from(["create", "update", "delete", "import"]), st.booleans()), max_size=30))
def test_counts_by_kind_are_each_kinds_own_counts(specs):
    from provisioner.plan import Action, Change, Plan, _count

    changes = [Change(f"{kind}.x{i}" if kind != "assistant" else f"x{i}", Action(action), f"x{i}", kind=kind,
                      replace=replace and action == "create")
               for i, (kind, action, replace) in enumerate(specs)]
    plan = Plan(changes=changes, lineage="l", serial=1)
    kinds = sorted({c.kind for c in changes}, key=lambda k: (k != "assistant", k))
    assert list(plan.counts_by_kind.items()) == [(k, _count([c for c in changes if c.kind == k])) for k in kinds]


@SETTINGS
@given(st.dictionaries(st.sampled_from(["a", "b", "webhook_url", "tools"]), values, max_size=4),
       st.sets(st.sampled_from(["a", "webhook_url", "x"]), max_size=2))
def test_a_created_objects_field_changes_are_the_keyword_built_ones(fields, sensitive):
    from types import SimpleNamespace

    from provisioner.plan import FieldChange
    from provisioner.planner import _create, _shown

    manifest = SimpleNamespace(fields=fields, sensitive=frozenset(sensitive), address="a", document=None,
                               spec=SimpleNamespace(assistant_name="A", engine_type=None), protect=False,
                               location=lambda *path: "m.yaml:1:1", kind="assistant")
    manifest.document = SimpleNamespace(file="m.yaml", state_source="m.yaml")
    made = _create(manifest, None, "v2").fields
    expected = [FieldChange(name, None, _shown(value, name in sensitive), before_known=False,
                            sensitive=name in sensitive) for name, value in fields.items()]
    # The very same values (a NaN too: equality takes an object for equal to itself inside a dict).
    assert [vars(f) for f in made] == [vars(f) for f in expected]
    assert all(a.after is b.after for a, b in zip(made, expected))
