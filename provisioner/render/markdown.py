"""The plan as a pull-request comment (GitHub-flavoured markdown) that a reviewer reads in one screen.

A summary line and one table row per address; a warning when anything is destroyed; one collapsible
section per assistant with its field changes, long text as a unified diff. Every user value (names,
prompts, variable keys) is escaped, so a manifest cannot break the layout or inject HTML; the whole
comment stays under GitHub's limit by leaving out per-assistant sections (never the table), saying so.
"""
from __future__ import annotations

import difflib
import json
import re
from typing import Any, Iterable

from ..plan import Action, Change, FieldChange, Plan
from ..redaction import SENSITIVE
from ..rename_hint import BLOCK_START
from .text import (HEADLINE, KNOWN_AFTER_APPLY, _has_marker, by_kind, by_selector, is_marker, kind_heading,
                   left_alone_note, mass_destroy_warning, mass_forget_warning, merged_fields, no_changes, pure_moves,
                   selection_note, set_change, state_counts, summary_counts, summary_counts_of, targeting_warning)
from .text import named, value as text_value  # `(known after apply)` in place of markers
from ..patterns import LazyPattern

MARKER = "<!-- provisioner-plan -->"  # lets a pipeline find and update its previous comment
COMMENT_LIMIT = 65_536               # GitHub's maximum comment length, in characters
_MARGIN = 1_000                      # room for the note about what was cut, and for a pipeline's footer
LONG_TEXT = 100                      # strings longer than this (or multi-line) are shown as a diff
CELL_LIMIT = 120                     # longest value shown in a table cell
DIFF_LINES = 200                     # longest diff shown per field, in lines
DIFF_CHARS = 20_000                  # ... and in characters
SUMMARY_FIELDS = 4                   # up to this many changed fields are named in the summary table
NOTES = 30                           # notes shown; the rest are counted

ACTION_LABEL = {Action.CREATE: "`+` create", Action.UPDATE: "`~` update", Action.DELETE: "`-` **destroy**",
                Action.IMPORT: "`<=` import", Action.FORGET: "`-` forget (state only)"}
_MARKER_UNSAFE = LazyPattern(r"[^A-Za-z0-9._-]")  # nothing that could end the HTML comment
_PUNCTUATION = LazyPattern(r"([\\`*_{}\[\]<>#!|~&@])")
_BACKTICKS = LazyPattern(r"`+")


def marker(plan: Plan) -> str:
    """The comment's first line: MARKER, or for a plan of a known workspace one per project and workspace, so a
    pipeline that plans staging and prod keeps one comment for each (it finds its own by this line)."""
    return _marker(plan.project, plan.workspace)


def _marker(project: str | None, workspace: str | None) -> str:
    if workspace is None:
        return MARKER
    scope = "/".join(_MARKER_UNSAFE.sub("_", part) for part in (project or "", workspace) if part)
    return f"{MARKER[:-4]}: {scope} -->"


def _title(plan: Plan) -> str:
    return _title_of(plan.project, plan.workspace)


def _title_of(project: str | None, workspace: str | None) -> str:
    if workspace is None:
        return "Provisioner plan"
    of_project = f" (project `{_code(project)}`)" if project else ""
    return f"Provisioner plan for workspace `{_code(workspace)}`{of_project}"


def failed_plan_markdown(project: str | None, workspace: str | None, message: str, *,
                         limit: int = COMMENT_LIMIT) -> str:
    """The comment of a plan that could not be made (a manifest error, an unreachable platform, a held lock),
    under the marker of the workspace's plans: it replaces the comment of the last plan, which no longer holds,
    instead of leaving that one up for a reviewer to approve. `message` is the error as the run printed it."""
    room = limit - _MARGIN
    if len(message) > room:
        message = message[:room] + "\n... (cut: the whole error is in the job's log)"
    fence = "`" * max(3, max(map(len, _BACKTICKS.findall(message)), default=0) + 1)  # no run inside can end it
    return (f"{_marker(project, workspace)}\n### {_title_of(project, workspace)}: failed\n\n"
            "No plan was made, so there is nothing to review or apply until the error below is fixed (a plan shown "
            "here before no longer holds).\n\n"
            f"{fence}text\n{message}\n{fence}\n")


def _code(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")


def plan_markdown(plan: Plan, *, limit: int = COMMENT_LIMIT) -> str:
    alone = left_alone_note(plan)
    all_notes = plan.notes + ([alone] if alone else [])
    if not plan.changes and not plan.moves:
        line = f"**{_title(plan)}:** no changes. {no_changes(plan)}"
        if plan.state_sync:
            line += f" ({len(plan.state_sync)} state record(s) will be refreshed; nothing on the platform changes.)"
        extra = _targeting(plan) + [line for note in all_notes[:NOTES] for line in _note(note)]
        return f"{marker(plan)}\n{line}\n" + ("\n" + "\n".join(extra) + "\n" if extra else "")
    head = [marker(plan), f"### {_title(plan)}: {summary_counts(plan)}", ""]
    grouped = by_kind(plan)
    several = len(grouped) > 1 or "assistant" not in grouped
    if several:  # counts per kind; a plan of assistants only reads as it always has
        head += [f"- {kind_heading(kind)}: {summary_counts_of(plan.counts_by_kind[kind])}" for kind in grouped] + [""]
    head += _refusal(plan) + _warnings(plan) + _targeting(plan)
    changes = [c for group in grouped.values() for c in group]
    rows = [_move_row(move) for move in pure_moves(plan)] + [_row(change) for change in changes]
    table_head = ["| Action | Address | Assistant | Id | Changes |", "| --- | --- | --- | ---: | --- |"]
    if several:
        table_head[0] = "| Action | Address | Name | Id | Changes |"
    notes = [line for note in all_notes[:NOTES] for line in _note(note)]
    if len(all_notes) > NOTES:
        notes.append(f"- and {len(all_notes) - NOTES} more notes (`provisioner show PLANFILE` lists them all)")
    if notes:
        notes = ["", "**Notes**", ""] + notes
    sections = [_section(change) for change in changes]

    budget = limit - _MARGIN
    fixed = _length(head) + _length(table_head) + _length(notes) + 200
    kept_rows = rows
    moved = len(rows) - len(changes)  # the rows of pure moves come first
    destroying = {i for i in range(moved, len(rows)) if _destroys(changes[i - moved])}
    kept = set(range(len(rows)))
    if fixed + _length(rows) > budget:
        # Destroys first, a replacement's too (a reviewer must see every one), then the rest in plan order, as
        # many as fit.
        order = sorted(range(len(rows)), key=lambda i: i >= moved and not _destroys(changes[i - moved]))
        kept = set(fitting(order, rows, budget - fixed))
        kept_rows = [row for i, row in enumerate(rows) if i in kept]
    used = fixed + _length(kept_rows)
    kept_sections: list[str] = []
    cut: list[str] = []
    for change, section in zip(changes, sections):
        if used + len(section) + 2 <= budget:
            kept_sections.append(section)
            used += len(section) + 2
        else:
            cut.append(change.address)

    lines = head + table_head + kept_rows
    if len(kept_rows) < len(rows):
        lines.append(f"| | _{len(rows) - len(kept_rows)} more not shown_ | | | |")
    lines += notes + [""]
    if cut:
        shown = ", ".join(f"`{a}`" for a in cut[:20]) + (f" and {len(cut) - 20} more" if len(cut) > 20 else "")
        # (with thousands of destroys, not every one fits: then the count says so)
        among = ("every destroy among them" if destroying <= kept else
                 f"{len(destroying & kept)} of the {len(destroying)} destroys among them")
        listed = ("The table above lists every change" if len(kept_rows) == len(rows) else
                  f"The table above lists {len(kept_rows)} of the {len(rows)} changes ({among})")
        lines += [f"> [!NOTE]\n> The details of {len(cut)} {'change' if several else 'assistant'}(s) were left out to stay under GitHub's "
                  f"{COMMENT_LIMIT:,}-character comment limit: {shown}. {listed}; "
                  "`provisioner show PLANFILE` prints them in full.", ""]
    for section in kept_sections:
        lines += [section, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _length(lines: list[str], which: Iterable[int] | None = None) -> int:
    """The characters of `lines` (those at the indexes `which`, if given), each with its line break."""
    return sum(len(line) + 1 for line in (lines if which is None else (lines[i] for i in which)))


def fitting(which: Iterable[int], lines: list[str], budget: int) -> list[int]:
    """The first of `which` (indexes into `lines`) whose lines fit in `budget` characters, in that order."""
    kept, used = [], 0
    for i in which:
        if used + len(lines[i]) + 1 > budget:
            break
        kept.append(i)
        used += len(lines[i]) + 1
    return kept


def _refusal(plan: Plan) -> list[str]:
    """First of all, where a reviewer cannot miss it: apply will refuse this plan as it stands."""
    lines = []
    for warning, allowed, what in ((mass_forget_warning(plan), plan.allow_mass_forget, "Most of the state gone"),
                                   (mass_destroy_warning(plan), plan.allow_mass_destroy, "Mass destroy")):
        if warning is not None:
            title = f"{what}: allowed" if allowed else f"{what}: apply will refuse this plan"
            lines += ["> " + ("[!WARNING]" if allowed else "[!CAUTION]"), f"> **{title}.** {escape(warning)}", ""]
    return lines


def _targeting(plan: Plan) -> list[str]:
    warning = targeting_warning(plan)
    selected = selection_note(plan)
    heading = "Label selection." if by_selector(plan) else "Targeted plan."
    return (["> [!NOTE]", f"> **{heading}** {escape(warning)}", ""] if warning else []) + (
        ["> [!NOTE]", f"> **Selection.** {escape(selected)}", ""] if selected else [])


def _warnings(plan: Plan) -> list[str]:
    lines = []
    destroyed = [c for c in plan.changes if _destroys(c)]
    if destroyed:
        names = ", ".join(f"`{c.address}` (id {c.remote_id}{', replaced' if c.replace else ''})"
                          for c in destroyed[:20])
        more = f" and {len(destroyed) - 20} more" if len(destroyed) > 20 else ""
        what = "assistant" if all(c.kind == "assistant" for c in destroyed) else "object"
        lines += ["> [!WARNING]", f"> **This plan destroys {len(destroyed)} {what}(s):** {names}{more}. "
                  f"Deleting {'an assistant' if what == 'assistant' else 'an object'} on the platform cannot be "
                  "undone.", ""]
    drifted = [c for c in plan.changes if any(f.drift for f in c.fields)]
    if drifted:
        names = ", ".join(f"`{c.address}`" for c in drifted[:20])
        more = f" and {len(drifted) - 20} more" if len(drifted) > 20 else ""
        lines += ["> [!NOTE]", f"> **Drift:** {names}{more} changed on the platform outside the provisioner; "
                  "applying puts the manifest's values back.", ""]
    return lines


def _destroys(change: Change) -> bool:
    """A delete, or a replacement: the object on the platform is deleted (as the summary counts it)."""
    return change.action is Action.DELETE or change.replace


def _row(change: Change) -> str:
    remote_id = "" if change.remote_id is None else str(change.remote_id)
    label = "`-/+` **replace**" if change.replace else ACTION_LABEL[change.action]
    moved = f"moved from `{change.moved_from}`; " if change.moved_from else ""
    return (f"| {label} | `{change.address}` | {code(change.assistant_name, table=True)} | "
            f"{remote_id} | {moved}{_field_summary(change)} |")


def _move_row(move: dict) -> str:
    """A moved block's rename with no other change: state only."""
    return f"| `->` move (state only) | `{move['to']}` | | {move['id']} | moved from `{move['from']}` |"


def _note(note: str) -> list[str]:
    """A note as a list item; a rename hint's moved block (after BLOCK_START) as a YAML code block under it."""
    text, _, block = note.partition(BLOCK_START)
    lines = [f"- {escape(text)}"]
    if block:
        lines += ["", "  ```yaml", *(f"  {line}" for line in ("---\n" + block).splitlines()), "  ```"]
    return lines


def _field_summary(change: Change) -> str:
    if change.action in (Action.DELETE, Action.FORGET):
        return escape(change.reason or "")
    count = len(change.fields)
    if change.action is Action.CREATE or count > SUMMARY_FIELDS:
        text = f"{count} field{'s' if count != 1 else ''}"
    else:
        text = ", ".join(f"`{f.field}`" for f in change.fields) or "no field changes"
    drift = sum(1 for f in change.fields if f.drift)
    if drift:
        text += f", **{drift} drifted**"
    return text


def _section(change: Change) -> str:
    symbol = "-/+" if change.replace else change.action.symbol
    title = f"<code>{symbol.replace('<', '&lt;')}</code> <code>{change.address}</code> " \
            f"{'must be replaced' if change.replace else HEADLINE[change.action]}"
    if change.remote_id is not None:
        title += f" (id {change.remote_id})"
    lines = [f"<details><summary>{title}</summary>", ""]
    if change.reason:
        lines += [f"_{escape(change.reason)}_", ""]
    if change.replace:
        lines += [f"**Replace:** {escape(change.replace_reason or 'cannot be updated in place')}", ""]
    if change.action in (Action.DELETE, Action.FORGET):
        lines.append(f"{kind_heading(change.kind)[:-1]} {code(change.assistant_name)}.")
    elif change.fields:  # (none: an adoption or a wait for the platform, which the reason says)
        lines += _field_table(change)
    lines += ["", "</details>"]
    return "\n".join(lines)


def _field_table(change: Change) -> list[str]:
    creating = change.action is Action.CREATE and not change.replace
    table = ["| Field | Value | |", "| --- | --- | --- |"] if creating else \
        ["| Field | Before | After | |", "| --- | --- | --- | --- |"]
    diffs: list[str] = []
    for f in change.fields:
        flags = "; ".join(_flags(f))
        if _is_long_text(f):
            diffs += _diff(f)
            shown = "_(see the diff below)_"
            table.append(f"| `{f.field}` | {shown} | {flags} |" if creating else
                         f"| `{f.field}` | {shown} | {shown} | {flags} |")
        elif creating:
            table.append(f"| `{f.field}` | {cell(f.after, f.names)} | {flags} |")
        elif (sets := set_change(f)) is not None:  # a set: what it loses, what it gains (text.set_change)
            removed, added = sets
            table.append(f"| `{f.field}` | {_set_cell('removed', removed, f.names)} | "
                         f"{_set_cell('added', added, f.names)} | {flags} |")
        elif f.details:
            table.append(f"| `{f.field}` | | | {flags} |")
            for path, old, new in f.details:
                table.append(f"| `{f.field}` › {code(str(path), table=True)} | {cell(old, f.names)} | "
                             f"{cell(new, f.names)} | |")
        else:
            before = cell(f.before, f.names) if f.before_known else "_(unknown)_"
            table.append(f"| `{f.field}` | {before} | {cell(f.after, f.names)} | {flags} |")
    return table + diffs


def _set_cell(what: str, values: list, names: dict[str, str] | None) -> str:
    return f"_{what}:_ " + ", ".join(cell(v, names) for v in values) if values else ""


def _flags(f: FieldChange) -> list[str]:
    flags = []
    if f.drift:
        flags.append("⚠ drift: changed on the platform outside the provisioner")
    if f.source == "last-applied":
        flags.append("write-only: compared with the last applied value")
    if f.reset:
        flags.append("removed from the manifest: back to the platform's default")
    if f.sensitive:
        flags.append("sensitive")
    return flags


def _is_long_text(f: FieldChange) -> bool:
    if f.sensitive or not isinstance(f.after, str) or f.after == SENSITIVE:
        return False
    if f.before is not None and not isinstance(f.before, str):
        return False
    texts = [t for t in (f.before, f.after) if isinstance(t, str)]
    return any("\n" in t or len(t) > LONG_TEXT for t in texts)


def _diff(f: FieldChange) -> list[str]:
    before = f.before.splitlines() if isinstance(f.before, str) and f.before_known else []
    lines = list(difflib.unified_diff(before, f.after.splitlines(), "before", "after", lineterm="", n=3))
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"... ({len(lines) - DIFF_LINES} more diff lines not shown)"]
    body = "\n".join(lines)
    if len(body) > DIFF_CHARS:
        body = body[:DIFF_CHARS] + f"\n... ({len(body) - DIFF_CHARS} more characters not shown)"
    fence = "`" * max(3, _longest_run(body, "`") + 1)
    return ["", f"**`{f.field}`**", "", f"{fence}diff", body, fence]


def cell(value: Any, names: dict[str, str] | None = None) -> str:
    """A value in a table cell: code, escaped, cut to CELL_LIMIT characters; a reference's ids with the addresses
    `names` gives them (`125 (tool.weather)`, as the text view writes them)."""
    if value is None:
        return "_(none)_"
    if value == SENSITIVE:
        return "_(sensitive)_"
    if is_marker(value):
        return f"_{KNOWN_AFTER_APPLY}_"
    if names:
        text = named(value, names)
    elif _has_marker(value):
        text = text_value(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if len(text) > CELL_LIMIT:
        text = text[:CELL_LIMIT] + "…"
    return code(text, table=True)


def code(text: str, *, table: bool = False) -> str:
    """`text` as an inline code span, whatever it holds (backticks, pipes, newlines, HTML)."""
    text = re.sub(r"\r\n|[\r\n\u2028\u2029]", "↵", str(text))
    if table:
        text = text.replace("|", "\\|")
    fence = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}" if text else "_(empty)_"


def escape(text: str) -> str:
    """Plain text that markdown and HTML leave alone: punctuation backslash-escaped, on one line."""
    text = _PUNCTUATION.sub(r"\\\1", re.sub(r"\s*[\r\n\u2028\u2029]+\s*", " ", str(text)).strip())
    # What starts a line could start a list, a quote or a heading: escape it too.
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", re.sub(r"^([-+=])", r"\\\1", text))


def _longest_run(text: str, char: str) -> int:
    return max((len(m) for m in re.findall(f"{re.escape(char)}+", text)), default=0)


def state_markdown(document: dict[str, Any]) -> str:
    """The state's resources (`show --format markdown` without a plan file)."""
    resources = document["resources"]
    if not resources:
        return "**Provisioner state:** empty; no object is managed yet.\n"
    # Every kind, counted as the text view counts them (a folder is not an assistant), each under its platform name.
    lines = [f"### Provisioner state: {state_counts(resources)}", "",
             "| Address | Id | Name | Protected |", "| --- | ---: | --- | --- |"]
    for resource in resources:
        fields = merged_fields(resource)
        name = fields.get("assistant_name", fields.get("name", (None, False)))[0]
        lines.append(f"| `{resource['address']}` | {resource['id']} | "
                     f"{code(name, table=True) if name is not None else ''} | "
                     f"{'yes' if resource['protect'] else ''} |")
    return "\n".join(lines) + "\n"
