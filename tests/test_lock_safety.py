"""The state lock: an apply that lost it while waiting at its prompt sends nothing (it used to send a batch of
creates before its first commit found out, racing the run that took the lock over: duplicates no later plan
reports); the force-unlock command a lock error prints works as printed; a holder not recorded yet is not named
"unknown" with a command that cannot work."""
from __future__ import annotations

import os
import re

import pytest

from conftest import REQUIRED
from provisioner.commands import plan_apply
from provisioner.errors import LockError
from provisioner.state.sql import advisory_key, open_store


def _store(state_path: str = "state/provisioner.db", **kwargs):
    return open_store(os.environ.get("PROVISIONER_BACKEND", "sqlite"), state_path,
                      project=os.environ.get("PROVISIONER_PROJECT"), dsn=os.environ.get("PROVISIONER_PG_DSN"),
                      **kwargs)


def test_an_apply_that_lost_its_lock_at_the_prompt_sends_nothing(workspace, platform, backend, monkeypatch):
    workspace.add("alpha")
    workspace.add("beta")
    unlocked = []

    def force_unlocked_meanwhile(question: str) -> bool:
        """Someone runs `provisioner force-unlock` while this run waits for its "yes" (the run's cwd is the
        project's, so the store is the one it locked)."""
        store = _store()
        try:
            holder = store.lock_holder()
            store.force_unlock(holder.id)
            unlocked.append(holder.id)
        finally:
            store.close()
        return True

    monkeypatch.setattr(plan_apply, "confirm", force_unlocked_meanwhile)
    result = workspace.run("apply")
    assert unlocked and result.exit_code == 1, result.all
    assert "no longer holds the state lock" in result.all and "Traceback" not in result.all
    assert platform.assistants() == [] and not [w for w in platform.writes() if w["method"] != "GET"]
    monkeypatch.undo()
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert sorted(a["name"] for a in platform.assistants()) == ["Alpha", "Beta"]


@pytest.mark.parametrize("engine, state_path, name", [("sqlite", "state/provisioner.db", "stg"),
                                                    ("sqlite", "other dir/s.db", "default"),
                                                    ("postgres", "state/provisioner.db", "stg")])
def test_the_force_unlock_command_a_lock_error_prints_works_as_printed(workspace, engine, state_path, name,
                                                                        monkeypatch):
    """It named the lock ID only: run as printed, it looked at the default workspace of the default store and
    answered "not locked"."""
    if engine == "postgres":
        from pg_support import pg_dsn, unique_project

        monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
        monkeypatch.setenv("PROVISIONER_PG_DSN", pg_dsn())
        monkeypatch.setenv("PROVISIONER_PROJECT", unique_project("lock"))
    flags = (["--workspace", name] if name != "default" else []) + (
        ["--state", state_path] if state_path != "state/provisioner.db" else [])
    if name != "default":
        assert workspace.run("workspace", "new", name, "--no-select", *flags[2:]).exit_code == 0
    monkeypatch.chdir(workspace.root)
    holder = _store(state_path, workspace=name, must_exist=False)
    try:
        info = holder.lock("test holder", 0)
        refused = workspace.run("state", "list", *flags)
        assert refused.exit_code == 1, refused.all
        printed = re.search(r"remove the lock with: (provisioner force-unlock .*)", refused.all).group(1)
        import shlex

        argv = shlex.split(printed)[1:]
        assert argv[-1] == info.id and ("--workspace" in argv) == (name != "default")
        unlocked = workspace.run(*argv, "--force")
        assert unlocked.exit_code == 0, unlocked.all
        assert workspace.run("state", "list", *flags).exit_code == 0
    finally:
        holder.close()


def test_a_postgres_lock_whose_holder_has_no_row_yet_is_not_named_unknown(workspace, monkeypatch):
    """The advisory lock is taken before the holder's row is written: a run that met that moment was told to run
    `force-unlock unknown`, which cannot work."""
    from pg_support import pg_dsn, unique_project

    import psycopg

    monkeypatch.chdir(workspace.root)
    project = unique_project("lock")
    store = open_store("postgres", "state/provisioner.db", project=project, dsn=pg_dsn(), must_exist=False)
    with psycopg.connect(pg_dsn(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (advisory_key(project, "default"),))
        try:
            with pytest.raises(LockError) as refused:
                store.lock("apply", 0)
        finally:
            store.close()
    assert "has not recorded who it is" in str(refused.value) and "force-unlock" not in str(refused.value)


def test_an_unmanaged_namesake_of_a_managed_assistant_is_named_by_the_plan(workspace, platform):
    """What an apply that lost its lock mid-flight (or a crash between a create and its record, racing another
    run) can leave: an assistant with a managed one's name that no state manages. The plan said only
    "No changes"; it now names it, and changes nothing."""
    workspace.add("alpha")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    stray = platform.create(**REQUIRED, assistant_name="Alpha")
    planned = workspace.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 0 and "No changes." in planned.output, planned.all
    assert f"alpha: 1 other assistant(s) on the platform have its name but no state manages them (id {stray['id']})" \
        in planned.all, planned.all
    assert len(platform.by_name("Alpha")) == 2  # named, never touched


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_lock_false_never_writes_while_another_run_holds_the_lock(workspace, engine, monkeypatch):
    """`state rm --lock=false` wrote while an apply held the lock; the apply then failed to record its changes,
    which stayed on the platform unrecorded. --lock=false still reads without the lock."""
    if engine == "postgres":
        from pg_support import pg_dsn, unique_project

        monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
        monkeypatch.setenv("PROVISIONER_PG_DSN", pg_dsn())
        monkeypatch.setenv("PROVISIONER_PROJECT", unique_project("lockfalse"))
    workspace.add("a")
    workspace.add("b")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    monkeypatch.chdir(workspace.root)
    holder = _store()
    try:
        info = holder.lock("apply", 0)
        for args in (("state", "rm", "--lock=false", "a"), ("state", "mv", "--lock=false", "a", "c")):
            refused = workspace.run(*args)
            assert refused.exit_code == 1 and "never writes while another run holds it" in refused.all, refused.all
        listed = workspace.run("state", "list", "--lock=false")
        assert listed.exit_code == 0 and "a\tid=" in listed.output, listed.all
        holder.unlock(info.id)
    finally:
        holder.close()
    assert workspace.run("state", "rm", "--lock=false", "a").exit_code == 0  # nobody holds it now
    assert "a" not in workspace.state()["resources"]


def test_lock_false_writes_past_a_lock_whose_process_is_gone(workspace, monkeypatch):
    """A SQLite lock row left by a run that died on this host holds nothing (a run that locks clears it): it
    refused every --lock=false write until someone force-unlocked it."""
    import sqlite3
    import subprocess
    import sys

    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    monkeypatch.chdir(workspace.root)
    holder = _store()
    try:
        holder.lock("apply", 0)
    finally:
        holder.close()  # the row stays: as a run killed with SIGKILL leaves it
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    with sqlite3.connect(workspace.root / "state" / "provisioner.db") as db:
        assert db.execute("UPDATE provisioner_locks SET pid = ?", (int(gone),)).rowcount == 1
    removed = workspace.run("state", "rm", "--lock=false", "a")
    assert removed.exit_code == 0, removed.all


def test_a_live_holder_whose_pid_this_run_cannot_see_keeps_its_lock(workspace):
    """SQLite: a lock row of this host whose pid is gone was cleared. A run in another PID namespace of the same
    host (a container with the host's name, sharing the state folder) has a pid this one cannot see: its live lock
    was taken over, and the two applies made duplicates. Its liveness file, flock'd while it holds the lock, says
    it lives; once it lets go (it ended), the row is cleared as before."""
    import sqlite3

    workspace.add("a")
    holder = open_store("sqlite", workspace.state_file)
    held = holder.lock("apply", 0)
    try:
        with sqlite3.connect(workspace.state_file) as database:  # its pid, as a process of another namespace
            database.execute("UPDATE provisioner_locks SET pid = 999999999 WHERE lock_id = ?", (held.id,))
        database.close()
        refused = workspace.run("apply", "--auto-approve")
        assert refused.exit_code == 1 and held.id in refused.stderr, refused.all
        assert workspace.platform.assistants() == []
        holder._let_go_of_liveness()  # as its process ending would: the row is a dead run's
        assert workspace.run("apply", "--auto-approve").exit_code == 0
        assert len(workspace.platform.assistants()) == 1
    finally:
        holder.close()


def test_a_live_holder_of_another_user_whose_pid_this_run_cannot_see_keeps_its_lock(tmp_path, monkeypatch):
    """The liveness file was made 0600 and one that could not be opened was taken for none: a run of another user
    sharing the database (a container's, its pid unseen here) had its live lock taken over. It is made as the
    umask says, like the database; one there that this run cannot open says nothing about its holder."""
    import sqlite3

    import provisioner.state.sql as sql

    path = tmp_path / "provisioner.db"
    holder, other = open_store("sqlite", str(path)), open_store("sqlite", str(path))
    try:
        held = holder.lock("apply", 0)
        liveness = holder._liveness_path()
        umask = os.umask(0o022)
        os.umask(umask)
        assert os.stat(liveness).st_mode & 0o777 == 0o666 & ~umask
        with sqlite3.connect(path) as database:  # its pid, as a process of another namespace
            database.execute("UPDATE provisioner_locks SET pid = 999999999 WHERE lock_id = ?", (held.id,))
        database.close()
        real_open = os.open

        def another_users(name, flags, *args):
            if str(name) == str(liveness):
                raise PermissionError(13, "Permission denied", str(name))
            return real_open(name, flags, *args)

        monkeypatch.setattr(sql.os, "open", another_users)
        with pytest.raises(LockError, match=held.id):
            other.lock("apply", 0)
    finally:
        other.close()
        holder.close()


def test_a_run_that_takes_the_lock_the_moment_it_is_released_holds_the_liveness_file(tmp_path, monkeypatch):
    """unlock deleted its row, then let go of the liveness flock: a run that took the lock in between could not
    flock the file, and held the lock with no sign of life but its pid (a run in another PID namespace would then
    take its live lock over). The flock goes first: the row of a run that writes nothing more is harmless."""
    import contextlib

    path = str(tmp_path / "provisioner.db")
    first, second = open_store("sqlite", path), open_store("sqlite", path)
    try:
        held = first.lock("apply", 0)
        real = first._transaction

        @contextlib.contextmanager
        def then_the_other_takes_it(doing, **options):
            with real(doing, **options) as cursor:
                yield cursor
            if doing == "unlock the state":
                second.lock("apply", 0)  # waiting with --lock-timeout, it looks again just then

        monkeypatch.setattr(first, "_transaction", then_the_other_takes_it)
        first.unlock(held.id)
        assert second._held_lock is not None and second._liveness is not None
    finally:
        first.close()
        second.close()
