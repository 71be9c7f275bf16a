"""ManifestInputs: what besides the manifest files decides the final manifests (workspace, variables, overlays).

Plain data, shared by the configuration (which resolves it) and the overlay step (which uses it), so that
neither has to import the other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class ManifestInputs:
    """Everything besides the manifest files that decides the final manifests; saved in plan files."""

    workspace: str = DEFAULT_WORKSPACE
    root: str = "."                      # where vars/ and overlays/ are: the config file's folder
    var_files: tuple[str, ...] = ()
    vars: tuple[str, ...] = ()           # --var NAME=VALUE, as given (never secrets: those are ${env.X})
    config_file: str | None = None
    # The project's manifest paths (provisioner.yaml's `manifests`, else manifests/), whatever paths a run is given:
    # moved blocks are the repository's, read from all of them (workflow.manifests.ProjectFiles). Not saved in
    # plan files: a saved plan is read again with this run's.
    manifest_paths: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"workspace": self.workspace, "root": self.root, "var_files": list(self.var_files),
                "vars": list(self.vars), "config_file": self.config_file}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], environ: Mapping[str, str]) -> "ManifestInputs":
        return cls(workspace=data.get("workspace", DEFAULT_WORKSPACE), root=data.get("root", "."),
                   var_files=tuple(data.get("var_files", ())), vars=tuple(data.get("vars", ())),
                   config_file=data.get("config_file"), environ=environ)
