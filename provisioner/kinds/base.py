"""The contract every managed kind fulfils: a table of facts, not a code path (docs/graph.md).

A kind is one small module in `provisioner/kinds/` that builds one `Kind`:
its manifest model (pydantic, strict), per field the facts the generic
planner needs (`FieldFacts`), its wire mapping (platform item -> manifest
terms; manifest fields with resolved ids -> request body) and its endpoints
(`Endpoints`). The planner, the graph walk, state, renderers, import and
export read these facts and never branch on a kind's name.

References. A field whose `FieldFacts.ref` names a kind takes, in a manifest,
one syntax for every kind:

- an address of a manifest in the repository: `"tool.order-lookup"`
  (`<kind>.<metadata.name>`; an assistant is `assistant.<name>`);
- a lookup by name of an object nobody manages: `{name: "Order lookup"}`;
- a raw platform id: `4412` (still works, as before);
- for phone numbers only, an E.164 string: `"+14155550100"`.

`parse_reference` turns such a value into a `Reference`; validation checks
addresses (unknown, wrong kind, cycle) with file:line before any call; the
graph resolves a reference to an id only once the referenced object exists
(until then a plan shows `(known after apply)`).

Validation context. The engine validates every spec with
`spec_model.model_validate(raw, strict=True, context={MANIFEST_FILE: <the
manifest's path>, ROOT: <the directory files must stay in; optional>})`, so
that a spec whose fields name files (a knowledge base's documents) checks them
offline (exist, regular, size, inside the repository) as field errors like any
other. Specs of other kinds ignore the context.

Each kind's models are built on first use (`defer_build`): every command imports every kind, and a run whose
manifests hold no campaign never pays for the campaign's validator (about 0.02 s of CPU for all the kinds).
The modules that define models (spec.py, config.py and the kinds') do not postpone their annotations (`from
__future__ import annotations`): pydantic would compile each field's annotation again from its text when it
builds the class, about 0.008 s of every run for those few hundred fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Optional

from pydantic import AfterValidator, BaseModel, Field

from ..redaction import digest, is_digest
from ..patterns import LazyPattern
from ..reference_syntax import (ADDRESS, E164, NAME, Reference, _parse_reference, parse_reference,  # noqa: F401
                                reference_value)

# The address of an object declared inside another's manifest (a document in its knowledge base's
# `spec.documents`): the parent's address, then the child's own name: `knowledgebase.faq.pricing-page`.
CHILD_ADDRESS = LazyPattern(rf"(?P<kind>[a-z]+)\.(?P<parent>{NAME})\.(?P<name>{NAME})")
MANIFEST_FILE = "manifest_file"   # validation context keys (above)
ROOT = "root"


class _Missing:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _Missing()


@dataclass(frozen=True)
class FieldFacts:
    """What the generic planner must know about one manifest field of a kind."""

    name: str
    # Shown back by the platform's read shape: compared with the platform (drift). False: write-only, compared with
    # what state recorded as sent (sip_password, tool_ids, a campaign's assistant_id, a document's content).
    shown: bool = True
    sensitive: bool = False      # never in plans, logs, state (a digest), JSON; a change shown by name only
    replace: bool = False        # cannot be updated in place: a change replaces the object (new id)
    ref: Optional[str] = None    # the kind this field points at (its value is a Reference, or a list of them)
    many: bool = False           # a list of references (tool_ids, label_ids, phone_number_ids)
    # A list the platform takes as a set (API.md: an assistant's tools and labels, "the wanted set"): the same ids in
    # another order are no change. A campaign's phone_number_ids keep their order (the calls rotate through them).
    unordered: bool = False
    # the platform's documented default when the manifest leaves it out (may be a list: kept out of the hash, so a
    # Kind stays hashable)
    default: Any = field(default=NO_DEFAULT, hash=False)
    # Send only when its value changed since state recorded it (sip_password re-creates voice trunks).
    send_only_on_change: bool = False
    # A sensitive mapping whose keys are not secret (a tool's header names): state keeps a digest per key
    # (`hide`), and a change is shown by key only (`keyed_changes`), never by value.
    keys_shown: bool = False


def text(low: int = 0, high: Optional[int] = None) -> Any:
    """A string of `low` to `high` characters, for kinds' spec models, whose message says both bounds (a bare
    min_length reads "must not be empty" for a 3-character minimum)."""
    def check(value: str) -> str:
        if len(value) < low or (high is not None and len(value) > high):
            bounds = f"{low}-{high} characters" if high is not None and low else (
                f"at most {high} characters" if high is not None else f"at least {low} characters")
            raise ValueError(f"must be {bounds} (it has {len(value)})")
        return value
    return Annotated[str, AfterValidator(check), Field(json_schema_extra={
        key: bound for key, bound in (("minLength", low or None), ("maxLength", high)) if bound is not None})]


class _Unknown:
    """A value the platform did not show back (a header read without its `value`): never drift."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def matches(wanted: Any, seen: Any) -> bool:
    """Whether a read value agrees with the wanted one; UNKNOWN anywhere in `seen` agrees with anything there
    (a read cannot show drift in what it does not show). Mappings compare by keys, lists by position."""
    if seen is UNKNOWN:
        return True
    if isinstance(wanted, dict) and isinstance(seen, dict):
        return wanted.keys() == seen.keys() and all(matches(wanted[k], seen[k]) for k in wanted)
    if isinstance(wanted, list) and isinstance(seen, list):
        return len(wanted) == len(seen) and all(matches(w, s) for w, s in zip(wanted, seen))
    if isinstance(wanted, bool) or isinstance(seen, bool):  # True == 1 in Python, not on the wire
        return type(wanted) is type(seen) and wanted == seen
    return wanted == seen


def hide(value: Any, facts: "FieldFacts") -> Any:
    """What state and plan files keep of a sensitive field's value: a digest, per key for `keys_shown`."""
    if not facts.sensitive or value is None or is_digest(value):
        return value
    if facts.keys_shown and isinstance(value, dict):
        return {key: v if is_digest(v) else digest(v) for key, v in value.items()}
    return digest(value)


def keyed_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """A keys_shown mapping's change by key only: ["Authorization (changed)", "X-Trace (added)"]. Either side
    may hold clear values or per-key digests (`hide`); UNKNOWN on either side is not a change."""
    before, after = before or {}, after or {}

    def fingerprint(value: Any) -> Any:
        return value if value is UNKNOWN or is_digest(value) else digest(value)

    lines = []
    for key in sorted(before.keys() | after.keys(), key=str):
        if key not in after:
            lines.append(f"{key} (removed)")
        elif key not in before:
            lines.append(f"{key} (added)")
        elif UNKNOWN not in (before[key], after[key]) and fingerprint(before[key]) != fingerprint(after[key]):
            lines.append(f"{key} (changed)")
    return lines


@dataclass(frozen=True)
class ReadProblem:
    """A value in the platform's answer that could not be read: nothing is decided from it."""

    field: str
    message: str


@dataclass(frozen=True)
class ChildNode:
    """An object declared inside another's manifest (a document in its knowledge base's `spec.documents`): its own
    graph node of kind `kind`, created after its parent (which it depends on) and gone when its parent is deleted."""

    kind: str                        # "document"
    address: str                     # "knowledgebase.faq.pricing-page" (CHILD_ADDRESS)
    parent: str                      # the parent's address: "knowledgebase.faq"
    fields: dict[str, Any]           # manifest-term values, as the child kind's FieldFacts name them
    path: tuple[str | int, ...] = () # where it is declared in the parent's manifest, for file:line: ("spec", "documents", 0)


@dataclass(frozen=True)
class Endpoints:
    """How one kind is listed, created, updated and deleted. `parent` is the id of the owning object for kinds
    listed under another (a knowledge base's documents), else None. Each function uses the client's generic
    request (rate budget, retries, deadlines, answer checks) and returns platform items (plain dicts)."""

    list: Callable[..., list[dict[str, Any]]]                 # (client, parent) -> items
    create: Callable[..., dict[str, Any]]                     # (client, body, parent) -> item
    update: Optional[Callable[..., dict[str, Any]]]           # (client, id, body, parent) -> item; None: no update
    # (client, id, parent) -> None; a 404 raises NotFoundError: gone only if a list read after it agrees (apply.py)
    delete: Callable[..., None]
    # Before a delete whose endpoint is shared with another kind (a SIP trunk and a number release): confirm the
    # id really is this kind's, else refuse. (client, id) -> bool
    confirm_delete: Optional[Callable[..., bool]] = None
    # Asynchronous readiness (a document being processed): (item, current, parent) -> "ready" | "pending" | message
    # of failure, where `current` is the object as `list` under its parent shows it in a read that began after its
    # create was answered (None: that list lacks it). The graph waits for it as a step, with a deadline and
    # progress; the objects waiting under one parent share the list reads (apply._Waiting, shared_reads.py).
    readiness: Optional[Callable[..., str]] = None
    # Where the platform is with a listed object of such a kind: (item) -> "ready" | "pending" | "failed" |
    # "unknown". A plan waits again for one still pending, and replaces one that failed (plan_kinds.plan_object).
    stage: Optional[Callable[[dict[str, Any]], str]] = None


@dataclass(frozen=True)
class Action:
    """A field the platform changes through a call of its own, never through a create or update body: a
    campaign's `status`, changed by start/stop. The planner compares such a field only through `plan` (never by
    equality), never replaces the object for it, and runs the action after the object's create or replacement.
    A field with an action and no default is unmanaged unless the manifest sets it."""

    field: str
    # (manifest value, the platform's value as `Kind.read` gives it, None for an object not created yet) ->
    # the action to run ("start"), or None when there is nothing to do. Not called when the manifest leaves the
    # field out, nor when the read reported a `ReadProblem` for it (nothing is decided from an unreadable value).
    plan: Callable[[Any, Any], Optional[str]]
    # (client, id, action) -> the field's new value in manifest terms (None: the answer did not say). A refusal
    # raises ApiError with a message that says why and what to do.
    run: Callable[..., Any]
    # action -> what it does in the world, for plans ("places real calls and spends the account's balance").
    notes: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass
class ChildExport:
    """What an exported manifest's children need before it can be applied: settings to fill in (where they are in
    the file) and files to put in place (paths relative to the manifest), with why."""

    fill_in: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Kind:
    """One managed kind, as data."""

    name: str                      # "tool": address prefix, state kind column, JSON `kind`
    manifest_kind: str             # "Tool": the manifest's `kind:`
    title: str                     # "mid-call tool": for messages
    spec_model: type[BaseModel]    # the manifest's spec, strict; rules that span fields in its validators
    fields: tuple[FieldFacts, ...]
    endpoints: Endpoints
    # platform item -> (manifest-term values of the shown fields, problems); the id and name are read generically.
    read: Callable[[dict[str, Any]], tuple[dict[str, Any], list[ReadProblem]]]
    # (manifest fields with every reference resolved to ids, for create or update) -> request body
    create_body: Callable[[dict[str, Any]], dict[str, Any]]
    update_body: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None
    name_field: str = "name"       # the platform's name of an object: adoption and `{name: ...}` lookups
    unique_names: bool = False     # the platform refuses two of one name (folders, labels)
    # Replacing it destroys data the user cannot get back (a campaign's leads): apply refuses without a flag.
    replace_loses: Optional[str] = None
    # Whether a replacement creates the new object before destroying the old one (two exist for a moment).
    # None: yes, unless names are unique (then the old one must go first). A kind whose platform refuses two
    # alike for another reason (a SIP trunk's number, username and address) says False.
    create_before_destroy: Optional[bool] = None
    # Created, read and deleted with a parent (a document under its knowledge base): the parent's field.
    parent_field: Optional[str] = None
    # Never created or deleted by the provisioner, only referenced (phone numbers).
    reference_only: bool = False
    # Spec paths whose values are files relative to the manifest that writes them ("*": every item of a list): a
    # knowledge base's documents[].file. A workspace's overlay that sets one means a file beside the overlay.
    file_paths: tuple[tuple[str, ...], ...] = ()
    # Cross-manifest rules checked once the whole graph is known: (spec, graph) -> [(field path, message)].
    # `graph` maps each reference field of the spec to what it points at, as far as it is known: the referenced
    # manifest's spec at validate time (the object is in the repository), else the platform's read-shape item at
    # plan time; a list for a `many` field; a field whose target is not known yet is left out.
    check_graph: Optional[Callable[..., list[tuple[tuple, str]]]] = None
    # The key under which the platform refuses two objects, for kinds without a unique name (a SIP trunk's phone
    # number, username and address): (manifest-term fields, from a spec or from `read`) -> a hashable key, or
    # None. Adoption and the recovery of a lost create match on it; None: match on `name_field`.
    identity: Optional[Callable[[dict[str, Any]], Any]] = None
    # The spec fields `identity` reads (where validation points at two manifests alike, which the platform refuses).
    identity_fields: tuple[str, ...] = ()
    # Other kinds whose addresses a reference to this kind may name (a SIP trunk is a phone number).
    accepts: tuple[str, ...] = ()
    # Objects declared inside this kind's manifest that are graph nodes of their own (a knowledge base's
    # documents): (metadata.name, validated spec) -> [ChildNode]. Pure: no platform call.
    children: Optional[Callable[..., list[ChildNode]]] = None
    # For `export`: (client, the object's id, its metadata.name) -> (the spec entries that declare its children,
    # e.g. {"documents": [...]}, and a ChildExport of what the user must supply that the platform cannot give).
    export_children: Optional[Callable[..., tuple[dict[str, Any], "ChildExport"]]] = None
    # Fields changed by an action of their own rather than a body (a campaign's start/stop): see `Action`.
    actions: tuple[Action, ...] = ()

    @property
    def address_targets(self) -> tuple[str, ...]:
        """The kinds of manifests an address in a reference to this kind may name: the kind itself (unless it is
        only referenced, never a manifest: numbers), then the kinds `accepts` names (a SIP trunk is a number)."""
        return (() if self.reference_only else (self.name,)) + self.accepts

    @property
    def by_name(self) -> dict[str, FieldFacts]:
        return {f.name: f for f in self.fields}

    def facts(self, name: str) -> FieldFacts:
        return self.by_name[name]

    @property
    def parent_kind(self) -> str | None:
        """The kind whose object this one lives under (a document's: knowledgebase), None for a kind on its own."""
        return self.facts(self.parent_field).ref if self.parent_field else None

    def action(self, name: str) -> Optional[Action]:
        """The action that changes field `name`, or None for a field a body sets."""
        return next((a for a in self.actions if a.field == name), None)

    def update_sends(self, body: dict[str, Any]) -> dict[str, Any]:
        """What an update or an adoption with `body` sends: a child's body always names its parent, which goes in
        the request's path, so that alone sends (and changes) nothing."""
        return {k: v for k, v in body.items() if k != self.parent_field}
