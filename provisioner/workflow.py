"""The provisioner's operations, usable as a library: each one a few calls between the pipeline's stages.

A `Session` is one run against one state and one platform: it holds the state
lock for its whole length (plan, confirmation and apply see the same state) and
one pooled HTTP client.
"""
from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import re
import stat
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import yaml

from .apply import ApplyReport, ChangeResult, StateRecorder, apply_plan
from .client import PlatformClient, RetryPolicy
from .config import Config, ConfigError, ManifestInputs
from .errors import PlanError, Problem, ProvisionerError, StalePlanError, StateError
from .manifest import ADDRESS_PATTERN, API_VERSION, DEFAULT_LIMITS, KIND, Limits, Manifest, load_manifests
from .plan import MASS_DESTROY_MIN, MASS_DESTROY_SHARE, Action, Plan
from .planner import RemoteAssistant, compute_plan, desired_fields, remote_snapshot, same
from .ratelimit import RateBudget, Window, parse_rate_limit
from .redaction import digest, is_digest
from .plan_graph import Platform, plan_graph
from .reading import assistants_of, begin_reading, catalogue_numbers, finish_reading, kinds_involved, needs_numbers
from .references import Catalog, check_references
from .scrub import register_secret, register_url, scrub
from .spec import ALWAYS_SENSITIVE, DEFAULT_DIALECT, REQUIRED_FIELDS, fields_of, has_default
from .state import DEFAULT_KIND, Owner, ResourceState, State, StateBackend, locked
from .state.local import atomic_write
from .saved_plan import conflicts_with_state
from .state.sql import open_store
from .wire import READABLE_FIELDS, WRITE_ONLY_FIELDS, Lookups

# An address of another kind than assistants (`folder.sales`), or `assistant.NAME`.
TARGET = re.compile(r"[a-z]+\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)?")
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
    init_store: bool = False  # --init-store: an empty file or database at the state path becomes a new store
    parallelism: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    api_dialect: str = DEFAULT_DIALECT
    # The rate budget the client paces itself to; None: the platform's documented limits (off for --local).
    rate_limit: tuple[Window, ...] | None = None
    # Workspace, variables and overlays that make the final manifests (None: the files as they are).
    inputs: ManifestInputs | None = None
    config: Config | None = field(default=None, repr=False)
    insecure_http: bool = False   # allow http:// to a host other than this machine (the token in cleartext)
    manifest_limits: Limits = DEFAULT_LIMITS

    @classmethod
    def from_config(cls, config: Config, **run: Any) -> "Settings":
        """The settings of a run: the resolved configuration (config.resolve_config), plus `run`, the run's
        own flags that are not configuration (local, token_file, lock, ...)."""
        retry = RetryPolicy(max_attempts=config.max_retries, max_elapsed=config.retry_max_time,
                            backoff_base=config.retry_backoff, timeout=config.request_timeout)
        rate_limit = parse_rate_limit(config.rate_limit) if config.rate_limit is not None else None
        return cls(state_path=config.state_path, api_url=config.api_url, lock_timeout=config.lock_timeout,
                   parallelism=config.parallelism, retry=retry, api_dialect=config.api_dialect,
                   rate_limit=rate_limit, backend=config.backend, workspace=config.workspace, inputs=config.inputs,
                   project=config.project, config=config, **run)


MAX_TOKEN_FILE_BYTES = 16 * 1024


def warn(message: str) -> None:
    print(scrub(f"Warning: {message}"), file=sys.stderr)


def declared_by_repository(settings: Settings) -> bool:
    """A workspace the repository itself defines (vars/<workspace>.yaml or overlays/<workspace>/) is created on
    first use; any other must be created with `workspace new`, so a typo never starts an empty state."""
    name, inputs = settings.workspace, settings.inputs
    if not name or inputs is None:
        return False
    root = Path(inputs.root)
    return (root / "vars" / f"{name}.yaml").is_file() or (root / "overlays" / name).is_dir()


def open_backend(settings: Settings, *, workspace: str | None = None, must_exist: bool = True):
    """The state store the settings name (backend, database, project, workspace)."""
    if settings.state_path.endswith(".json"):
        raise StateError(f"--state is the SQLite state database (default {DEFAULT_STATE_PATH}), not a JSON file: "
                         f"a JSON state file in its folder named WORKSPACE.json is migrated on first use, and "
                         f"`provisioner state push {settings.state_path}` loads any other")
    store = open_store(settings.backend, settings.state_path, workspace=workspace or settings.workspace,
                       project=settings.project, must_exist=must_exist, lock_timeout=settings.lock_timeout,
                       init_store=settings.init_store)
    if settings.backend == "postgres" and not settings.project:
        _warn_folder_project(store.project)
    return store


@functools.lru_cache(maxsize=None)
def _warn_folder_project(project: str) -> None:
    """Once per run: a shared store keyed by a folder's name splits the state of clones in other folders."""
    warn(f"the state's project is {project!r}, the name of this folder, since neither provisioner.yaml "
         "(`project:`) nor PROVISIONER_PROJECT names one: a clone in a folder of another name would not find "
         "this state in the shared database. Set `project:` in provisioner.yaml.")


def read_token(settings: Settings) -> str:
    """The API token, from the environment or a file; never from the command line, never printed.

    Surrounding whitespace (a file's final newline) is dropped; anything else that cannot go in an HTTP
    header (whitespace inside, control or non-ASCII characters) is refused without showing the token.
    """
    if settings.token_file:
        source = f"--token-file {settings.token_file}"
        try:
            with _open_regular(settings.token_file, source) as handle:
                info = os.fstat(handle.fileno())
                data = handle.read(MAX_TOKEN_FILE_BYTES + 1)
        except OSError as error:
            raise ProvisionerError(f"cannot read {source}: {error.strerror}") from None
        if len(data) > MAX_TOKEN_FILE_BYTES:
            raise ProvisionerError(f"{source} is larger than {MAX_TOKEN_FILE_BYTES} bytes: not a token file")
        if info.st_mode & 0o044:
            who = "other users" if info.st_mode & 0o004 else "its group"
            warn(f"{source} is readable by {who} (mode {stat.S_IMODE(info.st_mode):04o}); "
                 f"restrict it: chmod 600 {settings.token_file}")
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProvisionerError(f"{source} is not UTF-8 text; it should hold the API token alone") from None
    else:
        source = f"the environment variable {TOKEN_ENV}"
        raw = os.environ.get(TOKEN_ENV, "")
        if not raw.strip():
            raise ProvisionerError(f"no API token: set {TOKEN_ENV}, pass --token-file FILE, "
                                   "or use --local for the embedded local platform")
    register_secret(raw)
    token = raw.strip()
    register_secret(token)
    for line in raw.splitlines():
        register_secret(line.strip())  # a token split by a stray newline: each part is still a secret
    if not token:
        raise ProvisionerError(f"{source} is empty; it should hold the API token")
    problem = token_problem(token)
    if problem:
        raise ProvisionerError(f"the API token in {source} {problem} (the token is not shown); a token is one "
                               "line of printable ASCII characters without spaces")
    return token


def _open_regular(path: str, what: str):
    """`path` opened for reading, refused unless a regular file. Non-blocking, so a FIFO cannot hang the run."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    handle = os.fdopen(descriptor, "rb")
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        handle.close()
        raise ProvisionerError(f"{what} is not a regular file")
    return handle


def token_problem(token: str) -> str | None:
    """Why `token` cannot be sent in an Authorization header, without quoting it; None if it can."""
    for index, char in enumerate(token, 1):
        if char.isspace():
            return f"contains whitespace (character {index} of {len(token)})"
        if not char.isprintable() or ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains a control character (character {index} of {len(token)})"
        if ord(char) > 0x7E:
            return f"contains a non-ASCII character (character {index} of {len(token)})"
    return None


def check_api_url(url: str, insecure_http: bool = False) -> str:
    """The platform URL, refused if it is not http(s), or is plain http:// to another machine."""
    register_url(url)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ProvisionerError("--api-url contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise ProvisionerError(f"--api-url {scrub(url)!r} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ProvisionerError(f"--api-url must be an https:// URL (got {scrub(url)!r})")
    if parts.scheme.lower() == "http" and not _is_loopback(host) and not insecure_http:
        raise ProvisionerError(
            f"--api-url is plain http:// to {host}, which is not this machine: the API token would cross the "
            "network unencrypted. Use https://, or pass --insecure-http if that is really intended.")
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    check_api_url(url, settings.insecure_http)
    budget = RateBudget(parse_rate_limit("documented") if settings.rate_limit is None else settings.rate_limit)
    with PlatformClient(url, read_token(settings), retry=settings.retry, max_connections=connections,
                        budget=budget) as client:
        yield client


def validate(paths: list[str], dialect: str = DEFAULT_DIALECT, inputs: ManifestInputs | None = None,
             limits: Limits = DEFAULT_LIMITS) -> list[Manifest]:
    """The final manifests: loaded, with the workspace's overlays and variables when `inputs` are given.
    The files skipped (no YAML suffix) are named on stderr."""
    if inputs is not None:
        from .overlays import unknown_workspace

        unknown = unknown_workspace(Path(inputs.root), inputs.workspace)
        if unknown:  # a mistyped --workspace is the run's configuration, not a manifest's mistake
            raise ConfigError([unknown])
    skipped: list[str] = []
    manifests = load_manifests(paths, dialect=dialect, transform=inputs.transform if inputs is not None else None,
                               limits=limits, skipped=skipped)
    _report_skipped(skipped)
    return manifests


def _report_skipped(skipped: list[str]) -> None:
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        warn(f"skipped {len(skipped)} file(s) without a .yaml or .yml suffix: {shown}")


def validation_result(paths: list[str], *args, **kwargs) -> tuple[int, list]:
    """For `validate --json`: how many manifests were checked, and every problem (none when valid).
    Further arguments are validate()'s."""
    from .errors import ManifestError
    from .manifest import find_manifest_files, load_documents

    try:
        return len(validate(paths, *args, **kwargs)), []
    except ManifestError as error:
        documents, _ = load_documents(find_manifest_files(paths, []))
        return len(documents), error.problems


def platform_identity(settings: Settings, client: PlatformClient) -> str:
    """The platform, for the state rows: its base URL without credentials or query ('local' for --local)."""
    if settings.local:
        return "local"
    parts = urlsplit(str(client.base_url))
    host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"[:500]


def _say_waiting(holder, timeout: float) -> None:
    """Under --lock-timeout: who holds the lock, and how long this run waits for it (on stderr)."""
    print(scrub(f"The state is locked by {holder.who} ({holder.operation} since {holder.created}, on "
                f"{holder.host}, pid {holder.pid}, lock ID {holder.id}); waiting up to {timeout:g}s for it "
                "(--lock-timeout)..."), file=sys.stderr, flush=True)


class Session:
    def __init__(self, settings: Settings, operation: str, *, lock: bool | None = None,
                 backend: StateBackend | None = None, prefetch: bool = False):
        self.settings = settings
        self.operation = operation
        self.backend: StateBackend = backend  # opened on entering, unless given
        self._lock = settings.lock if lock is None else lock
        self._stack = contextlib.ExitStack()
        self.state: State
        self._client: PlatformClient | None = None
        self._catalog: Catalog | None = None
        self._listing: Future | None = None  # the list read begun on entering, for the first remote()
        self.objects: dict = {}  # kind -> the platform's objects of the other kinds, as the last remote() read them
        # Begin reading the platform's list while the state is read (a plan with manifests to compare).
        self._prefetch = prefetch

    def __enter__(self) -> "Session":
        self._stack.__enter__()
        try:
            if self.backend is None:
                self.backend = open_backend(self.settings, must_exist=not declared_by_repository(self.settings))
                self._stack.callback(self.backend.close)
            if hasattr(self.backend, "operation"):
                self.backend.operation = self.operation
            if self.operation in WRITING_OPERATIONS and hasattr(self.backend, "probe"):
                self.backend.probe()  # a store that cannot take a write fails now, before any platform write
            self._stack.enter_context(locked(self.backend, self.operation, timeout=self.settings.lock_timeout,
                                             enabled=self._lock, on_wait=_say_waiting))
            if self._prefetch:
                # The platform's list is read (under the lock) while the state is: a fleet's two longest reads.
                prefetch = ThreadPoolExecutor(1, thread_name_prefix="prefetch")
                self._stack.callback(prefetch.shutdown)
                self._listing = prefetch.submit(self.client.list_assistants)
            # `state push` replaces the state whole: it must work on a store whose rows cannot be read (the repair
            # that a bad row's error advises), so it does not read them first.
            self.state = self.backend.read() if self.operation != "state push" else State.new()
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
            if hasattr(self.backend, "platform"):
                # Ids are the platform's: ownership across workspaces is per platform (SqlStateStore.owners).
                self.backend.platform = platform_identity(self.settings, self._client)
        return self._client

    def catalog(self, manifests: list[Manifest], pool: ThreadPoolExecutor | None = None,
                engines: tuple[str, ...] = ()) -> Catalog:
        if self._catalog is None:
            engines = {e for e in (r.remote.get("engine_type") for r in self.state.resources.values()) if e} | set(engines)
            self._catalog = Catalog.fetch(self.client, manifests, engines=engines, pool=pool)
        return self._catalog

    def remote(self, manifests: list[Manifest] = (), engines: tuple[str, ...] = (),
               kinds: tuple[str, ...] = ()) -> list[RemoteAssistant]:
        """The platform's assistants, normalised to manifest values (the catalogue and the list read together);
        the lists of `kinds` are read at the same time, into `self.objects`."""
        with ThreadPoolExecutor(8, thread_name_prefix="read") as pool:
            listing, self._listing = self._listing or pool.submit(self.client.list_assistants), None
            reads = begin_reading(self.client, kinds, pool)
            catalog = self.catalog(assistants_of(manifests), pool, engines)
            items = listing.result()
            self.objects = finish_reading(reads)
        catalog.ensure_models({item.get("mode") for item in items if isinstance(item.get("mode"), str)})
        return [RemoteAssistant.from_item(item, catalog.lookups) for item in items]

    def plan(self, manifests: list[Manifest], *, destroy: bool = False, targets: tuple[str, ...] = (),
             paths: list[str] = (), allow_empty: bool = False,
             allow_mass_destroy: bool = False) -> tuple[Plan, set[int]]:
        """The plan, and the platform ids that existed when it was made.

        No manifests at all while the state manages assistants is far more often a wrong path, an emptied
        folder or a broken checkout than a wish to delete everything: refused unless `allow_empty`.
        """
        bad_targets = [t for t in targets if not ADDRESS_PATTERN.fullmatch(t) and not TARGET.fullmatch(t)]
        if bad_targets:
            raise PlanError([Problem(f"--target {_clip(repr(t))} is not an address (lowercase letters, digits, "
                                     "'-' and '_', after `kind.` for other kinds than assistants)")
                             for t in bad_targets])
        if not destroy and not manifests and self.state.resources and not allow_empty:
            managed = sorted(self.state.resources)
            listed = ", ".join(managed[:5]) + (f" and {len(managed) - 5} more" if len(managed) > 5 else "")
            where = ", ".join(str(p) for p in paths) or "the given paths"
            raise ProvisionerError(
                f"found no manifests in {where}, but the state manages {len(managed)} assistant(s) ({listed}); "
                "planning now would destroy all of them. If that is what you want, run `provisioner destroy`, "
                "or pass --allow-empty to plan or apply.")
        assistants = assistants_of(manifests)
        read = [] if destroy else manifests
        remote = self.remote(assistants if not destroy else [],
                             kinds=tuple(kinds_involved(read, self.state.resources)))
        objects = dict(self.objects)
        if "number" not in objects and needs_numbers(read):
            objects["number"] = catalogue_numbers(self._catalog.numbers)
        plan, resolved = plan_graph(read if not destroy else manifests, self.state, Platform(remote, objects),
                                    destroy=destroy, targets=targets, manifest_paths=paths,
                                    dialect=self.settings.api_dialect,
                                    foreign=self._foreign_owners(assistants, remote),
                                    foreign_objects=self._foreign_objects(manifests, objects),
                                    left_alone=left_alone(self.state, manifests, paths),
                                    allow_mass_destroy=allow_mass_destroy)
        if not destroy:
            checked = [m for m in resolved if not targets or m.address in plan.targets]
            by_id = {r.id: r for r in remote}
            # A number held by an assistant this plan deletes is free by the time creates run (deletes go first).
            released = {by_id[c.remote_id].fields.get("phone_number_id") for c in plan.changes
                        if c.action is Action.DELETE and c.kind == DEFAULT_KIND and c.remote_id in by_id} - {None}
            problems = check_references(checked, self._catalog, self._held_numbers(resolved, remote), released)
            if problems:
                raise PlanError(problems)
        if self.settings.inputs is not None:
            plan.inputs = self.settings.inputs.to_dict()
        plan.workspace, plan.project = getattr(self.backend, "workspace", None), getattr(self.backend, "project", None)
        by_address = {m.address: m for m in manifests}
        for change in plan.changes:
            manifest = by_address.get(change.address)
            if manifest is not None and change.body:
                change.field_locations = {name: str(manifest.location("spec", name)) for name in manifest.fields}
        return plan, {r.id for r in remote}

    def _foreign_owners(self, manifests: list[Manifest], remote: list[RemoteAssistant]) -> dict[int, Owner]:
        """The platform ids a manifest could adopt by name that another workspace or project of the store
        manages (one query, for just those ids)."""
        names = {m.spec.assistant_name for m in manifests}
        claimed = {entry.id for entry in self.state.resources.values()}
        candidates = [r.id for r in remote if r.name in names and r.id not in claimed]
        owners = getattr(self.backend, "owners", None)
        return owners(DEFAULT_KIND, candidates) if candidates and owners is not None else {}

    def _foreign_objects(self, manifests: list[Manifest], objects: dict) -> dict[tuple[str, int], Owner]:
        """As _foreign_owners, for the other kinds: (kind, id) -> its owner elsewhere in the store."""
        owners = getattr(self.backend, "owners", None)
        if owners is None:
            return {}
        found: dict[tuple[str, int], Owner] = {}
        for kind, listed in objects.items():
            claimed = {e.id for a, e in self.state.resources.items() if a.split(".", 1)[0] == kind and "." in a}
            names = {m.platform_name for m in manifests if m.kind == kind}
            candidates = [o.id for o in listed if o.name in names and o.id not in claimed]
            if candidates:
                found.update({(kind, i): owner for i, owner in owners(kind, candidates).items()})
        return found

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
              on_start=None, interrupt: threading.Event | None = None) -> ApplyReport:
        refuse_graph_changes(plan)
        lookups = self._catalog.lookups if self._catalog else Lookups()
        return apply_plan(plan, self.client, StateRecorder(self.backend, self.state), known_ids=known_ids,
                          parallelism=self.settings.parallelism, on_result=on_result, on_start=on_start,
                          lookups=lookups, interrupt=interrupt)

    def check_saved_plan(self, plan: Plan) -> set[int]:
        """Refuse a plan that no longer fits the state or the platform; fill in its secrets; the known ids."""
        # A plan made before any state existed carries a lineage nobody saved; the serial still guards it.
        if plan.lineage != self.state.lineage and (plan.serial or self.state.serial):
            raise StalePlanError(f"the saved plan was made for another state (lineage {plan.lineage}, this state "
                                 f"is {self.state.lineage}); make a new plan")
        if plan.serial != self.state.serial:
            raise StalePlanError(f"the state changed since the plan was made (serial {plan.serial} -> "
                                 f"{self.state.serial}); make a new plan")
        conflicts = conflicts_with_state(plan, self.state)  # a tampered plan: refused before any request
        if conflicts:
            raise StalePlanError("the saved plan does not fit the state it would change:\n  "
                                 + "\n  ".join(conflicts) + "\nNothing was applied. Make a new plan.")
        kinds = tuple(sorted({c.kind for c in plan.changes} - {DEFAULT_KIND}))
        remote = {r.id: r for r in self.remote(engines=tuple(c.engine_type for c in plan.changes if c.engine_type),
                                               kinds=kinds)}
        # Ids are per kind: each change is checked against its own kind's list and state entries.
        lists = {DEFAULT_KIND: remote, **{k: {o.id: o for o in objects} for k, objects in self.objects.items()}}
        claimed: dict[str, set[int]] = {}
        for address, entry in self.state.resources.items():
            claimed.setdefault(address.split(".", 1)[0] if "." in address else DEFAULT_KIND, set()).add(entry.id)
        stale = []
        for change in plan.changes:
            objects = lists.get(change.kind, {})
            live = objects.get(change.remote_id) if change.remote_id is not None else None
            if change.action is Action.CREATE and not change.replace:
                if any(r.name == change.assistant_name and r.id not in claimed.get(change.kind, set())
                       for r in objects.values()):
                    article = "an" if change.kind[:1] in "aeiou" else "a"
                    stale.append(f"{change.address}: {article} {change.kind} named {change.assistant_name!r} appeared on "
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
        _restore_secrets(plan, self.settings)
        return set(remote)


def refuse_graph_changes(plan: Plan) -> None:
    """Until the graph walker applies them, a plan with other kinds, or with ids known only after apply, is
    refused before any request (the assistant apply would send them as they are)."""
    from .plan_kinds import markers_in

    waiting = [c.address for c in plan.changes if c.kind != DEFAULT_KIND or markers_in(c.body)]
    if waiting:
        raise ProvisionerError(f"this version plans but does not yet apply folders, labels and references to "
                               f"objects created in the same apply ({', '.join(waiting[:5])}); nothing was applied")


def left_alone(state: State, manifests: list[Manifest], paths: list[str]) -> dict[str, str]:
    """address -> source file, for the state entries without a manifest in this run whose manifest file still
    exists but is not under any path given: a narrower path list plans a part, it does not remove the rest.
    (A file that was given but no longer holds the document, or that is gone, is a real removal.)"""
    loaded = {m.address for m in manifests}
    given = [Path(p).resolve() for p in paths]
    kept = {}
    for address, entry in state.resources.items():
        if address in loaded or not entry.source:
            continue
        source = Path(entry.source)
        if not source.is_file():
            continue
        resolved = source.resolve()
        if not any(resolved == g or g in resolved.parents for g in given):
            kept[address] = entry.source
    return kept


def refuse_mass_destroy(plan: Plan, allowed: bool) -> None:
    """apply's guard: a plan that destroys most of the state needs --allow-mass-destroy (or a plan made with it)."""
    if plan.mass_destroy and not (allowed or plan.allow_mass_destroy):
        raise ProvisionerError(
            f"this plan destroys {plan.counts['destroy']} of the {plan.managed_count} assistants in state "
            f"(more than {MASS_DESTROY_SHARE:.0%}, and at least {MASS_DESTROY_MIN}); nothing was changed. That is "
            "more often a wrong path or a broken checkout than a wish: check the paths, use --target to change a "
            "part, or pass --allow-mass-destroy if you mean it (`provisioner destroy` destroys everything)")


def check_plan_workspace(plan: Plan, settings: Settings) -> None:
    """A saved plan is applied in the workspace it was made for (its state, its variables, its overlays)."""
    current = settings.inputs
    if plan.inputs and current is not None and plan.inputs.get("workspace") != current.workspace:
        raise StalePlanError(f"the saved plan was made for workspace {plan.inputs.get('workspace')!r}, not "
                             f"{current.workspace!r}; pass --workspace {plan.inputs.get('workspace')}")


def _restore_secrets(plan: Plan, settings: Settings) -> None:
    """Put the manifests' sensitive values back where the plan file holds their digests."""
    check_plan_workspace(plan, settings)
    current = settings.inputs
    needed = [c for c in plan.changes if any(is_digest(c.body.get(name)) for name in c.sensitive)]
    if not needed:
        return
    # The same workspace, variable sources and overlays as the plan; ${env.X} values from this run's environment.
    environ = current.environ if current is not None else {}
    inputs = ManifestInputs.from_dict(plan.inputs, environ) if plan.inputs else None
    manifests = {m.address: m for m in validate(plan.manifest_paths, plan.dialect, inputs, settings.manifest_limits)}
    for change in needed:
        manifest = manifests.get(change.address)
        for name in change.sensitive:
            if not is_digest(change.body.get(name)):
                continue
            current = _desired(manifest, plan.dialect).get(name) if manifest else None
            if current is None or digest(current) != change.body[name]:
                raise StalePlanError(f"{change.address}: the sensitive value of spec.{name} in the manifests "
                                     "differs from the one planned; make a new plan")
            change.body[name] = current


def _desired(manifest: Manifest, dialect: str) -> dict[str, Any]:
    """The fields a manifest manages (its defaults included), whatever its kind."""
    if manifest.kind == DEFAULT_KIND:
        return desired_fields(manifest.fields, dialect)
    from .kinds import KINDS
    from .plan_kinds import desired

    return desired(KINDS[manifest.kind], manifest.fields)


MAX_PLAN_FILE_BYTES = 128 * 1024 * 1024  # about 6 KB per new assistant: room for 20,000


def read_plan_file(path: str, max_bytes: int = MAX_PLAN_FILE_BYTES) -> Plan:
    """A saved plan, its whole structure checked (Plan.from_dict) before anything uses it."""
    try:
        with _open_regular(path, f"plan file {path}") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise ProvisionerError(f"cannot read plan file {path}: {error.strerror}") from None
    if not data.strip():
        raise ProvisionerError(f"plan file {path} is empty: not a saved plan (write one with "
                               "`provisioner plan --out FILE`)")
    if len(data) > max_bytes:
        raise ProvisionerError(f"plan file {path} is larger than {max_bytes // 1024 // 1024} MiB; it is not a "
                               "plan this provisioner wrote")
    try:
        content = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProvisionerError(f"plan file {path} is not UTF-8 text") from None
    except ValueError as error:  # JSONDecodeError, or an integer beyond Python's digit limit
        raise ProvisionerError(f"plan file {path} is not valid JSON: {str(error)[:200]}") from None
    except RecursionError:
        raise ProvisionerError(f"plan file {path} is nested too deeply to be a saved plan") from None
    return Plan.from_dict(content, source=f"plan file {path}")


def write_plan_file(plan: Plan, path: str) -> None:
    atomic_write(Path(path), (json.dumps(plan.to_dict(), indent=2) + "\n").encode())


PLAN_SUFFIXES = (".plan", ".tfplan")


def is_plan_file(path: str) -> bool:
    """Whether `apply PATH` names a saved plan: a file (not YAML by its suffix) named *.plan, or with "format":
    "provisioner-plan..." near its start, or that cannot be a manifest (empty, binary, or a JSON object without
    an apiVersion): a damaged plan still counts, so the plan reader explains it as a plan-file error."""
    candidate = Path(path)
    suffix = candidate.suffix.lower()
    if not candidate.is_file() or suffix in (".yaml", ".yml"):
        return False
    if suffix in PLAN_SUFFIXES:
        return True
    try:
        with open(candidate, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    if re.search(rb'"format"\s*:\s*"provisioner-plan', head):
        return True
    if b"apiVersion" in head:
        return False
    stripped = head.lstrip()
    return not stripped or b"\0" in head or stripped.startswith(b"{") or not _text(head)


def _text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut by the 4096-byte read is still text
    return True


# --- import, refresh, export, state edits ---

def import_assistant(session: Session, manifests: list[Manifest], address: str, remote_id: int) -> RemoteAssistant:
    by_address = {m.address: m for m in manifests}
    if address not in by_address:
        raise ProvisionerError(f"no manifest has metadata.name {address!r}; write the manifest first, so the "
                               "next plan does not destroy what you import")
    if address in session.state.resources:
        raise StateError(f"{address!r} is already in state (id {session.state.resources[address].id}); "
                         f"use `provisioner state rm {address}` first to replace it")
    # Ids are per kind: only an assistant's entry can hold this one.
    owner = next((a for a, e in session.state.resources.items() if e.id == remote_id and "." not in a), None)
    if owner:
        raise StateError(f"id {remote_id} is already managed as {owner!r}")
    live = next((r for r in session.remote() if r.id == remote_id), None)
    if live is None:
        raise ProvisionerError(f"the platform has no assistant with id {remote_id} for this token")
    # After reading the platform: ownership is per platform (the store learns which one on connecting).
    elsewhere = getattr(session.backend, "owners", lambda kind, ids: {})(DEFAULT_KIND, [remote_id]).get(remote_id)
    if elsewhere is not None:
        raise StateError(
            f"id {remote_id} is already managed as {elsewhere.describe()} of this state store; one object has one "
            f"owner, and nothing was imported. To move it here, first run `provisioner state rm {elsewhere.address} "
            f"--workspace {elsewhere.workspace}` (with that project's settings), then this import again")
    manifest = by_address[address]
    session.state.resources[address] = ResourceState(
        id=remote_id, spec=None, protect=manifest.protect, sensitive=sorted(manifest.sensitive),
        remote=remote_snapshot(live.fields, manifest.sensitive), source=manifest.document.file)
    session.backend.write(session.state)
    return live


@dataclass
class RefreshResult:
    """What `refresh` did: a line per assistant whose record changed, and the counts the summary gives."""

    lines: list[str] = field(default_factory=list)
    checked: int = 0
    updated: int = 0
    removed: int = 0

    def summary(self) -> str:
        unchanged = self.checked - self.updated - self.removed
        return (f"Refreshed {self.checked} assistant(s) in state: {self.updated} updated from the platform, "
                f"{self.removed} removed (gone from the platform), {unchanged} unchanged.")


def refresh(session: Session) -> RefreshResult:
    """Update state's view of the platform; forget what is gone. Nothing remote changes."""
    remote = {r.id: r for r in session.remote()}
    result = RefreshResult(checked=len(session.state.resources))
    for address in sorted(session.state.resources):
        entry = session.state.resources[address]
        live = remote.get(entry.id)
        if live is None:
            del session.state.resources[address]
            result.removed += 1
            result.lines.append(f"{address}: id {entry.id} is gone from the platform; removed from state")
            continue
        snapshot = remote_snapshot(live.fields, entry.sensitive)
        if snapshot != entry.remote:
            changed = sorted(k for k in snapshot if k in entry.remote and not same(snapshot[k], entry.remote[k]))
            entry.remote = snapshot
            result.updated += 1
            detail = f"; changed there: {', '.join(changed)}" if changed else ""
            result.lines.append(f"{address}: refreshed from the platform (id {entry.id}{detail})")
    session.backend.write(session.state)
    return result


def holder_alive_here(holder) -> bool:
    """Whether a lock's holder is a process still running on this machine (force-unlock warns about it)."""
    import socket

    from .state.sql import process_alive

    return holder.host == socket.gethostname() and holder.pid > 0 and holder.pid != os.getpid() \
        and process_alive(holder.pid)


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


def state_move(session: Session, old: str, new: str) -> None:
    resources = session.state.resources
    if old not in resources:
        raise StateError(f"{old!r} is not in state")
    if new in resources:
        raise StateError(f"{new!r} is already in state")
    if not ADDRESS_PATTERN.fullmatch(new):
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


def manifests_or_empty(paths: list[str], dialect: str = DEFAULT_DIALECT,
                       inputs: ManifestInputs | None = None, limits: Limits = DEFAULT_LIMITS) -> list[Manifest]:
    """Manifests for commands that can run without any (destroy): missing paths mean none."""
    existing = [p for p in paths if Path(p).exists() or Path(p).is_symlink()]
    return validate(existing, dialect, inputs, limits) if existing else []


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


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
    """Create `name`, under the rule plan follows: in a repository whose vars/ or overlays/ name workspaces,
    only one of those (a typo such as prdo for prod never makes a stray state that every plan then refuses)."""
    if settings.inputs is not None:
        from .overlays import unknown_workspace

        unknown = unknown_workspace(Path(settings.inputs.root), name)
        if unknown:
            raise ConfigError([unknown])
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
