"""Rows of the SQL store are input: a store can be edited by hand, restored from an old backup, or written by
an older, a broken or another program. Every row read is checked as strictly as a pushed state document
(the same checks, `check_record` and `check_history_entry`), and a row that is not what the provisioner
writes is a StateError naming the workspace, the address and the column: nothing is decided from it, so
nothing is written anywhere.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import StateError
from ..json_text import read_canonical
from . import DEFAULT_KIND, KIND_NAME, MAX_ID, HistoryEntry, ResourceState, _DuplicateKey, _show, check_address, \
    check_history_entry, check_id, check_record, strict_json

REPAIR = ("Repair the row (or `provisioner state push --force` a good state document); nothing was read from "
          "this state, and nothing was written.")


def _where(source: str, workspace: str, address: Any = None) -> str:
    text = f"{source}: workspace {workspace!r}"
    return text + (f", address {_show(address)}" if address is not None else "")


def _bad(message: str) -> StateError:
    return StateError(f"{message}. {REPAIR}")


def _bad_column(source: str, workspace: str, address: str, problem: str) -> StateError:
    return _bad(f"{_where(source, workspace, address)}, column {problem}")


def check_workspace_row(source: str, workspace: str, lineage: Any, serial: Any) -> tuple[str, int]:
    """The workspace row's lineage and serial, as a document's."""
    where = _where(source, workspace) + ", table provisioner_workspaces"
    if not isinstance(lineage, str) or not lineage.strip() or len(lineage) > 200:
        raise _bad(f"{where}, column lineage must be a non-empty string (got {_show(lineage)})")
    if type(serial) is not int or not 0 <= serial <= MAX_ID:
        raise _bad(f"{where}, column serial must be a non-negative integer (got {_show(serial)})")
    return lineage, serial


def check_resource_rows(source: str, workspace: str, rows: Iterable[tuple[Any, ...]],
                        strict: list[str] | None = None) -> dict[str, ResourceState]:
    """address -> ResourceState from (address, remote_id, record[, kind]) rows, or a StateError for the first bad
    one. The addresses whose record is not in this version's canonical form (json_text.py: an older version's, a
    hand edit) are appended to `strict` if given."""
    resources: dict[str, ResourceState] = {}
    owners: dict[tuple[str, int], str] = {}
    for row in rows:
        address, remote_id, record = row[0], row[1], row[2]
        kind = row[3] if len(row) > 3 else DEFAULT_KIND
        if isinstance(address, str) and address in resources:
            raise _bad(f"{_where(source, workspace, address)}: the address has two rows")
        entry = check_resource_row(source, workspace, address, remote_id, record, kind, strict)
        if (entry.kind, entry.id) in owners:
            first, second = sorted((owners[entry.kind, entry.id], address))
            raise _bad(f"{_where(source, workspace)}: addresses {first!r} and {second!r} both hold "
                       f"platform id {entry.id} (column remote_id); one id is one {entry.kind}")
        owners[entry.kind, entry.id] = address
        resources[address] = entry
    return resources


def check_resource_row(source: str, workspace: str, address: Any, remote_id: Any, record: Any,
                       kind: Any = DEFAULT_KIND, strict: list[str] | None = None) -> ResourceState:
    """One row's entry, or a StateError naming its column. Every message is composed only when it is raised: a
    store holds thousands of good rows. `strict`: as check_resource_rows says."""
    if not isinstance(address, str) or not check_address(address):
        raise _bad(f"{_where(source, workspace)}, column address holds {_show(address)}: not a valid address "
                   "(lowercase letters, digits, '-' and '_', whole)")
    if not check_id(remote_id):
        raise _bad_column(source, workspace, address, f"remote_id must be a positive integer (got {_show(remote_id)})")
    if not isinstance(record, str):
        raise _bad_column(source, workspace, address, f"record must be JSON text (got {_show(record)})")
    try:
        # What this version writes is read in one step; anything else (older rows, hand edits) strictly.
        fields = read_canonical(record)
        if fields is None:
            fields = strict_json(record)
            if strict is not None:
                strict.append(address)
    except _DuplicateKey as error:
        raise _bad_column(source, workspace, address, f"record: the key {error.key!r} appears twice") from None
    except (ValueError, RecursionError) as error:
        raise _bad_column(source, workspace, address, f"record is not valid JSON ({str(error)[:120]})") from None
    if not isinstance(fields, dict):
        raise _bad_column(source, workspace, address, "record must be a JSON object with spec, protect, sensitive, "
                          f"remote (got {_show(fields)})")
    if "id" in fields:  # the id lives in remote_id only: two places for it could disagree
        raise _bad_column(source, workspace, address, "record: unknown key 'id' (the id is the column remote_id)")
    if "kind" in fields:  # likewise the kind
        raise _bad_column(source, workspace, address, "record: unknown key 'kind' (the kind is the column kind)")
    if not isinstance(kind, str) or not KIND_NAME.fullmatch(kind):
        raise _bad_column(source, workspace, address, f"kind must be a kind name such as 'tool' (got {_show(kind)})")
    try:
        return check_record(fields, _RecordPlace((source, workspace, address)), (remote_id, kind))
    except StateError as error:
        raise _bad(str(error)) from None


class _RecordPlace(tuple):
    """(source, workspace, address): where a row's record is, for check_record's messages, composed only when one
    is raised. (A tuple: made per row without a Python call.)"""

    def __call__(self, key: str | None) -> str:
        where = f"{_where(*self)}, column record"
        return where if key is None else f"{where}: {key}"


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
