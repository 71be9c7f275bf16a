"""The client's retry rules, with scripted answers and a recorded clock (the policy is what is under test)."""
import httpx
import pytest

from provisioner.client import PlatformClient, RetryPolicy, UnknownOutcomeError
from provisioner.ratelimit import RateBudget
from provisioner.errors import (ApiError, AuthenticationError, RejectedError, ServerError,
                                TransportError)


def scripted(*answers):
    """A client whose requests get `answers` in order: a status code, (status, headers), or an exception."""
    calls, sleeps = [], []
    queue = list(answers)

    def handler(request):
        calls.append((request.method, request.url.path))
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        body = ({"data": [], "current_page": 1, "last_page": 1, "total": 0} if request.method == "GET"
                else {"data": {"id": 5}}) if status < 300 else {"message": "no"}
        if status == 422:
            body = {"message": "The voice id is invalid.", "errors": {"voice_id": ["The selected voice id is invalid."]}}
        return httpx.Response(status, json=body, headers=headers)

    now = [0.0]

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    clock = lambda: now[0]  # noqa: E731
    client = PlatformClient("http://platform.test", "tok", transport=httpx.MockTransport(handler),
                            retry=RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_max=4),
                            sleep=sleep, clock=clock, budget=RateBudget(clock=clock, sleep=sleep))
    return client, calls, sleeps


def test_429_honours_retry_after():
    client, calls, sleeps = scripted((429, {"Retry-After": "3"}), (429, {"Retry-After": "1"}), 200)
    assert client.list_assistants() == []
    assert [s for s in sleeps if s] == [3.0, 1.0] and len(calls) == 3


def test_429_honours_the_documented_retry_after_in_the_body():
    calls, sleeps, now = [], [], [0.0]

    def handler(request):
        calls.append(now[0])
        if len(calls) == 1:
            return httpx.Response(429, json={"error": "Rate limit exceeded", "message": "Too many", "retry_after": 7})
        return httpx.Response(200, json={"data": [], "current_page": 1, "last_page": 1, "total": 0})

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    client = PlatformClient("http://p.test", "t", transport=httpx.MockTransport(handler), sleep=sleep,
                            clock=lambda: now[0], budget=RateBudget(clock=lambda: now[0], sleep=sleep))
    client.list_assistants()
    assert calls == [0.0, 7.0] and client.rate_limited == 1


@pytest.mark.parametrize("retry_after", ["100000", "inf", "-3", "nan", "soon", 1e300])
def test_absurd_or_too_long_waits_are_refused_not_slept(retry_after):
    client, calls, sleeps = scripted((429, {"Retry-After": str(retry_after)}), 200)
    with pytest.raises(ApiError, match="wait"):
        client.list_assistants()
    assert sum(sleeps) < 1 and len(calls) == 1


def test_429s_do_not_use_up_attempts_and_pause_the_whole_client():
    client, calls, sleeps = scripted(*[(429, {"Retry-After": "1"})] * 6, 200)
    assert client.list_assistants() == []  # 6 refusals, though max_attempts is 4
    assert len(calls) == 7
    assert client.budget._paused_until > 0


def test_5xx_and_network_errors_back_off_exponentially_with_jitter_for_reads():
    client, calls, sleeps = scripted(503, httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), 200)
    client.list_assistants()
    assert len(calls) == 4
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0 and 0 <= sleeps[2] <= 2.0


def test_attempts_are_bounded():
    client, calls, sleeps = scripted(500, 500, 500, 500, 500)
    with pytest.raises(ServerError, match="500"):
        client.list_assistants()
    assert len(calls) == 4


def test_total_retry_time_is_bounded():
    client, calls, _ = scripted(*[500] * 10)
    client.retry = RetryPolicy(max_attempts=10, max_elapsed=0.0)
    with pytest.raises(ServerError):
        client.list_assistants()
    assert len(calls) == 1


def test_no_retry_starts_after_the_retry_max_time():
    """A backoff or a 429's wait that would end past --retry-max-time gives up at once, instead of sleeping
    and sending once more (a run of 429s asking for most of that time lasted nearly twice it)."""
    client, calls, sleeps = scripted(*[500] * 6)
    client.retry = RetryPolicy(max_attempts=10, max_elapsed=3.0)
    client.backoff = lambda attempt: 2.0  # the first wait ends at 2 s, the second would end at 4 s
    with pytest.raises(ServerError):
        client.list_assistants()
    assert len(calls) == 2 and sleeps == [2.0]
    client, calls, sleeps = scripted((429, {"Retry-After": "2"}), (429, {"Retry-After": "2"}), 200)
    client.retry = RetryPolicy(max_attempts=10, max_elapsed=3.0)
    with pytest.raises(ApiError, match="giving up: the next attempt would start after --retry-max-time 3s"):
        client.list_assistants()
    assert len(calls) == 2 and sum(sleeps) == 2.0


@pytest.mark.parametrize("status, error", [(401, AuthenticationError), (422, RejectedError), (404, Exception),
                                           (400, Exception)])
def test_client_errors_fail_at_once(status, error):
    client, calls, sleeps = scripted(status)
    with pytest.raises(error):
        client.update_assistant(1, {"voice_id": 9})
    assert len(calls) == 1 and sleeps == []


def test_a_422_keeps_the_fields():
    client, _, _ = scripted(422)
    with pytest.raises(RejectedError) as caught:
        client.create_assistant({})
    assert caught.value.errors == {"voice_id": ["The selected voice id is invalid."]}


def test_a_create_is_not_retried_when_its_outcome_is_unknown():
    for answer in (500, httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")):
        client, calls, _ = scripted(answer, 200)
        with pytest.raises((ServerError, TransportError)):
            client.create_assistant({"assistant_name": "x"})
        assert len(calls) == 1


def refused_then_created(refusal: httpx.Response):
    """A client whose first request gets `refusal`, and every later one a created assistant (id 5)."""
    calls = []

    def handler(request):
        calls.append(request.method)
        return refusal if len(calls) == 1 else httpx.Response(201, json={"data": {"id": 5}})

    client = PlatformClient("http://platform.test", "tok", transport=httpx.MockTransport(handler),
                            sleep=lambda seconds: None, budget=RateBudget(sleep=lambda seconds: None))
    return client, calls


PLATFORMS_429 = {"error": "Rate limit exceeded", "message": "Too many", "retry_after": 0}


def test_a_create_is_retried_when_the_platform_certainly_did_not_act():
    client, calls = refused_then_created(httpx.Response(429, json=PLATFORMS_429))
    assert client.create_assistant({"assistant_name": "x"}) == {"id": 5}
    client, calls, _ = scripted(httpx.ConnectError("refused"), 201)
    assert client.create_assistant({"assistant_name": "x"}) == {"id": 5}
    assert len(calls) == 2


@pytest.mark.parametrize("refusal", [httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "0"}),
                                     httpx.Response(429, json={"message": "Too Many Attempts."}),
                                     httpx.Response(429)])
def test_a_429_without_the_platforms_body_leaves_a_create_unknown_but_repeats_what_is_safe(refusal):
    """A proxy's 429 may come after the platform made the object: a create is not resent (apply looks for it
    first); a request safe to repeat (a read, a campaign's start) is."""
    client, calls = refused_then_created(refusal)
    with pytest.raises(UnknownOutcomeError, match="without the platform's rate-limit body"):
        client.create_assistant({"assistant_name": "x"})
    assert calls == ["POST"]
    client, calls = refused_then_created(refusal)
    client.request("POST", "/user/campaigns/update-status", json={"campaign_id": 1, "action": "start"},
                   idempotent=True)
    assert calls == ["POST", "POST"]


def test_the_token_is_sent_but_never_in_error_messages():
    client, _, _ = scripted(httpx.ConnectError("refused"), httpx.ConnectError("refused"),
                            httpx.ConnectError("refused"), httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as caught:
        client.list_assistants()
    assert "tok" not in str(caught.value).replace("http://platform.test", "")


def test_later_pages_are_fetched_after_the_first_gives_last_page():
    pages = []

    def handler(request):
        page = int(request.url.params["page"])
        pages.append((page, int(request.url.params["per_page"])))
        count = 100 if page < 4 else 1
        data = [{"id": (page - 1) * 100 + i + 1, "name": "a"} for i in range(count)]
        return httpx.Response(200, json={"current_page": page, "last_page": 4, "total": 301, "data": data})

    client = PlatformClient("http://p.test", "t", transport=httpx.MockTransport(handler))
    assert [item["id"] for item in client.list_assistants()] == list(range(1, 302))
    assert pages[0] == (1, 100) and sorted(pages) == [(1, 100), (2, 100), (3, 100), (4, 100)]


def test_catalogues_accept_bare_arrays_and_data_objects():
    def handler(request):
        if request.url.path.endswith("languages"):
            return httpx.Response(200, json=[{"id": 1, "name": "English"}])
        return httpx.Response(200, json={"data": [{"id": 7, "name": "V", "mode": "pipeline"},
                                                  {"id": 8, "name": "W", "mode": "multimodal"}]})

    client = PlatformClient("http://p.test", "t", transport=httpx.MockTransport(handler))
    assert client.languages() == [{"id": 1, "name": "English"}]
    # An older catalogue that ignores the mode filter but marks each voice's mode.
    assert [v["id"] for v in client.voices("pipeline")] == [7]


def test_a_base_url_with_a_path_prefix_is_kept():
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, json={"data": [], "last_page": 1, "total": 0})

    for base in ("http://h.test/api", "http://h.test/api/"):
        PlatformClient(base, "t", transport=httpx.MockTransport(handler)).list_assistants()
    assert seen == ["http://h.test/api/user/assistants/get?per_page=100&page=1"] * 2


def test_a_remaining_budget_of_zero_pauses_every_thread_until_the_reset():
    import time as real_time

    now, sleeps, calls = [0.0], [], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    def handler(request):
        calls.append(now[0])
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(int(real_time.time()) + 6)} if len(calls) == 1 else {}
        return httpx.Response(200, json=[{"id": 1, "name": "English"}], headers=headers)

    clock = lambda: now[0]  # noqa: E731
    client = PlatformClient("http://p.test", "t", transport=httpx.MockTransport(handler), sleep=sleep, clock=clock,
                            budget=RateBudget(clock=clock, sleep=sleep))
    client.languages()
    client.languages()
    assert 4.5 <= calls[1] - calls[0] <= 6.5


def test_a_retry_after_no_client_can_honour_is_none_never_an_overflow():
    """A 429 whose body asks for a wait of hundreds of digits was an OverflowError ("a bug in the provisioner")."""
    from provisioner.client import _wait_seconds

    for raw in (10 ** 400, "1" * 400, float("inf"), "nan", -3, True, "garbage"):
        assert _wait_seconds(raw) is None, raw
    assert _wait_seconds(2) == 2.0 and _wait_seconds("1.5") == 1.5


def test_a_refused_connection_after_an_answer_is_a_restart_retried_not_a_wrong_url():
    """The platform answers a 503 and restarts (its port refuses a moment): the URL is right, the read is retried."""
    import socket
    import threading
    import time as clock


    def listen(port=0):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(4)
        return listener

    def serve(listener, answer, restart_after):
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(answer)
        listener.close()
        if restart_after is not None:  # down for a moment, then back on the same port
            clock.sleep(restart_after)
            serve(listen(port), b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]", None)

    first = listen()
    port = first.getsockname()[1]
    busy = b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    threading.Thread(target=serve, args=(first, busy, 0.5), daemon=True).start()
    retry = RetryPolicy(max_attempts=30, backoff_base=0.05, backoff_max=0.1)
    client = PlatformClient(f"http://127.0.0.1:{port}/api", "tok", retry=retry, budget=RateBudget(()), notify=None)
    assert client.languages() == []


def test_an_interrupt_ends_a_retrys_backoff_at_once():
    """Ctrl-C cancels the budget: a request waiting to retry (nothing on the wire) stops then, not after its backoff."""
    import socket
    import threading
    import time as clock

    from provisioner.ratelimit import WaitCancelled

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def busy():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    threading.Thread(target=busy, daemon=True).start()
    retry = RetryPolicy(max_attempts=5, backoff_base=8.0, backoff_max=8.0)
    client = PlatformClient(f"http://127.0.0.1:{listener.getsockname()[1]}/api", "tok", retry=retry,
                            budget=RateBudget(()), notify=None)
    import provisioner.client as module

    real = module.random.uniform
    module.random.uniform = lambda low, high: high  # the whole 8 s
    try:
        threading.Timer(0.3, client.budget.cancel).start()
        began = clock.monotonic()
        with pytest.raises(WaitCancelled):
            client.languages()
        assert clock.monotonic() - began < 3
    finally:
        module.random.uniform = real
        listener.close()


def test_a_retry_after_date_already_past_means_now():
    import email.utils
    import time as clock

    from provisioner.client import _wait_seconds

    assert _wait_seconds(email.utils.formatdate(clock.time() - 2, usegmt=True)) == 0.0
    assert 50 < _wait_seconds(email.utils.formatdate(clock.time() + 60, usegmt=True)) <= 60


def test_a_429_that_asks_for_no_wait_still_waits_a_little_and_never_loops_tightly():
    """429s do not count as attempts; one that says retry_after 0 would be sent again at once, and again."""
    import threading
    import time as clock

    from provisioner.ratelimit import RateBudget

    count = [0]
    lock = threading.Lock()

    def handler(request):
        with lock:
            count[0] += 1
        return httpx.Response(429, json={"retry_after": 0})

    client = PlatformClient("http://platform.test/api", "tok", transport=httpx.MockTransport(handler),
                            retry=RetryPolicy(max_attempts=3, max_elapsed=1.0), budget=RateBudget(()), notify=None)
    began = clock.monotonic()
    with pytest.raises(ApiError):
        client.languages()
    assert count[0] <= 8 and clock.monotonic() - began >= 0.5, count[0]


def test_a_long_pause_the_platform_asks_for_is_said_once_as_it_begins():
    """A 429's wait (and an X-RateLimit-Remaining of 0) paused every thread in silence: a run waiting a minute for
    the platform looked hung. Said once per pause, not once per answer repeating it."""
    notices, now = [], [0.0]

    def handler(request):
        if now[0] < 7:
            return httpx.Response(429, json={"error": "Rate limit exceeded", "message": "Too many", "retry_after": 7})
        return httpx.Response(200, json={"data": [], "current_page": 1, "last_page": 1, "total": 0})

    def sleep(seconds):
        now[0] += seconds

    client = PlatformClient("http://p.test", "t", transport=httpx.MockTransport(handler), sleep=sleep,
                            clock=lambda: now[0], budget=RateBudget(clock=lambda: now[0], sleep=sleep),
                            notify=notices.append)
    client.list_assistants()
    assert notices == ["GET /user/assistants/get: answered 429 (rate limited): sending nothing for 7s"]


def test_a_429_without_the_platforms_body_asking_an_impossible_wait_still_leaves_a_create_unknown():
    """Its wait unusable, it was an error of status 429, which apply takes to mean the create surely made nothing (a
    replacement then kept its old object at the address, and the new one went unrecorded)."""
    refusal = httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "100000"})
    client, calls = refused_then_created(refusal)
    with pytest.raises(UnknownOutcomeError, match="a wait the client cannot honour"):
        client.create_assistant({"assistant_name": "x"})
    client, calls = refused_then_created(refusal)
    with pytest.raises(ApiError, match="giving up") as caught:
        client.request("GET", "/user/tools")
    assert calls == ["GET"] and not isinstance(caught.value, UnknownOutcomeError)
