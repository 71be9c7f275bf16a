"""The command line: parse arguments, call the core (workflow.py), render, choose the exit code."""
from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
from typing import Callable

import click
from click.core import ParameterSource

from . import __version__, render
from .config import KEYS as CONFIG_KEYS, Config, resolve_config
from .errors import ProblemsError, ProvisionerError
from .heap import collect_from_now_on, pause_collection
from .manifest import DEFAULT_LIMITS, Limits
from .plan import Plan
from .ratelimit import describe
from .scrub import scrub
from .spec import DEFAULT_DIALECT, DIALECTS
from .workflow import (DEFAULT_STATE_PATH, Session, Settings, check_plan_workspace, describe_entry, export,
                       import_assistant, is_plan_file, manifests_or_empty, read_plan_file, refresh,
                       refuse_mass_destroy, state_move, state_remove, validate, validation_result, write_plan_file)

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
DEFAULT_PATHS = ("manifests",)

# One wording per option, whichever command takes it (a test holds every command to it).
HELP = {
    "--allow-empty": "Go on even if no manifest is found while the state manages assistants (destroying them "
                     "all).",
    "--state": "SQLite state database (--backend sqlite); its folder also holds local files [env "
               "PROVISIONER_STATE].",
    "--lock": "Lock the state while running (--lock=false: no lock, e.g. for a look while another run holds it; "
              "a write without it is still refused if the state moved on).",
    "--lock-timeout": "How long to wait for a held lock [env PROVISIONER_LOCK_TIMEOUT].",
    "--init-store": "Make a new state store of an empty file or an empty SQLite database at --state (refused "
                    "without it; another application's database is always refused).",
    "--no-color": "Plain output without colours (also when the NO_COLOR environment variable is set).",
    "--json": "Print the result as one JSON document (the same as --format json).",
    "--target": "Only this address (repeatable).",
    "--auto-approve": "Skip the confirmation.",
    "--parallelism": "Changes applied at once [env PROVISIONER_PARALLELISM].",
    "--allow-replace": "Allow replacements that lose data the platform cannot give back (a campaign's leads); "
                       "apply refuses a plan with one without it.",
    "--allow-mass-destroy": "Allow a plan that destroys more than half of the assistants in state (at least 5); "
                            "apply refuses one without it (docs/state.md).",
}


# What each output format is; a command's --format help names only the formats it offers.
FORMAT_MEANINGS = {"text": "text for people", "json": "json for programs (docs/plan-format.md)",
                   "markdown": "markdown for documents and pull-request comments"}


def format_help(formats: tuple[str, ...], meanings: dict[str, str] = FORMAT_MEANINGS) -> str:
    return "Output format: " + "; ".join(meanings[f] for f in formats) + "."


class PlatformId(click.ParamType):
    """A platform id on the command line, matched whole: ASCII digits only (Python's int() would also take
    "5\n", " 5", "5_0" and other scripts' digits), positive, within 64 bits."""

    name = "integer"

    def convert(self, value, param, ctx):
        text = str(value)
        if not (text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= 19
                and int(text) <= 2**63 - 1):
            self.fail(f"{text!r} is not a platform id (a positive integer, digits only)", param, ctx)
        return int(text)


def format_options(formats: tuple[str, ...] = render.FORMATS) -> Callable:
    """--format and its --json alias; the command receives `fmt`."""
    def decorate(command: Callable) -> Callable:
        command = click.option("--json", "as_json", is_flag=True, help=HELP["--json"])(command)
        return click.option("--format", "fmt", type=click.Choice(formats), default="text", show_default=True,
                            help=format_help(formats))(command)
    return decorate


def chosen_format(fmt: str, as_json: bool) -> str:
    return "json" if as_json else fmt


def _no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value or os.environ.get("NO_COLOR"):
        ctx.color = False
        ctx.find_root().color = False


class CommandGroup(click.Group):
    """A group whose every command, and every subgroup's, takes --no-color (before or after its name)."""

    group_class = type

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "no_color" for p in cmd.params):
            cmd.params.append(click.Option(["--no-color"], is_flag=True, expose_value=False, is_eager=True,
                                           callback=_no_color, help=HELP["--no-color"]))
        super().add_command(cmd, name)


dialect_option = click.option(
    "--api-dialect", "api_dialect", envvar="PROVISIONER_API_DIALECT", default=DEFAULT_DIALECT, show_default=True,
    type=click.Choice(DIALECTS), help="The platform's create dialect: v1 (the seed's) or v2 (the current one, "
                                      "with dualplex, tools, ...) [env PROVISIONER_API_DIALECT].")


def platform_options(command: Callable) -> Callable:
    """Options of every command that reads or writes state and talks to the platform."""
    options = [
        *store_options(),
        click.option("--local", is_flag=True,
                     help="Use the embedded local platform (an emulator persisted under the state's folder)."),
        click.option("--api-url", envvar="PROVISIONER_API_URL", help="Platform base URL [env PROVISIONER_API_URL]."),
        click.option("--token-file", type=click.Path(dir_okay=False),
                     help="File holding the API token (else env PROVISIONER_API_TOKEN)."),
        click.option("--lock-timeout", default="0s", show_default=True, help=HELP["--lock-timeout"]),
        click.option("--max-retries", default=10, show_default=True, type=click.IntRange(1, 100),
                     help="Attempts per request on 5xx and network errors (429s wait, bounded by time)."),
        click.option("--retry-max-time", default="120s", show_default=True,
                     help="Give up retrying a request after this long."),
        click.option("--retry-backoff", default="0.5s", show_default=True,
                     help="First backoff between attempts; doubles each time (with jitter, at most 15s)."),
        click.option("--request-timeout", default="30s", show_default=True,
                     help="Deadline of one request attempt, from sending to the last byte of the answer."),
        click.option("--wait-timeout", default="10m", show_default=True,
                     help="How long apply waits for an object the platform processes (a knowledge base's "
                          "document) to be ready before what depends on it [env PROVISIONER_WAIT_TIMEOUT]."),
        click.option("--rate-limit", "rate_limit", envvar="PROVISIONER_RATE_LIMIT", default=None,
                     help="The rate budget all requests share: 'documented' (100/60s,20/10s, the default), "
                          "'off', or windows like 1000/60s,200/10s [env PROVISIONER_RATE_LIMIT; --local: off]."),
        dialect_option,
        click.option("--insecure-http", is_flag=True,
                     help="Allow a plain http:// --api-url to another machine (the token then travels unencrypted)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _parse_limits(ctx, param, values) -> Limits:
    try:
        return Limits.parse(values)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def manifest_options(command: Callable) -> Callable:
    """Bounds on what one manifest file may make the loader do (see manifest.Limits)."""
    return click.option(
        "--manifest-limit", "manifest_limits", multiple=True, callback=_parse_limits, metavar="NAME=VALUE",
        help="Raise a bound of the manifest loader (repeatable): "
             f"bytes (per file, default {DEFAULT_LIMITS.bytes}; k/m suffixes), depth (nesting, default "
             f"{DEFAULT_LIMITS.depth}), nodes (values per file, aliases expanded, default {DEFAULT_LIMITS.nodes}), "
             f"aliases (alias uses per file, default {DEFAULT_LIMITS.aliases}), int-digits (default "
             f"{DEFAULT_LIMITS.int_digits}).")(command)


def config_options(command: Callable) -> Callable:
    """The project configuration file and the workspace (see docs/configuration.md)."""
    options = [
        click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="Project configuration file [env PROVISIONER_CONFIG; default: ./provisioner.yaml, "
                          "if present]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def workspace_option():
    return click.option("--workspace", envvar="PROVISIONER_WORKSPACE",
                        help="Workspace: its state, vars/<workspace>.yaml and overlays/<workspace>/ "
                             "[env PROVISIONER_WORKSPACE] (default: the selected one, see `workspace`).")


def store_options() -> list:
    """Where the state is: backend, SQLite file, workspace (shared by every command that reads state)."""
    return [
        click.option("--state", "state_path", default=DEFAULT_STATE_PATH, show_default=True, help=HELP["--state"]),
        click.option("--backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True,
                     envvar="PROVISIONER_BACKEND",
                     help="State store [env PROVISIONER_BACKEND]; postgres connects with $PROVISIONER_PG_DSN."),
        workspace_option(),
        click.option("--init-store", is_flag=True, help=HELP["--init-store"]),
    ]


def with_store_options(command: Callable) -> Callable:
    for option in reversed(store_options()):
        command = option(command)
    return command


def variable_options(command: Callable) -> Callable:
    """Variables for ${var.NAME} in manifests (after vars/<workspace>.yaml; later ones win)."""
    command = click.option("--var", "var_flags", multiple=True, metavar="NAME=VALUE",
                           help="Set a variable; VALUE is read as YAML (1.1 is a number) (repeatable).")(command)
    return click.option("--var-file", "var_files", multiple=True, type=click.Path(dir_okay=False),
                        help="A YAML file of NAME: value variables (repeatable).")(command)


def config_from(kwargs: dict, parallelism: int | None = None) -> Config:
    """Resolve the configuration once: the flags given on the command line, the environment, the file."""
    ctx = click.get_current_context()
    given = dict(kwargs, parallelism=parallelism) if parallelism is not None else dict(kwargs)
    flags = {}
    for name, value in given.items():
        key = "state" if name == "state_path" else name
        if key in CONFIG_KEYS and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            flags[key] = value
    for name in list(kwargs):
        if name in CONFIG_KEYS or name == "state_path":
            kwargs.pop(name)
    return resolve_config(flags, config_file=kwargs.pop("config_file", None),
                          var_files=tuple(kwargs.pop("var_files", ())), vars=tuple(kwargs.pop("var_flags", ())))


def settings_from(kwargs: dict, parallelism: int | None = None) -> Settings:
    config = config_from(kwargs, parallelism)
    return Settings.from_config(config, local=kwargs.pop("local"), token_file=kwargs.pop("token_file"),
                                lock=kwargs.pop("lock", True), insecure_http=kwargs.pop("insecure_http", False),
                                init_store=kwargs.pop("init_store", False),
                                manifest_limits=kwargs.pop("manifest_limits", DEFAULT_LIMITS))


def settings_paths(paths: tuple[str, ...], settings: Settings) -> list[str]:
    """Manifest paths: the command line's, else the configuration's, else manifests/."""
    return settings.config.manifest_paths(paths) if settings.config else list(paths or DEFAULT_PATHS)


def reports_errors(command: Callable) -> Callable:
    """Turn the provisioner's errors into a message and exit 1 (JSON on stdout too, with --json).

    Everything printed here is scrubbed of the token and URL credentials: messages are written not to
    hold them, and this is the last line of defence if one does.
    """
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ProblemsError as error:
            if kwargs.get("as_json") or kwargs.get("fmt") == "json":
                click.echo(scrub(render.problems_json(error.problems)))
            click.secho(scrub(f"Error: {error}"), fg="red", err=True)
        except ProvisionerError as error:
            if kwargs.get("as_json") or kwargs.get("fmt") == "json":
                click.echo(json.dumps({"errors": [{"message": scrub(str(error))}]}, indent=2))
            click.secho(scrub(f"Error: {error}"), fg="red", err=True)
        except RecursionError:
            # Anything nested deeper than the loaders allow should have been refused before this.
            if kwargs.get("as_json") or kwargs.get("fmt") == "json":
                click.echo(json.dumps({"errors": [{"message": "input nested too deeply"}]}, indent=2))
            click.secho("Error: input nested too deeply to process", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    return wrapper


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="provisioner")
@click.option("--no-color", is_flag=True, is_eager=True, expose_value=False, callback=_no_color,
              help=HELP["--no-color"])
def cli() -> None:
    """Declarative provisioning of voice AI assistants: validate, plan, apply."""


@cli.command("validate")
@click.argument("paths", nargs=-1)
@dialect_option
@format_options(("text", "json"))
@config_options
@workspace_option()
@variable_options
@manifest_options
@reports_errors
def validate_command(paths: tuple[str, ...], fmt: str, as_json: bool, manifest_limits: Limits,
                     **kwargs) -> None:
    """Check manifests offline: schema, every platform rule, duplicates."""
    config = config_from(kwargs)
    paths = config.manifest_paths(paths)
    if chosen_format(fmt, as_json) == "json":
        count, problems = validation_result(paths, config.api_dialect, config.inputs, manifest_limits)
        click.echo(render.validation_json(count, problems))
        sys.exit(EXIT_ERROR if problems else EXIT_OK)
    manifests = validate(paths, config.api_dialect, config.inputs, manifest_limits)
    click.echo(f"Success! {len(manifests)} manifest(s) are valid.")


@cli.command("render")
@click.argument("paths", nargs=-1)
@dialect_option
@config_options
@workspace_option()
@variable_options
@reports_errors
def render_command(paths: tuple[str, ...], **kwargs) -> None:
    """Print the final manifests (after variables and overlays) as YAML, secrets masked, for review."""
    from .overlays import render_manifests

    config = config_from(kwargs)
    manifests = validate(config.manifest_paths(paths), config.api_dialect, config.inputs)
    click.echo(render_manifests(manifests, config.workspace), nl=False)


@cli.command("plan")
@click.argument("paths", nargs=-1)
@format_options()
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none, 1 on error.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan for `apply FILE`.")
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--destroy", is_flag=True, help="Plan destroying everything the state manages.")
@click.option("--allow-empty", is_flag=True,
              help=HELP["--allow-empty"])
@click.option("--allow-mass-destroy", is_flag=True, help=HELP["--allow-mass-destroy"])
@click.option("--lock", type=click.BOOL, default=True, show_default=True, help=HELP["--lock"])
@platform_options
@config_options
@variable_options
@manifest_options
@reports_errors
def plan_command(paths, fmt, as_json, detailed_exitcode, out_file, targets, destroy, allow_empty,
                 allow_mass_destroy, **kwargs) -> None:
    """Show what apply would do: create (+), update (~), destroy (-), import (<=)."""
    settings = settings_from(kwargs)
    paths = settings_paths(paths, settings)
    dialect, inputs, limits = settings.api_dialect, settings.inputs, settings.manifest_limits
    manifests = (manifests_or_empty(paths, dialect, inputs, limits) if destroy
                 else validate(paths, dialect, inputs, limits))
    with Session(settings, "plan", prefetch=bool(manifests) or destroy) as session:
        plan, _ = session.plan(manifests, destroy=destroy, targets=targets, paths=paths, allow_empty=allow_empty,
                               allow_mass_destroy=allow_mass_destroy)
    if out_file:
        write_plan_file(plan, out_file)
    fmt = chosen_format(fmt, as_json)
    click.echo(scrub(render.plan_as(plan, fmt)), nl=fmt != "markdown")
    if out_file and fmt == "text":
        where = (" --local" if settings.local else "") + (
            f" --state {settings.state_path}" if settings.state_path != DEFAULT_STATE_PATH else "") + (
            f" --backend {settings.backend}" if settings.backend != "sqlite" else "") + (
            f" --workspace {settings.workspace}" if settings.workspace not in (None, "default") else "")
        click.echo(f"\nSaved the plan to {out_file}. To perform exactly these actions, run:\n"
                   f"  provisioner apply{where} {out_file}")
    sys.exit(EXIT_CHANGES if detailed_exitcode and plan.has_changes else EXIT_OK)


def _confirm(question: str) -> bool:
    click.echo(f"\n{question}\n  Only 'yes' will be accepted to approve.\n")
    click.echo("  Enter a value: ", nl=False)
    answer = sys.stdin.readline()
    click.echo()
    return answer.strip() == "yes"


def _run_apply(session: Session, plan: Plan, known_ids: set[int], verb: str = "Apply") -> None:
    """Apply with one line per finished change (and a live progress bar on a terminal); exit code."""
    from .progress import Progress

    # Ctrl-C, and SIGTERM (how a pipeline cancels), start nothing new and let the changes in flight finish and be
    # recorded: the handler only sets an event the apply looks at between results, so the signal never lands in
    # the middle of its bookkeeping. A second signal stops at once (KeyboardInterrupt), as a user who presses
    # Ctrl-C twice means.
    interrupt = threading.Event()

    budget = session.client.budget

    def on_signal(signum, frame) -> None:
        if interrupt.is_set():
            raise KeyboardInterrupt
        interrupt.set()
        budget.cancel()  # at once: a change waiting for the rate budget has sent nothing, and must not now
        # Said at once, whatever the apply is waiting for (a slow request, the rate budget).
        try:
            click.secho("\nInterrupt received: sending nothing new; finishing the changes in flight (press Ctrl-C "
                        "again to stop at once)...", fg="red", err=True)
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
    if report.failed:
        done = sum(1 for r in report.results if r.ok)
        others = (f"the {done} other(s) were applied and recorded in state" if done
                  else "no change was applied")
        click.secho(f"{len(report.failed)} change(s) failed; {others}. Fix the cause and run apply again.",
                    fg="red", err=True)
    if not report.ok:
        sys.exit(EXIT_ERROR)


def _listed(addresses: list[str], limit: int = 10) -> str:
    return ", ".join(addresses[:limit]) + (f" and {len(addresses) - limit} more" if len(addresses) > limit else "")


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def _review_and_apply(session: Session, plan: Plan, known_ids: set[int], auto_approve: bool, question: str,
                      verb: str) -> None:
    """Show the plan, ask (unless --auto-approve), apply. With no changes, only refresh state records."""
    click.echo(render.plan_text(plan))
    refuse_mass_destroy(plan, False)  # after showing it: the refusal names what it would have destroyed
    if not plan.has_changes:
        if plan.state_sync:
            session.apply(plan, known_ids)
        return
    if not auto_approve and not _confirm(question):
        click.secho(f"{verb} cancelled. Nothing was changed.", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    _run_apply(session, plan, known_ids, verb)


@cli.command("apply")
@click.argument("paths", nargs=-1, metavar="[PATHS]... | PLANFILE")
@click.option("--auto-approve", is_flag=True, help=HELP["--auto-approve"])
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
              help=HELP["--parallelism"])
@click.option("--allow-empty", is_flag=True,
              help=HELP["--allow-empty"])
@click.option("--allow-mass-destroy", is_flag=True, help=HELP["--allow-mass-destroy"])
@click.option("--allow-replace", is_flag=True, help=HELP["--allow-replace"])
@platform_options
@config_options
@variable_options
@manifest_options
@reports_errors
def apply_command(paths, auto_approve, targets, parallelism, allow_empty, allow_mass_destroy, allow_replace,
                  **kwargs) -> None:
    """Make the platform match the manifests (or perform a saved plan: apply PLANFILE)."""
    settings = settings_from(kwargs, parallelism)
    settings.allow_replace = allow_replace
    if len(paths) == 1 and is_plan_file(paths[0]):
        if settings.inputs is not None and (settings.inputs.vars or settings.inputs.var_files):
            raise ProvisionerError("a saved plan carries the variables it was made with; apply it without "
                                   "--var and --var-file (or make a new plan with them)")
        plan = read_plan_file(paths[0])
        check_plan_workspace(plan, settings)  # before the state: another workspace has another state
        with Session(settings, "apply") as session:
            known_ids = session.check_saved_plan(plan)
            click.echo(render.plan_text(plan))
            refuse_mass_destroy(plan, allow_mass_destroy)
            if plan.has_changes or plan.state_sync:
                _run_apply(session, plan, known_ids)
        return
    paths = settings_paths(paths, settings)
    manifests = validate(paths, settings.api_dialect, settings.inputs, settings.manifest_limits)
    with Session(settings, "apply", prefetch=bool(manifests)) as session:
        plan, known_ids = session.plan(manifests, targets=targets, paths=paths, allow_empty=allow_empty,
                                       allow_mass_destroy=allow_mass_destroy)
        _review_and_apply(session, plan, known_ids, auto_approve, "Do you want to perform these actions?", "Apply")


@cli.command("destroy")
@click.argument("paths", nargs=-1)
@click.option("--auto-approve", is_flag=True, help=HELP["--auto-approve"])
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
              help=HELP["--parallelism"])
@platform_options
@config_options
@variable_options
@manifest_options
@reports_errors
def destroy_command(paths, auto_approve, targets, parallelism, **kwargs) -> None:
    """Delete every assistant the state manages (protected ones stop the run)."""
    settings = settings_from(kwargs, parallelism)
    paths = settings_paths(paths, settings)
    manifests = manifests_or_empty(paths, settings.api_dialect, settings.inputs, settings.manifest_limits)
    with Session(settings, "destroy") as session:
        plan, known_ids = session.plan(manifests, destroy=True, targets=targets, paths=paths)
        _review_and_apply(session, plan, known_ids, auto_approve,
                          "Do you really want to destroy these assistants? There is no undo.", "Destroy")


@cli.command("import")
@click.argument("address")
@click.argument("remote_id", metavar="ID", type=PlatformId())
@click.argument("paths", nargs=-1)
@platform_options
@config_options
@variable_options
@manifest_options
@reports_errors
def import_command(address, remote_id, paths, **kwargs) -> None:
    """Adopt the platform's assistant ID as the manifest ADDRESS (nothing on the platform changes)."""
    settings = settings_from(kwargs)
    manifests = validate(settings_paths(paths, settings), settings.api_dialect, settings.inputs, settings.manifest_limits)
    with Session(settings, "import") as session:
        live = import_assistant(session, manifests, address, remote_id)
    click.secho(f"Import successful: {address} is now id {remote_id} ({live.name!r}).", fg="green")
    click.echo("Run `provisioner plan` to see what differs from the manifest.")


@cli.command("export")
@click.argument("paths", nargs=-1)
@click.option("--out", "out_dir", default="exported", show_default=True, help="Folder for the new manifests.")
@platform_options
@config_options
@variable_options
@manifest_options
@reports_errors
def export_command(paths, out_dir, **kwargs) -> None:
    """Write manifests for the platform's assistants that no manifest manages yet."""
    settings = settings_from(kwargs)
    manifests = manifests_or_empty(settings_paths(paths, settings), settings.api_dialect, settings.inputs, settings.manifest_limits)
    with Session(settings, "export", lock=False) as session:
        written = export(session, manifests, out_dir)
    for exported in written:
        needs = ([f"fill in {', '.join(exported.fill_in)}"] if exported.fill_in else []) + (
            [f"set {', '.join(exported.environment)} in the environment"] if exported.environment else [])
        click.echo(f"wrote {exported.path}" + (f" ({'; '.join(needs)} before applying)" if needs else ""))
    click.echo(f"Exported {len(written)} assistant(s).")


@cli.command("refresh")
@platform_options
@config_options
@reports_errors
def refresh_command(**kwargs) -> None:
    """Update state from the platform; change nothing on the platform."""
    with Session(settings_from(kwargs), "refresh") as session:
        result = refresh(session)
    for line in result.lines:
        click.echo(line)
    click.echo(result.summary())


@cli.group("state")
def state_group() -> None:
    """Inspect, repair and move the state by hand: list, show, rm, mv, pull, push."""


def state_options(command: Callable) -> Callable:
    command = click.option("--lock-timeout", default="0s", show_default=True, help=HELP["--lock-timeout"])(command)
    command = click.option("--lock", type=click.BOOL, default=True, show_default=True, help=HELP["--lock"])(command)
    return config_options(with_store_options(command))


def _state_session(store: dict, lock: bool, lock_timeout: str, operation: str) -> Session:
    return Session(_store_settings(dict(store, lock_timeout=lock_timeout), lock=lock), operation)


def _store_settings(store: dict, **run) -> Settings:
    """The settings of a command that works on the state alone, resolved as plan's and apply's are: its flags,
    then the environment, then provisioner.yaml (backend, state, workspace, project, lock timeout)."""
    init_store = store.pop("init_store", False)
    return Settings.from_config(config_from(store), init_store=init_store, **run)


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
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@with_store_options
@config_options
@reports_errors
def force_unlock_command(lock_id, force, **store) -> None:
    """Remove a stale state lock, by the ID its error message showed. The run that held it stops before its next
    write (exit 1); asks first unless --force."""
    from .workflow import holder_alive_here, open_backend

    backend = open_backend(_store_settings(store))
    try:
        holder = backend.lock_holder()
        if holder is not None and holder.id == lock_id:
            click.echo(f"Lock held by:\n  {holder.describe()}")
            if holder_alive_here(holder):
                click.secho(f"Warning: the process that holds this lock (pid {holder.pid} on this host) is still "
                            "running. Unlocking stops it at its next state write, and another run may then work "
                            "on the state alongside it.", fg="yellow", bold=True, err=True)
            if not force and not _confirm("Do you really want to force-unlock the state? The run that holds the "
                                          "lock stops at its next write."):
                click.secho("force-unlock cancelled. The lock is still held.", fg="red", err=True)
                sys.exit(EXIT_ERROR)
        backend.force_unlock(lock_id)
    finally:
        backend.close()
    click.secho("The state has been unlocked.", fg="green")


@cli.group("workspace")
def workspace_group() -> None:
    """Workspaces: separate states (lineage, serial, assistants, lock) in one project, like staging and prod."""


def _workspace_options(command: Callable) -> Callable:
    state, backend, _, init_store = store_options()
    return config_options(state(backend(init_store(command))))


@workspace_group.command("list")
@_workspace_options
@reports_errors
def workspace_list(**store) -> None:
    """The project's workspaces; * marks the selected one."""
    from .workflow import current_workspace, list_workspaces

    settings = _store_settings(store)
    current = current_workspace(settings)
    for name in list_workspaces(settings):
        click.echo(("* " if name == current else "  ") + name)


@workspace_group.command("show")
@_workspace_options
@reports_errors
def workspace_show(**store) -> None:
    """The selected workspace ($PROVISIONER_WORKSPACE, else provisioner.yaml's, else the one `workspace select`
    remembered)."""
    from .workflow import current_workspace

    click.echo(current_workspace(_store_settings(store)))


@workspace_group.command("new")
@click.argument("name")
@click.option("--no-select", is_flag=True, help="Create it without selecting it.")
@_workspace_options
@reports_errors
def workspace_new(name, no_select, **store) -> None:
    """Create an empty workspace and select it."""
    from .workflow import new_workspace, select_workspace

    settings = _store_settings(store)
    new_workspace(settings, name)
    if not no_select:
        select_workspace(settings, name)
    click.secho(f"Created workspace {name!r}" + ("" if no_select else " and selected it") + ".", fg="green")


@workspace_group.command("select")
@click.argument("name")
@click.option("--or-create", is_flag=True, help="Create it first if it does not exist (for pipelines).")
@_workspace_options
@reports_errors
def workspace_select(name, or_create, **store) -> None:
    """Make NAME the workspace every command uses (remembered in the state folder's `workspace` file)."""
    from .workflow import list_workspaces, new_workspace, select_workspace

    settings = _store_settings(store)
    if or_create and name not in list_workspaces(settings):
        new_workspace(settings, name)
        click.echo(f"Created workspace {name!r}.")
    select_workspace(settings, name)
    click.secho(f"Switched to workspace {name!r}.", fg="green")


@workspace_group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even if it still manages assistants (they stay on the "
                                            "platform, unmanaged).")
@click.option("--lock-timeout", default="0s", show_default=True, help=HELP["--lock-timeout"])
@_workspace_options
@reports_errors
def workspace_delete(name, force, **store) -> None:
    """Delete a workspace's state (not the current one; not a non-empty one without --force)."""
    from .workflow import delete_workspace

    dropped = delete_workspace(_store_settings(store), name, force=force)
    click.secho(f"Deleted workspace {name!r}" + (f" (forgot {dropped} assistant(s))" if dropped else "") + ".",
                fg="green")


from .emulator.command import emulator_command  # noqa: E402

cli.add_command(emulator_command)


@cli.command("show")
@click.argument("plan_file", metavar="[PLANFILE]", required=False, type=click.Path(dir_okay=False, exists=True))
@format_options()
@state_options
@reports_errors
def show_command(plan_file, fmt, as_json, lock, lock_timeout, **store) -> None:
    """Show a saved plan, or without PLANFILE the assistants the state manages (no platform request)."""
    fmt = chosen_format(fmt, as_json)
    if plan_file:
        click.echo(render.plan_as(read_plan_file(plan_file), fmt), nl=fmt != "markdown")
        return
    with _state_session(store, lock, lock_timeout, "show") as session:
        document = render.state_document(session.state)
    click.echo(render.state_as(document, fmt), nl=fmt != "markdown")


@cli.command("schema")
@click.option("--format", "fmt", type=click.Choice(("json", "markdown")), default="json", show_default=True,
              help=format_help(("json", "markdown"), {"json": "json, the JSON Schema for editors "
                                                              "(docs/manifest.schema.json)",
                                                      "markdown": "markdown, the manifest reference "
                                                                  "(docs/manifests.md)"}))
def schema_command(fmt) -> None:
    """Print the manifest JSON Schema (docs/manifest.schema.json), or with --format markdown the manifest
    reference (docs/manifests.md)."""
    from .schema import reference_markdown, schema_json

    click.echo(schema_json() if fmt == "json" else reference_markdown(), nl=False)


def _document_configuration(group: click.Group) -> None:
    """Help that tells the truth about options provisioner.yaml and PROVISIONER_* can set (config.py resolves
    them, not click): each names its environment variable, and a default is the built-in one only when
    neither the environment nor provisioner.yaml sets the key."""
    from .config import ENV_PREFIX

    for command in group.commands.values():
        if isinstance(command, click.Group):
            _document_configuration(command)
        if command.name == "emulator":  # its own server settings, not the project's configuration
            continue
        for option in command.params:
            key = "state" if option.name == "state_path" else option.name
            if not isinstance(option, click.Option) or key not in CONFIG_KEYS or key == "manifests":
                continue
            variable = ENV_PREFIX + key.upper()
            if variable not in (option.help or ""):
                option.help = f"{(option.help or '').rstrip()} [env {variable}]"
            if option.show_default and option.default is not None and not isinstance(option.show_default, str):
                option.show_default = f"{option.default}, or as the environment or provisioner.yaml sets it"


_document_configuration(cli)

DEBUG_ENV = "PROVISIONER_DEBUG"


def main() -> None:
    pause_collection()  # see heap.py: the emulator and an apply turn collection back on
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.secho("Aborted.", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.ClickException as error:
        # Usage errors exit 1, not click's 2: 2 means "changes" under --detailed-exitcode.
        error.message = scrub(error.message)
        error.show()
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.secho("Interrupted.", fg="red", err=True)
        sys.exit(130)
    except MemoryError:
        click.secho("Error: out of memory.", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as error:  # a bug: say so without a traceback that could quote a secret
        if os.environ.get(DEBUG_ENV):
            import traceback

            click.echo(scrub(traceback.format_exc()), err=True)
        click.secho(scrub(f"Error: unexpected {type(error).__name__}: {error}")[:2000], fg="red", err=True)
        click.secho(f"This is a bug in the provisioner; set {DEBUG_ENV}=1 for the details.", err=True)
        sys.exit(EXIT_ERROR)
