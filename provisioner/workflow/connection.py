"""The connection to the platform: the URL and token checks, and a client (or the embedded platform for --local)."""
from __future__ import annotations

import contextlib
import ipaddress
import os
import stat
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from ..client import PlatformClient
from ..errors import ProvisionerError
from ..ratelimit import RateBudget, parse_rate_limit
from ..scrub import register_secret, register_url, scrub
from .files import open_regular
from .settings import Settings, warn


TOKEN_ENV = "PROVISIONER_API_TOKEN"
URL_ENV = "PROVISIONER_API_URL"
LOCAL_PLATFORM_DB = "local-platform.db"


MAX_TOKEN_FILE_BYTES = 16 * 1024


def read_token(settings: Settings) -> str:
    """The API token, from the environment or a file; never from the command line, never printed.

    Surrounding whitespace (a file's final newline) is dropped; anything else that cannot go in an HTTP
    header (whitespace inside, control or non-ASCII characters) is refused without showing the token.
    """
    if settings.token_file:
        source = f"--token-file {settings.token_file}"
        try:
            with open_regular(settings.token_file, source) as handle:
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


LOCAL_ROOT = "http://localhost"  # the embedded platform's name in its answers (its port changes every run)


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator[PlatformClient]:
    """A client for the configured platform; with --local, an embedded emulator persisted beside the state."""
    connections = max(1, settings.parallelism)  # --parallelism bounds every request in flight, reads too
    if settings.local:
        from ..emulator import EmbeddedPlatform, build_platform  # starlette and uvicorn: loaded only for --local

        # Its answers name one root whatever port it listens on this run (a saved plan compares them with the next).
        try:
            platform = build_platform(db=Path(settings.state_path).parent / LOCAL_PLATFORM_DB, public_root=LOCAL_ROOT)
        except ValueError as error:  # its database is not one it may use (not SQLite, another application's)
            raise ProvisionerError(f"--local: {error}") from None
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


def platform_identity(settings: Settings, client: PlatformClient) -> str:
    """The platform, for the state rows: its base URL without credentials or query ('local' for --local)."""
    if settings.local:
        return "local"
    parts = urlsplit(str(client.base_url))
    host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"[:500]
