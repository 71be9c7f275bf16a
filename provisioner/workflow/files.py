"""Opening a file the user named, for reading: regular files only, never blocking on a FIFO."""
from __future__ import annotations

import os
import stat

from ..errors import ProvisionerError


def open_regular(path: str, what: str):
    """`path` opened for reading, refused unless a regular file. Non-blocking, so a FIFO cannot hang the run."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    handle = os.fdopen(descriptor, "rb")
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        handle.close()
        raise ProvisionerError(f"{what} is not a regular file")
    return handle
