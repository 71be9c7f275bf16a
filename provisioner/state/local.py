"""Files on the local disk: atomic writes (plan files, exported manifests), and the JSON state files of older
versions, which the SQL store migrates on first use."""
from __future__ import annotations

import os
import stat
import uuid
from typing import Iterable
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old file or the new one, whole."""
    atomic_write_pieces(path, [data])


def atomic_write_pieces(path: Path, pieces: Iterable[bytes]) -> None:
    """atomic_write of the bytes `pieces` gives, written as it gives them (never all held at once); an error it
    raises leaves the old file, or none, as a crash does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)


def atomic_write_all(files: list[tuple[Path, bytes]]) -> None:
    """Replace several existing files, each keeping its permission bits, owner and group: every new text is written (and synced)
    beside its file first, and only then are they all moved into place, so that a failure while writing (a full
    disk) leaves every file as it was."""
    written: list[tuple[Path, Path]] = []
    try:
        for path, data in files:
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            status = os.stat(path)
            mode = stat.S_IMODE(status.st_mode)
            # Made with the file's own mode (a private file's new text is never readable by others, even for a
            # moment), and only if no such file exists (never through a link someone placed there).
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            written.append((temporary, path))
            with open(descriptor, "wb") as handle:
                # The file's owner and group too: run as root (a container's CI job), the new file was root's,
                # and its owner could no longer edit it. One that cannot be kept (not root, another user's
                # file in a shared folder) fails the write before any file is replaced.
                made = os.fstat(handle.fileno())
                if (made.st_uid, made.st_gid) != (status.st_uid, status.st_gid):
                    os.fchown(handle.fileno(), status.st_uid, status.st_gid)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)  # the umask may have taken bits away (and chown the set-id ones): exactly
        for temporary, path in written:
            os.replace(temporary, path)
    finally:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
    for folder in {path.parent for _, path in written}:
        fsync_directory(folder)


def fsync_directory(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def legacy_state_file(state_dir: Path, workspace: str) -> Path:
    """Where versions before the SQL store kept a workspace's state: state/default.json."""
    return state_dir / f"{workspace}.json"
