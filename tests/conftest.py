"""Shared fixtures: a real emulator on loopback HTTP, and the real CLI run against it."""
from __future__ import annotations

import gc
import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from provisioner.cli import cli
from provisioner.emulator import EmbeddedPlatform, build_platform

TOKEN = "local-dev-token"
OTHER_TOKEN = "second-tenant-token"

REQUIRED = {
    "voice_id": 1,
    "language": "English",
    "llm_model": "gpt-4o",
    "calls_direction": "make",
    "engine_type": "pipeline",
    "timezone": "America/New_York",
    "initial_message": "Hello!",
    "system_prompt": "Be helpful.",
}


def manifest_text(address: str, name: str | None = None, metadata_extra: str = "", **spec) -> str:
    """One manifest document; `spec` overrides or adds create fields (None removes one)."""
    fields = {"assistant_name": name or address.replace("-", " ").title(), **REQUIRED, **spec}
    import yaml

    body = yaml.safe_dump({k: v for k, v in fields.items() if v is not None}, sort_keys=False, allow_unicode=True)
    return (f"apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: {address}\n"
            + textwrap.indent(metadata_extra.strip("\n") + "\n", "  ") * bool(metadata_extra)
            + "spec:\n" + textwrap.indent(body, "  "))


GRAPH_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "graph"


def copy_graph_example(workspace) -> None:
    """The graph example (a manifest of every kind, its documents' files, its provisioner.yaml) into `workspace`,
    whose dialect becomes v2; the folder is made a repository's root (a document's file may be outside manifests/)."""
    import shutil

    shutil.copytree(GRAPH_EXAMPLE / "manifests", workspace.root / "manifests", dirs_exist_ok=True)
    shutil.copytree(GRAPH_EXAMPLE / "docs", workspace.root / "docs")
    shutil.copy(GRAPH_EXAMPLE / "provisioner.yaml", workspace.root / "provisioner.yaml")
    (workspace.root / ".git").mkdir()
    workspace.dialect = "v2"


@dataclass
class Platform:
    """The emulator as a test sees it: `http` speaks to the platform API (base URL with /api) as the default
    tenant; `admin` to the /_emulator endpoints at the root, with the admin token."""
    url: str            # the platform's base URL, http://127.0.0.1:PORT/api
    http: httpx.Client  # authenticated as the default tenant, base URL `url`
    admin: httpx.Client | None = None  # authenticated with the admin token, base URL the server's root
    root_url: str = ""

    def assistants(self) -> list[dict]:
        items, page = [], 1
        while True:
            body = self.http.get("/user/assistants/get", params={"per_page": 100, "page": page}).json()
            items += body["data"]
            if page >= body["last_page"]:
                return items
            page += 1

    def by_name(self, name: str) -> list[dict]:
        return [a for a in self.assistants() if a["name"] == name]

    def faults(self, **settings) -> None:
        self.admin.post("/_emulator/faults", json=settings).raise_for_status()

    def stats(self) -> dict:
        return self.admin.get("/_emulator/stats").json()

    def writes(self) -> list[dict]:
        return self.admin.get("/_emulator/requests").json()

    def concurrency(self) -> dict:
        return self.admin.get("/_emulator/concurrency").json()

    def reset(self) -> None:
        self.admin.post("/_emulator/reset").raise_for_status()

    def put(self, assistant_id: int, **fields) -> None:
        self.http.put(f"/user/assistant/{assistant_id}", json=fields).raise_for_status()

    def delete(self, assistant_id: int) -> None:
        self.http.delete(f"/user/assistant/{assistant_id}").raise_for_status()

    def create(self, **fields) -> dict:
        response = self.http.post("/user/assistant", json=fields)
        response.raise_for_status()
        return response.json()["data"]


@pytest.fixture(autouse=True)
def forget_pg_projects():
    """After each test, the shared PostgreSQL store forgets the test's projects (pg_support.forget_projects)."""
    yield
    from pg_support import forget_projects

    forget_projects()


@pytest.fixture(autouse=True)
def secrets_forgotten():
    """A run in this process registers the secrets it met (the token, ${env.X} values) for masking: forget them after
    each test, so that one test's secret never masks another's output."""
    yield
    from provisioner.scrub import forget_secrets

    forget_secrets()


@pytest.fixture(autouse=True)
def collector_as_found():
    """An apply run in this process freezes the heap out of collection (provisioner/heap.py): thaw it after each
    test, so the suite's garbage stays collectable."""
    yield
    gc.unfreeze()
    gc.enable()


@pytest.fixture(scope="session")
def emulator():
    """One emulator for the session, on a free loopback port (rate limits off, both dialects)."""
    with EmbeddedPlatform(build_platform()) as embedded:
        yield embedded


@pytest.fixture
def platform(emulator):
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http, \
            httpx.Client(base_url=emulator.root_url, headers={"Authorization": f"Bearer {emulator.admin_token}"},
                         timeout=30) as admin:
        admin.post("/_emulator/faults", json={"latency_ms": 0, "error_rate": 0, "rate_limit": "off",
                                              "commit_fail_rate": 0, "commit_429_rate": 0, "seed": None, "kinds": None,
                                              "methods": None, "drop_fields": {},
                                              "document_delay_ms": 300}).raise_for_status()
        admin.post("/_emulator/reset").raise_for_status()
        yield Platform(emulator.url, http, admin, emulator.root_url)


@dataclass
class Result:
    exit_code: int
    output: str   # stdout
    stderr: str

    @property
    def all(self) -> str:
        return self.output + self.stderr


class Workspace:
    """A project folder with manifests/ and state/, and the CLI pointed at the emulator."""

    def __init__(self, root: Path, platform: Platform, token: str = TOKEN):
        self.root = root
        self.platform = platform
        self.token = token
        self.dialect = "v1"
        (root / "manifests").mkdir()

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def add(self, address: str, name: str | None = None, metadata_extra: str = "", **spec) -> Path:
        return self.write(f"manifests/{address}.yaml", manifest_text(address, name, metadata_extra, **spec))

    def remove(self, address: str) -> None:
        (self.root / "manifests" / f"{address}.yaml").unlink()

    def run(self, *args: str, input: str | None = None, api: bool = True) -> Result:
        command, *rest = args
        argv = [command, *rest]
        if api and command in ("plan", "apply", "destroy", "import", "export", "refresh"):
            argv.insert(1 if command != "state" else 2, f"--api-url={self.platform.url}")
        runner = CliRunner()
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            result = runner.invoke(cli, argv, input=input, env={"PROVISIONER_API_TOKEN": self.token, "PROVISIONER_RATE_LIMIT": "off",
                                                          "PROVISIONER_API_DIALECT": self.dialect},
                                   catch_exceptions=False)
        finally:
            os.chdir(cwd)
        return Result(result.exit_code, result.stdout, result.stderr)

    @property
    def state_file(self) -> Path:
        """The SQLite state database (state/provisioner.db); read it with state(), remove it with lose_state()."""
        return self.root / "state" / "provisioner.db"

    def state(self) -> dict:
        """The state document, as `provisioner state pull` prints it."""
        result = self.run("state", "pull", "--lock=false")
        assert result.exit_code == 0, result.all
        return json.loads(result.output)

    def stored_state(self) -> dict | None:
        """state(), or None where no store was made yet (`state pull` refuses to print one: docs/state.md)."""
        result = self.run("state", "pull", "--lock=false")
        if result.exit_code == 1 and "there is no state at " in result.stderr:
            return None
        assert result.exit_code == 0, result.all
        return json.loads(result.output)

    def depose(self, address: str) -> dict:
        """Leave `address`'s object as an apply stopped mid-replacement leaves it: at `<address>~deposed` in state
        (state pull, edit, push). Returns its state entry."""
        document = self.state()
        entry = document["resources"].pop(address)
        document["resources"][f"{address}~deposed"] = entry
        document["serial"] += 1
        self.write("deposed.json", json.dumps(document))
        pushed = self.run("state", "push", "deposed.json")
        assert pushed.exit_code == 0, pushed.all
        return entry

    def lose_state(self) -> None:
        from provisioner.state.sql import sqlite_files

        for path in sqlite_files(self.state_file):
            path.unlink(missing_ok=True)


@pytest.fixture
def workspace(tmp_path, platform) -> Workspace:
    return Workspace(tmp_path, platform)


def _default_lookups():
    from importlib import resources

    import yaml

    from provisioner.wire import Lookups

    catalog = yaml.safe_load(resources.files("provisioner.emulator").joinpath("default_catalog.yaml").read_text())
    models: dict[str, list] = {}
    for model in catalog["models"]:
        models.setdefault(model["type"], []).append(model)
    return Lookups(catalog["languages"], models)


DEFAULT_LOOKUPS = _default_lookups()


def read_back(item: dict) -> dict:
    """A listed assistant in manifest values, as the provisioner reads it (the default catalogue's ids)."""
    from provisioner.wire import read_fields

    fields, problems = read_fields(item, DEFAULT_LOOKUPS)
    assert not problems, problems
    return fields


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, monkeypatch):
    """Runs a test once per state backend: SQLite, then PostgreSQL (PROVISIONER_* set for the CLI, with a
    project of the test's own)."""
    if request.param == "postgres":
        from pg_support import pg_dsn, unique_project

        monkeypatch.setenv("PROVISIONER_BACKEND", "postgres")
        monkeypatch.setenv("PROVISIONER_PG_DSN", pg_dsn())
        monkeypatch.setenv("PROVISIONER_PROJECT", unique_project(request.module.__name__.removeprefix("test_")))
    return request.param


@pytest.fixture(params=["v1", "v2"])
def dialect(request, workspace) -> str:
    """Runs a test once per API dialect: the workspace's CLI runs speak it (API.md: v1 and v2 name an assistant's
    fields differently, and knowledgebase_id, folder_id and label_ids exist only in v2)."""
    workspace.dialect = request.param
    return request.param


@pytest.fixture
def proxy(platform):
    """A RewritingProxy in front of the emulator (tests/rewriting_proxy.py; run commands through it with `through`)."""
    from rewriting_proxy import RewritingProxy

    with RewritingProxy(platform.url) as running:
        yield running

