"""The client against the answers API.md documents beside the ones the emulator gives.

The emulator answers one shape per endpoint; API.md documents others a client must read the same way (older
generations of the reference, other white-labels, the vendor's clients). Both were written by us, so a client
that only ever met the emulator's shape could pass every other test and misread the platform. Here a proxy in front
of the emulator (rewriting_proxy.py) turns each answer into another shape API.md documents for it, and a plan of a
repository of every kind, applied through the honest emulator, must still find nothing to change.
"""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from conftest import copy_graph_example
from rewriting_proxy import RewritingProxy


# Read-shape settings of a multimodal v2 assistant, beside the graph example's pipeline one.
MULTIMODAL = """\
apiVersion: provisioner/v1
kind: Assistant
metadata:
  name: concierge
spec:
  assistant_name: Concierge
  voice_id: 11
  language: German
  llm_model: gpt-4o-realtime
  calls_direction: receive
  engine_type: multimodal
  timezone: Europe/Berlin
  initial_message: Hallo
  system_prompt: Sei freundlich.
  phone_number_id: 47
  end_call_tool: {description: End the call when the guest says goodbye.}
  tools:
    - {type: call_transfer, phone_number: "+4930123456", description: To the front desk}
  knowledgebase_id: knowledgebase.faq
  knowledgebase_mode: function_call
  llm_temperature: 0.7
  voice_stability: 0.35
  speech_speed: 1.1
  ambient_sound: cafe
  ambient_sound_volume: 0.25
  who_speaks_first: Customer
  post_call_schema:
    - {name: happy, type: bool, description: Whether the guest was happy}
"""
DECIMALS = ("llm_temperature", "voice_stability", "voice_similarity", "speech_speed", "ambient_sound_volume")
CATALOGUES = re.compile(r"/user/assistants/(voices|languages|models|synthesizer-providers|transcriber-providers|"
                        r"phone-numbers)$")


def _short_decimal(value):
    """"0.70" as API.md's own example writes a decimal string: "0.7" (and "1.00" as "1.0")."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d+", value):
        value = value.rstrip("0")
        return value + "0" if value.endswith(".") else value
    return value


def documented_elsewise(method: str, where: str, status: int, raw: bytes):
    """Every answer in another shape API.md documents for it (the emulator's is one of those it allows)."""
    path = where.split("?")[0]
    if method != "GET" or status != 200:
        return None
    body = json.loads(raw)
    if path.endswith("/user/assistants/get"):
        for item in body["data"]:
            item["language"] = None  # "an ISO code, sometimes null; the name comes from language_id"
            item.update({name: _short_decimal(item[name]) for name in DECIMALS})
    elif CATALOGUES.search(path):
        if path.endswith("/voices"):  # older voice catalogues carried a mode per voice
            mode = re.search(r"mode=(\w+)", where)
            body = [{**voice, "mode": mode.group(1)} for voice in body] if mode else body
        body = {"data": body}  # "Catalogues answer bare JSON arrays; a client also accepts {"data": [...]}"
    elif path.endswith("/user/tools"):
        for tool in body:
            for header in tool["headers"]:
                del header["value"]  # "a header read back without a value is unknown, not drift"
        body = {"data": body}  # the reference's field list calls the list `data`
    elif path.endswith("/user/campaigns"):
        for campaign in body:  # times with seconds, as in the create answer
            for key in ("allowed_hours_start_time", "allowed_hours_end_time"):
                campaign[key] += ":00"
        body = {"campaigns": body}  # the older generation of the reference
    else:
        return None
    return status, json.dumps(body).encode(), "application/json"


@pytest.fixture
def every_kind(workspace, monkeypatch):
    copy_graph_example(workspace)
    workspace.write("manifests/concierge.yaml", MULTIMODAL)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-secret")
    monkeypatch.setenv("ORDERS_API_KEY", "orders-secret")
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    return workspace


def through(workspace, proxy_url: str, *args: str):
    honest = workspace.platform
    workspace.platform = dataclasses.replace(honest, url=proxy_url)
    try:
        return workspace.run(*args)
    finally:
        workspace.platform = honest


def test_a_plan_reads_every_kind_in_the_other_documented_shapes_as_unchanged(every_kind):
    with RewritingProxy(every_kind.platform.url, documented_elsewise) as proxy:
        plan = through(every_kind, proxy.url, "plan", "--detailed-exitcode")
        rewritten = {path.split("?")[0].rsplit("/api", 1)[-1] for method, path in proxy.seen}
    assert plan.exit_code == 0 and "No changes" in plan.output, plan.all
    # The shapes were met: the lists of every kind the repository holds, and the catalogues.
    assert {"/user/assistants/get", "/user/assistants/languages", "/user/tools", "/user/campaigns", "/user/folders",
            "/user/labels"} <= rewritten, rewritten


def test_a_folder_page_without_last_page_is_read_whole(workspace):
    """API.md: the folder and label lists page by current_page, per_page and total (the reference's example has no
    last_page): a client reads every page of them as the emulator now answers them."""
    ids = [workspace.platform.http.post("/user/folder", json={"name": f"f{index:03}"}).json()["data"]["id"]
           for index in range(105)]
    page = workspace.platform.http.get("/user/folders", params={"per_page": 100}).json()
    assert set(page) == {"data", "current_page", "per_page", "total"} and page["total"] == 105
    workspace.dialect = "v2"
    workspace.write("manifests/last.yaml", "apiVersion: provisioner/v1\nkind: Folder\nmetadata: {name: last}\n"
                                           "spec: {name: f104}\n")
    plan = workspace.run("plan")
    # f104 is on the second page: adopted by its name, not created a second time (the platform would refuse it).
    assert plan.exit_code == 0 and f"adopting id {ids[-1]}" in plan.output and "0 to add" in plan.output, plan.all


def test_the_older_401_body_is_an_authentication_error(workspace):
    """API.md: 401 answers {"error": "Invalid API key", ...}, older ones {"message": "Unauthenticated."}; a client
    accepts both."""
    workspace.add("sales")
    with RewritingProxy(workspace.platform.url) as proxy:
        proxy.intercept = lambda method, path: (401, b'{"message": "Unauthenticated."}', "application/json")
        plan = through(workspace, proxy.url, "plan")
    assert plan.exit_code != 0 and "rejected the API token (401 Unauthenticated.)" in plan.all, plan.all
