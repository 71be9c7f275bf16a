"""Rendering a plan: Terraform-style text and JSON; nothing computed, nothing secret shown."""
import json

import click

from provisioner import render
from provisioner.plan import Action, Change, FieldChange, Plan


def plan_of(*changes):
    return Plan(list(changes), lineage="l", serial=1)


def plain(text):
    return click.unstyle(text)


def test_no_changes():
    assert plain(render.plan_text(plan_of())).startswith("No changes.")


def test_each_action_has_its_symbol_and_headline_and_the_summary_line():
    text = plain(render.plan_text(plan_of(
        Change("new", Action.CREATE, "New", fields=[FieldChange("voice_id", None, 1, before_known=False)]),
        Change("upd", Action.UPDATE, "Upd", remote_id=2, fields=[FieldChange("voice_id", 1, 2)]),
        Change("old", Action.DELETE, "Old", remote_id=3),
        Change("adopt", Action.IMPORT, "Adopt", remote_id=4, body={"llm_model": "x"},
               fields=[FieldChange("llm_model", None, "x", source="last-applied", before_known=False)]),
    )))
    assert "# new will be created" in text and '  + assistant "new" {' in text and "+ voice_id = 1" in text
    assert "# upd will be updated in-place" in text and "~ voice_id = 1 -> 2" in text
    assert "# old will be destroyed" in text and '  - assistant "old" {' in text
    assert "# adopt will be imported (adopting id 4" in text and ' <= assistant "adopt" {' in text
    assert "~ llm_model = (unknown) -> \"x\"  # write-only" in text
    assert text.rstrip().endswith("Plan: 1 to import, 1 to add, 2 to change, 1 to destroy.")


def test_sensitive_values_render_as_sensitive():
    text = render.plan_text(plan_of(Change("a", Action.UPDATE, "A", remote_id=1, fields=[
        FieldChange("webhook_url", "(sensitive)", "(sensitive)", sensitive=True)])))
    assert "webhook_url = (sensitive) -> (sensitive)" in plain(text)


def test_json_is_the_plan_data():
    plan = plan_of(Change("a", Action.CREATE, "A", body={"webhook_url": "https://x.example/?k=S"},
                          sensitive=["webhook_url"]))
    data = json.loads(render.plan_json(plan))
    assert data["summary"]["add"] == 1 and data["changes"][0]["action"] == "create"
    assert data["changes"][0]["body"]["webhook_url"].startswith("sha256:")


def test_a_multi_line_text_change_is_a_line_diff_with_unchanged_runs_hidden():
    before = "\n".join(f"line {i}" for i in range(1, 21))
    after = before.replace("line 10", "line ten").replace("line 1\n", "line 1\nnew line\n", 1)
    text = plain(render.plan_text(plan_of(Change("a", Action.UPDATE, "A", remote_id=1, fields=[
        FieldChange("system_prompt", before, after, drift=True),
        FieldChange("voice_id", 1, 2)]))))
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "system_prompt" in line)
    assert lines[start].strip() == "~ system_prompt = <<-EOT  # changed on the platform outside the provisioner"
    block = lines[start + 1:lines.index("        EOT", start)]
    assert [line.strip() for line in block] == [
        "line 1", "+ new line", "line 2", "line 3", "line 4", "# (2 unchanged lines hidden)", "line 7", "line 8",
        "line 9", "- line 10", "+ line ten", "line 11", "line 12", "line 13", "# (7 unchanged lines hidden)"]
    assert "~ voice_id" in text and "1 -> 2" in text  # a one-line value stays on one line


def test_a_sensitive_multi_line_text_is_never_diffed():
    text = plain(render.plan_text(plan_of(Change("a", Action.UPDATE, "A", remote_id=1, fields=[
        FieldChange("system_prompt", "(sensitive)", "(sensitive)", sensitive=True)]))))
    assert "<<-EOT" not in text and "(sensitive)" in text


def test_a_result_line_built_plain_is_the_styled_line_without_its_styles():
    # Apply builds the lines plain where click.echo would strip the colours (off a terminal): the same words.
    from provisioner.apply import ChangeResult

    for action in Action:
        change = Change(action=action, address="sales", assistant_name="Sales", remote_id=7,
                        field_locations={"speech_speed": "m.yaml:3"}, location="m.yaml:1")
        for result in (ChangeResult(change, True, 1.26, 7, waited=0.5),
                       ChangeResult(change, True, 0.2, 7, "it was already gone"),
                       ChangeResult(change, False, 0.1, 7, "the platform rejected it: bad",
                                    field_errors={"speech_speed": ["too fast"], "voice_id": ["unknown"]})):
            styled = render.result_line(result)
            assert styled != click.unstyle(styled)
            assert render.result_line(result, styled=False) == click.unstyle(styled)


# value() remembers the text of each scalar it showed (a fleet repeats the same few values): the remembered text
# must be the one a fresh encoding gives, for every type, and never another type's (True == 1 == 1.0 in Python).
from hypothesis import given, strategies as st  # noqa: E402

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                     st.sampled_from([0, 1, 0.0, 1.0, True, False, "(sensitive)", "1", "true"]))


@given(st.lists(_SCALARS, max_size=30))
def test_a_shown_scalar_is_its_own_encoding_whatever_was_shown_before(values):
    import json

    from provisioner.render.text import value

    for v in values + values:
        expected = v if v == "(sensitive)" else json.dumps(v, ensure_ascii=False)
        assert value(v) == expected


def test_true_one_and_one_point_zero_keep_their_own_texts():
    from provisioner.render.text import value

    assert [value(1), value(True), value(1.0), value(True), value(1)] == ["1", "true", "1.0", "true", "1"]


def test_minus_zero_keeps_its_own_text_after_zero():
    """-0.0 equals 0.0 and hashes alike: shown after 0.0, it read `0.0` (the hypothesis test above found it)."""
    from provisioner.render.text import value

    assert (value(0.0), value(-0.0), value(0.0), value(0)) == ("0.0", "-0.0", "0.0", "0")
