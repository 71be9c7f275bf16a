"""Property: for any valid manifest, in either dialect, apply then plan is `No changes.` against the emulator.

The manifests are drawn from every setting's whole range (API.md's rules), with the platform's cross-field
rules respected, so the read shape's odd value types (decimal strings, 1/0, ISO codes, model ids, `boolean`)
meet every value a user may write.
"""
from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import manifest_text

VOICES = {"pipeline": [1, 2, 3, 4], "multimodal": [11, 12], "dualplex": [21, 22]}
MODELS = {"pipeline": ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4"],
          "multimodal": ["gpt-4o-realtime", "gpt-4o-mini-realtime"], "dualplex": ["gemini-live"]}
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40) \
    .filter(lambda s: s.strip() == s and s)
decimal = st.integers(0, 100).map(lambda n: n / 100)
name = st.from_regex(r"[a-z][a-z0-9_]{2,15}", fullmatch=True)


@st.composite
def manifests(draw, dialect: str) -> dict:
    engine = draw(st.sampled_from(["pipeline", "multimodal"] + (["dualplex"] if dialect == "v2" else [])))
    spec = {
        "voice_id": draw(st.sampled_from(VOICES[engine])),
        "language": draw(st.sampled_from(["English", "Spanish", "French", "German", "Japanese"])),
        "llm_model": draw(st.sampled_from(MODELS[engine])),
        "calls_direction": draw(st.sampled_from(["receive", "make"])),
        "engine_type": engine,
        "timezone": draw(st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"])),
        "initial_message": draw(text),
        "system_prompt": draw(text),
    }
    optional = {
        "endpoint_type": st.sampled_from(["vad", "ai"]),
        "endpoint_sensitivity": st.integers(0, 50).map(lambda n: n / 10),
        "interrupt_sensitivity": st.integers(0, 50).map(lambda n: n / 10),
        "ambient_sound_volume": decimal,
        "post_call_evaluation": st.booleans(),
        "send_webhook_only_on_completed": st.booleans(),
        "include_recording_in_webhook": st.booleans(),
        "use_min_interrupt_words": st.booleans(),
        "min_interrupt_words": st.integers(0, 10),
        "variables": st.dictionaries(name, st.one_of(text, st.integers(-999, 999), st.booleans()), max_size=3),
        "post_call_schema": st.lists(st.fixed_dictionaries({
            "name": name, "type": st.sampled_from(["string", "number", "bool"]),
            "description": text.filter(lambda s: len(s) >= 3)}), max_size=2, unique_by=lambda i: i["name"]),
        "end_call_tool": st.fixed_dictionaries({"description": text}),
        "llm_temperature": decimal,
        "voice_stability": decimal,
        "voice_similarity": decimal,
        "speech_speed": st.integers(70, 120).map(lambda n: n / 100),
        "end_call_on_voicemail": st.booleans(),
        "noise_cancellation": st.booleans(),
        "record_call": st.booleans(),
        "re_engagement_interval": st.integers(7, 600),
        "max_call_duration": st.integers(20, 1200),
        "max_silence_duration": st.integers(1, 120),
        "who_speaks_first": st.sampled_from(["AI assistant", "Customer"]),
        "is_webhook_active": st.just(True),
    }
    if engine == "pipeline":
        optional["filler_audios"] = st.booleans()
        optional["allow_interruptions"] = st.booleans()
    if dialect == "v2":
        optional.update({
            "ringing_time": st.integers(1, 60),
            "max_initial_silence_duration": st.integers(1, 120),
            "max_silence_duration": st.integers(1, 360),
            "ambient_sound": st.sampled_from(["off", "office", "city", "forest", "crowded_room", "cafe", "nature"]),
            "tts_emotion_enabled": st.booleans(),
            "turn_detection_threshold": decimal,
            "reengagement_prompt": text,
            "voice_mail_message": text,
            "conversation_inactivity_timeout": st.integers(1, 1440),
            "conversation_ended_retrigger": st.booleans(),
            "secondary_languages": st.lists(st.sampled_from(["English", "Spanish", "French"]), max_size=2,
                                            unique=True),
            "tools": st.lists(st.one_of(
                st.fixed_dictionaries({"type": st.just("dtmf_input"), "description": text}),
                st.fixed_dictionaries({"type": st.just("collect_keypad"), "timeout": st.integers(1, 30),
                                       "stop_key": st.sampled_from(["#", "*"])}),
                st.fixed_dictionaries({"type": st.just("call_transfer"), "phone_number": st.just("+14155550199"),
                                       "warm_transfer": st.booleans()})), max_size=2),
        })
        spec["initial_message"] = spec["initial_message"][:200]
        if engine == "pipeline":
            optional["filler_config"] = st.fixed_dictionaries({}, optional={
                "positive": st.lists(text, min_size=1, max_size=2), "question": st.lists(text, min_size=1, max_size=2)})
    chosen = draw(st.sets(st.sampled_from(sorted(optional)), max_size=len(optional)))
    for field in sorted(chosen):
        spec[field] = draw(optional[field])
    if spec.get("is_webhook_active"):
        spec["webhook_url"] = "https://hooks.example/" + draw(name)
    return spec


def check_round_trip(workspace, dialect, spec):
    workspace.dialect = dialect
    workspace.platform.reset()
    workspace.state_file.unlink(missing_ok=True)
    for old in (workspace.root / "manifests").glob("*.yaml"):
        old.unlink()
    address = "p-" + uuid.uuid4().hex[:8]
    workspace.write(f"manifests/{address}.yaml", manifest_text(address, name="Property") .split("spec:\n")[0]
                           + "spec:\n" + "".join(f"  {k}: {json.dumps(v, ensure_ascii=False)}\n"
                                                 for k, v in {"assistant_name": "Property", **spec}.items()))
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, (spec, applied.all)
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, (spec, plan.all)


PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@PROPERTY
@given(spec=manifests("v1"))
def test_apply_then_plan_is_no_changes_in_v1(workspace, spec):
    check_round_trip(workspace, "v1", spec)


@PROPERTY
@given(spec=manifests("v2"))
def test_apply_then_plan_is_no_changes_in_v2(workspace, spec):
    check_round_trip(workspace, "v2", spec)
