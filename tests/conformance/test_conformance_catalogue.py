"""The catalogue file (API.md "The emulator's own additions", docs/emulator.md): caller IDs known by their
`type_label` alone, the shipped providers kept by a file without any, every kind's initial objects per tenant,
the tenant's payment method and balance, and a bad file reported by file, line and field."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import resources

import httpx
import pytest
import yaml
from click.testing import CliRunner

from conformance_bodies import v1_body
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


BAD = [
    ("voices: [{id: x, name: V}]\nlanguages: []\ntenants: [{token: t, user_id: 1}]\n", 1, "voices.0.id"),
    (BASE + "tenants:\n  - token: t\n    user_id: 1\n    tools:\n      - {name: Bad-Name, description: d,\n"
             "         endpoint: 'https://x.example.com', method: GET}\n", 8, "tenants.0.tools.0.name"),
    (BASE + "tenants:\n  - {token: t, user_id: 1}\n  - {token: t, user_id: 2}\n", 6, "tenants.1.token"),
    (BASE + "tenants:\n  - token: t\n    user_id: 1\n    folders: [{name: A}]\n    labels:\n      - {id: 1}\n",
     9, "tenants.0.labels.0.name"),
    (BASE + "tenants:\n  - token: t\n    user_id: one\n", 6, "tenants.0.user_id"),
    (BASE + "tenants: [{token: t, user_id: 1}\n", 5, None),
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
