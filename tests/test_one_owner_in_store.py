"""One owner per platform object across the workspaces and projects of one store, held by the database: two
workspaces that adopt (or recover) the same object at the same moment both passed the look-up of its owners, and
both recorded it. The store's unique index on (platform, kind, remote id) lets the first commit keep it and refuses
the second's row, naming the first; both engines, the steps interleaved by hand."""
from __future__ import annotations

import contextlib
import json
import threading
import time

import pytest

from provisioner.errors import StateError
from provisioner.state import OwnedElsewhereError, ResourceState
from provisioner.state.sql import open_store
from test_state import engine, stores  # noqa: F401 - the per-engine fixtures


def resource(remote_id: int, kind: str = "assistant") -> ResourceState:
    return ResourceState(id=remote_id, spec={"name": f"n{remote_id}"}, kind=kind)


def _on_one_platform(stores, *workspaces: str):
    """Stores of these workspaces, their runs on one platform of this test's own (other tests' projects in a shared
    PostgreSQL database hold the same ids, on their own emulators)."""
    opened = [stores(name) for name in workspaces]
    for store in opened:
        store.platform = f"http://127.0.0.1:1/{stores.project}"
    return opened


def test_two_workspaces_that_adopt_one_object_at_once_leave_it_to_the_first_commit(stores):
    first, second = _on_one_platform(stores, "default", "staging")
    mine, theirs = first.read(), second.read()
    theirs.resources["kept"] = resource(7)
    second.write(theirs)
    # Both applies' adoption re-checks (Session._refuse_adopted_elsewhere) find nobody managing id 42 ...
    assert first.owners("assistant", [42]) == {} and second.owners("assistant", [42]) == {}
    # ... then both record it: the first commit keeps it.
    mine.resources["sales"] = resource(42)
    first.commit(mine, {"sales": mine.resources["sales"]})
    theirs.resources["sales-copy"] = resource(42)
    theirs.resources["other"] = resource(43)
    serial = theirs.serial
    with pytest.raises(OwnedElsewhereError) as refused:
        second.commit(theirs, {"sales-copy": theirs.resources["sales-copy"], "other": theirs.resources["other"]})
    message = str(refused.value)
    assert "sales-copy (assistant id 42)" in message and "'sales' in project" in message
    assert "workspace 'default'" in message and "nothing was written" in message
    assert set(refused.value.owners) == {"sales-copy"}
    # Nothing of the refused commit was written (the other row goes again without the refused one); the winner
    # keeps its row, and the loser's rows are as they were.
    assert theirs.serial == serial and set(stores("staging").read().resources) == {"kept"}
    assert stores("default").read().resources["sales"].id == 42
    assert set(second.owners("assistant", [42])) == {42}


def test_the_same_id_of_another_kind_or_of_another_platform_is_another_object(stores):
    first, second = _on_one_platform(stores, "default", "staging")
    mine, theirs = first.read(), second.read()
    mine.resources["sales"] = resource(42)
    first.write(mine)
    theirs.resources["tool.sales"] = resource(42, "tool")
    second.write(theirs)
    third = stores("prod")
    third.platform = f"http://127.0.0.1:2/{stores.project}"
    other = third.read()
    other.resources["sales"] = resource(42)
    third.write(other)
    # A state command (push, mv) knows no platform: its rows are of any, and left to the look-ups (docs/state.md).
    fourth = stores("scratch")
    loose = fourth.read()
    loose.resources["sales"] = resource(42)
    fourth.write(loose)
    assert stores("scratch").read().resources["sales"].id == 42


@pytest.mark.parametrize("engine", ["postgres"])  # SQLite's write transactions run one at a time (BEGIN IMMEDIATE)
def test_a_commit_that_waits_for_another_workspaces_claim_is_refused_once_it_commits(stores):
    """PostgreSQL: the other transaction's row is not visible to this one's before it commits; the unique index
    makes this insert wait for it, then fail, and the commit then names the owner that committed."""
    import psycopg

    first, second = _on_one_platform(stores, "default", "staging")
    first.read()
    theirs = second.read()
    other = psycopg.connect(stores.dsn)
    try:
        # The first workspace's commit, caught between its insert and its COMMIT.
        other.execute("INSERT INTO provisioner_resources (project, workspace, address, remote_id, record, serial, "
                      "kind, platform) VALUES (%s, 'default', 'sales', 42, '{}', 1, 'assistant', %s)",
                      (stores.project, first.platform))
        outcome: list[BaseException | None] = []

        def commit_second() -> None:
            theirs.resources["sales"] = resource(42)
            try:
                second.commit(theirs, {"sales": theirs.resources["sales"]})
                outcome.append(None)
            except BaseException as error:  # noqa: BLE001 - looked at below
                outcome.append(error)

        thread = threading.Thread(target=commit_second)
        thread.start()
        time.sleep(0.5)
        assert not outcome  # waiting for the first transaction
        other.commit()
        thread.join(10)
    finally:
        other.close()
    assert isinstance(outcome[0], OwnedElsewhereError), outcome
    assert "workspace 'default'" in str(outcome[0])


def _two_owners_in_version_3(store_of, execute) -> None:
    """Workspaces default and staging both recording assistant 42 on one platform, as an earlier race left them in
    a version 3 store (no one-owner index yet); default also records assistant 7, staging assistant 8."""
    for workspace, own in (("default", 7), ("staging", 8)):
        store = store_of(workspace)
        store.platform = "http://127.0.0.1:1/api"
        state = store.read()
        state.resources["own"] = resource(own)
        store.write(state)
        store.close()
    execute("DROP INDEX provisioner_resources_one_owner_in_store")
    execute("DROP INDEX provisioner_resources_unrecorded")
    execute("INSERT INTO provisioner_resources (project, workspace, address, remote_id, record, serial, kind, "
            "platform) SELECT project, workspace, 'sales', 42, record, serial, kind, platform FROM "
            "provisioner_resources WHERE address = 'own'")
    execute("UPDATE provisioner_meta SET value = '3' WHERE \"key\" = 'schema_version'")


def _upgraded_keeps_both_and_names_them(store_of, rows) -> None:
    """Opened by this version: every row is kept; the object two workspaces recorded is recorded by neither (their
    other rows are), and the first run on that platform records it again for its workspace, whose row the index
    then holds; the other workspace's runs are refused, naming both, until one lets go (docs/state.md)."""
    from provisioner.state.sql import SCHEMA_VERSION
    from provisioner.workflow.session import check_same_platform

    first = store_of("default")
    first.platform = "http://127.0.0.1:1/api"
    assert rows() == [("default", "own", 7, "http://127.0.0.1:1/api"), ("default", "sales", 42, ""),
                      ("staging", "own", 8, "http://127.0.0.1:1/api"), ("staging", "sales", 42, "")]
    assert rows("SELECT value FROM provisioner_meta") == [(str(SCHEMA_VERSION),)]
    check_same_platform(first)  # nobody recorded it: default's run goes on
    state = first.read()
    state.resources["own"].spec["name"] = "changed"
    first.write(state)  # its first write records its rows' platform
    assert rows()[:2] == [("default", "own", 7, first.platform), ("default", "sales", 42, first.platform)]
    second = store_of("staging")
    second.platform = first.platform
    with pytest.raises(StateError, match=r"workspace 'staging' .* holds ids that another workspace or project "
                                         r"manages .*sales \(id 42\) is 'sales' in project .* workspace 'default'"):
        check_same_platform(second)
    state = second.read()
    state.resources["own"].spec["name"] = "changed"
    second.write(state)  # a run that goes on anyway leaves that row unrecorded: never two owners
    assert rows()[2:] == [("staging", "own", 8, "http://127.0.0.1:1/api"), ("staging", "sales", 42, "")]
    first.close()
    second.close()


@contextlib.contextmanager
def _store_database(engine: str, tmp_path):
    """A database of the test's own (a migration changes tables every project shares): a function that opens a
    workspace's store of it, one that runs a statement, one that answers a query."""
    import sqlite3

    import psycopg

    from pg_support import own_database

    path = tmp_path / "state" / "provisioner.db"
    with own_database() if engine == "postgres" else contextlib.nullcontext() as dsn:
        def connect():
            if dsn is None:
                return contextlib.closing(sqlite3.connect(path, isolation_level=None))
            return psycopg.connect(dsn, autocommit=True)

        def store_of(workspace):
            return open_store(engine, path, workspace=workspace, project="p", dsn=dsn, must_exist=False)

        def query(statement):
            with connect() as database:
                return database.execute(statement).fetchall() if statement.startswith("SELECT") \
                    else database.execute(statement)

        yield store_of, query


def test_an_upgrade_keeps_the_rows_two_workspaces_recorded_of_one_object(engine, tmp_path):
    with _store_database(engine, tmp_path) as (store_of, query):
        _two_owners_in_version_3(store_of, query)
        _upgraded_keeps_both_and_names_them(store_of, lambda statement=ROWS: query(statement))


ROWS = "SELECT workspace, address, remote_id, platform FROM provisioner_resources ORDER BY 1, 2"


# --- end to end: two applies of one namesake, interleaved by hand ---

def test_two_applies_adopting_one_namesake_at_once_leave_it_to_the_first_to_record_it(workspace, backend,
                                                                                       monkeypatch):
    """Staging's apply passes its adoption re-check; default's whole apply (plan, re-check, adoption, commit) runs
    before staging's change is recorded. The first commit keeps the object; staging's change fails naming default,
    staging's other change is recorded, and nothing is deleted or forgotten."""
    from conftest import REQUIRED

    item = workspace.platform.create(assistant_name="Shared Bot", **REQUIRED)
    workspace.add("shared", name="Shared Bot")
    workspace.add("own", name="Staging Own")
    assert workspace.run("workspace", "new", "staging").exit_code == 0
    raced, other = _staging_applied_while_default_applies(
        workspace, monkeypatch, lambda: workspace.remove("own"), lambda: workspace.add("own", name="Staging Own"))
    assert other.exit_code == 0, other.all
    assert raced.exit_code == 1, raced.all
    message = " ".join(raced.all.split())
    assert "shared (assistant id %d) is managed by 'shared' in project" % item["id"] in message, message
    # It sent nothing (the platform's object is as its manifest says): its record is its claim, refused as one. It
    # was said to be "done on the platform, but not recorded", which sent nothing to it.
    assert "shared: import failed: not adopted, and nothing was sent to it: one object has one owner" in message, message
    assert "workspace 'default'" in message and "done on the platform" not in message, message
    staging = workspace.run("state", "pull", "--lock=false", "--workspace", "staging")
    default = workspace.run("state", "pull", "--lock=false", "--workspace", "default")

    assert set(json.loads(staging.output)["resources"]) == {"own"}
    assert json.loads(default.output)["resources"]["shared"]["id"] == item["id"]
    assert sorted(a["name"] for a in workspace.platform.assistants()) == ["Shared Bot", "Staging Own"]
    # Staging's next plan names the owner, as for any adoption of what another workspace manages.
    again = workspace.run("plan", "--workspace", "staging")
    assert again.exit_code == 1 and "workspace 'default'" in again.stderr, again.all


def _staging_applied_while_default_applies(workspace, monkeypatch, before_default, after_default=lambda: None,
                                           *flags: str):
    """Staging's apply, in which default's whole apply (plan, re-check, adoption, commit) runs once staging's
    adoption re-check (Session._refuse_adopted_elsewhere) has passed, between `before_default()` and
    `after_default()` (the manifests edited for it): the results of staging's apply and of default's."""
    from provisioner.workflow.session import Session

    recheck = Session._refuse_adopted_elsewhere
    other: list = []

    def recheck_then_the_other_pipeline(session, plan):
        recheck(session, plan)
        if session.backend.workspace == "staging":
            before_default()
            other.append(workspace.run("apply", "--auto-approve", "--workspace", "default"))
            after_default()

    with monkeypatch.context() as interleaved:
        interleaved.setattr(Session, "_refuse_adopted_elsewhere", recheck_then_the_other_pipeline)
        raced = workspace.run("apply", "--auto-approve", "--workspace", "staging", *flags)
    return raced, other[0]


def test_an_apply_records_its_other_changes_and_forgets_nothing_when_one_is_refused(stores):
    """The recorder's side (apply.StateRecorder): a refused row takes its whole mutation out (a move stays whole:
    the row it moved away is put back), the other mutations of the same commit are recorded."""
    from provisioner.apply import StateRecorder

    first, second = _on_one_platform(stores, "default", "staging")
    mine = first.read()
    mine.resources["sales"] = resource(42)
    first.write(mine)
    theirs = second.read()
    theirs.resources["old"] = resource(9)
    second.write(theirs)
    recorder = StateRecorder(second, theirs)
    other = recorder.queue("own", 41, {"spec": {"name": "own"}})
    moved = recorder.queue_moves({"old": None, "sales": resource(42)})
    with pytest.raises(OwnedElsewhereError, match=r"sales \(assistant id 42\) is managed by 'sales' in project"):
        recorder.wait_durable(moved)
    recorder.wait_durable(other)
    assert {a: e.id for a, e in theirs.resources.items()} == {"old": 9, "own": 41}
    assert {a: e.id for a, e in stores("staging").read().resources.items()} == {"old": 9, "own": 41}


def test_a_forget_with_nothing_to_write_after_a_refused_record_is_not_refused_too(stores):
    """A forget of an address state does not hold has nothing to wait for: its ticket is none of the refused
    mutations' (it was the last commit's, which a refused record could end, and its change then failed with the
    other change's "one object has one owner")."""
    from provisioner.apply import StateRecorder

    first, second = _on_one_platform(stores, "default", "staging")
    mine = first.read()
    mine.resources["sales"] = resource(42)
    first.write(mine)
    recorder = StateRecorder(second, second.read())
    with pytest.raises(OwnedElsewhereError):
        recorder.record("shared", 42, {"spec": {"name": "shared"}})
    recorder.forget("never-recorded")  # nothing to write: done at once, refused by nobody
    assert recorder.state.resources == {} and stores("staging").read().resources == {}


def test_two_imports_of_one_object_at_once_leave_it_to_the_first(workspace, backend, monkeypatch):
    """`provisioner import` in two workspaces at once: both look-ups find no owner; the second write is refused,
    naming the first, and imports nothing."""
    from conftest import REQUIRED
    from provisioner.state.sql import SqlStateStore

    item = workspace.platform.create(assistant_name="Shared Bot", **REQUIRED)
    workspace.add("shared", name="Shared Bot")
    assert workspace.run("workspace", "new", "staging").exit_code == 0
    look_up = SqlStateStore.owners
    other: list = []

    def look_up_then_the_other_import(store, kind, ids):
        found = look_up(store, kind, ids)
        if store.workspace == "staging":
            other.append(workspace.run("import", "shared", str(item["id"]), "--workspace", "default"))
        return found

    with monkeypatch.context() as interleaved:
        interleaved.setattr(SqlStateStore, "owners", look_up_then_the_other_import)
        raced = workspace.run("import", "shared", str(item["id"]), "--workspace", "staging")
    assert other[0].exit_code == 0, other[0].all
    assert raced.exit_code == 1, raced.all
    message = " ".join(raced.stderr.split())
    assert f"shared (assistant id {item['id']}) is managed by 'shared' in project" in message, message
    assert "workspace 'default'" in message and "nothing was written for it here" in message
    staging = workspace.run("state", "pull", "--lock=false", "--workspace", "staging")
    assert staging.exit_code == 0 and json.loads(staging.output)["resources"] == {}, staging.all



# --- an adoption claims the object before it sends its update ---

def _shared_assistant(workspace, prompt: str | None) -> dict | None:
    """Writes the manifest adopting 'Shared Bot' with this prompt; with None, makes the platform's namesake too."""
    from conftest import REQUIRED

    made = workspace.platform.create(assistant_name="Shared Bot", **REQUIRED) if prompt is None else None
    workspace.add("shared", name="Shared Bot", system_prompt=prompt or "Be helpful.")
    return made


def _shared_tool(workspace, prompt: str | None) -> dict | None:
    """The same for a tool 'order_shared', its description the prompt."""
    from provisioner.client import PlatformClient
    from provisioner.kinds import tool

    made = None
    if prompt is None:
        fields = tool.KIND.spec_model.model_validate({
            "name": "order_shared", "description": "Look up an order.",
            "endpoint": "https://api.example.com/orders", "method": "GET"}).model_dump(mode="json")
        with PlatformClient(workspace.platform.url, workspace.token) as client:
            made = tool.KIND.endpoints.create(client, tool.create_body(fields), None)
    workspace.write("manifests/shared.yaml", "apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: shared\n"
                    "spec:\n  name: order_shared\n  description: " + (prompt or "Look up an order.") + "\n"
                    "  endpoint: https://api.example.com/orders\n  method: GET\n")
    return made


SHARED = {"assistant": (_shared_assistant, "shared", "system_prompt", "Be helpful."),
          "tool": (_shared_tool, "tool.shared", "description", "Look up an order.")}


def _platforms_view(workspace, kind: str, remote_id: int) -> dict:
    from provisioner.client import PlatformClient
    from provisioner.kinds import tool

    if kind == "assistant":
        return next(a for a in workspace.platform.assistants() if a["id"] == remote_id)
    with PlatformClient(workspace.platform.url, workspace.token) as client:
        return next(t for t in tool.KIND.endpoints.list(client, None) if t["id"] == remote_id)


@pytest.mark.parametrize("kind", sorted(SHARED))
def test_the_adoption_that_loses_the_race_sends_nothing_to_the_winners_object(workspace, backend, monkeypatch, kind):
    """Both adoptions send an update (each workspace's manifest its own prompt). Staging's apply passes its re-check;
    default's whole apply runs before staging claims the object. Staging's claim is refused before its update is sent:
    the object stays as default's apply left it, as default's state records it (staging's update, sent first, had
    changed it under default's state)."""
    write, address, field, _ = SHARED[kind]
    item = write(workspace, None)
    write(workspace, "Staging's prompt.")
    assert workspace.run("workspace", "new", "staging").exit_code == 0
    before = len(workspace.platform.writes())
    raced, other = _staging_applied_while_default_applies(workspace, monkeypatch,
                                                          lambda: write(workspace, "Default's prompt."))
    assert other.exit_code == 0, other.all
    assert raced.exit_code == 1, raced.all
    updates = [w["body"] for w in workspace.platform.writes()[before:] if w["method"] in ("PUT", "PATCH")]
    assert updates == [{field: "Default's prompt."}], updates  # default's alone
    assert _platforms_view(workspace, kind, item["id"])[field] == "Default's prompt."
    default = json.loads(workspace.run("state", "pull", "--lock=false", "--workspace", "default").output)
    assert default["resources"][address]["spec"][field] == "Default's prompt."
    message = " ".join(raced.all.split())
    assert f"not adopted, and nothing was sent to it: one object has one owner: {address} ({kind} id {item['id']}) " \
           f"is managed by '{address}' in project" in message, message
    assert "workspace 'default'" in message and "done on the platform" not in message, message
    staging = json.loads(workspace.run("state", "pull", "--lock=false", "--workspace", "staging").output)
    assert staging["resources"] == {}


@pytest.mark.parametrize("kind", sorted(SHARED))
def test_an_adoption_whose_update_fails_stays_adopted_and_the_next_plan_shows_the_update(workspace, kind):
    """The claim is committed, then the update fails: state holds the object as a saved plan read it (as `provisioner
    import` records it: no spec), and the next plan shows the update still to make; applied, it is made."""
    write, address, field, seen = SHARED[kind]
    item = write(workspace, None)
    write(workspace, "A new prompt.")
    assert workspace.run("plan", "--out", "adopt.plan").exit_code == 0
    workspace.platform.faults(error_rate=1.0, methods=["PUT", "PATCH"])
    failed = workspace.run("apply", "--max-retries", "1", "adopt.plan")
    workspace.platform.faults(error_rate=0, methods=None)
    assert failed.exit_code == 1 and "500" in failed.all, failed.all
    entry = workspace.state()["resources"][address]
    assert entry["id"] == item["id"] and entry["spec"] is None and entry["remote"][field] == seen, entry
    again = changes_of(workspace)[address]
    assert again["action"] == "update" and again["remote_id"] == item["id"], again
    assert [f["field"] for f in again["fields"] if f["field"] == field] == [field], again
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert _platforms_view(workspace, kind, item["id"])[field] == "A new prompt."
    assert "No changes." in workspace.run("plan").output


@pytest.mark.parametrize("kind", sorted(SHARED))
def test_a_single_adoption_claims_then_updates_in_one_apply(workspace, kind):
    write, address, field, _ = SHARED[kind]
    item = write(workspace, None)
    write(workspace, "A new prompt.")
    assert changes_of(workspace)[address]["action"] == "import"
    before = len(workspace.platform.writes())
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert [w["body"] for w in workspace.platform.writes()[before:]] == [{field: "A new prompt."}]
    entry = workspace.state()["resources"][address]
    assert entry["id"] == item["id"] and entry["spec"][field] == "A new prompt.", entry
    assert _platforms_view(workspace, kind, item["id"])[field] == "A new prompt."
    assert "No changes." in workspace.run("plan").output


def changes_of(workspace) -> dict[str, dict]:
    planned = workspace.run("plan", "--json")
    assert planned.exit_code in (0, 2), planned.all
    return {c["address"]: c for c in json.loads(planned.output)["changes"]}


def _campaign(workspace, parallel: int, assistant_id: int, extra: str = "") -> None:
    workspace.write("manifests/winter.yaml", "apiVersion: provisioner/v1\nkind: Campaign\nmetadata:\n  name: winter\n"
                    f"spec:\n  name: Winter\n  assistant_id: {assistant_id}\n  max_calls_in_parallel: {parallel}\n"
                    + extra)


def _winter(workspace) -> tuple[dict, dict]:
    """The platform's outbound assistant 'Caller' and its campaign 'Winter' (2 calls in parallel), managed by nobody."""
    from conftest import REQUIRED

    caller = workspace.platform.create(assistant_name="Caller", **REQUIRED)
    winter = workspace.platform.http.post("/user/campaigns", json={
        "name": "Winter", "assistant_id": caller["id"], "max_calls_in_parallel": 2}).json()["data"]
    return caller, winter


def test_an_adoption_to_replace_never_deletes_the_namesake_another_workspace_recorded_first(workspace, backend,
                                                                                            monkeypatch):
    """Staging adopts the platform's campaign 'Winter' to replace it (its settings differ there), default adopts it as
    it is, at the same moment. Staging's claim on it is refused before anything is sent: no new campaign, and the one
    default recorded is not deleted."""
    caller, winter = _winter(workspace)
    _campaign(workspace, 3, caller["id"])
    assert workspace.run("workspace", "new", "staging").exit_code == 0
    before = len(workspace.platform.writes())
    raced, other = _staging_applied_while_default_applies(
        workspace, monkeypatch, lambda: _campaign(workspace, 2, caller["id"]), lambda: None, "--allow-replace")
    assert other.exit_code == 0, other.all
    assert raced.exit_code == 1, raced.all
    assert workspace.platform.writes()[before:] == [], workspace.platform.writes()[before:]
    listed = workspace.platform.http.get("/user/campaigns").json()
    assert [(c["id"], c["name"]) for c in listed] == [(winter["id"], "Winter")]
    message = " ".join(raced.all.split())
    assert "not adopted, and nothing was sent to it: one object has one owner: campaign.winter~deposed (campaign " \
           f"id {winter['id']}) is managed by 'campaign.winter' in project" in message, message
    default = json.loads(workspace.run("state", "pull", "--lock=false", "--workspace", "default").output)
    assert default["resources"]["campaign.winter"]["id"] == winter["id"]


def test_a_namesake_adopted_to_be_replaced_stays_adopted_when_its_successor_is_not_made(workspace):
    """The claim commits, then the new campaign is surely not made (every create refused): the namesake stays adopted
    at its address, and the next plan replaces it again; applied, it is replaced."""
    caller, winter = _winter(workspace)
    _campaign(workspace, 3, caller["id"])
    workspace.platform.faults(error_rate=1.0, kinds=["campaigns"], methods=["POST"])
    failed = workspace.run("apply", "--auto-approve", "--allow-replace", "--max-retries", "1")
    workspace.platform.faults(error_rate=0, kinds=None, methods=None)
    assert failed.exit_code == 1 and "nothing was created" in failed.all, failed.all
    entry = workspace.state()["resources"]
    assert list(entry) == ["campaign.winter"] and entry["campaign.winter"]["id"] == winter["id"], entry
    assert entry["campaign.winter"]["spec"] is None
    again = changes_of(workspace)["campaign.winter"]
    assert (again["action"], again["replace"], again["remote_id"]) == ("create", True, winter["id"]), again
    assert workspace.run("apply", "--auto-approve", "--allow-replace").exit_code == 0
    listed = workspace.platform.http.get("/user/campaigns").json()
    assert [c["name"] for c in listed] == ["Winter"] and listed[0]["id"] != winter["id"]
    assert "No changes." in workspace.run("plan").output


def test_a_namesake_adopted_to_be_replaced_and_destroyed_first_is_claimed_before_its_delete(workspace, backend,
                                                                                           monkeypatch):
    """Staging's campaign 'Winter', adopted to be replaced, uses its SIP trunk, replaced too and destroyed first: the
    campaign's replacement then destroys first as well (walk.py). Default adopts it at the same moment: staging's
    claim on it is refused before its delete, which is never sent."""
    from test_kinds_plan_e2e import trunk_manifest

    workspace.dialect = "v2"
    assert workspace.run("workspace", "new", "staging").exit_code == 0
    workspace.write("manifests/office.yaml", trunk_manifest())
    assert workspace.run("apply", "--auto-approve", "--workspace", "staging").exit_code == 0
    caller, winter = _winter(workspace)
    _campaign(workspace, 3, caller["id"], '  phone_number_ids: ["+14155551234"]\n')

    def only_the_campaign_as_it_is():
        workspace.root.joinpath("manifests", "office.yaml").unlink()
        _campaign(workspace, 2, caller["id"])

    before = len(workspace.platform.writes())
    raced, other = _staging_applied_while_default_applies(workspace, monkeypatch, only_the_campaign_as_it_is,
                                                          lambda: None, "--allow-replace", "--replace",
                                                          "siptrunk.office")
    assert other.exit_code == 0, other.all
    assert raced.exit_code == 1, raced.all
    sent = [(w["method"], w["path"]) for w in workspace.platform.writes()[before:]]
    assert not [w for w in sent if "campaign" in w[1]], sent
    listed = workspace.platform.http.get("/user/campaigns").json()
    assert [(c["id"], c["name"]) for c in listed] == [(winter["id"], "Winter")]
    message = " ".join(raced.all.split())
    assert "not adopted, and nothing was sent to it: one object has one owner: campaign.winter (campaign id " \
           f"{winter['id']}) is managed by 'campaign.winter' in project" in message, message
