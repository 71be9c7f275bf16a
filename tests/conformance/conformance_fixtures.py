"""The conformance suite's clients of the session's emulator (tests/conftest.py's `emulator`), one per tenant.

A module the tests import the fixtures from, not a conftest.py: tests/conftest.py is imported as `conftest`,
which a second conftest.py would shadow."""
import functools

import httpx
import pytest

from conformance_client import OTHER_TOKEN, TOKEN, PlatformClient, tls

# The emulator's own settings of the other kinds, as a fresh emulator has them (docs/emulator.md).
KIND_DEFAULTS = {"document_delay_ms": 300, "document_failure_rate": 0, "tool_limit": None, "campaign_limit": None,
                 "kinds": None, "methods": None}
NO_FAULTS = {"latency_ms": 0, "error_rate": 0, "rate_limit": "off", "commit_fail_rate": 0, "commit_429_rate": 0,
             "seed": None, **KIND_DEFAULTS}


@functools.cache
def _admin_client(root_url: str, token: str) -> httpx.Client:
    """One client of the /_emulator endpoints per emulator, for the session (building one costs more than a test
    of the kinds does)."""
    return httpx.Client(base_url=root_url, headers={"Authorization": f"Bearer {token}"}, timeout=30, verify=tls())


def _fresh(emulator) -> httpx.Client:
    """Empty the session's emulator and take its faults away, as tests/conftest.py's `platform` does; the admin
    client. (The fixtures below depend only on conftest's `emulator`, so that a test module imports just the
    ones it names.)"""
    admin = _admin_client(emulator.root_url, emulator.admin_token)
    admin.post("/_emulator/faults", json=NO_FAULTS).raise_for_status()
    admin.post("/_emulator/reset").raise_for_status()
    return admin


@pytest.fixture
def admin(emulator) -> httpx.Client:
    return _admin_client(emulator.root_url, emulator.admin_token)


@pytest.fixture
def fresh(emulator):
    _fresh(emulator)
    return emulator


@pytest.fixture
def api(emulator):
    _fresh(emulator)
    with PlatformClient(emulator.url, TOKEN) as client:
        yield client


@pytest.fixture
def other(emulator):
    _fresh(emulator)   # again when a test takes `api` too: harmless, nothing has run yet
    with PlatformClient(emulator.url, OTHER_TOKEN) as client:
        yield client


@pytest.fixture
def settings(emulator):
    """Change the emulator's settings for one test (through /_emulator/faults); they are put back after it."""
    admin = _admin_client(emulator.root_url, emulator.admin_token)

    def change(**values) -> None:
        admin.post("/_emulator/faults", json=values).raise_for_status()

    yield change
    change(**NO_FAULTS)


def answered(response, status: int, schema: dict) -> dict:
    """The answer's body, after checking its status and its JSON Schema (written from API.md)."""
    import jsonschema

    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    body = response.json()
    jsonschema.Draft202012Validator(schema).validate(body)
    return body
