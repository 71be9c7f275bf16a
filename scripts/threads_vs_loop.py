#!/usr/bin/env python3
"""What the apply's threads cost per request: the same requests made by N threads through the client's HTTP/1.1
exchange (provisioner/http11.py, as the apply's workers make them), and by one thread driving N non-blocking
connections with select.epoll (what an event loop would do). Prints the CPU per request of each.

    python scripts/threads_vs_loop.py [--requests 5000] [--connections 10] [--latency-ms 20] [--busy 2] [--creates]

`provisioner emulator` answers on loopback after --latency-ms; each way runs in a process of its own, so its
CPU (user + system, from os.wait4) is its own. The request is the smallest read (GET of the languages
catalogue), so what is measured is the exchange and the threads around it, not the work of a change.

`--creates` makes each request the least a create must do instead: a JSON body of its own (a small benchmark
assistant's, v1 dialect) POSTed, the answer's JSON read, and a row per answer committed to a SQLite file (WAL,
synchronous=FULL, as the state store) by a committer thread, twice --connections rows a transaction (as apply
groups them). No plan, no checks, no result line: the CPU a create cannot go below in CPython, either way, so
that the apply's CPU per create can be set beside what any client of this shape would pay.
"""
from __future__ import annotations

import argparse
import itertools
import json
import queue
import select
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark import TOKEN, free_port, start_busy_loops  # noqa: E402

PATH = "/user/assistants/languages"
CREATE_PATH = "/user/assistant"


class Creates:
    """`--creates`: each request a create's least work. `body()` gives the next create's body (sent as JSON by
    the client's exchange, or its request_bytes for the loop), `answered(body)` reads the answer's JSON and
    queues its row, which a committer thread commits in groups of `group` to a SQLite file, fsync'd; `close()`
    waits for the last commit."""

    def __init__(self, group: int, folder: str):
        self.group = group
        self.numbers = itertools.count()
        self.rows: queue.SimpleQueue = queue.SimpleQueue()
        self.store = sqlite3.connect(Path(folder) / "state.db", check_same_thread=False, isolation_level=None)
        self.store.execute("PRAGMA journal_mode=WAL")
        self.store.execute("PRAGMA synchronous=FULL")
        self.store.execute("CREATE TABLE resources (address TEXT PRIMARY KEY, id INTEGER, record TEXT)")
        self.committer = threading.Thread(target=self._commit)
        self.committer.start()

    def body(self) -> dict:
        n = next(self.numbers)
        return {"assistant_name": f"floor-{n}", "voice_id": 1 + n % 4, "language": "English", "llm_model": "gpt-4o",
                "calls_direction": "make", "engine_type": "pipeline", "timezone": "Europe/London",
                "initial_message": "Hello!", "system_prompt": "Be helpful.", "variables": {"n": str(n)},
                "speech_speed": 1.1}

    def answered(self, body: bytes) -> None:
        data = json.loads(body)["data"]
        self.rows.put((f"assistant.{data['name']}", data["id"], json.dumps(data)))

    def _commit(self) -> None:
        ended = False
        while not ended:
            batch = []
            while len(batch) < self.group:
                row = self.rows.get()
                if row is None:
                    ended = True
                    break
                batch.append(row)
            if batch:
                self.store.execute("BEGIN")
                self.store.executemany("INSERT INTO resources VALUES (?, ?, ?)", batch)
                self.store.execute("COMMIT")

    def close(self) -> None:
        self.rows.put(None)
        self.committer.join()
        self.store.close()


def client_for(api_url: str, connections: int):
    """The client's HTTP/1.1 connections (http11.Http11), as PlatformClient sets them up for the apply."""
    from provisioner import http11

    return http11.Http11(api_url, {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}, connections)


def by_threads(api_url: str, connections: int, requests: int, creates: Creates | None = None) -> None:
    client = client_for(api_url, connections)

    def work(count: int) -> None:
        for _ in range(count):
            if creates is None:
                status, _, _ = client.exchange("GET", PATH, None, None, 30, 10**7)
                if status != 200:
                    raise SystemExit(f"GET {PATH} answered {status}")
                continue
            status, _, body = client.exchange("POST", CREATE_PATH, None, creates.body(), 30, 10**7)
            if status != 201:
                raise SystemExit(f"POST {CREATE_PATH} answered {status}: {body[:200]!r}")
            creates.answered(body)

    threads = [threading.Thread(target=work, args=(requests // connections,)) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def by_one_loop(api_url: str, connections: int, requests: int, creates: Creates | None = None) -> None:
    """Keep `connections` requests in flight on keep-alive sockets, one thread, one epoll; answers are framed by
    Content-Length (what the emulator sends)."""
    from provisioner import json_text
    from provisioner.http11 import header_fields

    client = client_for(api_url, connections)
    fixed = client.request_bytes("GET", client.prefix + PATH, None)
    expected = "200" if creates is None else "201"

    def request() -> bytes:
        if creates is None:
            return fixed
        return client.request_bytes("POST", client.prefix + CREATE_PATH, json_text.body(creates.body()))

    poller = select.epoll()
    buffers: dict[int, tuple[socket.socket, bytearray]] = {}
    to_send, in_flight = requests, 0
    for _ in range(connections):
        sock = socket.create_connection((client.host, client.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        buffers[sock.fileno()] = (sock, bytearray())
        poller.register(sock.fileno(), select.EPOLLIN)
        sock.send(request())
        to_send, in_flight = to_send - 1, in_flight + 1
    while in_flight:
        for fd, _ in poller.poll(30):
            sock, buffer = buffers[fd]
            buffer += sock.recv(65536)
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            length = int(header_fields(head).get("content-length", 0))
            if len(buffer) < end + 4 + length:
                continue
            if head[0].split()[1] != expected:
                raise SystemExit(f"{'GET' if creates is None else 'POST'} answered {head[0]}")
            if creates is not None:
                creates.answered(bytes(buffer[end + 4:end + 4 + length]))
            del buffer[:end + 4 + length]
            in_flight -= 1
            if to_send:
                sock.send(request())
                to_send, in_flight = to_send - 1, in_flight + 1


def measure(way: str, api_url: str, connections: int, requests: int, creates: bool) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one way's requests, in a process of its own (its start and imports not
    counted: the child measures its own CPU around the requests)."""
    done = subprocess.run([sys.executable, __file__, "--run", way, "--api-url", api_url, "--connections",
                           str(connections), "--requests", str(requests), *(["--creates"] if creates else [])],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{way} failed: {done.stderr[-2000:]}")
    cpu, wall = done.stdout.split()
    return float(cpu), float(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--busy", type=int, default=0, metavar="N", help="N busy loops beside it (shared cores)")
    parser.add_argument("--rounds", type=int, default=2, help="each way this many times, alternately")
    parser.add_argument("--creates", action="store_true",
                        help="each request a create's least work: a JSON body, the answer read, a SQLite commit")
    parser.add_argument("--run", choices=["threads", "loop"], help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run:
        import provisioner.http11  # noqa: F401 - imported before the clock starts
        import provisioner.json_text  # noqa: F401

        with tempfile.TemporaryDirectory() as folder:
            creates = Creates(2 * options.connections, folder) if options.creates else None
            cpu, wall = time.process_time(), time.perf_counter()
            (by_threads if options.run == "threads" else by_one_loop)(options.api_url, options.connections,
                                                                     options.requests, creates)
            if creates is not None:
                creates.close()
            print(time.process_time() - cpu, time.perf_counter() - wall)
        return
    port = free_port()
    emulator = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "--port", str(port),
                                 "--latency-ms", str(options.latency_ms), "--rate-limit", "off"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    busy = start_busy_loops(options.busy)
    try:
        api_url = f"http://127.0.0.1:{port}/api"
        for _ in range(100):  # until it answers
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        measure("loop", api_url, options.connections, 100, False)  # warm: first imports, first connections
        print(f"{options.requests} {'creates' if options.creates else 'requests'}, {options.connections} at a time, "
              f"{options.latency_ms:g} ms latency, {options.busy} busy loop(s) beside it")
        for _ in range(options.rounds):
            for way in ("threads", "loop"):
                cpu, wall = measure(way, api_url, options.connections, options.requests, options.creates)
                label = f"{options.connections} threads" if way == "threads" else "one epoll loop"
                print(f"  {label:<16} {cpu / options.requests * 1e6:6.0f} µs of CPU per request ({wall:.1f} s)")
    finally:
        for loop in busy:
            loop.kill()
        emulator.terminate()
        emulator.wait()


if __name__ == "__main__":
    main()
