"""A loopback proxy in front of the emulator that rewrites the answers a test chooses: the platform (or a gateway
before it) misbehaving in ways the emulator's own faults do not cover. A create answered with another object's id,
a list answered as a page where API.md documents the whole list, a gateway's HTML 404.

`rewrite(method, path, status, body) -> (status, body, content_type) | None` sees every answer (`path` with its
query); None passes it on unchanged. `intercept(method, path) -> (status, body, content_type) | None` is asked
first: an answer from it is given without the request reaching the emulator (a gateway answering for a platform
that never saw the request). `edit_request(method, path, body) -> body` changes what reaches the emulator (a
platform that stores something else than it was sent). `hold_back(method, path) -> seconds | None` answers 504 at
once and delivers the request that much later (a gateway timing out on a platform still at work). `headers(method,
path) -> dict` adds headers to every answer (rate-limit headers of the test's choosing), and `clock_ahead` moves
their Date (a platform whose clock is ahead of the client's). What the emulator holds is
the truth a test checks afterwards.
"""
from __future__ import annotations

import dataclasses
import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

Rewrite = Callable[[str, str, int, bytes], "tuple[int, bytes, str] | None"]
Intercept = Callable[[str, str], "tuple[int, bytes, str] | None"]


class RewritingProxy:
    def __init__(self, upstream_url: str, rewrite: Rewrite | None = None):
        """`upstream_url`: the emulator's platform URL (http://127.0.0.1:PORT/api); `url` is the proxy's."""
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port)
        self.rewrite = rewrite
        self.intercept: Intercept | None = None
        self.edit_request: Callable[[str, str, bytes | None], bytes | None] | None = None
        # `hold_back(method, path) -> seconds | None`: seconds, and the request is answered `504` at once (a gateway
        # that gave up waiting) while it reaches the emulator only that much later (the platform still working).
        self.hold_back: Callable[[str, str], float | None] | None = None
        # True: a request hold_back delays gets no answer at all, its connection closed (a load balancer that dropped
        # it), instead of the 504.
        self.hold_back_drops = False
        # `headers(method, path) -> {name: value}`: headers added to every answer (a platform's rate-limit headers).
        self.headers: Callable[[str, str], dict[str, str]] | None = None
        # Seconds the answers' Date is ahead of this machine's clock (a platform whose clock differs from the client's).
        self.clock_ahead = 0.0
        self.seen: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.late: list[threading.Timer] = []  # the requests hold_back delayed
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{parts.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _send(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes, str]:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            upstream.request(method, path, body=body, headers=headers)
            answer = upstream.getresponse()
            return answer.status, answer.read(), answer.getheader("Content-Type", "application/json")
        finally:
            upstream.close()

    def settle(self) -> None:
        """Wait until every request `hold_back` delayed has reached the emulator."""
        for timer in self.late:
            timer.join()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "RewritingProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def date_time_string(self, timestamp=None):
                return super().date_time_string(time.time() + proxy.clock_ahead if timestamp is None else timestamp)

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                answered = proxy.intercept(self.command, self.path) if proxy.intercept else None
                if answered is not None:
                    proxy.seen.append((self.command, self.path))
                    return self._answer(*answered)
                if proxy.edit_request is not None:
                    body = proxy.edit_request(self.command, self.path, body)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "accept-encoding", "content-length")}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                delay = proxy.hold_back(self.command, self.path) if proxy.hold_back else None
                if delay is not None:
                    proxy.seen.append((self.command, self.path))
                    timer = threading.Timer(delay, proxy._send, (self.command, self.path, body, headers))
                    timer.daemon = True
                    proxy.late.append(timer)
                    timer.start()
                    if proxy.hold_back_drops:
                        self.close_connection = True  # closed with no answer once this handler returns
                        return None
                    return self._answer(504, b"<html><body>504 Gateway Time-out</body></html>", "text/html")
                status, raw, content_type = proxy._send(self.command, self.path, body, headers)
                proxy.seen.append((self.command, self.path))
                changed = proxy.rewrite(self.command, self.path, status, raw) if proxy.rewrite else None
                if changed is not None:
                    status, raw, content_type = changed
                self._answer(status, raw, content_type)

            def _answer(self, status: int, raw: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in (proxy.headers(self.command, self.path) if proxy.headers else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        return Handler


def through(workspace, proxy: RewritingProxy, *args: str):
    """`workspace.run(*args)` with the platform's URL the proxy's (the `proxy` fixture of conftest.py)."""
    honest = workspace.platform
    workspace.platform = dataclasses.replace(honest, url=proxy.url)
    try:
        return workspace.run(*args)
    finally:
        workspace.platform = honest

