"""The client's HTTP/1.1 exchanges over the standard library's http.client: a few lines of work per request.

Why not httpx here: on a slow, shared core httpx's request and response machinery (request model, auth and
redirect hooks, httpcore's pool and h11 state machine, the deadline wrapper around its network backend) cost
about 1.2 ms of CPU per request, four to five times what the request itself costs through http.client
(scripts/benchmark.py; README "Measured"), and that CPU is what bounds an apply of thousands of changes. The
platform needs little of it: JSON over HTTP/1.1 with keep-alive, no redirects, no cookies.

What this keeps from the httpx path, so that PlatformClient behaves the same either way:
- one deadline for the whole exchange, connect to last byte (every connect, send and receive gets the time
  left; a trickling answer is cut when it runs out), and the size cap, checked as the body arrives;
- a pooled connection is reused only if the server has not closed it meanwhile (looked at before each
  request, as httpcore does): a write is never sent down a dead connection and then called "unknown";
- gzip and deflate answers decoded (bounded by the cap), the trust store httpx uses (SSL_CERT_FILE,
  SSL_CERT_DIR, else certifi), JSON bodies encoded byte for byte as httpx encodes them.
Proxies (HTTP(S)_PROXY, ALL_PROXY) and multipart bodies are left to httpx: client.py uses it for them.
"""
from __future__ import annotations

import http.client
import io
import json
import os
import select
import socket
import ssl
import threading
import time
import zlib
from contextlib import contextmanager
from typing import Any, Iterator, Mapping
from urllib.parse import urlencode, urlsplit

READ_SIZE = 64 * 1024
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


class ConnectFailed(Exception):
    """No connection could be made (nothing was sent). `__cause__` is the socket's error."""


class Expired(Exception):
    """The exchange's deadline passed."""


class Broken(Exception):
    """The connection failed after the request began to go out (its outcome is unknown)."""


class TooLarge(Exception):
    """The answer (`status`) is larger than the cap: `declared` by its Content-Length, or found reading it."""

    def __init__(self, status: int, declared: int | None):
        super().__init__(status, declared)
        self.status = status
        self.declared = declared


@contextmanager
def _told_as_ours() -> Iterator[None]:
    """A socket or http.client failure as one of this module's: a timeout is Expired, anything else Broken."""
    try:
        yield
    except Expired:
        raise
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, socket.timeout):
            raise Expired() from error
        raise Broken(type(error).__name__) from error


def proxies_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment names a proxy (httpx would use it: the httpx path is taken then)."""
    return any(value and key.lower() in PROXY_VARIABLES for key, value in environ.items())


def encode_json(value: Any) -> bytes:
    """httpx's JSON encoding, byte for byte."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def request_target(path: str, params: Mapping[str, Any] | None) -> str:
    """The path with its query string, as httpx writes it."""
    if not params:
        return path
    return path + "?" + urlencode([(k, _query_value(v)) for k, v in params.items()])


def _query_value(value: Any) -> str:
    # httpx's primitive_value_to_str: JSON-style booleans, None as empty.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


class _DeadlineSocket:
    """A connected socket whose every send and receive gets at most the time left until the deadline.

    Closed as socket.socket closes with readers open (http.client closes the connection of a `Connection:
    close` answer before its body is read): for real once the last reader is closed too."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline = 0.0
        self._readers = 0
        self._closed = False

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Expired()
        self.sock.settimeout(left)

    def sendall(self, data: bytes) -> None:
        self._arm()
        self.sock.sendall(data)

    def recv_into(self, buffer, nbytes: int = 0) -> int:
        self._arm()
        return self.sock.recv_into(buffer, nbytes)

    def makefile(self, mode: str = "rb", *args, **kwargs) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_Reader(self), READ_SIZE)

    def fileno(self) -> int:
        return self.sock.fileno()

    def release(self) -> None:
        """A reader was closed."""
        self._readers -= 1
        if self._closed and self._readers <= 0:
            self.sock.close()

    def close(self) -> None:
        self._closed = True
        if self._readers <= 0:
            self.sock.close()

    def setsockopt(self, *args) -> None:
        self.sock.setsockopt(*args)


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket):
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.release()
        super().close()


class Http11:
    """Keep-alive HTTP/1.1 connections to one origin, at most `max_connections` at once (as httpx's pool: the
    bound --parallelism sets on requests in flight; a request waits for a free one within its deadline);
    thread-safe."""

    def __init__(self, base_url: str, headers: Mapping[str, str], max_connections: int):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.headers = {**headers, "Accept-Encoding": "gzip, deflate", "User-Agent": "provisioner"}
        self.max_connections = max_connections
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, max_connections))
        self._ssl: ssl.SSLContext | None = None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def exchange(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
                 timeout: float, cap: int) -> tuple[int, http.client.HTTPMessage, bytes]:
        """(status, headers, body): the whole answer within `timeout` seconds and `cap` bytes (decoded).

        Raises ConnectFailed (nothing sent), Expired, Broken (after sending began), TooLarge."""
        deadline = time.monotonic() + timeout
        target = request_target(self.prefix + path, params)
        headers = self.headers
        body = None
        if json_body is not None:
            body = encode_json(json_body)
            headers = {**headers, "Content-Type": "application/json"}
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise ConnectFailed("PoolTimeout")
        try:
            return self._exchange(method, target, body, headers, deadline, cap)
        finally:
            self._slots.release()

    def _exchange(self, method: str, target: str, body: bytes | None, headers: Mapping[str, str],
                  deadline: float, cap: int) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = self._connection(deadline)
        response = None
        reusable = False
        try:
            with _told_as_ours():
                connection.sock.deadline = deadline  # type: ignore[union-attr]
                connection.request(method, target, body=body, headers=headers)
                response = connection.getresponse()
            declared = response.getheader("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise TooLarge(response.status, int(declared))
            raw = self._read(response, deadline, cap)
            reusable = not response.will_close
            return response.status, response.msg, raw
        finally:
            if reusable:
                with self._lock:
                    if len(self._idle) < self.max_connections:
                        self._idle.append(connection)
                        connection = None  # type: ignore[assignment]
            if connection is not None:
                if response is not None:
                    response.close()
                connection.close()

    def _read(self, response: http.client.HTTPResponse, deadline: float, cap: int) -> bytes:
        encoding = (response.getheader("content-encoding") or "").strip().lower()
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 16) if encoding in ("gzip", "x-gzip") else (
            zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding == "deflate" else None)
        chunks, size = [], 0
        while True:
            with _told_as_ours():
                chunk = response.read(READ_SIZE)
            if not chunk:
                if response.length:  # the connection ended before the length it declared (read(n) says nothing)
                    raise Broken("RemoteProtocolError")
                break
            if decoder is not None:
                try:
                    chunk = decoder.decompress(chunk, cap + 1 - size)  # bounded: a larger answer is refused
                except zlib.error as error:
                    raise Broken("DecodingError") from error
            size += len(chunk)
            if size > cap:
                raise TooLarge(response.status, None)
            if time.monotonic() > deadline:
                raise Expired()
            chunks.append(chunk)
        return b"".join(chunks)

    def _connection(self, deadline: float) -> http.client.HTTPConnection:
        """An idle connection the server has not closed, else a new one (connected here: a failure to
        connect is told apart from one after sending)."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            if connection.sock is not None and not _readable(connection.sock):
                return connection
            connection.close()  # closed by the server (or it sent what nobody asked for): not reusable
        left = deadline - time.monotonic()
        if left <= 0:
            raise ConnectFailed("ConnectTimeout")
        if self.https:
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=left, context=self._context())
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=left)
        try:
            connection.connect()
        except socket.timeout as error:
            connection.close()
            raise ConnectFailed("ConnectTimeout") from error
        except (OSError, ssl.SSLError) as error:
            connection.close()
            raise ConnectFailed("ConnectError") from error
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock = _DeadlineSocket(connection.sock)  # type: ignore[assignment]
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            if os.environ.get("SSL_CERT_FILE"):
                context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                context = ssl.create_default_context(cafile=certifi.where())
            self._ssl = context
        return self._ssl


def _readable(sock: _DeadlineSocket) -> bool:
    """An idle connection with something to read was closed by the server (EOF) or is out of step."""
    try:
        readable, _, _ = select.select([sock.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
