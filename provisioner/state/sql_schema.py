"""The state store's schema, in SQLAlchemy: its tables (DDL for both engines from one definition), their creation
and the migrations between versions. Imported only when a database needs one of them (a new store, an older
schema, a damaged version row): every other run checks the version with one plain query (sql.py) and never
pays SQLAlchemy's import. The statements a run executes are plain SQL in sql.py, and must name these columns.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import (BigInteger, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint,
                        create_engine, event, inspect, insert, select, text, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from ..errors import StateError
from . import DEFAULT_KIND, MAX_ADDRESS

SCHEMA_VERSION = 4
SCHEMA_LOCK_KEY = 0x70726F76  # "prov": serialises schema creation between PostgreSQL clients

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
# One owner per platform object in the whole store (version 4): two workspaces that adopt or recover one object at
# the same moment both pass the owners() look-up; the second commit is refused here (sql.py names the first). Rows
# of no recorded platform (state push, state mv) may be of any platform: they are left to the look-ups.
ONE_OWNER_IN_STORE = "provisioner_resources_one_owner_in_store"
_RECORDED = text("platform <> ''")
Index(ONE_OWNER_IN_STORE, resources_table.c.platform, resources_table.c.kind, resources_table.c.remote_id,
      unique=True, sqlite_where=_RECORDED, postgresql_where=_RECORDED)
# A workspace's rows of no recorded platform (version 4), which every run looks for (held_elsewhere, record_platform):
# without it each run read every row of the workspace, record included, to find none (9-11 ms for 10,000). Rows
# that recorded their platform, all a run writes, have no entry here.
UNRECORDED = "provisioner_resources_unrecorded"
_UNRECORDED = text("platform = ''")
Index(UNRECORDED, resources_table.c.project, resources_table.c.workspace, sqlite_where=_UNRECORDED,
      postgresql_where=_UNRECORDED)
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
    resources_table.create(connection)  # with its indexes
    for index in (ONE_OWNER_IN_STORE, UNRECORDED):  # version 4's (_one_owner_in_store makes them)
        connection.execute(text(f"DROP INDEX {index}"))
    columns = ", ".join(c.name for c in resources_table.columns)
    connection.execute(text(f"INSERT INTO provisioner_resources ({columns}) SELECT {columns} "
                            "FROM provisioner_resources_v2"))
    connection.execute(text("DROP TABLE provisioner_resources_v2"))


def _one_owner_in_store(connection: Connection) -> None:
    """Version 3 -> 4: the unique index of one owner per platform object across workspaces and projects. An object
    two workspaces already recorded on one platform (an earlier race) cannot be given to either here: both rows are
    kept, their platform no longer recorded, as a `state push` leaves rows. The first commit of either workspace on
    that platform records it again (the index then holds it to that one); a run of the other is refused before anything
    is read or sent, naming both (session.check_same_platform), until one of them lets go (`state rm`)."""
    # Found first, then changed: a correlated UPDATE would see the first row it changed as no duplicate any more.
    shared = connection.execute(text(
        "SELECT platform, kind, remote_id FROM provisioner_resources WHERE platform <> '' "
        "GROUP BY platform, kind, remote_id HAVING count(*) > 1")).all()
    if shared:
        connection.execute(text("UPDATE provisioner_resources SET platform = '' WHERE platform = :platform AND "
                                "kind = :kind AND remote_id = :remote_id"),
                           [{"platform": p, "kind": k, "remote_id": r} for p, k, r in shared])
    connection.execute(text(f"CREATE UNIQUE INDEX {ONE_OWNER_IN_STORE} ON provisioner_resources "
                            "(platform, kind, remote_id) WHERE platform <> ''"))
    connection.execute(text(f"CREATE INDEX {UNRECORDED} ON provisioner_resources (project, workspace) "
                            "WHERE platform = ''"))


# MIGRATIONS[n] takes a connection from schema version n to n + 1 (in the transaction that records n + 1).
MIGRATIONS: dict[int, Any] = {1: _add_kind, 2: _ids_per_kind, 3: _one_owner_in_store}


def engine(connect: Callable[[], Any], postgres: bool) -> Engine:
    """An engine over the store's own connections (`connect` makes one, configured as every connection of the
    store is: WAL, synchronous=FULL and the busy timeout on SQLite; the lock timeout on PostgreSQL)."""
    if postgres:
        return create_engine("postgresql+psycopg://", creator=connect, hide_parameters=True, pool_size=5,
                             max_overflow=10)
    made = create_engine("sqlite+pysqlite://", creator=connect, hide_parameters=True, poolclass=QueuePool)

    @event.listens_for(made, "begin")
    def _begin(connection) -> None:
        # Take the write lock at the start: a read transaction that later writes could fail on another's commit.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return made


def ensure(made: Engine, postgres: bool, label: str, application_id: int) -> None:
    """Create the schema, finish an interrupted creation, or migrate an older one; refuse a newer or unreadable
    version. One transaction (on PostgreSQL under an advisory lock, so two first runs do not both create)."""
    with made.begin() as connection:
        if postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        if not inspect(connection).has_table(meta_table.name):
            if not postgres:  # the header says whose database it is (sqlite_file.py)
                connection.exec_driver_sql(f"PRAGMA application_id = {application_id}")
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
            raise StateError(f"the state database ({label}) has an unreadable schema version "
                             f"{found!r} in {meta_table.name}")
        version = int(found)
        if version > SCHEMA_VERSION:
            raise StateError(f"the state database ({label}) has schema version {version}, written "
                             f"by a newer provisioner; this one knows up to version {SCHEMA_VERSION}. Upgrade.")
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](connection)
            version += 1
            connection.execute(update(meta_table).where(meta_table.c.key == "schema_version")
                               .values(value=str(version)))
