"""The state store's hot paths (sql.py): every statement a run executes is plain SQL on the driver's connection,
a commit's work does not grow with the workspace, the rows go through the bulk statements unchanged on both
engines, and a run on an existing store never imports SQLAlchemy (it creates and migrates the schema only)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pg_support import pg_dsn, unique_project
from provisioner.state import ResourceState, State
from provisioner.state import sql, sql_schema
from provisioner.state.sql import open_store

ENGINES = ["sqlite", "postgres"]


@pytest.fixture(params=ENGINES)
def store(request, tmp_path):
    dsn = pg_dsn() if request.param == "postgres" else None
    opened = open_store(request.param, tmp_path / "state" / "provisioner.db", project=unique_project(), dsn=dsn,
                        must_exist=False)
    opened.platform = f"http://{opened.project}.test"  # ids of this test only (the database is shared)
    yield opened
    opened.close()


def entry(remote_id: int, prompt: str = "Be helpful.", kind: str = "assistant") -> ResourceState:
    return ResourceState(id=remote_id, spec={"assistant_name": f"A {remote_id}", "system_prompt": prompt},
                         remote={"assistant_name": f"A {remote_id}"}, sensitive=["webhook_url"], kind=kind,
                         source="manifests/a.yaml")


def test_the_schema_version_is_the_same_in_both_modules():
    assert sql.SCHEMA_VERSION == sql_schema.SCHEMA_VERSION
    assert sql.meta_table is sql_schema.meta_table  # still reachable where it was
    assert sql._ONE_OWNER_IN_STORE == sql_schema.ONE_OWNER_IN_STORE  # the name a refused commit is known by


def test_records_of_any_text_go_through_the_bulk_statements_unchanged(store):
    awkward = ["naïve café ☕ 𝄞", 'quote " and \\ backslash', "nul \x00 and \u2028 separator", "'; DROP TABLE x; --",
               "{\"json\": [1, 2]}", "%s %b ? :name"]
    state = store.read()
    changes = {f"a{i}": entry(i + 1, text) for i, text in enumerate(awkward)}
    changes["tool.t"] = entry(1, "same id, other kind", kind="tool")
    changes["big"] = entry(2**63 - 1)
    store.commit(state, changes)
    again = open_store(store.location.backend, store.location.sqlite_path or "x/state/provisioner.db",
                       project=store.project, dsn=store.location.dsn).read()
    assert again.resources == changes and again.serial == 1


def test_a_commit_of_many_rows_and_an_id_moving_between_addresses(store):
    state = store.read()
    store.commit(state, {f"a{i}": entry(i + 1) for i in range(1200)})  # more than any IN list or chunk
    # One commit: a0's id moves to a new address (state mv), a1 is removed, a2 changes.
    store.commit(state, {"a0": None, "moved": entry(1), "a1": None, "a2": entry(3, "changed")})
    store.commit(state, {f"a{i}": None for i in range(3, 1200)})
    again = open_store(store.location.backend, store.location.sqlite_path or "x/state/provisioner.db",
                       project=store.project, dsn=store.location.dsn).read()
    assert again.serial == 3 and again.resources == {"moved": entry(1), "a2": entry(3, "changed")}
    history = store.history()
    assert len(history) == 1200 + 4 + 1197
    # A commit's history lines keep the changes' order, with the id of a removed row.
    assert [(h.serial, h.address, h.action, h.remote_id) for h in history[1200:1204]] == [
        (2, "a0", "remove", 1), (2, "moved", "add", 1), (2, "a1", "remove", 2), (2, "a2", "update", 3)]
    assert [h.address for h in history[1204:1207]] == ["a3", "a4", "a5"]


def test_owners_finds_ids_of_other_workspaces_in_chunks(store, tmp_path):
    state = store.read()
    store.commit(state, {f"a{i}": entry(i + 1) for i in range(700)})
    other = open_store(store.location.backend, store.location.sqlite_path or tmp_path / "state" / "provisioner.db",
                       project=store.project, workspace="other", dsn=store.location.dsn, must_exist=False)
    other.platform = store.platform
    try:
        found = other.owners("assistant", range(1, 1000))
        assert len(found) == 700 and found[650].address == "a649" and found[650].workspace == "default"
        assert other.owners("tool", [1, 2]) == {} and store.owners("assistant", [1]) == {}  # its own: not another's
    finally:
        other.close()


def _vm_steps(store, action) -> int:
    """SQLite virtual machine instructions the store's connection runs during `action` (counted in 100s)."""
    steps = [0]
    connection = store._db._take()  # the one connection a single-threaded store uses
    store._db._idle.append(connection)

    def count() -> int:
        steps[0] += 1
        return 0

    connection.set_progress_handler(count, 100)
    try:
        action()
    finally:
        connection.set_progress_handler(None, 100)
    return steps[0]


def test_a_commit_costs_the_same_in_a_small_and_a_large_workspace(tmp_path):
    """Each row of a commit is found by a key: a statement that scans the workspace's rows (as an OR of two IN
    lists did) makes a commit cost grow with the fleet."""
    costs = []
    for size in (10, 3000):
        store = open_store("sqlite", tmp_path / str(size) / "state" / "provisioner.db", project="p",
                           must_exist=False)
        state = store.read()
        store.commit(state, {f"a{i}": entry(i + 1) for i in range(size)})
        changes = {"a1": entry(2, "changed"), "a2": None, "new": entry(size + 1)}
        costs.append(_vm_steps(store, lambda: store.commit(state, changes)))
        store.close()
    small, large = costs
    assert large <= small * 1.5 + 5, costs
    print("COSTS", costs)



def test_every_runs_look_for_rows_of_no_recorded_platform_costs_the_same_in_a_small_and_a_large_workspace(tmp_path):
    """Every run looks for its workspace's rows of no recorded platform that another workspace holds
    (session.check_same_platform): found through their own partial index, not by reading every row of the
    workspace, record included (9-11 ms for 10,000). The one unrecorded row is still found."""
    platform = "http://127.0.0.1:1/api"
    costs = []
    for size in (10, 3000):
        path = tmp_path / str(size) / "state" / "provisioner.db"
        other = open_store("sqlite", path, project="p", workspace="staging", must_exist=False)
        other.platform = platform
        other.commit(other.read(), {"theirs": entry(10**6)})
        other.close()
        store = open_store("sqlite", path, project="p", must_exist=False)
        store.platform = platform
        state = store.read()
        store.commit(state, {f"a{i}": entry(i + 1) for i in range(size)})
        store.platform = ""  # a state command's write (state push, state mv): no platform recorded
        store.commit(state, {"pushed": entry(10**6)})
        store.platform = platform  # then a run on that platform looks
        found = []
        costs.append(_vm_steps(store, lambda: found.extend(store.held_elsewhere(recorded_only=True))))
        assert [(address, remote_id, owner.address) for address, remote_id, owner in found] == [("pushed", 10**6,
                                                                                                 "theirs")]
        store.close()
    small, large = costs
    assert large <= small * 1.5 + 5, costs

RUN_AND_LIST_MODULES = """
import runpy, sys
sys.argv = ["provisioner", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("provisioner", run_name="__main__")
except SystemExit as end:
    code = end.code
print("SQLALCHEMY" if any(name.split(".")[0] == "sqlalchemy" for name in sys.modules) else "NONE", code,
      file=sys.stderr)
"""


def run_listing_modules(workspace, *args: str) -> str:
    import os

    from conftest import TOKEN

    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, *args, f"--api-url={workspace.platform.url}"],
                            cwd=workspace.root, env=env, capture_output=True, text=True, timeout=120)
    return result.stderr.strip().splitlines()[-1]


def test_runs_on_an_existing_store_never_import_sqlalchemy(workspace):
    workspace.add("a")
    # A new store too: its schema is plain DDL (sql_ddl.py; it imported SQLAlchemy before).
    assert run_listing_modules(workspace, "apply", "--auto-approve") == "NONE 0"
    workspace.add("b")
    assert run_listing_modules(workspace, "plan") == "NONE 0"
    assert run_listing_modules(workspace, "apply", "--auto-approve") == "NONE 0"  # locks, commits, unlocks
    assert set(workspace.state()["resources"]) == {"a", "b"}
    workspace.remove("a")
    assert run_listing_modules(workspace, "destroy", "--auto-approve") == "NONE 0"
    assert workspace.state()["resources"] == {}


def test_an_older_schema_is_still_migrated_through_sqlalchemy(tmp_path):
    """The version check is one query; anything but this version goes to sql_schema.ensure."""
    import sqlite3

    path = tmp_path / "state" / "provisioner.db"
    store = open_store("sqlite", path, project="p", must_exist=False)
    state = store.read()
    store.commit(state, {"a": entry(1)})
    store.close()
    with sqlite3.connect(path) as database:  # an interrupted creation: tables, but no version row
        database.execute("DELETE FROM provisioner_meta")
    database.close()
    reopened = open_store("sqlite", path, project="p")
    assert reopened.read().resources == {"a": entry(1)}
    reopened.close()
    with sqlite3.connect(path) as database:
        assert database.execute("SELECT value FROM provisioner_meta").fetchall() == [(str(sql.SCHEMA_VERSION),)]
    database.close()


def test_a_write_after_a_force_unlock_or_by_a_stale_holder_writes_nothing(store):
    """The lock and serial checks run before the rows (on PostgreSQL in one round trip): either failing leaves
    the workspace as it was, and the store's connection usable."""
    from provisioner.state import LockLostError, StaleStateError

    other = open_store(store.location.backend, store.location.sqlite_path or "x/state/provisioner.db",
                       project=store.project, dsn=store.location.dsn)
    try:
        state = store.read()
        store.commit(state, {"a": entry(1)})
        held = store.lock("apply", 0)
        other.force_unlock(held.id)
        with pytest.raises(LockLostError, match="no longer holds the state lock"):
            store.commit(state, {"b": entry(2)})
        assert (other.read().serial, set(other.read().resources)) == (1, {"a"})
        store.unlock(held.id)  # PostgreSQL: the force-unlock ended its lock connection; let it go
        held = store.lock("apply", 0)  # held again, but another writer moved the serial on meanwhile
        moved = other.read()
        other._held_lock, other._lock_backend = held.id, store._lock_backend  # as if it shared the lock: only the serial stops it
        other.commit(moved, {"c": entry(3)})
        with pytest.raises(StaleStateError, match="it is at serial 2.*read serial 1"):
            store.commit(state, {"b": entry(2)})
        assert set(other.read().resources) == {"a", "c"} and store.history()[-1].address == "c"
        store.commit(store.read(), {"b": entry(2)})  # the same store writes again once it has read
        assert set(other.read().resources) == {"a", "b", "c"}
        store.unlock(held.id)
    finally:
        other.close()


def test_a_held_sqlite_file_is_waited_for_once_when_the_store_opens(tmp_path):
    """The one-query version check does not hand a held file on to the schema's check for a second wait."""
    import time

    from provisioner.errors import StateError
    from test_hostile_store import HOLDER

    path = tmp_path / "state" / "provisioner.db"
    open_store("sqlite", path, project="p", must_exist=False).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(StateError, match="held by another process: it stayed locked for 5s"):
            open_store("sqlite", path, project="p")
        seconds = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert seconds < 9.5, seconds  # the grace (5 s) once, not twice
