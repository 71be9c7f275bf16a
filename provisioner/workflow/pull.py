"""`provisioner pull`: the platform's drifted values written back into the manifest files (pull.py decides,
yaml_splice.py edits the text in place), then state told that the manifests now say what the platform holds.
Nothing is ever sent to the platform: it is only read, as a plan reads it."""
from __future__ import annotations

import difflib
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from ..errors import ProblemsError, ProvisionerError
from ..graph import entry_kind, expand
from ..inputs import DEFAULT_WORKSPACE
from ..kinds import ASSISTANT
from ..manifest import Manifest, reading_as
from ..moves import after_moves
from ..overlays import OVERLAYS_DIR, VARS_DIR, _var_file, known_workspaces, linked_out
from ..plan import Plan
from ..pull import Edit, Selector, Skipped, decide
from ..state.local import atomic_write_all
from ..variables import load_variables
from ..yaml_splice import DocumentEditor, SpliceError, load_all, value_at, with_values
from .session import Session

BOM = b"\xef\xbb\xbf"


@dataclass
class PullResult:
    pulled: list[Edit] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # file -> (before, after), changed files only
    write_only: dict[str, list[str]] = field(default_factory=dict)    # address -> fields never shown back
    # Drifted fields whose platform value the manifests cannot hold (they would not validate): left as the
    # manifest has them, and the run fails (docs/pull.md).
    refused: list[Skipped] = field(default_factory=list)

    def diff(self) -> str:
        """The unified diff of every file pull writes (or would write): the lines it changes and no others. Context
        lines would show the lines around a pulled field as they are, a sensitive one among them (a secret in a
        URL's path, a field marked sensitive), which pull names and never shows."""
        return "".join("".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                    f"a/{file}", f"b/{file}", n=0))
                       for file, (before, after) in sorted(self.texts.items()))


def pull(session: Session, manifests: list[Manifest], paths: list[str], selected: Selector, *,
         dry_run: bool, revalidate: Callable[[], list[Manifest]], sources: dict[str, tuple[Path, bytes]],
         into_base: bool = False, moves: list = (), elsewhere: Mapping[str, str] | None = None) -> PullResult:
    """Write the drifted fields back (unless `dry_run`); `revalidate` loads the manifests again once written, to
    record in state the spec they now hold (no platform call). `sources`: each manifest file's bytes as they were
    when `manifests` were loaded (manifest_sources): the edits go into those, and a file that no longer holds
    them when it is written is someone's edit made meanwhile, never overwritten. `moves`: the moved blocks read
    with the manifests, followed as plan follows them (an object a block renamed is at its new address);
    `elsewhere`: the manifests of the project's files not among `paths`, left alone as plan leaves them."""
    session.read_every_child = True
    # Without the moved blocks, an object a block renamed (not applied yet) was planned as a destroy and a create,
    # and its dashboard edits were neither pulled nor named.
    plan, _ = session.plan(manifests, paths=paths, moves=moves, elsewhere=elsewhere)
    state = after_moves(session.state, plan.moves)
    read = session.planned_from
    live: dict[str, dict[str, Any]] = {}
    by_id = {(ASSISTANT, r.id): r.fields for r in read.assistants}
    by_id.update({(kind, o.id): o.fields for kind, listed in read.objects.items() for o in listed})
    for change in plan.changes:
        if change.remote_id is not None and (change.kind, change.remote_id) in by_id:
            live[change.address] = by_id[change.kind, change.remote_id]
    addresses = {(entry_kind(a, e), e.id): a for a, e in state.resources.items()}
    texts = _Texts(sources)
    origins = _variable_origins(session)
    applied = {a: e.spec or {} for a, e in state.resources.items()}
    decisions = decide(plan, expand(manifests), live, applied, addresses, read.objects,
                       lambda manifest, path: texts.raw(manifest.document.file, manifest, path),
                       origins.get, selected)
    shared = None if into_base else _shared_by_workspaces(session)
    if shared:
        decisions.skipped += [Skipped(e.address, e.field, shared) for e in decisions.edits]
        decisions.edits = []
    result = PullResult(skipped=list(decisions.skipped), write_only=dict(decisions.write_only))
    _splice_all(decisions.edits, texts, result)
    if not result.texts:
        return result
    # A dry run too: its diff is what the run writes.
    _leave_out_invalid(revalidate, sources, texts, result)
    # Each file at the path it was found at (resolved: a symbolic link stays one), never at its display name.
    targets = _targets(sources, texts, result.texts)
    if dry_run or not targets:
        return result
    shown = {path: file for (path, _), file in zip(targets, result.texts)}
    # Read-only to its owner (chmod a-w: even root leaves it), or not writable by whoever runs pull (a rename would
    # replace another user's file all the same).
    read_only = [shown[path] for path, _ in targets
                 if not os.stat(path).st_mode & stat.S_IWUSR or not os.access(path, os.W_OK)]
    if read_only:
        raise ProvisionerError(f"{', '.join(read_only)}: read-only, so pull writes nothing (make the file writable, "
                               "or leave it out with --target or --exclude); no file was changed")
    # A new file replaces the old one: the file's other names (hard links) would keep the old text.
    linked = [shown[path] for path, _ in targets if os.stat(path).st_nlink > 1]
    if linked:
        raise ProvisionerError(f"{', '.join(linked)}: has other names (hard links), which would keep the old text "
                               "once pull writes the new file in its place, so pull writes nothing; no file was "
                               "changed (make it a file of its own, e.g. cp then mv, or leave it out with --target "
                               "or --exclude)")
    edited = [file for file in result.texts if _on_disk(sources[file][0]) != sources[file][1]]
    if edited:
        raise ProvisionerError(f"{', '.join(sorted(edited))}: changed since pull read it (an edit made while pull "
                               "read the platform?), so pull writes nothing and keeps that edit; no file was changed. "
                               "Run pull again")
    try:
        atomic_write_all(targets)
    except OSError as error:  # a full disk, a quota, a folder made read-only: say what is on disk now
        written = [shown[path] for path, data in targets if _on_disk(path) == data]
        state = (f"{', '.join(written)} hold(s) the new text, the others are as they were" if written
                 else "no file was changed")
        raise ProvisionerError(f"pull could not write the manifests ({error.strerror or error}): {state}") from None
    try:
        _record(session, revalidate(), paths, {e.address for e in result.pulled}, moves, elsewhere)
    except ProvisionerError as error:
        # The files hold the pulled values already: the error says so, and what it means for state.
        raise ProvisionerError(f"the manifests were written ({', '.join(sorted(result.texts))}), but reading them "
                               f"back failed, so state was not told: {error}") from None
    return result


def _targets(sources: dict[str, tuple[Path, bytes]], texts: _Texts,
             changed: dict[str, tuple[str, str]]) -> list[tuple[Path, bytes]]:
    return [(sources[file][0].resolve(), texts.encoded(file, after)) for file, (_, after) in changed.items()]


def _leave_out_invalid(revalidate: Callable[[], list[Manifest]], sources: dict[str, tuple[Path, bytes]],
                       texts: _Texts, result: PullResult) -> None:
    """Take out of `result` the pulled values the manifests cannot hold, each into `result.refused` with the
    validation error, keeping every other: the manifests are loaded with the new texts read in place of the
    files', before any file is written. One value they could not hold (`is_webhook_active: true` while the
    webhook's URL, a secret, is only named; a file taken past --manifest-limit) stopped the whole pull, and no
    other object's dashboard edit could be taken back until someone edited that one by hand."""
    # Each file's new text per set of its edits (their positions), spliced once: the halving loads the manifests
    # with the same files' edits again and again, and a splice parses the file (most of a load's cost).
    position = {id(change): number for number, change in enumerate(result.pulled)}
    spliced: dict[tuple[int, ...], dict[str, tuple[str, str]]] = {}

    def changed_files(edits: list[Edit]) -> dict[str, tuple[str, str]]:
        by_file: dict[str, list[Edit]] = {}
        for change in edits:
            by_file.setdefault(change.file, []).append(change)
        changed: dict[str, tuple[str, str]] = {}
        for mine in by_file.values():
            key = tuple(position[id(change)] for change in mine)
            if key not in spliced:
                spliced[key] = _spliced(mine, texts)[0]
            changed.update(spliced[key])
        return changed

    def problem(edits: list[Edit]) -> str | None:
        changed = changed_files(edits)
        try:
            with reading_as(dict(_targets(sources, texts, changed))):
                revalidate()
        except ProvisionerError as error:
            return _problems_text(error)
        return None

    error = problem(result.pulled)
    if error is None:
        return
    unchanged = problem([])
    if unchanged is not None:  # not the pulled values' doing: halving would refuse each of them, one load apiece
        raise ProvisionerError(f"the manifests no longer load, so pull writes nothing (no file was changed): "
                               f"{unchanged}")
    by_object: dict[str, list[Edit]] = {}
    for change in result.pulled:
        by_object.setdefault(change.address, []).append(change)
    kept = _largest_valid(list(by_object.values()), [], problem, result.refused, error)
    result.pulled = kept
    result.texts = changed_files(kept)


def _largest_valid(groups: list[list[Edit]], kept: list[Edit], problem: Callable[[list[Edit]], str | None],
                   refused: list[Skipped], error: str | None = None) -> list[Edit]:
    """The edits of `groups` that the manifests hold beside `kept` (which they hold), found by halving: a few
    loads for one bad value among thousands, not one per edit. A whole object's edits are tried together before
    its fields one by one (two fields that are only valid together stay together unless the object has a bad
    one too). `error`: the problem of `kept` and every group, when already known."""
    every = [e for group in groups for e in group]
    if error is None:
        error = problem(kept + every)
        if error is None:
            return every
    if len(every) == 1:
        refused.append(Skipped(every[0].address, every[0].field, "the manifests cannot hold the platform's value, "
                               f"so the manifest's is kept: {error}", every[0].file, every[0].line, every[0].path))
        return []
    if len(groups) == 1:
        groups = [[e] for e in groups[0]]
    half = len(groups) // 2
    first = _largest_valid(groups[:half], kept, problem, refused)
    whole = len(first) == sum(len(group) for group in groups[:half])
    return first + _largest_valid(groups[half:], kept + first, problem, refused, error if whole else None)


def _problems_text(error: ProvisionerError) -> str:
    """A validation error on one line, without the line numbers of a text that is never written."""
    if isinstance(error, ProblemsError):
        return "; ".join(str(replace(p, location=None)) for p in error.problems)
    return str(error)


def _shared_by_workspaces(session: Session) -> str | None:
    """Why nothing is written into the base manifests, when the repository defines workspaces (vars/, overlays/):
    the base manifests are every workspace's, and a value one workspace's platform holds would change them all."""
    inputs = session.settings.inputs
    if inputs is None:
        return None
    known = known_workspaces(Path(inputs.root))
    # Who else plans these manifests: every workspace with inputs of its own, and the default one (always allowed).
    if not known or not (known | {DEFAULT_WORKSPACE}) - {inputs.workspace}:
        return None
    return (f"the base manifests are every workspace's (inputs of their own: {', '.join(sorted(known))}): "
            f"written there, workspace {inputs.workspace}'s value would change them all; set it in "
            f"{OVERLAYS_DIR}/{inputs.workspace}/, or pass --into-base to write it into the base manifest")


def _on_disk(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


class _Texts:
    """The manifest files as written (before variables and overlays): the bytes the manifests were loaded from."""

    def __init__(self, sources: dict[str, tuple[Path, bytes]]) -> None:
        self.sources = sources
        self.text: dict[str, str] = {}
        self.data: dict[str, list] = {}
        self.bom: dict[str, bool] = {}

    def read(self, file: str) -> str:
        if file not in self.text:
            try:
                data = self.sources[file][1]
                self.bom[file] = data.startswith(BOM)
                self.text[file] = data.decode("utf-8-sig")
                self.data[file] = load_all(self.text[file])  # as the manifests were read: dates as text
            except (KeyError, UnicodeDecodeError, yaml.YAMLError):  # not among the sources: nothing to edit
                self.text[file], self.data[file] = "", []
        return self.text[file]

    def encoded(self, file: str, text: str) -> bytes:
        """The bytes to write: a byte-order mark stays where there was one."""
        return (BOM if self.bom.get(file) else b"") + text.encode()

    def document_index(self, file: str, manifest_kind: str, name: str) -> int | None:
        self.read(file)
        for index, document in enumerate(self.data[file]):
            if isinstance(document, dict) and document.get("kind") == manifest_kind and \
                    isinstance(document.get("metadata"), dict) and str(document["metadata"].get("name")) == name:
                return index
        return None

    def raw(self, file: str, manifest: Manifest, path: tuple) -> Any:
        content = manifest.document.content
        index = self.document_index(file, str(content.get("kind")), str(content.get("metadata", {}).get("name")))
        return value_at(self.data[file][index], path) if index is not None else None


def _splice_all(edits: list[Edit], texts: _Texts, result: PullResult) -> None:
    """Each edit into its file's text, one at a time: one that cannot be written in place is named, the rest go."""
    result.texts, result.pulled, skipped = _spliced(edits, texts)
    result.skipped += skipped


def _spliced(edits: list[Edit], texts: _Texts) -> tuple[dict[str, tuple[str, str]], list[Edit], list[Skipped]]:
    """The files `edits` change (file -> (before, after)), the edits written in place, and those that cannot be."""
    current: dict[str, str] = {}
    editors: dict[str, DocumentEditor] = {}  # each file's, reading a document at a time (yaml_splice)
    written: list[Edit] = []
    skipped: list[Skipped] = []
    for change in edits:
        index = texts.document_index(change.file, change.manifest_kind, change.name)
        editor = editors.get(change.file) or editors.setdefault(change.file, DocumentEditor(texts.read(change.file)))
        try:
            if index is None:
                raise SpliceError("its document is not in the file as written")
            after = editor.edit(index, [(change.path, change.value)])
        except SpliceError as error:
            where = re.sub(r"^line (\d+)", lambda m: f"{change.file}:{m.group(1)}", str(error))
            skipped.append(Skipped(change.address, change.field, f"not written in place: {where}"))
            continue
        current[change.file] = after
        written.append(change)
    for file, after in current.items():
        _read_back_whole(file, after, texts, [c for c in written if c.file == file])
    changed = {file: (texts.read(file), after) for file, after in current.items() if after != texts.read(file)}
    return changed, written, skipped


def _read_back_whole(file: str, after: str, texts: _Texts, written: list[Edit]) -> None:
    """The whole edited file must read as the file did with the written values (each document was checked alone as
    it was edited; this also holds its neighbours to what they were). Never expected to fail: a bug if it does."""
    expected = with_values(load_all(texts.read(file)), [
        (texts.document_index(file, change.manifest_kind, change.name), change.path, change.value) for change in written])
    if load_all(after) != expected:
        raise ProvisionerError(f"{file}: the pulled values would not read back as intended, so nothing was written "
                               "(a bug: please report it with the file)")


def _variable_origins(session: Session) -> dict[str, str]:
    """Variable name -> where it is set (file:line, or --var), as the run's inputs set them."""
    inputs = session.settings.inputs
    if inputs is None:
        return {}
    auto_file = _var_file(Path(inputs.root) / VARS_DIR, inputs.workspace)
    if auto_file is not None and linked_out(auto_file, Path(inputs.root)) is not None:
        auto_file = None  # refused where the manifests were read, before this
    variables, _ = load_variables(inputs.var_files, inputs.vars, auto_file=auto_file,
                                  limits=session.settings.manifest_limits)
    return dict(variables.origins)


def _record(session: Session, manifests: list[Manifest], paths: list[str], pulled: set[str], moves: list,
            elsewhere: Mapping[str, str] | None) -> None:
    """State records the spec the pulled manifests now hold (what the next plan compares drift with): the state
    syncs of a new plan, for the pulled addresses left with no change. No request writes to the platform.
    A pulled object a moved block renamed is recorded at its new address: the plan's moves are recorded with it
    (state only, as apply records them first)."""
    plan, known = session.plan(manifests, paths=paths, moves=moves, elsewhere=elsewhere)
    changed = {c.address for c in plan.changes}
    syncs = [s for s in plan.state_sync if s.address in pulled and s.address not in changed]
    if syncs:
        session.apply(Plan([], plan.lineage, plan.serial, syncs, moves=plan.moves), known)
