"""What the tests of the kind modules (tests/test_kind_*.py) share: a real client on the emulator, the spec's
problems as the manifest loader words them, and the no-false-drift check."""
from __future__ import annotations

import copy

import pytest
from pydantic import BaseModel, ValidationError

from conftest import TOKEN
from provisioner.client import PlatformClient
from provisioner.kinds.base import NO_DEFAULT, Kind, matches
from provisioner.spec import _problem_from_pydantic


@pytest.fixture
def client(platform):
    """A real PlatformClient on the emulator over HTTP; `client.notices` holds its retry notices."""
    notices: list[str] = []
    with PlatformClient(platform.url, TOKEN, notify=notices.append) as client:
        client.notices = notices
        yield client


def errors_of(model: type[BaseModel], raw: dict) -> dict[tuple, str]:
    """{field path: message} of a spec, worded as the manifest loader words them."""
    try:
        model.model_validate(raw)
    except ValidationError as error:
        return {tuple(e["loc"]): _problem_from_pydantic(e).message for e in error.errors(include_url=False)}
    return {}


def assert_no_drift(kind: Kind, fields: dict, item: dict) -> None:
    """The platform's item reads back as the manifest's fields: every shown field the manifest sets, or whose
    documented default it means, agrees; nothing is a read problem."""
    values, problems = kind.read(item)
    assert problems == []
    for facts in kind.fields:
        if facts.shown and (fields.get(facts.name) is not None or facts.default is not NO_DEFAULT):
            assert matches(fields[facts.name], values[facts.name]), facts.name
        if not facts.shown:
            assert facts.name not in values


def assert_read_problem(kind: Kind, item: dict, field: str, value) -> None:
    """An answer whose `field` holds `value` is a read problem naming that field, and nothing is read for it."""
    values, problems = kind.read({**item, field: value})
    assert [p.field for p in problems] == [field] and field not in values


def changed(base: dict, **changes) -> dict:
    """A copy of a raw spec with `changes` made; None leaves a field out (as does None in `base`)."""
    raw = {key: copy.deepcopy(value) for key, value in base.items() if value is not None}
    raw.update({key: value for key, value in changes.items() if value is not None})
    return {key: value for key, value in raw.items() if changes.get(key, 0) is not None}
