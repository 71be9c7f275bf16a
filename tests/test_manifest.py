"""Loading manifests: documents, discovery, and errors naming file, line and field."""
import pytest

from provisioner.errors import ManifestError
from provisioner.manifest import load_manifests
from conftest import manifest_text


def errors_of(paths):
    with pytest.raises(ManifestError) as caught:
        load_manifests(paths)
    return [str(p) for p in caught.value.problems]


def test_several_documents_per_file_and_recursive_discovery(tmp_path):
    (tmp_path / "team" / "deep").mkdir(parents=True)
    (tmp_path / "a.yaml").write_text(manifest_text("a") + "---\n" + manifest_text("b"))
    (tmp_path / "team" / "deep" / "c.yml").write_text(manifest_text("c"))
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "empty.yaml").write_text("---\n# nothing\n")
    manifests = load_manifests([tmp_path])
    assert [m.address for m in manifests] == ["a", "b", "c"]
    assert manifests[0].fields["assistant_name"] == "A"


def test_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(manifest_text("ok") + "---\n" + manifest_text("bad", voice_id="one", speech_speed=3))
    text = path.read_text().splitlines()
    voice_line = next(i for i, line in enumerate(text, 1) if "voice_id: one" in line)
    speed_line = next(i for i, line in enumerate(text, 1) if "speech_speed" in line)
    found = errors_of([path])
    assert f"{path}:{voice_line}: spec.voice_id: must be an integer (got 'one')" in found
    assert f"{path}:{speed_line}: spec.speech_speed: must be at most 1.2 (got 3)" in found


def test_a_missing_required_field_points_at_the_spec(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(manifest_text("m", llm_model=None))
    spec_line = path.read_text().splitlines().index("spec:") + 1
    assert errors_of([path]) == [f"{path}:{spec_line}: spec.llm_model: is required"]


def test_nested_errors_point_at_the_nested_line(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(manifest_text("m", post_call_schema=[{"name": "ok", "type": "bool", "description": "d"},
                                                         {"name": "bad name", "type": "bool", "description": "d"}]))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "bad name" in t)
    assert errors_of([path]) == [
        f"{path}:{line}: spec.post_call_schema[1].name: may contain only letters, digits and underscores "
        "(got 'bad name')"]


def test_envelope_errors(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: provisioner/v2\nkind: Assistent\nmetadata:\n  name: Bad Name\n  lables: {}\n"
                    "spec:\n  assistant_name: x\nextra: 1\n")
    found = "\n".join(errors_of([path]))
    assert f"{path}:1: apiVersion: apiVersion must be 'provisioner/v1'" in found
    assert f"{path}:2: kind: kind must be one of Assistant" in found
    assert f"{path}:4: metadata.name: must be 1-63 lowercase letters" in found
    assert f"{path}:5: metadata.lables: unknown field 'lables' (did you mean 'labels'?)" in found
    assert f"{path}:8: extra: unknown field 'extra'" in found
    assert f"{path}:6: spec.voice_id: is required" in found


def test_envelope_errors_say_missing_and_null_in_yamls_words_not_pythons(tmp_path):
    """A YAML file of another tool (no apiVersion, no kind) was told "apiVersion must be 'provisioner/v1' (got
    None)", and `protect: null` "(got None)": Python's words for what the file left out or wrote as null."""
    other = tmp_path / "compose.yaml"
    other.write_text("services: {}\n")
    nulls = tmp_path / "n.yaml"
    nulls.write_text("apiVersion:\nkind: true\nmetadata:\n  name: n\n  protect: null\nspec:\n  name: N\n")
    found = "\n".join(errors_of([other, nulls]))
    assert f"{other}:1: apiVersion: apiVersion must be 'provisioner/v1' (missing)" in found
    assert f"{other}:1: kind: kind must be one of Assistant" in found and "Tool (missing)" in found
    assert f"{nulls}:1: apiVersion: apiVersion must be 'provisioner/v1' (got null)" in found
    assert "Tool (got true)" in found and f"{nulls}:5: metadata.protect: must be true or false (got null)" in found
    assert "None" not in found and "True" not in found


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: [unclosed\nspec: {}\n")
    [error] = errors_of([path])
    assert error.startswith(f"{path}:") and "invalid YAML" in error


def test_duplicate_yaml_keys_are_errors(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(manifest_text("m") + "  voice_id: 2\n")
    [error] = errors_of([path])
    assert "spec.voice_id: duplicate key 'voice_id'" in error


def test_duplicate_addresses_and_assistant_names_are_errors(tmp_path):
    (tmp_path / "a.yaml").write_text(manifest_text("same", name="One"))
    (tmp_path / "b.yaml").write_text(manifest_text("same", name="Two") + "---\n" + manifest_text("other", name="One"))
    found = "\n".join(errors_of([tmp_path]))
    assert "metadata.name: 'same' is also used by the manifest at" in found
    assert "spec.assistant_name: 'One' is also used by the manifest at" in found
    assert str(tmp_path / "a.yaml") in found


def test_all_errors_of_all_files_come_together(tmp_path):
    (tmp_path / "a.yaml").write_text(manifest_text("a", voice_id="x"))
    (tmp_path / "b.yaml").write_text(manifest_text("b", timezone="Nowhere"))
    found = errors_of([tmp_path])
    assert len(found) == 2 and "a.yaml" in found[0] and "b.yaml" in found[1]


def test_a_missing_path_is_an_error(tmp_path):
    assert errors_of([tmp_path / "nope"]) == [f"no such file or directory: {tmp_path / 'nope'}"]


def test_sensitive_fields_default_to_the_webhook_url(tmp_path):
    (tmp_path / "a.yaml").write_text(manifest_text("a", metadata_extra="sensitive: [system_prompt]"))
    [manifest] = load_manifests([tmp_path])
    assert manifest.sensitive == {"webhook_url", "conversation_ended_webhook_url", "system_prompt"}


def test_yaml_merge_keys_may_be_overridden_without_a_duplicate_key_error(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: b\nspec:\n  <<: &base\n"
        "    assistant_name: A\n    voice_id: 1\n    language: English\n    llm_model: m\n"
        "    calls_direction: make\n    engine_type: pipeline\n    timezone: UTC\n    initial_message: hi\n"
        "    system_prompt: p\n  assistant_name: B\n  voice_id: x\n")
    assert errors_of([path]) == [f"{path}:17: spec.voice_id: must be an integer (got 'x')"]
    path.write_text(path.read_text().replace("voice_id: x", "voice_id: 2"))
    [manifest] = load_manifests([path])
    assert manifest.fields["assistant_name"] == "B" and manifest.fields["voice_id"] == 2


def test_a_kind_nothing_is_close_to_is_one_error_not_one_per_assistant_field(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("apiVersion: provisioner/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  name: x\n")
    found = errors_of([path])
    assert len(found) == 1 and f"{path}:2: kind: kind must be one of Assistant" in found[0], found


def test_a_near_miss_of_a_kind_has_its_spec_checked_as_the_kind_it_suggests(tmp_path):
    """`kind: Folde` was suggested 'Folder' but its spec read as an assistant's: nine "spec.assistant_name: is
    required"-like lines, and the folder's own `name` called an unknown field. The spec is now checked as the
    suggested kind's, so the lines besides the kind's are the ones to fix."""
    folder = tmp_path / "f.yaml"
    folder.write_text("apiVersion: provisioner/v1\nkind: Folde\nmetadata:\n  name: f\nspec:\n  name: F\n")
    assert errors_of([folder]) == [f"{folder}:2: kind: kind must be one of Assistant, Campaign, Folder, KnowledgeBase, "
                                   "Label, SipTrunk, Tool (got 'Folde') (did you mean 'Folder'?)"]
    # A moved block's kind, the other a manifest file holds (docs/day-two.md), is a near miss named too.
    moved = tmp_path / "m.yaml"
    moved.write_text("apiVersion: provisioner/v1\nkind: moved\nspec:\n  from: tool.a\n  to: tool.b\n")
    assert f"{moved}:2: kind: kind must be one of Assistant" in errors_of([moved])[0]
    assert errors_of([moved])[0].endswith("(got 'moved') (did you mean 'Moved'?)")
    tool = tmp_path / "t.yaml"
    tool.write_text("apiVersion: provisioner/v1\nkind: tool\nmetadata:\n  name: t\nspec:\n  nmae: lookup\n"
                    "  description: D\n  endpoint: https://api.example.com/x\n  method: GET\n")
    found = errors_of([tool])
    assert found[1:] == [f"{tool}:5: spec.name: is required",
                         f"{tool}:6: spec.nmae: unknown field 'nmae' (did you mean 'name'?)"], found


@pytest.mark.parametrize(("spec_lines", "field", "message"), [
    ("  speech_speed: .inf\n", "spec.speech_speed", ".inf is not a finite number"),
    ("  system_prompt: !!binary aGVsbG8=\n", "spec.system_prompt", "the YAML tag !!binary is not supported"),
    ("  variables: {region: eu, size: !!float big}\n", "spec.variables.size", "'big' is not a valid !!float"),
    ("  variables:\n    region: !!set {a, b}\n", "spec.variables.region", "the YAML tag !!set is not supported"),
    ("  post_call_schema:\n    - {name: a, type: bool, description: A}\n    - .NaN\n", "spec.post_call_schema[1]",
     ".NaN is not a finite number"),
    ("  variables: {n: " + "9" * 101 + "}\n", "spec.variables.n", "an integer of 101 characters"),
    ("  variables: !!python/name:os.system\n", "spec.variables", "could not determine a constructor"),
], ids=["infinity", "binary", "bad float in a flow mapping", "set", "NaN in a list", "long integer", "python tag"])
def test_a_value_yaml_cannot_give_names_its_field_and_line(tmp_path, spec_lines, field, message):
    """The loader's own refusals of a value (raised while PyYAML builds it) said the file and line only."""
    path = tmp_path / "m.yaml"
    text = manifest_text("ok") + "---\n" + manifest_text("m") + spec_lines
    path.write_text(text)
    line = len(text.splitlines())
    [error] = errors_of([path])
    assert error.startswith(f"{path}:{line}: {field}: "), error
    assert message in error, error
