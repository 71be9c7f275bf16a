"""Property: a random valid graph of every managed kind applies through the real CLI against the emulator over
HTTP and then plans `No changes.`; so does a random mutation of it (fields changed, objects dropped and added,
references rewired); and after each apply the platform holds exactly what the manifests say: every object once,
nothing left over, the write-only references (tool_ids, folder_id, label_ids, a campaign's assistant and
numbers) as the manifests name them. Both API dialects (v1: assistants reference tools and numbers only).

Graphs come from tests/graph_property.py. Few examples (each is four CLI runs), derandomized under CI."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import REQUIRED
from graph_property import SECRETS, UNMANAGED, Graph, expected_names, graphs, resolve, write_manifests

# Shrinking a failure costs minutes of applies: G17P_NO_SHRINK=1 skips it while working on one.
PHASES = [p for p in Phase if p is not Phase.shrink or not os.environ.get("G17P_NO_SHRINK")]
PROPERTY = settings(max_examples=int(os.environ.get("G17P_EXAMPLES", 6)), deadline=None, phases=PHASES,
                    derandomize=bool(os.environ.get("CI")), database=None, report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])

UNORDERED = ("tool_ids", "label_ids")  # compared as sets by the planner (docs/graph.md)

def _items(answer) -> list[dict]:
    return answer["data"] if isinstance(answer, dict) else answer


def make_unmanaged(platform) -> dict[str, int]:
    """The objects nobody manages, made as a dashboard user would: {kind: id}."""
    http = platform.http
    bodies = {
        "tool": ("/user/tools", {"name": UNMANAGED["tool"], "description": "Not ours.", "method": "GET",
                                 "endpoint": "https://ext.example.com/"}),
        "knowledgebase": ("/user/knowledgebases", {"name": UNMANAGED["knowledgebase"]}),
        "folder": ("/user/folder", {"name": UNMANAGED["folder"]}),
        "label": ("/user/label", {"name": UNMANAGED["label"]}),
        "assistant": ("/user/assistant", {"assistant_name": UNMANAGED["assistant"], **REQUIRED, "post_call_schema": [
            {"name": "booked", "type": "bool", "description": "Whether it was booked"}]}),
    }
    ids = {}
    for kind, (path, body) in bodies.items():
        answer = http.post(path, json=body)
        assert answer.status_code == 201, answer.text
        ids[kind] = answer.json()["data"]["id"]
    return ids


def listed(platform) -> dict[str, list[dict]]:
    """Every object of the tenant, per kind (documents under their knowledge base's id)."""
    get = platform.http.get
    kinds = {"tool": _items(get("/user/tools").json()),
             "knowledgebase": _items(get("/user/knowledgebases").json()),
             "folder": _items(get("/user/folders", params={"per_page": 100}).json()),
             "label": _items(get("/user/labels", params={"per_page": 100}).json()),
             "siptrunk": _items(get("/user/phone-numbers/sip-trunks").json()),
             "campaign": _items(get("/user/campaigns").json()),
             "assistant": platform.assistants()}
    kinds["document"] = {kb["id"]: _items(get(f"/user/knowledgebases/{kb['id']}/documents").json())
                         for kb in kinds["knowledgebase"]}
    return kinds


def stored(platform, kind: str, object_id: int) -> dict:
    answer = platform.admin.get(f"/_emulator/objects/{kind}/{object_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["fields"]


def assert_platform_holds(workspace, graph: Graph, unmanaged: dict[str, int]) -> None:
    platform = workspace.platform
    state = workspace.state()["resources"]
    ids = {address: entry["id"] for address, entry in state.items()}
    items = listed(platform)
    # Every kind: each wanted object once, nothing else; state's ids are the managed objects'.
    for kind, names in expected_names(graph).items():
        key = "phone_number" if kind == "siptrunk" else "name"
        assert sorted(item[key] for item in items[kind]) == names, (kind, items[kind])
        managed = {entry["id"] for entry in state.values() if entry.get("kind", "assistant") == kind}
        others = {unmanaged[kind]} if kind in UNMANAGED else set()
        assert {item["id"] for item in items[kind]} == managed | others, kind
        assert sorted(a for a, e in state.items() if e.get("kind", "assistant") == kind) == sorted(graph.of(kind)), kind
    # Documents: each knowledge base holds its manifest's documents once, and the unmanaged one none.
    for address, spec in graph.of("knowledgebase").items():
        documents = items["document"][ids[address]]
        assert sorted(d["name"] for d in documents) == sorted(d["name"] for d in spec["documents"]), address
        assert {d["id"] for d in documents} == {ids[f"{address}.{d['key']}"] for d in spec["documents"]}
    assert items["document"][unmanaged["knowledgebase"]] == []
    assert sorted(a for a, e in state.items() if e.get("kind") == "document") == sorted(
        f"{kb}.{d['key']}" for kb, spec in graph.of("knowledgebase").items() for d in spec["documents"])
    # Write-only references, as the platform stores them (no read shows them).
    references = ("tool_ids", "phone_number_id", "knowledgebase_id", "folder_id", "label_ids")
    for address, spec in graph.of("assistant").items():
        fields = stored(platform, "assistants", ids[address])
        for reference in references:
            if reference in spec:
                got, wanted = fields.get(reference), resolve(spec[reference], ids, unmanaged)
                if reference in UNORDERED and isinstance(got, list) and isinstance(wanted, list):
                    # Sets (docs/graph.md): a mutation that names the same objects in another order, or one by
                    # id and then by name, is no change and sends nothing, so the platform keeps its order.
                    got, wanted = sorted(got), sorted(wanted)
                assert got == wanted, (address, reference)
    for address, spec in graph.of("campaign").items():
        fields = stored(platform, "campaigns", ids[address])
        assert fields["assistant_id"] == resolve(spec["assistant_id"], ids, unmanaged), address
        assert fields["phone_number_ids"] == resolve(spec.get("phone_number_ids", []), ids, unmanaged), address
        # stopped: not running (a campaign never started reads draft); provisioner/kinds/campaign.py
        wanted = {"started": {"in-progress"}, "stopped": {"draft", "stopped"}}.get(spec.get("status"))
        [item] = [c for c in items["campaign"] if c["id"] == ids[address]]
        assert wanted is None or item["status"] in wanted, (address, item)


def apply_then_no_changes(workspace, graph: Graph, unmanaged: dict[str, int]) -> None:
    write_manifests(workspace.root, graph, unmanaged)
    applied = workspace.run("apply", "--auto-approve", "--allow-replace", "--allow-mass-destroy")
    assert applied.exit_code == 0, applied.all
    plan = workspace.run("plan", "--detailed-exitcode")
    if plan.exit_code != 0:
        print(f"--- the apply ---\n{applied.all}\n--- the plan after it ---\n{plan.all}")  # shown on failure
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.all
    assert_platform_holds(workspace, graph, unmanaged)


def fresh_start(workspace, dialect: str) -> dict[str, int]:
    """An empty platform and state in `dialect` (each hypothesis example starts from nothing); the unmanaged
    objects it then holds (make_unmanaged)."""
    workspace.dialect = dialect
    workspace.platform.reset()
    workspace.lose_state()
    return make_unmanaged(workspace.platform)


def check(workspace, dialect: str, data) -> None:
    unmanaged = fresh_start(workspace, dialect)
    first = data.draw(graphs(dialect), label="first")
    apply_then_no_changes(workspace, first, unmanaged)
    second = data.draw(graphs(dialect, first), label="mutated")
    apply_then_no_changes(workspace, second, unmanaged)


@pytest.fixture
def secrets(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def quick_documents(platform):
    platform.faults(document_delay_ms=0)
    yield
    platform.faults(document_delay_ms=300)


@PROPERTY
@given(data=st.data())
def test_random_graphs_apply_then_plan_no_changes_and_a_mutation_too_v1(workspace, secrets, quick_documents, data):
    check(workspace, "v1", data)


@PROPERTY
@given(data=st.data())
def test_random_graphs_apply_then_plan_no_changes_and_a_mutation_too_v2(workspace, secrets, quick_documents, data):
    check(workspace, "v2", data)


def saved_plan_applies(workspace, graph: Graph, unmanaged: dict[str, int]) -> None:
    """The same graph through a saved plan: `show` and `apply PLANFILE` read the file strictly (its bodies must be
    the values its field changes show, its references those of its creates), and every plan written passes."""
    write_manifests(workspace.root, graph, unmanaged)
    planned = workspace.run("plan", "--out", "p.plan", "--allow-mass-destroy")
    assert planned.exit_code == 0, planned.all
    shown = workspace.run("show", "p.plan")
    assert shown.exit_code == 0, shown.all
    applied = workspace.run("apply", "p.plan", "--allow-replace")
    assert applied.exit_code == 0, applied.all
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


@PROPERTY
@given(data=st.data(), dialect=st.sampled_from(["v1", "v2"]))
def test_every_saved_plan_of_a_random_graph_and_its_mutation_agrees_with_itself(workspace, secrets, quick_documents,
                                                                                data, dialect):
    unmanaged = fresh_start(workspace, dialect)
    first = data.draw(graphs(dialect), label="first")
    saved_plan_applies(workspace, first, unmanaged)
    saved_plan_applies(workspace, data.draw(graphs(dialect, first), label="mutated"), unmanaged)
