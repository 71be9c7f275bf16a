"""The manifest's JSON Schema, for editors and other tools, generated from the models that validate.

The spec part is `AssistantSpec.model_json_schema()` as pydantic gives it, so every field, type, range,
enum, default, description and `json_schema_extra` marker (such as `x-dialect`) is carried through as is.
Added here: the envelope and metadata rules of manifest.py, which fields the platform shows back
(`x-readable`, from wire.py), and the rules that live in validators rather than in types. The committed
docs/manifest.schema.json and docs/manifests.md are this module's output (a test keeps them equal).
"""
from __future__ import annotations

import copy
import json
from typing import Any

from .kinds import ASSISTANT_MANIFEST_KIND, BY_MANIFEST_KIND, MANIFEST_KINDS
from .kinds.base import NO_DEFAULT
from .manifest import ADDRESS_PATTERN, API_VERSION, DEFAULT_SENSITIVE, KIND, METADATA_KEYS
from .moves import MOVE_ADDRESS, MOVED_KIND
from .spec import CREATE_FIELDS, AssistantSpec, platform_default
from .variables import ENV_NAME, VAR_NAME
from .wire import READABLE_FIELDS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "docs/manifest.schema.json"
REFERENCE_FILE = "docs/manifests.md"

# Rules checked by validators in spec.py, which pydantic cannot see: stated here so editors check them too.
VALIDATOR_RULES: dict[str, dict[str, Any]] = {
    "timezone": {"description": "An IANA time zone name, e.g. America/New_York."},
    "webhook_url": {"pattern": "^https?://[^/?#\\s]+", "description": "An http:// or https:// URL. "
                    "Sensitive by default: shown as (sensitive) in plans and kept as a digest in state."},
    "variables": {"additionalProperties": {"type": ["string", "number", "boolean"], "minLength": 1}},
}
# Cross-field rule of spec.py: webhook_url is required when is_webhook_active is true.
WEBHOOK_RULE = {
    "if": {"properties": {"is_webhook_active": {"const": True}}, "required": ["is_webhook_active"]},
    "then": {"required": ["webhook_url"], "properties": {"webhook_url": {"type": "string"}}},
}


# ${var.NAME} and ${env.NAME} are substituted before a manifest is validated (variables.py), so a committed
# manifest may hold one where a number, a boolean or an enum value goes: each spec field also takes a whole
# reference, checked against the field's own rules once substituted.
REFERENCE = "Reference"
REFERENCE_SCHEMA = {
    "type": "string",
    # variables.py's own rules (spaces inside the braces, the names), so the schema takes what substitution does.
    "pattern": f"^\\$\\{{\\s*(var\\.{VAR_NAME.pattern.strip('^$')}|env\\.{ENV_NAME.pattern.strip('^$')})\\s*\\}}$",
    "description": "A variable, ${var.NAME}, or an environment variable, ${env.NAME} (always sensitive): "
                   "substituted before the manifest is validated, then checked against the field's rules.",
}
_REFERENCE_REF = {"$ref": f"#/$defs/{REFERENCE}"}


def _or_reference(prop: dict[str, Any]) -> dict[str, Any]:
    """The field's rules, or a whole ${var.NAME} / ${env.NAME}; its annotations stay on the field itself."""
    annotations = {k: v for k, v in prop.items() if k in ("title", "description", "default") or k.startswith("x-")}
    rules = {k: v for k, v in prop.items() if k not in annotations}
    return {**annotations, "anyOf": [rules, _REFERENCE_REF]}


def field_rules(prop: dict[str, Any]) -> dict[str, Any]:
    """A spec field's schema without the reference alternative (the inverse of _or_reference)."""
    branches = prop.get("anyOf", [])
    if len(branches) == 2 and branches[1] == _REFERENCE_REF:
        return {**{k: v for k, v in prop.items() if k != "anyOf"}, **branches[0]}
    return prop


def manifest_schema() -> dict[str, Any]:
    spec = copy.deepcopy(AssistantSpec.model_json_schema())
    defs = spec.pop("$defs", {})
    for name, rules in VALIDATOR_RULES.items():
        prop = spec["properties"].get(name)
        if prop is None:
            continue
        for key, value in rules.items():
            if key == "description" and prop.get("description"):
                continue  # the model's own description wins
            target = prop
            if key != "description" and "anyOf" in prop:  # optional: the rule applies to the non-null branch
                target = next((b for b in prop["anyOf"] if b.get("type") != "null"), prop)
            target[key] = value
    for name, prop in spec["properties"].items():
        prop["x-readable"] = name in READABLE_FIELDS
        if name not in spec.get("required", []):
            # The platform's default (what a field left out becomes), which may differ from the model's.
            default = _json_default(platform_default(name))
            if default is not None or "default" not in prop:
                prop["default"] = default
    spec["properties"] = {name: _or_reference(prop) for name, prop in spec["properties"].items()}
    spec.update(copy.deepcopy(WEBHOOK_RULE))
    defs["AssistantSpec"] = spec
    defs[REFERENCE] = copy.deepcopy(REFERENCE_SCHEMA)
    metadata = {
        "type": "object",
        "title": "Metadata",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": ADDRESS_PATTERN.pattern,
                     "description": "The assistant's stable address: 1-63 lowercase letters, digits, '-' or '_', "
                                    "starting and ending with a letter or digit. To rename it without "
                                    "re-creating the object, add a Moved block (docs/day-two.md)."},
            "labels": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Free-form string labels, kept with the manifest."},
            "protect": {"type": "boolean", "default": False,
                        "description": "When true, any plan that would destroy this assistant fails instead."},
            "sensitive": {"type": "array", "items": {"enum": list(CREATE_FIELDS)}, "uniqueItems": True,
                          "default": [],
                          "description": "More spec fields to keep out of state, plans and output (always: "
                                         f"{', '.join(sorted(DEFAULT_SENSITIVE))})."},
        },
    }
    assert set(metadata["properties"]) == set(METADATA_KEYS), "metadata keys of manifest.py and the schema differ"
    defs["Metadata"] = metadata
    # Every registered kind: its spec model, each field also taking a whole ${var.NAME} / ${env.NAME}.
    by_kind = {ASSISTANT_MANIFEST_KIND: "AssistantSpec"}
    for manifest_kind, kind in sorted(BY_MANIFEST_KIND.items()):
        kind_spec = copy.deepcopy(kind.spec_model.model_json_schema())
        defs.update(kind_spec.pop("$defs", {}))
        facts = kind.by_name
        for name, prop in kind_spec["properties"].items():
            fact = facts.get(name)
            prop["x-readable"] = bool(fact.shown) if fact else False
            if fact is not None and fact.default is not NO_DEFAULT:
                prop["default"] = _json_default(fact.default)
        kind_spec["properties"] = {name: _or_reference(prop) for name, prop in kind_spec["properties"].items()}
        kind_spec["title"] = f"{manifest_kind}Spec"
        kind_spec["description"] = f"A {kind.title}'s settings (address `{kind.name}.NAME`)."
        by_kind[manifest_kind] = kind_spec["title"]
        defs[kind_spec["title"]] = kind_spec
        metadata["properties"]["sensitive"]["items"]["enum"] += [
            f for f in kind_spec["properties"] if f not in metadata["properties"]["sensitive"]["items"]["enum"]]
    defs[MOVED_SPEC] = moved_spec_schema()
    return {
        "$schema": DRAFT,
        "title": "provisioner manifest",
        "description": f"One {' or '.join(MANIFEST_KINDS)} document of a provisioner manifest file (apiVersion "
                       f"{API_VERSION}), or a {MOVED_KIND} block (a rename: docs/day-two.md). Generated by "
                       "`provisioner schema` from the models that validate manifests.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"enum": [*MANIFEST_KINDS, MOVED_KIND]},
            "metadata": {"$ref": "#/$defs/Metadata"},
            "spec": {"type": "object"},
        },
        # Every manifest has metadata (its name); a moved block has none (its addresses name it).
        "allOf": [
            *({"if": {"properties": {"kind": {"const": manifest_kind}}},
               "then": {"required": ["metadata"], "properties": {"spec": {"$ref": f"#/$defs/{name}"}}}}
              for manifest_kind, name in by_kind.items()),
            {"if": {"properties": {"kind": {"const": MOVED_KIND}}},
             "then": {"not": {"required": ["metadata"]}, "properties": {"spec": {"$ref": f"#/$defs/{MOVED_SPEC}"}}}},
        ],
        "$defs": dict(sorted(defs.items())),
    }


MOVED_SPEC = f"{MOVED_KIND}Spec"


def moved_spec_schema() -> dict[str, Any]:
    """A moved block's spec (moves.py): two addresses of one kind."""
    address = {"type": "string", "pattern": f"^(?:{MOVE_ADDRESS.pattern})$"}
    return {
        "type": "object",
        "title": MOVED_SPEC,
        "description": "A rename: the object state knows at `from` is the one whose manifest is now at `to` (same "
                       "kind); plan moves it in state, id kept, instead of destroying and creating it.",
        "additionalProperties": False,
        "required": ["from", "to"],
        "properties": {
            "from": {**address, "description": "The old address (as state knows it): `tool.NAME`, an assistant's "
                                               "`NAME` or `assistant.NAME`, a document's `knowledgebase.KB.KEY`. No "
                                               "manifest may have it any more."},
            "to": {**address, "description": "The new address: a manifest's (or the next move's `from`, a chain)."},
        },
    }


def _json_default(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def schema_json() -> str:
    return json.dumps(manifest_schema(), indent=2, ensure_ascii=False) + "\n"


# --- the manifest reference (docs/manifests.md), from the same schema ---

def reference_markdown(schema: dict[str, Any] | None = None) -> str:
    schema = schema or manifest_schema()
    defs = schema["$defs"]
    lines = [
        "# Manifest reference",
        "",
        "<!-- Generated by `provisioner schema --format markdown` from the models that validate manifests; "
        "do not edit by hand. -->",
        "",
        f"A manifest file holds one or more YAML documents (separated by `---`), each an `{KIND}` or another "
        f"kind ({', '.join(f'`{k}`' for k in MANIFEST_KINDS[1:])}: see their sections below):",
        "",
        "```yaml",
        "# yaml-language-server: $schema=../docs/manifest.schema.json",
        f"apiVersion: {API_VERSION}",
        f"kind: {KIND}",
        "metadata:",
        "  name: sales-outbound",
        "spec:",
        "  assistant_name: Sales Assistant",
        "  # ...",
        "```",
        "",
        "The first line lets editors with the YAML language server (VS Code's YAML extension, and others) "
        "complete and check every field as you type; the path is relative to the manifest. To apply the "
        "schema to every manifest without the comment, add this to `.vscode/settings.json`:",
        "",
        "```json",
        '{"yaml.schemas": {"./docs/manifest.schema.json": ["manifests/**/*.yaml", "manifests/**/*.yml"]}}',
        "```",
        "",
        "`provisioner schema` prints the schema (JSON Schema draft 2020-12); `docs/manifest.schema.json` "
        "is its committed copy. `provisioner validate` checks everything below and more (references to "
        "the platform's catalogues are checked by `plan`).",
        "",
        "## Envelope",
        "",
    ]
    lines += _table(schema, schema)
    lines += ["", "## metadata", ""] + _table(defs["Metadata"], schema)
    spec = defs["AssistantSpec"]
    lines += ["", "## spec", "",
              "The platform's create fields. **Shown back** says whether the platform's list shows the field: "
              "those are compared with the platform (so changes made outside the provisioner show as drift); "
              "write-only fields are compared with the last applied spec. A field left out means the platform's "
              "default, and removing a field from a manifest sets it back to that default.", ""]
    lines += _table(spec, schema, readable=True)
    if "if" in spec and "then" in spec:
        lines += ["", "`webhook_url` is required when `is_webhook_active` is true."]
    lines += ["", "Any spec field may also hold a whole `${var.NAME}` or `${env.NAME}` (see "
              "[configuration.md](configuration.md)): it is substituted before the manifest is validated, and the "
              "value is then checked against the field's rules above."]
    kind_specs = [f"{k}Spec" for k in sorted(BY_MANIFEST_KIND) if f"{k}Spec" in defs]
    for name in kind_specs:
        manifest_kind = name[:-len("Spec")]
        kind = BY_MANIFEST_KIND[manifest_kind]
        lines += ["", f"## kind: {manifest_kind}", "",
                  f"{defs[name].get('description', '')} Its address is `{kind.name}.<metadata.name>`; other "
                  "manifests refer to it by that address (see [graph.md](graph.md))."
                  + (f" Names are unique on the platform: a manifest adopts the existing {kind.title} of its name "
                     "instead of creating a second." if kind.unique_names else ""), ""]
        lines += _table(defs[name], schema, readable=True)
    lines += ["", f"## kind: {MOVED_KIND}", "",
              f"{defs[MOVED_SPEC]['description']} A document of its own in any manifest file, several per file, with "
              "`apiVersion`, `kind` and `spec` only (no `metadata`). See [day-two.md](day-two.md).", "",
              "```yaml", f"apiVersion: {API_VERSION}", f"kind: {MOVED_KIND}", "spec:", "  from: tool.order-lookup",
              "  to: tool.orders", "```", ""]
    lines += _table(defs[MOVED_SPEC], schema)
    for name in sorted(defs):
        if name in ("AssistantSpec", "Metadata", REFERENCE, MOVED_SPEC) or name in kind_specs:
            continue
        lines += ["", f"## {name}", ""] + _table(defs[name], schema)
    return "\n".join(lines) + "\n"


def _table(model: dict[str, Any], root: dict[str, Any], readable: bool = False) -> list[str]:
    required = set(model.get("required", []))
    head = ["| Field | Type | Required / default | Allowed values |"
            + (" Shown back |" if readable else "") + " Description |",
            "| --- | --- | --- | --- |" + (" --- |" if readable else "") + " --- |"]
    rows = []
    for name, prop in model.get("properties", {}).items():
        prop = field_rules(prop)
        default = "required" if name in required else (
            f"default `{json.dumps(prop['default'])}`" if prop.get("default") is not None else "optional")
        description = prop.get("description", "")
        extras = [f"`{k}: {json.dumps(v)}`" for k, v in sorted(prop.items())
                  if k.startswith("x-") and k != "x-readable"]
        if extras:
            description = (description + " " if description else "") + " ".join(extras)
        row = f"| `{name}` | {_type(prop)} | {default} | {_allowed(prop)} |"
        if readable:
            row += f" {'yes' if prop.get('x-readable') else 'no (write-only)'} |"
        rows.append(row + f" {_cell(description)} |")
    return head + rows


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(_type(branch) for branch in prop["anyOf"])
    if "const" in prop:
        return "string" if isinstance(prop["const"], str) else type(prop["const"]).__name__
    kind = prop.get("type", "any" if "enum" not in prop else "string")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"mapping of string to {_type(prop['additionalProperties'])}"
    return {"null": "null", "object": "mapping", "boolean": "boolean"}.get(kind, kind)


def _allowed(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " ".join(filter(None, (_allowed(b) for b in prop["anyOf"])))
    parts = []
    if "const" in prop:
        parts.append(f"`{prop['const']}`")
    if "enum" in prop:
        parts.append(", ".join(f"`{v}`" for v in prop["enum"]))
    if "items" in prop and "enum" in prop["items"]:
        parts.append("spec field names")
    if "minimum" in prop or "maximum" in prop:
        parts.append(f"{prop.get('minimum', '…')} to {prop.get('maximum', '…')}")
    if "minLength" in prop or "maxLength" in prop:
        low, high = prop.get("minLength", 0), prop.get("maxLength")
        parts.append(f"{low} to {high} characters" if high else ("not empty" if low else ""))
    if "pattern" in prop:
        parts.append(f"pattern `{prop['pattern'].replace('|', chr(92) + '|')}`")
    return "; ".join(p for p in parts if p)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
