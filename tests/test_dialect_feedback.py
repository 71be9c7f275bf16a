"""A platform that takes only the other create dialect: apply says so and what to set, instead of a dozen
errors naming fields the manifest does not have; a 422's keys are the manifest's field names, at their lines."""
import json

import httpx
import pytest

from conftest import TOKEN, Platform, Workspace
from provisioner import render
from provisioner.apply import ChangeResult
from provisioner.emulator import EmbeddedPlatform, build_platform
from provisioner.plan import Plan
from provisioner.wire import dialect_asked_for, manifest_field


@pytest.fixture(params=[("v2", "v1"), ("v1", "v2")], ids=["v2-platform", "v1-platform"])
def one_dialect(request, tmp_path):
    """A workspace whose client speaks one dialect, against a platform that takes only the other."""
    platform_takes, client_speaks = request.param
    with EmbeddedPlatform(build_platform(dialect=platform_takes)) as embedded, \
            httpx.Client(base_url=embedded.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        workspace = Workspace(tmp_path, Platform(embedded.url, http))
        workspace.dialect = client_speaks
        yield workspace, platform_takes


def test_apply_names_the_dialect_the_platform_takes(one_dialect):
    workspace, platform_takes = one_dialect
    workspace.add("sales")
    result = workspace.run("apply", "--auto-approve")
    assert result.exit_code == 1
    assert f"this platform takes {platform_takes}: set `--api-dialect {platform_takes}`" in result.all
    assert "spec.name" not in result.all and "spec.mode" not in result.all and "spec.language_id" not in result.all
    workspace.dialect = platform_takes
    assert workspace.run("apply", "--auto-approve").exit_code == 0


def test_the_platform_s_field_names_map_back_to_the_manifest_s():
    assert manifest_field("name", "v1") == "assistant_name"  # a v2 platform's answer to a v1 body
    assert manifest_field("language_id", "v1") == "language"
    assert manifest_field("record_call", "v1") == "record_call"
    assert manifest_field("max_duration", "v2") == "max_call_duration"
    assert manifest_field("post_call_schema.0.name", "v2") == "post_call_schema.0.name"
    assert dialect_asked_for("v1", {"name": [], "mode": [], "voice_id": []}) == "v2"
    assert dialect_asked_for("v2", {"assistant_name": [], "engine_type": []}) == "v1"
    assert dialect_asked_for("v1", {"speech_speed": [], "name": []}) is None


def test_a_field_the_platform_refuses_is_reported_at_its_line(workspace):
    path = workspace.add("sales", speech_speed=1.1, system_prompt="Be brief.")
    planned = workspace.run("plan", "--json")
    plan = Plan.from_dict(json.loads(planned.output))
    [change] = plan.changes
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "speech_speed" in text)
    assert change.field_locations["speech_speed"] == f"manifests/sales.yaml:{line}"
    failed = ChangeResult(change, False, 0.0, message="the platform rejected it: Validation failed",
                          field_errors={manifest_field("speech_speed", "v1"): ["too fast for this voice"]})
    shown = render.result_line(failed)
    assert f"sales (manifests/sales.yaml:{line}): spec.speech_speed: too fast for this voice" in shown
