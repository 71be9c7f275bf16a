"""A list that lies by omission: well formed, adding up, and missing an object state holds. Taken once, the plan
created the object again (a duplicate, exit 0, and the next plan said "No changes"), destroy forgot it (left on the
platform, unmanaged) and refresh forgot it. Now a read that misses what state holds is read again, and an object
the second read shows stops the run before anything is decided (session.Session._confirm_absences).

Two ways a real platform omits: pages torn by another client's delete and create between two page reads (the
total stays the same, one item moves onto the page already read), and a kind's list answered empty once."""
from __future__ import annotations

import collections
import json

import pytest

from rewriting_proxy import through

BODY = {"voice_id": 1, "language": "English", "llm_model": "gpt-4o", "calls_direction": "make",
        "engine_type": "pipeline", "timezone": "UTC", "initial_message": "Hi.", "system_prompt": "Be brief."}



def duplicates(names) -> dict[str, int]:
    return {name: n for name, n in collections.Counter(names).items() if n > 1}


@pytest.mark.parametrize("command", [("apply", "--auto-approve"), ("destroy", "--auto-approve"), ("refresh",)])
def test_pages_torn_by_another_clients_delete_and_create_decide_nothing(workspace, platform, proxy, command):
    """Page 1 is read; another client deletes an object of page 1 and creates one; page 2 now starts one item
    later, so the item that moved onto page 1 is never seen, and the total still adds up."""
    other = platform.create(assistant_name="Other", **BODY)  # the lowest id: on page 1
    for n in range(110):
        workspace.add(f"a{n:03}")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()["resources"]
    torn = []

    def tear(method, path, body):
        if method == "GET" and "/user/assistants/get" in path and "page=2" in path and not torn:
            torn.append(path)
            platform.delete(other["id"])
            platform.create(assistant_name="Newcomer", **BODY)
        return body

    proxy.edit_request = tear
    result = through(workspace, proxy, *command)
    assert torn, "the list was read in one page"
    assert result.exit_code == 1, result.all
    assert "a second read shows" in result.all and "Traceback" not in result.all
    assert workspace.state()["resources"] == before  # nothing forgotten
    names = [a["name"] for a in platform.assistants()]
    assert not duplicates(names) and len(names) == 111  # nothing created, nothing deleted
    proxy.edit_request = None
    replanned = workspace.run("plan", "--detailed-exitcode")
    assert replanned.exit_code == 0 and "No changes." in replanned.output, replanned.all


TOOL = """\
apiVersion: provisioner/v1
kind: Tool
metadata: {name: lookup}
spec:
  name: order_lookup
  description: Look up an order.
  endpoint: https://api.example.com/orders
  method: GET
"""
KNOWLEDGE_BASE = """\
apiVersion: provisioner/v1
kind: KnowledgeBase
metadata: {name: faq}
spec:
  name: FAQ
  documents:
    - {name: Pricing, key: pricing, type: website, url: "https://example.com/pricing"}
"""
LISTS = {"tool": ("/user/tools", b"[]"), "knowledgebase": ("/user/knowledgebases", b'{"data": []}')}


@pytest.mark.parametrize("kind", sorted(LISTS))
def test_a_kinds_list_answered_empty_once_creates_nothing_again(workspace, platform, proxy, kind):
    workspace.dialect = "v2"
    workspace.write("manifests/tool.yaml", TOOL)
    workspace.write("manifests/kb.yaml", KNOWLEDGE_BASE)
    platform.faults(document_delay_ms=0)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()["resources"]
    route, empty = LISTS[kind]
    emptied = []

    def once_empty(method, path):
        if method == "GET" and path.split("?")[0].endswith(route) and not emptied:
            emptied.append(path)
            return 200, empty, "application/json"
        return None

    proxy.intercept = once_empty
    result = through(workspace, proxy, "apply", "--auto-approve")
    assert emptied and result.exit_code == 1, result.all
    assert "a second read shows" in result.all
    assert workspace.state()["resources"] == before
    tools = [t["name"] for t in platform.http.get("/user/tools").json()]
    bases = [k["name"] for k in platform.http.get("/user/knowledgebases").json()["data"]]
    assert tools == ["order_lookup"] and bases == ["FAQ"]
    proxy.intercept = None
    again = through(workspace, proxy, "apply", "--auto-approve")
    assert again.exit_code == 0 and "No changes." in again.output, again.all


def test_an_object_really_deleted_outside_costs_one_more_read_and_is_made_again(workspace, platform, proxy):
    """The second read agrees (the object is gone): the plan creates it, as before, at the cost of one more list
    read; a plan where nothing is missing reads the list once."""
    workspace.add("alpha")
    workspace.add("beta")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    lists = lambda: sum(1 for method, path in proxy.seen if method == "GET" and "/user/assistants/get" in path)
    assert through(workspace, proxy, "plan").exit_code == 0
    assert lists() == 1
    [alpha] = platform.by_name("Alpha")
    platform.delete(alpha["id"])
    proxy.seen.clear()
    applied = through(workspace, proxy, "apply", "--auto-approve")
    assert applied.exit_code == 0 and "is gone from the platform" in applied.output, applied.all
    assert sorted(a["name"] for a in platform.assistants()) == ["Alpha", "Beta"]
    assert lists() == 3  # the plan's read, its second look, and verify's



def test_a_knowledge_bases_document_list_that_leaves_one_out_once_makes_no_second_document(workspace, platform,
                                                                                          proxy):
    """A change to one document has its knowledge base's documents listed; that list leaves the other out once."""
    workspace.dialect = "v2"
    two = KNOWLEDGE_BASE + '    - {name: Hours, key: hours, type: website, url: "https://example.com/hours"}\n'
    workspace.write("manifests/kb.yaml", two)
    platform.faults(document_delay_ms=0)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = workspace.state()["resources"]
    workspace.write("manifests/kb.yaml", two.replace("{name: Pricing,", "{name: Pricing, description: Our prices,"))
    left_out = []

    def without_hours(method, path, status, body):
        if method == "GET" and path.split("?")[0].endswith("/documents") and not left_out:
            left_out.append(path)
            answer = json.loads(body)
            answer["data"] = [d for d in answer["data"] if d["name"] != "Hours"]
            return status, json.dumps(answer).encode(), "application/json"
        return None

    proxy.rewrite = without_hours
    result = through(workspace, proxy, "apply", "--auto-approve")
    assert left_out and result.exit_code == 1, result.all
    assert "under knowledgebase.faq" in result.all and "a second read shows" in result.all
    assert workspace.state()["resources"] == before
    [base] = platform.http.get("/user/knowledgebases").json()["data"]
    documents = platform.http.get(f"/user/knowledgebases/{base['id']}/documents").json()["data"]
    assert sorted(d["name"] for d in documents) == ["Hours", "Pricing"]


@pytest.mark.parametrize("kind", ["assistant", "tool"])
def test_a_create_the_gateway_gave_up_on_while_the_platform_still_works_is_not_made_twice(workspace, platform, proxy,
                                                                                         kind):
    """A gateway answers 504 after its own timeout while the platform behind it finishes the create a moment later.
    The look that follows the unknown outcome ran at once, found nothing yet, and the create was sent again: two
    objects, exit 0, and the next plan said "No changes." (the first object unmanaged). Now such a create is not
    sent again: the change fails, and the next apply adopts what the platform made."""
    workspace.dialect = "v2"
    if kind == "tool":
        workspace.write("manifests/tool.yaml", TOOL)
        route, listed = "/user/tools", lambda: [t["name"] for t in platform.http.get("/user/tools").json()]
    else:
        workspace.add("alpha")
        route, listed = "/user/assistant", lambda: [a["name"] for a in platform.assistants()]
    held = []

    def gateway_gives_up(method, path):
        if method == "POST" and path.split("?")[0].endswith(route) and not held:
            held.append(path)
            return 1.0
        return None

    proxy.hold_back = gateway_gives_up
    result = through(workspace, proxy, "apply", "--auto-approve")
    proxy.settle()
    assert held and result.exit_code == 1, result.all
    assert "may still be making it: not sent again" in result.all and "Traceback" not in result.all
    assert len(listed()) == 1, (listed(), result.all)
    proxy.hold_back = None
    again = through(workspace, proxy, "apply", "--auto-approve")
    assert again.exit_code == 0 and "will be imported" in again.output, again.all
    assert len(listed()) == 1
    replanned = through(workspace, proxy, "plan", "--detailed-exitcode")
    assert replanned.exit_code == 0, replanned.all


def test_a_create_whose_connection_dropped_after_it_went_out_is_not_made_twice(workspace, platform, proxy):
    """As a gateway's 504: a connection that fails after the whole request went out (a load balancer dropping it)
    may leave the platform at work on it. The look right after found nothing yet and the create was sent again:
    two assistants. Now the change fails, and the next apply adopts what the platform made."""
    workspace.add("alpha")
    held = []

    def dropped(method, path):
        if method == "POST" and path.split("?")[0].endswith("/user/assistant") and not held:
            held.append(path)
            return 1.0
        return None

    proxy.hold_back, proxy.hold_back_drops = dropped, True
    try:
        result = through(workspace, proxy, "apply", "--auto-approve")
        proxy.settle()
    finally:
        proxy.hold_back, proxy.hold_back_drops = None, False
    assert held and result.exit_code == 1, result.all
    assert "may still be making it: not sent again" in result.all and "Traceback" not in result.all
    assert [a["name"] for a in platform.assistants()] == ["Alpha"], result.all
    again = through(workspace, proxy, "apply", "--auto-approve")
    assert again.exit_code == 0 and "will be imported" in again.output, again.all
    assert len(platform.assistants()) == 1

