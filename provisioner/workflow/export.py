"""export: manifests written from what the platform holds that nothing manages yet, of every kind (secrets as
${env.X}; references as the addresses of the objects they name: export_kinds.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ..errors import ProvisionerError
from ..graph import entry_kind
from ..kinds import ASSISTANT, KINDS
from ..manifest import API_VERSION, KIND, Manifest
from ..planner import RemoteAssistant, desired_fields, same
from ..spec import ALWAYS_SENSITIVE, REQUIRED_FIELDS, fields_of, has_default
from ..state.local import atomic_write
from ..wire import WRITE_ONLY_FIELDS
from .export_kinds import address_for, export_object, exportable_kinds, with_references
from .session import Session


@dataclass(frozen=True)
class Exported:
    """A manifest `export` wrote, and what its user must supply before applying it."""

    path: Path
    fill_in: list[str]      # required settings the platform does not show
    environment: list[str]  # variables for the secrets, which are never written (${env.NAME})
    kind: str = ASSISTANT
    files: list[str] = field(default_factory=list)  # files to put in place (a document's), relative to `path`


def export(session: Session, manifests: list[Manifest], out_dir: str) -> list[Exported]:
    """Write a manifest for each platform object, of every kind, that nothing manages yet: neither state nor a
    manifest that would adopt it by its name."""
    kinds = exportable_kinds()
    assistants = session.remote(kinds=tuple(kinds))
    listed: dict[str, list] = {ASSISTANT: assistants, **{k: session.objects.get(k, []) for k in kinds}}
    managed = {(entry_kind(a, e), e.id): a for a, e in session.state.resources.items()}
    adoptable = {(m.kind, m.platform_name) for m in manifests}
    taken = {m.address for m in manifests} | set(session.state.resources)
    chosen: list[tuple[str, str, object]] = []  # (kind, address, live), referenced kinds first
    addresses = dict(managed)
    for kind in [*kinds, ASSISTANT]:
        for live in listed[kind]:
            if (kind, live.id) in managed or (kind, live.name) in adoptable:
                continue
            address = address_for(kind, live.name, live.id, taken)
            taken.add(address)
            addresses[kind, live.id] = address
            chosen.append((kind, address, live))
    out = Path(out_dir)
    for _, address, _ in chosen:
        if (out / f"{address}.yaml").exists():
            raise ProvisionerError(f"{out / f'{address}.yaml'} exists; export will not overwrite it (choose another "
                                   "--out)")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    written = []
    for kind, address, live in chosen:
        path = out / f"{address}.yaml"
        if kind == ASSISTANT:
            text, fill_in, environment = _exported_manifest(address, live, session.settings.api_dialect, addresses)
            files: list[str] = []
        else:
            made = export_object(KINDS[kind], address, live.id, dict(live.fields), addresses, stamp, session.client)
            text, fill_in, environment, files = made.text, made.fill_in, made.environment, made.files
        atomic_write(path, text.encode())
        written.append(Exported(path, fill_in, environment, kind, files))
    return written


def _exported_manifest(address: str, live: RemoteAssistant, dialect: str,
                       addresses: dict) -> tuple[str, list[str], list[str]]:
    """A manifest of what the platform shows: settings that differ from the documented defaults, in the
    dialect's vocabulary; empty no-default settings are left out (unmanaged). A secret (a webhook URL, which
    often carries its key) becomes ${env.NAME}: the file is meant for git. Also returned: what to fill in, and
    the environment variables to set."""
    names = fields_of(dialect)
    spec = {name: live.fields[name] for name in names if name in live.fields
            and (name in REQUIRED_FIELDS or (has_default(name) and not same(live.fields[name], desired_fields({})[name]))
                 or (not has_default(name) and live.fields[name] not in (None, [], {})))}
    spec = with_references(ASSISTANT, spec, addresses)
    environment = []
    for name in sorted(ALWAYS_SENSITIVE & set(spec)):
        variable = re.sub(r"[^A-Z0-9]+", "_", f"{address}_{name}".upper())
        spec[name] = f"${{env.{variable}}}"
        environment.append(variable)
    document = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": address},
                "spec": {name: spec[name] for name in names if name in spec}}
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    missing = [name for name in REQUIRED_FIELDS if name not in spec]
    for name in missing:
        text = text.replace("spec:\n", f"spec:\n  {name}: ''  # not shown by the platform: set it before "
                                        "applying\n", 1)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    hidden = ", ".join(sorted(n for n in WRITE_ONLY_FIELDS if n in names))
    return (f"# Exported from the platform (id {live.id}) on {stamp} by `provisioner export`.\n"
            "# Write-only settings are left out because the platform never shows them back:\n"
            f"#   {hidden}.\n"
            + (f"# Fill in before applying: {', '.join(missing)}.\n" if missing else "")
            + (f"# Secrets are not written here: set {', '.join(environment)} in the environment (the value "
               "the platform holds, or a new one).\n" if environment else "")
            + "# Applying this manifest adopts the existing assistant by its name; it does not create another.\n"
            + text), missing, environment
