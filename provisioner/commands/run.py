"""Around every command's core: settings from the flags, state sessions, the confirmation prompt, and the
provisioner's errors turned into a message and an exit code."""
from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Callable

import click
from click.core import ParameterSource

from .. import render
from ..config import KEYS as CONFIG_KEYS, Config, resolve_config
from ..errors import Problem, ProblemsError, ProvisionerError
from ..manifest import DEFAULT_LIMITS
from ..scrub import scrub, scrub_json, scrub_view
from ..workflow.settings import Settings
from .group import EXIT_CHANGES, EXIT_ERROR, EXIT_OK  # noqa: F401 (the commands take them from here)

if TYPE_CHECKING:  # the session is the platform's and the state's: imported where one is opened, not by validate
    from ..workflow.session import Session

DEFAULT_PATHS = ("manifests",)


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
    _refuse_local_with_a_platform(kwargs)
    config = config_from(kwargs, parallelism)
    return Settings.from_config(config, local=kwargs.pop("local"), token_file=kwargs.pop("token_file"),
                                lock=kwargs.pop("lock", True), insecure_http=kwargs.pop("insecure_http", False),
                                init_store=kwargs.pop("init_store", False),
                                manifest_limits=kwargs.pop("manifest_limits", DEFAULT_LIMITS))


def _refuse_local_with_a_platform(kwargs: dict) -> None:
    """`--local --api-url URL` planned against the embedded platform and never said the URL was not used (nor was
    --token-file's token): a platform named on the command line beside --local is refused. (PROVISIONER_API_URL or
    provisioner.yaml's api_url, set for every run, is what --local stands in for: those stay allowed.)"""
    if not kwargs.get("local"):
        return
    ctx = click.get_current_context()
    given = [f"--{name.replace('_', '-')}" for name in ("api_url", "token_file", "insecure_http")
             if name in kwargs and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"--local (the embedded local platform) and {' and '.join(given)} (for another "
                               "platform) contradict each other; give one or the other")


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
                click.echo(scrub_json(render.problems_json(error.problems)))
            click.secho(scrub(f"Error: {error}"), fg="red", err=True)
        except ProvisionerError as error:
            if kwargs.get("as_json") or kwargs.get("fmt") == "json":
                click.echo(scrub_json(render.problems_json([Problem(str(error))])))  # the documented error object
            click.secho(scrub(f"Error: {error}"), fg="red", err=True)
        except RecursionError:
            # Anything nested deeper than the loaders allow should have been refused before this.
            if kwargs.get("as_json") or kwargs.get("fmt") == "json":
                click.echo(render.problems_json([Problem("input nested too deeply")]))
            click.secho("Error: input nested too deeply to process", fg="red", err=True)
        sys.exit(EXIT_ERROR)
    return wrapper


def state_session(store: dict, lock: bool, lock_timeout: str, operation: str) -> Session:
    from ..workflow.session import Session

    return Session(store_settings(dict(store, lock_timeout=lock_timeout), lock=lock), operation)


def store_settings(store: dict, **run) -> Settings:
    """The settings of a command that works on the state alone, resolved as plan's and apply's are: its flags,
    then the environment, then provisioner.yaml (backend, state, workspace, project, lock timeout)."""
    init_store = store.pop("init_store", False)
    return Settings.from_config(config_from(store), init_store=init_store, **run)


def echo_plan(plan, fmt: str, *, styled: bool = True) -> None:
    """A plan's view on stdout, scrubbed (scrub.py); its JSON document written a change at a time, never held
    whole (render.plan_json_pieces). `styled`: the text view's colours (render.plan_text)."""
    if fmt != "json":
        click.echo(scrub_view(render.plan_as(plan, fmt, styled=styled), fmt), nl=fmt != "markdown")
        return
    for piece in render.plan_json_pieces(plan, scrubbed=True):
        click.echo(piece, nl=False)
    click.echo()


def confirm(question: str) -> bool:
    click.echo(f"\n{question}\n  Only 'yes' will be accepted to approve.\n")
    # No stdin at all (a pipeline's `<&-`: Python's sys.stdin is None) is no answer: refused, like an empty one;
    # so is Ctrl-C at the question, from the moment it is shown (a refused confirmation exits 1, not an
    # interrupted run's 130).
    try:
        click.echo("  Enter a value: ", nl=False)
        answer = sys.stdin.readline() if sys.stdin is not None else ""
    except KeyboardInterrupt:
        answer = ""
    click.echo()
    return answer.strip() == "yes"
