"""provisioner: declarative, Terraform-style provisioning of voice AI assistants.

The library API is the pipeline's stages: load manifests, compute a plan, apply it.
"""
__version__ = "0.1.0"

import importlib  # noqa: E402

from .startup import prepare  # noqa: E402

prepare()  # a command line run: see startup.py

# The library API, each name imported from its module on first use (PEP 562): a command line run imports the
# package first, and `provisioner --version` or `provisioner emulator` would otherwise pay for the whole pipeline
# (pydantic's models, the kinds, the planner: about 0.13 s) before doing anything.
_EXPORTS = {"ProvisionerError": "errors", "Manifest": "manifest", "load_manifests": "manifest", "Action": "plan",
            "Change": "plan", "FieldChange": "plan", "Plan": "plan", "compute_plan": "planner"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
