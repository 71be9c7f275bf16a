"""export: manifests written from what the platform holds that nothing manages yet, of every kind (secrets as
${env.X}; references as the addresses of the objects they name: export_kinds.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ProvisionerError
from ..graph import entry_kind
from ..kinds import ASSISTANT, KINDS, kind_title
from ..manifest import API_VERSION, KIND, Manifest
from ..planner import RemoteAssistant, desired_fields, same
from ..spec import ALWAYS_SENSITIVE, REQUIRED_FIELDS, fields_of, has_default
from ..state.local import atomic_write
from ..variables import escaped
from ..wire import WRITE_ONLY_FIELDS
from .export_kinds import (address_for, dump, export_object, exportable_kinds, hide_credentials, variable,
                           with_references)
from .session import Session


@dataclass(frozen=True)
class Exported:
    """A manifest `export` wrote, and what its user must supply before applying it."""

    path: Path
    fill_in: list[str]      # required settings the platform does not show
    environment: list[str]  # variables for the secrets, which are never written (${env.NAME})
    kind: str = ASSISTANT
    files: list[str] = field(default_factory=list)  # files to put in place (a document's), relative to `path`


def export(session: Session, manifests: list[Manifest], out_dir: str, notes: list[str] | None = None) -> list[Exported]:
    """Write a manifest for each platform object, of every kind, that nothing manages yet: neither state nor a
    manifest that would adopt it by its name. `notes` takes what nothing manages and is left out all the same, and
    why."""
    notes = [] if notes is None else notes
    kinds = exportable_kinds()
    assistants = session.remote(kinds=tuple(kinds))
    listed: dict[str, list] = {ASSISTANT: assistants, **{k: session.objects.get(k, []) for k in kinds}}
    managed = {(entry_kind(a, e), e.id): a for a, e in session.state.resources.items()}
    # What a manifest would adopt: one in state adopts nothing (it has its object), so a knowledge base of its name
    # that nothing manages is exported all the same. An assistant's manifest (folders', labels') needs a name of
    # its own, so a namesake of one in state is left out, and named (its manifest could not validate beside it).
    adoptable = {(m.kind, _adopted_by(m.kind, m.platform_name, m.fields)) for m in manifests
                 if m.address not in session.state.resources}
    named = {(m.kind, _adopted_by(m.kind, m.platform_name, m.fields)): m.address for m in manifests
             if m.address in session.state.resources and _unique_names(m.kind)}
    taken = {m.address for m in manifests} | set(session.state.resources)
    chosen: list[tuple[str, str, object]] = []  # (kind, address, live), referenced kinds first
    addresses = dict(managed)
    owners = getattr(session.backend, "owners", None)
    for kind in [*kinds, ASSISTANT]:
        # What another workspace or project of the store manages is not this one's to export: its manifest would
        # be refused by this workspace's plan (one owner), and applied elsewhere it would be a second.
        candidates = [live.id for live in listed[kind] if (kind, live.id) not in managed]
        elsewhere = owners(kind, candidates) if owners is not None and candidates else {}
        for live in listed[kind]:
            adopted_by = (kind, _adopted_by(kind, live.name, live.fields))
            if (kind, live.id) in managed or adopted_by in adoptable or live.id in elsewhere:
                continue
            if adopted_by in named:
                notes.append(f"left out the {kind_title(kind)} {live.name!r} (id {live.id}), which nothing manages: "
                             f"{named[adopted_by]}'s manifest, in state, has its name, and each {kind_title(kind)}'s "
                             "manifest needs its own; rename it on the platform, then export again")
                continue
            address = address_for(kind, live.name, live.id, taken)
            taken.add(address)
            addresses[kind, live.id] = address
            chosen.append((kind, address, live))
    _refuse_namesakes(chosen)
    out = Path(out_dir)
    for _, address, _ in chosen:
        # A link counts whether its target exists or not (exists() follows it): the file would replace the link.
        if (out / f"{address}.yaml").exists() or (out / f"{address}.yaml").is_symlink():
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
        try:
            atomic_write(path, text.encode())
        except OSError as error:  # --out names a file, a folder it cannot write, a full disk
            raise ProvisionerError(_write_failed(path, error, [e.path for e in written])) from None
        written.append(Exported(path, fill_in, environment, kind, files))
    return written


def _write_failed(path: Path, error: OSError, written: list[Path]) -> str:
    """Why export stopped, and what is on disk now: the manifests it wrote before (whole), if any."""
    done = ", ".join(map(str, written))
    return (f"export could not write {path} ({error.strerror or error}): "
            + (f"{done} were written, no other file" if done else "no file was written"))


def _adopted_by(kind: str, name: str, fields: dict) -> object:
    """What a manifest adopts an object by, as a plan matches them (plan_kinds): the kind's identity when it has one
    (a SIP trunk's number, username and address: two trunks without a nickname are not one), else its name."""
    identity = KINDS[kind].identity if kind in KINDS else None
    if identity is not None:
        return identity(fields)
    return name or None  # no name (a platform without one): adopted by nothing


def _refuse_namesakes(chosen: list[tuple[str, str, object]]) -> None:
    """Two objects of one name, of a kind adopted by its name (every kind without an identity of its own: a
    knowledge base, a tool, a campaign as much as an assistant, a folder or a label), cannot both be exported:
    adoption by name could not tell them apart, so the next plan refused both manifests ('adopting one would be a
    guess'), and those of a kind with unique names would not even validate together. An object without a name
    is adopted by nothing, so it is no namesake."""
    by_name: dict[tuple[str, str], list[int]] = {}
    for kind, _, live in chosen:
        if live.name and (kind == ASSISTANT or getattr(KINDS.get(kind), "identity", None) is None):
            by_name.setdefault((kind, live.name), []).append(live.id)
    twice = {key: ids for key, ids in by_name.items() if len(ids) > 1}
    if twice:
        named = "; ".join(f"{len(ids)} {kind_title(kind)}s named {name!r} (ids {', '.join(map(str, sorted(ids)))})"
                          for (kind, name), ids in sorted(twice.items()))
        raise ProvisionerError(f"the platform has {named} that nothing manages: their manifests could not adopt them "
                               "by name. Rename all but one on the platform, or write one manifest and run "
                               "`provisioner import ADDRESS ID`; nothing was written")


def _unique_names(kind: str) -> bool:
    """Whether the manifests of `kind` need names of their own (validation refuses two of one name)."""
    return kind == ASSISTANT or getattr(KINDS.get(kind), "unique_names", False)


def _exported_manifest(address: str, live: RemoteAssistant, dialect: str,
                       addresses: dict) -> tuple[str, list[str], list[str]]:
    """A manifest of what the platform shows: settings that differ from the documented defaults, in the
    dialect's vocabulary; empty no-default settings are left out (unmanaged). A secret (a webhook URL, which
    often carries its key) becomes ${env.NAME}: the file is meant for git. Also returned: what to fill in, and
    the environment variables to set."""
    names = fields_of(dialect)
    defaults = desired_fields({}, dialect)  # (the dialect's: v2 has defaults of its own, such as ringing_time)
    spec = {name: live.fields[name] for name in names if name in live.fields
            and (name in REQUIRED_FIELDS or (has_default(name) and not same(live.fields[name], defaults[name]))
                 or (not has_default(name) and live.fields[name] not in (None, [], {})))}
    # Texts as a manifest must hold them to read back as they are (`${` written `$${`), references as addresses.
    spec = with_references(ASSISTANT, escaped(spec), addresses)
    environment = []
    secrets = [(spec, name, variable(address, name)) for name in sorted(ALWAYS_SENSITIVE & set(spec))]
    # A calendar tool's Cal.com key, a secret by its content (the tools are `escaped`'s copies: changed in place).
    secrets += [(tool, "calcom_api_key", variable(address, "tools", str(index), "calcom_api_key"))
                for index, tool in enumerate(spec.get("tools") or [])
                if isinstance(tool, dict) and tool.get("calcom_api_key")]
    for holder, key, name in secrets:
        holder[key] = f"${{env.{name}}}"
        environment.append(name)
    # A text holding credentials though its field is no secret (a prompt quoting a URL's user:password@), as for
    # the other kinds: plan masks it, pull never writes it, and this file is meant for git.
    hide_credentials(address, spec, environment)
    document = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": address},
                "spec": {name: spec[name] for name in names if name in spec}}
    text = dump(document)
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
