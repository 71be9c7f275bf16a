"""Kind `document`: one document of a knowledge base (API.md "Knowledge bases and documents").

Documents have no manifest of their own: they are declared in their knowledge base's `spec.documents`
(knowledgebase.py expands them into graph nodes, address `knowledgebase.<kb>.<key>`), and are created, read
and deleted under it (`parent_field`: the knowledge base's id).

An entry of `spec.documents`:

    - name: Pricing page          # required, at most 255 characters, unique in the knowledge base
      key: pricing                # optional: the last part of its address (default: a slug of the name)
      description: ...            # optional, at most 255 characters
      type: website               # website | pdf | txt | docx
      url: https://example.com/pricing          # website: `url` or `links` (not both)
      links: [{link: https://example.com/a}]     #
      relative_links_limit: 5     # website only: 1-50, the platform's default 10
      file: docs/handbook.pdf     # pdf, txt, docx: a file, relative to the manifest's directory

Files. `file` is a relative path written with `/`, resolved against the directory of the manifest that
declares it. After symbolic links are followed, it must lie inside the root: the validation context's `root`
when the caller gives one, else the nearest directory above the manifest holding `.git` (the repository), else
the manifest's own directory; so `../shared/faq.pdf` works inside a repository and `../../etc/passwd` or a
link out of it does not. It must be a readable regular file of at most 20 MB (20,971,520 bytes). These checks
run only when the spec is validated with the manifest's location (base.MANIFEST_FILE in the context).

Content. The platform cannot change a document's content and does not show it back. A node keeps a
fingerprint of what it sends as `content` (`FieldFacts(replace=True, shown=False)`): "sha256:" and the hex
digest of the canonical JSON of `url`, `links` and `relative_links_limit` (default applied), or of the file's
bytes with its type. A changed fingerprint replaces the document; `name` and `description` update in place.
The fingerprint is a one-way digest: it never holds a URL's or a file's text.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Optional
from urllib.parse import urlsplit

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator,
                      model_validator)

from ..client import UnknownOutcomeError, is_id
from ..errors import ApiError
from ..names import first_unused
from ..paths import leads_out
from .answers import items_of
from .base import MANIFEST_FILE, NAME, ROOT, ChildExport, Endpoints, FieldFacts, Kind, ReadProblem

TYPES = ("website", "pdf", "txt", "docx")
MAX_FILE_BYTES = 20 * 1024 * 1024      # "at most 20 MB": the platform answers 422 beyond 20480 kilobytes
DEFAULT_RELATIVE_LINKS_LIMIT = 10
MEDIA_TYPES = {"pdf": "application/pdf", "txt": "text/plain",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
# Links into these would read the machine's memory, environment or devices, whatever the root says.
PARENT_FIELD = "knowledgebase_id"


# --- the manifest entry ---

def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# The name and description of a knowledge base and of a document: the platform's ≤255 rules. An empty
# description is stored as null by the platform (Laravel), so it is None here too: no false drift.
Name = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_not_blank)]
Description = Annotated[Optional[str], Field(max_length=255), AfterValidator(lambda value: value or None)]


def check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        # A plan, state and logs would keep it: credentials belong in no document URL.
        raise ValueError("must not carry a user name or password (user:password@host)")
    return value


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # see base.py

    link: Annotated[str, AfterValidator(check_url)]


class DocumentSpec(BaseModel):
    """One entry of a knowledge base's `spec.documents` (module docstring)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)  # see base.py

    name: Name
    key: Optional[str] = None
    description: Description = None
    type: Literal["website", "pdf", "txt", "docx"]
    url: Optional[str] = None
    links: Optional[list[Link]] = Field(None, min_length=1)
    relative_links_limit: Optional[int] = Field(None, ge=1, le=50)
    file: Optional[str] = None

    # The file's resolved path, when validated with the manifest's location.
    _path: Optional[Path] = PrivateAttr(None)

    @field_validator("key")
    @classmethod
    def _key(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(NAME, value):
            raise ValueError("must be 1-63 lowercase letters, digits, '-' or '_', starting and ending with a "
                             "letter or digit")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else check_url(value)

    @field_validator("file")
    @classmethod
    def _file(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is None:
            return None
        context = info.context or {}
        if MANIFEST_FILE in context:
            _, problem = resolve_file(value, context[MANIFEST_FILE], context.get(ROOT))
        else:
            problem = path_syntax(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _content(self, info: ValidationInfo) -> "DocumentSpec":
        if self.type == "website":
            if self.file is not None:
                raise ValueError("a website document takes `url` or `links`, not `file`")
            if (self.url is None) == (self.links is None):
                raise ValueError("a website document needs exactly one of `url` and `links`")
        else:
            extra = [f for f in ("url", "links", "relative_links_limit") if getattr(self, f) is not None]
            if extra:
                raise ValueError(f"a {self.type} document takes `file`, not {', '.join(f'`{f}`' for f in extra)}")
            if self.file is None:
                raise ValueError(f"a {self.type} document needs `file`: a path relative to the manifest")
            context = info.context or {}
            if MANIFEST_FILE in context:
                self._path, _ = resolve_file(self.file, context[MANIFEST_FILE], context.get(ROOT))
        return self

    @property
    def key_or_slug(self) -> str:
        """The last part of its address: `key`, else a slug of the name ('' if the name has no letter or digit)."""
        return self.key or slug(self.name)

    def fingerprint(self) -> str:
        """The content fingerprint (module docstring). A file document needs its resolved path (validated with
        the manifest's location); ValueError otherwise, OSError if the file cannot be read now."""
        if self.type == "website":
            return website_fingerprint(self.url, [link.link for link in self.links] if self.links else None,
                                       self.relative_links_limit)
        if self._path is None:
            raise ValueError(f"document {self.name!r}: its file was not checked against the manifest's location")
        return file_fingerprint(self.type, self._path)

    def node_fields(self, knowledgebase: str) -> dict[str, Any]:
        """The document node's fields: the compared ones (name, description, type, content, its knowledge base's
        address `knowledgebase`) and what create sends (`url`, `links`, `relative_links_limit`, or `file`: the
        path to read, from the working directory)."""
        fields: dict[str, Any] = {"name": self.name, "description": self.description, "type": self.type,
                                  "content": self.fingerprint(), PARENT_FIELD: knowledgebase}
        if self.type == "website":
            if self.url is not None:
                fields["url"] = self.url
            else:
                fields["links"] = [{"link": link.link} for link in self.links or []]
            fields["relative_links_limit"] = self.relative_links_limit or DEFAULT_RELATIVE_LINKS_LIMIT
        else:
            fields["file"] = shown_path(self._path)
        return fields


def slug(name: str) -> str:
    """'Pricing page (2024)' -> 'pricing-page-2024': lowercase ASCII letters and digits joined by '-', at most
    63 characters ('' when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:63].strip("-")


# --- files ---

def path_syntax(file: str) -> str | None:
    """What is wrong with a document's `file` as written, or None."""
    if not file or "\0" in file:
        return "must be a file path"
    if "\\" in file:
        return "write the path with '/' (it is the same on every machine)"
    if PurePosixPath(file).is_absolute() or file.startswith("~"):
        return "must be relative to the manifest's directory, not absolute"
    return None


def repository_root(directory: Path) -> Path:
    """The nearest directory at or above `directory` holding `.git`; outside a git checkout, the nearest holding
    `provisioner.yaml` (the project's root, docs/configuration.md); else `directory` itself."""
    project = None
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
        if project is None and (candidate / "provisioner.yaml").is_file():
            project = candidate
    return project or directory


def resolve_file(file: str, manifest_file: str | os.PathLike, root: str | os.PathLike | None = None
                 ) -> tuple[Path | None, str | None]:
    """(the file's real path, None) when `file` is usable, else (None, why not). Rule: module docstring."""
    problem = path_syntax(file)
    if problem:
        return None, problem
    base = Path(os.path.realpath(Path(manifest_file).parent))
    bound = os.path.realpath(root) if root is not None else str(repository_root(base))
    real = os.path.realpath(base / file)
    if leads_out(real, (bound,)):
        return None, (f"leads out of {bound} (symbolic links followed): a document's file must be inside the "
                      "repository")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return None, f"no such file (looked for {shown_path(Path(real))}, relative to the manifest's directory)"
    except OSError as error:
        return None, f"cannot be read ({error.strerror})"
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO, socket or device"
        return None, f"is {what}, not a regular file"
    if info.st_size > MAX_FILE_BYTES:
        return None, (f"is {info.st_size:,} bytes, more than the platform's limit of 20 MB "
                      f"({MAX_FILE_BYTES:,} bytes)")
    if not os.access(real, os.R_OK):
        return None, "cannot be read (permission denied)"
    return Path(real), None


def shown_path(path: Path | None) -> str:
    """A path as plans show it and apply opens it: relative to the working directory when inside it."""
    if path is None:
        return ""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


# --- fingerprints ---

def website_fingerprint(url: str | None, links: list[str] | None, relative_links_limit: int | None) -> str:
    canonical = json.dumps({"type": "website", "url": url, "links": links,
                            "relative_links_limit": relative_links_limit or DEFAULT_RELATIVE_LINKS_LIMIT},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# (type, real path, device, inode, size, mtime_ns) -> fingerprint. One plan expands a knowledge base's documents
# three times (validate, the session's reads, the plan): a file is read and hashed once per run, not three times.
_FINGERPRINTS: dict[tuple, str] = {}
_FINGERPRINTS_KEPT = 4096
# A file whose mtime is this close to the moment it was hashed may still be changed within the file system's
# timestamp granularity without its mtime moving ("racy git"): its fingerprint is not kept.
RACY_NS = 2_000_000_000


def file_fingerprint(kind: str, path: str | os.PathLike) -> str:
    """The fingerprint of a file document's bytes with its type, computed once per (path, size, mtime_ns)."""
    before = time.time_ns()
    info = os.stat(path)
    key = (kind, os.fspath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    known = _FINGERPRINTS.get(key)
    if known is not None:
        return known
    fingerprint = hash_file(kind, path)
    if info.st_mtime_ns < before - RACY_NS:
        if len(_FINGERPRINTS) >= _FINGERPRINTS_KEPT:
            _FINGERPRINTS.clear()
        _FINGERPRINTS[key] = fingerprint
    return fingerprint


def hash_file(kind: str, path: str | os.PathLike) -> str:
    """Read and hash the file (file_fingerprint's cache miss)."""
    digest = hashlib.sha256(f"file\0{kind}\0".encode())
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


# --- the wire ---

def read_named(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
    """The name and description of a platform knowledge base or document (a null description as None)."""
    values: dict[str, Any] = {}
    problems: list[ReadProblem] = []
    name, description = item.get("name"), item.get("description")
    if isinstance(name, str):
        values["name"] = name
    else:
        problems.append(ReadProblem("name", f"not a string: {name!r}"[:120]))
    if description is None or isinstance(description, str):
        values["description"] = description or None
    else:
        problems.append(ReadProblem("description", f"not a string: {description!r}"[:120]))
    return values, problems


def read(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
    """A platform document -> its shown fields (the content is not shown back)."""
    values, problems = read_named(item)
    kind = item.get("type")
    if kind in TYPES:
        values["type"] = kind
    else:
        problems.append(ReadProblem("type", f"not one of {', '.join(TYPES)}: {kind!r}"[:120]))
    return values, problems


def create_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The node's fields -> what `create` sends: JSON fields for a website; for a file, its form fields with
    `file` (the path to read) and `content` (the fingerprint the bytes must still have)."""
    body = {"name": fields["name"], "type": fields["type"]}
    if fields.get("description") is not None:
        body["description"] = fields["description"]
    if fields["type"] == "website":
        body.update({k: fields[k] for k in ("url", "links", "relative_links_limit") if fields.get(k) is not None})
    else:
        body.update(file=fields["file"], content=fields["content"])
    return body


def update_body(fields: dict[str, Any]) -> dict[str, Any]:
    """Only the name and the description can change in place: those of them the update carries."""
    return {key: fields[key] for key in ("name", "description") if key in fields}


def _documents(kb_id: int) -> str:
    return f"/user/knowledgebases/{kb_id}/documents"


def answered_item(answer: Any, where: str, *, created: bool = False) -> dict[str, Any]:
    """The object of a `{"data": {...}}` answer, with an integer id; a create without one is an unknown outcome."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if isinstance(data, dict) and is_id(data.get("id")):
        return data
    text = json.dumps(answer)[:120]
    if created:
        raise UnknownOutcomeError(f"{where}: the platform answered success without the new object's id ({text})",
                                  status=200)
    raise ApiError(f"{where}: expected {{\"data\": {{\"id\": ...}}}}, got {text}")


def list_documents(client, parent: int) -> list[dict[str, Any]]:
    return items_of(client.request("GET", _documents(parent)), f"GET {_documents(parent)}", bare=False,
                    named=True, noun="document")


def create_document(client, body: dict[str, Any], parent: int) -> dict[str, Any]:
    path = _documents(parent)
    if body["type"] == "website":
        return answered_item(client.request("POST", path, json=body), f"POST {path}", created=True)
    payload = read_checked_file(body)
    form = {k: body[k] for k in ("name", "type", "description") if body.get(k) is not None}
    files = {"file": (os.path.basename(body["file"]), payload, MEDIA_TYPES[body["type"]])}
    return answered_item(client.request("POST", path, files=files, data=form), f"POST {path}", created=True)


def read_checked_file(body: dict[str, Any]) -> bytes:
    """The bytes of a file document, refused before anything is sent if the file is no longer what the plan
    fingerprinted (changed, grown past 20 MB, gone)."""
    path = body["file"]
    try:
        with open(path, "rb") as handle:
            payload = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ApiError(f"document {body['name']!r}: cannot read {path} ({error.strerror}); nothing was sent")
    if len(payload) > MAX_FILE_BYTES:
        raise ApiError(f"document {body['name']!r}: {path} is now more than 20 MB; nothing was sent")
    digest = "sha256:" + hashlib.sha256(f"file\0{body['type']}\0".encode() + payload).hexdigest()
    if digest != body["content"]:
        raise ApiError(f"document {body['name']!r}: {path} changed since the plan was made; nothing was sent. "
                       "Plan again.")
    return payload


def update_document(client, doc_id: int, body: dict[str, Any], parent: int) -> dict[str, Any]:
    path = f"{_documents(parent)}/{doc_id}"
    return answered_item(client.request("PUT", path, json=body), f"PUT {path}")


def delete_document(client, doc_id: int, parent: int) -> None:
    client.request("DELETE", f"{_documents(parent)}/{doc_id}")


def readiness(item: dict[str, Any], current: dict[str, Any] | None, parent: int) -> str:
    """'ready' once the platform has processed the document (`active`), 'pending' while it is `processing`,
    else a message naming the document and saying why it will not become ready. `current` is the document as a
    list of its knowledge base read after its create was answered shows it: None when that list lacks it."""
    label = f"document {item.get('name')!r} (id {item['id']}) of knowledge base {parent}"
    if current is None:
        return f"{label} no longer exists on the platform (deleted while it was being processed)"
    label = f"document {current.get('name', item.get('name'))!r} (id {item['id']}) of knowledge base {parent}"
    found = stage(current)
    if found in ("ready", "pending"):
        return found
    if found == "failed":
        return (f"{label} failed to process on the platform (status failed): check that its URL or file can be "
                "read, then change its content (or delete it and apply) to have it created again")
    return (f"{label} has a status the platform does not document ({str(current.get('status'))[:40]!r}); not "
            "waiting for it")


def stage(item: dict[str, Any]) -> str:
    """Where the platform is with a listed document: 'ready' (`active`), 'pending' (`processing`), 'failed', or
    'unknown' (a status the platform does not document)."""
    return _STAGES.get(item.get("status"), "unknown") if isinstance(item.get("status"), str) else "unknown"


_STAGES = {"active": "ready", "processing": "pending", "failed": "failed"}


# --- export ---

FILL_IN_URL = "__provisioner_fill_in_url__"  # stands for the url in the YAML until its comment is put beside it
URL_NOTE = "not shown by the platform: the page this document reads; set it before applying"
FILE_NOTE = "not given back by the platform: put the document's file here before applying"


def exported_documents(client, kb_id: int, kb_name: str) -> tuple[list[dict[str, Any]], ChildExport]:
    """A knowledge base's documents as `spec.documents` entries, and what the user must supply. The platform
    does not show a document's content (API.md): a website's `url` is written only when the read happens to
    carry it (else left to fill in), and a file document names the path, relative to the manifest, where its
    file must be put (`files/<kb>/<key>.<type>`). Nothing is invented: no url, no file content."""
    entries, needs, keys = [], ChildExport(), set()
    for item in list_documents(client, kb_id):
        fields, problems = read(item)
        if problems or "type" not in fields:
            raise ApiError(f"document {item['id']} of knowledge base {kb_id}: cannot read it back ("
                           + "; ".join(f"{p.field}: {p.message}" for p in problems) + ")")
        base = slug(fields["name"]) or "document"
        key = base
        if key in keys:  # one name's slug may be another's slug-and-id (`faq-99`): until it is no other's
            key = first_unused(keys, f"{base}-{item['id']}"[:63], lambda n: f"{base[:40]}-{item['id']}-{n}")
        keys.add(key)
        entry: dict[str, Any] = {"name": fields["name"], "key": key}
        if fields.get("description") is not None:
            entry["description"] = fields["description"]
        entry["type"] = fields["type"]
        where = f"documents[{len(entries)}]"
        if fields["type"] == "website":
            links = item.get("links")
            if isinstance(item.get("url"), str) and item["url"]:
                entry["url"] = item["url"]
            elif isinstance(links, list) and links and all(isinstance(i, dict) and isinstance(i.get("link"), str)
                                                           for i in links):
                entry["links"] = [{"link": i["link"]} for i in links]
            else:
                entry["url"] = FILL_IN_URL
                needs.fill_in.append(f"{where}.url (document {fields['name']!r})")
            limit = item.get("relative_links_limit")
            if is_id(limit) and limit != DEFAULT_RELATIVE_LINKS_LIMIT:  # shown: kept; not shown: the default
                entry["relative_links_limit"] = limit
        else:
            entry["file"] = f"files/{kb_name}/{key}.{fields['type']}"
            needs.files.append(entry["file"])
        entries.append(entry)
    return entries, needs


def annotate_export(text: str) -> str:
    """The exported YAML with a comment beside each value the user must supply."""
    text = text.replace(f"url: {FILL_IN_URL}\n", f"url: ''  # {URL_NOTE}\n")
    return re.sub(r"^(\s*file: files/\S+)$", lambda m: f"{m.group(1)}  # {FILE_NOTE}", text, flags=re.M)


DOCUMENT = Kind(
    name="document",
    manifest_kind="",  # no manifest of its own: declared in a KnowledgeBase's spec.documents
    title="knowledge base document",
    spec_model=DocumentSpec,
    fields=(
        FieldFacts("name"),
        FieldFacts("description", default=None),
        FieldFacts("type", replace=True),
        FieldFacts("content", shown=False, replace=True),
        # Its knowledge base: the address in the node, the id once resolved; sent in the path, never the body.
        FieldFacts(PARENT_FIELD, shown=False, replace=True, ref="knowledgebase"),
    ),
    endpoints=Endpoints(list=list_documents, create=create_document, update=update_document,
                        delete=delete_document, readiness=readiness, stage=stage),
    read=read,
    create_body=create_body,
    update_body=update_body,
    parent_field=PARENT_FIELD,
)
