"""Manifest discovery and loader limits: nothing skipped without a word, nothing destroyed by omission,
every limit named in its message and raisable."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import click
import pytest

from provisioner.cli import cli
from provisioner.errors import ManifestError
from provisioner.manifest import Limits, load_manifests
from conftest import manifest_text


def errors_of(paths, **kwargs):
    with pytest.raises(ManifestError) as caught:
        load_manifests(paths, **kwargs)
    return [str(p) for p in caught.value.problems]


def test_suffixes_count_in_any_case_and_a_named_file_is_read_whatever_its_suffix(tmp_path):
    (tmp_path / "a.YAML").write_text(manifest_text("a"))
    (tmp_path / "b.Yml").write_text(manifest_text("b"))
    (tmp_path / "c.txt").write_text(manifest_text("c"))
    skipped: list[str] = []
    assert [m.address for m in load_manifests([tmp_path], skipped=skipped)] == ["a", "b"]
    assert skipped == [str(tmp_path / "c.txt")]
    assert [m.address for m in load_manifests([tmp_path / "c.txt"])] == ["c"]


def test_a_symlinked_directory_is_followed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "s.yaml").write_text(manifest_text("s"))
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a"))
    (tmp_path / "manifests" / "shared").symlink_to(shared, target_is_directory=True)
    (tmp_path / "manifests" / "link.yaml").symlink_to(tmp_path / "manifests" / "a.yaml")  # same file: once
    assert [m.address for m in load_manifests([tmp_path / "manifests"])] == ["a", "s"]


def test_broken_entries_are_errors_not_skipped(tmp_path):
    (tmp_path / "a.yaml").write_text(manifest_text("a"))
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = "\n".join(errors_of([tmp_path]))
    assert "dangling symbolic link" in found and "gone.yaml" in found
    assert "symbolic link loop" in found and "loop" in found


def test_addresses_must_match_whole(tmp_path):
    for bad in ('"alpha\\n"', '"alpha\\nbeta"', '"-a"', '"a" ', "'Alpha'"):
        path = tmp_path / "m.yaml"
        path.write_text(manifest_text("placeholder").replace("name: placeholder", f"name: {bad}"))
        if bad.strip() == '"a"':
            assert load_manifests([path])[0].address == "a"
            continue
        [error] = errors_of([path])
        assert "metadata.name: must be 1-63 lowercase letters" in error, bad


@pytest.mark.parametrize("limit, text, message", [
    ("aliases", "a: &a 1\nb: [*a, *a, *a]\n", "more than 2 uses of YAML aliases"),
    ("depth", "a: [[[1]]]\n", "nested more than 3 levels deep"),
    ("nodes", "a: [1, 2, 3, 4, 5, 6]\n", "more than 5 values in one file"),
    ("int-digits", "a: 123456\n", "an integer of 6 characters is longer than the limit of 5"),
    ("bytes", "a: " + "x" * 100 + "\n", "bytes, more than the limit of 50"),
])
def test_each_limit_names_itself_and_how_to_raise_it(tmp_path, limit, text, message):
    values = {"aliases": 2, "depth": 3, "nodes": 5, "int-digits": 5, "bytes": 50}
    path = tmp_path / "m.yaml"
    path.write_text(text)
    [error] = errors_of([path], limits=Limits.parse([f"{limit}={values[limit]}"]))
    assert message in error and f"--manifest-limit {limit}=N" in error and error.startswith(f"{path}:")
    # Raised far enough, the same file loads (and fails only as a manifest).
    others = "\n".join(errors_of([path], limits=Limits.parse([f"{limit}=1m"])))
    assert "--manifest-limit" not in others and "unknown field" in others


@pytest.mark.skipif(not getattr(__import__("yaml"), "__with_libyaml__", False), reason="libyaml's own bound")
@pytest.mark.parametrize("plain", [True, False])
def test_a_nesting_beyond_the_parsers_own_bound_does_not_blame_a_raised_limit(tmp_path, plain):
    """libyaml stops at 1000 levels whatever --manifest-limit depth says: under depth=5000, a file 1500 levels deep
    was "nested more than 5000 levels deep", with the advice to raise the limit that was not the one met."""
    path = tmp_path / "m.yaml"
    path.write_text(("a: &x 1\n" if not plain else "") + "b: " + "[" * 1500 + "]" * 1500 + "\n")
    [error] = errors_of([path], limits=Limits.parse(["depth=5000"]))
    assert "nested more than 1000 levels deep, the most the YAML parser (libyaml) reads" in error, error
    assert "5000" not in error and "raise it" not in error
    [error] = errors_of([path], limits=Limits.parse(["depth=200"]))  # a limit below libyaml's: as before
    assert "nested more than 200 levels deep; if the file is meant to be this way, raise it" in error, error


def test_limits_parse_and_refuse_nonsense():
    assert Limits.parse(["bytes=8M", "DEPTH=100", "int-digits=30"]) == Limits(bytes=8 * 1024 ** 2, depth=100,
                                                                              int_digits=30)
    for bad in ("bytes", "size=1", "depth=0", "depth=-1", "nodes=lots"):
        with pytest.raises(ValueError):
            Limits.parse([bad])


def test_manifest_limit_flag_on_the_cli(workspace):
    workspace.write("manifests/anchors.yaml", manifest_text("a").replace("spec:\n", "spec:\n  variables: &v {x: 1}\n")
                    .replace("initial_message: Hello!", "initial_message: Hello!\n  end_call_tool: {description: d}"))
    assert workspace.run("validate", api=False).exit_code == 0
    low = workspace.run("validate", "--manifest-limit", "nodes=10", api=False)
    assert low.exit_code == 1 and re.search(r"manifests/anchors.yaml:\d+: more than 10 values", low.stderr)
    bad = workspace.run("validate", "--manifest-limit", "nodes=ten", api=False)
    assert bad.exit_code != 0 and "not a positive whole number" in bad.stderr


def test_every_command_that_reads_manifests_takes_the_manifest_limit_its_error_names(workspace):
    """A manifest over a default bound, which `plan --manifest-limit int-digits=200` reads, could not be rendered
    for review: the loader's error said "raise it with --manifest-limit int-digits=N", and `render` had no such
    option ("No such option '--manifest-limit'"). Every command that reads manifests takes it."""
    workspace.add("a", variables={"n": int("9" * 101)})
    refused = workspace.run("render", api=False)
    assert refused.exit_code == 1 and "raise it with --manifest-limit int-digits=N" in refused.stderr, refused.all
    rendered = workspace.run("render", "--manifest-limit", "int-digits=200", api=False)
    assert rendered.exit_code == 0 and "9" * 101 in rendered.output, rendered.all
    context = click.Context(cli)
    readers = [name for name in cli.list_commands(context)
               if {"paths", "address"} & {p.name for p in cli.get_command(context, name).params}]
    assert sorted(readers) == ["apply", "destroy", "export", "import", "plan", "pull", "render", "validate"]
    lacking = [name for name in readers
               if "manifest_limits" not in {p.name for p in cli.get_command(context, name).params}]
    assert not lacking, lacking


def test_manifest_limit_applies_to_vars_files_and_overlays_as_to_manifests(workspace):
    """They are read by the same loader: --manifest-limit raises (or lowers) their bounds too; they were read
    with the defaults whatever the flag said, so a big vars file could not be allowed at all."""
    workspace.add("a")
    workspace.write("vars/default.yaml", "regions: [" + ", ".join(f"r{i}" for i in range(60)) + "]\n")
    assert workspace.run("validate", api=False).exit_code == 0
    low = workspace.run("validate", "--manifest-limit", "nodes=40", api=False)
    assert low.exit_code == 1 and re.search(r"vars/default.yaml:\d+: more than 40 values", low.stderr), low.all
    workspace.write("vars/default.yaml", "{}\n")
    workspace.write("overlays/default/a.yaml", "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: a\n"
                    "spec:\n  variables: {" + ", ".join(f"k{i}: v" for i in range(30)) + "}\n")
    low = workspace.run("validate", "--manifest-limit", "nodes=40", api=False)
    assert low.exit_code == 1 and re.search(r"overlays/default/a.yaml:\d+: more than 40 values", low.stderr), low.all


def test_a_vars_file_or_overlay_folder_linked_out_of_the_project_is_not_read(workspace, tmp_path_factory):
    """They are found by name, not searched, so the manifests' link rule did not reach them: a pull request could
    link vars/default.yaml to a CI machine's file and have its values printed in the plan."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "ci.json").write_text('{"note": "ci-secret-value"}\n')
    (outside / "ov").mkdir()
    (outside / "ov" / "x.yaml").write_text("apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: a\n"
                                           "spec:\n  system_prompt: from-outside\n")
    workspace.add("a", variables={"k": "${var.note}"})
    (workspace.root / "vars").mkdir()
    (workspace.root / "vars" / "default.yaml").symlink_to(outside / "ci.json")
    refused = workspace.run("render", api=False)
    assert refused.exit_code == 1 and "ci-secret-value" not in refused.all, refused.all
    assert "vars/default.yaml:1: a link out of the project" in refused.stderr, refused.all
    (workspace.root / "vars" / "default.yaml").unlink()
    (workspace.root / "vars" / "default.yaml").symlink_to("/proc/self/environ")
    assert "into /proc" in workspace.run("render", api=False).stderr
    (workspace.root / "vars" / "default.yaml").unlink()
    (workspace.root / "vars" / "prod.yaml").write_text("note: fine\n")
    (workspace.root / "overlays").mkdir()
    (workspace.root / "overlays" / "prod").symlink_to(outside / "ov", target_is_directory=True)
    refused = workspace.run("render", "--workspace", "prod", api=False)
    assert refused.exit_code == 1 and "from-outside" not in refused.all, refused.all
    assert "overlays/prod:1: a link out of the project" in refused.stderr, refused.all
    # A link that stays inside the project is read as before.
    (workspace.root / "overlays" / "prod").unlink()
    (workspace.root / "shared").mkdir()
    (workspace.root / "shared" / "vars.yaml").write_text("note: inside\n")
    (workspace.root / "vars" / "default.yaml").symlink_to(workspace.root / "shared" / "vars.yaml")
    rendered = workspace.run("render", api=False)
    assert rendered.exit_code == 0 and "k: inside" in rendered.output, rendered.all


@pytest.mark.parametrize("labels", ["false", "[]", "0", '""'])
def test_labels_that_are_not_a_mapping_are_refused_even_when_falsy(workspace, labels):
    workspace.add("a", metadata_extra=f"labels: {labels}")
    result = workspace.run("validate", api=False)
    assert result.exit_code == 1 and "metadata.labels: labels must map strings to strings" in result.stderr, \
        result.all
    workspace.add("a", metadata_extra="labels:")  # left empty: no labels, as before
    assert workspace.run("validate", api=False).exit_code == 0


def test_a_reference_written_with_escapes_is_a_reference_whatever_else_the_file_holds(workspace):
    """`"\\x24{var.missing}"` is `${var.missing}` once read: it was accepted as text unless a `${` stood elsewhere
    in the same file, and then refused as undefined."""
    workspace.add("a", variables={"k": "PLACEHOLDER"})
    path = workspace.root / "manifests" / "a.yaml"
    path.write_text(path.read_text().replace("PLACEHOLDER", '"\\x24{var.missing}"'))
    alone = workspace.run("validate", api=False)
    assert alone.exit_code == 1 and "undefined variable 'missing'" in alone.stderr, alone.all
    path.write_text(path.read_text().replace('"\\x24{var.missing}"', '"\\u0024{var.present}"'))
    rendered = workspace.run("render", "--var", "present=hello", api=False)
    assert rendered.exit_code == 0 and "k: hello" in rendered.output, rendered.all


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_reference_joined_by_an_escaped_line_break_is_a_reference_whatever_else_the_file_holds(workspace, line_end):
    """`"$\\` at a line's end and `{var.x}"` on the next read as `${var.x}` (the escaped break joins the lines):
    it was sent as the text `${var.x}` unless a `${` stood elsewhere in the same file."""
    workspace.add("a", variables={"k": "PLACEHOLDER"})
    path = workspace.root / "manifests" / "a.yaml"
    joined = path.read_text().replace("PLACEHOLDER", '"$\\\n    {var.present}"').replace("\n", line_end)
    path.write_bytes(joined.encode())
    rendered = workspace.run("render", "--var", "present=hello", api=False)
    assert rendered.exit_code == 0 and "k: hello" in rendered.output, rendered.all


@pytest.mark.parametrize("text, line, said", [
    (b'apiVersion: provisioner/v1\rkind: Assistant\rmetadata:\r  name: a\rspec:\r  assistant_name: "A\x01"\r', 6,
     "U+0001"),                                        # lone CR line ends: PyYAML counts them, so do these
    (b"apiVersion: provisioner/v1\rkind: Assistant\rmetadata:\r  name: a\rspec:\r  assistant_name: caf\xe9\r", 6,
     "not UTF-8"),
    (b'apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: a\nspec:\n  assistant_name: "Open\n'
     b"  voice_id: 1\n  k1: v\n  k2: v\n", 10, "(while scanning a quoted scalar, from line 6)"),
])
def test_yaml_errors_name_the_line_where_they_are_and_where_an_unclosed_value_began(tmp_path, text, line, said):
    path = tmp_path / "m.yaml"
    path.write_bytes(text)
    [error] = errors_of([path])
    assert error.startswith(f"{path}:{line}:") and said in error, error


@pytest.mark.parametrize("value, line", [("[${var.tool}]", 6), ("[tool.a,\n    ${var.tool}]", 7),
                                         ("{k: ${var.x}}", 6), ("[$${literal}]", 6)])
def test_a_reference_unquoted_in_a_flow_collection_is_said_to_need_quotes(tmp_path, value, line):
    """`[${var.tool}]`: the reference's `{` opens a flow mapping there, and libyaml's "did not find expected ',' or
    ']'" said nothing of the reference or of the quotes it needs."""
    path = tmp_path / "m.yaml"
    path.write_text(f"apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: a\nspec:\n  tool_ids: {value}\n")
    [error] = errors_of([path])
    assert error.startswith(f"{path}:{line}:") and 'must be quoted: write "${var.NAME}"' in error, error


def test_a_key_yaml_reads_as_another_type_is_named_as_written_at_its_own_line(tmp_path):
    """`on:` is true and `404:` a number to YAML: the problem pointed at the mapping's line, under a path like
    `spec.variables[1]` that reads as a list index."""
    path = tmp_path / "m.yaml"
    path.write_text(manifest_text("a").replace("spec:\n", "spec:\n  variables:\n    region: us\n    on: x\n"
                                                          "    404: y\n"))
    lines = path.read_text().splitlines()
    errors = errors_of([path])
    assert any(e.startswith(f"{path}:{lines.index('    on: x') + 1}: spec.variables.on") for e in errors), errors
    assert any(e.startswith(f"{path}:{lines.index('    404: y') + 1}: spec.variables.404") for e in errors), errors


@pytest.mark.parametrize("key", ["~", "null", "Null"])
def test_a_null_key_is_named_as_written_at_its_own_line(tmp_path, key):
    """`~:` and `null:` are a null key: pydantic's path carries it as the text "None", which no key is written as,
    so the problem pointed at the mapping's line (or at `spec`), as `spec.None`."""
    path = tmp_path / "m.yaml"
    path.write_text(manifest_text("a").replace("spec:\n", f"spec:\n  variables:\n    region: us\n    {key}: x\n"))
    path.write_text(path.read_text() + f"  {key}: 3\n")
    lines = path.read_text().splitlines()
    errors = errors_of([path])
    assert any(e.startswith(f"{path}:{lines.index(f'    {key}: x') + 1}: spec.variables.{key}") for e in errors), \
        errors
    assert any(e.startswith(f"{path}:{lines.index(f'  {key}: 3') + 1}: spec.{key}:") for e in errors), errors


@pytest.mark.parametrize("extra", ["  2024-02-30: x\n", "  yes: 3\n  2024-13-01: x\n", "  '2024-02-30': x\n"])
def test_a_key_yaml_cannot_build_is_reported_not_a_crash(tmp_path, extra):
    """A key that reads as an impossible date made the search for a problem's key as written raise ValueError
    ("unexpected error ... a bug in the provisioner") instead of listing the manifest's problems."""
    path = tmp_path / "m.yaml"
    path.write_text(manifest_text("a", system_prompt=None) + extra)  # a field missing: its key is looked for
    errors = errors_of([path])
    assert any("system_prompt: is required" in e for e in errors), errors
    assert all(e.startswith(f"{path}:") for e in errors), errors


def test_skipped_files_are_named(workspace):
    workspace.add("a")
    workspace.write("manifests/README.md", "# docs")
    result = workspace.run("validate", api=False)
    assert result.exit_code == 0
    assert "skipped 1 file(s) without a .yaml or .yml suffix: manifests/README.md" in result.stderr


def test_no_manifests_with_a_non_empty_state_plans_no_destruction_unless_asked(workspace):
    workspace.add("a")
    workspace.add("b")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.remove("a")
    workspace.remove("b")
    before = workspace.platform.stats()["total"]
    for args in (("plan",), ("plan", "--json"), ("apply", "--auto-approve")):
        result = workspace.run(*args)
        assert result.exit_code == 1, result.all
        assert "found no manifests in manifests, but the state manages 2 assistant(s) (a, b)" in result.stderr
        assert "--allow-empty" in result.stderr and "provisioner destroy" in result.stderr
    assert workspace.platform.stats()["total"] == before  # refused before any request
    assert json.loads(workspace.run("plan", "--json").output)["errors"]
    plan = workspace.run("plan", "--allow-empty")
    assert plan.exit_code == 0 and "Plan: 0 to add, 0 to change, 2 to destroy." in plan.output
    assert len(workspace.platform.assistants()) == 2
    assert workspace.run("destroy", "--auto-approve").exit_code == 0
    assert workspace.platform.assistants() == []


def test_no_manifests_is_refused_by_validate_plan_and_apply_alike_unless_allowed(workspace):
    """validate said "Success! 0 manifest(s) are valid." of an empty folder, and plan and apply "No changes" where
    the state manages nothing: a wrong path, an emptied folder or one whose only YAML files are hidden (other
    tools') passed every check. All three refuse it now, naming what the search left out; --allow-empty means it."""
    workspace.write("manifests/.github/workflows/ci.yml", "on: push\n")
    workspace.write("manifests/.pre-commit-config.yaml", "repos: []\n")
    workspace.write("manifests/NOTES.md", "to do\n")
    said = ("found no manifests in manifests (hidden, so left out as other tools' files: manifests/.github, "
            "manifests/.pre-commit-config.yaml; without a .yaml or .yml suffix: manifests/NOTES.md): there is "
            "nothing to {}. Give the path of the manifests")
    for args, doing in ((("validate",), "validate"), (("plan",), "plan"), (("apply", "--auto-approve"), "apply")):
        refused = workspace.run(*args)
        assert refused.exit_code == 1 and said.format(doing) in refused.stderr, refused.all
        assert "--allow-empty" in refused.stderr
    as_json = workspace.run("validate", "--json")
    assert as_json.exit_code == 1 and said.format("validate") in json.loads(as_json.output)["errors"][0]["message"]
    assert workspace.platform.stats()["total"] == 0 and not workspace.state_file.exists()  # nothing read, nothing made
    assert "Success! 0 manifest(s) are valid." in workspace.run("validate", "--allow-empty").output
    assert json.loads(workspace.run("validate", "--json", "--allow-empty").output)["valid"] is True
    for args in (("plan", "--allow-empty"), ("apply", "--auto-approve", "--allow-empty")):
        allowed = workspace.run(*args)
        assert allowed.exit_code == 0 and "No changes." in allowed.output, allowed.all


def test_a_target_must_be_a_whole_address(workspace):
    workspace.add("alpha")
    result = workspace.run("plan", "--target", "alpha\n")
    assert result.exit_code == 1 and re.search(r"--target 'alpha\\n' is not an address", result.stderr)


@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve")])
@pytest.mark.parametrize("option, value, said", [("--target", "Bad Addr", "--target 'Bad Addr' is not an address"),
                                                 ("--target", "tool.a.b.c", "--target 'tool.a.b.c' is not an address"),
                                                 ("-l", "===", "cannot read the label selector"),
                                                 ("--exclude", "Bad Addr", "--exclude 'Bad Addr' is not an address"),
                                                 ("--replace", "Bad Addr", "--replace 'Bad Addr' is not an address"),
                                                 ("--replace", "al*", "--replace 'al*' is not an address")])
def test_a_malformed_selection_is_refused_before_any_request(workspace, command, option, value, said):
    """Neither the manifests nor the state can make it right: the session's reads of the platform (it starts
    reading as it opens) came first, four requests for an answer known offline."""
    workspace.add("alpha")
    before = workspace.platform.stats()["total"]
    result = workspace.run(*command, option, value)
    assert result.exit_code == 1 and said in result.stderr, result.all
    assert workspace.platform.stats()["total"] == before


@pytest.mark.parametrize("option, value, said", [("--target", "Bad Addr", "--target 'Bad Addr' is not an address"),
                                                 ("-l", "===", "cannot read the label selector")])
def test_a_malformed_selection_stops_pull_before_any_request(workspace, option, value, said):
    workspace.add("alpha")
    before = workspace.platform.stats()["total"]
    result = workspace.run("pull", option, value)
    assert result.exit_code == 1 and said in result.stderr, result.all
    assert workspace.platform.stats()["total"] == before


def test_a_link_out_of_the_project_is_not_followed(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("password: hunter2\n")
    project = tmp_path / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "manifests" / "a.yaml").write_text(manifest_text("a"))
    (project / "manifests" / "dir").symlink_to(outside, target_is_directory=True)
    (project / "manifests" / "file.yaml").symlink_to(outside / "secret.yaml")
    monkeypatch.chdir(project)
    found = errors_of(["manifests"])
    assert found == [f"manifests/{name}:1: a link out of the working directory and of the searched path, which "
                     "is not followed" for name in ("dir", "file.yaml")]
    assert not any("hunter2" in line for line in found)


def test_control_characters_in_names_and_keys_are_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil\nmanifests").mkdir()
    (tmp_path / "evil\nmanifests" / "x.yaml").write_text(manifest_text("x").replace("spec:\n", 'spec:\n  "\\e[2Jk": 1\n'))
    [error] = errors_of(["evil\nmanifests"])
    assert "\n" not in error and "\x1b" not in error
    assert error.startswith("evil\\nmanifests/x.yaml:") and "spec.\\x1b[2Jk: unknown field" in error


def test_unreadable_files_and_directories_are_errors(tmp_path):
    # Root reads files whatever their mode (the DAC override capabilities), so as root (CI) the loading runs
    # without them, through util-linux's setpriv.
    import subprocess
    import sys
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="unreadable-"))
    root.chmod(0o755)
    try:
        (root / "a.yaml").write_text(manifest_text("a"))
        (root / "locked.yaml").write_text(manifest_text("b"))
        (root / "locked.yaml").chmod(0)
        (root / "closed").mkdir()
        (root / "closed").chmod(0)
        script = ("import sys\nfrom provisioner.manifest import load_manifests\nfrom provisioner.errors import "
                  "ManifestError\ntry:\n    load_manifests([sys.argv[1]])\nexcept ManifestError as e:\n"
                  "    print('\\n'.join(str(p) for p in e.problems))\n")
        without_override = (["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
                             if os.geteuid() == 0 else [])
        found = subprocess.run([*without_override, sys.executable, "-c", script, str(root)], capture_output=True,
                               text=True, cwd=root, timeout=60).stdout
    finally:
        (root / "closed").chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)
    assert "locked.yaml:1: cannot read file: Permission denied" in found, found
    assert "cannot read directory (Permission denied)" in found and "closed" in found


def test_a_flood_of_problems_is_cut_short(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("".join(f"---\nk{i}: 1\n" for i in range(2000)))
    found = errors_of([path])
    assert len(found) == 501 and found[-1].startswith("... and ") and "more problems not shown" in found[-1]


@pytest.mark.parametrize("length, said", [(1100, "a key longer than 1024 characters"), (1024, "unknown field")])
def test_a_key_past_yamls_bound_is_named_as_such(tmp_path, length, said):
    """libyaml refuses a key longer than 1024 characters as "could not find expected ':'", of a line that has one."""
    path = tmp_path / "x.yaml"
    path.write_text(manifest_text("x").rstrip("\n") + f"\n  {'k' * length}: 1\n")
    with pytest.raises(ManifestError) as caught:
        load_manifests([path])
    found = [str(p) for p in caught.value.problems]
    line = path.read_text().count("\n")
    assert any(f"x.yaml:{line}:" in p and said in p for p in found), found
