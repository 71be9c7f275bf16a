"""The final manifests of a run: loaded, with the workspace's overlays and variables, or every problem found."""
from __future__ import annotations

import functools
import os
from pathlib import Path

from ..config import ConfigError
from ..errors import ManifestError
from ..inputs import ManifestInputs
from ..manifest import DEFAULT_LIMITS, Limits, Manifest, find_manifest_files, load_documents, load_manifests
from ..overlays import final_documents, input_files, unknown_workspace
from ..spec import DEFAULT_DIALECT
from .settings import warn


def validate(paths: list[str], dialect: str = DEFAULT_DIALECT, inputs: ManifestInputs | None = None,
             limits: Limits = DEFAULT_LIMITS, moves: list | None = None) -> list[Manifest]:
    """The final manifests: loaded, with the workspace's overlays and variables when `inputs` are given.
    The files skipped (no YAML suffix) are named on stderr; the moved blocks are appended to `moves` if given."""
    if inputs is not None:
        unknown = unknown_workspace(Path(inputs.root), inputs.workspace)
        if unknown:  # a mistyped --workspace is the run's configuration, not a manifest's mistake
            raise ConfigError([unknown])
    skipped: list[str] = []
    transform = functools.partial(final_documents, inputs=inputs, limits=limits) if inputs is not None else None
    manifests = load_manifests(paths, dialect=dialect, transform=transform, limits=limits, skipped=skipped,
                               moves=moves)
    _report_skipped(skipped)
    if inputs is not None:
        record_sources(manifests, inputs.root)
    return manifests


def record_sources(manifests: list[Manifest], root: str) -> None:
    """Each manifest's file relative to the project's `root` (Document.source), as state records it: a run started
    in another folder (`cd manifests && provisioner plan --config ../provisioner.yaml`) records the same files."""
    base = os.path.abspath(root)
    real_base = os.path.realpath(base)
    # Always worked out, also from the root itself: a file outside the folder a run starts in is shown by its
    # absolute path, which another clone (another folder) would not find.
    relative: dict[str, str] = {}  # a file's many documents: worked out once
    for manifest in manifests:
        document = manifest.document
        source = relative.get(document.file)
        if source is None:
            # The same file gives the same source however it is named (through a linked folder, a link to the
            # manifests folder): its real path relative to the root's, when inside it; else as it is named.
            source = os.path.relpath(os.path.realpath(document.file), real_base)
            if source.startswith(".."):
                source = os.path.relpath(os.path.abspath(document.file), base)
            source = relative[document.file] = Path(source).as_posix()
        document.source = source


def _report_skipped(skipped: list[str]) -> None:
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        warn(f"skipped {len(skipped)} file(s) without a .yaml or .yml suffix: {shown}")


def validation_result(paths: list[str], dialect: str = DEFAULT_DIALECT, inputs: ManifestInputs | None = None,
                      limits: Limits = DEFAULT_LIMITS) -> tuple[int, list]:
    """For `validate --json`: how many manifests were checked, and every problem (none when valid)."""
    try:
        return len(validate(paths, dialect, inputs, limits)), []
    except ManifestError as error:
        # The documents validate read as manifests: within the same limits (a file that needs a raised one read as
        # none), and not the vars, overlay, policy or config files a path such as `.` holds (counted as manifests).
        documents, _ = load_documents(find_manifest_files(paths, []), limits)
        excluded = input_files(documents, inputs) if inputs is not None else set()
        return len([d for d in documents if d.file not in excluded]), error.problems


def manifests_or_empty(paths: list[str], dialect: str = DEFAULT_DIALECT,
                       inputs: ManifestInputs | None = None, limits: Limits = DEFAULT_LIMITS,
                       moves: list | None = None) -> list[Manifest]:
    """Manifests for commands that can run without any (destroy): missing paths mean none."""
    existing = [p for p in paths if Path(p).exists() or Path(p).is_symlink()]
    return validate(existing, dialect, inputs, limits, moves=moves) if existing else []
