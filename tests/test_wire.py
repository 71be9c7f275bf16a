"""The read shape and both create dialects, from API.md's own examples and tables."""
import pytest
from hypothesis import given, settings, strategies as st

from provisioner.wire import (READABLE_FIELDS, WRITE_ONLY_FIELDS, Lookups, Unreadable, create_body, manifest_field,
                              read_fields, to_dialect)
from readshape import LANGUAGES, MODELS, decimal_string, item

LOOKUPS = Lookups(LANGUAGES, MODELS)
BASE = {"assistant_name": "A", "voice_id": 1, "language": "German", "llm_model": "gpt-4o",
        "calls_direction": "make", "engine_type": "pipeline", "timezone": "Europe/Berlin",
        "initial_message": "Hallo", "system_prompt": "Sei hilfreich."}


def read(raw):
    fields, problems = read_fields(raw, LOOKUPS)
    assert problems == []
    return fields


def test_the_documented_odd_value_types_are_normalised():
    raw = item(BASE)
    raw.update({"language": "de", "language_id": 5, "llm_temperature": "0.7", "speech_speed": "1.10",
                "fillers": 1, "end_call_on_voicemail": 0, "wait_for_customer": True, "record": False,
                "enable_noise_cancellation": False, "reengagement_interval": 45, "max_duration": 300,
                "post_call_schema": [{"name": "ok", "type": "boolean", "description": "d"}],
                "tools": [{"type": "end_call", "description": "bye"}], "some_future_field": {"x": 1}})
    fields = read(raw)
    assert fields["language"] == "German" and fields["llm_model"] == "gpt-4o"
    assert fields["llm_temperature"] == 0.7 and fields["speech_speed"] == 1.1
    assert fields["filler_audios"] is True and fields["end_call_on_voicemail"] is False
    assert fields["who_speaks_first"] == "Customer" and fields["record_call"] is False
    assert fields["noise_cancellation"] is False and fields["re_engagement_interval"] == 45
    assert fields["max_call_duration"] == 300 and fields["calls_direction"] == "make"
    assert fields["post_call_schema"] == [{"name": "ok", "type": "bool", "description": "d"}]
    assert fields["end_call_tool"] == {"description": "bye"}
    assert "some_future_field" not in fields


def test_models_are_named_from_the_catalogue_of_the_assistants_mode():
    raw = item({**BASE, "engine_type": "multimodal", "llm_model": "gpt-4o-realtime"})
    assert read(raw)["llm_model"] == "gpt-4o-realtime"
    assert raw["multimodal_model_id"] == 21 and raw["llm_model_id"] is None


def test_older_answers_tools_as_strings_and_language_by_code_only():
    raw = item(BASE)
    raw.update({"language_id": None, "language": "de", "tools": ["end_call"]})
    fields = read(raw)
    assert fields["language"] == "German"
    assert "end_call_tool" not in fields  # named without its description: compared with the last applied spec


def test_a_language_and_a_model_the_platform_does_not_name_are_not_shown():
    raw = item(BASE)
    raw.update({"language_id": None, "language": None, "llm_model_id": None})
    fields = read(raw)
    assert "language" not in fields and "llm_model" not in fields


@pytest.mark.parametrize("field, value", [("llm_temperature", "warm"), ("fillers", 7), ("language_id", 99),
                                          ("llm_model_id", 999), ("type", "sideways"), ("voice_id", "x"),
                                          ("tools", "end_call"), ("post_call_schema", [1])])
def test_values_that_cannot_be_normalised_are_problems_naming_the_field(field, value):
    raw = item(BASE)
    raw[field] = value
    fields, problems = read_fields(raw, LOOKUPS)
    assert problems and all(p.read_field == field for p in problems)


def test_write_only_fields_are_exactly_the_documented_ones():
    assert WRITE_ONLY_FIELDS == {"use_min_interrupt_words", "tool_ids", "secondary_languages", "tts_emotion_enabled",
                                 "chat_llm_fallback_id", "turn_detection_threshold", "reengagement_prompt",
                                 "voice_mail_message", "conversation_inactivity_timeout", "folder_id", "label_ids"}
    assert {"llm_model", "speech_speed", "llm_temperature", "noise_cancellation"} <= READABLE_FIELDS


def test_v1_bodies_keep_the_manifest_names():
    assert create_body(BASE, "v1", LOOKUPS) == BASE


def test_v2_bodies_rename_and_resolve_ids():
    body = create_body({**BASE, "who_speaks_first": "Customer", "filler_audios": True, "record_call": True,
                        "max_call_duration": 300, "re_engagement_interval": 9, "noise_cancellation": False,
                        "secondary_languages": ["English"], "end_call_tool": {"description": "bye"},
                        "tools": [{"type": "dtmf_input"}]}, "v2", LOOKUPS)
    assert body == {"name": "A", "voice_id": 1, "language_id": 5, "llm_model_id": 11, "type": "outbound",
                    "mode": "pipeline", "timezone": "Europe/Berlin", "initial_message": "Hallo",
                    "system_prompt": "Sei hilfreich.", "wait_for_customer": True, "fillers": True, "record": True,
                    "max_duration": 300, "reengagement_interval": 9, "enable_noise_cancellation": False,
                    "secondary_language_ids": [1],
                    "tools": [{"type": "dtmf_input"}, {"type": "end_call", "description": "bye"}]}
    multimodal = to_dialect({"llm_model": "gpt-4o-realtime"}, "v2", LOOKUPS, engine="multimodal")
    assert multimodal == {"multimodal_model_id": 21}
    with pytest.raises(Unreadable, match="Klingon"):
        create_body({**BASE, "language": "Klingon"}, "v2", LOOKUPS)


def test_422_keys_map_back_to_manifest_fields():
    assert manifest_field("name", "v2") == "assistant_name"
    assert manifest_field("multimodal_model_id", "v2") == "llm_model"
    assert manifest_field("post_call_schema.0.name", "v2") == "post_call_schema.0.name"
    assert manifest_field("name", "v1") == "assistant_name"  # a v2 platform answering a v1 body: its words mapped back


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda v: round(v, 3)))
def test_decimal_strings_read_back_equal_to_what_was_sent(value):
    from provisioner.planner import same
    raw = item({**BASE, "llm_temperature": value})
    assert raw["llm_temperature"] == decimal_string(value)
    assert same(read(raw)["llm_temperature"], value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(item(BASE))), st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.integers())),
             max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3))))
def test_any_answer_is_read_or_reported_never_a_crash(overrides):
    raw = {**item(BASE), **overrides}
    fields, problems = read_fields(raw, LOOKUPS)
    assert isinstance(fields, dict) and all(p.field for p in problems)
