"""pull: the platform's drifted values written back into the manifests (the opposite way to apply)."""
from __future__ import annotations

import sys

import click

from .. import render
from ..errors import ProvisionerError
from ..graph import expand, manifest_address
from ..manifest import manifest_sources
from ..planner import unknown_target_problems
from ..pull import Skipped, selection_selector
from ..scrub import register_secret, scrub, scrub_json
from ..selection import is_glob
from ..workflow.manifests import Elsewhere, validate
from ..workflow.pull import PullResult, pull
from ..workflow.selecting import choose
from ..workflow.session import Session, check_selection_syntax
from .options import (HELP, chosen_format, config_options, format_options, manifest_options, platform_options,
                      selection_options, variable_options)
from .run import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, reports_errors, settings_from, settings_paths


@click.command("pull")
@click.argument("paths", nargs=-1)
@click.option("--target", "targets", multiple=True, help=HELP["--target"])
@click.option("--dry-run", is_flag=True, help="Print the diff of the files pull would write; write nothing.")
@click.option("--into-base", is_flag=True,
              help="When the repository defines workspaces (vars/, overlays/), write the pulled values into the base "
                   "manifests all the same, changing every workspace (without it they are named, not written).")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when there are changes, 0 when none, 1 on error.")  # changes: files written
@format_options(("text", "json"))  # the JSON document: docs/pull.md
@platform_options
@config_options
@variable_options
@manifest_options
@selection_options
@reports_errors
def pull_command(paths, targets, dry_run, into_base, detailed_exitcode, fmt, as_json, excludes=(), selector=None,
                 **kwargs) -> None:
    """Write what changed on the platform (a dashboard edit) back into the manifests, in place: only drifted
    fields, comments and formatting kept. Secrets, values from variables or overlays, and fields the platform
    does not show are named, never written. Nothing on the platform changes (docs/pull.md)."""
    settings = settings_from(kwargs)
    paths = settings_paths(paths, settings)
    check_selection_syntax(targets, selector, excludes)  # before the session's first request

    def load(moves=None, elsewhere=None):
        return validate(paths, settings.api_dialect, settings.inputs, settings.manifest_limits, moves=moves,
                        elsewhere=elsewhere)

    # The files' bytes before and after they were loaded: the same, or an edit landed while they were read.
    before = manifest_sources(paths, settings.manifest_limits.bytes)
    moves: list = []  # moved blocks (moves.py): followed as plan follows them
    elsewhere = Elsewhere()  # the manifests of the project's files not among the paths: left alone
    manifests = load(moves, elsewhere)
    sources = manifest_sources(paths, settings.manifest_limits.bytes)
    edited = sorted(file for file in before.keys() | sources.keys()
                    if before.get(file, (None, None))[1] != sources.get(file, (None, None))[1])
    if edited:
        raise ProvisionerError(f"{', '.join(edited)}: changed while pull read it; run pull again (no file was "
                               "changed)")
    with Session(settings, "pull", prefetch=bool(manifests)) as session:
        known = {m.address for m in expand(manifests)} | set(session.state.resources)
        unknown = [t for t in targets if not is_glob(t) and manifest_address(t) not in known]
        if unknown:  # in plan's words, with the closest addresses (docs/selection.md)
            raise ProvisionerError("\n".join(p.message for p in unknown_target_problems(unknown, known)))
        selection = choose(manifests, session.state, targets=targets, excludes=excludes, selector=selector)
        result = pull(session, manifests, paths, selection_selector(selection), dry_run=dry_run, revalidate=load,
                      sources=sources, into_base=into_base, moves=moves,
                      elsewhere=elsewhere)
    if result.texts:
        # A changed line may hold a sensitive value beside the pulled one (a flow mapping on one line): every
        # sensitive value the manifests hold is masked in the diff, as plan masks it.
        for manifest in manifests:
            for name in manifest.sensitive:
                for text in _texts_in(manifest.fields.get(name)):
                    register_secret(text)
    as_json = chosen_format(fmt, as_json) == "json"
    if as_json:
        click.echo(scrub_json(render.pull_json(result, dry_run)))
    else:
        _print_text(result, dry_run)
    for refused in result.refused:  # an error: the manifests cannot say what the platform holds
        click.secho(scrub(f"Error: {_where(refused)}{refused.address}: {refused.field} not pulled: {refused.reason}"),
                    fg="red", err=True)
    if not as_json:
        _print_summary(result, dry_run)
    if result.refused:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if detailed_exitcode and result.texts else EXIT_OK)


def _print_text(result: PullResult, dry_run: bool) -> None:
    if dry_run:
        click.echo(scrub(result.diff()), nl=False)
    verb = "would pull" if dry_run else "pulled"
    for change in result.pulled:
        click.echo(f"{change.address}: {verb} {change.field} into {change.file}")
    for skipped in result.skipped:
        click.secho(scrub(f"{skipped.address}: {skipped.field} not pulled: {skipped.reason}"), fg="yellow")
    if result.write_only:
        listed = "; ".join(f"{', '.join(names)} ({address})" for address, names in sorted(result.write_only.items()))
        click.echo(f"Write-only, never shown back by the platform, so a dashboard change to them is not seen: "
                   f"{listed}.")


def _where(refused: Skipped) -> str:
    """`file:line: ` of the field a refused value was to be pulled into, as every command's errors start: the line in
    the manifest as it is (the validation error's own lines pointed into a text that is never written)."""
    if refused.file is None:
        return ""
    return f"{refused.file}:{refused.line}: " if refused.line is not None else f"{refused.file}: "


def _print_summary(result: PullResult, dry_run: bool) -> None:
    files = len(result.texts)
    refused = f"; {len(result.refused)} the manifests cannot hold (error above)" if result.refused else ""
    if not result.pulled and not result.skipped and not result.refused:
        click.echo("Nothing to pull: the manifests say what the platform holds.")
    elif dry_run:
        click.echo(f"\n{len(result.pulled)} field(s) would be written into {files} file(s){refused}; nothing was "
                   "written (--dry-run).")
    else:
        click.echo(f"\nPulled {len(result.pulled)} field(s) into {files} file(s)"
                   + (f"; {len(result.skipped)} not pulled (above)" if result.skipped else "") + refused + ".")


def _texts_in(value) -> list[str]:
    """The texts inside a value (a mapping's values, a list's items)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts_in(v)]
    return []
