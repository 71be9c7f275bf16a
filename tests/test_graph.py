"""References (one syntax for every kind) and the graph they make: parsing, offline checks, order."""
import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner.graph import Graph, check, manifest_address
from provisioner.kinds.base import Reference, parse_reference
from provisioner.manifest import load_manifests
from conftest import manifest_text

NAMES = st.from_regex(r"[a-z0-9](?:[a-z0-9_-]{0,20}[a-z0-9])?", fullmatch=True)
KINDS = st.sampled_from(["tool", "folder", "label", "knowledgebase", "number", "assistant", "siptrunk"])


@given(KINDS, KINDS, NAMES)
def test_an_address_parses_as_an_address_whatever_kind_it_names(field_kind, kind, name):
    parsed = parse_reference(f"{kind}.{name}", field_kind)
    assert parsed == Reference(field_kind, address=f"{kind}.{name}")


@given(KINDS, st.integers(min_value=1, max_value=2**63 - 1))
def test_a_positive_id_is_an_id(kind, value):
    assert parse_reference(value, kind) == Reference(kind, id=value)


@given(KINDS, st.text(min_size=1, max_size=40))
def test_a_name_lookup_is_a_mapping_with_only_name(kind, name):
    assert parse_reference({"name": name}, kind) == Reference(kind, name=name)
    assert isinstance(parse_reference({"name": name, "id": 1}, kind), str)


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_an_e164_number_is_a_number_only_where_numbers_are_taken(number):
    assert parse_reference(number, "number") == Reference("number", number=number)
    assert isinstance(parse_reference(number, "tool"), str)


@given(KINDS, st.one_of(st.booleans(), st.none(), st.floats(), st.integers(max_value=0), st.lists(st.integers()),
                        st.text(alphabet=string.ascii_uppercase + " !", min_size=1), st.just(""), st.just({})))
def test_anything_else_is_refused_with_a_message(kind, value):
    parsed = parse_reference(value, kind)
    assert isinstance(parsed, str) and ("address" in parsed or "positive integer" in parsed)


def test_assistant_prefix_names_the_bare_assistant():
    assert manifest_address("assistant.support") == "support" and manifest_address("tool.a") == "tool.a"


def folder(name, spec_name=None):
    return (f"apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: {name}\nspec:\n"
            f"  name: {spec_name or name}\n")


def problems_of(tmp_path, *documents, dialect="v2"):
    path = tmp_path / "m.yaml"
    path.write_text("---\n".join(documents))
    try:
        load_manifests([path], dialect=dialect)
    except Exception as error:  # ManifestError
        return [str(p) for p in error.problems]
    return []


def test_unknown_address_and_wrong_kind_point_at_file_and_line(tmp_path):
    found = problems_of(tmp_path, folder("sales"), manifest_text("a", folder_id="folder.salse",
                                                                 label_ids=["folder.sales"]))
    assert any(":22: a: spec.folder_id: 'folder.salse' names no manifest (did you mean 'folder.sales'?)" in p
               for p in found), found
    assert any("spec.label_ids[0]: 'folder.sales' is a folder, but label_ids takes label.NAME addresses" in p
               for p in found), found


def test_a_reference_to_an_invalid_manifest_is_not_called_unknown(tmp_path):
    """The folder exists but is invalid: its own problem is the one to fix, and a second line saying that
    'folder.sales' names no manifest sent readers looking for a file that is there. A reference of the wrong kind
    to it is still named, and so is one to an address nothing declares."""
    broken = folder("sales") + "  color: not-a-colour\n"
    found = problems_of(tmp_path, broken, manifest_text("a", folder_id="folder.sales", label_ids=["folder.sales"]),
                        manifest_text("b", folder_id="folder.other"))
    assert any("spec.color: must be one of" in p for p in found), found
    assert not any("'folder.sales' names no manifest" in p for p in found), found
    assert any("spec.label_ids[0]: 'folder.sales' is a folder, but label_ids takes label.NAME" in p for p in found)
    assert any("b: spec.folder_id: 'folder.other' names no manifest" in p for p in found), found


def test_duplicate_unique_names_and_addresses_are_errors(tmp_path):
    found = problems_of(tmp_path, folder("a", "Same"), folder("b", "Same"), folder("a", "Other"))
    assert any("folder.b: spec.name: 'Same' is also used by the manifest at" in p for p in found), found
    assert any("folder.a: metadata.name: 'folder.a' is also used" in p for p in found), found


def test_a_folder_and_an_assistant_may_share_a_metadata_name(tmp_path):
    assert problems_of(tmp_path, folder("a"), manifest_text("a", folder_id="folder.a")) == []


def test_v1_refuses_v2_reference_fields_but_takes_tool_ids(tmp_path):
    found = problems_of(tmp_path, folder("a"), manifest_text("x", folder_id="folder.a"), dialect="v1")
    assert any("folder_id: exists only in API dialect v2" in p for p in found), found
    assert problems_of(tmp_path, manifest_text("x", tool_ids=[{"name": "lookup"}, 4]), dialect="v1") == []


# --- the graph over generated edges: order respects every edge, and cycles are found ---

def _graph(edges, size):
    graph = Graph({})
    graph.needs = {f"n{i}": set() for i in range(size)}
    for a, b in edges:
        graph.needs[f"n{a}"].add(f"n{b}")
    return graph


@settings(max_examples=200)
@given(st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))))))
def test_order_puts_every_object_after_what_it_needs_or_the_graph_has_a_cycle(case):
    import graphlib

    size, edges = case
    acyclic = [(a, b) for a, b in edges if a > b]  # edges only to lower numbers: never a cycle
    order = _graph(acyclic, size).order()
    position = {address: i for i, address in enumerate(order)}
    assert sorted(order) == sorted(f"n{i}" for i in range(size))
    assert all(position[f"n{a}"] > position[f"n{b}"] for a, b in acyclic)
    with_cycle = _graph(edges, size)
    has_cycle = any(a == b for a, b in edges)
    try:
        with_cycle.order()
    except graphlib.CycleError:
        return
    assert not has_cycle


@pytest.fixture
def widgets(monkeypatch):
    """A kind whose field refers to its own kind (as a document refers to its knowledge base), to make cycles."""
    from typing import Optional

    from pydantic import BaseModel, ConfigDict

    from provisioner import kinds
    from provisioner.kinds.base import Endpoints, FieldFacts, Kind, reference_value

    class WidgetSpec(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str
        parent: Optional[reference_value("widget")] = None

    def nothing(*args):
        return []
    kind = Kind("widget", "Widget", "widget", WidgetSpec, (FieldFacts("name"), FieldFacts("parent", ref="widget")),
                Endpoints(nothing, nothing, None, nothing), read=lambda item: ({}, []), create_body=dict)
    monkeypatch.setitem(kinds.KINDS, "widget", kind)
    monkeypatch.setitem(kinds.BY_MANIFEST_KIND, "Widget", kind)


def widget(name, parent):
    return (f"apiVersion: provisioner/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  name: {name}\n"
            f"  parent: widget.{parent}\n")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=1, max_value=5))
def test_a_cycle_of_references_is_a_file_line_error(widgets, tmp_path_factory, length):
    tmp_path = tmp_path_factory.mktemp("cycle")
    found = problems_of(tmp_path, *[widget(f"w{i}", f"w{(i + 1) % length}") for i in range(length)])
    [problem] = found
    assert "references make a cycle (widget.w" in problem and ": spec.parent: " in problem
    assert problem.startswith(f"{tmp_path / 'm.yaml'}:")
    chain = problem.split("cycle (")[1].split(")")[0].split(" -> ")
    assert len(chain) == length + 1 and chain[0] == chain[-1]


def test_a_chain_without_cycle_is_valid_and_ordered(widgets, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("---\n".join([widget("a", "b"), widget("b", "c"),
                                   widget("c", "c").replace("  parent: widget.c\n", "")]))
    manifests = load_manifests([path])
    assert Graph.of(manifests).order() == ["widget.c", "widget.b", "widget.a"]


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True))
def test_targets_pull_in_everything_they_need(targets):
    graph = Graph({})
    graph.needs = {"a": {"b"}, "b": {"c"}, "c": set(), "d": set()}
    needed = graph.with_dependencies(targets)
    closure = {"a": {"a", "b", "c"}, "b": {"b", "c"}, "c": {"c"}, "d": {"d"}}
    assert needed == set().union(*(closure[t] for t in targets))
