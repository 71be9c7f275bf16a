"""import, export and refresh: the commands that bring the platform's assistants into state or manifests."""
from __future__ import annotations

import os

import click

from ..errors import ProvisionerError
from ..graph import manifest_address
from ..selection import is_glob
from ..spec import did_you_mean
from ..workflow.adopt import import_object, refresh
from ..workflow.export import export
from ..workflow.manifests import manifests_or_empty, validate
from ..workflow.session import Session
from ..workflow.selecting import choose
from .options import (HELP, PlatformId, config_options, manifest_options, platform_options, selection_options,
                      variable_options)
from .run import reports_errors, settings_from, settings_paths


@click.command("import")
@click.argument("address")
@click.argument("remote_id", metavar="ID", type=PlatformId())
@click.argument("paths", nargs=-1)
@platform_options
@config_options
@variable_options
@manifest_options
@reports_errors
def import_command(address, remote_id, paths, **kwargs) -> None:
    """Adopt the platform's object ID as the manifest ADDRESS, of any kind: `support` (or `assistant.support`),
    `folder.sales`, `label.vip` (nothing on the platform changes)."""
    settings = settings_from(kwargs)
    manifests = validate(settings_paths(paths, settings), settings.api_dialect, settings.inputs,
                         settings.manifest_limits)
    with Session(settings, "import") as session:
        live = import_object(session, manifests, address, remote_id)
    named = f" ({live.name!r})" if live.name else ""  # a SIP trunk without a nickname has no name
    click.secho(f"Import successful: {address} is now id {remote_id}{named}.", fg="green")
    click.echo("Run `provisioner plan` to see what differs from the manifest.")


@click.command("export")
@click.argument("paths", nargs=-1)
@click.option("--out", "out_dir", default="exported", show_default=True, help="Folder for the new manifests.")
@platform_options
@config_options
@variable_options
@manifest_options
@reports_errors
def export_command(paths, out_dir, **kwargs) -> None:
    """Write manifests for what the platform holds, of every kind, that nothing manages yet (references as
    addresses, secrets as ${env.X})."""
    settings = settings_from(kwargs)
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        # Said before the platform is read, of --out itself: not "could not write FILE/tool.x.yaml (File exists)".
        raise ProvisionerError(f"--out {out_dir} exists and is not a folder: export writes a manifest per object into "
                               "a folder; nothing was written (choose another --out)")
    manifests = manifests_or_empty(settings_paths(paths, settings), settings.api_dialect, settings.inputs,
                                   settings.manifest_limits)
    with Session(settings, "export", lock=False) as session:
        notes: list[str] = []
        written = export(session, manifests, out_dir, notes)
    for exported in written:
        needs = ([f"fill in {', '.join(exported.fill_in)}"] if exported.fill_in else []) + (
            [f"set {', '.join(exported.environment)} in the environment"] if exported.environment else []) + (
            [f"put the documents' files at {', '.join(exported.files)}, relative to the manifest (the platform "
             "does not give them back)"] if exported.files else [])
        click.echo(f"wrote {exported.path}" + (f" ({'; '.join(needs)} before applying)" if needs else ""))
    counts = {kind: sum(e.kind == kind for e in written) for kind in sorted({e.kind for e in written})}
    others = "".join(f", {n} {kind}(s)" for kind, n in counts.items() if kind != "assistant")
    click.echo(f"Exported {counts.get('assistant', 0)} assistant(s){others}.")
    for note in notes:
        click.secho(note, fg="yellow")


@click.command("refresh")
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--allow-mass-forget", is_flag=True, help=HELP["--allow-mass-forget"])
@selection_options
@platform_options
@config_options
@reports_errors
def refresh_command(targets=(), allow_mass_forget=False, excludes=(), selector=None, **kwargs) -> None:
    """Update state from the platform; change nothing on the platform."""
    settings = settings_from(kwargs)
    # Labels are the manifests' (metadata.labels): read only when a selector needs them.
    manifests = manifests_or_empty(settings_paths((), settings), settings.api_dialect, settings.inputs,
                                   settings.manifest_limits) if selector is not None else []
    with Session(settings, "refresh") as session:
        only = None
        if targets or excludes or selector is not None:
            # `assistant.x` is the assistant `x`, as for plan; a plain address state does not hold is an error, as
            # for plan and pull (it refreshed nothing and said so as a success).
            targets = tuple(t if is_glob(t) else manifest_address(t) for t in targets)
            unknown = [t for t in targets if not is_glob(t) and t not in session.state.resources]
            if unknown:
                shown = unknown[0] if len(unknown[0]) <= 60 else unknown[0][:60] + "…"
                raise ProvisionerError(f"--target {shown!r}: no object in state has that address (refresh "
                                       "reads what state manages)" + did_you_mean(unknown[0], session.state.resources))
            chosen = choose(manifests, session.state, targets=targets, excludes=excludes, selector=selector)
            chosen_addresses = chosen.targets if chosen.targets is not None else session.state.resources
            if chosen.targets is not None:
                # A knowledge base's address selects its documents too, as for plan and pull: refreshed alone, a
                # knowledge base gone from the platform left its documents (gone with it) in state without it.
                chosen_addresses = {*chosen_addresses, *(a for a in session.state.resources
                                                         if a.count(".") == 2 and a.rsplit(".", 1)[0] in chosen.targets)}
            only = {a for a in chosen_addresses if a not in chosen.excluded}
        result = refresh(session, only, allow_mass_forget)
    for line in result.lines:
        click.echo(line)
    click.echo(result.summary())
