"""Meeting teams where they are: the pre-commit hook runs `provisioner validate` on the changed files, and bash
completion works as click generates it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import manifest_text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def hook():
    [only] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return only


def run_hook_on(repo: Path, changed: list[str]) -> subprocess.CompletedProcess | None:
    """What pre-commit does with the hook: keep the changed files its `files` and `types` select and, if any is
    left, run `entry` once (require_serial), with them as arguments only if pass_filenames. None: not run."""
    spec = hook()
    selected = [f for f in changed if re.search(spec["files"], f) and f.endswith((".yaml", ".yml"))]
    assert spec["require_serial"]
    if not selected:
        return None
    return subprocess.run([*spec["entry"].split(), *(selected if spec["pass_filenames"] else [])], cwd=repo,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})


def test_the_pre_commit_hook_is_well_formed():
    spec = hook()
    assert spec["id"] == "provisioner-validate" and spec["language"] == "python"
    assert spec["entry"] == "provisioner validate" and spec["types"] == ["yaml"]
    for name in ("manifests/a.yaml", "team/manifests/sub/b.yml"):
        assert re.search(spec["files"], name)
    for name in ("vars/prod.yaml", "overlays/prod/a.yaml", "provisioner.yaml", "manifests/readme.md"):
        assert not re.search(spec["files"], name)


TOOL = ("apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: lookup\nspec:\n  name: order_lookup\n"
        "  description: Look up an order.\n  endpoint: https://api.example.com/orders\n  method: GET\n")


def test_the_pre_commit_hook_validates_the_manifests_when_one_changes(tmp_path):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a", tool_ids=["tool.lookup"]))
    (tmp_path / "manifests" / "b.yaml").write_text(manifest_text("b"))
    (tmp_path / "manifests" / "tools.yaml").write_text(TOOL)
    (tmp_path / "README.md").write_text("notes\n")
    assert run_hook_on(tmp_path, ["README.md"]) is None
    # Only a.yaml changed; its tool is in another file, which a check of the changed file alone could not find.
    ok = run_hook_on(tmp_path, ["manifests/a.yaml", "README.md"])
    assert ok.returncode == 0 and "3 manifest(s) are valid" in ok.stdout, ok.stderr
    # A change that breaks a file it did not touch: the tool removed, a.yaml's reference names nothing.
    (tmp_path / "manifests" / "tools.yaml").unlink()
    dangling = run_hook_on(tmp_path, ["manifests/tools.yaml"])
    assert dangling.returncode == 1 and "manifests/a.yaml" in dangling.stderr and "tool.lookup" in dangling.stderr
    (tmp_path / "manifests" / "tools.yaml").write_text(TOOL)
    (tmp_path / "manifests" / "broken.yaml").write_text(manifest_text("broken", speech_speed=9))
    bad = run_hook_on(tmp_path, ["manifests/a.yaml", "manifests/broken.yaml"])
    assert bad.returncode == 1 and "manifests/broken.yaml" in bad.stderr and "spec.speech_speed" in bad.stderr
    (tmp_path / "manifests" / "broken.yaml").unlink()
    (tmp_path / "manifests" / "twin.yaml").write_text(manifest_text("a"))
    twins = run_hook_on(tmp_path, ["manifests/a.yaml", "manifests/twin.yaml"])
    assert twins.returncode == 1 and "manifests/twin.yaml" in twins.stderr


def test_bash_completion_completes_commands_and_options(tmp_path):
    bash = shutil.which("bash")
    assert bash, "bash is needed for the completion test"
    script = subprocess.run(["provisioner"], env={**os.environ, "_PROVISIONER_COMPLETE": "bash_source",
                                                  "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "complete -o nosort -F _provisioner_completion provisioner" in script.stdout
    (tmp_path / "completion.bash").write_text(script.stdout)
    # The completion function as bash calls it on TAB: COMP_WORDS/COMP_CWORD in, COMPREPLY out.
    probe = ('source completion.bash; COMP_WORDS=(provisioner "$1" "$2"); COMP_CWORD=$(( $# )); '
             '_provisioner_completion provisioner; printf "%s\\n" "${COMPREPLY[@]}"')
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def complete(*words):
        result = subprocess.run([bash, "-c", probe, "probe", *words], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("work") == ["workspace"]
    assert "--api-dialect" in complete("plan", "--api")
    assert set(complete("workspace", "")) >= {"list", "new", "select", "show", "delete"}


def test_the_gitignore_ignores_what_the_docs_say_runs_write(tmp_path):
    """docs/configuration.md's .gitignore block, and this repository's .gitignore, keep the files the docs'
    own commands write out of git (the README tour's my.plan and backup.json, the recipes' provisioner-out/)."""
    git = shutil.which("git")
    assert git, "git is needed"
    docs = (ROOT / "docs" / "configuration.md").read_text()
    block = re.search(r"```gitignore\n(.*?)```", docs, re.S).group(1)
    written = ["state/provisioner.db", "state/local-platform.db", "my.plan", "provisioner-out/prod/provisioner.plan",
               "exported/sales.yaml", "backup.json", "examples/environments/state/provisioner.db"]
    kept = ["manifests/sales.yaml", "vars/prod.yaml", "overlays/prod/sales.yaml", "provisioner.yaml"]
    for ignore_file in (ROOT / ".gitignore", None):
        repo = tmp_path / ("own" if ignore_file else "docs")
        subprocess.run([git, "init", "-q", str(repo)], check=True)
        (repo / ".gitignore").write_text(ignore_file.read_text() if ignore_file else block)
        result = subprocess.run([git, "check-ignore", "--no-index", *written, *kept], cwd=repo, capture_output=True,
                                text=True)
        ignored = result.stdout.split()
        assert [p for p in written if p not in ignored and not p.startswith("examples/")] == [], ignore_file
        assert not set(kept) & set(ignored)
    assert "my.plan" in (ROOT / "README.md").read_text() and "provisioner-out" in (ROOT / "docs" / "ci.md").read_text()


def test_the_postgresql_skip_reason_points_at_a_section_that_exists(monkeypatch):
    import pytest

    import pg_support

    monkeypatch.delenv(pg_support.PG_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        pg_support.pg_dsn()
    document, section = re.search(r"\((\S+\.md), '([^']+)', says how", str(skipped.value)).groups()
    text = (ROOT / document).read_text()
    assert f"## {section}\n" in text
    steps = text[text.index(f"## {section}"):]
    # PostgreSQL refuses to run as root: both server commands are shown run as the postgres user from root.
    assert "runuser -u postgres --" in steps and re.search(r"prefix both commands with `runuser -u postgres --`",
                                                           steps)
