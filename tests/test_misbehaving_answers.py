"""Answers that look successful but cannot be true, through a proxy in front of the emulator (rewriting_proxy.py):
each is doubtful, so nothing is decided from it. No object is lost from state, none is duplicated, and a re-run
against the honest platform converges."""
from __future__ import annotations

import json
import threading
import time

import pytest

from rewriting_proxy import through
from provisioner.state.sql import SqlStateStore



def ids_in_state(workspace) -> dict[str, int]:
    return {address: entry["id"] for address, entry in workspace.state()["resources"].items()}


def test_a_create_answered_with_an_id_another_object_has_is_looked_up_not_recorded(workspace, platform, proxy):
    """The answer names alpha's id: recorded, gamma would have taken alpha's row (alpha lost from state) and the
    next plan would create alpha again and rename alpha's object to Gamma (two Gammas)."""
    workspace.add("alpha")
    workspace.add("beta")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    before = ids_in_state(workspace)

    def lying(method, path, status, body):
        if method == "POST" and path.rstrip("/").endswith("/user/assistant") and status < 300:
            answer = json.loads(body)
            answer["data"]["id"] = before["alpha"]
            return status, json.dumps(answer).encode(), "application/json"
        return None

    proxy.rewrite = lying
    workspace.add("gamma")
    applied = through(workspace, proxy, "apply", "--auto-approve")
    [gamma] = platform.by_name("Gamma")
    after = ids_in_state(workspace)
    assert after == {**before, "gamma": gamma["id"]}, applied.all  # alpha kept; gamma found by its name
    assert applied.exit_code == 0 and "adopted" in applied.all, applied.all
    replanned = workspace.run("plan", "--detailed-exitcode")
    assert replanned.exit_code == 0 and "No changes." in replanned.output, replanned.all
    assert sorted(a["name"] for a in platform.assistants()) == ["Alpha", "Beta", "Gamma"]


def test_a_404_that_is_not_the_platforms_json_does_not_count_as_gone(workspace, platform, proxy):
    """A gateway's HTML 404 says nothing about the object: the delete is not reported done, the state keeps it,
    and the honest platform's next apply deletes it."""
    workspace.add("alpha")
    workspace.add("beta")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    proxy.intercept = lambda method, path: (
        (404, b"<html><body><h1>404 Not Found</h1><hr>nginx</body></html>", "text/html")
        if method == "DELETE" else None)
    workspace.remove("beta")
    failed = through(workspace, proxy, "apply", "--auto-approve")
    assert failed.exit_code == 1 and "not the platform's JSON error" in failed.all, failed.all
    assert "already gone" not in failed.all and "beta" in ids_in_state(workspace)
    assert len(platform.by_name("Beta")) == 1
    done = workspace.run("apply", "--auto-approve")
    assert done.exit_code == 0 and platform.by_name("Beta") == [] and "beta" not in ids_in_state(workspace)


def test_a_lost_create_whose_object_was_stored_under_a_trimmed_name_is_not_sent_again(workspace, platform, proxy):
    """The platform trims names (as Laravel's TrimStrings would) and answers the create 500 after making it: the
    look-up by the exact name finds nothing, and each retry (and each run) used to make one more."""
    workspace.add("alpha", name="Alpha ")

    def trimmed(method, path, body):
        if method == "POST" and body:
            fields = json.loads(body)
            for key in ("name", "assistant_name"):
                if isinstance(fields.get(key), str):
                    fields[key] = fields[key].strip()
            return json.dumps(fields).encode()
        return body

    proxy.edit_request = trimmed
    proxy.rewrite = lambda method, path, status, body: (
        (500, b'{"message": "Server Error"}', "application/json") if method == "POST" else None)
    failed = through(workspace, proxy, "apply", "--auto-approve", "--max-retries=3", "--retry-backoff=0.01s")
    assert failed.exit_code == 1 and "only in spacing or case" in failed.all, failed.all
    assert "nothing was created" not in failed.all
    assert [a["name"] for a in platform.assistants()] == ["Alpha"]  # one, not one per attempt


def test_verify_says_an_object_missing_from_the_list_is_missing_not_zero_fields(workspace, platform, proxy):
    """It printed "0 field(s) did not stick" after naming the object the list no longer showed."""
    workspace.dialect = "v2"
    workspace.write("manifests/groups.yaml", "apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: sales\n"
                    "spec:\n  name: Sales\n")

    def hiding(method, path, status, body):
        if method == "GET" and path.startswith("/api/user/folders") and status == 200:
            page = json.loads(body)
            kept = [item for item in page["data"] if item.get("name") != "Sales"]
            page["total"] -= len(page["data"]) - len(kept)
            page["data"] = kept
            return status, json.dumps(page).encode(), "application/json"
        return None

    proxy.rewrite = hiding
    applied = through(workspace, proxy, "apply", "--auto-approve")
    assert applied.exit_code == 1, applied.all
    assert "folder.sales: the platform's list no longer shows it" in applied.all
    assert "1 object(s) the apply changed are not in the platform's list" in applied.all
    assert "0 field(s)" not in applied.all


def test_a_create_answered_with_a_taken_id_is_never_sent_again(workspace, platform, proxy):
    """Answered with another object's id, and the list does not show the new one either: the platform said the
    create succeeded, so it is not sent again (each attempt would make one more)."""
    workspace.add("alpha")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    alpha = ids_in_state(workspace)["alpha"]

    def lying_and_hiding(method, path, status, body):
        if method == "POST" and path.rstrip("/").endswith("/user/assistant") and status < 300:
            answer = json.loads(body)
            answer["data"]["id"] = alpha
            return status, json.dumps(answer).encode(), "application/json"
        if method == "GET" and path.startswith("/api/user/assistants/get") and status == 200:
            page = json.loads(body)
            kept = [item for item in page["data"] if item.get("name") != "Gamma"]
            page["total"] -= len(page["data"]) - len(kept)
            page["last_page"] = max(1, -(-page["total"] // page["per_page"]))
            page["to"] = (page["from"] or 1) + len(kept) - 1 if kept else None
            page["data"] = kept
            return status, json.dumps(page).encode(), "application/json"
        return None

    proxy.rewrite = lying_and_hiding
    workspace.add("gamma")
    failed = through(workspace, proxy, "apply", "--auto-approve", "--max-retries=3", "--retry-backoff=0.01s")
    assert failed.exit_code == 1 and "nothing more was sent" in failed.all, failed.all
    assert len(platform.by_name("Gamma")) == 1 and ids_in_state(workspace) == {"alpha": alpha}
    healed = workspace.run("apply", "--auto-approve")  # the honest platform: the next plan finds it by name
    assert healed.exit_code == 0 and len(platform.by_name("Gamma")) == 1, healed.all


def test_a_create_answered_with_an_id_only_state_knows_is_looked_up_too(workspace, platform, proxy):
    """A knowledge base whose documents a plan did not list (nothing about them changed) leaves its documents'
    ids known to state only: a create elsewhere answered with one of them was recorded, and the store's refusal
    stopped the whole apply."""
    workspace.dialect = "v2"
    kb = ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: {name}\nspec:\n  name: {title}\n"
          "  documents:\n{documents}")
    doc = '    - {{name: {title}, key: {key}, type: website, url: "https://example.com/{key}"}}\n'
    help_kb = kb.format(name="help", title="Help", documents=doc.format(title="Returns", key="returns"))
    workspace.write("manifests/help.yaml", help_kb)
    workspace.write("manifests/kb2.yaml", kb.format(name="kb2", title="Second", documents=doc.format(title="D2",
                                                                                                    key="d2")))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    returns = ids_in_state(workspace)["knowledgebase.help.returns"]

    def lying(method, path, status, body):
        if method == "POST" and "/documents" in path and status < 300:
            answer = json.loads(body)
            answer["data"]["id"] = returns
            return status, json.dumps(answer).encode(), "application/json"
        return None

    proxy.rewrite = lying
    workspace.write("manifests/kb2.yaml", kb.format(name="kb2", title="Second", documents=doc.format(
        title="D2", key="d2") + doc.format(title="D3", key="d3")))
    applied = through(workspace, proxy, "apply", "--auto-approve")
    assert applied.exit_code == 0 and "adopted" in applied.all, applied.all
    state = ids_in_state(workspace)
    assert state["knowledgebase.help.returns"] == returns and state["knowledgebase.kb2.d3"] != returns
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


LABEL = "apiVersion: provisioner/v1\nkind: Label\nmetadata:\n  name: {name}\nspec:\n  name: {title}\n"
TOOL = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: {name}\nspec:\n  name: {name}_tool\n"
        "  description: d\n  endpoint: https://api.example.com/{name}\n  method: GET\n")


def test_an_id_beyond_what_state_can_hold_is_doubtful_not_a_crash(workspace, platform, proxy):
    """An id of 2**64 passed every check and reached the store, whose commit failed mid-apply with "unexpected
    OverflowError" (the other records of its batch lost with it). Listed, it stops the run as a bad answer;
    answered to a create, it is looked up like any create whose answer says nothing."""
    workspace.dialect = "v2"
    workspace.write("manifests/gold.yaml", LABEL.format(name="gold", title="Gold"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.lose_state()

    def huge_in_list(method, path, status, body):
        if method == "GET" and path.startswith("/api/user/labels") and status == 200:
            page = json.loads(body)
            page["data"][0]["id"] = 2**64
            return status, json.dumps(page).encode(), "application/json"
        return None

    proxy.rewrite = huge_in_list
    failed = through(workspace, proxy, "apply", "--auto-approve")
    assert failed.exit_code == 1 and "at most 2**63-1" in failed.all and "unexpected" not in failed.all, failed.all
    assert not workspace.state_file.exists() or workspace.state()["resources"] == {}

    def huge_to_create(method, path, status, body):
        if method == "POST" and path.startswith("/api/user/tools") and status < 300:
            answer = json.loads(body)
            answer["data"]["id"] = 2**64
            return status, json.dumps(answer).encode(), "application/json"
        return None

    proxy.rewrite = huge_to_create
    workspace.write("manifests/lookup.yaml", TOOL.format(name="lookup"))
    applied = through(workspace, proxy, "apply", "--auto-approve")
    assert applied.exit_code == 0 and "adopted" in applied.all, applied.all
    [tool] = [t for t in platform.http.get("/user/tools").json() if t["name"] == "lookup_tool"]
    assert ids_in_state(workspace)["tool.lookup"] == tool["id"]
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize("bad_id", [0, -5])
def test_a_create_answered_with_an_id_that_is_not_one_is_looked_up_and_state_stays_readable(workspace, platform,
                                                                                           proxy, bad_id):
    """Folders and labels took any integer their create answered: id -5 went into state, whose store then refused
    to read the row, and every later command stopped until the row was repaired by hand."""
    workspace.dialect = "v2"
    workspace.write("manifests/silver.yaml", LABEL.format(name="silver", title="Silver"))

    def bad(method, path, status, body):
        if method == "POST" and path.startswith("/api/user/label") and status < 300:
            answer = json.loads(body)
            answer["data"]["id"] = bad_id
            return status, json.dumps(answer).encode(), "application/json"
        return None

    proxy.rewrite = bad
    applied = through(workspace, proxy, "apply", "--auto-approve")
    assert applied.exit_code == 0 and "adopted" in applied.all, applied.all
    [label] = [item for item in platform.http.get("/user/labels").json()["data"] if item["name"] == "Silver"]
    assert ids_in_state(workspace) == {"label.silver": label["id"]}
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_folder_write_answered_success_without_an_object_is_an_unknown_outcome_not_a_bug(workspace, platform,
                                                                                           proxy):
    """A create or update of a folder or label answered 200 "[]" raised a ValueError, reported as "unexpected
    ValueError ... a bug in the provisioner", and the create was not looked for."""
    workspace.dialect = "v2"
    workspace.write("manifests/gold.yaml", LABEL.format(name="gold", title="Gold"))
    proxy.rewrite = lambda method, path, status, body: (
        (200, b"[]", "application/json") if method in ("POST", "PUT") and status < 300 else None)
    created = through(workspace, proxy, "apply", "--auto-approve")
    assert created.exit_code == 0 and "adopted" in created.all, created.all
    [label] = [item for item in platform.http.get("/user/labels").json()["data"] if item["name"] == "Gold"]
    assert ids_in_state(workspace) == {"label.gold": label["id"]}

    workspace.write("manifests/gold.yaml", LABEL.format(name="gold", title="Gold") + "  color: amber\n")
    updated = through(workspace, proxy, "apply", "--auto-approve")
    assert updated.exit_code == 1 and "answered success without the object" in updated.all, updated.all
    assert "unexpected" not in updated.all
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


TRUNK = """apiVersion: provisioner/v1
kind: SipTrunk
metadata:
  name: office
spec:
  sip_trunk_type: number
  phone_number: "+14155551234"
  sip_username: office
  sip_password: not-a-real-password
  sip_address: sip.provider.com
  sip_calling_format: "+e164"
  inbound_authorization_type: ip
  allowed_inbound_ips: [203.0.113.10]
  country_code: US
"""


def test_a_lost_create_of_a_sip_trunk_without_a_nickname_is_found_by_its_identity(workspace, platform, proxy):
    """The look-up after a lost create matched trunks by nickname, "None" for a trunk without one: it never found
    the trunk the create had made, sent the create again on every attempt (20, each a 409 on the real platform),
    then said "nothing was created"."""
    workspace.dialect = "v2"
    workspace.write("manifests/office.yaml", TRUNK)
    proxy.rewrite = lambda method, path, status, body: (
        (500, b'{"error": "Failed to create SIP trunk."}', "application/json")
        if method == "POST" and "sip-trunks" in path else None)
    applied = through(workspace, proxy, "apply", "--auto-approve", "--max-retries=2", "--retry-backoff=0.01s")
    assert applied.exit_code == 0 and "adopted" in applied.all, applied.all
    assert [m for m, p in proxy.seen if m == "POST"] == ["POST"]
    trunks = platform.http.get("/user/phone-numbers/sip-trunks").json()["data"]
    [trunk] = [t for t in trunks if t["phone_number"] == "+14155551234"]
    assert ids_in_state(workspace) == {"siptrunk.office": trunk["id"]}
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize("color", [[], {}, True, 5, 1.5])
def test_a_label_color_that_is_not_text_is_unreadable_not_drift(workspace, platform, proxy, color):
    """API.md: a folder's or label's color is one of ten names, null when unset. One of a newer platform (a string
    this version does not know) is drift, shown as it is; a list, a mapping, a boolean or a number was taken as the
    text of its Python form ("[]", "True") and the plan updated the folder from it. Now it stops the plan naming
    the field, and nothing is sent."""
    workspace.dialect = "v2"
    workspace.write("manifests/gold.yaml", LABEL.format(name="gold", title="Gold") + "  color: amber\n")
    assert workspace.run("apply", "--auto-approve").exit_code == 0

    def odd(method, path, status, body):
        if method == "GET" and path.startswith("/api/user/labels") and status == 200:
            answer = json.loads(body)
            for item in answer["data"]:
                item["color"] = color
            return status, json.dumps(answer).encode(), "application/json"
        return None

    proxy.rewrite = odd
    writes = [request for request in proxy.seen if request[0] != "GET"]
    for command in (("plan",), ("apply", "--auto-approve")):
        result = through(workspace, proxy, *command)
        assert result.exit_code == 1, result.all
        assert "spec.color" in result.stderr and "cannot read" in result.stderr, result.all
        assert "This is a bug" not in result.all
    assert [request for request in proxy.seen if request[0] != "GET"] == writes
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


def json_404_to_deletes(method, path):
    """The platform's own not-found body, given to every delete without the platform seeing it (a misrouted
    request, another account's token at the proxy, a platform that fails its own look-up)."""
    if method == "DELETE":
        return 404, b'{"message": "Not found."}', "application/json"
    return None


@pytest.mark.parametrize("kind", ["assistant", "tool"])
def test_a_json_404_to_the_delete_of_an_object_still_listed_does_not_forget_it(workspace, platform, proxy, kind):
    """A 404 on a delete was taken as "already gone" and state forgot the object, which then stayed on the platform
    unmanaged. A read confirms it: the object still listed, the delete fails and state keeps it."""
    if kind == "assistant":
        workspace.add("beta")
        listed = lambda: platform.by_name("Beta")  # noqa: E731
    else:
        workspace.write("manifests/beta.yaml", TOOL.format(name="beta"))
        listed = lambda: [t for t in platform.http.get("/user/tools").json() if t["name"] == "beta_tool"]  # noqa: E731
    workspace.add("alpha")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    address = "beta" if kind == "assistant" else "tool.beta"
    workspace.remove(address.removeprefix("tool."))
    proxy.intercept = json_404_to_deletes
    failed = through(workspace, proxy, "apply", "--auto-approve")
    assert failed.exit_code == 1 and "already gone" not in failed.all, failed.all
    assert "answered 404 to its delete, but still lists it" in failed.all, failed.all
    assert address in ids_in_state(workspace) and len(listed()) == 1
    done = workspace.run("apply", "--auto-approve")
    assert done.exit_code == 0 and listed() == [] and address not in ids_in_state(workspace), done.all


def test_a_delete_answered_404_after_an_earlier_attempt_deleted_it_is_gone(workspace, platform, proxy):
    """The retried delete's 404 (its first attempt deleted the object, its answer was lost) still means gone: the
    confirming read no longer lists it, and state forgets it."""
    workspace.add("alpha")
    workspace.add("beta")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    beta = ids_in_state(workspace)["beta"]
    first = []

    def lost_first_answer(method, path, status, body):
        if method == "DELETE" and not first:
            first.append(path)
            return 502, b"<html>502 Bad Gateway</html>", "text/html"
        return None

    proxy.rewrite = lost_first_answer
    workspace.remove("beta")
    done = through(workspace, proxy, "apply", "--auto-approve", "--retry-backoff=0.01s")
    assert done.exit_code == 0 and "already gone" in done.all, done.all
    assert first == [f"/api/user/assistant/{beta}"] and platform.by_name("Beta") == []
    assert "beta" not in ids_in_state(workspace)


def list_reads(proxy) -> int:
    """The reads of the assistants' list (their first pages) the proxy saw after the first delete."""
    seen = [(method, path.split("?")[0], path) for method, path in proxy.seen]
    first = next(i for i, (method, _, _) in enumerate(seen) if method == "DELETE")
    return sum(1 for method, path, full in seen[first:]
               if method == "GET" and path.endswith("/user/assistants/get") and "page=1" in full.split("?")[-1].split("&"))


def test_deletes_answered_404_together_share_one_list_read_and_one_still_listed_is_kept(workspace, platform, proxy):
    """Three deletes meet the platform's 404: two whose first attempt deleted them (its answer lost), one that reached
    nothing while its assistant lives on. They wait for one list read, begun after every 404, with no worker held:
    the two no longer listed are gone, the one still listed fails and state keeps it."""
    for name in ("alpha", "beta", "gamma", "delta"):
        workspace.add(name)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    beta = ids_in_state(workspace)["beta"]
    for name in ("beta", "gamma", "delta"):
        workspace.remove(name)
    proxy.intercept = lambda method, path: (
        (404, b'{"message": "Not found."}', "application/json")
        if method == "DELETE" and path.endswith(f"/user/assistant/{beta}") else None)
    platform.faults(commit_fail_rate=1.0, kinds=["assistants"], methods=["DELETE"], seed=3)
    failed = through(workspace, proxy, "apply", "--auto-approve", "--retry-backoff=0.01s")
    platform.faults(commit_fail_rate=0, kinds=None, methods=None)
    assert failed.exit_code == 1 and failed.output.count("it was already gone") == 2, failed.all
    assert f"assistant {beta}: the platform answered 404 to its delete, but still lists it" in " ".join(
        failed.all.split()), failed.all
    assert sorted(ids_in_state(workspace)) == ["alpha", "beta"] and len(platform.by_name("Beta")) == 1
    assert platform.by_name("Gamma") == platform.by_name("Delta") == []
    assert list_reads(proxy) == 1, proxy.seen
    proxy.intercept = None
    done = through(workspace, proxy, "apply", "--auto-approve")
    assert done.exit_code == 0 and platform.by_name("Beta") == [] and sorted(ids_in_state(workspace)) == ["alpha"]


def test_deletes_answered_404_whose_list_cannot_be_read_fail_and_state_keeps_them(workspace, platform, proxy):
    """The list that would confirm two deletes answered 404 answers 500 on every attempt: neither is taken for gone,
    both fail saying why, and state keeps them (they were never deleted: the proxy answered for the platform)."""
    for name in ("alpha", "beta", "gamma"):
        workspace.add(name)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.remove("beta")
    workspace.remove("gamma")
    deleted = []

    def unreadable_after_the_deletes(method, path):
        if method == "DELETE":
            deleted.append(path)
            return 404, b'{"message": "Not found."}', "application/json"
        if deleted and method == "GET" and "/user/assistants/get" in path:
            return 500, b'{"message": "Server Error"}', "application/json"
        return None

    proxy.intercept = unreadable_after_the_deletes
    failed = through(workspace, proxy, "apply", "--auto-approve", "--max-retries=2", "--retry-backoff=0.01s")
    text = " ".join(failed.all.split())
    assert failed.exit_code == 1 and "already gone" not in text, failed.all
    assert text.count("then reading the assistants to confirm it is gone failed") == 2, failed.all
    assert sorted(ids_in_state(workspace)) == ["alpha", "beta", "gamma"]
    assert len(platform.by_name("Beta")) == len(platform.by_name("Gamma")) == 1
    assert list_reads(proxy) == 2, proxy.seen  # one read, its two attempts, shared by both deletes


def rate_headers(reset_in: float, answers: int | None = None, clock_ahead: float = 0.0):
    """`proxy.headers` saying the rate limit is used up until `reset_in` seconds from now, by the platform's clock
    (`clock_ahead` of this machine's: set the proxy's too), on the first `answers` answers (None: on every one)."""
    given = []

    def headers(method, path):
        if answers is not None and len(given) >= answers:
            return {}
        given.append(path)
        return {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time() + clock_ahead + reset_in))}
    return headers


def far_reset_on_write(number: int, writes: list[str]):
    """`proxy.headers` saying the rate limit is used up for three hours on the answer to the `number`th write (a
    request other than a GET) alone; the path of each write is appended to `writes`."""
    hours_away = rate_headers(3 * 3600)

    def headers(method, path):
        if method == "GET":
            return {}
        writes.append(path)
        return hours_away(method, path) if len(writes) == number else {}
    return headers


def test_a_rate_limit_reset_hours_away_stops_the_run_at_once_saying_until_when(workspace, platform, proxy):
    """Every answer said the budget was used up for three hours: each paused the run for --retry-max-time, silently
    (an apply of two assistants took two such pauses; one of a thousand, a hundred). Nothing waits longer than
    --retry-max-time allows: the requests after such an answer are not sent, and say why."""
    workspace.add("alpha")
    workspace.add("beta")
    proxy.headers = rate_headers(3 * 3600)
    started = time.monotonic()
    failed = through(workspace, proxy, "apply", "--auto-approve", "--retry-max-time=20s")
    assert time.monotonic() - started < 15 and failed.exit_code == 1, failed.all
    # Said once: by the plan's first unsent read, or (the plan's reads all sent first) by the apply's Stopped line.
    assert failed.all.count("the platform's rate limit is used up until") == 1, failed.all
    assert "longer than --retry-max-time 20s allows waiting" in failed.all and "create failed" not in failed.all
    assert platform.by_name("Alpha") == [] and platform.by_name("Beta") == []


def test_a_far_rate_limit_reset_met_mid_apply_starts_nothing_new_and_says_why_once(workspace, platform, proxy):
    """A create's answer said the budget was used up for three hours: every change after it failed at once, unsent,
    each with the same long line naming the reset and the flag (an apply of thousands, thousands of them). The run
    now starts nothing new, as when the state store fails: the changes not sent are reported not started, in one
    line that says why."""
    names = [f"a{number:02d}" for number in range(30)]
    for name in names:
        workspace.add(name)
    proxy.headers = far_reset_on_write(3, [])
    failed = through(workspace, proxy, "apply", "--auto-approve", "--retry-max-time=20s", "--parallelism=2")
    assert failed.exit_code == 1 and "Apply failed." in failed.output, failed.all
    made = [a["name"] for a in platform.assistants()]
    assert 3 <= len(made) < 10, failed.all  # those sent before and beside the answer that said so
    assert failed.all.count("rate limit is used up until") == 1, failed.all
    assert "create failed" not in failed.all, failed.all
    assert "allows waiting; no further change started (run again after that time, or raise --retry-max-time); " \
           f"changes in flight were finished; {len(made)} done and recorded, {30 - len(made)} not started: " \
           in failed.stderr, failed.all
    assert sorted(workspace.state()["resources"]) == sorted(name.lower() for name in made)
    proxy.headers = lambda method, path: {}
    again = through(workspace, proxy, "apply", "--auto-approve")
    assert again.exit_code == 0 and f"{30 - len(made)} added" in again.output, again.all
    assert sorted(a["name"] for a in platform.assistants()) == sorted(name.title() for name in names)


def test_a_run_stopped_by_a_far_rate_limit_reset_and_then_by_its_store_names_both(workspace, platform, proxy,
                                                                                    monkeypatch):
    """The run stops starting changes for a rate-limit reset further away than --retry-max-time, and for a state store
    that fails, and its Stopped line named only the first to come: here the reset, while the store had failed too
    (what it records no more is on the platform, and no run after the reset gets far without a store that works)."""
    for number in range(30):
        workspace.add(f"a{number:02d}")
    writes: list[str] = []
    proxy.headers = far_reset_on_write(3, writes)
    real_commit = SqlStateStore.commit

    def failing_commit(self, state, changes):
        if len(writes) >= 3:
            time.sleep(1.0)  # the other worker's next request, refused unsent, has stopped the run first
            raise OSError(28, "No space left on device")
        return real_commit(self, state, changes)

    monkeypatch.setattr(SqlStateStore, "commit", failing_commit)
    failed = through(workspace, proxy, "apply", "--auto-approve", "--retry-max-time=20s", "--parallelism=2")
    monkeypatch.setattr(SqlStateStore, "commit", real_commit)
    assert failed.exit_code == 1 and "Apply failed." in failed.output, failed.all
    stopped = [line for line in failed.stderr.splitlines() if line.startswith("Stopped: ")]
    assert len(stopped) == 1, failed.all
    assert stopped[0].startswith("Stopped: the platform's rate limit is used up until "), stopped
    assert "allows waiting; and the state could not be written ([Errno 28] No space left on device); no further " \
           "change started (run again after that time, or raise --retry-max-time); changes in flight were " \
           "finished; " in stopped[0], stopped


def test_a_pause_for_the_rate_limit_reset_is_said_as_it_begins(workspace, platform, proxy):
    """A reset within --retry-max-time is waited for, and the wait said on stderr at once (the run looked hung)."""
    workspace.add("alpha")
    proxy.headers = rate_headers(4, answers=1)
    applied = through(workspace, proxy, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert applied.stderr.count("rate limit is used up (X-RateLimit-Remaining: 0) until its X-RateLimit-Reset: "
                                "sending nothing for") == 1, applied.all
    assert len(platform.by_name("Alpha")) == 1


def test_a_rate_limit_reset_is_read_by_the_platforms_clock_not_the_clients(workspace, platform, proxy):
    """X-RateLimit-Reset is a moment of the platform's clock: read against this machine's, a client clock a few
    minutes behind took a reset seconds away for one past --retry-max-time, and the run stopped ("not sent: the
    platform's rate limit is used up until ...") where it had a few seconds to wait. The answer's Date says what
    the platform's clock read."""
    workspace.add("alpha")
    proxy.clock_ahead = 150
    proxy.headers = rate_headers(3, answers=1, clock_ahead=150)
    applied = through(workspace, proxy, "apply", "--auto-approve", "--retry-max-time=20s")
    assert applied.exit_code == 0, applied.all
    assert "not sent" not in applied.all and "sending nothing for" in applied.stderr, applied.all
    assert len(platform.by_name("Alpha")) == 1


HELP = """apiVersion: provisioner/v1
kind: KnowledgeBase
metadata: {name: help}
spec:
  name: Help
  documents:
%s"""
RETURNS = '    - {name: Returns, key: returns, type: website, url: "https://example.com/returns"}\n'
HOURS = '    - {name: Hours, key: hours, type: website, url: "https://example.com/hours"}\n'


def json_404_under_the_knowledge_base(deleted: list):
    """An intercept: the platform's 404 to a document's delete and, from then on (the plan reads the list first), to
    its knowledge base's list of documents; `deleted` collects those paths."""
    def intercept(method, path):
        if "/documents" in path and (method == "DELETE" or deleted):
            deleted.append(path)
            return 404, b'{"error": "Knowledge base not found"}', "application/json"
        return None
    return intercept


def pages(count: int) -> str:
    """`count` website documents of a HELP knowledge base, keys p0, p1, ..."""
    return "".join(f'    - {{name: Page {n}, key: p{n}, type: website, url: "https://example.com/p{n}"}}\n'
                   for n in range(count))


def test_a_json_404_to_a_documents_delete_and_list_while_its_knowledge_base_is_listed_does_not_forget_it(
        workspace, platform, proxy):
    """A document's delete and its knowledge base's list of documents both answered the platform's 404 was taken
    for the knowledge base gone, and the document with it: state forgot a document that stayed on the platform
    (a misrouted path, a platform failing its own look-up), as for any kind before. The knowledge base still
    listed, the delete fails and state keeps it; once the knowledge base is not listed, it is gone."""
    workspace.write("manifests/help.yaml", HELP % (RETURNS + HOURS))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/help.yaml", HELP % RETURNS)

    deleted = []
    proxy.intercept = json_404_under_the_knowledge_base(deleted)
    failed = through(workspace, proxy, "apply", "--auto-approve")
    assert failed.exit_code == 1 and "already gone" not in failed.all, failed.all
    assert "still lists knowledge base" in " ".join(failed.all.split()), failed.all
    assert "knowledgebase.help.hours" in ids_in_state(workspace)
    # A knowledge base no longer listed after those 404s (deleted meanwhile, its documents with it): gone.
    deleted.clear()

    def without_the_knowledge_base(method, path, status, body):
        if deleted and method == "GET" and path.split("?")[0] == "/api/user/knowledgebases":
            return status, json.dumps({"data": []}).encode(), "application/json"
        return None

    proxy.rewrite = without_the_knowledge_base
    gone = through(workspace, proxy, "apply", "--auto-approve")
    assert gone.exit_code == 0 and "already gone" in gone.all, gone.all
    assert "knowledgebase.help.hours" not in ids_in_state(workspace)
    workspace.write("manifests/help.yaml", HELP % (RETURNS + HOURS))  # made again, then destroyed for real
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/help.yaml", HELP % RETURNS)
    done = workspace.run("apply", "--auto-approve")
    assert done.exit_code == 0 and "knowledgebase.help.hours" not in ids_in_state(workspace), done.all


def test_an_adoption_claimed_before_a_far_rate_limit_reset_says_it_was_adopted_not_that_it_was_not_started(
        workspace, platform, proxy):
    """An adoption records its claim on the object, then sends its update. When the answer before it said the rate
    limit was used up for hours, the update was not sent and the change was reported not started (the Stopped
    line's list, not a line of its own), while state held the object as adopted: the next plan showed an update
    (~), not the adoption (<=) the run had said was still to come. The change now says what happened."""
    workspace.add("alpha")
    workspace.add("beta")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.lose_state()
    workspace.add("alpha", system_prompt="Be brief.")
    workspace.add("beta", system_prompt="Be brief.")
    writes = []
    proxy.headers = far_reset_on_write(1, writes)
    failed = through(workspace, proxy, "apply", "--auto-approve", "--retry-max-time=20s", "--parallelism=1")
    said = " ".join(failed.all.split())
    assert failed.exit_code == 1 and len(writes) == 1, failed.all  # the first adoption's update; not the second's
    [sent] = writes
    unsent = "beta" if sent.endswith(f"/{ids_in_state(workspace)['alpha']}") else "alpha"
    assert f"{unsent}: import failed: adopted (recorded in state), but its update was not sent: the platform's rate " \
           "limit stopped the run; the next plan shows the update" in said, failed.all
    assert "1 done and recorded, 0 not started." in said, failed.all
    assert "Apply failed. Resources: 1 imported, 0 added, 1 changed, 0 destroyed, 1 failed." in said, failed.all
    assert said.count("rate limit is used up until") == 1, failed.all
    assert sorted(ids_in_state(workspace)) == ["alpha", "beta"]
    proxy.headers = None
    planned = workspace.run("plan")
    assert f'~ assistant "{unsent}"' in planned.output and "<=" not in planned.output, planned.all
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in planned.output, planned.all
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert [a["system_prompt"] for a in platform.assistants()] == ["Be brief.", "Be brief."]


def test_documents_whose_knowledge_base_was_deleted_meanwhile_share_one_read_of_the_knowledge_bases(
        workspace, platform, proxy):
    """The knowledge base is deleted behind the provisioner's back as the destroy begins: each document's delete and
    its knowledge base's list answer the platform's 404, and the list of knowledge bases, which no longer shows it,
    confirms them gone. Each asked for a read of that list begun after its own list's 404, so they shared one only
    with the few confirmed beside them: it was read about once per ten documents. Now once for them all (and once
    for the knowledge base's own delete, answered 404 after)."""
    workspace.write("manifests/help.yaml", HELP % pages(50))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    knowledge_base = ids_in_state(workspace)["knowledgebase.help"]

    deleted = []

    def knowledge_base_deleted_first(method, path):
        """At the first document's delete, the dashboard deletes the knowledge base (its documents with it)."""
        with lock:
            if method == "DELETE" and not deleted:
                deleted.append(platform.http.delete(f"/user/knowledgebases/{knowledge_base}").status_code)
        return None

    lock = threading.Lock()

    proxy.intercept = knowledge_base_deleted_first
    done = through(workspace, proxy, "destroy", "--auto-approve")
    assert deleted == [200] and done.exit_code == 0, done.all
    assert done.output.count("it was already gone") == 51, done.all
    assert ids_in_state(workspace) == {}
    seen = [(method, path.split("?")[0]) for method, path in proxy.seen]
    first = next(i for i, (method, _) in enumerate(seen) if method == "DELETE")
    reads = [path for method, path in seen[first:] if method == "GET" and path == "/api/user/knowledgebases"]
    assert len(reads) == 2, seen[first:]


def test_documents_answered_404_whose_knowledge_bases_cannot_be_read_fail_and_state_keeps_them(
        workspace, platform, proxy):
    """The same path with the list of knowledge bases answering 500 on every attempt: no document is taken for
    gone, each fails saying why, state keeps them all, and the one read (its two attempts) answered them all."""
    workspace.write("manifests/help.yaml", HELP % (RETURNS + pages(5)))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/help.yaml", HELP % RETURNS)
    deleted = []
    under = json_404_under_the_knowledge_base(deleted)

    def unreadable_after_the_deletes(method, path):
        if deleted and method == "GET" and path.split("?")[0] == "/api/user/knowledgebases":
            return 500, b'{"message": "Server Error"}', "application/json"
        return under(method, path)

    proxy.intercept = unreadable_after_the_deletes
    failed = through(workspace, proxy, "apply", "--auto-approve", "--allow-mass-destroy", "--max-retries=2",
                     "--retry-backoff=0.01s")
    text = " ".join(failed.all.split())
    assert failed.exit_code == 1 and "already gone" not in text, failed.all
    assert text.count("then its knowledge base's list answered 404, and reading the knowledge bases to confirm "
                      "that knowledge base") == 5, failed.all
    assert sorted(ids_in_state(workspace)) == sorted(
        ["knowledgebase.help", "knowledgebase.help.returns", *(f"knowledgebase.help.p{n}" for n in range(5))])
    reads = [path for method, path in proxy.seen if method == "GET" and path.split("?")[0] == "/api/user/knowledgebases"]
    assert len(reads) == 1 + 2, proxy.seen  # the plan's, then one read's two attempts, shared by the five
