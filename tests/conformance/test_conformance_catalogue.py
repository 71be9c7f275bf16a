"""The catalogue file (API.md "The emulator's own additions", docs/emulator.md): caller IDs known by their
`type_label` alone, the shipped providers kept by a file without any, every kind's initial objects per tenant
(assistants and campaigns included), the tenant's payment method and balance, and a bad file reported by file,
line and field."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import resources

import httpx
import pytest
import yaml
from click.testing import CliRunner

import conformance_kind_schemas as S
import conformance_schemas as A
from conformance_bodies import v1_body
from conformance_fixtures import answered
from provisioner.emulator import EmbeddedPlatform, build_platform

BASE = """\
voices: [{id: 1, name: Sarah, mode: pipeline}]
languages: [{id: 1, name: English, iso_2: en}]
models: [{id: 11, name: gpt-4o, type: llm}]
"""


def start(tmp_path, text: str) -> EmbeddedPlatform:
    path = tmp_path / "catalogue.yaml"
    path.write_text(BASE + textwrap.dedent(text))
    return EmbeddedPlatform(build_platform(catalog=path))


def client(embedded: EmbeddedPlatform, token: str = "t1") -> httpx.Client:
    return httpx.Client(base_url=embedded.url, headers={"Authorization": f"Bearer {token}"})


def test_a_caller_id_is_known_by_its_type_label_alone(tmp_path):
    with start(tmp_path, """\
            tenants:
              - token: t1
                user_id: 1
                phone_numbers:
                  - {id: 3, phone_number: "+14155550103", country_code: US, type_label: Caller ID}
                  - {id: 4, phone_number: "+14155550104", country_code: US, type_label: Normal}
            """) as embedded, client(embedded) as http:
        assert [n["id"] for n in http.get("/user/assistants/phone-numbers", params={"type": "inbound"}).json()] == [4]
        assert [n["id"] for n in http.get("/user/assistants/phone-numbers", params={"type": "outbound"}).json()] == \
            [3, 4]
        refused = http.post("/user/assistant", json=v1_body(calls_direction="receive", phone_number_id=3))
        assert refused.status_code == 422 and list(refused.json()["errors"]) == ["phone_number_id"]
        assert http.post("/user/assistant", json=v1_body(calls_direction="make", phone_number_id=3)).status_code == 201
        assert http.get("/user/phone-numbers/all").json()["data"][0]["type"] == "caller_id"


def test_a_catalogue_without_providers_keeps_the_shipped_ones(tmp_path):
    shipped = yaml.safe_load(resources.files("provisioner.emulator").joinpath("default_catalog.yaml").read_text())
    with start(tmp_path, "tenants: [{token: t1, user_id: 1}]\n") as embedded, client(embedded) as http:
        synthesizers = http.get("/user/assistants/synthesizer-providers").json()
        transcribers = http.get("/user/assistants/transcriber-providers").json()
    assert [p["id"] for p in synthesizers] == [p["id"] for p in shipped["synthesizer_providers"]] and synthesizers
    assert [p["id"] for p in transcribers] == [p["id"] for p in shipped["transcriber_providers"]] and transcribers


SEEDED = """\
    tenants:
      - token: t1
        user_id: 1
        phone_numbers:
          - {id: 45, phone_number: "+14155550100", type_label: Normal, nickname: Main}
          - {id: 46, phone_number: "1000", country_code: DE, type_label: SIP, sip_username: pbx, sip_password: pw1,
             sip_address: pbx.example.com, sip_calling_format: national, inbound_authorization_type: auth}
        tools:
          - {id: 7, name: get_weather, description: Weather, endpoint: "https://api.example.com/w", method: GET}
        knowledgebases:
          - id: 8
            name: FAQ
            documents:
              - {name: Pricing, type: website, url: "https://www.example.com/pricing"}
              - {name: Manual, type: pdf, file: manual.pdf}
        folders: [{name: Sales, color: blue}]
        labels: [{id: 20, name: vip}]
      - token: t2
        user_id: 2
        payment_method: false
        balance: false
    """


def test_every_kinds_initial_objects(tmp_path):
    with start(tmp_path, SEEDED) as embedded, client(embedded) as http:
        assert [(t["id"], t["name"]) for t in http.get("/user/tools").json()] == [(7, "get_weather")]
        [kb] = http.get("/user/knowledgebases").json()["data"]
        assert (kb["id"], kb["status"], kb["documents_count"]) == (8, "active", 2)
        assert [d["type"] for d in http.get("/user/knowledgebases/8/documents").json()["data"]] == ["website", "pdf"]
        [folder] = http.get("/user/folders").json()["data"]
        assert (folder["name"], folder["color"]) == ("Sales", "blue") and folder["id"] not in (7, 8, 20, 45, 46)
        assert [label["id"] for label in http.get("/user/labels").json()["data"]] == [20]
        [trunk] = http.get("/user/phone-numbers/sip-trunks").json()["data"]
        assert (trunk["id"], trunk["sip_username"], trunk["country_code"]) == (46, "pbx", "DE")
        assert "sip_password" not in trunk
        assert http.get("/user/phone-numbers/all").json()["data"][0]["nickname"] == "Main"
        body = {**v1_body(), "tool_ids": [7]}
        assert http.post("/user/assistant", json=body).status_code == 201
        http.delete("/user/tools/7")
        admin = {"Authorization": f"Bearer {embedded.admin_token}"}
        assert httpx.post(embedded.root_url + "/_emulator/reset", headers=admin).status_code == 200
        assert [t["id"] for t in http.get("/user/tools").json()] == [7], "a reset starts from the catalogue again"


def test_a_tenant_without_a_payment_method_or_balance(tmp_path):
    with start(tmp_path, SEEDED) as embedded, client(embedded, "t2") as http:
        [offer, *_] = http.get("/user/phone-numbers/search", params={"country_code": "GB"}).json()["data"]
        refused = http.post("/user/phone-numbers/purchase", json={"phone_number": offer["phone_number"]})
        assert refused.status_code == 402 and refused.json()["error"].startswith("No payment method found.")
        assert http.get("/user/phone-numbers/all").json() == {"data": []}
        assistant = http.post("/user/assistant", json=v1_body()).json()["data"]
        campaign = http.post("/user/campaigns", json={"name": "C", "assistant_id": assistant["id"]}).json()["data"]
        refused = http.post("/user/campaigns/update-status", json={"campaign_id": campaign["id"], "action": "start"})
        assert refused.status_code == 400 and refused.json() == {
            "message": "Insufficient balance to start the campaign. Please top up your account.", "success": False,
            "data": {"campaign_id": campaign["id"], "status": "draft"}}


PEOPLE = """\
    tenants:
      - token: t1
        user_id: 1
        phone_numbers: [{id: 45, phone_number: "+14155550100"}, {id: 46, phone_number: "+14155550101"}]
        tools:
          - {id: 7, name: get_weather, description: Weather, endpoint: "https://api.example.com/w", method: GET}
        labels: [{id: 20, name: vip}]
        assistants:
          - {assistant_name: Sales, voice_id: 1, language: English, llm_model: gpt-4o, calls_direction: make,
             engine_type: pipeline, timezone: America/New_York, initial_message: Hi, system_prompt: Sell.,
             speech_speed: 1.1, tool_ids: [7], post_call_schema: [{name: booked, type: bool, description: Booked?}]}
          - {id: 30, name: Desk, voice_id: 1, language_id: 1, type: inbound, mode: pipeline, llm_model_id: 11,
             timezone: Europe/Berlin, initial_message: Hello, system_prompt: Help., phone_number_id: 45,
             label_ids: [20]}
          - {id: 31, name: Caller, voice_id: 1, language_id: 1, type: outbound, mode: pipeline, llm_model_id: 11,
             timezone: Europe/Berlin, initial_message: Hello, system_prompt: Call.}
        campaigns:
          - {name: Spring, assistant: Sales, goal_completion_variable: booked, phone_number_ids: [45, 46]}
          - {name: Autumn, assistant: 2, max_retries: 2, allowed_hours_start_time: "09:00"}
          - {id: 60, name: Winter, assistant_id: 31, allowed_days: [monday]}
      - token: t2
        user_id: 2
    """


def test_initial_assistants_and_campaigns_read_back_through_the_api(tmp_path):
    with start(tmp_path, PEOPLE) as embedded, client(embedded) as http, client(embedded, "t2") as other:
        page = answered(http.get("/user/assistants/get"), 200, A.PAGE)
        # Explicit ids kept; the one without an id gets the next after every id the file gives.
        assert [(a["id"], a["name"], a["type"], a["status"]) for a in page["data"]] == [
            (30, "Desk", "inbound", "inactive"), (31, "Caller", "outbound", "inactive"),
            (32, "Sales", "outbound", "active")]
        sales = page["data"][2]
        assert (sales["speech_speed"], sales["language"], sales["llm_model_id"]) == ("1.10", "en", 11)
        assert sales["post_call_schema"][0]["type"] == "boolean"
        assert page["data"][0]["phone_number_id"] == 45
        inbound = http.get("/user/assistants/phone-numbers", params={"type": "inbound"}).json()
        assert [n["id"] for n in inbound] == [46], "the initial inbound assistant holds its number"
        outbound = answered(http.get("/user/assistants/outbound"), 200, A.OUTBOUND_ASSISTANTS)
        assert [a["id"] for a in outbound] == [31, 32]
        # Listed by id: the ones without an id come after every id the file gives (60).
        campaigns = answered(http.get("/user/campaigns"), 200, S.CAMPAIGNS)
        every_day = S.DAYS["items"]["enum"]
        assert [(c["id"], c["name"], c["status"], c["max_retries"], c["allowed_hours_start_time"], c["allowed_days"])
                for c in campaigns] == [(60, "Winter", "draft", 3, "00:00", ["monday"]),
                                        (61, "Spring", "draft", 3, "00:00", every_day),
                                        (62, "Autumn", "draft", 2, "09:00", every_day)]
        assert other.get("/user/assistants/get").json()["total"] == 0 and other.get("/user/campaigns").json() == []
        admin = {"Authorization": f"Bearer {embedded.admin_token}"}
        stored = httpx.get(f"{embedded.root_url}/_emulator/objects/assistants/32", headers=admin).json()["fields"]
        assert stored["tool_ids"] == [7]
        # The initial objects are the platform's: they change and go like any others, and a reset puts them back.
        assert http.delete("/user/tools/7").status_code == 200
        assert httpx.get(f"{embedded.root_url}/_emulator/objects/assistants/32", headers=admin).json()[
            "fields"]["tool_ids"] == []
        assert http.delete("/user/assistant/30").status_code == 200
        assert http.delete("/user/campaign/61").status_code == 200
        assert httpx.post(embedded.root_url + "/_emulator/reset", headers=admin).status_code == 200
        assert [a["id"] for a in http.get("/user/assistants/get").json()["data"]] == [30, 31, 32]
        assert [c["id"] for c in http.get("/user/campaigns").json()] == [60, 61, 62]
        created = http.post("/user/assistant", json=v1_body()).json()["data"]
        assert created["id"] == 33, "new assistants take the next free id"


PEOPLE_BASE = BASE + """\
tenants:
  - token: t
    user_id: 1
    phone_numbers: [{id: 45, phone_number: "+14155550100", type_label: Caller ID}]
    assistants:
      - {assistant_name: Sales, voice_id: 1, language: English, llm_model: gpt-4o, calls_direction: make,
         engine_type: pipeline, timezone: America/New_York, initial_message: Hi, system_prompt: Sell.}
"""


BAD = [
    ("voices: [{id: x, name: V}]\nlanguages: []\ntenants: [{token: t, user_id: 1}]\n", 1, "voices.0.id"),
    (BASE + "tenants:\n  - token: t\n    user_id: 1\n    tools:\n      - {name: Bad-Name, description: d,\n"
             "         endpoint: 'https://x.example.com', method: GET}\n", 8, "tenants.0.tools.0.name"),
    (BASE + "tenants:\n  - {token: t, user_id: 1}\n  - {token: t, user_id: 2}\n", 6, "tenants.1.token"),
    (BASE + "tenants:\n  - token: t\n    user_id: 1\n    folders: [{name: A}]\n    labels:\n      - {id: 1}\n",
     9, "tenants.0.labels.0.name"),
    (BASE + "tenants:\n  - token: t\n    user_id: one\n", 6, "tenants.0.user_id"),
    (BASE + "tenants: [{token: t, user_id: 1}\n", 5, None),
    # Initial assistants, by the create rules of either dialect (the item's line, the field's name).
    (PEOPLE_BASE.replace("initial_message: Hi,", "initial_message: Hi, speech_speed: 3,"), 10,
     "tenants.0.assistants.0.speech_speed"),
    (PEOPLE_BASE + "      - {name: Desk, voice_id: 1, language_id: 1, type: inbound, mode: pipeline,\n"
                   "         llm_model_id: 11, timezone: Mars/Base, initial_message: Hello, system_prompt: Help.,\n"
                   "         phone_number_id: 45}\n", 12, "tenants.0.assistants.1.timezone"),
    (PEOPLE_BASE + "      - {name: Desk, voice_id: 1, language_id: 1, type: inbound, mode: pipeline,\n"
                   "         llm_model_id: 11, timezone: UTC, initial_message: Hello, system_prompt: Help.,\n"
                   "         phone_number_id: 45}\n", 13, "tenants.0.assistants.1.phone_number_id"),
    (PEOPLE_BASE.replace("{assistant_name: Sales,", "{id: -1, assistant_name: Sales,"), 9,
     "tenants.0.assistants.0.id"),
    # Initial campaigns: their assistant, and the campaign create rules.
    (PEOPLE_BASE + "    campaigns:\n      - {name: C, assistant: Nobody}\n", 12, "tenants.0.campaigns.0.assistant"),
    (PEOPLE_BASE + "    campaigns:\n      - {name: C, assistant: 3}\n", 12, "tenants.0.campaigns.0.assistant"),
    (PEOPLE_BASE + "    campaigns:\n      - {name: C, assistant: 0, max_retries: 9}\n", 12,
     "tenants.0.campaigns.0.max_retries"),
    (PEOPLE_BASE + "    campaigns:\n      - {name: C, assistant: 0, goal_completion_variable: booked}\n", 12,
     "tenants.0.campaigns.0.goal_completion_variable"),
    (PEOPLE_BASE + "    campaigns:\n      - {name: C, assistant_id: 1}\n      - {assistant_id: 99}\n", 13,
     "tenants.0.campaigns.1.name"),
]


@pytest.mark.parametrize("text, line, field", BAD)
def test_a_bad_catalogue_names_the_file_the_line_and_the_field(tmp_path, text, line, field):
    from provisioner.cli import cli

    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--catalog", str(path)])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert str(path) in result.output and f"line {line}" in result.output, result.output
    if field:
        assert field in result.output, result.output


def test_a_bad_catalogue_on_the_command_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD[1][0])
    done = subprocess.run([sys.executable, "-m", "provisioner", "emulator", "--port", "0", "--catalog", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"{path}" in done.stderr and "line 8: tenants.0.tools.0.name:" in done.stderr, done.stderr
