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


def test_a_new_projects_first_plan_makes_no_state_folder_and_says_nothing_of_it(workspace):
    workspace.add("a")
    plan = workspace.run("plan")
    assert plan.exit_code == 0 and "1 to add" in plan.output and plan.stderr == "", plan.all
    assert not (workspace.root / "state").exists()
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.state_file.exists()
