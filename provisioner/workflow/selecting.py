"""--target globs, --exclude and -l selectors for one run: the addresses chosen (selection.py) from what the
manifests and the state know, and a plan narrowed to them, refused when an exclusion would break what stays."""
from __future__ import annotations

from typing import Iterable

from ..errors import PlanError, Problem
from ..graph import expand
from ..manifest import Manifest
from ..plan import Action, Plan
from ..planner import WRITE_ONLY_NOTE, shows_write_only
from ..selection import Selection, select
from ..state import State, is_deposed


def known_labels(manifests: Iterable[Manifest], state: State) -> dict[str, dict[str, str]]:
    """Every address the run knows -> its metadata.labels (a state entry without its manifest has none)."""
    labels: dict[str, dict[str, str]] = {a: {} for a in state.resources if not is_deposed(a)}
    for manifest in expand(manifests):
        labels[manifest.address] = dict(getattr(manifest, "labels", None) or {})
    return labels


def choose(manifests: Iterable[Manifest], state: State, *, targets: Iterable[str] = (),
           excludes: Iterable[str] = (), selector: str | None = None) -> Selection:
    targets, excludes = tuple(targets), tuple(excludes)
    if not targets and not excludes and selector is None:
        return Selection()  # nothing narrows the run: every address, without listing them all with their labels
    return select(known_labels(manifests, state), targets=targets, excludes=excludes, selector=selector)


def narrow(plan: Plan, selection: Selection, state: State, selector: str | None = None) -> None:
    """Take the excluded addresses' changes out of `plan` (all of them when the selectors chose nothing), and
    record the selection in it. Refused (PlanError, naming both addresses) when a change that stays needs one
    taken out: a create or update that waits for it, or a delete of an object an excluded one still uses."""
    _take_out(plan, selection, state, selector)
    if WRITE_ONLY_NOTE in plan.notes and not shows_write_only(plan.changes):
        # Written for the whole plan: "No changes." then a note about fields marked (write-only) that it did not show.
        plan.notes.remove(WRITE_ONLY_NOTE)


def _take_out(plan: Plan, selection: Selection, state: State, selector: str | None) -> None:
    plan.selector = selector
    plan.targets_by_selector = selection.by_selector and bool(plan.targets)
    if selection.nothing:
        plan.changes, plan.state_sync = [], []
    excluded = selection.excluded
    plan.excluded = sorted(excluded)
    if not excluded:
        return
    left_out = {c.address: c for c in plan.changes if c.address in excluded}
    kept = [c for c in plan.changes if c.address not in excluded]
    problems = []
    recorded = state.users_of(excluded)
    for change in kept:
        # A plain delete's `depends_on` names what it must go before (what it used, which this plan deletes too:
        # plan_campaigns.py, plan_graph.deleted_before_their_numbers), not what it needs: excluded, that object stays.
        for needed in change.depends_on if change.action is not Action.DELETE else ():
            if needed in left_out:
                problems.append(Problem(
                    f"--exclude {needed}: {change.address} depends on it, and this plan would "
                    f"{_verb(left_out[needed])} {needed} first; exclude {change.address} too, or do not exclude "
                    f"{needed}", address=needed))
        if change.action is Action.DELETE or change.replace:
            # An excluded object stays as it is: pointing at an id this plan deletes would break it.
            users = {u for u, c in left_out.items() if change.address in c.depends_on}
            users |= set(recorded.get(change.address, ()))
            problems += [Problem(f"--exclude {user}: it refers to {change.address}, which this plan would "
                                 f"{_verb(change)}; exclude {change.address} too, or do not exclude {user}",
                                 address=user) for user in sorted(users)]
    if problems:
        raise PlanError(problems)
    plan.changes = kept
    plan.state_sync = [s for s in plan.state_sync if s.address not in excluded]


def _verb(change) -> str:
    if change.replace:
        return "replace"
    return {Action.CREATE: "create", Action.UPDATE: "update", Action.IMPORT: "adopt", Action.DELETE: "delete",
            Action.FORGET: "forget"}[change.action]
