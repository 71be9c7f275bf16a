"""The fast paths from documents to a checked graph (graph.py, manifest.py, kinds/) give exactly what the slow
paths they skip give: uses kept per distinct reference value, the children and the graph kept for the same
manifests, the check proving each shared use once, the reference check remembering values, with_fields
without dataclasses.replace, kind_of_address without a split."""
import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import TypeAdapter, ValidationError

from provisioner import graph as graph_module
from provisioner.graph import ChildManifest, Graph, check, expand, uses
from provisioner.kinds import ASSISTANT, KINDS, kind_of_address, reference_facts
from provisioner.kinds.base import parse_reference, reference_value
from provisioner.manifest import load_manifests
from conftest import manifest_text

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Values a reference field may hold, right or wrong, with the look-alikes a cache keyed by value would confuse:
# True and 1, 1.0 and 1, "1" and 1, a list and its only item.
ITEMS = st.one_of(
    st.sampled_from(["tool.a", "tool.b", "folder.a", "label.x", "knowledgebase.kb", "siptrunk.t", "assistant.s",
                     "+14155550100", "1", "Tool.A", "", "tool.", "x"]),
    st.sampled_from([1, 2, 0, -1, 2**63, True, False, 1.0, 2.5, None]),
    st.fixed_dictionaries({"name": st.sampled_from(["Lookup", "", "x"])}),
    st.just({"name": "a", "id": 1}),
)
VALUES = st.one_of(ITEMS, st.lists(ITEMS, max_size=4))
FIELDS = st.dictionaries(st.sampled_from([f.name for f in reference_facts(ASSISTANT)] + ["voice_id"]), VALUES,
                         max_size=5)


def slow_uses(kind, fields):
    """_find_uses as it was: every value parsed (_field_uses, kept nowhere), a Use made for each reference."""
    found = ()
    for facts in reference_facts(kind):
        value = fields.get(facts.name)
        if value is not None:
            found += graph_module._field_uses(facts, value)
    return found


@SETTINGS
@given(st.lists(FIELDS, min_size=1, max_size=6))
def test_uses_kept_per_value_are_the_uses_parsed_each_time(many_fields):
    for fields in many_fields + many_fields:  # twice: the second time every value is a kept one
        found = graph_module._find_uses(ASSISTANT, fields)
        expected = slow_uses(ASSISTANT, fields)
        assert found == expected
        # Same reference, of the same type (True is not 1, 1.0 is not 1), target derived the same way.
        assert [(type(u.reference.id), u.target) for u in found] == [(type(u.reference.id), u.target) for u in expected]


def test_uses_cache_is_bounded_and_keeps_answering(monkeypatch):
    monkeypatch.setattr(graph_module, "_FIELD_USES_LIMIT", 3)
    for i in range(10):
        fields = {"tool_ids": [f"tool.t{i}", i + 1], "folder_id": f"folder.f{i}"}
        assert graph_module._find_uses(ASSISTANT, fields) == slow_uses(ASSISTANT, fields)
    _, per_field, combinations = graph_module._reference_fields(ASSISTANT)
    assert all(len(known) <= 3 for facts, known in per_field if facts.name in ("tool_ids", "folder_id"))
    assert len(combinations) <= 3


def test_a_registered_kind_changed_gets_its_own_reference_fields(monkeypatch):
    before = graph_module._reference_fields("document")
    assert before and graph_module._reference_fields("document") is before
    monkeypatch.setitem(KINDS, "document", dataclasses.replace(KINDS["document"]))
    after = graph_module._reference_fields("document")
    assert after is not before and [f for f, _ in after[1]] == list(reference_facts("document"))


def test_manifests_that_refer_to_the_same_objects_share_their_uses():
    one = {"tool_ids": ["tool.a", 4], "folder_id": "folder.f", "voice_id": 1}
    same = {"folder_id": "folder.f", "tool_ids": ["tool.a", 4], "label_ids": None}
    other = {"tool_ids": ["tool.a", True], "folder_id": "folder.f"}
    lookup = {"tool_ids": ["tool.a", {"name": "x"}], "folder_id": "folder.f"}
    found = graph_module._find_uses(ASSISTANT, one)
    assert graph_module._find_uses(ASSISTANT, same) is found
    assert graph_module._find_uses(ASSISTANT, other) == slow_uses(ASSISTANT, other) != found
    assert graph_module._find_uses(ASSISTANT, lookup) == slow_uses(ASSISTANT, lookup)
    assert graph_module._find_uses(ASSISTANT, {"tool_ids": []}) == () == graph_module._find_uses(ASSISTANT, {})


@SETTINGS
@given(VALUES)
def test_the_reference_check_remembering_values_agrees_with_parse_reference(value):
    adapter = TypeAdapter(reference_value("number"))
    for _ in range(2):  # the second time a right value is a remembered one
        expected = parse_reference(value, "number")
        if isinstance(expected, str):
            with pytest.raises(ValidationError) as raised:
                adapter.validate_python(value, strict=True)
            assert expected in str(raised.value)
        else:
            got = adapter.validate_python(value, strict=True)
            assert got == value and type(got) is type(value)


def test_a_remembered_integer_does_not_let_true_or_a_float_through():
    adapter = TypeAdapter(reference_value("tool"))
    assert adapter.validate_python(1, strict=True) == 1
    for value in (True, 1.0):
        with pytest.raises(ValidationError):
            adapter.validate_python(value, strict=True)


@given(st.from_regex(r"[a-z]{0,6}(\.[a-z0-9_-]{0,6}){0,3}", fullmatch=True))
def test_kind_of_address_is_what_splitting_gives(address):
    parts = address.split(".")
    if len(parts) == 1:
        expected = ASSISTANT
    elif len(parts) == 2:
        expected = parts[0]
    else:
        expected = next((k.name for k in KINDS.values() if k.parent_field and k.facts(k.parent_field).ref == parts[0]),
                        parts[0])
    assert kind_of_address(address) == expected


# --- manifests: children, with_fields, the graph and the check ---

def knowledgebase(name, *documents):
    entries = "".join(f"  - name: {d}\n    type: website\n    url: https://example.com/{d}\n" for d in documents)
    return (f"apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: {name}\nspec:\n  name: {name}\n"
            f"  documents:\n{entries}")


def simple(kind, name):
    manifest_kind = {"folder": "Folder", "label": "Label"}[kind]
    return f"apiVersion: provisioner/v1\nkind: {manifest_kind}\nmetadata:\n  name: {name}\nspec:\n  name: {name}\n"


def load(tmp_path, *documents, dialect="v2"):
    path = tmp_path / "m.yaml"
    path.write_text("---\n".join(documents))
    return load_manifests([path], dialect=dialect)


def test_children_are_made_once_and_are_what_the_kind_declares(tmp_path):
    manifests = load(tmp_path, knowledgebase("kb", "a", "b"), manifest_text("s", knowledgebase_id="knowledgebase.kb",
                                                                            knowledgebase_mode="function_call"))
    first, second = expand(manifests), expand(manifests)
    assert [id(m) for m in first] == [id(m) for m in second]
    [kb] = [m for m in manifests if m.kind == "knowledgebase"]
    fresh = graph_module._children_of(kb)
    kept = [m for m in first if isinstance(m, ChildManifest)]
    assert [(c.address, c.fields, c.prefix, c.parent, c.kind, c.sensitive) for c in kept] == \
        [(c.address, c.fields, c.prefix, c.parent, c.kind, c.sensitive) for c in fresh]
    # A manifest made anew (with_fields) has children of its own, equal to the first's.
    other = kb.with_fields(dict(kb.fields))
    assert [c.address for c in expand([other])[1:]] == [c.address for c in kept]
    assert all(a is not b for a, b in zip(expand([other])[1:], kept))


def test_with_fields_is_dataclasses_replace_with_the_fields_set(tmp_path):
    manifests = load(tmp_path, knowledgebase("kb", "a"), manifest_text("s", tool_ids=[4]), simple("folder", "f"))
    for manifest in expand(manifests):  # an assistant, a knowledge base, a document (ChildManifest), a folder
        uses(manifest)  # something kept beside the dataclass fields
        fields = {"changed": True}
        fast, slow = manifest.with_fields(fields), dataclasses.replace(manifest)
        slow.__dict__["fields"] = fields
        assert type(fast) is type(slow)
        assert fast.__dict__ == slow.__dict__ and fast.fields is fields
        assert fast == slow and fast.document is manifest.document
        assert "_uses" not in fast.__dict__ and "_children" not in fast.__dict__


REFERENCES = st.sampled_from(["folder.a", "folder.b", "label.a", "label.b", "label.zz", "folder.zz", "tool.a", 7,
                              {"name": "x"}])


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["folder.a", "folder.b", "folder.zz", "label.a", "tool.zz", 3]),
                          st.lists(REFERENCES, max_size=3)), min_size=1, max_size=6))
def test_the_check_with_kept_uses_and_graphs_finds_what_a_fresh_check_finds(tmp_path_factory, assistants):
    tmp_path = tmp_path_factory.mktemp("check")
    documents = [simple("folder", "a"), simple("folder", "b"), simple("label", "a"), simple("label", "b")]
    documents += [manifest_text(f"s{i}", folder_id=folder, label_ids=labels)
                  for i, (folder, labels) in enumerate(assistants)]
    try:
        manifests = load(tmp_path, *documents)
        fast = []
    except Exception as error:  # ManifestError: the problems the fast paths found
        fast = [str(p) for p in error.problems]
        manifests = None
    # The slow path: every use parsed anew (no kept values), a graph made anew, nothing proven before.
    original = graph_module._find_uses
    graph_module._LAST_GRAPH[0] = None
    try:
        graph_module._find_uses = slow_uses
        try:
            load(tmp_path, *documents)
            slow = []
        except Exception as error:
            slow = [str(p) for p in error.problems]
    finally:
        graph_module._find_uses = original
        graph_module._LAST_GRAPH[0] = None
    assert fast == slow
    if manifests is not None:
        assert check(manifests) == []


def test_the_graph_of_the_same_manifests_is_given_again_and_equals_a_fresh_one(tmp_path):
    manifests = load(tmp_path, simple("folder", "a"), knowledgebase("kb", "d"),
                     manifest_text("s", folder_id="folder.a", knowledgebase_id="knowledgebase.kb",
                                   knowledgebase_mode="function_call"),
                     manifest_text("t", folder_id="folder.a"))
    expanded = expand(manifests)
    graph = Graph.of(expanded)
    assert Graph.of(expand(manifests)) is graph  # validation's graph, asked again by the plan
    fresh = Graph._of(expanded)
    assert dict(graph.manifests) == dict(fresh.manifests) and dict(graph.needs) == dict(fresh.needs)
    assert graph.order() == graph._order() == fresh._order()
    assert graph.order() is not graph.order()  # each caller gets its own list
    # Read-only: a caller cannot change what the next one is given.
    with pytest.raises(TypeError):
        graph.needs["s"] = frozenset()
    with pytest.raises(AttributeError):
        graph.needs["s"].add("x")
    # Other manifests, another order of them, or one with other fields: a graph made anew.
    assert Graph.of(expanded[:-1]) is not graph
    assert Graph.of(list(reversed(expanded))) is not graph
    changed = [m.with_fields({**m.fields, "folder_id": None}) if m.address == "s" else m for m in expanded]
    other = Graph.of(changed)
    assert other is not graph and other.needs["s"] == {"knowledgebase.kb"}
    assert Graph.of(expanded) is not graph and Graph.of(expanded).needs == graph.needs


def test_a_graph_built_by_hand_is_ordered_afresh_after_its_needs_change():
    graph = Graph({})
    graph.needs = {"a": {"b"}, "b": set()}
    assert graph.order() == ["b", "a"]
    graph.needs["b"].add("c")  # a plain graph's order is never kept
    assert graph.order() == ["c", "b", "a"]


def test_a_long_chain_is_ordered_without_recursion_and_a_cycle_at_its_end_is_found():
    import graphlib

    size = 5000
    graph = Graph({})
    graph.needs = {f"n{i:05d}": {f"n{i + 1:05d}"} for i in range(size)}
    assert graph.order() == [f"n{i:05d}" for i in range(size, -1, -1)]
    graph.needs[f"n{size:05d}"] = {"n00000"}
    with pytest.raises(graphlib.CycleError):
        graph.order()


# --- a document's envelope and metadata: the usual ones read without the checks' bookkeeping ---

from provisioner import manifest as manifest_module  # noqa: E402
from provisioner.errors import Location  # noqa: E402
from provisioner.manifest import Document  # noqa: E402
from conftest import REQUIRED  # noqa: E402

ABSENT = object()
SPECS = {"Assistant": {"assistant_name": "A", **REQUIRED, "tool_ids": ["tool.x"]}, "Folder": {"name": "F"},
         "Label": {"name": "L"}}


def _put(mapping, key, value):
    if value is not ABSENT:
        mapping[key] = value


def usual_or(draw, usual, *others):
    """The usual value most of the time (so that many documents are wholly usual), else one of the others."""
    return draw(st.sampled_from([usual] * (2 * len(others)) + list(others)))


@st.composite
def documents(draw):
    kind = usual_or(draw, draw(st.sampled_from(["Assistant", "Folder", "Label"])), "Nope", 1, None, ABSENT)
    metadata = {}
    _put(metadata, "name", usual_or(draw, "a", "b-1", "Bad", "", 7, None, ABSENT))
    _put(metadata, "labels", usual_or(draw, ABSENT, {}, {"team": "x"}, {"team": 1}, {1: "x"}, None, "", [], 0))
    _put(metadata, "protect", usual_or(draw, ABSENT, True, False, None, "yes", 0, 1))
    _put(metadata, "sensitive", usual_or(draw, ABSENT, [], ["webhook_url"], ["name"], ["nope"], None, "x", [1]))
    _put(metadata, usual_or(draw, "name", "other"), usual_or(draw, ABSENT, "x"))
    content = {}
    _put(content, "apiVersion", usual_or(draw, "provisioner/v1", "provisioner/v2", None, ABSENT))
    _put(content, "kind", kind)
    _put(content, "metadata", usual_or(draw, metadata, None, "x", ABSENT))
    spec = dict(SPECS.get(kind, SPECS["Assistant"]))
    spec.update(usual_or(draw, {}, {"voice_id": "one"}, {"webhook_url": "nope"}, {"name": ""}, {"other": 1}))
    _put(content, "spec", usual_or(draw, spec, None, [], ABSENT))
    _put(content, usual_or(draw, "spec", "extra"), usual_or(draw, ABSENT, 1))
    value = usual_or(draw, content, [content], "text")
    sensitive = draw(st.sampled_from([frozenset(), frozenset({"system_prompt"})]))
    return Document("m.yaml", value, {(): Location("m.yaml", 1)}, sensitive)


def _parsed(document):
    problems = []
    made = manifest_module._parse_document(document, problems, "v2")
    return made, [str(p) for p in problems]


@SETTINGS
@given(documents())
def test_the_usual_header_reads_what_the_checked_header_reads(document):
    fast, fast_problems = _parsed(document)
    original = manifest_module._usual_header
    try:
        manifest_module._usual_header = lambda content: None  # every document read by _checked_header
        slow, slow_problems = _parsed(document)
    finally:
        manifest_module._usual_header = original
    assert fast_problems == slow_problems
    assert (fast is None) == (slow is None)
    if fast is not None:
        assert type(fast) is type(slow) and fast == slow
        assert fast.__dict__.keys() == slow.__dict__.keys()
        assert fast.fields == slow.fields and fast.sensitive == slow.sensitive and fast.kind == slow.kind
        # And what the frozen dataclass's own __init__ makes.
        made = type(fast)(fast.address, fast.spec, fast.labels, fast.protect, fast.sensitive, fast.document,
                          fast.kind)
        assert {k: v for k, v in fast.__dict__.items() if k != "fields"} == made.__dict__


@pytest.mark.parametrize("kind", ["Assistant", "Folder", "Label"])
@pytest.mark.parametrize("metadata", [{"name": "a"}, {"name": "a", "labels": {"t": "x"}, "protect": True},
                                      {"name": "a", "labels": None, "protect": False}])
@pytest.mark.parametrize("sensitive", [frozenset(), frozenset({"system_prompt"})])
def test_usual_documents_read_by_both_headers_are_the_same(kind, metadata, sensitive):
    content = {"apiVersion": "provisioner/v1", "kind": kind, "metadata": metadata, "spec": dict(SPECS[kind])}
    document = Document("m.yaml", content, {(): Location("m.yaml", 1)}, sensitive)
    assert manifest_module._usual_header(content) is not None
    test_the_usual_header_reads_what_the_checked_header_reads.hypothesis.inner_test(document)


def test_a_usual_document_is_read_by_the_usual_header():
    content = {"apiVersion": "provisioner/v1", "kind": "Folder", "metadata": {"name": "f", "labels": {"a": "b"}},
               "spec": {"name": "F"}}
    assert manifest_module._usual_header(content) == ("folder", "f", {"a": "b"}, False, frozenset())
    for unusual in ({**content, "metadata": {"name": "f", "sensitive": None}}, {**content, "kind": "Nope"},
                    {**content, "metadata": {"name": "f", "protect": None}}, {**content, "x": 1},
                    {**content, "metadata": {"name": "f", "labels": ""}}):  # not a mapping: the checked header says
        assert manifest_module._usual_header(unusual) is None


# --- checked_spec: pydantic's validator and serializer called directly, nulls found in the dump ---

from provisioner import spec as spec_module  # noqa: E402

SPEC_VALUES = st.fixed_dictionaries({}, optional={
    "speech_speed": st.sampled_from([1, 1.1, 0.5, None, "x", True]),
    "llm_temperature": st.sampled_from([0, 1, 0.25, None, 2]),
    "voice_id": st.sampled_from([1, 1.0, True, "1"]),
    "record_call": st.sampled_from([True, None, 1]),
    "endpoint_type": st.sampled_from(["vad", "ai", None, "x"]),
    "folder_id": st.sampled_from(["folder.f", 4, {"name": "F"}, None, True]),
    "tool_ids": st.sampled_from([["tool.a", 4], [], None, [1.5]]),
    "variables": st.sampled_from([{"a": 1, "b": "x", "c": 1.5, "d": True}, {}, None, {"a": [1]}]),
    "post_call_schema": st.sampled_from([[{"name": "ok", "type": "string", "description": "d"}], None, [{}]]),
    "end_call_tool": st.sampled_from([{"description": "bye"}, None]),
    "webhook_url": st.sampled_from(["https://h/x", None, "nope"]),
    "is_webhook_active": st.sampled_from([True, False]),
    "max_silence_duration": st.sampled_from([10, 200, None]),
    "timezone": st.sampled_from(["Europe/London", "Europe/Lodnon"]),
})


def _said(problems):
    return [(p.path, p.message, p.kind, p.anchor) for p in problems]


@SETTINGS
@given(SPEC_VALUES, st.sampled_from(["v1", "v2"]))
def test_checked_spec_is_model_validate_and_model_dump(changes, dialect):
    import json

    data = {"assistant_name": "A", **REQUIRED, **changes}
    spec, fields, problems = spec_module.checked_spec(data, dialect=dialect)
    try:
        slow_spec = spec_module.AssistantSpec.model_validate(data, strict=True)
    except ValidationError as error:
        slow = [spec_module._problem_from_pydantic(e) for e in error.errors(include_url=False)]
        slow += spec_module._rule_problems(data, dialect)
        assert (spec, fields) == (None, None) and _said(problems) == _said(slow)
        return
    dumped = slow_spec.model_dump(mode="json", exclude_unset=True)
    nulls = [name for name in slow_spec.model_fields_set
             if name in spec_module.DEFAULTS and getattr(slow_spec, name) is None]
    slow = [p.path[0] for p in spec_module._null_problems(dumped)]
    assert sorted(slow) == sorted(nulls)
    if problems:
        assert spec is None and fields is None
        assert sorted(_said(problems)) == sorted(_said(spec_module._null_problems(dumped)
                                                       + spec_module._rule_problems(dumped, dialect)))
    else:
        assert spec == slow_spec and json.dumps(fields) == json.dumps(dumped)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["Assistant", "Folder", "Label"]), st.sampled_from(["a", "b", "c"]),
                          st.sampled_from(["N", "M"])), min_size=1, max_size=7))
def test_duplicates_are_each_later_manifest_of_an_address_or_unique_name(tmp_path_factory, entries):
    manifests = _manifests_of(tmp_path_factory.mktemp("dup"), [entry + (None, None) for entry in entries])
    found = [(p.address, p.field) for p in manifest_module._duplicates(manifests)]
    expected, seen_address, seen_name = [], set(), set()
    for manifest, (kind, name, title) in zip(manifests, entries):
        if manifest.address in seen_address:
            expected.append((manifest.address, "metadata.name"))
        seen_address.add(manifest.address)
    for manifest, (kind, name, title) in zip(manifests, entries):
        key = (kind, title)
        if key in seen_name:
            expected.append((manifest.address, "spec.assistant_name" if kind == "Assistant" else "spec.name"))
        seen_name.add(key)
    assert found == expected


def _trunk_text(name, number, username, address):
    return (f"apiVersion: provisioner/v1\nkind: SipTrunk\nmetadata:\n  name: {name}\nspec:\n  sip_trunk_type: number\n"
            f"  phone_number: \"{number}\"\n  sip_username: {username}\n  sip_password: pw-x\n"
            f"  sip_address: {address}\n  sip_calling_format: \"+e164\"\n  inbound_authorization_type: auth\n")


def _manifests_of(tmp_path, entries):
    """The manifests of (kind, metadata.name, platform name, a trunk's number, its username) in one file, in order."""
    texts = []
    for kind, name, title, number, username in entries:
        if kind == "Assistant":
            texts.append(manifest_text(name, title))
        elif kind == "SipTrunk":
            texts.append(_trunk_text(name, number, username, "sip.provider.com"))
        else:
            texts.append(f"apiVersion: provisioner/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  name: {title}\n")
    path = tmp_path / "m.yaml"
    path.write_text("---\n".join(texts))
    documents, problems = manifest_module.load_documents([path])
    manifests = [manifest_module._parse_document(d, [], "v2") for d in documents]
    assert None not in manifests and not problems
    return manifests


def _plain_duplicates(manifests):
    """The duplicate check written as a plain per-manifest search: each manifest against every one before it, by
    address, then by platform name (assistants, folders, labels), then by identity (SIP trunks): (address, field,
    where it is, where the first is)."""
    def name(m):
        if m.kind == ASSISTANT:
            return "spec.assistant_name", (m.kind, m.spec.assistant_name)
        return ("spec.name", (m.kind, m.platform_name)) if KINDS[m.kind].unique_names else None

    def identity(m):
        kind = None if m.kind == ASSISTANT else KINDS[m.kind]
        key = kind.identity(m.fields) if kind is not None and kind.identity is not None else None
        return None if key is None else (f"spec.{kind.identity_fields[0]}", (m.kind, key))

    found = []
    for key_of in (lambda m: ("metadata.name", m.address), name, identity):
        for index, manifest in enumerate(manifests):
            mine = key_of(manifest)
            first = mine and next((o for o in manifests[:index] if (key_of(o) or (None, None))[1] == mine[1]), None)
            if first:
                path = tuple(mine[0].split("."))
                found.append((manifest.address, mine[0], str(manifest.location(*path)), str(first.location(*path))))
    return found


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["Assistant", "Folder", "Label", "SipTrunk"]), st.sampled_from(["a", "b"]),
                          st.sampled_from(["N", "M"]), st.sampled_from(["+14155550100", "+14155550101"]),
                          st.sampled_from(["office", "desk"])), min_size=1, max_size=8))
def test_duplicates_of_addresses_names_and_identities_are_a_plain_search_s_with_their_lines(tmp_path_factory,
                                                                                            entries):
    """manifest._duplicates (its fast path for no value twice, one dict per key) reports exactly what a search of each
    manifest against those before it reports, in the same order, at the same file and line, the first's too."""
    manifests = _manifests_of(tmp_path_factory.mktemp("dups"), entries)
    reported = manifest_module._duplicates(manifests)
    found = [(p.address, p.field, str(p.location), re.search(r"the manifest at (\S+?);", p.message).group(1))
             for p in reported]
    assert found == _plain_duplicates(manifests)
