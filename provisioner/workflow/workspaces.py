"""Workspaces: list, create, select and delete the separate states of one project."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import ConfigError
from ..errors import StateError
from ..overlays import unknown_workspace
from ..state import NoStateStore, locked
from ..state.sql import DEFAULT_WORKSPACE, check_workspace_name, remember_workspace, selected_workspace
from .settings import Settings, declared_by_repository, note_no_store, open_backend


WORKSPACE_ENV = "PROVISIONER_WORKSPACE"


def current_workspace(settings: Settings) -> str:
    """--workspace / $PROVISIONER_WORKSPACE, else the one remembered by `workspace select`, else default."""
    name = settings.workspace or os.environ.get(WORKSPACE_ENV, "").strip()
    return check_workspace_name(name) if name else selected_workspace(Path(settings.state_path).parent)


def list_workspaces(settings: Settings) -> list[str]:
    try:
        store = open_backend(settings, workspace="default", create=False)
    except NoStateStore as missing:  # listed as an empty store lists them, and none is made for it
        note_no_store(settings, missing)
        return [DEFAULT_WORKSPACE]
    try:
        return store.workspaces()
    finally:
        store.close()


def new_workspace(settings: Settings, name: str, exist_ok: bool = False) -> bool:
    """Create `name`, under the rule plan follows: in a repository whose vars/ or overlays/ name workspaces,
    only one of those (a typo such as prdo for prod never makes a stray state that every plan then refuses).
    False when it existed (refused unless `exist_ok`)."""
    check_workspace_name(name)  # an empty name would be read as the current workspace (open_backend)
    _refuse_unknown(settings, name)
    store = open_backend(settings, workspace=name, must_exist=False)
    try:
        return store.create(exist_ok=exist_ok)
    finally:
        store.close()


def _refuse_unknown(settings: Settings, name: str) -> None:
    """A workspace the repository's vars/ or overlays/ do not name, when they name some: with its "did you mean"."""
    if settings.inputs is not None:
        unknown = unknown_workspace(Path(settings.inputs.root), name)
        if unknown:
            raise ConfigError([unknown])


def select_workspace(settings: Settings, name: str, or_create: bool = False) -> bool:
    """Remember `name` as the workspace every command uses. One the repository defines is created here, as on
    any first use (docs/configuration.md); any other only with `or_create`. True when it was created."""
    check_workspace_name(name)
    # A typo gets its suggestion, not "create it with workspace new"; one the store holds too: every command would
    # refuse it once selected (docs/configuration.md, "A mistyped workspace is refused").
    _refuse_unknown(settings, name)
    created = False
    if name not in list_workspaces(settings) and (or_create or declared_by_repository(settings, name)):
        # Created unless it exists, in one statement: parallel jobs creating one workspace all succeed.
        created = new_workspace(settings, name, exist_ok=True)
    _refuse_missing(settings, name)
    remember_workspace(Path(settings.state_path).parent, name)
    return created


def _refuse_missing(settings: Settings, name: str) -> None:
    """Refuse selecting a workspace that does not exist, making no store to look (a refused `workspace select foo`
    at a mistyped --state left an empty store behind, and `workspace select default` made one too, though neither
    records anything in it). The default workspace needs no store: every command starts it from an empty state."""
    try:
        open_backend(settings, workspace=name, create=False).close()  # refuses another that does not exist
    except NoStateStore:
        pass  # only the default's: another's is refused as not existing, store or none (sql.open_store)


def delete_workspace(settings: Settings, name: str, *, force: bool = False) -> int:
    """Drop a workspace's state; refuses default, the current one, and (without force) one that manages assistants."""
    # First: open_backend reads an empty name as the current workspace, which the checks below refuse by name.
    check_workspace_name(name)
    if name == "default":
        raise StateError("the default workspace cannot be deleted")
    if name == current_workspace(settings):
        raise StateError(f"{name!r} is the current workspace; select another first "
                         "(provisioner workspace select default)")
    store = open_backend(settings, workspace=name, create=False)  # refuses one that does not exist, makes no store
    if not store.exists():
        store.close()
        raise StateError(f"workspace {name!r} does not exist")
    store.operation = "workspace delete"
    try:
        with locked(store, "workspace delete", timeout=settings.lock_timeout):
            return store.drop(force=force)
    finally:
        store.close()
