"""Property-based fuzzing of the two readers of untrusted files.

The manifest loader, given any bytes, YAML-ish text or structure, returns manifests or raises
ManifestError, within bounded time; what it returns can be sent as JSON. The saved-plan reader, given any
bytes or JSON value (or a valid plan with one part mutated), returns a Plan or raises ProvisionerError.
"""
from __future__ import annotations

import copy
import json
import tempfile
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.errors import ManifestError, ProvisionerError
from provisioner.manifest import load_manifests
from provisioner.plan import Plan
from provisioner.spec import DEFAULT_DIALECT, DIALECTS
from provisioner.workflow.plan_file import read_plan_file
from conftest import REQUIRED

SECONDS_PER_EXAMPLE = 5
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = [
    "apiVersion: provisioner/v1\n", "kind: Assistant\n", "metadata:\n", "  name: a\n", "  name: \"a\\n\"\n",
    "spec:\n", "  voice_id: 1\n", "  assistant_name: A\n", "  variables: ", "  labels: ", "  protect: ",
    "&a ", "&b ", "*a", "*b", "[", "]", "{", "}", ": ", ", ", "- ", "\n", "  ", "    ", "\t", "? ", "<<: ",
    "---\n", "...\n", "'", '"', "# c\n", "9" * 40, ".nan", "-.inf", "1e999", "0x1F", "0o17", "1_000",
    "190:20:30", "2001-12-14t21:59:43.10-05:00", "~", "null", "yes", "no", "\ufeff", "\x00", "\x1b", "\u2028",
    "|\n", ">-\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "!!binary ", "!!set ", "!!omap ", "!!python/name:os.system ",
    "!local ", "!!str ", "!!int ", "!!float ", "!!map ", "!!seq ", "é", "\U0001F600", "\\", "%", "@", "`",
]

yamlish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=80).map("".join)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25)

spec_fields = st.dictionaries(
    st.sampled_from(sorted(REQUIRED) + ["assistant_name", "speech_speed", "variables", "post_call_schema",
                                        "end_call_tool", "webhook_url", "is_webhook_active", "unknown_field"]),
    json_values, max_size=6)


def _manifest_structure(name, spec_overrides, extra_metadata):
    spec = {"assistant_name": "Fuzz", **REQUIRED, **spec_overrides}
    return {"apiVersion": "provisioner/v1", "kind": "Assistant", "metadata": {"name": name, **extra_metadata},
            "spec": spec}


structures = st.builds(_manifest_structure,
                       st.one_of(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,5}", fullmatch=True), json_values),
                       spec_fields,
                       st.dictionaries(st.sampled_from(["labels", "protect", "sensitive", "other"]), json_values,
                                       max_size=2))


class _Scratch:
    """One temporary file per test function, rewritten per example (hypothesis reuses the function)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="fuzz-"))
        self.path = self.dir / "m.yaml"


_scratch = _Scratch()


def _load(data: bytes, dialect: str = DEFAULT_DIALECT):
    _scratch.path.write_bytes(data)
    started = time.monotonic()
    try:
        manifests = load_manifests([_scratch.path], dialect=dialect)
    except ManifestError as error:
        assert error.problems and all(str(p) for p in error.problems)
        manifests = None
    assert time.monotonic() - started < SECONDS_PER_EXAMPLE
    if manifests is not None:
        for manifest in manifests:
            json.dumps(manifest.fields, allow_nan=False)  # what apply would send is valid JSON
    return manifests


@FUZZ
@given(st.binary(max_size=2000))
def test_the_loader_survives_any_bytes(data):
    _load(data)


@FUZZ
@given(yamlish)
def test_the_loader_survives_yamlish_text(text):
    _load(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(structures, st.sampled_from(["block", "flow", "json"]), st.sampled_from(DIALECTS))
def test_the_loader_survives_any_structure(document, style, dialect):
    if style == "json":
        text = json.dumps(document)
    else:
        text = yaml.safe_dump(document, default_flow_style=style == "flow", allow_unicode=True)
    _load(text.encode(), dialect)


VALID_PLAN = {
    "format": "provisioner-plan", "format_version": 1, "created_at": "2026-01-01T00:00:00+00:00",
    "lineage": "l-1", "serial": 3, "destroy": False, "targets": [], "manifest_paths": ["manifests"],
    "summary": {"import": 0, "add": 1, "change": 1, "destroy": 0, "forget": 0},
    "changes": [
        {"address": "a", "action": "create", "assistant_name": "A", "remote_id": None, "reason": None,
         "fields": [{"field": "voice_id", "before": None, "after": 1, "source": "platform", "before_known": True,
                     "reset": False, "drift": False, "sensitive": False, "details": []}],
         "body": {"voice_id": 1}, "record": {"spec": {"voice_id": 1}, "protect": False, "sensitive": [],
                                             "remote": {}},
         "remote_fingerprint": None, "location": "manifests/a.yaml:4", "sensitive": ["webhook_url"]},
        {"address": "b", "action": "update", "assistant_name": "B", "remote_id": 7, "reason": None, "fields": [],
         "body": {"language": "English"}, "record": {}, "remote_fingerprint": "sha256:" + "0" * 64,
         "location": None, "sensitive": []},
    ],
    "state_sync": [{"address": "c", "record": {"spec": None, "protect": True, "sensitive": [], "remote": {}}}],
    "notes": ["n"],
}


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


PLAN_PATHS = [p for p in _paths(VALID_PLAN) if p]


def _from_dict(data):
    try:
        plan = Plan.from_dict(data)
    except ProvisionerError as error:
        assert str(error)
        return None
    json.dumps(plan.to_dict())  # a plan that was accepted is whole
    return plan


def test_the_valid_plan_reads():
    assert _from_dict(copy.deepcopy(VALID_PLAN)) is not None


@FUZZ
@given(json_values)
def test_the_plan_reader_survives_any_json_value(value):
    _from_dict(value)


@FUZZ
@given(st.sampled_from(PLAN_PATHS), st.one_of(json_values, st.just(KeyError)))
def test_the_plan_reader_survives_one_mutated_part(path, replacement):
    plan = copy.deepcopy(VALID_PLAN)
    target = plan
    for key in path[:-1]:
        target = target[key]
    if replacement is KeyError:
        if isinstance(target, dict):
            del target[path[-1]]
        else:
            target.pop(path[-1])
    else:
        target[path[-1]] = replacement
    _from_dict(plan)


@FUZZ
@given(st.one_of(st.binary(max_size=1000),
                 st.builds(lambda v: json.dumps(v).encode(), json_values),
                 st.builds(lambda n, c: (json.dumps(VALID_PLAN)[:n]).encode() + c,
                           st.integers(0, 2000), st.binary(max_size=20))))
def test_the_plan_file_reader_survives_any_bytes(data):
    path = _scratch.dir / "fuzz.plan"
    path.write_bytes(data)
    try:
        read_plan_file(str(path))
    except ProvisionerError as error:
        assert str(error)
