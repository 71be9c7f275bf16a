"""plan, apply and destroy: compute the plan, show it, ask, apply it with progress, and choose the exit code."""
from __future__ import annotations

import signal
import sys
import threading

import click

from .. import render
from ..errors import ProvisionerError
from ..heap import collect_from_now_on
from ..plan import Plan
from ..progress import Progress, stdout_styled
from ..ratelimit import describe
from ..scrub import scrub
from ..workflow.guards import refuse_lossy_replacements, refuse_mass_destroy, refuse_mass_forget
from ..workflow.manifests import Elsewhere, manifests_or_empty, validate
from ..workflow.policies import checked_plan, rules_of
from ..workflow.plan_file import check_plan_workspace, is_plan_file, read_plan_file, write_plan_file
from ..workflow.session import Session, check_selection_syntax
from ..state.sql import store_scope
from ..workflow.settings import DEFAULT_STATE_PATH
from .options import (HELP, chosen_format, config_options, format_options, manifest_options, platform_options,
                      policy_option, selection_options, variable_options)
from .run import (EXIT_CHANGES, EXIT_ERROR, EXIT_OK, confirm, echo_plan, reports_errors, settings_from,
                  settings_paths)


@click.command("plan")
@click.argument("paths", nargs=-1)
@format_options()
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none, 1 on error.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan for `apply FILE`.")
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--destroy", is_flag=True, help="Plan destroying everything the state manages.")
@selection_options
@click.option("--replace", "replace", multiple=True, metavar="ADDRESS", help=HELP["--replace"])
@click.option("--allow-empty", is_flag=True,
              help=HELP["--allow-empty"])
@click.option("--allow-mass-destroy", is_flag=True, help=HELP["--allow-mass-destroy"])
@click.option("--allow-mass-forget", is_flag=True, help=HELP["--allow-mass-forget"])
@click.option("--lock", type=click.BOOL, default=True, show_default=True, help=HELP["--lock"])
@click.option("--read-documents", is_flag=True, help=HELP["--read-documents"])
@platform_options
@config_options
@variable_options
@manifest_options
@policy_option
@reports_errors
def plan_command(paths, fmt, as_json, *args, **kwargs) -> None:
    """Show what apply would do: create (+), update (~), destroy (-), import (<=)."""
    try:
        _plan(paths, fmt, as_json, *args, **kwargs)
    except (ProvisionerError, RecursionError) as error:
        if chosen_format(fmt, as_json) == "markdown":
            # The pull request's comment (docs/ci.md) says the plan failed: with nothing on stdout, the comment of the
            # last plan, which no longer holds, stayed up for a reviewer to approve.
            click.echo(scrub(_failed_plan_comment(kwargs, error)), nl=False)
        raise


def _failed_plan_comment(kwargs: dict, error: BaseException) -> str:
    """The markdown view of a failed plan, under its workspace's marker (the plain one if the settings themselves
    cannot be read), with the error as reports_errors prints it."""
    message = "Error: input nested too deeply to process" if isinstance(error, RecursionError) else f"Error: {error}"
    # Scrubbed whole before the comment cuts it: a secret the cut splits is no longer the text scrub masks.
    message = scrub(message)
    try:
        settings = settings_from(dict(kwargs))
        project, workspace = store_scope(settings.state_path, settings.project, settings.workspace)
    except (ProvisionerError, RecursionError, OSError):
        project = workspace = None
    return render.failed_plan_markdown(project, workspace, message)


def _plan(paths, fmt, as_json, detailed_exitcode, out_file, targets, destroy, allow_empty, allow_mass_destroy,
          allow_mass_forget, excludes=(), selector=None, replace=(), read_documents=False, **kwargs) -> None:
    settings = settings_from(kwargs)
    settings.read_documents = read_documents
    paths = settings_paths(paths, settings)
    dialect, inputs, limits = settings.api_dialect, settings.inputs, settings.manifest_limits
    check_selection_syntax(targets, selector, excludes, replace)
    moves: list = []  # moved blocks (moves.py)
    elsewhere = Elsewhere()  # the manifests of the project's files not among the paths: left alone
    rules = rules_of(settings.config)  # a broken policy stops the run before the session reads the platform
    manifests = (manifests_or_empty(paths, dialect, inputs, limits, moves=moves) if destroy
                 else validate(paths, dialect, inputs, limits, moves=moves, elsewhere=elsewhere))
    with Session(settings, "plan", prefetch=bool(manifests) or destroy,
                 planning=None if destroy else manifests) as session:
        plan, _ = session.plan(manifests, destroy=destroy, targets=targets, paths=paths, allow_empty=allow_empty,
                               allow_mass_destroy=allow_mass_destroy, allow_mass_forget=allow_mass_forget,
                               moves=moves, excludes=excludes, elsewhere=elsewhere,
                               selector=selector, replace=replace)
        denied = checked_plan(plan, manifests, settings, session, rules)
    if denied:  # shown in the chosen view (one JSON document), then the reason on stderr; no plan file is written
        echo_plan(plan, chosen_format(fmt, as_json), styled=stdout_styled())
        click.secho(scrub(f"Error: {denied}"), fg="red", err=True)
        sys.exit(EXIT_ERROR)
    if out_file:
        write_plan_file(plan, out_file)
    fmt = chosen_format(fmt, as_json)
    echo_plan(plan, fmt, styled=stdout_styled())
    if out_file and fmt == "text":
        where = (" --local" if settings.local else "") + (
            f" --state {settings.state_path}" if settings.state_path != DEFAULT_STATE_PATH else "") + (
            f" --backend {settings.backend}" if settings.backend != "sqlite" else "") + (
            f" --workspace {settings.workspace}" if settings.workspace not in (None, "default") else "")
        click.echo(f"\nSaved the plan to {out_file}. To perform exactly these actions, run:\n"
                   f"  provisioner apply{where} {out_file}")
    sys.exit(EXIT_CHANGES if detailed_exitcode and plan.has_changes else EXIT_OK)


def _run_apply(session: Session, plan: Plan, known_ids: set[int], verb: str = "Apply") -> None:
    """Apply with one line per finished change (and a live progress bar on a terminal); exit code."""
    # Ctrl-C, and SIGTERM (how a pipeline cancels), start nothing new and let the changes in flight finish and be
    # recorded: the handler only sets an event the apply looks at between results, so the signal never lands in
    # the middle of its bookkeeping. What is left then is requests on the wire, each bounded by --request-timeout,
    # whose outcome the state must learn: a second signal says so and how to stop at once (a kill: the next apply
    # finds what they made), rather than stopping the run halfway through recording them.
    interrupt = threading.Event()

    budget = session.client.budget
    timeout = session.client.retry.timeout

    def on_signal(signum, frame) -> None:
        again = interrupt.is_set()
        interrupt.set()
        budget.cancel()  # at once: a change waiting for the rate budget has sent nothing, and must not now
        # Said at once, whatever the apply is waiting for (a slow request, the rate budget).
        try:
            if again:
                click.secho("Still finishing the requests on the wire, so that each is recorded (at most "
                            f"{timeout:g}s, --request-timeout). To stop at once, press Ctrl-\\ or kill the process: the next "
                            "apply finds on the platform what they made.", fg="red", err=True)
            else:
                click.secho("\nInterrupt received: sending nothing new; finishing the changes in flight...",
                            fg="red", err=True)
        except (RuntimeError, OSError, ValueError):  # stderr busy or closed: the apply's own report follows
            pass

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
    collect_from_now_on()
    expected = budget.expected_seconds(len(plan.changes))
    if expected >= 30:
        click.echo(f"Rate budget {describe(budget.windows)}: {len(plan.changes)} change(s) take at least "
                   f"{_minutes(expected)} at the platform's pace.")
    try:
        with Progress(len(plan.changes), enabled=sys.stdout.isatty()) as progress:
            report = session.apply(plan, known_ids, on_result=progress.finished, on_start=progress.started,
                                   interrupt=interrupt)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    click.echo()
    if report.halted or report.interrupted:
        reported = {r.change.address for r in report.results if not r.skipped}
        not_started = [c.address for c in plan.changes if c.address not in reported]
        listed = f": {_listed(not_started)}" if not_started else ""
        done = sum(1 for r in report.results if r.ok)
        if report.halted:
            click.secho(f"Stopped: {report.halted}; changes in flight were finished; {done} done and recorded, "
                        f"{len(not_started)} not started{listed}.", fg="red", err=True)
        else:
            click.secho(f"Interrupted: changes in flight were finished; {done} done and recorded, "
                        f"{len(not_started)} not started (nothing was sent for them){listed}.", fg="red", err=True)
    click.echo(render.apply_summary(report, verb))
    # Spent past --retry-max-time (the Stopped line says until when): verify's reads could not be sent either.
    spent = session.client.rate_limit_spent is not None
    verified = _verify(session, report) if session.settings.verify and not report.interrupted and not spent else True
    if report.failed:
        done = sum(1 for r in report.results if r.ok)
        # Not "nothing was applied": a failed replacement may have made its new half (recorded in state beside
        # the old one, deposed) before its other half failed.
        others = (f"the {done} other(s) were applied and recorded in state" if done
                  else "no change completed (what a failed one may have made on the platform, such as a "
                       "replacement's new half, is in state or found by the next plan, which shows what is left)")
        click.secho(f"{len(report.failed)} change(s) failed; {others}. Fix the cause and run apply again.",
                    fg="red", err=True)
    if not report.ok or not verified:
        sys.exit(EXIT_ERROR)


def _verify(session: Session, report) -> bool:
    """Read back what the apply changed (docs/apply.md, Verify); False when a field did not stick."""
    verification = session.verify(report)
    if not verification.reads:
        return True
    for mismatch in verification.mismatches:
        click.secho(scrub(f"Verify: {mismatch.line()}"), fg="red", err=True)
    for address in verification.missing:
        click.secho(f"Verify: {address}: the platform's list no longer shows it", fg="red", err=True)
    if verification.ok:
        click.echo(f"Verified: the platform shows every field sent to the {verification.checked} object(s) changed "
                   f"({verification.reads} list read(s)).")
        return True
    if verification.mismatches:
        click.secho(f"Verify failed: {len(verification.mismatches)} field(s) did not stick. The platform answered "
                    "success but kept other values; state records what it holds, so the next plan shows the "
                    "difference again.", fg="red", err=True)
    if verification.missing:
        click.secho(f"Verify failed: {len(verification.missing)} object(s) the apply changed are not in the "
                    "platform's list read just after (deleted meanwhile, or a list that leaves them out); the next "
                    "plan reads the platform again and shows what it finds.", fg="red", err=True)
    return False


def _listed(addresses: list[str], limit: int = 10) -> str:
    return ", ".join(addresses[:limit]) + (f" and {len(addresses) - limit} more" if len(addresses) > limit else "")


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def _show(plan: Plan) -> None:
    """The plan's text, plain where echo would strip the colours anyway (a fleet's plan is megabytes: styling it
    only to strip it again cost more than writing it), scrubbed as `plan` scrubs it (scrub.py: a registered
    secret a manifest's value happens to hold, a secret-looking query parameter)."""
    click.echo(scrub(render.plan_text(plan, styled=stdout_styled())))


def _review_and_apply(session: Session, plan: Plan, known_ids: set[int], auto_approve: bool, question: str,
                      verb: str) -> None:
    """Show the plan, ask (unless --auto-approve), apply. With no changes, only refresh state records."""
    _show(plan)
    refuse_mass_destroy(plan, False)  # after showing it: the refusal names what it would have destroyed
    refuse_mass_forget(plan, False)  # the session was given --allow-mass-forget: the plan carries it
    refuse_lossy_replacements(plan, session.settings.allow_replace)  # before asking: a "yes" must not be wasted
    if not plan.has_changes:
        if plan.state_sync:
            session.apply(plan, known_ids)
        return
    if not auto_approve and not confirm(question):
        click.secho(f"{verb} cancelled. Nothing was changed.", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    _run_apply(session, plan, known_ids, verb)


@click.command("apply")
@click.argument("paths", nargs=-1, metavar="[PATHS]... | PLANFILE")
@click.option("--auto-approve", is_flag=True, help=HELP["--auto-approve"])
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
              help=HELP["--parallelism"])
@click.option("--allow-empty", is_flag=True,
              help=HELP["--allow-empty"])
@click.option("--allow-mass-destroy", is_flag=True, help=HELP["--allow-mass-destroy"])
@click.option("--allow-mass-forget", is_flag=True, help=HELP["--allow-mass-forget"])
@click.option("--allow-replace", is_flag=True, help=HELP["--allow-replace"])
@selection_options
@click.option("--replace", "replace", multiple=True, metavar="ADDRESS", help=HELP["--replace"])
@click.option("--no-verify", "no_verify", is_flag=True, help=HELP["--no-verify"])
@click.option("--read-documents", is_flag=True, help=HELP["--read-documents"])
@platform_options
@config_options
@variable_options
@manifest_options
@policy_option
@reports_errors
def apply_command(paths, auto_approve, targets, parallelism, allow_empty, allow_mass_destroy, allow_mass_forget,
                  allow_replace, excludes=(), selector=None, replace=(), no_verify=False, read_documents=False,
                  **kwargs) -> None:
    """Make the platform match the manifests (or perform a saved plan: apply PLANFILE)."""
    settings = settings_from(kwargs, parallelism)
    settings.read_documents = read_documents
    settings.allow_replace = allow_replace
    settings.verify = not no_verify
    if len(paths) == 1 and is_plan_file(paths[0]):
        if targets or excludes or selector or replace:
            raise ProvisionerError("a saved plan carries the selection it was made with (--target, --exclude, -l, "
                                   "--replace); apply it without them (or make a new plan with them)")
        if settings.inputs is not None and (settings.inputs.vars or settings.inputs.var_files):
            raise ProvisionerError("a saved plan carries the variables it was made with; apply it without "
                                   "--var and --var-file (or make a new plan with them)")
        plan = read_plan_file(paths[0])
        check_plan_workspace(plan, settings)  # before the state: another workspace has another state
        rules = rules_of(settings.config)  # a broken policy stops the run before the session reads the platform
        with Session(settings, "apply") as session:
            known_ids = session.check_saved_plan(plan)
            # Today's policies too: one added or changed since `plan --out` is not skipped. Checked before the plan
            # is shown, so that its view ends with their results, warnings included, as apply's does.
            denied = checked_plan(plan, None, settings, session, rules)
            _show(plan)
            refuse_mass_destroy(plan, allow_mass_destroy)
            refuse_mass_forget(plan, allow_mass_forget)
            refuse_lossy_replacements(plan, allow_replace)
            if denied:
                raise ProvisionerError(denied)
            if plan.has_changes or plan.state_sync:
                _run_apply(session, plan, known_ids)
        return
    paths = settings_paths(paths, settings)
    check_selection_syntax(targets, selector, excludes, replace)
    moves: list = []  # moved blocks (moves.py)
    elsewhere = Elsewhere()  # the manifests of the project's files not among the paths: left alone
    rules = rules_of(settings.config)  # a broken policy stops the run before the session reads the platform
    manifests = validate(paths, settings.api_dialect, settings.inputs, settings.manifest_limits, moves=moves,
                         elsewhere=elsewhere)
    # Without manifests there is nothing to record (refused unless --allow-empty, which then destroys only what a
    # store holds): no store is made for it.
    with Session(settings, "apply", prefetch=bool(manifests), planning=manifests,
                 create_store=bool(manifests)) as session:
        plan, known_ids = session.plan(manifests, targets=targets, paths=paths, allow_empty=allow_empty,
                                       allow_mass_destroy=allow_mass_destroy, allow_mass_forget=allow_mass_forget,
                                       moves=moves, elsewhere=elsewhere,
                                       excludes=excludes, selector=selector, replace=replace)
        denied = checked_plan(plan, manifests, settings, session, rules)
        if denied:  # before asking, before any write
            _show(plan)
            raise ProvisionerError(denied)
        _review_and_apply(session, plan, known_ids, auto_approve, "Do you want to perform these actions?", "Apply")


@click.command("destroy")
@click.argument("paths", nargs=-1)
@click.option("--auto-approve", is_flag=True, help=HELP["--auto-approve"])
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
              help=HELP["--parallelism"])
@click.option("--allow-mass-forget", is_flag=True, help=HELP["--allow-mass-forget"])
@selection_options
@platform_options
@config_options
@variable_options
@manifest_options
@policy_option
@reports_errors
def destroy_command(paths, auto_approve, targets, parallelism, allow_mass_forget=False, excludes=(), selector=None,
                    **kwargs) -> None:
    """Delete every object the state manages, of every kind (protected ones stop the run unless excluded)."""
    settings = settings_from(kwargs, parallelism)
    paths = settings_paths(paths, settings)
    rules = rules_of(settings.config)  # a broken policy stops the run before the session reads the platform
    moves: list = []  # moved blocks (moves.py): a target is the address its manifest has now
    manifests = manifests_or_empty(paths, settings.api_dialect, settings.inputs, settings.manifest_limits,
                                   moves=moves)
    with Session(settings, "destroy") as session:
        plan, known_ids = session.plan(manifests, destroy=True, targets=targets, paths=paths, excludes=excludes,
                                       selector=selector, moves=moves, allow_mass_forget=allow_mass_forget)
        denied = checked_plan(plan, manifests, settings, session, rules)  # as `plan --destroy` checks it
        if denied:  # before asking, before any write
            _show(plan)
            raise ProvisionerError(denied)
        _review_and_apply(session, plan, known_ids, auto_approve,
                          "Do you really want to destroy these objects? There is no undo.", "Destroy")
