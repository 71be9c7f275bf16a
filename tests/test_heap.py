"""The collector settings of a run (heap.py), and that the emulator, a server, collects."""
import gc
import subprocess
import sys

from provisioner.heap import collect_from_now_on, pause_collection


def test_a_run_pauses_collection_and_an_apply_freezes_what_exists_then_collects():
    try:
        pause_collection()
        assert not gc.isenabled()
        planned = [{"address": f"a{i}"} for i in range(1000)]
        collect_from_now_on()
        assert gc.isenabled() and gc.get_freeze_count() >= len(planned)
    finally:
        gc.unfreeze()
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
