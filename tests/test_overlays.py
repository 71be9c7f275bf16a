"""Workspace overlays: maps merge, lists replace, null removes; errors point at the overlay's lines."""
import json
from pathlib import Path

import yaml


OVERLAY_HEAD = "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: {name}\n"


def overlay(name: str, body: str) -> str:
    return OVERLAY_HEAD.format(name=name) + body


def render(ws, *args):
    result = ws.run("render", *args, api=False)
    assert result.exit_code == 0, result.all
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(result.output)}, result.output


def line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_maps_merge_lists_replace_and_null_removes(workspace):
    workspace.add("sales", record_call=True, speech_speed=1.05, variables={"company": "Acme", "region": "us"},
                  post_call_schema=[{"name": "a", "type": "bool", "description": "A"},
                                    {"name": "b", "type": "bool", "description": "B"}],
                  metadata_extra="labels: {team: sales}")
    workspace.add("other")
    workspace.write("overlays/prod/sales.yaml", overlay("sales", "  labels: {tier: prod}\n  protect: true\nspec:\n"
                                                        "  speech_speed: 0.9\n  variables: {region: eu}\n"
                                                        "  record_call: null\n  post_call_schema:\n"
                                                        "    - {name: c, type: number, description: C}\n"))
    base, _ = render(workspace)
    assert base["sales"]["spec"]["speech_speed"] == 1.05 and "protect" not in base["sales"]["metadata"]
    final, text = render(workspace, "--workspace", "prod")
    spec = final["sales"]["spec"]
    assert spec["speech_speed"] == 0.9 and spec["variables"] == {"company": "Acme", "region": "eu"}
    assert "record_call" not in spec
    assert spec["post_call_schema"] == [{"name": "c", "type": "number", "description": "C"}]
    assert final["sales"]["metadata"] == {"name": "sales", "labels": {"team": "sales", "tier": "prod"},
                                          "protect": True}
    assert final["other"] == base["other"]
    assert "# sales: workspace prod; from manifests/sales.yaml, overlays/prod/sales.yaml" in text


def test_a_null_in_a_mapping_the_base_does_not_have_removes_nothing_and_is_left_out(workspace):
    workspace.add("sales")
    workspace.write("overlays/prod/sales.yaml", overlay("sales", "spec:\n  variables: {region: eu, legacy: null}\n"))
    final, _ = render(workspace, "--workspace", "prod")
    assert final["sales"]["spec"]["variables"] == {"region": "eu"}


def test_errors_in_overlaid_values_point_at_the_overlay(workspace):
    workspace.add("sales")
    path = workspace.write("overlays/prod/sales.yaml", overlay("sales", "spec:\n  speech_speed: 3\n"
                                                               "  max_call_duration: ${var.duration}\n"))
    result = workspace.run("validate", "--workspace", "prod", "--var", "duration=5000", api=False)
    assert result.exit_code == 1
    assert f"overlays/prod/sales.yaml:{line_of(path, 'speech_speed')}: spec.speech_speed: must be at most 1.2" \
        in result.stderr
    assert f"overlays/prod/sales.yaml:{line_of(path, 'max_call')}: spec.max_call_duration: must be at most 1200" \
        in result.stderr


def test_an_overlay_must_name_a_base_manifest_and_be_well_formed(workspace):
    workspace.add("sales")
    workspace.write("overlays/prod/typo.yaml", overlay("slaes", "spec: {speech_speed: 0.9}\n"))
    workspace.write("overlays/prod/bad.yaml", overlay("sales", "spek: {}\n"))
    result = workspace.run("validate", "--workspace", "prod", api=False)
    assert result.exit_code == 1
    assert ("overlays/prod/typo.yaml:4: metadata.name: the overlay names no base manifest: no manifest has "
            "metadata.name 'slaes' (did you mean 'sales'?)") in result.stderr
    assert "overlays/prod/bad.yaml:5: spek: unknown field 'spek' (did you mean 'spec'?)" in result.stderr
    assert workspace.run("validate", api=False).exit_code == 0  # other workspaces do not read prod's overlays


def test_overlays_vars_and_the_config_are_not_read_as_manifests(workspace):
    workspace.add("sales", speech_speed="${var.speed}")
    workspace.write("provisioner.yaml", "workspace: prod\n")
    workspace.write("vars/prod.yaml", "speed: 0.8\n")
    workspace.write("overlays/prod/sales.yaml", overlay("sales", "spec: {record_call: true}\n"))
    result = workspace.run("validate", ".", api=False)
    assert result.exit_code == 0, result.all
    assert "1 manifest(s) are valid" in result.output


def test_the_default_policies_folder_is_not_read_as_manifests(workspace):
    """policies/ beside provisioner.yaml (the policies' default folder) was read as manifests by `validate .` and
    `plan .`: "kind must be one of Assistant, ... (got 'Policy')", while vars/ and overlays/ are left out."""
    workspace.add("sales")
    workspace.write("provisioner.yaml", "workspace: default\n")
    workspace.write("policies/p.yaml", "apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: p\nspec:\n"
                                       "  rules:\n    - {name: r, expression: 'false', severity: warn}\n")
    result = workspace.run("validate", ".", api=False)
    assert result.exit_code == 0, result.all
    assert "1 manifest(s) are valid" in result.output and "Policies: 1 rule(s): 1 warned." in result.output


def test_validate_dot_leaves_out_the_repositorys_hidden_files_and_folders(workspace):
    """`validate .` (or `plan .`) in a repository read .github/workflows/*.yml, .gitlab-ci.yml and
    .pre-commit-config.yaml as manifests, failing on each of their keys and `${{ }}` expressions, as it would in any
    repository that copies docs/ci's recipes as docs/ci.md says; and it listed .git's files as skipped. Hidden files
    and folders are other tools': a folder search leaves them out (a file named on the command line is still read)."""
    docs = Path(__file__).resolve().parent.parent / "docs" / "ci"
    workspace.add("sales")
    workspace.write("provisioner.yaml", "workspace: default\n")
    workspace.write(".github/workflows/provisioner.yml", (docs / "github-actions.yml").read_text())
    workspace.write(".gitlab-ci.yml", (docs / "gitlab-ci.yml").read_text())
    workspace.write(".pre-commit-config.yaml", "repos:\n  - repo: local\n    hooks: []\n")
    workspace.write(".git/HEAD", "ref: refs/heads/main\n")
    result = workspace.run("validate", ".", api=False)
    assert result.exit_code == 0, result.all
    assert "1 manifest(s) are valid" in result.output and ".git" not in result.all
    named = workspace.run("validate", ".gitlab-ci.yml", api=False)
    assert named.exit_code == 1 and "  .gitlab-ci.yml:" in named.stderr, named.all


def test_three_workspaces_from_one_repository(workspace):
    """default, staging and prod: different vars and overlays, three final manifests and three states."""
    ws = workspace
    ws.add("sales", name="Sales ${var.env_label}", speech_speed="${var.speed}", record_call=False,
           initial_message="Hello from ${var.env_label}!")
    ws.write("vars/default.yaml", "env_label: dev\nspeed: 1.0\n")
    ws.write("vars/staging.yaml", "env_label: staging\nspeed: 1.1\n")
    ws.write("vars/prod.yaml", "env_label: prod\nspeed: 0.9\n")
    ws.write("overlays/prod/sales.yaml", overlay("sales", "  protect: true\nspec:\n  record_call: true\n"
                                                          "  max_call_duration: 1200\n"))
    finals = {}
    for name in ("default", "staging", "prod"):
        finals[name] = render(ws, "--workspace", name)[0]["sales"]
    assert [f["spec"]["assistant_name"] for f in finals.values()] == ["Sales dev", "Sales staging", "Sales prod"]
    assert [f["spec"]["speech_speed"] for f in finals.values()] == [1.0, 1.1, 0.9]
    assert finals["prod"]["spec"]["record_call"] is True and finals["prod"]["spec"]["max_call_duration"] == 1200
    assert finals["staging"]["spec"]["record_call"] is False and "max_call_duration" not in finals["staging"]["spec"]
    assert finals["prod"]["metadata"]["protect"] is True

    for name in ("default", "staging", "prod"):
        applied = ws.run("apply", "--auto-approve", "--workspace", name)
        assert applied.exit_code == 0, applied.all
        assert "1 added" in applied.output
    by_name = {a["name"]: a for a in ws.platform.assistants()}
    assert set(by_name) == {"Sales dev", "Sales staging", "Sales prod"}
    assert by_name["Sales prod"]["max_duration"] == 1200 and by_name["Sales staging"]["record"] in (0, False)
    states = {name: json.loads(ws.run("state", "pull", "--workspace", name).output) for name in finals}
    ids = {name: s["resources"]["sales"]["id"] for name, s in states.items()}
    assert ids == {"default": by_name["Sales dev"]["id"], "staging": by_name["Sales staging"]["id"],
                   "prod": by_name["Sales prod"]["id"]}
    for name in finals:
        again = ws.run("plan", "--detailed-exitcode", "--workspace", name)
        assert again.exit_code == 0 and "No changes." in again.output, again.all

    # A saved plan remembers its workspace and variables; applying it in another workspace is refused.
    ws.write("vars/staging.yaml", "env_label: staging\nspeed: 1.2\n")
    assert ws.run("plan", "--workspace", "staging", "--out", "staging.plan").exit_code == 0
    saved = json.loads((ws.root / "staging.plan").read_text())
    assert saved["inputs"]["workspace"] == "staging"
    elsewhere = ws.run("apply", "staging.plan")
    assert elsewhere.exit_code == 1
    assert "the saved plan was made for workspace 'staging', not 'default'; pass --workspace staging" \
        in elsewhere.stderr
    assert ws.run("apply", "--workspace", "staging", "staging.plan").exit_code == 0
    assert '"speech_speed": 1.2' in json.dumps(ws.platform.writes()[-1])
    assert "No changes." in ws.run("plan", "--workspace", "staging").output


def test_the_documented_example_works(tmp_path, monkeypatch):
    """examples/environments (docs/configuration.md): three workspaces render, and plan --local works."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from provisioner.cli import cli

    example = Path(__file__).parent.parent / "examples" / "environments"
    shutil.copytree(example, tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setenv("SALES_WEBHOOK_URL", "https://hooks.example/in?key=EXAMPLE-SECRET")
    names = {}
    for name in ("default", "staging", "prod"):
        result = CliRunner().invoke(cli, ["render", "--workspace", name])
        assert result.exit_code == 0, result.output
        assert "EXAMPLE-SECRET" not in result.output
        [document] = yaml.safe_load_all(result.output)
        names[name] = document["spec"]["assistant_name"]
    assert names == {"default": "Sales Assistant (dev)", "staging": "Sales Assistant (staging)",
                     "prod": "Sales Assistant"}
    planned = CliRunner().invoke(cli, ["plan", "--local", "--workspace", "prod"])
    assert planned.exit_code == 0, planned.output
    assert "webhook_url" in planned.output and "EXAMPLE-SECRET" not in planned.output
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in planned.output


def test_destroy_in_one_workspace_leaves_the_others(workspace):
    ws = workspace
    ws.add("sales", name="Sales ${var.env_label}")
    for name in ("staging", "prod"):
        ws.write(f"vars/{name}.yaml", f"env_label: {name}\n")
        assert ws.run("apply", "--auto-approve", "--workspace", name).exit_code == 0
    destroyed = ws.run("destroy", "--auto-approve", "--workspace", "staging")
    assert destroyed.exit_code == 0, destroyed.all
    assert [a["name"] for a in ws.platform.assistants()] == ["Sales prod"]
    assert json.loads(ws.run("state", "pull", "--workspace", "staging").output)["resources"] == {}
    assert "No changes." in ws.run("plan", "--workspace", "prod").output
    assert ws.run("refresh", "--workspace", "prod").exit_code == 0


def test_a_mistyped_workspace_is_refused(workspace):
    workspace.add("sales")
    workspace.write("vars/prod.yaml", "x: 1\n")
    workspace.write("overlays/staging/sales.yaml", overlay("sales", "spec: {record_call: true}\n"))
    result = workspace.run("plan", "--workspace", "prdo")
    assert result.exit_code == 1 and "1 configuration error:" in result.stderr and "manifest" not in result.stderr
    assert "workspace 'prdo' has no vars/prdo.yaml and no overlays/prdo/ (did you mean 'prod'?) " \
           "(known: prod, staging)" in result.stderr
    assert "prdo" not in workspace.run("workspace", "list").output
    assert workspace.run("validate", "--workspace", "staging", api=False).exit_code == 0
    assert workspace.run("validate", api=False).exit_code == 0  # the default workspace needs neither


def test_a_base_whose_kind_or_name_is_not_a_string_is_reported_not_a_crash(workspace):
    """Bases are indexed by (kind, name) for the overlays: a list or a mapping there is no key (unhashable)."""
    workspace.add("sales")
    workspace.write("overlays/prod/sales.yaml", overlay("sales", "spec: {speech_speed: 0.9}\n"))
    for envelope, line, said in [("kind: [Assistant]\nmetadata:\n  name: x1\n", 2, "kind: kind must be one of"),
                                 ("kind: Assistant\nmetadata:\n  name: {a: 1}\n", 4, "metadata.name: must be")]:
        workspace.write("manifests/bad.yaml", "apiVersion: provisioner/v1\n" + envelope + "spec: {}\n")
        result = workspace.run("validate", "--workspace", "prod", api=False)
        assert result.exit_code == 1, result.all
        assert f"manifests/bad.yaml:{line}: {said}" in result.stderr
        assert "unexpected" not in result.all


def test_render_writes_a_value_with_another_line_break_as_it_reads_back(workspace):
    """U+0085 is a line break to YAML 1.1: PyYAML wrote it as it is inside quotes or a `|` block, so the rendered
    manifest read back with a space or a \\n there (U+2028 and U+2029, kept as they are, read back alike)."""
    for value in ["one\x85two", "one\u2028two\n", "one\u2029two\nthree"]:
        path = workspace.add("sales", initial_message="PLACEHOLDER", system_prompt="PLACEHOLDER")
        path.write_text(path.read_text().replace("PLACEHOLDER", json.dumps(value)))  # written as escapes
        rendered, _ = render(workspace)
        spec = rendered["sales"]["spec"]
        assert (spec["initial_message"], spec["system_prompt"]) == (value, value), repr(value)


KB = ("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: faq\nspec:\n  name: FAQ\n  documents:\n"
      "    - {key: handbook, name: Handbook, type: txt, file: docs/handbook.txt}\n")


def test_a_document_file_an_overlay_sets_is_the_file_beside_the_overlay(workspace):
    """As Kustomize reads a patch's paths: relative to the overlay that writes it. It was read from the base
    manifest's folder: production uploaded the base's handbook, silently."""
    from provisioner.kinds.document import file_fingerprint

    workspace.write(".git/HEAD", "ref: refs/heads/main\n")  # the repository that bounds a document's file
    workspace.write("manifests/kb.yaml", KB)
    workspace.write("manifests/docs/handbook.txt", "The base handbook.\n")
    workspace.write("overlays/prod/docs/handbook.txt", "The production handbook.\n")
    path = workspace.write("overlays/prod/kb.yaml", KB.replace("kind: KnowledgeBase\nmetadata:\n  name: faq\n"
                                                               "spec:\n  name: FAQ\n",
                                                               "kind: KnowledgeBase\nmetadata:\n  name: faq\nspec:\n"))

    def document_body(*args):
        result = workspace.run("plan", "--json", *args)
        assert result.exit_code == 0, result.all
        [change] = [c for c in json.loads(result.output)["changes"] if c["address"] == "knowledgebase.faq.handbook"]
        return change["body"]

    assert document_body()["file"] == "manifests/docs/handbook.txt"
    assert document_body("--workspace", "prod")["file"] == "overlays/prod/docs/handbook.txt"
    result = workspace.run("apply", "--auto-approve", "--workspace", "prod")
    assert result.exit_code == 0, result.all
    pulled = workspace.run("state", "pull", "--lock=false", "--workspace", "prod")
    sent = json.loads(pulled.output)["resources"]["knowledgebase.faq.handbook"]["spec"]["content"]  # bytes' digest
    assert sent == file_fingerprint("txt", workspace.root / "overlays/prod/docs/handbook.txt")
    assert sent != file_fingerprint("txt", workspace.root / "manifests/docs/handbook.txt")
    # Listed again as the base writes it, a file only the base's folder has is the base's (lists replace whole).
    workspace.write("overlays/prod/kb.yaml", path.read_text() + "    - {key: faq, name: FAQ, type: txt, "
                                                                 "file: docs/faq.txt}\n")
    workspace.write("manifests/docs/faq.txt", "The base FAQ.\n")
    bodies = {c["address"]: c["body"] for c in json.loads(workspace.run("plan", "--json", "--workspace",
                                                                         "prod").output)["changes"]}
    assert bodies["knowledgebase.faq.faq"]["file"] == "manifests/docs/faq.txt"
    # A file missing beside both is an error at the overlay's line, naming where it was looked for.
    (workspace.root / "overlays/prod/docs/handbook.txt").unlink()
    (workspace.root / "manifests/docs/handbook.txt").unlink()
    result = workspace.run("validate", "--workspace", "prod", api=False)
    assert result.exit_code == 1
    assert f"overlays/prod/kb.yaml:{line_of(path, 'handbook')}" in result.stderr, result.stderr
    assert "overlays/prod/docs/handbook.txt" in result.stderr, result.stderr


def test_the_inputs_left_out_are_the_folders_themselves_not_names_that_begin_like_them(tmp_path):
    """input_files compares real paths as text: `vars2/` and `overlays-old/` begin like `vars` and `overlays` but
    are manifests; a link into `vars/` is the vars file it leads to."""
    import os

    from provisioner.inputs import ManifestInputs
    from provisioner.manifest import Document
    from provisioner.overlays import input_files

    files = ["vars/prod.yaml", "vars2/a.yaml", "overlays/prod/a.yaml", "overlays-old/a.yaml", "policies/p.yaml",
             "policiesx.yaml", "provisioner.yaml", "provisioner.yaml.bak", "manifests/a.yaml"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    os.symlink(tmp_path / "vars" / "prod.yaml", tmp_path / "manifests" / "link.yaml")
    documents = [Document(file=str(tmp_path / name), content={}, locations={})
                 for name in [*files, "manifests/link.yaml"]]
    inputs = ManifestInputs(root=str(tmp_path), config_file=str(tmp_path / "provisioner.yaml"))
    left_out = {os.path.relpath(file, tmp_path) for file in input_files(documents, inputs)}
    assert left_out == {"vars/prod.yaml", "overlays/prod/a.yaml", "policies/p.yaml", "provisioner.yaml",
                        "manifests/link.yaml"}


def test_an_overlay_naming_an_address_a_moved_block_renamed_says_so(workspace):
    # docs/day-two.md: overlays patch a manifest by its metadata.name, so they are renamed with it; "an overlay
    # naming the old address is an error that says so" (not only that it names no base manifest).
    workspace.add("helpdesk")
    workspace.write("manifests/moves.yaml", "apiVersion: provisioner/v1\nkind: Moved\nspec:\n  from: support\n"
                                            "  to: helpdesk\n")
    workspace.write("overlays/prod/support.yaml", overlay("support", "spec: {speech_speed: 0.9}\n"))
    result = workspace.run("validate", "--workspace", "prod", api=False)
    assert result.exit_code == 1
    assert ("overlays/prod/support.yaml:4: metadata.name: the overlay names no base manifest: 'support' was renamed "
            "to 'helpdesk' by the moved block at manifests/moves.yaml:4 (support -> helpdesk); rename the overlay "
            "with its manifest (metadata.name: helpdesk)") in result.stderr
