"""The start of a command line process, set before the package imports its stages.

Every run (`python -m provisioner ...`, the `provisioner` script) first imports the whole pipeline: thousands of
classes, functions and schemas that live until the process ends. Two costs of those imports buy it nothing:

- the cyclic collector's passes over them (about 0.015 s of CPU): the run pauses it anyway (heap.py), from the
  first import on instead of once the command starts;
- pydantic's search for plugins at its first model (the `pydantic` entry points of every installed distribution:
  it imports importlib.metadata, zipfile, email... and reads each distribution's metadata, about 0.02 s). The
  command line runs no pydantic plugin, so a loader that finds none stands in for pydantic's own (pydantic takes
  only `get_plugins` from it).

And one thing the imports must not do: end in a traceback. Ctrl-C (or a job's cancel) during the imports, about
0.3 s of every run and several seconds on a busy machine, raised KeyboardInterrupt in whichever module was loading,
before the command line's own handling of it (cli.main) existed. Until the command starts, an interrupt ends the
run as an interrupted command does, "Interrupted." and exit 130: nothing has been read, sent or written yet.

A program that imports the package as a library keeps its collector and its pydantic plugins as they are: only a
process started as the command line is set up here.
"""
from __future__ import annotations

import os
import signal
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
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    if _PYDANTIC_LOADER not in sys.modules:
        loader = types.ModuleType(_PYDANTIC_LOADER, "No pydantic plugins for the provisioner's command line.")
        loader.get_plugins = _no_plugins
        sys.modules[_PYDANTIC_LOADER] = loader


def _interrupted_while_starting(number, frame) -> None:
    os.write(2, b"Interrupted.\n")
    os._exit(130)


def command_starts() -> None:
    """The command line takes its interrupts back (a KeyboardInterrupt, which it reports): from here on an
    interrupt may find work to finish or report."""
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _no_plugins() -> tuple:
    return ()
