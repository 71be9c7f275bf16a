"""The pure diff: manifests x state x platform -> plan, with no I/O."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.errors import PlanError
from provisioner.manifest import load_manifests
from provisioner.plan import Action, Plan, count_vanished
from provisioner.planner import RemoteAssistant, compute_plan, record_for, same
from provisioner.state import ResourceState, State
from provisioner.wire import Lookups
from conftest import manifest_text
from readshape import LANGUAGES, MODELS, item

LOOKUPS = Lookups(LANGUAGES, MODELS)


@pytest.fixture
def load(tmp_path):
    def load(*documents):
        path = tmp_path / "m.yaml"
        path.write_text("---\n".join(documents))
        return load_manifests([path])
    return load


def remote(id, manifest=None, **overrides):
    return RemoteAssistant.from_item(item({**(manifest.fields if manifest else {}), **overrides}, id=id), LOOKUPS)


def applied(state, manifest, id):
    live = remote(id, manifest)
    state.resources[manifest.address] = ResourceState.from_dict({"id": id, **record_for(manifest, live.fields)})
    return live


def test_canonical_equality():
    assert same(1, 1.0) and same({"a": [1, 2]}, {"a": [1.0, 2]}) and not same(True, 1) and not same([1, 2], [2, 1])


def test_missing_assistants_are_created_with_exactly_the_manifest_fields(load):
    [m] = load(manifest_text("a", record_call=True))
    plan = compute_plan([m], State.new(), [])
    [change] = plan.changes
    assert change.action is Action.CREATE and change.body == m.fields
    assert plan.counts["add"] == 1


def test_matching_assistants_plan_nothing(load):
    [m] = load(manifest_text("a", variables={"x": 1}, speech_speed=1.1))
    state = State.new()
    live = applied(state, m, 7)
    assert compute_plan([m], state, [live]).changes == []


def test_readable_fields_compare_with_the_platform_and_flag_drift(load):
    [m] = load(manifest_text("a", system_prompt="git"))
    state = State.new()
    applied(state, m, 7)
    drifted = remote(7, m, system_prompt="dashboard")
    [change] = compute_plan([m], state, [drifted]).changes
    [field] = change.fields
    assert (change.action, field.field, field.before, field.after, field.drift) == (
        Action.UPDATE, "system_prompt", "dashboard", "git", True)
    assert change.body == {"system_prompt": "git"}


def test_write_only_fields_compare_with_the_last_applied_spec(load):
    [old] = load(manifest_text("a", tool_ids=[1]))
    [new] = load(manifest_text("a", tool_ids=[2]))
    state = State.new()
    live = applied(state, old, 7)
    plan = compute_plan([new], state, [live])
    [field] = plan.changes[0].fields
    assert (field.field, field.before, field.after, field.source) == ("tool_ids", [1], [2], "last-applied")
    assert plan.notes and "write-only" in plan.notes[0]


def test_the_model_is_read_back_by_id_and_compared_with_the_platform(load):
    [m] = load(manifest_text("a", llm_model="m1"))
    state = State.new()
    applied(state, m, 7)
    [change] = compute_plan([m], state, [remote(7, m, llm_model="m2")]).changes
    [field] = change.fields
    assert (field.field, field.before, field.after, field.source, field.drift) == (
        "llm_model", "m2", "m1", "platform", True)


def test_a_removed_field_resets_to_the_default(load):
    [old] = load(manifest_text("a", record_call=True, speech_speed=1.1, post_call_evaluation=False))
    [new] = load(manifest_text("a"))
    state = State.new()
    live = applied(state, old, 7)
    [change] = compute_plan([new], state, [live]).changes
    assert change.body == {"record_call": False, "speech_speed": 1.0, "post_call_evaluation": True}
    assert all(f.reset for f in change.fields)


def test_a_removed_field_without_a_documented_default_becomes_unmanaged_and_says_so(load):
    [old] = load(manifest_text("a", phone_number_id=45, min_interrupt_words=3))
    [new] = load(manifest_text("a"))
    state = State.new()
    live = applied(state, old, 7)
    plan = compute_plan([new], state, [live])
    assert plan.changes == []
    assert sum("no longer managed" in note for note in plan.notes) == 2
    [cleared] = load(manifest_text("a") + "  phone_number_id: null\n")
    [change] = compute_plan([cleared], state, [live]).changes
    assert change.body == {"phone_number_id": None}


def test_clearing_with_null_a_setting_no_longer_managed_is_no_drift(load):
    # README: drift is "a change made in the dashboard"; a setting without a documented default that the manifest
    # stopped setting is left alone (the platform keeps it), and a later `null` that clears it is the manifest's
    # change, not "changed on the platform outside the provisioner".
    [old] = load(manifest_text("a", variables={"company": "Acme"}))
    [unset] = load(manifest_text("a"))
    [cleared] = load(manifest_text("a") + "  variables: null\n")
    state = State.new()
    live = remote(7, old)
    state.resources["a"] = ResourceState.from_dict({"id": 7, **record_for(unset, live.fields)})
    [change] = compute_plan([cleared], state, [live]).changes
    [field] = change.fields
    assert (field.field, field.after, field.drift) == ("variables", None, False)


def test_adoption_of_a_single_namesake_and_refusal_of_several(load):
    [m] = load(manifest_text("a", name="Shared", tool_ids=[4]))
    one = remote(3, m)
    [change] = compute_plan([m], State.new(), [one]).changes
    assert change.action is Action.IMPORT and change.remote_id == 3
    # Write-only fields of an adopted assistant are unknown, so they are sent.
    assert "tool_ids" in change.body and not [f for f in change.fields if f.field == "tool_ids"][0].before_known
    with pytest.raises(PlanError, match=r"ids 3, 4"):
        compute_plan([m], State.new(), [one, remote(4, m)])


def test_an_assistant_claimed_by_another_address_is_never_adopted(load):
    [a, b] = load(manifest_text("a", name="Old"), manifest_text("b", name="Old2"))
    state = State.new()
    applied(state, a, 1)
    live = remote(1, a)
    [b_new] = load(manifest_text("b", name="Old"))
    plan = compute_plan([b_new], state, [live])
    actions = {c.address: c.action for c in plan.changes}
    assert actions == {"a": Action.DELETE, "b": Action.CREATE}


def test_gone_assistants_are_recreated_or_forgotten(load):
    [m] = load(manifest_text("a"))
    state = State.new()
    applied(state, m, 7)
    [change] = compute_plan([m], state, []).changes
    assert change.action is Action.CREATE and "gone" in change.reason
    [forget] = compute_plan([], state, []).changes
    assert forget.action is Action.FORGET


def test_protection_comes_from_the_manifest_else_from_state(load):
    [m] = load(manifest_text("a", metadata_extra="protect: true"))
    state = State.new()
    live = applied(state, m, 7)
    with pytest.raises(PlanError, match="protected"):
        compute_plan([], state, [live])
    with pytest.raises(PlanError, match="protected"):
        compute_plan([m], state, [live], destroy=True)
    [unprotected] = load(manifest_text("a"))
    [change] = compute_plan([unprotected], state, [live], destroy=True).changes
    assert change.action is Action.DELETE


def test_targets(load):
    ms = load(manifest_text("a"), manifest_text("b"))
    assert [c.address for c in compute_plan(ms, State.new(), [], targets=["b"]).changes] == ["b"]
    with pytest.raises(PlanError, match="names no manifest"):
        compute_plan(ms, State.new(), [], targets=["c"])


def test_sensitive_values_stay_out_of_the_plan_data(load):
    [m] = load(manifest_text("a", is_webhook_active=True, webhook_url="https://h.example/?k=SECRET",
                             metadata_extra="sensitive: [system_prompt]"))
    plan = compute_plan([m], State.new(), [])
    assert plan.changes[0].body["webhook_url"].endswith("SECRET")  # in memory, to be sent
    data = plan.to_dict()
    assert "SECRET" not in str(data) and "Be helpful" not in str(data)
    restored = Plan.from_dict(data)
    assert restored.changes[0].body["webhook_url"].startswith("sha256:")
    assert str(restored.to_dict()) == str(data)


def test_nested_changes_are_detailed(load):
    [old] = load(manifest_text("a", variables={"x": "1", "y": "2"}))
    [new] = load(manifest_text("a", variables={"x": "9", "z": "3"}))
    state = State.new()
    live = applied(state, old, 7)
    [field] = compute_plan([new], state, [live]).changes[0].fields
    assert field.details == [["x", "1", "9"], ["y", "2", None], ["z", None, "3"]]


def test_renaming_onto_an_unmanaged_name_is_noted(load):
    [m] = load(manifest_text("a", name="Old"))
    state = State.new()
    live = applied(state, m, 1)
    [renamed] = load(manifest_text("a", name="Taken"))
    plan = compute_plan([renamed], state, [live, remote(9, renamed)])
    assert any("'Taken'" in note and "9" in note for note in plan.notes)


def test_a_namesake_another_workspace_manages_is_never_adopted(load):
    from provisioner.state import Owner

    [m] = load(manifest_text("a", name="Shared"))
    live = remote(9, m)
    with pytest.raises(PlanError) as refused:
        compute_plan([m], State.new(), [live], foreign={9: Owner("p", "prod", "shared")})
    assert "'shared' in project 'p', workspace 'prod'" in str(refused.value)
    # With one more namesake nobody manages, that one is adopted.
    loose = remote(10, m)
    [change] = compute_plan([m], State.new(), [live, loose], foreign={9: Owner("p", "prod", "shared")}).changes
    assert change.action is Action.IMPORT and change.remote_id == 10


def test_left_alone_entries_are_neither_destroyed_nor_planned(load):
    a, b = load(manifest_text("a"), manifest_text("b"))
    state = State.new()
    lives = [applied(state, a, 1), applied(state, b, 2)]
    plan = compute_plan([a], state, lives, left_alone={"b": "other/b.yaml"})
    assert plan.changes == [] and plan.left_alone == [{"address": "b", "source": "other/b.yaml"}]
    assert [c.action for c in compute_plan([a], state, lives).changes] == [Action.DELETE]
    # An explicit destroy is not narrowed by it.
    assert len(compute_plan([], state, lives, destroy=True, left_alone={"b": "x"}).changes) == 2


@pytest.mark.parametrize("managed, destroyed, mass", [(6, 5, True), (10, 5, False), (4, 4, False), (9, 5, True)])
def test_mass_destroy_is_more_than_half_and_at_least_five(load, managed, destroyed, mass):
    manifests = load(*(manifest_text(f"m{i}") for i in range(managed)))
    state = State.new()
    lives = [applied(state, m, i + 1) for i, m in enumerate(manifests)]
    plan = compute_plan(manifests[destroyed:], state, lives)
    assert plan.counts["destroy"] == destroyed and plan.mass_destroy is mass
    assert Plan.from_dict(plan.to_dict()).mass_destroy is mass


def test_an_unknown_target_suggests_near_addresses(load):
    [m] = load(manifest_text("support-bot"))
    with pytest.raises(PlanError, match=r"did you mean 'support-bot'\?"):
        compute_plan([m], State.new(), [], targets=["suport-bot"])


def _v2(tmp_path, text: str):
    path = tmp_path / "v2.yaml"
    path.write_text(text)
    return load_manifests([path], dialect="v2")


def _applied_v2(manifest, id: int) -> tuple[State, dict]:
    """State as after applying `manifest`, and the item the platform lists for it."""
    listed = item(manifest.fields, id=id)
    state = State.new()
    state.resources[manifest.address] = ResourceState.from_dict(
        {"id": id, **record_for(manifest, RemoteAssistant.from_item(listed, LOOKUPS).fields)})
    return state, listed


def test_a_v2_update_never_sends_the_tools_array_without_the_half_the_platform_names_only(tmp_path):
    """v2 carries the end-call tool and the built-in tools in one `tools` array, replaced whole on update; older
    answers list tools by name only (API.md). Changing one half then cannot keep the other: the plan says so."""
    [old] = _v2(tmp_path, manifest_text("a", end_call_tool={"description": "bye"}))
    [new] = _v2(tmp_path, manifest_text("a", end_call_tool={"description": "goodbye"}))
    state, listed = _applied_v2(old, 7)
    listed["tools"] = ["collect_keypad", "end_call"]  # a built-in tool, by name: its settings are not shown
    with pytest.raises(PlanError, match="lists its tools by name only, so its tools is not known"):
        compute_plan([new], state, [RemoteAssistant.from_item(listed, LOOKUPS)], dialect="v2")
    listed["tools"] = ["end_call"]  # no built-in tool: nothing of the other half to lose
    [change] = compute_plan([new], state, [RemoteAssistant.from_item(listed, LOOKUPS)], dialect="v2").changes
    assert change.body["end_call_tool"] == {"description": "goodbye"} and change.body["tools"] == []


def test_a_knowledge_base_mode_no_request_sends_is_read_and_shown_as_drift(tmp_path):
    """API.md: the list reference's example reads back "semantic"; a client accepts any string on read."""
    [m] = _v2(tmp_path, manifest_text("a", knowledgebase_id=4, knowledgebase_mode="prompt"))
    state, listed = _applied_v2(m, 7)
    listed.update(knowledgebase_id=4, knowledgebase_mode="semantic")
    [change] = compute_plan([m], state, [RemoteAssistant.from_item(listed, LOOKUPS)], dialect="v2").changes
    [field] = change.fields
    assert (field.field, field.before, field.after, field.drift) == ("knowledgebase_mode", "semantic", "prompt", True)
    [unmanaged] = _v2(tmp_path, manifest_text("b"))
    state, listed = _applied_v2(unmanaged, 8)
    listed["knowledgebase_mode"] = "semantic"
    assert compute_plan([unmanaged], state, [RemoteAssistant.from_item(listed, LOOKUPS)], dialect="v2").changes == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["kept", "gone", "gone-namesake", "removed", "replaced", "drifted"]), min_size=1,
                max_size=8), st.booleans())
def test_vanished_counts_what_the_platform_lost_and_nothing_else(load, fates, destroy):
    """count_vanished (the mass-forget guard's count) is the number of state entries whose id the platform no longer
    lists: made again, adopted by a namesake, or forgotten; never a kept, drifted, replaced or removed one."""
    manifests = load(*[manifest_text(f"a{i}", name=f"Bot {i}") for i in range(len(fates))])
    state, live = State.new(), []
    for i, (manifest, fate) in enumerate(zip(manifests, fates)):
        listed = applied(state, manifest, 100 + i)
        if fate == "drifted":
            listed = remote(100 + i, manifest, system_prompt="changed in the dashboard")
        if fate == "gone-namesake":
            listed = remote(500 + i, manifest)  # the one named alike, not in state: adopted
        if fate != "gone":
            live.append(listed)
    kept = [m for m, fate in zip(manifests, fates) if fate != "removed"]
    replace = [m.address for m, fate in zip(manifests, fates) if fate == "replaced"]
    plan = compute_plan(kept, state, live, destroy=destroy, replace=() if destroy else replace)
    # (A destroy forgets both: the namesake is not the object state holds.)
    assert count_vanished(plan.changes, state.resources) == sum(fate.startswith("gone") for fate in fates)
