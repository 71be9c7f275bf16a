"""Safe by default for a team (issue 21): one owner per platform object across the workspaces and projects of a
store, a narrower path never destroys the rest, mass destroys need saying so, targeting says it is in effect,
and a protected assistant whose manifest is gone gets advice that works. End to end: the real CLI against the
emulator, on SQLite and on PostgreSQL."""
from __future__ import annotations

import json
import os

import pytest

from provisioner.errors import StateError


def ok(result):
    assert result.exit_code == 0, result.all
    return result


# --- two owners ---

def test_adoption_never_takes_an_assistant_another_workspace_manages(workspace, backend):
    workspace.add("sales", name="Sales Bot")
    ok(workspace.run("apply", "--auto-approve"))
    [item] = workspace.platform.assistants()
    ok(workspace.run("workspace", "new", "staging"))

    for command in (("plan",), ("apply", "--auto-approve")):
        refused = workspace.run(*command)
        assert refused.exit_code == 1, refused.all
        message = " ".join(refused.stderr.split())
        assert f"'sales' would adopt the platform's assistant id {item['id']} ('Sales Bot')" in message
        assert "'sales' in project" in message and "workspace 'default'" in message
        assert "provisioner state rm sales --workspace default" in message
        assert f"provisioner import sales {item['id']}" in message
    assert len(workspace.platform.assistants()) == 1
    assert workspace.state()["resources"] == {}  # staging adopted nothing

    imported = workspace.run("import", "sales", str(item["id"]))
    assert imported.exit_code == 1 and "workspace 'default'" in imported.stderr, imported.all
    assert "nothing was imported" in imported.stderr

    # The advice works: forget it in default, then import it here; one owner all along.
    ok(workspace.run("state", "rm", "sales", "--workspace", "default"))
    ok(workspace.run("import", "sales", str(item["id"])))
    assert workspace.state()["resources"]["sales"]["id"] == item["id"]
    ok(workspace.run("plan"))


def test_a_saved_plan_never_adopts_what_another_workspace_adopted_since(workspace, backend):
    """Two workspaces plan to adopt one unowned namesake (two pipelines at once, or a plan saved hours before its
    apply): each plan was right when made, and the second apply made a second owner. The adoptions are checked
    against the store again when the apply begins (one look-up per kind), before anything is sent."""
    from conftest import REQUIRED

    item = workspace.platform.create(assistant_name="Shared Bot", **REQUIRED)
    workspace.add("shared", name="Shared Bot")
    ok(workspace.run("workspace", "new", "staging"))
    ok(workspace.run("plan", "--out", "staging.plan"))  # staging plans to adopt it
    ok(workspace.run("workspace", "select", "default"))
    ok(workspace.run("apply", "--auto-approve"))  # default adopts it first
    assert workspace.state()["resources"]["shared"]["id"] == item["id"]
    ok(workspace.run("workspace", "select", "staging"))
    refused = workspace.run("apply", "staging.plan")
    assert refused.exit_code == 1, refused.all
    message = " ".join(refused.all.split())
    assert f"id {item['id']} is managed by 'shared' in project" in message and "workspace 'default'" in message
    assert "the plan is stale (one object has one owner)" in message and "Nothing was applied" in message
    assert workspace.state()["resources"] == {}  # staging adopted nothing
    assert len(workspace.platform.assistants()) == 1


def test_adoption_is_refused_across_projects_of_one_store_too(workspace, monkeypatch):
    monkeypatch.setenv("PROVISIONER_PROJECT", "team-a")
    workspace.add("sales", name="Sales Bot")
    ok(workspace.run("apply", "--auto-approve"))
    monkeypatch.setenv("PROVISIONER_PROJECT", "team-b")
    refused = workspace.run("plan")
    assert refused.exit_code == 1 and "project 'team-a'" in refused.stderr, refused.all


def test_an_unowned_namesake_is_still_adopted(workspace, backend):
    from conftest import REQUIRED

    workspace.platform.create(assistant_name="Loose Bot", **REQUIRED)
    workspace.add("loose", name="Loose Bot")
    plan = ok(workspace.run("plan"))
    assert "will be imported" in plan.output


# --- a narrower path ---

def test_a_narrower_path_leaves_the_rest_alone_and_says_so(workspace, backend):
    for address in ("a", "b", "c"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))

    plan = ok(workspace.run("plan", "manifests/a.yaml"))
    assert "No changes." in plan.output
    assert "2 assistant(s) in state come from manifest files that exist but were not among the paths" in plan.output
    assert "b (manifests/b.yaml)" in plan.output and "c (manifests/c.yaml)" in plan.output
    document = json.loads(ok(workspace.run("plan", "manifests/a.yaml", "--json")).output)
    assert document["left_alone"] == [{"address": "b", "source": "manifests/b.yaml"},
                                      {"address": "c", "source": "manifests/c.yaml"}]
    assert document["summary"]["destroy"] == 0
    markdown = ok(workspace.run("plan", "manifests/a.yaml", "--format", "markdown")).output
    assert "left alone (not destroyed)" in markdown
    ok(workspace.run("apply", "--auto-approve", "manifests/a.yaml"))
    assert len(workspace.platform.assistants()) == 3

    # A file that is really gone still means "destroy"; the others stay left alone.
    workspace.remove("b")
    plan = ok(workspace.run("plan", "manifests/a.yaml", "--json"))
    document = json.loads(plan.output)
    assert [(c["address"], c["action"]) for c in document["changes"]] == [("b", "delete")]
    assert document["left_alone"] == [{"address": "c", "source": "manifests/c.yaml"}]


def test_a_manifest_in_a_hidden_folder_is_left_alone_not_destroyed(workspace, backend):
    """A folder search leaves out hidden names (.github/workflows/*.yml are no manifests); a project whose
    manifests were applied from a hidden folder (named on the command line, or read before hidden names were left
    out) must not see them destroyed "as removed" by a plan of the folder: their files are still there."""
    from conftest import manifest_text

    workspace.add("a")
    workspace.write("manifests/.old/b.yaml", manifest_text("b"))
    ok(workspace.run("apply", "--auto-approve", "manifests/a.yaml", "manifests/.old/b.yaml"))
    assert len(workspace.platform.assistants()) == 2

    document = json.loads(ok(workspace.run("plan", "--json")).output)
    assert document["changes"] == [] and document["summary"]["destroy"] == 0, document["changes"]
    assert document["left_alone"] == [{"address": "b", "source": "manifests/.old/b.yaml"}]
    plan = ok(workspace.run("plan"))
    assert "a folder search leaves out hidden files and folders" in " ".join(plan.output.split()), plan.output
    ok(workspace.run("apply", "--auto-approve"))
    assert len(workspace.platform.assistants()) == 2

    # Its file gone: a real removal.
    (workspace.root / "manifests/.old/b.yaml").unlink()
    document = json.loads(ok(workspace.run("plan", "--json")).output)
    assert [(c["address"], c["action"]) for c in document["changes"]] == [("b", "delete")]


def test_a_document_removed_from_a_given_file_is_destroyed(workspace, backend):
    from conftest import manifest_text

    workspace.write("manifests/pair.yaml", manifest_text("x") + "---\n" + manifest_text("y"))
    workspace.add("other")
    ok(workspace.run("apply", "--auto-approve"))
    workspace.write("manifests/pair.yaml", manifest_text("x"))
    document = json.loads(ok(workspace.run("plan", "manifests/pair.yaml", "--json")).output)
    assert [(c["address"], c["action"]) for c in document["changes"]] == [("y", "delete")]
    assert document["left_alone"] == [{"address": "other", "source": "manifests/other.yaml"}]


def test_a_document_moved_to_a_file_not_given_is_left_alone_there(workspace, backend):
    """y's document left manifests/pair.yaml for manifests/team/y.yaml: a plan of manifests/pair.yaml took it for
    removed (its recorded file was given and no longer held it) and destroyed it, though the project still has it.
    Every manifest of the project's files is known to a narrower plan; one outside the paths given is left alone."""
    from conftest import manifest_text

    workspace.write("manifests/pair.yaml", manifest_text("x") + "---\n" + manifest_text("y"))
    ok(workspace.run("apply", "--auto-approve"))
    workspace.write("manifests/pair.yaml", manifest_text("x"))
    workspace.write("manifests/team/y.yaml", manifest_text("y"))
    document = json.loads(ok(workspace.run("plan", "manifests/pair.yaml", "--json")).output)
    assert document["changes"] == [] and document["summary"]["destroy"] == 0
    assert document["left_alone"] == [{"address": "y", "source": "manifests/team/y.yaml"}]
    ok(workspace.run("apply", "--auto-approve", "manifests/pair.yaml"))
    assert len(workspace.platform.assistants()) == 2


def test_a_store_written_before_sources_were_recorded_gets_them_on_the_next_apply(workspace):
    workspace.add("a")
    workspace.add("b")
    ok(workspace.run("apply", "--auto-approve"))
    from provisioner.state.sql import open_store

    store = open_store("sqlite", workspace.state_file)
    state = store.read()
    for entry in state.resources.values():
        entry.source = None
    store.write(state)
    store.close()
    assert "source" not in workspace.state()["resources"]["a"]
    plan = ok(workspace.run("plan"))
    assert "2 state record(s) will be refreshed" in plan.output
    ok(workspace.run("apply", "--auto-approve"))
    assert workspace.state()["resources"]["a"]["source"] == "manifests/a.yaml"
    assert "left alone" in ok(workspace.run("plan", "manifests/a.yaml")).output


# --- mass destroy ---

def test_destroying_most_of_the_state_needs_allow_mass_destroy(workspace, backend):
    from conftest import manifest_text

    workspace.write("manifests/fleet.yaml", "---\n".join(manifest_text(f"bot-{i}") for i in range(6)))
    ok(workspace.run("apply", "--auto-approve"))
    workspace.write("manifests/fleet.yaml", manifest_text("bot-0"))  # 5 of 6 documents removed

    plan = ok(workspace.run("plan"))
    assert "This plan destroys 5 of the 6 objects in state: apply refuses it without --allow-mass-destroy" \
        in " ".join(plan.output.split())
    markdown = ok(workspace.run("plan", "--format", "markdown")).output
    assert "> [!CAUTION]\n> **Mass destroy: apply will refuse this plan.**" in markdown
    assert markdown.index("[!CAUTION]") < markdown.index("| Action |")
    assert json.loads(ok(workspace.run("plan", "--json")).output)["mass_destroy"] is True

    refused = workspace.run("apply", "--auto-approve")
    assert refused.exit_code == 1 and "--allow-mass-destroy" in refused.stderr, refused.all
    assert "nothing was changed" in refused.stderr
    assert len(workspace.platform.assistants()) == 6

    ok(workspace.run("plan", "--out", "mass.plan"))
    refused = workspace.run("apply", "mass.plan")
    assert refused.exit_code == 1 and "--allow-mass-destroy" in refused.stderr
    assert len(workspace.platform.assistants()) == 6

    done = ok(workspace.run("apply", "--auto-approve", "--allow-mass-destroy"))
    assert "5 destroyed" in done.output
    assert len(workspace.platform.assistants()) == 1


def test_destroy_is_not_held_to_the_mass_destroy_rule(workspace):
    from conftest import manifest_text

    workspace.write("manifests/fleet.yaml", "---\n".join(manifest_text(f"bot-{i}") for i in range(5)))
    ok(workspace.run("apply", "--auto-approve"))
    done = ok(workspace.run("destroy", "--auto-approve"))
    assert "5 destroyed" in done.output and workspace.platform.assistants() == []


def test_a_saved_plan_made_with_allow_mass_destroy_applies(workspace):
    from conftest import manifest_text

    workspace.write("manifests/fleet.yaml", "---\n".join(manifest_text(f"bot-{i}") for i in range(5)))
    ok(workspace.run("apply", "--auto-approve"))
    workspace.write("manifests/fleet.yaml", "")
    ok(workspace.run("plan", "--allow-empty", "--allow-mass-destroy", "--out", "all.plan"))
    assert "--allow-mass-destroy was given" in ok(workspace.run("show", "all.plan")).output
    ok(workspace.run("apply", "all.plan"))
    assert workspace.platform.assistants() == []


# --- targeting ---

def test_a_target_that_matches_nothing_suggests_the_near_ones(workspace):
    workspace.add("support-bot")
    workspace.add("sales-bot")
    result = workspace.run("plan", "--target", "suport-bot")
    assert result.exit_code == 1
    assert "--target 'suport-bot' names no manifest and nothing in state; did you mean 'support-bot'?" \
        in result.stderr
    far = workspace.run("plan", "--target", "zzz")
    assert far.exit_code == 1 and "did you mean" not in far.stderr


def test_unknown_targets_get_suggestions_for_the_first_twenty_and_a_count_of_the_rest(
        workspace, monkeypatch):
    """Each unknown target's suggestion is a comparison with every address: 4,000 typos over a 10,000 fleet took
    about 87 s to refuse. The first 20 (in order) are suggested for, as before; the rest are named, 20 of them, and
    counted, as the targeted plan's warning names its targets, each suggestion costing no more."""
    import difflib

    for name in ("support-bot", "sales-bot"):
        workspace.add(name)
    suggested = []
    close_matches = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches",
                        lambda word, *args, **kwargs: suggested.append(word) or close_matches(word, *args, **kwargs))
    typos = [f"suport-bot-{i:03d}" for i in range(45)]
    result = workspace.run("plan", *(f"--target={t}" for t in typos))
    assert result.exit_code == 1, result.all
    assert suggested == typos[:20]
    assert "46 plan errors:" not in result.stderr and "21 plan errors:" in result.stderr, result.stderr
    assert "--target 'suport-bot-019' names no manifest and nothing in state; did you mean 'support-bot'?" \
        in result.stderr
    rest = ", ".join(typos[20:40])
    assert (f"--target: 25 more addresses name no manifest and nothing in state (suggestions are made for the first "
            f"20): {rest} and 5 more") in result.stderr, result.stderr


def test_a_targeted_plan_says_targeting_is_in_effect(workspace):
    workspace.add("a")
    workspace.add("b")
    text = ok(workspace.run("plan", "--target", "a"))
    # First, under the line naming the workspace: before any change is listed.
    scope, warning = text.output.splitlines()[:2]
    assert scope.startswith("Workspace default") and warning.startswith("Warning: Resource targeting is in effect (a)")
    assert json.loads(ok(workspace.run("plan", "--target", "a", "--json")).output)["targets"] == ["a"]
    markdown = ok(workspace.run("plan", "--target", "a", "--format", "markdown")).output
    assert "**Targeted plan.**" in markdown
    assert "targeting" not in ok(workspace.run("plan")).output


# --- a protected assistant whose manifest is gone ---

def test_a_removed_protected_manifest_gets_advice_that_works(workspace):
    workspace.add("keep", metadata_extra="protect: true")
    ok(workspace.run("apply", "--auto-approve"))
    workspace.remove("keep")
    refused = workspace.run("plan", "--allow-empty")
    assert refused.exit_code == 1
    message = " ".join(refused.stderr.split())
    assert "provisioner state rm keep" in message and "restore its manifest (manifests/keep.yaml)" in message
    assert "set metadata.protect: false in its manifest" not in message
    ok(workspace.run("state", "rm", "keep"))  # the advice works: nothing is managed, the assistant stays
    assert "\nNo changes." in ok(workspace.run("plan", "--allow-empty")).output
    assert len(workspace.platform.assistants()) == 1


# --- the schema migration that brought kind and platform ---

def test_a_version_1_store_is_migrated_and_keeps_its_rows(workspace):
    import sqlite3

    from provisioner.state.sql import SCHEMA_VERSION, open_store

    workspace.add("a")
    ok(workspace.run("apply", "--auto-approve"))
    database = sqlite3.connect(workspace.state_file)
    with database:  # back to what version 1 wrote (SQLite drops a column of a constraint only by a new table)
        database.execute("CREATE TABLE v1 (project VARCHAR(200) NOT NULL, workspace VARCHAR(64) NOT NULL, "
                         "address VARCHAR(64) NOT NULL, remote_id BIGINT NOT NULL, record TEXT NOT NULL, "
                         "serial BIGINT NOT NULL, PRIMARY KEY (project, workspace, address), CONSTRAINT "
                         "provisioner_resources_one_owner UNIQUE (project, workspace, remote_id))")
        database.execute("INSERT INTO v1 SELECT project, workspace, address, remote_id, record, serial "
                         "FROM provisioner_resources")
        database.execute("DROP TABLE provisioner_resources")
        database.execute("ALTER TABLE v1 RENAME TO provisioner_resources")
        database.execute("UPDATE provisioner_meta SET value = '1' WHERE key = 'schema_version'")
    database.close()

    store = open_store("sqlite", workspace.state_file)
    assert store.owners("assistant", [workspace.state()["resources"]["a"]["id"]]) == {}  # its own row: not another's
    store.close()
    database = sqlite3.connect(workspace.state_file)
    assert database.execute("SELECT value FROM provisioner_meta").fetchone() == (str(SCHEMA_VERSION),)
    assert database.execute("SELECT address, kind, platform FROM provisioner_resources").fetchall() == [
        ("a", "assistant", "")]
    database.close()
    assert "\nNo changes." in ok(workspace.run("plan")).output


# --- small ones: what refresh and a failed apply say ---

def test_refresh_counts_agree_with_its_lines(workspace):
    import re

    for address in ("a", "b", "c", "d"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    by_name = {item["name"]: item["id"] for item in workspace.platform.assistants()}
    workspace.platform.put(by_name["A"], system_prompt="Changed there")
    workspace.platform.delete(by_name["B"])
    result = ok(workspace.run("refresh"))
    *lines, summary = result.output.splitlines()
    counts = re.fullmatch(r"Refreshed (\d+) object\(s\) in state \(\d+ assistant\(s\)\): (\d+) updated from the platform, (\d+) removed "
                          r"\(gone from the platform\), (\d+) unchanged\.", summary)
    assert counts, summary
    checked, updated, removed, unchanged = map(int, counts.groups())
    assert checked == 4 and removed == 1 and updated + removed + unchanged == checked
    assert len(lines) == updated + removed  # one line per assistant whose record changed, no more, no less
    assert sum("removed from state" in line for line in lines) == removed


def test_a_failed_apply_with_nothing_applied_does_not_claim_the_others_were(workspace):
    workspace.add("a")
    ok(workspace.run("plan", "--out", "p.plan"))
    path = workspace.root / "p.plan"
    data = json.loads(path.read_text())
    data["changes"][0]["body"]["voice_id"] = 999  # the platform refuses it
    next(f for f in data["changes"][0]["fields"] if f["field"] == "voice_id")["after"] = 999  # shown as it is sent
    path.write_text(json.dumps(data))
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 1
    assert "Apply failed. Resources: 0 added, 0 changed, 0 destroyed, 1 failed." in result.output, result.all
    assert "1 change(s) failed; no change completed" in result.stderr
    assert "the others" not in result.stderr


def test_a_version_1_postgres_store_is_migrated(tmp_path):
    """In a database of its own (a migration changes tables every project shares)."""
    import psycopg

    from pg_support import own_database
    from provisioner.state import ResourceState, State
    from provisioner.state.sql import SCHEMA_VERSION, open_store

    with own_database() as own:
        store = open_store("postgres", tmp_path / "state" / "provisioner.db", project="p", dsn=own)
        state = State.new()
        state.resources["a"] = ResourceState(id=7, spec={}, remote={"assistant_name": "A"})
        store.write(state)
        store.close()
        with psycopg.connect(own, autocommit=True) as database:  # back to what version 1 wrote
            database.execute("DROP INDEX provisioner_resources_by_id")
            database.execute("ALTER TABLE provisioner_resources DROP COLUMN kind, DROP COLUMN platform")
            database.execute("UPDATE provisioner_meta SET value = '1' WHERE key = 'schema_version'")
        store = open_store("postgres", tmp_path / "state" / "provisioner.db", project="p", dsn=own)
        assert store.read().resources["a"].id == 7
        store.close()
        with psycopg.connect(own) as database:
            assert database.execute("SELECT value FROM provisioner_meta").fetchone() == (str(SCHEMA_VERSION),)
            assert database.execute("SELECT address, kind, platform FROM provisioner_resources").fetchall() == [
                ("a", "assistant", "")]


def test_the_folder_a_run_starts_in_changes_nothing_about_what_is_left_alone(workspace):
    """State recorded each manifest's file relative to the folder the run started in, and "left alone" was decided
    from that folder too. Run from manifests/ with --config ../provisioner.yaml, a narrower file list destroyed an
    assistant whose manifest still existed; and an apply from there (No changes) rewrote every recorded file, so a
    later run from the root destroyed it as well."""
    import os

    from click.testing import CliRunner

    from provisioner.cli import cli

    workspace.write("provisioner.yaml", "project: subfolder\nstate: state/provisioner.db\nmanifests: [manifests]\n")
    for address in ("a", "b"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))

    def run_in_manifests(*args):
        cwd = os.getcwd()
        os.chdir(workspace.root / "manifests")
        try:
            result = CliRunner().invoke(cli, [args[0], f"--api-url={workspace.platform.url}",
                                              "--config", "../provisioner.yaml", *args[1:]],
                                        env={"PROVISIONER_API_TOKEN": workspace.token, "PROVISIONER_RATE_LIMIT": "off",
                                             "PROVISIONER_API_DIALECT": workspace.dialect}, catch_exceptions=False)
        finally:
            os.chdir(cwd)
        assert result.exit_code in (0, 2), result.output + result.stderr
        return result

    narrower = json.loads(run_in_manifests("plan", "a.yaml", "--json").output)
    assert narrower["summary"]["destroy"] == 0, narrower["changes"]
    assert narrower["left_alone"] == [{"address": "b", "source": "manifests/b.yaml"}]
    everything = run_in_manifests("apply", "--auto-approve")
    assert "No changes." in everything.output
    assert {e["source"] for e in workspace.state()["resources"].values()} == {"manifests/a.yaml", "manifests/b.yaml"}
    from_root = json.loads(ok(workspace.run("plan", "manifests/a.yaml", "--json")).output)
    assert from_root["summary"]["destroy"] == 0 and [e["address"] for e in from_root["left_alone"]] == ["b"]
    assert len(workspace.platform.assistants()) == 2


def test_refresh_that_would_forget_most_of_state_is_refused(workspace):
    """Run with another account's (valid) token, every object looked deleted and refresh emptied state: "N removed".
    A read that finds most of state gone is a doubtful read (a wrong token or URL), as a plan that destroys most
    of it is: refused, nothing written, unless asked for."""
    from conftest import OTHER_TOKEN

    for address in ("a", "b", "c", "d", "e", "f"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    before = workspace.state()
    token, workspace.token = workspace.token, OTHER_TOKEN
    try:
        refused = workspace.run("refresh")
    finally:
        workspace.token = token
    assert refused.exit_code == 1, refused.all
    assert "refresh would forget 6 of the 6 objects it read" in refused.all and "--allow-mass-forget" in refused.all
    assert workspace.state() == before
    # Really gone (deleted in the dashboard): forgotten when asked for.
    for item in workspace.platform.assistants():
        workspace.platform.delete(item["id"])
    ok(workspace.run("refresh", "--allow-mass-forget"))
    assert workspace.state()["resources"] == {}



def _as_another_account(workspace, *args):
    from conftest import OTHER_TOKEN

    token, workspace.token = workspace.token, OTHER_TOKEN
    try:
        return workspace.run(*args)
    finally:
        workspace.token = token


def test_a_plan_that_finds_most_of_state_gone_is_refused_by_apply(workspace, backend):
    """Run with another account's (valid) token, every object looked deleted outside: apply made the whole fleet
    again in that account and dropped the state's ids of the real one. Refused as refresh refuses to forget them,
    nothing sent or written, unless asked for."""
    for address in ("a", "b", "c", "d", "e", "f"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    before, writes = workspace.state(), len(workspace.platform.writes())

    plan = ok(_as_another_account(workspace, "plan"))
    assert ("This plan finds 6 of the 6 objects in state gone from the platform: apply refuses it without "
            "--allow-mass-forget") in " ".join(plan.output.split())
    shown = json.loads(ok(_as_another_account(workspace, "plan", "--json")).output)
    assert (shown["vanished"], shown["mass_forget"], shown["allow_mass_forget"]) == (6, True, False)
    markdown = ok(_as_another_account(workspace, "plan", "--format", "markdown")).output
    assert "> [!CAUTION]\n> **Most of the state gone: apply will refuse this plan.**" in markdown

    for command in (("apply", "--auto-approve"), ("destroy", "--auto-approve")):
        refused = _as_another_account(workspace, *command)
        assert refused.exit_code == 1, refused.all
        assert "finds 6 of the 6 objects in state gone from the platform's lists; nothing was changed" \
            in " ".join(refused.stderr.split()) and "--allow-mass-forget" in refused.stderr
        # What going ahead would do: apply makes them again there; destroy makes nothing, it forgets them.
        outcome = "would make them again there" if command[0] == "apply" else "would forget them"
        assert outcome in " ".join(refused.stderr.split()), refused.stderr
    ok(_as_another_account(workspace, "plan", "--out", "other.plan"))
    refused = _as_another_account(workspace, "apply", "other.plan")
    assert refused.exit_code == 1 and "--allow-mass-forget" in refused.stderr, refused.all
    # Made with another account's token and --allow-mass-forget, applied with the right one: the ids are there.
    ok(_as_another_account(workspace, "plan", "--allow-mass-forget", "--out", "forced.plan"))
    stale = workspace.run("apply", "forced.plan")
    assert stale.exit_code == 1 and "the saved plan is stale" in stale.stderr, stale.all
    assert "which the state holds for it, is on the platform; creating it again would make a duplicate" \
        in stale.stderr
    assert workspace.state() == before
    assert len(workspace.platform.assistants()) == 6
    assert len(workspace.platform.writes()) == writes  # nothing made in the other account either

    # Really gone (deleted in the dashboard): made again when asked for, from a saved plan too.
    for item in workspace.platform.assistants():
        workspace.platform.delete(item["id"])
    ok(workspace.run("plan", "--allow-mass-forget", "--out", "again.plan"))
    assert "--allow-mass-forget was given" in ok(workspace.run("show", "again.plan")).output
    ok(workspace.run("apply", "again.plan"))
    assert len(workspace.platform.assistants()) == 6


def test_a_selection_that_finds_most_of_what_it_selects_gone_is_refused_too(workspace):
    """The share was of all of the state: with another account's token, `apply --target` of half the fleet (or -l,
    --exclude) found all it selected gone, 5 of 10, and made it again there. It is weighed against what the
    selection covers, as refresh weighs what it reads."""
    for address in "abcdefghij":
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    before, writes = workspace.state(), len(workspace.platform.writes())
    selected = [arg for a in "abcde" for arg in ("--target", a)]
    shown = json.loads(ok(_as_another_account(workspace, "plan", "--json", *selected)).output)
    assert (shown["vanished"], shown["selected_count"], shown["managed_count"], shown["mass_forget"]) == \
        (5, 5, 10, True)
    plan = ok(_as_another_account(workspace, "plan", *selected))
    assert "This plan finds 5 of the 5 objects in state it selects gone from the platform" in " ".join(
        plan.output.split())
    refused = _as_another_account(workspace, "apply", "--auto-approve", *selected)
    assert refused.exit_code == 1 and "5 of the 5 objects in state it selects" in " ".join(refused.stderr.split())
    excluded = _as_another_account(workspace, "apply", "--auto-approve", *[a for x in "fghij" for a in ("--exclude", x)])
    assert excluded.exit_code == 1 and "--allow-mass-forget" in excluded.stderr, excluded.all
    assert workspace.state() == before and len(workspace.platform.writes()) == writes
    # One of them gone for real, the others left out of the selection: drift, made again without asking.
    workspace.platform.delete(next(a["id"] for a in workspace.platform.assistants() if a["name"] == "A"))
    ok(workspace.run("apply", "--auto-approve", "--target", "a", "--target", "b"))
    assert len(workspace.platform.assistants()) == 10


def test_with_local_a_removed_local_platform_is_named_as_the_likely_cause(tmp_path, monkeypatch):
    """With --local the platform lives in a file beside the state: a newcomer who removed it to start afresh met
    the other-account advice (token, URL) and nothing about the file."""
    from click.testing import CliRunner

    from conftest import manifest_text
    from provisioner.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "fleet.yaml").write_text("---\n".join(manifest_text(f"bot-{i}") for i in range(5)))
    runner = CliRunner()
    made = runner.invoke(cli, ["apply", "--local", "--auto-approve"])
    assert made.exit_code == 0, made.output
    (tmp_path / "state" / "local-platform.db").unlink()
    refused = runner.invoke(cli, ["apply", "--local", "--auto-approve"])
    assert refused.exit_code == 1, refused.output
    text = " ".join((refused.output + (refused.stderr if refused.stderr_bytes is not None else "")).split())
    assert "Was the local platform's file (local-platform.db, beside the state) removed?" in text, text
    assert len(__import__("json").loads(runner.invoke(cli, ["state", "pull"]).output)["resources"]) == 5


def test_a_destroy_that_finds_most_of_state_gone_forgets_it_only_when_asked(workspace):
    for address in ("a", "b", "c", "d", "e"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    for item in workspace.platform.assistants():
        workspace.platform.delete(item["id"])
    refused = workspace.run("destroy", "--auto-approve")
    assert refused.exit_code == 1 and "--allow-mass-forget" in refused.stderr, refused.all
    assert "gone from the platform: destroy and apply refuse it without --allow-mass-forget" in " ".join(
        refused.output.split())
    assert len(workspace.state()["resources"]) == 5
    done = ok(workspace.run("destroy", "--auto-approve", "--allow-mass-forget"))
    assert workspace.state()["resources"] == {}, done.all


def _killed_with_its_deletes_on_the_wire(workspace, *targets: str) -> None:
    """`destroy --auto-approve` (of `targets`: --target each; none, all) run in a process of its own and killed
    (SIGKILL, as a crash) once each of its deletes is on the wire, held there by the platform: the platform carries
    them out, state never hears of it."""
    import subprocess
    import sys
    import time

    from conftest import TOKEN

    gone = len(targets) or len(workspace.state()["resources"])
    workspace.platform.faults(latency_ms=1500, methods=["DELETE"])
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}
    chosen = [f"--target={target}" for target in targets]
    process = subprocess.Popen([sys.executable, "-m", "provisioner", "destroy", "--auto-approve", *chosen,
                                f"--api-url={workspace.platform.url}"], cwd=workspace.root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while workspace.platform.concurrency()["in_flight"] < gone and time.monotonic() < deadline:
            time.sleep(0.02)  # until every delete is on the wire (held by the platform for 1.5 s)
    finally:
        process.kill()
        process.wait()
    workspace.platform.faults(latency_ms=0, methods=None)
    left = len(workspace.state()["resources"]) - gone
    while len(workspace.platform.assistants()) > left and time.monotonic() < deadline:
        time.sleep(0.1)  # the held deletes are carried out
    assert len(workspace.platform.assistants()) == left


def test_a_destroy_killed_with_its_deletes_on_the_wire_is_finished_by_its_rerun(workspace):
    """A destroy killed (SIGKILL, a crash) while its deletes were on the wire: the platform deleted them, state never
    heard. Run again, it found most of the state gone and was refused until given --allow-mass-forget, as for
    another account's token, although it only continued what was asked. The apply now marks in state what it is
    deleting before it sends a delete: the re-run forgets those without the flag."""
    for address in ("a", "b", "c", "d", "e", "f"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    _killed_with_its_deletes_on_the_wire(workspace)
    resources = workspace.state()["resources"]
    assert len(resources) == 6 and all(entry["deleting"] for entry in resources.values()), resources
    done = ok(workspace.run("destroy", "--auto-approve"))
    assert "Destroy complete!" in done.output and workspace.state()["resources"] == {}, done.all


def test_the_rerun_of_a_killed_destroy_still_needs_the_flag_for_what_it_was_not_deleting(workspace):
    """The mark covers what the killed run was deleting, nothing else: with another account's token, the rest of the
    state reads gone and is refused as before (by destroy and apply alike), and the objects the killed run was not
    deleting stay managed, unmarked. The right token's re-run of the same destroy then finishes without the flag."""
    for address in ("a", "b", "c", "d", "e", "f", "g", "h"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    _killed_with_its_deletes_on_the_wire(workspace, "a", "b")
    before = workspace.state()["resources"]
    assert sorted(a for a, entry in before.items() if entry.get("deleting")) == ["a", "b"], before
    for address in ("a", "b"):  # (apply then forgets them too, as destroy does: makes them again otherwise)
        workspace.remove(address)
    for command in (("destroy", "--auto-approve"), ("apply", "--auto-approve")):
        refused = _as_another_account(workspace, *command)
        assert refused.exit_code == 1 and "--allow-mass-forget" in refused.stderr, refused.all
        assert "finds 6 of the 8 objects in state gone" in " ".join(refused.stderr.split()), refused.all
    assert workspace.state()["resources"] == before
    done = ok(workspace.run("destroy", "--auto-approve", "--target", "a", "--target", "b"))
    assert sorted(workspace.state()["resources"]) == ["c", "d", "e", "f", "g", "h"], done.all
    assert len(workspace.platform.assistants()) == 6


def test_a_destroy_interrupted_before_its_deletes_were_sent_leaves_them_unmarked(workspace):
    """A destroy stopped by Ctrl-C sends nothing new: its objects not started stay on the platform, and in state,
    where they kept the mark of a delete under way although none was sent, so another account's token found them
    gone and its destroy forgot them all without the mass-forget guard (nothing on the platform managed any more).
    The apply now takes the mark off what it never sent, and that destroy is refused as before."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import TOKEN

    for address in ("a", "b", "c", "d", "e", "f", "g"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    workspace.platform.faults(latency_ms=1000, methods=["DELETE"])
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}
    process = subprocess.Popen([sys.executable, "-m", "provisioner", "destroy", "--auto-approve", "--parallelism=1",
                                f"--api-url={workspace.platform.url}"], cwd=workspace.root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while workspace.platform.concurrency()["in_flight"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)  # the first delete on the wire: the other six wait for it (--parallelism=1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    workspace.platform.faults(latency_ms=0, methods=None)
    assert process.returncode != 0 and "6 not started (nothing was sent for them)" in err, err
    left = workspace.state()["resources"]
    assert len(left) == 6 and not any(entry.get("deleting") for entry in left.values()), left
    refused = _as_another_account(workspace, "destroy", "--auto-approve")
    assert refused.exit_code == 1 and "--allow-mass-forget" in refused.stderr, refused.all
    assert workspace.state()["resources"] == left
    assert len(workspace.platform.assistants()) == 6


def test_the_mark_of_a_delete_that_failed_is_cleared_by_the_next_apply_that_finds_the_object(workspace):
    """A destroy whose deletes the platform refused leaves each object marked as being deleted; an apply that finds
    them there, their manifests kept, refreshes their records without the mark, so another account's token finds
    them gone and is refused again."""
    for address in ("a", "b", "c", "d", "e"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    workspace.platform.faults(error_rate=1, kinds=["assistants"], methods=["DELETE"])
    failed = workspace.run("destroy", "--auto-approve", "--max-retries", "1")
    workspace.platform.faults(error_rate=0, kinds=None, methods=None)
    assert failed.exit_code == 1, failed.all
    assert all(entry.get("deleting") for entry in workspace.state()["resources"].values())
    assert "(5 state record(s) will be refreshed" in ok(workspace.run("apply", "--auto-approve")).output
    assert not any(entry.get("deleting") for entry in workspace.state()["resources"].values())
    refused = _as_another_account(workspace, "destroy", "--auto-approve")
    assert refused.exit_code == 1 and "--allow-mass-forget" in refused.stderr, refused.all


def test_a_few_objects_gone_are_made_again_without_asking(workspace):
    """The guard is for most of the state: one assistant deleted in the dashboard is drift, made again."""
    for address in ("a", "b", "c", "d", "e", "f"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    gone = workspace.platform.assistants()[0]
    workspace.platform.delete(gone["id"])
    plan = json.loads(ok(workspace.run("plan", "--json")).output)
    assert (plan["vanished"], plan["mass_forget"]) == (1, False)
    # From a saved plan too (its re-creation was refused as "the state already manages it", whatever the platform
    # held): checked against the platform's list instead.
    ok(workspace.run("plan", "--out", "again.plan"))
    ok(workspace.run("apply", "again.plan"))
    assert len(workspace.platform.assistants()) == 6
    assert gone["id"] not in {entry["id"] for entry in workspace.state()["resources"].values()}


SCHEMA = [{"name": "booked", "type": "bool", "description": "Booked"}]


def _campaign(address: str, parallel: int) -> str:
    return (f"apiVersion: provisioner/v1\nkind: Campaign\nmetadata: {{name: {address}}}\nspec:\n"
            f"  name: {address.title()}\n  assistant_id: assistant.caller\n  max_calls_in_parallel: {parallel}\n"
            "  goal_completion_variable: booked\n")


def _fleet(workspace, parallel: int) -> None:
    workspace.add("caller", post_call_schema=SCHEMA)
    for address in ("w1", "w2", "w3", "w4"):
        workspace.write(f"manifests/{address}.yaml", _campaign(address, parallel))


def test_an_object_adopted_by_name_only_to_be_replaced_is_counted_gone(workspace, tmp_path_factory):
    """Another account that holds the same fleet by name (a staging account's token): each object is adopted by name
    there, and counted gone; but a campaign adopted only to be replaced (its settings differ there) was not counted,
    so a fleet of campaigns was deleted and made again in that account, and their ids dropped from state, without
    --allow-mass-forget."""
    from conftest import OTHER_TOKEN, Workspace

    _fleet(workspace, parallel=2)
    ok(workspace.run("apply", "--auto-approve"))
    before = workspace.state()
    staging = Workspace(tmp_path_factory.mktemp("staging"), workspace.platform, OTHER_TOKEN)
    _fleet(staging, parallel=3)
    ok(staging.run("apply", "--auto-approve"))

    shown = json.loads(ok(_as_another_account(workspace, "plan", "--json")).output)
    replaced = sorted(c["address"] for c in shown["changes"] if c["replace"])
    assert replaced == ["campaign.w1", "campaign.w2", "campaign.w3", "campaign.w4"], shown["changes"]
    assert (shown["vanished"], shown["managed_count"], shown["mass_forget"]) == (5, 5, True)
    refused = _as_another_account(workspace, "apply", "--auto-approve")
    assert refused.exit_code == 1 and "--allow-mass-forget" in refused.stderr, refused.all
    assert workspace.state() == before


def test_a_saved_plan_that_replaces_the_namesake_adopted_for_a_gone_object_applies(workspace, tmp_path_factory):
    """A campaign deleted in the dashboard, and another of its name (settings differ) that no state here manages:
    the plan adopts that one in its place, to replace it. Applied at once it went through; saved, it was refused
    outright ("the state holds id X for it, so it cannot replace id Y"): such a plan never applied. Checked
    against the platform instead, as a re-creation is."""
    from conftest import Workspace

    _fleet(workspace, parallel=2)
    ok(workspace.run("apply", "--auto-approve"))
    gone = workspace.state()["resources"]["campaign.w1"]["id"]
    workspace.platform.http.delete(f"/user/campaign/{gone}").raise_for_status()
    elsewhere = Workspace(tmp_path_factory.mktemp("elsewhere"), workspace.platform)
    elsewhere.add("caller", post_call_schema=SCHEMA)
    elsewhere.write("manifests/w1.yaml", _campaign("w1", 3))
    ok(elsewhere.run("apply", "--auto-approve"))
    namesake = elsewhere.state()["resources"]["campaign.w1"]["id"]

    shown = json.loads(ok(workspace.run("plan", "--json")).output)
    [change] = [c for c in shown["changes"] if c["address"] == "campaign.w1"]
    assert (change["action"], change["replace"], change["remote_id"]) == ("create", True, namesake)
    assert shown["vanished"] == 1
    ok(workspace.run("plan", "--out", "again.plan"))
    applied = workspace.run("apply", "--allow-replace", "again.plan")
    assert applied.exit_code == 0, applied.all
    made = workspace.state()["resources"]["campaign.w1"]["id"]
    assert made not in (gone, namesake)
    assert "No changes" in ok(workspace.run("plan")).output


def test_allow_mass_forget_help_names_the_share_each_command_weighs(workspace):
    """One help text for plan, apply, destroy and refresh: each weighs what it covers (a plan its selection, refresh
    what it reads), and a targeted run that finds all it covers gone is refused by both."""
    for address in ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j"):
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    targets = [word for address in ("a", "b", "c", "d", "e") for word in ("--target", address)]
    shown = json.loads(ok(_as_another_account(workspace, "plan", "--json", *targets)).output)
    assert (shown["vanished"], shown["managed_count"], shown["mass_forget"]) == (5, 10, True)
    refused = _as_another_account(workspace, "refresh", *targets)
    assert refused.exit_code == 1 and "forget 5 of the 5 objects it read" in refused.stderr, refused.all
    for command in ("plan", "apply", "destroy", "refresh"):
        text = " ".join(ok(workspace.run(command, "--help", api=False)).output.split())
        assert "more than half (and at least 5) of the objects in state it covers (all, or those --target, -l and " \
               "--exclude select) gone from the platform's lists" in text, (command, text)


def _applied_and_pulled(workspace, *addresses: str):
    """Assistants `addresses` applied in the default workspace, and its state pulled into d.json: the file."""
    for address in addresses:
        workspace.add(address)
    ok(workspace.run("apply", "--auto-approve"))
    document = workspace.root / "d.json"
    document.write_text(ok(workspace.run("state", "pull")).output)
    return document


def test_state_push_never_makes_a_second_owner_and_an_unrecorded_platform_is_any(workspace, backend):
    """A pushed document's rows have no platform recorded (a state command reads none), and the ownership look-up
    skipped such rows: pushed into another workspace, the same objects were then managed twice, and a destroy in
    one deleted the other's. Into a workspace whose platform is known, such a push is refused; into one that
    records none yet (it may be another platform's), the ids are named."""
    document = _applied_and_pulled(workspace, "a", "b")
    # A workspace that applied on this platform: refused.
    ok(workspace.run("workspace", "new", "third"))
    workspace.add("c")
    ok(workspace.run("apply", "--auto-approve", "manifests/c.yaml", "--allow-empty"))
    refused = workspace.run("state", "push", str(document), "--workspace", "third")
    assert refused.exit_code == 1, refused.all
    assert "claims objects another workspace or project manages on this platform" in refused.all, refused.all
    assert "a (id " in refused.all and "workspace 'default'" in refused.all
    ok(workspace.run("workspace", "select", "default"))
    # A new workspace: pushed, with the ids named.
    ok(workspace.run("workspace", "new", "other", "--no-select"))
    pushed = ok(workspace.run("state", "push", str(document), "--workspace", "other"))
    assert "managed by another workspace of this project" in pushed.all, pushed.all
    # Its rows have no platform yet: still seen as owned by the default workspace's next plan, which adopts
    # nothing and says who manages them.
    ok(workspace.run("state", "rm", "a"))
    plan = workspace.run("plan", "--json")
    assert plan.exit_code == 1 and "other" in plan.all, plan.all


def test_a_pushed_resource_takes_the_kind_its_address_names():
    """A record without `kind` was stored as an assistant whatever its address ("folder.b"), and one whose kind
    contradicted its address ("support" as a label) was accepted: either escaped the one-owner checks."""
    from provisioner.errors import StateError
    from provisioner.state import State

    def document(resources):
        return json.dumps({"version": 1, "lineage": "l", "serial": 1, "resources": resources})

    loaded = State.loads(document({"folder.b": {"id": 53}, "support": {"id": 7}}), "d.json")
    assert (loaded.resources["folder.b"].kind, loaded.resources["support"].kind) == ("folder", "assistant")
    for address, kind in (("support", "label"), ("folder.q", "widget"), ("folder.q", "label")):
        with pytest.raises(StateError, match="but the address is a"):
            State.loads(document({address: {"id": 5, "kind": kind}}), "d.json")


def test_state_push_refuses_a_document_without_its_knowledge_base_and_changes_nothing(workspace, platform, backend):
    """A pushed document entry whose knowledge base's entry was left out was taken in, and the next plan called the
    live document gone from the platform and forgot it (unmanaged from then on); one that recorded another knowledge
    base's id was replaced, its delete sent under that id, and the live one stayed beside its copy. Both are
    refused, naming the entry; the state is as it was."""
    workspace.dialect = "v2"
    workspace.write("manifests/kb.yaml", "apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata: {name: help}\n"
                    "spec:\n  name: Help\n  documents:\n    - {name: Returns, key: returns, type: website, "
                    "url: \"https://example.com/r\"}\n")
    ok(workspace.run("apply", "--auto-approve"))
    pulled = workspace.state()
    kb_id = pulled["resources"]["knowledgebase.help"]["id"]
    orphan = json.loads(json.dumps(pulled))
    del orphan["resources"]["knowledgebase.help"]
    stray = json.loads(json.dumps(pulled))
    stray["resources"]["knowledgebase.help.returns"]["spec"]["knowledgebase_id"] = kb_id + 1000
    for document, message in (
            (orphan, 'pushed.json: resources["knowledgebase.help.returns"]: a knowledge base document lives inside '
                     "its knowledge base, and pushed.json holds no entry 'knowledgebase.help'"),
            (stray, f'pushed.json: resources["knowledgebase.help.returns"].spec.knowledgebase_id is {kb_id + 1000},'
                    f" but 'knowledgebase.help' is id {kb_id}")):
        document["serial"] += 1
        workspace.write("pushed.json", json.dumps(document))
        refused = workspace.run("state", "push", "pushed.json")
        assert refused.exit_code == 1 and message in refused.stderr, refused.all
        assert workspace.state() == pulled
    assert "No changes." in ok(workspace.run("plan")).output


def test_a_pushed_document_may_wait_beside_its_deposed_knowledge_base():
    """What an apply that replaces a knowledge base leaves if it stops midway is pushed as it is: the old knowledge
    base deposed (`~deposed`), the documents still recording its id, with or without the new one."""
    from provisioner.state import State

    def document(resources):
        return json.dumps({"version": 1, "lineage": "l", "serial": 1, "resources": resources})

    child = {"id": 9, "kind": "document", "spec": {"knowledgebase_id": 4}}
    for parents in ({"knowledgebase.faq~deposed": {"id": 4}},
                    {"knowledgebase.faq~deposed": {"id": 4}, "knowledgebase.faq": {"id": 5}}):
        loaded = State.loads(document({**parents, "knowledgebase.faq.pricing": child}), "d.json")
        assert loaded.resources["knowledgebase.faq.pricing"].id == 9


def test_plan_out_replaces_a_saved_plan_or_a_new_file_and_nothing_else(workspace):
    """--out moved its file over whatever was at the path: the project's provisioner.yaml (every later command of
    the job then failed), a link, /dev/full (made a regular file, as root)."""
    import os

    workspace.add("a")
    config = workspace.write("provisioner.yaml", "project: outs\n")
    os.symlink(workspace.root / "elsewhere.plan", workspace.root / "link.plan")
    for target, said in (("provisioner.yaml", "exists and is not a saved plan"), ("link.plan", "a symbolic link")):
        refused = workspace.run("plan", "--out", target)
        assert refused.exit_code == 1 and said in refused.all and "nothing was written" in refused.all, refused.all
    assert config.read_text() == "project: outs\n" and (workspace.root / "link.plan").is_symlink()
    ok(workspace.run("plan", "--out", "saved.plan"))
    ok(workspace.run("plan", "--out", "saved.plan"))  # a saved plan is replaced by the next
    (workspace.root / "empty.plan").touch()
    ok(workspace.run("plan", "--out", "empty.plan"))
    assert workspace.run("apply", "empty.plan").exit_code == 0



def test_parallel_jobs_creating_one_workspace_all_succeed(workspace, backend, monkeypatch):
    """`workspace select --or-create qa` in jobs started together: one or two failed with "already exists", one
    with the driver's raw "duplicate key value violates unique constraint". The race: a run finds no row, another
    inserts it, the first inserts too."""
    import subprocess
    import sys

    from provisioner.state.sql import open_store

    ok(workspace.run("workspace", "list"))  # the store exists
    monkeypatch.chdir(workspace.root)

    def store(name):
        return open_store(os.environ.get("PROVISIONER_BACKEND", "sqlite"), "state/provisioner.db",
                          project=os.environ.get("PROVISIONER_PROJECT"), dsn=os.environ.get("PROVISIONER_PG_DSN"),
                          workspace=name, must_exist=False)
    first, second = store("qa"), store("qa")
    try:
        assert first.create(exist_ok=True) is True
        monkeypatch.setattr(second, "_row", lambda cursor: None)  # it looked before the other's insert
        assert second.create(exist_ok=True) is False
        with pytest.raises(StateError, match="already exists"):
            second.create()
    finally:
        first.close()
        second.close()
    jobs = [subprocess.Popen([sys.executable, "-m", "provisioner", "workspace", "select", "--or-create", "qb"],
                             cwd=workspace.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(6)]
    results = [(job.wait(timeout=60), *job.communicate()) for job in jobs]
    assert all(code == 0 for code, _, _ in results), results
    assert sum("Created workspace 'qb'" in out for _, out, _ in results) == 1, results


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1.5e400"])
def test_a_number_past_the_float_range_is_refused_not_a_crash(workspace, number):
    """Pushed, `1e999` read as infinity and crashed the write ("unexpected ValueError ... a bug")."""
    path = workspace.write("d.json", '{"version": 1, "lineage": "l", "serial": 1, "resources": '
                                     f'{{"a": {{"id": 1, "spec": {{"speech_speed": {number}}}}}}}}}')
    refused = workspace.run("state", "push", str(path))
    assert refused.exit_code == 1 and "is beyond the range of a number" in refused.all, refused.all
    assert "bug" not in refused.all


def test_a_pushed_sensitive_value_in_clear_is_refused():
    """Stored as pushed, then shown by `state show` (whose help says sensitive values show as digests)."""
    from provisioner.redaction import digest
    from provisioner.state import State

    def document(spec, remote=None):
        return json.dumps({"version": 1, "lineage": "l", "serial": 1, "resources": {"tool.t": {
            "id": 1, "kind": "tool", "sensitive": ["headers"], "spec": spec, "remote": remote or {}}}})

    for spec, remote in (({"headers": {"Authorization": "Bearer CLEAR"}}, None),
                         ({"headers": {"Authorization": digest("x")}}, {"headers": {"Authorization": "CLEAR"}})):
        with pytest.raises(StateError, match="is sensitive but holds a value in clear"):
            State.loads(document(spec, remote), "d.json")
    kept = State.loads(document({"headers": {"Authorization": digest("x")}}), "d.json")
    assert kept.resources["tool.t"].spec == {"headers": {"Authorization": digest("x")}}


def test_a_manifest_outside_the_project_folder_is_recorded_relative_to_it(workspace):
    """With `manifests: [../shared]`, a run from the project's folder recorded the file's absolute path (as shown),
    one from a subfolder `../shared/a.yaml`: each run "refreshed" every record, and another clone (another folder)
    found no such file and destroyed what a narrower path left out."""
    from click.testing import CliRunner

    from conftest import manifest_text
    from provisioner.cli import cli

    project = workspace.root / "proj"
    (project / "sub").mkdir(parents=True)
    (project / "provisioner.yaml").write_text("project: outside\nstate: state/provisioner.db\n"
                                              "manifests: [../shared]\n")
    for address in ("a", "b"):
        workspace.write(f"shared/{address}.yaml", manifest_text(address))

    def run_in(folder, *args):
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            api = [f"--api-url={workspace.platform.url}"] if args[0] != "state" else []
            result = CliRunner().invoke(cli, [args[0], *api, *args[1:]],
                                        env={"PROVISIONER_API_TOKEN": workspace.token, "PROVISIONER_RATE_LIMIT": "off"},
                                        catch_exceptions=False)
        finally:
            os.chdir(cwd)
        assert result.exit_code in (0, 2), result.output + result.stderr
        return result

    run_in(project, "apply", "--auto-approve")
    listed = json.loads(run_in(project, "state", "pull").output)["resources"]
    assert {e["source"] for e in listed.values()} == {"../shared/a.yaml", "../shared/b.yaml"}
    again = run_in(project / "sub", "plan", "--config", "../provisioner.yaml", "--detailed-exitcode")
    assert again.exit_code == 0 and "will be refreshed" not in again.output, again.output
    narrower = json.loads(run_in(project / "sub", "plan", "--config", "../provisioner.yaml", "../../shared/a.yaml",
                                 "--json").output)
    assert narrower["summary"]["destroy"] == 0 and [e["address"] for e in narrower["left_alone"]] == ["b"]


def test_a_pushed_assistant_under_its_long_address_is_refused():
    """`assistant.asst-a` was taken: the next plan destroyed id 1 and created a duplicate, and `state rm`/`mv` could
    not name the entry."""
    from provisioner.state import State

    text = json.dumps({"version": 1, "lineage": "l", "serial": 1, "resources": {"assistant.asst-a": {"id": 1}}})
    with pytest.raises(StateError, match="an assistant's address in state is its bare name"):
        State.loads(text, "d.json")


def test_a_projects_own_backup_is_pushed_whatever_another_project_pushed(workspace, monkeypatch):
    """Another project's pushed rows (no platform recorded: a migration off another platform) holding the same id
    made the first project's push of its own backup refused as a second owner "on this platform"."""
    monkeypatch.setenv("PROVISIONER_PROJECT", "p1")
    workspace.add("a")
    ok(workspace.run("apply", "--auto-approve"))
    own = json.loads(ok(workspace.run("state", "pull")).output)
    elsewhere = {"version": 1, "lineage": "0b5c1c70-0000-4000-8000-0000000000aa", "serial": 3,
                 "resources": {"z": {"id": own["resources"]["a"]["id"]}}}
    workspace.write("x.json", json.dumps(elsewhere))
    monkeypatch.setenv("PROVISIONER_PROJECT", "x")
    ok(workspace.run("state", "push", "x.json"))
    monkeypatch.setenv("PROVISIONER_PROJECT", "p1")
    own["serial"] += 1
    workspace.write("p1.json", json.dumps(own))
    pushed = workspace.run("state", "push", "p1.json")
    assert pushed.exit_code == 0, pushed.all


def test_a_manifest_named_through_a_linked_folder_is_recorded_inside_the_project(workspace):
    """Run in a folder reached through a link and given an absolute path through the link, the file was recorded as
    `../../lnk/proj/manifests/b.yaml` (the working folder is the real one): another checkout sharing the state
    found no such file and destroyed b."""
    real = workspace.root / "real"
    real.mkdir()
    os.symlink(real, workspace.root / "lnk")
    project = workspace.root / "lnk" / "proj"
    (project / "manifests").mkdir(parents=True)
    from conftest import manifest_text
    from provisioner.workflow.manifests import record_sources

    (project / "manifests" / "b.yaml").write_text(manifest_text("b"))
    cwd = os.getcwd()
    os.chdir(project)  # the process's folder is the real one (/.../real/proj)
    try:
        from provisioner.manifest import load_manifests

        manifests = load_manifests([str(project / "manifests")])  # named through the link
        record_sources(manifests, ".")
    finally:
        os.chdir(cwd)
    assert [m.document.state_source for m in manifests] == ["manifests/b.yaml"]


def test_a_file_gives_one_source_however_it_is_named(tmp_path, monkeypatch):
    """A link to the manifests folder inside the project (`mlink -> manifests`) recorded `mlink/a.yaml`, and each
    run naming the folder the other way refreshed every record."""
    from conftest import manifest_text
    from provisioner.manifest import load_manifests
    from provisioner.workflow.manifests import record_sources

    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a"))
    os.symlink(tmp_path / "manifests", tmp_path / "mlink")
    monkeypatch.chdir(tmp_path)
    sources = []
    for named in ("manifests", "mlink", str(tmp_path / "mlink"), "mlink/a.yaml"):
        manifests = load_manifests([named])
        record_sources(manifests, ".")
        sources.append(manifests[0].document.state_source)
    assert sources == ["manifests/a.yaml"] * 4, sources


def test_export_leaves_out_what_another_workspace_manages(workspace, backend):
    """Run in a second workspace, export wrote manifests for the first workspace's objects, which this
    workspace's plan then refused (one owner)."""
    workspace.add("a")
    ok(workspace.run("apply", "--auto-approve"))
    workspace.remove("a")
    ok(workspace.run("workspace", "new", "other"))
    exported = ok(workspace.run("export", "--out", "exported"))
    assert "Exported 0 assistant(s)" in exported.output, exported.output
    assert list((workspace.root / "exported").glob("*.yaml")) == []


def test_a_workspace_is_not_run_against_a_platform_other_than_the_one_its_state_recorded(workspace, backend):
    """Applied on a second platform (another account's URL), a workspace run against the first one took its ids for
    the objects there: it updated another workspace's assistants (id 1 on each platform), then stamped its rows
    with the first platform, losing track of the second platform's objects."""
    import httpx

    from conftest import TOKEN
    from provisioner.emulator import EmbeddedPlatform, build_platform

    def names(platform):
        answer = httpx.get(f"{platform.url.rstrip('/')}/user/assistants/get", params={"per_page": 100},
                           headers={"Authorization": f"Bearer {TOKEN}"})
        return [a["name"] for a in answer.json()["data"]]

    workspace.add("sales", name="Sales Bot")
    ok(workspace.run("workspace", "new", "other"))
    with EmbeddedPlatform(build_platform()) as first, EmbeddedPlatform(build_platform()) as second:
        ok(workspace.run("apply", "--auto-approve", f"--api-url={second.url}"))
        ok(workspace.run("workspace", "select", "default"))
        workspace.add("sales", name="Sales Default")
        ok(workspace.run("apply", "--auto-approve", f"--api-url={first.url}"))  # the same id, 1, on the first
        ok(workspace.run("workspace", "select", "other"))
        before = workspace.state()
        workspace.add("sales", name="Sales Other")
        for command in (("plan",), ("apply", "--auto-approve"), ("refresh",)):
            refused = workspace.run(*command, f"--api-url={first.url}")
            assert refused.exit_code == 1, refused.all
            message = " ".join(refused.stderr.split())
            assert f"manages objects on {second.url.rstrip('/')} (recorded in its state)" in message, message
            assert f"--api-url {second.url.rstrip('/')}" in message
            assert "sales (id 1) is 'sales' in project" in message and "workspace 'default'" in message
        assert names(first) == ["Sales Default"]
        assert workspace.state()["resources"] == before["resources"]
        changed = ok(workspace.run("apply", "--auto-approve", f"--api-url={second.url}"))  # its own platform: fine
        assert "1 changed" in changed.output, changed.output
        assert names(second) == ["Sales Other"]


def test_a_saved_plan_is_applied_from_another_folder_of_the_project(workspace, monkeypatch):
    """A saved plan's paths (manifests, project root, var files) are relative to the folder it was made in: planned
    in manifests/ with --config ../provisioner.yaml and applied from the repository's root, apply re-read the
    manifests of the folder above the repository ("no such file or directory: .../manifests"); planned at the root
    and applied from manifests/, it looked for manifests/manifests."""
    from click.testing import CliRunner

    from provisioner.cli import cli

    workspace.write("provisioner.yaml", "project: moved-plan\nmanifests: [manifests]\n")
    workspace.write("vars/default.yaml", "speed: 1.1\n")
    workspace.add("a", speech_speed="${var.speed}", is_webhook_active=True, webhook_url="${env.HOOK_URL}")
    monkeypatch.setenv("HOOK_URL", "https://hooks.example/one")
    ok(workspace.run("apply", "--auto-approve"))

    def run_in(folder, *args):
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            result = CliRunner().invoke(cli, [args[0], f"--api-url={workspace.platform.url}", *args[1:]],
                                        env={"PROVISIONER_API_TOKEN": workspace.token, "PROVISIONER_RATE_LIMIT": "off"},
                                        catch_exceptions=False)
        finally:
            os.chdir(cwd)
        assert result.exit_code == 0, result.output + result.stderr
        return result

    root, sub = workspace.root, workspace.root / "manifests"
    for planned_in, applied_in, config in ((sub, root, ()), (root, sub, ("--config", "../provisioner.yaml"))):
        monkeypatch.setenv("HOOK_URL", f"https://hooks.example/{planned_in.name}")
        plan_config = ("--config", "../provisioner.yaml") if planned_in == sub else ()
        run_in(planned_in, "plan", *plan_config, "--out", str(root / "p.plan"))
        applied = run_in(applied_in, "apply", *config, str(root / "p.plan"))
        assert "1 changed" in applied.output, applied.output
        (root / "p.plan").unlink()
    again = ok(workspace.run("plan", "--detailed-exitcode"))
    assert "No changes." in again.output
    assert {e["source"] for e in workspace.state()["resources"].values()} == {"manifests/a.yaml"}


def test_a_saved_plan_is_not_applied_against_another_platform(workspace):
    """A plan records the platform it read. Applied with another --api-url (another account) in a workspace with no
    state yet, it created there what was reviewed against the first platform; now it is refused before any
    request, and applies where it was made."""
    import httpx

    from conftest import TOKEN
    from provisioner.emulator import EmbeddedPlatform, build_platform

    workspace.add("sales", name="Sales Bot")
    with EmbeddedPlatform(build_platform()) as first, EmbeddedPlatform(build_platform()) as second:
        ok(workspace.run("plan", "--out", "saved.plan", f"--api-url={first.url}"))
        saved = json.loads((workspace.root / "saved.plan").read_text())
        assert saved["platform"] == first.url.rstrip("/"), saved["platform"]
        refused = workspace.run("apply", "saved.plan", f"--api-url={second.url}")
        assert refused.exit_code == 1, refused.all
        message = " ".join(refused.stderr.split())
        assert f"made against the platform at {first.url.rstrip('/')}" in message, message
        assert f"--api-url {first.url.rstrip('/')}" in message
        assert workspace.state()["resources"] == {}
        listed = httpx.get(f"{second.url.rstrip('/')}/user/assistants/get", headers={"Authorization": f"Bearer {TOKEN}"})
        assert listed.json()["data"] == []  # nothing was made on the second platform
        applied = workspace.run("apply", "saved.plan", f"--api-url={first.url}")
        assert applied.exit_code == 0, applied.all
        assert "sales" in workspace.state()["resources"]


def test_a_workspace_pushed_a_copy_of_another_refuses_its_first_run_on_that_platform(workspace, platform):
    """`state pull | state push --workspace stg` into a new workspace is let through with a note (its platform is not
    known yet: the same ids may be another platform's objects). Its first run against the default workspace's
    platform then went ahead: stg's apply updated (or destroyed) default's live assistants, two states managing one
    object. That run knows the platform: the ids are default's there, and it is refused before anything is sent."""
    document = _applied_and_pulled(workspace, "a", "b")
    ok(workspace.run("workspace", "new", "stg"))
    ok(workspace.run("state", "push", str(document), "--workspace", "stg"))
    workspace.add("a", initial_message="Staging only.")
    writes = len(platform.writes())
    for command in (("plan",), ("apply", "--auto-approve"), ("refresh",)):
        refused = workspace.run(*command, "--workspace", "stg")
        assert refused.exit_code == 1, refused.all
        assert "a (id " in refused.all and "workspace 'default'" in refused.all and "state rm" in refused.all
    assert len(platform.writes()) == writes
    assert "No changes" in ok(workspace.run("plan", "--workspace", "default", "manifests/b.yaml")).output
    # Once stg lets go of them, its plan is the one of any other workspace: it adopts nothing default manages.
    ok(workspace.run("state", "rm", "a", "--workspace", "stg"))
    ok(workspace.run("state", "rm", "b", "--workspace", "stg"))
    planned = workspace.run("plan", "--workspace", "stg")
    assert planned.exit_code == 1 and "one object has one owner" in planned.all, planned.all
