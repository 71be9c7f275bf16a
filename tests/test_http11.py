"""http11.py, the client's lean HTTP/1.1 path: it must answer as the httpx path did.

A raw socket server on loopback plays the platform, so that what goes over the wire (connections, bytes) is
what the tests look at.
"""
from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from provisioner import http11
from provisioner.client import ClientLimits, PlatformClient, RetryPolicy
from provisioner.errors import ApiError, TransportError


class RawServer:
    """Answers each request with `answer(request_line)` (whole bytes); `close_after` closes each connection
    after that many answers (a keep-alive connection the server drops while the client holds it idle)."""

    def __init__(self, answer, close_after: int | None = None):
        self.answer, self.close_after = answer, close_after
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api"
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released each time the server has closed a connection
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket):
        try:
            self._answer_on(connection)
        except ConnectionResetError:
            pass  # the client closed a pooled connection it gave up on: the same as its end of file
        finally:
            self.closed.release()

    def _answer_on(self, connection: socket.socket):
        answered = 0
        with connection:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = connection.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(buffer) < length:
                    buffer += connection.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                connection.sendall(self.answer(head.split(b"\r\n", 1)[0]))
                answered += 1
                if self.close_after is not None and answered >= self.close_after:
                    return

    def close(self):
        self.listener.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n" + extra + b"\r\n" + body)


@pytest.fixture
def server():
    made = []

    def make(answer, **kwargs):
        made.append(RawServer(answer, **kwargs))
        return made[-1]
    yield make
    for item in made:
        item.close()


def test_a_connection_the_server_closed_while_idle_is_not_reused_so_a_create_is_sent_once(server):
    platform = server(lambda line: ok(b'{"data": {"id": 7}}'), close_after=1)
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1))
    for _ in range(3):
        assert client.create_assistant({"name": "x"})["id"] == 7
        # The server has closed it before the next request (else that request could race the close itself).
        assert platform.closed.acquire(timeout=10)
    posts = [r for r in platform.requests if r.startswith(b"POST")]
    assert len(posts) == 3 and platform.connections == 3


def test_keep_alive_connections_are_reused(server):
    platform = server(lambda line: ok(b"[]"))
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1))
    for _ in range(5):
        assert client.languages() == []
    assert platform.connections == 1


def test_a_gzip_answer_is_decoded(server):
    body = gzip.compress(json.dumps([{"id": 1, "name": "English"}]).encode())
    platform = server(lambda line: ok(body, b"Content-Encoding: gzip\r\n"))
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1))
    assert client.languages() == [{"id": 1, "name": "English"}]
    assert b"accept-encoding: gzip, deflate" in platform.requests[0].lower()


def test_a_gzip_answer_larger_than_the_cap_once_decoded_is_refused(server):
    body = gzip.compress(b"[" + b" " * 100_000 + b"]")  # small on the wire, 100 kB decoded
    platform = server(lambda line: ok(body, b"Content-Encoding: gzip\r\n"))
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1),
                            limits=ClientLimits(max_response_bytes=10_000))
    with pytest.raises(ApiError, match="larger than the 10,000-byte cap"):
        client.languages()


def test_a_declared_length_over_the_cap_is_refused_before_reading(server):
    platform = server(lambda line: b"HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\n" + b" " * 50000)
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1),
                            limits=ClientLimits(max_response_bytes=10_000))
    with pytest.raises(ApiError, match="would be 50,000 bytes"):
        client.languages()


# JSON bodies: tests/test_json_text.py (the same value httpx sends; the same bytes but for a float's notation).


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(min_size=1), st.none() | st.booleans() | st.integers() | st.text(), max_size=4))
def test_query_strings_mean_what_httpx_sends(params):
    ours = httpx.URL("http://h" + http11.request_target("/api/p", params))
    assert ours.path == "/api/p"
    assert ours.params == httpx.Request("GET", "http://h/api/p", params=params).url.params


def test_a_proxy_in_the_environment_or_an_injected_transport_takes_the_httpx_path(monkeypatch):
    assert http11.proxies_configured({"HTTPS_PROXY": "http://proxy:3128"})
    assert http11.proxies_configured({"all_proxy": "socks5://p"})
    assert not http11.proxies_configured({"HTTPS_PROXY": "", "PATH": "/bin"})
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert PlatformClient("https://platform.test/api", "tok")._fast is None
    monkeypatch.delenv("HTTPS_PROXY")
    assert PlatformClient("https://platform.test/api", "tok")._fast is not None
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    client = PlatformClient("https://platform.test/api", "tok", transport=mock)
    assert client._fast is None and client.languages() == []


def test_an_answer_that_closes_the_connection_is_read_whole_and_the_next_request_connects_again(server):
    body = json.dumps([{"id": 1, "name": "English"}]).encode() * 1
    platform = server(lambda line: ok(body, b"Connection: close\r\n"), close_after=1)
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1))
    for _ in range(3):
        assert client.languages() == [{"id": 1, "name": "English"}]
    assert platform.connections == 3


def test_an_answer_without_a_length_is_read_to_the_end_of_the_connection(server):
    platform = server(lambda line: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[]", close_after=1)
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1))
    assert client.languages() == [] and client.languages() == []


def test_an_answer_cut_short_of_its_declared_length_is_a_transport_failure_not_an_answer(server):
    platform = server(lambda line: b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n{\"message\": \"Assis",
                      close_after=1)
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1))
    with pytest.raises(TransportError, match="connection failed before the platform answered") as caught:
        client.create_assistant({"name": "x"})
    assert caught.value.request_sent  # its outcome is unknown: apply looks before creating again


def test_no_more_requests_in_flight_than_max_connections(server):
    import time as clock
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow(line):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        clock.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return ok(b"[]")
    platform = server(slow)
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1), max_connections=2)
    threads = [threading.Thread(target=client.languages) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2


class _Pieces:
    """A socket that receives `data` in the given pieces (then the end of the connection)."""

    def __init__(self, pieces):
        self.pieces = list(pieces)

    def settimeout(self, seconds):
        pass

    def recv(self, size):
        return self.pieces.pop(0) if self.pieces else b""

    def close(self):
        pass


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(len(data), c) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:]) if b > a]


def _framed(body: bytes, framing: str, sizes: list[int]) -> bytes:
    if framing == "length":
        return b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    if framing == "close":
        return b"\r\n" + body
    out, rest = [b"Transfer-Encoding: chunked\r\n\r\n"], body
    for size in sizes + [len(body)]:
        piece, rest = rest[:max(1, size)], rest[max(1, size):]
        if piece:
            out.append(b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n")
    return b"".join(out) + b"0\r\nX-Trailer: t\r\n\r\n"


def _read(stream: bytes, cuts: list[int], cap: int = 1 << 20):
    connection = http11.Connection(_Pieces(_cut(stream, cuts)))
    connection.deadline = float("inf")
    answer = http11.read_head(connection, "GET")
    return answer, http11.read_body(connection, answer, float("inf"), cap), connection


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["length", "chunked", "close"]),
       st.lists(st.integers(0, 80), max_size=6), st.lists(st.integers(0, 400), max_size=8), st.booleans())
def test_an_answer_is_read_whole_however_it_is_framed_and_split_on_the_wire(body, framing, sizes, cuts, interim):
    head = (b"HTTP/1.1 100 Continue\r\n\r\n" if interim else b"") + b"HTTP/1.1 201 Created\r\nX-RateLimit-Remaining: 7\r\n"
    answer, read, connection = _read(head + _framed(body, framing, sizes), cuts)
    assert (answer.status, read, answer.headers["x-ratelimit-remaining"]) == (201, body, "7")
    assert answer.will_close == (framing == "close") and connection.buffer == b""


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.sampled_from(["length", "chunked"]),
       st.lists(st.integers(0, 80), max_size=6), st.lists(st.integers(0, 400), max_size=8), st.data())
def test_an_answer_cut_anywhere_short_of_its_end_is_broken_never_an_answer(body, framing, sizes, cuts, data):
    stream = b"HTTP/1.1 200 OK\r\n" + _framed(body, framing, sizes)
    end = data.draw(st.integers(0, len(stream) - 1))
    with pytest.raises(http11.Broken):
        _read(stream[:end], cuts)


@pytest.mark.parametrize("stream", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n{}",      # a length that is not one
    b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}",       # a status that is not three digits
    b"SMTP 200 OK\r\nContent-Length: 2\r\n\r\n{}",            # not HTTP
    b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n{}",           # a header without a colon
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",  # a chunk size not in hex
    b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"Content-Length: 2\r\n\r\n{}",    # more header lines than allowed
])
def test_an_answer_head_that_is_not_http_is_broken(stream):
    with pytest.raises(http11.Broken):
        _read(stream, [])


def test_an_http_1_0_answer_closes_unless_it_says_keep_alive_and_a_repeated_header_counts_once():
    answer, _, _ = _read(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", [])
    assert answer.will_close
    answer, _, _ = _read(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}", [])
    assert not answer.will_close
    answer, _, _ = _read(b"HTTP/1.1 429 Too\r\nRetry-After: 3\r\nretry-after: 9\r\nContent-Length: 0\r\n\r\n", [])
    assert answer.headers["retry-after"] == "3" and answer.status == 429


def test_a_request_is_one_piece_with_its_length_and_header_values_cannot_split_lines():
    fast = http11.Http11("http://example.test:8080/api", {"Authorization": "Bearer t"}, 2)
    request = fast.request_bytes("POST", "/api/user/assistant", b'{"a":1}')
    head, body = request.split(b"\r\n\r\n", 1)
    assert head.split(b"\r\n")[:2] == [b"POST /api/user/assistant HTTP/1.1", b"Host: example.test:8080"]
    assert b"Content-Length: 7" in head and body == b'{"a":1}'
    assert b"Content-Length: 0\r\n" in fast.request_bytes("PUT", "/x", None)
    assert b"Content-Length" not in fast.request_bytes("DELETE", "/x", None)
    with pytest.raises(ValueError):
        http11.Http11("http://example.test/api", {"Authorization": "Bearer t\r\nX-Evil: 1"}, 2)


# What a review of this layer against h11 and httpx found (each failed before its fix).

@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.lists(st.booleans(), min_size=4, max_size=4),
       st.lists(st.integers(0, 300), max_size=6))
def test_a_head_ends_at_its_first_empty_line_whatever_its_line_ends(body, crlf, cuts):
    """CRLF or bare LF, line by line (as h11 reads them): a CRLF CRLF later, in the body, ends nothing."""
    ends = [b"\r\n" if each else b"\n" for each in crlf]
    head = (b"HTTP/1.1 200 OK" + ends[0] + b"Content-Length: " + str(len(body) + 9).encode() + ends[1]
            + b"X-A: 5" + ends[2] + ends[3])
    answer, read, connection = _read(head + body + b"\r\n\r\nline2" + b"NEXT", cuts)
    assert (answer.status, answer.headers["x-a"], read) == (200, "5", body + b"\r\n\r\nline2")
    assert connection.buffer + b"".join(connection.sock.pieces) == b"NEXT"  # what follows, read or not yet


@pytest.mark.parametrize("stream", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 13\r\n\r\n[]",     # two lengths: which one?
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",                   # an upgrade nobody asked for
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + str(len(gzip.compress(b"[]", mtime=0)) + 5).encode()
    + b"\r\n\r\n" + gzip.compress(b"[]", mtime=0) + b"junk!",                              # bytes after the gzip data (mtime=0: the same test id in every xdist worker)
    *(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n[]\r\n0\r\n\r\n"  # a chunk size that
      for size in (b"0x2", b"+2", b"0_2", b"2 2", b"\xd9\xa2")),                                          # is not hex digits
])
def test_an_answer_whose_framing_or_coding_is_doubtful_is_broken(stream):
    with pytest.raises(http11.Broken):
        _read(stream, [])


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["gzip", "deflate"]), st.data())
def test_a_compressed_answer_that_stops_before_its_end_is_broken_never_a_short_answer(body, encoding, data):
    """A gzip answer without its trailer (CRC and length) or a zlib stream without its checksum decodes to the whole
    text, or a prefix of it: the integrity check never came, so the answer is in doubt (it was taken as complete)."""
    import zlib

    whole = gzip.compress(body, mtime=0) if encoding == "gzip" else zlib.compress(body)
    cut = whole[:data.draw(st.integers(1, len(whole) - 1), label="kept")]
    stream = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (encoding.encode(), len(cut))
    with pytest.raises(http11.Broken):
        _read(stream + cut, [])


def test_an_empty_compressed_answer_is_still_an_empty_answer():
    _, read, _ = _read(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n", [])
    assert read == b""


def test_repeated_framing_headers_are_read_as_one_list_or_agree():
    answer, read, _ = _read(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 2\r\n"
                            b"Content-Length: 2\r\n\r\n[]", [])
    assert answer.will_close and read == b"[]"


def test_a_deflate_answer_without_its_zlib_wrapper_is_decoded_as_httpx_decodes_it():
    import zlib

    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    data = raw.compress(b'{"ok":true}') + raw.flush()
    _, read, _ = _read(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(data)
                       + data, [])
    assert read == b'{"ok":true}'


def test_a_request_timeout_of_weeks_waits_in_steps_instead_of_overflowing(server):
    platform = server(lambda line: ok(b"[]"))
    client = PlatformClient(platform.url, "tok", retry=RetryPolicy(max_attempts=1, timeout=30 * 86400.0))
    assert client.languages() == []


def test_a_base_url_beyond_ascii_is_sent_as_httpx_sends_it(server):
    platform = server(lambda line: ok(b"[]"))
    client = PlatformClient(platform.url.replace("/api", "/plat\u00e9forme/api"), "tok",
                            retry=RetryPolicy(max_attempts=1))
    assert client.languages() == []
    assert platform.requests[0].startswith(b"GET /plat%C3%A9forme/api/user/assistants/languages HTTP/1.1\r\n")
    assert http11.Http11("http://pl\u00e4tform.example/api", {}, 1).headers["Host"] == "xn--pltform-6wa.example"


def test_a_connection_in_use_when_the_pool_closes_is_closed_not_pooled(server):
    release = threading.Event()

    def answer(line):
        release.wait(5)
        return ok(b"[]")
    platform = server(answer)
    fast = http11.Http11(platform.url, {}, 2)
    done = []
    worker = threading.Thread(target=lambda: done.append(fast.exchange("GET", "/x", None, None, 5.0, 1 << 20)))
    worker.start()
    while not platform.connections:
        threading.Event().wait(0.01)
    fast.close()
    release.set()
    worker.join(5)
    assert done and done[0][0] == 200 and fast._idle == []


def test_an_answer_sent_before_the_request_body_is_all_out_is_read_as_httpx_reads_it():
    """A server that refuses a body too large answers after the head and stops reading: the client's send fails,
    and the answer it did send is the outcome (a certain refusal), not an unknown one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def refuse():
        connection, _ = listener.accept()
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                head += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Type: application/json"
                               b"\r\nContent-Length: 26\r\n\r\n{\"message\":\"body too big\"}")
            connection.shutdown(socket.SHUT_WR)
            threading.Event().wait(0.5)  # not reading: the client's send fails when this closes
    threading.Thread(target=refuse, daemon=True).start()
    client = PlatformClient(f"http://127.0.0.1:{listener.getsockname()[1]}/api", "tok",
                            retry=RetryPolicy(max_attempts=1, timeout=10))
    try:
        with pytest.raises(ApiError) as refused:
            client.create_assistant({"assistant_name": "a", "prompt": "p" * (8 << 20)})
    finally:
        listener.close()
    assert refused.value.status == 413 and "body too big" in str(refused.value)
    assert not isinstance(refused.value, TransportError)  # a refusal, not an unknown outcome


def test_a_name_lookup_that_hangs_ends_at_the_request_deadline(monkeypatch):
    """The system resolver has no timeout of its own: a lookup that never answers (a dead DNS server) must not
    hold a request past its deadline. getaddrinfo is the system boundary, so it is the part faked here."""
    real = socket.getaddrinfo

    def hanging(host, *args, **kwargs):
        if host in ("stuck.test", b"stuck.test") and not kwargs.get("flags", 0) & socket.AI_NUMERICHOST:
            time.sleep(30)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    pool = http11.Http11("http://stuck.test:9/api", {}, 2)
    started = time.monotonic()
    with pytest.raises(http11.ConnectFailed) as caught:
        pool.exchange("GET", "/languages", None, None, timeout=0.5, cap=1000)
    assert caught.value.args[0] == "ConnectTimeout" and time.monotonic() - started < 2.5


def test_a_name_that_cannot_resolve_fails_to_connect_and_an_address_connects_without_a_lookup(monkeypatch):
    with pytest.raises(http11.ConnectFailed) as caught:
        http11.Http11("http://no-such-host.invalid:9/api", {}, 2).exchange("GET", "/x", None, None, 5, 1000)
    assert caught.value.args[0] == "ConnectError"
    looked_up = []
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: looked_up.append(k.get("flags")) or real(host, *a, **k))
    server = RawServer(lambda line: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
    pool = http11.Http11(server.url, {}, 2)
    assert pool.exchange("GET", "/x", None, None, 5, 1000)[0] == 200
    assert looked_up == [socket.AI_NUMERICHOST]  # 127.0.0.1 read as an address: no resolver thread


def test_an_ascii_name_is_looked_up_without_the_idna_codec_and_a_name_beyond_ascii_still_fails_cleanly():
    """getaddrinfo passes a text host through the IDNA codec, whose first use costs every run 13 ms of imports;
    an ASCII name goes as bytes. Run in a fresh interpreter: this one may have the codec loaded already."""
    server = RawServer(lambda line: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
    port = server.url.split(":")[2].split("/")[0]
    script = (
        "import sys\n"
        "from provisioner import http11\n"
        f"for host in ('127.0.0.1', 'localhost'):\n"
        f"    assert http11.Http11(f'http://{{host}}:{port}/api', {{}}, 1).exchange('GET', '/x', None, None, 5, 100)[0] == 200\n"
        "assert 'encodings.idna' not in sys.modules\n"
        "try:\n"
        "    http11.Http11('http://b\u00fccher.invalid:9/api', {}, 1).exchange('GET', '/x', None, None, 5, 100)\n"
        "except http11.ConnectFailed as error:\n"
        "    print(error.args[0])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ConnectError"
