"""The start of a command line process, set before the package imports its stages.

Every run (`python -m provisioner ...`, the `provisioner` script) first imports the whole pipeline: thousands of
classes, functions and schemas that live until the process ends. Two costs of those imports buy it nothing:

- the cyclic collector's passes over them (about 0.015 s of CPU): the run pauses it anyway (heap.py), from the
  first import on instead of once the command starts;
- pydantic's search for plugins at its first model (the `pydantic` entry points of every installed distribution:
  it imports importlib.metadata, zipfile, email... and reads each distribution's metadata, about 0.02 s). The
  command line runs no pydantic plugin, so a loader that finds none stands in for pydantic's own (pydantic takes
  only `get_plugins` from it).

A program that imports the package as a library keeps its collector and its pydantic plugins as they are: only a
process started as the command line is set up here.
"""
from __future__ import annotations

import os
import sys
import types

from .heap import pause_collection

PACKAGE = "provisioner"
_PYDANTIC_LOADER = "pydantic.plugin._loader"
# The console script as argv[0] names it while it imports the package (its launcher renames it only after that);
# not `provisioner.py`: a program of that name imports the package as a library.
_SCRIPT_NAMES = frozenset({PACKAGE, f"{PACKAGE}.exe", f"{PACKAGE}-script.py", f"{PACKAGE}-script.pyw"})


def started_as_command_line() -> bool:
    """Whether this process is `python -m provisioner` (the package being imported to run it: argv[0] is "-m"
    until then, and the interpreter's own arguments name the module) or the `provisioner` script."""
    if sys.argv[:1] == ["-m"]:
        return _module_run(getattr(sys, "orig_argv", [])) in (PACKAGE, f"{PACKAGE}.__main__")
    return bool(sys.argv) and os.path.basename(sys.argv[0]) in _SCRIPT_NAMES


def _module_run(interpreter_argv: list[str]) -> str | None:
    """The module `-m` names in the interpreter's arguments (`-m name` or `-mname`), if any."""
    for position, argument in enumerate(interpreter_argv[1:], 1):
        if argument == "-m":
            return interpreter_argv[position + 1] if position + 1 < len(interpreter_argv) else None
        if argument.startswith("-m"):
            return argument[2:]
    return None


def prepare() -> None:
    if not started_as_command_line():
        return
    pause_collection()
    if _PYDANTIC_LOADER not in sys.modules:
        loader = types.ModuleType(_PYDANTIC_LOADER, "No pydantic plugins for the provisioner's command line.")
        loader.get_plugins = _no_plugins
        sys.modules[_PYDANTIC_LOADER] = loader


def _no_plugins() -> tuple:
    return ()
