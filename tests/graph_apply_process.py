"""A process that plans and applies a small graph (tools, and assistants whose tool_ids reference them) against
a platform URL, for the crash tests: `python graph_apply_process.py URL STATE_DB [replace]`.

Its planner is the least one that keeps the promises (as the real planner does): a state row whose object is
gone is created again; an object on the platform of a wanted name that no row claims is adopted (two of them:
a duplicate, exit 3); a deposed row is destroyed; a reference to an object not created yet is a `$ref`.
`replace` replaces every tool (create before destroy) and so updates every assistant."""
from __future__ import annotations

import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from conftest import REQUIRED, TOKEN  # noqa: E402
from graph_kinds import KINDS, record  # noqa: E402
from provisioner.apply import StateRecorder, apply_plan  # noqa: E402
from provisioner.client import PlatformClient, RetryPolicy  # noqa: E402
from provisioner.plan import Action, Change, Plan  # noqa: E402
from provisioner.state import is_deposed  # noqa: E402
from provisioner.state.sql import open_store  # noqa: E402

TOOLS = 3
ASSISTANTS = 8


def wanted(replace: bool) -> dict[str, tuple[str, dict, list[str]]]:
    """address -> (kind, spec, depends_on)"""
    objects: dict[str, tuple[str, dict, list[str]]] = {}
    for i in range(TOOLS):
        objects[f"tool.t{i}"] = ("tool", {"name": f"tool_{'abc'[i]}", "description": "A tool", "method": "POST" if replace
                                          else "GET", "endpoint": f"https://example.com/{i}"}, [])
    for i in range(ASSISTANTS):
        objects[f"a{i}"] = ("assistant", {"assistant_name": f"A{i}", **REQUIRED,
                                          "tool_ids": [{"$ref": f"tool.t{i % TOOLS}"}]}, [f"tool.t{i % TOOLS}"])
    return objects


def listing(client) -> dict[str, list[dict]]:
    return {"tool": KINDS["tool"].endpoints.list(client, None), "assistant": client.list_assistants()}


def name_of(kind: str, item: dict) -> str:
    return item["name"]


def plan(state, platform: dict[str, list[dict]], replace: bool) -> list[Change]:
    by_id = {kind: {item["id"]: item for item in items} for kind, items in platform.items()}
    claimed = {(e.kind, e.id) for e in state.resources.values()}
    changes: list[Change] = []
    for address, entry in state.resources.items():
        if is_deposed(address):
            changes.append(Change(address=address, action=Action.DELETE, assistant_name="", kind=entry.kind,
                                  remote_id=entry.id))
    for address, (kind, spec, depends_on) in wanted(replace).items():
        name = spec.get("name") or spec["assistant_name"]
        entry = state.resources.get(address)
        replaced = {c.address for c in changes if c.replace}
        ids = {a: (state.resources[a].id if a in state.resources and a not in replaced else None)
               for a in depends_on}
        resolved = {**spec, "tool_ids": [ids[d] if ids[d] is not None else {"$ref": d} for d in depends_on]} \
            if kind == "assistant" else spec
        base = dict(address=address, assistant_name=name, kind=kind, depends_on=depends_on)
        if entry is not None and entry.id in by_id[kind]:
            if kind == "tool" and entry.spec != spec:
                changes.append(Change(action=Action.CREATE, replace=True, remote_id=entry.id, body=spec,
                                      record=record(spec), **base))
            elif kind == "assistant" and entry.spec != resolved:
                changes.append(Change(action=Action.UPDATE, remote_id=entry.id, body={"tool_ids": resolved[
                    "tool_ids"]}, record=record(resolved), **base))
            continue
        namesakes = [i for i in platform[kind] if name_of(kind, i) == name and (kind, i["id"]) not in claimed]
        if len(namesakes) > 1:
            print(f"DUPLICATE {kind} {name}: {[i['id'] for i in namesakes]}", flush=True)
            sys.exit(3)
        if namesakes:
            body = {"tool_ids": resolved["tool_ids"]} if kind == "assistant" else spec
            changes.append(Change(action=Action.IMPORT, remote_id=namesakes[0]["id"], body=body,
                                  record=record(resolved), **base))
        else:
            changes.append(Change(action=Action.CREATE, body=resolved, record=record(resolved), **base))
    return changes


def main(url: str, path: str, replace: bool) -> int:
    client = PlatformClient(url, TOKEN, retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
                            notify=lambda line: None)
    store = open_store("sqlite", path, project="crash")
    state = store.read()
    platform = listing(client)
    changes = plan(state, platform, replace)
    known = {kind: {item["id"] for item in items} for kind, items in platform.items()}
    print(f"PLANNED {len(changes)}", flush=True)
    report = apply_plan(Plan(changes=changes, lineage=state.lineage, serial=state.serial), client,
                        StateRecorder(store, state), known_ids=known, parallelism=4, kinds=KINDS)
    for result in report.results:
        if not result.ok:
            print(f"FAILED {result.change.address}: {result.message}", flush=True)
    print("DONE" if report.ok else "NOT OK", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "replace"))
