"""The emulator's shortcuts, each against the slow path it skips: the remembering router against Starlette's,
the answers' encoder against JSONResponse's, the remembered texts (decimals, root URLs, paths, list items)
against working them out again, the store's remembered owners against its query, and the arrival stamp."""
import asyncio
import json
import threading
import time
from decimal import Decimal

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, example, given, settings, strategies as st
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from conftest import REQUIRED, TOKEN
from provisioner.emulator import fields as F
from provisioner.emulator.answers import JSON_TEXT, answer, laravel_page, url_path
from provisioner.emulator.app import _add_rate_headers
from provisioner.emulator.faults import Decision
from provisioner.emulator.protocol import ARRIVED, EmulatorProtocol
from provisioner.emulator.routing import RememberingRouter
from provisioner.emulator.server import build_platform
from provisioner.emulator.store import Store
from provisioner.emulator.validation import _blank_to_null

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10)


def _scope(method: str = "GET", path: str = "/api/user/assistants/get", query: bytes = b"",
           headers: list | None = None, server=("127.0.0.1", 8787), scheme: str = "http") -> dict:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "scheme": scheme, "server": server, "client": ("127.0.0.1", 5000),
            "headers": headers if headers is not None else [(b"host", b"127.0.0.1:8787")], "state": {}}


# --- the remembering router (routing.py) ---

def _reporter(template: str):
    async def endpoint(request: Request) -> Response:
        return JSONResponse({"route": template, "params": request.path_params})
    return endpoint


# The platform's own route templates and methods, in its order, each route answering what it matched.
_PLATFORM = build_platform()
ROUTES = [Route(route.path, _reporter(route.path), methods=sorted(route.methods or ()))
          for route in _PLATFORM.api_routes()]
_PLATFORM.store.close()


def _routers():
    """Starlette's router and a remembering one (new: nothing remembered yet) over ROUTES."""
    return Router(routes=ROUTES), RememberingRouter(routes=list(ROUTES))


async def _ask(app, method: str, path: str) -> tuple[int, bytes, list]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(_scope(method, path), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), sorted(sent[0]["headers"])


SEGMENTS = st.sampled_from(["user", "assistant", "assistants", "get", "tools", "knowledgebases", "documents",
                            "folder", "folders", "label", "labels", "phone-numbers", "sip-trunks", "campaigns",
                            "campaign", "all", "search", "purchase", "outbound", "voices", "update-status", "7",
                            "12", "x", ""])
TEMPLATES = sorted({route.path for route in ROUTES})
FILLED = st.tuples(st.sampled_from(TEMPLATES), st.lists(st.sampled_from(["3", "9", "x", "sip-trunks", "0"]),
                                                        min_size=2, max_size=2)).map(
    lambda chosen: chosen[0].replace("{kb}", chosen[1][0]).replace("{id}", chosen[1][1]))
PATHS = FILLED | FILLED.map(lambda path: path + "/") | \
    st.lists(SEGMENTS, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=300, deadline=None)
@given(asked=st.lists(st.tuples(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]), PATHS),
                      min_size=1, max_size=8))
def test_the_remembering_router_answers_every_request_as_starlettes_router_does(asked):
    plain, remembering = _routers()

    async def both():
        for method, path in asked + asked:  # the second time from what it remembered
            assert await _ask(remembering, method, path) == await _ask(plain, method, path)

    asyncio.run(both())


def test_the_remembering_router_remembers_full_matches_only():
    _, remembering = _routers()
    asyncio.run(_ask(remembering, "GET", "/user/knowledgebases/3/documents/9"))
    asyncio.run(_ask(remembering, "PATCH", "/user/knowledgebases/3/documents/9"))  # a 405: not remembered
    asyncio.run(_ask(remembering, "GET", "/user/nothing"))                           # a 404: not remembered
    assert [key for key in remembering._reached] == [("GET", "/user/knowledgebases/3/documents/9")]
    status, body, _ = asyncio.run(_ask(remembering, "GET", "/user/knowledgebases/3/documents/9"))
    assert status == 200 and json.loads(body) == {"route": "/user/knowledgebases/{kb}/documents/{id}",
                                                  "params": {"kb": "3", "id": "9"}}


# --- answers ---

@given(body=JSON_VALUES, status=st.sampled_from([200, 201, 404, 422, 500]))
def test_an_answer_is_byte_for_byte_a_json_response(body, status):
    ours, theirs = answer(status, body, {"X-A": "1"}), JSONResponse(body, status_code=status, headers={"X-A": "1"})
    assert (ours.body, ours.status_code, ours.raw_headers) == (theirs.body, theirs.status_code, theirs.raw_headers)
    assert isinstance(ours, JSONResponse)


@given(headers_first=st.booleans(), limit=st.integers(0, 10**6), remaining=st.integers(0, 10**6),
       reset=st.integers(0, 2**40))
def test_rate_headers_are_added_as_headers_update_adds_them(headers_first, limit, remaining, reset):
    decision = Decision(True, limit, remaining, reset)
    earlier = Decision(False, 5, 0, 9, 3).headers() if headers_first else None
    ours, theirs = answer(200, {"a": 1}, earlier), answer(200, {"a": 1}, earlier)
    _add_rate_headers(ours, decision)
    theirs.headers.update(decision.headers())
    assert ours.raw_headers == theirs.raw_headers


@given(others=st.lists(st.tuples(st.sampled_from(["per_page", "q", "a b", "page"]), st.text(max_size=5)),
                       max_size=3),
       page=st.integers(1, 40), per_page=st.integers(1, 100), total=st.integers(0, 5000))
def test_page_links_are_the_urls_urlencode_makes(others, page, per_page, total):
    from urllib.parse import urlencode

    query = urlencode([*others, ("page", page)]).encode()
    request = Request(_scope(query=query))
    built = laravel_page(request, [1] * min(per_page, total), total, page, per_page)
    rest = [(k, v) for k, v in others if k != "page"]
    path = "http://127.0.0.1:8787/api/user/assistants/get"
    for link in built["links"]:
        if link["url"] is not None and link["label"].isdigit():
            assert link["url"] == f"{path}?{urlencode([*rest, ('page', int(link['label']))])}"
    assert built["first_page_url"] == f"{path}?{urlencode([*rest, ('page', 1)])}"


# --- texts worked out once ---

def _decimal_string_as_before(value):
    if value is None:
        return None
    number = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
    if number.as_tuple().exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return format(number, "f")


@given(values=st.lists(st.none() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False,
                                                                         width=64, min_value=-1e12, max_value=1e12)
                       | st.sampled_from([0.0, -0.0, 0.1, 0.5, 0.7, 1.1, 1e-7, 5e-324]), max_size=20))
def test_a_decimal_text_is_the_same_worked_out_once_or_every_time(values):
    for value in values + values:
        assert F.decimal_string(value) == _decimal_string_as_before(value)


def test_a_blank_record_is_the_defaults_with_fresh_lists_and_dicts():
    first, second = F.blank_record(), F.blank_record()
    assert first == {field: [] if type(value) is list else {} if type(value) is dict else value
                     for field, value in ((f, F.DEFAULTS.get(f)) for f in F.CANONICAL)}
    assert list(first) == list(F.CANONICAL)
    for field, value in first.items():
        if isinstance(value, (list, dict)):
            assert value is not second[field] and value is not F.DEFAULTS[field]


def _blank_to_null_as_before(value):
    if value == "":
        return None
    if isinstance(value, dict):
        return {k: _blank_to_null_as_before(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_to_null_as_before(v) for v in value]
    return value


@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(["", "x", " "]),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                      max_size=3), max_leaves=10))
def test_blank_to_null_is_the_same_for_json_values(value):
    ours, before = _blank_to_null(value), _blank_to_null_as_before(value)
    assert json.dumps(ours) == json.dumps(before)
    assert type(ours) is type(before)


HOSTS = st.sampled_from([None, b"127.0.0.1:8787", b"example.com", b"example.com:443", b"[::1]:9", b"bad host",
                         b"x:notaport"])


@given(path=st.text(st.sampled_from("/abc%?#\\:;1 "), min_size=1, max_size=12).map(lambda p: "/" + p),
       host=HOSTS, scheme=st.sampled_from(["http", "https"]),
       server=st.sampled_from([None, ("127.0.0.1", 80), ("10.0.0.1", 8787)]))
def test_a_journal_path_is_the_request_urls_path(path, host, scheme, server):
    headers = [] if host is None else [(b"host", host)]
    for _ in range(2):  # worked out, then remembered
        assert url_path(Request(_scope(path=path, headers=headers, scheme=scheme, server=server))) == \
            Request(_scope(path=path, headers=headers, scheme=scheme, server=server)).url.path


@given(host=HOSTS, scheme=st.sampled_from(["http", "https"]),
       server=st.sampled_from([None, ("127.0.0.1", 80), ("10.0.0.1", 8787)]))
def test_a_root_url_is_the_base_url_without_its_slash(host, scheme, server):
    platform = build_platform()
    try:
        headers = [] if host is None else [(b"host", host)]
        for _ in range(2):
            request = Request(_scope(headers=headers, scheme=scheme, server=server))
            assert platform._root(request) == str(request.base_url).rstrip("/")
    finally:
        platform.store.close()


# --- the store ---

def test_the_remembered_owners_follow_removals_and_resets():
    store = Store()
    tool = store.insert("tool", 1, {"name": "a"})["id"]
    label = store.insert("label", 1, {"name": "b"})["id"]
    docs = [store.insert("document", 1, {"name": "d"}, parent_id=label)["id"] for _ in range(2)]
    for _ in range(2):  # asked, then remembered
        assert store.owns("tool", tool, 1) and not store.owns("tool", tool, 2) and not store.owns("label", tool, 1)
        assert store.owns("document", docs[0], 1) and not store.owns("tool", 10**6, 1)
    store.remove("tool", [tool])
    assert not store.owns("tool", tool, 1) and store.owns("label", label, 1)
    store.remove_children("document", label)
    assert not any(store.owns("document", d, 1) for d in docs)
    store.reset()
    assert not store.owns("label", label, 1)
    again = store.insert("tool", 1, {"name": "c"})["id"]
    assert store.owns("tool", again, 1)


@given(record=st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=6))
# The keys the store keeps in columns of their own too, with values of another type (hypothesis draws the code's
# string constants as keys: it found these).
@example(record={"type": []})
@example(record={"type": False})
@example(record={"phone_number_id": True, "type": "inbound"})
@example(record={"phone_number_id": "12"})
def test_a_created_assistant_answers_the_fields_a_read_gives(record):
    store = Store()
    try:
        created = store.create(1, record, "active", "v1")
        assert created["fields"] == store.get(1, created["id"])["fields"] == json.loads(json.dumps(record))
        assert {k: v for k, v in created.items() if k != "fields"} == \
            {k: v for k, v in store.get(1, created["id"]).items() if k != "fields"}
    finally:
        store.close()


def test_a_list_reads_the_same_whether_its_items_are_remembered_or_not(platform, emulator):
    body = {"assistant_name": "Fast", **REQUIRED}
    for n in range(12):
        platform.create(**{**body, "system_prompt": f"Prompt {n}"})
    pages = [platform.http.get("/user/assistants/get", params={"per_page": 5, "page": p}).content for p in (1, 2, 3)]
    emulator.platform._shown.clear()
    assert [platform.http.get("/user/assistants/get", params={"per_page": 5, "page": p}).content
            for p in (1, 2, 3)] == pages
    platform.http.delete(f"/user/assistant/{json.loads(pages[0])['data'][0]['id']}")
    after = json.loads(platform.http.get("/user/assistants/get", params={"per_page": 5}).content)
    assert after["total"] == 11 and after["data"][0]["id"] == json.loads(pages[0])["data"][1]["id"]


# --- the arrival stamp (protocol.py) ---

def test_every_request_served_carries_its_arrival_before_its_handler_starts():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope.get(ARRIVED), time.monotonic()))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                           http=EmulatorProtocol))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            started = time.monotonic()
            assert [http.get("/").text for _ in range(3)] == ["ok"] * 3
    finally:
        server.should_exit = True
        thread.join(5)
    assert len(seen) == 3
    for arrived, handled in seen:
        assert started <= arrived <= handled


def test_latency_counts_from_arrival_and_is_never_cut_short(platform):
    platform.faults(latency_ms=120)
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for _ in range(3):
            started = time.monotonic()
            assert http.get("/user/assistants/languages").status_code == 200
            assert time.monotonic() - started >= 0.12


# --- the counts kept through creates, updates and deletes (Store._carry_counts) against a count made again ---

_REFERENCE_VALUES = st.one_of(st.none(), st.integers(1, 4), st.booleans(), st.text(max_size=2),
                              st.lists(st.one_of(st.integers(1, 4), st.none(), st.booleans()), max_size=3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([1, 2]), st.sampled_from(["create", "update", "delete", "read"]),
                          st.fixed_dictionaries({}, optional={"folder_id": _REFERENCE_VALUES,
                                                              "knowledgebase_id": _REFERENCE_VALUES,
                                                              "label_ids": _REFERENCE_VALUES})),
                max_size=25))
def test_counts_kept_through_writes_are_the_counts_made_again(steps):
    from provisioner.emulator.store import Store

    store, made = Store(), {1: [], 2: []}

    def counted(user):
        return (store.assistant_counts(user, "folder_id"), store.assistant_counts(user, "knowledgebase_id"),
                store.assistant_list_counts(user, "label_ids"), store.page_rows(user, 1, 1)[1])

    def afresh(user):
        store._counts.clear()
        store._live.clear()
        return counted(user)

    for user, step, fields in steps:
        if step == "create":
            made[user].append(store.create(user, fields, "active", "v2")["id"])
        elif step == "update" and made[user]:
            store.update(user, made[user][-1], fields)
        elif step == "delete" and made[user]:
            store.delete(user, made[user].pop())
        kept = {user: counted(user) for user in (1, 2)}
        kept_counts, kept_live = dict(store._counts), dict(store._live)
        assert kept == {user: afresh(user) for user in (1, 2)}, steps
        store._counts.update(kept_counts)  # carry on from the kept ones, as a long-running emulator does
        store._live.update(kept_live)


def test_an_update_or_a_delete_of_an_assistant_leaves_the_counts_current_without_a_scan():
    """The counts of a list of folders, labels and knowledge bases were kept through creates only: after any update
    or delete of an assistant the next list scanned every assistant's JSON again (150 ms at 8,000 full ones, for a
    list of folders after each update). Now no count query runs after either, and the counts are the ones a count
    made again gives."""
    from provisioner.emulator.store import Store

    store = Store()
    ids = [store.create(1, {"folder_id": i % 3 + 1, "label_ids": [1, i % 2 + 2], "knowledgebase_id": 7}, "active",
                        "v2")["id"] for i in range(30)]
    fields = ("folder_id", "knowledgebase_id")

    def counted():
        return ([store.assistant_counts(1, field) for field in fields], store.assistant_list_counts(1, "label_ids"),
                store.page_rows(1, 1, 1)[1])

    counted()
    statements = []
    store._db.set_trace_callback(statements.append)
    store.update(1, ids[0], {"folder_id": 9, "label_ids": [5], "knowledgebase_id": None})
    store.delete(1, ids[1])
    store.update(1, ids[1], {"folder_id": 4})  # deleted: changes nothing
    kept = counted()
    store._db.set_trace_callback(None)
    assert not [s for s in statements if "COUNT(*)" in s]
    store._counts.clear()
    store._live.clear()
    assert kept == counted() == ([{1: 9, 2: 9, 3: 10, 9: 1}, {7: 28}], {1: 28, 2: 14, 3: 14, 5: 1}, 29)
