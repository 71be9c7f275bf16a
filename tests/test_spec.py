"""Every create-field rule of API.md, enforced client-side."""
import pathlib

import pytest
from hypothesis import example, given, settings, strategies as st

from provisioner.spec import (CREATE_FIELDS, DEFAULTS, REQUIRED_FIELDS, V2_ONLY_FIELDS, platform_default,
                              validate_spec)
from conftest import REQUIRED, manifest_text
from provisioner.errors import ManifestError
from provisioner.manifest import load_manifests

VALID = {"assistant_name": "A", **REQUIRED}


def problems(dialect="v1", **changes):
    data = {**VALID, **changes}
    data = {k: v for k, v in data.items() if v is not ...}
    spec, found = validate_spec(data, dialect=dialect)
    return {".".join(map(str, p.path)): p.message for p in found}


def test_a_minimal_spec_is_valid_and_gets_platform_defaults():
    spec, found = validate_spec(VALID)
    assert found == [] and spec is not None
    assert spec.model_fields_set == set(VALID)
    assert platform_default("speech_speed") == 1.0
    assert platform_default("phone_number_id") is None


def test_the_defaults_are_the_documented_ones():
    # API.md, "Defaults": the platform's, not ours.
    assert DEFAULTS["post_call_evaluation"] is True and DEFAULTS["noise_cancellation"] is True
    assert DEFAULTS["end_call_on_voicemail"] is True and DEFAULTS["send_webhook_only_on_completed"] is True
    assert DEFAULTS["include_recording_in_webhook"] is True and DEFAULTS["is_webhook_active"] is False
    assert DEFAULTS["llm_temperature"] == 0.10 and DEFAULTS["max_silence_duration"] == 40
    assert DEFAULTS["voice_stability"] == 0.70 and DEFAULTS["voice_similarity"] == 0.50
    assert DEFAULTS["endpoint_sensitivity"] == 0.5 == DEFAULTS["interrupt_sensitivity"]
    assert DEFAULTS["ringing_time"] == 30 and DEFAULTS["conversation_inactivity_timeout"] == 30
    for undocumented in ("min_interrupt_words", "phone_number_id", "webhook_url", "knowledgebase_id",
                         "use_min_interrupt_words", "variables", "post_call_schema"):
        assert undocumented not in DEFAULTS


def test_the_create_fields_are_exactly_those_of_the_api():
    assert set(REQUIRED_FIELDS) == {"assistant_name", "voice_id", "language", "llm_model", "calls_direction",
                                    "engine_type", "timezone", "initial_message", "system_prompt"}
    assert len(CREATE_FIELDS) - len(V2_ONLY_FIELDS) == 9 + 29
    assert "tools" in V2_ONLY_FIELDS and "ringing_time" in V2_ONLY_FIELDS and "llm_model" not in V2_ONLY_FIELDS


def test_v2_only_settings_are_errors_under_v1_that_name_the_dialect():
    found = problems(ringing_time=20, tools=[{"type": "dtmf_input"}], engine_type="dualplex")
    assert set(found) == {"ringing_time", "tools", "engine_type"}
    assert all("v2" in message for message in found.values())
    assert problems("v2", ringing_time=20, tools=[{"type": "dtmf_input"}]) == {}


def test_v2_rules_are_tighter_where_api_md_says_so():
    assert "200" in problems("v2", initial_message="x" * 201)["initial_message"]
    assert problems("v1", initial_message="x" * 201) == {}
    found = problems("v2", post_call_schema=[{"name": "Bad", "type": "string", "description": "ok"}])
    assert "lowercase" in found["post_call_schema.0.name"]
    assert problems("v2", max_silence_duration=300) == {}
    assert "120" in problems("v1", max_silence_duration=300)["max_silence_duration"]


def test_built_in_tools_are_checked_by_type():
    found = problems("v2", tools=[{"type": "call_transfer"}, {"type": "collect_keypad", "timeout": 31},
                                  {"type": "calendar_integration", "calcom_event_slug": "s"}, {"type": "teleport"}])
    assert set(found) == {"tools.0.phone_number", "tools.1.timeout", "tools.2.calcom_api_key", "tools.3"}


def test_platform_rules_across_fields():
    assert "pipeline" in problems(engine_type="multimodal", filler_audios=True)["filler_audios"]
    assert "cannot be turned off" in problems(engine_type="multimodal", allow_interruptions=False)[
        "allow_interruptions"]
    assert problems("v2", engine_type="dualplex", knowledgebase_id=3, knowledgebase_mode="prompt")


def test_null_clears_only_settings_without_a_default():
    assert problems(phone_number_id=None, webhook_url=None) == {}
    assert "leave it out" in problems(speech_speed=None)["speech_speed"]


@pytest.mark.parametrize("field", sorted(set(REQUIRED) | {"assistant_name"}))
def test_each_required_field_is_required(field):
    assert problems(**{field: ...}) == {field: "is required"}


@pytest.mark.parametrize("field, bad, expected", [
    ("assistant_name", "x" * 256, "must be at most 255 characters"),
    ("language", "x" * 101, "must be at most 100 characters"),
    ("llm_model", "x" * 101, "must be at most 100 characters"),
    ("calls_direction", "dial", "must be one of 'receive' or 'make'"),
    ("engine_type", "hybrid", "must be one of 'pipeline', 'multimodal' or 'dualplex'"),
    ("endpoint_type", "rnn", "must be one of 'vad' or 'ai'"),
    ("who_speaks_first", "AI", "must be one of 'AI assistant' or 'Customer'"),
    ("endpoint_sensitivity", 5.5, "must be at most 5"),
    ("interrupt_sensitivity", -1, "must be at least 0"),
    ("ambient_sound_volume", 1.5, "must be at most 1"),
    ("llm_temperature", 2, "must be at most 1"),
    ("voice_stability", -0.1, "must be at least 0"),
    ("voice_similarity", 1.01, "must be at most 1"),
    ("speech_speed", 0.6, "must be at least 0.7"),
    ("speech_speed", 1.3, "must be at most 1.2"),
    ("min_interrupt_words", 11, "must be at most 10"),
    ("re_engagement_interval", 6, "must be at least 7"),
    ("re_engagement_interval", 601, "must be at most 600"),
    ("max_call_duration", 19, "must be at least 20"),
    ("max_call_duration", 1201, "must be at most 1200"),
    ("max_silence_duration", 0, "must be at least 1"),
    ("max_silence_duration", 121, "must be at most 120 in API dialect v1"),
    ("voice_id", "1", "must be an integer"),
    ("voice_id", 1.5, "must be an integer"),
    ("record_call", "yes", "must be true or false"),
    ("variables", ["a"], "must be a mapping of names to values"),
    ("post_call_schema", {"a": 1}, "must be a list"),
    ("timezone", "Mars/Olympus", "is not an IANA time zone"),
    ("webhook_url", "not a url", "must be an http:// or https:// URL"),
])
def test_each_rule_is_enforced(field, bad, expected):
    found = problems(**{field: bad})
    assert field in found, found
    assert expected in found[field]


def test_a_timezone_typo_suggests_the_right_zone():
    assert "did you mean 'Europe/London'" in problems(timezone="Europe/Londno")["timezone"]


def test_webhook_url_is_required_when_the_webhook_is_active():
    assert problems(is_webhook_active=True) == {"webhook_url": "is required when is_webhook_active is true"}
    assert problems(is_webhook_active=True, webhook_url="https://h.example/x") == {}
    assert problems(is_webhook_active=False) == {}


def test_post_call_schema_items_need_a_valid_name_type_and_description():
    found = problems(post_call_schema=[{"name": "ok_1", "type": "string", "description": "d"},
                                       {"name": "bad-name", "type": "text"},
                                       {"name": "x", "type": "bool", "description": "d", "extra": 1}])
    assert found == {
        "post_call_schema.1.name": "may contain only letters, digits and underscores (got 'bad-name')",
        "post_call_schema.1.type": "must be one of 'string', 'number' or 'bool' (got 'text')",
        "post_call_schema.1.description": "is required",
        "post_call_schema.2.extra": "unknown field 'extra'",
    }


def test_end_call_tool_description_is_at_most_500_characters():
    assert problems(end_call_tool={"description": "x" * 500}) == {}
    assert "at most 500" in problems(end_call_tool={"description": "x" * 501})["end_call_tool.description"]
    assert problems(end_call_tool={}) == {"end_call_tool.description": "is required"}


def test_unknown_fields_are_errors_with_a_suggestion():
    assert problems(voice=3) == {"voice": "unknown field 'voice' (did you mean 'voice_id'?)"}
    assert problems(zzz=3) == {"zzz": "unknown field 'zzz'"}


def test_strict_types_reject_what_lax_mode_would_coerce():
    assert "must be true or false" in problems(record_call=1)["record_call"]
    assert "must be a string" in problems(language=5)["language"]
    # Integers are fine where numbers are expected.
    assert problems(speech_speed=1) == {}


def test_all_problems_are_reported_together():
    found = problems(voice_id="x", speech_speed=9, calls_direction="nope", timezone=...)
    assert set(found) == {"voice_id", "speech_speed", "calls_direction", "timezone"}


def test_nan_and_infinity_are_refused():
    assert "finite" in problems(speech_speed=float("nan"))["speech_speed"]
    assert problems(variables={"x": float("inf")}) == {
        "variables.x": "a variable must be a string, a finite number or true/false (got inf)"}
    assert "variables.y" in problems(variables={"y": {"nested": 1}})


def _url_by_urlparse(value):
    """What spec._url decided before its fast path: urlparse's scheme and netloc, or urlparse's own error."""
    from urllib.parse import urlparse
    try:
        parsed = urlparse(value)
    except ValueError as error:
        return ("error", str(error))
    return ("ok", value) if parsed.scheme in ("http", "https") and parsed.netloc else ("error", "url")


_URL_PIECES = ["http", "https", "HTTP", "ftp", "h", ":", "//", "/", "?", "#", "[", "]", "::1", "@", "a", "b.c",
               "é", " ", "\t", "\n", "\r", "\x00", "\x01", "%20", ";p", "x:y", "", ".", "-", "80", "Ｅ"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_URL_PIECES), max_size=8).map("".join))
@example("https://hooks.example.com/calls/0")
@example("http://a")
@example("http://[::1]/x")
@example("http://a\n/x")
@example("http://\n/x")
@example("http:///x")
@example("http://a]b/")
def test_a_url_is_taken_or_refused_as_urlparse_decides(value):
    from provisioner.spec import _url
    try:
        got = ("ok", _url(value))
    except ValueError as error:
        got = ("error", "url" if str(error) == "must be an http:// or https:// URL" else str(error))
    assert got == _url_by_urlparse(value)


def test_a_timezone_is_an_iana_one_exactly_when_available_timezones_lists_it():
    from provisioner.timezones import _tzdata_zones as _packaged_timezones, iana_timezones, is_iana_timezone
    assert _packaged_timezones(), "the tzdata package is a dependency: its list of zones is read"
    names = set(iana_timezones()) | set(_packaged_timezones())
    names |= {"posixrules", "Europe/Londn", "", "right/UTC", "posix/UTC", "zone.tab", "UTC ", "europe/london",
              "Europe/../Europe/London", "/Europe/London", "localtime", "Factory"}
    for name in sorted(names):
        assert is_iana_timezone(name) == (name in iana_timezones()), name


def test_a_usual_timezone_is_checked_without_listing_the_systems_zone_files():
    import subprocess
    import sys
    code = ("from provisioner.spec import validate_spec, iana_timezones\n"
            "from conftest import REQUIRED\n"
            "spec, found = validate_spec({'assistant_name': 'A', **REQUIRED, 'timezone': 'Europe/London'})\n"
            "assert spec is not None and not found, found\n"
            "print(iana_timezones.cache_info().currsize)\n")
    here = pathlib.Path(__file__).resolve().parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=here, check=True)
    assert done.stdout.strip() == "0"
    assert problems(timezone="Europe/Londn") == {
        "timezone": "'Europe/Londn' is not an IANA time zone (did you mean 'Europe/London'?)"}


@pytest.mark.parametrize("spec, where, says", [
    ({"variables": {"greeting": ""}}, "spec.variables.greeting", "must not be an empty string"),
    ({"tools": [{"type": "dtmf_input", "description": ""}]}, "spec.tools[0].description", "must not be empty"),
    ({"tools": [{"type": "call_transfer", "phone_number": "+15550100", "timezone": ""}]}, "spec.tools[0].timezone",
     "must not be empty"),
])
def test_an_empty_text_the_platform_reads_as_no_value_is_refused_where_it_would_never_read_back(tmp_path, spec,
                                                                                                  where, says):
    """Written as "", read back as null: a plan that would never settle. Refused with its file, line and field."""
    path = tmp_path / "m.yaml"
    path.write_text(manifest_text("a", **spec))
    with pytest.raises(ManifestError) as refused:
        load_manifests([path], dialect="v2")
    assert "m.yaml:" in str(refused.value) and f"{where}: " in str(refused.value) and says in str(refused.value)
