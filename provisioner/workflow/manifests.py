"""The final manifests of a run: loaded, with the workspace's overlays and variables, or every problem found."""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from ..config import ConfigError
from ..errors import ManifestError, Problem, ProvisionerError
from ..inputs import ManifestInputs
from ..kinds import kind_of_manifest, object_address
from ..manifest import (DEFAULT_LIMITS, Document, Limits, Manifest, _read_capped, display_path,
                        find_manifest_files, load_documents, load_manifests)
from ..moves import Move, is_moved_document
from ..overlays import final_documents, input_files, unknown_workspace
from ..spec import DEFAULT_DIALECT
from .settings import warn


def validate(paths: list[str], dialect: str = DEFAULT_DIALECT, inputs: ManifestInputs | None = None,
             limits: Limits = DEFAULT_LIMITS, moves: list | None = None,
             elsewhere: Elsewhere | None = None) -> list[Manifest]:
    """The final manifests: loaded, with the workspace's overlays and variables when `inputs` are given.
    The files skipped (no YAML suffix) are named on stderr; the moved blocks are appended to `moves` if given, those
    of the project's other manifest files too (ProjectFiles), whose manifests' addresses `elsewhere` gives if
    given (address -> file, read when first asked)."""
    if inputs is not None:
        unknown = unknown_workspace(Path(inputs.root), inputs.workspace)
        if unknown:  # a mistyped --workspace is the run's configuration, not a manifest's mistake
            raise ConfigError([unknown])
    skipped: list[str] = []
    transform = functools.partial(final_documents, inputs=inputs, limits=limits) if inputs is not None else None
    found: list[Move] = []
    project = ProjectFiles(inputs, limits) if inputs is not None and not _covered(inputs.manifest_paths, paths) \
        else None
    manifests = load_manifests(paths, dialect=dialect, transform=transform, limits=limits, skipped=skipped,
                               moves=found, outside=project.moved_documents if project is not None else None)
    if project is not None:
        _refuse_moves_from_kept(found, project.addresses({move.source for move in found}))
    _report_skipped(skipped)
    if inputs is not None:
        record_sources(manifests, inputs.root)
    if moves is not None:
        moves += found
    if elsewhere is not None and project is not None:
        elsewhere.read_from(project.addresses)
    return manifests


class ProjectFiles:
    """The project's manifest files (inputs.manifest_paths) that a run given narrower paths does not read. Moved
    blocks are the repository's: read only under the paths given, a block in manifests/moves.yaml did nothing for
    `plan manifests/team`, which destroyed the object it renames and made it again. Only the files whose text can
    hold what is asked of them are parsed: every file of a 10,000-manifest project parsed took a narrow plan from
    0.3 to 2 s."""

    def __init__(self, inputs: ManifestInputs, limits: Limits):
        self.inputs, self.limits = inputs, limits
        self.files: list[Path] = []
        self.parsed: dict[Path, list[Document]] = {}  # by file: none of them a run input (vars, overlays, ...)

    def moved_documents(self, read: list[Path]) -> tuple[list[Document], list[Problem]]:
        """The moved blocks of the project's files not among those `read`, with the problems met reading the files
        that may hold one (a file without the word `Moved`, nor a backslash of an escape that could spell it,
        cannot)."""
        problems: list[Problem] = []
        done = {_identity(file) for file in read}
        existing = [p for p in self.inputs.manifest_paths if os.path.lexists(p)]  # a missing default manifests/
        self.files = [file for file in find_manifest_files(existing, problems) if _identity(file) not in done]
        problems += self._parse([file for file in self.files if self._may_hold(file, Words((b"Moved",)))])
        documents = [d for file in self.files for d in self.parsed.get(file, ())]
        return [d for d in documents if is_moved_document(d.content)], problems

    def addresses(self, names: set[str] | None = None) -> dict[str, str]:
        """The address each manifest of these files names (kind and metadata.name, unchecked: these files are not
        planned) -> its file as state records it: of the manifests `names` can be (their files alone are parsed),
        else of all. Their problems are refused as any manifest's (ManifestError)."""
        if names is not None and not names:
            return {}
        needles = None if names is None else Words({(n.split(".")[1] if "." in n else n).encode() for n in names})
        problems = self._parse([file for file in self.files if file not in self.parsed
                                and (needles is None or self._may_hold(file, needles))])
        if problems:
            raise ManifestError(problems)
        found = _addresses([d for file in self.files for d in self.parsed.get(file, ())], self.inputs.root)
        return found if names is None else {a: f for a, f in found.items() if a in names}

    def _parse(self, files: list[Path]) -> list[Problem]:
        documents, problems = load_documents(files, self.limits)
        excluded = input_files(documents, self.inputs)  # a project path such as `.` holds vars, overlays, policies
        by_name = {display_path(file): self.parsed.setdefault(file, []) for file in files}  # Document.file's name
        for document in documents:
            if document.file not in excluded:
                by_name[document.file].append(document)
        return problems

    def _may_hold(self, file: Path, words: Words) -> bool:
        """Whether the file's text may spell one of `words`: it holds one, or a backslash (a double-quoted escape
        spells any text); a file that cannot be read is parsed, to say why."""
        try:
            data = _read_capped(file, self.limits.bytes)
        except (OSError, ValueError):
            return True
        return b"\\" in data or words.any_in(data)


class Words:
    """Words to look for in many texts, each text looked through once for all of them: searching each text for each
    word was words x files x bytes, and a plan of one file of a project whose moved blocks (kept, as day-two.md
    says) name 7,583 old addresses searched its 150 other files for each: 116 s of CPU (8 s at 2,000)."""

    def __init__(self, words: Iterable[bytes]):
        self.words = frozenset(words)
        self.lengths = sorted({len(word) for word in self.words})
        letters = sorted(set(b"".join(self.words)))
        # A word is found only inside a run of the bytes the words are made of: the runs are what is looked at.
        self.runs = re.compile(b"[" + b"".join(re.escape(bytes([c])) for c in letters) + b"]+") if letters else None

    def any_in(self, data: bytes) -> bool:
        """Whether `data` holds one of the words: `any(word in data for word in words)`."""
        if not self.words:
            return False
        if self.runs is None or self.lengths[0] == 0:
            return True  # the empty word is in every text
        runs = set(self.runs.findall(data))
        if not runs.isdisjoint(self.words):
            return True
        longer = [run for run in runs if len(run) > self.lengths[0]]
        if sum(map(len, longer)) * len(self.lengths) * 100 > len(self.words) * len(data):
            return any(word in data for word in self.words)  # few words: searching for each costs less
        return any(run[i:i + length] in self.words for run in longer for length in self.lengths
                   if length < len(run) for i in range(len(run) - length + 1))


def _identity(file: Path) -> tuple[int, int] | Path:
    """The same for every name of one file (a link, another spelling of its path): one stat, where resolving its
    real path looks up every folder on the way."""
    try:
        info = os.stat(file)
    except OSError:
        return file  # unreadable: its problem is reported where it is read
    return info.st_dev, info.st_ino


class Elsewhere(Mapping[str, str]):
    """address -> file of the manifests that the project's files a run was not given hold (validate binds it to
    ProjectFiles.addresses), read when first asked: guards.left_alone asks only of an entry whose manifest the run
    no longer finds, so a narrow plan of a large project does not parse every file for nothing."""

    def __init__(self) -> None:
        self._read: Callable[[], dict[str, str]] = dict
        self._found: dict[str, str] | None = None

    def read_from(self, read: Callable[[], dict[str, str]]) -> None:
        self._read, self._found = read, None

    def _all(self) -> dict[str, str]:
        if self._found is None:
            self._found = self._read()
        return self._found

    def __getitem__(self, address: str) -> str:
        return self._all()[address]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _covered(project: Iterable[str], paths: Iterable[str]) -> bool:
    """Whether every project manifest path is one of `paths` or under one (the usual run: nothing more to read)."""
    given = [Path(p).resolve() for p in paths]
    return all(any(path == g or g in path.parents for g in given) for path in (Path(p).resolve() for p in project))


def _addresses(documents: list[Document], root: str) -> dict[str, str]:
    """The address each document's manifest names (kind and metadata.name, unchecked: these files are not planned)
    -> its file as state records it."""
    found: dict[str, str] = {}
    sources = _Sources(root)
    for document in documents:
        content = document.content
        kind = content.get("kind") if isinstance(content, dict) else None
        metadata = content.get("metadata") if isinstance(content, dict) else None
        kind = kind_of_manifest(kind) if isinstance(kind, str) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if kind is not None and isinstance(name, str):
            found.setdefault(object_address(kind, name), sources.of(document.file))
    return found


def _refuse_moves_from_kept(moves: list[Move], addresses: dict[str, str]) -> None:
    """A block whose `from` still has a manifest in a file the run was not given: both would be managed (moves.check
    says so of the files given; a run given narrower paths moved the entry and left that manifest unplanned)."""
    problems = [Problem(f"{move.source} still has a manifest ({addresses[move.source]}): remove it (or the moved "
                        "block); an address cannot both move and stay", move.source_location, "spec.from")
                for move in moves if move.source in addresses]
    if problems:
        raise ManifestError(problems)


def record_sources(manifests: list[Manifest], root: str) -> None:
    """Each manifest's file relative to the project's `root` (Document.source), as state records it: a run started
    in another folder (`cd manifests && provisioner plan --config ../provisioner.yaml`) records the same files."""
    sources = _Sources(root)
    for manifest in manifests:
        manifest.document.source = sources.of(manifest.document.file)


class _Sources:
    """Files relative to the project's root, as state records them; a file's many documents worked out once."""

    def __init__(self, root: str):
        self.base = os.path.abspath(root)
        self.real_base = os.path.realpath(self.base)
        self.known: dict[str, str] = {}

    def of(self, file: str) -> str:
        source = self.known.get(file)
        if source is None:
            # Always worked out, also from the root itself: a file outside the folder a run starts in is shown by
            # its absolute path, which another clone (another folder) would not find. The same file gives the same
            # source however it is named (through a linked folder, a link to the manifests folder): its real path
            # relative to the root's, when inside it; else as it is named.
            source = os.path.relpath(os.path.realpath(file), self.real_base)
            if source.startswith(".."):
                source = os.path.relpath(os.path.abspath(file), self.base)
            source = self.known[file] = Path(source).as_posix()
        return source


def _report_skipped(skipped: list[str]) -> None:
    if skipped:
        warn(f"skipped {len(skipped)} file(s) without a .yaml or .yml suffix: {_first_ten(skipped)}")


def _first_ten(names: list[str]) -> str:
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def no_manifests_found(paths: Iterable[str]) -> str:
    """"found no manifests in PATHS", with what the folder search left out there: hidden files and folders (other
    tools': a folder whose only YAML is under .github/ reads as empty) and files without a YAML suffix."""
    hidden: list[str] = []
    skipped: list[str] = []
    find_manifest_files(paths, [], skipped, hidden)
    left_out = ([f"hidden, so left out as other tools' files: {_first_ten(hidden)}"] if hidden else []) + (
        [f"without a .yaml or .yml suffix: {_first_ten(skipped)}"] if skipped else [])
    where = ", ".join(str(p) for p in paths) or "the given paths"
    return f"found no manifests in {where}" + (f" ({'; '.join(left_out)})" if left_out else "")


def refuse_no_manifests(manifests: list[Manifest], paths: list[str], allow_empty: bool, *, doing: str) -> None:
    """No manifests at all, unless --allow-empty: far more often a wrong path, an emptied folder or a broken checkout
    than what is meant (docs/reliability.md, "No manifests"). `doing`: what there is then nothing to do."""
    if not manifests and not allow_empty:
        raise ProvisionerError(nothing_to(doing, paths))


def nothing_to(doing: str, paths: list[str]) -> str:
    """refuse_no_manifests's message."""
    return (f"{no_manifests_found(paths)}: there is nothing to {doing}. Give the path of the manifests (a wrong path, "
            "an emptied folder or a broken checkout?), or pass --allow-empty if none is meant")


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
