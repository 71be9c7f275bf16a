"""A new store's schema as plain DDL (state/sql_ddl.py): the same tables, columns, keys and indexes as
sql_schema's `create_all` on both engines, made without importing SQLAlchemy, and left to sql_schema.ensure
whenever any of it is there already."""
from __future__ import annotations

import sqlite3

import pytest

from pg_support import own_database
from provisioner.state import sql, sql_ddl, sql_schema, sqlite_file
from provisioner.state.sql import open_store


def _compiled(dialect) -> list[str]:
    """sql_schema's DDL, as create_all emits it: each table (sorted by dependency, then name) with its indexes."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    found = []
    for table in sql_schema.metadata.sorted_tables:
        found.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        found += [str(CreateIndex(index).compile(dialect=dialect)).strip()
                  for index in sorted(table.indexes, key=lambda i: i.name)]
    return found


@pytest.mark.parametrize("postgres", [False, True])
def test_the_statements_are_what_sqlalchemy_compiles_from_sql_schema(postgres):
    from sqlalchemy.dialects import postgresql, sqlite

    ours = sql_ddl.POSTGRES if postgres else sql_ddl.SQLITE
    assert sorted(ours) == sorted(_compiled(postgresql.dialect() if postgres else sqlite.dialect()))
    assert sql_ddl.SCHEMA_VERSION == sql_schema.SCHEMA_VERSION == sql.SCHEMA_VERSION
    assert sql_ddl.SCHEMA_LOCK_KEY == sql_schema.SCHEMA_LOCK_KEY
    assert set(sql_ddl.TABLES) == set(sql_schema.metadata.tables)
    assert set(sql_ddl.INDEXES) == {i.name for t in sql_schema.metadata.tables.values() for i in t.indexes}


def _sqlite_schema(path) -> tuple:
    with sqlite3.connect(path) as database:
        return (database.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall(),
                database.execute("PRAGMA application_id").fetchone(),
                database.execute("SELECT * FROM provisioner_meta").fetchall())


def _through_sqlalchemy(monkeypatch) -> None:
    monkeypatch.setattr(sql_ddl, "create_new", lambda *args: False)


def test_a_new_sqlite_store_is_the_one_sqlalchemy_makes(tmp_path, monkeypatch):
    fast = open_store("sqlite", tmp_path / "fast" / "provisioner.db", project="p", must_exist=False)
    fast.close()
    with monkeypatch.context() as patched:
        _through_sqlalchemy(patched)
        slow = open_store("sqlite", tmp_path / "slow" / "provisioner.db", project="p", must_exist=False)
        slow.close()
    assert _sqlite_schema(tmp_path / "fast" / "provisioner.db") == _sqlite_schema(tmp_path / "slow" / "provisioner.db")
    made = _sqlite_schema(tmp_path / "fast" / "provisioner.db")
    assert made[1] == (sqlite_file.APPLICATION_ID,) and made[2] == [("schema_version", str(sql.SCHEMA_VERSION))]


def test_an_empty_file_given_init_store_gets_the_same_schema(tmp_path, monkeypatch):
    """--init-store on a zero-byte file: no header yet, so the application id comes from the DDL path too."""
    paths = []
    for name, patch in (("fast", False), ("slow", True)):
        path = tmp_path / name / "provisioner.db"
        path.parent.mkdir()
        path.write_bytes(b"")
        with monkeypatch.context() as patched:
            if patch:
                _through_sqlalchemy(patched)
            open_store("sqlite", path, project="p", must_exist=False, init_store=True).close()
        paths.append(path)
    assert _sqlite_schema(paths[0]) == _sqlite_schema(paths[1])
    assert _sqlite_schema(paths[0])[1] == (sqlite_file.APPLICATION_ID,)


def test_a_partly_made_schema_is_left_to_sql_schema(tmp_path):
    """A table already there (an interrupted creation of another program version): create_new does nothing, and
    sql_schema.ensure finishes it as before."""
    path = tmp_path / "state" / "provisioner.db"
    open_store("sqlite", path, project="p", must_exist=False).close()
    with sqlite3.connect(path) as database:
        database.execute("DELETE FROM provisioner_meta")
        assert not sql_ddl.create_new(database.cursor(), False, sqlite_file.APPLICATION_ID)
    database.close()
    store = open_store("sqlite", path, project="p")
    assert store.read().resources == {}
    store.close()
    with sqlite3.connect(path) as database:
        assert database.execute("SELECT value FROM provisioner_meta").fetchall() == [(str(sql.SCHEMA_VERSION),)]
    database.close()


def _pg_schema(dsn: str) -> tuple:
    import psycopg

    with psycopg.connect(dsn) as connection:
        columns = connection.execute(
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 2").fetchall()
        constraints = connection.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2").fetchall()
        indexes = connection.execute("SELECT tablename, indexname, indexdef FROM pg_indexes "
                                     "WHERE schemaname = current_schema() ORDER BY 1, 2").fetchall()
        meta = connection.execute("SELECT * FROM provisioner_meta").fetchall()
    return columns, constraints, indexes, meta


def test_a_new_postgres_store_is_the_one_sqlalchemy_makes(monkeypatch):
    with own_database() as fast_dsn, own_database() as slow_dsn:
        store = open_store("postgres", "x/state/provisioner.db", project="p", dsn=fast_dsn, must_exist=False)
        state = store.read()
        store.commit(state, {})  # the bigserial's sequence and the rows work as sql_schema's
        store.close()
        with monkeypatch.context() as patched:
            _through_sqlalchemy(patched)
            open_store("postgres", "x/state/provisioner.db", project="p", dsn=slow_dsn, must_exist=False).close()
        fast, slow = _pg_schema(fast_dsn), _pg_schema(slow_dsn)
        assert fast == slow and fast[3] == [("schema_version", str(sql.SCHEMA_VERSION))]
