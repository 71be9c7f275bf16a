"""The API token and sensitive manifest values never reach state, plan files, output or errors."""
import json
import httpx
import pytest

from provisioner.emulator import EmbeddedPlatform, build_platform
from conftest import Platform, Workspace

TOKEN = "tok-SECRET-3b9d1c"
WRONG_TOKEN = "tok-WRONG-SECRET-e4"
HOOK_1 = "https://hooks.example/x?key=whsec-ABC123"
HOOK_2 = "https://hooks.example/x?key=whsec-DEF456"
PROMPT = "PROMPT-SECRET-77"
SECRETS = (TOKEN, WRONG_TOKEN, "whsec-ABC123", "whsec-DEF456", PROMPT)
CATALOG = f"""
voices: [{{id: 1, name: Sarah, mode: pipeline}}]
languages: [{{id: 1, name: English}}]
tenants: [{{token: {TOKEN}, user_id: 7, phone_numbers: []}}]
"""


@pytest.fixture
def secret_workspace(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    with EmbeddedPlatform(build_platform(catalog=catalog)) as embedded:
        with httpx.Client(base_url=embedded.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http, \
                httpx.Client(base_url=embedded.root_url,
                             headers={"Authorization": f"Bearer {embedded.admin_token}"}) as admin:
            root = tmp_path / "project"
            root.mkdir()
            yield Workspace(root, Platform(embedded.url, http, admin, embedded.root_url), token=TOKEN)


def test_secrets_appear_nowhere(secret_workspace):
    ws = secret_workspace
    outputs = []

    def run(*args, **kwargs):
        result = ws.run(*args, **kwargs)
        outputs.append((args, result.output + result.stderr))
        return result

    sensitive = "sensitive: [system_prompt]"
    ws.add("a", is_webhook_active=True, webhook_url=HOOK_1, system_prompt=PROMPT, metadata_extra=sensitive)
    assert run("validate", api=False).exit_code == 0
    plan = run("plan")
    assert "webhook_url" in plan.output and "(sensitive)" in plan.output
    assert run("plan", "--json").exit_code == 0
    assert run("plan", "--out", "saved.plan").exit_code == 0
    assert run("apply", "saved.plan").exit_code == 0
    [item] = ws.platform.assistants()
    assert item["webhook_url"] == HOOK_1 and item["system_prompt"] == PROMPT  # the platform got the real values

    ws.add("a", is_webhook_active=True, webhook_url=HOOK_2, system_prompt=PROMPT, metadata_extra=sensitive)
    update = run("plan")
    assert "~ webhook_url" in update.output and "(sensitive) -> (sensitive)" in update.output
    assert run("apply", "--auto-approve").exit_code == 0
    assert ws.platform.assistants()[0]["webhook_url"] == HOOK_2
    ws.platform.http.put(f"/user/assistant/{item['id']}", json={"webhook_url": HOOK_1})  # drift
    assert run("plan", "--detailed-exitcode").exit_code == 2
    assert run("refresh").exit_code == 0
    assert run("state", "list").exit_code == 0
    assert run("state", "show", "a").exit_code == 0
    assert run("apply", "--auto-approve").exit_code == 0

    # Errors: a rejected token, a plan error, a 422 from the platform.
    token_file = ws.write("wrong-token", WRONG_TOKEN)
    assert run("plan", f"--token-file={token_file}").exit_code == 1
    ws.add("b", voice_id=99, webhook_url=HOOK_2, is_webhook_active=True)
    assert run("plan").exit_code == 1
    assert run("plan", "--json").exit_code == 1

    for args, text in outputs:
        for secret in SECRETS:
            assert secret not in text, (args, secret)
    for path in ws.root.rglob("*"):
        if path.is_file() and "manifests" not in path.parts and path.name not in ("wrong-token",) \
                and path.suffix != ".db":
            content = path.read_text(errors="replace")
            for secret in SECRETS:
                assert secret not in content, (path, secret)
    pulled = ws.run("state", "pull").output  # the state database itself, row by row, and its history
    assert '"resources"' in pulled and all(secret not in pulled for secret in SECRETS)
    assert all(secret.encode() not in ws.state_file.read_bytes() for secret in SECRETS)


def test_masking_hides_a_changes_sensitive_values_on_its_own_thread_and_only_while_it_runs():
    """apply masks a change's sensitive values where its failure is told (its worker's retry notices, its message):
    not by registering every change's values for the whole run, which made every output line's scrub slower with
    the fleet's size."""
    import threading

    from provisioner.scrub import masking, scrub

    body = {"headers": {"X-Key": "hdr-SECRET-1"}, "name": "lookup", "sip_password": 'pw"QUOTED-2'}
    assert scrub("sent hdr-SECRET-1") == "sent hdr-SECRET-1"
    elsewhere: list[str] = []
    with masking(body, {"headers", "sip_password"}):
        assert scrub('sent {"X-Key": "hdr-SECRET-1"}') == 'sent {"X-Key": "***"}'
        assert scrub(json.dumps(body)) == '{"headers": {"X-Key": "***"}, "name": "lookup", "sip_password": "***"}'
        assert scrub("lookup") == "lookup"  # a field that is not sensitive stays
        other = threading.Thread(target=lambda: elsewhere.append(scrub("hdr-SECRET-1")))
        other.start()
        other.join()
    assert elsewhere == ["hdr-SECRET-1"] and scrub("hdr-SECRET-1") == "hdr-SECRET-1"


LINK_TOKEN = "doc-TOKEN-5e21aa"


def test_a_document_links_credentials_stay_out_of_saved_plans_and_state_and_the_plan_still_applies(workspace):
    """A knowledge base's website document whose link carries a token (?token=): its `links` are sensitive as a
    manifest's own credential-carrying fields are, so a saved plan and state keep a digest; `apply PLANFILE` reads
    the link from the manifest again and the platform gets it whole (before, the plan file held it in clear)."""
    ws = workspace
    ws.dialect = "v2"
    ws.write("manifests/kb.yaml", f"""apiVersion: provisioner/v1
kind: KnowledgeBase
metadata:
  name: faq
spec:
  name: FAQ with a private page
  description: Answers
  documents:
    - key: page
      name: Private page
      type: website
      links:
        - link: https://docs.example.com/private?token={LINK_TOKEN}
    - key: other
      name: Other private page
      type: website
      url: https://docs.example.com/other?api_key={LINK_TOKEN}
""")
    planned = ws.run("plan", "--out", "saved.plan")
    assert planned.exit_code == 0, planned.all
    assert LINK_TOKEN not in (ws.root / "saved.plan").read_text()
    applied = ws.run("apply", "saved.plan")
    assert applied.exit_code == 0, applied.all
    kb_id = ws.state()["resources"]["knowledgebase.faq"]["id"]
    documents = ws.platform.http.get(f"/user/knowledgebases/{kb_id}/documents").json()["data"]
    assert len(documents) == 2
    for document in documents:
        stored = ws.platform.admin.get(f"/_emulator/objects/documents/{document['id']}").json()["fields"]
        assert LINK_TOKEN in json.dumps(stored)  # the platform got the real link and URL
    assert LINK_TOKEN not in json.dumps(ws.state()) and LINK_TOKEN.encode() not in ws.state_file.read_bytes()
    again = ws.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.all
    assert all(LINK_TOKEN not in text for text in (planned.all, applied.all, again.all))
