"""State: what the provisioner manages (address -> platform id and last applied spec), behind one interface.

The state lives in a SQL store (`sql.SqlStateStore`): one row per managed assistant, plus per project and
workspace a lineage and serial, a lock row and an append-only history. The same code runs on SQLite
(embedded, the default) and PostgreSQL (shared by a team). This module holds the data types, the state
document (`state pull` / `state push`, and the JSON files of older versions) with its strict parser, and
the interface the rest of the program uses (Terraform's state managers: read, write, lock with holder
info, unlock).
"""
from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Container, Iterable, Iterator, Mapping, Protocol

from .. import json_text
from ..errors import StateError
from ..names import first_unused

STATE_VERSION = 1
DEFAULT_KIND = "assistant"  # the kind of a row written before kinds existed; ids are unique per kind on the platform
# A state address: an assistant's bare name (`support`), any other kind's `<kind>.<name>` (a document's
# `knowledgebase.<kb>.<document>`), and a replaced object's old half while it waits to be destroyed
# (`<address>~deposed`, see deposed_address).
_NAME = r"[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?"
DEPOSED = "~deposed"
ADDRESS = re.compile(rf"^{_NAME}(\.{_NAME}){{0,2}}({DEPOSED}[0-9]{{0,4}})?$")
KIND_NAME = re.compile(r"^[a-z]{1,32}$")
MAX_ADDRESS = 200


def deposed_address(address: str, taken: Container[str] = ()) -> str:
    """Where state keeps a replaced object's old half between the new one's creation and its own destruction
    (Terraform's deposed objects): a crash in between leaves it in state, so the next plan destroys it. A
    planner treats such a row as an object no manifest declares (it plans its delete). One not in `taken`: an
    old half left by an earlier apply keeps its own row (`<address>~deposed2`, ...)."""
    return first_unused(taken, address + DEPOSED, lambda number: f"{address}{DEPOSED}{number}")


def is_deposed(address: str) -> bool:
    return DEPOSED in address


def deposed_holding(address: str, remote_id: int, resources: Mapping[str, "ResourceState"]) -> str | None:
    """The deposed row of `address` that holds `remote_id`, if any."""
    for candidate, entry in resources.items():
        if candidate.startswith(address + DEPOSED) and entry.id == remote_id:
            return candidate
    return None
MAX_ID = 2**63 - 1


@dataclass
class ResourceState:
    id: int
    # The create fields the manifest set when last applied; sensitive values as digests.
    # None after an import: nothing was applied yet, so write-only fields are unknown.
    spec: dict[str, Any] | None
    protect: bool = False
    sensitive: list[str] = field(default_factory=list)
    # The platform's readable fields as last seen, in create names (sensitive values as digests).
    remote: dict[str, Any] = field(default_factory=dict)
    # The manifest file it was last applied from (as the run named it), so a run given other paths can tell
    # "not given" from "removed". None: recorded before this was kept, or imported.
    source: str | None = None
    # What the platform id names (the store's kind column; ids are unique per kind).
    kind: str = DEFAULT_KIND
    # The state addresses it pointed at when last applied: its destruction, or the update that drops one, comes
    # before theirs (walk.py). Reference fields in `spec` hold the ids that were sent.
    depends_on: list[str] = field(default_factory=list)
    # An apply is deleting it: marked, durably, before the delete is sent (apply.mark_deleting), so that found gone
    # from the platform it is that delete's outcome (a run killed with its deletes on the wire), not an object
    # vanished (plan.count_vanished). Cleared by the next record of it that a plan or apply writes.
    deleting: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ResourceState":
        spec = data.get("spec")
        return cls(id=int(data["id"]), spec=dict(spec) if spec is not None else None, protect=bool(data.get("protect")),
                   sensitive=list(data.get("sensitive") or []), remote=dict(data.get("remote") or {}),
                   source=data.get("source"), kind=data.get("kind") or DEFAULT_KIND,
                   depends_on=list(data.get("depends_on") or []), deleting=bool(data.get("deleting")))

    def record(self) -> dict[str, Any]:
        """The row's record as a plan's refresh of it writes it: everything but the id (the kind has a column of its
        own) and the mark of a delete under way (of an object the plan found on the platform: a delete that failed)."""
        return _record(self)

    def record_json(self) -> str:
        """The row's record column, canonical (sorted keys, compact) so equal records compare equal
        (json_text.py)."""
        record = _record(self)
        if self.deleting:  # absent otherwise: the rows of every other object stay byte-identical
            record["deleting"] = True
        return json_text.canonical(record)


def _record(entry: ResourceState) -> dict[str, Any]:
    """The record column (the kind has a column of its own)."""
    record = {"spec": entry.spec, "protect": entry.protect, "sensitive": entry.sensitive, "remote": entry.remote}
    if entry.source is not None:  # absent rather than null: records written before stay byte-identical
        record["source"] = entry.source
    if entry.depends_on:
        record["depends_on"] = entry.depends_on
    return record


def _resource_dict(entry: ResourceState) -> dict[str, Any]:
    """A resource in the state document: the record, its id and (unless an assistant, as before) its kind."""
    data = {"id": entry.id, **_record(entry)}
    if entry.deleting:
        data["deleting"] = True
    if entry.kind != DEFAULT_KIND:
        data["kind"] = entry.kind
    return data


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the audit log: at `serial`, `operation` (apply, state mv, push, ...) did `action` to `address`."""

    serial: int
    at: str
    operation: str
    address: str
    action: str
    remote_id: int | None = None
    who: str = ""
    lineage: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "at": self.at, "operation": self.operation, "address": self.address,
                "action": self.action, "id": self.remote_id, "who": self.who, "lineage": self.lineage}


@dataclass
class State:
    lineage: str
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)
    version: int = STATE_VERSION
    history: list[HistoryEntry] = field(default_factory=list)

    @classmethod
    def new(cls) -> "State":
        return cls(lineage=str(uuid.uuid4()))

    def users_of(self, among: Iterable[str]) -> dict[str, list[str]]:
        """address -> the entries of `among` whose record says they use it (`depends_on`, as last applied): what a
        plan that leaves them as they are must not delete or replace. One pass, not a scan of them per change."""
        users: dict[str, list[str]] = {}
        for user in among:
            entry = self.resources.get(user)
            for used in entry.depends_on if entry is not None else ():
                users.setdefault(used, []).append(user)
        return users

    def dumps(self, *, with_history: bool = False) -> bytes:
        """The state document: JSON with one resource (and history line) per line, readable and diff-friendly."""
        head = json.dumps({"version": self.version, "lineage": self.lineage, "serial": self.serial})
        lines = [f"  {json.dumps(address)}: {json.dumps(_resource_dict(self.resources[address]), sort_keys=True)}"
                 for address in sorted(self.resources)]
        text = f'{head[:-1]}, "resources": {{\n' + ",\n".join(lines) + "\n}"
        if with_history:
            entries = [f"  {json.dumps(entry.as_dict())}" for entry in self.history]
            text += ', "history": [\n' + ",\n".join(entries) + "\n]"
        return (text + "}\n").encode()

    @classmethod
    def loads(cls, text: str | bytes, source: str) -> "State":
        """Parse a state document strictly: anything malformed is a StateError naming `source` and the problem."""
        try:
            data = strict_json(text)
        except _DuplicateKey as error:
            raise StateError(f"{source} is not a valid state document: the key {error.key!r} appears twice") from None
        except (ValueError, RecursionError) as error:
            raise StateError(f"{source} is not valid JSON ({_short(error)})") from None
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> "State":
        if not isinstance(data, dict) or "lineage" not in data:
            raise StateError(f"{source} is not a provisioner state document (no lineage)")
        views = {"provisioner-state": "the `show --json` view of a state", "provisioner-plan": "a plan"}
        if "version" not in data and data.get("format") in views:  # said as such, not as "format version None"
            raise StateError(f"{source} is {views[data['format']]}, not a state document; `provisioner state "
                             "pull` writes one")
        version = data.get("version")
        if type(version) is not int or version != STATE_VERSION:
            raise StateError(f"{source} has state format version {version!r}; "
                             f"this provisioner reads version {STATE_VERSION}")
        unknown = sorted(set(data) - {"version", "lineage", "serial", "resources", "history"})
        if unknown:
            raise StateError(f"{source}: unknown top-level key(s) {', '.join(map(repr, unknown))}")
        lineage, serial = data["lineage"], data.get("serial", 0)
        if not isinstance(lineage, str) or not lineage.strip() or len(lineage) > 200:
            raise StateError(f"{source}: lineage must be a non-empty string (got {_show(lineage)})")
        if type(serial) is not int or not 0 <= serial <= MAX_ID:
            raise StateError(f"{source}: serial must be a non-negative integer (got {_show(serial)})")
        raw = data.get("resources", {})
        if not isinstance(raw, dict):
            raise StateError(f"{source}: resources must be an object of address -> record (got {_show(raw)})")
        resources: dict[str, ResourceState] = {}
        owners: dict[tuple[str, int], str] = {}
        for address, record in raw.items():
            entry = _parse_resource(address, record, source)
            if (entry.kind, entry.id) in owners:
                raise StateError(f"{source}: {owners[entry.kind, entry.id]!r} and {address!r} both claim platform "
                                 f"id {entry.id}" + (f" ({entry.kind})" if entry.kind != DEFAULT_KIND else ""))
            owners[entry.kind, entry.id] = address
            resources[address] = entry
        _check_parents(resources, source)
        history = _parse_history(data.get("history", []), source)
        return cls(lineage=lineage, serial=serial, resources=resources, history=history)


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def strict_json(text: str | bytes) -> Any:
    """JSON as the provisioner writes it: no key twice, no NaN or Infinity (Python's json takes both)."""
    if type(text) is str:
        # The usual text (a value from its first character to its last: every record the provisioner writes): one
        # scan by the C scanner, with the checks as hooks. parse_constant is called only for NaN and Infinity, the
        # pairs hook once per object. Anything else (surrounding whitespace, a BOM, an error) is json.loads's, with
        # the same hooks, which decodes it the same way or says what is wrong.
        try:
            value, end = _STRICT_SCAN(text, 0)
            # JSON's whitespace after the value (a saved plan ends with a line break) is still the usual text.
            if end == len(text) or not text[end:].strip(_JSON_WHITESPACE):
                return value
        except Exception:
            pass
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants, parse_float=_finite)


_JSON_WHITESPACE = " \t\n\r"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # a key twice: name the first one seen again
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


# Built once (json.loads builds a decoder per call when given hooks).
def _finite(text: str) -> float:
    """A JSON number with a fraction or an exponent: one past the float range (1e999) is no number either."""
    value = float(text)
    if value in (_INFINITY, -_INFINITY):
        raise ValueError(f"{text[:40]} is beyond the range of a number")
    return value


_INFINITY = float("inf")
_STRICT_SCAN = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants,
                                parse_float=_finite).scan_once


def _show(value: Any) -> str:
    try:
        text = json.dumps(value) if not isinstance(value, (set, bytes)) else repr(value)
    except (TypeError, ValueError):  # a database value JSON has no type for (a Decimal, a date)
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 200 else text[:197] + "..."


_RECORD_KEYS = {"id", "spec", "protect", "sensitive", "remote", "source", "kind", "depends_on", "deleting"}


def _parse_resource(address: Any, record: Any, source: str) -> ResourceState:
    if not isinstance(address, str) or not check_address(address):
        raise StateError(f"{_resource_place(source, address)}: not a valid address (lowercase letters, digits, '-' "
                         "and '_'; `kind.name` for kinds other than assistants)")
    if not isinstance(record, dict):
        raise StateError(f"{_resource_place(source, address)} must be an object with id, spec, protect, sensitive, "
                         f"remote (got {_show(record)})")
    if address.startswith("assistant."):  # the state address of an assistant is its bare name
        raise StateError(f"{_resource_place(source, address)}: an assistant's address in state is its bare name "
                         f"({address.split('.', 1)[1]!r})")
    entry = check_record(record, lambda key: _resource_place(source, address, key))
    # The address names the kind (`folder.x` a folder, a bare name an assistant): a record without one takes it, and
    # one that says another is refused. Stored under another kind, the id would escape the one-owner checks.
    from ..kinds import kind_of_address

    named = kind_of_address(address)
    if "kind" not in record:
        entry.kind = named
    elif entry.kind != named:
        raise StateError(f"{_resource_place(source, address, 'kind')} is {entry.kind!r}, but the address is a "
                         f"{named}'s")
    # State keeps sensitive values as digests (a mapping's, one per key): one in clear would be stored and shown.
    for part, values in (("spec", entry.spec or {}), ("remote", entry.remote)):
        for name in entry.sensitive:
            value = values.get(name)
            if value is not None and not _digested(value):
                raise StateError(f"{_resource_place(source, address, part)}.{name} is sensitive but holds a value in "
                                 "clear: state keeps sensitive values as digests (push a document `state pull` "
                                 "wrote, or remove the value)")
    return entry


def _check_parents(resources: Mapping[str, ResourceState], source: str) -> None:
    """Each child's entry (a knowledge base's document) has its parent's beside it, of the id the child recorded
    (the parent's deposed row's while a replacement of the parent waits to finish). Without it, a plan read the
    live document under no knowledge base, called it gone from the platform and forgot it; under another id it
    was replaced, its delete sent where it is not, and the live one stayed beside its copy."""
    from ..kinds import KINDS

    children = {a: KINDS[e.kind] for a, e in resources.items() if e.kind in KINDS and KINDS[e.kind].parent_field}
    if not children:
        return
    rows: dict[str, dict[str, int]] = {}  # an address -> its rows, deposed ones too, and their ids
    for address, entry in resources.items():
        rows.setdefault(address.split(DEPOSED, 1)[0], {})[address] = entry.id
    for address, kind in children.items():
        parent = address.split(DEPOSED, 1)[0].rsplit(".", 1)[0]
        held = rows.get(parent)
        parent_title = KINDS[kind.parent_kind].title
        if not held:
            raise StateError(f"{_resource_place(source, address)}: a {kind.title} lives inside its {parent_title}, "
                             f"and {source} holds no entry {parent!r}: push it with its {parent_title}'s entry "
                             "(`state pull` writes both), or leave it out")
        recorded = (resources[address].spec or {}).get(kind.parent_field)
        if recorded is not None and recorded not in held.values():
            ids = " or ".join(f"{a!r} is id {i}" for a, i in sorted(held.items()))
            raise StateError(f"{_resource_place(source, address, 'spec')}.{kind.parent_field} is {_show(recorded)}, "
                             f"but {ids}: a {kind.title} is deleted and read under the id it records")


def _digested(value: Any) -> bool:
    """A sensitive value as state keeps it: its digest, or a mapping of digests (a tool's headers, by name)."""
    from ..redaction import is_digest

    if isinstance(value, dict):
        return all(v is None or is_digest(v) for v in value.values())
    return is_digest(value)


def _resource_place(source: str, address: Any, key: str | None = None) -> str:
    where = f"{source}: resources[{_show(address)}]"
    return where if key is None else f"{where}.{key}"


def check_address(address: Any) -> bool:
    return isinstance(address, str) and len(address) <= MAX_ADDRESS and ADDRESS.fullmatch(address) is not None


def check_id(value: Any) -> bool:
    """A platform id as the provisioner stores it: a positive 64-bit integer (not a bool, text or float)."""
    return type(value) is int and 0 < value <= MAX_ID


def check_record(record: dict[str, Any], place: Callable[[str | None], str],
                 columns: tuple[int, str] | None = None) -> ResourceState:
    """One resource's fields, as strictly for a pushed document as for a row of the store. `place(key)` says where
    a field is in the messages (resources["a"].spec, or a row's column), `place(None)` where the record is: called
    only to say what is wrong (a store's thousands of good rows compose no message). `columns`: a row's (id,
    kind), from columns the caller has checked (its record holds neither)."""
    if not _RECORD_KEYS.issuperset(record):
        unknown = sorted(set(record) - _RECORD_KEYS)
        raise StateError(f"{place(None)}: unknown key(s) {', '.join(map(repr, unknown))}")
    get = record.get
    if columns is None:
        remote_id = get("id")
        if not check_id(remote_id):
            raise StateError(f"{place('id')} must be a positive integer (got {_show(remote_id)})")
    else:
        remote_id, kind = columns
    spec, protect = get("spec"), get("protect", False)
    sensitive, remote = get("sensitive", []), get("remote", {})
    if spec is not None and not isinstance(spec, dict):
        raise StateError(f"{place('spec')} must be an object or null (got {_show(spec)})")
    if not isinstance(protect, bool):
        raise StateError(f"{place('protect')} must be true or false (got {_show(protect)})")
    if not isinstance(sensitive, list) or not (_TEXT.issuperset(map(type, sensitive)) or _texts(sensitive)):
        raise StateError(f"{place('sensitive')} must be a list of field names (got {_show(sensitive)})")
    if not isinstance(remote, dict):
        raise StateError(f"{place('remote')} must be an object (got {_show(remote)})")
    source = get("source")
    if source is not None and (not isinstance(source, str) or not source or len(source) > 4096):
        raise StateError(f"{place('source')} must be a file path or null (got {_show(source)})")
    if columns is None:
        kind = get("kind", DEFAULT_KIND)
        if not isinstance(kind, str) or not KIND_NAME.fullmatch(kind):
            raise StateError(f"{place('kind')} must be a kind name such as \"tool\" (got {_show(kind)})")
    depends_on = get("depends_on", [])
    if not isinstance(depends_on, list) or not (not depends_on or _addresses(depends_on)):
        raise StateError(f"{place('depends_on')} must be a list of addresses (got {_show(depends_on)})")
    deleting = get("deleting", False)
    if not isinstance(deleting, bool):
        raise StateError(f"{place('deleting')} must be true or false (got {_show(deleting)})")
    return ResourceState(remote_id, spec, protect, list(sensitive), remote, source, kind, list(depends_on), deleting)


_TEXT = frozenset({str})


def _texts(values: list) -> bool:
    """Every value a str (check_record first tries one C pass over the types, for the usual exact str)."""
    return all(isinstance(value, str) for value in values)


def _addresses(values: list) -> bool:
    """Every value a valid address (check_address); those found valid are remembered (a graph's records name the
    same few objects thousands of times)."""
    try:
        if _VALID_ADDRESSES.issuperset(values):
            return True
    except TypeError:  # a mapping or a list among them: not an address
        return False
    if not all(check_address(a) for a in values):
        return False
    if len(_VALID_ADDRESSES) > 100_000:  # a hostile store's many distinct addresses must not grow it without end
        _VALID_ADDRESSES.clear()
    _VALID_ADDRESSES.update(values)
    return True


_VALID_ADDRESSES: set[str] = set()


def _parse_history(raw: Any, source: str) -> list[HistoryEntry]:
    if not isinstance(raw, list):
        raise StateError(f"{source}: history must be a list (got {_show(raw)})")
    return [check_history_entry(item, f"{source}: history[{index}]") for index, item in enumerate(raw)]


def check_history_entry(item: Any, where: str, name: Any = None) -> HistoryEntry:
    """One history line, from a document or a row of the store (`name(key)` places a field in messages)."""
    name = name or (lambda key: f"{where}.{key}")
    if not isinstance(item, dict):
        raise StateError(f"{where} must be an object (got {_show(item)})")
    serial, remote_id = item.get("serial"), item.get("id")
    if type(serial) is not int or not 0 <= serial <= MAX_ID:
        raise StateError(f"{name('serial')} must be a non-negative integer (got {_show(serial)})")
    if remote_id is not None and not check_id(remote_id):
        raise StateError(f"{name('id')} must be a positive integer or null (got {_show(remote_id)})")
    texts = {}
    for key in ("at", "operation", "address", "action", "who", "lineage"):
        value = item.get(key, "")
        if not isinstance(value, str) or len(value) > 500:
            raise StateError(f"{name(key)} must be a string (got {_show(value)})")
        texts[key] = value
    return HistoryEntry(serial=serial, remote_id=remote_id, **texts)


class StaleStateError(StateError):
    """A write refused because the store moved on (another serial or lineage) since this run read it."""


class NoStateStore(StateError):
    """No state store where the settings say (no SQLite file there, no provisioner tables in the PostgreSQL
    database), met by a command that makes none (one that only reads the state): nothing was created. `where` is
    the store's location as messages name it (StoreLocation.label)."""

    def __init__(self, where: str, project: str = "", workspace: str = ""):
        self.where, self.project, self.workspace = where, project, workspace
        check = ("the database and schema $PROVISIONER_PG_DSN names" if where.startswith("PostgreSQL")
                 else "--state, PROVISIONER_STATE or provisioner.yaml's `state:`")
        super().__init__(f"there is no state at {where}: no state store was made there yet, and this command makes "
                         f"none (nothing was created). Check the state's location ({check}); `provisioner apply` "
                         "makes the store")


class LockLostError(StateError):
    """A write refused because this run no longer holds the state lock (it was force-unlocked, or on PostgreSQL the
    connection holding it was lost and another run took it)."""


@dataclass(frozen=True)
class Owner:
    """Who manages a platform object: the address in a project's workspace (of the same store)."""

    project: str
    workspace: str
    address: str

    def describe(self) -> str:
        return f"{self.address!r} in project {self.project!r}, workspace {self.workspace!r}"


class OwnedElsewhereError(StateError):
    """A commit refused because it would record objects another workspace or project of the store recorded on the
    same platform first: two states would manage one object. `owners`: address here -> (kind, id, owner there)."""

    def __init__(self, owners: dict[str, tuple[str, int, Owner]]):
        self.owners = owners
        shown = "; ".join(f"{address} ({kind} id {remote_id}) is managed by {owner.describe()}"
                          for address, (kind, remote_id, owner) in sorted(owners.items()))
        super().__init__(f"one object has one owner: {shown} of this state store, which recorded it first; nothing "
                         "was written for it here (the object stays on the platform, with that owner). To manage it "
                         "here, `provisioner state rm` it there, then `provisioner import` it here")


@dataclass(frozen=True)
class LockInfo:
    id: str
    operation: str
    who: str
    host: str
    pid: int
    created: str
    path: str

    def describe(self) -> str:
        return (f"Lock ID:   {self.id}\n  Path:      {self.path}\n  Operation: {self.operation}\n"
                f"  Who:       {self.who}\n  Host:      {self.host} (pid {self.pid})\n  Since:     {self.created}")


class StateBackend(Protocol):
    """What a Session needs of a state store (see sql.SqlStateStore for the one implementation)."""

    description: str

    def read(self) -> State:
        """The state; remembered as what the next write() compares with."""

    def write(self, state: State) -> None:
        """Persist the rows that differ from what was read or last written, with the serial increased by one."""

    def commit(self, state: State, changes: Mapping[str, ResourceState | None]) -> None:
        """Persist just these rows (None: the address is gone) as the next serial; `state.serial` advances."""

    def lock(self, operation: str, timeout: float, on_wait: Callable[[LockInfo, float], None] | None = None
             ) -> LockInfo:
        """Take the lock, waiting up to `timeout` seconds; `on_wait(holder, timeout)` is called once if it waits."""

    def owners(self, kind: str, ids: Iterable[int]) -> dict[int, Owner]:
        """Which other workspace or project of the store manages each of these platform ids (those managed)."""

    def confirm_lock(self) -> None:
        """Raise LockLostError unless the lock this run took is still its own (nothing to do without one)."""

    def unlock(self, lock_id: str) -> None: ...

    def force_unlock(self, lock_id: str) -> None: ...


@contextlib.contextmanager
def locked(backend: StateBackend, operation: str, *, timeout: float = 0.0, enabled: bool = True,
           on_wait: Callable[[LockInfo, float], None] | None = None) -> Iterator[None]:
    """Hold the state lock for the block (or do nothing when locking is turned off)."""
    if not enabled:
        yield
        return
    info = backend.lock(operation, timeout, on_wait)
    try:
        yield
    finally:
        backend.unlock(info.id)
