"""The emulator answers as API.md says: shapes, rules, auth, tenants, pagination, and its test endpoints."""
import httpx
import pytest

from conftest import OTHER_TOKEN, REQUIRED

BODY = {"assistant_name": "Emu", **REQUIRED}


def test_create_answers_the_documented_shape(platform):
    response = platform.http.post("/user/assistant", json={**BODY, "calls_direction": "receive"})
    assert response.status_code in (200, 201)
    body = response.json()
    assert body["message"] == "Assistant created successfully"
    assert set(body["data"]) == {"id", "name", "status", "type", "mode"}
    assert body["data"]["name"] == "Emu" and body["data"]["status"] == "active"
    assert body["data"]["type"] == "inbound" and body["data"]["mode"] == "pipeline"


def test_list_answers_the_read_shape_not_the_create_shape(platform):
    platform.create(**BODY, filler_audios=True, max_call_duration=300, record_call=True,
                    end_call_tool={"description": "bye"}, variables={"k": "v"})
    [item] = platform.assistants()
    assert item["name"] == "Emu" and "assistant_name" not in item
    assert item["type"] == "outbound" and item["mode"] == "pipeline"
    assert item["fillers"] == 1 and item["max_duration"] == 300 and item["record"] is True
    assert item["tools"] == [{"type": "end_call", "data": {"description": "bye"}}]
    assert item["variables"] == {"k": "v"} and item["user_id"] == 1 and item["status"] == "active"
    assert {"created_at", "updated_at"} <= set(item)
    # Write-only fields are never shown back.
    for field in ("llm_model", "speech_speed", "who_speaks_first", "calls_direction", "engine_type"):
        assert field not in item


def test_validation_errors_use_the_422_shape_with_dotted_keys(platform):
    response = platform.http.post("/user/assistant", json={
        **BODY, "voice_id": 999, "speech_speed": 2, "language": "Klingon", "phone_number_id": 90,
        "post_call_schema": [{"name": "bad name", "type": "text"}], "is_webhook_active": True,
        "timezone": "Mars/Base", "end_call_tool": {"description": "x" * 501}})
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert set(body["errors"]) == {"voice_id", "speech_speed", "language", "phone_number_id",
                                   "post_call_schema.0.name", "post_call_schema.0.type",
                                   "post_call_schema.0.description", "webhook_url", "timezone",
                                   "end_call_tool.description"}
    assert all(isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in body["errors"].values())
    assert platform.assistants() == []


def test_missing_required_fields_and_a_non_json_body(platform):
    response = platform.http.post("/user/assistant", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"assistant_name", "voice_id", "language", "llm_model",
                                              "calls_direction", "engine_type", "timezone", "initial_message",
                                              "system_prompt"}


def test_unknown_fields_are_ignored_like_the_platform_does(platform):
    assert platform.http.post("/user/assistant", json={**BODY, "colour": "red"}).status_code in (200, 201)


def test_auth_is_required(platform):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic local-dev-token"}):
        response = httpx.get(platform.url + "/user/assistants/get", headers=headers)
        assert response.status_code == 401 and response.json() == {"message": "Unauthenticated."}


def test_tenants_are_isolated(platform):
    mine = platform.create(**BODY)
    other = httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
    assert other.get("/user/assistants/get").json()["total"] == 0
    assert other.put(f"/user/assistant/{mine['id']}", json={"assistant_name": "x"}).status_code == 404
    assert other.delete(f"/user/assistant/{mine['id']}").status_code == 404
    # Phone number 90 belongs to the other tenant: mine may not use it.
    assert platform.http.post("/user/assistant", json={**BODY, "phone_number_id": 90}).status_code == 422
    assert other.post("/user/assistant", json={**BODY, "phone_number_id": 90}).status_code in (200, 201)


def test_update_validates_like_create_and_changes_only_what_is_sent(platform):
    created = platform.create(**BODY, record_call=True)
    path = f"/user/assistant/{created['id']}"
    response = platform.http.put(path, json={"system_prompt": "New", "speech_speed": 5})
    assert response.status_code == 422 and set(response.json()["errors"]) == {"speech_speed"}
    response = platform.http.put(path, json={"system_prompt": "New"})
    assert response.status_code == 200 and response.json()["message"] == "Assistant updated successfully"
    [item] = platform.assistants()
    assert item["system_prompt"] == "New" and item["record"] is True
    assert platform.http.put("/user/assistant/99999", json={}).status_code == 404


def test_delete(platform):
    created = platform.create(**BODY)
    response = platform.http.delete(f"/user/assistant/{created['id']}")
    assert response.status_code == 200 and response.json() == {"message": "Assistant deleted successfully"}
    assert platform.http.delete(f"/user/assistant/{created['id']}").status_code == 404
    assert platform.assistants() == []


def test_pagination(platform):
    for i in range(25):
        platform.create(**{**BODY, "assistant_name": f"A{i}"})
    page = platform.http.get("/user/assistants/get").json()
    assert (page["per_page"], page["total"], page["last_page"], page["current_page"]) == (10, 25, 3, 1)
    assert (page["from"], page["to"], len(page["data"])) == (1, 10, 10)
    last = platform.http.get("/user/assistants/get", params={"per_page": 10, "page": 3}).json()
    assert (last["from"], last["to"], len(last["data"])) == (21, 25, 5)
    beyond = platform.http.get("/user/assistants/get", params={"page": 9}).json()
    assert beyond["data"] == [] and beyond["from"] is None
    names = [a["name"] for a in platform.assistants()]
    assert names == [f"A{i}" for i in range(25)]
    for bad in ({"per_page": 0}, {"per_page": 101}, {"per_page": "x"}, {"page": 0}):
        assert platform.http.get("/user/assistants/get", params=bad).status_code == 422


def test_catalogues(platform):
    voices = platform.http.get("/user/assistants/voices", params={"mode": "multimodal"}).json()
    voices = voices["data"] if isinstance(voices, dict) else voices
    assert voices and all(v["mode"] == "multimodal" and {"id", "name"} <= set(v) for v in voices)
    languages = platform.http.get("/user/assistants/languages").json()
    languages = languages["data"] if isinstance(languages, dict) else languages
    assert {"id": 1, "name": "English"} in languages
    numbers = platform.http.get("/user/assistants/phone-numbers", params={"type": "inbound"}).json()
    numbers = numbers["data"] if isinstance(numbers, dict) else numbers
    assert {n["id"] for n in numbers} == {45, 47}
    assert set(numbers[0]) == {"id", "phone_number", "country_code", "type_label", "is_available"}


def test_stats_faults_and_reset(platform):
    platform.create(**BODY)
    platform.http.get("/user/assistants/get")
    stats = platform.stats()
    assert stats["requests"]["POST /user/assistant"] == 1 and stats["total"] >= 2
    platform.faults(error_rate=1.0)
    assert platform.http.get("/user/assistants/get").status_code == 500
    platform.faults(error_rate=0, rate_limit=2)
    codes = [platform.http.get("/user/assistants/get").status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes
    limited = platform.http.get("/user/assistants/get")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert platform.http.post("/_emulator/faults", json={"error_rate": 2}).status_code == 422
    platform.faults(rate_limit=0)
    platform.http.post("/_emulator/reset")
    assert platform.stats() == {"total": 0, "requests": {}}
    assert platform.assistants() == []


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


@pytest.mark.parametrize("catalog_text, error", [("voices: []\n", "tenants")])
def test_a_bad_catalogue_is_refused(tmp_path, catalog_text, error):
    from provisioner.emulator import load_catalog

    path = tmp_path / "c.yaml"
    path.write_text(catalog_text)
    with pytest.raises(ValueError, match=error):
        load_catalog(path)


def test_the_emulator_command_persists_in_sqlite_and_reads_its_catalogue(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("voices: [{id: 7, name: V, mode: pipeline}]\nlanguages: [{id: 1, name: Klingon}]\n"
                       "tenants: [{token: t1, user_id: 5, phone_numbers: [{id: 3, phone_number: '+1555'}]}]\n")

    def start(*extra):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        process = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "--port", str(port),
                                    "--db", str(tmp_path / "e.db"), "--catalog", str(catalog), *extra],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer t1"})
        for _ in range(100):
            try:
                client.get("/_emulator/stats")
                return process, client
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(process.stderr.read())

    process, client = start()
    try:
        body = {**BODY, "voice_id": 7, "language": "Klingon", "phone_number_id": 3}
        assert client.post("/user/assistant", json=body).status_code in (200, 201)
        assert client.post("/user/assistant", json={**body, "voice_id": 1}).status_code == 422
    finally:
        process.terminate()
        process.wait()
    process, client = start("--error-rate", "1", "--seed", "1")
    try:
        assert client.get("/user/assistants/get").status_code == 500
        client.post("/_emulator/faults", json={"error_rate": 0})
        [item] = client.get("/user/assistants/get").json()["data"]
        assert item["user_id"] == 5 and item["voice_id"] == 7
    finally:
        process.terminate()
        process.wait()


def test_a_catalogue_from_elsewhere_loads_with_what_it_has(tmp_path):
    from provisioner.emulator import load_catalog

    path = tmp_path / "c.yaml"
    path.write_text("voices: [{id: 1, name: A, gender: f}]\nlanguages: [{id: 1, name: English, code: en}]\n"
                    "tenants: [{token: t, user_id: 1, phone_numbers: [{id: 2, phone_number: '+1', type: both}]}]\n")
    catalog = load_catalog(path)
    assert catalog.voices[0].mode is None and catalog.tenants[0].phone_numbers[0].listed_under("inbound")


def test_the_bearer_scheme_is_case_insensitive(platform):
    response = httpx.get(platform.url + "/user/assistants/get", headers={"Authorization": "bearer local-dev-token"})
    assert response.status_code == 200
