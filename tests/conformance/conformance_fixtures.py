"""The conformance suite's clients of the session's emulator (tests/conftest.py's `platform`), one per tenant.

A module the tests import the fixtures from, not a conftest.py: tests/conftest.py is imported as `conftest`,
which a second conftest.py would shadow."""
import pytest

from conformance_client import OTHER_TOKEN, TOKEN, PlatformClient


@pytest.fixture
def api(platform):
    with PlatformClient(platform.url, TOKEN) as client:
        yield client


@pytest.fixture
def other(platform):
    with PlatformClient(platform.url, OTHER_TOKEN) as client:
        yield client


# The emulator's own settings of the other kinds, as a fresh emulator has them (docs/emulator.md).
KIND_DEFAULTS = {"document_delay_ms": 300, "document_failure_rate": 0, "tool_limit": None, "campaign_limit": None,
                 "kinds": None}


@pytest.fixture
def settings(platform):
    """Change the emulator's settings for one test (through /_emulator/faults); they are put back after it."""
    yield platform.faults
    platform.faults(**KIND_DEFAULTS)


def answered(response, status: int, schema: dict) -> dict:
    """The answer's body, after checking its status and its JSON Schema (written from API.md)."""
    import jsonschema

    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    body = response.json()
    jsonschema.Draft202012Validator(schema).validate(body)
    return body
