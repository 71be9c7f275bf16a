"""What the handlers of every kind other than assistants share: the platform they belong to and its parts."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import Platform


class Kind:
    """One resource kind's endpoints. `routes()` lists them; the admin endpoints reach `admin_update`."""

    name = ""          # the kind's name in the admin and fault endpoints (`tools`, `folders`, ...)
    table_kind = ""    # its `kind` in the store

    def __init__(self, platform: "Platform"):
        self.platform = platform
        self.store = platform.store
        self.catalog = platform.catalog

    @property
    def settings(self):
        return self.platform.faults.settings

    def routes(self) -> list:
        raise NotImplementedError
