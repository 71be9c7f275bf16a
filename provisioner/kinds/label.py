"""Labels (API.md "Folders and labels"): the shape, paths and rules of folders (folder.py), under `label`."""
from __future__ import annotations

from .folder import grouping

LABEL = grouping("label", "Label", "label")
