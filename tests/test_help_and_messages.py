"""Messages that say what is really wrong, and help that tells the truth."""
from __future__ import annotations

import re


def test_a_voice_of_another_engine_is_named_as_such_even_when_no_manifest_uses_that_engine(workspace):
    workspace.add("sales", voice_id=11)  # Nova: a multimodal voice; every manifest here is pipeline
    workspace.add("support", voice_id=999)
    result = workspace.run("plan")
    assert result.exit_code == 1
    assert "spec.voice_id: voice 11 (Nova) exists, but for engine_type multimodal, not pipeline: set " \
           "engine_type: multimodal, or choose one of the pipeline voices: 1 (Sarah)" in result.stderr
    assert "voice 11 does not exist" not in result.stderr
    assert "spec.voice_id: voice 999 does not exist for engine_type pipeline" in result.stderr


def test_a_tab_in_yaml_is_named_with_its_line_and_column_in_manifests_vars_and_overlays(workspace):
    workspace.write("manifests/a.yaml", "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: a\n"
                                        "spec:\n\tassistant_name: A\n")
    workspace.write("vars/prod.yaml", "speed: 1\n\tmodel: x\n")
    workspace.write("overlays/prod/a.yaml", "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: a\n"
                                            "spec:\n  voice_id: 1\n  \t speech_speed: 1\n")
    result = workspace.run("validate", "--workspace", "prod", api=False)
    assert result.exit_code == 1
    advice = "YAML indents with spaces only; replace the tab with spaces"
    for where, line, column in (("manifests/a.yaml", 6, 1), ("vars/prod.yaml", 2, 1), ("overlays/prod/a.yaml", 7, 3)):
        expected = f"{where}:{line}: invalid YAML: a tab character at line {line}, column {column}: {advice}"
        if where == "manifests/a.yaml":  # the vars file stops the run before the manifests are read
            expected_alone = workspace.run("validate", api=False).stderr
            assert expected in expected_alone, expected_alone
        else:
            assert expected in result.stderr, result.stderr
    workspace.write("provisioner.yaml", "project: acme\n\tparallelism: 3\n")
    config = workspace.run("validate", api=False)
    assert config.exit_code == 1 and "provisioner.yaml:2: invalid YAML: a tab character at line 2, column 1" \
        in config.stderr


def _commands(group=None, path=()):
    import click

    from provisioner.cli import cli

    group = group or cli
    for name in group.list_commands(None):  # the root group loads its commands by name (cli.LazyCommandGroup)
        command = group.get_command(None, name)
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))


def _help_of(*path: str) -> str:
    from click.testing import CliRunner

    from provisioner.cli import cli

    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_format_help_names_only_the_formats_the_command_offers():
    import click

    checked = 0
    for path, command in _commands():
        option = next((p for p in command.params if isinstance(p, click.Option) and "--format" in p.opts), None)
        if option is None:
            continue
        named = set(re.findall(r"\b(text|json|markdown|yaml|html)\b", option.help))
        assert named == set(option.type.choices), (path, option.help)
        checked += 1
    assert checked >= 4
    schema = _help_of("schema")
    assert "text for people" not in schema and "JSON Schema for editors" in schema


def test_help_never_claims_a_default_that_provisioner_yaml_overrides(workspace):
    """`--backend` said [default: sqlite] in a repository whose provisioner.yaml sets postgres."""
    plan = _help_of("plan")
    assert "[default: sqlite]" not in plan
    assert "[default: (sqlite, or as the environment or provisioner.yaml sets it)]" in plan
    assert "[default: (10, or as the environment or provisioner.yaml sets it); 1<=x<=100]" in plan


def test_every_option_that_a_provisioner_variable_sets_names_it_in_help():
    import click

    from provisioner.config import ENV_KEYS

    by_key = {key: name for name, key in ENV_KEYS.items()}
    seen = set()
    for path, command in _commands():
        if path[0] == "emulator":
            continue
        for option in command.params:
            if not isinstance(option, click.Option):
                continue
            key = "state" if option.name == "state_path" else option.name
            if key in by_key:
                assert by_key[key] in option.help, (path, option.opts)
                seen.add(key)
            if option.envvar:
                assert option.envvar in option.help, (path, option.opts)
    assert seen == set(by_key) - {"project"}  # project is set only in provisioner.yaml or PROVISIONER_PROJECT
    assert "[env PROVISIONER_MAX_RETRIES]" in _help_of("apply")
    assert "[env PROVISIONER_LOCK_TIMEOUT]" in _help_of("state", "list")


def test_a_plan_loads_only_its_own_command_and_no_policy_engine(tmp_path):
    """The root group loads a command's module when it runs (cli.LazyCommandGroup), and a run without policy
    documents never imports the policy engine: what every run pays at start-up stays small."""
    import subprocess
    import sys

    probe = ("import sys; from provisioner.cli import cli; "
             "sys.argv = ['provisioner', 'plan', '--help']; "
             "import contextlib, io\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    try: cli.main(standalone_mode=False)\n"
             "    except SystemExit: pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('provisioner.commands.', 'provisioner.policy', "
             "'provisioner.emulator.command', 'ruamel'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True)
    modules = eval(loaded.stdout)  # a printed list of module names
    assert "provisioner.commands.plan_apply" in modules
    assert not [m for m in modules if m.startswith(("provisioner.commands.pull", "provisioner.commands.adopt",
                                                    "provisioner.policy", "provisioner.emulator.command",
                                                    "ruamel"))], modules


def test_sigterm_while_planning_says_so_and_exits_143(tmp_path):
    """A pipeline cancelling a job during its plan ended it with the default action: exit 143 and not a word."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    from conftest import manifest_text

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers: the plan waits on its first read
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env.update(PROVISIONER_API_TOKEN="t", PROVISIONER_RATE_LIMIT="off")
    run = subprocess.Popen([sys.executable, "-m", "provisioner", "plan",
                            f"--api-url=http://127.0.0.1:{silent.getsockname()[1]}/api"],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until it has connected (it is planning)
            silent.settimeout(0.2)
            try:
                accepted, _ = silent.accept()
                break
            except socket.timeout:
                continue
        time.sleep(0.3)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=30)
    finally:
        run.kill()
        silent.close()
    assert run.returncode == 143 and "Terminated (SIGTERM)." in err, (run.returncode, out, err)
    assert "Traceback" not in err
