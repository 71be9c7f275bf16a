"""export: manifests written from the platform's assistants that nothing manages yet (secrets as ${env.X})."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ..errors import ProvisionerError
from ..manifest import ADDRESS_PATTERN, API_VERSION, KIND, Manifest
from ..planner import RemoteAssistant, desired_fields, same
from ..reading import assistants_of
from ..spec import ALWAYS_SENSITIVE, REQUIRED_FIELDS, fields_of, has_default
from ..state.local import atomic_write
from ..wire import WRITE_ONLY_FIELDS
from .session import Session


@dataclass(frozen=True)
class Exported:
    """A manifest `export` wrote, and what its user must supply before applying it."""

    path: Path
    fill_in: list[str]      # required settings the platform does not show
    environment: list[str]  # variables for the secrets, which are never written (${env.NAME})


def export(session: Session, manifests: list[Manifest], out_dir: str) -> list[Exported]:
    """Write a manifest for each platform assistant that nothing manages yet."""
    managed_ids = {e.id for a, e in session.state.resources.items() if "." not in a}  # assistants' ids
    adoptable_names = {m.spec.assistant_name for m in assistants_of(manifests)}
    taken = {m.address for m in manifests} | set(session.state.resources)
    out = Path(out_dir)
    written = []
    for live in session.remote():
        if live.id in managed_ids or live.name in adoptable_names:
            continue
        address = _address_for(live.name, live.id, taken)
        taken.add(address)
        path = out / f"{address}.yaml"
        if path.exists():
            raise ProvisionerError(f"{path} exists; export will not overwrite it (choose another --out)")
        text, fill_in, environment = _exported_manifest(address, live, session.settings.api_dialect)
        atomic_write(path, text.encode())
        written.append(Exported(path, fill_in, environment))
    return written


def _address_for(name: str, remote_id: int, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50].strip("-") or "assistant"
    address = slug if ADDRESS_PATTERN.fullmatch(slug) and slug not in taken else f"{slug}-{remote_id}"
    return address


def _exported_manifest(address: str, live: RemoteAssistant, dialect: str) -> tuple[str, list[str], list[str]]:
    """A manifest of what the platform shows: settings that differ from the documented defaults, in the
    dialect's vocabulary; empty no-default settings are left out (unmanaged). A secret (a webhook URL, which
    often carries its key) becomes ${env.NAME}: the file is meant for git. Also returned: what to fill in, and
    the environment variables to set."""
    names = fields_of(dialect)
    spec = {name: live.fields[name] for name in names if name in live.fields
            and (name in REQUIRED_FIELDS or (has_default(name) and not same(live.fields[name], desired_fields({})[name]))
                 or (not has_default(name) and live.fields[name] not in (None, [], {})))}
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
