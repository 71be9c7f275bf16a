"""The PostgreSQL server the tests use: $PROVISIONER_TEST_PG_DSN (.ci/run starts a throwaway one and sets it).

Under CI=true a test that cannot reach it fails; elsewhere it is skipped with the reason."""
from __future__ import annotations

import contextlib
import os
import uuid

import pytest

PG_ENV = "PROVISIONER_TEST_PG_DSN"
_checked: dict[str, str | None] = {}


def pg_dsn() -> str:
    dsn = os.environ.get(PG_ENV, "").strip()
    problem = None
    if not dsn:
        problem = f"no PostgreSQL for the tests: set {PG_ENV} (docs/state.md, 'Running the PostgreSQL tests', says how to start one)"
    else:
        if dsn not in _checked:
            try:
                import psycopg

                psycopg.connect(dsn, connect_timeout=5).close()
                _checked[dsn] = None
            except Exception as error:  # noqa: BLE001 - any failure to connect is the reason
                from provisioner.state.sql import scrub

                _checked[dsn] = f"cannot reach PostgreSQL at ${PG_ENV}: {scrub(str(error), dsn)}"
        problem = _checked[dsn]
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem + " (CI must run the PostgreSQL tests)")
        pytest.skip(problem)
    return dsn


_made: list[str] = []  # the projects of the running test (forget_projects clears their rows after it)


def unique_project(prefix: str = "test") -> str:
    project = f"{prefix}-{uuid.uuid4().hex[:12]}"
    _made.append(project)
    return project


def forget_projects() -> None:
    """Remove the state rows of the projects the test made: the store outlives the test, and another test's
    emulator may hand out the same platform ids, which would then look managed by a finished test's project."""
    dsn = os.environ.get(PG_ENV, "").strip()
    projects, _made[:] = list(_made), []
    if not dsn or not projects:
        return
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=5) as connection:
            connection.execute("DELETE FROM provisioner_resources WHERE project = ANY(%s)", (projects,))
    except Exception:  # noqa: BLE001 - no table yet, or no server: nothing to forget
        pass


@contextlib.contextmanager
def own_database():
    """A PostgreSQL database of the test's own (a migration changes tables every project shares): its DSN,
    dropped after the block."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dsn = pg_dsn()
    name = f"provisioner_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_conninfo(**{**conninfo_to_dict(dsn), "dbname": name})
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
