"""Running the emulator: in the foreground (`provisioner emulator`) or embedded in a thread (`--local`)."""
from __future__ import annotations

import threading
from pathlib import Path

import uvicorn

from .app import Platform, create_app
from .catalog import Catalog, load_catalog
from .faults import Faults, FaultSettings
from .store import Store


def build_platform(db: str | Path | None = None, catalog: str | Path | Catalog | None = None,
                   faults: FaultSettings | None = None) -> Platform:
    if db is not None:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    return Platform(Store(str(db) if db else ":memory:"), catalog, Faults(faults))


def serve(platform: Platform, host: str, port: int) -> None:
    """Serve until interrupted."""
    uvicorn.run(create_app(platform), host=host, port=port, log_level="warning", access_log=False)


class EmbeddedPlatform:
    """The emulator on a free loopback port in a background thread, for the length of a `with` block."""

    def __init__(self, platform: Platform, host: str = "127.0.0.1"):
        self.platform = platform
        self.url = ""
        config = uvicorn.Config(create_app(platform), host=host, port=0, log_level="warning", access_log=False,
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="embedded-platform", daemon=True)

    def __enter__(self) -> "EmbeddedPlatform":
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the embedded platform failed to start")
            self._thread.join(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self.platform.store.close()
