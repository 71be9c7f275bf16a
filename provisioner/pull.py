"""`provisioner pull`, the decisions: which drifted fields of a plan go back into which manifest file, in which
words, and which cannot (and why). Pure: the plan, the manifests, the platform's values and the state's ids in;
edits and reasons out. workflow/pull.py reads, writes and records; yaml_splice.py edits the text.

A field is pulled when the plan marks it as drift: the platform's value changed since the last apply while the
manifest did not. It is written in the manifest's terms (the kinds' and wire.py's read mappings already give
those; an id of a managed object becomes its address), in place, where the manifest sets it. It is not written,
and is named with the reason, when
- its value is secret (shown by name only, never in clear);
- a workspace overlay sets it (the overlay's file:line), or `${var.X}` / `${env.X}` does (where X is set);
- the manifest changed it since the last apply too (the manifest's edit is what apply will send);
- the platform's value cannot be read whole (a header shown without its value).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .kinds import ASSISTANT, KINDS, manifest_address, reference_facts
from .kinds.base import E164, UNKNOWN
from .json_text import holds
from .manifest import Manifest
from .plan import Action, Plan
from .planner import same
from .scrub import holds_credentials
from .variables import Reference, TemplateError, escaped, parse
from .wire import PROJECTED_FIELDS, WRITE_ONLY_FIELDS, comparable

# Selection of what to pull: (address, labels) -> whether to. `--target` today; selection.py's predicate (globs,
# --exclude, -l) plugs in here unchanged.
Selector = Callable[[str, Mapping[str, str]], bool]


@dataclass(frozen=True)
class Edit:
    """A value to write: `path` inside the YAML document of `file` that holds the manifest of `address`."""

    address: str
    field: str
    file: str
    manifest_kind: str
    name: str                 # metadata.name of the document (which document of the file)
    path: tuple
    value: Any
    # The line of `path` in `file` as loaded, or of the mapping that leaves it out (where the value is added): what
    # a value the manifests cannot hold points at. None when that mapping is not in `file` (an overlay's).
    line: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A drifted (or differing) field that is not written, and why."""

    address: str
    field: str
    reason: str
    file: str | None = None  # the manifest file it is in, when known (a refused value's)
    line: int | None = None  # and the line there (Edit.line)
    path: tuple = ()         # and where it is in its document (Edit.path): spec.documents[0].name for a document's


@dataclass
class Decisions:
    edits: list[Edit] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # address -> the write-only fields its manifest sets: the platform never shows them, so a dashboard change to
    # them can be neither seen nor pulled (said once, as a note).
    write_only: dict[str, list[str]] = field(default_factory=dict)


def targets_selector(targets: Iterable[str] | None, excluded: Iterable[str] = ()) -> Selector:
    """--target (None or empty: every address) less --exclude as a Selector: the address itself (`assistant.x`
    names `x`), and a parent's its children (`knowledgebase.faq` selects `knowledgebase.faq.pricing`)."""
    wanted = {manifest_address(t) for t in targets or ()}
    left_out = {manifest_address(e) for e in excluded}

    def under(address: str, addresses: set[str]) -> bool:
        return address in addresses or any(address.startswith(a + ".") for a in addresses)

    return lambda address, labels: (not wanted or under(address, wanted)) and not under(address, left_out)


def selection_selector(selection) -> Selector:
    """A run's selection (selection.Selection: --target globs, --exclude, -l) as a Selector."""
    if selection.nothing:
        return lambda address, labels: False
    return targets_selector(selection.targets, selection.excluded)


def decide(plan: Plan, manifests: Iterable[Manifest], live: Mapping[str, Mapping[str, Any]],
           applied: Mapping[str, Mapping[str, Any]], addresses: Mapping[tuple[str, int], str], objects: Mapping[str, list], raw: Callable[[Manifest, tuple], Any],
           variable_origin: Callable[[str], str | None], selected: Selector) -> Decisions:
    """`live`: address -> the platform's fields in manifest terms (ids for references). `addresses`: (kind, id) ->
    the address that manages it. `objects`: the platform's lists per kind (numbers' E.164, `{name:}` lookups).
    `raw(manifest, path)`: the value as written in its file before variables (None when absent).
    `variable_origin(name)`: where a variable is set."""
    by_address = {m.address: m for m in manifests}
    result = Decisions()
    for manifest in by_address.values():
        if manifest.address in applied and selected(manifest.address, manifest.labels):
            hidden = [n for n in manifest.fields if n in write_only_fields(manifest.kind)
                      and _path(manifest, n) in manifest.document.locations]  # as written (not a digest)
            if hidden:
                result.write_only[manifest.address] = hidden
    for change in plan.changes:
        manifest = by_address.get(change.address)
        if manifest is None or not selected(change.address, manifest.labels):
            continue
        if change.action is Action.IMPORT:
            result.skipped.append(Skipped(change.address, "(all fields)", "not in state yet: `apply` (or `import`) "
                                          "adopts the platform's object first; then pull compares it"))
            continue
        if change.action is not Action.UPDATE and not (change.replace and change.remote_id is not None):
            continue
        fields = live.get(change.address, {})
        for diff in change.fields:
            name = diff.field
            reason = _not_pulled(manifest, name, diff, raw, variable_origin, applied.get(change.address, {}))
            value = None
            if reason is None:
                if name not in fields:
                    reason = "the platform does not show it back (write-only): nothing to pull"
                else:
                    value = _manifest_value(manifest, name, fields[name], raw(manifest, _path(manifest, name)),
                                            addresses, objects)
                    if _holds_unknown(value):
                        reason = "the platform shows it only in part (a value it never shows back)"
                    elif holds_credentials(value):
                        reason = ("the platform's value holds what looks like a credential (a URL's user:password@, "
                                  "a key or token in its query, a bearer token): never written into a manifest in "
                                  "clear; set it through ${env.X} or by hand")
            if reason is not None:
                result.skipped.append(Skipped(change.address, name, reason))
                continue
            document_kind = manifest.document.content.get("kind") if isinstance(manifest.document.content, dict) \
                else None
            parent_name = manifest.document.content.get("metadata", {}).get("name")
            path = _path(manifest, name)
            result.edits.append(Edit(change.address, name, manifest.document.file, str(document_kind),
                                     str(parent_name), path, value, _line(manifest, path)))
    return result


def _line(manifest: Manifest, path: tuple) -> int | None:
    """The line of `path` in the manifest's own file (of its parent when the manifest leaves it out)."""
    where = manifest.document.locate(path)
    return where.line if where.file == manifest.document.file else None


def write_only_fields(kind: str) -> frozenset[str]:
    """The fields of a kind the platform never shows back."""
    if kind == ASSISTANT:
        return WRITE_ONLY_FIELDS
    return frozenset(f.name for f in KINDS[kind].fields if not f.shown and f.name != KINDS[kind].parent_field)


def _path(manifest: Manifest, name: str) -> tuple:
    """Where a field is in its document: spec.NAME, or inside the parent's entry for a child (a document)."""
    return (*getattr(manifest, "prefix", ("spec",)), name)


def _not_pulled(manifest: Manifest, name: str, diff, raw, variable_origin, applied: Mapping[str, Any]) -> str | None:
    path = _path(manifest, name)
    if diff.sensitive or name in manifest.sensitive:
        return "sensitive: the platform holds another value, which is never written in clear; set the new " \
               "value where the manifest's value comes from"
    overlay = sorted({str(loc) for p, loc in manifest.document.locations.items()
                      if p[:len(path)] == path and loc.file != manifest.document.file})
    if overlay:
        return f"set by the workspace overlay at {overlay[0]}: edit it there"
    written = raw(manifest, path)
    references = _references(written)
    if references:
        where = []
        for reference in references:
            if reference.namespace == "env":
                where.append(f"{reference} comes from the environment variable {reference.name}")
            else:
                origin = variable_origin(reference.name)
                where.append(f"{reference} is set at {origin}" if origin else f"{reference} is not set in a file")
        return "its value comes from a variable: " + "; ".join(where)
    # A default the manifest leaves out, recorded as applied (kinds record their defaults): drift all the same.
    unset_default = diff.reset and name in applied and same(applied[name], diff.after)
    if not diff.drift and not unset_default:
        if diff.source != "platform" and not diff.before_known:  # adopted or imported: never applied from here
            return "write-only, and what the platform holds is unknown since the import: apply sends it"
        if diff.source != "platform":
            return "changed in the manifest since the last apply (write-only: apply sends it)"
        return "changed in the manifest since the last apply as well: apply sends the manifest's value (or edit " \
               "it by hand to take the platform's)"
    return None


def _references(value: Any) -> list[Reference]:
    found: list[Reference] = []
    if isinstance(value, str) and "${" in value:
        try:
            found += [p for p in parse(value) if isinstance(p, Reference)]
        except TemplateError:
            pass
    elif isinstance(value, dict):
        for item in value.values():
            found += _references(item)
    elif isinstance(value, list):
        for item in value:
            found += _references(item)
    return found


def _holds_unknown(value: Any) -> bool:
    return holds(value, lambda item: item is UNKNOWN)


def _manifest_value(manifest: Manifest, name: str, value: Any, written: Any,
                    addresses: Mapping[tuple[str, int], str], objects: Mapping[str, list]) -> Any:
    """The platform's value in the words the manifest used: a projection of what it states (assistant tools,
    filler_config), references as addresses where the object is managed here."""
    if manifest.kind == ASSISTANT and name in PROJECTED_FIELDS:
        value = comparable(name, value, written)
    value = escaped(value)
    facts = next((f for f in reference_facts(manifest.kind) if f.name == name), None)
    if facts is None or value is None:
        return value
    if facts.many and isinstance(value, list):
        old = written if isinstance(written, list) else []
        return [_reference(v, facts.ref, old[i] if i < len(old) else None, addresses, objects)
                for i, v in enumerate(value)]
    return _reference(value, facts.ref, written, addresses, objects)


def _reference(value: Any, ref: str, written: Any, addresses: Mapping[tuple[str, int], str],
               objects: Mapping[str, list]) -> Any:
    """An id -> the address of the managed object it is; else as the manifest wrote such a reference (an E.164
    number, `{name: ...}`), else the id."""
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    for kind in ("siptrunk", "number") if ref == "number" else (ref,):
        address = addresses.get((kind, value))
        if address is not None:
            return f"assistant.{address}" if kind == ASSISTANT and "." not in address else address
    listed = {o.id: o for o in objects.get(ref, [])}
    if isinstance(written, str) and E164.fullmatch(written) and value in listed:
        number = listed[value].fields.get("phone_number")
        if isinstance(number, str):
            return number
    if isinstance(written, dict) and set(written) == {"name"} and value in listed:
        return {"name": listed[value].name}
    return value

