"""The workspace group: list, show, new, select and delete the project's workspaces."""
from __future__ import annotations

from typing import Callable

import click

from ..errors import ProvisionerError
from ..workflow.workspaces import (current_workspace, delete_workspace, list_workspaces, new_workspace,
                                   select_workspace)
from .group import CommandGroup
from .options import HELP, config_options, store_options
from .run import reports_errors, store_settings


@click.group("workspace", cls=CommandGroup)
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
    settings = store_settings(store)
    current = current_workspace(settings)
    for name in list_workspaces(settings):
        click.echo(("* " if name == current else "  ") + name)


@workspace_group.command("show")
@_workspace_options
@reports_errors
def workspace_show(**store) -> None:
    """The selected workspace ($PROVISIONER_WORKSPACE, else provisioner.yaml's, else the one `workspace select`
    remembered)."""
    click.echo(current_workspace(store_settings(store)))


def _refuse_if_pinned(settings, name: str, otherwise: str = "") -> None:
    """The selected workspace is the last one asked (after --workspace, PROVISIONER_WORKSPACE and provisioner.yaml's
    `workspace:`): selecting another than the one they pin said "Switched to workspace 'staging'" while every later
    command ran in prod, so a pipeline's `workspace select` then `apply` applied to the other workspace."""
    pinned_by = settings.config.origins.get("workspace") if settings.config is not None else None
    if pinned_by and settings.workspace != name:
        raise ProvisionerError(f"{pinned_by} sets the workspace to {settings.workspace!r}, which comes before the "
                               f"selected one: every command would still use {settings.workspace!r}, not {name!r}. "
                               f"Nothing was changed. Remove it (or set it to {name!r}) to select {name!r}"
                               f"{otherwise}")


@workspace_group.command("new")
@click.argument("name")
@click.option("--no-select", is_flag=True, help="Create it without selecting it.")
@_workspace_options
@reports_errors
def workspace_new(name, no_select, **store) -> None:
    """Create an empty workspace and select it."""
    settings = store_settings(store)
    if not no_select:
        _refuse_if_pinned(settings, name, f"; or create it without selecting it: provisioner workspace new "
                                          f"--no-select {name}")
    new_workspace(settings, name)
    if not no_select:
        select_workspace(settings, name)
    click.secho(f"Created workspace {name!r}" + ("" if no_select else " and selected it") + ".", fg="green")


@workspace_group.command("select")
@click.argument("name")
@click.option("--or-create", is_flag=True, help="Create it first if it does not exist (for pipelines); one the "
                                                "repository defines (vars/NAME.yaml, overlays/NAME/) is created "
                                                "without it.")
@_workspace_options
@reports_errors
def workspace_select(name, or_create, **store) -> None:
    """Make NAME the workspace every command uses (remembered in the state folder's `workspace` file); one the
    repository defines (vars/NAME.yaml, overlays/NAME/) is created if it does not exist yet."""
    settings = store_settings(store)
    _refuse_if_pinned(settings, name)
    if select_workspace(settings, name, or_create=or_create):
        click.echo(f"Created workspace {name!r}.")
    click.secho(f"Switched to workspace {name!r}.", fg="green")


@workspace_group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even if it still manages objects (they stay on the "
                                            "platform, unmanaged).")
@click.option("--lock-timeout", default="0s", show_default=True, help=HELP["--lock-timeout"])
@_workspace_options
@reports_errors
def workspace_delete(name, force, **store) -> None:
    """Delete a workspace's state (not the current one; not a non-empty one without --force)."""
    dropped = delete_workspace(store_settings(store), name, force=force)
    click.secho(f"Deleted workspace {name!r}" + (f" (forgot {dropped} object(s))" if dropped else "") + ".",
                fg="green")
