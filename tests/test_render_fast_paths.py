"""The text view's shortcuts (issue 17: a fleet's plan text) write what the slow paths wrote, byte for byte.

- value(): the shapes references take, and other mappings and lists, are written without the general walk; the
  walk (as the renderer had it) is the reference.
- A created object's field lines are made from starts made once per order of names: the line-by-line way is the
  reference.
- plan_text(styled=False) is what click.echo strips the styled text to.
- Golden texts (tests/golden/plan_text.txt) of plans covering every action and shape, written by the renderer
  before these shortcuts (commit 9362610), styled and plain.
"""
import json
import math
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner import render
from provisioner.plan import Action, Change, FieldChange, Plan, StateSync
from provisioner.render import text
from plan_strategies import Text, changes, plans, values

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
GOLDEN = Path(__file__).parent / "golden" / "plan_text.txt"


def walked_value(v):
    """value() as it was: every mapping and list walked for references, then encoded."""
    if type(v) in (str, int, float, bool, type(None)) or isinstance(v, str):
        return v if v == "(sensitive)" else json.dumps(v, ensure_ascii=False, sort_keys=True)
    if isinstance(v, (dict, list)) and text._has_marker(v):
        return (json.dumps(text._unknowns(v), ensure_ascii=False, sort_keys=True)
                .replace(json.dumps(text._UNKNOWN, ensure_ascii=False), text.KNOWN_AFTER_APPLY))
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def outcome(function, *args):
    try:
        return "text", function(*args)
    except Exception as error:  # noqa: BLE001 - the same exception, or the same text
        return "error", type(error)


@SETTINGS
@given(values)
def test_value_writes_what_the_walk_wrote(v):
    assert outcome(text.value, v) == outcome(walked_value, v)
    assert outcome(text.value, v) == outcome(text.value, v)  # and again, from its caches


def test_the_shapes_of_references_and_the_values_json_cannot_tell_apart():
    assert text.value({"$ref": "tool.a"}) == "(known after apply)"
    assert text.value([{"$ref": "a"}] * 2) == "[(known after apply), (known after apply)]"
    assert text.value([{"$ref": "a"}] * 20) == "[" + ", ".join(["(known after apply)"] * 20) + "]"
    assert text.value([{"$ref": "a"}, 1]) == "[(known after apply), 1]"
    assert text.value(({"$ref": "a"},)) == '[{"$ref": "a"}]'  # a tuple was never walked for references
    assert text.value({"$ref": 1}) == '{"$ref": 1}' and text.value({"$ref": "a", "b": 1}) == '{"$ref": "a", "b": 1}'
    assert text.value({"b": [{"$ref": "x"}], "a": "{\"$ref\": \"y\"}"}) == \
        '{"a": "{\\"$ref\\": \\"y\\"}", "b": [(known after apply)]}'
    assert (text.value(True), text.value(1), text.value(1.0), text.value(Text("x"))) == ("true", "1", "1.0", '"x"')
    assert text.value(math.nan) == "NaN" and text.value([math.inf]) == "[Infinity]"
    assert text.value("(sensitive)") == "(sensitive)" and text.value(["(sensitive)"]) == '["(sensitive)"]'


def test_a_cycle_fails_as_the_walk_failed():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        text.value(cycle)
    with pytest.raises(TypeError):
        text.value({1: {"$ref": "a"}, "b": 2})  # keys json cannot sort


def created_lines(change):
    """A created object's field lines, one at a time (the reference for _ChangeText's starts)."""
    width = max((len(f.field) for f in change.fields), default=0)
    return [click.style("      + ", fg="green") + f"{f.field.ljust(width)} = {walked_value(f.after)}"
            for f in change.fields]


@SETTINGS
@given(st.lists(changes(), max_size=8), st.booleans())
def test_a_created_object_has_one_line_per_field_as_before(found, styled):
    shown = text._ChangeText(click.style if styled else text._unstyled)
    for change in found:
        if change.action is not Action.CREATE or change.replace:
            continue
        try:
            expected = created_lines(change)
        except Exception:  # noqa: BLE001 - a value json cannot write fails the same way in the view
            with pytest.raises(Exception):
                shown(change)
            continue
        lines = shown(change).split("\n")
        fields = lines[-1 - len(expected):-1] if expected else []
        assert fields == (expected if styled else [click.unstyle(line) for line in expected])


@SETTINGS
@given(plans())
def test_plain_text_is_what_echo_strips_the_styled_text_to(plan):
    styled = outcome(render.plan_text, plan)
    if styled[0] == "error":
        assert outcome(lambda p: render.plan_text(p, styled=False), plan) == styled
        return
    plain = render.plan_text(plan, styled=False)
    assert "\x1b[" not in plain.replace("\x1b[31mred\x1b[0m", "")  # no style of the view's own
    assert click.unstyle(plain) == click.unstyle(styled[1])


def golden_plans():
    """Plans covering every action, replacement, kind heading, reference shape, warning and note."""
    refs = {"tool_ids": [{"$ref": "tool.a"}, {"$ref": "tool.b"}], "knowledgebase_id": {"$ref": "knowledgebase.k"}}
    created = [Change(f"bench-{n}", Action.CREATE, f"Bench {n}", kind="assistant", fields=[
        FieldChange("assistant_name", None, f"Bench {n}", before_known=False),
        FieldChange("voice_id", None, n, before_known=False),
        FieldChange("speech_speed", None, 1.1 if n else True, before_known=False),
        FieldChange("variables", None, {"n": n, "list": [1, 2.5, None, "é"]}, before_known=False),
        FieldChange("system_prompt", None, "(sensitive)", before_known=False, sensitive=True),
        *[FieldChange(name, None, ref, before_known=False) for name, ref in refs.items()],
        FieldChange("mixed", None, [{"$ref": "x"}, {"$ref": 2}, ({"$ref": "y"},)], before_known=False),
    ]) for n in range(3)]
    tool = Change("tool.a", Action.CREATE, "a", kind="tool", fields=[
        FieldChange("name", None, "a", before_known=False),
        FieldChange("schema", None, [{"name": "order_id", "type": "string"}], before_known=False)])
    empty = Change("folder.f", Action.CREATE, "f", kind="folder")
    update = Change("support", Action.UPDATE, "Support", remote_id=7, reason="drift", fields=[
        FieldChange("voice_id", 1, 2, drift=True),
        FieldChange("system_prompt", "a\nb\nc\nd\ne\nf\ng\nh\ni", "a\nb\nc\nd\nX\nf\ng\nh\ni"),
        FieldChange("variables", {"a": 1}, {"a": 2, "b": {"$ref": "tool.a"}}, details=[["a", 1, 2], ["b", None, 3]]),
        FieldChange("llm_model", None, "gpt-4o", source="last-applied", before_known=False),
        FieldChange("webhook_url", "(sensitive)", "(sensitive)", sensitive=True, reset=True)])
    replaced = Change("tool.b", Action.CREATE, "b", remote_id=9, kind="tool", replace=True,
                      replace_reason="the endpoint cannot change", moved_from="tool.old",
                      fields=[FieldChange("endpoint", "https://old", "https://new")])
    deleted = Change("label.l", Action.DELETE, "l", remote_id=3, kind="label")
    forgotten = Change("gone", Action.FORGET, "Gone", remote_id=4)
    adopted = Change("adopt", Action.IMPORT, "Adopt", remote_id=5, fields=[
        FieldChange("llm_model", None, "x", source="last-applied", before_known=False)])
    unknown = Change("widget-1", Action.CREATE, "w", kind="widget", fields=[FieldChange("size", None, 3)])
    everything = Plan([*created, tool, empty, update, replaced, deleted, forgotten, adopted, unknown], lineage="l",
                      serial=2, workspace="default", project="demo", targets=["tool.a"], notes=["a note"],
                      selector="team=x", excluded=["b"], replace_requested=["tool.b"], managed_count=2,
                      left_alone=[{"address": "x", "source": "x.yaml"}],
                      moves=[{"from": "old", "to": "new", "kind": "assistant", "id": 3}])
    everything.policies = {"rules": [{}, {}], "summary": {"passed": 1, "denied": 1}, "violations": [
        {"severity": "deny", "address": "bench-0", "message": "no", "policy": "p", "rule": "r",
         "policy_file": "p.yaml", "policy_line": 3}], "errors": [
        {"policy_file": "p.yaml", "policy_line": 4, "policy": "p", "rule": "s", "address": "x", "message": "bad"}]}
    assistants = Plan(created[:2], lineage="l", serial=1)
    nothing = Plan([], lineage="l", serial=1, state_sync=[StateSync("a", {})], notes=["n"])
    return [everything, assistants, nothing]


def golden_texts():
    return [render.plan_text(plan) + "\n---plain---\n" + render.plan_text(plan, styled=False)
            for plan in golden_plans()]


def test_the_golden_plans_read_as_the_renderer_wrote_them_before():
    assert "\n===\n".join(golden_texts()) + "\n" == GOLDEN.read_text(encoding="utf-8")


def difflib_line_diff(before, after, style):
    """_line_diff as it was: difflib's opcodes for every pair of texts."""
    import difflib
    old, new = before.splitlines(), after.splitlines()
    lines = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            same = old[i1:i2]
            if len(same) > 2 * text.CONTEXT + 1:
                hidden = len(same) - (text.CONTEXT if i1 else 0) - (text.CONTEXT if i2 < len(old) else 0)
                lines += [f"            {line}" for line in (same[:text.CONTEXT] if i1 else [])]
                lines.append(style(f"            # ({hidden} unchanged lines hidden)", dim=True))
                lines += [f"            {line}" for line in (same[-text.CONTEXT:] if i2 < len(old) else [])]
            else:
                lines += [f"            {line}" for line in same]
            continue
        lines += [style(f"          - {line}", fg="red") for line in old[i1:i2]]
        lines += [style(f"          + {line}", fg="green") for line in new[j1:j2]]
    return lines


# Few distinct lines, so that texts share some lines, none or all of them.
prompt_lines = st.lists(st.sampled_from(["Be helpful.", "Be brief.", "", "Rule 1: answer.", "Rule 2: ask.", "é ✓"]),
                        max_size=14)


@SETTINGS
@given(prompt_lines, prompt_lines, st.booleans())
def test_a_line_diff_is_what_difflib_made_of_it(old, new, styled):
    style = click.style if styled else text._unstyled
    before, after = "\n".join(old), "\n".join(new)
    assert text._line_diff(before, after, style) == difflib_line_diff(before, after, style)


def test_a_prompt_reworded_throughout_is_every_old_line_removed_then_every_new_one_added():
    before = "\n".join(f"Be helpful. Rule {n}." for n in range(40))
    after = "\n".join(f"Be brief. Rule {n}." for n in range(40))
    lines = text._line_diff(before, after, text._unstyled)
    assert lines == ([f"          - Be helpful. Rule {n}." for n in range(40)]
                     + [f"          + Be brief. Rule {n}." for n in range(40)])
    assert lines == difflib_line_diff(before, after, text._unstyled)
