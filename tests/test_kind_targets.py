"""--target per kind, over pure data: a plan pulls in what the target needs; `destroy --target` what needs it."""
import json

from test_graph_plan import LOOKUPS, applied, folder, label, load, objects  # noqa: F401 (load: a fixture)

from provisioner.graph import Graph
from provisioner.plan import Action
from provisioner.plan_graph import Platform, plan_graph
from provisioner.planner import RemoteAssistant
from provisioner.state import ResourceState, State
from conftest import manifest_text
from readshape import item


def live(manifests, ids):
    """The platform after `applied`: each assistant as the platform reads it."""
    found = []
    for m in manifests:
        if m.kind == "assistant":
            fields = {k: v for k, v in m.fields.items() if k not in ("folder_id", "label_ids")}
            found.append(RemoteAssistant.from_item(item(fields, id=ids[m.address]), LOOKUPS))
    return found


def test_destroy_target_of_a_folder_takes_what_refers_to_it_and_leaves_the_rest(load):
    manifests = load(folder("sales", "Sales"), label("vip", "VIP"),
                     manifest_text("a", folder_id="folder.sales"), manifest_text("b", label_ids=["label.vip"]))
    state = State.new()
    ids = {"folder.sales": 5, "label.vip": 6, "a": 7, "b": 8}
    applied(manifests, state, ids)
    platform = Platform(live(manifests, ids), {"folder": objects("folder", (5, "Sales", None)),
                                               "label": objects("label", (6, "VIP", None))})
    plan, _ = plan_graph(manifests, state, platform, destroy=True, targets=["folder.sales"], dialect="v2")
    assert sorted((c.address, c.action) for c in plan.changes) == [("a", Action.DELETE),
                                                                   ("folder.sales", Action.DELETE)]
    plan, _ = plan_graph(manifests, state, platform, destroy=True, targets=["assistant.b"], dialect="v2")
    assert [(c.address, c.action) for c in plan.changes] == [("b", Action.DELETE)]  # a label is not its dependent
    # A plan (not a destroy) of the same target pulls in what it needs instead: nothing, for a folder.
    plan, _ = plan_graph(manifests, state, platform, targets=["folder.sales"], dialect="v2")
    assert plan.changes == []


def test_destroy_target_of_an_object_never_made_takes_nothing_along(load):
    """`destroy --target folder.new` of a folder whose manifest was not applied yet destroyed the assistant whose
    manifest names it: it cannot use a folder that does not exist. Through what state holds only."""
    manifests = load(folder("sales", "Sales"), folder("new", "New"),
                     manifest_text("a", folder_id="folder.new"), manifest_text("b", folder_id="folder.sales"))
    state = State.new()
    ids = {"folder.sales": 5, "folder.new": 6, "a": 7, "b": 8}
    applied(manifests, state, ids)
    del state.resources["folder.new"]  # its manifest is new: never applied (a, b as they were before)
    platform = Platform(live(manifests, ids), {"folder": objects("folder", (5, "Sales", None)), "label": []})
    plan, _ = plan_graph(manifests, state, platform, destroy=True, targets=["folder.new"], dialect="v2")
    assert plan.changes == []
    plan, _ = plan_graph(manifests, state, platform, destroy=True, targets=["folder.sales"], dialect="v2")
    assert sorted((c.address, c.action) for c in plan.changes) == [("b", Action.DELETE),
                                                                   ("folder.sales", Action.DELETE)]
    graph = Graph.of(manifests)
    assert graph.with_dependents(["folder.new"], existing={"a"}) == {"folder.new"}
    assert graph.with_dependents(["folder.new"]) == {"folder.new", "a"}


def test_with_dependents_follows_recorded_references_of_objects_without_manifests(load):
    manifests = load(folder("sales", "Sales"), manifest_text("a", folder_id="folder.sales"))
    graph = Graph.of(manifests)
    assert graph.with_dependents(["folder.sales"]) == {"folder.sales", "a"}
    assert graph.with_dependents(["folder.sales"], {"old": ["folder.sales"], "older": ["assistant.old"]}) == {
        "folder.sales", "a", "old", "older"}
    assert graph.with_dependents(["assistant.a"]) == {"a"}


def test_destroy_target_honours_protect_of_a_dependent(load):
    import pytest

    from provisioner.errors import PlanError

    manifests = load(folder("sales", "Sales"), manifest_text("a", folder_id="folder.sales",
                                                             metadata_extra="protect: true"))
    state = State.new()
    ids = {"folder.sales": 5, "a": 7}
    applied(manifests, state, ids)
    platform = Platform(live(manifests, ids), {"folder": objects("folder", (5, "Sales", None)), "label": []})
    with pytest.raises(PlanError, match="protect"):
        plan_graph(manifests, state, platform, destroy=True, targets=["folder.sales"], dialect="v2")
    assert isinstance(state.resources["a"], ResourceState)


def test_destroy_target_of_a_document_leaves_the_assistants_that_use_its_knowledge_base(workspace):
    """An assistant that uses a knowledge base waits for its documents when created, and state records them with
    what it pointed at (for the order of a later destroy): that is not a reference to a document. Destroying one
    document destroys that document alone; destroying the knowledge base takes its assistants along."""
    import pathlib

    workspace.dialect = "v2"
    for example in (pathlib.Path(__file__).parent.parent / "manifests").glob("*.yaml"):  # the README's example
        workspace.write(f"manifests/{example.name}", example.read_text().replace("protect: true", "protect: false"))
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    documents = [a for a in workspace.state()["resources"] if a.startswith("knowledgebase.help.")]
    assert documents
    planned = workspace.run("plan", "--destroy", "--target", documents[0], "--detailed-exitcode")
    assert planned.exit_code == 2, planned.all
    assert "1 to destroy" in planned.output and "support-inbound" not in planned.output, planned.output
    whole = workspace.run("plan", "--destroy", "--target", "knowledgebase.help")
    assert "support-inbound" in whole.output, whole.output


def test_state_keeps_what_an_object_uses_after_an_update_that_changed_none_of_it(workspace):
    """State recorded an object's references (`depends_on`, walk.py rule 2, destroy --target) only when they changed
    in the same apply: an update of an assistant's prompt wrote `depends_on: []`, and `destroy --target folder.sales`
    of the folder's own file then destroyed the folder and left the assistant in it, which it took along before."""
    workspace.dialect = "v2"
    workspace.write("manifests/folders.yaml", folder("sales", "Sales"))
    workspace.add("a", folder_id="folder.sales")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("a", folder_id="folder.sales", system_prompt="A new prompt.")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.state()["resources"]["a"]["depends_on"] == ["folder.sales"]
    planned = workspace.run("plan", "--destroy", "--json", "--target", "folder.sales", "manifests/folders.yaml")
    assert planned.exit_code == 0, planned.all
    assert sorted(c["address"] for c in json.loads(planned.output)["changes"]) == ["a", "folder.sales"]
