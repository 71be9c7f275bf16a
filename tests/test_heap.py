"""The collector settings of a run (heap.py), and that the emulator, a server, collects."""
import gc
import subprocess
import sys
import weakref

from provisioner.heap import YOUNG_THRESHOLD, collect_from_now_on, pause_collection


def test_a_run_pauses_collection_and_an_apply_freezes_what_exists_then_collects():
    threshold = gc.get_threshold()
    try:
        pause_collection()
        assert not gc.isenabled()
        planned = [{"address": f"a{i}"} for i in range(1000)]
        collect_from_now_on()
        assert gc.isenabled() and gc.get_freeze_count() >= len(planned)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.enable()


class _Node:
    pass


def test_cycles_made_during_an_apply_are_still_freed_without_an_explicit_collection():
    """The apply's larger first-generation threshold delays a cycle's collection; it never skips it."""
    threshold = gc.get_threshold()
    freed = []
    try:
        pause_collection()
        collect_from_now_on()
        for i in range(3):  # what a failing request leaves: an object referring to itself
            node = _Node()
            node.me = node
            weakref.finalize(node, freed.append, i)
            del node
        assert freed == []  # not by reference counting: only the collector frees a cycle
        kept = [[] for _ in range(2 * YOUNG_THRESHOLD)]  # an apply's allocations go on, no gc.collect() called
        assert sorted(freed) == [0, 1, 2]
        del kept
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.enable()


def test_the_cli_pauses_collection_but_the_emulator_command_turns_it_back_on():
    probe = ("import gc, sys\n"
             "import provisioner.cli as cli\n"
             "import provisioner.emulator.server as server\n"
             "server.serve = lambda *a, **k: print('collecting' if gc.isenabled() else 'paused')\n"
             "sys.argv = ['provisioner', 'emulator', '--port', '0']\n"
             "cli.main()\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "collecting" in result.stdout, result.stderr
    version = subprocess.run([sys.executable, "-c", "import gc, sys, provisioner.cli as cli\n"
                              "sys.argv = ['provisioner', '--version']\n"
                              "try:\n    cli.main()\nfinally:\n    print('collecting' if gc.isenabled() else 'paused')"],
                             capture_output=True, text=True, timeout=60)
    assert version.stdout.strip().endswith("paused"), version.stderr
