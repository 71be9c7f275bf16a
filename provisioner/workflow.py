"""The provisioner's operations, usable as a library: each one a few calls between the pipeline's stages.

A `Session` is one run against one state and one platform: it holds the state
lock for its whole length (plan, confirmation and apply see the same state) and
one pooled HTTP client.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from .apply import ApplyReport, ChangeResult, StateRecorder, apply_plan
from .client import PlatformClient, RetryPolicy, display_url
from .errors import PlanError, ProvisionerError, StalePlanError, StateError
from .manifest import ADDRESS_PATTERN, API_VERSION, KIND, Manifest, load_manifests
from .plan import PLAN_FORMAT, PLAN_FORMAT_VERSION, Action, Plan
from .planner import RemoteAssistant, compute_plan, desired_fields, remote_snapshot, same
from .ratelimit import RateBudget, Window, parse_rate_limit
from .redaction import digest, is_digest
from .references import Catalog, check_references
from .spec import DEFAULT_DIALECT, REQUIRED_FIELDS, fields_of, has_default
from .state import ResourceState, State, StateBackend, locked
from .state.local import atomic_write
from .state.sql import open_store
from .wire import READABLE_FIELDS, WRITE_ONLY_FIELDS, Lookups, create_body, to_dialect

TOKEN_ENV = "PROVISIONER_API_TOKEN"
URL_ENV = "PROVISIONER_API_URL"
LOCAL_PLATFORM_DB = "local-platform.db"


DEFAULT_STATE_PATH = "state/provisioner.db"
# Commands that write state: the store is probed before anything is done on the platform.
WRITING_OPERATIONS = {"apply", "destroy", "import", "refresh", "state rm", "state mv", "state push"}


@dataclass
class Settings:
    state_path: str = DEFAULT_STATE_PATH  # the SQLite database (with --backend sqlite); its folder holds local files
    backend: str = "sqlite"               # sqlite | postgres (its DSN only from $PROVISIONER_PG_DSN)
    workspace: str | None = None          # None: the one selected with `workspace select` (state/workspace)
    project: str | None = None            # None: $PROVISIONER_PROJECT, else the folder holding state/
    api_url: str | None = None
    token_file: str | None = None
    local: bool = False
    lock: bool = True
    lock_timeout: float = 0.0
    parallelism: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    api_dialect: str = DEFAULT_DIALECT
    # The rate budget the client paces itself to; None: the platform's documented limits (off for --local).
    rate_limit: tuple[Window, ...] | None = None


def open_backend(settings: Settings, *, workspace: str | None = None, must_exist: bool = True):
    """The state store the settings name (backend, database, project, workspace)."""
    if settings.state_path.endswith(".json"):
        raise StateError(f"--state is the SQLite state database (default {DEFAULT_STATE_PATH}), not a JSON file: "
                         f"a JSON state file in its folder named WORKSPACE.json is migrated on first use, and "
                         f"`provisioner state push {settings.state_path}` loads any other")
    return open_store(settings.backend, settings.state_path, workspace=workspace or settings.workspace,
                      project=settings.project, must_exist=must_exist)


def read_token(settings: Settings) -> str:
    """The API token, from the environment or a file; never from the command line, never printed."""
    if settings.token_file:
        try:
            token = Path(settings.token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ProvisionerError(f"cannot read --token-file {settings.token_file}: {error.strerror}") from None
        if not token:
            raise ProvisionerError(f"--token-file {settings.token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ProvisionerError(f"no API token: set {TOKEN_ENV}, pass --token-file FILE, "
                               "or use --local for the embedded local platform")
    return token


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator[PlatformClient]:
    """A client for the configured platform; with --local, an embedded emulator persisted beside the state."""
    connections = max(1, settings.parallelism)  # --parallelism bounds every request in flight, reads too
    if settings.local:
        from .emulator import EmbeddedPlatform, build_platform

        platform = build_platform(db=Path(settings.state_path).parent / LOCAL_PLATFORM_DB)
        token = platform.catalog.tenants[0].token
        # The embedded platform enforces no rate limit unless told to, so nor does its client.
        budget = RateBudget(settings.rate_limit or ())
        with EmbeddedPlatform(platform) as embedded:
            with PlatformClient(embedded.url, token, retry=settings.retry, max_connections=connections,
                                budget=budget) as client:
                yield client
        return
    url = settings.api_url or os.environ.get(URL_ENV, "").strip()
    if not url:
        raise ProvisionerError(f"no platform URL: pass --api-url URL or set {URL_ENV} "
                               "(or use --local for the embedded local platform)")
    budget = RateBudget(parse_rate_limit("documented") if settings.rate_limit is None else settings.rate_limit)
    with PlatformClient(url, read_token(settings), retry=settings.retry, max_connections=connections,
                        budget=budget) as client:
        yield client


def validate(paths: list[str], dialect: str = DEFAULT_DIALECT) -> list[Manifest]:
    return load_manifests(paths, dialect=dialect)


class Session:
    def __init__(self, settings: Settings, operation: str, *, lock: bool | None = None,
                 backend: StateBackend | None = None):
        self.settings = settings
        self.operation = operation
        self.backend: StateBackend = backend  # opened on entering, unless given
        self._lock = settings.lock if lock is None else lock
        self._stack = contextlib.ExitStack()
        self.state: State
        self._client: PlatformClient | None = None
        self._catalog: Catalog | None = None

    def __enter__(self) -> "Session":
        self._stack.__enter__()
        try:
            if self.backend is None:
                self.backend = open_backend(self.settings)
                self._stack.callback(self.backend.close)
            if hasattr(self.backend, "operation"):
                self.backend.operation = self.operation
            if self.operation in WRITING_OPERATIONS and hasattr(self.backend, "probe"):
                self.backend.probe()  # a store that cannot take a write fails now, before any platform write
            self._stack.enter_context(locked(self.backend, self.operation, timeout=self.settings.lock_timeout,
                                             enabled=self._lock))
            self.state = self.backend.read()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    @property
    def client(self) -> PlatformClient:
        if self._client is None:
            self._client = self._stack.enter_context(connect(self.settings))
        return self._client

    def catalog(self, manifests: list[Manifest], pool: ThreadPoolExecutor | None = None,
                engines: tuple[str, ...] = ()) -> Catalog:
        if self._catalog is None:
            engines = {e for e in (r.remote.get("engine_type") for r in self.state.resources.values()) if e} | set(engines)
            self._catalog = Catalog.fetch(self.client, manifests, engines=engines, pool=pool)
        return self._catalog

    def remote(self, manifests: list[Manifest] = (), engines: tuple[str, ...] = ()) -> list[RemoteAssistant]:
        """The platform's assistants, normalised to manifest values (the catalogue and the list read together)."""
        with ThreadPoolExecutor(8, thread_name_prefix="read") as pool:
            listing = pool.submit(self.client.list_assistants)
            catalog = self.catalog(list(manifests), pool, engines)
            items = listing.result()
        catalog.ensure_models({item.get("mode") for item in items if isinstance(item.get("mode"), str)})
        return [RemoteAssistant.from_item(item, catalog.lookups) for item in items]

    def plan(self, manifests: list[Manifest], *, destroy: bool = False, targets: tuple[str, ...] = (),
             paths: list[str] = ()) -> tuple[Plan, set[int]]:
        """The plan, and the platform ids that existed when it was made."""
        remote = self.remote([] if destroy else manifests)
        plan = compute_plan(manifests, self.state, remote, destroy=destroy, targets=targets, manifest_paths=paths,
                            dialect=self.settings.api_dialect)
        if not destroy:
            checked = [m for m in manifests if not targets or m.address in targets]
            by_id = {r.id: r for r in remote}
            # A number held by an assistant this plan deletes is free by the time creates run (deletes go first).
            released = {by_id[c.remote_id].fields.get("phone_number_id") for c in plan.changes
                        if c.action is Action.DELETE and c.remote_id in by_id} - {None}
            problems = check_references(checked, self._catalog, self._held_numbers(manifests, remote), released)
            if problems:
                raise PlanError(problems)
        return plan, {r.id for r in remote}

    def _held_numbers(self, manifests: list[Manifest], remote: list[RemoteAssistant]) -> dict[str, Any]:
        """address -> the phone number its assistant holds now: the one in state, else the namesake it adopts."""
        by_id = {r.id: r for r in remote}
        claimed = {entry.id for entry in self.state.resources.values()}
        held = {}
        for manifest in manifests:
            entry = self.state.resources.get(manifest.address)
            if entry is not None and entry.id in by_id:
                held[manifest.address] = by_id[entry.id].fields.get("phone_number_id")
            else:
                namesakes = [r for r in remote if r.name == manifest.spec.assistant_name and r.id not in claimed]
                if len(namesakes) == 1:
                    held[manifest.address] = namesakes[0].fields.get("phone_number_id")
        return held

    def apply(self, plan: Plan, known_ids: set[int], *, on_result: Callable[[ChangeResult], None] | None = None,
              on_start=None) -> ApplyReport:
        lookups = self._catalog.lookups if self._catalog else Lookups()
        return apply_plan(plan, self.client, StateRecorder(self.backend, self.state), known_ids=known_ids,
                          parallelism=self.settings.parallelism, on_result=on_result, on_start=on_start,
                          lookups=lookups)

    def check_saved_plan(self, plan: Plan) -> set[int]:
        """Refuse a plan that no longer fits the state or the platform; fill in its secrets; the known ids."""
        # A plan made before any state existed carries a lineage nobody saved; the serial still guards it.
        if plan.lineage != self.state.lineage and (plan.serial or self.state.serial):
            raise StalePlanError(f"the saved plan was made for another state (lineage {plan.lineage}, this state "
                                 f"is {self.state.lineage}); make a new plan")
        if plan.serial != self.state.serial:
            raise StalePlanError(f"the state changed since the plan was made (serial {plan.serial} -> "
                                 f"{self.state.serial}); make a new plan")
        remote = {r.id: r for r in self.remote(engines=tuple(c.engine_type for c in plan.changes if c.engine_type))}
        claimed = {e.id for e in self.state.resources.values()}
        stale = []
        for change in plan.changes:
            live = remote.get(change.remote_id) if change.remote_id is not None else None
            if change.action is Action.CREATE:
                if any(r.name == change.assistant_name and r.id not in claimed for r in remote.values()):
                    stale.append(f"{change.address}: an assistant named {change.assistant_name!r} appeared on "
                                 "the platform since the plan; creating another would duplicate it")
            elif change.action is Action.FORGET:
                if live is not None:
                    stale.append(f"{change.address}: id {change.remote_id} is back on the platform")
            elif live is None:
                stale.append(f"{change.address}: id {change.remote_id} is gone from the platform")
            elif live.fingerprint != change.remote_fingerprint:
                stale.append(f"{change.address}: id {change.remote_id} changed on the platform since the plan")
        if stale:
            raise StalePlanError("the saved plan is stale:\n  " + "\n  ".join(stale) + "\nMake a new plan.")
        _restore_secrets(plan)
        return set(remote)


def _restore_secrets(plan: Plan) -> None:
    """Put the manifests' sensitive values back where the plan file holds their digests."""
    needed = [c for c in plan.changes if any(is_digest(c.body.get(name)) for name in c.sensitive)]
    if not needed:
        return
    manifests = {m.address: m for m in load_manifests(plan.manifest_paths, dialect=plan.dialect)}
    for change in needed:
        manifest = manifests.get(change.address)
        for name in change.sensitive:
            if not is_digest(change.body.get(name)):
                continue
            current = desired_fields(manifest.fields, plan.dialect).get(name) if manifest else None
            if current is None or digest(current) != change.body[name]:
                raise StalePlanError(f"{change.address}: the sensitive value of spec.{name} in the manifests "
                                     "differs from the one planned; make a new plan")
            change.body[name] = current


def read_plan_file(path: str) -> Plan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ProvisionerError(f"cannot read plan file {path}: {error}") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise ProvisionerError(f"{path} is not a saved plan (write one with `provisioner plan --out {path}`)")
    if data.get("format_version") != PLAN_FORMAT_VERSION:
        raise ProvisionerError(f"{path} has plan format version {data.get('format_version')}; "
                               f"this provisioner reads version {PLAN_FORMAT_VERSION}")
    return Plan.from_dict(data)


def write_plan_file(plan: Plan, path: str) -> None:
    atomic_write(Path(path), (json.dumps(plan.to_dict(), indent=2) + "\n").encode())


def is_plan_file(path: str) -> bool:
    candidate = Path(path)
    if not candidate.is_file() or candidate.suffix in (".yaml", ".yml"):
        return False
    try:
        with open(candidate, "rb") as handle:
            return f'"format": "{PLAN_FORMAT}"'.encode() in handle.read(4096)
    except OSError:
        return False


# --- import, refresh, export, state edits ---

def import_assistant(session: Session, manifests: list[Manifest], address: str, remote_id: int) -> RemoteAssistant:
    by_address = {m.address: m for m in manifests}
    if address not in by_address:
        raise ProvisionerError(f"no manifest has metadata.name {address!r}; write the manifest first, so the "
                               "next plan does not destroy what you import")
    if address in session.state.resources:
        raise StateError(f"{address!r} is already in state (id {session.state.resources[address].id}); "
                         f"use `provisioner state rm {address}` first to replace it")
    owner = next((a for a, e in session.state.resources.items() if e.id == remote_id), None)
    if owner:
        raise StateError(f"id {remote_id} is already managed as {owner!r}")
    live = next((r for r in session.remote() if r.id == remote_id), None)
    if live is None:
        raise ProvisionerError(f"the platform has no assistant with id {remote_id} for this token")
    manifest = by_address[address]
    session.state.resources[address] = ResourceState(
        id=remote_id, spec=None, protect=manifest.protect, sensitive=sorted(manifest.sensitive),
        remote=remote_snapshot(live.fields, manifest.sensitive))
    session.backend.write(session.state)
    return live


def refresh(session: Session) -> list[str]:
    """Update state's view of the platform; forget what is gone. Nothing remote changes. The lines to print."""
    remote = {r.id: r for r in session.remote()}
    report = []
    for address in sorted(session.state.resources):
        entry = session.state.resources[address]
        live = remote.get(entry.id)
        if live is None:
            del session.state.resources[address]
            report.append(f"{address}: id {entry.id} is gone from the platform; removed from state")
            continue
        snapshot = remote_snapshot(live.fields, entry.sensitive)
        if snapshot != entry.remote:
            changed = sorted(k for k in snapshot if k in entry.remote and not same(snapshot[k], entry.remote[k]))
            entry.remote = snapshot
            detail = f"; changed there: {', '.join(changed)}" if changed else ""
            report.append(f"{address}: refreshed from the platform (id {entry.id}{detail})")
    session.backend.write(session.state)
    return report


def export(session: Session, manifests: list[Manifest], out_dir: str) -> list[Path]:
    """Write a manifest for each platform assistant that nothing manages yet."""
    managed_ids = {e.id for e in session.state.resources.values()}
    adoptable_names = {m.spec.assistant_name for m in manifests}
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
        atomic_write(path, _exported_manifest(address, live, session.settings.api_dialect).encode())
        written.append(path)
    return written


def _address_for(name: str, remote_id: int, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50].strip("-") or "assistant"
    address = slug if ADDRESS_PATTERN.match(slug) and slug not in taken else f"{slug}-{remote_id}"
    return address


def _exported_manifest(address: str, live: RemoteAssistant, dialect: str) -> str:
    """A manifest of what the platform shows: settings that differ from the documented defaults, in the
    dialect's vocabulary; empty no-default settings are left out (unmanaged)."""
    names = fields_of(dialect)
    spec = {name: live.fields[name] for name in names if name in live.fields
            and (name in REQUIRED_FIELDS or (has_default(name) and not same(live.fields[name], desired_fields({})[name]))
                 or (not has_default(name) and live.fields[name] not in (None, [], {})))}
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
            + "# Applying this manifest adopts the existing assistant by its name; it does not create another.\n"
            + text)


def state_move(session: Session, old: str, new: str) -> None:
    resources = session.state.resources
    if old not in resources:
        raise StateError(f"{old!r} is not in state")
    if new in resources:
        raise StateError(f"{new!r} is already in state")
    if not ADDRESS_PATTERN.match(new):
        raise StateError(f"{new!r} is not a valid address (lowercase letters, digits, '-' and '_')")
    resources[new] = resources.pop(old)
    session.backend.write(session.state)


def state_remove(session: Session, address: str) -> ResourceState:
    if address not in session.state.resources:
        raise StateError(f"{address!r} is not in state")
    entry = session.state.resources.pop(address)
    session.backend.write(session.state)
    return entry


def describe_entry(address: str, entry: ResourceState) -> dict[str, Any]:
    return {"address": address, "id": entry.id, "protect": entry.protect, "sensitive": entry.sensitive,
            "last_applied_spec": entry.spec, "platform": entry.remote,
            "readable_fields": sorted(READABLE_FIELDS)}


def manifests_or_empty(paths: list[str], dialect: str = DEFAULT_DIALECT) -> list[Manifest]:
    """Manifests for commands that can run without any (destroy): missing paths mean none."""
    existing = [p for p in paths if Path(p).exists()]
    return load_manifests(existing, dialect=dialect) if existing else []


# --- workspaces ---

WORKSPACE_ENV = "PROVISIONER_WORKSPACE"


def current_workspace(settings: Settings) -> str:
    """--workspace / $PROVISIONER_WORKSPACE, else the one remembered by `workspace select`, else default."""
    from .state.sql import check_workspace_name, selected_workspace

    name = settings.workspace or os.environ.get(WORKSPACE_ENV, "").strip()
    return check_workspace_name(name) if name else selected_workspace(Path(settings.state_path).parent)


def list_workspaces(settings: Settings) -> list[str]:
    store = open_backend(settings, workspace="default")
    try:
        return store.workspaces()
    finally:
        store.close()


def new_workspace(settings: Settings, name: str) -> None:
    store = open_backend(settings, workspace=name, must_exist=False)
    try:
        store.create()
    finally:
        store.close()


def select_workspace(settings: Settings, name: str) -> None:
    from .state.sql import remember_workspace

    store = open_backend(settings, workspace=name)  # refuses a workspace that does not exist
    store.close()
    remember_workspace(Path(settings.state_path).parent, name)


def delete_workspace(settings: Settings, name: str, *, force: bool = False) -> int:
    """Drop a workspace's state; refuses default, the current one, and (without force) one that manages assistants."""
    if name == "default":
        raise StateError("the default workspace cannot be deleted")
    if name == current_workspace(settings):
        raise StateError(f"{name!r} is the current workspace; select another first "
                         "(provisioner workspace select default)")
    store = open_backend(settings, workspace=name)
    if not store.exists():
        store.close()
        raise StateError(f"workspace {name!r} does not exist")
    store.operation = "workspace delete"
    try:
        with locked(store, "workspace delete", timeout=settings.lock_timeout):
            return store.drop(force=force)
    finally:
        store.close()
