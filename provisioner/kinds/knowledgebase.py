"""Kind `knowledgebase` (manifest `kind: KnowledgeBase`): a named set of documents an assistant searches during a
call (API.md "Knowledge bases and documents").

    apiVersion: provisioner/v1
    kind: KnowledgeBase
    metadata: {name: faq}               # address knowledgebase.faq
    spec:
      name: FAQ                         # required, at most 255 characters (not unique on the platform)
      description: What callers ask     # optional, at most 255 characters
      documents:                        # document.py: website (url | links) or a pdf/txt/docx file
        - {name: Pricing page, type: website, url: "https://example.com/pricing"}
        - {name: Handbook, key: handbook, type: pdf, file: docs/handbook.pdf}

The knowledge base itself has only a name and a description, both updated in place. Its documents are graph
nodes of their own (kind `document`), made by `expand_documents`: address `knowledgebase.<kb>.<key>`, where
<key> is the document's `key`, else a slug of its name (`Pricing page` -> `pricing-page`). A document keeps
its address, so its state, while its name changes if it has a `key`; without one, renaming it gives it a new
address (a new document). Names, and the keys they give, are unique within the knowledge base.
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .answers import items_of
from .base import ChildNode, Endpoints, FieldFacts, Kind, ReadProblem
from .document import DOCUMENT, Description, DocumentSpec, Name, answered_item, exported_documents, read_named

PATH = "/user/knowledgebases"


class KnowledgeBaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)  # see base.py

    name: Name
    description: Description = None
    documents: list[DocumentSpec] = Field(default_factory=list)

    @field_validator("documents")
    @classmethod
    def _distinct(cls, documents: list[DocumentSpec]) -> list[DocumentSpec]:
        names: dict[str, int] = {}
        keys: dict[str, int] = {}
        problems = []
        for index, document in enumerate(documents):
            if document.name in names:
                problems.append(f"documents[{index}].name {document.name!r} is also the name of "
                                f"documents[{names[document.name]}]: names are unique within a knowledge base")
            names.setdefault(document.name, index)
            key = document.key_or_slug
            if not key:
                problems.append(f"documents[{index}].name {document.name!r} has no letter or digit to make its "
                                "address from: give it a `key`")
            elif key in keys:
                problems.append(f"documents[{index}] and documents[{keys[key]}] would both have the address "
                                f"knowledgebase.<name>.{key}: give one of them another `key`")
            keys.setdefault(key, index)
        if problems:
            raise ValueError("; ".join(problems))
        return documents


def document_address(knowledgebase: str, document: DocumentSpec) -> str:
    """`knowledgebase.<kb metadata.name>.<key or slug of the name>`."""
    return f"knowledgebase.{knowledgebase}.{document.key_or_slug}"


def expand_documents(knowledgebase: str, spec: KnowledgeBaseSpec) -> list[ChildNode]:
    """A validated KnowledgeBase manifest's documents as graph nodes of kind `document`, in manifest order.

    `knowledgebase` is the manifest's metadata.name. Each node's fields are the document's (document.py,
    `DocumentSpec.node_fields`), its `content` fingerprint included, and `knowledgebase_id` is the knowledge
    base's address. No platform call; a file document's bytes are read for its fingerprint (the spec must have
    been validated with the manifest's location)."""
    parent = f"knowledgebase.{knowledgebase}"
    return [ChildNode(kind=DOCUMENT.name, address=document_address(knowledgebase, document), parent=parent,
                      fields=document.node_fields(parent), path=("spec", "documents", index))
            for index, document in enumerate(spec.documents)]


# --- the wire ---

def read(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
    """A platform knowledge base -> its shown fields (status and counts are the platform's own)."""
    return read_named(item)


def create_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The knowledge base's own fields; its documents are nodes of their own."""
    body = {"name": fields["name"]}
    if fields.get("description") is not None:
        body["description"] = fields["description"]
    return body


def update_body(fields: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the update carries: `fields` holds what changed, and a description left out of a name
    change must stay as it is on the platform (sending null would clear it)."""
    return {key: fields[key] for key in ("name", "description") if key in fields}


def list_knowledgebases(client, parent=None) -> list[dict[str, Any]]:
    return items_of(client.request("GET", PATH), f"GET {PATH}", bare=False, named=True, noun="knowledge base")


def create_knowledgebase(client, body: dict[str, Any], parent=None) -> dict[str, Any]:
    return answered_item(client.request("POST", PATH, json=body), f"POST {PATH}", created=True)


def update_knowledgebase(client, kb_id: int, body: dict[str, Any], parent=None) -> dict[str, Any]:
    return answered_item(client.request("PUT", f"{PATH}/{kb_id}", json=body), f"PUT {PATH}/{kb_id}")


def delete_knowledgebase(client, kb_id: int, parent=None) -> None:
    """Deletes its documents too (API.md); assistants that used it go on without it."""
    client.request("DELETE", f"{PATH}/{kb_id}")


KNOWLEDGEBASE = Kind(
    name="knowledgebase",
    manifest_kind="KnowledgeBase",
    title="knowledge base",
    spec_model=KnowledgeBaseSpec,
    fields=(
        FieldFacts("name"),
        FieldFacts("description", default=None),
    ),
    endpoints=Endpoints(list=list_knowledgebases, create=create_knowledgebase, update=update_knowledgebase,
                        delete=delete_knowledgebase),
    read=read,
    create_body=create_body,
    update_body=update_body,
    children=lambda name, spec: expand_documents(name, spec),
    file_paths=(("documents", "*", "file"),),
    export_children=lambda client, kb_id, name: _exported(client, kb_id, name),
)


def _exported(client, kb_id: int, name: str):
    documents, needs = exported_documents(client, kb_id, name)
    return ({"documents": documents} if documents else {}), needs
