"""The policy section of the plan views: which rules passed, warned or denied, and each violation with the
policy's file:line and the manifest's. Takes `plan.policies` (PolicyReport.to_dict()); None: no policies."""
from __future__ import annotations

from typing import Any

import click

from .markdown import code, escape

_MARK = {"passed": "✅", "warned": "⚠️", "denied": "❌", "error": "❌", "not-applicable": "➖"}
SHOWN = 50   # violations listed per view; the JSON has them all


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


def policies_text(report: dict[str, Any] | None) -> str:
    if not report or not report["rules"]:
        return ""
    lines = ["", f"Policies: {len(report['rules'])} rule(s): {_counts(report)}."]
    for violation in report["violations"][:SHOWN]:
        colour = "red" if violation["severity"] == "deny" else "yellow"
        where = f" ({_where(violation)})" if violation.get("file") else ""
        lines.append(click.style(f"  {violation['severity']}: ", fg=colour, bold=True)
                     + f"{violation['address']}{where}: {violation['message']} "
                       f"[{violation['policy']}/{violation['rule']} {violation['policy_file']}:{violation['policy_line']}]")
    for error in report["errors"]:
        on = f" on {error['address']}" if error.get("address") else ""
        lines.append(click.style("  error: ", fg="red", bold=True)
                     + f"{error['policy_file']}:{error['policy_line']}: rule {error['policy']}/{error['rule']}{on}: "
                       f"{error['message']}")
    if len(report["violations"]) > SHOWN:
        lines.append(f"  ... and {len(report['violations']) - SHOWN} more violation(s) (--json lists them all)")
    return "\n".join(lines)


def policies_markdown(report: dict[str, Any] | None) -> str:
    if not report or not report["rules"]:
        return ""
    lines = ["", f"**Policies:** {escape(_counts(report))}", "",
             "| | Rule | Severity | Objects | Violations | Policy file |", "| --- | --- | --- | ---: | ---: | --- |"]
    for rule in report["rules"]:
        lines.append(f"| {_MARK[rule['status']]} {rule['status']} | {code(_rule_id(rule), table=True)} "
                     f"| {rule['severity']} | {rule['objects']} | {rule['violations']} | "
                     f"{code(_where(rule), table=True)} |")
    if report["violations"] or report["errors"]:
        lines += [""]
    for violation in report["violations"][:SHOWN]:
        where = _where(violation)
        shown = f" ({code(where)})" if where else ""
        lines.append(f"- {_MARK['denied' if violation['severity'] == 'deny' else 'warned']} **{violation['severity']}** "
                     f"{code(violation['address'])}{shown}: "
                     f"{escape(violation['message'])} ({code(_rule_id(violation))})")
    for error in report["errors"]:
        on = f" on {code(error['address'])}" if error.get("address") else ""
        lines.append(f"- ❌ **error** {code(_rule_id(error))} "
                     f"({code(_policy_where(error))}){on}: {escape(error['message'])}")
    if len(report["violations"]) > SHOWN:
        lines.append(f"- and {len(report['violations']) - SHOWN} more violation(s) (the JSON plan lists them all)")
    return "\n".join(lines) + "\n"
