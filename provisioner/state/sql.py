"""The SQL state store: one schema and one piece of code on two engines, SQLite (embedded) and PostgreSQL.

Rows, not a document: a commit writes only the rows of the addresses that changed, the new serial (a
compare-and-set on the old one, so a stale writer is refused instead of overwriting) and one history
line per change, in one transaction that is durable (SQLite: WAL with synchronous=FULL, so fsync'd;
PostgreSQL: COMMIT) before the change is reported. Many projects and workspaces share one database;
every row carries both.

Locks: SQLite keeps a holder row, taken in a write transaction, and clears one left by a process of
this host that is gone. PostgreSQL takes a session advisory lock on a dedicated connection, so the
lock dies with its holder, and writes the same holder row for the messages of `force-unlock` and of a
waiting run.

Every statement a run executes is plain SQL text on the driver's own connection (sqlite3, psycopg 3), each
row found by a key, so a commit costs the same in a fleet of 10 or 10,000. A grouped commit of N changes is a
few statements whatever N: on SQLite `executemany` (its loop runs in C); on PostgreSQL one statement per table
that takes the rows as a JSON array, sent in two round trips (the lock and serial checks, then the writes) and
the COMMIT. SQLAlchemy, which writes the schema's DDL for both engines, is imported only to create or migrate
the schema (sql_schema.py): opening a store checks the schema version with one query, so a run never pays its
import.
"""
from __future__ import annotations

import getpass
import hashlib
try:
    import fcntl
except ImportError:  # not on Windows: a holder's pid alone says whether it is gone
    fcntl = None
import json
import sqlite3
import os
import re
import shlex
import socket
import stat
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import unquote

from .. import json_text
from ..errors import LockError, StateError
from . import (HistoryEntry, LockInfo, LockLostError, NoStateStore, OwnedElsewhereError, Owner, ResourceState,
               State, StaleStateError, strict_json)
from . import rows as rows_check
from . import sql_ddl, sqlite_file
from .local import legacy_state_file

SCHEMA_VERSION = 4  # sql_schema.SCHEMA_VERSION (checked by a test): here too, so that a run need not import it
DSN_ENV = "PROVISIONER_PG_DSN"
BACKENDS = ("sqlite", "postgres")
WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
DEFAULT_WORKSPACE = "default"
STORE_GRACE = sqlite_file.STORE_GRACE
_CHUNK = 500  # ids per IN list (SQLite limits bound parameters)
_ONE_OWNER_IN_STORE = "provisioner_resources_one_owner_in_store"  # sql_schema.ONE_OWNER_IN_STORE (checked by a test)
_CLAIM_ATTEMPTS = 3  # commits refused by the one-owner index whose claim was gone when looked up (see commit)
_LONGEST_WAIT = (2**31 - 1) / 1000  # seconds: the longest wait for the database (see location_for)
_SCHEMA_NAMES = {"metadata", "meta_table", "workspaces_table", "resources_table", "locks_table", "history_table",
                 "MIGRATIONS"}


def __getattr__(name: str) -> Any:
    """The schema's SQLAlchemy tables, for whoever asks for them here (tests, tools): imported on demand."""
    if name in _SCHEMA_NAMES:
        from . import sql_schema

        return getattr(sql_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the statements (qmark placeholders; PostgreSQL's %s are made from them once, see _Sql) ---

_SCOPE = "project = ? AND workspace = ?"
_HOLDER = ("locktype = 'advisory' AND granted AND pid = ? AND objsubid = 1 AND ((classid::bigint = ? AND "
           "objid::bigint = ?) OR (classid::bigint = ? AND objid::bigint = ? AND mode = 'ExclusiveLock'))")
_STATEMENTS = {
    "schema_version": "SELECT value FROM provisioner_meta WHERE \"key\" = 'schema_version'",
    "probe": "UPDATE provisioner_meta SET value = ? WHERE \"key\" = 'schema_version'",
    "workspace_row": f"SELECT lineage, serial FROM provisioner_workspaces WHERE {_SCOPE}",
    "workspace_names": "SELECT workspace FROM provisioner_workspaces WHERE project = ?",
    "insert_workspace": "INSERT INTO provisioner_workspaces (project, workspace, lineage, serial, created, updated) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
    # A workspace two runs create at once (`workspace select --or-create` in parallel jobs): one row, no error.
    "insert_workspace_if_absent": "INSERT INTO provisioner_workspaces (project, workspace, lineage, serial, created, "
                                  "updated) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    "delete_workspace": f"DELETE FROM provisioner_workspaces WHERE {_SCOPE}",
    # The compare-and-set of every write: (lineage, serial) must be what this run read.
    "advance": f"UPDATE provisioner_workspaces SET serial = ?, updated = ? WHERE {_SCOPE} AND serial = ? "
               "AND lineage = ?",
    "replace_serial": f"UPDATE provisioner_workspaces SET serial = ?, lineage = ?, updated = ? WHERE {_SCOPE} "
                      "AND serial = ?",
    "resource_rows": f"SELECT address, remote_id, record, kind FROM provisioner_resources WHERE {_SCOPE}",
    "resource_row": f"SELECT address, remote_id, record, kind FROM provisioner_resources WHERE {_SCOPE} AND address = ?",
    # The rows that hold one platform id (the index provisioner_resources_by_id): `state show` checks its entry's.
    "rows_of_id": f"SELECT address, remote_id, record, kind FROM provisioner_resources WHERE {_SCOPE} AND kind = ? "
                  "AND remote_id = ?",
    "addresses": f"SELECT address FROM provisioner_resources WHERE {_SCOPE}",
    "count_resources": f"SELECT count(*) FROM provisioner_resources WHERE {_SCOPE}",
    "delete_resources": f"DELETE FROM provisioner_resources WHERE {_SCOPE}",
    # A row is replaced as delete + insert (portable); both deletes are found by a key (the primary key, the
    # one-owner constraint), so a commit's cost does not grow with the workspace.
    "delete_address": f"DELETE FROM provisioner_resources WHERE {_SCOPE} AND address = ?",
    "insert_resource": "INSERT INTO provisioner_resources (project, workspace, address, remote_id, record, serial, "
                       "kind, platform) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    # Not a row whose object another workspace or project recorded on this platform meanwhile (the one-owner index
    # would refuse the whole commit): it stays unrecorded, and the next run is refused naming both (held_elsewhere).
    "record_platform": f"UPDATE provisioner_resources SET platform = ? WHERE {_SCOPE} AND platform = '' AND NOT EXISTS "
                       "(SELECT 1 FROM provisioner_resources o WHERE o.platform = ? AND o.kind = "
                       "provisioner_resources.kind AND o.remote_id = provisioner_resources.remote_id)",
    "history_rows": "SELECT serial, at, operation, address, action, remote_id, who, lineage FROM provisioner_history "
                    f"WHERE {_SCOPE} ORDER BY id",
    "history_keys": "SELECT lineage, serial, at, operation, address, action FROM provisioner_history "
                    f"WHERE {_SCOPE}",
    "insert_history": "INSERT INTO provisioner_history (project, workspace, lineage, serial, at, operation, address, "
                      "action, remote_id, who) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "lock_row": f"SELECT lock_id, operation, who, host, pid, created, backend_pid FROM provisioner_locks "
                f"WHERE {_SCOPE}",
    "insert_lock": "INSERT INTO provisioner_locks (project, workspace, lock_id, operation, who, host, pid, created, "
                   "backend_pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "delete_lock": f"DELETE FROM provisioner_locks WHERE {_SCOPE}",
    "delete_own_lock": f"DELETE FROM provisioner_locks WHERE {_SCOPE} AND lock_id = ?",
    # The holder's connection, by its pid and this workspace's advisory key (PostgreSQL shows a bigint key as its
    # high and low 32 bits, `advisory_halves`): a pid reused since by another run's connection, holding another
    # workspace's lock, is never ended. A holder of an older version holds the key without the schema, exclusively
    # (SqlStateStore._advisory_keys).
    "terminate_holder": f"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE {_HOLDER}",
    "holder_alive": f"SELECT 1 FROM pg_locks WHERE {_HOLDER}",
}


# PostgreSQL takes a commit's rows as one JSON array per table, unpacked by the server: one statement per
# table, whatever the number of rows. (psycopg runs `executemany` as a pipeline with a Python round of its own
# per row, and dumps a list parameter element by element in Python: either cost more CPU than the rest of the
# commit. json.dumps is one call in C, and every value it carries is ASCII text or an integer.)
_JSON_STATEMENTS = {
    "delete_addresses": f"DELETE FROM provisioner_resources WHERE {_SCOPE} AND address IN "
                        "(SELECT json_array_elements_text(?::json))",
    "insert_resources": "INSERT INTO provisioner_resources (project, workspace, address, remote_id, record, serial, "
                        "kind, platform) SELECT ?, ?, e->>0, (e->>1)::bigint, e->>2, ?, e->>3, ? "
                        "FROM json_array_elements(?::json) AS t(e)",
    # In the entries' order (the history is read back by id).
    "insert_histories": "INSERT INTO provisioner_history (project, workspace, lineage, serial, at, operation, who, "
                        "address, action, remote_id) SELECT ?, ?, ?, ?, ?, ?, ?, e->>0, e->>1, (e->>2)::bigint "
                        "FROM json_array_elements(?::json) WITH ORDINALITY AS t(e, n) ORDER BY n",
}
_JSON = json.JSONEncoder(separators=(",", ":")).encode


class _Sql:
    """The statements in the driver's placeholder style (sqlite3: ?, psycopg: %s), as attributes."""

    def __init__(self, postgres: bool):
        self.postgres = postgres
        for name, statement in (_STATEMENTS | (_JSON_STATEMENTS if postgres else {})).items():
            setattr(self, name, self.text(statement))
        # The lock row of a write, locked: a force-unlock waits for this commit, or this commit sees it. (SQLite
        # has no FOR UPDATE: its write transaction, BEGIN IMMEDIATE, already excludes every other writer.)
        self.lock_row_for_update = self.lock_row + (" FOR UPDATE" if postgres else "")

    def text(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def push_owners(self, count: int) -> str:
        """For a push into a workspace whose platform is known: who holds `count` ids of a kind on it, in another
        workspace of this project (a row of no recorded platform may be of it) or in another project (recorded
        on it: a row of another project with none may well be another platform's object)."""
        return self._holders(count, "((project = ? AND workspace <> ? AND (platform = ? OR platform = '')) "
                                    "OR (project <> ? AND platform = ?))")

    def owners_in_project(self, count: int) -> str:
        """Who holds `count` ids of a kind in another workspace of this project, whatever its platform."""
        return self._holders(count, "project = ? AND workspace <> ?")

    def owners(self, count: int) -> str:
        """Who holds `count` ids of a kind, in another workspace or project, on the same platform: a row whose
        platform is not recorded yet (written by a state command, which reads no platform: push, mv) may be of
        any."""
        return self._holders(count, "(project <> ? OR workspace <> ?) AND (platform = ? OR platform = '')")

    def recorded_on(self, count: int) -> str:
        """Who recorded `count` ids of a kind on a platform, in another workspace or project: the holders the
        one-owner index (sql_schema.ONE_OWNER_IN_STORE) refused a commit for."""
        return self._holders(count, "(project <> ? OR workspace <> ?) AND platform = ?")

    def _holders(self, count: int, whose: str) -> str:
        """(remote_id, project, workspace, address) of the rows holding `count` ids of a kind, `whose` saying
        which workspaces' rows count."""
        return self.text("SELECT remote_id, project, workspace, address FROM provisioner_resources WHERE kind = ? "
                         f"AND remote_id IN ({', '.join('?' * count)}) AND {whose} ORDER BY project, workspace")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return f"uid-{os.getuid()}"


def process_alive(pid: int) -> bool:
    if type(pid) is not int or pid <= 0:  # a lock row is input too: a pid it does not hold is an unknown one
        return True  # unknown holder: never assume it is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scrub(message: str, dsn: str | None) -> str:
    """Remove a connection string and any password from a message: the DSN is never printed."""
    if dsn:
        message = message.replace(dsn, "(PROVISIONER_PG_DSN)")
        for secret in sorted(_dsn_passwords(dsn), key=len, reverse=True):
            message = message.replace(secret, "***")
    message = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", message, flags=re.I)
    return re.sub(r"(://[^/@\s:]*:)[^@\s]*@", r"\1***@", message)


def _dsn_passwords(dsn: str) -> set[str]:
    """Every text of `dsn` that may be its password, as written and percent-decoded: what the driver answers, and
    what is found by hand, which also covers a string the driver cannot parse (its error then quotes the bad part,
    a password with a stray `%` among them)."""
    found: set[str] = set()
    try:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(dsn).get("password")
        if password:
            found.add(str(password))
    except Exception:  # noqa: BLE001 - not parsable: the patterns below still find it
        pass
    # A URL's password runs to the `@`, spaces included: one typed as is (not %20) is what the driver's error quotes.
    for pattern in (r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:([^@]*)@",   # scheme://user:PASSWORD@host
                    r"[?&]password=([^&]*)",                             # ...?password=PASSWORD
                    # keyword form, quoted or not; unquoted, with the words after it that are no `key=value` (a
                    # password typed with a space, which the driver's error quotes from the space on)
                    r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+(?:\s+[^\s=]+(?=\s|$))*)"):
        for match in re.finditer(pattern, dsn, flags=re.I):
            value = match.group(1)
            if value.startswith("'") and value.endswith("'") and len(value) > 1:
                value = value[1:-1]
            found |= {value, unquote(value)}
            if not value.startswith("'"):  # each of its words (of 4 characters or more) is the password's too
                found |= {word for word in value.split() if len(word) >= 4}
    # A password with an unescaped `@` (postgresql://u:pa@ss@host/db, common in generated passwords): the driver
    # ends it at the first `@` and reads the rest as the host, which its errors quote ("failed to resolve host
    # 'ss@host'"): every part of what runs to the last `@` is the password's.
    whole = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:([^/\s]*)@", dsn)
    if whole and "@" in whole.group(1):
        found |= {part for part in whole.group(1).split("@") if len(part) >= 4} | {whole.group(1)}
    return {secret for secret in found if secret}


# The widths of provisioner_history's text columns (sql_schema.history_table; a test keeps them equal), checked
# before a document's history is copied in: PostgreSQL refuses a longer value with a message naming no field.
HISTORY_WIDTHS = {"lineage": 200, "at": 40, "operation": 100, "address": 200, "action": 20, "who": 200}


def advisory_key(project: str, workspace: str, schema: str | None = None) -> int:
    """A signed 64-bit key for pg_advisory_lock, the same on every machine for one project and workspace of the
    store in `schema` (PostgreSQL's, STORE_SCHEMA). Without a schema, the key of versions before it (the SQLite
    liveness file's name, and PostgreSQL's shared `legacy` key: SqlStateStore._advisory_keys)."""
    scope = f"provisioner\0{project}\0{workspace}" + (f"\0{schema}" if schema is not None else "")
    return int.from_bytes(hashlib.blake2b(scope.encode(), digest_size=8).digest(), "big", signed=True)


# The schema the store's tables are in, as this connection's search_path finds them (a DSN's
# `options='-csearch_path=team_a'`, PGOPTIONS, the role's default): what the advisory key names besides the
# project and workspace.
STORE_SCHEMA = "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = 'provisioner_locks'::regclass"


def advisory_halves(key: int) -> tuple[int, int]:
    """How pg_locks shows a bigint advisory key: (classid, objid), its high and low 32 bits, unsigned."""
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


DEFAULT_STATE_PATH = "state/provisioner.db"  # --state's default
UNKNOWN_HOLDER = "unknown"  # PostgreSQL: the advisory lock is held, but no row says by whom (yet)


@dataclass(frozen=True)
class StoreLocation:
    """Which database: `backend` sqlite (a file) or postgres (a DSN from the environment)."""

    backend: str
    sqlite_path: Path | None = None
    dsn: str | None = field(default=None, repr=False)  # never shown
    wait: float = STORE_GRACE  # the longest wait for the database (SQLite: a file another process holds)
    init: bool = False  # SQLite: make a store of an empty file or an empty database (--init-store)
    # Make the store when there is none (no file; no tables): a command that only reads the state makes none, and
    # meets NoStateStore instead (a mistyped --state path left an empty database behind).
    create: bool = True

    @property
    def label(self) -> str:
        return f"SQLite {self.sqlite_path}" if self.backend == "sqlite" else f"PostgreSQL (${DSN_ENV})"


class _Batch:
    """PostgreSQL statements sent in one round trip, in order (each round trip costs psycopg more CPU than the
    statement's own work). Bound on the client (psycopg's ClientCursor quotes every value); the first error stops
    the rest and fails the transaction, which is then rolled back as any other error is."""

    def __init__(self):
        self.statements: list[str] = []
        self.parameters: list[Any] = []

    def execute(self, statement: str, parameters) -> None:
        self.statements.append(statement)
        self.parameters.extend(parameters)

    def run(self, cursor):
        """The ClientCursor that ran them, at the first statement's result (nextset() for the next), or None."""
        if not self.statements:
            return None
        import psycopg

        client = psycopg.ClientCursor(cursor.connection)
        client.execute(";\n".join(self.statements), self.parameters)
        return client


# --- connections ---

def _configure_sqlite(connection: sqlite3.Connection, wait: float) -> None:
    """Every connection to a SQLite store: WAL with synchronous=FULL (every COMMIT is fsync'd before it returns,
    and a commit costs one append), and a bounded busy timeout."""
    cursor = connection.cursor()
    # Switching a new database to WAL can meet another process doing the same: SQLite then answers "locked"
    # at once, without its busy timeout, so wait for it here. Every wait, this one and SQLite's own, ends
    # by one deadline: a process that holds the file (exclusive locking mode) is an error, not hours.
    deadline = time.monotonic() + wait
    while True:
        cursor.execute(f"PRAGMA busy_timeout={max(0, int((deadline - time.monotonic()) * 1000))}")
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    cursor.close()


def _connector(location: StoreLocation) -> Callable[[], Any]:
    """A function that opens one configured DB-API connection to the store (the file is checked first)."""
    if location.backend == "sqlite":
        path, wait = location.sqlite_path, location.wait
        if location.create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StateError(f"cannot create the state folder {path.parent}: {error.strerror}") from None
        sqlite_file.prepare(path, init=location.init, wait=wait, create=location.create)

        def connect_sqlite() -> sqlite3.Connection:
            # isolation_level None: the store issues BEGIN IMMEDIATE itself (_Connections.transaction).
            connection = sqlite3.connect(path, timeout=wait, check_same_thread=False, isolation_level=None)
            try:
                _configure_sqlite(connection, wait)
            except BaseException:
                connection.close()
                raise
            return connection

        return connect_sqlite
    dsn, wait = location.dsn, location.wait
    if not dsn:
        raise StateError(f"the postgres backend needs a connection string in the environment variable {DSN_ENV} "
                         "(it is never read from a flag or a file)")
    try:
        dsn.encode()
    except UnicodeEncodeError:  # bytes the environment could not decode: the driver would fail on them unexplained
        raise StateError(f"the connection string in {DSN_ENV} is not UTF-8 text (it holds bytes of another "
                         "encoding); write it in UTF-8") from None

    def connect_postgres():
        import psycopg

        connection = psycopg.connect(dsn, connect_timeout=10)
        try:
            # A lock another session holds (a table, a row, the schema's advisory lock) is waited for as long as
            # a held SQLite file: bounded, then an error ("canceling statement due to lock timeout").
            connection.execute(f"SET lock_timeout = {int(wait * 1000)}")
            connection.commit()
        except BaseException:
            connection.close()
            raise
        return connection

    return connect_postgres


class _Connections:
    """The store's DB-API connections, reused (a small pool: a transaction takes an idle one or opens one, so
    threads and a transaction opened inside another each have their own). Closed with the store."""

    def __init__(self, connect: Callable[[], Any], postgres: bool):
        self.connect = connect
        self.postgres = postgres
        self._idle: list[Any] = []

    def _take(self):
        try:
            return self._idle.pop()
        except IndexError:
            return self.connect()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Any]:
        """A cursor in a transaction, committed at the end (rolled back on an error). On SQLite a write
        transaction takes the write lock at its start (BEGIN IMMEDIATE): a read that later writes could fail on
        another's commit. psycopg begins one itself at the first statement."""
        connection = self._take()
        try:
            cursor = connection.cursor()
            if not self.postgres:
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield cursor
            connection.commit()
        except BaseException:
            try:
                connection.rollback()
            except BaseException:
                self._discard(connection)  # broken (the server went away): never handed out again
            else:
                self._idle.append(connection)
            raise
        self._idle.append(connection)

    @staticmethod
    def _discard(connection) -> None:
        try:
            connection.close()
        except Exception:
            pass

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())


def location_for(backend: str, state_path: str | os.PathLike, dsn: str | None = None, *,
                 lock_timeout: float | None = None, init: bool = False, create: bool = True) -> StoreLocation:
    # A wait on the database ends with --lock-timeout, but never sooner than the grace: another run's commit
    # holds the file for milliseconds, and the default --lock-timeout 0s must not make that an error.
    # At most what both engines take: PostgreSQL's lock_timeout and SQLite's busy timeout are 32-bit milliseconds
    # (a --lock-timeout of weeks, meaning "wait as long as it takes", was an error from the server).
    wait = min(max(STORE_GRACE, lock_timeout or 0.0), _LONGEST_WAIT)
    if backend == "sqlite":
        return StoreLocation("sqlite", sqlite_path=Path(state_path), wait=wait, init=init, create=create)
    if backend == "postgres":
        return StoreLocation("postgres", dsn=dsn if dsn is not None else os.environ.get(DSN_ENV, "").strip() or None,
                             wait=wait, create=create)
    raise StateError(f"unknown state backend {backend!r} (choose one of: {', '.join(BACKENDS)})")


def check_workspace_name(name: str) -> str:
    if not isinstance(name, str) or not WORKSPACE_NAME.fullmatch(name):
        raise StateError(f"{name!r} is not a valid workspace name (letters, digits, '_', '-' and '.', "
                         "starting with a letter or digit, at most 63 characters)")
    return name


# A project is free text, but one line of it: no control characters, no line or paragraph separators.
PROJECT_NAME = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,200}")


def check_project_name(name: str) -> str:
    if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name) or not name.strip():
        raise StateError(f"{name!r} is not a valid project name (1 to 200 characters on one line, no control "
                         "characters)")
    return name


class _RecordedElsewhere(StateError):
    """The one-owner index (sql_schema.ONE_OWNER_IN_STORE) refused a write: SqlStateStore.commit names the owners."""


def _row(entry: ResourceState) -> tuple[int, str, str]:
    """A resource row's (remote_id, record, kind) columns."""
    return entry.id, entry.record_json(), entry.kind


def _same_row(stored: tuple[int, str, str] | None, wanted: tuple[int, str, str]) -> bool:
    """Whether a row as the database holds it is the row `wanted`: the same columns, or (a record an older version
    wrote, in another JSON form) the same values written as this version writes them."""
    if stored == wanted:
        return True
    if stored is None or stored[0] != wanted[0] or stored[2] != wanted[2]:
        return False
    try:
        return json_text.canonical(strict_json(stored[1])) == wanted[1]
    except (ValueError, TypeError, RecursionError):  # a row no longer readable is replaced
        return False


def _readable(row) -> bool:
    try:
        rows_check.check_workspace_row("", "", row[0], row[1])
    except StateError:
        return False
    return True


def _driver_error(error: BaseException) -> bool:
    """An error of the database driver (sqlite3, psycopg) or of SQLAlchemy (the schema's creation)."""
    return type(error).__module__.split(".")[0] in ("sqlite3", "psycopg", "sqlalchemy")


def _claimed_elsewhere(error: BaseException, detail: str) -> bool:
    """The one-owner index's refusal of a row (sql_schema.ONE_OWNER_IN_STORE): SQLite names its columns, PostgreSQL
    the index, with SQLSTATE unique_violation."""
    if isinstance(error, sqlite3.IntegrityError):
        return detail.startswith("UNIQUE constraint failed: provisioner_resources.platform, ")
    return getattr(error, "sqlstate", None) == "23505" and _ONE_OWNER_IN_STORE in detail


def _no_such_table(error: BaseException) -> bool:
    """The driver's answer to a query of a table that does not exist (SQLite's message, PostgreSQL's SQLSTATE)."""
    if isinstance(error, sqlite3.OperationalError):
        return str(error).startswith("no such table")
    return type(error).__module__.startswith("psycopg") and getattr(error, "sqlstate", None) == "42P01"


class SqlStateStore:
    """The state of one project's workspace in a SQL database. See the module docstring."""

    def __init__(self, location: StoreLocation, project: str, workspace: str, *, legacy_dir: Path | None = None):
        self.location = location
        self.project = check_project_name(project)
        self.workspace = check_workspace_name(workspace)
        self.legacy_dir = legacy_dir
        self.operation = "write"
        self.description = f"{location.label}, project {project!r}, workspace {workspace!r}"
        self._dsn = location.dsn
        self._postgres = location.backend == "postgres"
        self._sql = _Sql(self._postgres)
        self._scope = (self.project, self.workspace)
        self._who = f"{_user()}@{socket.gethostname()}"
        self._snapshot: dict[str, tuple[int, str, str]] = {}  # address -> (id, record, kind)  # what the database holds, as far as this store knows
        self._exists = False  # whether the workspace row exists
        self._lock_connection = None  # PostgreSQL: the dedicated connection that holds the advisory lock
        self._liveness = None  # SQLite: the file this run holds flock'd while it holds the lock (see _holder_gone)
        self._held_lock: str | None = None  # the id of the lock this store holds: every write checks it is still ours
        self._lock_backend = 0  # PostgreSQL: the lock connection's server pid (every write checks its advisory lock)
        self.platform = ""  # the platform the rows it writes are of (workflow.session.Session sets it on connecting)
        self._platform_recorded = ""  # the platform this store's rows were last stamped with (see commit)
        self._lock_key = advisory_key(project, workspace)  # SQLite's liveness file; PostgreSQL: _advisory_keys
        self._schema_key: int | None = None  # PostgreSQL: the key of this store's schema, found once
        self._engine = None  # SQLAlchemy's, made only to create or migrate the schema (see `engine`)
        with self._guard("open the state store"):
            self._db = _Connections(_connector(location), self._postgres)
            try:
                self._ensure_schema()
            except BaseException:
                self.close()
                raise

    # --- plumbing ---

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Database and file errors become a StateError that says what failed, without the DSN."""
        try:
            yield
        except (StateError, LockError):
            raise
        except OSError as error:
            raise StateError(f"cannot {doing} ({self.location.label}): {scrub(str(error), self._dsn)}") from None
        except Exception as error:
            if not _driver_error(error):
                raise
            original = getattr(error, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
            if original is not None or not type(error).__module__.startswith("sqlalchemy"):
                error = original if original is not None else error
                detail = str(error).strip() or type(error).__name__
                if _claimed_elsewhere(error, detail):
                    raise _RecordedElsewhere(f"cannot {doing}: an object would be recorded that another workspace or "
                                             "project of this state store recorded on this platform first (one object "
                                             "has one owner); nothing was written") from None
                if "provisioner_resources_one_owner" in detail or "provisioner_resources.remote_id" in detail:
                    raise StateError(f"cannot {doing}: an id would be recorded at two addresses (another address "
                                     "of the same kind already holds it); nothing was written") from None
                if not self._postgres and "database is locked" in detail:
                    raise StateError(f"cannot {doing}: " + sqlite_file.held_message(self.location.sqlite_path,
                                                                                    self.location.wait)) from None
                raise StateError(f"cannot {doing} ({self.location.label}): {scrub(detail, self._dsn)}") from None
            raise StateError(f"cannot {doing} ({self.location.label}): {scrub(str(error), self._dsn)}") from None

    @contextmanager
    def _transaction(self, doing: str, *, write: bool = True) -> Iterator[Any]:
        """A DB-API cursor in one transaction (see _Connections.transaction); errors as _guard says."""
        with self._guard(doing):
            with self._db.transaction(write=write) as cursor:
                yield cursor

    @property
    def engine(self):
        """A SQLAlchemy engine over this store's connections: for the schema's creation and migrations (and for
        tools and tests that want one). Made, and SQLAlchemy imported, on first use only."""
        if self._engine is None:
            from . import sql_schema

            self._engine = sql_schema.engine(self._db.connect, self._postgres)
        return self._engine

    def _ensure_schema(self) -> None:
        """One query says the schema is this version's (every run but the first, or the first after an
        upgrade); a database without any of its tables is given them as plain DDL (sql_ddl.py); anything else (an
        older, newer or unreadable version, an interrupted creation) is sql_schema.ensure's, with SQLAlchemy."""
        try:
            with self._db.transaction(write=False) as cursor:
                found = cursor.execute(self._sql.schema_version).fetchone()
        except Exception as error:
            if not _no_such_table(error):
                raise  # a file held by another process, a server away, ...: said once, after one wait
            found = None  # a new database
        if found is not None and found[0] == str(SCHEMA_VERSION):
            return
        if found is None and not self.location.create and not self._schema_begun():
            raise NoStateStore(self.location.label)  # no CREATE TABLE from a command that makes no store
        if found is None:
            # A new database (no version row, most often no tables): its schema as plain DDL (sql_ddl.py), unless
            # some of it is there already.
            with self._db.transaction() as cursor:
                if sql_ddl.create_new(cursor, self._postgres, sqlite_file.APPLICATION_ID):
                    return
        from . import sql_schema

        try:
            sql_schema.ensure(self.engine, self._postgres, self.location.label, sqlite_file.APPLICATION_ID)
        finally:
            self.engine.dispose()  # its connections are not the store's: release them now

    def _schema_begun(self) -> bool:
        """Whether the database has any of the schema's tables, though no version row: a creation that was interrupted
        (finished by sql_schema.ensure, as on every command), or a version row deleted by hand. Taken for no store, it
        hid the rows it holds: plan planned every object as new, state list said nothing was ever made there."""
        with self._db.transaction(write=False) as cursor:
            return bool(sql_ddl.found_any(cursor, self._postgres))

    def close(self) -> None:
        """Release every connection (the advisory lock with its connection)."""
        self._close_lock_connection()
        self._let_go_of_liveness()
        self._db.close()
        if self._engine is not None:
            self._engine.dispose()

    def _close_lock_connection(self) -> None:
        if self._lock_connection is not None:
            try:
                self._lock_connection.close()
            except Exception:
                pass
            self._lock_connection = None

    # --- reading ---

    def exists(self) -> bool:
        with self._transaction("read the state") as cursor:
            return self._row(cursor) is not None

    def _written(self) -> bool:
        """Whether the workspace holds a state: a row written to, or resource rows (a workspace made by `workspace new`
        and never written does not: an older version's state file of that name still moves into it)."""
        with self._transaction("read the state") as cursor:
            row = self._row(cursor)
            return (row is not None and row[1] != 0) or bool(self._count(cursor))

    def _row(self, cursor) -> tuple[Any, Any] | None:
        """The workspace row's (lineage, serial), or None."""
        return cursor.execute(self._sql.workspace_row, self._scope).fetchone()

    def read(self) -> State:
        self._migrate_legacy_file()
        with self._transaction("read the state") as cursor:
            row = self._row(cursor)
            rows = cursor.execute(self._sql.resource_rows, self._scope).fetchall()
        if row is None and not rows:
            self._exists, self._snapshot = False, {}
            return State.new()
        if row is None:  # rows without their workspace: not what the provisioner writes
            raise self._orphans(len(rows))
        lineage, serial = rows_check.check_workspace_row(self.location.label, self.workspace, row[0], row[1])
        strict: list[str] = []
        resources = rows_check.check_resource_rows(self.location.label, self.workspace, rows, strict)
        self._exists = True
        self._snapshot = {address: (remote_id, record, kind) for address, remote_id, record, kind in rows}
        for address in strict:
            # A record in another JSON form (an older version wrote it): held as this version writes it, so that
            # write() finds it unchanged unless its values changed.
            self._snapshot[address] = _row(resources[address])
        return State(lineage=lineage, serial=serial, resources=resources)

    def entry(self, address: str) -> ResourceState | None:
        """One address's entry, or None: its row alone, found by its key and checked as read() checks every row. What
        `state show` prints costs the memory of one record, not of the whole state (233 MiB at 10,000 entries)."""
        self._migrate_legacy_file()
        with self._transaction("read the state", write=False) as cursor:
            workspace = self._row(cursor)
            orphans = self._count(cursor) if workspace is None else 0
            rows = cursor.execute(self._sql.resource_row, (*self._scope, address)).fetchall()
            # The other rows of its id, by the row's own columns (checked below, before any of the others).
            alike = [row for row in cursor.execute(self._sql.rows_of_id, (*self._scope, rows[0][3], rows[0][1]))
                     if row[0] != address] if rows else []
        # What read() checks of the rest, as far as it bears on this entry: the workspace row, rows left without
        # it, the address's rows (two, in a table without its key) and the other rows of its id. `state show`
        # printed a record of a store that `state list` and every plan refused as hand-edited.
        if orphans:
            raise self._orphans(orphans)
        if workspace is not None:
            rows_check.check_workspace_row(self.location.label, self.workspace, workspace[0], workspace[1])
        if not rows:
            return None
        return rows_check.check_resource_rows(self.location.label, self.workspace, rows + alike)[address]

    def addresses(self) -> list[str]:
        """Every address of the workspace, without its record (what an address not in state is a near miss of)."""
        with self._transaction("read the state", write=False) as cursor:
            return [row[0] for row in cursor.execute(self._sql.addresses, self._scope)]

    def history(self) -> list[HistoryEntry]:
        with self._transaction("read the state history") as cursor:
            rows = cursor.execute(self._sql.history_rows, self._scope).fetchall()
        return rows_check.check_history_rows(self.location.label, self.workspace, (
            {"serial": serial, "at": at, "operation": operation, "address": address, "action": action,
             "id": remote_id, "who": who, "lineage": lineage}
            for serial, at, operation, address, action, remote_id, who, lineage in rows))

    def export(self) -> State:
        """The whole state with its history: what `state pull` prints."""
        state = self.read()
        state.history = self.history()
        return state

    # --- writing ---

    def write(self, state: State) -> None:
        """Persist what differs from the database (as last read or written); nothing at all if nothing does."""
        changes: dict[str, ResourceState | None] = {}
        for address, entry in state.resources.items():
            if self._snapshot.get(address) != _row(entry):
                changes[address] = entry
        for address in self._snapshot:
            if address not in state.resources:
                changes[address] = None
        if changes or not self._exists:
            self.commit(state, changes)

    def commit(self, state: State, changes: Mapping[str, ResourceState | None]) -> None:
        """Write these rows as serial `state.serial + 1`, refused if the database is not at `state.serial`, or if
        one records an object another workspace or project recorded on this platform first (OwnedElsewhereError:
        nothing written, the owners named). That is the one-owner index's word, checked by the database as each row
        is written: the look-ups before (owners) cannot see a claim another run commits a moment later."""
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                return self._commit(state, changes)
            except _RecordedElsewhere as refused:
                owners = self._recorded_elsewhere(changes)
                if owners:
                    raise OwnedElsewhereError(owners) from None
                failure = refused  # the claim was rolled back, or it met only the platform's stamp: again
        raise failure

    def _recorded_elsewhere(self, changes: Mapping[str, ResourceState | None]) -> dict[str, tuple[str, int, Owner]]:
        """Of the rows `changes` writes, those another workspace or project recorded on this platform: address ->
        (kind, id, owner). A look-up of just these ids, after a refused commit."""
        by_kind: dict[str, dict[int, str]] = {}
        for address, entry in changes.items():
            if entry is not None:
                by_kind.setdefault(entry.kind, {})[entry.id] = address
        with self._transaction("look up who manages these ids", write=False) as cursor:
            return {by_kind[kind][remote_id]: (kind, remote_id, owner) for kind, ids in sorted(by_kind.items())
                    for remote_id, owner in self._owners(cursor, kind, ids, recorded=True).items()}

    def _commit(self, state: State, changes: Mapping[str, ResourceState | None]) -> None:
        serial, now = state.serial + 1, _now()
        rows = {address: _row(entry) if entry is not None else None for address, entry in changes.items()}
        with self._transaction("write the state") as cursor:
            if self._postgres and self._exists:
                self._check_lock_and_advance(cursor, state, serial, now)
            else:
                self._check_lock(cursor)
                self._advance(cursor, state, serial, now)
            # The writes, checked: on PostgreSQL one round trip for all of them.
            out = _Batch() if self._postgres else cursor
            self._write_rows(out, rows, serial)
            if self.platform and self._platform_recorded != self.platform:
                # Rows of this workspace whose platform is not recorded yet are of this one: record it (once per
                # run, not per commit), so the ownership look-up of other workspaces finds them.
                out.execute(self._sql.record_platform, (self.platform, *self._scope, self.platform))
            self._log(out, state.lineage, serial, now, [
                (address, self._action(address, row), row[0] if row else self._snapshot.get(address, (None,))[0])
                for address, row in rows.items()])
            if self._postgres:
                out.run(cursor)
        state.serial = serial
        self._exists = True
        self._platform_recorded = self.platform
        for address, row in rows.items():
            if row is None:
                self._snapshot.pop(address, None)
            else:
                self._snapshot[address] = row

    def _check_lock(self, cursor) -> None:
        """In the write's own transaction: the lock row must still be ours. Locking it (FOR UPDATE on PostgreSQL;
        SQLite's write transaction already excludes every other writer) makes a force-unlock wait for this
        commit, or this commit see the force-unlock: never both."""
        if self._held_lock is None:
            self._nobody_holds_the_lock(cursor)
            return
        self._still_ours(cursor.execute(self._sql.lock_row_for_update, self._scope).fetchone())
        if self._postgres:
            self._advisory_still_held(cursor.execute(self._sql.holder_alive,
                                                     self._holder_lock(self._lock_backend, cursor)))

    def _nobody_holds_the_lock(self, cursor) -> None:
        """A write of a run that took no lock (--lock=false: it neither waits for the lock nor takes it), in the
        write's own transaction: refused while another run holds the lock, whose changes it would overwrite or
        lose (an apply that records its changes would find its rows gone). On PostgreSQL the advisory lock says
        whether it is held (tried for this transaction only); on SQLite the lock row, which this write transaction
        keeps from changing until it commits (a row of this host whose process is gone holds nothing: a run that
        locks clears it)."""
        found = self._holder(cursor)
        if self._postgres:
            taken = cursor.execute("SELECT pg_try_advisory_xact_lock(%s), pg_try_advisory_xact_lock_shared(%s)",
                                   self._advisory_keys(cursor)).fetchone()
            held = not all(taken)
        else:
            held = found is not None and not self._holder_gone(found[0])
        if held:
            by = f" by {found[0].who} ({found[0].operation}, lock ID {found[0].id})" if found is not None else ""
            raise LockError(f"the state of {self.description} is locked{by}: --lock=false reads without the lock "
                            "but never writes while another run holds it; nothing was written. Run the command "
                            "again without --lock=false (it waits with --lock-timeout), or force-unlock a lock "
                            "whose run is gone")

    def confirm_lock(self) -> None:
        """The lock is still this run's: checked before an apply's first write to the platform. A run may wait
        long at its prompt, and lose the lock meanwhile (a force-unlock; on PostgreSQL, its lock connection
        dropped by a network blip, a restart or an idle-session timeout, and the lock taken by another run).
        Sending then would race the other run's creates with this one's: duplicates no plan reports."""
        if self._held_lock is None:
            return
        if self._postgres:
            try:
                self._lock_connection.execute("SELECT 1").fetchone()
            except Exception:
                raise LockLostError(f"this run no longer holds the state lock of {self.description}: the "
                                    "connection holding it was ended (a force-unlock, a network blip, a server "
                                    "restart or an idle-session timeout). Nothing more is written to the state or sent "
                                    "to the platform; run the command again") from None
        with self._transaction("check the state lock", write=False) as cursor:
            self._still_ours(cursor.execute(self._sql.lock_row, self._scope).fetchone())

    def _still_ours(self, row) -> None:
        """The lock row (lock_id, operation, who, ...) read in a write's transaction must be this run's lock."""
        if row is None or row[0] != self._held_lock:
            now = (f"; it is now held by {row[2]} ({row[1]}, lock ID {row[0]})" if row is not None else "")
            raise LockLostError(f"this run no longer holds the state lock {self._held_lock} (someone ran "
                                f"`provisioner force-unlock` on {self.description}, or the connection holding "
                                f"it was lost){now}. Nothing more is written "
                                "to the state or sent to the platform; run the command again once the other run "
                                "is done")

    def _advisory_still_held(self, results) -> None:
        """PostgreSQL: the holder_alive query of our lock connection must find its advisory lock. The lock row
        alone stays ours after that connection is ended (pg_terminate_backend, a restart, an idle-session timeout)
        until another run takes the lock: meanwhile nothing holds it, and a run that writes on would race the next
        one's plan with its creates."""
        if results.fetchone() is None:
            raise LockLostError(f"this run no longer holds the state lock {self._held_lock} of {self.description}: "
                                f"the connection holding it (PostgreSQL backend {self._lock_backend}) was ended "
                                "(a force-unlock, a network blip, a server restart or an idle-session timeout). "
                                "Nothing more is written to the state or sent to the platform; run the command "
                                "again")

    def _check_lock_and_advance(self, cursor, state: State, serial: int, now: str) -> None:
        """PostgreSQL, a workspace that exists: _check_lock and _advance in one round trip, checked before any row
        is written (a lost lock or a stale serial fails the transaction, so the serial's advance is undone)."""
        if self._held_lock is None:
            self._nobody_holds_the_lock(cursor)
        batch = _Batch()
        if self._held_lock is not None:
            batch.execute(self._sql.lock_row_for_update, self._scope)
            batch.execute(self._sql.holder_alive, self._holder_lock(self._lock_backend, cursor))
        batch.execute(self._sql.advance, (serial, now, *self._scope, state.serial, state.lineage))
        results = batch.run(cursor)
        if self._held_lock is not None:
            self._still_ours(results.fetchone())
            results.nextset()
            self._advisory_still_held(results)
            results.nextset()
        if results.rowcount != 1:
            raise self._stale(cursor, state)

    def _action(self, address: str, row: tuple[int, str] | None) -> str:
        if row is None:
            return "remove"
        return "update" if address in self._snapshot else "add"

    def _advance(self, cursor, state: State, serial: int, now: str) -> None:
        """The compare-and-set on (lineage, serial) that every write goes through."""
        if self._exists:
            cursor.execute(self._sql.advance, (serial, now, *self._scope, state.serial, state.lineage))
            if cursor.rowcount == 1:
                return
        else:
            if self._row(cursor) is None:
                cursor.execute(self._sql.insert_workspace, (*self._scope, state.lineage, serial, now, now))
                return
        raise self._stale(cursor, state)

    def _stale(self, cursor, state: State) -> StaleStateError:
        current = self._row(cursor)
        return StaleStateError(
            f"the state ({self.description}) was changed by another writer: it is at serial "
            f"{current[1] if current else 'none'} (lineage {current[0] if current else 'none'}), "
            f"but this run read serial {state.serial} (lineage {state.lineage}). Nothing was written. "
            "Run the command again (and let every run take the lock).")

    def _write_rows(self, cursor, rows: Mapping[str, tuple[int, str, str] | None], serial: int) -> None:
        """Each row replaced as delete + insert (portable): the old row of every address goes. A written id that
        another address holds is refused by the one-owner constraint (ids are unique per kind in a workspace):
        every write that moves an id (state mv, push, a deposed object) names its old address too, so only a
        doubtful one (a create answered with another object's id) meets it, and it must not take that row."""
        if not rows:
            return
        project, workspace = self._scope
        written = [(address, *row) for address, row in rows.items() if row is not None]  # address, id, record, kind
        if self._postgres:
            cursor.execute(self._sql.delete_addresses, (project, workspace, _JSON(list(rows))))
            if written:
                cursor.execute(self._sql.insert_resources, (project, workspace, serial, self.platform,
                                                            _JSON(written)))
            return
        cursor.executemany(self._sql.delete_address, [(project, workspace, address) for address in rows])
        if written:
            cursor.executemany(self._sql.insert_resource, [
                (project, workspace, address, remote_id, record, serial, kind, self.platform)
                for address, remote_id, record, kind in written])

    def _log(self, cursor, lineage: str, serial: int, now: str,
             entries: list[tuple[str, str, int | None]]) -> None:
        if not entries:
            return
        project, workspace = self._scope
        if self._postgres:
            cursor.execute(self._sql.insert_histories, (project, workspace, lineage, serial, now, self.operation,
                                                        self._who, _JSON(entries)))
            return
        cursor.executemany(self._sql.insert_history, [
            (project, workspace, lineage, serial, now, self.operation, address, action, remote_id, self._who)
            for address, action, remote_id in entries])

    # --- moving state in ---

    def _orphans(self, count: int) -> StateError:
        return StateError(f"{self.description}: {count} resource row(s) but no row in provisioner_workspaces. "
                          f"{rows_check.REPAIR}")

    def push(self, document: State, *, force: bool = False) -> str:
        """Load a state document (state push, migration). Refuses another lineage or an older serial unless forced.
        Returns what was done, for the user."""
        with self._transaction("push the state") as cursor:
            self._check_lock(cursor)
            note = "" if force else self._refuse_other_owners(cursor, document)
            row = self._row(cursor)
            now = _now()
            if force and (row is None and self._count(cursor) or row is not None and not _readable(row)):
                # Rows the provisioner did not write (see rows.py): --force replaces them whole.
                cursor.execute(self._sql.delete_resources, self._scope)
                cursor.execute(self._sql.delete_workspace, self._scope)
                row = None
            elif row is not None and not _readable(row):
                rows_check.check_workspace_row(self.location.label, self.workspace, row[0], row[1])
            elif row is None and (orphans := self._count(cursor)):
                raise self._orphans(orphans)  # never merged into the document: --force replaces them
            if row is not None and row[1] == 0 and not self._count(cursor):
                # A workspace created but never written (`workspace new`) takes the document's lineage as is.
                cursor.execute(self._sql.delete_workspace, self._scope)
                row = None
            if row is None:
                self._load_fresh(cursor, document, now)
                result = (f"loaded serial {document.serial} (lineage {document.lineage}) with "
                          f"{len(document.resources)} resource(s) into {self.description}")
            else:
                result = self._replace(cursor, row, document, now, force)
        self.read()
        return result + note

    def recorded_platform(self) -> str:
        """The platform this workspace's rows were written on ("" when none is recorded: no rows yet, or only rows
        a state command wrote)."""
        with self._transaction("read the state", write=False) as cursor:
            return self._recorded_platform(cursor)

    def held_elsewhere(self, limit: int = 5, *, recorded_only: bool = False) -> list[tuple[str, int, Owner]]:
        """This workspace's ids that another workspace or project manages on this run's platform (at most
        `limit`): (address here, id, owner there). `recorded_only`: only this workspace's rows that recorded no
        platform, held by rows that recorded this one (not those that recorded none, which may be of any): the
        one-owner index keeps recorded rows apart."""
        whose, mine = ("o.platform = ?", " AND s.platform = ''") if recorded_only else \
            ("(o.platform = ? OR o.platform = '')", "")
        # Sorted here, not by the database: ordered by address, SQLite walks the workspace's every row (record
        # included) in its key's order; the rows of no recorded platform, which every run looks at, are found
        # through their own index (sql_schema.UNRECORDED), and are few.
        statement = self._sql.text(
            "SELECT s.address, s.remote_id, o.project, o.workspace, o.address FROM provisioner_resources s "
            "JOIN provisioner_resources o ON o.kind = s.kind AND o.remote_id = s.remote_id "
            f"AND (o.project <> s.project OR o.workspace <> s.workspace) AND {whose} "
            f"WHERE s.project = ? AND s.workspace = ?{mine}")
        with self._transaction("look up who manages these ids", write=False) as cursor:
            rows = cursor.execute(statement, (self.platform, *self._scope)).fetchall()
        return [(address, remote_id, Owner(project, workspace, other))
                for address, remote_id, project, workspace, other in sorted(rows)[:limit]]

    def _recorded_platform(self, cursor) -> str:
        recorded = cursor.execute(self._sql.text("SELECT platform FROM provisioner_resources WHERE " + _SCOPE +
                                                 " AND platform <> '' LIMIT 1"), self._scope).fetchone()
        return recorded[0] if recorded else ""

    def _refuse_other_owners(self, cursor, document: State) -> str:
        """A pushed document must not claim ids another workspace or project manages on this workspace's platform:
        two states would then manage one object (a destroy in one deletes the other's, each adopts what the other
        made). The platform is the one this workspace's rows recorded; a workspace without any (a migration into
        a new store, a new workspace) cannot tell another platform's object of the same id from the same one, so
        the ids another workspace of this project manages are named, not refused. Returns that note, or ""."""
        by_kind: dict[str, dict[int, str]] = {}
        for address, entry in document.resources.items():
            by_kind.setdefault(entry.kind, {})[entry.id] = address
        platform = self.platform or self._recorded_platform(cursor)
        clashes = [f"{by_kind[kind][remote_id]} (id {remote_id}) is {owner.address} of project {owner.project!r}, "
                   f"workspace {owner.workspace!r}"
                   for kind, ids in sorted(by_kind.items())
                   for remote_id, owner in self._owners(cursor, kind, ids, in_project=not platform,
                                                        platform=platform).items()]
        if not clashes:
            return ""
        shown = "; ".join(clashes[:5]) + (f"; and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        if platform:
            raise StateError(f"the document claims objects another workspace or project manages on this platform: "
                             f"{shown}. Pushed, two states would manage one object (a destroy in one deletes the "
                             "other's). Nothing was written: push it where those are, `state rm` them there first, "
                             "or pass --force")
        return (f"; note: ids of this document are managed by another workspace of this project ({shown}): if both "
                "are on one platform, two states now manage one object; `state rm` them in one of them")

    def _load_fresh(self, cursor, document: State, now: str) -> None:
        cursor.execute(self._sql.insert_workspace, (*self._scope, document.lineage, document.serial, now, now))
        self._write_rows(cursor, {a: _row(e) for a, e in document.resources.items()}, document.serial)
        self._copy_history(cursor, document)
        self._log(cursor, document.lineage, document.serial, now, [("", "load", None)])

    def _copy_history(self, cursor, document: State) -> None:
        """The document's history lines this store does not have yet (all of them, into a fresh store): a state
        moved to another store and back keeps what was done to it meanwhile."""
        for number, line in enumerate(document.history):
            for key, width in HISTORY_WIDTHS.items():
                value = getattr(line, key) or (document.lineage if key == "lineage" else "")
                if len(value) > width:  # refused alike by both engines (SQLite keeps any length; PostgreSQL none)
                    raise StateError(f"the state document's history[{number}].{key} is {len(value)} characters, "
                                     f"more than the {width} a store keeps; nothing was written")
        present = set(map(tuple, cursor.execute(self._sql.history_keys, self._scope).fetchall()))
        project, workspace = self._scope
        lines = [(project, workspace, line.lineage or document.lineage, line.serial, line.at, line.operation,
                  line.address, line.action, line.remote_id, line.who) for line in document.history]
        new = [line for line in lines if line[2:8] not in present]
        if new:
            cursor.executemany(self._sql.insert_history, new)

    def _replace(self, cursor, row, document: State, now: str, force: bool) -> str:
        lineage, stored_serial = row[0], row[1]
        if lineage != document.lineage and not force:
            raise StaleStateError(f"the document's lineage {document.lineage} is not the lineage of "
                                  f"{self.description} ({lineage}): it is another state. Nothing was changed; "
                                  "use --force to replace this state with it.")
        current = {a: (r, rec, k) for a, r, rec, k in cursor.execute(self._sql.resource_rows, self._scope).fetchall()}
        wanted = {a: _row(e) for a, e in document.resources.items()}
        changes = {a: w for a, w in wanted.items() if not _same_row(current.get(a), w)}
        changes.update({a: None for a in current if a not in wanted})
        if document.serial < stored_serial and not force:
            raise StaleStateError(f"the document has serial {document.serial}, older than the store's {stored_serial}. "
                                  "Nothing was changed; use --force to replace the newer state with it.")
        if document.serial == stored_serial and lineage == document.lineage:
            if not changes:
                return f"{self.description} already holds serial {stored_serial}; nothing to do"
            if not force:
                raise StaleStateError(f"the document has the store's serial {stored_serial} but different resources. "
                                      "Nothing was changed; use --force to replace it.")
        serial = document.serial if document.serial > stored_serial else stored_serial + 1
        cursor.execute(self._sql.replace_serial, (serial, document.lineage, now, *self._scope, stored_serial))
        self._write_rows(cursor, changes, serial)
        self._copy_history(cursor, document)
        snapshot = self._snapshot
        self._snapshot = current
        try:
            self._log(cursor, document.lineage, serial, now,
                      [(a, self._action(a, r), (r or current.get(a, (None,)))[0]) for a, r in changes.items()]
                      + [("", "load", None)])
        finally:
            self._snapshot = snapshot
        return (f"pushed serial {serial} (lineage {document.lineage}): {len(changes)} resource row(s) written "
                f"to {self.description}")

    def _migrate_legacy_file(self) -> None:
        """A JSON state file of an older version (state/default.json) moves into the store on first use."""
        if self.legacy_dir is None:
            return
        path = legacy_state_file(self.legacy_dir, self.workspace)
        if not path.is_file() or self._written():
            return
        try:
            data = path.read_bytes()
        except OSError as error:
            raise StateError(f"cannot read the state file {path} to migrate it: {error.strerror}") from None
        document = State.loads(data, str(path))
        operation, self.operation = self.operation, "migrate"
        try:
            self.push(document)
        except StateError:
            if not self._written():
                raise
            return  # another run migrated it at the same moment
        finally:
            self.operation = operation
        try:
            path.rename(path.with_name(path.name + ".migrated"))
        except OSError:
            pass

    # --- locking ---

    def lock(self, operation: str, timeout: float, on_wait=None) -> LockInfo:
        info = LockInfo(id=str(uuid.uuid4()), operation=operation, who=self._who, host=socket.gethostname(),
                        pid=os.getpid(), created=_now(), path=self.description)
        deadline = time.monotonic() + max(0.0, timeout)
        delay = 0.05
        announced = looked_again = False
        while True:
            holder = self._try_lock(info)
            if holder is None:
                self._held_lock = info.id
                return info
            if on_wait is not None and not announced and timeout > 0:
                on_wait(holder, timeout)  # once: who holds it, and how long this run waits
                announced = True
            if time.monotonic() >= deadline and holder.id == UNKNOWN_HOLDER and not looked_again:
                # PostgreSQL: the holder takes the advisory lock, then writes its row in a second step; a moment
                # later the row names it.
                looked_again = True
                time.sleep(0.2)
                continue
            if time.monotonic() >= deadline and holder.id == UNKNOWN_HOLDER:
                raise LockError("the state is locked by another run that has not recorded who it is (it may be "
                                "starting, or be an older provisioner's run on a store in another schema of this "
                                "database with the same project and workspace). Wait for it to finish and retry, or retry with a longer "
                                "--lock-timeout")
            if time.monotonic() >= deadline:
                raise LockError(f"the state is locked by another run.\n  {holder.describe()}\n"
                                "Wait for it to finish, retry with a longer --lock-timeout, or, if that run is "
                                f"gone, remove the lock with: {self.force_unlock_command(holder.id)}")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def force_unlock_command(self, lock_id: str) -> str:
        """The command that removes this store's lock, with the flags that name this store and workspace (run
        without them it would look at the default workspace of the default store)."""
        flags = []
        if self.location.backend != "sqlite":
            flags.append(f"--backend {self.location.backend}")
        elif self.location.sqlite_path is not None and Path(self.location.sqlite_path) != Path(DEFAULT_STATE_PATH):
            flags.append(f"--state {shlex.quote(str(self.location.sqlite_path))}")
        if self.workspace != DEFAULT_WORKSPACE:
            flags.append(f"--workspace {self.workspace}")
        return " ".join(["provisioner force-unlock", *flags, shlex.quote(lock_id)])

    def lock_holder(self) -> LockInfo | None:
        """Who holds the lock now (as its row says), or None."""
        with self._transaction("read the lock") as cursor:
            found = self._holder(cursor)
        return found[0] if found else None

    def _holder(self, cursor) -> tuple[LockInfo, int | None] | None:
        row = cursor.execute(self._sql.lock_row, self._scope).fetchone()
        if row is None:
            return None
        lock_id, operation, who, host, pid, created, backend_pid = row
        return (LockInfo(id=lock_id, operation=operation, who=who, host=host, pid=pid, created=created,
                         path=self.description), backend_pid)

    def _try_lock(self, info: LockInfo) -> LockInfo | None:
        """Take the lock and return None, or return who holds it."""
        if self._postgres:
            return self._try_advisory_lock(info)
        with self._transaction("lock the state") as cursor:
            found = self._holder(cursor)
            if found is not None:
                holder = found[0]
                if self._holder_gone(holder):
                    cursor.execute(self._sql.delete_lock, self._scope)  # its process is gone
                else:
                    return holder
            self._insert_lock(cursor, info, None)
            self._hold_liveness()  # before the row is committed: no run ever sees the row without it
        return None

    def _liveness_path(self) -> Path:
        """SQLite: this workspace's liveness file, beside the database (one per project and workspace)."""
        path = Path(self.location.sqlite_path)
        return path.with_name(f".{path.name}.{self._lock_key & 0xFFFFFFFFFFFFFFFF:016x}.lock")

    def _holder_gone(self, holder: LockInfo) -> bool:
        """SQLite: whether the run a lock row names has ended: on this host, its pid gone, and the liveness file
        it flock'd is free. The pid alone is not enough: a run in another PID namespace of this host (a container
        sharing the host's name and the state folder) has a pid this one cannot see, and its live lock was taken
        over (two applies at once: duplicates). The kernel frees the flock when its process ends, whatever the
        namespace."""
        if holder.host != socket.gethostname() or process_alive(holder.pid):
            return False
        if fcntl is None:
            return True
        try:
            descriptor = os.open(self._liveness_path(), os.O_RDONLY)
        except FileNotFoundError:
            return True  # none: a holder of a version before it, or a folder where it could not be made
        except OSError:
            return False  # there, but not ours to look at (another user's): never assume its holder is gone
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # flock'd: its process lives
        except OSError:
            return True  # a file system without flock: the pid alone decides, as before
        finally:
            os.close(descriptor)  # (releases the flock taken just now)
        return True

    def _hold_liveness(self) -> None:
        """SQLite: flock this workspace's liveness file until unlock (see _holder_gone). Best effort: a folder
        where it cannot be made leaves the pid as the only sign of life, as before."""
        if fcntl is None or self._liveness is not None:
            return
        try:
            # As the umask makes it, like the database: a run of another user sharing the database (a container's)
            # must open it to see that this one lives (flock needs only a read).
            descriptor = os.open(self._liveness_path(), os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError:
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a force-unlocked run still holds it: it stops at its next write
            os.close(descriptor)
            return
        self._liveness = descriptor

    def _let_go_of_liveness(self) -> None:
        if self._liveness is not None:
            descriptor, self._liveness = self._liveness, None
            os.close(descriptor)

    def _insert_lock(self, cursor, info: LockInfo, backend_pid: int | None) -> None:
        cursor.execute(self._sql.insert_lock, (*self._scope, info.id, info.operation, info.who, info.host, info.pid,
                                               info.created, backend_pid))

    def _try_advisory_lock(self, info: LockInfo) -> LockInfo | None:
        with self._guard("lock the state"):
            import psycopg

            if self._lock_connection is None:
                self._lock_connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
            cursor = self._lock_connection.execute(
                "SELECT pg_try_advisory_lock(%s), pg_try_advisory_lock_shared(%s), pg_backend_pid()",
                self._advisory_keys(self._lock_connection))
            mine, legacy, backend_pid = cursor.fetchone()
            acquired = mine and legacy
            if not acquired:
                self._unlock_advisory(mine, legacy)
                with self._db.transaction() as cursor:
                    found = self._holder(cursor)
                return found[0] if found else LockInfo(
                    id=UNKNOWN_HOLDER, operation="unknown", who="unknown", host="unknown", pid=0, created="unknown",
                    path=self.description)
            try:
                with self._db.transaction() as cursor:
                    # A row left by a holder whose connection died is replaced: the advisory lock is the truth.
                    cursor.execute(self._sql.delete_lock, self._scope)
                    self._insert_lock(cursor, info, backend_pid)
            except BaseException:
                self._release_advisory()
                raise
            self._lock_backend = backend_pid
        return None

    def _release_advisory(self) -> None:
        if self._lock_connection is not None:
            try:
                self._unlock_advisory(True, True)
            except Exception:
                pass
            self._close_lock_connection()

    def _unlock_advisory(self, mine: bool, legacy: bool) -> None:
        """Release, on the lock connection, this store's key and the shared legacy key, those taken."""
        key, legacy_key = self._advisory_keys(self._lock_connection)
        if mine:
            self._lock_connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
        if legacy:
            self._lock_connection.execute("SELECT pg_advisory_unlock_shared(%s)", (legacy_key,))

    def _advisory_keys(self, executor) -> tuple[int, int]:
        """PostgreSQL: (this store's key, taken exclusively; the key of versions before it, taken shared). The key
        named no schema, so two stores in two schemas of one database with the same project and workspace names
        took one lock: a run of one waited for the other's, though they share nothing. A run of an older version on
        this same store takes the old key exclusively: the shared one keeps the two apart, while runs of this
        version on stores of other schemas share it. `executor`: a cursor or connection of this store's database."""
        if self._schema_key is None:
            schema = executor.execute(STORE_SCHEMA).fetchone()[0]
            self._schema_key = advisory_key(self.project, self.workspace, schema)
        return self._schema_key, self._lock_key

    def unlock(self, lock_id: str) -> None:
        """Release our lock. A failure here is not reported: a lock left behind by a run that ended is cleared
        by the next run (SQLite: its pid is gone; PostgreSQL: its connection is closed)."""
        self._held_lock = None
        # SQLite: the liveness flock goes before the row. Let go of after it, a run that took the lock in between
        # could not flock the file, and held the lock with its pid as its only sign of life (see _holder_gone);
        # the row of a run that writes nothing more is harmless to clear.
        self._let_go_of_liveness()
        try:
            with self._transaction("unlock the state") as cursor:
                cursor.execute(self._sql.delete_own_lock, (*self._scope, lock_id))
        except StateError:
            pass
        finally:
            if self._postgres:
                self._release_advisory()

    def force_unlock(self, lock_id: str) -> None:
        with self._transaction("unlock the state") as cursor:
            found = self._holder(cursor)
            if found is None:
                raise LockError(f"the state ({self.description}) is not locked")
            holder, backend_pid = found
            if holder.id != lock_id:
                raise LockError(f"lock ID {lock_id!r} does not match the lock on {self.description}:\n"
                                f"  {holder.describe()}")
            cursor.execute(self._sql.delete_lock, self._scope)
            if self._postgres and backend_pid:
                # The advisory lock belongs to the holder's connection: end that connection to free it.
                cursor.execute(self._sql.terminate_holder, self._holder_lock(backend_pid, cursor))
        if self._postgres and backend_pid:
            self._await_holder_gone(backend_pid)

    def _holder_lock(self, backend_pid: int, cursor) -> tuple[int, ...]:
        """The parameters that find the holder's advisory lock on this workspace in pg_locks: its schema's key, or
        the key without one that a holder of an older version took exclusively."""
        key, legacy = self._advisory_keys(cursor)
        return (backend_pid, *advisory_halves(key), *advisory_halves(legacy))

    def _await_holder_gone(self, backend_pid: int, deadline: float = 10.0) -> None:
        """Return once the ended connection's advisory lock is free. pg_terminate_backend only signals the backend,
        which exits a moment later: a run started at once (the usual next step after force-unlock) would still
        find the state locked, by nobody it could name."""
        until = time.monotonic() + deadline
        while True:
            with self._transaction("unlock the state", write=False) as cursor:
                if cursor.execute(self._sql.holder_alive, self._holder_lock(backend_pid, cursor)).fetchone() is None:
                    return
            if time.monotonic() >= until:
                raise LockError(f"the lock's holder (PostgreSQL backend {backend_pid}) was told to end {deadline:g}s "
                                "ago and still holds the state's advisory lock; run force-unlock again")
            time.sleep(0.02)

    def owners(self, kind: str, ids) -> dict[int, Owner]:
        """Which other workspace or project of this store manages each of `ids` (platform ids of `kind`)."""
        with self._transaction("look up who manages these ids", write=False) as cursor:
            return self._owners(cursor, kind, ids)

    def _owners(self, cursor, kind: str, ids, in_project: bool = False, platform: str | None = None,
                recorded: bool = False) -> dict[int, Owner]:
        """`in_project`: in this project's other workspaces only, whatever their platform (for a state command,
        which knows no platform of its own: across projects, the same id may be another platform's object).
        `platform`: a push's, recorded by the workspace's rows (push_owners); else this run's (owners).
        `recorded`: rows that recorded this run's platform only (recorded_on)."""
        wanted = sorted({int(i) for i in ids})
        found: dict[int, Owner] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            if in_project:
                statement, parameters = self._sql.owners_in_project(len(chunk)), (kind, *chunk, *self._scope)
            elif recorded:
                statement, parameters = self._sql.recorded_on(len(chunk)), (kind, *chunk, *self._scope, self.platform)
            elif platform:
                project = self._scope[0]
                statement, parameters = (self._sql.push_owners(len(chunk)),
                                         (kind, *chunk, *self._scope, platform, project, platform))
            else:
                statement, parameters = self._sql.owners(len(chunk)), (kind, *chunk, *self._scope, self.platform)
            rows = cursor.execute(statement, parameters).fetchall()
            for remote_id, project, workspace, address in rows:
                found.setdefault(remote_id, Owner(project, workspace, address))
        return found

    def probe(self) -> None:
        """Fail now, before any platform write, if the store cannot take a write (read-only, full, unreachable)."""
        with self._transaction("write to the state store") as cursor:
            cursor.execute(self._sql.probe, (str(SCHEMA_VERSION),))

    # --- workspaces ---

    def workspaces(self) -> list[str]:
        with self._transaction("list workspaces") as cursor:
            names = {row[0] for row in cursor.execute(self._sql.workspace_names, (self.project,)).fetchall()}
        for name in names:  # rows are input: a name the provisioner would not write is not printed as one
            if not isinstance(name, str) or not WORKSPACE_NAME.fullmatch(name):
                raise StateError(f"{self.location.label}: project {self.project!r}, table provisioner_workspaces, "
                                 f"column workspace holds {name!r}, not a valid workspace name")
        return sorted(names | {DEFAULT_WORKSPACE})

    def create(self, exist_ok: bool = False) -> bool:
        """Create this (empty) workspace: a new lineage at serial 0. False when it exists already (refused unless
        `exist_ok`, also when another run created it a moment before this one)."""
        with self._transaction("create the workspace") as cursor:
            made = False
            if self._row(cursor) is None:
                now = _now()
                made = cursor.execute(self._sql.insert_workspace_if_absent,
                                      (*self._scope, str(uuid.uuid4()), 0, now, now)).rowcount == 1
            if not made and not exist_ok:
                raise StateError(f"workspace {self.workspace!r} already exists in project {self.project!r}")
        self._exists = True
        return made

    def _count(self, cursor) -> int:
        return cursor.execute(self._sql.count_resources, self._scope).fetchone()[0]

    def drop(self, *, force: bool = False) -> int:
        """Delete this workspace's state rows and lock (its history stays, for audit). Returns the rows dropped."""
        with self._transaction("delete the workspace") as cursor:
            count = self._count(cursor)
            if count and not force:
                raise StateError(f"workspace {self.workspace!r} still manages {count} object(s); destroy them "
                                 "first, or use --force to forget them (they stay on the platform)")
            cursor.execute(self._sql.delete_resources, self._scope)
            cursor.execute(self._sql.delete_workspace, self._scope)
        return count


def sqlite_files(path: Path) -> list[Path]:
    """The database file and its WAL companions."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


# --- choosing the store: backend, project, workspace ---

PROJECT_ENV = "PROVISIONER_PROJECT"
WORKSPACE_FILE = "workspace"


def default_project(state_path: str | os.PathLike) -> str:
    """$PROVISIONER_PROJECT, else the name of the folder that holds the state folder (the repository's)."""
    explicit = os.environ.get(PROJECT_ENV, "").strip()
    if explicit:
        return explicit[:200]
    return Path(os.path.abspath(state_path)).parent.parent.name or "default"


def selected_workspace(state_dir: Path) -> str:
    """The workspace chosen with `workspace select`, remembered in state/workspace; else default."""
    path = state_dir / WORKSPACE_FILE
    try:
        data = _read_small(path, _WORKSPACE_FILE_BYTES)
    except FileNotFoundError:
        return DEFAULT_WORKSPACE
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror}") from None
    # Its own line break only: str.strip() would also take a "\u2028" or a "\x85" off the name.
    name = data.decode("utf-8", "replace").strip(" \t\r\n")
    if not name:
        return DEFAULT_WORKSPACE
    if not WORKSPACE_NAME.fullmatch(name):
        shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
        raise StateError(f"{path} holds {shown}, not a valid workspace name (letters, digits, '_', '-' and '.', "
                         "starting with a letter or digit, at most 63 characters): remove it (the default "
                         "workspace is then selected), then select one with `provisioner workspace select NAME`")
    return name


_WORKSPACE_FILE_BYTES = 256  # a name and its line break: far less (a longer file is no name, and is not read whole)


def _read_small(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file: a FIFO there does not block the run, a link to /dev/zero does
    not fill the memory (OSError for either)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        return handle.read(limit + 1)


def remember_workspace(state_dir: Path, name: str) -> None:
    from .local import atomic_write

    atomic_write(state_dir / WORKSPACE_FILE, (check_workspace_name(name) + "\n").encode())


def store_scope(state_path: str | os.PathLike, project: str | None, workspace: str | None) -> tuple[str, str]:
    """The (project, workspace) a store opened with these settings is of, found without opening it: `project` or
    default_project, `workspace` or the one `workspace select` remembered."""
    name = check_workspace_name(workspace) if workspace else selected_workspace(Path(state_path).parent)
    return project or default_project(state_path), name


def open_store(backend: str, state_path: str | os.PathLike, *, workspace: str | None = None,
               project: str | None = None, dsn: str | None = None, must_exist: bool = True,
               lock_timeout: float | None = None, init_store: bool = False, create: bool = True) -> SqlStateStore:
    """The store of one workspace. `workspace` None means the selected one; a workspace other than default must
    have been created (`workspace new`) unless `must_exist` is False. Without `create`, a store that is not there
    is not made (NoStateStore, naming the project and workspace), unless asked for all the same: --init-store, or
    an older version's JSON state file of the workspace to migrate into it (docs/state.md)."""
    state_dir = Path(state_path).parent
    project, name = store_scope(state_path, project, workspace)
    legacy = legacy_state_file(state_dir, name).is_file()
    location = location_for(backend, state_path, dsn, lock_timeout=lock_timeout, init=init_store,
                            create=create or init_store or legacy)
    try:
        store = SqlStateStore(location, project, name, legacy_dir=state_dir)
    except NoStateStore:
        if must_exist and name != DEFAULT_WORKSPACE:
            raise _no_workspace(name, project, f"{location.label}, where there is no state store yet") from None
        raise NoStateStore(location.label, project, name) from None
    if must_exist and name != DEFAULT_WORKSPACE and not legacy and not store.exists():
        store.close()
        raise _no_workspace(name, store.project, store.location.label)
    return store


def _no_workspace(name: str, project: str, where: str) -> StateError:
    return StateError(f"workspace {name!r} does not exist in project {project!r} ({where}); create it with: "
                      f"provisioner workspace new {name}")
