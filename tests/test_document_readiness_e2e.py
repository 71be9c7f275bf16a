"""Waiting for documents through the real CLI against the emulator over HTTP (documents processed after a delay):
the polls read each knowledge base's document list, shared by its waiting documents (fewer reads than documents,
never a read of one document), and a document that fails to process is an error naming it while the others of
its knowledge base are recorded as ready."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import pytest

KNOWLEDGE_BASE = """\
apiVersion: provisioner/v1
kind: KnowledgeBase
metadata: {name: %(name)s}
spec:
  name: %(title)s
  documents:
%(documents)s"""

DOCUMENTS = 5  # per knowledge base
LIST = "GET /user/knowledgebases/{kb}/documents"
ONE = "GET /user/knowledgebases/{kb}/documents/{id}"


def knowledge_base(name: str, failing: int | None = None) -> str:
    documents = "".join(
        f"    - {{name: Page {n}, key: page{n}, type: website, url: "
        f"\"https://example.com/{name}/{'emulator-fail' if n == failing else 'page'}/{n}\"}}\n"
        for n in range(DOCUMENTS))
    return KNOWLEDGE_BASE % {"name": name, "title": name.title(), "documents": documents}


@pytest.fixture
def graph(workspace, platform):
    workspace.dialect = "v2"
    workspace.write("manifests/knowledge.yaml", knowledge_base("help", failing=3) + "---\n" + knowledge_base("sales"))
    workspace.add("caller", engine_type="pipeline", knowledgebase_id="knowledgebase.help",
                  knowledgebase_mode="prompt")
    platform.faults(document_delay_ms=400)
    yield workspace
    platform.faults(document_delay_ms=300)


def test_documents_of_a_knowledge_base_share_their_readiness_reads_and_a_failure_names_its_document(graph, platform):
    before = platform.stats()["requests"]
    result = graph.run("apply", "--auto-approve", "--no-verify")
    after = platform.stats()["requests"]
    assert result.exit_code != 0, result.all
    assert "knowledgebase.help.page3 (id" in result.all and "'Page 3'" in result.all, result.all
    assert "failed to process on the platform (status failed)" in result.all, result.all
    # The assistant that uses that knowledge base waited for its documents: it was not started.
    assert "caller" not in graph.state()["resources"] and platform.assistants() == []
    # The other nine documents were waited for and are recorded (the failed one too: it exists on the platform).
    recorded = {address for address in graph.state()["resources"] if address.startswith("knowledgebase.")}
    assert recorded == {"knowledgebase.help", "knowledgebase.sales"} | {
        f"knowledgebase.{kb}.page{n}" for kb in ("help", "sales") for n in range(DOCUMENTS)}
    # Each document was polled at least twice (pending at once, then done 400 ms later): read alone, that is at
    # least 20 reads. The knowledge bases' lists were read fewer times than that (about 5 on a quiet machine; a
    # loaded one spreads the creates out, so fewer polls share a read), and no document was read alone.
    reads = after.get(LIST, 0) - before.get(LIST, 0)
    assert after.get(ONE, 0) - before.get(ONE, 0) == 0
    assert 2 * 2 <= reads < 2 * 2 * DOCUMENTS, (reads, after)


def test_a_document_deleted_while_it_is_processed_is_no_longer_listed_and_says_so(graph, platform):
    """A document missing from a list read after its create was answered no longer exists: named, as before."""
    graph.write("manifests/knowledge.yaml", knowledge_base("sales"))
    graph.remove("caller")
    platform.faults(document_delay_ms=60_000)

    deleted = []

    def delete_the_first_document_once_created() -> None:
        # Delete a document of `sales` from outside as soon as the platform has it: its poll then finds it gone.
        for _ in range(500):
            kbs = platform.http.get("/user/knowledgebases").json()["data"]
            for kb in kbs:
                docs = platform.http.get(f"/user/knowledgebases/{kb['id']}/documents").json()["data"]
                if docs:
                    platform.http.delete(f"/user/knowledgebases/{kb['id']}/documents/{docs[0]['id']}")
                    deleted.append(docs[0]["name"])
                    return
            time.sleep(0.01)

    deleter = threading.Thread(target=delete_the_first_document_once_created)
    deleter.start()
    result = graph.run("apply", "--auto-approve", "--no-verify", "--wait-timeout", "3")
    deleter.join(30)
    assert deleted, "no document was ever created"
    assert f"'{deleted[0]}'" in result.all and "no longer exists on the platform" in result.all, result.all
    assert result.exit_code != 0


def test_a_document_that_failed_is_made_again_and_what_uses_it_still_waits(graph, platform):
    """After the apply that found page3 failed, the next plan said "No changes" for it and created the assistant
    that uses its knowledge base at once: the failure was never reported again. A failed document is now
    replaced, as Terraform replaces a tainted resource, and what uses it waits for the new one."""
    assert graph.run("apply", "--auto-approve", "--no-verify").exit_code != 0
    planned = json.loads(graph.run("plan", "--json").output)
    by_address = {c["address"]: c for c in planned["changes"]}
    page3 = by_address["knowledgebase.help.page3"]
    assert page3["action"] == "create" and page3["replace"] and page3["wait"], page3
    assert "the platform failed to process it (status failed)" in page3["reason"], page3
    assert by_address["caller"]["action"] == "create"
    assert all(not a.startswith("knowledgebase.help.page") or a.endswith("page3") for a in by_address), by_address
    again = graph.run("apply", "--auto-approve", "--no-verify")
    assert again.exit_code != 0 and "failed to process on the platform (status failed)" in again.all, again.all
    assert platform.assistants() == []  # its document failed again: the assistant still waits
    # The user drops the document that cannot be read: everything else goes ahead.
    graph.write("manifests/knowledge.yaml", knowledge_base("help") + "---\n" + knowledge_base("sales"))
    fixed = graph.run("apply", "--auto-approve")
    assert fixed.exit_code == 0, fixed.all
    assert len(platform.assistants()) == 1
    assert "No changes." in graph.run("plan").output


def test_a_document_still_processing_when_an_apply_gave_up_is_waited_for_by_the_next(graph, platform):
    """--wait-timeout stopped the first apply before the documents were ready, and its message says to apply
    again later; the next apply then planned nothing for them and created the assistant at once, while they were
    still being processed."""
    graph.write("manifests/knowledge.yaml", knowledge_base("help"))
    platform.faults(document_delay_ms=4000)
    first = graph.run("apply", "--auto-approve", "--no-verify", "--wait-timeout", "1")
    assert first.exit_code != 0 and "--wait-timeout" in first.all and platform.assistants() == [], first.all
    planned = json.loads(graph.run("plan", "--json").output)
    waits = [c for c in planned["changes"] if c["address"].startswith("knowledgebase.help.")]
    assert len(waits) == DOCUMENTS and all(c["action"] == "update" and c["wait"] and not c["fields"]
                                           for c in waits), waits
    assert "still processing it" in waits[0]["reason"]
    writes = len(platform.writes())
    second = graph.run("apply", "--auto-approve", "--no-verify", "--wait-timeout", "30")
    assert second.exit_code == 0, second.all
    assert [w["path"] for w in platform.writes()[writes:]] == ["/user/assistant"]  # nothing sent for the documents
    kb = platform.http.get("/user/knowledgebases").json()["data"][0]
    documents = platform.http.get(f"/user/knowledgebases/{kb['id']}/documents").json()["data"]
    assert {d["status"] for d in documents} == {"active"}
    # The assistant was created once every document was ready, not before.
    ready = max(datetime.fromisoformat(d["created_at"].replace("Z", "+00:00")) for d in documents)
    created = datetime.fromisoformat(platform.assistants()[0]["created_at"].replace("Z", "+00:00"))
    assert (created - ready).total_seconds() >= 4.0, (ready, created)
    assert "No changes." in graph.run("plan").output


def test_a_saved_plan_that_waits_for_a_document_is_not_stale_once_the_platform_processed_it(graph, platform):
    """A plan saved while a document was still being processed waits for it (an update that sends nothing); its
    fingerprint held the document's status, so once processed (what it waits for) the plan was refused as stale:
    "id N changed on the platform since the plan". Its status moving on is now no change since the plan."""
    graph.write("manifests/knowledge.yaml", knowledge_base("help"))
    platform.faults(document_delay_ms=2500)
    first = graph.run("apply", "--auto-approve", "--no-verify", "--wait-timeout", "0.5")
    assert first.exit_code != 0 and "--wait-timeout" in first.all, first.all
    saved = graph.run("plan", "--out", "waits.plan")
    assert saved.exit_code == 0 and "still processing it" in saved.output, saved.all
    kb = platform.http.get("/user/knowledgebases").json()["data"][0]
    deadline = time.monotonic() + 20
    while any(d["status"] == "processing"
              for d in platform.http.get(f"/user/knowledgebases/{kb['id']}/documents").json()["data"]):
        assert time.monotonic() < deadline, "the documents were never processed"
        time.sleep(0.2)
    applied = graph.run("apply", "waits.plan", "--no-verify")
    assert applied.exit_code == 0, applied.all
    assert len(platform.assistants()) == 1
    assert "No changes." in graph.run("plan").output


def test_a_waiting_change_still_sees_an_edit_since_the_plan():
    """Only the progress of processing is left out of a waiting change's fingerprint: a rename still counts."""
    from provisioner.plan import Action, Change

    item = {"id": 7, "name": "Page 1", "status": "processing", "status_label": "Processing", "updated_at": "a"}
    waits = Change("knowledgebase.help.page1", Action.UPDATE, "Page 1", remote_id=7, kind="document", wait=True,
                   remote_item=item)
    processed = {**item, "status": "active", "status_label": "Active", "updated_at": "b"}
    assert waits.fingerprint_of(processed) == waits.fingerprint()
    assert waits.fingerprint_of({**processed, "name": "Renamed"}) != waits.fingerprint()
    created = Change("knowledgebase.help.page1", Action.CREATE, "Page 1", remote_id=7, kind="document", wait=True,
                     replace=True, remote_item=item)
    assert created.fingerprint_of(processed) != created.fingerprint()  # the old half of a replacement: whole


def test_a_document_still_processing_whose_description_changed_is_said_to_be_updated_then_waited_for(graph, platform):
    """A description changed while the platform still processes the document is sent, then waited for: the plan
    said "nothing is sent" beside the description's change."""
    graph.write("manifests/knowledge.yaml", knowledge_base("help"))
    platform.faults(document_delay_ms=5000)
    first = graph.run("apply", "--auto-approve", "--no-verify", "--wait-timeout", "0.5")
    assert first.exit_code != 0 and "--wait-timeout" in first.all, first.all
    graph.write("manifests/knowledge.yaml", knowledge_base("help").replace(
        "{name: Page 1, key: page1,", "{name: Page 1, key: page1, description: New words,"))
    planned = {c["address"]: c for c in json.loads(graph.run("plan", "--json").output)["changes"]}
    described, untouched = planned["knowledgebase.help.page1"], planned["knowledgebase.help.page2"]
    assert [f["field"] for f in described["fields"]] == ["description"] and described["wait"], described
    assert "nothing is sent" not in described["reason"] and "apply updates it" in described["reason"], described
    assert "nothing is sent" in untouched["reason"] and not untouched["fields"], untouched


def test_a_document_in_a_status_the_platform_does_not_document_is_not_taken_for_ready(graph, platform, proxy):
    """apply stops at a document whose status the platform does not document ("not waiting for it"), but a plan that
    read it (--read-documents) said "No changes" for it, and what uses its knowledge base went ahead: a status nobody
    knows read as ready. The plan now waits for it as for one still processing, and apply stops again, naming it."""
    from rewriting_proxy import through

    graph.write("manifests/knowledge.yaml", knowledge_base("help"))
    assert graph.run("apply", "--auto-approve", "--no-verify", "--wait-timeout", "30").exit_code == 0
    assert "No changes." in graph.run("plan").output

    def queued(method, path, status, body):
        if method == "GET" and "/documents" in path and b'"active"' in body:
            return status, body.replace(b'"status": "active"', b'"status": "queued"').replace(
                b'"status":"active"', b'"status":"queued"'), "application/json"
        return None

    proxy.rewrite = queued
    planned = json.loads(through(graph, proxy, "plan", "--json", "--read-documents").output)
    waits = [c for c in planned["changes"] if c["address"].startswith("knowledgebase.help.")]
    assert len(waits) == DOCUMENTS and all(c["action"] == "update" and c["wait"] and not c["fields"]
                                           for c in waits), planned["changes"]
    assert "a status it does not document" in waits[0]["reason"]
    graph.add("second", engine_type="pipeline", knowledgebase_id="knowledgebase.help", knowledgebase_mode="prompt")
    stopped = through(graph, proxy, "apply", "--auto-approve", "--no-verify", "--read-documents", "--wait-timeout",
                      "30")
    assert stopped.exit_code != 0 and "does not document ('queued')" in stopped.all, stopped.all
    assert "second" not in graph.state()["resources"]  # what uses the knowledge base did not go ahead
    proxy.rewrite = None
    assert graph.run("apply", "--auto-approve", "--no-verify", "--wait-timeout", "30").exit_code == 0
