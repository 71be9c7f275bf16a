"""The local platform emulator (see API.md): `provisioner emulator`, and the embedded one behind `--local`."""
from .app import Platform, create_app
from .catalog import Catalog, load_catalog
from .faults import FaultSettings
from .server import EmbeddedPlatform, build_platform, serve

__all__ = ["Platform", "create_app", "Catalog", "load_catalog", "FaultSettings",
           "EmbeddedPlatform", "build_platform", "serve"]
