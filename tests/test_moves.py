"""Moved blocks read offline (moves.py): the document's form, every mistake a file:line problem, chains followed,
references to an old address read as the new one; and the state edit a plan's moves make."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import manifest_text
from provisioner.errors import ManifestError
from provisioner.manifest import load_manifests
from provisioner.moves import MOVE_ADDRESS, after_moves, destinations, moved_rows, plan_moves, state_address
from provisioner.errors import PlanError
from provisioner.state import ResourceState, State


def moved(source, target) -> str:
    return f"apiVersion: provisioner/v1\nkind: Moved\nspec:\n  from: {source}\n  to: {target}\n"


FOLDER = "apiVersion: provisioner/v1\nkind: Folder\nmetadata: {name: c}\nspec: {name: Sales}\n"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # problems name the file as the run does: m.yaml


def load(tmp_path, text: str):
    (tmp_path / "m.yaml").write_text(text)
    moves: list = []
    return load_manifests(["m.yaml"], moves=moves, dialect="v2"), moves


def problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, text)
    return [f"{p.location}: {p.message}" for p in caught.value.problems]


def test_a_moved_block_is_read_beside_the_manifests_and_an_assistant_address_may_say_assistant(tmp_path):
    manifests, moves = load(tmp_path, FOLDER + "---\n" + moved("folder.a", "folder.c") + "---\n"
                            + moved("assistant.old", "new") + "---\n" + manifest_text("new"))
    assert [m.address for m in manifests] == ["folder.c", "new"]
    assert [(m.source, m.target, m.kind) for m in moves] == [("folder.a", "folder.c", "folder"),
                                                               ("old", "new", "assistant")]
    assert str(moves[0].source_location) == "m.yaml:9"


@pytest.mark.parametrize("text, expected", [
    (moved("folder.a", "folder.a"), "m.yaml:5: from and to are the same address (folder.a)"),
    (moved("folder.a", "label.a"), "m.yaml:5: folder.a is a folder and label.a a label: a move stays within its kind"),
    (moved("widget.a", "widget.b"), "m.yaml:4: 'widget.a' is not an address of a kind the provisioner manages"),
    (moved("number.a", "number.b"), "m.yaml:4: 'number.a' is not an address of a kind the provisioner manages"),
    (moved("Folder A", "folder.b"), "m.yaml:4: must be an address such as tool.NAME"),
    # Three parts name a document only; `assistant.` once (both were accepted and moved nothing).
    (moved("tool.a.b", "tool.c"), "m.yaml:4: 'tool.a.b' is no tool's address: a tool is moved as tool.NAME"),
    (moved("assistant.assistant.x", "y"), "m.yaml:4: 'assistant.assistant.x' is no assistant's address"),
    (moved("document.a", "document.b"), "m.yaml:4: 'document.a' is no document's address: a document is moved as "
                                        "knowledgebase.NAME.KEY"),
    ("apiVersion: provisioner/v1\nkind: Moved\nspec: {from: folder.a}\n", "m.yaml:3: spec.to is required"),
    ("apiVersion: provisioner/v1\nkind: Moved\nspec: {from: folder.a, too: folder.b}\n", "unknown field 'too'"),
    ("apiVersion: provisioner/v1\nkind: Moved\nmetadata: {name: x}\nspec: {from: folder.a, to: folder.b}\n",
     "m.yaml:3: unknown field 'metadata' in a moved block (a moved block has no metadata"),
    ("apiVersion: provisioner/v2\nkind: Moved\nspec: {from: folder.a, to: folder.b}\n",
     "m.yaml:1: apiVersion must be 'provisioner/v1'"),
    ("apiVersion: provisioner/v1\nkind: Moved\n", "m.yaml:1: spec is required"),
    (moved("folder.a", "folder.b") + "---\n" + moved("folder.a", "folder.c"),
     "m.yaml:10: folder.a is also moved by the block at m.yaml:2 (to folder.b)"),
    (moved("folder.a", "folder.c") + "---\n" + moved("folder.b", "folder.c"),
     "m.yaml:11: folder.c is also the destination of the block at m.yaml:2 (from folder.a)"),
    (moved("folder.a", "folder.b") + "---\n" + moved("folder.b", "folder.a"),
     "moved blocks make a cycle (folder.a -> folder.b -> folder.a)"),
    (moved("folder.x", "folder.a") + "---\n" + moved("folder.a", "folder.b") + "---\n" + moved("folder.b", "folder.a"),
     "m.yaml:17: folder.a is also the destination of the block at m.yaml:2 (from folder.x)"),
    (FOLDER + "---\n" + moved("folder.c", "folder.d"), "m.yaml:9: folder.c still has a manifest (m.yaml:1)"),
])
def test_every_mistake_in_a_moved_block_is_a_file_line_problem(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


def test_a_reference_to_a_moved_address_reads_as_its_new_one(tmp_path):
    manifests, _ = load(tmp_path, FOLDER + "---\n" + moved("folder.a", "folder.b") + "---\n"
                        + moved("folder.b", "folder.c") + "---\n" + manifest_text("x", folder_id="folder.a"))
    assistant = next(m for m in manifests if m.address == "x")
    assert assistant.fields["folder_id"] == "folder.c"


def test_a_reference_to_an_old_address_without_its_move_names_no_manifest(tmp_path):
    assert any("'folder.a' names no manifest" in p
               for p in problems(tmp_path, FOLDER + "---\n" + manifest_text("x", folder_id="folder.a")))


def entry(id_: int, kind: str = "folder", depends_on=()) -> ResourceState:
    return ResourceState(id=id_, spec={}, kind=kind, depends_on=list(depends_on))


def test_plan_moves_refuses_two_state_entries_moving_to_one_address(tmp_path):
    _, moves = load(tmp_path, FOLDER + "---\n" + moved("folder.a", "folder.b") + "---\n"
                    + moved("folder.b", "folder.c"))
    state = State("l", 1, {"folder.a": entry(1), "folder.b": entry(2)})
    with pytest.raises(PlanError, match="cannot move both folder.a and folder.b to folder.c"):
        plan_moves(moves, state)


def test_the_rows_of_a_move_name_the_new_address_in_what_pointed_at_the_old(tmp_path):
    state = State("l", 1, {"folder.a": entry(1), "x": entry(5, "assistant", ["folder.a", "label.v"])})
    rows = moved_rows(state.resources, [{"from": "folder.a", "to": "folder.c", "kind": "folder", "id": 1}])
    assert rows["folder.a"] is None and rows["folder.c"].id == 1
    assert rows["x"].depends_on == ["folder.c", "label.v"]
    moved_state = after_moves(state, [{"from": "folder.a", "to": "folder.c", "kind": "folder", "id": 1}])
    assert sorted(moved_state.resources) == ["folder.c", "x"] and sorted(state.resources) == ["folder.a", "x"]


NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chain=st.lists(NAMES, min_size=2, max_size=6, unique=True), shuffle=st.randoms(use_true_random=False))
def test_a_chain_of_moves_in_any_order_ends_at_its_last_address(tmp_path, chain, shuffle):
    blocks = [moved(f"label.{a}", f"label.{b}") for a, b in zip(chain, chain[1:])]
    shuffle.shuffle(blocks)
    _, moves = load(tmp_path, "---\n".join(blocks))
    ends = destinations(moves)
    assert set(ends) == {f"label.{a}" for a in chain[:-1]}
    assert {m.target for m in ends.values()} == {f"label.{chain[-1]}"}
    state = State("l", 1, {f"label.{chain[0]}": entry(7, "label")})
    records, notes = plan_moves(moves, state)
    assert records == [{"from": f"label.{chain[0]}", "to": f"label.{chain[-1]}", "kind": "label", "id": 7}]
    assert notes == []  # every block takes the entry a step further: the middle ones are no blocks left idle
    # Once applied, the chain moves nothing: one entry, from its first address to its last (not one per block).
    records, notes = plan_moves(moves, State("l", 2, {f"label.{chain[-1]}": entry(7, "label")}))
    blocks = f"a chain of {len(chain) - 1} blocks, " if len(chain) > 2 else ""
    assert records == [] and [note.split(": ", 1)[1].split(". They")[0] for note in notes] == [
        f"label.{chain[0]} -> label.{chain[-1]} ({blocks}already moved)"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.one_of(st.text(max_size=20), NAMES, NAMES.map(lambda n: f"tool.{n}")),
       target=st.one_of(st.text(max_size=20), NAMES, NAMES.map(lambda n: f"tool.{n}"), st.integers(), st.none()))
def test_any_moved_block_loads_or_fails_with_problems_never_a_crash(tmp_path, source, target):
    import yaml

    text = yaml.safe_dump({"apiVersion": "provisioner/v1", "kind": "Moved", "spec": {"from": source, "to": target}})
    try:
        _, moves = load(tmp_path, text)
    except ManifestError as error:
        assert error.problems and all(p.location and p.location.line >= 1 for p in error.problems)
        return
    [move] = moves
    assert MOVE_ADDRESS.fullmatch(source) and isinstance(target, str) and MOVE_ADDRESS.fullmatch(target)
    assert move.source == state_address(source) != move.target == state_address(target)


def test_the_editor_schema_takes_a_moved_block_and_refuses_one_with_metadata_or_a_manifest_without():
    import yaml
    from jsonschema import Draft202012Validator

    from provisioner.schema import manifest_schema

    validator = Draft202012Validator(manifest_schema())
    block = yaml.safe_load(moved("tool.a", "tool.b"))
    assert not list(validator.iter_errors(block))
    assert list(validator.iter_errors({**block, "metadata": {"name": "x"}}))
    assert list(validator.iter_errors({**block, "spec": {"from": "tool.a"}}))
    folder = yaml.safe_load(FOLDER)
    assert not list(validator.iter_errors(folder))
    assert list(validator.iter_errors({k: v for k, v in folder.items() if k != "metadata"}))


KB = ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {name: faq}\nspec:\n  name: FAQ\n  documents:\n"
      "    - {name: Returns, key: returns, type: website, url: \"https://example.com/r\"}\n")


def test_a_document_moved_away_must_not_still_be_declared(tmp_path):
    found = problems(tmp_path, KB + "---\n" + moved("knowledgebase.faq.returns", "knowledgebase.faq.refunds"))
    assert any("knowledgebase.faq.returns still has a manifest" in p for p in found), found


def test_a_knowledge_base_moves_with_its_documents_unless_a_document_has_a_move_of_its_own(tmp_path):
    _, moves = load(tmp_path, moved("knowledgebase.help", "knowledgebase.faq") + "---\n"
                    + moved("knowledgebase.help.old", "knowledgebase.faq.new"))
    state = State("l", 1, {"knowledgebase.help": entry(1, "knowledgebase"),
                           "knowledgebase.help.returns": entry(2, "document"),
                           "knowledgebase.help.old": entry(3, "document")})
    records, _ = plan_moves(moves, state)
    assert {r["from"]: r["to"] for r in records} == {
        "knowledgebase.help": "knowledgebase.faq", "knowledgebase.help.returns": "knowledgebase.faq.returns",
        "knowledgebase.help.old": "knowledgebase.faq.new"}


def test_a_campaign_naming_its_assistant_by_the_old_address_validates_through_the_move(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from provisioner.cli import cli

    example = Path(__file__).resolve().parent.parent / "examples" / "graph"
    shutil.copytree(example, tmp_path / "graph")
    manifests = tmp_path / "graph" / "manifests"
    assistant = manifests / "assistant.yaml"
    assistant.write_text(assistant.read_text().replace("name: winter-caller", "name: caller", 1))
    knowledge = manifests / "knowledgebase.yaml"  # a document file is checked against the repository: not here
    knowledge.write_text("\n".join(line for line in knowledge.read_text().splitlines() if "hours.txt" not in line))
    monkeypatch.chdir(tmp_path / "graph")
    env = {"ORDERS_API_KEY": "key", "OFFICE_SIP_PASSWORD": "a-sip-password"}
    broken = CliRunner().invoke(cli, ["validate"], env=env)
    assert broken.exit_code == 1 and "'assistant.winter-caller' names no manifest" in broken.output + broken.stderr
    (manifests / "moves.yaml").write_text(moved("winter-caller", "caller"))
    result = CliRunner().invoke(cli, ["validate"], env=env)
    assert result.exit_code == 0, result.output + result.stderr


def test_a_saved_plan_keeps_its_moves_and_refuses_malformed_ones():
    from provisioner.errors import ProvisionerError
    from provisioner.plan import Plan

    plan = Plan([], "l", 1, moves=[{"from": "tool.a", "to": "tool.b", "kind": "tool", "id": 3}])
    data = plan.to_dict()
    assert Plan.from_dict(data).moves == plan.moves and Plan.from_dict(data).has_changes
    older = {k: v for k, v in data.items() if k != "moves"}  # a plan written before moves existed
    assert Plan.from_dict(older).moves == [] and not Plan.from_dict(older).has_changes
    for bad in ({"from": "tool.a", "to": "tool.b", "kind": "widget", "id": 3},
                {"from": "Tool A", "to": "tool.b", "kind": "tool", "id": 3},
                {"from": "tool.a", "to": "tool.b", "kind": "tool", "id": 0},
                {"from": "tool.a", "to": "tool.b", "kind": "tool", "id": 3, "extra": 1},
                {"from": "tool.a", "kind": "tool", "id": 3}):
        with pytest.raises(ProvisionerError, match="malformed"):
            Plan.from_dict({**data, "moves": [bad]})


def test_a_saved_plans_moves_must_fit_the_state_they_are_applied_to():
    from provisioner.moves import saved_moves_conflicts

    state = State("l", 1, {"tool.a": entry(3, "tool"), "tool.c": entry(4, "tool")})
    fits = [{"from": "tool.a", "to": "tool.b", "kind": "tool", "id": 3}]
    assert saved_moves_conflicts(fits, state) == []
    assert saved_moves_conflicts([{**fits[0], "id": 9}], state) == [
        "tool.a -> tool.b: the state holds id 3 for tool.a, not id 9"]
    assert saved_moves_conflicts([{**fits[0], "to": "tool.c"}], state) == ["tool.a -> tool.c: tool.c is already taken"]
    assert saved_moves_conflicts([{**fits[0], "from": "tool.x"}], state) == [
        "tool.x -> tool.b: the state does not manage tool.x"]
    assert saved_moves_conflicts([{**fits[0], "kind": "folder"}], state) == [
        "tool.a -> tool.b: not addresses of a folder"]
