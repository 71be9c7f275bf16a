"""Terraform-style text views of a plan, of an apply and of the state. Nothing is computed here."""
from __future__ import annotations

import difflib
import json
from typing import Any

import click

from ..plan import Action, Change, FieldChange, Plan
from ..redaction import SENSITIVE

HEADLINE = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in-place",
    Action.DELETE: "will be destroyed",
    Action.IMPORT: "will be imported",
    Action.FORGET: "will be removed from state",
}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red", Action.IMPORT: "cyan",
          Action.FORGET: "red"}


KNOWN_AFTER_APPLY = "(known after apply)"
_UNKNOWN = "\x00known-after-apply\x00"  # stands for a marker while the value is encoded


def value(v: Any) -> str:
    if type(v) in _SCALAR_TYPES:
        # A fleet shows the same few values thousands of times ("English", 0.5, true): each is encoded once.
        # Keyed by type too, so that True and 1 (equal, and hashed alike) keep their own texts.
        key = (type(v), v)
        text = _SHOWN.get(key)
        if text is None:
            text = v if v == "(sensitive)" else _JSON_SORTED.encode(v)
            if len(_SHOWN) >= _SHOWN_LIMIT:  # many distinct values (names, prompts) must not grow it without end
                _SHOWN.clear()
            _SHOWN[key] = text
        return text
    if isinstance(v, str):
        return v if v == "(sensitive)" else _JSON_TEXT.encode(v)
    if isinstance(v, (dict, list)) and _has_marker(v):
        # An id that exists only once apply has created its object ({"$ref": address}).
        return _JSON_SORTED.encode(_unknowns(v)).replace(_JSON_TEXT.encode(_UNKNOWN), KNOWN_AFTER_APPLY)
    return _JSON_SORTED.encode(v)


def is_marker(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and isinstance(v.get("$ref"), str)


def _has_marker(v: Any) -> bool:
    if is_marker(v):
        return True
    items = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
    return any(_has_marker(item) for item in items)


def _unknowns(v: Any) -> Any:
    if is_marker(v):
        return _UNKNOWN
    if isinstance(v, dict):
        return {k: _unknowns(item) for k, item in v.items()}
    if isinstance(v, list):
        return [_unknowns(item) for item in v]
    return v


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_SHOWN: dict[tuple[type, Any], str] = {}
_SHOWN_LIMIT = 10_000

# Built once (json.dumps with options builds an encoder per call; a plan shows one value per field and change).
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False)
_JSON_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def scope_line(plan: Plan) -> list[str]:
    """Which state the plan is for, so a log holding several plans (staging, prod) says which is which."""
    if plan.workspace is None:
        return []
    return [f"Workspace {plan.workspace}" + (f" of project {plan.project}" if plan.project else "") + ":"]


def plan_text(plan: Plan) -> str:
    return "\n".join(scope_line(plan) + [_plan_body(plan)])


def targeting_warning(plan: Plan) -> str | None:
    """As Terraform says it: a targeted plan may leave the rest out of step with the manifests."""
    if not plan.targets:
        return None
    return (f"Resource targeting is in effect ({', '.join(plan.targets)}): this plan covers only these addresses, "
            "so it may not show every change the manifests call for. Use --target for exceptional cases (a "
            "mistake to repair, a part to try), not routinely.")


def selection_note(plan: Plan) -> str | None:
    """The selection a plan was made with, besides --target (docs/selection.md): shown in every view."""
    parts = []
    if plan.selector:
        parts.append(f"Label selector in effect ({plan.selector}): only the objects whose labels match, and what "
                     "they need, are planned.")
    if plan.excluded:
        parts.append(f"Excluded (left as they are): {_listed(plan.excluded)}.")
    if plan.replace_requested:
        parts.append(f"Replacement requested (--replace): {_listed(plan.replace_requested)}.")
    return " ".join(parts) or None


def _listed(addresses: list[str], limit: int = 20) -> str:
    more = f" and {len(addresses) - limit} more" if len(addresses) > limit else ""
    return ", ".join(addresses[:limit]) + more


def left_alone_note(plan: Plan) -> str | None:
    if not plan.left_alone:
        return None
    shown = ", ".join(f"{e['address']} ({e['source']})" for e in plan.left_alone[:10])
    more = f" and {len(plan.left_alone) - 10} more" if len(plan.left_alone) > 10 else ""
    return (f"{len(plan.left_alone)} assistant(s) in state come from manifest files that exist but were not among "
            f"the paths given, so they are left alone (not destroyed): {shown}{more}. Give their files or "
            "folder to manage them in this run; delete a manifest (or its document) to destroy its assistant.")


def mass_destroy_warning(plan: Plan) -> str | None:
    if not plan.mass_destroy:
        return None
    share = f"{plan.counts['destroy']} of the {plan.managed_count} assistants in state"
    if plan.allow_mass_destroy:
        return f"This plan destroys {share}; --allow-mass-destroy was given."
    return (f"This plan destroys {share}: apply refuses it without --allow-mass-destroy. Check the paths (a "
            "wrong folder or a broken checkout looks like this), use --target to change a part, or pass "
            "--allow-mass-destroy if you mean it.")


def plan_warnings(plan: Plan) -> list[str]:
    """The plan-wide warnings, most serious first, as plain sentences (each view styles them)."""
    return [w for w in (mass_destroy_warning(plan), targeting_warning(plan), selection_note(plan)) if w]


def _plan_body(plan: Plan) -> str:
    warnings = [line for w in plan_warnings(plan) for line in (click.style(f"Warning: {w}", fg="yellow", bold=True),
                                                                   "")]
    alone = left_alone_note(plan)
    notes = plan.notes + ([alone] if alone else [])
    if not plan.changes and not plan.moves:
        lines = warnings + ["No changes. The platform matches the manifests."]
        lines += [f"Note: {note}" for note in notes]
        if plan.state_sync:
            lines.append(f"({len(plan.state_sync)} state record(s) will be refreshed on apply; nothing on the "
                         "platform changes.)")
        return "\n".join(lines)
    lines = warnings + ["Provisioner will perform the following actions:", ""] + move_lines(plan)
    grouped = by_kind(plan)
    for kind, changes in grouped.items():
        if len(grouped) > 1 or kind != "assistant":  # a plan of assistants only reads as it always has
            lines += [click.style(f"{kind_heading(kind)}: {summary_counts_of(plan.counts_by_kind[kind])}",
                                  bold=True, underline=True), ""]
        for change in changes:
            lines += _change_lines(change) + [""]
    lines += [f"Note: {note}" for note in notes]
    if notes:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines)


def by_kind(plan: Plan) -> dict[str, list[Change]]:
    """The changes of each kind, in plan.counts_by_kind's order (assistants first)."""
    return {kind: [c for c in plan.changes if c.kind == kind] for kind in plan.counts_by_kind}


def kind_heading(kind: str) -> str:
    """`folder` -> `Folders`: a section of a plan."""
    from ..kinds import KINDS

    title = KINDS[kind].title if kind in KINDS else kind
    return title[:1].upper() + title[1:] + "s"


def summary_line(plan: Plan) -> str:
    line = click.style("Plan: ", bold=True) + summary_counts(plan) + "."
    kinds = plan.counts_by_kind
    if len(kinds) > 1 or (kinds and "assistant" not in kinds):
        line += "\n" + "\n".join(f"  {kind}: {summary_counts_of(counts)}" for kind, counts in kinds.items())
    return line


def summary_counts(plan: Plan) -> str:
    """'1 to import, 2 to add, 0 to change, 1 to destroy': the same words in every view (', 1 to move' when moved
    blocks rename state entries)."""
    return summary_counts_of(plan.counts) + (f", {len(plan.moves)} to move" if plan.moves else "")


def pure_moves(plan: Plan) -> list[dict[str, Any]]:
    """The plan's moves with no change at their new address: a rename in state and nothing else."""
    changed = {c.address for c in plan.changes}
    return [m for m in plan.moves if m["to"] not in changed]


def move_lines(plan: Plan) -> list[str]:
    """`# NEW moved from OLD` for each move that is only that (the others say it in their change's title)."""
    lines = []
    for move in pure_moves(plan):
        lines += [click.style(f"  # {move['to']} moved from {move['from']}", bold=True),
                  f"  # (id {move['id']}: only the state changes; nothing is sent to the platform)", ""]
    return lines


def summary_counts_of(c: dict[str, int]) -> str:
    parts = [f"{c['add']} to add", f"{c['change']} to change", f"{c['destroy']} to destroy"]
    if c["import"]:
        parts.insert(0, f"{c['import']} to import")
    if c["forget"]:
        parts.append(f"{c['forget']} to forget")
    return ", ".join(parts)


def _change_lines(change: Change) -> list[str]:
    from ..kinds import KINDS

    kind = KINDS.get(change.kind)
    colour = "magenta" if change.replace else COLOUR[change.action]
    title = f"  # {change.address} {'must be replaced' if change.replace else HEADLINE[change.action]}"
    if change.action is Action.IMPORT:
        title += f" (adopting id {change.remote_id}; no second {kind.title if kind else 'assistant'} is created)"
    if change.moved_from:
        title += f" (moved from {change.moved_from})"
    lines = [click.style(title, bold=True)]
    if change.reason:
        lines.append(f"  # ({change.reason})")
    if change.replace:
        lines.append(click.style(f"  # (replace: {change.replace_reason or 'cannot be updated in place'})",
                                 fg="magenta"))
    symbol = "-/+" if change.replace else change.action.symbol
    name = change.address.split(".", 1)[1] if kind else change.address
    lines.append(click.style(f"{symbol:>3}", fg=colour) + f' {change.kind} "{name}" {{')
    if change.remote_id is not None:
        lines.append(f"        id = {change.remote_id}")
    if change.action in (Action.DELETE, Action.FORGET):
        if change.assistant_name:
            name_field = kind.name_field if kind else "assistant_name"
            lines.append(click.style("      - ", fg="red") + f"{name_field} = {value(change.assistant_name)}")
    width = max((len(f.field) for f in change.fields), default=0)
    if change.action is Action.CREATE and not change.replace:  # every field added: one line each, no comments
        lines += [f"{_ADDED}{f.field.ljust(width)} = {value(f.after)}" for f in change.fields]
    else:
        for f in change.fields:
            lines += _field_lines(change, f, width)
    lines.append("    }")
    return lines


# The markers of a field line, styled once rather than per field of every change.
_ADDED = click.style("      + ", fg="green")
_CHANGED = click.style("      ~ ", fg="yellow")


def _field_lines(change: Change, f: FieldChange, width: int) -> list[str]:
    """A field of a change other than a plain create (_change_lines writes those)."""
    name = f.field.ljust(width)
    comments = []
    if f.source == "last-applied":
        comments.append("write-only")
    if f.drift:
        comments.append("changed on the platform outside the provisioner")
    if f.reset:
        comments.append("removed from the manifest: back to the platform's default")
    comment = click.style(f"  # {'; '.join(comments)}", dim=True) if comments else ""
    before = value(f.before) if f.before_known else "(unknown)"
    if _multiline(f):
        return ([_CHANGED + f"{name} = <<-EOT{comment}"] + _line_diff(f.before, f.after)
                + ["        EOT"])
    if f.details:
        lines = [_CHANGED + f"{name} {{{comment}"]
        for path, old, new in f.details:
            old_text = "(none)" if old is None else value(old)
            new_text = "(none)" if new is None else value(new)
            lines.append(f"          ~ {path}: {old_text} -> {new_text}")
        lines.append("        }")
        return lines
    return [_CHANGED + f"{name} = {before} -> {value(f.after)}{comment}"]


CONTEXT = 3  # unchanged lines shown around each change of a multi-line text


def _multiline(f: FieldChange) -> bool:
    """A text of several lines on both sides (a system prompt): shown as a line diff, as Terraform shows heredocs."""
    return (f.before_known and not f.sensitive and isinstance(f.before, str) and isinstance(f.after, str)
            and SENSITIVE not in (f.before, f.after) and ("\n" in f.before or "\n" in f.after))


def _line_diff(before: str, after: str) -> list[str]:
    old, new = before.splitlines(), after.splitlines()
    lines = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            same = old[i1:i2]
            if len(same) > 2 * CONTEXT + 1:
                hidden = len(same) - (CONTEXT if i1 else 0) - (CONTEXT if i2 < len(old) else 0)
                head = same[:CONTEXT] if i1 else []
                tail = same[-CONTEXT:] if i2 < len(old) else []
                lines += [f"            {line}" for line in head]
                lines.append(click.style(f"            # ({hidden} unchanged lines hidden)", dim=True))
                lines += [f"            {line}" for line in tail]
            else:
                lines += [f"            {line}" for line in same]
            continue
        lines += [click.style(f"          - {line}", fg="red") for line in old[i1:i2]]
        lines += [click.style(f"          + {line}", fg="green") for line in new[j1:j2]]
    return lines


VERB_DONE = {Action.CREATE: "Creation complete", Action.UPDATE: "Modifications complete",
             Action.DELETE: "Destruction complete", Action.IMPORT: "Import complete",
             Action.FORGET: "Removed from state"}


def result_line(result, *, styled: bool = True) -> str:
    """One finished change. `styled=False` gives the plain line (what click.echo would strip the colours to, off a
    terminal), without building the escape sequences only to strip them again: apply prints one per change."""
    change = result.change
    style = click.style if styled else _unstyled
    if result.ok:
        # Time spent waiting for the rate budget is the pace of the run, not the platform's: said apart.
        waited = getattr(result, "waited", 0.0)
        text = f"{change.address}: {VERB_DONE[change.action]} after {max(0.0, result.seconds - waited):.1f}s"
        if waited >= 0.05:
            text += f" (waited {waited:.1f}s for the rate budget)"
        if result.remote_id is not None:
            text += f" [id={result.remote_id}]"
        if result.message:
            text += f" ({result.message})"
        return style(text, fg=COLOUR[change.action])
    lines = [style(f"{change.address}: {change.action.value} failed: {result.message}", fg="red", bold=True)]
    where = f" ({change.location})" if change.location else ""
    for field_name, messages in result.field_errors.items():
        at = change.field_locations.get(field_name.partition(".")[0])
        for message in messages:
            lines.append(style(f"  {change.address}{f' ({at})' if at else where}: spec.{field_name}: {message}",
                               fg="red"))
    return "\n".join(lines)


def _unstyled(text: str, **_style: Any) -> str:
    return text


def apply_summary(report, verb: str = "Apply") -> str:
    counts = report.counts()  # as the plan counts: a replacement is one added and one destroyed
    added, changed, imported, destroyed = counts["add"], counts["change"], counts["import"], counts["destroy"]
    parts = [f"{added} added", f"{changed} changed", f"{destroyed} destroyed"]
    if getattr(report, "moved", 0):
        parts.append(f"{report.moved} moved")
    if verb == "Destroy":  # as Terraform says it: a destroy only destroys
        parts = [f"{destroyed} destroyed"]
    elif imported:
        parts.insert(0, f"{imported} imported")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    head = (f"{verb} interrupted." if report.interrupted else f"{verb} failed." if report.failed
            else f"{verb} complete!")
    colour = "red" if report.interrupted or report.failed else "green"
    return click.style(f"{head} Resources: {', '.join(parts)}.", fg=colour, bold=True)


def state_text(document: dict[str, Any]) -> str:
    """The state's resources (`show` without a plan file), from `json.state_document`."""
    resources = document["resources"]
    if not resources:
        return "The state is empty: no assistant is managed yet."
    lines = []
    for resource in resources:
        title = f"# assistant \"{resource['address']}\" (id {resource['id']}"
        lines.append(click.style(title + (", protected)" if resource["protect"] else ")"), bold=True))
        lines.append(f"assistant \"{resource['address']}\" {{")
        shown = merged_fields(resource)
        width = max((len(name) for name in shown), default=0)
        for name, (field_value, write_only) in shown.items():
            comment = click.style("  # write-only: as last applied", dim=True) if write_only else ""
            lines.append(f"    {name.ljust(width)} = {value(field_value)}{comment}")
        lines += ["}", ""]
    lines.append(f"{len(resources)} assistant(s) in state (serial {document['serial']}).")
    return "\n".join(lines)


def merged_fields(resource: dict[str, Any]) -> dict[str, tuple[Any, bool]]:
    """Field -> (value, write-only): the platform's view, then what only the last applied spec knows."""
    platform = resource.get("platform") or {}
    applied = resource.get("last_applied") or {}
    shown = {name: (platform[name], False) for name in platform}
    shown.update({name: (applied[name], True) for name in applied if name not in platform})
    return shown
