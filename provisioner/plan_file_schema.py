"""The saved plan file's schema (docs/plan.schema.json), as strict pydantic models: JSON types exactly, no unknown
keys, every address and field name checked. Plan.from_dict validates a file with `PlanFile`.

Its own module, imported where a saved plan is read (`apply PLANFILE`): nine models whose classes every other run
would build at import for nothing (about 0.01 s of CPU, even with their validators built on first use).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from . import plan_record
from .plan import _show_input


# Built on first use (defer_build): the classes are built when this module is imported, their validators when a
# file is read.
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


def _field_names(kind: str) -> tuple[str, ...]:
    """The spec fields a change of `kind` may carry in its body."""
    from .kinds import ASSISTANT, KINDS
    from .spec import CREATE_FIELDS

    if kind == ASSISTANT:
        return CREATE_FIELDS
    # A child's body also carries its facts that are not manifest fields (a document's content, knowledgebase_id).
    return (*KINDS[kind].spec_model.model_fields, *(f.name for f in KINDS[kind].fields))


def _address(value: str) -> str:
    """An assistant's bare name, or `<kind>.<name>` (a document: `knowledgebase.<kb>.<name>`)."""
    from .kinds.base import NAME
    from .manifest import ADDRESS_PATTERN

    # A replaced object's old half waiting in state to be destroyed: `<address>~deposed[N]` (state/__init__.py).
    if not (ADDRESS_PATTERN.fullmatch(value) or re.fullmatch(rf"[a-z]+(\.{NAME}){{1,2}}(~deposed[0-9]{{0,4}})?",
                                                             value)
            or re.fullmatch(rf"{NAME}~deposed[0-9]{{0,4}}", value)):  # an assistant's (--replace)
        raise ValueError("not an address (a name of lowercase letters, digits, '-' and '_', after `kind.`)")
    return value


# The addresses `names` holds are a few, each met thousands of times in a fleet's creates: checked once each.
_known_address = lru_cache(maxsize=4096)(_address)


class _Record(_Strict):
    spec: Optional[dict[str, Any]] = None
    protect: bool = False
    sensitive: list[str] = Field(default_factory=list)
    remote: dict[str, Any] = Field(default_factory=dict)
    source: Optional[str] = Field(default=None, min_length=1, max_length=4096)
    # What the object uses (a campaign's assistant), kept in state when the plan's change does not wait for it.
    depends_on: Optional[list[Annotated[str, AfterValidator(_address)]]] = Field(default=None, max_length=10_000)

    def as_record(self) -> dict[str, Any]:
        record = self.model_dump()
        for key in ("source", "depends_on"):
            if record[key] is None:  # absent, as state records it
                del record[key]
        return record


class _FieldChangeFile(_Strict):
    field: str
    before: Any = None
    after: Any = None
    source: Literal["platform", "last-applied"] = "platform"
    before_known: bool = True
    reset: bool = False
    drift: bool = False
    sensitive: bool = False
    details: list[list[Any]] = Field(default_factory=list)
    # Shown beside the ids in every view of the plan: an id (its JSON key: digits) and an address, nothing else.
    names: dict[Annotated[str, Field(pattern=r"^[0-9]{1,19}$")], Annotated[str, AfterValidator(_known_address)]] = \
        Field(default_factory=dict, max_length=10_000)


class _ChangeFile(_Strict):
    kind: str = "assistant"  # first: the fields of `body` and `sensitive` are checked against its kind's
    address: str
    action: Literal["create", "update", "delete", "import", "forget"]
    assistant_name: str
    remote_id: Optional[int] = Field(default=None, ge=0)
    reason: Optional[str] = None
    fields: list[_FieldChangeFile] = Field(default_factory=list)
    body: dict[str, Any] = Field(default_factory=dict)
    record: dict[str, Any] = Field(default_factory=dict)
    remote_fingerprint: Optional[str] = None
    location: Optional[str] = None
    sensitive: list[str] = Field(default_factory=list)
    engine_type: Optional[str] = None
    field_locations: dict[str, str] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    replace: bool = False
    replace_reason: Optional[str] = None
    wait: bool = False
    actions: list[dict[str, Any]] = Field(default_factory=list)
    moved_from: Optional[str] = None

    _check_address = field_validator("address")(_address)
    _check_moved_from = field_validator("moved_from")(lambda value: value if value is None else _address(value))
    _check_depends_on = field_validator("depends_on")(lambda value: [_address(a) for a in value])

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from .kinds import ASSISTANT, KINDS

        if value != ASSISTANT and value not in KINDS:
            raise ValueError("not a kind this provisioner knows")
        return value

    @field_validator("body", "sensitive")
    @classmethod
    def _known_fields(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind", "assistant")
        if kind is None:
            return value  # the kind itself was refused
        names = _field_names(kind)
        unknown = [n for n in value if n not in names]
        if unknown:
            what = "create fields" if kind == "assistant" else f"{kind} fields"
            raise ValueError(f"not {what}: {', '.join(_show_input(n) for n in unknown[:5])}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _record_whole(cls, data: Any) -> Any:
        """A create's record written without its body's values (plan_record.py), rebuilt before it is checked."""
        if not isinstance(data, dict) or "record" not in data:
            return data
        try:
            whole = plan_record.rebuilt(data["record"], data.get("body"))
        except ValueError as error:
            raise ValueError(f"record: {error}") from None
        return data if whole is data["record"] else {**data, "record": whole}

    @field_validator("record")
    @classmethod
    def _record_shape(cls, value: dict) -> dict:
        if value:
            _Record.model_validate(value)
        return value


class _StateSyncFile(_Strict):
    address: str
    record: _Record

    _check_address = field_validator("address")(_address)

    def model_post_init(self, context: Any) -> None:
        self.__dict__["record"] = self.record.as_record()


def _no_nul(value: str) -> str:
    """A path the plan's manifests are read again from: no file system takes a NUL (os.stat raises a ValueError)."""
    if "\0" in value:
        raise ValueError("a path cannot hold a NUL character")
    return value


_Path = Annotated[str, AfterValidator(_no_nul)]


class _Inputs(BaseModel):
    """docs/plan.schema.json's `inputs`: typed where known, open to more (the schema allows them)."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)
    workspace: str = "default"
    root: _Path = "."
    var_files: list[_Path] = Field(default_factory=list)
    vars: list[str] = Field(default_factory=list)
    config_file: Optional[_Path] = None


class _LeftAlone(_Strict):
    address: str
    source: str

    _check_address = field_validator("address")(_address)


class _MoveFile(_Strict):
    """One entry of a saved plan's `moves`."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, defer_build=True)
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    kind: str
    id: int = Field(ge=1)

    _check_addresses = field_validator("source", "target")(_address)
    _check_kind = field_validator("kind")(lambda value: _ChangeFile._known_kind(value))


class PlanFile(_Strict):
    format: Literal["provisioner-plan"]
    format_version: Literal[1, 2]
    created_at: str = ""
    lineage: str
    serial: int = Field(ge=0)
    workspace: Optional[str] = None
    project: Optional[str] = None
    platform: Optional[str] = Field(None, max_length=500)  # connection.platform_identity's: at most 500
    destroy: bool = False
    dialect: Literal["v1", "v2"] = "v1"
    targets: list[str] = Field(default_factory=list)
    manifest_paths: list[_Path] = Field(default_factory=list)
    inputs: Optional[_Inputs] = None
    summary: Optional[dict[str, int]] = None   # written for readers; recomputed, never trusted
    changes: list[_ChangeFile]
    state_sync: list[_StateSyncFile] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    left_alone: list[_LeftAlone] = Field(default_factory=list)
    managed_count: int = Field(default=0, ge=0)
    mass_destroy: Optional[bool] = None  # written for readers; recomputed, never trusted
    allow_mass_destroy: bool = False
    vanished: int = Field(default=0, ge=0)
    selected_count: int = Field(default=0, ge=0)  # written for readers; apply counts it again from the state
    mass_forget: Optional[bool] = None  # written for readers; recomputed, never trusted
    allow_mass_forget: bool = False
    moves: list[_MoveFile] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    selector: Optional[str] = Field(default=None, max_length=4096)
    replace_requested: list[str] = Field(default_factory=list)
    targets_by_selector: bool = False  # added within version 2 (Plan.targets_by_selector)
    # `plan --json`'s policy results (docs/plan-format.md): the same document as `plan --out`'s, so a file saved
    # from it is read too; never trusted nor shown, as apply checks today's policies again.
    policies: Optional[dict[str, Any]] = None
    masked: Optional[bool] = None  # only a printed plan has it (true), and from_dict refuses that one

    _check_excluded = field_validator("excluded", "replace_requested")(lambda value: [_address(a) for a in value])
