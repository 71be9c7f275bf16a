"""The plan as a pull-request comment: one screen for a reviewer, safe whatever the manifests hold."""
from __future__ import annotations

import json
import re

from provisioner.plan import Action, Change, FieldChange, Plan
from provisioner.render import markdown
from provisioner.render.markdown import COMMENT_LIMIT, MARKER, plan_markdown
from conftest import REQUIRED

PROMPT = "You are a helpful assistant.\nAlways greet the caller.\nNever promise refunds.\n"


def plan_of(*changes, notes=()):
    return Plan(list(changes), lineage="l", serial=1, notes=list(notes))


def update(address="a", *fields, name="A", remote_id=1):
    return Change(address, Action.UPDATE, name, remote_id=remote_id, fields=list(fields))


def test_no_changes_is_a_one_line_comment():
    text = plan_markdown(plan_of())
    lines = text.strip().splitlines()
    assert lines == [MARKER, "**Provisioner plan:** no changes. The platform matches the manifests."]


def test_summary_line_and_one_table_row_per_address():
    text = plan_markdown(plan_of(
        Change("new", Action.CREATE, "New", fields=[FieldChange("voice_id", None, 1, before_known=False)]),
        update("upd", FieldChange("voice_id", 1, 2), remote_id=2),
        Change("old", Action.DELETE, "Old", remote_id=3, reason="its manifest was removed"),
        Change("adopt", Action.IMPORT, "Adopt", remote_id=4, body={"llm_model": "x"},
               fields=[FieldChange("llm_model", None, "x", source="last-applied", before_known=False)]),
    ))
    assert text.startswith(MARKER + "\n")
    assert "### Provisioner plan: 1 to import, 1 to add, 2 to change, 1 to destroy" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [re.search(r"\| `([a-z]+)` \|", row).group(1) for row in rows[:4]] == ["new", "upd", "old", "adopt"]
    assert "| `+` create | `new` |" in text and "| `-` **destroy** | `old` |" in text
    assert text.count("<details>") == 4 and text.count("</details>") == 4


def test_a_destroy_is_a_prominent_warning_before_the_table():
    text = plan_markdown(plan_of(Change("old", Action.DELETE, "Old", remote_id=3)))
    warning = text.index("> [!WARNING]")
    assert warning < text.index("| Action |")
    assert "**This plan destroys 1 assistant(s):** `old` (id 3)" in text
    assert "[!WARNING]" not in plan_markdown(plan_of(update("a", FieldChange("voice_id", 1, 2))))


def test_drift_write_only_reset_and_sensitive_are_marked():
    text = plan_markdown(plan_of(update(
        "a",
        FieldChange("max_call_duration", 100, 600, drift=True),
        FieldChange("llm_model", "gpt-4o", "gpt-4o-mini", source="last-applied"),
        FieldChange("record_call", True, False, reset=True),
        FieldChange("webhook_url", "(sensitive)", "(sensitive)", sensitive=True),
    )))
    rows = {re.match(r"\| `(\w+)`", line).group(1): line for line in text.splitlines()
            if re.match(r"\| `\w+` \|", line)}
    assert "drift: changed on the platform outside the provisioner" in rows["max_call_duration"]
    assert "`100`" in rows["max_call_duration"] and "`600`" in rows["max_call_duration"]
    assert "write-only" in rows["llm_model"]
    assert "back to the platform's default" in rows["record_call"]
    assert rows["webhook_url"].count("_(sensitive)_") == 2
    assert "**Drift:** `a` changed on the platform outside the provisioner" in text
    assert "1 drifted" in text


def test_long_text_is_a_unified_line_diff():
    text = plan_markdown(plan_of(update("a", FieldChange("system_prompt", PROMPT, PROMPT + "Be brief.\n"))))
    diff = text[text.index("```diff"):]
    assert "--- before\n+++ after\n" in diff and "+Be brief." in diff and " Never promise refunds." in diff
    assert "_(see the diff below)_" in text


def test_a_sensitive_long_text_is_never_shown_even_as_a_diff():
    text = plan_markdown(plan_of(update("a", FieldChange("system_prompt", "(sensitive)", "(sensitive)",
                                                          sensitive=True))))
    assert "```diff" not in text and "_(sensitive)_ | _(sensitive)_" in text


def rendered(text):
    """The comment as a GitHub-flavoured markdown renderer turns it into HTML (raw HTML allowed, as on
    GitHub, so an injection would show)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def test_user_values_cannot_break_the_layout_or_inject_html():
    hostile = "Evil | name</details><script>alert(1)</script> `x` **bold** <!-- @everyone\n| new row |"
    prompt = "line one\n```\n</details>\n<img src=x onerror=alert(1)>\n# heading\n"
    text = plan_markdown(plan_of(
        update("a", FieldChange("assistant_name", "Old", hostile), FieldChange("system_prompt", "x", prompt),
               name=hostile),
        Change("b", Action.DELETE, hostile, remote_id=2, reason=hostile),
        notes=[f"a: renaming to {hostile!r}"]))
    html = rendered(text)
    assert "<script>" not in html and "<img" not in html and "<!--" not in html.replace(
        "<!-- provisioner-plan -->", "")
    assert "<strong>bold</strong>" not in html and "<h1>" not in html
    assert html.count("<details>") == 2 and html.count("</details>") == 2
    summary_table = html[:html.index("</table>")]
    assert summary_table.count("<tr>") == 3  # the header and one row per address, nothing injected
    assert all(row.count("<td>") + row.count("<td ") == 5 for row in summary_table.split("<tr>")[2:])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    # A fence inside the prompt does not close the diff block: the block's fence is longer.
    assert "````diff" in text and "+```" in text


def test_a_plan_too_big_for_one_comment_keeps_the_table_and_says_what_was_cut():
    big = "x" * 5_000 + "\n"
    changes = [update(f"a{i:03}", FieldChange("system_prompt", big, big + "y\n"), name=f"A{i}", remote_id=i)
               for i in range(60)]
    text = plan_markdown(plan_of(*changes))
    assert len(text) < COMMENT_LIMIT
    assert all(f"| `a{i:03}` |" in text for i in range(60))
    note = text[text.index("> [!NOTE]"):]
    cut = int(re.search(r"The details of (\d+) assistant\(s\) were left out", note).group(1))
    assert 0 < cut < 60 and text.count("<details>") == 60 - cut
    assert "`provisioner show PLANFILE`" in note


def test_even_a_huge_table_stays_under_the_limit_and_keeps_every_destroy_row():
    changes = [update(f"assistant-{i:05}", FieldChange("voice_id", 1, 2), name="N" * 100, remote_id=i)
               for i in range(3000)]
    changes += [Change(f"gone-{i}", Action.DELETE, "Gone", remote_id=9000 + i, reason="its manifest was removed")
                for i in range(3)]
    text = plan_markdown(plan_of(*changes))
    assert len(text) < COMMENT_LIMIT and "more not shown" in text
    assert all(f"| `-` **destroy** | `gone-{i}` |" in text for i in range(3))
    assert "The table above lists every change" not in text
    listed = re.search(r"The table above lists (\d+) of the 3003 changes \(every destroy among them\)", text)
    table_rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert listed and int(listed.group(1)) == len(table_rows)


def test_a_targeted_plan_of_a_fleet_names_its_first_targets_and_stays_under_the_limit():
    """`--target 'assistant.*'` (or a selector) over 10,000 assistants made a warning of every address: a comment of
    119 KB, which GitHub refuses, and one line as long in the terminal."""
    from provisioner.render.text import plan_text

    targets = [f"assistant-{i:05}" for i in range(10_000)]
    changed = Plan([update("assistant-00000", FieldChange("voice_id", 1, 2))], lineage="l", serial=1,
                   targets=targets)
    unchanged = Plan([], lineage="l", serial=1, targets=targets)
    named = f"Resource targeting is in effect ({', '.join(targets[:20])} and 9980 more)"
    for plan in (changed, unchanged):
        comment = plan_markdown(plan)
        assert len(comment) < COMMENT_LIMIT and named in comment and targets[20] not in comment
        warning = next(line for line in plan_text(plan, styled=False).splitlines() if "targeting" in line)
        assert warning.startswith(f"Warning: {named}") and len(warning) < 1_000


def test_markdown_through_the_cli_for_plan_and_a_saved_plan(workspace):
    workspace.add("changed", system_prompt=PROMPT, record_call=True, use_min_interrupt_words=True)
    workspace.add("removed")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    [item] = workspace.platform.by_name("Changed")
    workspace.platform.put(item["id"], max_call_duration=100)
    workspace.add("changed", system_prompt=PROMPT + "Be brief.\n", use_min_interrupt_words=False)
    workspace.remove("removed")
    direct = workspace.run("plan", "--format", "markdown", "--out", "p.plan")
    assert direct.exit_code == 0, direct.all
    shown = workspace.run("show", "p.plan", "--format", "markdown", api=False)
    assert shown.exit_code == 0 and shown.output == direct.output
    text = shown.output
    assert "> [!WARNING]" in text and "`removed`" in text and "+Be brief." in text
    assert "drift" in text and "write-only" in text and "back to the platform's default" in text
    assert "\x1b[" not in text and "Saved the plan" not in text


def test_escape_and_code_helpers():
    assert markdown.code("a`b") == "``a`b``" and markdown.code("`x`") == "`` `x` ``"
    assert markdown.code("a|b", table=True) == "`a\\|b`"
    assert markdown.escape("<b>*x*</b>\nnext") == "\\<b\\>\\*x\\*\\</b\\> next"
    assert markdown.escape("- a") == "\\- a" and markdown.escape("1. a") == "1\\. a"
    assert markdown.cell(None) == "_(none)_" and markdown.cell("(sensitive)") == "_(sensitive)_"
    assert len(markdown.cell("x" * 1000)) < 140
    assert REQUIRED  # the shared fixture values are importable here too


def test_one_huge_section_is_left_out_without_hiding_the_small_ones():
    huge = "".join(f"line {i} " + "x" * 80 + "\n" for i in range(2000))
    changes = [update("a-huge", *[FieldChange(f"f{i}", "x" * 100, "y" * 100) for i in range(400)], name="H")]
    changes += [update(f"b{i}", FieldChange("voice_id", 1, 2), remote_id=i + 2) for i in range(5)]
    text = plan_markdown(plan_of(*changes))
    assert len(text) < COMMENT_LIMIT
    assert "The details of 1 assistant(s) were left out" in text and "`a-huge`" in text
    assert text.count("<details>") == 5
    capped = plan_markdown(plan_of(update("p", FieldChange("system_prompt", "short", huge))))
    assert len(capped) < 25_000 and "not shown" in capped


def test_many_notes_are_counted_not_all_listed():
    text = plan_markdown(plan_of(update("a", FieldChange("voice_id", 1, 2)), notes=[f"note {i}" for i in range(100)]))
    assert "- note 29" in text and "- note 30" not in text and "and 70 more notes" in text


def test_the_table_names_a_few_changed_fields_and_counts_many():
    few = plan_markdown(plan_of(update("a", FieldChange("voice_id", 1, 2), FieldChange("language", "a", "b"))))
    assert "| `voice_id`, `language` |" in few
    many = plan_markdown(plan_of(update("a", *[FieldChange(f"f{i}", 1, 2) for i in range(7)])))
    assert "| 7 fields |" in many


def test_the_state_view_counts_each_kind_and_names_each_object():
    """`show --format markdown` without a plan file titled a state of folders, labels and tools "9 assistant(s)",
    with no name for any of them; the text view counts per kind."""
    from provisioner.render import state_markdown, state_text

    def resource(address, kind, fields, protect=False):
        return {"address": address, "kind": kind, "id": len(address), "protect": protect, "sensitive": [],
                "last_applied": None, "platform": fields}
    document = {"serial": 3, "resources": [
        resource("sales", "assistant", {"assistant_name": "Sales"}, protect=True),
        resource("folder.support", "folder", {"name": "Support", "color": "blue"}),
        resource("label.vip", "label", {"name": "VIP"})]}
    text = state_markdown(document)
    assert text.startswith("### Provisioner state: 1 assistant(s), 1 folder(s), 1 label(s)\n")
    assert "1 assistant(s), 1 folder(s), 1 label(s) in state (serial 3)." in state_text(document)
    assert "| `folder.support` | 14 | `Support` |  |" in text and "| `sales` | 5 | `Sales` | yes |" in text
    assert "| `label.vip` | 9 | `VIP` |" in text
    assert "no object is managed" in state_markdown({"serial": 0, "resources": []})


def policy_report(violations=(), rules=None, file="policies/prod_rules.yaml"):
    rules = rules if rules is not None else [
        {"policy": "prod_guard", "rule": "max_dur", "severity": "warn", "status": "warned", "file": file, "line": 7,
         "objects": 1, "violations": len(violations)}]
    return {"summary": {"warned": len(rules)}, "rules": rules, "violations": list(violations), "errors": []}


def policy_violation(message, address="sales_bot", file="policies/prod_rules.yaml"):
    return {"policy": "prod_guard", "rule": "max_dur", "severity": "warn", "policy_file": file, "policy_line": 7,
            "address": address, "kind": "assistant", "action": "create", "file": "manifests/a_b.yaml", "line": 1,
            "message": message}


def test_the_policy_section_shows_names_and_files_as_they_are_in_code_spans():
    """Names and files went through escape() inside backticks, where markdown takes no backslash escape: the
    comment read `prod\\_guard/max\\_dur`, `sales\\_bot`, `policies/prod\\_rules.yaml`."""
    from provisioner.render import policies_markdown

    html = rendered(policies_markdown(policy_report([policy_violation("too long | `x` <b>y</b>")],
                                                    file="policies/a|b_`c`.yaml")))
    assert "<code>prod_guard/max_dur</code>" in html and "<code>sales_bot</code>" in html
    assert "<code>manifests/a_b.yaml:1</code>" in html and "<code>policies/a|b_`c`.yaml:7</code>" in html
    assert "\\_" not in html and "<b>" not in html and html.count("<td") == 6


def test_the_policy_section_stays_within_its_share_of_the_comment_limit():
    """A messageExpression may quote a prompt and a repository may hold a thousand rules: 20 warnings quoting 9 KB
    prompts made a 178 KB comment (GitHub refuses it), every plan section left out for them."""
    from provisioner.render import plan_markdown as with_policies

    rules = [{"policy": "p", "rule": f"r{i}", "severity": "deny" if i == 1999 else "warn",
              "status": "denied" if i == 1999 else "passed", "file": "policies/p.yaml", "line": i, "objects": 1,
              "violations": int(i == 1999)} for i in range(2000)]
    violations = [dict(policy_violation("prompt too long: " + "All work and no play. " * 400, address=f"a{i}"),
                       rule="r1999", severity="deny") for i in range(60)]
    errors = [{"policy": "p", "rule": f"e{i}", "policy_file": "policies/p.yaml", "policy_line": i, "address": None,
               "file": None, "line": None, "message": "x" * 5000} for i in range(300)]
    plan = plan_of(*[update(f"a{i}", FieldChange("voice_id", 1, 2), remote_id=i + 1) for i in range(60)])
    plan.policies = {**policy_report(violations, rules), "errors": errors}
    text = with_policies(plan)
    assert len(text) < COMMENT_LIMIT and text.count("<details>") == 60
    assert "| ❌ denied | `p/r1999` |" in text and "more rule(s) not shown" in text
    assert "more violation(s) (the JSON plan lists them all)" in text and "more error(s)" in text
    assert "`a0`" in text and "…" in text and "more error(s)" in text and "❌ **error** `p/e0`" in text


def test_a_replacement_is_a_destroy_kept_in_a_cut_table_and_named_in_the_warning():
    """A `-/+` replacement deletes the object (a campaign's leads, a failed document) and the headline counts it
    "1 to destroy"; with 10,000 creates the table was cut before its row, and the destroy warning named only
    deletes: the comment showed nowhere what was destroyed."""
    changes = [Change(f"new-{i:05}", Action.CREATE, f"New {i}", fields=[FieldChange("voice_id", None, 1)])
               for i in range(10_000)]
    changes.append(Change("campaign.winter", Action.CREATE, "Winter", remote_id=77, replace=True,
                          replace_reason="name cannot be updated; deletes leads", kind="campaign"))
    text = plan_markdown(plan_of(*changes))
    assert len(text) < COMMENT_LIMIT and "1 to destroy" in text and "more not shown" in text
    assert "| `-/+` **replace** | `campaign.winter` |" in text
    assert "**This plan destroys 1 object(s):** `campaign.winter` (id 77, replaced)" in text


def test_a_table_that_cannot_hold_every_destroy_says_how_many_it_holds():
    """3,000 destroys do not fit in one comment; the note still said the table held "every destroy among them"
    (823 of them were listed)."""
    changes = [Change(f"gone-{i:05}", Action.DELETE, "Gone", remote_id=i + 1, reason="its manifest was removed")
               for i in range(3000)]
    changes += [Change(f"new-{i:05}", Action.CREATE, "N", fields=[FieldChange("voice_id", None, 1)])
                for i in range(100)]
    text = plan_markdown(plan_of(*changes))
    listed = sum(1 for line in text.splitlines() if line.startswith("| `-` **destroy** |"))
    assert len(text) < COMMENT_LIMIT and 0 < listed < 3000 and "every destroy among them" not in text
    assert f"The table above lists {listed} of the 3100 changes ({listed} of the 3000 destroys among them)" in text


def test_a_failed_plan_is_a_comment_under_its_workspaces_marker_with_the_error_fenced():
    """A plan that fails still gives the pull request a comment: the same marker as the workspace's plans (so it
    replaces the last one), a title that says it failed, and the error in a code block no backtick run inside it
    can end, cut under GitHub's limit."""
    text = markdown.failed_plan_markdown("acme", "prod", "Error: 1 manifest error:\n  a.yaml:3: spec.x: got ```y``` <b>")
    lines = text.splitlines()
    assert lines[0] == "<!-- provisioner-plan: acme/prod -->" == markdown.marker(
        Plan([], lineage="l", serial=1, workspace="prod", project="acme"))
    assert lines[1] == "### Provisioner plan for workspace `prod` (project `acme`): failed"
    fence = lines.index("````text")  # longer than the longest run of backticks in the error
    assert lines[fence + 1:] == ["Error: 1 manifest error:", "  a.yaml:3: spec.x: got ```y``` <b>", "````"]
    assert markdown.failed_plan_markdown(None, None, "Error: x").splitlines()[:2] == [
        MARKER, "### Provisioner plan: failed"]
    long = markdown.failed_plan_markdown("p", "w", "Error: " + "x" * (2 * COMMENT_LIMIT))
    assert len(long) <= COMMENT_LIMIT and "(cut: the whole error is in the job's log)" in long
    assert long.endswith("\n```\n")


def test_plan_in_markdown_prints_the_failed_plans_comment_and_still_exits_1(workspace):
    workspace.add("sales", speech_speed="fast")
    result = workspace.run("plan", "--format", "markdown")
    assert result.exit_code == 1 and "Error: 1 manifest error:" in result.stderr
    assert result.output.startswith(f"<!-- provisioner-plan: {workspace.root.name}/default -->\n"), result.output
    assert "failed" in result.output.splitlines()[1] and "got 'fast'" in result.output
    text = workspace.run("plan")  # the other views print no such document
    assert text.exit_code == 1 and text.output == ""
    as_json = workspace.run("plan", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.output)["errors"][0]["field"] == "spec.speech_speed"


def test_a_failed_plans_comment_cut_inside_a_secret_shows_no_part_of_it(workspace, monkeypatch):
    """The comment cut the error, then scrubbed it: a secret (or a URL's password) that the cut split in two was no
    longer the text scrub knows, and its first half went into the pull request, masked on stderr."""
    from provisioner.commands import plan_apply
    from provisioner.errors import ProvisionerError
    from provisioner.scrub import register_secret

    secret, password = "s3cr3t-value-of-an-env-variable", "hunter2-password"
    register_secret(secret)
    cut = COMMENT_LIMIT - markdown._MARGIN - len("Error: ")
    for leaked, text in ((secret, secret), (password, f"https://ops:{password}@db.example.com")):
        message = "x" * (cut - 10) + text + " and more"

        def failing(*args, message=message, **kwargs):
            raise ProvisionerError(message)

        monkeypatch.setattr(plan_apply, "_plan", failing)
        result = workspace.run("plan", "--format", "markdown")
        assert result.exit_code == 1 and leaked not in result.stderr and "***" in result.stderr, result.stderr
        assert "(cut: the whole error is in the job's log)" in result.output
        assert leaked[:10] not in result.output, result.output[-300:]


def test_a_failed_plans_comment_shows_the_error_as_stderr_does_for_input_nested_too_deeply(workspace, monkeypatch):
    """docs/plan-format.md: the comment holds the error as the run printed it; for a RecursionError it left out the
    `Error: ` that stderr's line has."""
    from provisioner.commands import plan_apply

    def failing(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(plan_apply, "_plan", failing)
    result = workspace.run("plan", "--format", "markdown")
    assert result.exit_code == 1 and result.stderr == "Error: input nested too deeply to process\n", result.stderr
    assert "```text\nError: input nested too deeply to process\n```\n" in result.output, result.output


def test_a_set_field_shows_what_it_loses_and_gains_not_positions():
    """An assistant's tools and labels are sets to the platform: a swap is one removed and one added, and a marker
    (an object this apply creates) reads `(known after apply)`; any other list keeps its positions."""
    from provisioner.render.text import plan_text, set_change

    swap = FieldChange("tool_ids", [211, 214], [214, {"$ref": "tool.new"}], source="last-applied",
                       details=[["0", 211, 214], ["1", 214, {"$ref": "tool.new"}]], names={"211": "tool.old"})
    dropped = FieldChange("label_ids", [7, 8], [8], details=[["1", 8, None], ["0", 7, 8]])
    listed = FieldChange("filler_audios", ["a", "b"], ["b"], details=[["0", "a", "b"], ["1", "b", None]])
    assert set_change(swap) == ([211], [{"$ref": "tool.new"}]) and set_change(dropped) == ([7], [])
    assert set_change(listed) is None
    assert set_change(FieldChange("tool_ids", None, [1], before_known=False)) is None  # adopted: nothing to compare
    plan = plan_of(update("a", swap, dropped, listed))
    text = plan_text(plan, styled=False)
    assert ("~ tool_ids      {  # write-only\n          - 211 (tool.old)\n          + (known after apply)\n        }\n"
            in text), text
    assert "~ label_ids     {\n          - 7\n        }\n" in text and "~ 0: \"a\" -> \"b\"" in text, text
    comment = plan_markdown(plan)
    assert "| `tool_ids` | _removed:_ `211 (tool.old)` | _added:_ " in comment, comment
    assert "| `label_ids` | _removed:_ `7` |  |  |" in comment and "| `filler_audios` › `0` |" in comment, comment
