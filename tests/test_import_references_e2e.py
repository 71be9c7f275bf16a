"""End to end: objects brought into state by `provisioner import` (the graph example, every kind, applied by one state
and imported into another) are destroyed as applied ones are, through the real CLI against the emulator over HTTP."""
from __future__ import annotations

import pytest

from conftest import copy_graph_example

# Parents before their children: a document is imported under its knowledge base's id in state.
IMPORT_ORDER = ["folder.sales", "label.vip", "siptrunk.office", "tool.order-lookup", "knowledgebase.faq",
                "knowledgebase.faq.help-center", "knowledgebase.faq.hours", "knowledgebase.faq.pricing",
                "winter-caller", "campaign.winter"]


def ok(result):
    assert result.exit_code == 0, result.all
    return result


@pytest.fixture
def imported(workspace, monkeypatch):
    """The graph example applied, its state lost, and every object imported again: the workspace, and the
    resources the apply had recorded (address -> state entry)."""
    copy_graph_example(workspace)
    monkeypatch.setenv("OFFICE_SIP_PASSWORD", "sip-E2E_DO_NOT_LEAK_57")
    monkeypatch.setenv("ORDERS_API_KEY", "key-E2E_DO_NOT_LEAK_58")
    ok(workspace.run("apply", "--auto-approve"))
    applied = workspace.state()["resources"]
    assert sorted(applied) == sorted(IMPORT_ORDER)
    workspace.lose_state()
    for address in IMPORT_ORDER:
        ok(workspace.run("import", address, str(applied[address]["id"])))
    return workspace, applied


def test_an_imported_document_is_deleted_under_the_knowledge_base_it_is_listed_under(imported):
    """Import records no spec, where the delete looked for the document's knowledge base: it failed, "its
    knowledgebase_id (the knowledge base document's parent) is not known", and state kept the document."""
    workspace, applied = imported
    ok(workspace.run("destroy", "--auto-approve", "--target", "knowledgebase.faq.hours"))
    kb = applied["knowledgebase.faq"]["id"]
    assert [w["path"] for w in workspace.platform.writes() if w["method"] == "DELETE"] == [
        f"/user/knowledgebases/{kb}/documents/{applied['knowledgebase.faq.hours']['id']}"]
    assert "knowledgebase.faq.hours" not in workspace.state()["resources"]
