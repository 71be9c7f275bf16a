"""Running the emulator: in the foreground (`provisioner emulator`) or embedded in a thread (`--local`, tests)."""
from __future__ import annotations

import gc
import os
import secrets
import socket
import threading
from pathlib import Path

import uvicorn

from .app import API_PREFIX, Platform, create_app
from .catalog import Catalog, load_catalog
from .faults import Faults, FaultSettings
from .protocol import EmulatorProtocol
from .store import Store

ADMIN_TOKEN_ENV = "PROVISIONER_EMULATOR_ADMIN_TOKEN"


def build_platform(db: str | Path | None = None, catalog: str | Path | Catalog | None = None,
                   faults: FaultSettings | None = None, *, dialect: str = "both", rate_limit: str | None = None,
                   admin_token: str | None = None, public_root: str | None = None) -> Platform:
    """A platform: SQLite at `db` (in memory without it), the catalogue (a path, a Catalog, or the shipped
    default), fault settings, the create dialects it takes (both, v1 or v2), a rate limit (overrides
    `faults.rate_limit`: off, documented or "1000/60s,200/10s") and the admin token (random without one)."""
    if db is not None:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    settings = faults or FaultSettings()
    if rate_limit is not None:
        settings = FaultSettings.model_validate({**settings.model_dump(), "rate_limit": rate_limit})
    return Platform(Store(str(db) if db else ":memory:"), catalog, Faults(settings), dialect=dialect,
                    admin_token=admin_token or secrets.token_urlsafe(24), public_root=public_root)


def admin_token_from_env() -> str | None:
    return os.environ.get(ADMIN_TOKEN_ENV, "").strip() or None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the real port is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it every
    # answer on a kept-alive connection waits ~40 ms (Nagle against the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(platform: Platform, host: str, port: int, sock: socket.socket | None = None) -> None:
    """Serve until interrupted."""
    config = uvicorn.Config(create_app(platform), host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off", http=EmulatorProtocol)
    config.load()
    # Everything built so far (modules, the app, the catalogue) lives as long as the server: out of the
    # collector's sight, so that its full collections, between requests, walk only what requests leave behind.
    gc.freeze()
    server = uvicorn.Server(config)
    server.run(sockets=[sock] if sock is not None else None)


class EmbeddedPlatform:
    """The emulator on a free loopback port in a background thread, for the length of a `with` block.

    `url` is the platform's base URL (with /api: clients append /user/...), `root_url` the server's root (the
    admin endpoints live at `root_url + "/_emulator/..."`), `admin_token` the token those need.
    """

    def __init__(self, platform: Platform, host: str = "127.0.0.1"):
        self.platform = platform
        self.url = ""
        self.root_url = ""
        # use_colors given: uvicorn's default asks sys.stdout.isatty(), and failed on a closed stdout (`>&-`).
        config = uvicorn.Config(create_app(platform), host=host, port=0, log_level="warning", access_log=False,
                                lifespan="off", http=EmulatorProtocol, use_colors=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="embedded-platform", daemon=True)

    @property
    def admin_token(self) -> str:
        return self.platform.admin_token

    def __enter__(self) -> "EmbeddedPlatform":
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the embedded platform failed to start")
            self._thread.join(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.root_url = f"http://{host}:{port}"
        self.url = self.root_url + API_PREFIX
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self.platform.store.close()
