"""The client's HTTP/1.1 exchanges, written and read on the socket here: a few lines of work per request.

Why not httpx here: on a slow, shared core httpx's request and response machinery (request model, auth and
redirect hooks, httpcore's pool and h11 state machine, the deadline wrapper around its network backend) cost
about 1.2 ms of CPU per request, four to five times what the request itself costs through http.client
(scripts/benchmark.py; README "Measured"), and that CPU is what bounds an apply of thousands of changes. And
why not http.client: its request building (putrequest, putheader, endheaders) and its answer parsing (a status
line read, then every header through the email package's feed parser) were still most of a request's CPU. The
platform needs little of it: JSON over HTTP/1.1 with keep-alive, no redirects, no cookies. So a request is one
bytes object (the fixed headers are made once), and an answer is read from a buffer: the status line, the
header lines split once, then the body by Content-Length, chunked transfer coding or to the end of the
connection (RFC 9112 section 6.3).

What this keeps from the httpx path, so that PlatformClient behaves the same either way:
- one deadline for the whole exchange, connect to last byte (every connect, send and receive gets the time
  left; a trickling answer is cut when it runs out), and the size cap, checked as the body arrives (the head
  has bounds of its own: MAX_LINE per line, MAX_HEADERS lines);
- a pooled connection is reused only if the server has not closed it meanwhile (looked at before each
  request, as httpcore does), and only after an answer read whole with nothing after it: a write is never sent
  down a dead connection and then called "unknown";
- gzip and deflate answers decoded (bounded by the cap), the trust store httpx uses (SSL_CERT_FILE,
  SSL_CERT_DIR, else certifi), JSON bodies encoded as httpx encodes them (the same JSON value: json_text.py).
Proxies (HTTP(S)_PROXY, ALL_PROXY) and multipart bodies are left to httpx: client.py uses it for them.
"""
from __future__ import annotations

import os
import queue
import re
import select
import socket
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import quote, urlencode, urlsplit

from . import json_text
from .patterns import LazyPattern

if TYPE_CHECKING:  # imported by the first https:// connection (_load_ssl), not by every run
    import ssl

READ_SIZE = 64 * 1024
MAX_LINE = 65536    # bytes of one status or header line (http.client's bound)
MAX_HEADERS = 100   # header lines of one answer (http.client's bound)
# The longest single wait handed to poll, a queue or a socket timeout: a longer deadline (a --request-timeout of
# weeks) is waited for in such steps, where one call would overflow the C types they take.
LONGEST_WAIT = 3600.0
# A chunk's size: hex digits only (int(x, 16) would also take "0x1f", "+1f" or "1_f", which no server sends and
# a proxy could read differently), at most 16 of them.
_CHUNK_SIZE = LazyPattern(rb"[0-9A-Fa-f]{1,16}")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
# ssl is imported by the first https:// connection (_load_ssl), not by every run (0.005 s of CPU): until then no
# socket is a TLS one, and these match nothing. Then: the TLS socket class, and the errors a non-blocking TLS socket
# raises when it must wait until it can read or write.
_TLS_SOCKET: tuple[type, ...] = ()
_TLS_WANTS_READ: tuple[type[BaseException], ...] = ()
_TLS_WANTS_WRITE: tuple[type[BaseException], ...] = ()


class ConnectFailed(Exception):
    """No connection could be made (nothing was sent). `__cause__` is the socket's error."""


class Expired(Exception):
    """The exchange's deadline passed."""


class Broken(Exception):
    """The connection failed after the request began to go out (its outcome is unknown)."""


class Unanswered(Broken):
    """The request went out whole, then the connection failed before its whole answer came: the server may have
    the request, and may act on it (or be acting on it still)."""


class TooLarge(Exception):
    """The answer (`status`) is larger than the cap: `declared` by its Content-Length, or found reading it."""

    def __init__(self, status: int, declared: int | None):
        super().__init__(status, declared)
        self.status = status
        self.declared = declared


def proxies_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment names a proxy (httpx would use it: the httpx path is taken then)."""
    return any(value and key.lower() in PROXY_VARIABLES for key, value in environ.items())


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


def _header_block(headers: Mapping[str, str]) -> bytes:
    """The fixed header lines, made once; a name or value that could split a line is refused (as http.client
    refuses it): ValueError."""
    lines = []
    for name, value in headers.items():
        if not name or any(c in name for c in ":\r\n\0 \t") or any(c in str(value) for c in "\r\n\0"):
            raise ValueError("a header name or value that is not one line")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


class Answer:
    """A parsed answer head: `status`, `headers` (lower-case names; the first of a repeated name, as
    http.client's `get` answers), and how its body is delimited."""

    __slots__ = ("status", "headers", "length", "chunked", "will_close")

    def __init__(self, status: int, headers: dict[str, str], length: int | None, chunked: bool, will_close: bool):
        self.status, self.headers, self.length, self.chunked, self.will_close = (
            status, headers, length, chunked, will_close)


class Connection:
    """One connected socket (non-blocking) and what was received on it but not consumed yet. Every send and
    receive is bounded by `deadline`: Expired when it has run out.

    Non-blocking, so that a send or a receive is the one system call it takes when it can be done at once, and
    the wait (poll, with the time left) is made only when it cannot: a socket with a timeout polls before every
    call and needs its timeout set (another call) before each, seven calls an exchange instead of four."""

    __slots__ = ("sock", "buffer", "deadline", "sent", "_poll", "_events")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.deadline = 0.0
        self.sent = False  # a request just went out: its answer cannot be there yet, so wait before reading
        self._poll = None
        self._events = 0

    def _wait(self, events: int) -> None:
        """Until the socket is ready for `events` (POLLIN, POLLOUT), or Expired."""
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(self.sock, events)
        elif self._events != events:
            self._poll.modify(self.sock, events)
        self._events = events
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise Expired()
            try:
                if self._poll.poll(min(left, LONGEST_WAIT) * 1000 + 1):
                    return
            except OSError as error:
                raise Broken(type(error).__name__) from error

    def send(self, data: bytes) -> None:
        if time.monotonic() >= self.deadline:
            raise Expired()
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view):]
            except (BlockingIOError, *_TLS_WANTS_WRITE):
                self._wait(select.POLLOUT)
            except _TLS_WANTS_READ:
                self._wait(select.POLLIN)
            except OSError as error:
                raise Broken(type(error).__name__) from error
        self.sent = True

    def more(self) -> bytes:
        """The next bytes received (b"" at the end of the connection)."""
        if self.sent:
            self.sent = False
            if not (isinstance(self.sock, _TLS_SOCKET) and self.sock.pending()):
                self._wait(select.POLLIN)
        elif time.monotonic() >= self.deadline:
            raise Expired()
        while True:
            try:
                return self.sock.recv(READ_SIZE)
            except (BlockingIOError, *_TLS_WANTS_READ):
                self._wait(select.POLLIN)
            except _TLS_WANTS_WRITE:
                self._wait(select.POLLOUT)
            except OSError as error:
                raise Broken(type(error).__name__) from error

    def line(self) -> bytes:
        """One line (CRLF or LF ended, without it), at most MAX_LINE bytes."""
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line, self.buffer = self.buffer[:end], self.buffer[end + 1:]
                if len(line) > MAX_LINE:
                    raise Broken("LineTooLong")
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buffer) > MAX_LINE:
                raise Broken("LineTooLong")
            self._fill()

    def _fill(self) -> None:
        """More of the answer into the buffer; the peer closing before the head ends is a broken answer."""
        data = self.more()
        if not data:
            raise Broken("RemoteDisconnected" if not self.buffer else "IncompleteRead")
        self.buffer += data

    def head(self) -> str:
        """The answer head up to its first empty line: its lines joined by LF (each line ended by CRLF or a bare LF,
        as h11 reads them; the empty line is the first LF followed by an empty line, wherever a CRLF CRLF is)."""
        start = 0
        while True:
            found = _BLANK_LINE.search(self.buffer, start)
            if found is not None:
                head, self.buffer = self.buffer[:found.start()], self.buffer[found.end():]
                text = head.decode("latin-1")
                if text.endswith("\r"):  # the last line's CR (the blank line's match begins at its LF)
                    text = text[:-1]
                return text.replace("\r\n", "\n") if "\r" in text else text
            start = max(0, len(self.buffer) - 2)
            if len(self.buffer) > MAX_LINE * (MAX_HEADERS + 1):
                raise Broken("LineTooLong")
            self._fill()

    def close(self) -> None:
        self.sock.close()


def read_head(connection: Connection, method: str) -> Answer:
    """The final answer's head (interim 1xx answers skipped), its body's framing decided (RFC 9112 6.3)."""
    while True:
        text = connection.head()
        lines = text.split("\n")
        parts = lines[0].split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit() \
                or not parts[1].isascii():
            raise Broken("BadStatusLine")
        status = int(parts[1])
        if len(lines) > MAX_HEADERS + 1:
            raise Broken("HTTPException")
        if status == 101:
            raise Broken("HTTPException")  # switching protocols, which no request of this client asks for
        if 100 <= status < 200:
            continue  # an interim answer (100 Continue, 103 Early Hints): the final one follows
        break
    if len(text) > MAX_LINE:  # else no line can be longer
        for line in lines:
            if len(line) > MAX_LINE:
                raise Broken("LineTooLong")
    headers = header_fields(lines)
    tokens = headers.get("connection")
    tokens = {t.strip().lower() for t in tokens.split(",")} if tokens else ()
    if parts[0] == "HTTP/1.0":
        will_close = "keep-alive" not in tokens and "keep-alive" not in headers
    else:
        will_close = "close" in tokens
    coding = headers.get("transfer-encoding")
    chunked = coding is not None
    if chunked and coding.lower() != "chunked":
        raise Broken("HTTPException")  # a transfer coding other than chunked alone (h11, hence httpx, refuses it too)
    length: int | None = None
    if method == "HEAD" or status in (204, 304) or status < 200:
        length, chunked = 0, False
    elif coding is None:
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or not declared.isascii():
                raise Broken("HTTPException")  # not a length: nothing read after it could be trusted
            length = int(declared)
    if length is None and not chunked:
        will_close = True  # the body ends with the connection
    return Answer(status, headers, length, chunked, will_close)


def header_fields(lines: list[str]) -> dict[str, str]:
    """The header lines after the status line as {lower-case name: stripped value}, the first of a repeated name
    (as http.client's `get` answers), but for the fields that frame the body: a repeated Connection or
    Transfer-Encoding is one list (RFC 9110 5.3), a Content-Length repeated with another value is a broken answer
    (RFC 9112 6.3: its length cannot be known). Broken("HTTPException") for a line that is not a header field."""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name[-1] in " \t" or name[0] in " \t":
            raise Broken("HTTPException")
        name = name.lower()
        if name not in headers:
            headers[name] = value.strip()
        elif name in _LISTS:
            headers[name] += ", " + value.strip()
        elif name == "content-length" and value.strip() != headers[name]:
            raise Broken("HTTPException")
    return headers


_LISTS = frozenset({"connection", "transfer-encoding"})
# What a path keeps as it is: RFC 3986's unreserved and sub-delimiter characters, ':', '@', '/' and '%' (a path
# already percent-encoded is not encoded twice).
_PATH_SAFE = "/%:@!$&'()*+,;=~-._"
_BLANK_LINE = re.compile(rb"\n\r?\n")


def read_body(connection: Connection, answer: Answer, deadline: float, cap: int) -> bytes:
    """The whole body, decoded (gzip, deflate), within the deadline and `cap` bytes."""
    encoding = answer.headers.get("content-encoding")
    encoding = encoding.lower() if encoding else ""
    length = answer.length
    if not encoding and length is not None and len(connection.buffer) >= length:
        # The common answer: all of it came with the head (no generator, no copies but the one slice).
        body, connection.buffer = connection.buffer[:length], connection.buffer[length:]
        if length and time.monotonic() > deadline:
            raise Expired()
        return body
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16) if encoding in ("gzip", "x-gzip") else (
        zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding == "deflate" else None)
    chunks: list[bytes] = []
    size = 0
    first = True
    for raw in _raw_body(connection, answer):
        if decoder is not None:
            if decoder.eof and raw:
                # Bytes after the compressed data's end: zlib would only pile them up (unbounded by the cap).
                raise Broken("DecodingError")
            try:
                decoded = decoder.decompress(raw, cap + 1 - size)  # bounded: a larger answer is refused
            except zlib.error as error:
                if encoding != "deflate" or not first:
                    raise Broken("DecodingError") from error
                # "deflate" sent as a raw deflate stream, without its zlib wrapper: retried as one, as httpx does
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                try:
                    decoded = decoder.decompress(raw, cap + 1 - size)
                except zlib.error as error:
                    raise Broken("DecodingError") from error
            if decoder.eof and decoder.unused_data:
                raise Broken("DecodingError")
            raw, first = decoded, False
        size += len(raw)
        if size > cap:
            raise TooLarge(answer.status, None)
        if time.monotonic() > deadline:
            raise Expired()
        chunks.append(raw)
    if decoder is not None and not first and not decoder.eof:
        # The compressed data stopped before its end (a gzip without its CRC and length, a zlib stream without its
        # checksum): what it decoded to may be a prefix, and its integrity was never checked.
        raise Broken("DecodingError")
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _raw_body(connection: Connection, answer: Answer):
    """The body's bytes as they arrive, framed as its head says; Broken if the connection ends short."""
    if answer.chunked:
        while True:
            size_line = connection.line().split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16) if _CHUNK_SIZE.fullmatch(size_line) else -1
            except ValueError:
                size = -1
            if size < 0:
                raise Broken("ChunkedEncodingError")
            if size == 0:
                while connection.line():  # trailers, to the empty line
                    pass
                return
            yield from _exactly(connection, size)
            if connection.line():
                raise Broken("ChunkedEncodingError")  # a chunk's data is followed by CRLF
    elif answer.length is not None:
        yield from _exactly(connection, answer.length)
    else:
        if connection.buffer:
            data, connection.buffer = connection.buffer, b""
            yield data
        while True:
            data = connection.more()
            if not data:
                return
            yield data


def _exactly(connection: Connection, count: int):
    while count:
        if not connection.buffer:
            connection.buffer = connection.more()
            if not connection.buffer:
                raise Broken("RemoteProtocolError")  # the connection ended before the length it declared
        data = connection.buffer[:count]
        connection.buffer = connection.buffer[count:]
        count -= len(data)
        yield data


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
        # A path and a host name beyond ASCII as httpx sends them: the path's characters percent-encoded (UTF-8),
        # the name in IDNA (the socket connects to the same name).
        self.prefix = quote(parts.path.rstrip("/"), safe=_PATH_SAFE)
        host = self.host if self.host.isascii() else self.host.encode("idna").decode("ascii")
        host = host if ":" not in host else f"[{host}]"
        default_port = 443 if self.https else 80
        self.headers = {"Host": host if self.port == default_port else f"{host}:{self.port}", **headers,
                        "Accept-Encoding": "gzip, deflate", "User-Agent": "provisioner"}
        self._fixed = _header_block(self.headers)
        self.max_connections = max_connections
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        # One token per connection that may be in use: taking one is the wait for a free connection. A queue of
        # tokens, not a BoundedSemaphore: that one is Python code around a Condition, several calls per request.
        self._slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(max(1, max_connections)):
            self._slots.put(None)
        self._ssl: ssl.SSLContext | None = None
        self._closed = False  # no connection goes back to the pool once closed (an exchange may still be running)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def request_bytes(self, method: str, target: str, body: bytes | None) -> bytes:
        """The whole request in one piece: request line, the fixed headers, the body's (as http.client sends
        them: a POST or PUT without a body says Content-Length 0)."""
        if body is not None:
            extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        elif method in ("POST", "PUT", "PATCH"):
            extra = "Content-Length: 0\r\n\r\n"
        else:
            extra = "\r\n"
        return b"".join((f"{method} {target} HTTP/1.1\r\n".encode("ascii"), self._fixed, extra.encode("ascii"),
                         body or b""))

    def exchange(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
                 timeout: float, cap: int) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body): the whole answer within `timeout` seconds and `cap` bytes (decoded).

        Raises ConnectFailed (nothing sent), Expired, Broken (after sending began), TooLarge."""
        deadline = time.monotonic() + timeout
        target = request_target(self.prefix + path, params)
        if any(c in target for c in " \r\n\0"):
            raise ValueError(f"a path that is not one token: {target!r}")  # as http.client refuses it
        request = self.request_bytes(method, target, None if json_body is None else json_text.body(json_body))
        while True:
            try:
                self._slots.get(timeout=min(max(0.0, deadline - time.monotonic()), LONGEST_WAIT))
                break
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise ConnectFailed("PoolTimeout") from None
        try:
            return self._exchange(method, request, deadline, cap)
        finally:
            self._slots.put(None)

    def _exchange(self, method: str, request: bytes, deadline: float,
                  cap: int) -> tuple[int, dict[str, str], bytes]:
        connection: Connection | None = self._connection(deadline)
        try:
            connection.deadline = deadline
            try:
                connection.send(request)
            except Broken:
                early = _early_answer(connection, method, deadline, cap)
                if early is None:
                    raise
                return early
            try:
                answer = read_head(connection, method)
                if answer.length is not None and answer.length > cap:
                    raise TooLarge(answer.status, answer.length)
                body = read_body(connection, answer, deadline, cap)
            except Broken as error:  # after the whole request went out: not a connection that took nothing
                raise Unanswered(*error.args) from None
            if not answer.will_close and not connection.buffer:  # read whole, nothing after it: reusable
                with self._lock:
                    if not self._closed and len(self._idle) < self.max_connections:
                        self._idle.append(connection)
                        connection = None
            return answer.status, answer.headers, body
        finally:
            if connection is not None:
                connection.close()

    def _connection(self, deadline: float) -> Connection:
        """An idle connection the server has not closed, else a new one (connected here: a failure to
        connect is told apart from one after sending)."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            if not _idle_closed(connection):
                return connection
            connection.close()  # closed by the server (or it sent what nobody asked for): not reusable
        left = deadline - time.monotonic()
        if left <= 0:
            raise ConnectFailed("ConnectTimeout")
        sock = None
        try:
            sock = _connect(_addresses(self.host, self.port, deadline), deadline)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                sock.settimeout(min(max(0.001, deadline - time.monotonic()), LONGEST_WAIT))
                sock = self._context().wrap_socket(sock, server_hostname=self.host)
            sock.setblocking(False)  # from here on, Connection bounds every wait by the deadline
        except socket.timeout as error:
            if sock is not None:
                sock.close()
            raise ConnectFailed("ConnectTimeout") from error
        except OSError as error:  # ssl.SSLError is one
            if sock is not None:
                sock.close()
            raise ConnectFailed("ConnectError") from error
        return Connection(sock)

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ssl = _load_ssl()
            if os.environ.get("SSL_CERT_FILE"):
                context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                context = ssl.create_default_context(cafile=certifi.where())
            self._ssl = context
        return self._ssl


def _addresses(host: str, port: int, deadline: float) -> list[tuple]:
    """getaddrinfo's answers for host, within the deadline. The system resolver has no timeout of its own (a
    dead DNS server holds it for tens of seconds, once per attempt), so a name is looked up on a daemon thread
    the run stops waiting for when its time is up; an address written as one is read at once.

    An ASCII name goes as bytes: given text, getaddrinfo always passes it through the IDNA codec, whose first use
    imports stringprep and unicodedata tables (13 ms of every run's CPU) to give the same bytes back."""
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    try:
        return socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        pass  # a name
    found: list = []

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(name, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as error:  # socket.gaierror is one
            found.append(error)

    lookup = threading.Thread(target=look_up, name="resolve", daemon=True)
    lookup.start()
    lookup.join(max(0.0, min(deadline - time.monotonic(), LONGEST_WAIT)))
    if not found:
        raise socket.timeout("the name lookup took longer than the request's time")
    if isinstance(found[0], BaseException):
        raise OSError(str(found[0])) from found[0]
    return found[0]


def _connect(addresses: list[tuple], deadline: float) -> socket.socket:
    """A socket connected to the first of `addresses` that accepts within the deadline (as
    socket.create_connection tries them in turn)."""
    last: OSError = OSError("the name has no address")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("connect")
            sock.settimeout(min(left, LONGEST_WAIT))
            sock.connect(address)
            return sock
        except OSError as error:
            sock.close()
            last = error
            if isinstance(error, socket.timeout):
                break  # the deadline is spent: no time for the next address
    raise last


def _early_answer(connection: Connection, method: str, deadline: float,
                  cap: int) -> tuple[int, dict[str, str], bytes] | None:
    """The answer a server sent before it stopped reading the request (a 413 for a body too large, a 401), read
    after the send failed, as httpcore reads it; None if there is none to read whole (the connection is closed
    after it either way)."""
    try:
        answer = read_head(connection, method)
        if answer.length is not None and answer.length > cap:
            return None
        return answer.status, answer.headers, read_body(connection, answer, deadline, cap)
    except (Broken, Expired, TooLarge):
        return None


def _load_ssl() -> Any:
    """ssl, imported by the first https:// connection, which sets the names above that stand for its classes."""
    global _TLS_SOCKET, _TLS_WANTS_READ, _TLS_WANTS_WRITE
    import ssl

    _TLS_SOCKET, _TLS_WANTS_READ, _TLS_WANTS_WRITE = (ssl.SSLSocket,), (ssl.SSLWantReadError,), (ssl.SSLWantWriteError,)
    return ssl


def _readable(sock: socket.socket) -> bool:
    """An idle connection with something to read was closed by the server (EOF) or is out of step."""
    try:
        if isinstance(sock, _TLS_SOCKET):
            if sock.pending():
                return True
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable)
        sock.recv(1, socket.MSG_PEEK)  # non-blocking: b"" (closed) or bytes nobody asked for, else no wait
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True
    return True


def _idle_closed(connection: Connection) -> bool:
    """`_readable` for a pooled connection, asked of its own poll object without waiting: anything to read (bytes
    nobody asked for, or the end of the connection), a hang-up or an error makes it unusable. One system call and
    no exception, where the peek of an idle (fine) connection fails with one."""
    poller = connection._poll
    if poller is None or isinstance(connection.sock, _TLS_SOCKET):
        return _readable(connection.sock)
    if connection._events != select.POLLIN:
        poller.modify(connection.sock, select.POLLIN)
        connection._events = select.POLLIN
    try:
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
