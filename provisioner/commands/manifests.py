"""validate, render and schema: the commands that work on the manifests alone, offline."""
from __future__ import annotations

import sys

import click

from .. import render
from ..manifest import Limits
from ..overlays import render_manifests
from ..schema import reference_markdown, schema_json
from ..workflow.manifests import nothing_to, refuse_no_manifests, validate, validation_result
from ..errors import Problem, ProvisionerError
from ..workflow.policies import blocking_message, check_offline, rules_of
from .options import (HELP, config_options, dialect_option, format_help, format_options, chosen_format,
                      manifest_options, policy_option, variable_options, workspace_option)
from .run import EXIT_ERROR, EXIT_OK, config_from, reports_errors


@click.command("validate")
@click.argument("paths", nargs=-1)
@dialect_option
@format_options(("text", "json"))
@config_options
@workspace_option()
@variable_options
@manifest_options
@policy_option
@click.option("--allow-empty", is_flag=True, help=HELP["--allow-empty"])
@reports_errors
def validate_command(paths: tuple[str, ...], fmt: str, as_json: bool, manifest_limits: Limits, allow_empty: bool,
                     **kwargs) -> None:
    """Check manifests offline: schema, every platform rule, duplicates, and the policies (docs/policies.md)."""
    config = config_from(kwargs)
    paths = config.manifest_paths(paths)
    rules = rules_of(config)  # a broken policy (or a policy path that is not there) is an error before anything else
    if chosen_format(fmt, as_json) == "json":
        count, problems = validation_result(paths, config.api_dialect, config.inputs, manifest_limits)
        if not count and not problems and not allow_empty:  # said as the text view says it, exit 1
            problems = [Problem(nothing_to("validate", paths))]
        report = None
        if rules and not problems:
            manifests = validate(paths, config.api_dialect, config.inputs, manifest_limits)
            report = check_offline(rules, manifests, config.workspace)
        click.echo(render.validation_json(count, problems, report.to_dict() if report else None))
        sys.exit(EXIT_ERROR if problems or (report and report.blocks) else EXIT_OK)
    manifests = validate(paths, config.api_dialect, config.inputs, manifest_limits)
    refuse_no_manifests(manifests, paths, allow_empty, doing="validate")
    if rules:
        report = check_offline(rules, manifests, config.workspace)
        click.echo(render.policies_text(report.to_dict()).lstrip("\n"))
        if report.blocks:
            raise ProvisionerError(blocking_message(report).replace("; nothing was written", ""))
    click.echo(f"Success! {len(manifests)} manifest(s) are valid.")


@click.command("render")
@click.argument("paths", nargs=-1)
@dialect_option
@config_options
@workspace_option()
@variable_options
@manifest_options
@reports_errors
def render_command(paths: tuple[str, ...], manifest_limits: Limits, **kwargs) -> None:
    """Print the final manifests (after variables and overlays) as YAML, secrets masked, for review."""
    config = config_from(kwargs)
    # Within the limits plan reads them with: a manifest plan takes with a raised limit is one to review too (the
    # loader's error says to raise it, with the option).
    manifests = validate(config.manifest_paths(paths), config.api_dialect, config.inputs, manifest_limits)
    click.echo(render_manifests(manifests, config.workspace), nl=False)


@click.command("schema")
@click.option("--format", "fmt", type=click.Choice(("json", "markdown")), default="json", show_default=True,
              help=format_help(("json", "markdown"), {"json": "json, the JSON Schema for editors "
                                                              "(docs/manifest.schema.json)",
                                                      "markdown": "markdown, the manifest reference "
                                                                  "(docs/manifests.md)"}))
def schema_command(fmt) -> None:
    """Print the manifest JSON Schema (docs/manifest.schema.json), or with --format markdown the manifest
    reference (docs/manifests.md)."""
    click.echo(schema_json() if fmt == "json" else reference_markdown(), nl=False)
