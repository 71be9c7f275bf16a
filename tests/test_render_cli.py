"""Command-line conventions and the views through the CLI: --no-color and NO_COLOR on every command,
one help wording per option, `show` of a saved plan and of the state, `validate --json`."""
from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from provisioner.cli import cli
from provisioner.commands.options import HELP

# Options whose name is shared by commands where it means different things.
DIFFERENT_MEANINGS = {
    "--out",         # plan: the plan file; export: a folder of manifests
    "--force",       # state push: replace another lineage; workspace delete: drop a non-empty workspace
    "--rate-limit",  # emulator: the limit it enforces; other commands: the budget the client keeps to
    "--format",      # worded from each command's own choices (test_help_and_messages checks each names only those)
}


def all_commands(group=cli, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


def test_every_command_takes_no_color_and_every_option_has_help():
    for path, command in [((), cli)] + list(all_commands()):
        options = [p for p in command.params if isinstance(p, click.Option)]
        assert any("--no-color" in o.opts for o in options), path
        for option in options:
            assert option.help and option.help.strip(), (path, option.opts)


def test_the_same_option_has_the_same_help_everywhere():
    helps: dict[str, set[str]] = {}
    for _, command in [((), cli)] + list(all_commands()):
        for option in command.params:
            if isinstance(option, click.Option):
                for name in option.opts:
                    helps.setdefault(name, set()).add(option.help)
    inconsistent = {name: texts for name, texts in helps.items() if len(texts) > 1 and name not in DIFFERENT_MEANINGS}
    assert not inconsistent, inconsistent
    for name, text in HELP.items():
        assert helps.get(name, {text}) == {text}, name


def invoke(args, env=None, color=True, cwd=None):
    return CliRunner().invoke(cli, args, env=env or {}, color=color)


@pytest.mark.parametrize("where", ["before", "after", "env", "none"])
def test_no_color_before_or_after_the_command_and_no_color_env(tmp_path, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "bad.yaml").write_text("apiVersion: provisioner/v1\nkind: Assistant\n")
    args = {"before": ["--no-color", "validate"], "after": ["validate", "--no-color"],
            "env": ["validate"], "none": ["validate"]}[where]
    env = {"NO_COLOR": "1"} if where == "env" else {"NO_COLOR": ""}
    result = CliRunner().invoke(cli, args, env=env, color=True)
    assert result.exit_code == 1
    assert ("\x1b[" in result.output + result.stderr) is (where == "none")


def test_no_color_is_accepted_by_subcommands_of_groups(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["workspace", "list", "--no-color"], ["state", "list", "--no-color"]):
        result = CliRunner().invoke(cli, args)
        # `state list` where no store is says so (docs/state.md): an error of the command, not of --no-color.
        assert result.exit_code == 0 or "there is no state at SQLite state/provisioner.db" in result.output, \
            result.output


def test_validate_json_reports_file_line_field_and_message(workspace):
    workspace.add("good")
    workspace.add("bad", speech_speed=2, voice_id="1")
    result = workspace.run("validate", "--json", api=False)
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["format"] == "provisioner-validation" and document["format_version"] == 1
    assert document["valid"] is False and document["manifest_count"] == 2
    fields = {e["field"]: e for e in document["errors"]}
    assert set(fields) == {"spec.speech_speed", "spec.voice_id"}
    error = fields["spec.speech_speed"]
    assert error["file"] == "manifests/bad.yaml" and isinstance(error["line"], int) and error["line"] > 1
    assert "at most 1.2" in error["message"]
    workspace.remove("bad")
    ok = workspace.run("validate", "--format", "json", api=False)
    assert ok.exit_code == 0
    assert json.loads(ok.output) == {"format": "provisioner-validation", "format_version": 1, "valid": True,
                                     "manifest_count": 1, "errors": []}


def test_validate_json_counts_on_an_error_the_manifests_it_counts_when_valid(workspace):
    """With an error, `manifest_count` was the documents of every file found again: under `.` it counted the vars
    and overlay files as manifests, and a file read under a raised --manifest-limit as none."""
    workspace.add("a", variables={"big": "PLACEHOLDER"})
    path = workspace.root / "manifests" / "a.yaml"
    path.write_text(path.read_text().replace("PLACEHOLDER", "1" * 150))
    workspace.write("vars/prod.yaml", "speed: 1.1\n")
    workspace.write("overlays/prod/a.yaml", "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: a\n"
                                            "spec:\n  speech_speed: ${var.speed}\n")
    args = ["validate", "--json", "--workspace", "prod", "--manifest-limit", "int-digits=200", "."]
    valid = workspace.run(*args, api=False)
    assert json.loads(valid.output)["manifest_count"] == 1, valid.all
    workspace.write("vars/prod.yaml", "speed: 2\n")
    invalid = workspace.run(*args, api=False)
    document = json.loads(invalid.output)
    assert document["valid"] is False and document["manifest_count"] == 1, invalid.all


def test_show_without_a_plan_file_shows_the_state_in_every_format(workspace):
    empty = workspace.run("show", api=False)
    assert empty.exit_code == 0 and "The state is empty" in empty.output
    workspace.add("a", use_min_interrupt_words=True, is_webhook_active=True, webhook_url="https://h.example/?k=SECRET9",
                  metadata_extra="protect: true")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    text = workspace.run("show", api=False)
    assert text.exit_code == 0
    assert '# assistant "a" (id ' in text.output and ", protected)" in text.output
    assert "use_min_interrupt_words" in text.output and "# write-only: as last applied" in text.output
    assert "webhook_url" in text.output and "(sensitive)" in text.output
    data = json.loads(workspace.run("show", "--json", api=False).output)
    assert data["format"] == "provisioner-state" and data["resources"][0]["address"] == "a"
    assert data["resources"][0]["kind"] == "assistant"
    assert data["resources"][0]["last_applied"]["webhook_url"] == "(sensitive)"
    markdown = workspace.run("show", "--format", "markdown", api=False).output
    assert "| `a` |" in markdown and "| yes |" in markdown
    everything = text.output + json.dumps(data) + markdown
    assert "SECRET9" not in everything and "sha256:" not in everything


def test_show_a_saved_plan_as_text_is_the_plans_text(workspace):
    workspace.add("a")
    planned = workspace.run("plan", "--out", "p.plan")
    shown = workspace.run("show", "p.plan", api=False)
    assert shown.exit_code == 0
    assert shown.output.strip() in planned.output and "# a will be created" in shown.output


def test_show_refuses_a_file_that_is_not_a_plan(workspace):
    workspace.write("x.json", "{}")
    result = workspace.run("show", "x.json", api=False)
    assert result.exit_code == 1 and "is not a saved plan" in result.stderr


def test_plan_json_flag_is_an_alias_of_format_json(workspace):
    workspace.add("a")
    one = json.loads(workspace.run("plan", "--json").output)
    two = json.loads(workspace.run("plan", "--format", "json").output)
    for document in (one, two):
        del document["created_at"], document["lineage"]  # no state yet: each plan has a fresh lineage
    assert one == two


def test_json_with_another_format_is_refused_as_two_formats(workspace):
    """`plan --json --format markdown` printed the JSON document and nothing said the markdown asked for was not
    (a pipeline's comment step posted JSON); every command with --format refuses two formats given, exit 1,
    before it reads or writes anything. --json with --format json is the same format twice, and is fine."""
    workspace.add("a")
    for command in (("plan", "--json", "--format", "markdown", "--out", "a.plan"), ("plan", "--format", "text", "--json"),
                    ("validate", "--json", "--format", "text"), ("state", "list", "--format", "text", "--json"),
                    ("show", "--json", "--format", "markdown")):
        refused = subprocess.run([sys.executable, "-m", "provisioner", *command], cwd=workspace.root,
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1 and refused.stdout == "", refused.stderr
        assert f"--json and --format {command[command.index('--format') + 1]} ask for two formats" in refused.stderr
    assert not (workspace.root / "a.plan").exists() and not (workspace.root / "state").exists()
    assert json.loads(workspace.run("plan", "--json", "--format", "json").output)["format"] == "provisioner-plan"


@pytest.mark.parametrize("plain", ["NO_COLOR", "--no-color"])
def test_apply_on_a_terminal_with_plain_output_prints_no_escape_sequence(workspace, plain):
    import os
    import pty
    import subprocess
    import sys

    workspace.add("one")
    workspace.add("two")
    env = {**os.environ, "PROVISIONER_API_TOKEN": "local-dev-token", "PROVISIONER_RATE_LIMIT": "off",
           "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    args = ["apply", "--auto-approve", f"--api-url={workspace.platform.url}"]
    if plain == "NO_COLOR":
        env["NO_COLOR"] = "1"
    else:
        args.append("--no-color")
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "provisioner", *args], cwd=workspace.root, env=env,
                               stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(60) == 0, output.decode(errors="replace")
    assert b"Creation complete" in output and b"\x1b" not in output, output


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"]])
def test_off_a_terminal_the_plan_is_built_plain_and_reads_as_the_styled_one_stripped(workspace, command,
                                                                                      monkeypatch):
    # Off a terminal the plan text is built without styles (not styled, then stripped by echo): the same text.
    import os

    from provisioner import render

    asked = []
    real = render.plan_text
    monkeypatch.setattr(render, "plan_text",
                        lambda plan, styled=True: asked.append(styled) or real(plan, styled=styled))
    workspace.add("one", tool_ids=[1])
    env = {"PROVISIONER_API_TOKEN": workspace.token, "PROVISIONER_RATE_LIMIT": "off"}
    url = f"--api-url={workspace.platform.url}"
    cwd = os.getcwd()
    os.chdir(workspace.root)
    try:
        styled = CliRunner().invoke(cli, ["plan", url], env=env, color=True, catch_exceptions=False)
        plain = CliRunner().invoke(cli, [*command, url], env=env, color=False, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert asked == [True, False]
    assert "\x1b[" in styled.stdout and "\x1b" not in plain.stdout and "+ tool_ids" in plain.stdout
    assert plain.stdout.startswith(click.unstyle(styled.stdout))


def test_plan_json_is_printed_a_change_at_a_time(workspace):
    """`plan --json` built the whole document's text before printing it, with the pieces the encoder made and the
    copies scrubbing and printing it made: a full graph of 8,000 objects printed 213 MB at a 1.7 GB peak. It is now
    written a change at a time: the real CLI, in a process of its own, prints 500 full assistants' plan (12 MB)
    within the peak of `plan --out`'s run of the same plan (which reads every value the document does, and writes
    its file change by change), where it took 52 MB more."""
    from test_hostile_corpus import run_cli
    from test_hostile_planfile import _full_fleet

    _full_fleet(workspace, 500)
    saved = run_cli(workspace, "plan", "--out", "p.plan", "--format", "markdown")
    printed = run_cli(workspace, "plan", "--json")
    assert saved.code == 0 and printed.code == 0, saved.stderr + printed.stderr
    size = len(printed.stdout.encode())
    assert size > 10_000_000 and json.loads(printed.stdout)["summary"]["add"] == 500
    assert (printed.max_rss_kb - saved.max_rss_kb) * 1024 < size / 4, (printed.max_rss_kb, saved.max_rss_kb, size)
