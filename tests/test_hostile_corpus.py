"""Hostile manifests through the real CLI: each fails with exit 1 and a message naming the file and line,
never a traceback, never a platform request, in bounded memory and time.

Each run is a separate process (`python -m provisioner`) under an address-space limit, so a loader that
expanded an alias bomb or read a 50 MB file whole would be killed or measured, not just slow.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import manifest_text

CORPUS = Path(__file__).parent / "hostile_corpus"
MEMORY_LIMIT = 1024 * 1024 * 1024      # address space of the CLI process
MAX_RSS_KB = 250 * 1024                # peak resident memory it may reach
TIME_LIMIT = 60                        # seconds; each case takes about one


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    max_rss_kb: int
    seconds: float


def run_cli(workspace, *args: str) -> Run:
    """The installed CLI in a process of its own, in the workspace, limited in memory; its peak RSS measured."""
    argv = list(args)
    if argv[0] in ("plan", "apply", "destroy"):
        argv.insert(1, f"--api-url={workspace.platform.url}")
    env = {**os.environ, "PROVISIONER_API_TOKEN": workspace.token}
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rusage") as measured:
        # Through a small launcher (_LAUNCH), which starts the CLI and reports its exit and peak RSS: a process forked
        # from this test worker counts the worker's own memory in its peak (the fork's copy of it, kept across exec),
        # so the figure grew with the tests the worker had run before this one.
        process = subprocess.Popen([sys.executable, "-c", _LAUNCH, str(MEMORY_LIMIT), measured.name, *argv],
                                   cwd=workspace.root, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        while process.poll() is None:
            if time.monotonic() - started > TIME_LIMIT:
                os.killpg(process.pid, 9)
                process.wait()
                pytest.fail(f"{args} took more than {TIME_LIMIT}s")
            time.sleep(0.02)
        code, max_rss_kb = map(int, measured.read().split())
        out.seek(0)
        err.seek(0)
        return Run(code, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   max_rss_kb, time.monotonic() - started)


# Run by a fresh interpreter, whose own memory is small: `python -m provisioner ARGS` in a child under an address-space
# limit, then "exit-code peak-rss-kB" into the file named by its second argument.
_LAUNCH = """
import os, resource, sys
limit, report, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execv(sys.executable, [sys.executable, "-m", "provisioner", *argv])
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as file:
    file.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)


def _big_file(path: Path) -> None:
    """A 50 MB manifest: valid YAML, so only the size limit stops it."""
    line = "  # " + "x" * 1020 + "\n"
    with open(path, "w") as handle:
        handle.write("apiVersion: provisioner/v1\nkind: Assistant\nmetadata: {name: big}\nspec:\n")
        for _ in range(50 * 1024):
            handle.write(line)


def _symlink_loop(root: Path) -> None:
    (root / "manifests" / "team").mkdir(parents=True)
    (root / "manifests" / "team" / "again").symlink_to("..", target_is_directory=True)


def _unix_socket(root: Path) -> None:
    path = root / "manifests" / "agent.yaml"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
    except OSError as error:  # path too long for AF_UNIX in some temp dirs
        pytest.skip(f"cannot create a socket here: {error}")
    finally:
        server.close()


BOM_BAD = "\ufeff" + manifest_text("bom", voice_id="one")

# name -> (how to create it under the workspace, what stderr must say: a regex)
CASES = {
    "alias bomb": (lambda r: shutil.copy(CORPUS / "alias_bomb.yaml", r / "manifests"),
                   r"manifests/alias_bomb\.yaml:\d+: more than 100000 values"),
    "merge-key alias bomb": (lambda r: shutil.copy(CORPUS / "merge_bomb.yaml", r / "manifests"),
                             r"manifests/merge_bomb\.yaml:\d+: more than 1000 uses of YAML aliases"),
    "long-string alias bomb": (lambda r: _write(r / "manifests/strings.yaml", manifest_text("strings").replace(
        "spec:\n", "spec:\n  variables:\n    a: &a " + "x" * 100_000 + "\n"
        + "".join(f"    k{i}: *a\n" for i in range(100)))),
        r"manifests/strings\.yaml:\d+: more than 2097152 characters of values in one file once its aliases"),
    "recursive alias": (lambda r: shutil.copy(CORPUS / "recursive_alias.yaml", r / "manifests"),
                        r"manifests/recursive_alias\.yaml:6: recursive alias \*v"),
    "complex key": (lambda r: shutil.copy(CORPUS / "complex_key.yaml", r / "manifests"),
                    r"manifests/complex_key\.yaml:5: a mapping key must be a plain value"),
    "name with a newline": (lambda r: shutil.copy(CORPUS / "name_newline.yaml", r / "manifests"),
                            r"manifests/name_newline\.yaml:4: metadata\.name: must be .*\(got 'alpha\\n'\)"),
    **{f"name with a {kind.replace('_', ' ')}": (
        lambda r, kind=kind: shutil.copy(CORPUS / f"name_{kind}.yaml", r / "manifests"),
        rf"manifests/name_{kind}\.yaml:4: metadata\.name: must be")
       for kind in ("line_separator", "paragraph_separator", "next_line", "nul", "carriage_return", "crlf")},
    "NaN": (lambda r: shutil.copy(CORPUS / "nan.yaml", r / "manifests"),
            r"manifests/nan\.yaml:5: spec\.speech_speed: \.nan is not a finite number"),
    "tabs": (lambda r: shutil.copy(CORPUS / "tabs.yaml", r / "manifests"),
             r"manifests/tabs\.yaml:4: invalid YAML"),
    "python tag": (lambda r: shutil.copy(CORPUS / "python_tag.yaml", r / "manifests"),
                   r"manifests/python_tag\.yaml:4: spec: invalid YAML: could not determine a constructor"),
    "binary tag": (lambda r: shutil.copy(CORPUS / "binary_tag.yaml", r / "manifests"),
                   r"manifests/binary_tag\.yaml:5: spec\.system_prompt: the YAML tag !!binary is not supported"),
    "10,000-deep nesting": (lambda r: _write(r / "manifests/deep.yaml", "a: " + "[" * 10000 + "]" * 10000),
                            r"manifests/deep\.yaml:1: nested more than 64 levels deep"),
    "deep block nesting": (lambda r: _write(r / "manifests/deep.yml", "".join(" " * i + f"k{i}:\n"
                                                                          for i in range(1000))),
                           r"manifests/deep\.yml:6[45]: nested more than 64 levels deep"),
    "5,000-digit integer": (lambda r: _write(r / "manifests/int.yaml", manifest_text("int") + "  x: " + "7" * 5000),
                            r"manifests/int\.yaml:\d+: spec\.x: an integer of 5000 characters"),
    "50 MB file": (lambda r: _big_file(r / "manifests" / "big.yaml"),
                   r"manifests/big\.yaml:1: the file is \d+ bytes, more than the limit"),
    "binary junk": (lambda r: _write(r / "manifests/junk.yaml", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40),
                    r"manifests/junk\.yaml:\d+: not UTF-8 text"),
    "NUL in text": (lambda r: _write(r / "manifests/nul.yaml", "apiVersion: provisioner/v1\nkind: \x00\n"),
                    r"manifests/nul\.yaml:2: invalid YAML: the character U\+0000 is not allowed"),
    "BOM then an error": (lambda r: _write(r / "manifests/bom.yaml", BOM_BAD),
                          rf"manifests/bom\.yaml:{BOM_BAD.splitlines().index('  voice_id: one') + 1}: "
                          r"spec\.voice_id: must be an integer"),
    "upper-case suffix": (lambda r: _write(r / "manifests/UPPER.YAML", manifest_text("upper", voice_id="x")),
                          r"manifests/UPPER\.YAML:\d+: spec\.voice_id"),
    "huge value": (lambda r: _write(r / "manifests/long.yaml", manifest_text("long", voice_id="v" * 2_000_000)),
                   r"manifests/long\.yaml:\d+: spec\.voice_id: must be an integer \(got 'v{20,80}…\)"),
    "symlink loop": (_symlink_loop, r"manifests/team/again:1: symbolic link loop"),
    "self-referencing link": (lambda r: (r / "manifests" / "self.yaml").symlink_to("self.yaml"),
                              r"manifests/self\.yaml:1: symbolic link loop"),
    "dangling link": (lambda r: (r / "manifests" / "gone.yaml").symlink_to("/nonexistent/gone.yaml"),
                      r"manifests/gone\.yaml:1: dangling symbolic link"),
    "dangling directory link": (lambda r: (r / "manifests" / "team").symlink_to("../missing"),
                                r"manifests/team:1: dangling symbolic link"),
    "FIFO": (lambda r: os.mkfifo(r / "manifests" / "pipe.yaml"), r"manifests/pipe\.yaml:1: not a regular file but a FIFO"),
    "socket": (_unix_socket, r"manifests/agent\.yaml:1: not a regular file but a socket"),
    "link into /proc": (lambda r: (r / "manifests" / "env.yaml").symlink_to("/proc/self/environ"),
                        r"manifests/env\.yaml:1: a link into /proc, /sys or /dev"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_manifest_fails_cleanly_offline_and_in_bounded_memory(workspace, case):
    create, expected = CASES[case]
    workspace.add("good")  # a plan of it alone would read the platform
    create(workspace.root)
    for command in ("validate", "plan"):
        run = run_cli(workspace, command)
        output = run.stdout + run.stderr
        assert run.code == 1, (command, output[-2000:])
        assert re.search(expected, run.stderr), (command, run.stderr[-2000:])
        assert "Traceback" not in output and "unexpected" not in output, output[-2000:]
        assert len(run.stderr) < 5000, "messages quote values shortened, not whole"
        assert run.max_rss_kb < MAX_RSS_KB, f"{command}: peak RSS {run.max_rss_kb} kB"
    assert workspace.platform.stats()["total"] == 0
    assert not workspace.state_file.exists()
