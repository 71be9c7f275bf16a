"""Kind `document` (provisioner/kinds/document.py): every offline rule of a knowledge base's document entry, the
file rule (exists, regular, 20 MB, inside the repository), content fingerprints, the read/body round trip, the
readiness answer, and client.request's multipart form."""
from __future__ import annotations

import os
import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import ValidationError

from provisioner.client import PlatformClient, RetryPolicy, UnknownOutcomeError
from provisioner.errors import ApiError, ServerError
from provisioner.kinds.base import CHILD_ADDRESS, MANIFEST_FILE, NAME, ROOT
from provisioner.kinds.document import (DOCUMENT, MAX_FILE_BYTES, DocumentSpec, create_body, file_fingerprint,
                                        read, read_checked_file, readiness, slug, update_body, website_fingerprint)

WEBSITE = {"name": "Pricing page", "type": "website", "url": "https://example.com/pricing"}


def validate(raw: dict, manifest_dir=None, root=None) -> DocumentSpec:
    context = {}
    if manifest_dir is not None:
        context[MANIFEST_FILE] = str(manifest_dir / "kb.yaml")
    if root is not None:
        context[ROOT] = str(root)
    return DocumentSpec.model_validate(raw, strict=True, context=context)


def problems(raw: dict, manifest_dir=None, root=None) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        validate(raw, manifest_dir, root)
    return [(error["loc"], error["msg"]) for error in caught.value.errors()]


def one_problem(raw: dict, manifest_dir=None, root=None) -> tuple[tuple, str]:
    found = problems(raw, manifest_dir, root)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def repo(tmp_path):
    """A repository (a directory with .git) with the manifest's directory `manifests/` inside it."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "manifests").mkdir()
    return tmp_path


def write(path, data: bytes = b"hello") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


# --- the rules of an entry ---

def test_a_website_with_a_url_or_links_is_valid():
    assert validate(WEBSITE).url == WEBSITE["url"]
    spec = validate({"name": "A", "type": "website", "links": [{"link": "http://example.com/a"}],
                     "relative_links_limit": 50})
    assert spec.links[0].link == "http://example.com/a" and spec.relative_links_limit == 50


@pytest.mark.parametrize("raw, where, text", [
    ({"type": "website", "url": "https://e.com"}, ("name",), "required"),
    ({**WEBSITE, "name": ""}, ("name",), "at least 1"),
    ({**WEBSITE, "name": "   "}, ("name",), "blank"),
    ({**WEBSITE, "name": "x" * 256}, ("name",), "at most 255"),
    ({**WEBSITE, "description": "x" * 256}, ("description",), "at most 255"),
    ({**WEBSITE, "type": "html"}, ("type",), "website"),
    ({**WEBSITE, "url": "ftp://e.com/x"}, ("url",), "http or https"),
    ({**WEBSITE, "url": "https://e.com/a b"}, ("url",), "http or https"),
    ({**WEBSITE, "url": "https:///nohost"}, ("url",), "http or https"),
    ({**WEBSITE, "url": "https://user:secret@e.com/x"}, ("url",), "user name or password"),
    ({"name": "A", "type": "website", "links": []}, ("links",), "at least 1"),
    ({"name": "A", "type": "website", "links": [{"link": "nope"}]}, ("links", 0, "link"), "http or https"),
    ({"name": "A", "type": "website", "links": [{}]}, ("links", 0, "link"), "required"),
    ({**WEBSITE, "relative_links_limit": 0}, ("relative_links_limit",), "greater than or equal to 1"),
    ({**WEBSITE, "relative_links_limit": 51}, ("relative_links_limit",), "less than or equal to 50"),
    ({**WEBSITE, "relative_links_limit": True}, ("relative_links_limit",), "integer"),
    ({**WEBSITE, "key": "Bad Key"}, ("key",), "lowercase"),
    ({**WEBSITE, "colour": "red"}, ("colour",), "Extra inputs"),
    ({"name": "A", "type": "website"}, (), "exactly one of `url` and `links`"),
    ({**WEBSITE, "links": [{"link": "https://e.com"}]}, (), "exactly one of `url` and `links`"),
    ({**WEBSITE, "file": "a.txt"}, (), "not `file`"),
    ({"name": "A", "type": "pdf"}, (), "needs `file`"),
    ({"name": "A", "type": "txt", "file": "a.txt", "url": "https://e.com"}, (), "not `url`"),
    ({"name": "A", "type": "docx", "file": "a.docx", "relative_links_limit": 3}, (), "not `relative_links_limit`"),
    ({"name": "A", "type": "txt", "file": "/etc/hostname"}, ("file",), "relative"),
    ({"name": "A", "type": "txt", "file": "~/a.txt"}, ("file",), "relative"),
    ({"name": "A", "type": "txt", "file": "docs\\a.txt"}, ("file",), "'/'"),
    ({"name": "A", "type": "txt", "file": ""}, ("file",), "file path"),
])
def test_every_rule_of_an_entry_is_a_field_error(raw, where, text):
    loc, message = one_problem(raw)
    assert loc == where and text in message


@given(name=st.text(max_size=300), description=st.text(max_size=300), limit=st.integers(-5, 60))
def test_lengths_and_limits_are_refused_exactly_where_the_platform_refuses_them(name, description, limit):
    raw = {"name": name, "description": description, "type": "website", "url": "https://e.com",
           "relative_links_limit": limit}
    expected = set()
    if not 1 <= len(name) <= 255 or not name.strip():
        expected.add(("name",))
    if len(description) > 255:
        expected.add(("description",))
    if not 1 <= limit <= 50:
        expected.add(("relative_links_limit",))
    if expected:
        assert {loc for loc, _ in problems(raw)} == expected
    else:
        assert validate(raw).relative_links_limit == limit


def test_an_empty_description_is_none_as_the_platform_stores_it():
    assert validate({**WEBSITE, "description": ""}).description is None


# --- files ---

def test_a_file_relative_to_the_manifest_is_found_and_fingerprinted(repo):
    write(repo / "manifests" / "docs" / "faq.txt", b"questions")
    spec = validate({"name": "FAQ", "type": "txt", "file": "docs/faq.txt"}, repo / "manifests")
    assert spec.fingerprint() == file_fingerprint("txt", repo / "manifests" / "docs" / "faq.txt")


def test_a_file_elsewhere_in_the_repository_may_be_reached_with_dotdot(repo):
    write(repo / "shared" / "faq.txt")
    assert validate({"name": "FAQ", "type": "txt", "file": "../shared/faq.txt"}, repo / "manifests").file


def test_a_path_out_of_the_repository_is_refused(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    write(outside / "secret.txt")
    relative = os.path.relpath(outside / "secret.txt", repo / "manifests")
    loc, message = one_problem({"name": "A", "type": "txt", "file": relative}, repo / "manifests")
    assert loc == ("file",) and "leads out of" in message and "repository" in message


def test_a_link_out_of_the_repository_is_refused_but_one_inside_is_followed(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    write(outside / "secret.txt")
    os.symlink(outside / "secret.txt", repo / "manifests" / "out.txt")
    write(repo / "data" / "in.txt")
    os.symlink(repo / "data" / "in.txt", repo / "manifests" / "in.txt")
    assert "leads out of" in one_problem({"name": "A", "type": "txt", "file": "out.txt"}, repo / "manifests")[1]
    assert validate({"name": "A", "type": "txt", "file": "in.txt"}, repo / "manifests").file == "in.txt"


def test_without_a_repository_the_manifests_directory_is_the_root(tmp_path):
    (tmp_path / "manifests").mkdir()
    write(tmp_path / "other.txt")
    assert "leads out of" in one_problem({"name": "A", "type": "txt", "file": "../other.txt"},
                                         tmp_path / "manifests")[1]


def test_without_a_repository_the_folder_of_provisioner_yaml_is_the_root(tmp_path):
    """docs/configuration.md: the folder holding provisioner.yaml is the project's root. Outside a git checkout
    (an unpacked archive, a copy of examples/graph) a file beside the manifests' folder was refused."""
    (tmp_path / "project" / "manifests").mkdir(parents=True)
    (tmp_path / "project" / "provisioner.yaml").write_text("api_dialect: v2\n")
    write(tmp_path / "project" / "docs" / "faq.txt")
    write(tmp_path / "outside.txt")
    manifests = tmp_path / "project" / "manifests"
    assert validate({"name": "A", "type": "txt", "file": "../docs/faq.txt"}, manifests).file == "../docs/faq.txt"
    assert "leads out of" in one_problem({"name": "A", "type": "txt", "file": "../../outside.txt"}, manifests)[1]


def test_an_explicit_root_bounds_the_files(repo):
    write(repo / "shared" / "faq.txt")
    raw = {"name": "A", "type": "txt", "file": "../shared/faq.txt"}
    assert "leads out of" in one_problem(raw, repo / "manifests", root=repo / "manifests")[1]
    assert validate(raw, repo / "manifests", root=repo).file


def test_a_links_into_proc_is_refused_even_under_a_root_of_slash(repo):
    os.symlink("/proc/self/environ", repo / "manifests" / "env.txt")
    loc, message = one_problem({"name": "A", "type": "txt", "file": "env.txt"}, repo / "manifests", root="/")
    assert loc == ("file",) and "leads out of" in message


def test_a_missing_file_a_directory_and_a_fifo_are_refused(repo):
    manifests = repo / "manifests"
    assert "no such file" in one_problem({"name": "A", "type": "txt", "file": "gone.txt"}, manifests)[1]
    (manifests / "dir.txt").mkdir()
    assert "a directory, not a regular file" in one_problem({"name": "A", "type": "txt", "file": "dir.txt"},
                                                            manifests)[1]
    os.mkfifo(manifests / "pipe.txt")
    assert "not a regular file" in one_problem({"name": "A", "type": "txt", "file": "pipe.txt"}, manifests)[1]


def test_an_unreadable_file_is_refused(repo, monkeypatch):
    path = write(repo / "manifests" / "locked.txt")
    os.chmod(path, 0)
    if os.geteuid() == 0:  # root reads every file: say it cannot, as it would for anyone else
        import provisioner.kinds.document as document

        monkeypatch.setattr(document.os, "access", lambda *args, **kwargs: False)
    assert "permission denied" in one_problem({"name": "A", "type": "txt", "file": "locked.txt"},
                                              repo / "manifests")[1]


def sparse(path, size: int) -> None:
    """A file of `size` bytes that takes no room on disk."""
    with open(path, "wb") as handle:
        handle.truncate(size)


def test_twenty_mb_is_accepted_and_one_byte_more_refused_without_writing_them(repo):
    sparse(repo / "manifests" / "exact.pdf", MAX_FILE_BYTES)
    sparse(repo / "manifests" / "over.pdf", MAX_FILE_BYTES + 1)
    assert validate({"name": "A", "type": "pdf", "file": "exact.pdf"}, repo / "manifests").file
    loc, message = one_problem({"name": "A", "type": "pdf", "file": "over.pdf"}, repo / "manifests")
    assert loc == ("file",) and "20,971,521 bytes" in message and "20 MB" in message


def test_without_the_manifests_location_a_file_cannot_be_fingerprinted():
    spec = validate({"name": "A", "type": "txt", "file": "a.txt"})
    with pytest.raises(ValueError, match="manifest's location"):
        spec.fingerprint()


# --- addresses ---

@given(st.text(max_size=300))
def test_a_slug_is_an_address_part_or_empty(name):
    made = slug(name)
    assert made == "" or re.fullmatch(NAME, made)
    assert CHILD_ADDRESS.fullmatch(f"knowledgebase.faq.{made}") or made == ""


def test_slugs_read_like_the_name():
    assert slug("Pricing page (2024)") == "pricing-page-2024"
    assert slug("Café menu") == "cafe-menu"
    assert slug("***") == ""


# --- fingerprints ---

urls = st.builds(lambda host, path: f"https://{host}.example.com/{path}",
                 st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.from_regex(r"[a-z0-9/]{0,20}", fullmatch=True))


@given(url=urls, limit=st.none() | st.integers(1, 50))
def test_a_website_fingerprint_is_stable_and_holds_no_url(url, limit):
    first = validate({**WEBSITE, "url": url, "relative_links_limit": limit}).fingerprint()
    assert first == validate({**WEBSITE, "url": url, "relative_links_limit": limit}).fingerprint()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first) and url not in first


@given(url=urls, other=urls, limit=st.integers(1, 50))
def test_a_website_fingerprint_changes_with_its_content_only(url, other, limit):
    base = validate({**WEBSITE, "url": url, "relative_links_limit": limit})
    renamed = validate({**WEBSITE, "url": url, "relative_links_limit": limit, "name": "Other", "description": "d"})
    assert renamed.fingerprint() == base.fingerprint()
    if other != url:
        assert validate({**WEBSITE, "url": other, "relative_links_limit": limit}).fingerprint() != base.fingerprint()
    if limit != 50:
        assert validate({**WEBSITE, "url": url, "relative_links_limit": 50}).fingerprint() != base.fingerprint()
    as_links = validate({"name": "A", "type": "website", "links": [{"link": url}], "relative_links_limit": limit})
    assert as_links.fingerprint() != base.fingerprint()


def test_the_default_link_limit_and_an_explicit_ten_are_the_same_content():
    assert website_fingerprint("https://e.com", None, None) == website_fingerprint("https://e.com", None, 10)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), other=st.binary(max_size=2000))
def test_a_file_fingerprint_follows_bytes_and_type_not_path(repo, data, other):
    manifests = repo / "manifests"
    write(manifests / "a.txt", data)
    write(manifests / "moved" / "b.txt", data)
    first = validate({"name": "A", "type": "txt", "file": "a.txt"}, manifests).fingerprint()
    assert validate({"name": "A", "type": "txt", "file": "moved/b.txt"}, manifests).fingerprint() == first
    assert validate({"name": "A", "type": "pdf", "file": "a.txt"}, manifests).fingerprint() != first
    write(manifests / "a.txt", other)
    changed = validate({"name": "A", "type": "txt", "file": "a.txt"}, manifests).fingerprint()
    assert (changed == first) == (other == data)


# --- facts, body and read ---

def test_content_replaces_and_is_not_read_back_name_and_description_update_in_place():
    facts = DOCUMENT.by_name
    assert facts["content"].replace and not facts["content"].shown
    assert facts["type"].replace and facts["type"].shown
    assert not facts["name"].replace and not facts["description"].replace
    assert DOCUMENT.endpoints.update is not None and DOCUMENT.endpoints.readiness is not None
    assert DOCUMENT.parent_field == "knowledgebase_id" and facts["knowledgebase_id"].ref == "knowledgebase"


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=255).filter(str.strip)
descriptions = st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=255)


@given(name=names, description=descriptions, url=urls, limit=st.none() | st.integers(1, 50))
def test_what_is_sent_reads_back_the_same_no_false_drift(name, description, url, limit):
    spec = validate({"name": name, "description": description, "type": "website", "url": url,
                     "relative_links_limit": limit})
    fields = spec.node_fields("knowledgebase.faq")
    body = create_body(fields)
    assert "knowledgebase_id" not in body and "content" not in body
    # The platform shows back what it was sent, and an empty description as null (Laravel).
    item = {"id": 7, "name": body["name"], "description": body.get("description") or None, "type": body["type"],
            "type_label": "Website", "status": "processing"}
    values, problems_ = read(item)
    assert not problems_
    assert {k: fields[k] for k in values} == values
    assert update_body(fields) == {"name": fields["name"], "description": fields["description"]}


def test_a_read_that_is_not_a_document_is_a_problem_not_a_value():
    values, found = read({"id": 1, "name": None, "description": 5, "type": "video"})
    assert values == {} and {p.field for p in found} == {"name", "description", "type"}


def test_a_file_body_carries_its_path_and_fingerprint_for_the_upload(repo):
    write(repo / "manifests" / "a.txt", b"abc")
    fields = validate({"name": "A", "type": "txt", "file": "a.txt"}, repo / "manifests").node_fields("knowledgebase.k")
    body = create_body(fields)
    assert set(body) == {"name", "type", "file", "content"} and body["content"] == fields["content"]
    assert read_checked_file(body) == b"abc"
    write(repo / "manifests" / "a.txt", b"abcd")
    with pytest.raises(ApiError, match="changed since the plan"):
        read_checked_file(body)


# --- readiness and multipart, against a scripted platform ---

def scripted(handler) -> PlatformClient:
    return PlatformClient("http://platform.test/api", "t", transport=httpx.MockTransport(handler),
                          sleep=lambda s: None, retry=RetryPolicy(max_attempts=3, backoff_base=0), notify=None)


@pytest.mark.parametrize("status, expected", [("processing", "pending"), ("active", "ready")])
def test_readiness_reads_the_listed_document(status, expected):
    assert readiness({"id": 5, "name": "FAQ"}, {"id": 5, "name": "FAQ", "status": status}, 3) == expected


@pytest.mark.parametrize("current, text", [
    ({"id": 5, "name": "FAQ", "status": "failed"}, "failed to process"),
    ({"id": 5, "name": "FAQ", "status": "queued"}, "does not document"),
    ({"id": 5, "name": "FAQ"}, "does not document"),
    (None, "no longer exists"),
])
def test_readiness_failures_name_the_document(current, text):
    message = readiness({"id": 5, "name": "FAQ"}, current, 3)
    assert text in message and "'FAQ'" in message and "id 5" in message and "knowledge base 3" in message


def test_a_multipart_request_sends_the_file_and_its_form_fields():
    seen = []

    def handler(request):
        seen.append((request.headers["content-type"], request.read()))
        return httpx.Response(201, json={"data": {"id": 9, "name": "A"}})

    client = scripted(handler)
    client.request("POST", "/user/knowledgebases/1/documents", files={"file": ("a.txt", b"BYTES", "text/plain")},
                   data={"name": "A", "type": "txt"})
    content_type, raw = seen[0]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="a.txt"' in raw and b"BYTES" in raw and b'name="type"' in raw
    client.request("PUT", "/user/knowledgebases/1", json={"name": "B"})
    assert seen[1] == ("application/json", b'{"name":"B"}')
    with pytest.raises(ValueError):
        client.request("POST", "/x", json={}, files={"file": ("a", b"", "text/plain")})


def test_a_multipart_create_is_resent_after_a_429_but_never_after_an_unknown_outcome():
    answers = [httpx.Response(429, json={"error": "Rate limit exceeded", "retry_after": 0}),
               httpx.Response(201, json={"data": {"id": 9, "name": "A"}})]
    bodies = []

    def handler(request):
        bodies.append(request.read())
        return answers.pop(0)

    scripted(handler).request("POST", "/p", files={"file": ("a.txt", b"BYTES", "text/plain")}, data={"name": "A"})
    assert len(bodies) == 2 and all(b"BYTES" in body for body in bodies)

    calls = []

    def failing(request):
        calls.append(1)
        return httpx.Response(500, json={"error": "Failed to create document. Please try again."})

    with pytest.raises(ServerError, match="Failed to create document"):
        scripted(failing).request("POST", "/p", files={"file": ("a.txt", b"x", "text/plain")}, data={"name": "A"})
    assert len(calls) == 1


def test_a_create_answer_without_an_id_is_an_unknown_outcome(repo):
    client = scripted(lambda request: httpx.Response(201, json={"message": "ok"}))
    with pytest.raises(UnknownOutcomeError):
        DOCUMENT.endpoints.create(client, create_body(validate(WEBSITE).node_fields("knowledgebase.k")), 1)


def test_error_bodies_of_knowledge_bases_are_read_by_their_error_text():
    client = scripted(lambda request: httpx.Response(404, json={"error": "Knowledgebase not found."}))
    with pytest.raises(ApiError) as caught:
        client.request("GET", "/user/knowledgebases/1/documents")
    assert "Knowledgebase not found." in str(caught.value) and '{"error"' not in str(caught.value)


def test_exported_document_keys_never_collide(monkeypatch):
    """"FAQ 99" (id 97), "FAQ" (98) and "FAQ" (99) were exported as faq-99, faq, faq-99: an invalid manifest, and
    two file documents at one path."""
    from provisioner.kinds import document

    items = [{"id": 97, "name": "FAQ 99"}, {"id": 98, "name": "FAQ"}, {"id": 99, "name": "FAQ"}]
    monkeypatch.setattr(document, "list_documents", lambda client, kb_id: items)
    monkeypatch.setattr(document, "read", lambda item: ({"name": item["name"], "type": "website"}, []))
    entries, _ = document.exported_documents(None, 1, "help")
    keys = [entry["key"] for entry in entries]
    assert len(set(keys)) == 3, keys
