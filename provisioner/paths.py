"""Where a file a run reads may lead: never into /proc, /sys or /dev, and only inside the folders the caller allows.

A pull request adds manifests, vars files, overlays and document files; through a symbolic link, any of them
could have the CI machine's own files read (and their values quoted in plans and errors). One rule, in one
leaf module: manifest.py (the manifest walk), overlays.py (vars files and overlay folders) and
kinds/document.py (a document's file) all ask it.
"""
from __future__ import annotations

import os
from typing import Iterable

FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")


def within(path: str, root: str) -> bool:
    """Whether `path` is `root` or under it (both real paths: no link is followed here)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def forbidden(real: str) -> bool:
    """Whether the real path `real` is in /proc, /sys or /dev."""
    return any(within(real, root) for root in FORBIDDEN_ROOTS)


def leads_out(path: str | os.PathLike, allowed: Iterable[str]) -> bool:
    """Whether `path`, its links followed, is forbidden or outside every one of the real paths `allowed`."""
    real = os.path.realpath(path)
    return forbidden(real) or not any(within(real, root) for root in allowed)
