"""The emulator's own additions (API.md "The emulator's own additions"): the command, its catalogue file,
SQLite persistence, fault injection, stats and the admin endpoints. The platform contract itself is checked
in tests/conformance/."""
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from hypothesis import given, strategies as st

from conftest import OTHER_TOKEN, REQUIRED, TOKEN

BODY = {"assistant_name": "Emu", **REQUIRED}


def test_the_base_url_ends_in_api_and_the_admin_endpoints_live_at_the_root(emulator):
    assert emulator.url == emulator.root_url + "/api"
    assert emulator.admin_token == emulator.platform.admin_token


def test_stats_count_requests_per_route_template_without_the_prefix(platform):
    created = platform.create(**BODY)
    platform.http.get("/user/assistants/get")
    platform.http.put(f"/user/assistant/{created['id']}", json={"system_prompt": "x"})
    platform.http.get("/user/assistants/get")     # answered 401 below still counts
    httpx.get(platform.url + "/user/assistants/get")
    stats = platform.stats()
    assert stats["requests"] == {"POST /user/assistant": 1, "GET /user/assistants/get": 3,
                                 "PUT /user/assistant/{id}": 1}
    assert stats["total"] == 5 and stats["rate_limited"] == 0
    platform.reset()
    assert platform.stats() == {"total": 0, "requests": {}, "rate_limited": 0}
    assert platform.assistants() == []


def test_the_journal_keeps_recent_write_bodies(platform):
    created = platform.create(**BODY)
    platform.put(created["id"], system_prompt="New")
    writes = platform.writes()
    assert [(w["method"], w["path"]) for w in writes] == [("POST", "/user/assistant"),
                                                        ("PUT", f"/user/assistant/{created['id']}")]
    assert writes[1]["body"] == {"system_prompt": "New"}


def test_injected_errors_and_latency(platform):
    platform.faults(error_rate=1.0)
    response = platform.http.get("/user/assistants/get")
    assert response.status_code == 500 and response.json() == {"message": "Server Error"}
    assert "X-RateLimit-Limit" in response.headers
    platform.faults(error_rate=0, latency_ms=150)
    started = time.monotonic()
    assert platform.http.get("/user/assistants/languages").status_code == 200
    assert time.monotonic() - started >= 0.15
    platform.faults(latency_ms=0)
    assert platform.admin.post("/_emulator/faults", json={"error_rate": 2}).status_code == 422
    assert platform.admin.post("/_emulator/faults", json={"colour": "red"}).status_code == 422


def test_commit_failures_take_effect_then_fail(platform):
    platform.faults(commit_fail_rate=1.0, seed=3)
    outcomes = set()
    for i in range(6):
        try:
            outcomes.add(platform.http.post("/user/assistant", json={**BODY, "assistant_name": f"C{i}"}).status_code)
        except httpx.TransportError:
            outcomes.add("dropped")
    platform.faults(commit_fail_rate=0)
    assert outcomes == {500, "dropped"}
    assert len(platform.assistants()) == 6


def test_a_proxys_429_after_commit_takes_effect_and_carries_no_platform_body(platform):
    platform.faults(commit_429_rate=1.0, kinds=["assistants"], methods=["POST"])
    answer = platform.http.post("/user/assistant", json={**BODY, "assistant_name": "Refused but made"})
    listed = platform.http.get("/user/assistants/get")  # a read: not touched by the fault
    platform.faults(commit_429_rate=0, kinds=None, methods=None)
    assert answer.status_code == 429 and answer.text == "Too Many Requests"
    assert answer.headers["retry-after"] == "1" and listed.status_code == 200
    assert [a["name"] for a in platform.assistants()].count("Refused but made") == 1


def test_concurrency_endpoint(platform):
    platform.http.get("/user/assistants/get")
    assert platform.concurrency()["max_in_flight"] >= 1 and platform.concurrency()["in_flight"] == 0


def test_an_old_numeric_rate_limit_means_requests_per_second(platform):
    platform.faults(rate_limit=2)
    assert platform.admin.get("/_emulator/faults").json()["rate_limit"] == "2/1s"
    codes = [platform.http.get("/user/assistants/languages").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_rate_limit_specs():
    from provisioner.emulator import parse_rate_limit

    assert parse_rate_limit("off") == []
    assert parse_rate_limit("documented") == [(100, 60.0), (20, 10.0)]
    assert parse_rate_limit("1000/60s,200/10s") == [(1000, 60.0), (200, 10.0)]
    assert parse_rate_limit("5/1m") == [(5, 60.0)]
    for bad in ("fast", "0/10s", "10/0s", "10/s/s"):
        with pytest.raises(ValueError):
            parse_rate_limit(bad)


def test_sliding_window_log_counts_admitted_requests_at_arrival():
    from provisioner.emulator.faults import RateLimiter

    now = [1000.0]
    limiter = RateLimiter("3/10s", clock=lambda: now[0])
    assert [limiter.admit("t").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.admit("t")
    assert not refused.allowed and refused.retry_after == 10 and refused.reset == 1010
    now[0] = 1009.9
    assert not limiter.admit("t").allowed      # refused requests do not count, but the window has not moved
    now[0] = 1010.0
    assert limiter.admit("t").allowed          # the first three arrived at 1000: out of the window now
    assert limiter.admit("u").allowed          # another token, another log


def test_decimal_strings_keep_precision():
    from provisioner.emulator.fields import decimal_string

    assert [decimal_string(v) for v in (0.7, 1.1, 1, 0, 0.125, 0.1, 1.0, 0.05)] == \
        ["0.70", "1.10", "1.00", "0.00", "0.125", "0.10", "1.00", "0.05"]


@pytest.mark.parametrize("catalog_text, error", [("voices: []\n", "tenants"), ("- a list\n", "mapping"),
                                                 ("voices: []\nlanguages: []\ntenants: [{token: a, user_id: 1}, "
                                                  "{token: a, user_id: 2}]\n", "share a token")])
def test_a_bad_catalogue_is_refused(tmp_path, catalog_text, error):
    from provisioner.emulator import load_catalog

    path = tmp_path / "c.yaml"
    path.write_text(catalog_text)
    with pytest.raises(ValueError, match=error):
        load_catalog(path)


def test_the_default_catalogue():
    from provisioner.emulator import load_catalog

    catalog = load_catalog()
    assert [(v.id, v.name, v.mode) for v in catalog.voices] == [
        (1, "Sarah", "pipeline"), (2, "James", "pipeline"), (3, "Maria", "pipeline"), (4, "Aiko", "pipeline"),
        (11, "Nova", "multimodal"), (12, "Echo", "multimodal"), (21, "Orion", "dualplex"), (22, "Lyra", "dualplex")]
    assert [(lang.id, lang.name, lang.iso_2) for lang in catalog.languages] == [
        (1, "English", "en"), (2, "Spanish", "es"), (3, "French", "fr"), (5, "German", "de"),
        (6, "Portuguese", "pt"), (7, "Japanese", "ja")]
    assert [(m.id, m.name, m.type, m.code) for m in catalog.models] == [
        (11, "gpt-4o", "llm", None), (12, "gpt-4o-mini", "llm", None), (13, "claude-sonnet-4", "llm", None),
        (21, "gpt-4o-realtime", "multimodal", "gpt-4o-realtime-preview"),
        (22, "gpt-4o-mini-realtime", "multimodal", "gpt-4o-mini-realtime-preview"),
        (31, "gemini-live", "dualplex", "gemini-2.5-flash-live")]
    first, second = catalog.tenants
    assert (first.token, first.user_id, second.token, second.user_id) == (TOKEN, 1, OTHER_TOKEN, 2)
    assert [(n.id, n.phone_number, n.country_code, n.type_label) for n in first.phone_numbers] == [
        (45, "+14155550100", "US", "Normal"), (46, "+14155550101", "US", "Caller ID"),
        (47, "+442071838750", "GB", "Normal")]
    assert [(n.id, n.phone_number) for n in second.phone_numbers] == [(90, "+14155550190")]
    assert catalog.synthesizer_providers and catalog.transcriber_providers


OLD_CATALOGUE = ("voices: [{id: 7, name: V, gender: f}]\n"
                 "languages: [{id: 1, name: Klingon}, {id: 2, name: German}]\n"
                 "tenants: [{token: t1, user_id: 5, phone_numbers: [{id: 3, phone_number: '+1555', type: both}]}]\n")


def test_an_older_catalogue_without_models_or_iso_2_still_works(tmp_path):
    from provisioner.emulator import EmbeddedPlatform, build_platform

    path = tmp_path / "old.yaml"
    path.write_text(OLD_CATALOGUE)
    with EmbeddedPlatform(build_platform(catalog=path)) as embedded:
        http = httpx.Client(base_url=embedded.url, headers={"Authorization": "Bearer t1"})
        assert http.get("/user/assistants/languages").json() == [
            {"id": 1, "name": "Klingon", "iso_2": None}, {"id": 2, "name": "German", "iso_2": "de"}]
        assert http.get("/user/assistants/models", params={"type": "llm"}).json() == []
        body = {**BODY, "voice_id": 7, "language": "German", "llm_model": "any-model-at-all", "phone_number_id": 3}
        assert http.post("/user/assistant", json=body).status_code == 201
        body_mm = {**body, "engine_type": "multimodal", "llm_model": "whatever-realtime", "phone_number_id": None}
        assert http.post("/user/assistant", json=body_mm).status_code == 201    # a voice without mode suits all
        first, second = http.get("/user/assistants/get").json()["data"]
        assert (first["language"], first["llm_model_id"], first["multimodal_model_id"]) == ("de", None, None)
        assert second["mode"] == "multimodal"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path, *extra, env=None):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "--port", str(port), *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    root = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(root + "/api/user/assistants/languages")
            return process, root
        except httpx.TransportError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read())
            time.sleep(0.05)
    raise AssertionError("the emulator did not start")


def _stop(process) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=10)
    return out


def test_the_emulator_command_persists_in_sqlite_and_reads_its_catalogue(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("voices: [{id: 7, name: V, mode: pipeline}]\n"
                       "languages: [{id: 1, name: Klingon, iso_2: tl}]\n"
                       "models: [{id: 4, name: tiny, type: llm}]\n"
                       "tenants: [{token: t1, user_id: 5, phone_numbers: [{id: 3, phone_number: '+1555'}]}]\n")
    db = tmp_path / "e.db"
    process, root = _start(tmp_path, "--db", str(db), "--catalog", str(catalog), "--admin-token", "adm")
    try:
        api = httpx.Client(base_url=root + "/api", headers={"Authorization": "Bearer t1"})
        body = {**BODY, "voice_id": 7, "language": "Klingon", "llm_model": "tiny", "phone_number_id": 3}
        assert api.post("/user/assistant", json=body).status_code == 201
        assert api.post("/user/assistant", json={**body, "voice_id": 1}).status_code == 422
    finally:
        out = _stop(process)
    assert f"{root}/api" in out and "t1" in out and "adm" in out
    process, root = _start(tmp_path, "--db", str(db), "--catalog", str(catalog), "--error-rate", "1", "--seed", "1",
                           env={"PROVISIONER_EMULATOR_ADMIN_TOKEN": "from-env"})
    try:
        api = httpx.Client(base_url=root + "/api", headers={"Authorization": "Bearer t1"})
        assert api.get("/user/assistants/get").status_code == 500
        admin = {"Authorization": "Bearer from-env"}
        assert httpx.post(root + "/_emulator/faults", json={"error_rate": 0}, headers=admin).status_code == 200
        [item] = api.get("/user/assistants/get").json()["data"]
        assert item["user_id"] == 5 and item["voice_id"] == 7 and item["language"] == "tl"
        assert item["llm_model_id"] == 4
    finally:
        _stop(process)


def test_the_emulator_command_options(tmp_path):
    process, root = _start(tmp_path, "--dialect", "v2", "--rate-limit", "2/60s")
    try:
        out_headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = httpx.post(root + "/api/user/assistant", json=BODY, headers=out_headers)
        assert answer.status_code == 422 and "assistant_name" in answer.json()["errors"]
        codes = [httpx.get(root + "/api/user/assistants/get", headers=out_headers).status_code for _ in range(2)]
        assert codes == [200, 429]       # the token's 2 requests a minute (the 422 counted too)
    finally:
        out = _stop(process)
    admin_line = next(line for line in out.splitlines() if "admin token" in line)
    assert len(admin_line.split()[2]) >= 20, "a random admin token is printed"
    bad = subprocess.run([sys.executable, "-m", "provisioner", "emulator", "--rate-limit", "fast"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "rate limit" in bad.stderr.lower()


def test_a_db_that_is_not_the_emulators_is_refused_and_left_as_it_was(workspace, tmp_path):
    """--db naming the provisioner's own state store (state/provisioner.db beside state/local-platform.db) had the
    emulator add its tables to it, and a file that is not SQLite (or cannot be opened) ended in "unexpected
    DatabaseError ... This is a bug"; both, and a broken state/local-platform.db under --local, are refused with
    the file named, exit 1, and nothing written."""
    assert workspace.run("workspace", "new", "--no-select", "other").exit_code == 0  # a state store, made by the CLI
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    for path, said in ((workspace.state_file, "another application's SQLite database (tables provisioner_"),
                       (text, "cannot use")):
        before = path.read_bytes()
        run = subprocess.run([sys.executable, "-m", "provisioner", "emulator", "--port", "0", "--db", str(path)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 1 and said in run.stderr and str(path) in run.stderr, run.stderr
        assert "bug" not in run.stderr and "Traceback" not in run.stderr and run.stdout == ""
        assert path.read_bytes() == before
    (workspace.root / "state" / "local-platform.db").write_text("not a database\n")
    workspace.add("a")  # a plan of no manifests is refused before it opens any platform
    local = workspace.run("plan", "--local", api=False)
    assert local.exit_code == 1 and "--local: cannot use state/local-platform.db" in local.stderr, local.all
    assert "bug" not in local.stderr
    assert (workspace.root / "state" / "local-platform.db").read_text() == "not a database\n"


def test_the_bearer_scheme_is_case_insensitive(platform):
    response = httpx.get(platform.url + "/user/assistants/get", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


def test_the_emulator_imports_nothing_from_the_client_side():
    """Written from API.md alone: a misreading in the client cannot be mirrored by the emulator. (The
    provisioner package itself loads its library API; the emulator's own modules must not reach for these.)"""
    import ast
    from pathlib import Path

    import provisioner.emulator

    forbidden = {"spec", "wire", "client"}
    for path in Path(provisioner.emulator.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = {a.name for a in node.names}
                if node.level >= 2:      # from .. import x / from ..x import y
                    assert not ({module.split(".")[0]} | names) & forbidden, f"{path.name}: {ast.unparse(node)}"
                assert not module.startswith(tuple(f"provisioner.{m}" for m in forbidden)), path.name
                assert not (module == "provisioner" and names & forbidden), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith(tuple(f"provisioner.{m}" for m in forbidden))
                               for a in node.names), path.name


def test_a_tenant_may_list_its_tools_and_knowledge_bases(tmp_path):
    from provisioner.emulator import EmbeddedPlatform, build_platform

    path = tmp_path / "c.yaml"
    path.write_text("voices: [{id: 1, name: V, mode: pipeline}]\nlanguages: [{id: 1, name: English}]\n"
                    "models: [{id: 11, name: gpt-4o, type: llm}]\n"
                    "tenants: [{token: t, user_id: 1, tool_ids: [4, 5], knowledgebase_ids: [9]}]\n")
    with EmbeddedPlatform(build_platform(catalog=path)) as embedded:
        http = httpx.Client(base_url=embedded.url, headers={"Authorization": "Bearer t"})
        answer = http.post("/user/assistant", json={**BODY, "tool_ids": [4, 6], "knowledgebase_id": 8})
        assert answer.status_code == 422 and set(answer.json()["errors"]) == {"tool_ids.1", "knowledgebase_id"}
        assert http.post("/user/assistant", json={**BODY, "tool_ids": [4, 5], "knowledgebase_id": 9}).status_code == 201


def test_the_emulator_command_options_of_the_other_kinds(monkeypatch):
    """The options reach the platform it serves (their effects are checked over HTTP in tests/conformance/)."""
    from click.testing import CliRunner

    import provisioner.emulator.server as server
    from provisioner.cli import cli

    served = []
    monkeypatch.setattr(server, "serve", lambda platform, host, port, sock: served.append(platform) or sock.close())
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--tool-limit", "1", "--campaign-limit", "0",
                                      "--document-delay-ms", "0", "--document-failure-rate", "0.5"])
    assert result.exit_code == 0, result.output
    settings = served[0].faults.settings
    assert (settings.tool_limit, settings.campaign_limit, settings.document_delay_ms,
            settings.document_failure_rate) == (1, 0, 0, 0.5)
    bad = CliRunner().invoke(cli, ["emulator", "--port", "0", "--document-failure-rate", "2"])
    assert bad.exit_code == 2 and "document-failure-rate" in bad.output
    # A kind the emulator does not have was refused as pydantic's dump ("1 validation error for FaultSettings ...
    # [type=value_error, input_value=...]"): it is the option's error, naming the kinds there are.
    unknown = CliRunner().invoke(cli, ["emulator", "--port", "0", "--drop-field", "assistant.system_prompt"])
    assert unknown.exit_code == 2 and not served[1:], unknown.output
    assert ("Invalid value for --drop-field: 'assistant.system_prompt': 'assistant' is not a kind (one of "
            "assistants, ") in unknown.output and "validation error" not in unknown.output


def test_a_bad_catalogue_field_is_reported_at_its_own_line(tmp_path):
    """Wherever the bad value sits in a block-style file (every position in files of one to four tenants), the
    reported line is the one that writes it."""
    import yaml

    from provisioner.emulator import load_catalog

    for tenants in range(1, 5):
        for bad in range(tenants):
            for field, marker in (("user_id", "not a number"), ("tools", "Not-Valid")):
                document = {"voices": [{"id": 1, "name": "V"}], "languages": [{"id": 1, "name": "English"}],
                            "tenants": [{"token": f"t{i}", "user_id": i + 1,
                                         "folders": [{"name": f"f{j}"} for j in range(i)]} for i in range(tenants)]}
                document["tenants"][bad][field] = marker if field == "user_id" else [
                    {"name": marker, "description": "d", "method": "GET", "endpoint": "https://x.example.com"}]
                text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
                path = tmp_path / "c.yaml"
                path.write_text(text)
                with pytest.raises(ValueError) as info:
                    load_catalog(path)
                [reported] = [int(line.split()[1].rstrip(":")) for line in str(info.value).splitlines()[1:]]
                assert marker in text.splitlines()[reported - 1], (text, str(info.value))
                assert f"tenants.{bad}.{field}" in str(info.value)


# --- the list's items remembered as JSON texts (Platform._shown_items, answers.page_of_texts) ---

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12)


@given(page=st.integers(1, 10**6), items=st.lists(_JSON_VALUES, max_size=5),
       rest=st.dictionaries(st.sampled_from(["total", "path", "links", "to", "from", "next_page_url"]), _JSON_VALUES,
                            max_size=6))
def test_a_page_of_item_texts_is_byte_for_byte_the_json_answer_of_its_items(page, items, rest):
    from starlette.responses import JSONResponse

    from provisioner.emulator.answers import JSON_TEXT, page_of_texts

    laravel = {"current_page": page, "data": items, **rest}
    spliced = page_of_texts(laravel, [JSON_TEXT.encode(item) for item in items])
    assert spliced.body == JSONResponse(laravel).body
    assert spliced.headers["content-type"] == "application/json"


def test_a_listed_assistant_shows_its_latest_version_after_every_change(platform):
    from provisioner.emulator.answers import JSON_TEXT

    created = platform.create(**BODY)
    first = platform.http.get("/user/assistants/get", params={"per_page": 50})
    again = platform.http.get("/user/assistants/get", params={"per_page": 50})
    assert first.content == again.content  # the second read is served from the remembered texts
    assert JSON_TEXT.encode(first.json()).encode() == first.content  # the encoding JSONResponse writes
    assert [a["system_prompt"] for a in first.json()["data"] if a["id"] == created["id"]] == [BODY["system_prompt"]]
    platform.put(created["id"], system_prompt="New")
    updated = platform.http.get("/user/assistants/get", params={"per_page": 50}).json()
    assert [a["system_prompt"] for a in updated["data"] if a["id"] == created["id"]] == ["New"]
    platform.reset()
    assert platform.http.get("/user/assistants/get").json()["data"] == []
    remade = platform.create(**{**BODY, "system_prompt": "Remade"})
    shown = platform.http.get("/user/assistants/get").json()["data"]
    assert [(a["id"], a["system_prompt"]) for a in shown] == [(remade["id"], "Remade")]


@given(fields=st.fixed_dictionaries({}, optional={
           "name": st.text(max_size=8), "type": st.sampled_from(["inbound", "outbound", None]),
           "phone_number_id": st.one_of(st.none(), st.integers(1, 99)), "variables": _JSON_VALUES,
           "voice_id": _JSON_VALUES}),
       given_id=st.one_of(st.none(), st.integers(1, 10**6)))
def test_a_created_row_is_the_row_a_read_gives(fields, given_id):
    """Store.create answers the row it wrote without reading it again: the same row a read gives."""
    from provisioner.emulator.store import Store

    store = Store()
    row = store.create(7, fields, "active", "v1", assistant_id=given_id)
    assert row == store.get(7, row["id"]) and list(row) == list(store.get(7, row["id"]))
    store.close()


def test_the_list_shows_a_created_or_updated_assistant_as_shaped_from_its_stored_row(platform, emulator):
    """Creates and updates shape the row for the lists at once (Platform._remember_item): what a list shows must
    be exactly what shaping the stored row gives."""
    from provisioner.emulator import fields as F

    app = emulator.platform
    user_id = app.catalog.tenant_for_token(TOKEN).user_id
    made = [platform.create(**BODY), platform.create(**{**BODY, "assistant_name": "Other"})]
    platform.put(made[0]["id"], system_prompt="Changed")
    shown = {a["id"]: a for a in platform.http.get("/user/assistants/get", params={"per_page": 100}).json()["data"]}
    for created in made:
        stored = app.store.get(user_id, created["id"])
        assert shown[created["id"]] == F.read_shape(stored, app.catalog, emulator.root_url)
    assert shown[made[0]["id"]]["system_prompt"] == "Changed"


def test_the_assistant_counts_follow_every_write_of_an_assistant():
    """Store keeps the per-folder and per-label counts until the next write of an assistant: each write (create,
    update, delete, a side effect's rewrite, a reset) must show in the next count, and a count is a copy."""
    from provisioner.emulator.store import Store

    store = Store()
    first = store.create(7, {"name": "a", "folder_id": 1, "label_ids": [5, 6]}, "active", "v1")
    assert store.assistant_counts(7, "folder_id") == {1: 1}
    assert store.assistant_list_counts(7, "label_ids") == {5: 1, 6: 1}
    store.assistant_counts(7, "folder_id")[1] = 99  # a caller's change stays its own
    second = store.create(7, {"name": "b", "folder_id": 1, "label_ids": [6]}, "active", "v1")
    assert store.assistant_counts(7, "folder_id") == {1: 2}
    assert store.assistant_list_counts(7, "label_ids") == {5: 1, 6: 2}
    store.update(7, second["id"], {"name": "b", "folder_id": 2, "label_ids": []})
    assert store.assistant_counts(7, "folder_id") == {1: 1, 2: 1}
    assert store.assistant_list_counts(7, "label_ids") == {5: 1, 6: 1}
    store.rewrite_assistants(7, "id = ?", (first["id"],), lambda fields: fields.update(folder_id=None, label_ids=[]))
    assert store.assistant_counts(7, "folder_id") == {2: 1}
    assert store.assistant_list_counts(7, "label_ids") == {}
    store.delete(7, second["id"])
    assert store.assistant_counts(7, "folder_id") == {}
    store.create(7, {"name": "c", "folder_id": 3}, "active", "v1")
    assert store.assistant_counts(7, "folder_id") == {3: 1} and store.assistant_counts(8, "folder_id") == {}
    store.reset()
    assert store.assistant_counts(7, "folder_id") == {}
    store.close()


def _answer_in_one_read(sock: socket.socket, request: bytes) -> tuple[bytes, bool]:
    """Send `request` and read once, as soon as anything arrives: (what that read got, whether it is the whole
    answer by its Content-Length). One write on loopback arrives whole; a second one comes a moment later."""
    sock.sendall(request)
    first = sock.recv(1 << 20)
    head, _, body = first.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")[1:]
                      if line.lower().startswith(b"content-length:")))
    whole = len(body) == length
    while len(body) < length:  # read the rest, so the connection is ready for the next request
        body += sock.recv(1 << 20)
    return first, whole


def test_an_answer_leaves_the_emulator_in_one_write_head_and_body_together(tmp_path):
    """A real platform's web server sends a small answer's head and body in one piece; uvicorn wrote them apart, and
    a client woke twice per request (what scripts/benchmark.py measures of the client was inflated by it). The
    emulator in a process of its own, as the benchmark and `provisioner emulator` run it."""
    process, root = _start(tmp_path)
    try:
        host, port = root.split("//", 1)[1].split(":")
        requests = ["GET /api/user/assistants/languages", "GET /api/user/assistants/get?per_page=5&page=1",
                    "DELETE /api/user/assistant/999999", "GET /api/no/such/route"]
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for line in requests * 5:  # on one kept-alive connection, with answers of 200 and 404
                request = (f"{line} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                           "Accept: application/json\r\n\r\n").encode()
                first, whole = _answer_in_one_read(sock, request)
                assert whole, (line, first[:200])
    finally:
        _stop(process)
