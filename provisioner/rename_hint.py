""""This looks like a rename": a plan that destroys one address and creates another whose object would be the same
(same kind, and the same name on the platform or the same spec) says so, with the moved block that keeps the live
object instead (moves.py), so a reviewer does not approve a destroy and re-create of a live assistant by mistake.

Pure: it reads the plan and the state the plan was made from.
"""
from __future__ import annotations

from typing import Any

from .kinds import ASSISTANT, KINDS
from .kinds.base import NO_DEFAULT
from .manifest import API_VERSION
from .moves import MOVED_KIND
from .plan import Action, Change, Plan
from .planner import empty_setting

# Separates a hint's sentence from the YAML lines to add (the markdown view puts them in a code block).
BLOCK_START = "\n---\n"


def moved_block(source: str, target: str) -> str:
    """The YAML lines of a moved block, as a manifest file holds them."""
    return f"apiVersion: {API_VERSION}\nkind: {MOVED_KIND}\nspec:\n  from: {source}\n  to: {target}"


def rename_pairs(plan: Plan, state) -> list[tuple[Change, Change, str]]:
    """(destroy, create, why) for each destroyed address whose object a created one would be: the same kind, and
    the same name on the platform, else the same spec as state last applied. Each change pairs at most once: a
    destroy takes the first create in plan order, not yet taken, that matches.

    The creates are looked up by (kind, name) and (kind, spec), not searched: a fleet renamed whole (9,480
    addresses) compared every destroy with every create, 31-53 s of a plan's CPU."""
    destroys = [c for c in plan.changes if c.action is Action.DELETE and not c.replace]
    creates = [c for c in plan.changes if c.action is Action.CREATE and not c.replace]
    if not destroys or not creates:
        return []
    by_name: dict[tuple[str, str], _InOrder] = {}
    by_spec: dict[tuple[str, Any], _InOrder] = {}
    for create in creates:
        if create.assistant_name:
            by_name.setdefault((create.kind, create.assistant_name), _InOrder()).add(create)
        key = _frozen((create.record or {}).get("spec"))
        if key is not None:
            by_spec.setdefault((create.kind, key), _InOrder()).add(create)
    pairs: list[tuple[Change, Change, str]] = []
    taken: set[str] = set()
    for destroy in destroys:
        entry = state.resources.get(destroy.address)
        match = by_name[destroy.kind, destroy.assistant_name].first(taken) if (
            destroy.assistant_name and (destroy.kind, destroy.assistant_name) in by_name) else None
        if match is not None and _replaced_anyway(destroy.kind, entry, match):
            match = None
        why = f"the same name on the platform ({destroy.assistant_name!r})"
        if match is None and entry is not None and entry.spec:
            key = _frozen(entry.spec)
            match = by_spec[destroy.kind, key].first(taken) if (destroy.kind, key) in by_spec else None
            why = "the same spec"
        if match is not None:
            taken.add(match.address)
            pairs.append((destroy, match, why))
    return pairs


def _replaced_anyway(kind_name: str, entry: Any, create: Change) -> bool:
    """Whether the moved block would not keep the live object: a namesake whose create differs from what state last
    applied in a field that cannot be updated in place (a document under another knowledge base, or of other
    content) is replaced after the move as well, and the hint's "nothing is then destroyed or
    re-created" was false (a document's hint to move it into another knowledge base)."""
    kind = KINDS.get(kind_name)
    spec = (create.record or {}).get("spec") or {}
    if kind is None or entry is None or not entry.spec or not spec:
        return False
    fixed = kind.endpoints.update is None  # no update at all (a campaign): any change replaces it
    return any(_differs(facts, entry.spec, spec) for facts in kind.fields
               if (facts.replace or fixed) and kind.action(facts.name) is None)


def _differs(facts: Any, applied: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether the plan changes a field from what state last applied, as plan_kinds._field_changes decides: a
    create-only setting the platform never shows, set once and left out now, is a change too (a campaign's
    goal_completion_variable: left out, the moved campaign was replaced and its leads deleted), and an empty
    setting added or removed is none."""
    if facts.name not in wanted:
        return not facts.shown and facts.name in applied and not empty_setting(applied[facts.name])
    before = applied.get(facts.name, None if facts.default is NO_DEFAULT else facts.default)
    if not facts.shown and empty_setting(before) and empty_setting(wanted[facts.name]):
        return False
    return before != wanted[facts.name]


class _InOrder:
    """The creates of one key, in plan order; those taken are passed over once, for good."""

    def __init__(self) -> None:
        self._creates: list[Change] = []
        self._at = 0

    def add(self, create: Change) -> None:
        self._creates.append(create)

    def first(self, taken: set[str]) -> Change | None:
        while self._at < len(self._creates) and self._creates[self._at].address in taken:
            self._at += 1
        return self._creates[self._at] if self._at < len(self._creates) else None


def _frozen(value: Any) -> Any:
    """A JSON value as a hashable one, equal to another's exactly when the two values are equal (==, as dicts compare:
    an object as the set of its items, a list as a tuple, 1 == 1.0 == True); None for a value that is no JSON
    value (never in a spec: its hint is then not given, rather than the plan stopped)."""
    try:
        return _freeze(value)
    except TypeError:
        return None


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return frozenset((key, _freeze(item)) for key, item in value.items())
    if isinstance(value, list):
        return tuple(map(_freeze, value))
    hash(value)
    return value


def rename_hints(plan: Plan, state) -> list[str]:
    """A note per likely rename: what the plan would do, and the moved block to add instead."""
    notes = []
    for destroy, create, why in rename_pairs(plan, state):
        kind = KINDS.get(destroy.kind)
        what = kind.title if kind else ASSISTANT
        notes.append(
            f"this looks like a rename: {destroy.address} (id {destroy.remote_id}) is destroyed and {create.address} "
            f"created, {'an' if what[:1] in 'aeiou' else 'a'} {what} with {why}. To keep the live {what} and only rename its address, add these lines "
            f"to a manifest file and plan again (nothing is then destroyed or re-created):"
            + BLOCK_START + moved_block(destroy.address, create.address))
    return notes
