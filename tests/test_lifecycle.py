"""The full lifecycle through the CLI: update, reset, destroy, protect, drift, adoption, import, export,
refresh, saved plans, targeting and state repairs."""
import json

import pytest
import yaml

from provisioner.planner import same
from provisioner.spec import fields_of, has_default, platform_default
from provisioner.wire import READABLE_FIELDS
from conftest import read_back as create_fields_from_read
from conftest import REQUIRED

FIRST = dict(
    phone_number_id=45, endpoint_type="vad", endpoint_sensitivity=1.5, interrupt_sensitivity=2,
    ambient_sound_volume=0.2, post_call_evaluation=True, send_webhook_only_on_completed=True,
    include_recording_in_webhook=False, is_webhook_active=True, webhook_url="https://hooks.example/a?key=K1",
    use_min_interrupt_words=True, min_interrupt_words=3, variables={"a": "1"},
    post_call_schema=[{"name": "x", "type": "string", "description": "d"}], end_call_tool={"description": "bye"},
    llm_temperature=0.3, voice_stability=0.4, voice_similarity=0.6, speech_speed=0.9, allow_interruptions=False,
    filler_audios=True, re_engagement_interval=20, max_call_duration=300, max_silence_duration=10,
    end_call_on_voicemail=True, noise_cancellation=True, record_call=True, who_speaks_first="Customer",
)
SECOND = dict(
    assistant_name="Renamed", voice_id=2, language="Spanish", llm_model="gpt-4o-mini", calls_direction="receive",
    engine_type="pipeline", timezone="Europe/Madrid", initial_message="Hola", system_prompt="Nuevo",
    phone_number_id=47, endpoint_type="ai", endpoint_sensitivity=4, interrupt_sensitivity=0.5,
    ambient_sound_volume=0.9, post_call_evaluation=False, send_webhook_only_on_completed=False,
    include_recording_in_webhook=True, is_webhook_active=True, webhook_url="https://hooks.example/b?key=K2",
    use_min_interrupt_words=False, min_interrupt_words=7, variables={"a": "2", "b": 3},
    post_call_schema=[{"name": "x", "type": "number", "description": "d2"}], end_call_tool={"description": "ciao"},
    llm_temperature=0.9, voice_stability=0.8, voice_similarity=0.2, speech_speed=1.15, allow_interruptions=True,
    filler_audios=False, re_engagement_interval=500, max_call_duration=1100, max_silence_duration=100,
    end_call_on_voicemail=False, noise_cancellation=False, record_call=False, who_speaks_first="AI assistant",
)


def platform_fields(workspace, name):
    [item] = workspace.platform.by_name(name)
    return item["id"], create_fields_from_read(item)


def assert_platform_matches(workspace, name, spec):
    _, fields = platform_fields(workspace, name)
    for field in READABLE_FIELDS & set(fields_of("v1")):
        if field not in spec and not has_default(field):
            continue  # not managed: the platform keeps whatever it has
        expected = spec.get(field, platform_default(field))
        expected = expected.model_dump() if hasattr(expected, "model_dump") else expected
        assert same(fields[field], expected), (field, fields[field], expected)


def apply_ok(workspace, *args):
    result = workspace.run("apply", "--auto-approve", *args)
    assert result.exit_code == 0, result.all
    return result


def no_changes(workspace):
    result = workspace.run("plan", "--detailed-exitcode")
    assert result.exit_code == 0 and "No changes." in result.output, result.all


def test_every_field_updates_in_place_with_only_the_changed_fields_sent(workspace):
    workspace.add("a", name="Original", **FIRST)
    apply_ok(workspace)
    assistant_id, _ = platform_fields(workspace, "Original")
    no_changes(workspace)
    writes_before = len(workspace.platform.writes())

    workspace.add("a", **SECOND)
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "# a will be updated in-place" in plan.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.output
    assert '~ voice_id                       = 1 -> 2' in plan.output
    assert '"make" -> "receive"' in plan.output
    assert "# write-only" in plan.output and "K2" not in plan.output and "(sensitive)" in plan.output

    apply_ok(workspace)
    [put] = workspace.platform.writes()[writes_before:]
    assert put["method"] == "PUT"
    assert put["path"] == f"/user/assistant/{assistant_id}"
    changed = {k for k in SECOND if not same(FIRST.get(k, {**REQUIRED, "assistant_name": "Original"}.get(k)),
                                             SECOND[k])}
    assert set(put["body"]) == changed
    assert all(same(put["body"][k], SECOND[k]) for k in changed)
    assert_platform_matches(workspace, "Renamed", SECOND)
    state = workspace.state()["resources"]["a"]
    assert state["spec"]["llm_model"] == "gpt-4o-mini" and state["spec"]["speech_speed"] == 1.15
    no_changes(workspace)

    # Changing one field sends one field.
    workspace.add("a", **{**SECOND, "system_prompt": "Only this"})
    apply_ok(workspace)
    assert workspace.platform.writes()[-1]["body"] == {"system_prompt": "Only this"}


def test_a_removed_field_goes_back_to_the_platform_default_without_flapping(workspace):
    workspace.add("a", record_call=True, max_call_duration=300, speech_speed=1.1, variables={"k": "v"},
                  end_call_tool={"description": "bye"})
    apply_ok(workspace)
    workspace.add("a")
    plan = workspace.run("plan")
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.output
    assert "record_call" in plan.output and "back to the platform's default" in plan.output
    assert "speech_speed" in plan.output
    apply_ok(workspace)
    body = workspace.platform.writes()[-1]["body"]
    # Settings with a documented default go back to it; those without one are no longer managed, and say so.
    assert body == {"record_call": False, "max_call_duration": 600, "speech_speed": 1.0}
    assert "spec.variables is no longer set" in plan.output and "spec.end_call_tool is no longer set" in plan.output
    assert_platform_matches(workspace, "A", {**REQUIRED, "assistant_name": "A"})
    no_changes(workspace)


def test_omitted_fields_keep_the_platforms_documented_defaults(workspace):
    workspace.add("a")
    apply_ok(workspace)
    [post] = [w for w in workspace.platform.writes() if w["method"] == "POST"]
    assert set(post["body"]) == {"assistant_name", *REQUIRED}  # only what the manifest sets
    [item] = workspace.platform.by_name("A")
    assert item["post_call_evaluation"] in (True, 1) and item["llm_temperature"] in ("0.10", "0.1")
    assert item["max_silence_duration"] == 40 and item["end_call_on_voicemail"] in (True, 1)
    no_changes(workspace)
    # A setting given at its documented value is still sent, on create and when it changes back.
    workspace.add("b", post_call_evaluation=True, llm_temperature=0.1)
    apply_ok(workspace)
    assert workspace.platform.writes()[-1]["body"]["post_call_evaluation"] is True
    no_changes(workspace)


def test_a_change_of_engine_sends_every_managed_setting(workspace):
    workspace.add("a", speech_speed=1.1)
    apply_ok(workspace)
    workspace.add("a", engine_type="multimodal", voice_id=11, llm_model="gpt-4o-realtime", speech_speed=1.1)
    apply_ok(workspace)
    body = workspace.platform.writes()[-1]["body"]
    assert body["engine_type"] == "multimodal" and body["llm_model"] == "gpt-4o-realtime"
    assert body["speech_speed"] == 1.1 and body["post_call_evaluation"] is True
    no_changes(workspace)


def test_every_readable_setting_changed_on_the_platform_is_drift_and_is_repaired(workspace):
    workspace.add("a", **FIRST)
    apply_ok(workspace)
    assistant_id, _ = platform_fields(workspace, "A")
    # The dashboard, in the read shape's own names and value types.
    workspace.platform.put(assistant_id, llm_temperature=0.95, speech_speed=0.8, noise_cancellation=False,
                           re_engagement_interval=99, voice_stability=0.1, filler_audios=False, record_call=False,
                           who_speaks_first="AI assistant", end_call_on_voicemail=False, llm_model="claude-sonnet-4",
                           language="French", max_silence_duration=99, endpoint_sensitivity=4.5)
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.all
    for field in ("llm_temperature", "speech_speed", "noise_cancellation", "re_engagement_interval",
                  "voice_stability", "filler_audios", "record_call", "who_speaks_first", "end_call_on_voicemail",
                  "llm_model", "language", "max_silence_duration", "endpoint_sensitivity"):
        assert f"~ {field}" in plan.output, (field, plan.output)
    assert plan.output.count("changed on the platform outside the provisioner") == 13
    apply_ok(workspace)
    assert_platform_matches(workspace, "A", {**REQUIRED, "assistant_name": "A", **FIRST})
    no_changes(workspace)


def test_a_removed_manifest_is_destroyed_and_leaves_state(workspace):
    workspace.add("a")
    workspace.add("b")
    apply_ok(workspace)
    workspace.remove("b")
    plan = workspace.run("plan")
    assert "# b will be destroyed" in plan.output and "Plan: 0 to add, 0 to change, 1 to destroy." in plan.output
    apply_ok(workspace)
    assert [a["name"] for a in workspace.platform.assistants()] == ["A"]
    assert set(workspace.state()["resources"]) == {"a"}
    no_changes(workspace)


def test_destroy_command_removes_everything_managed_only(workspace):
    workspace.platform.create(assistant_name="Unmanaged", **REQUIRED)
    workspace.add("a")
    workspace.add("b")
    apply_ok(workspace)
    assert workspace.run("destroy", input="no\n").exit_code == 1
    assert len(workspace.platform.assistants()) == 3
    result = workspace.run("destroy", input="yes\n")
    assert result.exit_code == 0, result.all
    assert "Plan: 0 to add, 0 to change, 2 to destroy." in result.output
    assert "Destroy complete! Resources: 2 destroyed." in result.output
    assert [a["name"] for a in workspace.platform.assistants()] == ["Unmanaged"]
    assert workspace.state()["resources"] == {}


def test_destroy_decides_from_the_list_alone_without_the_catalogue(workspace):
    workspace.add("a")
    workspace.add("b")
    apply_ok(workspace)
    before = workspace.platform.stats()["requests"]
    result = workspace.run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.all
    after = workspace.platform.stats()["requests"]
    made = {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route, 0)}
    # The ids and names are what a destroy decides from: no language, model or voice is read to convert fields.
    assert made == {"GET /user/assistants/get": 1, "DELETE /user/assistant/{id}": 2}, made
    assert workspace.platform.assistants() == []


def test_protected_assistants_cannot_be_destroyed_even_after_the_manifest_is_gone(workspace):
    workspace.add("keep", metadata_extra="protect: true")
    apply_ok(workspace)
    for args in (("destroy", "--auto-approve"),):
        result = workspace.run(*args)
        assert result.exit_code == 1 and "'keep'" in result.stderr and "protected" in result.stderr
    workspace.remove("keep")
    for args in (("plan", "--allow-empty"), ("apply", "--auto-approve", "--allow-empty"), ("destroy", "--auto-approve")):
        result = workspace.run(*args)
        assert result.exit_code == 1, (args, result.all)
        assert "assistant 'keep'" in result.stderr and "protected" in result.stderr
    assert len(workspace.platform.assistants()) == 1
    # Lifting the protection takes an apply with protect: false first.
    workspace.add("keep", metadata_extra="protect: false")
    apply_ok(workspace)
    workspace.remove("keep")
    apply_ok(workspace, "--allow-empty")
    assert workspace.platform.assistants() == []


def test_protection_set_without_other_changes_is_remembered(workspace):
    workspace.add("keep")
    apply_ok(workspace)
    workspace.add("keep", metadata_extra="protect: true")
    apply_ok(workspace)
    assert workspace.state()["resources"]["keep"]["protect"] is True
    workspace.remove("keep")
    assert workspace.run("plan", "--allow-empty").exit_code == 1


def test_drift_on_the_platform_is_shown_and_corrected(workspace):
    workspace.add("a", system_prompt="From git", record_call=True)
    apply_ok(workspace)
    assistant_id, _ = platform_fields(workspace, "A")
    workspace.platform.put(assistant_id, system_prompt="Edited in the dashboard", record_call=False)
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert '"Edited in the dashboard" -> "From git"' in plan.output
    assert "changed on the platform outside the provisioner" in plan.output
    apply_ok(workspace)
    _, fields = platform_fields(workspace, "A")
    assert fields["system_prompt"] == "From git" and fields["record_call"] is True
    no_changes(workspace)


def test_an_assistant_deleted_outside_is_recreated(workspace):
    workspace.add("a")
    apply_ok(workspace)
    assistant_id, _ = platform_fields(workspace, "A")
    workspace.platform.delete(assistant_id)
    plan = workspace.run("plan")
    assert "# a will be created" in plan.output and "gone from the platform" in plan.output
    apply_ok(workspace)
    [item] = workspace.platform.assistants()
    assert item["id"] != assistant_id
    no_changes(workspace)


def test_lost_state_recovers_by_adoption_without_duplicates(workspace):
    for name in ("a", "b", "c"):
        workspace.add(name, use_min_interrupt_words=True, speech_speed=1.1)
    apply_ok(workspace)
    ids = sorted(a["id"] for a in workspace.platform.assistants())
    workspace.lose_state()
    plan = workspace.run("plan")
    assert plan.output.count("will be imported") == 3 and "to add" in plan.output
    assert "Plan: 3 to import, 0 to add, 3 to change, 0 to destroy." in plan.output
    assert "(unknown)" in plan.output  # write-only fields can't be known for an adopted assistant
    apply_ok(workspace)
    assert sorted(a["id"] for a in workspace.platform.assistants()) == ids
    no_changes(workspace)


def test_several_namesakes_are_an_error_until_one_is_imported(workspace):
    first = workspace.platform.create(assistant_name="Twin", **REQUIRED)
    second = workspace.platform.create(assistant_name="Twin", **REQUIRED)
    workspace.add("twin", name="Twin")
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 1
    assert f"ids {first['id']}, {second['id']}" in result.stderr and "provisioner import twin ID" in result.stderr
    assert len(workspace.platform.assistants()) == 2

    imported = workspace.run("import", "twin", str(second["id"]))
    assert imported.exit_code == 0, imported.all
    assert workspace.state()["resources"]["twin"]["id"] == second["id"]
    apply_ok(workspace)
    assert len(workspace.platform.assistants()) == 2
    no_changes(workspace)


def test_import_refuses_what_it_cannot_do(workspace):
    created = workspace.platform.create(assistant_name="X", **REQUIRED)
    workspace.add("x", name="X")
    assert "no manifest" in workspace.run("import", "nope", str(created["id"])).stderr
    assert "no assistant with id 999" in workspace.run("import", "x", "999").stderr
    assert workspace.run("import", "x", str(created["id"])).exit_code == 0
    assert "already in state" in workspace.run("import", "x", str(created["id"])).stderr


def test_export_writes_manifests_for_unmanaged_assistants_that_then_adopt(workspace):
    workspace.add("managed")
    apply_ok(workspace)
    workspace.platform.create(**{**REQUIRED, "assistant_name": "Legacy Bot", "record_call": True,
                                 "variables": {"x": "y"}, "llm_model": "gpt-4o-mini"})
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 0, result.all
    [path] = (workspace.root / "exported").glob("*.yaml")
    text = path.read_text()
    assert "Write-only" in text and "tool_ids" in text
    document = yaml.safe_load(text)
    assert document["metadata"]["name"] == "legacy-bot"
    assert document["spec"]["assistant_name"] == "Legacy Bot" and document["spec"]["record_call"] is True
    assert document["spec"]["llm_model"] == "gpt-4o-mini"  # read back by id, named from the models catalogue
    assert "post_call_evaluation" not in document["spec"]  # at its documented default
    # It adopts the assistant instead of creating one, and nothing differs.
    (workspace.root / "manifests" / path.name).write_text(text)
    plan = workspace.run("plan")
    assert "# legacy-bot will be imported" in plan.output and "1 to import, 0 to add, 0 to change" in plan.output
    apply_ok(workspace)
    assert len(workspace.platform.assistants()) == 2
    no_changes(workspace)
    assert workspace.run("export", "--out", "exported2").output.strip().endswith("Exported 0 assistant(s).")


def test_export_never_writes_a_secret_and_says_what_to_set(workspace, monkeypatch):
    secret = "https://hooks.example/in?key=EXPORT-SECRET-42"
    workspace.platform.create(**{**REQUIRED, "assistant_name": "Hooked", "webhook_url": secret})
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 0, result.all
    [path] = (workspace.root / "exported").glob("*.yaml")
    text = path.read_text()
    assert "EXPORT-SECRET-42" not in text and "EXPORT-SECRET-42" not in result.all
    assert yaml.safe_load(text)["spec"]["webhook_url"] == "${env.HOOKED_WEBHOOK_URL}"
    assert "set HOOKED_WEBHOOK_URL in the environment" in result.output
    assert "Fill in" not in result.output  # nothing to fill in: the platform showed every required setting
    # With the variable set, the manifest adopts the assistant and finds nothing to change.
    monkeypatch.setenv("HOOKED_WEBHOOK_URL", secret)
    (workspace.root / "manifests").mkdir(exist_ok=True)
    (workspace.root / "manifests" / path.name).write_text(text)
    apply_ok(workspace)
    no_changes(workspace)


def test_refresh_updates_state_only(workspace):
    workspace.add("a")
    workspace.add("b")
    apply_ok(workspace)
    a_id, _ = platform_fields(workspace, "A")
    b_id, _ = platform_fields(workspace, "B")
    workspace.platform.put(a_id, system_prompt="Changed there")
    workspace.platform.delete(b_id)
    writes_before = len(workspace.platform.writes())
    result = workspace.run("refresh")
    assert result.exit_code == 0, result.all
    assert "b: id" in result.output and "removed from state" in result.output
    assert "a: refreshed from the platform" in result.output and "changed there: system_prompt)" in result.output
    assert len(workspace.platform.writes()) == writes_before
    state = workspace.state()["resources"]
    assert set(state) == {"a"} and state["a"]["remote"]["system_prompt"] == "Changed there"


def test_saved_plan_applies_exactly_and_refuses_when_stale(workspace):
    workspace.add("a", is_webhook_active=True, webhook_url="https://hooks.example/x?key=TOPSECRET")
    saved = workspace.run("plan", "--out", "a.plan")
    assert saved.exit_code == 0 and "provisioner apply a.plan" in saved.output
    plan_text = (workspace.root / "a.plan").read_text()
    assert "TOPSECRET" not in plan_text
    # Another manifest added after planning is not part of the saved plan.
    workspace.add("b")
    result = workspace.run("apply", "a.plan")
    assert result.exit_code == 0, result.all
    [item] = workspace.platform.assistants()
    assert item["name"] == "A" and item["webhook_url"] == "https://hooks.example/x?key=TOPSECRET"
    # The same plan again: state moved on since, so it is stale.
    again = workspace.run("apply", "a.plan")
    assert again.exit_code == 1 and "make a new plan" in again.stderr

    workspace.remove("b")
    workspace.add("a", is_webhook_active=True, webhook_url="https://hooks.example/x?key=TOPSECRET",
                  system_prompt="v2")
    assert workspace.run("plan", "--out", "b.plan").exit_code == 0
    workspace.platform.put(item["id"], initial_message="changed meanwhile")
    refused = workspace.run("apply", "b.plan")
    assert refused.exit_code == 1 and "changed on the platform since the plan" in refused.stderr
    assert workspace.platform.assistants()[0]["system_prompt"] == "Be helpful."


def test_target_limits_plan_and_apply(workspace):
    workspace.add("a")
    workspace.add("b")
    plan = workspace.run("plan", "--target", "a")
    assert "# a will be created" in plan.output and "# b" not in plan.output
    apply_ok(workspace, "--target", "b")
    assert [x["name"] for x in workspace.platform.assistants()] == ["B"]
    assert "names no manifest" in workspace.run("plan", "--target", "zzz").stderr


def test_state_commands(workspace):
    workspace.add("a")
    workspace.add("b")
    apply_ok(workspace)
    listed = workspace.run("state", "list")
    assert listed.exit_code == 0 and "a\tid=" in listed.output and "b\tid=" in listed.output
    shown = json.loads(workspace.run("state", "show", "a").output)
    assert shown["address"] == "a" and shown["last_applied_spec"]["assistant_name"] == "A"

    before = workspace.state()
    assert workspace.run("state", "mv", "a", "renamed").exit_code == 0
    after = workspace.state()
    assert set(after["resources"]) == {"renamed", "b"} and after["serial"] == before["serial"] + 1
    assert after["resources"]["renamed"] == before["resources"]["a"]
    # The history says what happened, for audit.
    moved = [(h["operation"], h["address"], h["action"]) for h in after["history"] if h["serial"] == after["serial"]]
    assert sorted(moved) == [("state mv", "a", "remove"), ("state mv", "renamed", "add")]
    workspace.run("state", "mv", "renamed", "a")

    assert workspace.run("state", "rm", "b").exit_code == 0
    assert set(workspace.state()["resources"]) == {"a"}
    assert len(workspace.platform.assistants()) == 2
    # The forgotten assistant is adopted again, not duplicated.
    plan = workspace.run("plan")
    assert "# b will be imported" in plan.output
    assert workspace.run("state", "rm", "zzz").exit_code == 1
    assert workspace.run("state", "mv", "a", "Bad Name").exit_code == 1


def test_export_in_the_v2_dialect_writes_manifests_that_read_back_as_the_platform_holds_them(workspace, monkeypatch):
    """v2 has defaults of its own (it crashed on them); a calendar tool's key is a secret; a `${` in a prompt is
    text, not a variable: the manifest written validates and adopts with nothing to change."""
    workspace.dialect = "v2"
    key = "cal_live_EXPORT-DO-NOT-LEAK"
    created = workspace.platform.create(**{**REQUIRED, "assistant_name": "Booker",
                                           "system_prompt": "Say the price as ${price}."})
    answer = workspace.platform.admin.patch(f"/_emulator/objects/assistants/{created['id']}", json={"tools": [
        {"type": "calendar_integration", "calcom_api_key": key, "calcom_event_slug": "demo"}]})
    assert answer.status_code == 200, answer.text
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 0, result.all
    [path] = (workspace.root / "exported").glob("*.yaml")
    text = path.read_text()
    assert key not in text and key not in result.all
    assert "set BOOKER_TOOLS_0_CALCOM_API_KEY in the environment" in result.output
    assert yaml.safe_load(text)["spec"]["system_prompt"] == "Say the price as $${price}."
    monkeypatch.setenv("BOOKER_TOOLS_0_CALCOM_API_KEY", key)
    (workspace.root / "manifests").mkdir(exist_ok=True)
    (workspace.root / "manifests" / path.name).write_text(text)
    plan = workspace.run("plan")
    assert plan.exit_code == 0 and "1 to import, 0 to add, 0 to change" in plan.output, plan.all
    assert key not in plan.all


def test_export_refuses_two_unmanaged_assistants_of_one_name_and_writes_nothing(workspace):
    """Their manifests could not both validate, and adoption by name could not tell them apart."""
    for _ in range(2):
        workspace.platform.create(**{**REQUIRED, "assistant_name": "Twin"})
    workspace.platform.create(**{**REQUIRED, "assistant_name": "Single"})
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 1 and "2 assistants named 'Twin'" in result.stderr, result.all
    assert not (workspace.root / "exported").exists() or not list((workspace.root / "exported").iterdir())


def test_a_saved_plan_of_an_update_applies_on_the_embedded_local_platform(workspace):
    """--local listens on a new port every run: its answers (an inbound assistant's inbound_webhook_url) name one root
    whatever the port, or every saved plan with an update was refused as stale by the next run."""
    workspace.add("a", calls_direction="receive")
    assert workspace.run("apply", "--local", "--auto-approve", api=False).exit_code == 0
    workspace.add("a", calls_direction="receive", system_prompt="Be brief.")
    assert workspace.run("plan", "--local", "--out", "p.plan", api=False).exit_code == 0
    applied = workspace.run("apply", "--local", "p.plan", api=False)
    assert applied.exit_code == 0 and "0 added, 1 changed" in applied.output, applied.all


def test_export_writes_a_text_holding_a_next_line_character_as_the_platform_holds_it(workspace):
    """U+0085 (NEL, what a Windows-1252 `…` becomes read as Latin-1) is a line break to YAML 1.1: PyYAML's dumper
    wrote it as it is inside quotes, and the exported manifest read back with a space there, so the first plan
    changed the platform's prompt."""
    prompt = "Be brief\x85and kind."
    workspace.platform.create(**{**REQUIRED, "assistant_name": "Nel Bot", "system_prompt": prompt})
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 0, result.all
    [path] = (workspace.root / "exported").glob("*.yaml")
    (workspace.root / "manifests" / path.name).write_text(path.read_text())
    plan = workspace.run("plan")
    assert plan.exit_code == 0 and "1 to import, 0 to add, 0 to change" in plan.output, plan.all


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_export_writes_a_unicode_line_separator_escaped_so_that_the_manifest_can_be_pulled_into(separator):
    """PyYAML's dumper wrote U+2028 (U+2029) as it is inside single quotes, as a line break followed by the next
    line's indentation: PyYAML read it back, but a YAML 1.2 reader (ruamel.yaml) reads those spaces as text, and
    pull's editor refuses a file holding one, so no dashboard edit could ever be pulled into the exported file."""
    from provisioner.workflow.export_kinds import dump
    from provisioner.yaml_splice import edit, load_all

    text = dump({"spec": {"name": "Bot", "description": f"one{separator}two", "tags": [f"a{separator}b"]}})
    assert separator not in text
    assert load_all(text) == [{"spec": {"name": "Bot", "description": f"one{separator}two",
                                        "tags": [f"a{separator}b"]}}]
    assert load_all(edit(text, 0, [(("spec", "name"), "Bot 2")]))[0]["spec"]["name"] == "Bot 2"


def test_export_writes_an_assistant_text_holding_a_credential_as_a_variable(workspace, monkeypatch):
    """A text that is no secret field but holds a credential (a URL's user:password@ in a prompt, a key in the
    query of a post-call field's description): plan masks it and pull never writes it, and export wrote it in
    clear into a file meant for git (as it already did not for the other kinds' texts)."""
    prompt = "Look orders up at https://bot:EXPORT-PW-77@crm.example.com/orders first."
    schema = [{"name": "order", "type": "string",
               "description": "See https://docs.example.com/fields?api_key=EXPORT-KEY-78"}]
    workspace.platform.create(**{**REQUIRED, "assistant_name": "Crm Bot", "system_prompt": prompt,
                                 "post_call_schema": schema})
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 0, result.all
    [path] = (workspace.root / "exported").glob("*.yaml")
    text = path.read_text()
    assert "EXPORT-PW-77" not in text + result.all and "EXPORT-KEY-78" not in text + result.all, text
    spec = yaml.safe_load(text)["spec"]
    assert spec["system_prompt"] == "${env.CRM_BOT_SYSTEM_PROMPT}"
    assert spec["post_call_schema"][0]["description"] == "${env.CRM_BOT_POST_CALL_SCHEMA_0_DESCRIPTION}"
    assert "CRM_BOT_SYSTEM_PROMPT" in result.output and "CRM_BOT_POST_CALL_SCHEMA_0_DESCRIPTION" in result.output
    # With the variables set, the manifest adopts the assistant and finds nothing to change.
    monkeypatch.setenv("CRM_BOT_SYSTEM_PROMPT", prompt)
    monkeypatch.setenv("CRM_BOT_POST_CALL_SCHEMA_0_DESCRIPTION", schema[0]["description"])
    (workspace.root / "manifests").mkdir(exist_ok=True)
    (workspace.root / "manifests" / path.name).write_text(text)
    apply_ok(workspace)
    no_changes(workspace)


def test_export_into_a_path_it_cannot_write_says_so_and_what_it_wrote(workspace):
    """--out naming a file (or a folder it cannot write, a full disk) stopped export as 'a bug in the provisioner'
    (an unexpected FileExistsError), without saying which manifests, if any, it had written."""
    workspace.platform.create(**{**REQUIRED, "assistant_name": "One"})
    (workspace.root / "exported").write_text("a file of the user's\n")
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 1, result.all
    # Said of --out itself, before the platform is read (it said "could not write exported/one.yaml").
    assert "bug" not in result.all and "--out exported exists and is not a folder" in result.stderr, result.all
    assert "nothing was written" in result.stderr, result.all
    assert (workspace.root / "exported").read_text() == "a file of the user's\n"


def test_export_names_an_unmanaged_assistant_named_as_a_managed_one(workspace):
    """An assistant nothing manages, named as one a manifest in state manages, cannot get a manifest of its own
    (each assistant's manifest needs its own name): export left it out in silence ('Exported 0 assistant(s)')."""
    workspace.add("twin", assistant_name="Twin")
    apply_ok(workspace)
    twin = workspace.platform.create(**{**REQUIRED, "assistant_name": "Twin"})["id"]
    result = workspace.run("export", "--out", "exported")
    assert result.exit_code == 0, result.all
    assert f"left out the assistant 'Twin' (id {twin}), which nothing manages: twin's manifest" in result.output, \
        result.all
