"""Workspace overlays, and the step that turns loaded manifests into final ones (overlays, then variables).

An overlay is a document in `overlays/<workspace>/*.yaml` with apiVersion, kind, metadata.name and a partial
metadata/spec. It patches the base manifest with the same metadata.name: mappings merge, lists replace, and
`null` removes a key. Every value keeps the file and line it came from, so an error in a value set by an
overlay points at the overlay.

Overlays are merged first and variables substituted after, once, in the merged result: an overlay may use
`${var.X}` too, and may remove a field whose variable only some workspaces define.
"""
from __future__ import annotations

import copy
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import Location, Problem
from .kinds import ASSISTANT, kind_of_address, kind_of_manifest, manifest_address, object_address
from .inputs import DEFAULT_WORKSPACE, ManifestInputs
from .manifest import (API_VERSION, DEFAULT_LIMITS, KIND, METADATA_KEYS, Document, Limits, Manifest,
                       Path_, check_envelope, display_path, find_manifest_files, load_documents)
from .moves import is_moved_document
from .paths import leads_out
from .redaction import SENSITIVE
from .spec import did_you_mean
from .variables import ExpansionBudget, interpolate, load_variables

VARS_DIR = "vars"
OVERLAYS_DIR = "overlays"
POLICIES_DIR = "policies"   # the policies' default folder (workflow.policies.DEFAULT_POLICY_DIR)


def final_documents(documents: list[Document], inputs: ManifestInputs,
                    limits: Limits = DEFAULT_LIMITS) -> tuple[list[Document], list[Problem]]:
    """The manifests' documents with the workspace's overlays merged and every variable substituted. The
    workspace is one the repository knows (workflow.manifests.validate checks it first: see unknown_workspace).
    Overlays and vars files are read within the manifests' `limits` (--manifest-limit raises them too)."""
    root = Path(inputs.root)
    excluded = input_files(documents, inputs)
    documents = [d for d in documents if d.file not in excluded]
    problems: list[Problem] = []
    overlay_dir = root / OVERLAYS_DIR / inputs.workspace
    outside = linked_out(overlay_dir, root)
    if outside is not None:
        problems.append(outside)
    elif overlay_dir.is_dir():
        overlay_docs, read_problems = load_documents(find_manifest_files([overlay_dir], problems), limits)
        problems += read_problems
        documents, overlay_problems = apply_overlays(documents, overlay_docs)
        problems += overlay_problems
    auto_file = _var_file(root / VARS_DIR, inputs.workspace)
    outside = linked_out(auto_file, root) if auto_file is not None else None
    if outside is not None:
        return [], problems + [outside]
    variables, var_problems = load_variables(inputs.var_files, inputs.vars, auto_file=auto_file, limits=limits)
    problems += var_problems
    if var_problems:
        return [], problems
    final = []
    budgets: dict[str, ExpansionBudget] = {}  # per file, as the loader bounds an alias's expansion
    for document in documents:
        found = interpolate(document, variables, inputs.environ,
                            budgets.setdefault(document.file, ExpansionBudget(limits.bytes))
                            ) if document.may_reference else []
        problems += found
        # An unresolved value would only add a confusing spec error at the same line: the document is marked, and
        # read for its address alone (what refers to it is not told it "names no manifest").
        final.append(replace(document, unresolved=True) if found else document)
    return final, problems


def input_files(documents: Iterable[Document], inputs: ManifestInputs) -> set[str]:
    """The files of `documents` that are the run's other inputs, not manifests: `provisioner plan .` must not read
    the config, the variables, the overlays or the policies as manifests."""
    root = Path(inputs.root)
    ignored = [os.path.realpath(p) for p in [root / VARS_DIR, root / OVERLAYS_DIR, root / POLICIES_DIR]
               + ([Path(inputs.config_file)] if inputs.config_file else [])]
    return {file for file in {d.file for d in documents} if _inside(os.path.realpath(file), ignored)}  # once per file


def unknown_workspace(root: Path, workspace: str) -> Problem | None:
    """A workspace the repository does not know, when it knows some: most likely a typo (prdo for prod),
    which would otherwise plan the base manifests into a new, empty state."""
    if workspace == DEFAULT_WORKSPACE:
        return None
    known = known_workspaces(root)
    if not known or workspace in known:
        return None
    return Problem(f"workspace {workspace!r} has no {VARS_DIR}/{workspace}.yaml and no {OVERLAYS_DIR}/{workspace}/"
                   f"{did_you_mean(workspace, known)} (known: {', '.join(sorted(known))}); create an empty "
                   f"{VARS_DIR}/{workspace}.yaml for a workspace that needs neither")


def known_workspaces(root: Path) -> set[str]:
    """The workspaces the repository gives inputs of their own: vars/<workspace>.yaml, overlays/<workspace>/."""
    return {p.stem for p in (root / VARS_DIR).glob("*.y*ml")} | \
        {p.name for p in (root / OVERLAYS_DIR).glob("*") if p.is_dir()}


def _var_file(folder: Path, workspace: str) -> Path | None:
    for suffix in (".yaml", ".yml"):
        if (folder / f"{workspace}{suffix}").is_file():
            return folder / f"{workspace}{suffix}"
    return None


def linked_out(path: Path, root: Path) -> Problem | None:
    """A workspace's vars file or overlay folder that leads, through a link, out of the project and the working
    directory (or into /proc, /sys or /dev): not read, as a manifest's link out is not. A pull request adds these
    files, and read, the CI machine's own files would end up in the plan and its messages."""
    if not path.exists():
        return None
    if leads_out(path, (os.path.realpath(root), os.path.realpath(os.getcwd()))):
        return Problem("a link out of the project and the working directory (or into /proc, /sys or /dev), which "
                       "is not followed", Location(display_path(path), 1))
    return None


def _inside(resolved: str, folders: list[str]) -> bool:
    """Whether a real path (os.path.realpath, as Path.resolve gives it) is one of `folders` (real paths too) or
    lies under one. Compared as text: pathlib's `parents` made a Path of every ancestor, 80 µs a file."""
    return any(resolved == folder or resolved.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


def apply_overlays(bases: list[Document], overlays: list[Document]) -> tuple[list[Document], list[Problem]]:
    """`bases` with each overlay merged into the base of the same metadata.name (new Document objects)."""
    problems: list[Problem] = []
    by_name: dict[Any, list[int]] = {}
    for index, base in enumerate(bases):
        metadata = base.content.get("metadata") if isinstance(base.content, dict) else None
        if isinstance(metadata, dict):
            kind, name = base.content.get("kind"), metadata.get("name")
            # Names are per kind: an overlay patches the base of its own kind (a Folder and an Assistant may
            # share a metadata.name). An overlay's kind and name are strings (_check_overlay), so a base whose
            # are not (`kind: [Assistant]`, reported by validation) matches none, and is not a key: a list is
            # unhashable.
            if isinstance(kind, str) and isinstance(name, str):
                by_name.setdefault((kind, name), []).append(index)
    merged = list(bases)
    for overlay in overlays:
        name = _check_overlay(overlay, problems)
        if name is None:
            continue
        kind = overlay.content.get("kind")
        targets = by_name.get((kind, name))
        if not targets:
            renamed = _renamed_by(bases, kind, name)
            problems.append(Problem(
                f"the overlay names no base manifest: {renamed}" if renamed else
                f"the overlay names no base manifest: no {'' if kind == KIND else f'{kind} '}manifest has "
                f"metadata.name {name!r}"
                f"{did_you_mean(str(name), [str(n) for k, n in by_name if k == kind])}",
                overlay.locate(("metadata", "name")), "metadata.name"))
            continue
        for index in targets:
            merged[index] = merge_document(merged[index], overlay)
    return merged, problems


def _renamed_by(bases: list[Document], kind: Any, name: str) -> str | None:
    """What to say of an overlay whose metadata.name is an address a moved block renamed (docs/day-two.md: an
    overlay is renamed with its manifest): the block, and the name the overlay should have now. None otherwise."""
    manifest_kind = kind_of_manifest(kind) if isinstance(kind, str) else None
    if manifest_kind is None:
        return None
    address = object_address(manifest_kind, name)
    for base in bases:
        content = base.content
        spec = content.get("spec") if is_moved_document(content) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("from"), str) or not isinstance(spec.get("to"), str):
            continue
        source, target = manifest_address(spec["from"]), manifest_address(spec["to"])
        if source != address or kind_of_address(target) != manifest_kind:
            continue
        new_name = target if manifest_kind == ASSISTANT else target.split(".", 1)[1]
        return (f"{name!r} was renamed to {new_name!r} by the moved block at {base.locate(('spec', 'from'))} "
                f"({spec['from']} -> {spec['to']}); rename the overlay with its manifest (metadata.name: {new_name})")
    return None


def _check_overlay(overlay: Document, problems: list[Problem]) -> str | None:
    def problem(message: str, *path: str | int) -> None:
        problems.append(Problem(message, overlay.locate(path), ".".join(map(str, path)) or None))

    content = overlay.content
    if not isinstance(content, dict):
        problem("an overlay must be a mapping with apiVersion, kind, metadata.name and a partial spec")
        return None
    before = len(problems)
    check_envelope(content, problem)
    metadata = content.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str):
        problem("an overlay needs metadata.name: the name of the base manifest it patches", "metadata")
    else:
        for key in metadata:
            if key not in METADATA_KEYS:
                problem(f"unknown field '{key}'{did_you_mean(str(key), METADATA_KEYS)}", "metadata", key)
    if "spec" in content and not isinstance(content["spec"], dict):
        problem("spec must be a mapping of the fields to change", "spec")
    return name if len(problems) == before else None


def merge_document(base: Document, overlay: Document) -> Document:
    """A new Document: `overlay` merged into `base`; values from the overlay keep the overlay's locations."""
    content = copy.deepcopy(base.content)
    locations = dict(base.locations)
    patch = {k: v for k, v in overlay.content.items() if k not in ("apiVersion", "kind")}
    if isinstance(patch.get("metadata"), dict):  # the name only says which manifest: it stays the base's
        patch["metadata"] = {k: v for k, v in patch["metadata"].items() if k != "name"}
    _merge(content, patch, (), locations, overlay.locations)
    _rebase_files(content, locations, overlay, base.file)
    return Document(base.file, content, locations, base.sensitive)


def _rebase_files(content: Any, locations: dict, overlay: Document, base_file: str) -> None:
    """A file path the overlay set (a knowledge base's documents[].file: Kind.file_paths) is relative to the
    overlay's folder, as Kustomize reads a patch's paths: written again relative to the base manifest's folder,
    which the document's checks and apply resolve it from. Left as read from the base, production uploaded the
    base's file of that name, or failed to find its own. A path that names no file beside the overlay but one
    beside the base manifest stays the base's (an overlay replaces the whole list, and may list the base's
    documents again as the base writes them)."""
    from .kinds import BY_MANIFEST_KIND

    kind = BY_MANIFEST_KIND.get(content.get("kind")) if isinstance(content, dict) else None
    if kind is None or not kind.file_paths:
        return
    overlay_folder = os.path.realpath(Path(overlay.file).parent)
    base_folder = os.path.realpath(Path(base_file).parent)
    if overlay_folder == base_folder:
        return
    for pattern in kind.file_paths:
        for path, value, holder, key in _matches(content.get("spec"), ("spec",), pattern):
            if (isinstance(value, str) and locations.get(path) is not None
                    and locations.get(path) == overlay.locations.get(path) and _plain_relative(value)):
                beside_overlay = os.path.join(overlay_folder, value)
                if os.path.exists(beside_overlay) or not os.path.exists(os.path.join(base_folder, value)):
                    holder[key] = Path(os.path.relpath(beside_overlay, base_folder)).as_posix()


def _matches(value: Any, path: Path_, pattern: tuple[str, ...]) -> Iterable[tuple[Path_, Any, Any, Any]]:
    """(path, value, its container, its key) of each value of `value` at `pattern` ("*": every list item)."""
    if not pattern:
        return
    first, rest = pattern[0], pattern[1:]
    if first == "*":
        items = list(enumerate(value)) if isinstance(value, list) else []
    else:
        items = [(first, value[first])] if isinstance(value, dict) and first in value else []
    for key, item in items:
        if rest:
            yield from _matches(item, path + (key,), rest)
        else:
            yield path + (key,), item, value, key


def _plain_relative(file: str) -> bool:
    """A relative path as written (an absolute one, '~' or a backslash is refused by the document's checks, which
    say so at the overlay's line)."""
    return bool(file) and not file.startswith(("/", "~")) and "\\" not in file and "\0" not in file


def _merge(target: dict, patch: dict, path: Path_, locations: dict, overlay_locations: dict) -> None:
    for key, value in patch.items():
        here = path + (key,)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, here, locations, overlay_locations)
            continue
        _drop(locations, here)
        if value is None:
            target.pop(key, None)
            if here in overlay_locations:  # the overlay decided it (away): pull names the overlay, never the base
                locations[here] = overlay_locations[here]
            continue
        # A mapping the base does not have: its nulls remove nothing, and are left out as they would be by a merge.
        target[key] = _without_nulls(value) if isinstance(value, dict) else copy.deepcopy(value)
        locations.update({p: loc for p, loc in overlay_locations.items() if p[:len(here)] == here})


def _without_nulls(value: dict) -> dict:
    return {k: _without_nulls(v) if isinstance(v, dict) else copy.deepcopy(v) for k, v in value.items()
            if v is not None}


def _drop(locations: dict, prefix: Path_) -> None:
    for p in [p for p in locations if p[:len(prefix)] == prefix]:
        del locations[p]


def render_manifests(manifests: Iterable[Manifest], workspace: str) -> str:
    """The final manifests as YAML for review, every sensitive field shown as "(sensitive)"."""
    out = []
    for manifest in manifests:
        metadata: dict[str, Any] = {"name": manifest.name}
        if manifest.labels:
            metadata["labels"] = manifest.labels
        if manifest.protect:
            metadata["protect"] = True
        spec = {name: SENSITIVE if name in manifest.sensitive and value is not None else value
                for name, value in manifest.fields.items()}
        document = {"apiVersion": API_VERSION, "kind": _manifest_kind(manifest.kind), "metadata": metadata,
                    "spec": spec}
        sources = sorted({loc.file for loc in manifest.document.locations.values()},
                         key=lambda f: (f != manifest.document.file, f))
        hidden = sorted(n for n in manifest.sensitive if n in manifest.fields)
        header = [f"# {manifest.address}: workspace {workspace}; from {', '.join(sources)}"]
        if hidden:
            header.append(f"# sensitive (masked): {', '.join(hidden)}")
        out.append("\n".join(header) + "\n" + yaml.dump(document, Dumper=_Dumper, sort_keys=False,
                                                        allow_unicode=True, width=100))
    return "---\n".join(out) if out else "# no manifests\n"


def _manifest_kind(kind: str) -> str:
    from .kinds import KINDS

    return KINDS[kind].manifest_kind if kind in KINDS else KIND


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, the way people write prompts."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    if "\x85" in text:
        # PyYAML writes U+0085 as it is in a `|` block or in quotes, where YAML 1.1 reads a line break (a \n, or
        # folded into a space); escaped in double quotes (`\N`), it reads back as written.
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _str)
