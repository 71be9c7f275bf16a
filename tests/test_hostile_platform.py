"""A platform that misbehaves: every run ends in bounded time, with a clear error, and decides nothing from a
doubtful read (no create, no state change).

The server here is a real HTTP server on loopback that answers the catalogues properly and the list (or a
write) the way a broken or hostile platform might: HTML, truncated JSON, a page without data, pages that lie,
a body that trickles in, absurd Retry-After values, a body larger than the cap.
"""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from provisioner.cli import cli
from conftest import manifest_text

CATALOGUES = {
    "/api/user/assistants/languages": [{"id": 1, "name": "English", "iso_2": "en"}],
    "/api/user/assistants/voices": [{"id": 1, "name": "Sarah"}],
    "/api/user/assistants/models": [{"id": 11, "name": "gpt-4o"}],
    "/api/user/assistants/phone-numbers": [],
}
SECRET_TOKEN = "tok-very-secret-123"


class Hostile:
    def __init__(self):
        self.list_answer = None  # callable(handler, page) -> None, writes the answer
        self.writes = []
        self.lock = threading.Lock()

    def page(self, items, total=None, last_page=None, page=1):
        total = len(items) if total is None else total
        return {"current_page": page, "last_page": last_page or max(1, -(-total // 100)), "per_page": 100,
                "total": total, "data": items}


def _handler(state: Hostile):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, body: bytes, headers=()):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path in CATALOGUES:
                return self.send(200, json.dumps(CATALOGUES[url.path]).encode())
            if url.path == "/api/user/assistants/get":
                page = int(parse_qs(url.query).get("page", ["1"])[0])
                return state.list_answer(self, page)
            self.send(404, b'{"message": "no route"}')

        def do_POST(self):
            with state.lock:
                state.writes.append(self.path)
            self.send(201, b'{"message": "Assistant created successfully", "data": {"id": 5}}')

        do_PUT = do_DELETE = do_POST

    return Handler


@pytest.fixture
def hostile():
    state = Hostile()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    # A client that hangs up on a trickling answer is the point of some cases: no traceback on stderr (the CLI's
    # captured output would show it).
    server.handle_error = lambda request, client_address: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    yield state
    server.shutdown()


def run(tmp_path, hostile, *args):
    (tmp_path / "manifests").mkdir(exist_ok=True)
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a", voice_id=1))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    started = time.monotonic()
    try:
        result = CliRunner().invoke(cli, [*args, f"--api-url={hostile.url}", "--rate-limit=off", "--max-retries=2",
                                          "--retry-backoff=0.01s", "--request-timeout=2s", "--retry-max-time=20s"],
                                    env={"PROVISIONER_API_TOKEN": SECRET_TOKEN}, catch_exceptions=True)
    finally:
        os.chdir(cwd)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output and SECRET_TOKEN not in output
    return result.exit_code, output, seconds


def raw(body: bytes, status=200, headers=()):
    return lambda handler, page: handler.send(status, body, headers)


def trickle(handler, page):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(30):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.5)
    except OSError:
        pass


def huge(handler, page):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(200 * 1024 * 1024))
    handler.end_headers()
    try:
        handler.wfile.write(b"[" * 1024)
    except OSError:
        pass


ONE = [{"id": 1, "name": "Other"}]
CASES = {
    "html": raw(b"<html><body>Maintenance</body></html>"),
    "truncated json": raw(b'{"current_page": 1, "data": [{"id": 1, "na'),
    "no data": raw(b'{"current_page": 1, "last_page": 1, "total": 0}'),
    "data not a list": raw(b'{"current_page": 1, "last_page": 1, "total": 0, "data": {}}'),
    "total disagrees with items": raw(json.dumps(Hostile().page(ONE, total=5)).encode()),
    "last_page lies": raw(json.dumps(Hostile().page([], total=250, last_page=1)).encode()),
    "last_page a million": raw(json.dumps(Hostile().page(ONE, total=1, last_page=1_000_000)).encode()),
    "total a billion": raw(json.dumps(Hostile().page(ONE, total=10**9, last_page=10**7)).encode()),
    "non-integer ids": raw(json.dumps(Hostile().page([{"id": "1", "name": "x"}])).encode()),
    "an array": raw(b"[]"),
    "retry-after 100000": raw(b'{"message": "slow down"}', 429, [("Retry-After", "100000")]),
    "retry-after inf": raw(b'{"message": "slow down", "retry_after": "inf"}', 429),
    "retry_after huge in body": raw(b'{"error": "Rate limit exceeded", "retry_after": 1e308}', 429),
    "trickle": trickle,
    "larger than the cap": huge,
}


def test_a_value_that_cannot_be_read_stops_the_plan_naming_assistant_and_field(tmp_path, hostile):
    item = {"id": 7, "name": "A", "type": "outbound", "mode": "pipeline", "fillers": 7, "language_id": 1}
    hostile.list_answer = raw(json.dumps(Hostile().page([item])).encode())
    code, output, _ = run(tmp_path, hostile, "apply", "--auto-approve")
    assert code == 1 and hostile.writes == []
    assert "id 7" in output and "fillers" in output and "spec.filler_audios" in output


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve"), ("refresh",)])
def test_a_bad_list_answer_stops_the_run_and_decides_nothing(tmp_path, hostile, case, command):
    hostile.list_answer = CASES[case]
    from provisioner.state import State
    from provisioner.state.sql import open_store

    store = open_store("sqlite", tmp_path / "state" / "provisioner.db")
    if command[0] == "refresh":
        store.push(State.loads(json.dumps({
            "version": 1, "lineage": "l-1", "serial": 3,
            "resources": {"a": {"id": 1, "spec": {}, "protect": False, "sensitive": [], "remote": {}}}}), "seed"))
    def snapshot():
        state = store.read()
        return store.exists(), state.serial, state.resources, store.history()

    before = snapshot()
    code, output, seconds = run(tmp_path, hostile, *command)
    assert code == 1, output
    assert hostile.writes == []
    assert snapshot() == before
    store.close()
    assert seconds < 20, f"took {seconds:.1f}s"
