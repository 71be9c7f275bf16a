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

The differences between the engines are in `_Engine` below (and the upsert statement's dialect).
"""
from __future__ import annotations

import getpass
import hashlib
import sqlite3
import os
import re
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from sqlalchemy import (BigInteger, Column, bindparam, Index, Integer, MetaData, String, Table, Text, UniqueConstraint,
                        create_engine, delete, event, func, insert, inspect, select, text, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError


from ..errors import LockError, StateError
from . import DEFAULT_KIND, MAX_ADDRESS, HistoryEntry, LockInfo, LockLostError, Owner, ResourceState, State, StaleStateError
from . import rows as rows_check
from . import sqlite_file
from .local import legacy_state_file

SCHEMA_VERSION = 3
DSN_ENV = "PROVISIONER_PG_DSN"
BACKENDS = ("sqlite", "postgres")
WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
DEFAULT_WORKSPACE = "default"
STORE_GRACE = sqlite_file.STORE_GRACE

metadata = MetaData()


def _scope() -> list[Column]:
    return [Column("project", String(200), primary_key=True), Column("workspace", String(64), primary_key=True)]


meta_table = Table("provisioner_meta", metadata,
                   Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
workspaces_table = Table("provisioner_workspaces", metadata, *_scope(),
                         Column("lineage", String(200), nullable=False),
                         Column("serial", BigInteger, nullable=False),
                         Column("created", String(40), nullable=False),
                         Column("updated", String(40), nullable=False))
resources_table = Table("provisioner_resources", metadata, *_scope(),
                        Column("address", String(MAX_ADDRESS), primary_key=True),
                        Column("remote_id", BigInteger, nullable=False),
                        Column("record", Text, nullable=False),
                        Column("serial", BigInteger, nullable=False),  # the serial that last wrote the row
                        # What the platform id names (ids are per kind): the key of the ownership look-up.
                        Column("kind", String(32), nullable=False, server_default=DEFAULT_KIND),
                        # Which platform (its API URL) the id is of: ids of two platforms are unrelated. '' when not
                        # known (a version 1 row, or one written by a command that does not talk to the platform):
                        # filled in at the workspace's next write by a run that does (see commit).
                        Column("platform", String(500), nullable=False, server_default=""),
                        # One address per platform object of a kind, per workspace (version 2: per workspace).
                        UniqueConstraint("project", "workspace", "kind", "remote_id",
                                         name="provisioner_resources_one_owner"))
# "Who manages platform id X?" across every project and workspace of the store (see owners()).
Index("provisioner_resources_by_id", resources_table.c.kind, resources_table.c.remote_id)
locks_table = Table("provisioner_locks", metadata, *_scope(),
                    Column("lock_id", String(64), nullable=False),
                    Column("operation", String(100), nullable=False),
                    Column("who", String(200), nullable=False),
                    Column("host", String(200), nullable=False),
                    Column("pid", Integer, nullable=False),
                    Column("created", String(40), nullable=False),
                    Column("backend_pid", Integer))  # PostgreSQL: the lock connection's server process
history_table = Table("provisioner_history", metadata,
                      Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
                      Column("project", String(200), nullable=False),
                      Column("workspace", String(64), nullable=False),
                      Column("lineage", String(200), nullable=False),
                      Column("serial", BigInteger, nullable=False),
                      Column("at", String(40), nullable=False),
                      Column("operation", String(100), nullable=False),
                      Column("address", String(MAX_ADDRESS), nullable=False),
                      Column("action", String(20), nullable=False),
                      Column("remote_id", BigInteger),
                      Column("who", String(200), nullable=False))
Index("provisioner_history_by_workspace", history_table.c.project, history_table.c.workspace, history_table.c.id)



def _add_kind(connection: Connection) -> None:
    """Version 1 -> 2: every row so far is an assistant, of a platform not recorded; the index serves the
    ownership look-up."""
    connection.execute(text(f"ALTER TABLE provisioner_resources ADD COLUMN kind VARCHAR(32) NOT NULL "
                            f"DEFAULT '{DEFAULT_KIND}'"))
    connection.execute(text("ALTER TABLE provisioner_resources ADD COLUMN platform VARCHAR(500) NOT NULL DEFAULT ''"))
    connection.execute(text("CREATE INDEX provisioner_resources_by_id ON provisioner_resources (kind, remote_id)"))


def _ids_per_kind(connection: Connection) -> None:
    """Version 2 -> 3: a platform id is unique per kind (a tool and an assistant may share one), so the one-owner
    constraint takes the kind; addresses grow (`knowledgebase.<kb>.<document>`)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE provisioner_resources DROP CONSTRAINT IF EXISTS "
                                "provisioner_resources_one_owner"))
        connection.execute(text("ALTER TABLE provisioner_resources ADD CONSTRAINT provisioner_resources_one_owner "
                                "UNIQUE (project, workspace, kind, remote_id)"))
        for table in ("provisioner_resources", "provisioner_history"):
            connection.execute(text(f"ALTER TABLE {table} ALTER COLUMN address TYPE VARCHAR({MAX_ADDRESS})"))
        return
    # SQLite changes a constraint only by building the table again (its lengths are not enforced).
    connection.execute(text("ALTER TABLE provisioner_resources RENAME TO provisioner_resources_v2"))
    connection.execute(text("DROP INDEX IF EXISTS provisioner_resources_by_id"))
    resources_table.create(connection)  # with its index
    columns = ", ".join(c.name for c in resources_table.columns)
    connection.execute(text(f"INSERT INTO provisioner_resources ({columns}) SELECT {columns} "
                            "FROM provisioner_resources_v2"))
    connection.execute(text("DROP TABLE provisioner_resources_v2"))


# MIGRATIONS[n] takes a connection from schema version n to n + 1 (in the transaction that records n + 1).
MIGRATIONS: dict[int, Any] = {1: _add_kind, 2: _ids_per_kind}

_SCHEMA_LOCK_KEY = 0x70726F76  # "prov": serialises schema creation between PostgreSQL clients
_CHUNK = 500  # rows per statement (SQLite limits bound parameters)


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
        try:
            from psycopg.conninfo import conninfo_to_dict

            password = conninfo_to_dict(dsn).get("password")
        except Exception:
            password = None
        if password:
            message = message.replace(str(password), "***")
    message = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", message, flags=re.I)
    return re.sub(r"(://[^/@\s:]*:)[^@\s]*@", r"\1***@", message)


def advisory_key(project: str, workspace: str) -> int:
    """A signed 64-bit key for pg_advisory_lock, the same on every machine for one project and workspace."""
    digest = hashlib.blake2b(f"provisioner\0{project}\0{workspace}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class StoreLocation:
    """Which database: `backend` sqlite (a file) or postgres (a DSN from the environment)."""

    backend: str
    sqlite_path: Path | None = None
    dsn: str | None = field(default=None, repr=False)  # never shown
    wait: float = STORE_GRACE  # the longest wait for the database (SQLite: a file another process holds)
    init: bool = False  # SQLite: make a store of an empty file or an empty database (--init-store)

    @property
    def label(self) -> str:
        return f"SQLite {self.sqlite_path}" if self.backend == "sqlite" else f"PostgreSQL (${DSN_ENV})"


def _engine(location: StoreLocation) -> Engine:
    """An engine (a small pool) for one store's lifetime: closed with it, so no connection outlives a command."""
    if location.backend == "sqlite":
        return _sqlite_engine(location.sqlite_path, location.wait, location.init)
    return _postgres_engine(location.dsn, location.wait)


def _sqlite_engine(path: Path, wait: float, init: bool) -> Engine:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StateError(f"cannot create the state folder {path.parent}: {error.strerror}") from None
    sqlite_file.prepare(path, init=init, wait=wait)
    engine = create_engine(f"sqlite+pysqlite:///{path}", hide_parameters=True,
                           connect_args={"check_same_thread": False, "timeout": wait})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        # WAL with synchronous=FULL: every COMMIT is fsync'd before it returns, and a commit costs one append.
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

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        # Take the write lock at the start: a read transaction that later writes could fail on another's commit.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(dsn: str | None, wait: float = STORE_GRACE) -> Engine:
    if not dsn:
        raise StateError(f"the postgres backend needs a connection string in the environment variable {DSN_ENV} "
                         "(it is never read from a flag or a file)")
    import psycopg

    def connect():
        connection = psycopg.connect(dsn, connect_timeout=10)
        # A lock another session holds (a table, a row, the schema's advisory lock) is waited for as long as
        # a held SQLite file: bounded, then an error ("canceling statement due to lock timeout").
        connection.execute(f"SET lock_timeout = {int(wait * 1000)}")
        connection.commit()
        return connection

    return create_engine("postgresql+psycopg://", creator=connect, hide_parameters=True, pool_size=5,
                         max_overflow=10)


def location_for(backend: str, state_path: str | os.PathLike, dsn: str | None = None, *,
                 lock_timeout: float | None = None, init: bool = False) -> StoreLocation:
    # A wait on the database ends with --lock-timeout, but never sooner than the grace: another run's commit
    # holds the file for milliseconds, and the default --lock-timeout 0s must not make that an error.
    wait = max(STORE_GRACE, lock_timeout or 0.0)
    if backend == "sqlite":
        return StoreLocation("sqlite", sqlite_path=Path(state_path), wait=wait, init=init)
    if backend == "postgres":
        return StoreLocation("postgres", dsn=dsn if dsn is not None else os.environ.get(DSN_ENV, "").strip() or None,
                             wait=wait)
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


def _row(entry: ResourceState) -> tuple[int, str, str]:
    """A resource row's (remote_id, record, kind) columns."""
    return entry.id, entry.record_json(), entry.kind


def _readable(row) -> bool:
    try:
        rows_check.check_workspace_row("", "", row.lineage, row.serial)
    except StateError:
        return False
    return True


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
        self._who = f"{_user()}@{socket.gethostname()}"
        self._snapshot: dict[str, tuple[int, str, str]] = {}  # address -> (id, record, kind)  # what the database holds, as far as this store knows
        self._exists = False  # whether the workspace row exists
        self._lock_connection = None  # PostgreSQL: the dedicated connection that holds the advisory lock
        self._held_lock: str | None = None  # the id of the lock this store holds: every write checks it is still ours
        self.platform = ""  # the platform the rows it writes are of (workflow.session.Session sets it on connecting)
        self._platform_recorded = ""  # the platform this store's rows were last stamped with (see commit)
        self._lock_key = advisory_key(project, workspace)
        self._cached: dict[str, Any] | None = None
        with self._guard("open the state store"):
            self.engine = _engine(location)
            try:
                self._ensure_schema()
            except BaseException:
                self.engine.dispose()
                raise

    # --- plumbing ---

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Database and file errors become a StateError that says what failed, without the DSN."""
        try:
            yield
        except (StateError, LockError):
            raise
        except DBAPIError as error:
            detail = str(error.orig).strip() or type(error.orig).__name__
            if not self._postgres and "database is locked" in detail:
                raise StateError(f"cannot {doing}: " + sqlite_file.held_message(self.location.sqlite_path,
                                                                                self.location.wait)) from None
            raise StateError(f"cannot {doing} ({self.location.label}): {scrub(detail, self._dsn)}") from None
        except (SQLAlchemyError, OSError) as error:
            raise StateError(f"cannot {doing} ({self.location.label}): {scrub(str(error), self._dsn)}") from None
        except Exception as error:
            if type(error).__module__.startswith(("psycopg", "sqlite3")):
                raise StateError(f"cannot {doing} ({self.location.label}): {scrub(str(error), self._dsn)}") from None
            raise

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[Connection]:
        with self._guard(doing):
            with self.engine.begin() as connection:
                yield connection

    def _here(self, table: Table):
        return (table.c.project == self.project) & (table.c.workspace == self.workspace)

    def _statements(self) -> dict[str, Any]:
        """The statements of a commit, built once: building SQLAlchemy constructs per commit costs more CPU than
        running them."""
        if self._cached is None:
            w, r = workspaces_table.c, resources_table.c
            self._cached = {
                "advance": update(workspaces_table).where(
                    (w.project == bindparam("b_project")) & (w.workspace == bindparam("b_workspace"))
                    & (w.serial == bindparam("b_expected")) & (w.lineage == bindparam("b_lineage"))
                ).values(serial=bindparam("b_serial"), updated=bindparam("b_now")),
                "clear": delete(resources_table).where(
                    (r.project == bindparam("b_project")) & (r.workspace == bindparam("b_workspace"))
                    & (r.address.in_(bindparam("b_addresses", expanding=True))
                       | ((r.kind == bindparam("b_kind")) & r.remote_id.in_(bindparam("b_ids", expanding=True))))),
                "insert_resources": insert(resources_table),
                "lock_row": select(locks_table.c.lock_id, locks_table.c.who, locks_table.c.operation).where(
                    (locks_table.c.project == bindparam("b_project"))
                    & (locks_table.c.workspace == bindparam("b_workspace"))).with_for_update(),
                "record_platform": update(resources_table).where(
                    (r.project == bindparam("b_project")) & (r.workspace == bindparam("b_workspace"))
                    & (r.platform == "")).values(platform=bindparam("b_platform")),
                "insert_history": insert(history_table),
            }
        return self._cached

    def _ensure_schema(self) -> None:
        with self.engine.begin() as connection:
            if self._postgres:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            if not inspect(connection).has_table(meta_table.name):
                if not self._postgres:  # the header says whose database it is (sqlite_file.py)
                    connection.exec_driver_sql(f"PRAGMA application_id = {sqlite_file.APPLICATION_ID}")
                metadata.create_all(connection)
                connection.execute(insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            found = connection.execute(select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                                       ).scalar_one_or_none()
            if found is None:  # a creation that was interrupted: finish it
                metadata.create_all(connection)
                connection.execute(insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            if not found.isdigit() or int(found) < 1:
                raise StateError(f"the state database ({self.location.label}) has an unreadable schema version "
                                 f"{found!r} in {meta_table.name}")
            version = int(found)
            if version > SCHEMA_VERSION:
                raise StateError(f"the state database ({self.location.label}) has schema version {version}, written "
                                 f"by a newer provisioner; this one knows up to version {SCHEMA_VERSION}. Upgrade.")
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](connection)
                version += 1
                connection.execute(update(meta_table).where(meta_table.c.key == "schema_version")
                                   .values(value=str(version)))

    def close(self) -> None:
        """Release every connection (the advisory lock with its connection)."""
        self._close_lock_connection()
        self.engine.dispose()

    def _close_lock_connection(self) -> None:
        if self._lock_connection is not None:
            try:
                self._lock_connection.close()
            except Exception:
                pass
            self._lock_connection = None

    # --- reading ---

    def exists(self) -> bool:
        with self._transaction("read the state") as connection:
            return self._row(connection) is not None

    def _row(self, connection: Connection):
        return connection.execute(select(workspaces_table.c.lineage, workspaces_table.c.serial)
                                  .where(self._here(workspaces_table))).first()

    def read(self) -> State:
        self._migrate_legacy_file()
        with self._transaction("read the state") as connection:
            row = self._row(connection)
            rows = connection.execute(select(resources_table.c.address, resources_table.c.remote_id,
                                             resources_table.c.record, resources_table.c.kind)
                                      .where(self._here(resources_table))).all()
        if row is None and not rows:
            self._exists, self._snapshot = False, {}
            return State.new()
        if row is None:  # rows without their workspace: not what the provisioner writes
            raise StateError(f"{self.description}: {len(rows)} resource row(s) but no row in "
                             f"{workspaces_table.name}. {rows_check.REPAIR}")
        lineage, serial = rows_check.check_workspace_row(self.location.label, self.workspace, row.lineage, row.serial)
        resources = rows_check.check_resource_rows(self.location.label, self.workspace, rows)
        self._exists = True
        self._snapshot = {address: (remote_id, record, kind) for address, remote_id, record, kind in rows}
        return State(lineage=lineage, serial=serial, resources=resources)

    def history(self) -> list[HistoryEntry]:
        columns = history_table.c
        with self._transaction("read the state history") as connection:
            rows = connection.execute(select(columns.serial, columns.at, columns.operation, columns.address,
                                             columns.action, columns.remote_id, columns.who, columns.lineage)
                                      .where(self._here(history_table)).order_by(columns.id)).all()
        return rows_check.check_history_rows(self.location.label, self.workspace, (
            {"serial": r.serial, "at": r.at, "operation": r.operation, "address": r.address, "action": r.action,
             "id": r.remote_id, "who": r.who, "lineage": r.lineage} for r in rows))

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
        """Write these rows as serial `state.serial + 1`, refused if the database is not at `state.serial`."""
        serial, now = state.serial + 1, _now()
        rows = {address: _row(entry) if entry is not None else None for address, entry in changes.items()}
        with self._transaction("write the state") as connection:
            self._check_lock(connection)
            self._advance(connection, state, serial, now)
            self._write_rows(connection, rows, serial)
            if self.platform and self._platform_recorded != self.platform:
                # Rows of this workspace whose platform is not recorded yet are of this one: record it (once per
                # run, not per commit), so the ownership look-up of other workspaces finds them.
                connection.execute(self._statements()["record_platform"], {
                    "b_project": self.project, "b_workspace": self.workspace, "b_platform": self.platform})
            self._log(connection, state.lineage, serial, now, [
                (address, self._action(address, row), row[0] if row else self._snapshot.get(address, (None,))[0])
                for address, row in rows.items()])
        state.serial = serial
        self._exists = True
        self._platform_recorded = self.platform
        for address, row in rows.items():
            if row is None:
                self._snapshot.pop(address, None)
            else:
                self._snapshot[address] = row

    def _check_lock(self, connection: Connection) -> None:
        """In the write's own transaction: the lock row must still be ours. Locking it (FOR UPDATE on PostgreSQL;
        SQLite's write transaction already excludes every other writer) makes a force-unlock wait for this
        commit, or this commit see the force-unlock: never both."""
        if self._held_lock is None:
            return
        row = connection.execute(self._statements()["lock_row"],
                                 {"b_project": self.project, "b_workspace": self.workspace}).first()
        if row is None or row.lock_id != self._held_lock:
            now = (f"; it is now held by {row.who} ({row.operation}, lock ID {row.lock_id})" if row is not None
                   else "")
            raise LockLostError(f"this run no longer holds the state lock {self._held_lock} (someone ran "
                                f"`provisioner force-unlock` on {self.description}){now}. Nothing more is written "
                                "to the state or sent to the platform; run the command again once the other run "
                                "is done")

    def _action(self, address: str, row: tuple[int, str] | None) -> str:
        if row is None:
            return "remove"
        return "update" if address in self._snapshot else "add"

    def _advance(self, connection: Connection, state: State, serial: int, now: str) -> None:
        """The compare-and-set on (lineage, serial) that every write goes through."""
        if self._exists:
            result = connection.execute(self._statements()["advance"], {
                "b_project": self.project, "b_workspace": self.workspace, "b_expected": state.serial,
                "b_lineage": state.lineage, "b_serial": serial, "b_now": now})
            if result.rowcount == 1:
                return
        else:
            if self._row(connection) is None:
                connection.execute(insert(workspaces_table).values(
                    project=self.project, workspace=self.workspace, lineage=state.lineage, serial=serial,
                    created=now, updated=now))
                return
        current = self._row(connection)
        raise StaleStateError(
            f"the state ({self.description}) was changed by another writer: it is at serial "
            f"{current.serial if current else 'none'} (lineage {current.lineage if current else 'none'}), "
            f"but this run read serial {state.serial} (lineage {state.lineage}). Nothing was written. "
            "Run the command again (and let every run take the lock).")

    def _write_rows(self, connection: Connection, rows: Mapping[str, tuple[int, str, str] | None],
                    serial: int) -> None:
        gone = [address for address, row in rows.items() if row is None]
        for start in range(0, len(gone), _CHUNK):
            connection.execute(delete(resources_table).where(self._here(resources_table))
                               .where(resources_table.c.address.in_(gone[start:start + _CHUNK])))
        values = [{"project": self.project, "workspace": self.workspace, "address": address, "remote_id": row[0],
                   "record": row[1], "serial": serial, "platform": self.platform, "kind": row[2]}
                  for address, row in rows.items() if row is not None]
        if not values:
            return
        # Replaced as delete + insert (portable), and a row whose id moves to another address (state mv) leaves
        # first: ids are unique per kind in a workspace.
        statements = self._statements()
        by_kind: dict[str, list[dict]] = {}
        for value in values:
            by_kind.setdefault(value["kind"], []).append(value)
        for kind, group in by_kind.items():
            for start in range(0, len(group), _CHUNK):
                chunk = group[start:start + _CHUNK]
                connection.execute(statements["clear"], {
                    "b_project": self.project, "b_workspace": self.workspace, "b_kind": kind,
                    "b_addresses": [v["address"] for v in chunk], "b_ids": [v["remote_id"] for v in chunk]})
        for start in range(0, len(values), _CHUNK):
            connection.execute(statements["insert_resources"], values[start:start + _CHUNK])

    def _log(self, connection: Connection, lineage: str, serial: int, now: str,
             entries: list[tuple[str, str, int | None]]) -> None:
        if entries:
            connection.execute(self._statements()["insert_history"], [
                {"project": self.project, "workspace": self.workspace, "lineage": lineage, "serial": serial,
                 "at": now, "operation": self.operation, "address": address, "action": action,
                 "remote_id": remote_id, "who": self._who} for address, action, remote_id in entries])

    # --- moving state in ---

    def push(self, document: State, *, force: bool = False) -> str:
        """Load a state document (state push, migration). Refuses another lineage or an older serial unless forced.
        Returns what was done, for the user."""
        with self._transaction("push the state") as connection:
            self._check_lock(connection)
            row = self._row(connection)
            now = _now()
            if force and (row is None and self._count(connection) or row is not None and not _readable(row)):
                # Rows the provisioner did not write (see rows.py): --force replaces them whole.
                connection.execute(delete(resources_table).where(self._here(resources_table)))
                connection.execute(delete(workspaces_table).where(self._here(workspaces_table)))
                row = None
            elif row is not None and not _readable(row):
                rows_check.check_workspace_row(self.location.label, self.workspace, row.lineage, row.serial)
            if row is not None and row.serial == 0 and not self._count(connection):
                # A workspace created but never written (`workspace new`) takes the document's lineage as is.
                connection.execute(delete(workspaces_table).where(self._here(workspaces_table)))
                row = None
            if row is None:
                self._load_fresh(connection, document, now)
                result = (f"loaded serial {document.serial} (lineage {document.lineage}) with "
                          f"{len(document.resources)} resource(s) into {self.description}")
            else:
                result = self._replace(connection, row, document, now, force)
        self.read()
        return result

    def _load_fresh(self, connection: Connection, document: State, now: str) -> None:
        connection.execute(insert(workspaces_table).values(
            project=self.project, workspace=self.workspace, lineage=document.lineage, serial=document.serial,
            created=now, updated=now))
        self._write_rows(connection, {a: _row(e) for a, e in document.resources.items()},
                         document.serial)
        self._copy_history(connection, document)
        self._log(connection, document.lineage, document.serial, now, [("", "load", None)])

    def _copy_history(self, connection: Connection, document: State) -> None:
        """The document's history lines this store does not have yet (all of them, into a fresh store): a state
        moved to another store and back keeps what was done to it meanwhile."""
        h = history_table.c
        present = set(connection.execute(
            select(h.lineage, h.serial, h.at, h.operation, h.address, h.action).where(self._here(history_table))).all())
        lines = [{"project": self.project, "workspace": self.workspace, "lineage": line.lineage or document.lineage,
                  "serial": line.serial, "at": line.at, "operation": line.operation, "address": line.address,
                  "action": line.action, "remote_id": line.remote_id, "who": line.who} for line in document.history]
        new = [line for line in lines if (line["lineage"], line["serial"], line["at"], line["operation"],
                                          line["address"], line["action"]) not in present]
        for start in range(0, len(new), _CHUNK):
            connection.execute(insert(history_table), new[start:start + _CHUNK])

    def _replace(self, connection: Connection, row, document: State, now: str, force: bool) -> str:
        if row.lineage != document.lineage and not force:
            raise StaleStateError(f"the document's lineage {document.lineage} is not the lineage of "
                                  f"{self.description} ({row.lineage}): it is another state. Nothing was changed; "
                                  "use --force to replace this state with it.")
        current = {a: (r, rec, k) for a, r, rec, k in connection.execute(
            select(resources_table.c.address, resources_table.c.remote_id, resources_table.c.record,
                   resources_table.c.kind).where(self._here(resources_table))).all()}
        wanted = {a: _row(e) for a, e in document.resources.items()}
        changes = {a: w for a, w in wanted.items() if current.get(a) != w}
        changes.update({a: None for a in current if a not in wanted})
        if document.serial < row.serial and not force:
            raise StaleStateError(f"the document has serial {document.serial}, older than the store's {row.serial}. "
                                  "Nothing was changed; use --force to replace the newer state with it.")
        if document.serial == row.serial and row.lineage == document.lineage:
            if not changes:
                return f"{self.description} already holds serial {row.serial}; nothing to do"
            if not force:
                raise StaleStateError(f"the document has the store's serial {row.serial} but different resources. "
                                      "Nothing was changed; use --force to replace it.")
        serial = document.serial if document.serial > row.serial else row.serial + 1
        connection.execute(update(workspaces_table).where(self._here(workspaces_table))
                           .where(workspaces_table.c.serial == row.serial)
                           .values(serial=serial, lineage=document.lineage, updated=now))
        self._write_rows(connection, changes, serial)
        self._copy_history(connection, document)
        snapshot = self._snapshot
        self._snapshot = current
        try:
            self._log(connection, document.lineage, serial, now,
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
        if not path.is_file() or self.exists():
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
            if not self.exists():
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
        announced = False
        while True:
            holder = self._try_lock(info)
            if holder is None:
                self._held_lock = info.id
                return info
            if on_wait is not None and not announced and timeout > 0:
                on_wait(holder, timeout)  # once: who holds it, and how long this run waits
                announced = True
            if time.monotonic() >= deadline:
                raise LockError(f"the state is locked by another run.\n  {holder.describe()}\n"
                                "Wait for it to finish, retry with a longer --lock-timeout, or, if that run is "
                                f"gone, remove the lock with: provisioner force-unlock {holder.id}")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def lock_holder(self) -> LockInfo | None:
        """Who holds the lock now (as its row says), or None."""
        with self._transaction("read the lock") as connection:
            found = self._holder(connection)
        return found[0] if found else None

    def _holder(self, connection: Connection) -> tuple[LockInfo, int | None] | None:
        row = connection.execute(select(locks_table).where(self._here(locks_table))).first()
        if row is None:
            return None
        return (LockInfo(id=row.lock_id, operation=row.operation, who=row.who, host=row.host, pid=row.pid,
                         created=row.created, path=self.description), row.backend_pid)

    def _try_lock(self, info: LockInfo) -> LockInfo | None:
        """Take the lock and return None, or return who holds it."""
        if self._postgres:
            return self._try_advisory_lock(info)
        with self._transaction("lock the state") as connection:
            found = self._holder(connection)
            if found is not None:
                holder = found[0]
                if holder.host == socket.gethostname() and not process_alive(holder.pid):
                    connection.execute(delete(locks_table).where(self._here(locks_table)))  # its process is gone
                else:
                    return holder
            self._insert_lock(connection, info, None)
        return None

    def _insert_lock(self, connection: Connection, info: LockInfo, backend_pid: int | None) -> None:
        connection.execute(insert(locks_table).values(
            project=self.project, workspace=self.workspace, lock_id=info.id, operation=info.operation, who=info.who,
            host=info.host, pid=info.pid, created=info.created, backend_pid=backend_pid))

    def _try_advisory_lock(self, info: LockInfo) -> LockInfo | None:
        with self._guard("lock the state"):
            import psycopg

            if self._lock_connection is None:
                self._lock_connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
            cursor = self._lock_connection.execute("SELECT pg_try_advisory_lock(%s), pg_backend_pid()",
                                                   (self._lock_key,))
            acquired, backend_pid = cursor.fetchone()
            if not acquired:
                with self.engine.begin() as connection:
                    found = self._holder(connection)
                return found[0] if found else LockInfo(
                    id="unknown", operation="unknown", who="unknown", host="unknown", pid=0, created="unknown",
                    path=self.description)
            try:
                with self.engine.begin() as connection:
                    # A row left by a holder whose connection died is replaced: the advisory lock is the truth.
                    connection.execute(delete(locks_table).where(self._here(locks_table)))
                    self._insert_lock(connection, info, backend_pid)
            except BaseException:
                self._release_advisory()
                raise
        return None

    def _release_advisory(self) -> None:
        if self._lock_connection is not None:
            try:
                self._lock_connection.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))
            except Exception:
                pass
            self._close_lock_connection()

    def unlock(self, lock_id: str) -> None:
        """Release our lock. A failure here is not reported: a lock left behind by a run that ended is cleared
        by the next run (SQLite: its pid is gone; PostgreSQL: its connection is closed)."""
        self._held_lock = None
        try:
            with self._transaction("unlock the state") as connection:
                connection.execute(delete(locks_table).where(self._here(locks_table))
                                   .where(locks_table.c.lock_id == lock_id))
        except StateError:
            pass
        finally:
            if self._postgres:
                self._release_advisory()

    def force_unlock(self, lock_id: str) -> None:
        with self._transaction("unlock the state") as connection:
            found = self._holder(connection)
            if found is None:
                raise LockError(f"the state ({self.description}) is not locked")
            holder, backend_pid = found
            if holder.id != lock_id:
                raise LockError(f"lock ID {lock_id!r} does not match the lock on {self.description}:\n"
                                f"  {holder.describe()}")
            connection.execute(delete(locks_table).where(self._here(locks_table)))
            if self._postgres and backend_pid:
                # The advisory lock belongs to the holder's connection: end that connection to free it.
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                                        "AND granted AND pid = :pid"), {"pid": backend_pid})

    def owners(self, kind: str, ids) -> dict[int, Owner]:
        """Which other workspace or project of this store manages each of `ids` (platform ids of `kind`)."""
        wanted = sorted({int(i) for i in ids})
        r = resources_table.c
        found: dict[int, Owner] = {}
        with self._transaction("look up who manages these ids") as connection:
            for start in range(0, len(wanted), _CHUNK):
                rows = connection.execute(
                    select(r.remote_id, r.project, r.workspace, r.address)
                    .where(r.kind == kind).where(r.remote_id.in_(wanted[start:start + _CHUNK]))
                    .where((r.project != self.project) | (r.workspace != self.workspace))
                    .where(r.platform == self.platform)
                    .order_by(r.project, r.workspace)).all()
                for row in rows:
                    found.setdefault(row.remote_id, Owner(row.project, row.workspace, row.address))
        return found

    def probe(self) -> None:
        """Fail now, before any platform write, if the store cannot take a write (read-only, full, unreachable)."""
        with self._transaction("write to the state store") as connection:
            connection.execute(update(meta_table).where(meta_table.c.key == "schema_version")
                               .values(value=str(SCHEMA_VERSION)))

    # --- workspaces ---

    def workspaces(self) -> list[str]:
        with self._transaction("list workspaces") as connection:
            names = set(connection.execute(select(workspaces_table.c.workspace)
                                           .where(workspaces_table.c.project == self.project)).scalars())
        for name in names:  # rows are input: a name the provisioner would not write is not printed as one
            if not isinstance(name, str) or not WORKSPACE_NAME.fullmatch(name):
                raise StateError(f"{self.location.label}: project {self.project!r}, table {workspaces_table.name}, "
                                 f"column workspace holds {name!r}, not a valid workspace name")
        return sorted(names | {DEFAULT_WORKSPACE})

    def create(self) -> None:
        """Create this (empty) workspace: a new lineage at serial 0."""
        with self._transaction("create the workspace") as connection:
            if self._row(connection) is not None:
                raise StateError(f"workspace {self.workspace!r} already exists in project {self.project!r}")
            now = _now()
            connection.execute(insert(workspaces_table).values(
                project=self.project, workspace=self.workspace, lineage=str(uuid.uuid4()), serial=0, created=now,
                updated=now))
        self._exists = True

    def _count(self, connection: Connection) -> int:
        return connection.execute(select(func.count()).select_from(resources_table)
                                  .where(self._here(resources_table))).scalar_one()

    def drop(self, *, force: bool = False) -> int:
        """Delete this workspace's state rows and lock (its history stays, for audit). Returns the rows dropped."""
        with self._transaction("delete the workspace") as connection:
            count = self._count(connection)
            if count and not force:
                raise StateError(f"workspace {self.workspace!r} still manages {count} assistant(s); destroy them "
                                 "first, or use --force to forget them (they stay on the platform)")
            connection.execute(delete(resources_table).where(self._here(resources_table)))
            connection.execute(delete(workspaces_table).where(self._here(workspaces_table)))
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
    try:
        # Its own line break only: str.strip() would also take a "\u2028" or a "\x85" off the name.
        name = (state_dir / WORKSPACE_FILE).read_text(encoding="utf-8").strip(" \t\r\n")
    except FileNotFoundError:
        return DEFAULT_WORKSPACE
    except OSError as error:
        raise StateError(f"cannot read {state_dir / WORKSPACE_FILE}: {error.strerror}") from None
    return check_workspace_name(name) if name else DEFAULT_WORKSPACE


def remember_workspace(state_dir: Path, name: str) -> None:
    from .local import atomic_write

    atomic_write(state_dir / WORKSPACE_FILE, (check_workspace_name(name) + "\n").encode())


def open_store(backend: str, state_path: str | os.PathLike, *, workspace: str | None = None,
               project: str | None = None, dsn: str | None = None, must_exist: bool = True,
               lock_timeout: float | None = None, init_store: bool = False) -> SqlStateStore:
    """The store of one workspace. `workspace` None means the selected one; a workspace other than default must
    have been created (`workspace new`) unless `must_exist` is False."""
    state_dir = Path(state_path).parent
    name = check_workspace_name(workspace) if workspace else selected_workspace(state_dir)
    store = SqlStateStore(location_for(backend, state_path, dsn, lock_timeout=lock_timeout, init=init_store),
                          project or default_project(state_path), name,
                          legacy_dir=state_dir)
    if must_exist and name != DEFAULT_WORKSPACE and not store.exists() \
            and not legacy_state_file(state_dir, name).is_file():
        raise StateError(f"workspace {name!r} does not exist in project {store.project!r} "
                         f"({store.location.label}); create it with: provisioner workspace new {name}")
    return store
