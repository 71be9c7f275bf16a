"""provisioner: declarative, Terraform-style provisioning of voice AI assistants.

The library API is the pipeline's stages: load manifests, compute a plan, apply it.
"""
__version__ = "0.1.0"

from .startup import prepare  # noqa: E402

prepare()  # a command line run: see startup.py

from .errors import ProvisionerError  # noqa: E402
from .manifest import Manifest, load_manifests  # noqa: E402
from .plan import Action, Change, FieldChange, Plan  # noqa: E402
from .planner import compute_plan  # noqa: E402

__all__ = ["__version__", "ProvisionerError", "Manifest", "load_manifests", "Action", "Change", "FieldChange",
           "Plan", "compute_plan"]
