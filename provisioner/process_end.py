"""The end of a CLI process: once the command is done, it exits without freeing its heap object by object.

A plan or an apply keeps millions of objects alive until the end (heap.py): the manifests, the state, the
platform's lists. Python's finalization then frees every one of them (0.25 s of CPU after a 10,000-object
no-change plan) for a process that is about to end anyway. So `main()`, when it is the process's entry point
(`python -m provisioner`, the `provisioner` script), ends the process itself once the command has its exit code:
the atexit functions run as they would (nothing registered is skipped), the standard streams are flushed, then
os._exit. Everything else is as Python's own exit, which is used whenever any of this is not plain:

- another thread still runs (Python would wait for it: an apply's worker finishing its write and state commit);
- the exit code is not a number (Python prints it), or the streams cannot be flushed (Python reports that);
- the emulator was loaded (a server, and --local's embedded platform: its store is closed by finalizers).
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any, Callable


def is_entry_point(main: Callable[..., Any]) -> bool:
    """Whether `main` is what the process runs: `python -m provisioner` and the console script both import it into
    __main__ and call it (a program or test that calls cli.main() itself keeps Python's exit)."""
    return getattr(sys.modules.get("__main__"), "main", None) is main


def plain_code(code: Any) -> bool:
    """An exit code Python's exit passes on as it is: None (0) or a number (not a message it prints)."""
    return code is None or (type(code) is int and -2**31 <= code < 2**31)


def quick_exit_allowed(code: Any) -> bool:
    if not plain_code(code):
        return False
    if any(thread is not threading.main_thread() and thread.is_alive() and not thread.daemon
           for thread in threading.enumerate()):
        return False
    return not any(name == "provisioner.emulator" or name.startswith("provisioner.emulator.") for name in sys.modules)


def end_process(code: Any) -> None:
    """End the process with `code` (None: 0) without its teardown, if quick_exit_allowed; else return (the caller
    then exits as usual)."""
    if not quick_exit_allowed(code):
        return
    atexit._run_exitfuncs()  # every atexit function, as Python's exit runs them (then none is left to run twice)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except Exception:  # a closed pipe, a full disk: Python's exit says so, as before
        return
    os._exit(0 if code is None else code)
