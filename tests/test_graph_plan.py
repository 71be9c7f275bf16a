"""The plan of a graph over pure data: kinds (folders, labels) beside assistants that reference them."""
import dataclasses
import json

import click
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner.errors import PlanError
from provisioner.kinds import KINDS
from provisioner.manifest import load_manifests
from provisioner.plan import Action, Plan
from provisioner.plan_graph import Platform, plan_graph
from provisioner.plan_kinds import RemoteObject, read_list
from provisioner.planner import RemoteAssistant, record_for
from provisioner.state import ResourceState, State
from provisioner.wire import Lookups
from conftest import manifest_text
from readshape import LANGUAGES, MODELS, item

LOOKUPS = Lookups(LANGUAGES, MODELS)


def folder(address, name, color=None, extra=""):
    spec = f"  name: {name}\n" + (f"  color: {color}\n" if color else "")
    return f"apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: {address}\n{extra}spec:\n{spec}"


def label(address, name, color=None):
    return folder(address, name, color).replace("kind: Folder", "kind: Label")


@pytest.fixture
def load(tmp_path):
    def load(*documents, dialect="v2"):
        path = tmp_path / "m.yaml"
        path.write_text("---\n".join(documents))
        return load_manifests([path], dialect=dialect)
    return load


def objects(kind, *items):
    return read_list(KINDS[kind], [{"id": i, "name": n, "color": c, "assistants_count": 0} for i, n, c in items])


def plan_of(manifests, state=None, assistants=(), **objects_by_kind):
    platform = Platform(list(assistants), {"folder": [], "label": [], **objects_by_kind})
    plan, _ = plan_graph(manifests, state or State.new(), platform, dialect="v2")
    return plan


def by_address(plan):
    return {c.address: c for c in plan.changes}


def recorded(state, address, id, change_record):
    state.resources[address] = ResourceState.from_dict({"id": id, **change_record})


def test_new_folder_and_assistant_referencing_it_wait_for_its_id(load):
    manifests = load(folder("sales", "Sales", "blue"), label("vip", "VIP"),
                     manifest_text("a", folder_id="folder.sales", label_ids=["label.vip", 9]))
    plan = plan_of(manifests)
    changes = by_address(plan)
    assert changes["folder.sales"].action is Action.CREATE and changes["folder.sales"].kind == "folder"
    assert changes["folder.sales"].body == {"name": "Sales", "color": "blue"}
    assistant = changes["a"]
    assert assistant.kind == "assistant"
    assert assistant.body["folder_id"] == {"$ref": "folder.sales"}
    assert assistant.body["label_ids"] == [{"$ref": "label.vip"}, 9]
    assert assistant.depends_on == ["folder.sales", "label.vip"]
    assert plan.counts_by_kind == {"assistant": {"import": 0, "add": 1, "change": 0, "destroy": 0, "forget": 0},
                                   "folder": {"import": 0, "add": 1, "change": 0, "destroy": 0, "forget": 0},
                                   "label": {"import": 0, "add": 1, "change": 0, "destroy": 0, "forget": 0}}


def test_existing_folder_resolves_to_its_id_and_nothing_waits(load):
    [a, f] = sorted(load(folder("sales", "Sales"), manifest_text("a", folder_id="folder.sales")),
                    key=lambda m: m.kind)
    state = State.new()
    plan = plan_of([a, f], state, folder=objects("folder", (5, "Sales", None)))
    changes = by_address(plan)
    assert changes["folder.sales"].action is Action.IMPORT  # adopted by its unique name
    assert changes["a"].body["folder_id"] == 5 and changes["a"].depends_on == ["folder.sales"]


def test_two_objects_of_one_name_are_never_adopted(load):
    manifests = load(folder("sales", "Sales"))
    with pytest.raises(PlanError, match="2 folders named 'Sales' .*ids 5, 6"):
        plan_of(manifests, folder=objects("folder", (5, "Sales", None), (6, "Sales", None)))


def test_lookup_by_name_resolves_an_unmanaged_object_and_refuses_none_or_two(load):
    manifests = load(manifest_text("a", folder_id={"name": "Ops"}))
    plan = plan_of(manifests, folder=objects("folder", (3, "Ops", None)))
    assert by_address(plan)["a"].body["folder_id"] == 3
    with pytest.raises(PlanError, match="no folder named 'Ops'"):
        plan_of(manifests)
    with pytest.raises(PlanError, match="2 objects for folder named 'Ops'"):
        plan_of(manifests, folder=objects("folder", (3, "Ops", None), (4, "Ops", None)))


def test_a_managed_object_is_not_found_by_a_lookup(load):
    manifests = load(folder("ops", "Ops"), manifest_text("a", folder_id={"name": "Ops"}))
    with pytest.raises(PlanError, match="no folder named 'Ops' that no manifest manages"):
        plan_of(manifests, folder=objects("folder", (3, "Ops", None)))


def applied(manifests, state, ids, **objects_by_kind):
    """Record every change of a first plan as done, with the given ids (address -> id)."""
    plan = plan_of(manifests, state, **objects_by_kind)
    for change in plan.changes:
        record = dict(change.record)
        spec = {k: _substituted(v, ids) for k, v in (record.get("spec") or {}).items()}
        recorded(state, change.address, ids[change.address], {**record, "spec": spec})
    return plan


def _substituted(value, ids):
    if isinstance(value, dict) and set(value) == {"$ref"}:
        return ids[value["$ref"]]
    if isinstance(value, list):
        return [_substituted(v, ids) for v in value]
    return value


def test_applied_graph_plans_no_changes_and_color_drift_shows(load):
    manifests = load(folder("sales", "Sales", "blue"), manifest_text("a", folder_id="folder.sales"))
    state = State.new()
    applied(manifests, state, {"folder.sales": 5, "a": 7})
    [m] = [m for m in manifests if m.kind == "assistant"]
    live_a = RemoteAssistant.from_item(item({k: v for k, v in m.fields.items() if k != "folder_id"}, id=7), LOOKUPS)
    plan = plan_of(manifests, state, [live_a], folder=objects("folder", (5, "Sales", "blue")))
    assert plan.changes == []
    drifted = plan_of(manifests, state, [live_a], folder=objects("folder", (5, "Sales", "red")))
    [change] = drifted.changes
    assert change.action is Action.UPDATE and change.body == {"color": "blue"}
    assert change.fields[0].drift and change.fields[0].before == "red"


def test_removed_color_goes_back_to_none_and_null_clears(load):
    manifests = load(folder("sales", "Sales"))
    plan = plan_of(manifests, State.new(), folder=objects("folder", (5, "Sales", "red")))
    [change] = plan.changes
    assert change.action is Action.IMPORT and change.body == {"color": None}


def test_removed_manifest_deletes_and_protect_refuses(load):
    [f] = load(folder("sales", "Sales"))
    state = State.new()
    applied([f], state, {"folder.sales": 5})
    plan = plan_of([], state, folder=objects("folder", (5, "Sales", None)))
    [change] = plan.changes
    assert (change.action, change.kind, change.remote_id) == (Action.DELETE, "folder", 5)
    state.resources["folder.sales"].protect = True
    with pytest.raises(PlanError, match="folder 'folder.sales' .*is protected"):
        plan_of([], state, folder=objects("folder", (5, "Sales", None)))
    gone = plan_of([], state)
    assert [c.action for c in gone.changes] == [Action.FORGET]


def test_targets_pull_in_dependencies_and_accept_assistant_prefix(load):
    manifests = load(folder("sales", "Sales"), label("vip", "VIP"), manifest_text("a", folder_id="folder.sales"))
    platform = Platform([], {"folder": [], "label": []})
    plan, _ = plan_graph(manifests, State.new(), platform, targets=["assistant.a"], dialect="v2")
    assert sorted(c.address for c in plan.changes) == ["a", "folder.sales"]
    plan, _ = plan_graph(manifests, State.new(), platform, targets=["label.vip"], dialect="v2")
    assert [c.address for c in plan.changes] == ["label.vip"]


def test_saved_plan_with_kinds_round_trips(load):
    manifests = load(folder("sales", "Sales"), manifest_text("a", folder_id="folder.sales"))
    plan = plan_of(manifests)
    data = plan.to_dict()
    assert data["format_version"] == 2 and {c["kind"] for c in data["changes"]} == {"assistant", "folder"}
    again = Plan.from_dict(data)
    assert again.to_dict()["changes"] == data["changes"]
    assert by_address(again)["a"].depends_on == ["folder.sales"]


def test_saved_plan_of_version_1_still_reads(load):
    [m] = load(manifest_text("a"))
    data = plan_of([m]).to_dict()
    data["format_version"] = 1
    for change in data["changes"]:
        for key in ("kind", "depends_on", "replace", "replace_reason", "wait"):
            change.pop(key)
    assert Plan.from_dict(data).changes[0].kind == "assistant"


def test_saved_plan_refuses_unknown_kind_and_foreign_fields(load):
    data = plan_of(load(folder("sales", "Sales"))).to_dict()
    data["changes"][0]["kind"] = "spaceship"
    with pytest.raises(Exception, match="not a kind"):
        Plan.from_dict(data)
    data["changes"][0]["kind"] = "folder"
    data["changes"][0]["body"]["voice_id"] = 1
    with pytest.raises(Exception, match="not folder fields"):
        Plan.from_dict(data)


def test_a_namesake_another_workspace_manages_is_never_adopted(load):
    from provisioner.state import Owner

    manifests = load(folder("sales", "Sales"))
    platform = Platform([], {"folder": objects("folder", (5, "Sales", None)), "label": []})
    owner = Owner("folder.sales", "prod", "p")
    with pytest.raises(PlanError, match="folder id 5 .*manages it; one object has one owner"):
        plan_graph(manifests, State.new(), platform, dialect="v2", foreign_objects={("folder", 5): owner})


def test_write_only_reference_compares_recorded_ids_and_a_new_target_id_updates_the_assistant(load):
    manifests = load(folder("sales", "Sales"), manifest_text("a", folder_id="folder.sales"))
    state = State.new()
    applied(manifests, state, {"folder.sales": 5, "a": 7})
    [m] = [m for m in manifests if m.kind == "assistant"]
    live_a = RemoteAssistant.from_item(item({k: v for k, v in m.fields.items() if k != "folder_id"}, id=7), LOOKUPS)
    # The folder was deleted outside the provisioner: it is created again, and the assistant waits for its new id.
    plan = plan_of(manifests, state, [live_a])
    changes = by_address(plan)
    assert changes["folder.sales"].action is Action.CREATE
    assert changes["a"].action is Action.UPDATE and changes["a"].body == {"folder_id": {"$ref": "folder.sales"}}
    [field] = changes["a"].fields
    assert field.source == "last-applied" and field.before == 5 and field.after == {"$ref": "folder.sales"}


@pytest.fixture
def gadgets(monkeypatch):
    """A kind with a field that cannot be updated in place, whose replacement loses data, and a secret."""
    from typing import Optional

    from pydantic import BaseModel, ConfigDict

    from provisioner import kinds
    from provisioner.kinds.base import Endpoints, FieldFacts, Kind

    class GadgetSpec(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str
        size: Optional[int] = None
        token: Optional[str] = None

    def nothing(*args):
        return []
    kind = Kind("gadget", "Gadget", "gadget", GadgetSpec,
                (FieldFacts("name"), FieldFacts("size", replace=True),
                 FieldFacts("token", shown=False, sensitive=True)),
                Endpoints(nothing, nothing, nothing, nothing),
                read=lambda item: ({"name": item["name"], "size": item.get("size")}, []), create_body=dict,
                replace_loses="deletes leads")
    monkeypatch.setitem(kinds.KINDS, "gadget", kind)
    monkeypatch.setitem(kinds.BY_MANIFEST_KIND, "Gadget", kind)
    return kind


def gadget(size, token="s3cret-value"):
    return (f"apiVersion: provisioner/v1\nkind: Gadget\nmetadata:\n  name: g\nspec:\n  name: G\n  size: {size}\n"
            f"  token: {token}\n")


def test_a_replace_fact_makes_a_replacement_that_says_what_is_lost(load, gadgets):
    from provisioner.render import plan_markdown, plan_text

    manifests = load(gadget(2))
    state = State.new()
    applied(manifests, state, {"gadget.g": 5})
    live = read_list(gadgets, [{"id": 5, "name": "G", "size": 1}])
    [change] = plan_of(load(gadget(2)), state, gadget=live).changes
    assert change.replace and change.action is Action.CREATE and change.remote_id == 5
    assert change.replace_reason == "deletes leads" and "size cannot be changed in place" in change.reason
    assert plan_of(load(gadget(2)), state, gadget=live).counts["destroy"] == 1
    text = click.unstyle(plan_text(plan_of(load(gadget(2)), state, gadget=live)))
    assert '-/+ gadget "g" {' in text and "(replace: deletes leads)" in text and "size = 1 -> 2" in text
    assert "gadget.g must be replaced" in text
    markdown = plan_markdown(plan_of(load(gadget(2)), state, gadget=live))
    assert "`-/+` **replace**" in markdown and "**Replace:** deletes leads" in markdown


def test_a_sensitive_write_only_field_is_compared_by_digest_and_shown_by_name_only(load, gadgets):
    manifests = load(gadget(1))
    state = State.new()
    applied(manifests, state, {"gadget.g": 5})
    assert "s3cret-value" not in json.dumps(state.resources["gadget.g"].spec)
    live = read_list(gadgets, [{"id": 5, "name": "G", "size": 1}])
    assert plan_of(load(gadget(1)), state, gadget=live).changes == []
    plan = plan_of(load(gadget(1, token="other-secret")), state, gadget=live)
    [change] = plan.changes
    [field] = change.fields
    assert (field.field, field.before, field.after, field.sensitive) == ("token", "(sensitive)", "(sensitive)", True)
    assert not change.replace and change.action is Action.UPDATE
    document = json.dumps(plan.to_dict())
    assert "other-secret" not in document and "s3cret-value" not in document


def test_a_kind_with_readiness_is_waited_for_after_create_only(load, gadgets, monkeypatch):
    from dataclasses import replace

    from provisioner import kinds

    ready = replace(gadgets, endpoints=replace(gadgets.endpoints, readiness=lambda *args: "ready"))
    monkeypatch.setitem(kinds.KINDS, "gadget", ready)
    [create] = plan_of(load(gadget(1))).changes
    assert create.wait and create.action is Action.CREATE
    state = State.new()
    applied(load(gadget(1)), state, {"gadget.g": 5})
    live = read_list(ready, [{"id": 5, "name": "H", "size": 1}])
    [update] = plan_of(load(gadget(1)), state, gadget=live).changes
    assert update.action is Action.UPDATE and not update.wait
    assert any("write-only" in n for n in plan_of(load(gadget(1, token="x")), state, gadget=live).notes)


def test_a_saved_plan_is_checked_against_state_per_kind(load, gadgets):
    from provisioner.saved_plan import conflicts_with_state

    state = State.new()
    applied(load(gadget(1)), state, {"gadget.g": 5})
    [m] = load(manifest_text("a"))
    recorded(state, "a", 5, record_for(m, {}))  # an assistant with the same id as the gadget: ids are per kind
    live = read_list(gadgets, [{"id": 5, "name": "G", "size": 1}])
    plan = plan_of(load(gadget(2)), state, gadget=live)
    plan.changes = [c for c in plan.changes if c.kind == "gadget"]  # (the assistant, with no manifest, is forgotten)
    assert plan.changes[0].replace and conflicts_with_state(plan, state) == []
    # Another id than state's: the namesake adopted in place of one gone from the platform (Session.check_saved_plan
    # looks for state's on the platform), never an id another address holds.
    plan.changes[0].remote_id = 6
    assert conflicts_with_state(plan, state) == []
    state.resources["gadget.other"] = dataclasses.replace(state.resources["gadget.g"], id=6)
    assert "id 6 is already managed as 'gadget.other'" in conflicts_with_state(plan, state)[0]
    del state.resources["gadget.other"]
    plan.changes[0].remote_id = None
    assert "a replacement of no platform id" in conflicts_with_state(plan, state)[0]
    plan.changes[0].remote_id, plan.changes[0].kind = 5, "assistant"
    assert any("in a change of kind assistant" in p for p in conflicts_with_state(plan, state))


def test_an_adopted_object_that_differs_in_a_replace_field_is_replaced(load, gadgets):
    live = read_list(gadgets, [{"id": 5, "name": "G", "size": 1}])
    [change] = plan_of(load(gadget(2)), State.new(), gadget=live).changes
    assert change.replace and change.remote_id == 5 and "adopted" in change.reason


# --- property: any valid graph, planned then applied (simulated), plans no changes ---

COLORS = st.sampled_from([None, "red", "blue"])


@st.composite
def graphs(draw):
    folders = draw(st.dictionaries(st.sampled_from(["f0", "f1", "f2", "f3"]), COLORS, max_size=4))
    labels = draw(st.dictionaries(st.sampled_from(["l0", "l1", "l2"]), COLORS, max_size=3))
    assistants = {}
    for name in draw(st.lists(st.sampled_from(["a0", "a1", "a2"]), unique=True, max_size=3)):
        folder_ref = draw(st.sampled_from([None, *[f"folder.{f}" for f in folders]]))
        label_refs = draw(st.lists(st.sampled_from([f"label.{x}" for x in labels]), unique=True)) if labels else []
        assistants[name] = (folder_ref, label_refs)
    # Objects already on the platform that nobody manages: some with a manifest's name (adopted), some not.
    existing = draw(st.lists(st.sampled_from(["f0", "f1", "x9"]), unique=True))
    return folders, labels, assistants, existing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs())
def test_any_graph_planned_and_applied_then_plans_no_changes(tmp_path_factory, case):
    folders, labels, assistants, existing = case
    documents = [folder(f, f.upper(), c) for f, c in folders.items()]
    documents += [label(x, x.upper(), c) for x, c in labels.items()]
    for name, (folder_ref, label_refs) in assistants.items():
        spec = {"label_ids": label_refs} if label_refs else {}
        if folder_ref:
            spec["folder_id"] = folder_ref
        documents.append(manifest_text(name, **spec))
    if not documents:
        return
    path = tmp_path_factory.mktemp("g") / "m.yaml"
    path.write_text("---\n".join(documents))
    manifests = load_manifests([path], dialect="v2")
    platform_folders = [(100 + i, n.upper(), None) for i, n in enumerate(existing)]
    state = State.new()
    first = plan_of(manifests, state, folder=objects("folder", *platform_folders))
    created = [c for c in first.changes if c.action is Action.CREATE]
    assert not any(c.kind == "folder" and c.assistant_name in {n for _, n, _ in platform_folders} for c in created)
    ids = {}
    for change in first.changes:
        ids[change.address] = change.remote_id if change.remote_id is not None else 1000 + len(ids)
        for address in {a for f in change.body.values() for a in _markers(f)}:
            assert address in change.depends_on  # a value known after apply names what it waits for
    for change in first.changes:
        record = dict(change.record)
        spec = {k: _substituted(v, ids) for k, v in (record.get("spec") or {}).items()}
        recorded(state, change.address, ids[change.address], {**record, "spec": spec})
    # The platform after the apply: what was sent, under the ids it got (and the untouched namesakes).
    live_folders = {i: (i, n, None) for i, n, _ in platform_folders}
    live_labels, live_assistants = {}, []
    for m in manifests:
        entry = state.resources[m.address]
        if m.kind == "folder":
            live_folders[entry.id] = (entry.id, m.spec.name, m.spec.color)
        elif m.kind == "label":
            live_labels[entry.id] = (entry.id, m.spec.name, m.spec.color)
        else:
            shown = {k: v for k, v in m.fields.items() if k not in ("folder_id", "label_ids")}
            live_assistants.append(RemoteAssistant.from_item(item(shown, id=entry.id), LOOKUPS))
    again = plan_of(manifests, state, live_assistants, folder=objects("folder", *live_folders.values()),
                    label=objects("label", *live_labels.values()))
    assert again.changes == [], [(c.address, c.action, [f.field for f in c.fields]) for c in again.changes]


def _markers(value):
    if isinstance(value, dict) and set(value) == {"$ref"}:
        return [value["$ref"]]
    return [a for v in value for a in _markers(v)] if isinstance(value, list) else []


def test_a_field_without_default_left_out_is_no_longer_managed_and_says_so(load, gadgets):
    state = State.new()
    applied(load(gadget(1)), state, {"gadget.g": 5})
    live = read_list(gadgets, [{"id": 5, "name": "G", "size": 1}])
    dropped = "apiVersion: provisioner/v1\nkind: Gadget\nmetadata:\n  name: g\nspec:\n  name: G\n  token: s3cret-value\n"
    plan = plan_of(load(dropped), state, gadget=live)
    assert plan.changes == []
    assert any("gadget.g: spec.size is no longer set, so it is no longer managed" in n for n in plan.notes)
