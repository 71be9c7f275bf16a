"""The PostgreSQL backend end to end: the real CLI with --backend postgres against the emulator, SIGKILL
mid-apply, moving state JSON -> SQLite -> PostgreSQL -> SQLite, and a connection string never shown."""
from __future__ import annotations

import json
import os
import random
import time

import pytest
from hypothesis import given, settings, strategies as st

from pg_support import pg_dsn, unique_project
from provisioner.state import ResourceState, State
from provisioner.state.sql import scrub
from test_reliability import assert_exactly_once, spawn, write_fleet


@pytest.fixture
def on_postgres(monkeypatch):
    dsn = pg_dsn()
    monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
    monkeypatch.setenv("PROVISIONER_PG_DSN", dsn)
    monkeypatch.setenv("PROVISIONER_PROJECT", unique_project("cli"))
    return dsn


def test_apply_plan_and_state_commands_on_postgres(workspace, on_postgres):
    workspace.add("a")
    workspace.add("b", protect=None, metadata_extra="protect: true")
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.all
    assert not workspace.state_file.exists()  # nothing in SQLite
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output
    state = workspace.state()
    assert set(state["resources"]) == {"a", "b"} and state["resources"]["b"]["protect"] is True
    assert workspace.run("state", "mv", "a", "renamed").exit_code == 0
    assert set(workspace.state()["resources"]) == {"renamed", "b"}
    assert workspace.run("workspace", "new", "staging").exit_code == 0
    assert workspace.run("workspace", "list").output.splitlines() == ["  default", "* staging"]


def test_a_second_run_is_refused_naming_the_holder(workspace, on_postgres):
    from provisioner.state.sql import open_store

    workspace.add("a")
    store = open_store("postgres", workspace.state_file)
    held = store.lock("apply", 0)
    try:
        refused = workspace.run("apply", "--auto-approve")
        assert refused.exit_code == 1 and held.id in refused.stderr and "Operation: apply" in refused.stderr
        assert workspace.platform.assistants() == []
        assert workspace.run("force-unlock", held.id, "--force").exit_code == 0
        assert workspace.run("apply", "--auto-approve").exit_code == 0
    finally:
        store.close()


def test_force_unlock_returns_once_the_holders_advisory_lock_is_free(workspace, on_postgres):
    """pg_terminate_backend only signals the holder's backend: force-unlock waits for it to be gone, so the run a
    user starts next is not refused by a lock nobody holds any more (it was, now and then, under load)."""
    from provisioner.state.sql import open_store

    workspace.add("a")
    rescuer = open_store("postgres", workspace.state_file)
    try:
        for _ in range(5):
            holder = open_store("postgres", workspace.state_file)
            held = holder.lock("apply", 0)
            with rescuer._transaction("find the holder", write=False) as cursor:
                _, backend_pid = rescuer._holder(cursor)
            rescuer.force_unlock(held.id)
            with rescuer._transaction("look at the holder", write=False) as cursor:  # at once, on a connection open
                found = cursor.execute(rescuer._sql.holder_alive, rescuer._holder_lock(backend_pid, cursor))
                assert found.fetchone() is None
            holder.close()
        assert workspace.run("apply", "--auto-approve").exit_code == 0
    finally:
        rescuer.close()


def test_force_unlock_waits_while_the_holders_connection_still_holds_the_lock(workspace, on_postgres):
    """What force-unlock waits for, made slow on purpose: a holder whose connection lives on. The wait ends when
    the lock is free, and an error says so when it is not within the deadline."""
    import threading

    from provisioner.errors import LockError
    from provisioner.state.sql import open_store

    workspace.add("a")
    holder, rescuer = open_store("postgres", workspace.state_file), open_store("postgres", workspace.state_file)
    try:
        held = holder.lock("apply", 0)
        with rescuer._transaction("find the holder", write=False) as cursor:
            _, backend_pid = rescuer._holder(cursor)
        with pytest.raises(LockError, match=f"backend {backend_pid}"):
            rescuer._await_holder_gone(backend_pid, deadline=0.2)
        releasing = threading.Timer(0.3, holder.unlock, (held.id,))
        releasing.start()
        began = time.monotonic()
        rescuer._await_holder_gone(backend_pid, deadline=10)
        assert time.monotonic() - began >= 0.25
        releasing.join()
    finally:
        holder.close()
        rescuer.close()


def test_force_unlock_never_ends_another_workspaces_lock_holder_that_took_the_stale_pid(workspace, on_postgres):
    """PostgreSQL reuses backend pids: the stale lock row of one workspace may name the pid of a connection that now
    holds another project's lock (simulated by writing that pid into the row). force-unlock ends only a holder of
    its own workspace's lock."""
    import psycopg

    from provisioner.state.sql import open_store

    workspace.add("a")
    stale = open_store("postgres", workspace.state_file)
    other = open_store("postgres", workspace.state_file, project=unique_project("other"))
    try:
        held = stale.lock("apply", 0)
        stale._release_advisory()  # its run died: the row is left, its connection is gone
        running = other.lock("apply", 0)  # another project's run, holding its own lock
        with other._transaction("find the holder", write=False) as cursor:
            _, other_pid = other._holder(cursor)
        with psycopg.connect(on_postgres, autocommit=True) as database:
            database.execute("UPDATE provisioner_locks SET backend_pid = %s WHERE lock_id = %s", (other_pid, held.id))
        stale.force_unlock(held.id)
        with psycopg.connect(on_postgres, autocommit=True) as database:
            alive = database.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (other_pid,)).fetchone()
        assert alive == (1,)  # the other run's connection, and its lock, live on
        other.unlock(running.id)
    finally:
        stale.close()
        other.close()


def test_an_apply_whose_lock_connection_is_ended_stops_before_its_next_write(workspace, on_postgres):
    """The advisory lock dies with its connection (pg_terminate_backend, a restart, an idle-session timeout), but
    the lock row still names the run: the run must stop at its next state write, not go on creating while no run
    holds the lock (the next run would then plan against creates still in flight, and make them again)."""
    import psycopg

    from test_reliability import wait_for_assistants

    write_fleet(workspace, 30)
    workspace.platform.faults(latency_ms=150)
    process = spawn(workspace, "apply", "--auto-approve", "--parallelism=2")
    try:
        wait_for_assistants(workspace, 3)
        with psycopg.connect(on_postgres, autocommit=True) as database:
            ended = database.execute("SELECT pg_terminate_backend(backend_pid) FROM provisioner_locks "
                                     "WHERE project = %s", (os.environ["PROVISIONER_PROJECT"],)).fetchall()
        assert ended == [(True,)]
        at_end = len(workspace.platform.assistants())
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        workspace.platform.faults(latency_ms=0)
    assert process.returncode == 1, (out, err)
    assert "no longer holds the state lock" in err and "was ended" in err
    # It stopped: what it sent after losing the lock is what was in flight, and a commit's worth of changes.
    assert len(workspace.platform.assistants()) <= at_end + 4 < 30
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert_exactly_once(workspace, 30)


def test_sigkill_at_random_moments_then_rerun_ends_with_exactly_one_each(workspace, on_postgres):
    count = 40
    write_fleet(workspace, count)
    workspace.platform.faults(latency_ms=25)
    rng = random.Random(9)
    for _ in range(3):
        process = spawn(workspace, "apply", "--auto-approve", "--parallelism=4", "--lock-timeout=20s")
        time.sleep(rng.uniform(1.0, 2.0))
        process.kill()
        process.wait()
    workspace.platform.faults(latency_ms=0)
    # The killed run's advisory lock went with its connection.
    result = workspace.run("apply", "--auto-approve", "--lock-timeout=20s")
    assert result.exit_code == 0, result.all
    assert_exactly_once(workspace, count)


def test_state_moves_json_to_sqlite_to_postgres_and_back_keeping_lineage_serial_and_history(workspace, monkeypatch):
    dsn = pg_dsn()
    monkeypatch.setenv("PROVISIONER_PG_DSN", dsn)
    monkeypatch.setenv("PROVISIONER_PROJECT", unique_project("move"))
    workspace.add("a")
    workspace.add("b")
    # An old JSON state file, migrated into SQLite on first use, then changed there.
    legacy = workspace.root / "state" / "default.json"
    legacy.parent.mkdir(parents=True)
    a, b = workspace.platform.create(assistant_name="A", **_required()), workspace.platform.create(
        assistant_name="B", **_required())
    old = State(lineage="5d8d3c11-1111-4222-8333-444455556666", serial=41,
                resources={"a": ResourceState(id=a["id"], spec=None), "b": ResourceState(id=b["id"], spec=None)})
    legacy.write_bytes(old.dumps())
    assert workspace.run("apply", "--auto-approve").exit_code == 0  # migrates, then fills in the specs
    on_sqlite = json.loads(workspace.run("state", "pull").output)
    assert on_sqlite["lineage"] == old.lineage and on_sqlite["serial"] > 41 and len(on_sqlite["history"]) >= 3

    dump = workspace.write("sqlite.json", json.dumps(on_sqlite))
    assert workspace.run("state", "push", "--backend", "postgres", str(dump)).exit_code == 0
    on_postgres = json.loads(workspace.run("state", "pull", "--backend", "postgres").output)
    assert (on_postgres["lineage"], on_postgres["serial"], on_postgres["resources"]) == (
        on_sqlite["lineage"], on_sqlite["serial"], on_sqlite["resources"])
    assert on_postgres["history"][:len(on_sqlite["history"])] == on_sqlite["history"]
    plan = workspace.run("plan", "--backend", "postgres", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.all

    # And back, into a fresh SQLite database.
    workspace.lose_state()
    back = workspace.write("postgres.json", json.dumps(on_postgres))
    assert workspace.run("state", "push", str(back)).exit_code == 0
    on_sqlite_again = json.loads(workspace.run("state", "pull").output)
    assert (on_sqlite_again["lineage"], on_sqlite_again["serial"], on_sqlite_again["resources"]) == (
        old.lineage, on_sqlite["serial"], on_sqlite["resources"])
    assert on_sqlite_again["history"][:len(on_postgres["history"])] == on_postgres["history"]


def test_a_state_changed_on_postgres_and_pushed_back_into_its_sqlite_keeps_what_was_done_there(workspace,
                                                                                                monkeypatch):
    monkeypatch.setenv("PROVISIONER_PG_DSN", pg_dsn())
    monkeypatch.setenv("PROVISIONER_PROJECT", unique_project("back"))
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    to_postgres = workspace.write("sqlite.json", workspace.run("state", "pull").output)
    assert workspace.run("state", "push", "--backend", "postgres", str(to_postgres)).exit_code == 0
    for old, new in (("a", "a2"), ("a2", "a")):
        assert workspace.run("state", "mv", old, new, "--backend", "postgres").exit_code == 0
    on_postgres = json.loads(workspace.run("state", "pull", "--backend", "postgres").output)
    back = workspace.write("postgres.json", json.dumps(on_postgres))
    pushed = workspace.run("state", "push", str(back))  # into the SQLite database it came from
    assert pushed.exit_code == 0, pushed.all
    on_sqlite = json.loads(workspace.run("state", "pull").output)
    assert (on_sqlite["lineage"], on_sqlite["serial"]) == (on_postgres["lineage"], on_postgres["serial"])
    moves = [(line["serial"], line["operation"], line["address"]) for line in on_sqlite["history"]
             if line["operation"] == "state mv"]
    assert moves == [(line["serial"], "state mv", line["address"]) for line in on_postgres["history"]
                     if line["operation"] == "state mv"] and len(moves) >= 2
    # Pushed twice, nothing is copied twice.
    assert workspace.run("state", "push", "--force", str(back)).exit_code == 0
    again = json.loads(workspace.run("state", "pull").output)["history"]
    assert len([line for line in again if line["operation"] == "state mv"]) == len(moves)


def test_an_unreachable_database_fails_before_any_request_and_never_shows_the_dsn(workspace, monkeypatch):
    secret = "s3cret-Passw0rd"
    monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
    for dsn in (f"host=127.0.0.1 port=1 user=alice password={secret} dbname=x connect_timeout=2",
                f"postgresql://alice:{secret}@127.0.0.1:1/x?connect_timeout=2"):
        monkeypatch.setenv("PROVISIONER_PG_DSN", dsn)
        workspace.add("a")
        before = workspace.platform.stats()["total"]
        for command in (["apply", "--auto-approve"], ["plan"], ["state", "list"], ["state", "pull"],
                        ["workspace", "list"], ["force-unlock", "x"]):
            result = workspace.run(*command)
            assert result.exit_code == 1, command
            assert "cannot open the state store (PostgreSQL ($PROVISIONER_PG_DSN))" in result.stderr, result.stderr
            assert secret not in result.all and "alice:" not in result.all and dsn not in result.all
        assert workspace.platform.stats()["total"] == before


@pytest.mark.parametrize("dsn, secret", [
    ("postgresql://deploy:100%secure-Pa55@127.0.0.1:1/state", "100%secure-Pa55"),   # a stray %: not parsable
    ("postgresql://deploy@127.0.0.1:1/state?password=%zz-secure-Pa55", "%zz-secure-Pa55"),
    # A space not written %20 (a password typed as is): the driver's error quoted the whole password.
    ("postgresql://deploy:correct horse-Pa55@127.0.0.1:1/state", "correct horse-Pa55"),
    ("postgresql://deploy@127.0.0.1:1/state?password=correct horse-Pa55", "horse-Pa55"),
    ("host=127.0.0.1 port=1 password=correct horse-Pa55", "horse-Pa55"),  # libpq quotes the word after a space
])
def test_a_connection_string_the_driver_cannot_parse_never_shows_its_password(workspace, monkeypatch, dsn, secret):
    """The driver's error quotes the part it could not parse, which is the password itself."""
    monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
    monkeypatch.setenv("PROVISIONER_PG_DSN", dsn)
    workspace.add("a")
    for command in (["plan"], ["state", "list"], ["force-unlock", "x"]):
        result = workspace.run(*command)
        assert result.exit_code == 1, command
        assert "cannot open the state store (PostgreSQL ($PROVISIONER_PG_DSN))" in result.stderr, result.stderr
        assert secret not in result.all and secret.strip("%") not in result.all, result.all


def test_a_connection_string_that_is_not_utf8_is_an_error_that_names_the_variable(workspace, monkeypatch):
    """A byte the environment cannot decode (a password in Latin-1) reached the driver as a surrogate: an
    "unexpected UnicodeEncodeError ... a bug in the provisioner" instead of a message saying what is wrong."""
    monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
    monkeypatch.setenv("PROVISIONER_PG_DSN", "postgresql://deploy:Secr\udce9t-Pa55@127.0.0.1:1/state")
    workspace.add("a")
    for command in (["plan"], ["state", "list"], ["force-unlock", "x"]):
        result = workspace.run(*command)
        assert result.exit_code == 1, command
        assert "PROVISIONER_PG_DSN is not UTF-8 text" in result.stderr and "bug" not in result.all, result.all
        assert "Pa55" not in result.all


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs"), blacklist_characters="@/?#&'\\*"),
               min_size=1, max_size=30))
def test_a_password_in_a_connection_string_is_masked_wherever_a_message_quotes_it(password):
    for dsn in (f"postgresql://u:{password}@h:1/d", f"postgresql://u@h:1/d?password={password}",
                f"host=h password='{password}' user=u", f"host=h user=u password={password}"):
        message = f'cannot connect: invalid token: "{password}" in {dsn}'
        assert password not in scrub(message, dsn)  # (no `*` in it: the mask cannot make it again)


def test_a_password_with_an_unescaped_at_sign_is_masked_where_the_driver_reads_it_as_the_host():
    """postgresql://deploy:Xy@Secret-9k2@db/state: the driver's password is `Xy`, its host `Secret-9k2@db`, and
    its error quoted that host: the rest of the password, in clear."""
    dsn = "postgresql://deploy:Xy@Secret-9k2@db.internal:5432/state"
    message = "connection failed: failed to resolve host 'Secret-9k2@db.internal': [Errno -2] Name or service not known"
    assert "Secret-9k2" not in scrub(message, dsn) and "db.internal" in scrub(message, dsn)


def test_a_lock_timeout_of_weeks_is_a_long_wait_not_an_error_from_the_server(workspace, on_postgres):
    """The wait for the database follows --lock-timeout, and PostgreSQL's lock_timeout is 32-bit milliseconds: 600h
    was refused by the server ("invalid value for parameter lock_timeout") before anything was read."""
    workspace.add("a")
    for timeout in ("600h", "99999999999999999999s"):
        result = workspace.run("plan", "--lock-timeout", timeout)
        assert result.exit_code == 0, result.all


def test_the_postgres_backend_without_a_dsn_says_where_it_is_read(workspace, monkeypatch):
    monkeypatch.delenv("PROVISIONER_PG_DSN", raising=False)
    result = workspace.run("plan", "--backend", "postgres")
    assert result.exit_code == 1 and "PROVISIONER_PG_DSN" in result.stderr


def _required() -> dict:
    from conftest import REQUIRED

    return dict(REQUIRED)


def test_a_shared_store_warns_when_the_project_is_only_the_folder_name(workspace, on_postgres, monkeypatch):
    monkeypatch.delenv("PROVISIONER_PROJECT")
    unnamed = workspace.run("state", "list")
    assert unnamed.exit_code == 0, unnamed.all
    assert unnamed.stderr.count("the name of this folder") == 1 and "Set `project:` in provisioner.yaml" in \
        unnamed.stderr
    workspace.write("provisioner.yaml", f"project: {unique_project('named')}\n")
    named = workspace.run("state", "list")
    assert named.exit_code == 0 and "the name of this folder" not in named.stderr


def test_the_wait_for_a_holder_that_has_not_said_who_it_is_says_so(workspace, on_postgres):
    """A run that has taken the advisory lock and not yet written its row (or a store of another schema with the
    same project and workspace): the wait's message said "locked by unknown (unknown since unknown, on unknown, pid
    0, lock ID unknown)", a lock ID that `force-unlock` does not know."""
    import psycopg
    from provisioner.state.sql import advisory_key

    workspace.add("a")
    key = advisory_key(os.environ["PROVISIONER_PROJECT"], "default")
    with psycopg.connect(on_postgres, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        refused = workspace.run("state", "list", "--lock-timeout", "1s")
    assert refused.exit_code == 1
    assert "has not recorded who it is" in refused.stderr and "waiting up to 1s" in refused.stderr, refused.stderr
    assert "lock ID unknown" not in refused.stderr and "locked by unknown" not in refused.stderr, refused.stderr
