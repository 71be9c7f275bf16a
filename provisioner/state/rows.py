"""Rows of the SQL store are input: a store can be edited by hand, restored from an old backup, or written by
an older, a broken or another program. Every row read is checked as strictly as a pushed state document
(the same checks, `check_record` and `check_history_entry`), and a row that is not what the provisioner
writes is a StateError naming the workspace, the address and the column: nothing is decided from it, so
nothing is written anywhere.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import StateError
from . import _RECORD_KEYS, DEFAULT_KIND, KIND_NAME, MAX_ID, check_address, HistoryEntry, ResourceState, _DuplicateKey, _show, check_history_entry, check_id, \
    check_record, strict_json

REPAIR = ("Repair the row (or `provisioner state push --force` a good state document); nothing was read from "
          "this state, and nothing was written.")


def _where(source: str, workspace: str, address: Any = None) -> str:
    text = f"{source}: workspace {workspace!r}"
    return text + (f", address {_show(address)}" if address is not None else "")


def _bad(message: str) -> StateError:
    return StateError(f"{message}. {REPAIR}")


def check_workspace_row(source: str, workspace: str, lineage: Any, serial: Any) -> tuple[str, int]:
    """The workspace row's lineage and serial, as a document's."""
    where = _where(source, workspace) + ", table provisioner_workspaces"
    if not isinstance(lineage, str) or not lineage.strip() or len(lineage) > 200:
        raise _bad(f"{where}, column lineage must be a non-empty string (got {_show(lineage)})")
    if type(serial) is not int or not 0 <= serial <= MAX_ID:
        raise _bad(f"{where}, column serial must be a non-negative integer (got {_show(serial)})")
    return lineage, serial


def check_resource_rows(source: str, workspace: str, rows: Iterable[tuple[Any, ...]]) -> dict[str, ResourceState]:
    """address -> ResourceState from (address, remote_id, record[, kind]) rows, or a StateError for the first bad
    one."""
    resources: dict[str, ResourceState] = {}
    owners: dict[tuple[str, int], str] = {}
    for row in rows:
        address, remote_id, record = row[0], row[1], row[2]
        kind = row[3] if len(row) > 3 else DEFAULT_KIND
        if isinstance(address, str) and address in resources:
            raise _bad(f"{_where(source, workspace, address)}: the address has two rows")
        entry = check_resource_row(source, workspace, address, remote_id, record, kind)
        if (entry.kind, entry.id) in owners:
            first, second = sorted((owners[entry.kind, entry.id], address))
            raise _bad(f"{_where(source, workspace)}: addresses {first!r} and {second!r} both hold "
                       f"platform id {entry.id} (column remote_id); one id is one {entry.kind}")
        owners[entry.kind, entry.id] = address
        resources[address] = entry
    return resources


def check_resource_row(source: str, workspace: str, address: Any, remote_id: Any, record: Any,
                       kind: Any = DEFAULT_KIND) -> ResourceState:
    entry = _good_row(address, remote_id, record, kind)
    return entry if entry is not None else _checked_row(source, workspace, address, remote_id, record, kind)


# A record's keys besides the columns (id, kind), and the types of each that pass check_record.
_ROW_KEYS = frozenset(_RECORD_KEYS - {"id", "kind"})
_TEXT = frozenset({str})


def _good_row(address: Any, remote_id: Any, record: Any, kind: Any) -> ResourceState | None:
    """The entry of a row that passes every check of _checked_row, or None: then _checked_row says which fails.

    The same checks, without composing a message per row (a fleet's state is thousands of good rows)."""
    if not (type(record) is str and check_id(remote_id) and check_address(address) and type(kind) is str
            and KIND_NAME.fullmatch(kind)):
        return None
    try:
        fields = strict_json(record)
    except (ValueError, RecursionError):
        return None
    if type(fields) is not dict or not _ROW_KEYS.issuperset(fields):
        return None
    spec, protect = fields.get("spec"), fields.get("protect", False)
    sensitive, remote = fields.get("sensitive", []), fields.get("remote", {})
    source, depends_on = fields.get("source"), fields.get("depends_on", [])
    if not ((spec is None or type(spec) is dict) and type(protect) is bool and type(remote) is dict
            and type(sensitive) is list and _TEXT.issuperset(map(type, sensitive))
            and (source is None or (type(source) is str and 0 < len(source) <= 4096))
            and type(depends_on) is list and _addresses(depends_on)):
        return None
    return ResourceState(id=remote_id, spec=spec, protect=protect, sensitive=list(sensitive), remote=remote,
                         source=source, kind=kind, depends_on=list(depends_on))


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


def _checked_row(source: str, workspace: str, address: Any, remote_id: Any, record: Any,
                 kind: Any = DEFAULT_KIND) -> ResourceState:
    if not isinstance(address, str) or not check_address(address):
        raise _bad(f"{_where(source, workspace)}, column address holds {_show(address)}: not a valid address "
                   "(lowercase letters, digits, '-' and '_', whole)")
    where = _where(source, workspace, address)
    if not check_id(remote_id):
        raise _bad(f"{where}, column remote_id must be a positive integer (got {_show(remote_id)})")
    if not isinstance(record, str):
        raise _bad(f"{where}, column record must be JSON text (got {_show(record)})")
    try:
        fields = strict_json(record)
    except _DuplicateKey as error:
        raise _bad(f"{where}, column record: the key {error.key!r} appears twice") from None
    except (ValueError, RecursionError) as error:
        raise _bad(f"{where}, column record is not valid JSON ({str(error)[:120]})") from None
    if not isinstance(fields, dict):
        raise _bad(f"{where}, column record must be a JSON object with spec, protect, sensitive, remote "
                   f"(got {_show(fields)})")
    if "id" in fields:  # the id lives in remote_id only: two places for it could disagree
        raise _bad(f"{where}, column record: unknown key 'id' (the id is the column remote_id)")
    if "kind" in fields:  # likewise the kind
        raise _bad(f"{where}, column record: unknown key 'kind' (the kind is the column kind)")
    if not isinstance(kind, str) or not KIND_NAME.fullmatch(kind):
        raise _bad(f"{where}, column kind must be a kind name such as 'tool' (got {_show(kind)})")
    try:
        return check_record({**fields, "id": remote_id, "kind": kind}, lambda key: f"{where}, column record: {key}",
                            f"{where}, column record")
    except StateError as error:
        raise _bad(str(error)) from None


_HISTORY_COLUMNS = {"id": "remote_id"}


def check_history_rows(source: str, workspace: str, rows: Iterable[dict[str, Any]]) -> list[HistoryEntry]:
    """History lines from rows (dicts with the document's keys: serial, at, ..., id for the remote_id column)."""
    entries = []
    for row in rows:
        where = _where(source, workspace) + ", table provisioner_history"
        try:
            entries.append(check_history_entry(
                row, where, lambda key: f"{where}, column {_HISTORY_COLUMNS.get(key, key)}"))
        except StateError as error:
            raise _bad(str(error)) from None
    return entries
