"""The no-change plan's shortcuts (issue 23) agree with what they skip: a bare address's kind found without
kind_of_address, and the whole-object comparison of a no-change assistant."""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings, strategies as st

from provisioner.kinds import ASSISTANT, KINDS, kind_of_address
from provisioner.plan_kinds import identify
from provisioner.reading import kinds_involved
from provisioner.state import ResourceState

NAMES = st.sampled_from(["a", "b", "kb-1", "x_y"])
KIND_NAMES = st.sampled_from(["tool", "knowledgebase", "folder", "label", "assistant", "nosuchkind"])
ADDRESSES = st.one_of(NAMES, st.builds(lambda k, n: f"{k}.{n}", KIND_NAMES, NAMES),
                      st.builds(lambda n, d: f"knowledgebase.{n}.{d}", NAMES, NAMES))


@settings(max_examples=200, deadline=None)
@given(st.lists(ADDRESSES, max_size=12))
def test_kinds_involved_is_kind_of_address_of_each(addresses):
    expected = {k for k in {kind_of_address(a) for a in addresses} if k in KINDS and KINDS[k].parent_field is None}
    assert kinds_involved([], addresses) == expected
    assert kinds_involved([], iter(addresses)) == expected  # any iterable, read once


@dataclass
class Listed:
    id: int
    name: str
    fields: dict
    item: dict


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(ADDRESSES, st.integers(1, 6), max_size=10),
       st.dictionaries(st.sampled_from([ASSISTANT, "tool", "folder", "document"]), st.lists(st.integers(1, 6),
                                                                                             max_size=5)))
def test_identify_claims_each_entry_under_its_kind(state_ids, listed):
    state = {a: ResourceState(id=i, spec={}) for a, i in state_ids.items()}
    remote = {kind: [Listed(i, f"n{i}", {}, {}) for i in ids] for kind, ids in listed.items()}
    claimed: dict[str, set[int]] = {}
    for address, entry in state.items():
        claimed.setdefault(kind_of_address(address), set()).add(entry.id)
    found = identify([], state, remote)
    assert {k: [r.id for r in v] for k, v in found.unmanaged.items()} == {
        kind: [r.id for r in objects if r.id not in claimed.get(kind, set())] for kind, objects in remote.items()}


# --- the catalogue and the kinds' lists read on entering (Session(planning=...)) ---

TOOL = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: lookup\nspec:\n  name: order_lookup\n"
        "  description: Look up an order.\n  endpoint: https://api.example.com/orders/{order_id}\n  method: GET\n"
        "  timeout: 10\n  schema:\n    - {name: order_id, type: string, description: The order number.}\n")


def _plan_and_requests(workspace, *args):
    import json

    before = workspace.platform.stats()["requests"]
    result = workspace.run("plan", "--json", *args)
    assert result.exit_code in (0, 2), result.all
    after = workspace.platform.stats()["requests"]
    plan = json.loads(result.output)
    plan.pop("created_at")
    return plan, {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def test_reads_begun_on_entering_plan_as_the_reads_of_remote(workspace, monkeypatch):
    """The same plan and the very same requests whether the catalogue and the tools' list were read on entering
    (the plan command's Session) or by remote() (as every Session without `planning`)."""
    from provisioner.workflow import session as session_module

    workspace.write("manifests/lookup.yaml", TOOL)
    workspace.add("a", tool_ids=["tool.lookup"])
    workspace.add("b")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("c", tool_ids=["tool.lookup"])  # a change: a create, whose references are resolved
    import threading

    from provisioner.references import Catalog

    fetched_in = []
    fetch = Catalog.fetch.__func__
    monkeypatch.setattr(Catalog, "fetch", classmethod(
        lambda cls, *a, **k: (fetched_in.append(threading.current_thread().name), fetch(cls, *a, **k))[1]))
    early_plan, early_requests = _plan_and_requests(workspace)
    assert len(fetched_in) == 1 and fetched_in[0].startswith("prefetch"), fetched_in  # the one read, on entering
    entered = []
    original = session_module.Session.__init__

    def without_planning(self, *args, **kwargs):
        entered.append(kwargs.get("planning"))
        kwargs["planning"] = None
        original(self, *args, **kwargs)

    monkeypatch.setattr(session_module.Session, "__init__", without_planning)
    late_plan, late_requests = _plan_and_requests(workspace)
    assert entered and entered[0] is not None  # the plan command gives its manifests
    assert len(fetched_in) == 2 and fetched_in[1] == "MainThread"
    assert early_plan == late_plan and early_plan["changes"]
    assert early_requests == late_requests and any("tools" in k for k in early_requests), early_requests
