#!/usr/bin/env python3
"""What the apply's threads cost per request: the same requests made by N threads through the client's HTTP/1.1
exchange (provisioner/http11.py, as the apply's workers make them), and by one thread driving N non-blocking
connections with select.epoll (what an event loop would do). Prints the CPU per request of each.

    python scripts/threads_vs_loop.py [--requests 5000] [--connections 10] [--latency-ms 20] [--busy 2]

`provisioner emulator` answers on loopback after --latency-ms; each way runs in a process of its own, so its
CPU (user + system, from os.wait4) is its own. The request is the smallest read (GET of the languages
catalogue), so what is measured is the exchange and the threads around it, not the work of a change.
"""
from __future__ import annotations

import argparse
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark import TOKEN, free_port, start_busy_loops  # noqa: E402

PATH = "/user/assistants/languages"


def client_for(api_url: str, connections: int):
    """The client's HTTP/1.1 connections (http11.Http11), as PlatformClient sets them up for the apply."""
    from provisioner import http11

    return http11.Http11(api_url, {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}, connections)


def by_threads(api_url: str, connections: int, requests: int) -> None:
    client = client_for(api_url, connections)

    def work(count: int) -> None:
        for _ in range(count):
            status, _, _ = client.exchange("GET", PATH, None, None, 30, 10**7)
            if status != 200:
                raise SystemExit(f"GET {PATH} answered {status}")

    threads = [threading.Thread(target=work, args=(requests // connections,)) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def by_one_loop(api_url: str, connections: int, requests: int) -> None:
    """Keep `connections` requests in flight on keep-alive sockets, one thread, one epoll; answers are framed by
    Content-Length (what the emulator sends)."""
    from provisioner.http11 import header_fields

    client = client_for(api_url, connections)
    request = client.request_bytes("GET", client.prefix + PATH, None)
    poller = select.epoll()
    buffers: dict[int, tuple[socket.socket, bytearray]] = {}
    to_send, in_flight = requests, 0
    for _ in range(connections):
        sock = socket.create_connection((client.host, client.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        buffers[sock.fileno()] = (sock, bytearray())
        poller.register(sock.fileno(), select.EPOLLIN)
        sock.send(request)
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
            if head[0].split()[1] != "200":
                raise SystemExit(f"GET {PATH} answered {head[0]}")
            del buffer[:end + 4 + length]
            in_flight -= 1
            if to_send:
                sock.send(request)
                to_send, in_flight = to_send - 1, in_flight + 1


def measure(way: str, api_url: str, connections: int, requests: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one way's requests, in a process of its own (its start and imports not
    counted: the child measures its own CPU around the requests)."""
    done = subprocess.run([sys.executable, __file__, "--run", way, "--api-url", api_url, "--connections",
                           str(connections), "--requests", str(requests)], capture_output=True, text=True)
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
    parser.add_argument("--run", choices=["threads", "loop"], help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run:
        import provisioner.http11  # noqa: F401 - imported before the clock starts

        cpu, wall = time.process_time(), time.perf_counter()
        (by_threads if options.run == "threads" else by_one_loop)(options.api_url, options.connections,
                                                                 options.requests)
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
        measure("loop", api_url, options.connections, 100)  # warm: first imports, first connections
        print(f"{options.requests} requests, {options.connections} at a time, {options.latency_ms:g} ms latency, "
              f"{options.busy} busy loop(s) beside it")
        for _ in range(options.rounds):
            for way in ("threads", "loop"):
                cpu, wall = measure(way, api_url, options.connections, options.requests)
                label = f"{options.connections} threads" if way == "threads" else "one epoll loop"
                print(f"  {label:<16} {cpu / options.requests * 1e6:6.0f} µs of CPU per request ({wall:.1f} s)")
    finally:
        for loop in busy:
            loop.kill()
        emulator.terminate()
        emulator.wait()


if __name__ == "__main__":
    main()
