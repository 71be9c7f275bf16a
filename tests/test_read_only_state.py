"""Commands that only read the state make no store where there is none (docs/state.md, "Commands that only read the
state"): a mistyped --state path, or a PostgreSQL database without the provisioner's tables, is said, never given an
empty store; `plan` still plans a new project from an empty state, and `apply` makes the store. On the real CLI
against the emulator."""
from __future__ import annotations

import contextlib

import pytest

from pg_support import own_database, unique_project

TYPO = "stat/provisioner.db"  # the state folder's name mistyped

# They go on from an empty state (a new project's first plan has no store yet), saying where none was found.
GO_ON = [("plan",), ("plan", "--detailed-exitcode", "--lock=false"), ("plan", "--out", "saved.plan"), ("show",),
         ("show", "--json"), ("export", "--out", "exported"), ("workspace", "list")]
# What they print or change is the state's own: an error that names the location.
REFUSE = [("state", "list"), ("state", "show", "a"), ("state", "pull"), ("state", "rm", "a"), ("state", "mv", "a", "b"),
          ("force-unlock", "x", "--force"), ("workspace", "delete", "other")]


@contextlib.contextmanager
def _location(engine: str, monkeypatch):
    """The state's location with no store at it: (the flags that name it, a function that says whether anything
    was made there, its label in messages)."""
    if engine == "sqlite":
        yield ("--state", TYPO), lambda root: (root / TYPO).parent.exists(), f"SQLite {TYPO}"
        return
    with own_database() as dsn:
        monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
        monkeypatch.setenv("PROVISIONER_PG_DSN", dsn)
        monkeypatch.setenv("PROVISIONER_PROJECT", unique_project("read-only"))

        def tables(root) -> bool:
            import psycopg

            with psycopg.connect(dsn) as connection:
                return bool(connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                                               ).fetchone()[0])

        yield (), tables, "PostgreSQL ($PROVISIONER_PG_DSN)"


def _execute(engine: str, root, statement: str) -> None:
    """`statement` on the store _location made (an apply made it): the SQLite file, or the PostgreSQL database."""
    import os

    if engine == "sqlite":
        import sqlite3

        connection = sqlite3.connect(root / TYPO)
        with connection:
            connection.execute(statement)
        connection.close()
        return
    import psycopg

    with psycopg.connect(os.environ["PROVISIONER_PG_DSN"], autocommit=True) as connection:
        connection.execute(statement)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_command_that_only_reads_the_state_makes_no_store_and_says_there_is_none(workspace, engine, monkeypatch):
    workspace.add("a")
    with _location(engine, monkeypatch) as (flags, made, label):
        for args in GO_ON:
            result = workspace.run(*args, *flags)
            assert result.exit_code == (0 if "export" in args or "--detailed-exitcode" not in args else 2), result.all
            assert f"there is no state store at {label} yet" in result.stderr, (args, result.all)
            assert not made(workspace.root), args
        assert "1 to add" in workspace.run("plan", *flags).output
        for args in REFUSE:
            result = workspace.run(*args, *flags)
            assert result.exit_code == 1, (args, result.all)
            assert f"there is no state at {label}: no state store was made there yet" in result.stderr \
                or f"({label}, where there is no state store yet)" in result.stderr, (args, result.all)
            assert not made(workspace.root), args
        assert workspace.platform.assistants() == []
        # apply makes the store, the plan saved without one included; what it recorded is then read.
        applied = workspace.run("apply", "saved.plan", *flags)
        assert applied.exit_code == 0 and made(workspace.root), applied.all
        assert "a\tid=" in workspace.run("state", "list", *flags).output
        again = workspace.run("plan", "--detailed-exitcode", *flags)
        assert again.exit_code == 0 and "there is no state store" not in again.stderr, again.all


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_workspace_select_makes_no_store_to_refuse_a_workspace_or_to_select_default(workspace, engine, monkeypatch):
    """It opened the workspace with a store made to look: a refused `workspace select other` left an empty store
    at the mistyped path (tables in the PostgreSQL database), and `workspace select default` made one too."""
    with _location(engine, monkeypatch) as (flags, made, label):
        refused = workspace.run("workspace", "select", "other", *flags)
        assert refused.exit_code == 1, refused.all
        assert "workspace 'other' does not exist in project" in refused.stderr, refused.all
        assert f"({label}, where there is no state store yet)" in refused.stderr, refused.all
        assert not made(workspace.root)
        selected = workspace.run("workspace", "select", "default", *flags)
        assert selected.exit_code == 0 and "Switched to workspace 'default'." in selected.output, selected.all
        store = workspace.root / TYPO
        assert not (store.exists() if engine == "sqlite" else made(workspace.root))  # the choice only: stat/workspace


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_store_without_its_version_row_is_a_store_not_none(workspace, engine, monkeypatch):
    """A store whose provisioner_meta lost its version row (an interrupted creation, a hand edit) was taken for no
    store by the commands that make none: `plan` planned the objects it manages as new (silently, at the default
    path) and `state list` said no store was ever made there. Its creation is finished, as every command did."""
    workspace.add("a")
    with _location(engine, monkeypatch) as (flags, made, label):
        assert workspace.run("apply", "--auto-approve", *flags).exit_code == 0
        _execute(engine, workspace.root, "DELETE FROM provisioner_meta WHERE \"key\" = 'schema_version'")
        listed = workspace.run("state", "list", *flags)
        assert listed.exit_code == 0 and "a\tid=" in listed.output, listed.all
        plan = workspace.run("plan", "--detailed-exitcode", *flags)
        assert plan.exit_code == 0 and "No changes." in plan.output and "no state store" not in plan.stderr, plan.all
        assert len(workspace.platform.assistants()) == 1


def test_a_new_projects_first_plan_makes_no_state_folder_and_says_nothing_of_it(workspace):
    workspace.add("a")
    plan = workspace.run("plan")
    assert plan.exit_code == 0 and "1 to add" in plan.output and plan.stderr == "", plan.all
    assert not (workspace.root / "state").exists()
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.state_file.exists()


# Run by a fresh interpreter, whose own memory is small (a child forked from the test's process starts at its size):
# `python -m provisioner ARGS` in a child, then its peak resident memory (KiB) on the first line, what it printed after.
_MEASURE = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-m", "provisioner", *sys.argv[1:]], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
output = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
sys.stdout.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}\\n" + output.decode())
"""


def _peak_kib(root, *args: str) -> tuple[int, str]:
    """The peak resident memory (KiB) of the real CLI running `args` in `root`, and what it printed."""
    import os
    import subprocess
    import sys

    measured = subprocess.run([sys.executable, "-c", _MEASURE, *args], cwd=root, capture_output=True, text=True,
                              env={**os.environ, "PROVISIONER_RATE_LIMIT": "off"}, check=True).stdout
    head, output = measured.split("\n", 1)
    code, peak = map(int, head.split())
    assert code == 0, output
    return peak, output


def test_state_show_reads_the_one_entry_it_prints_whatever_the_size_of_the_state(workspace):
    """It read every row into memory to print one: 233 MiB at 10,000 entries of 9 KB, against 41 MiB for the same
    command on a state of one entry. Its peak is now that of the one-entry state, at 3,000 entries."""
    import json

    prompt = "Be kind and precise. " * 400

    def push(count: int) -> None:
        resources = {f"a{i}": {"id": i + 1, "spec": {"assistant_name": f"A{i}", "system_prompt": prompt},
                               "remote": {"assistant_name": f"A{i}", "system_prompt": prompt}}
                     for i in range(count)}
        workspace.write("big.json", json.dumps({"version": 1, "lineage": "big", "serial": 1, "resources": resources}))
        pushed = workspace.run("state", "push", "--force", "big.json")
        assert pushed.exit_code == 0, pushed.all

    push(1)
    alone, _ = _peak_kib(workspace.root, "state", "show", "a0")
    push(3000)
    peak, shown = _peak_kib(workspace.root, "state", "show", "a1234")
    assert json.loads(shown)["last_applied_spec"] == {"assistant_name": "A1234", "system_prompt": prompt}
    assert peak < alone + 10 * 1024, (peak, alone)  # the 3,000 records are 50 MiB as Python objects
    missing = workspace.run("state", "show", "a12345")
    assert missing.exit_code == 1 and "'a12345' is not in state; did you mean 'a2345'" in missing.stderr, missing.all
