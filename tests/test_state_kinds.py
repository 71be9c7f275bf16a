"""State per kind on both engines: rows carry their kind, ids are unique per kind (an assistant and a tool may
share one), the one-owner look-up is per kind, documents keep kind and depends_on, version 2 stores migrate."""
from __future__ import annotations

import sqlite3

import pytest

from provisioner.errors import StateError
from provisioner.state import ResourceState, State, deposed_address
from provisioner.state.sql import SCHEMA_VERSION, open_store
from test_state import engine, stores  # noqa: F401 - the per-engine fixtures


def resource(remote_id: int, kind: str = "assistant", depends_on=()) -> ResourceState:
    return ResourceState(id=remote_id, spec={"name": f"n{remote_id}"}, kind=kind, depends_on=list(depends_on))


def test_an_assistant_and_a_tool_may_hold_the_same_id_and_each_row_keeps_its_kind(stores):
    store = stores()
    state = store.read()
    state.resources["support"] = resource(7)
    state.resources["tool.lookup"] = resource(7, "tool")
    state.resources["knowledgebase.faq.page"] = resource(8, "document", ["knowledgebase.faq"])
    state.resources[deposed_address("tool.old")] = resource(9, "tool")
    store.write(state)
    again = stores().read()
    assert {a: (e.kind, e.id) for a, e in again.resources.items()} == {
        "support": ("assistant", 7), "tool.lookup": ("tool", 7), "knowledgebase.faq.page": ("document", 8),
        "tool.old~deposed": ("tool", 9)}
    assert again.resources["knowledgebase.faq.page"].depends_on == ["knowledgebase.faq"]
    # Writing one of them leaves the other kind's row of that id alone (a row is replaced by address or by id of
    # its own kind: `state mv`).
    again.resources["tool.lookup"] = resource(7, "tool", ["folder.x"])
    store2 = stores()
    store2.read()
    store2.write(again)
    final = stores().read()
    assert final.resources["support"].id == 7 and final.resources["tool.lookup"].depends_on == ["folder.x"]


def test_the_one_owner_look_up_is_per_kind(stores):
    mine, other = stores(), stores("other")
    # A platform of this test's own: other tests' projects in a shared PostgreSQL database hold these ids too.
    mine.platform = other.platform = f"http://127.0.0.1:1/{stores.project}"
    state = other.read()
    state.resources["tool.lookup"] = resource(5, "tool")
    other.write(state)
    assert set(mine.owners("tool", [5])) == {5}
    assert mine.owners("tool", [5])[5].address == "tool.lookup"
    assert mine.owners("assistant", [5]) == {}


def test_the_state_document_keeps_kinds_and_only_names_them_for_other_kinds():
    state = State.new()
    state.resources["support"] = resource(1)
    state.resources["tool.lookup"] = resource(1, "tool", ["folder.sales"])
    text = state.dumps()
    assert b'"kind": "tool"' in text and text.count(b'"kind"') == 1  # assistants' lines as before
    back = State.loads(text, "doc")
    assert back.resources["tool.lookup"].kind == "tool" and back.resources["support"].kind == "assistant"
    assert back.resources["tool.lookup"].depends_on == ["folder.sales"]
    # A record without its kind takes the one its address names; one that names another is refused.
    assert State.loads(text.replace(b'"kind": "tool", ', b""), "doc").resources["tool.lookup"].kind == "tool"
    with pytest.raises(StateError, match="but the address is a tool's"):
        State.loads(text.replace(b'"kind": "tool", ', b'"kind": "label", '), "doc")
    with pytest.raises(StateError, match="both claim platform id 1"):
        State.loads(text.replace(b'"tool.lookup"', b'"other"').replace(b'"kind": "tool", ', b""), "doc")


@pytest.mark.parametrize("bad, message", [
    ({"kind": "Tool!"}, "must be a kind name"),
    ({"depends_on": ["Not An Address"]}, "must be a list of addresses"),
])
def test_a_bad_kind_or_depends_on_is_refused(bad, message):
    state = State.new()
    state.resources["tool.lookup"] = resource(1, "tool")
    data = {"version": 1, "lineage": state.lineage, "serial": 0,
            "resources": {"tool.lookup": {"id": 1, "spec": {}, **bad}}}
    with pytest.raises(StateError, match=message):
        State.from_dict(data, "doc")


def _back_to_version_2_sqlite(path) -> None:
    database = sqlite3.connect(path)
    with database:
        database.execute("CREATE TABLE v2 (project VARCHAR(200) NOT NULL, workspace VARCHAR(64) NOT NULL, "
                         "address VARCHAR(64) NOT NULL, remote_id BIGINT NOT NULL, record TEXT NOT NULL, "
                         "serial BIGINT NOT NULL, kind VARCHAR(32) NOT NULL DEFAULT 'assistant', platform "
                         "VARCHAR(500) NOT NULL DEFAULT '', PRIMARY KEY (project, workspace, address), CONSTRAINT "
                         "provisioner_resources_one_owner UNIQUE (project, workspace, remote_id))")
        database.execute("INSERT INTO v2 SELECT project, workspace, address, remote_id, record, serial, kind, "
                         "platform FROM provisioner_resources")
        database.execute("DROP TABLE provisioner_resources")
        database.execute("ALTER TABLE v2 RENAME TO provisioner_resources")
        database.execute("CREATE INDEX provisioner_resources_by_id ON provisioner_resources (kind, remote_id)")
        database.execute("UPDATE provisioner_meta SET value = '2' WHERE key = 'schema_version'")
    database.close()


def test_a_version_2_sqlite_store_is_migrated_to_ids_per_kind(tmp_path):
    path = tmp_path / "state" / "provisioner.db"
    store = open_store("sqlite", path, project="p")
    state = store.read()
    state.resources["support"] = resource(7)
    store.write(state)
    store.close()
    _back_to_version_2_sqlite(path)
    store = open_store("sqlite", path, project="p")
    state = store.read()
    assert state.resources["support"].id == 7
    state.resources["tool.lookup"] = resource(7, "tool")  # refused by version 2's constraint
    store.write(state)
    store.close()
    database = sqlite3.connect(path)
    assert database.execute("SELECT value FROM provisioner_meta").fetchone() == (str(SCHEMA_VERSION),)
    assert sorted(database.execute("SELECT address, kind FROM provisioner_resources").fetchall()) == [
        ("support", "assistant"), ("tool.lookup", "tool")]
    database.close()


def test_a_version_2_postgres_store_is_migrated_to_ids_per_kind(tmp_path):
    """In a database of its own (a migration changes tables every project shares)."""
    import psycopg

    from pg_support import own_database

    with own_database() as own:
        store = open_store("postgres", tmp_path / "state" / "provisioner.db", project="p", dsn=own)
        state = store.read()
        state.resources["support"] = resource(7)
        store.write(state)
        store.close()
        with psycopg.connect(own, autocommit=True) as database:  # back to what version 2 wrote
            database.execute("ALTER TABLE provisioner_resources DROP CONSTRAINT provisioner_resources_one_owner")
            database.execute("ALTER TABLE provisioner_resources ADD CONSTRAINT provisioner_resources_one_owner "
                             "UNIQUE (project, workspace, remote_id)")
            database.execute("ALTER TABLE provisioner_resources ALTER COLUMN address TYPE VARCHAR(64)")
            database.execute("DROP INDEX provisioner_resources_one_owner_in_store")  # version 4's
            database.execute("DROP INDEX provisioner_resources_unrecorded")  # version 4's
            database.execute("UPDATE provisioner_meta SET value = '2' WHERE key = 'schema_version'")
        store = open_store("postgres", tmp_path / "state" / "provisioner.db", project="p", dsn=own)
        state = store.read()
        state.resources["tool.lookup"] = resource(7, "tool")
        state.resources["knowledgebase." + "k" * 60 + ".page-" + "d" * 50] = resource(8, "document")
        store.write(state)
        store.close()
        with psycopg.connect(own) as database:
            assert database.execute("SELECT value FROM provisioner_meta").fetchone() == (str(SCHEMA_VERSION),)
            assert database.execute("SELECT count(*) FROM provisioner_resources").fetchone() == (3,)


def test_each_old_half_gets_a_deposed_row_of_its_own():
    from provisioner.state import deposed_holding

    taken = {"tool.t": resource(1, "tool"), "tool.t~deposed": resource(2, "tool")}
    assert deposed_address("tool.t", taken) == "tool.t~deposed2"
    taken["tool.t~deposed2"] = resource(3, "tool")
    assert deposed_address("tool.t", taken) == "tool.t~deposed3"
    assert deposed_holding("tool.t", 3, taken) == "tool.t~deposed2" and deposed_holding("tool.t", 1, taken) is None


def test_wait_timeout_is_configured_like_the_other_durations(tmp_path):
    from provisioner.config import resolve_config

    assert resolve_config({}, environ={}, cwd=tmp_path).wait_timeout == 600.0
    assert resolve_config({}, environ={"PROVISIONER_WAIT_TIMEOUT": "30s"}, cwd=tmp_path).wait_timeout == 30.0
    assert resolve_config({"wait_timeout": "2m"}, environ={"PROVISIONER_WAIT_TIMEOUT": "30s"},
                          cwd=tmp_path).wait_timeout == 120.0
