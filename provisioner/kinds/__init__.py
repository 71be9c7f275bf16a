"""The registry of managed kinds besides assistants: by kind name (`tool`) and by manifest `kind:` (`Tool`).

Kind modules do not register themselves: adding a kind is one module and one line here. Assistants are
planned by planner.py and are not a `Kind`; they are named here so that references and messages know them.
Kinds without a manifest of their own are registered too: documents (declared inside a KnowledgeBase) and
phone numbers (`reference_only`: only referenced, never created or released).
"""
from __future__ import annotations

from .base import FieldFacts, Kind
from .campaign import KIND as CAMPAIGN
from .document import DOCUMENT
from .folder import FOLDER
from .knowledgebase import KNOWLEDGEBASE
from .label import LABEL
from .number import KIND as NUMBER
from .siptrunk import KIND as SIPTRUNK
from .tool import KIND as TOOL

ASSISTANT = "assistant"
ASSISTANT_MANIFEST_KIND = "Assistant"

KINDS: dict[str, Kind] = {kind.name: kind for kind in (TOOL, KNOWLEDGEBASE, DOCUMENT, FOLDER, LABEL, SIPTRUNK,
                                                       NUMBER, CAMPAIGN)}
BY_MANIFEST_KIND: dict[str, Kind] = {kind.manifest_kind: kind for kind in KINDS.values() if kind.manifest_kind}
# Every manifest `kind:` a repository may hold, assistants first.
MANIFEST_KINDS: tuple[str, ...] = (ASSISTANT_MANIFEST_KIND, *sorted(BY_MANIFEST_KIND))
# Kind names an address may start with: the managed ones, and those only referenced (phone numbers).
ADDRESS_KINDS: frozenset[str] = frozenset({ASSISTANT, *KINDS})


def kind_title(kind: str) -> str:
    """What a kind is called in a message (`knowledge base`, not `knowledgebase`; an assistant is one)."""
    return KINDS[kind].title if kind in KINDS else kind


def kind_of_manifest(manifest_kind: str) -> str | None:
    """`Folder` -> `folder`; None for a `kind:` nobody registered."""
    if manifest_kind == ASSISTANT_MANIFEST_KIND:
        return ASSISTANT
    kind = BY_MANIFEST_KIND.get(manifest_kind)
    return kind.name if kind else None


def with_campaign_create_path(path: str) -> None:
    """Register the Campaign kind creating through `path` (configuration `campaign_create_path`)."""
    from .campaign import campaign_kind

    kind = campaign_kind(path)
    KINDS[kind.name] = kind
    BY_MANIFEST_KIND[kind.manifest_kind] = kind


# The assistant's fields that point at other kinds (API.md "Other resource kinds"): the facts the graph reads.
ASSISTANT_REFERENCES: tuple[FieldFacts, ...] = (
    FieldFacts("tool_ids", shown=False, ref="tool", many=True, unordered=True),
    FieldFacts("knowledgebase_id", ref="knowledgebase"),
    FieldFacts("folder_id", shown=False, ref="folder"),
    FieldFacts("label_ids", shown=False, ref="label", many=True, unordered=True),
    FieldFacts("phone_number_id", ref="number"),
)


def reference_facts(kind: str) -> tuple[FieldFacts, ...]:
    """The reference fields of a kind's spec."""
    if kind == ASSISTANT:
        return ASSISTANT_REFERENCES
    return tuple(f for f in KINDS[kind].fields if f.ref)


def address_targets(ref_kind: str) -> tuple[str, ...]:
    """The kinds of manifests an address in a reference to `ref_kind` may name: the kind itself (unless it is only
    referenced, never a manifest: numbers), then the kinds its `Kind.accepts` names (a SIP trunk is a number)."""
    kind = KINDS.get(ref_kind)
    return (ref_kind,) if kind is None else kind.address_targets


def reference_targets(kind: str) -> dict[str, tuple[str, ...]]:
    """A kind's reference fields -> the kinds whose objects their ids name (address_targets): what plans and the
    state view name ids by. Found once per kind."""
    targets = _REFERENCE_TARGETS.get(kind)
    if targets is None:
        targets = _REFERENCE_TARGETS[kind] = {f.name: address_targets(f.ref) for f in reference_facts(kind)}
    return targets


_REFERENCE_TARGETS: dict[str, dict[str, tuple[str, ...]]] = {}


def manifest_address(address: str) -> str:
    """The address a manifest (and state) knows an object by: `assistant.support` is the assistant `support`."""
    return address.split(".", 1)[1] if address.startswith(ASSISTANT + ".") else address


def object_address(kind: str, name: str) -> str:
    """The address of the object of `kind` a manifest names `name`: the name alone for an assistant, else
    `kind.name` (a child's is its parent's address and its key, made where its documents are expanded)."""
    return name if kind == ASSISTANT else f"{kind}.{name}"


def address_parts(kind: str) -> int:
    """How many dot-separated parts address an object of `kind`: an assistant's 1 (`NAME`), another kind's 2
    (`tool.NAME`), a child kind's 3 (`knowledgebase.NAME.KEY`)."""
    if kind == ASSISTANT:
        return 1
    return 3 if kind in KINDS and KINDS[kind].parent_field else 2


def address_form(kind: str) -> str:
    """How an object of `kind` is addressed, for messages: `NAME`, `tool.NAME`, `knowledgebase.NAME.KEY`."""
    parts = address_parts(kind)
    return "NAME" if parts == 1 else f"{KINDS[kind].parent_kind}.NAME.KEY" if parts == 3 else f"{kind}.NAME"


def kind_of_address(address: str) -> str:
    """The kind of the object at an address: `tool.x` -> tool; a child's (`knowledgebase.faq.pricing`) -> the kind
    whose `parent_field` points at the parent's kind (document); a bare name (or `assistant.x`) -> assistant."""
    head, dot, rest = address.partition(".")
    if not dot:
        return ASSISTANT
    if "." not in rest:
        return head
    parts = address.split(".")
    return next((k.name for k in KINDS.values() if k.parent_kind == parts[0]),
                parts[0])
