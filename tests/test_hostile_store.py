"""A state store that someone else wrote: rows edited by hand, restored from an old backup, written by another
tool; a SQLite file another process holds; a file at the state path that is not a provisioner store.

Every row read is checked as strictly as a pushed state document: a row that is not what the provisioner
writes is a clear error naming the workspace, the address and the column, and nothing is written anywhere
(no platform write, no state row). Runs are the real CLI against the real emulator on loopback HTTP; the
PostgreSQL cases use a real server, in a schema of their own (they drop constraints there).
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pg_support import pg_dsn, unique_project
from provisioner.errors import StateError
from provisioner.state import ResourceState, State
from provisioner.state import rows as store_rows
from provisioner.state.sql import open_store

CORPUS = Path(__file__).parent / "hostile_corpus"
STATE_TABLES = ("provisioner_workspaces", "provisioner_resources", "provisioner_history")


def dump(db) -> dict:
    """The state tables' contents (not the lock or meta rows a run touches while it holds the lock)."""
    connection = sqlite3.connect(db)
    try:
        return {table: sorted(map(repr, connection.execute(f"SELECT * FROM {table}"))) for table in STATE_TABLES}
    finally:
        connection.close()


def execute(db, *statements: str) -> None:
    connection = sqlite3.connect(db)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


# A table as another tool may have made it: no NOT NULL, no primary key, no one-owner constraint.
LOOSEN = ("CREATE TABLE loose AS SELECT * FROM provisioner_resources", "DROP TABLE provisioner_resources",
          "ALTER TABLE loose RENAME TO provisioner_resources")


LOCK_LOOSEN = ("CREATE TABLE loose_locks AS SELECT * FROM provisioner_locks", "DROP TABLE provisioner_locks",
               "ALTER TABLE loose_locks RENAME TO provisioner_locks")


def _set(column: str, value: str, address: str = "a") -> tuple[str, ...]:
    return (f"UPDATE provisioner_resources SET {column} = {value} WHERE address = '{address}'",)


def _record(text: str) -> tuple[str, ...]:
    return _set("record", "'" + text.replace("'", "''") + "'")


def _rename(suffix_sql: str) -> tuple[str, ...]:
    return (f"UPDATE provisioner_resources SET address = 'a' || {suffix_sql} WHERE address = 'a'",)


GOOD_RECORD = '{"protect": false, "remote": {}, "sensitive": [], "spec": null}'

# name -> (statements, expected parts of the message)
ROWS = {
    "id as text": (_set("remote_id", "'abc'"), ["column remote_id", '"abc"']),
    "id as text with digits": (_set("remote_id", "'12a'"), ["column remote_id", '"12a"']),
    "id 1.5": (_set("remote_id", "1.5"), ["column remote_id", "1.5"]),
    "id NULL": (LOOSEN + _set("remote_id", "NULL"), ["column remote_id", "null"]),
    "id zero": (_set("remote_id", "0"), ["column remote_id"]),
    "id negative": (_set("remote_id", "-7"), ["column remote_id"]),
    "id beyond 64 bits": (_set("remote_id", "1e19"), ["column remote_id"]),
    "id a blob": (_set("remote_id", "x'01'"), ["column remote_id"]),
    "record not JSON": (_record("{nope"), ["column record is not valid JSON"]),
    "record empty": (_record(""), ["column record is not valid JSON"]),
    "record a list": (_record("[1]"), ["column record must be a JSON object"]),
    "record null JSON": (_record("null"), ["column record must be a JSON object"]),
    "record NULL": (LOOSEN + _set("record", "NULL"), ["column record must be JSON text"]),
    "record a blob": (_set("record", "x'7b7d'"), ["column record must be JSON text"]),
    "record a number": (_set("record", "5"), ["column record must be a JSON object"]),
    "spec a list": (_record('{"spec": [1]}'), ["column record: spec must be an object"]),
    "spec a string": (_record('{"spec": "x"}'), ["column record: spec must be an object"]),
    "protect as text": (_record('{"spec": null, "protect": "yes"}'), ["column record: protect"]),
    "sensitive not names": (_record('{"spec": null, "sensitive": [1]}'), ["column record: sensitive"]),
    "remote a list": (_record('{"spec": null, "remote": []}'), ["column record: remote"]),
    "unknown key": (_record('{"spec": null, "owner": "x"}'), ["column record: unknown key", "owner"]),
    "an id inside the record": (_record('{"spec": null, "id": 5}'), ["column record: unknown key 'id'"]),
    "a key twice": (_record('{"spec": null, "spec": {}}'), ["column record: the key 'spec' appears twice"]),
    "NaN in the spec": (_record('{"spec": {"llm_temperature": NaN}}'), ["column record is not valid JSON", "NaN"]),
    "Infinity in the spec": (_record('{"spec": {"x": Infinity}}'), ["column record is not valid JSON"]),
    "deeply nested record": (_record('{"spec": {"x": ' + "[" * 50_000 + "]" * 50_000 + "}}"),
                             ["column record is not valid JSON"]),
    "two addresses with one id": (
        LOOSEN + ("UPDATE provisioner_resources SET remote_id = (SELECT remote_id FROM provisioner_resources "
                  "WHERE address = 'b') WHERE address = 'a'",),
        ["addresses 'a' and 'b' both hold platform id", "column remote_id"]),
    "one address twice": (
        LOOSEN + ("INSERT INTO provisioner_resources (project, workspace, address, remote_id, record, serial) "
                  "SELECT project, workspace, address, remote_id + 1000, record, serial FROM provisioner_resources "
                  "WHERE address = 'a'",),
        ["address \"a\": the address has two rows"]),
    "address with a trailing newline": (_rename("char(10)"), ["column address", r'"a\n"']),
    "address with a carriage return": (_rename("char(13)"), ["column address", r'"a\r"']),
    "address with a NUL": (_rename("char(0)"), ["column address", r'"a\u0000"']),
    "address with a line separator": (_rename("char(8232)"), ["column address", r'"a\u2028"']),
    "address with a paragraph separator": (_rename("char(8233)"), ["column address", r'"a\u2029"']),
    "address with a next line": (_rename("char(133)"), ["column address", r'"a\u0085"']),
    "address in capitals": (("UPDATE provisioner_resources SET address = 'A' WHERE address = 'a'",),
                            ["column address", '"A"']),
    "address NULL": (LOOSEN + ("UPDATE provisioner_resources SET address = NULL WHERE address = 'a'",),
                     ["column address", "null"]),
    "address empty": (("UPDATE provisioner_resources SET address = '' WHERE address = 'a'",), ["column address"]),
    "serial as text": (("UPDATE provisioner_workspaces SET serial = 'x'",), ["column serial", '"x"']),
    "serial negative": (("UPDATE provisioner_workspaces SET serial = -1",), ["column serial"]),
    "lineage empty": (("UPDATE provisioner_workspaces SET lineage = ''",), ["column lineage"]),
    "lineage a blob": (("UPDATE provisioner_workspaces SET lineage = x'01'",), ["column lineage"]),
    "rows without their workspace": (("DELETE FROM provisioner_workspaces",), ["no row in provisioner_workspaces"]),
}


@pytest.fixture
def applied(workspace):
    """a and b applied: two assistants on the platform, two rows in the store."""
    workspace.add("a")
    workspace.add("b")
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    return workspace


def platform_writes(workspace) -> dict:
    return {k: v for k, v in workspace.platform.stats()["requests"].items() if k.startswith(("POST", "PUT", "DELETE"))}


# Every case through apply (the command that writes); a few through plan and state list as well.
ROW_RUNS = [(case, ("apply", "--auto-approve")) for case in sorted(ROWS)] + [
    (case, command) for case in ("id as text", "id NULL", "two addresses with one id", "record not JSON",
                                 "address with a trailing newline", "serial as text")
    for command in (("plan",), ("state", "list"), ("state", "pull"))] + [
    # state show reads the one row it prints, and was checking nothing else: what bears on it is checked as well
    (case, ("state", "show", "a")) for case in ("two addresses with one id", "one address twice", "serial as text",
                                                "serial negative", "lineage empty", "rows without their workspace",
                                                "record not JSON")]


@pytest.mark.parametrize("case, command", ROW_RUNS)
def test_a_row_that_is_not_what_the_provisioner_writes_is_a_clear_error_and_nothing_is_written(applied, case,
                                                                                                command):
    statements, expected = ROWS[case]
    db = applied.state_file
    execute(db, *statements)
    before, writes_before = dump(db), platform_writes(applied)
    names_before = sorted(a["name"] for a in applied.platform.assistants())
    result = applied.run(*command)
    assert result.exit_code == 1, result.all
    message = result.stderr
    assert "Traceback" not in result.all and "This is a bug" not in result.all
    assert "workspace 'default'" in message and str(db.relative_to(applied.root)) in message, message
    for part in expected:
        assert part in message, message
    assert "nothing was written" in message
    assert dump(db) == before
    assert platform_writes(applied) == writes_before
    assert sorted(a["name"] for a in applied.platform.assistants()) == names_before


HISTORY_ROWS = {
    "history serial as text": ("UPDATE provisioner_history SET serial = 'x'", "column serial"),
    "history id as text": ("UPDATE provisioner_history SET remote_id = 'abc' WHERE remote_id IS NOT NULL",
                           "column remote_id"),
    "history action a blob": ("UPDATE provisioner_history SET action = x'01'", "column action"),
}


@pytest.mark.parametrize("case", sorted(HISTORY_ROWS))
def test_a_bad_history_row_stops_state_pull_naming_the_column(applied, case):
    statement, expected = HISTORY_ROWS[case]
    execute(applied.state_file, statement)
    result = applied.run("state", "pull")
    assert result.exit_code == 1 and "Traceback" not in result.all
    assert "table provisioner_history" in result.stderr and expected in result.stderr, result.stderr


@pytest.mark.parametrize("pid", ["'abc'", "1.5", "NULL", "-1", "x'01'"])
def test_a_lock_row_with_a_pid_that_is_not_one_is_a_held_lock_not_a_crash(applied, pid):
    execute(applied.state_file, *LOCK_LOOSEN,
            "INSERT INTO provisioner_locks (project, workspace, lock_id, operation, who, host, pid, created) "
            "SELECT project, workspace, 'L-1', 'apply', 'someone', 'elsewhere', 1, 'now' FROM provisioner_workspaces",
            f"UPDATE provisioner_locks SET pid = {pid}, host = '{socket.gethostname()}'")
    result = applied.run("plan")
    assert result.exit_code == 1 and "Traceback" not in result.all and "This is a bug" not in result.all
    assert "locked by another run" in result.stderr and "L-1" in result.stderr, result.all


def test_a_workspace_name_that_is_not_one_is_not_listed_as_one(applied):
    execute(applied.state_file, "INSERT INTO provisioner_workspaces SELECT project, 'w' || char(10) || 'x', "
                                "lineage, serial, created, updated FROM provisioner_workspaces")
    result = applied.run("workspace", "list")
    assert result.exit_code == 1 and "column workspace" in result.stderr and "Traceback" not in result.all


def test_a_repaired_store_works_again(applied):
    """The way out the message gives: push a good document with --force."""
    good = applied.run("state", "pull")
    assert good.exit_code == 0
    execute(applied.state_file, *_set("remote_id", "'abc'"))
    assert applied.run("plan").exit_code == 1
    (applied.root / "good.json").write_text(good.output)
    assert applied.run("state", "push", "--force", "good.json").exit_code == 0, "push --force repairs"
    assert applied.run("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize("engine", ['"x"', "[1]", "true", "{}"])
@pytest.mark.parametrize("command", [("plan", "--detailed-exitcode"), ("refresh",)])
def test_a_last_seen_engine_the_provisioner_never_wrote_is_no_crash(applied, engine, command):
    """A record's `remote` is what the platform showed last; its engine_type only says which models catalogue to
    read early (the list read says which ones the platform's assistants need). One the provisioner never wrote
    (edited by hand) was a KeyError or TypeError, 'a bug', before anything was planned."""
    execute(applied.state_file, "UPDATE provisioner_resources SET record = json_set(record, '$.remote.engine_type', "
                                f"json('{engine}')) WHERE address = 'a'")
    result = applied.run(*command)
    assert "Traceback" not in result.all and "This is a bug" not in result.all, result.all
    assert result.exit_code == 0, result.all
    if command == ("refresh",):  # the platform's engine is what state saw last again
        assert applied.state()["resources"]["a"]["remote"]["engine_type"] == "pipeline"


# --- PostgreSQL: the same checks on the other engine, in a schema of this test's own ---

@pytest.fixture
def pg_schema():
    psycopg = pytest.importorskip("psycopg")
    dsn = pg_dsn()
    schema = f"hostile_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{dsn} options='-csearch_path={schema}'"
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


PG_ROWS = {
    "record not JSON": ("UPDATE provisioner_resources SET record = '{nope' WHERE address = 'a'",
                        "column record is not valid JSON"),
    "spec a list": ("UPDATE provisioner_resources SET record = '{\"spec\": [1]}' WHERE address = 'a'",
                    "column record: spec must be an object"),
    "id zero": ("UPDATE provisioner_resources SET remote_id = 0 WHERE address = 'a'", "column remote_id"),
    "address with a newline": ("UPDATE provisioner_resources SET address = E'a\\n' WHERE address = 'a'",
                               "column address"),
    "address with a line separator": ("UPDATE provisioner_resources SET address = E'a\\u2028' WHERE address = 'a'",
                                      "column address"),
    "two addresses with one id": ("ALTER TABLE provisioner_resources DROP CONSTRAINT provisioner_resources_one_owner;"
                                  "UPDATE provisioner_resources SET remote_id = 2 WHERE address = 'a'",
                                  "both hold platform id 2"),
    "serial negative": ("UPDATE provisioner_workspaces SET serial = -1", "column serial"),
}


@pytest.mark.parametrize("case", sorted(PG_ROWS))
def test_a_bad_postgresql_row_is_a_clear_error_and_nothing_is_written(tmp_path, pg_schema, case):
    import psycopg

    statement, expected = PG_ROWS[case]
    store = open_store("postgres", tmp_path / "state" / "x.db", project=unique_project(), dsn=pg_schema,
                       must_exist=False)
    try:
        state = store.read()
        state.resources = {"a": ResourceState(id=1, spec={"x": 1}), "b": ResourceState(id=2, spec=None)}
        store.write(state)
        with psycopg.connect(pg_schema, autocommit=True) as connection:
            for part in statement.split(";"):
                connection.execute(part)
            before = [connection.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in STATE_TABLES[:2]]
        # `state show a` reads a's row alone (SqlStateStore.entry): refused alike, but where a holds no row now
        for reading in (store.read, lambda: store.entry("a")) if not case.startswith("address") else (store.read,):
            with pytest.raises(StateError) as error:
                reading()
            message = str(error.value)
            assert "PostgreSQL" in message and "workspace 'default'" in message and expected in message, message
        with psycopg.connect(pg_schema, autocommit=True) as connection:
            assert [connection.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                    for t in STATE_TABLES[:2]] == before
    finally:
        store.close()


def test_a_postgresql_table_held_by_another_session_is_a_bounded_wait(tmp_path, pg_schema):
    import psycopg

    store = open_store("postgres", tmp_path / "state" / "x.db", project=unique_project(), dsn=pg_schema,
                       must_exist=False, lock_timeout=1)
    store.close()
    with psycopg.connect(pg_schema) as holder:
        holder.execute("LOCK TABLE provisioner_workspaces IN ACCESS EXCLUSIVE MODE")
        store = open_store("postgres", tmp_path / "state" / "x.db", project=unique_project(), dsn=pg_schema,
                           must_exist=False, lock_timeout=1)
        try:
            started = time.monotonic()
            with pytest.raises(StateError, match="lock timeout"):
                store.read()
            assert time.monotonic() - started < 30  # the 5 s grace, not forever
        finally:
            store.close()


# --- property tests over rows: a row is a ResourceState or a StateError, never anything else ---

json_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=12)
good_addresses = st.from_regex(r"[a-z0-9]([a-z0-9_-]{0,10}[a-z0-9])?", fullmatch=True)
neighbours = st.sampled_from(["\n", "\r", "\x00", "\u2028", "\u2029", "\x85", " ", "\t", "A", "."])
addresses = good_addresses | st.builds(lambda a, n, front: n + a if front else a + n, good_addresses, neighbours,
                                       st.booleans()) | st.text(max_size=8) | st.none() | st.integers()
remote_ids = (st.integers(1, 2**63 - 1) | st.integers(-5, 0) | st.integers(2**63, 2**70) | st.floats()
              | st.text(max_size=6) | st.none() | st.booleans() | st.binary(max_size=4))
records = st.dictionaries(st.sampled_from(["spec", "protect", "sensitive", "remote", "id", "other"]), json_values,
                          max_size=5)
record_texts = (st.builds(json.dumps, records) | st.builds(json.dumps, json_values) | st.text(max_size=30)
                | st.none() | st.integers() | st.binary(max_size=8))
row_lists = st.lists(st.tuples(addresses, remote_ids, record_texts), max_size=5)


@settings(max_examples=400, deadline=None)
@given(row_lists)
def test_any_rows_are_a_state_or_a_state_error(rows):
    try:
        resources = store_rows.check_resource_rows("db", "default", rows)
    except StateError as error:
        assert "workspace 'default'" in str(error) and "nothing was written" in str(error)
        return
    # Accepted: exactly what the provisioner would write, each address whole, each id once and a real id.
    assert len({entry.id for entry in resources.values()}) == len(resources) == len(rows)
    for address, remote_id, record in rows:
        entry = resources[address]
        assert isinstance(address, str) and address == address.strip() and "\n" not in address
        assert type(remote_id) is int and 0 < remote_id < 2**63 and entry.id == remote_id
        assert json.loads(entry.record_json()) == {key: value for key, value in {
            "spec": None, "protect": False, "sensitive": [], "remote": {}, **json.loads(record)}.items()}


good_records = st.builds(ResourceState, id=st.integers(1, 2**63 - 1),
                         spec=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=3),
                         protect=st.booleans(), sensitive=st.lists(st.text(max_size=8), max_size=3),
                         remote=st.dictionaries(st.text(max_size=8), json_values, max_size=3))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.dictionaries(good_addresses, good_records, max_size=5).filter(
    lambda d: len({e.id for e in d.values()}) == len(d)))
def test_every_row_the_provisioner_writes_reads_back_the_same(resources):
    # floats: NaN and infinities cannot be in a manifest, so never in a row the provisioner writes
    def finite(value):
        if isinstance(value, float):
            return value == value and abs(value) != float("inf")
        if isinstance(value, dict):
            return all(map(finite, value.values()))
        if isinstance(value, list):
            return all(map(finite, value))
        return True

    if not all(finite(e.spec) and finite(e.remote) for e in resources.values()):
        return
    rows = [(address, entry.id, entry.record_json()) for address, entry in resources.items()]
    assert store_rows.check_resource_rows("db", "default", rows) == resources


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "a\n", "c\u2028", "A"]),
                          st.one_of(st.integers(-2, 3), st.just("12a"), st.just(1.5)),
                          st.sampled_from([GOOD_RECORD, "{nope", "[1]", '{"spec": 1}', '{"spec": {}}'])),
                max_size=4, unique_by=lambda row: row[0]))
def test_rows_in_a_real_sqlite_store_are_a_state_or_a_state_error(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("rows") / "state.db"
    store = open_store("sqlite", path, project="p", must_exist=False)
    try:
        store.write(State.new())
        execute(path, *LOOSEN, *[
            "INSERT INTO provisioner_resources (project, workspace, address, remote_id, record, serial) "
            f"VALUES ('p', 'default', {_sql(a)}, {_sql(i)}, {_sql(r)}, 1)" for a, i, r in rows])
        try:
            state = store.read()
        except StateError as error:
            assert "workspace 'default'" in str(error)
            return
        assert sorted(state.resources) == sorted(a for a, _, _ in rows)
        assert all(type(e.id) is int and e.id > 0 for e in state.resources.values())
    finally:
        store.close()


def _sql(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


# --- another process holds the SQLite file ---

HOLDER = textwrap.dedent("""
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    connection.execute("BEGIN EXCLUSIVE")
    connection.execute("UPDATE provisioner_meta SET value = value")
    print("holding", flush=True)
    time.sleep(120)
""")


@pytest.mark.parametrize("command, flags, bound", [(("plan",), (), 5),
                                                   (("state", "list"), ("--lock-timeout", "1s"), 5)])
def test_a_sqlite_file_held_by_another_process_is_a_bounded_wait_then_an_error_naming_it(applied, flags, bound,
                                                                                        command):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(applied.state_file)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        argv = [*command, *flags]
        if command[0] == "plan":
            argv.insert(1, f"--api-url={applied.platform.url}")
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "provisioner", *argv], cwd=applied.root, capture_output=True,
                             text=True, timeout=90,
                             env={**os.environ, "PROVISIONER_API_TOKEN": applied.token})
        seconds = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "state/provisioner.db" in run.stderr and "held by another process" in run.stderr, run.stderr
    # Bounded by the wait (the grace, or --lock-timeout when longer), not by SQLite's retries over hours.
    assert seconds < bound + 20, seconds


# --- a file at the state path that is not a provisioner store ---

def _foreign(path):
    execute(path, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)",
            "INSERT INTO users (email) VALUES ('x@example.com')")


def _empty_sqlite(path):
    execute(path, "PRAGMA user_version = 1")


def _zero_bytes(path):
    path.write_bytes(b"")


def _text_file(path):
    path.write_text("hello, this is not a database\n" * 10)


def _foreign_with_our_prefix_too(path):
    _foreign(path)
    execute(path, "CREATE TABLE provisioner_meta (key TEXT, value TEXT)")


NOT_A_STORE = {
    "zero bytes": (_zero_bytes, "an empty file (zero bytes)", True),
    "an empty SQLite database": (_empty_sqlite, "SQLite database without any table", True),
    "another application's database": (_foreign, "another application's SQLite database (tables users)", False),
    "another application's database with a provisioner_ table": (_foreign_with_our_prefix_too,
                                                                 "another application's", False),
    "not SQLite at all": (_text_file, "is not a SQLite database", False),
}


@pytest.mark.parametrize("case", sorted(NOT_A_STORE))
@pytest.mark.parametrize("command", [("apply", "--auto-approve"), ("state", "list"), ("workspace", "list")])
def test_a_file_that_is_not_a_store_is_refused_naming_it_and_left_as_it_was(workspace, case, command):
    make, expected, _ = NOT_A_STORE[case]
    workspace.add("a")
    path = workspace.state_file
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)
    before = path.read_bytes()
    result = workspace.run(*command)
    assert result.exit_code == 1, result.all
    assert expected in result.stderr and "state/provisioner.db" in result.stderr, result.stderr
    assert "Traceback" not in result.all
    assert path.read_bytes() == before  # not even switched to WAL
    assert workspace.platform.assistants() == []


@pytest.mark.parametrize("case", sorted(NOT_A_STORE))
def test_init_store_takes_an_empty_file_or_database_and_never_another_applications(workspace, case):
    make, expected, takes = NOT_A_STORE[case]
    workspace.add("a")
    path = workspace.state_file
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)
    before = path.read_bytes()
    result = workspace.run("apply", "--auto-approve", "--init-store")
    if takes:
        assert result.exit_code == 0, result.all
        assert list(workspace.state()["resources"]) == ["a"]
        assert workspace.run("plan", "--detailed-exitcode").exit_code == 0  # a store now, without the flag
    else:
        assert result.exit_code == 1 and expected in result.stderr, result.all
        assert path.read_bytes() == before
        assert workspace.platform.assistants() == []


def test_a_store_made_before_the_application_id_still_opens(applied):
    execute(applied.state_file, "PRAGMA application_id = 0")
    assert applied.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_new_store_is_never_seen_half_made(workspace):
    """Made beside the path and linked into place: no zero-byte file of our own for another run to refuse."""
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.state_file.read_bytes()[:16] == b"SQLite format 3\x00"
    assert not [p.name for p in workspace.state_file.parent.iterdir() if p.name.endswith(".new")]


@pytest.mark.parametrize("name", sorted(p.name for p in (CORPUS / "state").iterdir()))
def test_a_hostile_state_document_from_the_corpus_is_refused_and_changes_nothing(applied, name):
    before, db_before = applied.state(), dump(applied.state_file)
    result = applied.run("state", "push", "--force", str(CORPUS / "state" / name))
    assert result.exit_code == 1, result.all
    assert name in result.stderr and "Traceback" not in result.all
    assert applied.state() == before and dump(applied.state_file) == db_before


def _run_bounded(workspace, *argv: str) -> subprocess.CompletedProcess:
    """The CLI in a process of its own: a run that blocks fails the test on the timeout instead of hanging it."""
    return subprocess.run([sys.executable, "-m", "provisioner", *argv], cwd=workspace.root, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PROVISIONER_API_TOKEN": workspace.token})


@pytest.mark.parametrize("command", [("state", "list"), ("workspace", "list")])
def test_a_fifo_at_the_state_path_is_refused_not_waited_on(workspace, command):
    """Opening a FIFO to read the database's header blocked the run until a writer came: for ever."""
    workspace.state_file.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(workspace.state_file)
    run = _run_bounded(workspace, *command)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "state/provisioner.db is not a regular file" in run.stderr and "Traceback" not in run.stderr


def test_a_remembered_workspace_file_that_is_no_name_is_refused_naming_it(workspace):
    """state/workspace (what `workspace select` remembers) is read by every command: a FIFO there blocked the run
    for ever, a byte that is not UTF-8 was an unexpected UnicodeDecodeError, a long text was quoted whole."""
    workspace.add("a")  # validate of no manifests is an error of its own
    remembered = workspace.root / "state" / "workspace"
    remembered.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(remembered)
    run = _run_bounded(workspace, "validate")
    assert run.returncode == 1 and "cannot read state/workspace: not a regular file" in run.stderr, run.stderr
    remembered.unlink()
    for data in (b"prod\xff\n", b"x" * 5000):
        remembered.write_bytes(data)
        result = workspace.run("validate", api=False)
        assert result.exit_code == 1, result.all
        assert "state/workspace holds '" in result.stderr and "not a valid workspace name" in result.stderr
        assert "unexpected" not in result.all and "x" * 100 not in result.all
    remembered.write_bytes(b"default\n")
    assert workspace.run("validate", api=False).exit_code == 0
