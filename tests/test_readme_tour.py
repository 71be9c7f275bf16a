"""The README's tour works as written: its commands, in order, in a copy of the repository, against the
embedded local platform (and the protected example can be destroyed the way the README says)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from provisioner.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def tour_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A tour\n.*?```bash\n(.*?)```", readme, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def run(args: list[str], stdin: str = "yes\n"):
    result = CliRunner().invoke(cli, args, input=stdin, env={"NO_COLOR": "1"}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_the_readme_tour_runs_as_written(tmp_path, monkeypatch):
    for keep in ("manifests", "provisioner.yaml", "README.md"):
        source = ROOT / keep
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / keep)
    for variable in [v for v in os.environ if v.startswith("PROVISIONER_")]:
        monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    commands = tour_commands()
    assert len(commands) >= 20 and commands[-1].startswith("provisioner emulator")
    ids: dict[str, str] = {}
    for line in commands[:-1]:
        words = shlex.split(line, comments=True)
        assert words[0] == "provisioner", line
        args, out_file = words[1:], None
        if ">" in args:
            args, out_file = args[:args.index(">")], args[args.index(">") + 1]
        args = [ids.get("concierge", word) if word == "ID" else word for word in args]
        code, stdout, stderr = run(args)
        assert code == 0, f"{line}\n{stdout}\n{stderr}"
        if out_file:
            Path(out_file).write_text(stdout)
        if args[:2] == ["state", "list"]:
            ids.update(re.findall(r"^(\S+)\tid=(\d+)", stdout, re.M))
    assert "concierge" in ids and Path("my.plan").is_file() and Path("backup.json").read_text().startswith("{")

    # The last line starts the local platform for other tools: it serves until stopped.
    words = shlex.split(commands[-1], comments=True)
    words[words.index("--port") + 1] = "0"  # a free port, not 8787
    emulator = subprocess.Popen([str(Path(sys.executable).parent / words[0]), *words[1:]], stdout=subprocess.PIPE,
                                text=True)
    try:
        assert re.match(r"Platform emulator: base URL http://127\.0\.0\.1:\d+/api", emulator.stdout.readline())
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)

    # As the README says: a protected assistant is destroyed by removing protect, applying, then destroying.
    refused = run(["destroy", "--local", "--auto-approve"])
    assert refused[0] == 1 and "support-inbound" in refused[2]
    support = Path("manifests/support.yaml")
    support.write_text(re.sub(r"\n\s*protect: true[^\n]*", "", support.read_text()))
    assert run(["apply", "--local", "--auto-approve"])[0] == 0
    code, stdout, stderr = run(["destroy", "--local", "--auto-approve"])
    assert code == 0, stdout + stderr
    assert run(["state", "list"])[1] == ""
