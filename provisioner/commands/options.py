"""The options commands share, with one wording each (HELP); the group class that gives every command --no-color
is group.py's."""
from __future__ import annotations

import functools
from typing import Callable

import click
from click.core import ParameterSource

from .. import render
from ..manifest import DEFAULT_LIMITS, Limits
from ..spec import DEFAULT_DIALECT, DIALECTS
from ..workflow.settings import DEFAULT_STATE_PATH
from .group import NO_COLOR_HELP


# One wording per option, whichever command takes it (a test holds every command to it).
HELP = {
    "--allow-empty": "Go on even if no manifest is found (an error otherwise); plan and apply then destroy "
                     "everything the state manages.",
    "--state": "SQLite state database (--backend sqlite); its folder also holds local files [env "
               "PROVISIONER_STATE].",
    "--lock": "Lock the state while running (--lock=false: no lock, e.g. for a look while another run holds it; "
              "a write without it is refused while another run holds the lock, or if the state moved on).",
    "--lock-timeout": "How long to wait for a held lock [env PROVISIONER_LOCK_TIMEOUT].",
    "--init-store": "Make a new state store of an empty file or an empty SQLite database at --state (refused "
                    "without it; another application's database is always refused).",
    "--no-color": NO_COLOR_HELP,
    "--json": "Print the result as one JSON document (the same as --format json).",
    "--target": "Only this address, or the addresses a glob like 'tool.*' matches (repeatable), and what they "
                "need.",
    "--exclude": "Leave out this address, or those a glob matches (repeatable); refused when a change the run "
                 "keeps depends on one left out (docs/selection.md).",
    "--selector": "Only objects whose metadata.labels match, as kubectl writes it: team=sales,tier!=gold; key, "
                  "!key, key in (a,b), key notin (a,b).",
    "--replace": "Destroy this object and create it again in this apply (repeatable), updating what refers to "
                 "it; the plan shows it as -/+ (replace requested).",
    "--no-verify": "Skip reading back what the apply changed (one list read per changed kind) to check that the "
                   "platform kept every field sent (docs/apply.md, Verify).",
    "--auto-approve": "Skip the confirmation.",
    "--parallelism": "Changes applied at once [env PROVISIONER_PARALLELISM].",
    "--allow-replace": "Allow replacements that lose data the platform cannot give back (a campaign's leads); "
                       "apply refuses a plan with one without it.",
    "--read-documents": "List the documents of every knowledge base (one request each), to find a document renamed, "
                        "deleted or added on the platform even when its knowledge base's list item shows no sign "
                        "of it (docs/graph.md); for drift checks.",
    "--allow-mass-destroy": "Allow a plan that destroys more than half of the objects in state (at least 5); "
                            "apply refuses one without it (docs/state.md).",
    # One text for plan, apply, destroy and refresh: each weighs what it covers (a plan: its selection, all of the
    # state without one; refresh: what it reads).
    "--allow-mass-forget": "Allow a run that finds more than half (and at least 5) of the objects in state it covers "
                           "(all, or those --target, -l and --exclude select) gone from the platform's lists, to be "
                           "forgotten or made again; refused without it: another account's token or a wrong URL "
                           "reads like that (docs/state.md).",
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
    def decorate(run: Callable) -> Callable:
        @functools.wraps(run)
        def checked(**params):
            _refuse_two_formats(params["fmt"], params["as_json"])
            return run(**params)

        command = click.option("--json", "as_json", is_flag=True, help=HELP["--json"])(checked)
        return click.option("--format", "fmt", type=click.Choice(formats), default="text", show_default=True,
                            help=format_help(formats))(command)
    return decorate


DEFAULT = ParameterSource.DEFAULT


def _refuse_two_formats(fmt: str, as_json: bool) -> None:
    """`--json --format markdown` printed JSON and said nothing of the markdown asked for (a pipeline's comment
    step then posted a JSON document): two formats given are refused, as any contradiction on the command line."""
    if as_json and fmt != "json" and click.get_current_context().get_parameter_source("fmt") is not DEFAULT:
        raise click.UsageError(f"--json and --format {fmt} ask for two formats; give one (--json is --format json)")


def chosen_format(fmt: str, as_json: bool) -> str:
    return "json" if as_json else fmt


# No envvar= on the options whose values click checks (a Choice): click would refuse a bad PROVISIONER_API_DIALECT
# or PROVISIONER_BACKEND as "Invalid value for '--api-dialect'", a flag nobody gave, and alone. The configuration
# reads the environment itself (config.ENV_KEYS) and names the variable, with every other configuration error.
dialect_option = click.option(
    "--api-dialect", "api_dialect", default=DEFAULT_DIALECT, show_default=True,
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
                     help="Give up retrying a request after this long; also the longest wait for the "
                          "platform's rate limit."),
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
        click.option("--campaign-create-path", default=None,
                     help="POST path of a campaign's create: /user/campaigns (default) or /user/campaign (some "
                          "white-labels) [env PROVISIONER_CAMPAIGN_CREATE_PATH; provisioner.yaml "
                          "campaign_create_path]."),
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


def state_options(command: Callable) -> Callable:
    command = click.option("--lock-timeout", default="0s", show_default=True, help=HELP["--lock-timeout"])(command)
    command = click.option("--lock", type=click.BOOL, default=True, show_default=True, help=HELP["--lock"])(command)
    return config_options(with_store_options(command))


def policy_option(command: Callable) -> Callable:
    """Where the policy documents are (docs/policies.md); `policies` in provisioner.yaml, else policies/."""
    return click.option(
        "--policy-dir", "policies", multiple=True, metavar="PATH",
        help="A folder (or file) of policy documents (kind: Policy) checked before anything is written; "
             "repeatable [config `policies`; default: policies/ beside provisioner.yaml, if present].")(command)


def selection_options(command: Callable) -> Callable:
    """--exclude and -l/--selector (docs/selection.md); --target is each command's own."""
    command = click.option("-l", "--selector", "selector", default=None, metavar="SELECTOR",
                           help=HELP["--selector"])(command)
    return click.option("--exclude", "excludes", multiple=True, metavar="ADDRESS|GLOB",
                        help=HELP["--exclude"])(command)
