"""Settings: one run's resolved configuration plus its own flags, and the state store they name."""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import RetryPolicy
from ..config import Config
from ..errors import StateError
from ..inputs import ManifestInputs
from ..kinds import with_campaign_create_path
from ..manifest import DEFAULT_LIMITS, Limits
from ..ratelimit import Window, parse_rate_limit
from ..scrub import scrub
from ..spec import DEFAULT_DIALECT
from ..state import NoStateStore
from ..state.sql import DEFAULT_STATE_PATH, open_store


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
    wait_timeout: float = 600.0   # --wait-timeout: the longest wait for an object to be processed (a document)
    allow_replace: bool = False   # --allow-replace: apply may replace objects whose replacement loses data
    verify: bool = True           # --no-verify turns off reading back what an apply changed (verify.py)
    read_documents: bool = False  # --read-documents: list every knowledge base's documents (reading.py)
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
        # The Campaign kind of this run creates through the configured path (kinds/campaign.campaign_kind).
        with_campaign_create_path(config.campaign_create_path)
        return cls(state_path=config.state_path, api_url=config.api_url, lock_timeout=config.lock_timeout,
                   parallelism=config.parallelism, wait_timeout=config.wait_timeout, retry=retry,
                   api_dialect=config.api_dialect,
                   rate_limit=rate_limit, backend=config.backend, workspace=config.workspace, inputs=config.inputs,
                   project=config.project, config=config, **run)


def warn(message: str) -> None:
    print(scrub(f"Warning: {message}"), file=sys.stderr)


def declared_by_repository(settings: Settings, workspace: str | None = None) -> bool:
    """A workspace the repository itself defines (vars/<workspace>.yaml or .yml, or overlays/<workspace>/) is
    created on first use; any other must be created with `workspace new`, so a typo never starts an empty state.
    `workspace`: the one to ask about, else the settings' own."""
    from ..overlays import known_workspaces

    name, inputs = workspace or settings.workspace, settings.inputs
    if not name or inputs is None:
        return False
    return name in known_workspaces(Path(inputs.root))


def open_backend(settings: Settings, *, workspace: str | None = None, must_exist: bool = True, create: bool = True):
    """The state store the settings name (backend, database, project, workspace); without `create`, NoStateStore
    where there is none (sql.open_store)."""
    if settings.state_path.endswith(".json"):
        raise StateError(f"--state is the SQLite state database (default {DEFAULT_STATE_PATH}), not a JSON file: "
                         f"a JSON state file in its folder named WORKSPACE.json is migrated on first use, and "
                         f"`provisioner state push {settings.state_path}` loads any other")
    store = open_store(settings.backend, settings.state_path, workspace=workspace or settings.workspace,
                       project=settings.project, must_exist=must_exist, lock_timeout=settings.lock_timeout,
                       init_store=settings.init_store, create=create)
    if settings.backend == "postgres" and not settings.project:
        _warn_folder_project(store.project)
    return store


def note_no_store(settings: Settings, missing: NoStateStore) -> None:
    """A run that goes on from an empty state where no store is (it makes none): said when the location was chosen
    (a --state path other than the default, a PostgreSQL database), where a mistyped one reads as "nothing managed
    yet". A new project's default state/provisioner.db has no store before its first apply: nothing to say."""
    if settings.backend == "sqlite" and settings.state_path == DEFAULT_STATE_PATH:
        return
    warn(f"there is no state store at {missing.where} yet: this run reads an empty state (nothing managed) and "
         "creates none there; `provisioner apply` makes it. Check the state's location if you expected one")


@functools.lru_cache(maxsize=None)
def _warn_folder_project(project: str) -> None:
    """Once per run: a shared store keyed by a folder's name splits the state of clones in other folders."""
    warn(f"the state's project is {project!r}, the name of this folder, since neither provisioner.yaml "
         "(`project:`) nor PROVISIONER_PROJECT names one: a clone in a folder of another name would not find "
         "this state in the shared database. Set `project:` in provisioner.yaml.")
