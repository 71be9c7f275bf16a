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
