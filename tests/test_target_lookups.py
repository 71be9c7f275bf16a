"""--target finds what its targets hold in state (a knowledge base's documents) by looking up each state address's
enclosing addresses, never by comparing every state address with every target: a plan of 4,000 targets in a state
of 8,000 took 8.1 s of CPU (1.3 s for 2,000), 32 million comparisons."""
from provisioner.plan import Action
from provisioner import plan_graph as planning
from provisioner.plan_graph import Platform, plan_graph
from provisioner.plan_kinds import read_list
from provisioner.kinds import KINDS
from provisioner.state import ResourceState, State

COUNT = 1_000


class Address(str):
    """A state address that counts the prefix comparisons made with it."""

    compared = 0

    def startswith(self, *args, **kwargs):
        Address.compared += 1
        return str.startswith(self, *args, **kwargs)


def test_a_destroy_of_thousands_of_targets_takes_what_they_hold_without_comparing_every_pair():
    state = State.new()
    for i in range(COUNT):
        state.resources[Address(f"folder.f{i}")] = ResourceState(id=i + 1, spec={"name": f"F {i}"}, kind="folder")
    state.resources[Address("knowledgebase.kb")] = ResourceState(id=1, spec={"name": "KB"}, kind="knowledgebase")
    for key in ("pricing", "hours"):
        state.resources[Address(f"knowledgebase.kb.{key}")] = ResourceState(id=7, spec={}, kind="document")
    state.resources[Address("knowledgebase.kbx.other")] = ResourceState(id=8, spec={}, kind="document")
    folders = read_list(KINDS["folder"], [{"id": i + 1, "name": f"F {i}", "assistants_count": 0}
                                           for i in range(COUNT)])
    bases = read_list(KINDS["knowledgebase"], [{"id": 1, "name": "KB", "description": "Pages."}])
    platform = Platform([], {"folder": folders, "label": [], "knowledgebase": bases, "document": []},
                        unread=frozenset({"knowledgebase.kb", "knowledgebase.kbx"}))
    targets = [f"folder.f{i}" for i in range(COUNT)] + ["knowledgebase.kb"]
    Address.compared = 0
    plan, _ = plan_graph([], state, platform, destroy=True, targets=targets, dialect="v2",
                         allow_mass_destroy=True)
    assert Address.compared <= 2 * len(state.resources)  # a million before: each address with each target
    deleted = {c.address for c in plan.changes if c.action is Action.DELETE}
    assert deleted == {*targets}  # the documents go with their knowledge base's delete


def test_the_enclosing_addresses_are_the_text_before_each_dot():
    assert list(planning._enclosing("knowledgebase.faq.pricing")) == ["knowledgebase", "knowledgebase.faq"]
    assert list(planning._enclosing("support")) == [] and list(planning._enclosing(".a.")) == ["", ".a"]
