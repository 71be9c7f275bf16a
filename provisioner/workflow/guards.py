"""A plan's safety checks: state entries whose manifests lie outside the paths given, mass destroys, most of the
state gone from the platform, and replacements that lose data."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..errors import PlanError, Problem, ProvisionerError
from ..manifest import Manifest, is_hidden
from ..plan import MASS_DESTROY_MIN, MASS_DESTROY_SHARE, Action, Plan
from ..render.text import covered
from ..state import State


def left_alone(state: State, manifests: list[Manifest], paths: list[str], root: str = ".",
               elsewhere: Mapping[str, str] | None = None) -> dict[str, str]:
    """address -> source file, for the state entries without a manifest in this run whose manifest file still
    exists but is not under any path given: a narrower path list plans a part, it does not remove the rest.
    (A file that was given but no longer holds the document, or that is gone, is a real removal.) A recorded file
    is relative to the project's `root` (the folder of provisioner.yaml); one recorded by an earlier version, from
    the folder a run started in, is looked for from this run's folder too. `elsewhere` (address -> file): the
    manifests of the project's files not given (workflow.manifests.validate); an entry one of them names is left
    alone whatever file state recorded (shown with that one when it still exists outside the paths), a document with
    its knowledge base: a moved block may have taken it there (moved from a given file, it was destroyed), or its
    manifest moved to another file."""
    loaded = {m.address for m in manifests}
    given = [Path(p).resolve() for p in paths]
    elsewhere = {} if elsewhere is None else elsewhere  # not `or`: asking its length reads it (Elsewhere)
    kept = {}
    outside: dict[str, bool] = {}  # source -> whether it is a file under none of the paths (asked once per file)
    for address, entry in state.resources.items():
        if address in loaded:
            continue
        if entry.source and entry.source not in outside:
            found = [c for c in (Path(root) / entry.source, Path(entry.source)) if c.is_file()]
            resolved = found[0].resolve() if found else None
            outside[entry.source] = resolved is not None and not any(resolved == g or (
                g in resolved.parents and not _hidden_below(resolved, g)) for g in given)
        if entry.source and outside[entry.source]:
            kept[address] = entry.source
            continue
        # Asked last: answering means reading every file of the project that the run was not given (Elsewhere).
        found = elsewhere.get(address) or (elsewhere.get(address.rsplit(".", 1)[0]) if address.count(".") == 2
                                           else None)
        if found:
            kept[address] = found
    return kept


def _hidden_below(file: Path, folder: Path) -> bool:
    """Whether a folder search of `folder` leaves `file` out for a hidden name on the way (find_manifest_files):
    such a file was not among the files given either, so what it declares is left alone, not destroyed (a project
    whose manifests were read from a hidden folder before hidden names were left out keeps them)."""
    return any(map(is_hidden, file.relative_to(folder).parts))


def refuse_breaking_left_alone(plan: Plan, state: State, kept: dict[str, str]) -> None:
    """A plan given narrower paths deletes or replaces nothing that an entry it leaves alone (`left_alone`) uses,
    as state recorded it (`depends_on`): that object stays as it is, pointing at an id the apply deletes (an
    assistant calling a tool that no longer exists). The same rule as for an excluded object (selecting.narrow)."""
    problems = []
    recorded = state.users_of(kept)
    for change in plan.changes:
        if change.action is not Action.DELETE and not change.replace:
            continue
        users = sorted(recorded.get(change.address, ()))
        verb = "replace" if change.replace else "delete"
        problems += [Problem(f"{user} refers to {change.address}, which this plan would {verb}, but its manifest "
                             f"({kept[user]}) is not among the paths given, so it is left alone and would keep "
                             f"the old id; give its file too (it then takes the new id or says what is missing)",
                             address=user) for user in users]
    if problems:
        raise PlanError(problems)


def refuse_mass_destroy(plan: Plan, allowed: bool) -> None:
    """apply's guard: a plan that destroys most of the state needs --allow-mass-destroy (or a plan made with it)."""
    if plan.mass_destroy and not (allowed or plan.allow_mass_destroy):
        raise ProvisionerError(
            f"this plan destroys {plan.counts['destroy']} of the {plan.managed_count} objects in state "
            f"(more than {MASS_DESTROY_SHARE:.0%}, and at least {MASS_DESTROY_MIN}); nothing was changed. That is "
            "more often a wrong path or a broken checkout than a wish: check the paths, use --target to change a "
            "part, or pass --allow-mass-destroy if you mean it (`provisioner destroy` destroys everything)")


def refuse_mass_forget(plan: Plan, allowed: bool) -> None:
    """apply's and destroy's guard, beside refuse_mass_destroy: a plan that finds most of the state gone from the
    platform (to be made again, adopted by name, or forgotten) needs --allow-mass-forget (or a plan made with it),
    as refresh does before it forgets them."""
    if plan.mass_forget and not (allowed or plan.allow_mass_forget):
        # A destroy plan makes nothing: it forgets them, and the real ones stay on the platform, unmanaged.
        outcome = ("destroying would forget them, leaving the real ones on the platform unmanaged" if plan.destroy
                   else "applying would make them again there and drop the ids of the real ones from state")
        # --local's platform lives in a file beside the state: removed (to start afresh), it reads the same.
        check = ("Was the local platform's file (local-platform.db, beside the state) removed? Remove the state "
                 "too to start afresh" if plan.platform == "local" else "Check PROVISIONER_API_TOKEN and --api-url")
        # (Not a run of this state stopped with its deletes on the wire: it marked them first, and its re-run does
        # not count them, plan.count_vanished.)
        raise ProvisionerError(
            f"this plan finds {plan.vanished} of the {covered(plan)} gone from the platform's "
            f"lists; nothing was changed. Another account's token, or another platform's URL, reads like that: "
            f"{outcome}. {check}; if they really were deleted on the platform, pass --allow-mass-forget")


def refuse_lossy_replacements(plan: Plan, allowed: bool) -> None:
    """apply's guard, beside refuse_mass_destroy (before anything is asked or written): a replacement that loses
    what the platform cannot give back (a campaign's leads) needs --allow-replace."""
    from ..apply import refuse_lossy_replacements as refuse, registered_kinds  # the engine, loaded when applying

    refuse(plan, registered_kinds(), allowed)
