"""identify finds each manifest's unclaimed object, and the object another project or workspace manages, by a
look-up of what same_object compares, never by comparing a manifest with every listed object: a copy of a project
whose 8,000 assistants the original manages made 64 million comparisons (23.6 s of CPU to plan), and a knowledge
base of thousands of documents adopted after a lost state compared every document with every listed one."""
from provisioner.graph import expand
from provisioner.kinds import KINDS
from provisioner.manifest import load_manifests
from provisioner.plan_kinds import identify
from provisioner.state import Owner, ResourceState

COUNT = 1_000


class Listed:
    """A listed object that counts the reads of what identify compares (its name, its fields)."""

    reads = 0

    def __init__(self, id: int, name: str, fields: dict):
        self.id, self._name, self._fields, self.item = id, name, fields, {}

    @property
    def name(self) -> str:
        Listed.reads += 1
        return self._name

    @property
    def fields(self) -> dict:
        Listed.reads += 1
        return self._fields


def _tool_name(i: int) -> str:
    """A tool's platform name for a number: letters only, as the platform's rule for tool names wants."""
    return "lookup_" + "".join(chr(ord("a") + int(digit)) for digit in str(i))


def _tools(tmp_path, count):
    path = tmp_path / "tools.yaml"
    path.write_text("".join(
        f"---\napiVersion: provisioner/v1\nkind: Tool\nmetadata: {{name: tool-{i}}}\nspec:\n  name: {_tool_name(i)}\n"
        f"  description: Look up an order.\n  endpoint: https://api.example.com/orders/{{order_id}}\n"
        f"  method: GET\n  schema:\n    - {{name: order_id, type: string, description: The order number.}}\n"
        for i in range(count)))
    return load_manifests([path])


def test_objects_another_project_manages_are_found_by_name_not_by_a_scan(tmp_path):
    manifests = _tools(tmp_path, COUNT)
    listed = [Listed(i + 1, _tool_name(i), {}) for i in range(COUNT)]
    listed.append(Listed(COUNT + 1, _tool_name(0), {}))  # a second namesake of tool-0, managed elsewhere too
    foreign = {("tool", r.id): Owner("original", "default", f"tool.tool-{r.id - 1}") for r in listed}
    Listed.reads = 0
    found = identify(manifests, {}, {"tool": listed}, foreign)
    assert Listed.reads <= 2 * len(listed)  # a million before: every manifest read every listed name
    assert found.ids == {f"tool.tool-{i}": None for i in range(COUNT)}
    assert [r.id for r, _ in found.owned_elsewhere["tool.tool-0"]] == [1, COUNT + 1]
    assert found.owned_elsewhere["tool.tool-7"] == [(listed[7], foreign[("tool", 8)])]
    assert len(found.owned_elsewhere) == COUNT


def test_a_knowledge_base_adopts_its_documents_by_parent_and_name_not_by_a_scan(tmp_path):
    path = tmp_path / "kb.yaml"
    path.write_text("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {name: kb}\nspec:\n  name: Big\n"
                    "  description: Pages.\n  documents:\n" + "".join(
                        f"    - {{name: Page {j}, type: website, url: 'https://example.com/{j}'}}\n"
                        for j in range(COUNT)))
    manifests = expand(load_manifests([path]))
    parent = KINDS["document"].parent_field
    listed = [Listed(100 + j, f"Page {j}", {parent: 1}) for j in range(COUNT)]
    listed.append(Listed(99, "Page 5", {parent: 2}))  # the namesake of another knowledge base is not its
    listed.append(Listed(98, "Page 6", {parent: 1}))  # two of one name in this one: neither is adopted
    state = {"knowledgebase.kb": ResourceState(id=1, spec={})}
    Listed.reads = 0
    found = identify(manifests, state, {"knowledgebase": [Listed(1, "Big", {})], "document": listed})
    assert Listed.reads <= 3 * len(listed)  # a million before
    documents = {a: i for a, i in found.ids.items() if a != "knowledgebase.kb"}
    assert len(documents) == COUNT and list(found.adopted) == [a for a, i in documents.items() if i is not None]
    assert sorted(i for i in documents.values() if i is not None) == [100 + j for j in range(COUNT) if j != 6]
