"""The write path's fast paths each give what the slower path they skip gives: http11's head checks, its idle
connection check and its bound on connections in use, the write gate, the walk's workers and graph, resolve_refs."""
from __future__ import annotations

import select
import socket
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from provisioner import http11
from provisioner.apply import WriteGate


def test_header_fields_of_a_real_answer_and_of_a_repeated_name():
    lines = ["HTTP/1.1 201 Created", "date: Sun, 06 Dec 2026 11:32:57 GMT", "server: uvicorn",
             "content-length: 131", "Content-Type: application/json ", "x-ratelimit-remaining: 0"]
    assert http11.header_fields(lines) == {
        "date": "Sun, 06 Dec 2026 11:32:57 GMT", "server": "uvicorn", "content-length": "131",
        "content-type": "application/json", "x-ratelimit-remaining": "0"}
    assert http11.header_fields(["HTTP/1.1 200 OK", "A: 1", "a: 2"]) == {"a": "1"}  # the first one
    assert http11.header_fields(["HTTP/1.1 200 OK"]) == {}
    with pytest.raises(http11.Broken):
        http11.header_fields(["HTTP/1.1 200 OK", "no colon"])


def test_a_line_longer_than_the_bound_is_refused_in_a_long_head_only():
    """read_head looks at each line's length only when the whole head is longer than one line may be."""
    from provisioner.http11 import MAX_LINE

    class _Sock:
        def __init__(self, data):
            self.data = [data]

        def recv(self, size):
            return self.data.pop(0) if self.data else b""

    def head(*lines: bytes) -> http11.Answer:
        connection = http11.Connection(_Sock(b"\r\n".join(lines) + b"\r\n\r\n"))
        connection.deadline = float("inf")
        return http11.read_head(connection, "GET")

    assert head(b"HTTP/1.1 200 OK", b"a: " + b"x" * (MAX_LINE - 3)).headers["a"] == "x" * (MAX_LINE - 3)
    with pytest.raises(http11.Broken) as caught:
        head(b"HTTP/1.1 200 OK", b"a: " + b"x" * (MAX_LINE - 2))
    assert caught.value.args == ("LineTooLong",)
    assert head(b"HTTP/1.1 200 OK", *[b"h%d: " % i + b"x" * 1000 for i in range(60)]).headers["h59"] == "x" * 1000


def _pair():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    server.close()
    client.setblocking(False)
    return client, peer


def _polled(sock: socket.socket) -> http11.Connection:
    """A connection that has waited once (its poll object made), as one back in the pool has."""
    connection = http11.Connection(sock)
    connection.deadline = time.monotonic() + 5
    connection._wait(select.POLLOUT)
    return connection


def test_an_idle_connection_is_told_closed_as_the_peek_tells_it():
    client, peer = _pair()
    try:
        connection = _polled(client)
        assert not http11._idle_closed(connection) and not http11._readable(client)  # idle and fine
        peer.sendall(b"x")  # bytes nobody asked for
        time.sleep(0.05)
        assert http11._idle_closed(connection) and http11._readable(client)
    finally:
        client.close()
        peer.close()
    client, peer = _pair()
    try:
        connection = _polled(client)
        peer.close()  # the server closed it
        time.sleep(0.05)
        assert http11._idle_closed(connection) and http11._readable(client)
    finally:
        client.close()
    client, peer = _pair()
    try:
        connection = http11.Connection(client)  # never waited: the peek itself
        assert not http11._idle_closed(connection)
        client.close()
        assert http11._idle_closed(connection)  # a closed socket is not reusable either way
    finally:
        peer.close()


def test_a_lookup_waits_for_the_writes_in_flight_and_holds_new_ones_back():
    gate = WriteGate()
    order: list[str] = []
    first_write = gate.write()
    first_write.__enter__()
    reader_in = threading.Event()

    def reader():
        with gate.quiet():
            order.append("read")
            reader_in.set()
            time.sleep(0.1)
        order.append("read done")

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.1)
    assert not reader_in.is_set()  # a write is in flight

    def writer():
        with gate.write():
            order.append("second write")

    second = threading.Thread(target=writer)
    second.start()
    time.sleep(0.05)
    order.append("first write done")
    first_write.__exit__(None, None, None)
    thread.join(5)
    second.join(5)
    assert order == ["first write done", "read", "read done", "second write"]
    with gate.write(), gate.write():  # writes run side by side
        pass
    with gate.quiet():
        pass


def test_a_request_waits_for_a_free_connection_within_its_deadline_only():
    pool = http11.Http11("http://127.0.0.1:9", {}, max_connections=1)
    pool._slots.get()  # the one connection is in use
    began = time.monotonic()
    with pytest.raises(http11.ConnectFailed) as caught:
        pool.exchange("GET", "/x", None, None, 0.2, 1000)
    assert caught.value.args == ("PoolTimeout",) and 0.15 <= time.monotonic() - began < 2
    with pytest.raises(http11.ConnectFailed) as caught:
        pool.exchange("GET", "/x", None, None, 0.0, 1000)  # no time left: no wait at all
    assert caught.value.args == ("PoolTimeout",)
    pool._slots.put(None)
    with pytest.raises(http11.ConnectFailed) as caught:  # now it may connect (nothing listens there)
        pool.exchange("GET", "/x", None, None, 2.0, 1000)
    assert caught.value.args == ("ConnectError",)
    assert pool._slots.qsize() == 1  # the token is back, whatever the exchange did


_COUNTING = threading.Lock()


class _counted:
    """Counts a call in `running` ([now, most]) while it runs."""

    def __init__(self, running: list[int]):
        self.running = running

    def __enter__(self):
        with _COUNTING:
            self.running[0] += 1
            self.running[1] = max(self.running)

    def __exit__(self, *exc):
        with _COUNTING:
            self.running[0] -= 1


def test_workers_run_calls_as_a_thread_pool_does():
    """walk.Workers against ThreadPoolExecutor: results, exceptions, at most `count` at once, cancel before start,
    shutdown running what was submitted, no call after shutdown."""
    from concurrent.futures import ThreadPoolExecutor

    from provisioner.walk import Workers

    def outcomes(pool) -> list:
        running = [0, 0]  # now, most
        release = threading.Event()

        def call(n):
            with _counted(running):
                release.wait(5)
            if n % 5 == 0:
                raise ValueError(n)
            return n * 2

        with pool:
            futures = [pool.submit(call, n) for n in range(20)]
            cancelled = futures[-1].cancel()  # still queued behind the first three
            time.sleep(0.1)
            release.set()
        after = []
        try:
            pool.submit(call, 1)
        except RuntimeError:
            after.append("refused")
        seen = [("cancelled",) if f.cancelled() else ("error", f.exception().args) if f.exception() else
                ("ok", f.result()) for f in futures]
        return [seen, cancelled, running[1], after]

    assert outcomes(Workers(3, thread_name_prefix="t")) == outcomes(ThreadPoolExecutor(3))
    workers = Workers(2)
    gate = threading.Event()
    first = workers.submit(gate.wait, 5)
    while not first.running():
        time.sleep(0.01)
    queued = [workers.submit(lambda: 1) for _ in range(3)]
    workers.shutdown(wait=False, cancel_futures=True)
    gate.set()
    workers.shutdown()
    assert first.result() is True and all(f.cancelled() or f.result() == 1 for f in queued)


def _plan_changes(spec):
    """Changes from (kind, action, depends_on indexes) triples: tools and assistants created or updated."""
    from provisioner.plan import Action, Change

    addresses = [f"tool.t{i}" if kind == "tool" else f"a{i}" for i, (kind, _, _) in enumerate(spec)]
    return [Change(address=addresses[i], action=Action.CREATE if create else Action.UPDATE, assistant_name=f"n{i}",
                   kind=kind, remote_id=None if create else 100 + i,
                   depends_on=[("assistant." + addresses[j] if kind_j == "assistant" and i % 2 else addresses[j])
                               for j in sorted(set(deps)) if j < i
                               for kind_j in [spec[j][0]]])
            for i, (kind, create, deps) in enumerate(spec)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["tool", "assistant"]), st.booleans(),
                          st.lists(st.integers(0, 7), max_size=3)), min_size=1, max_size=8),
       st.dictionaries(st.integers(0, 7), st.lists(st.integers(0, 7), max_size=2), max_size=4))
def test_a_graph_without_destructions_is_the_one_built_with_the_index_rule_2_reads(spec, recorded_by_index):
    """build_graph skips who-points-at-what (rule 2's index) when the plan destroys and withdraws nothing. The same
    plan with one unrelated delete of another kind appended (which makes it build the index, and whose barrier only
    orders labels) gives the same graph for its own steps."""
    from provisioner.plan import Action, Change
    from provisioner.walk import build_graph

    changes = _plan_changes(spec)
    lookup_calls: list[str] = []
    recorded = {changes[i].address if changes[i].kind == "assistant" else changes[i].address:
                [changes[j].address for j in targets if j < len(changes)]
                for i, targets in recorded_by_index.items() if i < len(changes)}

    def looked_up(address):
        lookup_calls.append(address)
        return recorded.get(address, ())

    fast = build_graph(changes, looked_up, lambda c: True, lambda c: False)
    assert lookup_calls == []  # the recorded past was not needed
    unrelated = Change(address="label.gone", action=Action.DELETE, assistant_name="gone", kind="label", remote_id=9)
    slow = build_graph([*changes, unrelated], looked_up, lambda c: True, lambda c: False)
    count = len(changes)
    assert fast.steps == slow.steps[:count] and fast.parts == slow.parts[:count]
    assert fast.problems == slow.problems
    assert [sorted(s) for s in fast.successors] == [sorted(a for a in s if a < count) for s in slow.successors[:count]]
    assert fast.waits_for == slow.waits_for[:count]


def _resolve_by_call(value, id_of):
    """resolve_refs as it was: one call per value."""
    if isinstance(value, dict):
        if len(value) == 1 and "$ref" in value and isinstance(value["$ref"], str):
            return id_of(value["$ref"])
        return {key: _resolve_by_call(item, id_of) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_by_call(item, id_of) for item in value]
    return value


class _Dict(dict):
    pass


_MARKER = st.sampled_from(["tool.a", "label.b", "c"]).map(lambda a: {"$ref": a})
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5), _MARKER,
              st.just({"$ref": 5}), st.just({"$ref": "x", "other": 1})),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3).map(_Dict)),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_resolve_refs_resolves_as_one_call_per_value_did(value):
    from provisioner.apply import resolve_refs

    ids = {"tool.a": 1, "label.b": 2, "c": 3}
    resolved = resolve_refs(value, ids.__getitem__)
    assert resolved == _resolve_by_call(value, ids.__getitem__)
    if isinstance(value, (dict, list)) and not (isinstance(value, dict) and "$ref" in value and len(value) == 1):
        assert resolved is not value  # containers are new ones, as before


def test_a_call_is_read_and_waited_for_as_a_future_is():
    from concurrent.futures import CancelledError, ThreadPoolExecutor, TimeoutError as FuturesTimeout

    from provisioner.walk import Workers

    def story(pool) -> list:
        said: list = []
        gate = threading.Event()
        with pool:
            slow = pool.submit(gate.wait, 5)
            while not slow.running():
                time.sleep(0.01)
            try:
                slow.result(timeout=0.05)
            except FuturesTimeout:
                said.append("timeout")
            said.append(("cancel running", slow.cancel(), slow.done()))
            threading.Timer(0.1, gate.set).start()
            said.append(("waited", slow.result()))  # blocks until the call ends
            failing = pool.submit(lambda: 1 / 0)
            said.append(("error", type(failing.exception()).__name__))
            try:
                failing.result()
            except ZeroDivisionError:
                said.append("raised")
            seen = []
            failing.add_done_callback(lambda f: seen.append("late callback"))  # done already: called at once
            said.append(seen)
            hold = threading.Event()
            held = pool.submit(hold.wait, 5)
            held.add_done_callback(lambda f: 1 / 0)  # logged; the worker goes on
            hold.set()
            said.append(("after a failing callback", held.result(), pool.submit(lambda: 7).result()))
        queued_pool = pool.__class__(1)
        with queued_pool:
            blocker = threading.Event()
            first = queued_pool.submit(blocker.wait, 5)
            queued = queued_pool.submit(lambda: "never")
            called = []
            queued.add_done_callback(lambda f: called.append(f.cancelled()))
            said.append(("cancel queued", queued.cancel(), queued.cancel(), queued.cancelled(), called))
            try:
                queued.result()
            except CancelledError:
                said.append("cancelled error")
            blocker.set()
            said.append(first.result())
        return said

    assert story(Workers(2)) == story(ThreadPoolExecutor(2))


def test_a_callback_added_to_a_finished_call_runs_at_once_and_its_error_is_logged_as_a_futures_is(caplog):
    """concurrent.futures runs a callback added after the end at once and logs what it raises: the caller
    adding it goes on. Workers' Call must do the same (it raised into the caller instead)."""
    from concurrent.futures import ThreadPoolExecutor

    from provisioner.walk import Workers

    def story(pool) -> list:
        with pool:
            done = pool.submit(lambda: 7)
            done.result()
        seen = []

        def failing(call):
            seen.append(call.result())
            raise RuntimeError("a callback's own bug")

        caplog.clear()
        done.add_done_callback(failing)  # must not raise
        return [seen, [r.name for r in caplog.records if "exception calling callback" in r.getMessage()]]

    assert story(Workers(1)) == story(ThreadPoolExecutor(1)) == [[7], ["concurrent.futures"]]
