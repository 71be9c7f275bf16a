"""Knowledge bases and documents (API.md "Knowledge bases and documents"): asynchronous processing, multipart
uploads up to 20 MB, the knowledge base's status following its documents, and the side effects of deleting."""
from __future__ import annotations

import time

import pytest

import conformance_kind_schemas as S
from conformance_bodies import v2_body
from conformance_fixtures import admin, answered, api, other, settings  # noqa: F401 (pytest fixtures)

SITE = {"name": "Pricing", "type": "website", "url": "https://www.example.com/pricing", "relative_links_limit": 5}


def docs(kb_id: int) -> str:
    return f"/user/knowledgebases/{kb_id}/documents"


def wait_for(api, path: str, status: str) -> dict:
    """Poll as a client does until the status is reached (documents become ready within the configured delay)."""
    deadline = time.monotonic() + 5
    while True:
        data = api.get(path)["data"]
        if data["status"] == status or time.monotonic() > deadline:
            return data
        time.sleep(0.02)


def test_knowledge_base_lifecycle(api):
    answered(api.raw("GET", "/user/knowledgebases"), 200, S.KB_LIST)
    assert api.get("/user/knowledgebases") == {"data": []}
    created = answered(api.raw("POST", "/user/knowledgebases", json={"name": "FAQ", "description": "Answers"}), 201,
                       S.KB_CREATED)["data"]
    kb = answered(api.raw("GET", f"/user/knowledgebases/{created['id']}"), 200, S.KB_ONE)["data"]
    assert (kb["status"], kb["documents_count"], kb["assistants_count"]) == ("empty", 0, 0)
    updated = answered(api.raw("PUT", f"/user/knowledgebases/{kb['id']}", json={"description": "More"}), 200,
                       S.KB_UPDATED)["data"]
    assert (updated["name"], updated["description"], updated["status"]) == ("FAQ", "More", "empty")
    assert answered(api.raw("GET", "/user/knowledgebases"), 200, S.KB_LIST)["data"][0]["description"] == "More"
    answered(api.raw("DELETE", f"/user/knowledgebases/{kb['id']}"), 200, S.KB_DELETED)
    for method in ("GET", "PUT", "DELETE"):
        answered(api.raw(method, f"/user/knowledgebases/{kb['id']}", json={"name": "x"}), 404, S.KB_404)


@pytest.mark.parametrize("body, key", [({}, "name"), ({"name": "x" * 256}, "name"),
                                       ({"name": "ok", "description": "x" * 256}, "description")])
def test_knowledge_base_rules(api, body, key):
    assert list(answered(api.raw("POST", "/user/knowledgebases", json=body), 422, S.errors_422())["errors"]) == [key]


def test_a_website_document_is_processing_then_active_and_the_knowledge_base_follows(api, settings):
    settings(document_delay_ms=150)
    kb = api.create_knowledgebase()
    doc = answered(api.raw("POST", docs(kb["id"]), json=SITE), 201, S.DOC_CREATED)["data"]
    assert (doc["type"], doc["status"]) == ("website", "processing")
    assert api.get(f"/user/knowledgebases/{kb['id']}")["data"]["status"] == "processing"
    active = wait_for(api, f"{docs(kb['id'])}/{doc['id']}", "active")
    answered(api.raw("GET", f"{docs(kb['id'])}/{doc['id']}"), 200, S.DOC_ONE)
    assert active["status"] == "active"
    read = api.get(f"/user/knowledgebases/{kb['id']}")["data"]
    assert (read["status"], read["documents_count"]) == ("active", 1)
    assert answered(api.raw("GET", docs(kb["id"])), 200, S.DOC_LIST)["data"] == [active]
    assert not {"url", "links", "relative_links_limit", "file"} & set(active), "the content is never shown back"


def test_links_instead_of_a_url(api):
    kb = api.create_knowledgebase()
    body = {"name": "Docs", "type": "website", "links": [{"link": "https://docs.example.com/a"}]}
    answered(api.raw("POST", docs(kb["id"]), json=body), 201, S.DOC_CREATED)


def test_a_marked_document_fails_and_the_knowledge_base_reads_failed(api, settings):
    settings(document_delay_ms=0)
    kb = api.create_knowledgebase()
    api.post(docs(kb["id"]), {**SITE, "url": "https://www.example.com/emulator-fail"})
    api.post(docs(kb["id"]), SITE)
    assert [d["status"] for d in api.get(docs(kb["id"]))["data"]] == ["failed", "active"]
    assert api.get(f"/user/knowledgebases/{kb['id']}")["data"]["status"] == "failed"


def test_a_configured_share_of_documents_fails(api, settings):
    settings(document_delay_ms=0, document_failure_rate=1)
    kb = api.create_knowledgebase()
    doc = api.post(docs(kb["id"]), SITE)["data"]
    assert api.get(f"{docs(kb['id'])}/{doc['id']}")["data"]["status"] == "failed"


def test_a_file_upload_is_multipart_and_at_most_20_mb(api, settings):
    settings(document_delay_ms=0)
    kb = api.create_knowledgebase()
    form = {"name": "Manual", "type": "pdf", "description": "The manual"}
    answered(api.raw("POST", docs(kb["id"]), data=form, files={"file": ("manual.pdf", b"%PDF-1.4 ...",
                                                                        "application/pdf")}), 201, S.DOC_CREATED)
    too_big = b"x" * (20 * 1024 * 1024 + 1)
    body = answered(api.raw("POST", docs(kb["id"]), data={**form, "type": "txt"},
                            files={"file": ("big.txt", too_big, "text/plain")}), 422, S.errors_422())
    assert list(body["errors"]) == ["file"]
    assert [d["type"] for d in api.get(docs(kb["id"]))["data"]] == ["pdf"]


@pytest.mark.parametrize("body, key", [
    ({"type": "pdf", "name": "Manual"}, "file"), ({"type": "website", "name": "Site"}, "url"),
    ({**SITE, "url": "no url"}, "url"), ({**SITE, "type": "html"}, "type"), ({**SITE, "name": None}, "name"),
    ({**SITE, "relative_links_limit": 51}, "relative_links_limit"), ({**SITE, "description": "x" * 256}, "description"),
    ({"name": "L", "type": "website", "links": [{"link": "nope"}]}, "links.0.link"),
])
def test_document_rules(api, body, key):
    kb = api.create_knowledgebase()
    answer = answered(api.raw("POST", docs(kb["id"]), json=body), 422, S.errors_422())
    assert list(answer["errors"]) == [key]


def test_a_file_type_without_a_file_in_the_references_words(api):
    kb = api.create_knowledgebase()
    answer = answered(api.raw("POST", docs(kb["id"]), json={"name": "M", "type": "docx"}), 422, S.errors_422())
    assert answer["message"] == "A file is required for this document type."


def test_only_name_and_description_of_a_document_change(api):
    kb = api.create_knowledgebase()
    doc = api.post(docs(kb["id"]), SITE)["data"]
    updated = answered(api.raw("PUT", f"{docs(kb['id'])}/{doc['id']}",
                               json={"name": "Prices", "type": "pdf", "url": "https://other.example.com"}), 200,
                       S.DOC_UPDATED)["data"]
    assert (updated["name"], updated["type"]) == ("Prices", "website")


def test_deleting_the_last_document_empties_the_knowledge_base(api, settings):
    settings(document_delay_ms=0)
    kb = api.create_knowledgebase()
    doc = api.post(docs(kb["id"]), SITE)["data"]
    assert api.get(f"/user/knowledgebases/{kb['id']}")["data"]["status"] == "active"
    answered(api.raw("DELETE", f"{docs(kb['id'])}/{doc['id']}"), 200, S.DOC_DELETED)
    assert api.get(f"/user/knowledgebases/{kb['id']}")["data"]["status"] == "empty"
    for method in ("GET", "PUT", "DELETE"):
        answered(api.raw(method, f"{docs(kb['id'])}/{doc['id']}", json={"name": "x"}), 404, S.DOC_404)


def test_documents_of_a_missing_knowledge_base(api):
    for method, path in (("GET", docs(999999)), ("POST", docs(999999)), ("GET", docs(999999) + "/1")):
        answered(api.raw(method, path, json=SITE), 404, S.KB_404)


def test_another_users_knowledge_base_and_documents_are_not_found(api, other):
    kb = api.create_knowledgebase()
    doc = api.post(docs(kb["id"]), SITE)["data"]
    for method in ("GET", "PUT", "DELETE"):
        answered(other.raw(method, f"/user/knowledgebases/{kb['id']}", json={"name": "x"}), 404, S.KB_404)
    answered(other.raw("GET", f"{docs(kb['id'])}/{doc['id']}"), 404, S.KB_404)
    assert other.get("/user/knowledgebases") == {"data": []}


def test_deleting_a_knowledge_base_detaches_it_and_deletes_its_documents(api, admin):
    kb = api.create_knowledgebase()
    api.post(docs(kb["id"]), SITE)
    assistant = api.create(v2_body(api, knowledgebase_id=kb["id"], knowledgebase_mode="prompt"))["data"]
    assert api.get(f"/user/knowledgebases/{kb['id']}")["data"]["assistants_count"] == 1
    api.remove(f"/user/knowledgebases/{kb['id']}")
    assert api.find(assistant["id"])["knowledgebase_id"] is None
    assert api.raw("GET", docs(kb["id"])).status_code == 404


def test_an_assistants_knowledge_base_must_be_the_users_own(api, other):
    theirs = other.create_knowledgebase()
    sent = v2_body(api, knowledgebase_id=theirs["id"], knowledgebase_mode="prompt")
    body = answered(api.raw("POST", "/user/assistant", json=sent), 422, S.errors_422())
    assert list(body["errors"]) == ["knowledgebase_id"]
