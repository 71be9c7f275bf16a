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
