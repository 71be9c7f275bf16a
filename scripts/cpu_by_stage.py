"""CPU by stage: run one provisioner command in this process and say how much CPU each stage took, per change.

    python scripts/cpu_by_stage.py --changes 3000 -- plan --api-url=http://127.0.0.1:8787/api
    python scripts/cpu_by_stage.py --changes 3000 -- apply --auto-approve --api-url=http://127.0.0.1:8787/api

Each stage is a function wrapped with the CPU time of the thread that runs it (`time.thread_time`), so the ten
workers' requests and the committer's commits are counted on their own threads, and time spent waiting (for the
GIL, the network, a lock) is not counted. A sampling profiler's view of a multi-threaded run (py-spy --gil) puts
GIL hand-offs on whatever line runs next; this is the figure to trust for a stage's cost. Run it from the
project's folder, with the environment the command needs (PROVISIONER_API_TOKEN, ...). The stages nest (the plan
holds compute_plan): each line is that stage's own total, not a share of the others.
"""
from __future__ import annotations

import argparse
import collections
import compileall
import functools
import importlib
import sys
import threading
import time
from pathlib import Path

# (module, function or Class.method): the stages of a run, in the order they happen.
STAGES = [
    ("provisioner.manifest", "load_manifests"),
    ("provisioner.workflow.session", "Session.__enter__"),   # the state read
    ("provisioner.workflow.session", "Session.remote"),      # the platform's lists
    ("provisioner.plan_graph", "plan_graph"),
    ("provisioner.planner", "compute_plan"),
    ("provisioner.render", "plan_as"),                       # the plan as text (or JSON, markdown)
    ("provisioner.apply", "apply_plan"),                     # the walk, on the main thread
    ("provisioner.client", "PlatformClient._request"),       # every request, on the thread that sends it
    ("provisioner.apply", "StateRecorder._commit_pending"),  # every state commit
    ("provisioner.progress", "Progress.finished"),           # the result lines
    ("provisioner.verify", "verify_apply"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, required=True, help="what to divide by (changes, or manifests)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the provisioner command, after --")
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    # A command's modules load as it runs: compiled first (as an installed package is, and as benchmark.py does), so
    # that a checkout run with PYTHONDONTWRITEBYTECODE does not count their compilation in a stage.
    import provisioner
    compileall.compile_dir(Path(provisioner.__file__).parent, quiet=1)
    for module, name in STAGES:
        _wrap(importlib.import_module(module), name, spent, calls)
    import provisioner.cli as cli

    sys.argv = ["provisioner", *command]
    started = time.process_time()
    try:
        cli._run()  # as the entry point runs it (the collector paused, errors said), without ending the process
    except SystemExit:
        pass
    total = time.process_time() - started
    per = 1e6 / options.changes
    print(f"the whole command after the imports: {total * per:.0f} µs of CPU per change", file=sys.stderr)
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {label:32} {seconds * per:8.1f} µs per change ({calls[label]} calls)", file=sys.stderr)


def _wrap(module, name: str, spent: collections.Counter, calls: collections.Counter) -> None:
    """Wrap `name` of `module` where it is defined and where other modules imported it by name."""
    owner_name, _, attribute = name.rpartition(".")
    owner = getattr(module, owner_name) if owner_name else module
    original = getattr(owner, attribute)
    inside = threading.local()  # a recursive call is counted once, in its outermost call

    @functools.wraps(original)
    def measured(*args, **kwargs):
        if getattr(inside, "active", False):
            return original(*args, **kwargs)
        inside.active = True
        began = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.thread_time() - began
            calls[name] += 1
            inside.active = False

    setattr(owner, attribute, measured)
    if not owner_name:
        for other in list(sys.modules.values()):
            if getattr(other, "__name__", "").startswith("provisioner") and getattr(other, attribute, None) is original:
                setattr(other, attribute, measured)


if __name__ == "__main__":
    main()
