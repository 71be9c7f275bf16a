"""The pure diff: (manifests, state, platform) -> Plan. No I/O happens here.

Each address is decided once, from three sources:
- the manifest (what git wants),
- the state entry (which platform id it is, and the spec last applied),
- the platform's assistant (what is really there).
Readable fields are compared with the platform; write-only fields, which the
platform never shows back, with the last applied spec. A field a manifest
leaves out is compared with the platform's default, so git describes the whole
assistant and a removed field goes back to its default without flapping.
"""
from __future__ import annotations

import functools
import marshal
import operator
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping


from .errors import PlanError, Problem, closest_addresses
from .kinds import ASSISTANT_REFERENCES
from .json_text import SCALAR_TYPES
from .manifest import Manifest
from .plan import Action, Change, FieldChange, Plan, StateSync
from .redaction import SENSITIVE, digest, digest_fields
from .spec import DEFAULT_DIALECT, fields_of, has_default, platform_default, secret_fields
from .state import Owner, ResourceState, State
from .wire import (PROJECTED_FIELDS, READABLE_FIELDS, WRITE_ONLY_FIELDS, Lookups, ReadProblem, companions, comparable,
                   desired_comparable, read_fields, read_items, tuple_getter)


WRITE_ONLY_NOTE = ("Fields marked (write-only) are never shown back by the platform; they are compared with the "
                   "spec last applied by the provisioner, so changes made to them outside it go unseen.")


def canonical(value: Any) -> Any:
    """A form in which equal values are equal: 1 and 1.0 alike, mappings unordered (for digests)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        # Decimal strings read back ("0.70") and YAML floats (0.7) must meet: compare at a fixed precision.
        value = round(value, 9)
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


# Types whose values are `same` exactly when ==, if both sides have the type (a bool never meets an int here); and
# whose equal values of the very same type are identical (no NaN, no -0.0, nothing inside).
_EXACT = frozenset({str, int, bool, type(None)})


def shows_write_only(changes: Iterable[Change]) -> bool:
    """Whether a plan of these changes shows a field marked (write-only), which WRITE_ONLY_NOTE explains."""
    return any(f.source == "last-applied" for c in changes for f in c.fields)


def empty_setting(value: Any) -> bool:
    """An empty setting: null, `[]`, `{}`, `""`, or what state records of one marked sensitive (its digest). Of a
    field the platform never shows, it is no setting (docs/graph.md): added or removed, it changes nothing."""
    if value is None:
        return True
    if type(value) is str:
        return not value or value in _EMPTY_DIGESTS
    return not value if type(value) in (list, dict) else False


_EMPTY_DIGESTS = frozenset(digest(empty) for empty in ([], {}, ""))


def same(a: Any, b: Any) -> bool:
    """Equal as values: 1 and 1.0 alike (floats to 9 decimals, as decimal strings read back), mappings
    unordered, lists in order; a boolean never equals a number. One pass, stopping at the first difference,
    which is what a fleet's no-change plan spends its comparing on."""
    kind = type(a)
    if kind is type(b) and kind in _EXACT:  # most fields: same-typed text, whole numbers, booleans, null
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return round(float(a), 9) == round(float(b), 9)
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        theirs = {str(k): v for k, v in b.items()}
        return all(str(k) in theirs and same(v, theirs[str(k)]) for k, v in a.items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def equal_values(a: Any, b: Any) -> bool:
    """`same`, for JSON values (text keys), with the common case in C: values `identical` (equal in every
    respect: types, mapping order, no NaN) are `same`; the others (1 and 1.0, 0.7 and 0.70000000001, mappings in
    another order) are left to `same`. A full manifest's nested fields (a post-call schema, variables) were most
    of its comparing."""
    return identical(a, b) or same(a, b)


@dataclass(frozen=True)
class RemoteAssistant:
    id: int
    name: str
    fields: dict[str, Any]  # the settings the platform shows, normalised to manifest values (wire.read_fields)
    item: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)  # as the platform listed it
    problems: tuple[ReadProblem, ...] = ()  # values that could not be normalised

    @classmethod
    def from_item(cls, item: dict[str, Any], lookups: Lookups) -> "RemoteAssistant":
        fields, problems = read_fields(item, lookups)
        return cls(int(item["id"]), str(item.get("name", "")), fields, item, tuple(problems))

    @classmethod
    def read_all(cls, items: list[dict[str, Any]], lookups: Lookups) -> list["RemoteAssistant"]:
        """from_item of every item of one list read (wire.read_items: repeated values converted once)."""
        return [cls(int(item["id"]), str(item.get("name", "")), fields, item, tuple(problems))
                for item, (fields, problems) in zip(items, read_items(items, lookups))]

    @classmethod
    def listed(cls, items: list[dict[str, Any]]) -> list["RemoteAssistant"]:
        """Every item as listed, without its fields (none read, none doubtful): for a destroy, which decides from
        the ids and names alone."""
        return [cls(int(item["id"]), str(item.get("name", "")), {}, item) for item in items]

    @property
    def fingerprint(self) -> str:
        """Digest of the whole item, to tell if it changed since a plan (only the changes planned need one)."""
        return digest(self.item)


def desired_fields(fields: dict[str, Any], dialect: str = DEFAULT_DIALECT) -> dict[str, Any]:
    """The managed settings: the ones a manifest sets, and the documented defaults of those it leaves out.

    A setting with no documented default that the manifest leaves out is not managed (not here)."""
    template = _TEMPLATES.get((dialect, tuple(fields)))
    if template is None:
        template = _template(dialect, tuple(fields))
    if template is None:  # the manifest sets a field this dialect does not manage
        return _desired_each(fields, dialect)
    # The template holds the managed names in the spec's order, with their defaults: the manifest's values take
    # their places (they are all among its keys), in two C calls instead of a Python step per field.
    desired = template.copy()
    desired.update(fields)
    return desired


def _desired_each(fields: dict[str, Any], dialect: str) -> dict[str, Any]:
    """desired_fields, field by field (the path the template shortcut must agree with)."""
    return {name: fields[name] if name in fields else default
            for name, default, defaulted in _managed(dialect) if defaulted or name in fields}


# (dialect, the names a manifest sets, in its order) -> its managed names in the spec's order with their defaults
# (None: it sets a name the dialect does not manage). A fleet's manifests share a few such shapes.
_TEMPLATES: dict[tuple[str, tuple[str, ...]], dict[str, Any] | None] = {}


def _template(dialect: str, names: tuple[str, ...]) -> dict[str, Any] | None:
    key = (dialect, names)
    try:
        return _TEMPLATES[key]
    except KeyError:
        pass
    if len(_TEMPLATES) > 1000:  # bounded: manifests of many shapes must not grow it without end
        _TEMPLATES.clear()
    managed = _managed(dialect)
    if not set(names) <= {name for name, _, _ in managed}:
        template = None
    else:
        template = {name: default for name, default, defaulted in managed if defaulted or name in names}
    _TEMPLATES[key] = template
    return template


@functools.cache
def _managed(dialect: str) -> tuple[tuple[str, Any, bool], ...]:
    """(name, documented default, has one) of every field of a dialect, in the spec's order: looked up once, not
    per field of every manifest."""
    return tuple((name, platform_default(name), has_default(name)) for name in fields_of(dialect))


# Readable fields whose values are text, numbers, booleans or null (plainly_equal compares them all at once);
# the projected ones are compared in the manifest's terms, the nested ones by `same`. Only a speed choice: a
# field here that holds a mapping or a list makes plainly_equal say "compare field by field".
_PLAIN_READABLE = READABLE_FIELDS - PROJECTED_FIELDS - {"variables", "post_call_schema", "end_call_tool"}
# Values whose `same` is `==` when both have the same one of these types: JSON's scalars (json_text.SCALAR_TYPES).
_GETTERS: dict[frozenset[str], Any] = {}


def plainly_equal(desired: Mapping[str, Any], shown: Mapping[str, Any], names: frozenset[str]) -> bool:
    """True only if every field of `names` is `same` in both (False says nothing: compare field by field).

    The values of both sides as two tuples, compared in C: equal tuples of values of the same scalar types
    (text, whole numbers, floats, booleans, null) are `same` field by field (a boolean never meets a number
    here, as the types must match; equal floats are equal to 9 decimals). A mapping or a list is left to `same`.
    A fleet's no-change plan then compares its fields without a Python call per field."""
    if len(names) < 2:
        return False
    getter = _GETTERS.get(names)
    if getter is None:
        getter = _GETTERS.setdefault(names, operator.itemgetter(*sorted(names)))
    wanted, seen = getter(desired), getter(shown)
    # == value by value (a tuple's == would take an object for equal to itself: a NaN too)
    if not all(map(operator.eq, wanted, seen)):
        return False
    types = tuple(map(type, wanted))
    return types == tuple(map(type, seen)) and SCALAR_TYPES.issuperset(types)


def _not_plainly_equal(desired: Mapping[str, Any], shown: Mapping[str, Any], names: frozenset[str]) -> set[str] | None:
    """The fields of `names` whose values are not plainly `same` (equal JSON scalars of one type, as plainly_equal
    takes them), the others being `same`; None when a desired value is no JSON scalar (compare field by field)."""
    differing = set()
    for name in names:
        wanted, seen = desired[name], shown[name]
        if type(wanted) not in SCALAR_TYPES:
            return None
        if type(wanted) is not type(seen) or wanted != seen:
            differing.add(name)
    return differing


def _default(name: str) -> Any:
    return platform_default(name)


def remote_snapshot(fields: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
    """What state keeps of the platform's view: the readable fields, sensitive ones digested (and those that hold a
    secret on the platform whatever the manifest says: a calendar tool added on the dashboard carries its key)."""
    secret = secret_fields(fields)
    return digest_fields({k: fields[k] for k in sorted(fields) if k in READABLE_FIELDS},
                         {*sensitive, *secret} if secret else sensitive)


def record_for(manifest: Manifest, remote_fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "spec": digest_fields(manifest.fields, manifest.sensitive),
        "protect": manifest.protect,
        "sensitive": sorted(manifest.sensitive),
        "remote": remote_snapshot(remote_fields, manifest.sensitive),
        "source": manifest.document.state_source,
    }


# The unknown --target addresses given a did-you-mean (and of the rest, how many are named): each suggestion
# compares its address with every address the run knows, so 4,000 typos over a 10,000 fleet took about 87 s.
SUGGESTED_TARGETS = 20


def unknown_target_problems(unknown: list[str], known: Iterable[str]) -> list[Problem]:
    """A problem with its closest addresses for each of the first SUGGESTED_TARGETS of `unknown`, and one that
    names 20 of the rest and counts them, as the targeted plan's warning names its targets."""
    choices = sorted(set(known))  # once for all of them
    problems = [unknown_target_problem(t, choices) for t in unknown[:SUGGESTED_TARGETS]]
    rest = unknown[SUGGESTED_TARGETS:]
    if rest:
        more = f" and {len(rest) - SUGGESTED_TARGETS} more" if len(rest) > SUGGESTED_TARGETS else ""
        problems.append(Problem(f"--target: {len(rest)} more addresses name no manifest and nothing in state "
                                f"(suggestions are made for the first {SUGGESTED_TARGETS}): "
                                f"{', '.join(rest[:SUGGESTED_TARGETS])}{more}"))
    return problems


def unknown_target_problem(target: str, known: Iterable[str]) -> Problem:
    return Problem(f"--target {target!r} names no manifest and nothing in state{closest_addresses(target, known)}",
                   address=target)


def adoption_refused(manifest: Manifest, live: RemoteAssistant, owner: Owner) -> Problem:
    """Adopting `live` by name would give it a second owner: say who has it, and how to move it for real."""
    return Problem(
        f"{manifest.address!r} would adopt the platform's assistant id {live.id} ({live.name!r}) by its name, but "
        f"{owner.describe()} of this state store manages it; one object has one owner. To move it here, run "
        f"`provisioner state rm {owner.address} --workspace {owner.workspace}` (with that project's settings), "
        f"then `provisioner import {manifest.address} {live.id}` in this workspace; or give this manifest another "
        "assistant_name (an overlay per workspace) so that it creates its own",
        manifest.location("spec", "assistant_name"), "spec.assistant_name", manifest.address)


def compute_plan(manifests: list[Manifest], state: State, remote: list[RemoteAssistant], *,
                 destroy: bool = False, targets: Iterable[str] = (), manifest_paths: Iterable[str] = (),
                 dialect: str = DEFAULT_DIALECT, foreign: Mapping[int, Owner] | None = None,
                 left_alone: Mapping[str, str] | None = None, allow_mass_destroy: bool = False,
                 replace: Iterable[str] = (), excluded: frozenset[str] = frozenset()) -> Plan:
    """`foreign`: platform ids that another workspace or project of the store manages (never adopted here).
    `left_alone`: address -> source file of the state entries whose manifest file exists but was not among the
    paths given (never destroyed for being absent). `excluded`: the addresses --exclude leaves as they are."""
    targets = sorted(set(targets))
    foreign = foreign or {}
    left_alone = {} if destroy else dict(left_alone or {})
    by_address = {m.address: m for m in manifests}
    unknown = [t for t in targets if t not in by_address and t not in state.resources]
    if unknown:
        raise PlanError(unknown_target_problems(unknown, [*by_address, *state.resources]))

    def wanted(address: str) -> bool:
        return not targets or address in targets

    remote_by_id = {r.id: r for r in remote}
    claimed = {entry.id for entry in state.resources.values()}
    unclaimed_by_name: dict[str, list[RemoteAssistant]] = defaultdict(list)
    for r in remote:
        if r.id not in claimed:
            unclaimed_by_name[r.name].append(r)
    changes: list[Change] = []
    syncs: list[StateSync] = []
    problems: list[Problem] = []
    notes: list[str] = []

    def readable(manifest: Manifest, live: RemoteAssistant) -> bool:
        """Nothing is decided from a value that could not be read."""
        for p in live.problems:
            problems.append(Problem(f"the platform's assistant id {live.id} ({live.name!r}) shows {p.read_field} "
                                    f"in a form the provisioner cannot read: {p.message}; nothing was planned "
                                    "from it", manifest.location("spec", p.field), f"spec.{p.field}",
                                    manifest.address))
        return not live.problems

    for manifest in ([] if destroy else manifests):
        if not wanted(manifest.address):
            continue
        entry = state.resources.get(manifest.address)
        live = remote_by_id.get(entry.id) if entry else None
        if live is not None:
            if live.problems and not readable(manifest, live):
                continue
            if manifest.address in replace:  # --replace: destroyed and created again, whatever changed
                changes.append(_replacement(manifest, entry, live, dialect))
                continue
            notes += _unmanaged_notes(manifest, entry, dialect)
            try:
                change = _update(manifest, entry, live, dialect)
            except _HalfUnknown as refused:
                problems.append(refused.problem)
                continue
            if change:
                changes.append(change)
            else:
                if refresh_owed(entry, manifest, _applied_spec(manifest)):
                    syncs.append(StateSync(manifest.address, record_for(manifest, live.fields)))
            continue
        candidates = unclaimed_by_name.get(manifest.spec.assistant_name, [])
        namesakes = [r for r in candidates if r.id not in foreign]
        if candidates and not namesakes:
            problems += [adoption_refused(manifest, r, foreign[r.id]) for r in candidates]
            continue
        if len(namesakes) > 1:
            ids = ", ".join(str(r.id) for r in namesakes)
            problems.append(Problem(
                f"the platform has {len(namesakes)} assistants named {manifest.spec.assistant_name!r} "
                f"(ids {ids}) and none is in state, so adopting one would be a guess; choose one with "
                f"`provisioner import {manifest.address} ID` (and delete or rename the others)",
                manifest.location("spec", "assistant_name"), "spec.assistant_name", manifest.address))
        elif namesakes:
            if readable(manifest, namesakes[0]):
                try:
                    changes.append(_adopt(manifest, entry, namesakes[0], dialect))
                except _HalfUnknown as refused:
                    problems.append(refused.problem)
        else:
            changes.append(_create(manifest, entry, dialect))

    managed_now = set() if destroy else set(by_address)
    kept = []
    for address in sorted(state.resources):
        if address in managed_now or not wanted(address):
            continue
        if address in left_alone:
            kept.append({"address": address, "source": left_alone[address]})
            continue
        entry = state.resources[address]
        manifest = by_address.get(address)
        protected = manifest.protect if manifest else entry.protect
        live = remote_by_id.get(entry.id)
        if live is None:
            changes.append(Change(address, Action.FORGET, str(entry.remote.get("assistant_name", "")),
                                  remote_id=entry.id, reason=f"id {entry.id} is already gone from the platform"))
            continue
        if protected:
            if address not in excluded:  # excluded, it is left as it is: no delete to refuse
                problems.append(_protected_problem(address, entry, manifest, destroy))
            continue
        why = "destroy requested" if destroy else "its manifest was removed"
        changes.append(Change(address, Action.DELETE, live.name, remote_id=live.id, reason=why,
                              remote_item=live.item))

    if problems:
        raise PlanError(problems)
    changes.sort(key=lambda c: c.address)
    for change in changes:
        renamed = change.action is Action.UPDATE and any(f.field == "assistant_name" for f in change.fields)
        unmanaged = [str(r.id) for r in unclaimed_by_name.get(change.assistant_name, [])] if renamed else []
        if unmanaged:
            notes.append(f"{change.address}: renaming to {change.assistant_name!r}, which assistant(s) "
                         f"{', '.join(unmanaged)} on the platform already have (not managed here).")
    if shows_write_only(changes):
        notes.append(WRITE_ONLY_NOTE)
    return Plan(changes, state.lineage, state.serial, syncs, destroy, list(targets),
                [str(p) for p in manifest_paths], notes, dialect=dialect, left_alone=kept,
                managed_count=len(state.resources), allow_mass_destroy=allow_mass_destroy)


def _protected_problem(address: str, entry: ResourceState, manifest: Manifest | None, destroy: bool) -> Problem:
    """A protected assistant would be deleted: the way out that works from where the user stands."""
    cause = "`destroy` would delete it" if destroy else "its manifest was removed, so it would be deleted"
    if manifest is not None:
        return Problem(f"assistant {address!r} (id {entry.id}) is protected, and {cause}; to allow this, set "
                       "metadata.protect: false in its manifest and apply first",
                       manifest.location("metadata", "protect"), address=address)
    source = f" ({entry.source})" if entry.source else ""
    return Problem(
        f"assistant {address!r} (id {entry.id}) is protected, and {cause}. Its manifest is not here to edit: to "
        f"keep it on the platform and stop managing it, run `provisioner state rm {address}`; to delete it, "
        f"restore its manifest{source} with metadata.protect: false, run `provisioner apply`, then remove the "
        "manifest and apply again", address=address)


def _applied_spec(manifest: Manifest) -> dict[str, Any]:
    """The spec state records for a manifest (digest_fields): its own fields when it sets no sensitive one (most
    manifests: webhook URLs are sensitive, and left out)."""
    fields = manifest.fields
    return fields if manifest.sensitive.isdisjoint(fields) else digest_fields(fields, manifest.sensitive)


def refresh_owed(entry: ResourceState, manifest: Manifest, applied: dict[str, Any] | None) -> bool:
    """Whether the state record of an object a plan leaves as it is must be refreshed (`applied`: the spec state
    would record for the manifest now). The platform's view in state is informative only (refresh, state show): a
    refresh is owed when what decides plans changed (the applied spec, protection, sensitivity, the source file),
    not on every read; and where a delete under way is marked (one found on the platform: its delete failed), which
    the refresh clears."""
    return (entry.deleting or entry.protect != manifest.protect
            or sorted(entry.sensitive) != sorted(manifest.sensitive)
            or entry.spec != applied
            or entry.source != manifest.document.state_source)


def no_longer_set(address: str, name: str) -> str:
    """How a plan's note on a field the manifest no longer sets begins (unmanaged_notes'; a SIP trunk's holder's,
    plan_graph.say_numbers_taken_from_unmanaged, says more)."""
    return f"{address}: spec.{name} is no longer set, so it is no longer managed"


def _unmanaged_notes(manifest: Manifest, entry: ResourceState, dialect: str) -> list[str]:
    """Settings without a documented default that the manifest no longer sets: the platform keeps them."""
    if not entry.spec or entry.spec.keys() <= manifest.fields.keys():  # most often none gone: one C step, no set
        return []
    gone = entry.spec.keys() - manifest.fields.keys()
    dropped = sorted(n for n in gone if not has_default(n) and n in fields_of(dialect))
    return [f"{no_longer_set(manifest.address, name)}; the platform keeps its current value (set it to null to "
            "clear it)." for name in dropped]


def _create(manifest: Manifest, entry: ResourceState | None, dialect: str) -> Change:
    # FieldChange(name, None, shown, before_known=False, sensitive=hidden), its fields given in order: keywords
    # cost twice the object itself, for each field of thousands of creates.
    hidden = manifest.sensitive
    fields = [FieldChange(name, None, SENSITIVE if name in hidden and value is not None else value, "platform",
                          False, False, False, name in hidden, [])
              for name, value in manifest.fields.items()]
    reason = (f"id {entry.id} is gone from the platform (deleted outside the provisioner)" if entry else None)
    return Change(manifest.address, Action.CREATE, manifest.spec.assistant_name, reason=reason, fields=fields,
                  body=dict(manifest.fields), record=record_for(manifest, desired_fields(manifest.fields, dialect)),
                  location=str(manifest.location()), sensitive=sorted(manifest.sensitive),
                  engine_type=manifest.spec.engine_type)


def _replacement(manifest: Manifest, entry: ResourceState, live: RemoteAssistant, dialect: str) -> Change:
    """--replace of an assistant in state: a `-/+` whose new half is created from the manifest."""
    change = _create(manifest, entry, dialect)
    change.remote_id, change.remote_item, change.replace = live.id, live.item, True
    change.reason = change.replace_reason = "replace requested"
    return change


def _adopt(manifest: Manifest, entry: ResourceState | None, live: RemoteAssistant, dialect: str) -> Change:
    fields = _field_changes(manifest, None, live, dialect)
    reason = (f"no assistant in state for this manifest, and the platform has exactly one named "
              f"{manifest.spec.assistant_name!r}: adopting it instead of creating a second")
    if entry:
        reason = f"id {entry.id} is gone from the platform; adopting id {live.id}, the one named alike"
    return _with_fields(Change(manifest.address, Action.IMPORT, manifest.spec.assistant_name, remote_id=live.id,
                               reason=reason, remote_item=live.item,
                               location=str(manifest.location()), sensitive=sorted(manifest.sensitive)),
                        manifest, live, fields, dialect)


def _update(manifest: Manifest, entry: ResourceState, live: RemoteAssistant, dialect: str) -> Change | None:
    fields = _field_changes(manifest, entry, live, dialect)
    if not fields:
        return None
    return _with_fields(Change(manifest.address, Action.UPDATE, manifest.spec.assistant_name, remote_id=live.id,
                               remote_item=live.item, location=str(manifest.location()),
                               sensitive=sorted(manifest.sensitive)),
                        manifest, live, fields, dialect)


class _HalfUnknown(Exception):
    """An update that would send a shared value whose other half the platform does not show (`problem` says so)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _with_fields(change: Change, manifest: Manifest, live: RemoteAssistant, fields: list[FieldChange],
                 dialect: str) -> Change:
    desired = desired_fields(manifest.fields, dialect)
    changed = {f.field for f in fields}
    if "engine_type" in changed:
        # A new mode resets the mode's settings to its defaults (API.md): send everything managed with it.
        changed |= set(desired)
    change.fields = fields
    change.engine_type = desired["engine_type"]
    change.body = {name: desired[name] for name in changed if name in desired}
    for name in companions(changed, dialect) - set(change.body):
        if name not in live.fields:
            # The platform names it without its settings (tools listed as plain names, API.md "List: the read
            # shape"), and the value it shares is replaced whole on update: sending the changed half alone drops it.
            sent = sorted(changed & companions(changed, dialect))[0]
            raise _HalfUnknown(Problem(
                f"this update must send `{sent}`, which v2 carries in one `tools` array with `{name}`, replaced whole; "
                f"the platform's assistant id {live.id} lists its tools by name only, so its {name} is not known "
                f"and would be lost. Manage `{name}` in the manifest too (the whole array is then yours)",
                manifest.location("spec", sent), f"spec.{sent}", manifest.address))
        change.body[name] = live.fields[name]  # carried in one wire value with a changed field: keep the platform's
    change.record = record_for(manifest, {name: desired[name] if name in desired else live.fields[name]
                                          for name in live.fields})
    return change


def _field_changes(manifest: Manifest, entry: ResourceState | None, live: RemoteAssistant,
                   dialect: str) -> list[FieldChange]:
    desired = desired_fields(manifest.fields, dialect)
    last = entry.spec if entry else None
    sensitive = manifest.sensitive | set(entry.sensitive if entry else ())

    # Each field is compared once with `same` (strict, stopping at the first difference); the deep diff of a
    # nested value runs only for the fields that differ. Most fields of a fleet are equal: that path is short.
    shown = live.fields
    # The readable fields compared as they are, all at once (plainly_equal): when they agree, the others
    # (nested, projected, write-only, not shown) are compared in a few steps per group (_rest_unchanged); only
    # when something differs are they compared one by one, in the same order.
    layout = _layout(tuple(desired), tuple(shown))
    if (_REST_SHORTCUT and last is not None and layout.whole_shown is not None
            and (not sensitive or layout.rest_set.isdisjoint(sensitive))
            and identical(layout.whole_wanted(desired),
                          layout.whole_shown(shown) + tuple(map(last.get, layout.recorded, layout.defaults)))):
        # Every field at once (a fleet's no-change assistant): what plainly_equal and _rest_unchanged below find,
        # in one comparison of two tuples instead of four.
        return []
    names: Iterable[str] = desired
    if plainly_equal(desired, shown, layout.plain):
        if not layout.rest:
            return []
        if _REST_SHORTCUT and last is not None and _rest_unchanged(layout, desired, shown, last, sensitive):
            return []
        names = layout.rest
    elif _REST_SHORTCUT and last is not None:
        # An update (a prompt edited): the plain fields that are not plainly the same, found in C, and the others
        # compared at once as above; only the fields that may differ go field by field (in the desired order).
        differing = _not_plainly_equal(desired, shown, layout.plain)
        if differing is not None and _rest_unchanged(layout, desired, shown, last, sensitive):
            names = [name for name in desired if name in differing]
    changes = []
    for name in names:
        wanted = desired[name]
        if name in shown and name in READABLE_FIELDS:
            if name in PROJECTED_FIELDS:
                before = comparable(name, shown[name], wanted)
                if equal_values(before, desired_comparable(name, wanted)):
                    continue
            else:
                before = shown[name]
                if equal_values(before, wanted):
                    continue
        # A value the platform holds a secret in (a calendar tool added on the dashboard) is shown as one too.
        hidden = name in sensitive or (name == "tools" and name in shown and bool(secret_fields({name: shown[name]})))
        reset = last is not None and name in last and name not in manifest.fields
        if name in shown and name in READABLE_FIELDS:
            applied = last.get(name, _default(name)) if last is not None else None
            # Drift only where the last apply decided the value: the manifest set it, or its omission meant the
            # documented default. A setting without one that the manifest left out was left alone (the platform
            # kept it): a value the manifest gives it now (a `null` clearing it) is the manifest's change.
            drift = (last is not None and not reset and (name in last or has_default(name))
                     and _same_secret_aware(applied, desired[name], hidden))
            if last is None and entry is not None and name in entry.remote:
                # Imported and not applied since: the platform's view at the import is what the manifest was last
                # compared with (a dashboard edit after it was not drift, and pull refused it).
                drift = _same_secret_aware(entry.remote[name], desired[name], hidden)
            changes.append(_field(name, before, desired[name], hidden, reset=reset, drift=drift))
        elif last is None:
            # Adopted: what the platform holds is unknowable; send what the manifest sets, but no empty write-only
            # value (no setting: `tool_ids: []` would remove the tools the adopted assistant has).
            if name in manifest.fields and not _no_setting(name, desired[name]):
                changes.append(_field(name, None, desired[name], hidden, source="last-applied", known=False))
        elif not _write_only_unchanged(name, desired, last, sensitive):
            before = last.get(name, _default(name))
            changes.append(_field(name, before, desired[name], hidden, source="last-applied", reset=reset))
    return changes


@dataclass(frozen=True)
class _Layout:
    """How the fields of one shape of (desired, shown) are compared: found once per shape, not per assistant."""

    plain: frozenset[str]          # readable plain values, compared all at once (plainly_equal)
    rest: tuple[str, ...]          # the others, in the desired order (the field-by-field path's order)
    rest_set: frozenset[str]
    projected: tuple[str, ...]     # readable and shown, compared in the manifest's terms (comparable())
    nested: Callable[[Mapping], tuple]    # the readable, shown others' values (mappings, lists), as a tuple
    recorded: tuple[str, ...]      # compared with the last applied spec (write-only, or not shown)
    defaults: tuple[Any, ...]      # the default of each of `recorded` (what a spec without it applied)
    wanted: Callable[[Mapping], tuple]    # the desired values of the nested fields, then of the recorded ones
    # Without projected fields: the desired values of the plain, nested and recorded fields, and the shown values of
    # the plain and nested ones (the recorded ones' are the last applied spec's); None with projected fields.
    whole_wanted: Callable[[Mapping], tuple] | None = None
    whole_shown: Callable[[Mapping], tuple] | None = None


_LAYOUTS: dict[tuple[tuple[str, ...], tuple[str, ...]], _Layout] = {}
_REST_SHORTCUT = True  # tests turn it off to compare with the field-by-field path


def _layout(desired: tuple[str, ...], shown: tuple[str, ...]) -> _Layout:
    key = (desired, shown)
    layout = _LAYOUTS.get(key)
    if layout is None:
        if len(_LAYOUTS) > 1000:  # bounded, as the other caches of shapes
            _LAYOUTS.clear()
        seen = set(shown)
        plain = frozenset(set(desired) & seen & _PLAIN_READABLE)
        rest = tuple(name for name in desired if name not in plain)
        readable = [name for name in rest if name in seen and name in READABLE_FIELDS]
        nested = tuple(name for name in readable if name not in PROJECTED_FIELDS)
        recorded = tuple(name for name in rest if name not in readable)
        projected = tuple(name for name in readable if name in PROJECTED_FIELDS)
        compared = tuple(sorted(plain)) + nested
        layout = _LAYOUTS[key] = _Layout(
            plain, rest, frozenset(rest), projected, tuple_getter(nested), recorded, tuple(map(_default, recorded)),
            tuple_getter(nested + recorded), None if projected else tuple_getter(compared + recorded),
            None if projected else tuple_getter(compared))
    return layout


def _rest_unchanged(layout: _Layout, desired: dict, shown: dict, last: dict, sensitive: set[str]) -> bool:
    """True only if the field-by-field path would find no change among `layout.rest` (False says nothing).

    Sensitive fields (compared by digest) are left to that path. The projected fields are compared in the
    manifest's terms, one by one (a tool list, the filler config); the others as one tuple (identical)."""
    if sensitive and not layout.rest_set.isdisjoint(sensitive):
        return False
    for name in layout.projected:
        if not equal_values(comparable(name, shown[name], desired[name]), desired_comparable(name, desired[name])):
            return False
    return identical(layout.wanted(desired), layout.nested(shown) + tuple(map(last.get, layout.recorded,
                                                                               layout.defaults)))


def identical(a: Any, b: Any) -> bool:
    """True only if a and b are `same` (False says nothing): equal, of the very same types all through (marshal's
    bytes tell True from 1, 1.0 from 1, a list from a tuple, and keep mapping order), and without a NaN (which
    == takes for equal to itself inside a container, and `same` never). For JSON values (text keys), as
    equal_values; the whole of a fleet's no-change comparing is then a few C calls per assistant."""
    if a != b:
        return False
    kind = type(a)
    if kind in _EXACT and kind is type(b):  # most fields: a text, a whole number, a boolean, null
        return True
    try:
        text = marshal.dumps(a, 0)  # version 0: a float is its text ("nan"), a text is never interned apart
        return text == marshal.dumps(b, 0) and b"nan" not in text
    except ValueError:  # a value marshal does not write: not known to be identical
        return False


def _no_setting(name: str, wanted: Any) -> bool:
    """An empty value (`[]`, `{}`, `""`) of a field the platform never shows: no setting (docs/graph.md). Not null,
    which the manifest writes to clear a setting (`folder_id: null`: uncategorized)."""
    return name in WRITE_ONLY_FIELDS and wanted is not None and empty_setting(wanted)


def _write_only_unchanged(name: str, desired: dict, last: dict, sensitive: set[str]) -> bool:
    recorded, wanted = last.get(name, _default(name)), desired[name]
    if _no_setting(name, wanted) and empty_setting(recorded):
        # No setting either way (docs/graph.md): `tool_ids: []` written where the manifest had none sent [], which
        # removed the tools someone gave the assistant on the dashboard, a set the manifest never managed.
        return True
    if name in UNORDERED_FIELDS and _same_ids_in_any_order(recorded, wanted):
        return True
    return _same_secret_aware(recorded, wanted, name in sensitive)


# The assistant's lists of ids the platform takes as sets (tool_ids, label_ids): reordered, they are no change.
UNORDERED_FIELDS = frozenset(facts.name for facts in ASSISTANT_REFERENCES if facts.unordered)


def _same_ids_in_any_order(recorded: Any, wanted: Any) -> bool:
    """Both lists of the same whole-number ids, in any order (a bool is not an id; anything else: not known)."""
    if not (isinstance(recorded, list) and isinstance(wanted, list)) or len(recorded) != len(wanted):
        return False
    if not all(type(value) is int for value in recorded) or not all(type(value) is int for value in wanted):
        return False
    return sorted(recorded) == sorted(wanted)


def _same_secret_aware(recorded: Any, wanted: Any, hidden: bool) -> bool:
    """Compare a recorded value (a digest when sensitive) with a wanted one."""
    if hidden and isinstance(recorded, str) and recorded.startswith("sha256:") and wanted is not None:
        return recorded == digest(wanted)
    return same(recorded, wanted)


def _field(name: str, before: Any, after: Any, hidden: bool, *, source: str = "platform", known: bool = True,
           reset: bool = False, drift: bool = False) -> FieldChange:
    details = []
    if not hidden and known and isinstance(before, (dict, list)) and isinstance(after, (dict, list)):
        details = _nested_changes(before, after)
    return FieldChange(name, _shown(before, hidden), _shown(after, hidden), source=source, before_known=known,
                       reset=reset, drift=drift, sensitive=hidden, details=details)


def _shown(value: Any, hidden: bool) -> Any:
    return SENSITIVE if hidden and value is not None else value


def _nested_changes(before: Any, after: Any) -> list[list[Any]]:
    from deepdiff import DeepDiff  # only plans with a changed mapping or list need it
    from deepdiff.helper import notpresent

    tree = DeepDiff(canonical(before), canonical(after), view="tree")
    details = []
    for levels in tree.values():
        for level in levels:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            old = None if level.t1 is notpresent else level.t1
            new = None if level.t2 is notpresent else level.t2
            details.append([path, old, new])
    return sorted(details, key=lambda d: d[0])
