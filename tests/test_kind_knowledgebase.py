"""Kind `knowledgebase` (provisioner/kinds/knowledgebase.py): its spec and document rules, the expansion of its
documents into graph nodes, the read/body round trip, and end to end against the real emulator over HTTP with
a real PlatformClient: create, website and multipart file documents, readiness, a failing document, rename,
delete."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, strategies as st
from pydantic import ValidationError

from conftest import TOKEN
from provisioner.client import PlatformClient
from provisioner.errors import ApiError, NotFoundError
from provisioner.kinds.base import CHILD_ADDRESS, MANIFEST_FILE
from provisioner.kinds.document import DOCUMENT, MAX_FILE_BYTES
from provisioner.kinds.knowledgebase import KNOWLEDGEBASE, KnowledgeBaseSpec, expand_documents

SITE = {"name": "Pricing page", "type": "website", "url": "https://example.com/pricing"}


def validate(raw: dict, manifest_dir=None) -> KnowledgeBaseSpec:
    context = {MANIFEST_FILE: str(manifest_dir / "kb.yaml")} if manifest_dir is not None else {}
    return KnowledgeBaseSpec.model_validate(raw, strict=True, context=context)


def messages(raw: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        validate(raw)
    return [(error["loc"], error["msg"]) for error in caught.value.errors()]


@pytest.fixture
def repo(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "manifests").mkdir()
    return tmp_path


# --- the spec ---

def test_a_knowledge_base_needs_a_name_of_at_most_255_characters():
    assert messages({})[0][0] == ("name",)
    assert "blank" in messages({"name": " "})[0][1]
    assert messages({"name": "x" * 256})[0] == (("name",), "String should have at most 255 characters")
    assert messages({"name": "A", "description": "x" * 256})[0][0] == ("description",)
    assert messages({"name": "A", "documents": {}})[0][0] == ("documents",)
    assert messages({"name": "A", "extra": 1})[0][0] == ("extra",)
    assert validate({"name": "A", "description": ""}).description is None
    assert validate({"name": "A"}).documents == []


def test_document_names_are_unique_within_a_knowledge_base():
    (loc, message), = messages({"name": "A", "documents": [SITE, {**SITE, "url": "https://e.com/2"}]})
    assert loc == ("documents",) and "documents[1].name 'Pricing page'" in message and "documents[0]" in message


def test_two_names_with_one_address_are_refused_and_a_key_separates_them():
    raw = {"name": "A", "documents": [SITE, {**SITE, "name": "pricing PAGE"}]}
    (loc, message), = messages(raw)
    assert "knowledgebase.<name>.pricing-page" in message and "`key`" in message
    raw["documents"][1]["key"] = "pricing-2"
    assert [n.address for n in expand_documents("faq", validate(raw))] == [
        "knowledgebase.faq.pricing-page", "knowledgebase.faq.pricing-2"]


def test_a_name_without_letters_or_digits_needs_a_key():
    (loc, message), = messages({"name": "A", "documents": [{**SITE, "name": "???"}]})
    assert "give it a `key`" in message
    assert validate({"name": "A", "documents": [{**SITE, "name": "???", "key": "q"}]})


def test_a_documents_error_points_at_its_entry(repo):
    found = messages({"name": "A", "documents": [SITE, {"name": "B", "type": "website", "url": "nope"}]})
    assert found[0][0] == ("documents", 1, "url")
    with pytest.raises(ValidationError) as caught:
        validate({"name": "A", "documents": [SITE, {"name": "B", "type": "pdf", "file": "gone.pdf"}]},
                 repo / "manifests")
    assert [(e["loc"], "no such file" in e["msg"]) for e in caught.value.errors()] == [
        (("documents", 1, "file"), True)]


# --- expansion ---

def test_documents_expand_into_nodes_with_addresses_fields_and_fingerprints(repo):
    (repo / "manifests" / "faq.txt").write_bytes(b"Q: A?")
    spec = validate({"name": "FAQ", "documents": [
        SITE, {"name": "Handbook", "key": "handbook", "type": "txt", "file": "faq.txt", "description": "d"}]},
        repo / "manifests")
    site, handbook = KNOWLEDGEBASE.children("faq", spec)
    assert (site.kind, site.address, site.parent, site.path) == (
        "document", "knowledgebase.faq.pricing-page", "knowledgebase.faq", ("spec", "documents", 0))
    assert CHILD_ADDRESS.fullmatch(site.address) and CHILD_ADDRESS.fullmatch(handbook.address)
    assert site.fields == {"name": "Pricing page", "description": None, "type": "website",
                           "content": site.fields["content"], "knowledgebase_id": "knowledgebase.faq",
                           "url": "https://example.com/pricing", "relative_links_limit": 10}
    assert handbook.address == "knowledgebase.faq.handbook" and handbook.fields["file"].endswith("faq.txt")
    assert handbook.fields["content"].startswith("sha256:") and "Q: A?" not in str(handbook.fields)
    # Pure: the same manifest expands to the same nodes.
    assert KNOWLEDGEBASE.children("faq", spec) == [site, handbook]


doc_names = st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,30}", fullmatch=True)


@given(st.lists(doc_names, max_size=8, unique_by=lambda n: n.lower().replace(" ", "")))
def test_every_valid_knowledge_base_expands_to_distinct_child_addresses(names):
    docs = [{"name": name, "type": "website", "url": f"https://example.com/{i}"} for i, name in enumerate(names)]
    try:
        spec = validate({"name": "KB", "documents": docs})
    except ValidationError as error:  # two names may still slug alike ("a b" and "a-b" cannot be made here)
        assert "`key`" in str(error)
        return
    nodes = expand_documents("kb", spec)
    assert len({n.address for n in nodes}) == len(names)
    assert all(CHILD_ADDRESS.fullmatch(n.address) and n.parent == "knowledgebase.kb" for n in nodes)


# --- facts and the round trip ---

def test_the_knowledge_base_updates_its_name_and_description_in_place():
    assert KNOWLEDGEBASE.manifest_kind == "KnowledgeBase" and KNOWLEDGEBASE.name == "knowledgebase"
    assert {f.name for f in KNOWLEDGEBASE.fields} == {"name", "description"}
    assert not any(f.replace for f in KNOWLEDGEBASE.fields) and KNOWLEDGEBASE.endpoints.update


@given(name=st.text(min_size=1, max_size=255).filter(str.strip), description=st.none() | st.text(max_size=255))
def test_a_knowledge_base_reads_back_as_sent(name, description):
    spec = validate({"name": name, "description": description})
    fields = spec.model_dump(exclude={"documents"})
    body = KNOWLEDGEBASE.create_body(fields)
    values, problems = KNOWLEDGEBASE.read({"id": 1, "status": "empty", "documents_count": 0, **body,
                                           "description": body.get("description")})
    assert not problems and values == fields
    assert KNOWLEDGEBASE.update_body(fields) == fields


# --- end to end: the real emulator, over HTTP, with a real PlatformClient ---

@pytest.fixture
def client(platform):
    with PlatformClient(platform.url, TOKEN, notify=None) as made:
        yield made


@pytest.fixture
def quick_documents(platform):
    platform.faults(document_delay_ms=150, document_failure_rate=0)
    yield
    platform.faults(document_delay_ms=300, document_failure_rate=0)


def wait_ready(client, item: dict, kb_id: int, deadline: float = 10.0) -> str:
    """What the apply side does with readiness: poll until it is no longer pending, within a deadline."""
    give_up = time.monotonic() + deadline
    while (answer := DOCUMENT.endpoints.readiness(item, listed(client, kb_id).get(item["id"]), kb_id)) == "pending":
        assert time.monotonic() < give_up, "still processing after the deadline"
        time.sleep(0.05)
    return answer


def listed(client, kb_id: int) -> dict[int, dict]:
    """The knowledge base's documents by id: what a readiness poll reads (apply._Waiting)."""
    return {item["id"]: item for item in DOCUMENT.endpoints.list(client, kb_id)}


def create_nodes(client, kb_id: int, nodes) -> list[dict]:
    return [DOCUMENT.endpoints.create(client, DOCUMENT.create_body({**n.fields, "knowledgebase_id": kb_id}), kb_id)
            for n in nodes]


def test_a_knowledge_base_with_a_website_and_a_file_document_goes_active(platform, client, repo, quick_documents):
    (repo / "manifests" / "docs").mkdir()
    (repo / "manifests" / "docs" / "faq.txt").write_text("Q: opening hours? A: 9-5.\n")
    spec = validate({"name": "FAQ", "description": "What callers ask", "documents": [
        {**SITE, "relative_links_limit": 3},
        {"name": "Opening hours", "type": "txt", "file": "docs/faq.txt", "description": "hours"}]},
        repo / "manifests")
    kb = KNOWLEDGEBASE.endpoints.create(client, KNOWLEDGEBASE.create_body(spec.model_dump()), None)
    assert kb["status"] == "empty"
    nodes = expand_documents("faq", spec)
    site, text = create_nodes(client, kb["id"], nodes)
    assert site["status"] == text["status"] == "processing"
    assert [wait_ready(client, doc, kb["id"]) for doc in (site, text)] == ["ready", "ready"]

    # The platform shows back exactly what was sent: no drift on any shown field.
    listed = {item["id"]: item for item in DOCUMENT.endpoints.list(client, kb["id"])}
    for node, doc in zip(nodes, (site, text)):
        values, problems = DOCUMENT.read(listed[doc["id"]])
        assert not problems and values == {k: node.fields[k] for k in ("name", "description", "type")}
    (kb_item,) = [k for k in KNOWLEDGEBASE.endpoints.list(client) if k["id"] == kb["id"]]
    assert KNOWLEDGEBASE.read(kb_item) == ({"name": "FAQ", "description": "What callers ask"}, [])
    assert (kb_item["status"], kb_item["documents_count"]) == ("active", 2)

    # The file went as multipart: the emulator journal shows one upload with the file's name.
    uploads = [w for w in platform.writes() if w.get("path", "").endswith(f"/{kb['id']}/documents")]
    assert len(uploads) == 2


def test_a_failing_document_is_reported_by_name(platform, client, repo, quick_documents):
    (repo / "manifests" / "emulator-fail.txt").write_text("unreadable")
    spec = validate({"name": "Broken", "documents": [{"name": "Scanned contract", "type": "txt",
                                                      "file": "emulator-fail.txt"}]}, repo / "manifests")
    kb = KNOWLEDGEBASE.endpoints.create(client, KNOWLEDGEBASE.create_body(spec.model_dump()), None)
    (doc,) = create_nodes(client, kb["id"], expand_documents("broken", spec))
    message = wait_ready(client, doc, kb["id"])
    assert "'Scanned contract'" in message and "failed to process" in message and f"id {doc['id']}" in message


def test_rename_in_place_then_delete(platform, client, quick_documents):
    spec = validate({"name": "Old", "documents": [SITE]})
    kb = KNOWLEDGEBASE.endpoints.create(client, KNOWLEDGEBASE.create_body(spec.model_dump()), None)
    (node,) = expand_documents("kb", spec)
    (doc,) = create_nodes(client, kb["id"], [node])

    renamed = KNOWLEDGEBASE.endpoints.update(client, kb["id"], KNOWLEDGEBASE.update_body(
        {"name": "New", "description": "now described"}), None)
    assert (renamed["id"], renamed["name"], renamed["description"]) == (kb["id"], "New", "now described")
    # An update carries only what changed: a rename keeps the description, a null clears it.
    kept = KNOWLEDGEBASE.endpoints.update(client, kb["id"], KNOWLEDGEBASE.update_body({"name": "Newer"}), None)
    assert (kept["name"], kept["description"]) == ("Newer", "now described")
    cleared = KNOWLEDGEBASE.endpoints.update(client, kb["id"], KNOWLEDGEBASE.update_body({"description": None}),
                                             None)
    assert (cleared["name"], cleared["description"]) == ("Newer", None)
    moved = DOCUMENT.endpoints.update(client, doc["id"], DOCUMENT.update_body({**node.fields, "name": "Prices"}),
                                      kb["id"])
    assert (moved["id"], moved["name"]) == (doc["id"], "Prices")

    DOCUMENT.endpoints.delete(client, doc["id"], kb["id"])
    assert DOCUMENT.endpoints.list(client, kb["id"]) == []
    with pytest.raises(NotFoundError):  # already gone: apply confirms it with a list read
        DOCUMENT.endpoints.delete(client, doc["id"], kb["id"])
    KNOWLEDGEBASE.endpoints.delete(client, kb["id"])
    assert kb["id"] not in {k["id"] for k in KNOWLEDGEBASE.endpoints.list(client)}
    with pytest.raises(NotFoundError):
        KNOWLEDGEBASE.endpoints.delete(client, kb["id"])


def test_a_changed_file_is_never_uploaded(platform, client, repo):
    path = repo / "manifests" / "a.txt"
    path.write_text("first")
    spec = validate({"name": "KB", "documents": [{"name": "A", "type": "txt", "file": "a.txt"}]}, repo / "manifests")
    kb = KNOWLEDGEBASE.endpoints.create(client, {"name": "KB"}, None)
    planned = expand_documents("kb", spec)
    path.write_text("second")
    before = len(platform.writes())
    with pytest.raises(ApiError, match="changed since the plan"):
        create_nodes(client, kb["id"], planned)
    assert len(platform.writes()) == before


def test_the_documents_of_a_missing_knowledge_base_answer_not_found(platform, client):
    with pytest.raises(ApiError, match="Knowledgebase not found"):
        DOCUMENT.endpoints.list(client, 999_999)


# --- the emulator against API.md ---

def test_the_emulator_refuses_a_file_over_20_mb_and_a_file_type_sent_as_json(platform):
    kb = platform.http.post("/user/knowledgebases", json={"name": "Big"}).json()["data"]
    path = f"/user/knowledgebases/{kb['id']}/documents"
    over = platform.http.post(path, data={"name": "Big", "type": "pdf"},
                              files={"file": ("big.pdf", b"\0" * (MAX_FILE_BYTES + 1), "application/pdf")})
    assert over.status_code == 422 and "file" in over.json()["errors"]
    as_json = platform.http.post(path, json={"name": "A", "type": "txt"})
    assert as_json.status_code == 422 and as_json.json()["message"] == "A file is required for this document type."
    gone = platform.http.get(f"{path}/999999")
    assert gone.status_code == 404 and gone.json() == {"error": "Document not found."}
