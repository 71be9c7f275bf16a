"""Malformed saved plans: a clear error, nothing applied, nothing recorded, never a traceback."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from provisioner.errors import ProvisionerError
from provisioner.plan import Action, Change, FieldChange, Plan
from provisioner.workflow.plan_file import read_plan_file


def saved_plan(workspace) -> dict:
    workspace.add("a")
    workspace.add("b")
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    return json.loads((workspace.root / "p.plan").read_text())


def _set(path, value):
    def edit(plan):
        target = plan
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return plan
    return edit


def _drop(key):
    return lambda plan: {k: v for k, v in plan.items() if k != key}


# name -> (the file's text from a good plan, what the error says)
CASES = {
    "not JSON": (lambda p: json.dumps(p)[:-40], "is not valid JSON"),
    "not an object": (lambda p: json.dumps([p]), "is not a saved plan"),
    "wrong format": (lambda p: json.dumps({**p, "format": "provisioner-plan-x"}), "is not a saved plan"),
    "wrong version": (lambda p: json.dumps(_set(["format_version"], 3)(p)), "plan format version 3"),
    "changes not a list": (lambda p: json.dumps(_set(["changes"], {"a": 1})(p)), "changes: Input should be a valid list"),
    "unknown key in a change": (lambda p: json.dumps(_set(["changes", 0, "surprise"], 1)(p)),
                                "changes[0].surprise: Extra inputs are not permitted"),
    "wrong type": (lambda p: json.dumps(_set(["changes", 0, "remote_id"], "12")(p)),
                   "changes[0].remote_id: Input should be a valid integer"),
    "bool as int": (lambda p: json.dumps(_set(["serial"], True)(p)), "serial: Input should be a valid integer"),
    "bad action": (lambda p: json.dumps(_set(["changes", 1, "action"], "explode")(p)),
                   "changes[1].action: Input should be 'create'"),
    "fields not a list": (lambda p: json.dumps(_set(["changes", 0, "fields"], "all")(p)),
                          "changes[0].fields: Input should be a valid list"),
    "field change with unknown key": (lambda p: json.dumps(_set(["changes", 0, "fields", 0, "x"], 1)(p)),
                                      "changes[0].fields[0].x: Extra inputs"),
    "body with a non-field": (lambda p: json.dumps(_set(["changes", 0, "body", "is_admin"], True)(p)),
                              "changes[0].body: not create fields: 'is_admin'"),
    "address with a newline": (lambda p: json.dumps(_set(["changes", 0, "address"], "a\n")(p)),
                               "changes[0].address: not an address"),
    "record of the wrong shape": (lambda p: json.dumps(_set(["changes", 0, "record", "protect"], "yes")(p)),
                                  "changes[0].record"),
    # Shown beside ids in `show FILE`: an id's digits and an address, never text for a terminal to act on.
    "a name that is no address": (lambda p: json.dumps(_set(["changes", 0, "fields", 0, "names"],
                                                            {"5": "tool.x\x1b[2J"})(p)),
                                  "changes[0].fields[0].names.5: not an address"),
    "a name of something that is no id": (lambda p: json.dumps(_set(["changes", 0, "fields", 0, "names"],
                                                                    {"five": "tool.x"})(p)),
                                          "changes[0].fields[0].names.five.[key]: String should match pattern"),
    "lineage missing": (lambda p: json.dumps(_drop("lineage")(p)), "lineage: Field required"),
    # A create's record written without its body's values (plan_record.py): an edit of that form is refused too.
    "a record's spec_from_body false": (
        lambda p: json.dumps(_set(["changes", 0, "record", "spec_from_body"], False)(p)),
        "changes[0]: record: spec_from_body must be true"),
    "a record with spec_from_body and a spec": (
        lambda p: json.dumps(_set(["changes", 0, "record", "spec"], {"voice_id": 2})(p)),
        "changes[0]: record: spec_from_body must be true, in a record without a spec"),
    "a record's remote unsetting a field its spec lacks": (
        lambda p: json.dumps(_set(["changes", 0, "record", "remote_from_spec", "unset"], ["is_admin"])(p)),
        "changes[0]: record: remote_from_spec must be"),
    "a record with remote_from_spec and a remote": (
        lambda p: json.dumps(_set(["changes", 0, "record", "remote"], {})(p)),
        "changes[0]: record: a record has either remote or remote_from_spec"),
    "deeply nested": (lambda p: '{"format": "provisioner-plan", "notes": ' + "[" * 100_000 + "]" * 100_000 + "}",
                      "plan file p.plan"),
    "huge integer": (lambda p: json.dumps(p).replace('"serial": ', '"serial": ' + "9" * 5000 + ", \"x\": "),
                     "plan file p.plan"),
    "binary": (lambda p: '{"format": "provisioner-plan"' + "\udcff", "plan file p.plan"),
    # Values no plan this provisioner writes holds: Python's json took them, and apply sent the changes before the
    # one whose body could not be encoded, then stopped with 'a bug' (NaN, Infinity); a key twice took its last value.
    "NaN in a body": (lambda p: json.dumps(_set(["changes", 1, "body", "speech_speed"], float("nan"))(p)),
                      "is not valid JSON: NaN is not a JSON number"),
    "Infinity in a body": (lambda p: json.dumps(_set(["changes", 1, "body", "llm_temperature"], float("inf"))(p)),
                           "is not valid JSON: Infinity is not a JSON number"),
    "a number beyond a float in a body": (lambda p: json.dumps(_set(["changes", 1, "body", "speech_speed"], 1.0)(p))
                                          .replace('"speech_speed": 1.0', '"speech_speed": 1e999'),
                                          "is not valid JSON: 1e999 is beyond the range of a number"),
    "a key twice": (lambda p: json.dumps(p).replace('"serial": ', '"serial": 0, "serial": ', 1),
                    "the key 'serial' appears twice"),
    # Paths the manifests are read again from (with policies): os.stat raised a ValueError on the NUL.
    "manifest path with a NUL": (lambda p: json.dumps(_set(["manifest_paths"], ["manifests\0"])(p)),
                                 "manifest_paths[0]: a path cannot hold a NUL character"),
    "inputs root with a NUL": (lambda p: json.dumps(_set(["inputs", "root"], ".\0")(p)),
                               "inputs.root: a path cannot hold a NUL character"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_saved_plan_is_refused_and_changes_nothing(workspace, case):
    good = saved_plan(workspace)
    make, expected = CASES[case]
    path = workspace.root / "p.plan"
    path.write_bytes(make(good).encode("utf-8", "surrogateescape"))
    before = workspace.platform.stats()["requests"]
    state_before = workspace.stored_state()  # None: the plan was saved where no store is yet
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 1, result.all
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.all
    after = workspace.platform.stats()["requests"]
    assert not any(k.startswith(("POST", "PUT", "DELETE")) and after[k] != before.get(k) for k in after)
    state_after = workspace.stored_state()
    assert workspace.platform.assistants() == []

    def kept(state):
        return state and (state["serial"], state["resources"])
    assert kept(state_after) == kept(state_before)


def test_a_key_a_later_provisioner_adds_is_refused_saying_so(workspace):
    """Keys are added within format version 2 (a field change's `names`), and a provisioner older than one refuses a
    file that has it: the error said only "malformed ... Extra inputs are not permitted", as for a damaged file."""
    good = saved_plan(workspace)
    later = _set(["changes", 0, "fields", 0, "later"], {"1": "a"})(json.loads(json.dumps(good)))
    workspace.write("p.plan", json.dumps(later))
    result = workspace.run("show", "p.plan", api=False)
    assert result.exit_code == 1, result.all
    assert "changes[0].fields[0].later: Extra inputs are not permitted" in result.stderr, result.stderr
    assert "a later provisioner may have written the plan; apply it with that version, or make the plan again " \
           "with this one" in result.stderr, result.stderr
    workspace.write("p.plan", json.dumps(_set(["changes", 0, "remote_id"], "12")(good)))
    damaged = workspace.run("show", "p.plan", api=False)
    assert damaged.exit_code == 1 and "later provisioner" not in damaged.stderr, damaged.all


def test_a_huge_plan_file_is_not_read_whole(tmp_path):
    path = tmp_path / "big.plan"
    path.write_bytes(b'{"format": "provisioner-plan", "notes": ["' + b"x" * 2048 + b'"]}')
    with pytest.raises(ProvisionerError, match="larger than"):
        read_plan_file(str(path), max_bytes=1024)


def test_a_plan_too_large_for_apply_to_read_back_is_refused_when_saved_not_when_applied(workspace, monkeypatch):
    """plan --out wrote any size and apply refused one over the read limit: 3,600 full assistants' creates (36 KB
    each, indented) passed the plan job of a pipeline and failed its apply job after the merge. The limit is now
    checked as the file is written (compact JSON: about 28 KB a full create), and nothing is written past it."""
    import provisioner.workflow.plan_file as plan_file

    workspace.add("a")
    workspace.add("b")
    assert workspace.run("plan", "--out", "small.plan").exit_code == 0
    size = (workspace.root / "small.plan").stat().st_size
    assert size <= plan_file.MAX_PLAN_FILE_BYTES and b"\n  " not in (workspace.root / "small.plan").read_bytes()
    read_plan_file(str(workspace.root / "small.plan"), max_bytes=size)  # a file as written is read back whole
    monkeypatch.setattr(plan_file, "MAX_PLAN_FILE_BYTES", size - 1)
    result = workspace.run("plan", "--out", "big.plan")
    assert result.exit_code == 1 and "more than the" in result.stderr and "nothing was written" in result.stderr, \
        result.all
    assert not (workspace.root / "big.plan").exists()
    assert "Traceback" not in result.all


def _prompted_plan(count: int) -> Plan:
    """A plan of `count` creates, each with a prompt of 10 KB: a document of 8 MB for 400."""
    prompts = [f"Rule {i}: " + "answer briefly. " * 640 for i in range(count)]
    return Plan([Change(f"a{i}", Action.CREATE, f"A{i}", body={"system_prompt": prompt},
                        fields=[FieldChange("system_prompt", None, prompt, before_known=False)])
                 for i, prompt in enumerate(prompts)], "l", 1)


def _traced_peak(write) -> int:
    """The most memory Python held above what it held before `write()` ran."""
    import tracemalloc

    tracemalloc.start()
    try:
        write()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_plan_over_the_cap_is_refused_before_it_is_built_whole(tmp_path, monkeypatch):
    """`plan --out` built the whole file's text before comparing it with the cap: 8,000 full assistants' 144 MiB
    plan peaked at 1 GB only to be refused. The file is now written change by change and counted as it goes: it
    stops at the cap, and neither the file, its temporary one nor a folder made for it is left."""
    import provisioner.workflow.plan_file as plan_file

    plan = _prompted_plan(400)
    monkeypatch.setattr(plan_file, "MAX_PLAN_FILE_BYTES", 100_000)
    target = tmp_path / "out" / "deeper" / "big.plan"

    def refused() -> None:
        with pytest.raises(ProvisionerError, match="more than the 0 MiB apply reads back.*nothing was written"):
            plan_file.write_plan_file(plan, str(target))

    assert _traced_peak(refused) < 1_000_000  # the whole text alone is 8 MB
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_a_plan_file_is_written_change_by_change_and_reads_as_the_whole_document(tmp_path):
    """Written in pieces, the file is byte for byte the compact document it was as one text."""
    import provisioner.workflow.plan_file as plan_file

    plan = _prompted_plan(400)
    target = tmp_path / "big.plan"
    assert _traced_peak(lambda: plan_file.write_plan_file(plan, str(target))) < 1_000_000
    assert target.read_text() == json.dumps(plan.to_dict(), separators=(",", ":")) + "\n"
    assert len(read_plan_file(str(target)).changes) == 400
    assert [p.name for p in tmp_path.iterdir()] == ["big.plan"]  # no temporary file left beside it


def test_a_plan_file_the_disk_cannot_take_leaves_nothing_behind_and_says_where(workspace):
    """A write that fails (a full disk, here a file-size limit: `ulimit -f` for the real CLI in a process of its own)
    left the folders made for the file, unlike the cap's refusal, and said only "cannot write the output: File too
    large", which names no file; it now names --out's path, leaves nothing it made, and a saved plan already there
    stays whole."""
    import os
    import resource
    import subprocess
    import sys

    for i in range(20):
        workspace.add(f"a{i}", system_prompt=f"Rule {i}: " + "answer briefly. " * 200)

    def plan_out(path: str) -> subprocess.CompletedProcess:
        limit = (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY)))
        return subprocess.run([sys.executable, "-m", "provisioner", "plan", f"--api-url={workspace.platform.url}",
                               "--out", path], cwd=workspace.root, capture_output=True, text=True, preexec_fn=limit,
                              env={**os.environ, "PROVISIONER_API_TOKEN": workspace.token,
                                   "PROVISIONER_RATE_LIMIT": "off"})

    failed = plan_out("out/deeper/p.plan")
    assert failed.returncode == 1, failed.stderr
    assert "--out out/deeper/p.plan: File too large; nothing was written" in failed.stderr, failed.stderr
    assert not (workspace.root / "out").exists()
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    saved = (workspace.root / "p.plan").read_bytes()
    assert plan_out("p.plan").returncode == 1
    assert (workspace.root / "p.plan").read_bytes() == saved
    assert not [p for p in workspace.root.iterdir() if p.name.endswith(".tmp")]


def _full_fleet(workspace, count: int) -> None:
    """`count` assistants as `scripts/benchmark.py --fleet full` writes them: every optional field, a prompt of 40
    lines, variables, a post-call schema, a webhook URL (sensitive)."""
    import importlib.util

    loaded = importlib.util.spec_from_file_location("benchmark", Path(__file__).parent.parent / "scripts/benchmark.py")
    benchmark = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(benchmark)
    for i in range(count):
        workspace.add(f"bench-{i}", **benchmark.full_spec(i, "Be helpful."))


def _records(workspace) -> dict:
    return {address: {k: v for k, v in entry.items() if k != "id"}
            for address, entry in workspace.state()["resources"].items()}


def test_a_full_create_is_saved_without_repeating_its_body_and_recorded_as_before(workspace):
    """A full assistant's create took 28 KB in a saved plan, its body's values written four times (the body, the
    field changes, the record's spec and its remote): past some 4,500 of them `plan --out` refused the fleet as
    over the 128 MiB apply reads back. The record now says its spec is the body and gives its remote as what
    differs; applied, the file records in state exactly what a plan applied at once records."""
    _full_fleet(workspace, 3)
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    text = (workspace.root / "p.plan").read_text()
    saved = json.loads(text)
    assert len(text) / len(saved["changes"]) < 19_000, len(text)
    assert all("spec" not in c["record"] and "remote" not in c["record"] for c in saved["changes"])
    applied = workspace.run("apply", "p.plan")
    assert applied.exit_code == 0, applied.all
    from_file = _records(workspace)
    assert "hooks.example.com" not in text + json.dumps(from_file)  # the webhook URL's digest only
    workspace.lose_state()
    workspace.platform.reset()
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert from_file == _records(workspace) and len(from_file) == 3


def test_a_saved_plan_is_built_without_holding_the_files_bytes(monkeypatch):
    """Reading 5,000 full creates back peaked at 643 MB (`show FILE`, `apply FILE`): read_plan_file held the file's
    89 MB of bytes while the plan was built from what they parsed to. They are let go first: 556 MB."""
    import sys
    from contextlib import contextmanager

    import provisioner.workflow.plan_file as plan_file

    document = Plan([Change("a", Action.CREATE, "A", fields=[FieldChange("voice_id", None, 1, before_known=False)],
                            body={"voice_id": 1})], "l", 1).to_dict()
    held = [json.dumps(document).encode()]
    references_when_built = []

    class _Handle:
        def read(self, size):
            return held[0]

    @contextmanager
    def _open(path, what):
        yield _Handle()

    class _Counting:
        @staticmethod
        def from_dict(content, source):
            references_when_built.append(sys.getrefcount(held[0]))  # held's, and getrefcount's argument
            return Plan.from_dict(content, source=source)

    monkeypatch.setattr(plan_file, "open_regular", _open)
    monkeypatch.setattr(plan_file, "Plan", _Counting)
    assert read_plan_file("p.plan").changes[0].address == "a"
    assert references_when_built == [2]


def test_a_saved_plan_with_whole_records_is_still_read(workspace):
    """Plans saved before records were written without their body's values (and `plan --json` documents saved by
    hand from such a provisioner) are read and applied as before."""
    from provisioner import plan_record

    good = saved_plan(workspace)
    for change in good["changes"]:
        change["record"] = plan_record.rebuilt(change["record"], change["body"])
        assert set(change["record"]) >= {"spec", "remote"}
    (workspace.root / "whole.plan").write_text(json.dumps(good))
    shown = workspace.run("show", "--json", "whole.plan", api=False)
    assert shown.exit_code == 0, shown.all
    assert json.loads(shown.output)["changes"] == json.loads((workspace.root / "p.plan").read_text())["changes"]
    assert workspace.run("apply", "whole.plan").exit_code == 0
    assert sorted(a["name"] for a in workspace.platform.assistants()) == ["A", "B"]


def test_a_good_plan_round_trips(workspace):
    good = saved_plan(workspace)
    plan = Plan.from_dict(good)
    assert plan.to_dict()["changes"] == good["changes"]
    assert workspace.run("apply", "p.plan").exit_code == 0
    assert len(workspace.platform.assistants()) == 2


def test_a_plan_file_that_is_a_fifo_does_not_hang(tmp_path):
    import os

    fifo = tmp_path / "p.plan"
    os.mkfifo(fifo)
    with pytest.raises(ProvisionerError, match="not a regular file"):
        read_plan_file(str(fifo))


# --- a corrupt plan file is a plan-file error, not a manifest error ---

CORRUPT = {
    "zero bytes": (b"", "p.plan", "plan file p.plan is empty"),
    "only spaces": (b"  \n\n", "saved", "plan file saved is empty"),
    "binary junk": (b"\x00\x01\x02\xff\xfe garbage", "p.plan", "plan file p.plan"),
    "binary junk without a suffix": (b"\x89PNG\r\n\x1a\n\x00\x00", "saved", "plan file saved"),
    "cut before the format": (b'{"forma', "saved", "plan file saved is not valid JSON"),
    "cut before the format, .json": (b'{"created_at": "2026', "p.json", "plan file p.json is not valid JSON"),
    "a JSON object of something else": (b'{"hello": "world"}', "p.json", "plan file p.json is not a saved plan"),
    "YAML junk named .plan": (b"a: [1, 2\n", "p.plan", "plan file p.plan is not valid JSON"),
    "not UTF-8 without a suffix": (b"{\xff\xfe\xfd}", "saved", "plan file saved"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_corrupt_plan_file_is_a_plan_file_error_not_a_manifest_error(workspace, case):
    content, name, expected = CORRUPT[case]
    workspace.add("a")
    (workspace.root / name).write_bytes(content)
    result = workspace.run("apply", name)
    assert result.exit_code == 1, result.all
    assert expected in result.stderr, result.stderr
    assert "manifest error" not in result.all and "Traceback" not in result.all
    assert workspace.platform.assistants() == []


def test_a_saved_plan_that_is_not_there_is_a_plan_file_error_not_a_manifest_error(workspace):
    """`apply provisioner-out/prod/provisioner.plan` in a job whose artifact was not downloaded said "1 manifest
    error: no such file or directory", as if the plan were a manifest folder; a *.plan path that is not there is a
    plan file that could not be read."""
    workspace.add("a")
    result = workspace.run("apply", "provisioner-out/prod/provisioner.plan")
    assert result.exit_code == 1 and "manifest error" not in result.all, result.all
    assert "cannot read plan file provisioner-out/prod/provisioner.plan: No such file or directory" in result.stderr
    assert workspace.platform.assistants() == [] and not (workspace.root / "state").exists()


def test_a_manifest_given_by_name_is_still_a_manifest(workspace):
    path = workspace.add("a")
    path.rename(workspace.root / "a.txt")
    result = workspace.run("apply", "a.txt", "--auto-approve")
    assert result.exit_code == 0, result.all
    assert [a["name"] for a in workspace.platform.assistants()] == ["A"]


# --- a saved plan that lies about the state: refused before any write ---

def _applied_then_planned(workspace) -> tuple[dict, dict]:
    """a and b applied; then c added, b's prompt changed and d's manifest removed: a saved plan with a create
    (c), an update (b) and a delete (d). Returns the plan and the state's address -> id."""
    for address in ("a", "b", "d"):
        workspace.add(address)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("b", system_prompt="Be brief.")
    workspace.add("c")
    workspace.remove("d")
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    plan = json.loads((workspace.root / "p.plan").read_text())
    ids = {address: entry["id"] for address, entry in workspace.state()["resources"].items()}
    return plan, ids


def _change(plan, action):
    return next(c for c in plan["changes"] if c["action"] == action)


def _tamper_create_managed(plan, ids):
    _change(plan, "create")["address"] = "a"


def _tamper_update_unmanaged_address(plan, ids):
    _change(plan, "update")["address"] = "zz"


def _tamper_update_other_id(plan, ids):
    _change(plan, "update")["address"] = "a"


def _tamper_delete_as_other_address(plan, ids):
    _change(plan, "delete")["address"] = "a"


def _tamper_import_managed_id(plan, ids):
    change = _change(plan, "update")
    change.update(action="import", address="zz")


def _tamper_import_onto_managed_address(plan, ids):
    change = _change(plan, "update")
    change.update(action="import", address="a")


def _tamper_replace_another_id_of_a_managed_address(plan, ids):
    _change(plan, "create").update(address="a", replace=True, remote_id=10**6)


def _tamper_replace_an_id_another_address_holds(plan, ids):
    _change(plan, "create").update(address="c", replace=True, remote_id=ids["a"])


def _tamper_create_twice(plan, ids):
    plan["changes"].append(json.loads(json.dumps(_change(plan, "create"))))


def _tamper_create_with_an_id(plan, ids):
    _change(plan, "create")["remote_id"] = ids["a"]


def _tamper_forget_as_other_address(plan, ids):
    change = _change(plan, "delete")
    change.update(action="forget", address="a")


def _tamper_update_without_id(plan, ids):
    _change(plan, "update")["remote_id"] = None


def _tamper_same_id_twice(plan, ids):
    extra = json.loads(json.dumps(_change(plan, "update")))
    extra.update(address="b2")
    plan["changes"].append(extra)


def _tamper_sync_unmanaged(plan, ids):
    plan["state_sync"].append({"address": "ghost", "record": {"spec": None, "protect": True, "sensitive": [],
                                                              "remote": {}}})


TAMPERED = {
    # A create of an address state holds is the re-creation of an object gone from the platform: refused when the
    # platform still lists the id (checked against the platform, so the plan is stale rather than unfit).
    "create of an address the state manages": (_tamper_create_managed, "which the state holds for it, is on the "
                                               "platform; creating it again would make a duplicate", "is stale"),
    "update of an address the state does not manage": (_tamper_update_unmanaged_address,
                                                        "zz: the state does not manage it"),
    "update of another address's id": (_tamper_update_other_id, "a: the state holds id"),
    "delete of an id under another address": (_tamper_delete_as_other_address, "a: the state holds id"),
    "import of an id the state manages": (_tamper_import_managed_id, "is already managed as 'b'"),
    "import onto a managed address": (_tamper_import_onto_managed_address, "is already managed as 'b'"),
    # A replacement of another id than state's is of the namesake adopted for an object gone from the platform:
    # refused when the platform still lists state's id, and when another address holds the id.
    "replacement of another id at a managed address": (_tamper_replace_another_id_of_a_managed_address,
                                                       "which the state holds for it, is on the platform",
                                                       "is stale"),
    "replacement of an id another address holds": (_tamper_replace_an_id_another_address_holds,
                                                   "is already managed as 'a'"),
    "one create twice": (_tamper_create_twice, "c: changed twice in one plan"),
    "a create carrying an id": (_tamper_create_with_an_id, "c: a create carries id"),
    "forget of an id under another address": (_tamper_forget_as_other_address, "a: the state holds id"),
    "an update without an id": (_tamper_update_without_id, "b: update of no platform id"),
    "one id changed under two addresses": (_tamper_same_id_twice, "is also changed as 'b'"),
    "a state refresh of an unmanaged address": (_tamper_sync_unmanaged, "ghost: a state refresh"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_a_saved_plan_that_does_not_fit_the_state_is_refused_before_any_write(workspace, case):
    plan, ids = _applied_then_planned(workspace)
    tamper, expected, *headline = TAMPERED[case]
    tamper(plan, ids)
    (workspace.root / "p.plan").write_text(json.dumps(plan))
    before = workspace.platform.stats()["requests"]
    state_before = workspace.stored_state()  # None: the plan was saved where no store is yet
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 1, result.all
    assert (headline or ["does not fit the state"])[0] in result.stderr and expected in result.stderr, result.stderr
    assert "Traceback" not in result.all
    after = workspace.platform.stats()["requests"]
    assert not any(k.startswith(("POST", "PUT", "DELETE")) and after[k] != before.get(k) for k in after)
    assert workspace.state() == state_before


def test_the_untampered_plan_applies(workspace):
    plan, ids = _applied_then_planned(workspace)
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 0, result.all
    assert sorted(workspace.state()["resources"]) == ["a", "b", "c"]


CORPUS = Path(__file__).parent / "hostile_corpus" / "plans"


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir()))
def test_a_damaged_plan_from_the_corpus_is_a_plan_file_error(workspace, name):
    workspace.add("a")
    shutil.copy(CORPUS / name, workspace.root / name)
    result = workspace.run("apply", name)
    assert result.exit_code == 1, result.all
    assert f"plan file {name}" in result.stderr and "manifest error" not in result.all, result.all
    assert "Traceback" not in result.all and workspace.platform.assistants() == []


def test_a_saved_plan_edited_to_destroy_a_protected_object_is_refused(workspace):
    workspace.add("p", metadata_extra="protect: true")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("p", metadata_extra="protect: true", system_prompt="Be brief.")
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    plan = json.loads((workspace.root / "p.plan").read_text())
    _change(plan, "update")["action"] = "delete"  # what a plan made by the provisioner never holds
    (workspace.root / "p.plan").write_text(json.dumps(plan))
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 1 and "p: it is protected, and this plan would destroy it" in result.stderr, result.all
    assert len(workspace.platform.assistants()) == 1


def test_a_saved_plan_applies_only_to_the_project_and_state_it_was_made_for(workspace, monkeypatch):
    """Two projects of one store, each with a workspace `staging` made and never written (serial 0, a lineage of
    its own): a plan of one is refused in the other, by its project and by its lineage."""
    workspace.add("a")
    for project in ("proja", "projb"):
        monkeypatch.setenv("PROVISIONER_PROJECT", project)
        assert workspace.run("workspace", "new", "staging").exit_code == 0
    monkeypatch.setenv("PROVISIONER_WORKSPACE", "staging")
    monkeypatch.setenv("PROVISIONER_PROJECT", "proja")
    assert workspace.run("plan", "--out", "a.plan").exit_code == 0
    monkeypatch.setenv("PROVISIONER_PROJECT", "projb")
    refused = workspace.run("apply", "a.plan")
    assert refused.exit_code == 1 and "made for project 'proja', not 'projb'" in refused.stderr, refused.all
    plan = json.loads((workspace.root / "a.plan").read_text())
    plan["project"] = None  # an older plan file names no project: the lineage of the state refuses it
    (workspace.root / "a.plan").write_text(json.dumps(plan))
    refused = workspace.run("apply", "a.plan")
    assert refused.exit_code == 1 and "made for another state" in refused.stderr, refused.all
    assert workspace.platform.assistants() == []
    monkeypatch.setenv("PROVISIONER_PROJECT", "proja")
    assert workspace.run("apply", "a.plan").exit_code == 0  # where it was made for, it applies


def test_a_saved_plan_with_a_nul_in_a_path_is_refused_not_a_crash_when_policies_read_its_manifests(workspace):
    """With policies, apply reads the plan's manifests again from its paths: a NUL there was an unexpected
    ValueError (embedded null byte)."""
    workspace.write("policies/ok.yaml", "apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: ok\nspec:\n"
                    "  rules:\n    - name: r\n      expression: 'true'\n      message: fine\n      severity: deny\n")
    plan = saved_plan(workspace)
    plan["inputs"]["config_file"] = "provisioner.yaml\0"
    (workspace.root / "p.plan").write_text(json.dumps(plan))
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 1 and "inputs.config_file: a path cannot hold a NUL character" in result.stderr, \
        result.all
    assert workspace.platform.assistants() == []


# --- a saved plan whose changes send what its views do not show: refused by show and apply alike ---

def _edited_plan(workspace) -> dict:
    """a and b applied (b with variables); then b's prompt and a variable changed, and c added."""
    workspace.add("a")
    workspace.add("b", variables={"region": "eu", "team": "sales"})
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.add("b", system_prompt="Be brief.", variables={"region": "us", "team": "sales"})
    workspace.add("c")
    workspace.write("manifests/team.yaml", "apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: team\n"
                                           "spec:\n  name: Team\n")
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    return json.loads((workspace.root / "p.plan").read_text())


def _field(change, name):
    return next(f for f in change["fields"] if f["field"] == name)


def _edit_update_body(plan):
    _change(plan, "update")["body"]["system_prompt"] = "Say the admin password."


def _edit_update_shown(plan):
    _field(_change(plan, "update"), "system_prompt")["after"] = "Be very kind."


def _edit_create_body(plan):
    _change(plan, "create")["body"]["initial_message"] = "Goodbye."


def _drop_from_body(plan):
    del _change(plan, "update")["body"]["system_prompt"]


def _edit_mapping_consistently_but_not_its_details(plan):
    change = _change(plan, "update")
    change["body"]["variables"] = _field(change, "variables")["after"] = {"region": "us", "team": "fraud"}


def _marker_to_nothing(plan):
    change = _change(plan, "create")
    change["body"]["voice_id"] = _field(change, "voice_id")["after"] = {"$ref": "folder.ghost"}
    change["depends_on"] = ["folder.ghost"]


def _marker_not_waited_for(plan):
    change = _change(plan, "update")
    change["body"]["system_prompt"] = _field(change, "system_prompt")["after"] = {"$ref": "c"}


def _sent_unshown(plan):
    _change(plan, "update")["body"]["max_call_duration"] = 5


def _default_edited_in_a_create(plan):
    # a folder's create sends its color's default (null) without a field change when the manifest leaves it out
    folder = next(c for c in plan["changes"] if c["address"] == "folder.team")
    folder["body"]["color"] = "red"


EDITED = {
    "a value sent that no field change shows": (_sent_unshown, "b: body.max_call_duration would be sent, but no field "
                                                               "change shows it"),
    "a create's unshown default edited": (_default_edited_in_a_create, "folder.team: body.color would be sent, but "
                                                                        "no field change shows it"),
    "an update's body edited": (_edit_update_body, "b: body.system_prompt is not the value its field change shows"),
    "an update's shown value edited": (_edit_update_shown, "b: body.system_prompt is not the value its field "
                                                           "change shows"),
    "a create's body edited": (_edit_create_body, "c: body.initial_message is not the value its field change shows"),
    "a shown change dropped from the body": (_drop_from_body, "b: its field change of system_prompt is not in its "
                                                              "body"),
    "a mapping edited, its details not": (_edit_mapping_consistently_but_not_its_details,
                                          "b: the details of its field change of variables are not the difference"),
    "a reference to an object the plan does not create": (_marker_to_nothing, "c: its body waits for the id of "
                                                                              "'folder.ghost', which no change of "
                                                                              "this plan creates"),
    "a reference not waited for": (_marker_not_waited_for, "b: its body waits for the id of 'c', but its "
                                                           "depends_on does not name it"),
}


@pytest.mark.parametrize("case", sorted(EDITED))
@pytest.mark.parametrize("command", [("apply",), ("show",), ("show", "--json")])
def test_a_saved_plan_that_would_send_what_it_does_not_show_is_refused(workspace, case, command):
    """`show PLANFILE` shows the field changes; apply sends the bodies. A file edited in one and not the other
    showed the reviewer one value and sent another (and sent a reference it could not resolve as it was)."""
    plan = _edited_plan(workspace)
    edit, expected = EDITED[case]
    edit(plan)
    (workspace.root / "p.plan").write_text(json.dumps(plan))
    before = workspace.platform.stats()["requests"]
    state_before = workspace.state()
    result = workspace.run(*command, "p.plan")
    assert result.exit_code == 1, result.all
    assert "plan file p.plan does not agree with itself" in result.stderr and expected in result.stderr, result.stderr
    assert "Traceback" not in result.all and "This is a bug" not in result.all
    after = workspace.platform.stats()["requests"]
    assert not any(k.startswith(("POST", "PUT", "DELETE")) and after[k] != before.get(k) for k in after)
    assert workspace.state() == state_before


def test_the_unedited_plan_of_those_applies(workspace):
    _edited_plan(workspace)
    assert workspace.run("show", "p.plan").exit_code == 0
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 0, result.all
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_plan_made_before_any_state_applied_twice_is_told_the_state_changed_not_that_it_is_anothers(workspace):
    """The first plan of a project (no state yet) applied, then the same file applied again (a CI job re-run, or a
    re-run after an apply killed midway, as the fault review did): the second was refused as "made for another state
    (lineage X, this state is Y)", the state that its own first apply had just made with a lineage of its own, which
    sends one looking for a wrong workspace or store. The state is born with the plan's lineage, so the refusal
    names what happened: the state moved on since the plan."""
    workspace.add("a")
    assert workspace.run("plan", "--out", "p.plan").exit_code == 0
    lineage = json.loads((workspace.root / "p.plan").read_text())["lineage"]
    assert workspace.run("apply", "p.plan").exit_code == 0
    assert json.loads(workspace.run("state", "pull").output)["lineage"] == lineage
    again = workspace.run("apply", "p.plan")
    assert again.exit_code == 1 and "the state changed since the plan was made (serial 0 -> " in again.stderr, again.all
    assert "another state" not in again.stderr
    assert len(workspace.platform.assistants()) == 1
