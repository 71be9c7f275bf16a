"""export writes every document of a knowledge base, through the real CLI against the emulator over HTTP. The
platform shows neither a website's url nor a file's bytes (API.md): the manifest says where the user must fill
in the url and put each file, and invents neither. Once they are supplied, the manifest adopts the knowledge
base and its documents with nothing to change, and the next plan is `No changes.`"""
from __future__ import annotations

import json

import yaml

V2 = ("--api-dialect", "v2")


def made(platform, path: str, **body) -> int:
    response = platform.http.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]["id"]


def file_document(platform, kb_id: int, name: str, content: bytes) -> int:
    response = platform.http.post(f"/user/knowledgebases/{kb_id}/documents", data={"name": name, "type": "txt"},
                                  files={"file": ("hours.txt", content, "text/plain")})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def test_export_writes_every_document_and_says_what_to_supply(workspace, platform):
    workspace.dialect = "v2"
    kb_id = made(platform, "/user/knowledgebases", name="Help Desk", description="What callers ask")
    made(platform, f"/user/knowledgebases/{kb_id}/documents", name="Returns page", type="website",
         url="https://example.com/returns", relative_links_limit=5)
    file_document(platform, kb_id, "Opening hours", b"Open 9 to 5.\n")
    result = workspace.run("export", "--out", "exported", *V2)
    assert result.exit_code == 0, result.all
    path = workspace.root / "exported" / "knowledgebase.help-desk.yaml"
    text = path.read_text()
    document = yaml.safe_load(text)
    assert document["spec"] == {
        "name": "Help Desk", "description": "What callers ask",
        "documents": [{"name": "Returns page", "key": "returns-page", "type": "website", "url": ""},
                      {"name": "Opening hours", "key": "opening-hours", "type": "txt",
                       "file": "files/help-desk/opening-hours.txt"}]}
    assert "url: ''  # not shown by the platform" in text
    assert "file: files/help-desk/opening-hours.txt  # not given back by the platform" in text
    assert "example.com" not in text  # nothing is invented, and the platform does not show it
    # The output says what to supply, and where.
    assert "documents[0].url (document 'Returns page')" in result.output, result.output
    assert "put the documents' files at files/help-desk/opening-hours.txt" in result.output
    assert not (workspace.root / "exported" / "files").exists()  # no file content invented

    # The user supplies the url and the file: the manifest adopts everything with nothing to change.
    text = text.replace("url: ''", "url: https://example.com/returns")
    workspace.write("manifests/knowledgebase.help-desk.yaml", text)
    workspace.write("manifests/files/help-desk/opening-hours.txt", "Open 9 to 5.\n")
    assert workspace.run("validate").exit_code == 0
    planned = workspace.run("plan", "--json", *V2)
    changes = json.loads(planned.output)["changes"]
    assert sorted((c["address"], c["action"], bool(c["fields"])) for c in changes) == [
        ("knowledgebase.help-desk", "import", False), ("knowledgebase.help-desk.opening-hours", "import", False),
        ("knowledgebase.help-desk.returns-page", "import", False)], planned.output
    applied = workspace.run("apply", "--auto-approve", *V2)
    assert "Resources: 3 imported, 0 added, 0 changed, 0 destroyed." in applied.output, applied.all
    assert "No changes." in workspace.run("plan", *V2).output
    assert workspace.run("export", "--out", "again", *V2).output.strip().endswith("Exported 0 assistant(s).")


def test_a_website_whose_read_carries_its_url_is_written_as_read(workspace, platform, monkeypatch):
    """Undocumented, but a platform whose document read carries `url`, `links` or `relative_links_limit` has them
    written (they are what the platform holds, not an invention)."""
    from provisioner.kinds import document

    real = document.list_documents

    def with_content(client, parent):
        return [{**item, "url": "https://example.com/shown", "relative_links_limit": 7} for item in real(client, parent)]

    monkeypatch.setattr(document, "list_documents", with_content)
    kb_id = made(platform, "/user/knowledgebases", name="Shown")
    made(platform, f"/user/knowledgebases/{kb_id}/documents", name="Page", type="website",
         url="https://example.com/shown", relative_links_limit=7)
    result = workspace.run("export", "--out", "exported", *V2)
    assert result.exit_code == 0 and "fill in" not in result.output, result.all
    entry = yaml.safe_load((workspace.root / "exported" / "knowledgebase.shown.yaml").read_text())["spec"]["documents"][0]
    assert entry == {"name": "Page", "key": "page", "type": "website", "url": "https://example.com/shown",
                     "relative_links_limit": 7}


def test_export_writes_a_documents_text_holding_a_credential_as_a_variable(workspace, platform, monkeypatch):
    """A document's description quoting a key in a URL's query: plan masks it, pull never writes it, and export wrote
    it in clear (the knowledge base's own texts were hidden, its documents' were not)."""
    workspace.dialect = "v2"
    kb_id = made(platform, "/user/knowledgebases", name="Help Desk")
    made(platform, f"/user/knowledgebases/{kb_id}/documents", name="Returns page", type="website",
         url="https://example.com/returns", description="Mirror: https://example.com/r?api_key=DOC-KEY-91")
    result = workspace.run("export", "--out", "exported", *V2)
    assert result.exit_code == 0, result.all
    text = (workspace.root / "exported" / "knowledgebase.help-desk.yaml").read_text()
    assert "DOC-KEY-91" not in text + result.all, text
    [document] = yaml.safe_load(text)["spec"]["documents"]
    assert document["description"] == "${env.KNOWLEDGEBASE_HELP_DESK_DOCUMENTS_0_DESCRIPTION}"
    # Once the url is supplied and the variable set, the manifest adopts everything with nothing to change.
    monkeypatch.setenv("KNOWLEDGEBASE_HELP_DESK_DOCUMENTS_0_DESCRIPTION",
                       "Mirror: https://example.com/r?api_key=DOC-KEY-91")
    workspace.write("manifests/knowledgebase.help-desk.yaml", text.replace("url: ''", "url: https://example.com/returns"))
    changes = json.loads(workspace.run("plan", "--json", *V2).output)["changes"]
    assert sorted((c["address"], c["action"], bool(c["fields"])) for c in changes) == [
        ("knowledgebase.help-desk", "import", False), ("knowledgebase.help-desk.returns-page", "import", False)]
