"""The schema of a new store as plain DDL: what SQLAlchemy's `metadata.create_all` (sql_schema.py) emits on each
engine, written out, so that the first run of a store (every benchmark's, every CI job's) does not pay
SQLAlchemy's import and its table creation (0.3 s of CPU). A test compiles sql_schema's tables and compares them
with these statements: the definition stays sql_schema's, this is its copy for one case only, a database without
any of the tables. Anything else (an older version, an interrupted creation) is still sql_schema.ensure's.
"""
from __future__ import annotations

SCHEMA_VERSION = 4  # the version these statements make (sql_schema.SCHEMA_VERSION; checked by a test)
SCHEMA_LOCK_KEY = 0x70726F76  # sql_schema.SCHEMA_LOCK_KEY: serialises schema creation between PostgreSQL clients
TABLES = ("provisioner_meta", "provisioner_workspaces", "provisioner_resources", "provisioner_locks",
          "provisioner_history")
INDEXES = ("provisioner_resources_by_id", "provisioner_resources_one_owner_in_store",
           "provisioner_resources_unrecorded", "provisioner_history_by_workspace")


def _statements(postgres: bool) -> tuple[str, ...]:
    key = "key" if postgres else '"key"'  # SQLAlchemy quotes it on SQLite only (a keyword there)
    history_id = "BIGSERIAL" if postgres else "INTEGER"  # an autoincrement key on each engine
    return (
        f"CREATE TABLE provisioner_meta (\n\t{key} VARCHAR(64) NOT NULL, \n\tvalue TEXT NOT NULL, \n\t"
        f"PRIMARY KEY ({key})\n)",
        "CREATE TABLE provisioner_workspaces (\n\tproject VARCHAR(200) NOT NULL, \n\tworkspace VARCHAR(64) NOT NULL, "
        "\n\tlineage VARCHAR(200) NOT NULL, \n\tserial BIGINT NOT NULL, \n\tcreated VARCHAR(40) NOT NULL, \n\t"
        "updated VARCHAR(40) NOT NULL, \n\tPRIMARY KEY (project, workspace)\n)",
        "CREATE TABLE provisioner_resources (\n\tproject VARCHAR(200) NOT NULL, \n\tworkspace VARCHAR(64) NOT NULL, "
        "\n\taddress VARCHAR(200) NOT NULL, \n\tremote_id BIGINT NOT NULL, \n\trecord TEXT NOT NULL, \n\t"
        "serial BIGINT NOT NULL, \n\tkind VARCHAR(32) DEFAULT 'assistant' NOT NULL, \n\t"
        "platform VARCHAR(500) DEFAULT '' NOT NULL, \n\tPRIMARY KEY (project, workspace, address), \n\t"
        "CONSTRAINT provisioner_resources_one_owner UNIQUE (project, workspace, kind, remote_id)\n)",
        "CREATE INDEX provisioner_resources_by_id ON provisioner_resources (kind, remote_id)",
        "CREATE UNIQUE INDEX provisioner_resources_one_owner_in_store ON provisioner_resources (platform, kind, "
        "remote_id) WHERE platform <> ''",
        "CREATE INDEX provisioner_resources_unrecorded ON provisioner_resources (project, workspace) WHERE platform "
        "= ''",
        "CREATE TABLE provisioner_locks (\n\tproject VARCHAR(200) NOT NULL, \n\tworkspace VARCHAR(64) NOT NULL, \n\t"
        "lock_id VARCHAR(64) NOT NULL, \n\toperation VARCHAR(100) NOT NULL, \n\twho VARCHAR(200) NOT NULL, \n\t"
        "host VARCHAR(200) NOT NULL, \n\tpid INTEGER NOT NULL, \n\tcreated VARCHAR(40) NOT NULL, \n\t"
        "backend_pid INTEGER, \n\tPRIMARY KEY (project, workspace)\n)",
        f"CREATE TABLE provisioner_history (\n\tid {history_id} NOT NULL, \n\tproject VARCHAR(200) NOT NULL, \n\t"
        "workspace VARCHAR(64) NOT NULL, \n\tlineage VARCHAR(200) NOT NULL, \n\tserial BIGINT NOT NULL, \n\t"
        "at VARCHAR(40) NOT NULL, \n\toperation VARCHAR(100) NOT NULL, \n\taddress VARCHAR(200) NOT NULL, \n\t"
        "action VARCHAR(20) NOT NULL, \n\tremote_id BIGINT, \n\twho VARCHAR(200) NOT NULL, \n\tPRIMARY KEY (id)\n)",
        "CREATE INDEX provisioner_history_by_workspace ON provisioner_history (project, workspace, id)",
    )


SQLITE = _statements(postgres=False)
POSTGRES = _statements(postgres=True)


def found_any(cursor, postgres: bool) -> int:
    """How many of the schema's tables and indexes the database has (PostgreSQL: in the schema the connection creates
    in, where SQLAlchemy's has_table looks too)."""
    names = TABLES + INDEXES
    if postgres:
        return cursor.execute("SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                              "AND relname = ANY(%s)", (list(names),)).fetchone()[0]
    return cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})",
                          names).fetchone()[0]


def create_new(cursor, postgres: bool, application_id: int) -> bool:
    """Create the whole schema in the cursor's transaction if the database has none of its tables and indexes;
    False (nothing done) if it has any: then sql_schema.ensure decides (a creation another run finished meanwhile,
    an interrupted one, an older version). On SQLite the caller's transaction is a write one (BEGIN IMMEDIATE),
    so two first runs do not both create; on PostgreSQL the same advisory lock as sql_schema.ensure's."""
    if postgres:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
    if found_any(cursor, postgres):
        return False
    if not postgres:  # the header says whose database it is (sqlite_file.py)
        cursor.execute(f"PRAGMA application_id = {int(application_id)}")
    for statement in POSTGRES if postgres else SQLITE:
        cursor.execute(statement)
    cursor.execute("INSERT INTO provisioner_meta (" + ("key" if postgres else '"key"') + ", value) VALUES "
                   + ("(%s, %s)" if postgres else "(?, ?)"), ("schema_version", str(SCHEMA_VERSION)))
    return True
