"""Terraform-style text views of a plan, of an apply and of the state. Nothing is computed here."""
from __future__ import annotations

import difflib
from collections import Counter
import json
from typing import Any, Callable, Iterable, Mapping

import click

from ..plan import Action, Change, FieldChange, Plan, is_marker
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
    """A field's value as a plan shows it: JSON (keys sorted), a reference as `(known after apply)`."""
    if type(v) is str:  # most values: a plan of a fleet shows the same few thousands of times ("English")
        text = _SHOWN_TEXTS.get(v)
        return text if text is not None else _remembered(_SHOWN_TEXTS, v, v)
    if type(v) in _SCALAR_TYPES:
        # Keyed by type too, so that True and 1 (equal, and hashed alike) keep their own texts.
        key = (type(v), v) if v or type(v) is not float else (float, str(v))  # -0.0 == 0.0, hashed alike too
        text = _SHOWN.get(key)
        return text if text is not None else _remembered(_SHOWN, key, v)
    if isinstance(v, str):
        return v if v == "(sensitive)" else _JSON_TEXT.encode(v)
    if isinstance(v, (dict, list)):
        return _container_text(v)
    return _JSON_SORTED.encode(v)


def named(v: Any, names: Mapping[str, str] | None) -> str:
    """A reference field's value with the address beside each id the plan names (FieldChange.names), as the plan's
    titles write addresses: `125 (tool.weather)`, `[125 (tool.weather), 17]`. An id it cannot name (an object this
    state does not manage), a marker and any other value read as value() writes them."""
    if not names:
        return value(v)
    if type(v) is int:
        address = names.get(str(v))
        return value(v) if address is None else f"{v} ({address})"
    if type(v) is list and any(type(item) is int and str(item) in names for item in v):
        return "[" + ", ".join([named(item, names) for item in v]) + "]"
    return value(v)


def _remembered(shown: dict, key: Any, v: Any) -> str:
    """`v`'s text, kept in `shown`: each distinct value is encoded once."""
    text = v if v == "(sensitive)" else _JSON_SORTED.encode(v)
    if len(shown) >= _SHOWN_LIMIT:  # many distinct values (names, prompts) must not grow it without end
        shown.clear()
    shown[key] = text
    return text


def _container_text(v: dict | list) -> str:
    """A mapping or list. The shapes references take (a reference, a list of them) are written directly; any
    other is encoded once and walked for references only when its text shows one (`{"$ref": "`, which only a
    mapping whose first sorted key is "$ref" can write: inside an encoded string every quote is escaped)."""
    if is_marker(v):
        return KNOWN_AFTER_APPLY
    if type(v) is list and v and all(map(is_marker, v)):
        return _KNOWN_LISTS[len(v)] if len(v) < len(_KNOWN_LISTS) else _known_list(len(v))
    try:
        text = _encode_sorted(v)
    except Exception:  # noqa: BLE001 - raised as the walk below raises it (a cycle is a RecursionError there)
        return _value_with_markers(v)
    return _value_with_markers(v) if _REF_TEXT in text else text


def _value_with_markers(v: Any) -> str:
    """The general case: every reference, wherever it is, replaced by `(known after apply)`."""
    if _has_marker(v):
        # An id that exists only once apply has created its object ({"$ref": address}).
        return _JSON_SORTED.encode(_unknowns(v)).replace(_JSON_TEXT.encode(_UNKNOWN), KNOWN_AFTER_APPLY)
    return _JSON_SORTED.encode(v)


def _known_list(length: int) -> str:
    return "[" + ", ".join([KNOWN_AFTER_APPLY] * length) + "]"


_REF_TEXT = '{"$ref": "'


def _sorted_encoder() -> Callable[[Any], str]:
    """`_JSON_SORTED.encode` for a mapping or list, without building json's C encoder again for every value (the
    encoder object's own work per call is most of a small value's). No circular-reference memo: a cycle is a
    RecursionError, which _container_text answers with the general walk (that raises it as it always did)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: json's own path
        return _JSON_SORTED.encode
    encoder = make(None, _JSON_SORTED.default, json.encoder.encode_basestring, None, _JSON_SORTED.key_separator,
                   _JSON_SORTED.item_separator, True, False, True)
    return lambda v: "".join(encoder(v, 0))


_KNOWN_LISTS = [_known_list(n) for n in range(16)]


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
_SHOWN_TEXTS: dict[str, str] = {}  # the texts of str values (the common case: keyed by the value alone)
_SHOWN_LIMIT = 10_000

# Built once (json.dumps with options builds an encoder per call; a plan shows one value per field and change).
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False)
_JSON_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
_encode_sorted = _sorted_encoder()


def scope_line(plan: Plan) -> list[str]:
    """Which state the plan is for, so a log holding several plans (staging, prod) says which is which."""
    if plan.workspace is None:
        return []
    return [f"Workspace {plan.workspace}" + (f" of project {plan.project}" if plan.project else "") + ":"]


def plan_text(plan: Plan, *, styled: bool = True) -> str:
    """The plan as `plan` shows it. `styled=False` gives the plain text (what click.echo strips the colours to off
    a terminal) without building the escape sequences only to strip them again from megabytes of a fleet's plan."""
    return "\n".join(scope_line(plan) + [_plan_body(plan, click.style if styled else _unstyled)])


def targeting_warning(plan: Plan) -> str | None:
    """As Terraform says it: a targeted plan may leave the rest out of step with the manifests."""
    if not plan.targets:
        return None
    # The first addresses only, as every list of a view: `--target 'assistant.*'` or a selector over a fleet made
    # a line of every address (119 KB for 10,000), and a pull-request comment over GitHub's limit. `plan --json`'s
    # `targets` lists them all.
    if by_selector(plan):
        # Terraform's advice against routine --target was given for a flag not given: a label selection is the
        # routine way to roll out a part of the fleet (a team, a tier) at a time.
        return (f"Label selection is in effect (-l {plan.selector}: {_listed(plan.targets)}): this plan covers only "
                "the objects whose labels match and what they need, so it may not show every change the manifests "
                "call for; plan the others with their own selector, or without -l, to bring the rest in step.")
    return (f"Resource targeting is in effect ({_listed(plan.targets)}): this plan covers only these addresses, "
            "so it may not show every change the manifests call for. Use --target for exceptional cases (a "
            "mistake to repair, a part to try), not routinely.")


def by_selector(plan: Plan) -> bool:
    """Whether the plan's targets are what its -l selector chose, with no --target (targeting_warning says so)."""
    return plan.targets_by_selector and plan.selector is not None and bool(plan.targets)


def selection_note(plan: Plan) -> str | None:
    """The selection a plan was made with, besides --target (docs/selection.md): shown in every view. (A selector
    that chose the targets alone is targeting_warning's.)"""
    parts = []
    if plan.selector and not by_selector(plan):
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
    from ..kinds import kind_of_address  # here: kinds imports the planner's modules, which import this view

    kinds = kind_counts(kind_of_address(e["address"]) for e in plan.left_alone)
    from ..manifest import is_hidden  # here: only a plan that leaves something alone asks

    hidden = any(any(map(is_hidden, e["source"].split("/"))) for e in plan.left_alone)
    searched = (" (a folder search leaves out hidden files and folders, named with a leading '.': name such a file "
                "to read it)") if hidden else ""
    return (f"{kinds} in state come from manifest files that exist but were not among "
            f"the paths given, so they are left alone (not destroyed): {shown}{more}. Give their files or folder to "
            f"manage them in this run{searched}; delete a manifest (or its document) to destroy what it declares.")


def mass_destroy_warning(plan: Plan) -> str | None:
    if not plan.mass_destroy:
        return None
    return _guard_warning(f"This plan destroys {plan.counts['destroy']} of the {plan.managed_count} objects in state",
                          "apply refuses it", "--allow-mass-destroy", plan.allow_mass_destroy,
                          "Check the paths (a wrong folder or a broken checkout looks like this), use --target to "
                          "change a part, or pass --allow-mass-destroy if you mean it.")


def mass_forget_warning(plan: Plan) -> str | None:
    if not plan.mass_forget:
        return None
    return _guard_warning(f"This plan finds {plan.vanished} of the {covered(plan)} gone from "
                          "the platform", "destroy and apply refuse it" if plan.destroy else "apply refuses it",
                          "--allow-mass-forget", plan.allow_mass_forget,
                          "Another account's token, or another platform's URL, looks like this; check them, or pass "
                          "--allow-mass-forget if they really were deleted.")


def covered(plan: Plan) -> str:
    """What mass_forget weighs against: "N objects in state", or "N objects in state it selects" (--target, -l,
    --exclude), as the guard's refusal and the plan's warning say it."""
    selects = " it selects" if plan.selected_count != plan.managed_count else ""
    return f"{plan.selected_count} objects in state{selects}"


def _guard_warning(finding: str, refusal: str, flag: str, allowed: bool, advice: str) -> str:
    """A plan-wide refusal (`refusal`: "apply refuses it") that will be made, or was told not to be: what the plan
    does, the flag, what to do."""
    if allowed:
        return f"{finding}; {flag} was given."
    return f"{finding}: {refusal} without {flag}. {advice}"


def plan_warnings(plan: Plan) -> list[str]:
    """The plan-wide warnings, most serious first, as plain sentences (each view styles them)."""
    return [w for w in (mass_forget_warning(plan), mass_destroy_warning(plan), targeting_warning(plan),
                        selection_note(plan)) if w]


def no_changes(plan: Plan) -> str:
    """What an empty plan says after "No changes.": a destroy's has nothing in its state to destroy (it does not
    compare the platform with the manifests at all), as Terraform's destroy says."""
    if plan.destroy:
        return "No objects need to be destroyed."
    return "The platform matches the manifests."


def _plan_body(plan: Plan, style: Callable[..., str]) -> str:
    warnings = [line for w in plan_warnings(plan) for line in (style(f"Warning: {w}", fg="yellow", bold=True), "")]
    alone = left_alone_note(plan)
    notes = plan.notes + ([alone] if alone else [])
    if not plan.changes and not plan.moves:
        lines = warnings + [f"No changes. {no_changes(plan)}"]
        lines += [f"Note: {note}" for note in notes]
        if plan.state_sync:
            lines.append(f"({len(plan.state_sync)} state record(s) will be refreshed on apply; nothing on the "
                         "platform changes.)")
        return "\n".join(lines)
    lines = warnings + ["Provisioner will perform the following actions:", ""] + move_lines(plan, style)
    counts_by_kind = plan.counts_by_kind  # a property that counts every change: read once
    grouped = by_kind(plan, counts_by_kind)
    headed = len(grouped) > 1 or "assistant" not in grouped  # a plan of assistants only reads as it always has
    shown = _ChangeText(style)
    for kind, changes in grouped.items():
        if headed:
            lines += [style(f"{kind_heading(kind)}: {summary_counts_of(counts_by_kind[kind])}",
                            bold=True, underline=True), ""]
        # One text per change (its lines joined), then an empty line: the same text as one line per entry.
        for change in changes:
            lines += (shown(change), "")
    lines += [f"Note: {note}" for note in notes]
    if notes:
        lines.append("")
    lines.append(summary_line(plan, style, counts_by_kind))
    return "\n".join(lines)


def by_kind(plan: Plan, counts_by_kind: dict[str, dict[str, int]] | None = None) -> dict[str, list[Change]]:
    """The changes of each kind, in plan.counts_by_kind's order (assistants first)."""
    grouped: dict[str, list[Change]] = {kind: [] for kind in (counts_by_kind or plan.counts_by_kind)}
    for change in plan.changes:  # one pass, not one per kind
        grouped[change.kind].append(change)
    return grouped


def kind_heading(kind: str) -> str:
    """`folder` -> `Folders`: a section of a plan."""
    kinds = _kinds()
    title = kinds[kind].title if kind in kinds else kind
    return title[:1].upper() + title[1:] + "s"


def summary_line(plan: Plan, style: Callable[..., str] = click.style,
                 counts_by_kind: dict[str, dict[str, int]] | None = None) -> str:
    line = style("Plan: ", bold=True) + summary_counts(plan) + "."
    kinds = plan.counts_by_kind if counts_by_kind is None else counts_by_kind
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


def move_lines(plan: Plan, style: Callable[..., str] = click.style) -> list[str]:
    """`# NEW moved from OLD` for each move that is only that (the others say it in their change's title)."""
    lines = []
    for move in pure_moves(plan):
        lines += [style(f"  # {move['to']} moved from {move['from']}", bold=True),
                  f"  # (id {move['id']}: only the state changes; nothing is sent to the platform)", ""]
    return lines


def summary_counts_of(c: dict[str, int]) -> str:
    parts = [f"{c['add']} to add", f"{c['change']} to change", f"{c['destroy']} to destroy"]
    if c["import"]:
        parts.insert(0, f"{c['import']} to import")
    if c["forget"]:
        parts.append(f"{c['forget']} to forget")
    return ", ".join(parts)


class _ChangeText:
    """A change's text (its lines joined), in one style. A plan of creates is mostly the same few field names in
    the same order: the start of each field line (marker, name padded to the widest) is made once per order of
    names, not once per field of every change."""

    def __init__(self, style: Callable[..., str]):
        self.style = style
        # style(text, bold=True) as one concatenation: click.style only puts its codes before and after the text
        self.before_bold, self.after_bold = style("\x00", bold=True).split("\x00")
        self.added = style("      + ", fg="green")
        self.changed = style("      ~ ", fg="yellow")
        self.symbols = {(action, replace): style(f"{'-/+' if replace else action.symbol:>3}",
                                                 fg="magenta" if replace else COLOUR[action])
                        for action in Action for replace in (False, True)}
        self.starts: dict[tuple[str, ...], list[str]] = {}

    def __call__(self, change: Change) -> str:
        return "\n".join(self.lines(change))

    def lines(self, change: Change) -> list[str]:
        kind = (_KINDS or _kinds()).get(change.kind)
        action, replace = change.action, change.replace
        title = f"  # {change.address} {'must be replaced' if replace else HEADLINE[action]}"
        if action is Action.IMPORT:
            title += f" (adopting id {change.remote_id}; no second {kind.title if kind else 'assistant'} is created)"
        if change.moved_from:
            title += f" (moved from {change.moved_from})"
        lines = [self.before_bold + title + self.after_bold]
        if change.reason:
            lines.append(f"  # ({change.reason})")
        if replace:
            lines.append(self.style(f"  # (replace: {change.replace_reason or 'cannot be updated in place'})",
                                    fg="magenta"))
        name = change.address.split(".", 1)[1] if kind else change.address
        lines.append(self.symbols[action, replace] + f' {change.kind} "{name}" {{')
        if change.remote_id is not None:
            lines.append(f"        id = {change.remote_id}")
        if action is Action.DELETE or action is Action.FORGET:
            if change.assistant_name:
                name_field = kind.name_field if kind else "assistant_name"
                lines.append(self.style("      - ", fg="red") + f"{name_field} = {value(change.assistant_name)}")
        fields = change.fields
        if action is Action.CREATE and not replace:  # every field added: one line each, no comments
            names = tuple([f.field for f in fields])
            starts = self.starts.get(names)
            if starts is None:
                width = max(map(len, names), default=0)
                starts = self.starts[names] = [f"{self.added}{name.ljust(width)} = " for name in names]
            # value() inlined for the common case, a text shown before (one call less per field of a fleet).
            shown = _SHOWN_TEXTS.get
            lines += [start + (text if type(v := f.after) is str and (text := shown(v)) is not None
                               else value(v) if f.names is None else named(v, f.names))
                      for start, f in zip(starts, fields)]
        else:
            width = max((len(f.field) for f in fields), default=0)
            for f in fields:
                lines += _field_lines(f, width, self.style, self.changed)
        lines.append("    }")
        return lines


def _kinds() -> dict[str, Any]:
    """The kinds (imported when first needed: kinds imports the planner's modules, which import this view)."""
    global _KINDS
    if _KINDS is None:
        from ..kinds import KINDS

        _KINDS = KINDS
    return _KINDS


_KINDS: dict[str, Any] | None = None


def _field_lines(f: FieldChange, width: int, style: Callable[..., str] = click.style,
                 changed: str | None = None) -> list[str]:
    """A field of a change other than a plain create (_ChangeText writes those)."""
    changed = style("      ~ ", fg="yellow") if changed is None else changed
    name = f.field.ljust(width)
    comments = []
    if f.source == "last-applied":
        comments.append("write-only")
    if f.drift:
        comments.append("changed on the platform outside the provisioner")
    if f.reset:
        comments.append("removed from the manifest: back to the platform's default")
    comment = style(f"  # {'; '.join(comments)}", dim=True) if comments else ""
    names = f.names
    before = named(f.before, names) if f.before_known else "(unknown)"
    if _multiline(f):
        return ([changed + f"{name} = <<-EOT{comment}"] + _line_diff(f.before, f.after, style)
                + ["        EOT"])
    sets = set_change(f)
    if sets is not None:
        removed, added = sets
        return ([changed + f"{name} {{{comment}"] + [style(f"          - {named(v, names)}", fg="red") for v in removed]
                + [style(f"          + {named(v, names)}", fg="green") for v in added] + ["        }"])
    if f.details:
        lines = [changed + f"{name} {{{comment}"]
        for path, old, new in f.details:
            old_text = "(none)" if old is None else named(old, names)
            new_text = "(none)" if new is None else named(new, names)
            lines.append(f"          ~ {path}: {old_text} -> {new_text}")
        lines.append("        }")
        return lines
    return [changed + f"{name} = {before} -> {named(f.after, names)}{comment}"]


def set_change(f: FieldChange) -> tuple[list, list] | None:
    """For a field the platform takes as a set (an assistant's `tool_ids`, `label_ids`: FieldFacts.unordered), the
    values it loses and those it gains, each in its list's order; None for any other field. Shown by position (the
    field change's `details`), swapping one tool read `0: 211 -> 214`, `1: 214 -> 334`: two slots changed."""
    if (not f.before_known or f.sensitive or type(f.before) is not list or type(f.after) is not list
            or f.field not in (_UNORDERED or _unordered())):
        return None
    return [v for v in f.before if v not in f.after], [v for v in f.after if v not in f.before]


def _unordered() -> frozenset[str]:
    """The fields of every kind that the platform takes as sets (kinds imported when first needed, as _kinds)."""
    global _UNORDERED
    from ..kinds import ASSISTANT, reference_facts

    _UNORDERED = frozenset(f.name for kind in (ASSISTANT, *_kinds()) for f in reference_facts(kind) if f.unordered)
    return _UNORDERED


_UNORDERED: frozenset[str] | None = None


CONTEXT = 3  # unchanged lines shown around each change of a multi-line text


def _multiline(f: FieldChange) -> bool:
    """A text of several lines on both sides (a system prompt): shown as a line diff, as Terraform shows heredocs."""
    return (f.before_known and not f.sensitive and isinstance(f.before, str) and isinstance(f.after, str)
            and SENSITIVE not in (f.before, f.after) and ("\n" in f.before or "\n" in f.after))


def _line_diff(before: str, after: str, style: Callable[..., str] = click.style) -> list[str]:
    old, new = before.splitlines(), after.splitlines()
    if set(old).isdisjoint(new):
        # No line in common (a prompt reworded throughout): difflib would find no match and give one opcode
        # replacing all of `old` with all of `new`, after 40 µs of looking for one in a 40-line prompt.
        return _removed_added(old, new, style)
    lines = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            same = old[i1:i2]
            if len(same) > 2 * CONTEXT + 1:
                hidden = len(same) - (CONTEXT if i1 else 0) - (CONTEXT if i2 < len(old) else 0)
                head = same[:CONTEXT] if i1 else []
                tail = same[-CONTEXT:] if i2 < len(old) else []
                lines += [f"            {line}" for line in head]
                lines.append(style(f"            # ({hidden} unchanged lines hidden)", dim=True))
                lines += [f"            {line}" for line in tail]
            else:
                lines += [f"            {line}" for line in same]
            continue
        lines += _removed_added(old[i1:i2], new[j1:j2], style)
    return lines


def _removed_added(removed: list[str], added: list[str], style: Callable[..., str]) -> list[str]:
    if style is _unstyled:  # off a terminal: the lines themselves, without a call per line that returns them as is
        return [f"          - {line}" for line in removed] + [f"          + {line}" for line in added]
    return ([style(f"          - {line}", fg="red") for line in removed]
            + [style(f"          + {line}", fg="green") for line in added])


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
    # The state store failed, or the platform's rate limit is used up for longer than --retry-max-time: the run
    # stopped, whatever was done.
    halted = getattr(report, "halted", "")
    head = (f"{verb} interrupted." if report.interrupted else f"{verb} failed." if report.failed or halted
            else f"{verb} complete!")
    colour = "red" if report.interrupted or report.failed or halted else "green"
    return click.style(f"{head} Resources: {', '.join(parts)}.", fg=colour, bold=True)


def state_text(document: dict[str, Any]) -> str:
    """The state's resources (`show` without a plan file), from `json.state_document`."""
    resources = document["resources"]
    if not resources:
        return "The state is empty: no object is managed yet."
    from ..kinds import reference_targets  # here: kinds imports the planner's modules, which import this view

    lines = []
    names = _state_names(resources)
    for resource in resources:
        kind = resource.get("kind") or "assistant"
        title = f"# {kind} \"{resource['address']}\" (id {resource['id']}"
        lines.append(click.style(title + (", protected)" if resource["protect"] else ")"), bold=True))
        lines.append(f"{kind} \"{resource['address']}\" {{")
        shown = merged_fields(resource)
        width = max((len(name) for name in shown), default=0)
        targets = reference_targets(kind)
        for name, (field_value, write_only) in shown.items():
            comment = click.style("  # write-only: as last applied", dim=True) if write_only else ""
            text = named(field_value, names(targets[name])) if name in targets else value(field_value)
            lines.append(f"    {name.ljust(width)} = {text}{comment}")
        lines += ["}", ""]
    lines.append(f"{state_counts(resources)} in state (serial {document['serial']}).")
    return "\n".join(lines)


def _state_names(resources: list[dict[str, Any]]) -> Callable[[tuple[str, ...]], dict[str, str]]:
    """For the kinds a reference field may name, id (as text) -> address of the state's objects of those kinds: the
    state view writes the address beside each id a reference holds (`tool_ids = [94 (tool.order-lookup)]`), as plans
    do (docs/graph.md, "Names beside ids")."""
    by_kind: dict[str, dict[str, str]] = {}
    for resource in resources:
        by_kind.setdefault(resource.get("kind") or "assistant", {})[str(resource["id"])] = resource["address"]
    found: dict[tuple[str, ...], dict[str, str]] = {}

    def names(kinds: tuple[str, ...]) -> dict[str, str]:
        if kinds not in found:
            found[kinds] = {}
            for kind in reversed(kinds):  # the first kind's address wins, as plans name them
                found[kinds].update(by_kind.get(kind, {}))
        return found[kinds]
    return names


def state_counts(resources: list[dict[str, Any]]) -> str:
    """`4 assistant(s), 1 folder(s)`: the state's objects counted per kind (the text and markdown views')."""
    return kind_counts(resource.get("kind") or "assistant" for resource in resources)


def kind_counts(kinds: Iterable[str]) -> str:
    """`4 assistant(s), 1 folder(s)`: objects counted per kind, the kinds in order."""
    counts = Counter(kinds)
    return ", ".join(f"{count} {kind}(s)" for kind, count in sorted(counts.items()))


def merged_fields(resource: dict[str, Any]) -> dict[str, tuple[Any, bool]]:
    """Field -> (value, write-only): the platform's view, then what only the last applied spec knows."""
    platform = resource.get("platform") or {}
    applied = resource.get("last_applied") or {}
    shown = {name: (platform[name], False) for name in platform}
    shown.update({name: (applied[name], True) for name in applied if name not in platform})
    return shown
