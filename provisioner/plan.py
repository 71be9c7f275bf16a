"""The plan as plain data: what will change, field by field. No I/O, no decisions about how to apply it.

A saved plan file is `Plan.to_dict()` as JSON. Sensitive values never enter it:
field changes carry "(sensitive)", and request bodies carry a digest that
`apply` swaps back for the manifest's value, refusing the plan if they differ.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields as dataclass_fields
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from . import plan_record
from .errors import ProvisionerError
from .redaction import digest, digest_fields

PLAN_FORMAT = "provisioner-plan"
PLAN_FORMAT_VERSION = 2  # 2: every change has a `kind`, `depends_on`, `replace`, `replace_reason`, `wait`
READABLE_FORMAT_VERSIONS = (1, 2)  # a version-1 file is a plan of assistants only

# A plan that destroys more than this share of the objects in state, and at least MASS_DESTROY_MIN of them,
# is refused by apply without --allow-mass-destroy: far more often a wrong path or a broken checkout than a wish.
# (`destroy` and `plan --destroy` say what they do, and are not held to it.)
MASS_DESTROY_SHARE = 0.5
MASS_DESTROY_MIN = 5
# The same share of the objects in state found gone from the platform's lists (planned to be made again, adopted
# by name or forgotten) is refused by apply and destroy without --allow-mass-forget, as refresh refuses to forget
# them: another account's token, or another platform's URL, reads like that. Re-created there, the fleet would be
# made twice and the state's ids of the real one dropped.


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    IMPORT = "import"   # adopt an assistant that already exists, then update it if needed
    FORGET = "forget"   # drop from state an assistant that is already gone from the platform

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "import": "<=", "forget": "-"}[self.value]


@dataclass
class FieldChange:
    field: str
    before: Any
    after: Any
    # Where `before` comes from: the platform's read-back, or the last applied spec for write-only fields.
    source: str = "platform"
    before_known: bool = True   # False for a write-only field of an adopted assistant
    reset: bool = False         # removed from the manifest: back to the platform's default
    drift: bool = False         # changed on the platform outside the provisioner
    sensitive: bool = False
    # For mappings and lists: the changed paths inside them, [path, before, after].
    details: list[list[Any]] = field(default_factory=list)
    # A reference field's ids the run can name (plan_graph.name_references): str(id) -> address, shown beside each
    # id; None (and left out of plan documents) for every other field: no dict made for each field of a fleet.
    names: dict[str, str] | None = None


class FieldLocations(dict):
    """`Change.field_locations` found when first read, not when planned: only a saved or JSON plan and a field
    the platform refuses need them, and finding every field's line of every created object was a tenth of a
    fleet's plan. Reads like the dict it stands for through its methods (its content is filled in before any
    read); C code that reads a dict's storage directly (json's encoder) sees it empty until then, so it goes out
    through Plan.to_dict, which copies it by its items."""

    __slots__ = ("_source",)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._source: tuple[Any, tuple[str, ...]] | None = None

    @classmethod
    def of(cls, locate: Any, names: Any) -> "FieldLocations":
        """`{name: locate(name) for name in names}`, when first read."""
        pending = cls()
        pending._source = (locate, tuple(names))
        return pending

    def _filled(self) -> "FieldLocations":
        source = self._source
        if source is not None:
            self._source = None
            locate, names = source
            dict.update(self, {name: locate(name) for name in names})
        return self

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self._filled(), key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self._filled(), key)

    def __iter__(self):
        return dict.__iter__(self._filled())

    def __len__(self) -> int:
        return dict.__len__(self._filled())

    def __eq__(self, other: object) -> bool:
        return dict.__eq__(self._filled(), other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return dict.__repr__(self._filled())

    def get(self, key: str, default: Any = None) -> Any:
        return dict.get(self._filled(), key, default)

    def keys(self):
        return dict.keys(self._filled())

    def values(self):
        return dict.values(self._filled())

    def items(self):
        return dict.items(self._filled())

    def copy(self) -> dict[str, str]:
        return dict(self.items())

    def __reduce__(self):
        return dict, (dict(self.items()),)


# A value that waits for an object this apply creates: `{"$ref": address}`, in a body or a field, until apply puts
# the object's id in its place (the plan shows it as "(known after apply)").
REF = "$ref"


def marker(address: str) -> dict[str, str]:
    """An id this apply will know once `address` is created: apply puts the id in its place."""
    return {REF: address}


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(REF), str)


@dataclass
class Change:
    address: str
    action: Action
    assistant_name: str
    remote_id: int | None = None
    reason: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    # The request body: the create fields for a create, only the changed fields for an update.
    body: dict[str, Any] = field(default_factory=dict)
    # What state records once the change succeeds (ResourceState without the id).
    record: dict[str, Any] = field(default_factory=dict)
    # Digest of the platform's item when planned; a saved plan is stale if it changed since. A plan applied at once
    # never needs it: planners give `remote_item` instead, and `fingerprint()` digests it when a plan is saved or
    # shown as JSON (a full assistant's digest was a tenth of the CPU of planning its update or destroy).
    remote_fingerprint: str | None = None
    location: str | None = None
    sensitive: list[str] = field(default_factory=list)
    # The engine the assistant will have: which models catalogue names its llm_model on the wire.
    engine_type: str | None = None
    # file:line of each spec field the manifest sets, so the platform's complaint about one points at its line.
    field_locations: dict[str, str] = field(default_factory=dict)
    # The kind of object (kinds/__init__.py); `assistant_name` is then the object's name on the platform.
    kind: str = "assistant"
    # Addresses whose create/update/import must be done first (references in `body`). A delete's order is the
    # reverse of the references, which the walker computes from the graph.
    depends_on: list[str] = field(default_factory=list)
    # A `-/+` replacement: the object cannot be changed in place; the old one (remote_id) is deleted and a new one
    # created from `body`. `replace_reason` says why, and what is lost ("deletes leads").
    replace: bool = False
    replace_reason: str | None = None
    # Apply waits for the object to be ready after creating it (a document being processed).
    wait: bool = False
    # Actions to run after the create, replacement or update (kinds/base.Action: a campaign's start or stop), in
    # order: {"field", "action", "value", "note"}. An update may carry only actions (an empty body: no update call).
    actions: list[dict[str, Any]] = field(default_factory=list)
    # The address state knew the object by before a moved block renamed it (moves.py); None if not moved.
    moved_from: str | None = None
    # The platform's item as planned, when `remote_fingerprint` is not worked out yet; never saved or shown.
    remote_item: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def fingerprint(self) -> str | None:
        """`remote_fingerprint`, digested from `remote_item` on first use."""
        if self.remote_fingerprint is None and self.remote_item is not None:
            self.remote_fingerprint = self.fingerprint_of(self.remote_item)
        return self.remote_fingerprint

    def fingerprint_of(self, item: dict[str, Any]) -> str:
        """The digest of a platform item that a saved plan's `remote_fingerprint` is compared with: the whole item,
        but for a wait on an object that exists (a document still being processed) its progress is left out: the
        status it waits for to move on moved on, which is no change since the plan (every such saved plan was
        refused as stale once the platform had processed the document)."""
        if self.wait and self.action is not Action.CREATE:
            item = {k: v for k, v in item.items() if k not in _PROGRESS}
        return digest(item)


# What moves on while the platform processes an object (API.md: a document's status, its label, its update time).
_PROGRESS = frozenset({"status", "status_label", "updated_at"})


def count_changes(changes: list[Change]) -> dict[str, int]:
    """The plan summary's counts of `changes` (a plan's, or those an apply carried out)."""
    return _count(changes)


def _count(changes: list[Change]) -> dict[str, int]:
    """Terraform's words: a replacement is one to add and one to destroy. An adoption counts "to change" only
    when it changes a field or runs an action: a child's body always names its parent (a document's knowledge
    base, sent in the path), and that alone sends nothing."""
    count = {"import": 0, "add": 0, "change": 0, "destroy": 0, "forget": 0}
    for change in changes:
        if change.replace:
            count["add"] += 1
            count["destroy"] += 1
        elif change.action is Action.CREATE:
            count["add"] += 1
        elif change.action is Action.UPDATE:
            count["change"] += 1
        elif change.action is Action.DELETE:
            count["destroy"] += 1
        elif change.action is Action.FORGET:
            count["forget"] += 1
        elif change.action is Action.IMPORT:
            count["import"] += 1
            count["change"] += 1 if change.fields else 0
    return count


def count_vanished(changes: list[Change], resources: Mapping[str, Any]) -> int:
    """How many objects of state (`resources`: address -> entry) `changes` find gone from the platform's lists.
    The planners make a change of an address state holds into a create (not a replacement), an adoption or a
    forget only when its recorded id was not listed: re-created, adopted by name or dropped from state. A
    replacement of another id than the one state holds is gone too: the namesake adopted in its place is replaced
    (a campaign whose settings differ there). One an apply was deleting (its entry marked `deleting`) and that is
    now forgotten is that delete's outcome, not gone: the re-run of a destroy killed with its deletes on the wire
    continues what was asked, where another account's token finds gone the objects no run was deleting."""
    vanished = 0
    for change in changes:
        entry = resources.get(change.address)
        if entry is None or change.action not in _VANISHED_ACTIONS:
            continue
        if change.action is Action.FORGET and getattr(entry, "deleting", False):
            continue
        if not change.replace or change.remote_id != entry.id:
            vanished += 1
    return vanished


def count_selected(resources: Mapping[str, Any], targets: list[str], excluded: list[str]) -> int:
    """How many objects of state a plan's selection covers (--target and -l chose `targets`, --exclude took out
    `excluded`; every object without them): the base mass_forget weighs `vanished` against, as refresh weighs what
    it reads. A selection of most of another account's view must not pass for a small share of the state."""
    chosen = resources.keys() if not targets else resources.keys() & set(targets)
    return len(chosen - set(excluded)) if excluded else len(chosen)


_VANISHED_ACTIONS = frozenset({Action.CREATE, Action.IMPORT, Action.FORGET})


@dataclass
class StateSync:
    """A state record to refresh without any request to the platform (e.g. `protect` turned on)."""

    address: str
    record: dict[str, Any]


@dataclass
class Plan:
    changes: list[Change]
    lineage: str
    serial: int
    state_sync: list[StateSync] = field(default_factory=list)
    destroy: bool = False
    targets: list[str] = field(default_factory=list)
    manifest_paths: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dialect: str = "v1"  # the create dialect the bodies will be sent in (wire.py)
    # Workspace and variable sources the manifests were read with (inputs.ManifestInputs), never secret values.
    inputs: dict[str, Any] = field(default_factory=dict)
    # Which state the plan is for: every view names them (None: unknown, e.g. a plan built in memory).
    workspace: str | None = None
    project: str | None = None
    # The platform it read (connection.platform_identity: the base URL without credentials; "local"); None: unknown.
    platform: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    # Assistants in state whose manifest file still exists but was not among the paths given: left alone,
    # [{"address", "source"}] (a narrower path is not a request to destroy the rest).
    left_alone: list[dict[str, str]] = field(default_factory=list)
    managed_count: int = 0            # objects in state (every kind) when planned: the base of the mass-destroy share
    allow_mass_destroy: bool = False  # made with --allow-mass-destroy
    # Objects in state this plan found gone from the platform's lists (count_vanished): the base of mass_forget.
    vanished: int = 0
    selected_count: int = 0           # objects in state the selection covers (count_selected): mass_forget's base
    allow_mass_forget: bool = False   # made with --allow-mass-forget
    # State entries that moved blocks rename before the changes, ids kept: [{"from", "to", "kind", "id"}].
    moves: list[dict[str, Any]] = field(default_factory=list)
    # The policy check of this plan (policy.PolicyReport.to_dict()); None: the repository has no policies.
    policies: dict[str, Any] | None = None
    # The selection it was made with (docs/selection.md): what --exclude left out (addresses), the label selector
    # (-l), and the addresses --replace asked to replace. `apply PLANFILE` performs exactly these changes.
    excluded: list[str] = field(default_factory=list)
    selector: str | None = None
    replace_requested: list[str] = field(default_factory=list)
    # `targets` are what the -l selector chose, no --target given: the views advise on a label selection, not on
    # --target. Written only when true (a key added within format version 2: an older reader refuses such a file).
    targets_by_selector: bool = False

    def change_documents(self) -> Iterator[dict[str, Any]]:
        """Each change as plan documents hold it, made as it is asked for."""
        return map(_change_data, self.changes)

    @property
    def mass_destroy(self) -> bool:
        """Whether this plan destroys so much of the state that apply asks for --allow-mass-destroy."""
        destroying = self.counts["destroy"]
        return (not self.destroy and destroying >= MASS_DESTROY_MIN
                and destroying > MASS_DESTROY_SHARE * self.managed_count)

    @property
    def mass_destroy_refused(self) -> bool:
        return self.mass_destroy and not self.allow_mass_destroy

    @property
    def mass_forget(self) -> bool:
        """Whether this plan finds so much of the state gone from the platform that apply asks for
        --allow-mass-forget (a destroy plan too: forgetting every object is no less a loss)."""
        return self.vanished >= MASS_DESTROY_MIN and self.vanished > MASS_DESTROY_SHARE * self.selected_count

    def weigh(self, resources: Mapping[str, Any]) -> None:
        """The guards' counts from the state this plan changes (`resources`, after its moves): managed_count,
        vanished and selected_count. Taken when the plan is made, and again when a saved one is applied, so that a
        file edited by hand cannot lift mass_destroy or mass_forget."""
        self.managed_count = len(resources)
        self.vanished = count_vanished(self.changes, resources)
        self.selected_count = count_selected(resources, self.targets, self.excluded)

    @property
    def counts(self) -> dict[str, int]:
        return _count(self.changes)

    @property
    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        """The counts of each kind with changes: assistants first, then by kind name."""
        grouped: dict[str, list[Change]] = {}
        for change in self.changes:  # one pass over the changes, not one per kind
            grouped.setdefault(change.kind, []).append(change)
        return {kind: _count(grouped[kind]) for kind in sorted(grouped, key=lambda k: (k != "assistant", k))}

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.moves)

    def to_dict(self, changes: Any = None) -> dict[str, Any]:
        """The plan as JSON-ready data, with sensitive values digested. `changes`: what the document holds as its
        changes, the list of change_documents() unless given (a view written in pieces gives them one at a time,
        json_text.Items)."""
        if changes is None:
            changes = list(self.change_documents())
        return {
            "format": PLAN_FORMAT,
            "format_version": PLAN_FORMAT_VERSION,
            "created_at": self.created_at,
            "lineage": self.lineage,
            "serial": self.serial,
            "workspace": self.workspace,
            "project": self.project,
            "platform": self.platform,
            "destroy": self.destroy,
            "dialect": self.dialect,
            "targets": self.targets,
            "manifest_paths": self.manifest_paths,
            "summary": self.counts,
            "changes": changes,
            "state_sync": [asdict(s) for s in self.state_sync],
            "notes": self.notes,
            "inputs": self.inputs,
            "left_alone": self.left_alone,
            "managed_count": self.managed_count,
            "mass_destroy": self.mass_destroy,
            "allow_mass_destroy": self.allow_mass_destroy,
            "vanished": self.vanished,
            "selected_count": self.selected_count,
            "mass_forget": self.mass_forget,
            "allow_mass_forget": self.allow_mass_forget,
            "moves": [dict(m) for m in self.moves],
            "excluded": self.excluded,
            "selector": self.selector,
            "replace_requested": self.replace_requested,
            **({"targets_by_selector": True} if self.targets_by_selector else {}),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "the saved plan") -> "Plan":
        """The plan in `data` (a saved plan file's JSON), its whole structure checked first: a malformed or
        tampered file is a ProvisionerError naming what is wrong, never a crash or a partial plan."""
        if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
            raise ProvisionerError(f"{source} is not a saved plan (a JSON object with \"format\": "
                                   f"\"{PLAN_FORMAT}\"; write one with `provisioner plan --out FILE`)")
        if data.get("format_version") not in READABLE_FORMAT_VERSIONS or isinstance(data.get("format_version"), bool):
            raise ProvisionerError(f"{source} has plan format version {_show_input(data.get('format_version'))}; "
                                   f"this provisioner reads versions "
                                   f"{', '.join(map(str, READABLE_FORMAT_VERSIONS))}")
        if data.get("masked") is True:
            raise ProvisionerError(f"{source} was printed with secret values masked (`plan --json`, `show --json`): "
                                   "applying it would send the masks in their place. Save the plan to apply with "
                                   "`provisioner plan --out FILE`, which keeps what it sends")
        from pydantic import ValidationError

        from .plan_file_schema import PlanFile  # its models only where a saved plan is read (the module says why)

        try:
            checked = PlanFile.model_validate(data)
        except ValidationError as error:
            problems = error.errors(include_url=False)
            lines = [f"  {_location(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" + (f" (got {_show_input(e['input'])})"
                                                              if e["type"] not in ("missing", "extra_forbidden")
                                                              else "")
                     for e in problems[:10]]
            more = [f"  ... and {len(problems) - 10} more"] if len(problems) > 10 else []
            raise ProvisionerError("\n".join([f"{source} is malformed ({len(problems)} problem(s)); make a new "
                                               "plan:"] + lines + more + _newer_keys(problems))) from None
        changes = []
        names: dict[tuple, dict[str, str]] = {}  # each field's names, one dict for those alike (as planned)
        for raw in checked.changes:
            values = raw.model_dump()
            values["action"] = Action(values["action"])
            for f in values["fields"]:
                f["names"] = names.setdefault(tuple(f["names"].items()), f["names"]) if f["names"] else None
            values["fields"] = [FieldChange(**f) for f in values["fields"]]
            changes.append(Change(**values))
        return cls(changes=changes, lineage=checked.lineage, serial=checked.serial,
                   state_sync=[StateSync(s.address, s.record) for s in checked.state_sync],
                   destroy=checked.destroy, targets=checked.targets, manifest_paths=checked.manifest_paths,
                   notes=checked.notes, dialect=checked.dialect,
                   inputs=checked.inputs.model_dump(exclude_unset=True) if checked.inputs else {},
                   workspace=checked.workspace, project=checked.project, platform=checked.platform,
                   created_at=checked.created_at,
                   left_alone=[dict(e) for e in checked.left_alone], managed_count=checked.managed_count,
                   allow_mass_destroy=checked.allow_mass_destroy, vanished=checked.vanished,
                   selected_count=checked.selected_count,
                   allow_mass_forget=checked.allow_mass_forget, excluded=checked.excluded,
                   selector=checked.selector, replace_requested=checked.replace_requested,
                   targets_by_selector=checked.targets_by_selector,
                   moves=[m.model_dump(by_alias=True) for m in checked.moves])


# The keys of a change and of a field change in plan documents: their dataclass fields, in order.
_CHANGE_KEYS = tuple(f.name for f in dataclass_fields(Change) if f.name != "remote_item")
_FIELD_CHANGE_KEYS = tuple(f.name for f in dataclass_fields(FieldChange) if f.name != "names")


def _change_data(change: Change) -> dict[str, Any]:
    """`change` as plan documents hold it: its containers new, the values in them its own. `asdict` copied every
    value deeply for a document that is only written out: 7 of the 10.8 s `plan --out` took for 5,000 full
    creates."""
    change.fingerprint()
    data = {key: getattr(change, key) for key in _CHANGE_KEYS}
    data["action"] = change.action.value
    data["fields"] = [_field_change_data(shown) for shown in change.fields]
    data["body"] = digest_fields(change.body, change.sensitive)
    data["record"] = plan_record.written(dict(change.record), data["body"])  # a create's: its body not again
    data["field_locations"] = dict(change.field_locations.items())
    for key in ("sensitive", "depends_on"):
        data[key] = list(data[key])
    data["actions"] = [dict(action) for action in change.actions]
    return data


def _field_change_data(shown: FieldChange) -> dict[str, Any]:
    """A field change as plan documents hold it; `names` only where it has some (an added key, format version 2:
    docs/plan-format.md), so a plan without a named reference reads as before."""
    data = {key: getattr(shown, key) for key in _FIELD_CHANGE_KEYS}
    data["details"] = list(shown.details)
    if shown.names:
        data["names"] = dict(shown.names)
    return data


# --- a saved plan file's problems, as Plan.from_dict reports them (its schema: plan_file_schema.py) ---

def _location(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the whole file)"


def _newer_keys(problems: list[dict]) -> list[str]:
    """Keys are added within a format version (docs/plan-format.md), and this reader refuses any it does not know:
    a file a later provisioner wrote reads so, which "malformed" alone made look like damage."""
    if not any(e["type"] == "extra_forbidden" for e in problems):
        return []
    return ["  (a key this provisioner does not know: a later provisioner may have written the plan; apply it with "
            "that version, or make the plan again with this one)"]


def _show_input(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"
