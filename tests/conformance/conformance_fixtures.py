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
