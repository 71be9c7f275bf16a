"""uvicorn's HTTP protocol (httptools), stamping every request with the time it arrived, and writing an answer's
head and body together.

The platform's latency is counted from a request's arrival (Platform._answer_at). The handler starts later by
however long the request waited for the event loop behind the others that arrived with it (ten creates in
flight: up to nine handlers' work), which a real platform serving requests side by side does not add to its
answer time. The parser's first callback for a request is its arrival.

uvicorn writes an answer's head when the application starts it and its body when the application sends it: two
writes, two TCP segments a moment apart (TCP_NODELAY), so a client woke for the head, then again for the body. A
real platform's web server (nginx in front of the application, TLS) sends a small answer's head and body in one
piece. The emulator does too, so that what a client costs against it (scripts/benchmark.py) is what it costs
against the platform: the head is held until the body's first bytes, or until the answer ends without any.
"""
from __future__ import annotations

import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

ARRIVED = "emulator.arrived"  # the scope key of a request's arrival (time.monotonic())


class EmulatorProtocol(HttpToolsProtocol):
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[ARRIVED] = time.monotonic()  # type: ignore[literal-required]

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # makes this request's cycle (queued behind another if pipelined)
        cycle = self.cycle
        if cycle is None or isinstance(cycle.transport, HeadWithBody):
            return
        transport = cycle.transport = HeadWithBody(cycle.transport)
        send = cycle.send

        async def send_head_with_body(message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                transport.hold_next = True  # the head's write, made by this send
                try:
                    await send(message)
                finally:
                    transport.hold_next = False
                return
            await send(message)
            if not message.get("more_body", False):
                transport.flush()  # an answer without a body write (HEAD, 204): its head

        cycle.send = send_head_with_body


class HeadWithBody:
    """One answer's transport: the write that follows `hold_next` (the head) is held and goes out with the next
    one (the body's first bytes), or on `flush` or `close`. Every other write (a 100 Continue) goes out at once."""

    def __init__(self, transport):
        self._transport = transport
        self.hold_next = False
        self.held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self.hold_next:
            self.hold_next, self.held = False, data
            return
        if self.held is not None:
            data, self.held = self.held + data, None
        self._transport.write(data)

    def flush(self) -> None:
        if self.held is not None:
            held, self.held = self.held, None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name):  # is_closing, get_extra_info, ...: the transport's own
        return getattr(self._transport, name)
