"""The SQL state store on both engines (real SQLite, real PostgreSQL): per-change commits, the serial's
compare-and-set, lineage checks, locks with holder info, workspaces, pull/push and migration."""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import text, update

from pg_support import own_database, pg_dsn, unique_project
from provisioner.apply import StateRecorder
from provisioner.errors import LockError, StateError
from provisioner.state import HistoryEntry, ResourceState, StaleStateError, State
from provisioner.state.sql import SCHEMA_VERSION, meta_table, open_store

ENGINES = ["sqlite", "postgres"]


def entry(remote_id: int, prompt: str = "Be helpful.") -> ResourceState:
    return ResourceState(id=remote_id, spec={"assistant_name": f"A {remote_id}", "system_prompt": prompt},
                         remote={"assistant_name": f"A {remote_id}"}, sensitive=["webhook_url"])


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture
def stores(engine, tmp_path):
    """Open stores of one database and project (and close them after the test)."""
    dsn = pg_dsn() if engine == "postgres" else None
    project = unique_project()
    opened = []

    def open_one(workspace: str = "default", *, must_exist: bool = False, project_name: str = project):
        store = open_store(engine, tmp_path / "state" / "provisioner.db", workspace=workspace, project=project_name,
                           dsn=dsn, must_exist=must_exist)
        opened.append(store)
        return store

    open_one.engine, open_one.dsn, open_one.project, open_one.path = engine, dsn, project, tmp_path
    yield open_one
    for store in opened:
        store.close()


def rows_written_after(store, serial: int) -> list[str]:
    """The addresses whose row a commit after `serial` wrote (each row keeps the serial that last wrote it)."""
    with store.engine.connect() as connection:
        return sorted(connection.execute(text(
            "SELECT address FROM provisioner_resources WHERE project = :project AND workspace = :workspace "
            "AND serial > :serial"), {"project": store.project, "workspace": store.workspace, "serial": serial}
        ).scalars())


def test_a_commit_writes_only_the_rows_that_changed(stores):
    store = stores()
    state = store.read()
    store.commit(state, {f"a{i}": entry(i + 1) for i in range(300)})
    state.resources["a7"] = entry(8, "changed")
    store.commit(state, {"a7": state.resources["a7"]})
    store.commit(state, {"a9": None})
    assert rows_written_after(store, 1) == ["a7"]  # one changed row, not the fleet of 300
    again = stores().read()
    assert again.serial == 3 and len(again.resources) == 299
    assert again.resources["a7"].spec["system_prompt"] == "changed" and "a9" not in again.resources
    history = store.history()
    assert [(h.serial, h.address, h.action) for h in history[-2:]] == [(2, "a7", "update"), (3, "a9", "remove")]
    assert len(history) == 302


def test_an_id_another_address_holds_is_refused_not_taken_from_it(stores):
    """A write naming an id that another address holds (a create answered with another object's id) used to
    delete that address's row silently; now the one-owner constraint refuses it and nothing is written. A move
    or a swap names both addresses, so it is still one write."""
    store = stores()
    store.commit(store.read(), {"a": entry(1), "b": entry(2)})
    with pytest.raises(StateError, match="an id would be recorded at two addresses.*nothing was written"):
        store.commit(stores().read(), {"c": entry(1)})
    again = stores().read()
    assert {a: e.id for a, e in again.resources.items()} == {"a": 1, "b": 2} and again.serial == 1
    store.commit(again, {"a": None, "c": entry(1)})  # state mv a c
    store.commit(stores().read(), {"b": entry(1), "c": entry(2)})  # a swap
    assert {a: e.id for a, e in stores().read().resources.items()} == {"b": 1, "c": 2}


def test_write_diffs_against_what_was_read(stores):
    store = stores()
    state = store.read()
    state.resources = {"a": entry(1), "b": entry(2)}
    store.write(state)
    state.resources["b"] = entry(2, "new prompt")
    store.write(state)
    assert rows_written_after(store, 1) == ["b"] and state.serial == 2
    store.write(state)  # nothing changed: nothing written, the serial stays
    assert state.serial == 2 and stores().read().serial == 2


def _older_form(store) -> None:
    """Every record rewritten as versions before json_text.py wrote them (json.dumps with sorted keys: spaces,
    non-ASCII escaped), as a store written by an older version holds them."""
    with store.engine.begin() as connection:
        rows = connection.execute(text("SELECT address, record FROM provisioner_resources WHERE project = :p"),
                                  {"p": store.project}).all()
        for address, record in rows:
            connection.execute(text("UPDATE provisioner_resources SET record = :r WHERE project = :p AND "
                                    "address = :a"), {"r": json.dumps(json.loads(record), sort_keys=True),
                                                      "p": store.project, "a": address})


def test_records_an_older_version_wrote_are_read_and_not_rewritten_unless_changed(stores):
    store = stores()
    state = store.read()
    store.commit(state, {"a": entry(1, "Sé útil."), "b": entry(2), "c": entry(3)})
    _older_form(store)
    again = stores()
    state = again.read()
    assert state.resources == {"a": entry(1, "Sé útil."), "b": entry(2), "c": entry(3)}
    again.write(state)  # the same values in another JSON form: nothing to write
    assert state.serial == 1 and rows_written_after(again, 1) == []
    state.resources["b"] = entry(2, "changed")
    again.write(state)
    assert rows_written_after(again, 1) == ["b"] and [h.action for h in again.history()][-1] == "update"
    document = State.loads(stores().export().dumps(with_history=True), "pulled")
    _older_form(store)
    assert stores().push(document).endswith("nothing to do")  # a push of what it holds changes nothing


def test_a_stale_writer_is_refused_and_overwrites_nothing(stores):
    first, second = stores(), stores()
    state = first.read()
    first.commit(state, {"a": entry(1)})
    mine, theirs = first.read(), second.read()
    first.commit(mine, {"b": entry(2)})
    with pytest.raises(StaleStateError, match=r"changed by another writer: it is at serial 2.*read serial 1"):
        second.commit(theirs, {"c": entry(3), "a": None})
    final = stores().read()
    assert set(final.resources) == {"a", "b"} and final.serial == 2


def test_two_first_writers_of_a_new_workspace_one_wins(stores):
    first, second = stores(), stores()
    a, b = first.read(), second.read()
    first.commit(a, {"a": entry(1)})
    with pytest.raises(StaleStateError):
        second.commit(b, {"b": entry(2)})
    assert stores().read().lineage == a.lineage


def test_group_commits_from_many_threads_are_each_durable_when_recorded(stores):
    store = stores()
    recorder = StateRecorder(store, store.read())
    durable = []

    def record(i):
        recorder.record(f"a{i}", i + 1, {"spec": {}, "protect": False, "sensitive": [], "remote": {}})
        durable.append(f"a{i}" in stores().read().resources)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = stores().read()
    assert durable == [True] * 40 and len(state.resources) == 40 and 1 <= state.serial <= 40
    assert len([h for h in store.history() if h.action == "add"]) == 40


def test_the_loser_of_a_lock_is_told_who_holds_it(stores):
    holder = stores().lock("apply", 0)
    with pytest.raises(LockError) as error:
        stores().lock("plan", 0)
    message = str(error.value)
    assert "locked by another run" in message and holder.id in message and "Operation: apply" in message
    assert f"pid {os.getpid()}" in message and re.search(rf"provisioner force-unlock (--\S+ \S+ )*{holder.id}$", message)


def test_unlock_and_lock_timeout(stores):
    store = stores()
    held = store.lock("apply", 0)
    threading.Timer(0.3, store.unlock, args=(held.id,)).start()
    other = stores()
    other.unlock(other.lock("apply", 10).id)


def test_force_unlock_frees_a_lock_held_by_another(stores):
    held = stores().lock("apply", 0)
    other = stores()
    with pytest.raises(LockError, match="does not match"):
        other.force_unlock("nope")
    other.force_unlock(held.id)
    with pytest.raises(LockError, match="not locked"):
        other.force_unlock(held.id)
    other.unlock(other.lock("apply", 5).id)


HOLDER = textwrap.dedent("""
    import sys, time
    from provisioner.state.sql import open_store
    engine, path, project, dsn = sys.argv[1:5]
    store = open_store(engine, path, project=project, dsn=dsn or None, must_exist=False)
    info = store.lock("apply", 0)
    print(info.id, flush=True)
    time.sleep(60)
""")


def test_a_lock_whose_holder_was_killed_is_taken_over(stores):
    """PostgreSQL: the advisory lock dies with the holder's connection. SQLite: the holder's pid is gone."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, stores.engine,
                                str(stores.path / "state" / "provisioner.db"), stores.project, stores.dsn or ""],
                               stdout=subprocess.PIPE, text=True)
    lock_id = process.stdout.readline().strip()
    assert lock_id
    with pytest.raises(LockError, match=lock_id):
        stores().lock("apply", 0)
    process.send_signal(signal.SIGKILL)
    process.wait()
    store = stores()
    store.unlock(store.lock("apply", 10).id)


@pytest.fixture
def schema_stores(engine, tmp_path):
    """PostgreSQL: open stores of one project in schemas of their own of one database (`schema_stores("a")`, as a
    DSN's `options='-csearch_path=...'` chooses one); the schemas are dropped after the test."""
    import uuid

    import psycopg

    dsn, project = pg_dsn(), unique_project()
    prefix = f"locks_{uuid.uuid4().hex[:8]}"
    opened, made = [], set()

    def open_one(schema: str):
        if schema not in made:
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA {prefix}_{schema}")
            made.add(schema)
        store = open_store(engine, tmp_path / "state" / "provisioner.db", project=project, must_exist=False,
                           dsn=f"{dsn} options='-csearch_path={prefix}_{schema}'")
        opened.append(store)
        return store

    open_one.dsn, open_one.project, open_one.prefix = dsn, project, prefix
    yield open_one
    for store in opened:
        store.close()
    with psycopg.connect(dsn, autocommit=True) as connection:
        for schema in made:
            connection.execute(f"DROP SCHEMA {prefix}_{schema} CASCADE")


@pytest.mark.parametrize("engine", ["postgres"])
def test_stores_in_two_schemas_of_one_database_do_not_share_a_lock(schema_stores):
    """The advisory key named the project and workspace only: a run of one store waited for a run of the other,
    though they share no row ("locked by another run that has not recorded who it is")."""
    held = schema_stores("a").lock("apply", 0)
    other = schema_stores("b")
    other.unlock(other.lock("apply", 0).id)
    with pytest.raises(LockError, match=held.id):  # the same store still excludes a second run
        schema_stores("a").lock("apply", 0)


@pytest.mark.parametrize("engine", ["postgres"])
def test_a_run_of_an_older_version_and_one_of_this_version_on_one_store_exclude_each_other(schema_stores):
    """An older version locks the key without the schema, exclusively; this one takes it shared besides its own."""
    import psycopg

    from provisioner.state.sql import advisory_key

    old_key = advisory_key(schema_stores.project, "default")
    store = schema_stores("a")
    with psycopg.connect(schema_stores.dsn, autocommit=True) as old:
        held = store.lock("apply", 0)
        assert old.execute("SELECT pg_try_advisory_lock(%s)", (old_key,)).fetchone()[0] is False
        store.unlock(held.id)
        assert old.execute("SELECT pg_try_advisory_lock(%s)", (old_key,)).fetchone()[0] is True
        with pytest.raises(LockError, match="has not recorded who it is"):
            schema_stores("a").lock("apply", 0)


@pytest.mark.parametrize("engine", ["postgres"])
def test_force_unlock_ends_the_run_of_an_older_version_that_holds_the_lock(schema_stores):
    """Its advisory lock is the key without the schema: force-unlock looked for this version's key only, removed the
    row and left the older run holding the lock, which no later run could then take nor name."""
    import psycopg

    from provisioner.state.sql import advisory_key

    store = schema_stores("a")
    old = psycopg.connect(schema_stores.dsn + f" options='-csearch_path={schema_stores.prefix}_a'", autocommit=True)
    try:
        backend = old.execute("SELECT pg_backend_pid()").fetchone()[0]
        old.execute("SELECT pg_advisory_lock(%s)", (advisory_key(schema_stores.project, "default"),))
        old.execute("INSERT INTO provisioner_locks (project, workspace, lock_id, operation, who, host, pid, created, "
                    "backend_pid) VALUES (%s, 'default', 'old-run', 'apply', 'ci@old', 'old', 1, 'then', %s)",
                    (schema_stores.project, backend))
        with pytest.raises(LockError, match="old-run"):
            store.lock("apply", 0)
        store.force_unlock("old-run")
        store.unlock(store.lock("apply", 0).id)
    finally:
        old.close()


def test_workspaces_have_their_own_lineage_serial_rows_and_lock(stores):
    default, staging = stores(), stores("staging")
    staging.create()
    with pytest.raises(StateError, match="already exists"):
        stores("staging").create()
    first, second = default.read(), staging.read()
    assert first.lineage != second.lineage
    default.commit(first, {"a": entry(1)})
    default.commit(first, {"b": entry(2)})
    staging.commit(second, {"a": entry(1)})  # the same platform id may be managed in each workspace's own rows
    assert default.read().serial == 2 and staging.read().serial == 1
    held = default.lock("apply", 0)
    staging.unlock(staging.lock("apply", 0).id)  # not blocked by default's lock
    default.unlock(held.id)
    assert stores().workspaces() == ["default", "staging"]
    with pytest.raises(StateError, match="still manages 1 object"):
        staging.drop()
    assert staging.drop(force=True) == 1
    assert stores().workspaces() == ["default"]
    with pytest.raises(StateError, match="does not exist"):
        stores("staging", must_exist=True)


def test_projects_share_a_database_without_seeing_each_other(stores):
    mine, theirs = stores(), stores(project_name=unique_project("other"))
    mine.commit(mine.read(), {"a": entry(1)})
    assert theirs.read().resources == {} and theirs.read().serial == 0


def test_pull_and_push_keep_lineage_serial_and_history(stores):
    source = stores()
    state = source.read()
    source.commit(state, {"a": entry(1), "b": entry(2)})
    source.commit(state, {"b": None})
    document = State.loads(source.export().dumps(with_history=True), "pulled")
    target = stores("copy")
    # Into the same project, the source's ids have two owners: named (the platforms are not known here).
    assert "managed by another workspace of this project (a (id 1) is a" in target.push(document)
    copied = target.export()
    assert (copied.lineage, copied.serial, set(copied.resources)) == (state.lineage, 2, {"a"})
    assert copied.history[:len(document.history)] == document.history
    assert copied.resources["a"] == entry(1)


def test_push_refuses_another_lineage_an_older_serial_or_a_diverged_one_unless_forced(stores):
    store = stores()
    state = store.read()
    store.commit(state, {"a": entry(1)})
    store.commit(state, {"b": entry(2)})
    other = State.new()
    other.resources = {"z": entry(9)}
    with pytest.raises(StaleStateError, match="is not the lineage"):
        store.push(other)
    older = State(lineage=state.lineage, serial=1, resources={"a": entry(1)})
    with pytest.raises(StaleStateError, match="older"):
        store.push(older)
    diverged = State(lineage=state.lineage, serial=2, resources={"a": entry(1)})
    with pytest.raises(StaleStateError, match="different resources"):
        store.push(diverged)
    assert set(store.read().resources) == {"a", "b"} and store.read().serial == 2  # nothing changed
    assert "nothing to do" in store.push(State(lineage=state.lineage, serial=2, resources=store.read().resources))
    newer = State(lineage=state.lineage, serial=7, resources={"a": entry(1, "edited")})
    store.push(newer)
    assert store.read().serial == 7 and set(store.read().resources) == {"a"}
    store.push(other, force=True)
    forced = store.read()
    assert forced.lineage == other.lineage and forced.serial == 8 and set(forced.resources) == {"z"}


def test_a_json_state_file_of_an_older_version_is_migrated_on_first_use(stores):
    legacy = stores.path / "state" / "default.json"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    old = State(lineage="0b5c1c70-0000-4000-8000-000000000001", serial=12, resources={"a": entry(1), "b": entry(2)})
    legacy.write_bytes(old.dumps())
    migrated = stores().read()
    assert (migrated.lineage, migrated.serial, migrated.resources) == (old.lineage, 12, old.resources)
    assert not legacy.exists() and legacy.with_name("default.json.migrated").read_bytes() == old.dumps()
    assert [h.action for h in stores().history()] == ["load"]


def test_a_json_state_file_of_a_workspace_is_migrated_into_it_even_once_the_workspace_was_created(stores):
    """`workspace list` does not show a workspace that is only an older version's file: `workspace new prod` (or
    `workspace select --or-create prod`, in a pipeline) makes it, and its file must still move in, never be ignored
    for an empty state."""
    legacy = stores.path / "state" / "prod.json"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    old = State(lineage="0b5c1c70-0000-4000-8000-000000000002", serial=7, resources={"support": entry(101)})
    legacy.write_bytes(old.dumps())
    stores("prod").create()
    migrated = stores("prod").read()
    assert (migrated.lineage, migrated.serial, migrated.resources) == (old.lineage, 7, old.resources)
    assert not legacy.exists()


def test_a_damaged_json_state_file_is_not_migrated_and_changes_nothing(stores):
    legacy = stores.path / "state" / "default.json"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_text('{"version": 1, "lineage": "x", "serial": 1, "resources": [1]}')
    with pytest.raises(StateError, match="resources must be an object"):
        stores().read()
    assert legacy.exists() and not stores().exists()


def test_a_database_of_a_newer_schema_is_refused(engine, tmp_path):
    """In a database of its own on PostgreSQL: the version row is every project's, and tests run at once."""
    with contextlib.ExitStack() as cleanup:
        dsn = cleanup.enter_context(own_database()) if engine == "postgres" else None

        def open_one():
            opened = open_store(engine, tmp_path / "state" / "provisioner.db", project="p", dsn=dsn,
                                must_exist=False)
            cleanup.callback(opened.close)
            return opened

        store = open_one()
        with store.engine.begin() as connection:
            connection.execute(update(meta_table).where(meta_table.c.key == "schema_version")
                               .values(value=str(SCHEMA_VERSION + 1)))
        with pytest.raises(StateError, match="newer provisioner"):
            open_one()
        with store.engine.begin() as connection:
            connection.execute(update(meta_table).where(meta_table.c.key == "schema_version").values(value="x"))
        with pytest.raises(StateError, match="unreadable schema version 'x'"):
            open_one()


def test_state_document_round_trip_with_history():
    state = State(lineage="l", serial=3, resources={"a": entry(1)},
                  history=[HistoryEntry(serial=1, at="2026-01-01T00:00:00+00:00", operation="apply", address="a",
                                        action="add", remote_id=1, who="me@host", lineage="l")])
    assert State.loads(state.dumps(with_history=True), "x") == state
    assert json.loads(state.dumps())["resources"]["a"]["id"] == 1


def test_a_new_empty_workspace_takes_a_pushed_document_as_is(stores):
    source = stores()
    state = source.read()
    source.commit(state, {"a": entry(1)})
    target = stores("copy")
    target.create()
    target.push(State.loads(source.export().dumps(with_history=True), "pulled"))
    assert (target.read().lineage, target.read().serial) == (state.lineage, 1)


def test_a_history_value_longer_than_its_column_is_refused_alike_by_both_engines(stores):
    """SQLite keeps text of any length, PostgreSQL refuses it naming no field: a document pulled from one and pushed
    into the other gets the same verdict on both, naming the line and the field, and nothing is written."""
    from provisioner.state import HistoryEntry

    store = stores()
    document = State(lineage="0b5c1c70-0000-4000-8000-000000000003", serial=2, resources={"a": entry(1)},
                     history=[HistoryEntry(serial=1, at="2026-01-01T00:00:00Z", operation="apply", address="a",
                                           action="x" * 21)])
    with pytest.raises(StateError, match=r"history\[0\]\.action is 21 characters, more than the 20"):
        store.push(document)
    assert not store.exists()


def test_the_history_widths_checked_are_the_schemas():
    from provisioner.state.sql import HISTORY_WIDTHS
    from provisioner.state.sql_schema import history_table

    assert HISTORY_WIDTHS == {key: history_table.c[key].type.length for key in HISTORY_WIDTHS}
