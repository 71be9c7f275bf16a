"""The published JSON formats hold: real plans (made by the real CLI against the emulator) validate against
docs/plan.schema.json, the manifest schema is the models' own and agrees with the validator, and the
committed docs/manifest.schema.json and docs/manifests.md are exactly what the generator prints."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from provisioner.cli import cli
from provisioner.manifest import load_manifests
from provisioner.schema import VALIDATOR_RULES, field_rules
from provisioner.wire import WRITE_ONLY_FIELDS
from provisioner.spec import AssistantSpec, platform_default
from conftest import REQUIRED, manifest_text

ROOT = Path(__file__).resolve().parent.parent
PLAN_SCHEMA = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
MANIFEST_SCHEMA_FILE = ROOT / "docs" / "manifest.schema.json"
LONG_PROMPT = "You are a helpful assistant.\nAlways greet the caller.\nNever promise refunds.\n"


def closed(schema):
    """The schema with every described object closed: a key the producer emits but the schema does not
    document fails, so the published schema cannot fall behind the code."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(schema)
    return schema


def check_plan(document):
    Draft202012Validator.check_schema(PLAN_SCHEMA)
    errors = [e.message for e in Draft202012Validator(PLAN_SCHEMA).iter_errors(document)]
    assert not errors, errors
    undocumented = [f"{list(e.absolute_path)}: {e.message}"
                    for e in Draft202012Validator(closed(PLAN_SCHEMA)).iter_errors(document)]
    assert not undocumented, undocumented


@pytest.fixture
def busy_plan(workspace):
    """A plan with every kind of change: create, update (drift, write-only, sensitive, reset, nested),
    import, delete and forget; returns (workspace, plan document from --json, saved plan path)."""
    ws = workspace
    ws.add("changed", system_prompt=LONG_PROMPT, record_call=True, variables={"a": "1"},
           is_webhook_active=True, webhook_url="https://hooks.example/x?key=OLD-SECRET", use_min_interrupt_words=True)
    ws.add("removed")
    ws.add("vanished")
    assert ws.run("apply", "--auto-approve").exit_code == 0
    ids = {a["name"]: a["id"] for a in ws.platform.assistants()}
    ws.platform.put(ids["Changed"], max_call_duration=100)                      # drift on a readable field
    ws.platform.delete(ids["Vanished"])                                     # gone: forget once unmanaged
    ws.platform.create(assistant_name="Adopted", **REQUIRED)                # adopted by name
    ws.add("changed", system_prompt=LONG_PROMPT + "Be brief.\n", variables={"a": "2", "b": 3},
           is_webhook_active=True, webhook_url="https://hooks.example/x?key=NEW-SECRET", use_min_interrupt_words=False)
    ws.add("adopted", name="Adopted", llm_model="gpt-4o-mini")
    ws.add("brand-new")
    ws.remove("removed")
    ws.remove("vanished")
    result = ws.run("plan", "--json", "--out", "busy.plan")
    assert result.exit_code == 0, result.all
    return ws, json.loads(result.output), ws.root / "busy.plan"


def test_a_real_plan_with_every_kind_of_change_matches_the_published_schema(busy_plan):
    ws, document, saved = busy_plan
    actions = {c["address"]: c["action"] for c in document["changes"]}
    assert actions == {"adopted": "import", "brand-new": "create", "changed": "update", "removed": "delete",
                       "vanished": "forget"}
    fields = {f["field"]: f for c in document["changes"] if c["address"] == "changed" for f in c["fields"]}
    assert fields["max_call_duration"]["drift"] and fields["use_min_interrupt_words"]["source"] == "last-applied"
    assert fields["record_call"]["reset"] and fields["webhook_url"]["sensitive"]
    assert fields["variables"]["details"]
    assert "SECRET" not in json.dumps(document)
    check_plan(document)
    check_plan(json.loads(saved.read_text()))
    shown = ws.run("show", "--json", "busy.plan", api=False)
    assert shown.exit_code == 0 and json.loads(shown.output) == json.loads(saved.read_text())


def test_no_changes_and_destroy_plans_match_the_schema(workspace):
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    for args in (("plan", "--json"), ("plan", "--format", "json", "--destroy")):
        result = workspace.run(*args)
        assert result.exit_code == 0, result.all
        check_plan(json.loads(result.output))


def test_a_plan_changing_a_tools_headers_matches_the_schema(workspace):
    """A mapping of secrets is masked by key names on both sides: its `before` was a dict of "(sensitive)"
    values, which the schema's `masked` refuses."""
    workspace.dialect = "v2"
    tool = (ROOT / "manifests" / "tools.yaml").read_text()
    workspace.write("manifests/tools.yaml", tool)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/tools.yaml", tool.replace("X-Client: acme-support", "X-Client: acme-v2\n    X-Trace: trace"))
    result = workspace.run("plan", "--json", "--out", "tool.plan")
    assert result.exit_code == 0, result.all
    document = json.loads(result.output)
    [headers] = [f for c in document["changes"] for f in c["fields"] if f["field"] == "headers"]
    assert (headers["before"], headers["after"]) == ("(sensitive): X-Client",
                                                     "(sensitive): X-Client (changed), X-Trace (added)")
    check_plan(document)
    check_plan(json.loads((workspace.root / "tool.plan").read_text()))
    assert "acme" not in result.output


@pytest.mark.parametrize("breakage", ["unknown action", "missing summary", "bad source", "count", "version",
                                      "sensitive value shown"])
def test_the_plan_schema_catches_real_mistakes(breakage):
    from provisioner.plan import Action, Change, FieldChange, Plan

    plan = Plan([Change("a", Action.UPDATE, "A", remote_id=1, fields=[FieldChange("voice_id", 1, 2)])], "l", 1)
    document = plan.to_dict()
    check_plan(document)
    if breakage == "unknown action":
        document["changes"][0]["action"] = "replace"
    elif breakage == "missing summary":
        del document["summary"]
    elif breakage == "bad source":
        document["changes"][0]["fields"][0]["source"] = "manifest"
    elif breakage == "count":
        document["summary"]["add"] = -1
    elif breakage == "version":
        document["format_version"] = 3
    else:
        document["changes"][0]["fields"][0].update(sensitive=True, after="hunter2")
    assert list(Draft202012Validator(PLAN_SCHEMA).iter_errors(document))


def test_a_plan_naming_the_ids_of_a_reference_matches_the_schema():
    """A reference field's `names` (id -> address) is documented: the closed schema refuses a key it does not list."""
    from provisioner.plan import Action, Change, FieldChange, Plan

    change = Change("a", Action.UPDATE, "A", remote_id=1, fields=[
        FieldChange("tool_ids", [125], [115, 7], source="last-applied", details=[["0", 125, 115], ["1", None, 7]],
                    names={"115": "tool.calendar", "125": "tool.weather"})])
    document = Plan([change], "l", 1).to_dict()
    assert document["changes"][0]["fields"][0]["names"] == {"115": "tool.calendar", "125": "tool.weather"}
    check_plan(document)
    document["changes"][0]["fields"][0]["names"] = {"tool.calendar": 115}
    assert list(Draft202012Validator(PLAN_SCHEMA).iter_errors(document))


def test_readers_may_meet_added_keys():
    """The compatibility rule: additive keys keep the version, so the published schema accepts them."""
    from provisioner.plan import Plan

    document = Plan([], "l", 0).to_dict()
    document["new_top_level_key"] = {"anything": True}
    assert not list(Draft202012Validator(PLAN_SCHEMA).iter_errors(document))


# --- the manifest schema ---

def run_cli(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def manifest_schema():
    return json.loads(run_cli("schema"))


def test_the_committed_manifest_schema_and_reference_are_the_generators_output():
    assert MANIFEST_SCHEMA_FILE.read_text() == run_cli("schema"), \
        "docs/manifest.schema.json is stale: run `provisioner schema > docs/manifest.schema.json`"
    assert (ROOT / "docs" / "manifests.md").read_text() == run_cli("schema", "--format", "markdown"), \
        "docs/manifests.md is stale: run `provisioner schema --format markdown > docs/manifests.md`"


def _plain(value):
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def test_the_manifest_schema_carries_every_field_and_its_rules_from_the_models():
    schema = manifest_schema()
    Draft202012Validator.check_schema(schema)
    spec = schema["$defs"]["AssistantSpec"]
    model = AssistantSpec.model_json_schema()
    assert list(spec["properties"]) == list(AssistantSpec.model_fields)
    assert spec["required"] == model["required"]
    for name, field in AssistantSpec.model_fields.items():
        prop = field_rules(spec["properties"][name])
        for key, value in model["properties"][name].items():
            # Rules that live in validators may complete a field's description, type or items.
            if key == "default":  # the platform's default, which the model may leave to the platform
                assert prop[key] == _plain(platform_default(name)) or platform_default(name) is None, name
            elif name not in VALIDATOR_RULES or key not in ("description", "anyOf", "additionalProperties"):
                assert prop[key] == value, (name, key)
        if field.description:
            assert prop["description"] == field.description
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        for key, value in extra.items():  # e.g. {"x-dialect": "v2"}: carried through as is
            assert prop[key] == value, (name, key)
        assert isinstance(prop["x-readable"], bool)
    def rule(name, key):  # on the property, or on its non-null branch for an optional field
        prop = field_rules(spec["properties"][name])
        return next(b[key] for b in [prop] + prop.get("anyOf", []) if key in b)
    assert rule("speech_speed", "minimum") == 0.7 and rule("speech_speed", "maximum") == 1.2
    assert {"receive", "make"} <= set(rule("calls_direction", "enum"))


def test_markers_and_descriptions_added_to_the_model_reach_schema_and_reference(monkeypatch):
    """spec.py's fields gain descriptions and `x-dialect` markers: both views carry them generically."""
    from provisioner import schema as schema_module

    original = AssistantSpec.model_json_schema()

    name = sorted(f for f in WRITE_ONLY_FIELDS if f in original["properties"])[0]

    def patched(*args, **kwargs):
        data = copy.deepcopy(original)
        data["properties"][name]["description"] = "A made-up description."
        data["properties"][name]["x-dialect"] = "v9"
        return data
    monkeypatch.setattr(schema_module.AssistantSpec, "model_json_schema", patched)
    generated = schema_module.manifest_schema()
    prop = field_rules(generated["$defs"]["AssistantSpec"]["properties"][name])
    assert prop["description"] == "A made-up description." and prop["x-dialect"] == "v9"
    row = next(line for line in schema_module.reference_markdown(generated).splitlines()
               if line.startswith(f"| `{name}`"))
    assert "A made-up description." in row and 'x-dialect: "v9"' in row and "no (write-only)" in row


def documents_in(path: Path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def test_the_example_manifests_pass_the_schema_with_an_independent_validator():
    validator = Draft202012Validator(manifest_schema())
    files = sorted((ROOT / "manifests").glob("*.yaml")) + sorted((ROOT / "examples").glob("**/*.yaml"))
    files = [f for f in files if f.name != "provisioner.yaml" and not {"vars", "overlays", "policies"} & set(f.parts)]
    assert len(files) > 3
    for file in files:
        for document in documents_in(file):
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
            assert not errors, (file.name, errors)


BAD = {
    "unknown spec field": dict(spec={"voicee": 1}),
    "string for an integer": dict(spec={"voice_id": "1"}),
    "out of range": dict(spec={"speech_speed": 1.5}),
    "not in the enum": dict(spec={"calls_direction": "both"}),
    "empty string": dict(spec={"system_prompt": ""}),
    "missing required": dict(spec={"llm_model": None}),
    "webhook active without url": dict(spec={"is_webhook_active": True}),
    "webhook not a url": dict(spec={"webhook_url": "ftp://x"}),
    "post_call_schema name": dict(spec={"post_call_schema": [{"name": "a b", "type": "bool", "description": "d"}]}),
    "end_call_tool too long": dict(spec={"end_call_tool": {"description": "x" * 501}}),
    "variable of a list": dict(spec={"variables": {"a": [1]}}),
    "bad address": dict(metadata={"name": "Not_OK!"}),
    "unknown metadata key": dict(metadata={"name": "a", "owner": "me"}),
    "sensitive unknown field": dict(metadata={"name": "a", "sensitive": ["nope"]}),
    "wrong apiVersion": dict(apiVersion="provisioner/v0"),
    "wrong kind": dict(kind="Agent"),
}


def bad_document(case):
    document = yaml.safe_load(manifest_text("a"))
    change = BAD[case]
    for key, value in change.items():
        if isinstance(value, dict) and key == "spec":
            for name, v in value.items():
                if v is None:
                    document["spec"].pop(name)
                else:
                    document["spec"][name] = v
        else:
            document[key] = value
    return document


@pytest.mark.parametrize("case", sorted(BAD))
def test_known_bad_manifests_fail_the_schema_and_the_validator_alike(case, tmp_path):
    document = bad_document(case)
    assert list(Draft202012Validator(manifest_schema()).iter_errors(document)), case
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(Exception):
        load_manifests([path])


def test_a_good_manifest_passes_both():
    document = yaml.safe_load(manifest_text("a", is_webhook_active=True, webhook_url="https://h.example/x",
                                            variables={"a": 1, "b": "x", "c": True}))
    assert not list(Draft202012Validator(manifest_schema()).iter_errors(document))


def test_a_whole_variable_or_environment_reference_passes_anywhere_and_other_text_still_fails():
    validator = Draft202012Validator(manifest_schema())
    document = yaml.safe_load(manifest_text("a"))
    document["spec"].update(speech_speed="${ var.speed }", record_call="${var.record}", calls_direction="${var.way}",
                            webhook_url="${env.HOOK_URL}", voice_id="${var.voice-id}")
    assert not list(validator.iter_errors(document))
    for name, value in (("speech_speed", "fast"), ("speech_speed", "${var.speed} "), ("record_call", "${env.}"),
                        ("calls_direction", "$${var.way}"), ("voice_id", "${secret.x}")):
        bad = copy.deepcopy(document)
        bad["spec"][name] = value
        assert list(validator.iter_errors(bad)), (name, value)


def test_the_wait_field_is_documented_for_an_update_or_import_too():
    """A plan waits again for a document the platform is still processing (an update or import with `wait`): the
    schema and plan-format.md said `wait` was a wait after a create only."""
    described = PLAN_SCHEMA["$defs"]["change"]["properties"]["wait"]["description"]
    row = next(line for line in (ROOT / "docs" / "plan-format.md").read_text().splitlines()
               if line.startswith("| `wait` |"))
    for text in (described, row):
        assert "update" in text and "import" in text and "still processing" in text, text


def test_a_plan_deleting_what_a_stopped_replacement_left_matches_the_schema(workspace):
    """An apply stopped between a replacement's two halves leaves the old object at `<address>~deposed`, and the
    next plan deletes it: the published address pattern refused `~deposed`, so that plan failed the schema."""
    workspace.add("a")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.depose("a")
    result = workspace.run("plan", "--json")
    assert result.exit_code == 0, result.all
    document = json.loads(result.output)
    assert {(c["address"], c["action"]) for c in document["changes"]} >= {("a~deposed", "delete")}
    check_plan(document)
