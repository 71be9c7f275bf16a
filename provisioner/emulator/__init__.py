"""The local platform emulator (see API.md): `provisioner emulator`, and the embedded one behind `--local`.

Written from API.md alone: it imports nothing from the provisioner's client, wire or spec modules, so that a
misreading of the contract on one side cannot hide the same misreading on the other. Names are imported on
first use, so that the CLI does not load the web server to run other commands.
"""
from importlib import import_module

_EXPORTS = {
    "API_PREFIX": "app", "Platform": "app", "create_app": "app",
    "Catalog": "catalog", "load_catalog": "catalog",
    "FaultSettings": "faults", "DOCUMENTED_RATE_LIMIT": "faults", "parse_rate_limit": "faults",
    "ADMIN_TOKEN_ENV": "server", "EmbeddedPlatform": "server", "build_platform": "server", "serve": "server",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
