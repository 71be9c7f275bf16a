"""The CLI process ends without tearing its heap down (process_end.py), and nothing else about its end changes:
the exit code, every byte written, every atexit function; Python's own exit whenever the end is not plain (another
thread still running, the emulator loaded, a caller other than the entry point, a code that is not a number)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from provisioner import process_end

# An object whose finalizer says so: printed only when Python tears the heap down (its own exit).
PROBE = """
import atexit, os, sys, threading, time
class Teardown:
    def __del__(self):
        os.write(2, b"teardown\\n")  # sys.stderr may be gone by then
keep = Teardown()
atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
{setup}
from provisioner.cli import main
sys.argv = ["provisioner", *{args!r}]
{call}
"""


def run_probe(*args: str, setup: str = "", call: str = "sys.exit(main())", cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE.format(setup=setup, args=list(args), call=call)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_entry_point_ends_without_teardown_after_the_atexit_functions():
    result = run_probe("--version")
    assert result.returncode == 0 and "provisioner" in result.stdout
    assert "atexit ran" in result.stderr and "teardown" not in result.stderr


@pytest.mark.parametrize("args, code", [(["--version"], 0), (["no-such-command"], 1), (["plan", "--bogus"], 1)])
def test_the_exit_code_and_output_are_python_exits(args, code, tmp_path):
    quick = run_probe(*args, cwd=tmp_path)
    usual = run_probe(*args, setup="import provisioner.process_end as p; p.quick_exit_allowed = lambda code: False",
                      cwd=tmp_path)
    assert "teardown" not in quick.stderr and "teardown" in usual.stderr
    assert quick.returncode == usual.returncode == code
    assert quick.stdout == usual.stdout
    assert quick.stderr.replace("atexit ran\n", "") == usual.stderr.replace("atexit ran\n", "").replace("teardown\n", "")


def test_every_byte_of_a_long_output_is_written(tmp_path):
    """A buffered stdout larger than a pipe's buffer is flushed before the process ends."""
    setup = ("import click, provisioner.cli as c\n"
             "@c.cli.command('spill')\n"
             "def spill():\n"
             "    for n in range(200000):\n"
             "        sys.stdout.write(f'line {n}\\n')\n")
    result = run_probe("spill", setup=setup, cwd=tmp_path)
    assert result.returncode == 0 and "teardown" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 200000 and lines[-1] == "line 199999"


def test_a_running_thread_gets_pythons_exit():
    """Python waits for a thread that is not a daemon (an apply's worker finishing its write and its commit)."""
    setup = ("done = []\n"
             "worker = threading.Thread(target=lambda: (time.sleep(3), sys.stderr.write('worker done\\n')))\n"
             "worker.start()\n")
    result = run_probe("--version", setup=setup)
    assert result.returncode == 0 and "worker done" in result.stderr and "teardown" in result.stderr


def test_other_callers_and_the_emulator_get_pythons_exit():
    caller = run_probe("--version", call="del main\nimport provisioner.cli as c\nc.main()")  # not __main__.main
    assert caller.returncode == 0 and "teardown" in caller.stderr
    emulator = run_probe("--version", setup="import provisioner.emulator")
    assert emulator.returncode == 0 and "teardown" in emulator.stderr


def test_only_plain_codes_end_quickly():
    assert process_end.plain_code(None) and process_end.plain_code(2) and process_end.plain_code(-1)
    assert not process_end.plain_code("a message")  # Python prints it, and exits 1
    assert not process_end.plain_code(2**40) and not process_end.plain_code(True)
    assert not process_end.quick_exit_allowed("a message")


def test_plan_and_apply_through_the_entry_point_keep_their_codes_and_state(workspace):
    """End to end over loopback HTTP: `python -m provisioner` ends quickly, with --detailed-exitcode's codes, and
    what apply reported is in state."""
    import os

    from conftest import TOKEN

    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "provisioner", *args, f"--api-url={workspace.platform.url}"],
                              cwd=workspace.root, env=env, capture_output=True, text=True, timeout=120)

    for address in ("a", "b"):
        workspace.add(address)
    planned = run("plan", "--detailed-exitcode")
    assert planned.returncode == 2 and "2 to add" in planned.stdout, planned.stderr
    applied = run("apply", "--auto-approve")
    assert applied.returncode == 0 and "Apply complete! Resources: 2 added" in applied.stdout, applied.stderr
    assert set(workspace.state()["resources"]) == {"a", "b"}
    again = run("plan", "--detailed-exitcode")
    assert again.returncode == 0 and "No changes" in again.stdout, again.stderr


@pytest.mark.parametrize("args", [["schema"], ["state", "pull"], ["validate", "--json"]])
def test_output_that_cannot_be_written_is_an_error_of_the_output_not_a_bug(args, tmp_path):
    """`state pull > backup.json` on a full disk exited 1 saying "unexpected OSError ... This is a bug in the
    provisioner"; it says what failed instead (and exits 1: a script must not take the backup for written)."""
    if args[0] == "state":  # a store to pull (where there is none, `state pull` prints nothing and says so)
        subprocess.run([sys.executable, "-m", "provisioner", "workspace", "new", "--no-select", "other"], cwd=tmp_path,
                       check=True, capture_output=True, timeout=120)
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "provisioner", *args], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Error: cannot write the output: No space left on device" in result.stderr
    assert "bug" not in result.stderr and "Traceback" not in result.stderr


def test_a_local_run_with_stdout_closed_is_not_a_bug(workspace):
    """`provisioner plan --local >&-`: the embedded platform's logging asked a closed stdout whether it is a terminal,
    and the run failed with "unexpected ValueError: Unable to configure formatter 'default'"."""
    workspace.add("a")
    result = subprocess.run([sys.executable, "-m", "provisioner", "plan", "--local", "--detailed-exitcode"],
                            cwd=workspace.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=120, preexec_fn=lambda: os.close(1))
    assert result.returncode == 2, result.stderr
    assert "bug" not in result.stderr
