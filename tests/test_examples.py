"""Every example under examples/ validates as it is shipped (with its ${env.X} secrets set), and the graph example
holds a manifest of every kind a repository may declare."""
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from provisioner.cli import cli
from provisioner.kinds import MANIFEST_KINDS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROJECTS = sorted(p.parent for p in EXAMPLES.glob("*/provisioner.yaml"))


def secrets_of(project: Path) -> dict[str, str]:
    names = {m for f in project.rglob("*.yaml") for m in re.findall(r"\$\{env\.([A-Z0-9_]+)\}", f.read_text())}
    return {name: f"example-{name.lower()}" for name in names}


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_every_example_validates(project, monkeypatch):
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["validate"], env=secrets_of(project))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_the_graph_example_has_a_manifest_of_every_kind():
    kinds = {doc["kind"] for f in (EXAMPLES / "graph" / "manifests").glob("*.yaml")
             for doc in yaml.safe_load_all(f.read_text())}
    assert kinds == set(MANIFEST_KINDS)
