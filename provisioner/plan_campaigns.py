"""A plan never leaves a campaign with an assistant it deletes or makes inbound (API.md "Campaigns").

What the platform does with a campaign whose assistant is deleted or becomes inbound is not documented, so a
client changes or deletes the campaigns that use an assistant before it deletes that assistant or makes it
inbound. The platform does not show which assistant a campaign uses: state's record of what was sent
(`spec.assistant_id`, an id, and `depends_on`, addresses) and the manifests are all there is to go by.

Two cases, for every assistant the plan deletes or makes inbound (`calls_direction: receive`):

1. A campaign that still uses it after the apply (one left as it is, updated, created, adopted, or the new half
   of a replacement; also one this run does not plan: not targeted, or its manifest outside the paths given):
   a plan error naming both. Nothing can be ordered to make that right; the user changes the campaign (another
   outbound assistant: a replacement that deletes leads), removes it, or keeps the assistant.
2. A campaign the plan deletes, or whose replacement destroys the old one, that used it: the walk must destroy
   the campaign before the assistant goes (walk.py, rule 2 and `withdraws`). State's `depends_on` says so when
   the campaign named the assistant by address; otherwise (named by id, or recorded before references were kept)
   a plain delete is given the assistant's address in its `depends_on`, which the walk orders alike (an imported
   campaign whose manifest is gone before any apply recorded its assistant: every such assistant's). A
   replacement's old half cannot be: that one is a plan error that says to apply the campaign's change first.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from .errors import Problem
from .graph import entry_kind
from .manifest import Manifest
from .plan import REF, Action, Change, Plan, is_marker
from .state import DEPOSED, ResourceState
from .walk import state_address

CAMPAIGN = "campaign"
ASSISTANT = "assistant"
FIELD = "assistant_id"


def withdraws(change: Change) -> bool:
    """Whether an assistant's update or adoption makes it inbound (a campaign can no longer call with it)."""
    return (change.kind == ASSISTANT and change.action in (Action.UPDATE, Action.IMPORT)
            and change.body.get("calls_direction") == "receive")


def campaign_problems(plan: Plan, resources: Mapping[str, ResourceState],
                      desired: Mapping[str, tuple[Manifest, dict[str, Any]]]) -> list[Problem]:
    """The module docstring's rules. `desired`: campaign address -> (manifest, fields with references resolved:
    ids or `{"$ref": address}` markers). Plain deletes may get an address added to their `depends_on`."""
    gone: dict[str, str] = {}    # assistant state address -> what the plan does to it
    by_id: dict[int, str] = {}
    for change in plan.changes:
        if change.kind != ASSISTANT:
            continue
        if change.action is Action.DELETE:
            gone[state_address(change.address)] = "deletes"
        elif withdraws(change):
            gone[state_address(change.address)] = "makes inbound"
        else:
            continue
        if change.remote_id is not None:
            by_id[change.remote_id] = state_address(change.address)
    if not gone:
        return []
    changes = {c.address: c for c in plan.changes if c.kind == CAMPAIGN}
    problems: list[Problem] = []
    deferred: dict[str, str] = {}  # a deposed assistant -> the campaign that still uses it
    for address in sorted({*desired, *(a for a, e in resources.items() if entry_kind(a, e) == CAMPAIGN)}):
        change = changes.get(address)
        entry = resources.get(address)
        manifest, fields = desired.get(address, (None, {}))
        if change is not None and change.action is Action.DELETE and _calls_with_unknown(entry, manifest):
            # Which assistant it calls with is not known, so it goes before every one withdrawn: a cost of order
            # alone, where taken as none its delete went after the assistant's.
            change.depends_on = [*change.depends_on, *sorted(set(gone) - set(change.depends_on))]
            continue
        used_now = _used(_recorded_assistant(entry, fields), by_id)
        if change is not None and change.action in (Action.CREATE, Action.IMPORT):
            used_after = _used(fields.get(FIELD), by_id)  # the new (or adopted) campaign: as the manifest says
        elif change is not None and change.action in (Action.DELETE, Action.FORGET):
            used_after = None
        else:
            used_after = used_now  # unchanged (no update can change its assistant): as state recorded it
        if used_after in gone:
            problems.append(_still_used(address, used_after, gone[used_after], manifest))
        if used_now in gone and used_now != used_after and change is not None and entry is not None:
            recorded = {state_address(a) for a in entry.depends_on or ()}
            if used_now in recorded:
                continue  # the walk destroys the campaign first (rule 2)
            if change.action is Action.DELETE:
                if used_now not in change.depends_on:
                    change.depends_on = [*change.depends_on, used_now]
            elif DEPOSED in used_now and used_now.split(DEPOSED, 1)[0] in recorded:
                # The old half of an assistant's replacement that an apply left deposed, which the old campaign
                # (replaced now) still calls with: the walk cannot order its deletion after the campaign's old
                # half (state records the campaign as using the assistant's address, not the deposed row), so it
                # waits for the next apply.
                deferred[used_now] = address
            else:
                problems.append(_unordered(address, used_now, gone[used_now], manifest))
    if deferred and not problems:
        plan.changes = [c for c in plan.changes if not (c.kind == ASSISTANT and c.action is Action.DELETE
                                                        and state_address(c.address) in deferred)]
        plan.notes += [f"{old} (the old half of an interrupted replacement) is destroyed by the next apply, once "
                       f"{campaign} no longer calls with it" for old, campaign in sorted(deferred.items())]
    return problems


def _recorded_assistant(entry: ResourceState | None, fields: Mapping[str, Any]) -> Any:
    """The `assistant_id` the campaign in state was made with: as its last apply sent it, or, for one imported and
    never applied (no spec: the platform does not show it), as the manifest it was imported for names it. Taken as
    none, an imported campaign naming its assistant by id was deleted after the assistant it calls with."""
    if entry is None:
        return None
    return entry.spec.get(FIELD) if entry.spec is not None else fields.get(FIELD)


def _calls_with_unknown(entry: ResourceState | None, manifest: Manifest | None) -> bool:
    """Whether nothing says which assistant the campaign in state calls with: imported (no spec) and its manifest
    gone too before any apply recorded one."""
    return entry is not None and entry.spec is None and manifest is None


def _used(value: Any, by_id: Mapping[int, str]) -> str | None:
    """The assistant (state address) among those withdrawn that a campaign's `assistant_id` names, if any."""
    if is_marker(value):
        return state_address(value[REF])
    if isinstance(value, int) and not isinstance(value, bool):
        return by_id.get(value)
    return None


def _where(manifest: Manifest | None) -> dict[str, Any]:
    if manifest is None:
        return {}
    return {"location": manifest.location("spec", FIELD), "field": f"spec.{FIELD}"}


def _still_used(campaign: str, assistant: str, does: str, manifest: Manifest | None) -> Problem:
    what = "deleted" if does == "deletes" else "inbound"
    return Problem(f"this plan {does} assistant {assistant}, which {campaign} calls with: the platform would be left "
                   f"with a campaign whose assistant is {what} (API.md: change or delete a campaign before its "
                   "assistant goes). Give the campaign another outbound assistant (a replacement: deletes leads), "
                   "remove its manifest (deletes it and its leads), or keep the assistant as it is",
                   address=campaign, **_where(manifest))


def _unordered(campaign: str, assistant: str, does: str, manifest: Manifest | None) -> Problem:
    return Problem(f"this plan replaces {campaign}, whose old campaign calls with assistant {assistant}, and "
                   f"{does} that assistant; state does not record that the campaign uses it (it names the "
                   "assistant by id, or was applied before references were recorded), so the order cannot be "
                   f"guaranteed. Apply the campaign's change first (`provisioner apply --target {campaign}`), then "
                   "the rest", address=campaign, **_where(manifest))


def campaign_manifests(manifests: Iterable[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.kind == CAMPAIGN]
