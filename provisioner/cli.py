"""The command line's root: the `provisioner` group, its commands gathered from provisioner.commands, and main(),
which turns anything uncaught into a message and an exit code. Each command lives in provisioner/commands/."""
from __future__ import annotations

import errno
import importlib
import os
import signal
import sys

import click

from . import __version__
from .commands.group import EXIT_ERROR, NO_COLOR_HELP, CommandGroup, no_color
from .heap import pause_collection
from .process_end import end_process, is_entry_point
from .scrub import scrub
from .startup import command_starts

# Each command's module, imported only when the command runs (or help lists it): a plan never loads the pull
# command's YAML editor, the emulator's server options or the state commands (about 0.07 s of every run).
COMMANDS = {
    "validate": "commands.manifests:validate_command", "render": "commands.manifests:render_command",
    "schema": "commands.manifests:schema_command", "plan": "commands.plan_apply:plan_command",
    "apply": "commands.plan_apply:apply_command", "destroy": "commands.plan_apply:destroy_command",
    "import": "commands.adopt:import_command", "export": "commands.adopt:export_command",
    "refresh": "commands.adopt:refresh_command", "state": "commands.state:state_group",
    "force-unlock": "commands.state:force_unlock_command", "show": "commands.state:show_command",
    "workspace": "commands.workspace:workspace_group", "emulator": "emulator.command:emulator_command",
    "pull": "commands.pull:pull_command",
}


class LazyCommandGroup(CommandGroup):
    """The root group: its commands are loaded by name, on first use (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module, attribute = COMMANDS[name].split(":")
            command = getattr(importlib.import_module(f".{module}", __package__), attribute)
            self.add_command(command, name)
            _document_configuration(command)
        return self.commands.get(name)


@click.group(cls=LazyCommandGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="provisioner")
@click.option("--no-color", is_flag=True, is_eager=True, expose_value=False, callback=no_color,
              help=NO_COLOR_HELP)
def cli() -> None:
    """Declarative provisioning of voice AI assistants: validate, plan, apply."""


def _document_configuration(command: click.Command) -> None:
    """Help that tells the truth about options provisioner.yaml and PROVISIONER_* can set (config.py resolves
    them, not click): each names its environment variable, and a default is the built-in one only when
    neither the environment nor provisioner.yaml sets the key. A group's own options, and its commands'."""
    from .config import ENV_PREFIX, KEYS as CONFIG_KEYS  # the pipeline's modules: not for --version or a bare --help

    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _document_configuration(sub)
    if command.name == "emulator":  # its own server settings, not the project's configuration
        return
    for option in command.params:
        key = "state" if option.name == "state_path" else option.name
        if not isinstance(option, click.Option) or key not in CONFIG_KEYS or key in ("manifests", "policies"):
            continue
        variable = ENV_PREFIX + key.upper()
        if variable not in (option.help or ""):
            option.help = f"{(option.help or '').rstrip()} [env {variable}]"
        if option.show_default and option.default is not None and not isinstance(option.show_default, str):
            option.show_default = f"{option.default}, or as the environment or provisioner.yaml sets it"


DEBUG_ENV = "PROVISIONER_DEBUG"


def main() -> None:
    """The CLI, to its exit code; as the process's entry point, then the end of the process (process_end.py)."""
    try:
        _run()
    except SystemExit as end:
        if is_entry_point(main):
            end_process(end.code)
        raise
    if is_entry_point(main):
        end_process(None)


def _on_sigterm(number, frame) -> None:
    """SIGTERM (a pipeline cancelling the job) outside an apply, which has a handler of its own (it finishes what
    is in flight): the process ends at once, as by the default action, but says so. Nothing of the platform is
    changed outside an apply; an unfinished state transaction is rolled back by the database."""
    try:
        os.write(2, b"Terminated (SIGTERM).\n")
    finally:
        os._exit(143)


def _colour() -> bool | None:
    """Colours of what is said here, after the command and its context are gone: none under NO_COLOR or
    --no-color, as in every command's own output; else click's choice (a terminal has them)."""
    return False if os.environ.get("NO_COLOR") or "--no-color" in sys.argv[1:] else None


def _run() -> None:
    command_starts()  # Ctrl-C is a KeyboardInterrupt again, reported below (startup.py)
    pause_collection()  # see heap.py: the emulator and an apply turn collection back on
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        # Ended by the default action, a run said nothing at all (exit 143): now it says it was stopped.
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort: the documented 130
            click.secho("Interrupted.", fg="red", err=True, color=_colour())
            sys.exit(130)
        click.secho("Aborted.", fg="red", err=True, color=_colour())
        sys.exit(EXIT_ERROR)
    except click.exceptions.ClickException as error:
        # Usage errors exit 1, not click's 2: 2 means "changes" under --detailed-exitcode.
        error.message = scrub(error.message)
        error.show()
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.secho("Interrupted.", fg="red", err=True, color=_colour())
        sys.exit(130)
    except MemoryError:
        click.secho("Error: out of memory.", fg="red", err=True, color=_colour())
        sys.exit(EXIT_ERROR)
    except OSError as error:
        if error.errno not in OUTPUT_FAILURES:
            _say_bug(error)
        # The output could not be written (`state pull > backup.json` on a full disk): the machine's, not a bug.
        said = f"{error.filename}: {error.strerror}" if error.filename else f"cannot write the output: {error.strerror}"
        click.secho(scrub(f"Error: {said}"), fg="red", err=True, color=_colour())
        sys.exit(EXIT_ERROR)
    except Exception as error:  # a bug: say so without a traceback that could quote a secret
        _say_bug(error)


# A write that fails for want of room or a device: the output's fault, not the provisioner's.
OUTPUT_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _say_bug(error: Exception) -> None:
    if os.environ.get(DEBUG_ENV):
        import traceback

        click.echo(scrub(traceback.format_exc()), err=True)
    click.secho(scrub(f"Error: unexpected {type(error).__name__}: {error}")[:2000], fg="red", err=True,
                color=_colour())
    click.secho(f"This is a bug in the provisioner; set {DEBUG_ENV}=1 for the details.", err=True)
    sys.exit(EXIT_ERROR)
