"""export of every registered kind: a manifest per object nobody manages, generic over the kinds' facts.

What is written comes from the kind's read of the platform's list (kinds/base.py `Kind.read`): the fields
the platform shows, those at their documented default left out. A reference field holds the address of the
object it names when that object is exported in the same run or managed here (the manifest that will exist),
else the raw id. A sensitive value (a header value, a password) is never written: `${env.NAME}` stands in its
place, and a write-only setting the kind requires is left for the user to fill in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from ..kinds import KINDS, object_address, reference_facts
from ..kinds.base import NAME, NO_DEFAULT, ChildExport, Kind
from ..kinds.document import annotate_export
from ..manifest import API_VERSION
from ..names import first_unused
from ..planner import same
from ..scrub import holds_credentials
from ..variables import escaped


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, but a text holding U+0085 is written double-quoted (`\\N`): PyYAML writes the character
    as it is in single quotes, where YAML 1.1 reads it as a line break and folds it into a space, so the exported
    manifest would not read back as the platform holds the text (a false change on the first plan). So is one
    holding U+2028 or U+2029 (`\\L`, `\\P`): written as they are, followed by the next line's indentation, they
    read back in PyYAML, but as more text in a YAML 1.2 reader, and pull's editor refuses a file holding them (no
    dashboard edit could ever be pulled into the exported file)."""


_ESCAPED = ("\x85", "\u2028", "\u2029")


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text,
                                   style='"' if any(c in text for c in _ESCAPED) else None)


_Dumper.add_representer(str, _str)


def dump(document: dict) -> str:
    """An exported manifest's YAML."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


SLUG = re.compile(NAME)


@dataclass(frozen=True)
class KindExport:
    """One object's manifest text, and what its user must supply before applying it."""

    address: str
    text: str
    fill_in: list[str]
    environment: list[str]
    files: list[str] = field(default_factory=list)  # files to put in place, relative to the manifest


def exportable_kinds() -> list[str]:
    """Kinds exported on their own (a document goes with its knowledge base; numbers are never managed)."""
    return sorted(k for k, kind in KINDS.items() if not kind.reference_only and not kind.parent_field)


def address_for(kind: str, name: str, remote_id: int, taken: set[str]) -> str:
    """`<kind>.<slug of the name>`, or with the id appended when that address is taken (or the slug is empty),
    then a number too while it still is (`faq-9` the slug of one name and the slug-and-id of another's): never
    an address in `taken`, whose file the export would write over."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50].strip("-") or kind
    base = object_address(kind, slug)
    first = base if SLUG.fullmatch(slug) and base not in taken else f"{base}-{remote_id}"
    return first_unused(taken, first, lambda n: f"{base}-{remote_id}-{n}")


def variable(address: str, *parts: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", "_".join([address.replace(".", "_"), *parts]).upper()).strip("_")


def reference_value(value: Any, ref_kind: str, addresses: Mapping[tuple[str, int], str]) -> Any:
    """An id (or list of ids) the platform showed -> the address of what it names where there is one."""
    if isinstance(value, list):
        return [reference_value(v, ref_kind, addresses) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        for target in ("siptrunk",) if ref_kind == "number" else (ref_kind,):
            found = addresses.get((target, value))
            if found is not None:
                return found if "." in found else f"assistant.{found}"
    return value


def with_references(kind: str, spec: dict[str, Any], addresses: Mapping[tuple[str, int], str]) -> dict[str, Any]:
    """A spec whose reference fields name addresses where the referenced object has one."""
    for facts in reference_facts(kind):
        if facts.name in spec and spec[facts.name] is not None:
            spec[facts.name] = reference_value(spec[facts.name], facts.ref, addresses)
    return spec


def kind_spec(kind: Kind, fields: dict[str, Any]) -> dict[str, Any]:
    """What a manifest sets: the name, shown settings away from their documented default, and settings without
    a default that hold something. Never a field changed by an action (a campaign's status): the platform's value
    is where the object is, not a wish, and setting it would have apply start or stop it (API.md: only when the
    user asked for it explicitly)."""
    spec: dict[str, Any] = {}
    required = {name for name, info in kind.spec_model.model_fields.items() if info.is_required()}
    for facts in kind.fields:
        if facts.name not in fields or not facts.shown or kind.action(facts.name) is not None:
            continue
        value = fields[facts.name]
        if facts.name in required or facts.name == kind.name_field:
            spec[facts.name] = value
        elif facts.default is not NO_DEFAULT:
            if not same(value, facts.default):
                spec[facts.name] = value
        elif value not in (None, [], {}):
            spec[facts.name] = value
    return spec


def _unique(taken: list[str], name: str) -> str:
    """A variable no other value of this object has: `X-Api-Key` and `x_api_key` both make ..._X_API_KEY, and one
    variable for both would send one credential in the other's place."""
    return first_unused(taken, name, lambda n: f"{name}_{n}")


def hide_secrets(kind: Kind, address: str, spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Put `${env.NAME}` in place of every sensitive value (in place), and name what the user must supply:
    (settings to fill in, environment variables to set)."""
    environment: list[str] = []
    fill_in: list[str] = []
    required = {name for name, info in kind.spec_model.model_fields.items() if info.is_required()}

    for facts in kind.fields:
        if not facts.sensitive:
            # A required setting the platform never shows (a campaign's assistant_id): the manifest cannot be
            # valid without it, so the user is asked for it, a reference as much as any other.
            if not facts.shown and facts.name in required:
                fill_in.append(facts.name)
            continue
        value = spec.get(facts.name)
        if isinstance(value, list) and all(isinstance(i, dict) and "value" in i for i in value):
            for item in value:  # name/value pairs (headers): each value a variable named after its name
                name = _unique(environment, variable(address, facts.name, str(item.get("name", ""))))
                item["value"] = f"${{env.{name}}}"
                environment.append(name)
        elif isinstance(value, dict) and facts.keys_shown:
            for key in list(value):  # a mapping whose keys are shown (a tool's headers): each value a variable
                name = _unique(environment, variable(address, facts.name, str(key)))
                value[key] = f"${{env.{name}}}"
                environment.append(name)
        elif facts.name in spec or (not facts.shown and facts.name in required):
            name = _unique(environment, variable(address, facts.name))
            spec[facts.name] = f"${{env.{name}}}"
            environment.append(name)
    return fill_in, environment


def hide_credentials(address: str, spec: dict[str, Any], environment: list[str]) -> None:
    """Put `${env.NAME}` in place of every text holding credentials though its field is no secret (a tool's endpoint
    with user:password@ or ?api_key=..., an assistant's prompt quoting one), at any depth (a schema item's
    description): plan masks it and pull never writes it, and the file is meant for git. In place; the variables'
    names are added to `environment`."""
    def hidden(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            return {key: hidden(item, (*path, str(key))) for key, item in value.items()}
        if isinstance(value, list):
            return [hidden(item, (*path, str(index))) for index, item in enumerate(value)]
        if isinstance(value, str) and not value.startswith("${env.") and holds_credentials(value):
            name = _unique(environment, variable(address, *path))
            environment.append(name)
            return f"${{env.{name}}}"
        return value

    for name in list(spec):
        spec[name] = hidden(spec[name], (name,))


def export_object(kind: Kind, address: str, remote_id: int, fields: dict[str, Any],
                  addresses: Mapping[tuple[str, int], str], stamp: str, client: Any = None) -> KindExport:
    """One object's manifest; `client` reads its children when the kind declares some (a knowledge base's
    documents: `Kind.export_children`)."""
    # Texts as a manifest must hold them to read back as they are (`${` written `$${`: a tool's description saying
    # `${env.X}` would otherwise send the environment's X to the platform), before secrets become ${env.X}.
    spec = with_references(kind.name, escaped(kind_spec(kind, fields)), addresses)
    fill_in, environment = hide_secrets(kind, address, spec)
    hide_credentials(address, spec, environment)
    order = [f.name for f in kind.fields]
    name = address.split(".", 1)[1]
    children, needs = ({}, ChildExport()) if kind.export_children is None or client is None else \
        kind.export_children(client, remote_id, name)
    children = escaped(children)
    hide_credentials(address, children, environment)  # a document's description quoting a key as much
    document = {"apiVersion": API_VERSION, "kind": kind.manifest_kind, "metadata": {"name": name},
                "spec": {**{name: spec[name] for name in order if name in spec}, **children}}
    text = dump(document)
    if needs.fill_in or needs.files:
        text = annotate_export(text)
    for name in fill_in:
        text = text.replace("spec:\n", f"spec:\n  {name}: ''  # not shown by the platform: set it before "
                                       "applying\n", 1)
    hidden = ", ".join(f.name for f in kind.fields if not f.shown and f.name not in fill_in and not f.sensitive)
    header = (f"# Exported from the platform ({kind.title} id {remote_id}) on {stamp} by `provisioner export`.\n"
              + (f"# Write-only settings are left out because the platform never shows them back: {hidden}.\n"
                 if hidden else "")
              + (f"# Fill in before applying: {', '.join(fill_in + needs.fill_in)}.\n"
                 if fill_in or needs.fill_in else "")
              + (f"# The platform does not give documents' content back: put each file in place (relative to "
                 f"this manifest) before applying: {', '.join(needs.files)}.\n" if needs.files else "")
              + (f"# Secrets are not written here: set {', '.join(environment)} in the environment.\n"
                 if environment else "")
              + f"# Applying this manifest adopts the existing {kind.title} by its name; it does not create "
                "another.\n")
    return KindExport(address, header + text, fill_in + needs.fill_in, environment, needs.files)
