"""Reading manifests: YAML documents with the file and line of every value, then the envelope checks.

PyYAML's composer gives every node a start mark; we walk the node tree once to
record a location per value path, so any later error (schema, reference,
duplicate) can point at the line the user has to edit.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import Location, ManifestError, Problem
from .spec import ALWAYS_SENSITIVE, CREATE_FIELDS, DEFAULT_DIALECT, AssistantSpec, did_you_mean, secret_fields, validate_spec

API_VERSION = "provisioner/v1"
KIND = "Assistant"
ADDRESS_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")
ENVELOPE_KEYS = ("apiVersion", "kind", "metadata", "spec")
METADATA_KEYS = ("name", "labels", "protect", "sensitive")
# Webhook URLs often carry credentials in their query string: they are always secret.
DEFAULT_SENSITIVE = ALWAYS_SENSITIVE
MANIFEST_SUFFIXES = (".yaml", ".yml")

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML document, its plain value, and where each value path starts in the file."""

    file: str
    content: Any
    locations: dict[Path_, Location]

    def locate(self, path: Iterable[str | int] = ()) -> Location:
        """The location of the deepest existing value on `path` (a missing field points at its parent)."""
        path = tuple(path)
        while path not in self.locations:
            path = path[:-1]
        return self.locations[path]


@dataclass(frozen=True)
class Manifest:
    """A validated assistant manifest."""

    address: str
    spec: AssistantSpec
    labels: dict[str, str]
    protect: bool
    sensitive: frozenset[str]
    document: Document = field(repr=False, compare=False)

    @property
    def fields(self) -> dict[str, Any]:
        """The create fields this manifest sets, as JSON values (the defaults it leaves out are not here)."""
        return self.spec.model_dump(mode="json", exclude_unset=True)

    def location(self, *path: str | int) -> Location:
        return self.document.locate(path)


def load_manifests(paths: Iterable[str | os.PathLike], *, dialect: str = DEFAULT_DIALECT) -> list[Manifest]:
    """Every manifest under `paths`, validated for the API dialect; all problems raised together (ManifestError)."""
    problems: list[Problem] = []
    documents, read_problems = load_documents(find_manifest_files(paths, problems))
    manifests, parse_problems = parse_manifests(documents, dialect=dialect)
    problems += read_problems + parse_problems
    if problems:
        raise ManifestError(problems)
    return manifests


def find_manifest_files(paths: Iterable[str | os.PathLike], problems: list[Problem]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(f"no such file or directory: {path}"))
    seen: set[Path] = set()
    return [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]


def load_documents(files: Iterable[Path]) -> tuple[list[Document], list[Problem]]:
    documents: list[Document] = []
    problems: list[Problem] = []
    for file in files:
        shown = _display_path(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(f"cannot read file: {error}", Location(shown, 1)))
            continue
        try:
            for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
                if node is None:
                    continue
                # Positions first: constructing flattens merge keys ('<<') into the nodes, in place.
                locations: dict[Path_, Location] = {}
                node_problems: list[Problem] = []
                _record_locations(node, (), shown, locations, node_problems)
                content = yaml.SafeLoader("").construct_document(node)
                if content is None:  # an empty document, e.g. a trailing '---'
                    continue
                problems += node_problems
                documents.append(Document(shown, content, locations))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            line = mark.line + 1 if mark else 1
            reason = getattr(error, "problem", None) or str(error)
            problems.append(Problem(f"invalid YAML: {reason}", Location(shown, line)))
    return documents, problems


def _record_locations(node: yaml.Node, path: Path_, file: str, out: dict, problems: list[Problem]) -> None:
    out[path] = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged values may be overridden by explicit keys: that is the point of '<<'
            if key in seen:
                problems.append(Problem(f"duplicate key '{key}' (first at line {seen[key]})",
                                        Location(file, line), _dotted(path + (key,))))
            seen[key] = line
            _record_locations(value_node, path + (key,), file, out, problems)
            out[path + (key,)] = Location(file, line, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_locations(item, path + (index,), file, out, problems)


def parse_manifests(documents: Iterable[Document], *,
                    dialect: str = DEFAULT_DIALECT) -> tuple[list[Manifest], list[Problem]]:
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for document in documents:
        manifest = _parse_document(document, problems, dialect)
        if manifest:
            manifests.append(manifest)
    problems += _duplicates(manifests)
    return sorted(manifests, key=lambda m: m.address), problems


def _parse_document(doc: Document, problems: list[Problem], dialect: str) -> Manifest | None:
    def problem(message: str, *path: str | int) -> None:
        problems.append(Problem(message, doc.locate(path), _dotted(path) or None))

    content = doc.content
    if not isinstance(content, dict):
        problem("a manifest must be a mapping with apiVersion, kind, metadata and spec")
        return None
    before = len(problems)
    for key in content:
        if key not in ENVELOPE_KEYS:
            problem(f"unknown field '{key}'{did_you_mean(str(key), ENVELOPE_KEYS)}", key)
    if content.get("apiVersion") != API_VERSION:
        problem(f"apiVersion must be '{API_VERSION}' (got {content.get('apiVersion')!r})", "apiVersion")
    if content.get("kind") != KIND:
        problem(f"kind must be '{KIND}' (got {content.get('kind')!r})", "kind")

    metadata = content.get("metadata")
    address, labels, protect, sensitive = None, {}, False, DEFAULT_SENSITIVE
    if not isinstance(metadata, dict):
        problem("metadata is required: a mapping with at least a name", "metadata")
    else:
        for key in metadata:
            if key not in METADATA_KEYS:
                problem(f"unknown field '{key}'{did_you_mean(str(key), METADATA_KEYS)}", "metadata", key)
        address = metadata.get("name")
        if not isinstance(address, str) or not ADDRESS_PATTERN.match(address):
            problem("must be 1-63 lowercase letters, digits, '-' or '_', starting and ending with a letter "
                    f"or digit (got {address!r})", "metadata", "name")
            address = None
        labels = metadata.get("labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in labels.items()):
            problem("labels must map strings to strings", "metadata", "labels")
        protect = metadata.get("protect", False)
        if not isinstance(protect, bool):
            problem(f"must be true or false (got {protect!r})", "metadata", "protect")
        extra = metadata.get("sensitive", [])
        if not isinstance(extra, list) or not all(isinstance(f, str) for f in extra):
            problem("must be a list of spec field names", "metadata", "sensitive")
        else:
            for index, name in enumerate(extra):
                if name not in CREATE_FIELDS:
                    problem(f"unknown spec field '{name}'{did_you_mean(name, CREATE_FIELDS)}",
                            "metadata", "sensitive", index)
            sensitive = DEFAULT_SENSITIVE | frozenset(extra)

    raw_spec = content.get("spec")
    spec = None
    if not isinstance(raw_spec, dict):
        problem("spec is required: a mapping of the assistant's create fields", "spec")
    else:
        spec, spec_problems = validate_spec(raw_spec, dialect=dialect)
        for p in spec_problems:
            problems.append(Problem(p.message, doc.locate(("spec",) + (p.anchor or p.path)),
                                    _dotted(("spec",) + p.path)))

    if spec is None or address is None or len(problems) > before:
        return None
    sensitive = sensitive | secret_fields(spec.model_dump(mode="json", exclude_unset=True))
    return Manifest(address, spec, dict(labels), protect, sensitive, doc)


def _duplicates(manifests: list[Manifest]) -> list[Problem]:
    problems = []
    for key, label in ((lambda m: m.address, "metadata.name"),
                       (lambda m: m.spec.assistant_name, "spec.assistant_name")):
        first: dict[str, Manifest] = {}
        for manifest in manifests:
            value = key(manifest)
            if value in first:
                other = first[value]
                path = label.split(".")
                problems.append(Problem(
                    f"{value!r} is also used by the manifest at {other.location(*path)}; "
                    f"each assistant needs its own {label}",
                    manifest.location(*path), label, manifest.address))
            else:
                first[value] = manifest
    return problems


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _display_path(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path.resolve()) if relative.startswith("..") else relative
