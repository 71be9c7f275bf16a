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


# The first generation's threshold during an apply: a collection every this many new container objects, not
# CPython's 700. What an apply makes after the freeze is its requests' and answers' short-lived objects (a cycle
# among them is rare: an exception with its traceback) and the records it keeps until exit. At 700, 10,000
# small creates ran 161 collections in 64 ms (one of them a full one over every record kept so far) and freed
# nothing; at 10,000, 11 collections in 17 ms. A cycle's garbage waits a little longer to be freed: at most this
# many objects more.
YOUNG_THRESHOLD = 10_000


def collect_from_now_on() -> None:
    """Freeze every object that exists now out of later collections, and collect what comes after."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()
