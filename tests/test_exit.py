"""The program's exit (cli.entry): the atexit handlers run and the output is complete, but the heap is not freed;
Python's normal exit whenever something could be lost."""
import subprocess
import sys

from provisioner import __version__


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_module_entry_exits_with_the_code_and_its_whole_output():
    version = subprocess.run([sys.executable, "-m", "provisioner", "--version"], capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and __version__ in version.stdout
    # A large output through a pipe (the schema, well over a pipe's 64 KiB) arrives whole, byte for byte what
    # the in-process main() writes before Python's own exit.
    fast = subprocess.run([sys.executable, "-m", "provisioner", "schema"], capture_output=True, text=True, timeout=120)
    slow = run("import sys, provisioner.cli as cli\nsys.argv = ['provisioner', 'schema']\ncli.main()")
    assert fast.returncode == slow.returncode == 0
    assert len(fast.stdout) > 65536 and fast.stdout == slow.stdout


def test_atexit_handlers_run_and_an_error_keeps_its_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: provisioner/v1\nkind: Assistant\nmetadata: {name: x}\nspec: {}\n")
    result = run("import atexit, sys, provisioner.cli as cli\n"
                 "atexit.register(lambda: print('atexit ran', flush=True))\n"
                 f"sys.argv = ['provisioner', 'validate', {str(bad)!r}]\n"
                 "cli.entry()\n"
                 "print('not reached')\n")
    assert result.returncode == 1, result.stderr
    assert "atexit ran" in result.stdout and "not reached" not in result.stdout
    assert "bad.yaml" in result.stderr
    assert result.stdout.count("atexit ran") == 1  # once, not again at the process's end


def test_a_running_thread_that_is_not_a_daemon_gets_the_normal_exit():
    result = run("import sys, threading, time, provisioner.cli as cli\n"
                 "def late():\n    time.sleep(0.5)\n    print('thread finished', flush=True)\n"
                 "threading.Thread(target=late).start()\n"
                 "sys.argv = ['provisioner', '--version']\n"
                 "cli.entry()\n")
    assert result.returncode == 0, result.stderr
    assert "thread finished" in result.stdout  # Python waited for it, as without the fast exit


def test_exit_codes_are_kept_whatever_their_type():
    for code, expected in (("3", 3), ("None", 0), ("'a message'", 1), ("True", 1)):
        result = run(f"import provisioner.cli as cli\ncli.exit_without_teardown({code})\n")
        assert result.returncode == expected, (code, result.stderr)
    assert "a message" in run("import provisioner.cli as cli\ncli.exit_without_teardown('a message')\n").stderr
