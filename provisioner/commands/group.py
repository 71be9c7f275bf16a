"""What the command line's root needs before any command is loaded: the exit codes, --no-color and the group class
that gives it to every command. Light on purpose: `provisioner --version` imports this and no stage of the pipeline
(options.py, run.py and the commands import the manifests' models, the planner and the state store)."""
from __future__ import annotations

import os

import click

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

NO_COLOR_HELP = "Plain output without colours (also when the NO_COLOR environment variable is set)."


def no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value or os.environ.get("NO_COLOR"):
        ctx.color = False
        ctx.find_root().color = False


class CommandGroup(click.Group):
    """A group whose every command, and every subgroup's, takes --no-color (before or after its name)."""

    group_class = type

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "no_color" for p in cmd.params):
            cmd.params.append(click.Option(["--no-color"], is_flag=True, expose_value=False, is_eager=True,
                                           callback=no_color, help=NO_COLOR_HELP))
        super().add_command(cmd, name)
