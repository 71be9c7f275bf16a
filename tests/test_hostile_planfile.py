"""Malformed saved plans: a clear error, nothing applied, nothing recorded, never a traceback."""
from __future__ import annotations

import json

import pytest

from provisioner.errors import ProvisionerError
from provisioner.plan import Plan
from provisioner.workflow import read_plan_file


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
    "wrong version": (lambda p: json.dumps(_set(["format_version"], 2)(p)), "plan format version 2"),
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
    "lineage missing": (lambda p: json.dumps(_drop("lineage")(p)), "lineage: Field required"),
    "deeply nested": (lambda p: '{"format": "provisioner-plan", "notes": ' + "[" * 100_000 + "]" * 100_000 + "}",
                      "plan file p.plan"),
    "huge integer": (lambda p: json.dumps(p).replace('"serial": ', '"serial": ' + "9" * 5000 + ", \"x\": "),
                     "plan file p.plan"),
    "binary": (lambda p: '{"format": "provisioner-plan"' + "\udcff", "plan file p.plan"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_saved_plan_is_refused_and_changes_nothing(workspace, case):
    good = saved_plan(workspace)
    make, expected = CASES[case]
    path = workspace.root / "p.plan"
    path.write_bytes(make(good).encode("utf-8", "surrogateescape"))
    before = workspace.platform.stats()["requests"]
    state_before = workspace.state()
    result = workspace.run("apply", "p.plan")
    assert result.exit_code == 1, result.all
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.all
    after = workspace.platform.stats()["requests"]
    assert not any(k.startswith(("POST", "PUT", "DELETE")) and after[k] != before.get(k) for k in after)
    state_after = workspace.state()
    assert workspace.platform.assistants() == []
    assert (state_after["serial"], state_after["resources"]) == (state_before["serial"], state_before["resources"])


def test_a_huge_plan_file_is_not_read_whole(tmp_path):
    path = tmp_path / "big.plan"
    path.write_bytes(b'{"format": "provisioner-plan", "notes": ["' + b"x" * 2048 + b'"]}')
    with pytest.raises(ProvisionerError, match="larger than"):
        read_plan_file(str(path), max_bytes=1024)


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
