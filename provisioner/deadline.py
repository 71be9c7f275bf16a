"""One deadline for a whole HTTP exchange, connect to last byte, however slowly the bytes come.

httpx's timeouts bound each network operation alone: a platform that sends its headers one byte every two
seconds never trips a 30 s read timeout. Here every read, write and connect of a connection is given at most
the time left until the deadline of the exchange running in this thread (`exchange_deadline`), and one begun
after it fails at once, as a timeout. httpx has no hook for this; the network backend of its connection pools
(httpcore's, whose interface is public) is wrapped instead.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

import httpcore
import httpx

_current = threading.local()  # each thread runs its own exchange (the list is read by a pool of threads)


@contextlib.contextmanager
def exchange_deadline(seconds: float) -> Iterator[None]:
    """Everything this thread sends and reads in the block ends within `seconds`."""
    previous = getattr(_current, "at", None)
    _current.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _current.at = previous


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    at = getattr(_current, "at", None)
    if at is None:
        return timeout
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise expired("the exchange's deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, _left(timeout, httpcore.ConnectTimeout), local_address,
                                               socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options=None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout),
                                                       socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> int:
    """Put the deadline under every connection pool of `client` (its transport and any proxy's); how many.
    A transport given by the caller (tests' mock transports) has no pool and no network: nothing to do."""
    installed = 0
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)
            installed += 1
    return installed
