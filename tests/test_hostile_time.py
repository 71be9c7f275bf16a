"""A platform that trickles, and pages that declare their own size.

The deadline (--request-timeout) covers the whole exchange, connect to last byte: a server here, a raw socket
on loopback, sends its answer a few bytes at a time, each well within the per-read timeout, so that only a
deadline over the whole exchange ends it. A list page is read by the size it declares; only a page that
contradicts itself is refused.
"""
from __future__ import annotations

import json
import math
import os
import socket
import threading
import time

import httpx
import pytest
from click.testing import CliRunner

from conftest import manifest_text
from provisioner.cli import cli
from provisioner.client import PlatformClient, RetryPolicy
from provisioner.errors import ApiError, TransportError

TRICKLE_FOR = 12.0  # seconds a trickling answer would take whole; the deadline must end it long before


class Trickler:
    """A loopback HTTP server that answers every request with `answer` bytes, `step` bytes every `pause`
    seconds (and a good catalogue for the CLI's catalogue reads)."""

    def __init__(self, answer: bytes, step: int = 1, pause: float = 0.2, catalogue_ok: bool = True):
        self.answer, self.step, self.pause, self.catalogue_ok = answer, step, pause, catalogue_ok
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api"
        self.stopped = threading.Event()
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket):
        started = time.monotonic()
        with connection:
            try:
                while True:
                    request = connection.recv(65536)
                    if not request:
                        return
                    self.requests.append(request)
                    line = request.split(b"\r\n", 1)[0]
                    if self.catalogue_ok and b"/user/assistants/get" not in line:
                        body = b'[{"id": 1, "name": "English", "iso_2": "en"}]' if b"languages" in line else (
                            b'[{"id": 1, "name": "Sarah"}]' if b"voices" in line else
                            b'[{"id": 11, "name": "gpt-4o"}]' if b"models" in line else b"[]")
                        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                           + str(len(body)).encode() + b"\r\n\r\n" + body)
                        continue
                    for start in range(0, len(self.answer), self.step):
                        if self.stopped.is_set() or time.monotonic() - started > TRICKLE_FOR:
                            return
                        connection.sendall(self.answer[start:start + self.step])
                        time.sleep(self.pause)
                    return
            except OSError:
                return

    def close(self):
        self.stopped.set()
        self.listener.close()


def _long_headers() -> bytes:
    lines = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 20) for i in range(60))
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + lines + b"Content-Length: 2\r\n\r\n[]"


def _slow_body() -> bytes:
    body = json.dumps({"current_page": 1, "last_page": 1, "per_page": 100, "total": 0, "data": [],
                       "filler": "z" * 400}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body


TRICKLES = {
    "headers one byte at a time": (_long_headers(), 1, 0.2),
    "the status line one byte at a time": (b"HTTP/1.1 200 OK\r\n" * 100, 1, 0.3),
    "the body a few bytes at a time": (_slow_body(), 4, 0.2),
}


@pytest.fixture
def trickler():
    servers = []

    def start(*args, **kwargs):
        server = Trickler(*args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("case", sorted(TRICKLES))
def test_a_trickling_answer_is_cut_at_the_deadline_of_the_whole_exchange(trickler, case):
    answer, step, pause = TRICKLES[case]
    server = trickler(answer, step, pause)
    client = PlatformClient(server.url, "tok", retry=RetryPolicy(max_attempts=1, timeout=1.0))
    started = time.monotonic()
    with pytest.raises(TransportError, match="within --request-timeout 1s"):
        client.list_assistants()
    client.close()
    # Each byte came well within the 1 s per-read timeout: only the whole-exchange deadline ends it this soon.
    assert time.monotonic() - started < TRICKLE_FOR / 2


def test_a_create_cut_at_the_deadline_is_not_sent_twice(trickler):
    server = trickler(_long_headers(), 1, 0.2, catalogue_ok=False)
    client = PlatformClient(server.url, "tok", retry=RetryPolicy(max_attempts=5, timeout=1.0, backoff_base=0.01))
    with pytest.raises(TransportError):
        client.create_assistant({"assistant_name": "x"})
    client.close()
    assert sum(request.startswith(b"POST") for request in server.requests) == 1  # its outcome is unknown


@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve")])
def test_the_cli_ends_a_trickling_platform_with_a_clear_error_and_no_write(tmp_path, trickler, command):
    server = trickler(_long_headers(), 1, 0.2)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a", voice_id=1))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    started = time.monotonic()
    try:
        result = CliRunner().invoke(cli, [*command, f"--api-url={server.url}", "--rate-limit=off", "--max-retries=1",
                                          "--request-timeout=1s"], env={"PROVISIONER_API_TOKEN": "tok"})
    finally:
        os.chdir(cwd)
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "--request-timeout 1s" in output and "Traceback" not in output
    assert not any(request.startswith((b"POST", b"PUT", b"DELETE")) for request in server.requests)
    assert time.monotonic() - started < TRICKLE_FOR / 2


# --- pages that declare their own size ---

def _platform(count: int, size: int, *, tamper=None):
    """A platform with `count` assistants that pages by `size` whatever is asked; `tamper(page_dict, number)`
    may change a page."""
    items = [{"id": i + 1, "name": f"A{i + 1}"} for i in range(count)]
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", "1"))
        asked.append((number, int(request.url.params["per_page"])))
        data = items[(number - 1) * size:number * size]
        page = {"current_page": number, "last_page": max(1, math.ceil(count / size)), "per_page": size,
                "total": count, "from": (number - 1) * size + 1 if data else None,
                "to": (number - 1) * size + len(data) if data else None, "data": data}
        if tamper:
            tamper(page, number)
        return httpx.Response(200, json=page)

    client = PlatformClient("http://platform.test", "tok", transport=httpx.MockTransport(handler),
                            retry=RetryPolicy(max_attempts=1), sleep=lambda s: None)
    return client, asked


@pytest.mark.parametrize("count, size", [(12, 5), (5, 5), (0, 5), (1, 1), (101, 7), (250, 100), (3, 200)])
def test_a_consistent_page_is_read_by_the_size_it_declares(count, size):
    client, asked = _platform(count, size)
    items = client.list_assistants()
    assert [item["id"] for item in items] == list(range(1, count + 1))
    assert sorted(number for number, _ in asked) == list(range(1, max(1, math.ceil(count / size)) + 1))


def _set(key, value, on_page=1):
    def tamper(page, number):
        if number == on_page:
            page[key] = value
    return tamper


def _drop_item(page, number):
    if number == 1:
        page["data"] = page["data"][:-1]


SELF_CONTRADICTING = {
    "last page disagrees with its own size": (_set("last_page", 2), "'last_page' is 2"),
    "fewer items than its size": (_drop_item, "items where"),
    "per_page zero": (_set("per_page", 0), "'per_page' is 0"),
    "per_page as text": (_set("per_page", "5"), "'per_page' is 5"),
    "per_page a float": (_set("per_page", 5.0), "'per_page' is 5.0"),
    "per_page true": (_set("per_page", True), "'per_page' is True"),
    "per_page negative": (_set("per_page", -5), "'per_page' is -5"),
    "from disagrees": (_set("from", 2), "'from' is 2"),
    "to disagrees": (_set("to", 4), "'to' is 4"),
    "current page disagrees": (_set("current_page", 1, on_page=2), "'current_page' 1"),
    "page size changes between pages": (_set("per_page", 6, on_page=2), "not a valid page|page size changed"),
}


@pytest.mark.parametrize("case", sorted(SELF_CONTRADICTING))
def test_a_page_that_contradicts_itself_is_refused(case):
    tamper, message = SELF_CONTRADICTING[case]
    client, _ = _platform(12, 5, tamper=tamper)
    with pytest.raises(ApiError, match=message):
        client.list_assistants()
