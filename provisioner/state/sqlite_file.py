"""What is at the SQLite state path, decided before the store connects to it (connecting switches a database to
WAL, which is already a write): nothing (a new store is made), a provisioner store (used), or something else,
refused with the file's name:

- a zero-byte file, or a SQLite database with no tables: not a store, perhaps a truncated copy or a file made
  by mistake; taken as a new store only when asked (`--init-store`);
- another application's SQLite database (a table that is not the provisioner's): never used, never given
  tables, whatever the flags;
- a file that is not SQLite at all.

A new store is made whole elsewhere and linked into place, so another run never sees it half made (a
zero-byte file of this program's own). It carries SQLite's application id, so a store is known by its header.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from pathlib import Path

from ..errors import StateError
from . import NoStateStore
from .local import fsync_directory

APPLICATION_ID = 0x70726F76  # "prov", in the database header (PRAGMA application_id)
TABLE_PREFIX = "provisioner_"
_MAGIC = b"SQLite format 3\x00"
STORE_GRACE = 5.0  # seconds: the shortest wait for the database file (see sql.location_for)
INIT_HINT = "pass --init-store to make it a new state store"


def prepare(path: Path, *, init: bool, wait: float, create: bool = True) -> None:
    """Make sure `path` is a provisioner store, or none yet (then make one, if `create`: else NoStateStore), or
    refuse it."""
    try:
        # O_NONBLOCK: a FIFO at the path would block the open (and the run) until a writer came.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise StateError(f"the state database {path} is not a regular file (a FIFO or a device), so not a "
                                 "provisioner state store; nothing was done. Choose another --state path.")
            header = handle.read(100)
    except FileNotFoundError:
        if not create:
            raise NoStateStore(f"SQLite {path}") from None
        _create(path)
        return
    except OSError as error:
        raise StateError(f"cannot read the state database {path}: {error.strerror}") from None
    if not header:
        if init:
            return  # SQLite makes a database of an empty file; the schema follows
        raise StateError(f"the state database {path} is an empty file (zero bytes), not a provisioner state "
                         f"store: a truncated copy? Nothing was done; {INIT_HINT}.")
    if not header.startswith(_MAGIC):
        raise StateError(f"{path} is not a SQLite database, so not a provisioner state store; nothing was done. "
                         "Choose another --state path.")
    if len(header) >= 72 and int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return
    tables = _tables(path, wait)
    foreign = sorted(name for name in tables if not name.startswith((TABLE_PREFIX, "sqlite_")))
    if foreign:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise StateError(f"{path} is another application's SQLite database (tables {listed}), not a provisioner "
                         "state store; the provisioner adds no tables to it and nothing was done. Choose another "
                         "--state path.")
    if not any(name.startswith(TABLE_PREFIX) for name in tables) and not init:
        raise StateError(f"{path} is a SQLite database without any table, not a provisioner state store; "
                         f"nothing was done; {INIT_HINT}.")


def _tables(path: Path, wait: float) -> list[str]:
    """The database's tables, read without writing (read-only, no journal switch)."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=wait)
    except sqlite3.Error as error:
        raise StateError(f"cannot open the state database {path}: {error}") from None
    try:
        return [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.Error as error:
        if "locked" in str(error) or "busy" in str(error):
            raise StateError(held_message(path, wait)) from None
        raise StateError(f"cannot read the state database {path}: {error}") from None
    finally:
        connection.close()


def held_message(path: Path, wait: float) -> str:
    return (f"the state database {path} is held by another process: it stayed locked for {wait:g}s "
            f"(the longer of --lock-timeout and {STORE_GRACE:g}s). Nothing was done; retry once that process lets go "
            "of the file, or with a longer --lock-timeout.")


def _create(path: Path) -> None:
    """A new, empty store database at `path`, made beside it and linked into place (never half made there)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.new")
    try:
        connection = sqlite3.connect(temporary)
        try:
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute("PRAGMA journal_mode = WAL")
        finally:
            connection.close()
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another run made it at the same moment: theirs is used (and checked by its header)
        fsync_directory(path.parent)
    except (OSError, sqlite3.Error) as error:
        raise StateError(f"cannot create the state database {path}: {getattr(error, 'strerror', None) or error}"
                         ) from None
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + "-wal"),
                         temporary.with_name(temporary.name + "-shm")):
            leftover.unlink(missing_ok=True)
