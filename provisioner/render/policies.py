"""The policy section of the plan views: which rules passed, warned or denied, and each violation with the
policy's file:line and the manifest's. Takes `plan.policies` (PolicyReport.to_dict()); None: no policies."""
from __future__ import annotations

from typing import Any

import click

_MARK = {"passed": "✅", "warned": "⚠️", "denied": "❌", "error": "❌", "not-applicable": "➖"}
SHOWN = 50   # violations listed per view; the JSON has them all
SECTION_LIMIT = 65_536 // 3   # characters of the markdown section (of GitHub's comment limit): the rest is the plan's
MESSAGE_LIMIT = 300      # characters of one message in the markdown section


def _where(entry: dict[str, Any]) -> str:
    return f"{entry['file']}:{entry['line']}" if entry.get("file") else ""


def _rule_id(entry: dict[str, Any]) -> str:
    return f"{entry['policy']}/{entry['rule']}"


def _policy_where(entry: dict[str, Any]) -> str:
    return f"{entry['policy_file']}:{entry['policy_line']}"


def _counts(report: dict[str, Any]) -> str:
    summary = report["summary"]
    return ", ".join(f"{summary[k]} {k}" for k in ("passed", "warned", "denied", "error", "not-applicable")
                     if summary.get(k))


def printable(text: str) -> str:
    """`text` with whatever a terminal would act on (escape sequences, carriage returns, line breaks) shown
    escaped: a message may quote a manifest's value (messageExpression), and a manifest's problems are shown so."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def policies_text(report: dict[str, Any] | None) -> str:
    if not report or not report["rules"]:
        return ""
    lines = ["", f"Policies: {len(report['rules'])} rule(s): {_counts(report)}."]
    for violation in report["violations"][:SHOWN]:
        colour = "red" if violation["severity"] == "deny" else "yellow"
        where = f" ({_where(violation)})" if violation.get("file") else ""
        lines.append(click.style(f"  {violation['severity']}: ", fg=colour, bold=True)
                     + f"{violation['address']}{where}: {printable(violation['message'])} "
                       f"[{violation['policy']}/{violation['rule']} {violation['policy_file']}:{violation['policy_line']}]")
    for error in report["errors"]:
        on = f" on {error['address']}" if error.get("address") else ""
        lines.append(click.style("  error: ", fg="red", bold=True)
                     + f"{error['policy_file']}:{error['policy_line']}: rule {error['policy']}/{error['rule']}{on}: "
                       f"{printable(error['message'])}")
    if len(report["violations"]) > SHOWN:
        lines.append(f"  ... and {len(report['violations']) - SHOWN} more violation(s) (--json lists them all)")
    return "\n".join(lines)


def policies_markdown(report: dict[str, Any] | None, *, limit: int = SECTION_LIMIT) -> str:
    """At most `limit` characters, whatever the rules say: a message may quote a prompt (messageExpression), and a
    repository may hold a thousand rules; the comment they go in has GitHub's bound. Each message is cut to
    MESSAGE_LIMIT characters; what does not fit is left out and counted, the rules that passed (or selected
    nothing) and the violations before the rules that did not pass and the errors."""
    if not report or not report["rules"]:
        return ""
    from .markdown import _length, code, escape, fitting  # the markdown view's: render/__init__.py says why

    head = ["", f"**Policies:** {escape(_counts(report))}", "",
            "| | Rule | Severity | Objects | Violations | Policy file |", "| --- | --- | --- | ---: | ---: | --- |"]
    rows = [f"| {_MARK[rule['status']]} {rule['status']} | {code(_rule_id(rule), table=True)} "
            f"| {rule['severity']} | {rule['objects']} | {rule['violations']} | "
            f"{code(_where(rule), table=True)} |" for rule in report["rules"]]
    items = []
    for violation in report["violations"][:SHOWN]:
        where = _where(violation)
        shown = f" ({code(where)})" if where else ""
        items.append(f"- {_MARK['denied' if violation['severity'] == 'deny' else 'warned']} **{violation['severity']}** "
                     f"{code(violation['address'])}{shown}: "
                     f"{escape(_cut(violation['message']))} ({code(_rule_id(violation))})")
    errors = []
    for error in report["errors"]:
        on = f" on {code(error['address'])}" if error.get("address") else ""
        errors.append(f"- ❌ **error** {code(_rule_id(error))} "
                      f"({code(_policy_where(error))}){on}: {escape(_cut(error['message']))}")
    budget = limit - _length(head) - 400   # room for the lines that count what was left out
    # What stops (or warns about) the run first: the rules that did not pass, then errors, then a share for the
    # rules that passed or selected nothing, then the violations.
    quiet = {i for i, rule in enumerate(report["rules"]) if rule["status"] in ("passed", "not-applicable")}
    loud = fitting([i for i in range(len(rows)) if i not in quiet], rows, budget // 3)
    kept_errors = fitting(range(len(errors)), errors, budget // 2 - _length(rows, loud))
    calm = fitting(sorted(quiet), rows, budget // 4)
    kept_items = fitting(range(len(items)), items,
                          budget - _length(rows, loud) - _length(errors, kept_errors) - _length(rows, calm))
    shown_rows = [rows[i] for i in sorted(loud + calm)]
    kept_errors = [errors[i] for i in kept_errors]
    kept_items = [items[i] for i in kept_items]
    lines = head + shown_rows
    if len(shown_rows) < len(rows):
        lines.append(f"| | _{len(rows) - len(shown_rows)} more rule(s) not shown (the JSON plan lists them all)_ "
                     "| | | | |")
    if items or errors:
        lines += [""]
    lines += kept_items + kept_errors
    hidden = len(report["violations"]) - len(kept_items)
    if hidden:
        lines.append(f"- and {hidden} more violation(s) (the JSON plan lists them all)")
    if len(kept_errors) < len(errors):
        lines.append(f"- and {len(errors) - len(kept_errors)} more error(s) (the JSON plan lists them all)")
    return "\n".join(lines) + "\n"


def _cut(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "…"
