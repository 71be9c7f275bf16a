"""The state group (list, show, rm, mv, pull, push), force-unlock, and show: the state by hand, no platform request."""
from __future__ import annotations

import json
import sys

import click

from .. import render
from ..errors import ProvisionerError
from ..scrub import scrub_view
from ..state import State
from ..workflow.plan_file import read_plan_file
from ..workflow.settings import open_backend
from ..workflow.state_edits import (describe_entry, entry_in_state, holder_alive_here, list_entry, state_move,
                                    state_remove)
from .group import CommandGroup
from .options import chosen_format, config_options, format_options, state_options, with_store_options
from .run import EXIT_ERROR, confirm, echo_plan, reports_errors, state_session, store_settings


@click.group("state", cls=CommandGroup)
def state_group() -> None:
    """Inspect, repair and move the state by hand: list, show, rm, mv, pull, push."""


@state_group.command("list")
@format_options(("text", "json"))
@state_options
@reports_errors
def state_list(fmt, as_json, lock, lock_timeout, **store) -> None:
    """Addresses in state, of every kind, with their platform ids and kinds (JSON: an array of
    {address, kind, id, protect})."""
    with state_session(store, lock, lock_timeout, "state list") as session:
        entries = [list_entry(a, e) for a, e in sorted(session.state.resources.items())]
    if chosen_format(fmt, as_json) == "json":
        click.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        click.echo(f"{entry['address']}\tid={entry['id']}\tkind={entry['kind']}"
                   + ("\tprotected" if entry["protect"] else ""))


@state_group.command("show")
@click.argument("address")
@state_options
@reports_errors
def state_show(address, lock, lock_timeout, **store) -> None:
    """One address's state record (sensitive values appear as digests)."""
    with state_session(store, lock, lock_timeout, "state show") as session:
        address, entry = entry_in_state(session, address)
    click.echo(json.dumps(describe_entry(address, entry), indent=2))


@state_group.command("rm")
@click.argument("address")
@state_options
@reports_errors
def state_rm(address, lock, lock_timeout, **store) -> None:
    """Forget ADDRESS, of any kind (the object stays on the platform)."""
    with state_session(store, lock, lock_timeout, "state rm") as session:
        entry, inside = state_remove(session, address)
    also = f" and what is inside it ({', '.join(inside)})" if inside else ""
    click.echo(f"Removed {address} (id {entry.id}){also} from state; {'they are' if inside else 'it is'} still on "
               "the platform.")


@state_group.command("mv")
@click.argument("old")
@click.argument("new")
@state_options
@reports_errors
def state_mv(old, new, lock, lock_timeout, **store) -> None:
    """Rename an address in state (after renaming metadata.name), within its kind."""
    with state_session(store, lock, lock_timeout, "state mv") as session:
        state_move(session, old, new)
    click.echo(f"Moved {old} to {new}.")


@state_group.command("pull")
@state_options
@reports_errors
def state_pull(lock, lock_timeout, **store) -> None:
    """Print the state as JSON (lineage, serial, resources and history): for backups and moving state."""
    with state_session(store, lock, lock_timeout, "state pull") as session:
        document = session.backend.export()
    click.echo(document.dumps(with_history=True).decode(), nl=False)


MAX_STATE_DOCUMENT_BYTES = 512 * 1024 * 1024  # room for 80,000 full records with their history


@state_group.command("push")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--force", is_flag=True, help="Replace the state even if the file has another lineage or an older "
                                            "serial.")
@state_options
@reports_errors
def state_push(file, force, lock, lock_timeout, **store) -> None:
    """Load a state document (from `state pull` or an old state file) into the store; '-' reads stdin."""
    shown = "stdin" if file == "-" else file
    try:
        # Bounded: `state push /dev/zero` (or a pipe that never ends) filled the memory. A pipe is fine
        # (`state push <(cmd)`), so the file is not required to be a regular one.
        if file == "-":
            if sys.stdin is None:  # closed (`<&-`): Python has no sys.stdin at all
                raise ProvisionerError("cannot read stdin: it is closed; nothing was pushed")
            data = sys.stdin.buffer.read(MAX_STATE_DOCUMENT_BYTES + 1)
        else:
            with open(file, "rb") as handle:
                data = handle.read(MAX_STATE_DOCUMENT_BYTES + 1)
    except OSError as error:
        raise ProvisionerError(f"cannot read {file}: {error.strerror}") from None
    if len(data) > MAX_STATE_DOCUMENT_BYTES:
        raise ProvisionerError(f"{shown} is larger than {MAX_STATE_DOCUMENT_BYTES // 1024 // 1024} MiB: not a state "
                               "document (`state pull` writes about 6 KB per object); nothing was pushed")
    document = State.loads(data, shown)
    with state_session(store, lock, lock_timeout, "state push") as session:
        message = session.backend.push(document, force=force)
    click.secho(message[0].upper() + message[1:] + ".", fg="green")


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@with_store_options
@config_options
@reports_errors
def force_unlock_command(lock_id, force, **store) -> None:
    """Remove a stale state lock, by the ID its error message showed. The run that held it stops before its next
    write (exit 1); asks first unless --force."""
    backend = open_backend(store_settings(store), create=False)  # no store, no lock to remove: none is made
    try:
        holder = backend.lock_holder()
        if holder is not None and holder.id == lock_id:
            click.echo(f"Lock held by:\n  {holder.describe()}")
            if holder_alive_here(holder):
                click.secho(f"Warning: the process that holds this lock (pid {holder.pid} on this host) is still "
                            "running. Unlocking stops it at its next state write, and another run may then work "
                            "on the state alongside it.", fg="yellow", bold=True, err=True)
            if not force and not confirm("Do you really want to force-unlock the state? The run that holds the "
                                          "lock stops at its next write."):
                click.secho("force-unlock cancelled. The lock is still held.", fg="red", err=True)
                sys.exit(EXIT_ERROR)
        backend.force_unlock(lock_id)
    finally:
        backend.close()
    click.secho("The state has been unlocked.", fg="green")


@click.command("show")
@click.argument("plan_file", metavar="[PLANFILE]", required=False, type=click.Path(dir_okay=False, exists=True))
@format_options()
@state_options
@reports_errors
def show_command(plan_file, fmt, as_json, lock, lock_timeout, **store) -> None:
    """Show a saved plan, or without PLANFILE the objects the state manages, of every kind (no platform request)."""
    fmt = chosen_format(fmt, as_json)
    if plan_file:
        echo_plan(read_plan_file(plan_file), fmt)  # as `plan` shows it
        return
    with state_session(store, lock, lock_timeout, "show") as session:
        document = render.state_document(session.state)
    click.echo(scrub_view(render.state_as(document, fmt), fmt), nl=fmt != "markdown")
