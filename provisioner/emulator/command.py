"""`provisioner emulator`: the local platform in the foreground, for your own scripts, tools and CI."""
from __future__ import annotations

import gc

import click

from .faults import KINDS, FaultSettings, parse_rate_limit

ADMIN_TOKEN_ENV = "PROVISIONER_EMULATOR_ADMIN_TOKEN"   # also in server.py, which loads the web server


def _rate_limit(ctx, param, value: str) -> str:
    try:
        parse_rate_limit(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: a free one, printed at start).")
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite file (default: in memory).")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False), help="Catalogue YAML (default: shipped).")
@click.option("--dialect", type=click.Choice(["both", "v1", "v2"]), default="both", show_default=True,
              help="Create dialects accepted on POST and PUT; a body in another one is refused with 422.")
@click.option("--rate-limit", default="off", show_default=True, callback=_rate_limit,
              help="Per-token limits: off, documented (100/60s,20/10s) or windows like 1000/60s,200/10s.")
@click.option("--admin-token", envvar=ADMIN_TOKEN_ENV, show_envvar=True,
              help="Token of the /_emulator admin endpoints (default: a random one, printed at start).")
@click.option("--latency-ms", default=0.0, type=click.FloatRange(0, 60000), help="Added to every request.")
@click.option("--error-rate", default=0.0, type=click.FloatRange(0, 1), help="Share answered 500, without effect.")
@click.option("--commit-fail-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of writes that take effect, then answer 500 or drop the connection.")
@click.option("--commit-429-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of writes that take effect, then answer a proxy's 429 (plain text, no retry_after).")
@click.option("--seed", type=int, help="Seed for the fault injection.")
@click.option("--document-delay-ms", default=300.0, show_default=True, type=click.FloatRange(0, 3_600_000),
              help="How long a new knowledge-base document reads processing.")
@click.option("--document-failure-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of new documents whose processing fails.")
@click.option("--tool-limit", type=click.IntRange(0), help="The plan's mid-call tool limit (default: none).")
@click.option("--campaign-limit", type=click.IntRange(0), help="The plan's campaign limit (default: none).")
@click.option("--drop-field", "drop_field", multiple=True, metavar="KIND.FIELD",
              help="Creates and updates of KIND answer as usual but never save FIELD (as sent), e.g. "
                   "assistants.system_prompt (repeatable).")
def emulator_command(host, port, db, catalog, dialect, rate_limit, admin_token, latency_ms, error_rate,
                     commit_fail_rate, commit_429_rate, seed, document_delay_ms, document_failure_rate, tool_limit,
                     campaign_limit, drop_field=()) -> None:
    """Run the local platform (docs/emulator.md) under http://HOST:PORT/api, with optional faults and rate limits."""
    from .server import bind, build_platform, serve

    gc.enable()  # a server runs for as long as it is needed: it collects (the CLI pauses it, see heap.py)
    try:
        platform = build_platform(db, catalog, FaultSettings(latency_ms=latency_ms, error_rate=error_rate,
                                                             rate_limit=rate_limit,
                                                             commit_fail_rate=commit_fail_rate,
                                                             commit_429_rate=commit_429_rate, seed=seed,
                                                             document_delay_ms=document_delay_ms,
                                                             document_failure_rate=document_failure_rate,
                                                             tool_limit=tool_limit, campaign_limit=campaign_limit,
                                                             drop_fields=_drop_fields(drop_field)),
                                  dialect=dialect, admin_token=admin_token)
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    try:
        sock = bind(host, port)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"Platform emulator: base URL http://{shown_host}:{port}/api "
               f"({'SQLite ' + db if db else 'in memory'}; dialect {dialect}; rate limit {rate_limit}).")
    for tenant in platform.catalog.tenants:
        click.echo(f"  tenant token: {tenant.token} (user_id {tenant.user_id})")
    click.echo(f"  admin token:  {platform.admin_token} (for http://{shown_host}:{port}/_emulator/...)")
    click.echo("Ctrl-C stops it.")
    serve(platform, host, port, sock)


def _drop_fields(values: tuple[str, ...]) -> dict[str, list[str]]:
    """--drop-field KIND.FIELD values as FaultSettings.drop_fields."""
    found: dict[str, list[str]] = {}
    for value in values:
        kind, dot, name = value.partition(".")
        if not dot or not name:
            raise click.BadParameter(f"{value!r} is not KIND.FIELD (e.g. assistants.system_prompt)",
                                     param_hint="--drop-field")
        if kind not in KINDS:  # else FaultSettings refused it as a pydantic dump: "1 validation error for ..."
            raise click.BadParameter(f"{value!r}: {kind!r} is not a kind (one of {', '.join(KINDS)})",
                                     param_hint="--drop-field")
        found.setdefault(kind, []).append(name)
    return found
