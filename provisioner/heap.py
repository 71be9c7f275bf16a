"""The cyclic garbage collector, set for a run that builds one large heap of acyclic data and then exits.

Loading 10,000 manifests, reading 10,000 listed assistants and planning allocate millions of objects that
live until the run ends, and none of them is part of a cycle. CPython's collector rescans every live object
each time the long-lived heap grows by a quarter: a 10,000-assistant plan spent a quarter of its time in
those scans, freeing nothing. So a run reads and plans with the collector paused (what little cyclic garbage
that makes is bounded by the inputs, which have limits of their own), and an apply first freezes what exists
(it is kept until exit anyway, and is never scanned again), then collects the garbage its requests make.
A server (`provisioner emulator`) runs with the collector on.
"""
from __future__ import annotations

import gc


def pause_collection() -> None:
    gc.disable()


def collect_from_now_on() -> None:
    """Freeze every object that exists now out of later collections, and collect what comes after."""
    gc.freeze()
    gc.enable()
