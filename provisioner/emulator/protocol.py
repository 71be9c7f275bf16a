"""uvicorn's HTTP protocol (httptools), stamping every request with the time it arrived.

The platform's latency is counted from a request's arrival (Platform._answer_at). The handler starts later by
however long the request waited for the event loop behind the others that arrived with it (ten creates in
flight: up to nine handlers' work), which a real platform serving requests side by side does not add to its
answer time. The parser's first callback for a request is its arrival.
"""
from __future__ import annotations

import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

ARRIVED = "emulator.arrived"  # the scope key of a request's arrival (time.monotonic())


class EmulatorProtocol(HttpToolsProtocol):
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[ARRIVED] = time.monotonic()  # type: ignore[literal-required]
