"""Policies in a run: where they are, which objects they see (offline for validate, with the planned actions
for plan and apply), and the report attached to the plan before anything is written."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable

from ..errors import ProblemsError, ProvisionerError
from ..graph import expand
from ..json_text import holds
from ..manifest import Manifest
from ..overlays import POLICIES_DIR
from ..plan import Action, Plan, is_marker
from ..render.policies import printable
from .plan_file import plan_manifests

if TYPE_CHECKING:
    from ..policy import PolicyReport, Rule, Subject

DEFAULT_POLICY_DIR = POLICIES_DIR  # beside provisioner.yaml; never read as manifests (overlays.final_documents)


class PolicyError(ProblemsError):
    summary = "policy errors"


def policy_paths(given: Iterable[str] = (), config=None) -> list[str]:
    """--policy-dir, else the configuration's `policies`, else policies/ beside provisioner.yaml."""
    given = list(given or ())
    if given:
        return given
    if config is not None and getattr(config, "policies", None):
        return list(config.policies)
    root = os.path.dirname(config.config_file) if config is not None and config.config_file else ""
    return [os.path.join(root, DEFAULT_POLICY_DIR) if root else DEFAULT_POLICY_DIR]


def rules_of(config) -> list[Rule]:
    """The policies a run checks: the paths --policy-dir or `policies` names (each must be there: a mistyped one
    would silently check nothing), else policies/ beside provisioner.yaml if it is there."""
    paths = policy_paths((), config)
    named = config is not None and bool(getattr(config, "policies", None))
    missing = [p for p in paths if not os.path.exists(p)] if named else []
    if missing:
        raise ProvisionerError(f"no policies at {', '.join(missing)} (--policy-dir or `policies` in "
                               "provisioner.yaml): a policy path that is not there would check nothing; fix the "
                               "path, or leave it out to use policies/ beside provisioner.yaml")
    return load_rules(paths)


def load_rules(paths: list[str]) -> list[Rule]:
    if not any(os.path.exists(p) for p in paths):
        return []  # no policies (load_policies says the same): the policy engine is not even imported
    from ..policy import load_policies  # a run without policies never loads the CEL engine

    rules, problems = load_policies(paths)
    if problems:
        raise PolicyError(problems)
    return rules


def _subject(manifest: Manifest, action: str | None, old=None) -> Subject:
    from ..policy import Subject
    from ..policy.objects import view

    return Subject(manifest.address, manifest.kind, manifest.labels, manifest.location(), view(manifest),
                   manifest.sensitive, action, old)


def check_offline(rules: list[Rule], manifests: list[Manifest], workspace: str | None) -> PolicyReport:
    """validate: every object, no action (rules that name actions wait for plan)."""
    from ..policy import check

    return check(rules, (_subject(m, None) for m in expand(manifests)), workspace, offline=True)


def check_plan(rules: list[Rule], plan: Plan, manifests: list[Manifest], workspace: str | None,
               state_specs: dict | None = None, saved: bool = False) -> PolicyReport:
    """Every object of the manifests with its planned action (none when unchanged), and every planned delete;
    the report is attached to the plan (`plan.policies`) for its views. `saved`: the plan was saved, and the
    manifests are read again at its apply: each object is checked as the plan will send it (its change's values
    over the manifest's, which may have changed since), a change whose manifest is gone as its change says."""
    from ..policy import Subject, check
    from ..policy.objects import old_view, state_view, view

    changes = {c.address: c for c in plan.changes}
    subjects = []
    written = {}   # address -> manifest: a delete's labels and place when its manifest is still there (destroy)
    for manifest in expand(manifests):
        written[manifest.address] = manifest
        change = changes.get(manifest.address)
        if change is None:
            subjects.append(_subject(manifest, "none"))
            continue
        action = change.action.value
        if change.action in (Action.DELETE, Action.FORGET):
            continue  # a destroy plan's: the object is not applied; deletes are checked below
        seen = _as_sent(view(manifest), change, manifest.sensitive) if saved else view(manifest)
        old = old_view(seen, change) if change.action in (Action.UPDATE, Action.IMPORT) else None
        subjects.append(Subject(manifest.address, manifest.kind, manifest.labels, manifest.location(), seen,
                                manifest.sensitive, action, old))
    for change in plan.changes if saved else ():
        if change.address not in written and change.action in (Action.CREATE, Action.UPDATE, Action.IMPORT):
            shown = state_view(change.kind, change.address, change.assistant_name, change.body)
            subjects.append(Subject(change.address, change.kind, {}, None, shown, frozenset(change.sensitive or ()),
                                    change.action.value))
    for change in plan.changes:
        # A -/+ replacement deletes the object on the platform (a campaign's leads with it): a rule on deletes
        # sees it as one, beside the create of its new object.
        if change.action is Action.DELETE or change.replace:
            spec = (state_specs or {}).get(change.address)
            # State keeps no labels: a delete has its manifest's (a destroy's, a replacement's), so that a rule
            # matching labels (`tier: critical`, actions [delete]) sees it; none when the manifest is gone.
            manifest = written.get(change.address)
            labels = manifest.labels if manifest is not None else {}
            old = state_view(change.kind, change.address, change.assistant_name, spec, labels)
            subjects.append(Subject(change.address, change.kind, labels,
                                    manifest.location() if manifest is not None else None, None, frozenset(),
                                    "delete", old))
    report = check(rules, subjects, workspace)
    plan.policies = report.to_dict()
    return report


def _as_sent(seen: dict, change, sensitive: frozenset[str]) -> dict:
    """A view with the values the change will send in place of the manifest's (a saved plan's manifests may have
    changed since it was made). Sensitive values are the manifest's own (the saved plan was refused if they no
    longer match), and a reference still to resolve (a marker) is the manifest's address."""
    spec = dict(seen["spec"])
    for name, value in (change.body or {}).items():
        if name in spec and name not in sensitive and not holds(value, is_marker):
            spec[name] = value
    return dict(seen, spec=spec)


def blocking_message(report: PolicyReport) -> str:
    """What stops the run: every deny and every policy that could not be evaluated, each with both places."""
    lines = []
    for violation in report.denied:
        where = f"{violation.location}: " if violation.location else ""
        lines.append(f"  {where}{violation.address}: denied by {violation.rule.id} ({violation.rule.location}): "
                     f"{printable(violation.message)}")
    for error in report.errors:
        lines.append(f"  {printable(str(error))}")
    count = len(report.denied)
    head = []
    if count:
        head.append(f"{count} policy violation(s) deny this run")
    if report.errors:
        head.append(f"{len(report.errors)} policy rule(s) could not be evaluated (an error, never a pass)")
    return "; ".join(head) + "; nothing was written:\n" + "\n".join(lines)


def checked_plan(plan: Plan, manifests: list[Manifest] | None, settings, session,
                 rules: list[Rule] | None = None) -> str | None:
    """Check the plan against the repository's policies (none: nothing to do); the message that stops the run,
    or None. Policy documents that are wrong stop it too (PolicyError). `manifests` None: a saved plan's,
    read again from where the plan read them (a policy added or changed since `plan --out` still applies).
    `rules`: the policies as the command loaded them before its session opened (rules_of), so that a broken one
    stops the run before any request; None to load them here."""
    config = settings.config
    rules = rules_of(config) if rules is None else rules
    if not rules:
        return None
    saved = manifests is None
    if saved:
        manifests = plan_manifests(plan, settings)
    workspace = config.workspace if config is not None else settings.workspace
    specs = {address: entry.spec for address, entry in session.state.resources.items()}
    report = check_plan(rules, plan, manifests, workspace, specs, saved=saved)
    return blocking_message(report) if report.blocks else None
