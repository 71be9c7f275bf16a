""""This looks like a rename": a plan that destroys one address and creates another whose object would be the same
(same kind, and the same name on the platform or the same spec) says so, with the moved block that keeps the live
object instead (moves.py), so a reviewer does not approve a destroy and re-create of a live assistant by mistake.

Pure: it reads the plan and the state the plan was made from.
"""
from __future__ import annotations

from .kinds import ASSISTANT, KINDS
from .manifest import API_VERSION
from .moves import MOVED_KIND
from .plan import Action, Change, Plan

# Separates a hint's sentence from the YAML lines to add (the markdown view puts them in a code block).
BLOCK_START = "\n---\n"


def moved_block(source: str, target: str) -> str:
    """The YAML lines of a moved block, as a manifest file holds them."""
    return f"apiVersion: {API_VERSION}\nkind: {MOVED_KIND}\nspec:\n  from: {source}\n  to: {target}"


def rename_pairs(plan: Plan, state) -> list[tuple[Change, Change, str]]:
    """(destroy, create, why) for each destroyed address whose object a created one would be: the same kind, and
    the same name on the platform, else the same spec as state last applied. Each change pairs at most once."""
    destroys = [c for c in plan.changes if c.action is Action.DELETE and not c.replace]
    creates = [c for c in plan.changes if c.action is Action.CREATE and not c.replace]
    if not destroys or not creates:
        return []
    pairs: list[tuple[Change, Change, str]] = []
    taken: set[str] = set()
    for destroy in destroys:
        entry = state.resources.get(destroy.address)
        same_kind = [c for c in creates if c.kind == destroy.kind and c.address not in taken]
        match = next((c for c in same_kind if destroy.assistant_name and c.assistant_name == destroy.assistant_name),
                     None)
        why = f"the same name on the platform ({destroy.assistant_name!r})"
        if match is None and entry is not None and entry.spec:
            match = next((c for c in same_kind if (c.record or {}).get("spec") == entry.spec), None)
            why = "the same spec"
        if match is not None:
            taken.add(match.address)
            pairs.append((destroy, match, why))
    return pairs


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
