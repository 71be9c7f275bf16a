"""The PostgreSQL server the tests use: $PROVISIONER_TEST_PG_DSN (.ci/run starts a throwaway one and sets it).

Under CI=true a test that cannot reach it fails; elsewhere it is skipped with the reason."""
from __future__ import annotations

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


def unique_project(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
