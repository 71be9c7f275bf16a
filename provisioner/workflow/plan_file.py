"""Saved plan files: read (fully checked), write, recognise; the workspace check and the secrets restored."""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterator

from ..errors import ApiError, ProvisionerError, StalePlanError
from ..graph import expand
from ..inputs import ManifestInputs
from ..json_text import Items, in_pieces
from ..manifest import Manifest
from ..plan import PLAN_FORMAT, Plan
from ..planner import desired_fields
from ..redaction import digest, is_digest
from ..saved_plan import disagreements
from ..state import _DuplicateKey, strict_json
from ..state.local import atomic_write_pieces
from .files import open_regular
from .manifests import manifests_or_empty, validate
from .settings import Settings
from ..patterns import LazyPattern


def check_plan_workspace(plan: Plan, settings: Settings) -> None:
    """A saved plan is applied in the workspace it was made for (its state, its variables, its overlays)."""
    current = settings.inputs
    if plan.inputs and current is not None and plan.inputs.get("workspace") != current.workspace:
        raise StalePlanError(f"the saved plan was made for workspace {plan.inputs.get('workspace')!r}, not "
                             f"{current.workspace!r}; pass --workspace {plan.inputs.get('workspace')}")


def restore_secrets(plan: Plan, settings: Settings) -> None:
    """Put the manifests' sensitive values back where the plan file holds their digests."""
    check_plan_workspace(plan, settings)
    needed = [c for c in plan.changes if any(is_digest(c.body.get(name)) for name in c.sensitive)]
    if not needed:
        return
    # A child's change (a knowledge base's document) is found among the children its parent's manifest declares.
    manifests = {m.address: m for m in expand(plan_manifests(plan, settings))}
    for change in needed:
        manifest = manifests.get(change.address)
        sent = _sent_fields(manifest, plan.dialect) if manifest else {}
        for name in change.sensitive:
            if not is_digest(change.body.get(name)):
                continue
            current = sent.get(name)
            if current is None or digest(current) != change.body[name]:
                raise StalePlanError(f"{change.address}: the sensitive value of spec.{name} in the manifests "
                                     "differs from the one planned; make a new plan")
            change.body[name] = current


def changed_document_files(plan: Plan) -> list[str]:
    """A saved plan's file documents whose file is no longer what the plan fingerprinted: found before anything is
    sent (found at the document's own request, the apply had made its knowledge base already: half a change)."""
    from ..kinds.document import read_checked_file

    found = []
    for change in plan.changes:
        body = change.body
        if body and isinstance(body.get("file"), str) and isinstance(body.get("content"), str) and "type" in body:
            try:
                read_checked_file(body)
            except ApiError as error:
                found.append(f"{change.address}: {error}")
    return found


def plan_manifests(plan: Plan, settings: Settings) -> list[Manifest]:
    """The manifests a saved plan was made from, read again as it read them: the same paths, workspace,
    variable sources and overlays; ${env.X} values from this run's environment."""
    current = settings.inputs
    environ = current.environ if current is not None else {}
    inputs = ManifestInputs.from_dict(plan.inputs, environ) if plan.inputs else None
    if inputs is not None and current is not None:  # the moved blocks of this run's project files (not saved)
        inputs = dataclasses.replace(inputs, manifest_paths=current.manifest_paths)
    paths = list(plan.manifest_paths)
    if inputs is not None and current is not None and inputs.root != current.root:
        paths, inputs = _rebased(paths, inputs, current.root)
    if plan.destroy:  # read as `plan --destroy` read them: manifests gone since are none, not an error
        return manifests_or_empty(paths, plan.dialect, inputs, settings.manifest_limits)
    return validate(paths, plan.dialect, inputs, settings.manifest_limits)


def _rebased(paths: list[str], inputs: ManifestInputs, root: str) -> tuple[list[str], ManifestInputs]:
    """The plan's paths are relative to the folder it was made in, and so is its project root: planned in
    manifests/ with --config ../provisioner.yaml (root ..), applied from the repository's root, they named the
    folder above the repository. Each is moved to this run's project root, where it is the same file."""
    def moved(path: str) -> str:
        if os.path.isabs(path) != os.path.isabs(inputs.root):
            return path  # one relative, one absolute: no common base to move it by
        return os.path.normpath(os.path.join(root, os.path.relpath(path, inputs.root)))

    config_file = moved(inputs.config_file) if inputs.config_file else None
    return [moved(p) for p in paths], dataclasses.replace(
        inputs, root=root, var_files=tuple(moved(f) for f in inputs.var_files), config_file=config_file)


def _sent_fields(manifest: Manifest, dialect: str) -> dict[str, Any]:
    """The fields a change built from `manifest` sends: the managed ones (their defaults included), and those
    only its create sends (a document's `links`, which a knowledge base's manifest declares)."""
    return {**manifest.fields, **_desired(manifest, dialect)}


def _desired(manifest: Manifest, dialect: str) -> dict[str, Any]:
    """The fields a manifest manages (its defaults included), whatever its kind."""
    if manifest.kind == "assistant":
        return desired_fields(manifest.fields, dialect)
    from ..kinds import KINDS
    from ..plan_kinds import desired

    return desired(KINDS[manifest.kind], manifest.fields)


# What apply reads of a saved plan: a file is parsed whole, at about six times its size in memory (556 MB at the
# peak of show or apply FILE for the 89 MB of 5,000 full creates), so a file that is not a plan this provisioner
# wrote cannot take the runner's memory. A full assistant's create takes about 18 KB (plan_record.py): room for
# some 7,500.
MAX_PLAN_FILE_BYTES = 128 * 1024 * 1024


def read_plan_file(path: str, max_bytes: int = MAX_PLAN_FILE_BYTES) -> Plan:
    """A saved plan, its whole structure checked (Plan.from_dict) before anything uses it."""
    try:
        with open_regular(path, f"plan file {path}") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise ProvisionerError(f"cannot read plan file {path}: {error.strerror}") from None
    if not data.strip():
        raise ProvisionerError(f"plan file {path} is empty: not a saved plan (write one with "
                               "`provisioner plan --out FILE`)")
    if len(data) > max_bytes:
        raise ProvisionerError(f"plan file {path} is larger than {max_bytes // 1024 // 1024} MiB; it is not a "
                               "plan this provisioner wrote")
    try:
        # JSON as the provisioner writes it: Python's json takes NaN, Infinity and a key twice (its last value), which
        # no saved plan holds; a body holding NaN was sent up to its change, and could not be encoded there.
        content = strict_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProvisionerError(f"plan file {path} is not UTF-8 text") from None
    except _DuplicateKey as error:
        raise ProvisionerError(f"plan file {path} is not a saved plan: the key {error.key!r} appears twice") from None
    except ValueError as error:  # JSONDecodeError, NaN, or an integer beyond Python's digit limit
        raise ProvisionerError(f"plan file {path} is not valid JSON: {str(error)[:200]}") from None
    except RecursionError:
        raise ProvisionerError(f"plan file {path} is nested too deeply to be a saved plan") from None
    del data  # the file's bytes, not kept while the plan is built from what they parsed to: 13% of the peak
    plan = Plan.from_dict(content, source=f"plan file {path}")
    problems = disagreements(plan)
    if problems:  # shown (`show PLANFILE`) with one value and applied with another: refused by both
        listed = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ProvisionerError(f"plan file {path} does not agree with itself (was it edited?):\n  {listed}\n"
                               "Nothing was applied. Make a new plan")
    return plan


def write_plan_file(plan: Plan, path: str) -> None:
    """The plan at `path`, compact JSON (a full assistant's create is about 18 KB so). Refused, nothing written,
    when apply would refuse to read it back (MAX_PLAN_FILE_BYTES): a pipeline learns it from the plan job, not from
    the apply job after the merge. Written change by change and counted as it goes, it stops as soon as it passes
    the cap: the 144 MiB plan of a full graph of 8,000 objects was first built whole (a 1 GB peak) only to be
    refused."""
    target = Path(path)
    _refuse_to_replace(target)
    made = _missing_folders(target.parent)
    try:
        atomic_write_pieces(target, _capped(plan, path))
    except ProvisionerError:
        _remove_empty(made)  # the folders made for the file: a refused plan leaves nothing behind
        raise
    except OSError as error:  # a full disk: nothing left behind either, and the path said
        _remove_empty(made)
        raise ProvisionerError(f"--out {path}: {error.strerror or error}; nothing was written") from None


# The file's JSON: compact, ASCII (json.dumps's ensure_ascii), so a piece's length is its length in bytes.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _capped(plan: Plan, path: str) -> Iterator[bytes]:
    """The plan file's bytes, a change at a time; a ProvisionerError once they pass MAX_PLAN_FILE_BYTES."""
    written = 0
    pieces = in_pieces(plan.to_dict(changes=Items(plan.change_documents())).items(), _COMPACT)
    for piece in itertools.chain(pieces, ["\n"]):
        written += len(piece)
        if written > MAX_PLAN_FILE_BYTES:
            raise ProvisionerError(
                f"--out {path}: the plan is more than the {MAX_PLAN_FILE_BYTES // 2**20} MiB apply reads back from a "
                "saved plan; nothing was written. Plan fewer changes at a time (--target, --exclude, or fewer "
                f"manifest paths: {len(plan.changes):,} changes here), or run apply without a saved plan (it plans "
                "and applies in one run)")
        yield piece.encode()


def _missing_folders(folder: Path) -> list[Path]:
    """The folders above a file to write that do not exist yet, nearest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Each of `folders` (nearest first) removed while it is empty: never anything put in them meanwhile."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _refuse_to_replace(target: Path) -> None:
    """--out writes by moving a new file into place: whatever is at the path is replaced, a device (/dev/full), a
    link, the project's provisioner.yaml. Only a regular file that is empty or a saved plan already is."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as error:
        raise ProvisionerError(f"--out {target}: {error.strerror}; nothing was written") from None
    if not stat.S_ISREG(info.st_mode):
        what = ("a symbolic link" if stat.S_ISLNK(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode)
                else "a device, a pipe or another special file")
        raise ProvisionerError(f"--out {target}: {what}, which the saved plan would replace; nothing was written. "
                               "Give the path of a new file (or of a saved plan to overwrite)")
    if info.st_size:
        try:
            with open(target, "rb") as handle:
                head = handle.read(200)
        except OSError as error:
            raise ProvisionerError(f"--out {target}: {error.strerror}; nothing was written") from None
        if not _says_plan(head):
            raise ProvisionerError(f"--out {target}: the file exists and is not a saved plan, so it is not replaced; "
                                   "nothing was written. Give the path of a new file, or delete this one first")


PLAN_SUFFIXES = (".plan", ".tfplan")


def is_plan_file(path: str) -> bool:
    """Whether `apply PATH` names a saved plan: a file (not YAML by its suffix) named *.plan (or a *.plan that is not
    there), or with "format":
    "provisioner-plan..." near its start, or that cannot be a manifest (empty, binary, or a JSON object without
    an apiVersion): a damaged plan still counts, so the plan reader explains it as a plan-file error."""
    candidate = Path(path)
    suffix = candidate.suffix.lower()
    if suffix in PLAN_SUFFIXES and not candidate.exists() and not candidate.is_symlink():
        # A saved plan a pipeline's earlier job did not leave (an artifact not downloaded): said to be a missing plan
        # file, not a missing manifest path ("1 manifest error: no such file or directory").
        return True
    if not candidate.is_file() or suffix in (".yaml", ".yml"):
        return False
    if suffix in PLAN_SUFFIXES:
        return True
    try:
        with open(candidate, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    if _says_plan(head):
        return True
    if b"apiVersion" in head:
        return False
    stripped = head.lstrip()
    return not stripped or b"\0" in head or stripped.startswith(b"{") or not _text(head)


def _says_plan(head: bytes) -> bool:
    """Whether a file's first bytes name the saved plan's format (`"format": "provisioner-plan"`)."""
    return _PLAN_FORMAT_KEY.search(head) is not None


_PLAN_FORMAT_KEY = LazyPattern(rb'"format"\s*:\s*"' + re.escape(PLAN_FORMAT.encode()))


def _text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut by the 4096-byte read is still text
    return True
