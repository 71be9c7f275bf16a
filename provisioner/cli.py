"""The command line: parse arguments, call the core (workflow.py), render, choose the exit code."""
from __future__ import annotations

import functools
import json
import re
import signal
import sys
from typing import Callable

import click

from . import __version__, render
from .client import RetryPolicy
from .errors import ProblemsError, ProvisionerError
from .plan import Plan
from .ratelimit import describe, parse_rate_limit
from .spec import DEFAULT_DIALECT, DIALECTS
from .workflow import (DEFAULT_STATE_PATH, Session, Settings, describe_entry, export, import_assistant, is_plan_file,
                       manifests_or_empty, read_plan_file, refresh, state_move, state_remove, validate,
                       write_plan_file)

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
DEFAULT_PATHS = ("manifests",)


def duration(text: str) -> float:
    """'30', '30s', '2m', '1h' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", str(text))
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 2m or 1h")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


dialect_option = click.option(
    "--api-dialect", "api_dialect", envvar="PROVISIONER_API_DIALECT", default=DEFAULT_DIALECT, show_default=True,
    type=click.Choice(DIALECTS), help="The platform's create dialect: v1 (the seed's) or v2 (the current one, "
                                      "with dualplex, tools, ...) [env PROVISIONER_API_DIALECT].")


def rate_limit_windows(text: str | None):
    if text is None:
        return None
    try:
        return parse_rate_limit(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--rate-limit") from None


def platform_options(command: Callable) -> Callable:
    """Options of every command that reads or writes state and talks to the platform."""
    options = [
        *store_options(),
        click.option("--local", is_flag=True,
                     help="Use the embedded local platform (an emulator persisted under the state's folder)."),
        click.option("--api-url", envvar="PROVISIONER_API_URL", help="Platform base URL [env PROVISIONER_API_URL]."),
        click.option("--token-file", type=click.Path(dir_okay=False),
                     help="File holding the API token (else env PROVISIONER_API_TOKEN)."),
        click.option("--lock-timeout", default="0s", show_default=True, help="How long to wait for a held lock."),
        click.option("--max-retries", default=10, show_default=True, type=click.IntRange(1, 100),
                     help="Attempts per request on 5xx and network errors (429s wait, bounded by time)."),
        click.option("--retry-max-time", default="120s", show_default=True,
                     help="Give up retrying a request after this long."),
        click.option("--retry-backoff", default="0.5s", show_default=True,
                     help="First backoff between attempts; doubles each time (with jitter, at most 15s)."),
        click.option("--request-timeout", default="30s", show_default=True,
                     help="Deadline of one request attempt, from sending to the last byte of the answer."),
        click.option("--rate-limit", "rate_limit", envvar="PROVISIONER_RATE_LIMIT", default=None,
                     help="The rate budget all requests share: 'documented' (100/60s,20/10s, the default), "
                          "'off', or windows like 1000/60s,200/10s [env PROVISIONER_RATE_LIMIT; --local: off]."),
        dialect_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def store_options() -> list:
    """Where the state is: backend, SQLite file, workspace (shared by every command that reads state)."""
    return [
        click.option("--state", "state_path", default=DEFAULT_STATE_PATH, show_default=True,
                     help="SQLite state database (--backend sqlite); its folder also holds local files."),
        click.option("--backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True,
                     envvar="PROVISIONER_BACKEND",
                     help="State store [env PROVISIONER_BACKEND]; postgres connects with $PROVISIONER_PG_DSN."),
        click.option("--workspace", envvar="PROVISIONER_WORKSPACE",
                     help="Workspace [env PROVISIONER_WORKSPACE] (default: the selected one, see `workspace`)."),
    ]


def with_store_options(command: Callable) -> Callable:
    for option in reversed(store_options()):
        command = option(command)
    return command


def settings_from(kwargs: dict, parallelism: int = 10) -> Settings:
    retry = RetryPolicy(max_attempts=kwargs.pop("max_retries"), max_elapsed=duration(kwargs.pop("retry_max_time")),
                        backoff_base=duration(kwargs.pop("retry_backoff")),
                        timeout=duration(kwargs.pop("request_timeout")))
    return Settings(state_path=kwargs.pop("state_path"), backend=kwargs.pop("backend"),
                    workspace=kwargs.pop("workspace"), api_url=kwargs.pop("api_url"),
                    token_file=kwargs.pop("token_file"), local=kwargs.pop("local"), lock=kwargs.pop("lock", True),
                    lock_timeout=duration(kwargs.pop("lock_timeout")), parallelism=parallelism, retry=retry,
                    api_dialect=kwargs.pop("api_dialect"), rate_limit=rate_limit_windows(kwargs.pop("rate_limit")))


def reports_errors(command: Callable) -> Callable:
    """Turn the provisioner's errors into a message and exit 1 (JSON on stdout too, with --json)."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ProblemsError as error:
            if kwargs.get("as_json"):
                click.echo(render.problems_json(error.problems))
            click.secho(f"Error: {error}", fg="red", err=True)
        except ProvisionerError as error:
            if kwargs.get("as_json"):
                click.echo(json.dumps({"errors": [{"message": str(error)}]}, indent=2))
            click.secho(f"Error: {error}", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="provisioner")
@click.option("--no-color", is_flag=True, help="Plain output without colours.")
@click.pass_context
def cli(ctx: click.Context, no_color: bool) -> None:
    """Declarative provisioning of voice AI assistants: validate, plan, apply."""
    if no_color:
        ctx.color = False


@cli.command("validate")
@click.argument("paths", nargs=-1)
@dialect_option
@reports_errors
def validate_command(paths: tuple[str, ...], api_dialect: str) -> None:
    """Check manifests offline: schema, every platform rule, duplicates."""
    manifests = validate(list(paths or DEFAULT_PATHS), api_dialect)
    click.echo(f"Success! {len(manifests)} manifest(s) are valid.")


@cli.command("plan")
@click.argument("paths", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as one JSON document.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none, 1 on error.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan for `apply FILE`.")
@click.option("--target", "targets", multiple=True, help="Only this address (repeatable).")
@click.option("--destroy", is_flag=True, help="Plan destroying everything the state manages.")
@click.option("--lock", type=click.BOOL, default=True, show_default=True,
              help="Lock the state while planning (--lock=false for a read-only look during another run).")
@platform_options
@reports_errors
def plan_command(paths, as_json, detailed_exitcode, out_file, targets, destroy, **kwargs) -> None:
    """Show what apply would do: create (+), update (~), destroy (-), import (<=)."""
    settings = settings_from(kwargs)
    paths = list(paths or DEFAULT_PATHS)
    manifests = manifests_or_empty(paths, settings.api_dialect) if destroy else validate(paths, settings.api_dialect)
    with Session(settings, "plan") as session:
        plan, _ = session.plan(manifests, destroy=destroy, targets=targets, paths=paths)
    if out_file:
        write_plan_file(plan, out_file)
    click.echo(render.plan_json(plan) if as_json else render.plan_text(plan))
    if out_file and not as_json:
        where = (" --local" if settings.local else "") + (
            f" --state {settings.state_path}" if settings.state_path != DEFAULT_STATE_PATH else "") + (
            f" --backend {settings.backend}" if settings.backend != "sqlite" else "") + (
            f" --workspace {settings.workspace}" if settings.workspace else "")
        click.echo(f"\nSaved the plan to {out_file}. To perform exactly these actions, run:\n"
                   f"  provisioner apply{where} {out_file}")
    sys.exit(EXIT_CHANGES if detailed_exitcode and plan.has_changes else EXIT_OK)


def _confirm(question: str) -> bool:
    click.echo(f"\n{question}\n  Only 'yes' will be accepted to approve.\n")
    click.echo("  Enter a value: ", nl=False)
    answer = sys.stdin.readline()
    click.echo()
    return answer.strip() == "yes"


def _run_apply(session: Session, plan: Plan, known_ids: set[int]) -> None:
    """Apply with one line per finished change (and a live progress bar on a terminal); exit code."""
    from .progress import Progress

    # A pipeline cancels with SIGTERM: treat it like Ctrl-C, so in-flight changes are recorded.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    budget = session.client.budget
    expected = budget.expected_seconds(len(plan.changes))
    if expected >= 30:
        click.echo(f"Rate budget {describe(budget.windows)}: {len(plan.changes)} change(s) take at least "
                   f"{_minutes(expected)} at the platform's pace.")
    try:
        with Progress(len(plan.changes), enabled=sys.stdout.isatty()) as progress:
            report = session.apply(plan, known_ids, on_result=progress.finished, on_start=progress.started)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo()
    if report.halted:
        skipped = sum(1 for r in report.results if r.skipped) + len(plan.changes) - len(report.results)
        click.secho(f"Stopped: {report.halted}; {skipped} not started. Changes in flight were finished.",
                    fg="red", err=True)
    elif report.interrupted:
        skipped = sum(1 for r in report.results if r.skipped) + len(plan.changes) - len(report.results)
        click.secho(f"Interrupted: changes in flight were finished and recorded; {skipped} not started.",
                    fg="red", err=True)
    click.echo(render.apply_summary(report))
    if report.failed:
        click.secho(f"{len(report.failed)} change(s) failed; the others were applied and recorded in state. "
                    "Fix the cause and run apply again.", fg="red", err=True)
    if not report.ok:
        sys.exit(EXIT_ERROR)


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def _review_and_apply(session: Session, plan: Plan, known_ids: set[int], auto_approve: bool, question: str,
                      verb: str) -> None:
    """Show the plan, ask (unless --auto-approve), apply. With no changes, only refresh state records."""
    click.echo(render.plan_text(plan))
    if not plan.has_changes:
        if plan.state_sync:
            session.apply(plan, known_ids)
        return
    if not auto_approve and not _confirm(question):
        click.secho(f"{verb} cancelled. Nothing was changed.", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    _run_apply(session, plan, known_ids)


@cli.command("apply")
@click.argument("paths", nargs=-1)
@click.option("--auto-approve", is_flag=True, help="Skip the confirmation.")
@click.option("--target", "targets", multiple=True, help="Only this address (repeatable).")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
              help="Changes applied at once.")
@platform_options
@reports_errors
def apply_command(paths, auto_approve, targets, parallelism, **kwargs) -> None:
    """Make the platform match the manifests (or perform a saved plan: apply FILE)."""
    settings = settings_from(kwargs, parallelism)
    if len(paths) == 1 and is_plan_file(paths[0]):
        plan = read_plan_file(paths[0])
        with Session(settings, "apply") as session:
            known_ids = session.check_saved_plan(plan)
            click.echo(render.plan_text(plan))
            if plan.has_changes or plan.state_sync:
                _run_apply(session, plan, known_ids)
        return
    paths = list(paths or DEFAULT_PATHS)
    manifests = validate(paths, settings.api_dialect)
    with Session(settings, "apply") as session:
        plan, known_ids = session.plan(manifests, targets=targets, paths=paths)
        _review_and_apply(session, plan, known_ids, auto_approve, "Do you want to perform these actions?", "Apply")


@cli.command("destroy")
@click.argument("paths", nargs=-1)
@click.option("--auto-approve", is_flag=True, help="Skip the confirmation.")
@click.option("--target", "targets", multiple=True, help="Only this address (repeatable).")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256))
@platform_options
@reports_errors
def destroy_command(paths, auto_approve, targets, parallelism, **kwargs) -> None:
    """Delete every assistant the state manages (protected ones stop the run)."""
    settings = settings_from(kwargs, parallelism)
    paths = list(paths or DEFAULT_PATHS)
    manifests = manifests_or_empty(paths, settings.api_dialect)
    with Session(settings, "destroy") as session:
        plan, known_ids = session.plan(manifests, destroy=True, targets=targets, paths=paths)
        _review_and_apply(session, plan, known_ids, auto_approve,
                          "Do you really want to destroy these assistants? There is no undo.", "Destroy")


@cli.command("import")
@click.argument("address")
@click.argument("remote_id", metavar="ID", type=int)
@click.argument("paths", nargs=-1)
@platform_options
@reports_errors
def import_command(address, remote_id, paths, **kwargs) -> None:
    """Adopt the platform's assistant ID as the manifest ADDRESS (nothing on the platform changes)."""
    settings = settings_from(kwargs)
    manifests = validate(list(paths or DEFAULT_PATHS), settings.api_dialect)
    with Session(settings, "import") as session:
        live = import_assistant(session, manifests, address, remote_id)
    click.secho(f"Import successful: {address} is now id {remote_id} ({live.name!r}).", fg="green")
    click.echo("Run `provisioner plan` to see what differs from the manifest.")


@cli.command("export")
@click.argument("paths", nargs=-1)
@click.option("--out", "out_dir", default="exported", show_default=True, help="Folder for the new manifests.")
@platform_options
@reports_errors
def export_command(paths, out_dir, **kwargs) -> None:
    """Write manifests for the platform's assistants that no manifest manages yet."""
    settings = settings_from(kwargs)
    manifests = manifests_or_empty(list(paths or DEFAULT_PATHS), settings.api_dialect)
    with Session(settings, "export", lock=False) as session:
        written = export(session, manifests, out_dir)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"Exported {len(written)} assistant(s)." + (" Fill in llm_model in each before applying."
                                                            if written else ""))


@cli.command("refresh")
@platform_options
@reports_errors
def refresh_command(**kwargs) -> None:
    """Update state from the platform; change nothing on the platform."""
    with Session(settings_from(kwargs), "refresh") as session:
        lines = refresh(session)
    for line in lines:
        click.echo(line)
    click.echo(f"Refreshed {len(session.state.resources)} assistant(s) in state.")


@cli.group("state")
def state_group() -> None:
    """Inspect, repair and move the state by hand: list, show, rm, mv, pull, push."""


def state_options(command: Callable) -> Callable:
    command = click.option("--lock-timeout", default="0s", show_default=True)(command)
    command = click.option("--lock", type=click.BOOL, default=True, show_default=True)(command)
    return with_store_options(command)


def _state_session(store: dict, lock: bool, lock_timeout: str, operation: str) -> Session:
    return Session(_store_settings(store, lock=lock, lock_timeout=duration(lock_timeout)), operation)


def _store_settings(store: dict, **extra) -> Settings:
    return Settings(state_path=store["state_path"], backend=store["backend"], workspace=store["workspace"], **extra)


@state_group.command("list")
@state_options
@reports_errors
def state_list(lock, lock_timeout, **store) -> None:
    """Addresses in state, with their platform ids."""
    with _state_session(store, lock, lock_timeout, "state list") as session:
        for address, entry in sorted(session.state.resources.items()):
            click.echo(f"{address}\tid={entry.id}" + ("\tprotected" if entry.protect else ""))


@state_group.command("show")
@click.argument("address")
@state_options
@reports_errors
def state_show(address, lock, lock_timeout, **store) -> None:
    """One address's state record (sensitive values appear as digests)."""
    with _state_session(store, lock, lock_timeout, "state show") as session:
        entry = session.state.resources.get(address)
    if entry is None:
        raise ProvisionerError(f"{address!r} is not in state")
    click.echo(json.dumps(describe_entry(address, entry), indent=2))


@state_group.command("rm")
@click.argument("address")
@state_options
@reports_errors
def state_rm(address, lock, lock_timeout, **store) -> None:
    """Forget ADDRESS (the assistant stays on the platform)."""
    with _state_session(store, lock, lock_timeout, "state rm") as session:
        entry = state_remove(session, address)
    click.echo(f"Removed {address} (id {entry.id}) from state; it is still on the platform.")


@state_group.command("mv")
@click.argument("old")
@click.argument("new")
@state_options
@reports_errors
def state_mv(old, new, lock, lock_timeout, **store) -> None:
    """Rename an address in state (after renaming metadata.name)."""
    with _state_session(store, lock, lock_timeout, "state mv") as session:
        state_move(session, old, new)
    click.echo(f"Moved {old} to {new}.")


@state_group.command("pull")
@state_options
@reports_errors
def state_pull(lock, lock_timeout, **store) -> None:
    """Print the state as JSON (lineage, serial, resources and history): for backups and moving state."""
    with _state_session(store, lock, lock_timeout, "state pull") as session:
        document = session.backend.export()
    click.echo(document.dumps(with_history=True).decode(), nl=False)


@state_group.command("push")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--force", is_flag=True, help="Replace the state even if the file has another lineage or an older "
                                            "serial.")
@state_options
@reports_errors
def state_push(file, force, lock, lock_timeout, **store) -> None:
    """Load a state document (from `state pull` or an old state file) into the store; '-' reads stdin."""
    from .state import State

    try:
        data = sys.stdin.buffer.read() if file == "-" else open(file, "rb").read()
    except OSError as error:
        raise ProvisionerError(f"cannot read {file}: {error.strerror}") from None
    document = State.loads(data, "stdin" if file == "-" else file)
    with _state_session(store, lock, lock_timeout, "state push") as session:
        message = session.backend.push(document, force=force)
    click.secho(message[0].upper() + message[1:] + ".", fg="green")


@cli.command("force-unlock")
@click.argument("lock_id")
@with_store_options
@reports_errors
def force_unlock_command(lock_id, **store) -> None:
    """Remove a stale state lock, by the ID its error message showed."""
    from .workflow import open_backend

    backend = open_backend(_store_settings(store))
    try:
        backend.force_unlock(lock_id)
    finally:
        backend.close()
    click.secho("The state has been unlocked.", fg="green")


@cli.group("workspace")
def workspace_group() -> None:
    """Workspaces: separate states (lineage, serial, assistants, lock) in one project, like staging and prod."""


def _workspace_options(command: Callable) -> Callable:
    command = click.option("--backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite",
                           show_default=True, envvar="PROVISIONER_BACKEND", help="[env PROVISIONER_BACKEND]")(command)
    return click.option("--state", "state_path", default=DEFAULT_STATE_PATH, show_default=True)(command)


@workspace_group.command("list")
@_workspace_options
@reports_errors
def workspace_list(state_path, backend) -> None:
    """The project's workspaces; * marks the selected one."""
    from .workflow import current_workspace, list_workspaces

    settings = Settings(state_path=state_path, backend=backend)
    current = current_workspace(settings)
    for name in list_workspaces(settings):
        click.echo(("* " if name == current else "  ") + name)


@workspace_group.command("show")
@_workspace_options
@reports_errors
def workspace_show(state_path, backend) -> None:
    """The selected workspace ($PROVISIONER_WORKSPACE, else the one `workspace select` remembered)."""
    from .workflow import current_workspace

    click.echo(current_workspace(Settings(state_path=state_path, backend=backend)))


@workspace_group.command("new")
@click.argument("name")
@click.option("--no-select", is_flag=True, help="Create it without selecting it.")
@_workspace_options
@reports_errors
def workspace_new(name, no_select, state_path, backend) -> None:
    """Create an empty workspace and select it."""
    from .workflow import new_workspace, select_workspace

    settings = Settings(state_path=state_path, backend=backend)
    new_workspace(settings, name)
    if not no_select:
        select_workspace(settings, name)
    click.secho(f"Created workspace {name!r}" + ("" if no_select else " and selected it") + ".", fg="green")


@workspace_group.command("select")
@click.argument("name")
@_workspace_options
@reports_errors
def workspace_select(name, state_path, backend) -> None:
    """Make NAME the workspace every command uses (remembered in the state folder's `workspace` file)."""
    from .workflow import select_workspace

    select_workspace(Settings(state_path=state_path, backend=backend), name)
    click.secho(f"Switched to workspace {name!r}.", fg="green")


@workspace_group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even if it still manages assistants (they stay on the "
                                            "platform, unmanaged).")
@click.option("--lock-timeout", default="0s", show_default=True)
@_workspace_options
@reports_errors
def workspace_delete(name, force, lock_timeout, state_path, backend) -> None:
    """Delete a workspace's state (not the current one; not a non-empty one without --force)."""
    from .workflow import delete_workspace

    dropped = delete_workspace(Settings(state_path=state_path, backend=backend,
                                        lock_timeout=duration(lock_timeout)), name, force=force)
    click.secho(f"Deleted workspace {name!r}" + (f" (forgot {dropped} assistant(s))" if dropped else "") + ".",
                fg="green")


from .emulator.command import emulator_command  # noqa: E402

cli.add_command(emulator_command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.secho("Aborted.", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.ClickException as error:
        # Usage errors exit 1, not click's 2: 2 means "changes" under --detailed-exitcode.
        error.show()
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.secho("Interrupted.", fg="red", err=True)
        sys.exit(130)
