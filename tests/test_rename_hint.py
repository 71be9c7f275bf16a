"""rename_hint.rename_pairs: the same pairs as comparing every destroy with every create (its definition), found by
look-ups; a fleet renamed whole took that comparison 31-53 s of a plan's CPU."""
from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.plan import Action, Change, Plan
from provisioner.rename_hint import rename_pairs
from provisioner.state import ResourceState


def pairs_by_comparing_all(plan, state):
    """The definition, as rename_pairs was written before it looked creates up: each destroy, in plan order, takes
    the first create of its kind not yet taken with its name on the platform, else with the spec state recorded."""
    destroys = [c for c in plan.changes if c.action is Action.DELETE and not c.replace]
    creates = [c for c in plan.changes if c.action is Action.CREATE and not c.replace]
    pairs, taken = [], set()
    for destroy in destroys:
        entry = state.resources.get(destroy.address)
        same_kind = [c for c in creates if c.kind == destroy.kind and c.address not in taken]
        match = next((c for c in same_kind if destroy.assistant_name and c.assistant_name == destroy.assistant_name),
                     None)
        why = f"the same name on the platform ({destroy.assistant_name!r})"
        if match is None and entry is not None and entry.spec:
            match = next((c for c in same_kind if (c.record or {}).get("spec") == entry.spec), None)
            why = "the same spec"
        if match is not None:
            taken.add(match.address)
            pairs.append((destroy, match, why))
    return pairs


# Few names, kinds and values, so that they meet: equal names, specs equal as dicts (1, 1.0 and True among them).
values = st.recursive(st.sampled_from([None, 1, 1.0, True, 0, "a", "b"]),
                      lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("xy"), inner,
                                                                                   max_size=2), max_leaves=4)
specs = st.none() | st.dictionaries(st.sampled_from(["voice_id", "language", "tool_ids"]), values, max_size=3)
changes = st.lists(st.tuples(st.sampled_from([Action.CREATE, Action.DELETE, Action.UPDATE]),
                             st.sampled_from(["assistant", "tool"]), st.sampled_from(["", "A", "B"]), specs,
                             st.booleans()), max_size=12)


@settings(max_examples=400, deadline=None)
@given(changes)
def test_the_pairs_are_those_of_comparing_every_destroy_with_every_create(drawn):
    plan_changes, resources = [], {}
    for i, (action, kind, name, spec, replace) in enumerate(drawn):
        address = f"{kind}.x{i}"
        record = {"spec": spec} if action is Action.CREATE and spec is not None else {}
        plan_changes.append(Change(address, action, name, remote_id=None if action is Action.CREATE else i,
                                   record=record, kind=kind, replace=replace and action is not Action.UPDATE))
        if action is Action.DELETE:
            resources[address] = ResourceState(id=i + 1, spec=spec, kind=kind)
    plan, state = Plan(plan_changes, lineage="l", serial=1), SimpleNamespace(resources=resources)
    found = [(d.address, c.address, why) for d, c, why in rename_pairs(plan, state)]
    assert found == [(d.address, c.address, why) for d, c, why in pairs_by_comparing_all(plan, state)]


class CountedSpec(dict):
    """A recorded spec that counts the comparisons made with it."""

    compared = 0

    def __eq__(self, other):
        CountedSpec.compared += 1
        return dict.__eq__(self, other)

    __hash__ = None


def test_a_fleet_renamed_whole_is_paired_by_look_ups_not_by_comparing_every_pair():
    """5,000 assistants whose addresses all changed, and whose prompts changed too but for every hundredth: those
    pair with their creates, and no recorded spec is compared with every create's (each destroy that matched
    nothing was: 25 million comparisons here; 9,480 such renames took a plan 31-53 s of CPU)."""
    count = 5_000
    spec = {"language": "English", "llm_model": "gpt-4o", "system_prompt": "Be helpful."}
    plan_changes, resources = [], {}
    for i in range(count):
        plan_changes.append(Change(f"old-{i}", Action.DELETE, "", remote_id=i + 1))
        resources[f"old-{i}"] = ResourceState(id=i + 1, spec=CountedSpec({**spec, "voice_id": i}))
    for i in range(count):
        prompt = spec["system_prompt"] if i % 100 == 0 else "Be brief."
        plan_changes.append(Change(f"new-{i}", Action.CREATE, f"Renamed {i}",
                                   record={"spec": {**spec, "voice_id": i, "system_prompt": prompt}}))
    CountedSpec.compared = 0
    pairs = rename_pairs(Plan(plan_changes, lineage="l", serial=1), SimpleNamespace(resources=resources))
    assert [(d.address, c.address) for d, c, _ in pairs] == [(f"old-{i}", f"new-{i}") for i in range(0, count, 100)]
    assert CountedSpec.compared <= count
