"""The registry of managed kinds besides assistants: by kind name (`tool`) and by manifest `kind:` (`Tool`).

Kind modules do not register themselves: adding a kind is one module and one line here. Assistants are
planned by planner.py and are not a `Kind`; they are named here so that references and messages know them.
"""
from __future__ import annotations

from .base import FieldFacts, Kind
from .folder import FOLDER
from .label import LABEL

ASSISTANT = "assistant"
ASSISTANT_MANIFEST_KIND = "Assistant"

KINDS: dict[str, Kind] = {kind.name: kind for kind in (FOLDER, LABEL)}
BY_MANIFEST_KIND: dict[str, Kind] = {kind.manifest_kind: kind for kind in KINDS.values()}
# Every manifest `kind:` a repository may hold, assistants first.
MANIFEST_KINDS: tuple[str, ...] = (ASSISTANT_MANIFEST_KIND, *sorted(BY_MANIFEST_KIND))
# Kind names an address may start with: the managed ones, and those only referenced (phone numbers).
ADDRESS_KINDS: frozenset[str] = frozenset({ASSISTANT, *KINDS})


def kind_of_manifest(manifest_kind: str) -> str | None:
    """`Folder` -> `folder`; None for a `kind:` nobody registered."""
    if manifest_kind == ASSISTANT_MANIFEST_KIND:
        return ASSISTANT
    kind = BY_MANIFEST_KIND.get(manifest_kind)
    return kind.name if kind else None


# The assistant's fields that point at other kinds (API.md "Other resource kinds"): the facts the graph reads.
ASSISTANT_REFERENCES: tuple[FieldFacts, ...] = (
    FieldFacts("tool_ids", shown=False, ref="tool", many=True),
    FieldFacts("knowledgebase_id", ref="knowledgebase"),
    FieldFacts("folder_id", shown=False, ref="folder"),
    FieldFacts("label_ids", shown=False, ref="label", many=True),
    FieldFacts("phone_number_id", ref="number"),
)
# The kinds of manifests an address in a reference field of kind K may name, where it is not K itself:
# a phone number is named by the SIP trunk that is one (numbers themselves are never manifests).
ADDRESS_TARGETS: dict[str, tuple[str, ...]] = {"number": ("siptrunk",)}


def reference_facts(kind: str) -> tuple[FieldFacts, ...]:
    """The reference fields of a kind's spec."""
    if kind == ASSISTANT:
        return ASSISTANT_REFERENCES
    return tuple(f for f in KINDS[kind].fields if f.ref)


def address_targets(ref_kind: str) -> tuple[str, ...]:
    """The kinds an address in a reference to `ref_kind` may name."""
    return ADDRESS_TARGETS.get(ref_kind, (ref_kind,))
