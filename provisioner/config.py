"""The project configuration: `provisioner.yaml`, the environment and the flags, resolved once into a `Config`.

Precedence, highest first: command-line flags, `PROVISIONER_*` environment variables, the file, built-in
defaults. Every file key is the flag's name with `_` for `-` (`--retry-max-time` -> `retry_max_time`), and
its environment variable is `PROVISIONER_` + the key in capitals. Secrets never go in the file: it lives in
git. The stages receive the resulting `Config` (through `workflow.settings.Settings`); none reads the environment.
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from . import ratelimit
from .errors import Location, ProblemsError, Problem
from .inputs import DEFAULT_WORKSPACE, ManifestInputs
from .manifest import load_documents
from .patterns import LazyPattern
from .ratelimit import describe
from .spec import did_you_mean

CONFIG_FILE = "provisioner.yaml"
CONFIG_ENV = "PROVISIONER_CONFIG"
ENV_PREFIX = "PROVISIONER_"
DEFAULT_MANIFESTS = ("manifests",)
WORKSPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"  # as the state store names them (state/sql.py)
# Keys that would put a secret in a file committed to git.
SECRET_KEY = LazyPattern(r"token|secret|password|passwd|dsn|api_?key|credential|private", re.I)
_DURATION = LazyPattern(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")


class ConfigError(ProblemsError):
    summary = "configuration errors"


def parse_duration(value: Any) -> float:
    """30, '30', '30s', '500ms', '2m', '1h' -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 30s, 2m or 1h")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative (got {value})")
        return float(value)
    match = _DURATION.fullmatch(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30s, 2m or 1h")
    seconds = float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    # Hundreds of digits read as infinity, which no wait takes (the lock's SQLite busy timeout is whole ms).
    if not math.isfinite(seconds):
        raise ValueError(f"{_clip(value)} is too long a duration")
    return seconds


def _clip(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


def parse_rate_limit(value: Any) -> str:
    """'100/60s,20/10s' (at most 100 requests a minute and 20 in any 10 seconds), 'documented' or 'off';
    normalised to the windows ('off' for none). The client's ratelimit module reads the result."""
    if value is False:
        return "off"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{value!r} is not a rate limit like '100/60s,20/10s' (requests/window, ...) or 'off'")
    try:
        return describe(ratelimit.parse_rate_limit(str(value)))
    except ValueError as error:
        raise ValueError(f"{error}") from None


def _url(value: Any) -> Any:
    from urllib.parse import urlparse

    if isinstance(value, str):
        # What the connection refuses too (workflow/connection.py), said here with the setting's file and line.
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError("must be a URL without whitespace or control characters")
        parsed = urlparse(value)
        try:
            parsed.port  # noqa: B018 -- raises ValueError for a port that is not a number from 0 to 65535
        except ValueError:
            raise ValueError("has a port that is not a number from 0 to 65535") from None
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http:// or https:// URL")
        if parsed.username or parsed.password:
            raise ValueError("must not carry credentials (user:password@); give the token with "
                             "PROVISIONER_API_TOKEN or --token-file")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
# A wait that must be some time: a request timeout of 0 would fail every request as a connection that never opened.
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


def _a_count(value: Any) -> Any:
    """A count (parallelism, retries) is a number: `true` is not 1."""
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {str(value).lower()}")
    return value


Count = Annotated[int, BeforeValidator(_a_count)]
RateLimit = Annotated[str, BeforeValidator(parse_rate_limit)]


def _campaign_create_path(value: Any) -> str:
    from .kinds.campaign import check_create_path

    return check_create_path(value)


CampaignCreatePath = Annotated[str, BeforeValidator(_campaign_create_path)]


def _a_path(value: Any) -> Any:
    """No file system takes a NUL in a path: os.stat and open fail with a ValueError, not an OSError."""
    if isinstance(value, str) and "\0" in value:
        raise ValueError("a path cannot hold a NUL character (\\0)")
    return value


FilePath = Annotated[str, Field(min_length=1), BeforeValidator(_a_path)]


def _project_name(value: Any) -> Any:
    """The state store's rule for a project (one line, no control characters), said with the setting's place."""
    if isinstance(value, str) and value:  # an empty one: "must not be empty"
        from .state.sql import PROJECT_NAME

        if not PROJECT_NAME.fullmatch(value) or not value.strip():
            raise ValueError("not a valid project name (one line of text, not blank, without control characters)")
    return value


ProjectName = Annotated[str, Field(min_length=1, max_length=100), BeforeValidator(_project_name)]
Url = Annotated[str, BeforeValidator(_url)]


class ConfigValues(BaseModel):
    """Every configurable key; one instance per layer (file, environment, flags), holding only what it sets."""

    model_config = ConfigDict(extra="forbid")

    project: ProjectName | None = None
    api_url: Url | None = None
    api_dialect: Literal["v1", "v2"] | None = None
    backend: Literal["sqlite", "postgres"] | None = None
    workspace: Annotated[str, Field(pattern=WORKSPACE_PATTERN)] | None = None
    state: FilePath | None = None
    rate_limit: RateLimit | None = None
    max_retries: Annotated[Count, Field(ge=1, le=100)] | None = None
    retry_max_time: Duration | None = None
    retry_backoff: Duration | None = None
    request_timeout: PositiveDuration | None = None
    lock_timeout: Duration | None = None
    parallelism: Annotated[Count, Field(ge=1, le=256)] | None = None
    wait_timeout: Duration | None = None
    # POST path of a campaign's create: /user/campaigns (the default) or /user/campaign (some white-labels)
    campaign_create_path: CampaignCreatePath | None = None
    manifests: list[FilePath] | None = None
    # Folders (or files) of policy documents (docs/policies.md); default policies/ beside this file.
    policies: list[FilePath] | None = None


KEYS: tuple[str, ...] = tuple(ConfigValues.model_fields)
# Environment variables: one per key, except the manifests (the command's PATHS, or the file's list).
ENV_KEYS: dict[str, str] = {ENV_PREFIX + key.upper(): key for key in KEYS if key not in ("manifests", "policies")}


@dataclass(frozen=True)
class Config:
    """The resolved configuration of one run."""

    project: str | None = None
    api_url: str | None = None
    api_dialect: str = "v1"
    backend: str = "sqlite"
    workspace: str = DEFAULT_WORKSPACE
    state_path: str = "state/provisioner.db"
    rate_limit: str | None = None          # None: not configured (the client's own default)
    max_retries: int = 10
    retry_max_time: float = 120.0
    retry_backoff: float = 0.5
    request_timeout: float = 30.0
    lock_timeout: float = 0.0
    parallelism: int = 10
    wait_timeout: float = 600.0  # how long apply waits for an object the platform processes (a document)
    campaign_create_path: str = "/user/campaigns"
    manifests: tuple[str, ...] = DEFAULT_MANIFESTS
    policies: tuple[str, ...] = ()   # empty: policies/ beside the configuration file (workflow/policies.py)
    config_file: str | None = None
    # Where each value came from: "--flag", "PROVISIONER_X" or "provisioner.yaml:3" (absent: the default).
    origins: dict[str, str] = field(default_factory=dict, compare=False)
    inputs: ManifestInputs = field(default_factory=ManifestInputs)

    def manifest_paths(self, given: tuple[str, ...] | list[str] = ()) -> list[str]:
        """Paths from the command line, else the file's `manifests`, else manifests/."""
        return list(given or self.manifests)


def find_config_file(given: str | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """--config FILE, else $PROVISIONER_CONFIG, else provisioner.yaml in the current folder if there is one."""
    chosen = given or environ.get(CONFIG_ENV) or None
    if chosen:
        path = cwd / chosen
        if not path.is_file():
            source = "--config" if given else CONFIG_ENV
            raise ConfigError([Problem(f"{source} {chosen}: no such file")])
        return Path(chosen)
    return Path(CONFIG_FILE) if (cwd / CONFIG_FILE).is_file() else None


def resolve_config(flags: Mapping[str, Any] | None = None, *, config_file: str | None = None,
                   var_files: tuple[str, ...] = (), vars: tuple[str, ...] = (),
                   environ: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None) -> Config:
    """The one place where flags, environment, file and defaults meet. `flags` holds only the options given
    on the command line, by key (see KEYS)."""
    environ = dict(os.environ if environ is None else environ)
    here = Path(cwd or ".")
    problems: list[Problem] = []
    file = find_config_file(config_file, environ, here)
    layers: list[tuple[dict[str, Any], dict[str, str]]] = []  # (values, origin per key), lowest first
    root = "."
    if file is not None:
        root = os.path.dirname(str(file)) or "."
        layers.append(_file_layer(here / file, str(file), root, problems))
    layers.append(_env_layer(environ, problems))
    layers.append(_flag_layer(dict(flags or {}), problems))
    if problems:
        raise ConfigError(problems)

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer_values, layer_origins in layers:
        values.update(layer_values)
        origins.update(layer_origins)
    if "state" not in values:
        values["state"] = default_state_path(root)
    if "workspace" not in values:
        # The one remembered by `provisioner workspace select`, beside the state; else default.
        from .state.sql import selected_workspace

        values["workspace"] = selected_workspace(Path(os.path.dirname(values["state"]) or "."))
    workspace = values["workspace"]
    if "manifests" not in values and root != ".":
        values["manifests"] = [os.path.join(root, p) for p in DEFAULT_MANIFESTS]
    resolved = {"state_path": values.pop("state"), **values}
    for key in ("manifests", "policies"):
        if key in resolved:
            resolved[key] = tuple(resolved[key])
    origins = {("state_path" if k == "state" else k): v for k, v in origins.items()}
    inputs = ManifestInputs(workspace=workspace, root=root, var_files=tuple(var_files), vars=tuple(vars),
                            config_file=str(file) if file else None,
                            manifest_paths=resolved.get("manifests", DEFAULT_MANIFESTS), environ=environ)
    return Config(**resolved, config_file=str(file) if file else None, origins=origins, inputs=inputs)


def default_state_path(root: str) -> str:
    """The state store beside the project: one SQLite database holds every workspace's state."""
    return os.path.normpath(os.path.join(root, "state", "provisioner.db"))


def _file_layer(path: Path, shown: str, root: str, problems: list[Problem]) -> tuple[dict, dict]:
    first = len(problems)
    documents, read_problems = load_documents([path])
    problems += read_problems
    if read_problems:
        return {}, {}
    if not documents:  # empty, or only comments
        return {}, {}
    if len(documents) != 1 or not isinstance(documents[0].content, dict):
        where = documents[1].locate() if len(documents) > 1 else Location(shown, 1)
        problems.append(Problem(f"{shown} must be one YAML mapping of settings", where))
        return {}, {}
    document = documents[0]
    raw = dict(document.content)
    for key in list(raw):
        if not isinstance(key, str) or key in KEYS:
            continue
        if SECRET_KEY.search(key):
            del raw[key]
            problems.append(Problem(
                f"'{key}' looks like a secret, and {shown} is committed to git: secrets are never read from it. "
                "Give the API token with PROVISIONER_API_TOKEN or --token-file, and connection strings "
                "(DSNs) and other secrets through the environment", document.locate((key,)), key))
    validated, found = _validate(raw, lambda path: document.locate(path))
    problems += found
    problems[first:] = sorted(problems[first:], key=lambda p: p.location.line if p.location else 0)
    if root != ".":  # paths in the file are relative to the file's folder
        if "state" in validated:
            validated["state"] = os.path.normpath(os.path.join(root, validated["state"]))
        for key in ("manifests", "policies"):
            if key in validated:
                validated[key] = [os.path.normpath(os.path.join(root, p)) for p in validated[key]]
    return validated, {k: str(document.locate((k,))) for k in validated}


def _env_layer(environ: Mapping[str, str], problems: list[Problem]) -> tuple[dict, dict]:
    raw = {key: environ[name] for name, key in ENV_KEYS.items() if environ.get(name, "").strip()}
    names = {key: name for name, key in ENV_KEYS.items()}
    validated, found = _validate(raw, None, lambda key: names[key])
    problems += found
    return validated, {k: names[k] for k in validated}


def _flag_layer(flags: dict[str, Any], problems: list[Problem]) -> tuple[dict, dict]:
    raw = {k: v for k, v in flags.items() if v is not None}
    shown = {k: "--" + k.replace("_", "-") for k in raw}
    validated, found = _validate(raw, None, lambda key: shown.get(key, key))
    problems += found
    return validated, dict(shown)


def _validate(raw: dict, locate=None, name_of=None) -> tuple[dict, list[Problem]]:
    try:
        model = ConfigValues.model_validate(raw)
    except ValidationError as error:
        problems = []
        for e in error.errors(include_url=False):
            path = tuple(e["loc"])
            key = path[0] if path else None
            message = _message(e, key, raw.get(key))
            if locate is not None:
                problems.append(Problem(message, locate(path), ".".join(map(str, path))))
            else:
                problems.append(Problem(f"{name_of(key) if name_of else key}: {message}"))
        return {}, problems
    return {k: getattr(model, k) for k in model.model_fields_set}, []


def _message(error: dict, key: Any, value: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    got = f" (got {value!r})" if not isinstance(value, (dict, list)) else ""
    if kind == "extra_forbidden":
        return f"unknown key '{key}'{did_you_mean(str(key), KEYS)}"
    if kind == "string_pattern_mismatch" and key == "workspace":
        return f"must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit{got}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        return f"must be at {'least' if kind == 'greater_than_equal' else 'most'} {bound}{got}"
    if kind.startswith("int_"):
        return f"must be an integer{got}"
    if kind in ("string_type", "list_type"):
        return f"must be a {'string' if kind == 'string_type' else 'list'}{got}"
    if kind == "string_too_short":
        return "must not be empty"
    return f"{error['msg']}{got}"
