"""The apply's graph: which step waits for which, and the walk that runs them (Terraform's internal/dag walker).

A plan's changes become steps. Most changes are one step; a replacement (`Change.replace`) is two, the
creation of the new object and the destruction of the old one, in the order its kind allows
(create-before-destroy unless two of them cannot exist at once). A step starts once every step it waits
for is done; independent steps run side by side, at most `parallelism` at a time. A step that fails skips
every step that waits for it, transitively, and each skipped one is told which failure skipped it.

Who waits for whom (addresses are state addresses: an assistant's bare name, `<kind>.<name>` otherwise):

1. A create, update or import waits for the creation of each address in its `depends_on` that this plan
   creates, updates, imports or replaces (an address the plan does not touch is already there: its id
   comes from state). Depending on an address this plan only destroys is an error of that change.
2. The destruction of X (a delete, or the old half of X's replacement) waits for every step that points
   at X: a change whose `depends_on` names X (it must hold the new id, or have dropped X, first), and a
   change whose object pointed at X when it was last applied (the `depends_on` state recorded for it: an
   update that drops X, or the deletion of something that used X, e.g. a campaign before its assistant,
   a document before its knowledge base; a plain delete's own `depends_on` counts as recorded). When X's
   replacement destroys first, only destructions can wait: the new X cannot exist before the old one is gone.
   An update that withdraws X from its users (`withdraws`: an assistant made inbound, which campaigns cannot
   call with) waits, like X's destruction, for the destruction of every object that pointed at X.
3. Within one kind, plain deletes go before the creates, updates and imports that do not themselves come
   before a delete: what a delete gives up (a unique name, an inbound number) is then free (as before
   kinds existed: "deletes first").

A step may answer `Later` instead of its outcome (a created document apply waits for while the platform
processes it): it then holds no worker and no place in the window until its `resume` is due, which runs on a
worker and answers the outcome or another `Later`. A wait does not lower `--parallelism`. An `idle` one is
resumed sooner, as soon as no step is in flight (a delete answered 404, whose confirming list read is then
shared by every such delete, and a create whose answer was lost, looked for in a read shared the same way); a stop
resumes every wait at once.

The walk is built for 10,000 independent steps as much as for a deep graph: integers and lists, one pass
to build, and the same window of submitted work as before (a few steps per worker; each finished step
announces itself on a queue, read once per step).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Executor, Future, TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import ProvisionerError
from .kinds import manifest_address as state_address  # `assistant.x` is the assistant `x` in state
from .plan import Action, Change


# The parts a change is made of.
WHOLE = "whole"      # the change itself (create, update, import, delete, forget)
CREATE = "create"    # a replacement's new object
DESTROY = "destroy"  # a replacement's old object
BARRIER = "barrier"  # no work: the point where one kind's deletes are all done


def destroys(change: Change) -> bool:
    return change.action in (Action.DELETE, Action.FORGET)


@dataclass
class Step:
    change: int  # index in the plan's changes (-1 for a barrier)
    part: str


@dataclass
class Graph:
    steps: list[Step]
    successors: list[list[int]]
    waits_for: list[int]  # how many steps each one waits for
    # change index -> why it cannot run at all (it fails before any request, and skips its dependents)
    problems: dict[int, str] = field(default_factory=dict)
    # change index -> its steps, in the order they run
    parts: list[list[int]] = field(default_factory=list)


class GraphCycle(ProvisionerError):
    pass


def build_graph(changes: Sequence[Change], recorded_depends_on: Callable[[str], Iterable[str]],
                create_first: Callable[[Change], bool],
                withdraws: Callable[[Change], bool] | None = None) -> Graph:
    """The steps of `changes` and their order. `recorded_depends_on(address)` is what state recorded the object
    at `address` depended on when last applied; `create_first(change)` whether a replacement can create the new
    object before destroying the old one (two may exist at once); `withdraws(change)` whether an update takes
    its object away from whatever uses it (rule 2)."""
    create_first = _destroying_first_spreads(changes, create_first)
    steps: list[Step] = []
    parts: list[list[int]] = []
    edges: list[tuple[int, int]] = []
    creator: dict[str, int] = {}    # address -> the step after which its (new) object exists
    destroyer: dict[str, int] = {}  # address -> the step that destroys its (old) object
    only_destroyed: set[str] = set()
    addresses: list[str] = []  # each change's state address
    for index, change in enumerate(changes):
        address = state_address(change.address)
        addresses.append(address)
        if change.replace and not destroys(change):
            made, gone = len(steps), len(steps) + 1
            steps += [Step(index, CREATE), Step(index, DESTROY)]
            if create_first(change):
                edges.append((made, gone))
                parts.append([made, gone])
            else:
                edges.append((gone, made))
                parts.append([gone, made])
            creator[address], destroyer[address] = made, gone
        else:
            step = len(steps)
            steps.append(Step(index, WHOLE))
            parts.append([step])
            if destroys(change):
                destroyer[address] = step
                only_destroyed.add(address)
            else:
                creator[address] = step
    problems: dict[int, str] = {}
    # Rule 1, and the index of who points at what for rule 2: address -> [(step, through the recorded past)].
    # Only rule 2 reads that index: a plan that destroys nothing and withdraws nothing (all new, or updates
    # only) does not build it. A reference's state address is worked out once per address, not per use.
    pointers: dict[str, list[tuple[int, bool]]] = {}
    need_pointers = bool(destroyer) or (withdraws is not None and any(
        not destroys(change) and not change.replace and withdraws(change) for change in changes))
    referenced: dict[str, str] = {}  # a depends_on entry -> its state address
    for index, change in enumerate(changes):
        address = addresses[index]
        mine = parts[index]
        if change.depends_on and not destroys(change):
            made = creator[address]
            for needed in change.depends_on:
                target = referenced.get(needed)
                if target is None:
                    target = referenced[needed] = state_address(needed)
                if target == address:
                    continue
                if target in only_destroyed:
                    problems[index] = f"it depends on {target}, which this plan destroys"
                    continue
                if target in creator:
                    edges.append((creator[target], made))
                if need_pointers:
                    pointers.setdefault(target, []).append((made, False))
        if not need_pointers:
            continue
        recorded = recorded_depends_on(address)
        if change.depends_on and change.action is Action.DELETE:
            recorded = [*recorded, *change.depends_on]  # what it used, as the plan found (plan_campaigns.py)
        if recorded:
            # What the old object pointed at: released when it is updated (its new version) or destroyed.
            releasing = destroyer.get(address, mine[0]) if destroys(change) or change.replace else mine[0]
            for target in recorded:
                target = state_address(target)
                if target != address:
                    pointers.setdefault(target, []).append((releasing, True))
    # Rule 2.
    for target, gone in destroyer.items():
        change = changes[steps[gone].change]
        destroy_first = change.replace and not destroys(change) and not create_first(change)
        for step, recorded in pointers.get(target, ()):
            if step == gone or (destroy_first and not (recorded and steps[step].part != CREATE
                                                       and _is_destruction(changes, steps[step]))):
                continue
            edges.append((step, gone))
    if withdraws is not None:
        # Rule 2 for an update that withdraws its object: the destructions of what pointed at it come first.
        for index, change in enumerate(changes):
            if not destroys(change) and not change.replace and withdraws(change):
                update = parts[index][0]
                for step, recorded in pointers.get(state_address(change.address), ()):
                    if recorded and step != update and _is_destruction(changes, steps[step]):
                        edges.append((step, update))
    # Rule 3: per kind, a barrier after the plain deletes for the creates/updates/imports not needed by a delete.
    plain = len(steps)
    barrier_edges = _barriers(changes, steps, edges)
    graph = _finish(steps, edges + barrier_edges, problems, parts)
    if graph is None and barrier_edges:
        # A kind whose deletes and other changes wait for each other: keep only the references' order.
        del steps[plain:]
        graph = _finish(steps, edges, problems, parts)
    if graph is None:
        named = " -> ".join(_step_name(changes, steps[i]) for i in _a_cycle(len(steps), edges))
        raise GraphCycle(f"the plan's changes depend on each other in a cycle ({named}); nothing was applied. A "
                         "replacement that destroys first (folders, labels, SIP trunks, an assistant holding a "
                         "number) cannot wait for what uses it to be made again: change them in separate applies "
                         "(first what uses it, for instance without that reference, then the replacement). A "
                         "reference cycle between manifests is reported by `validate` with its files")
    return graph


def _destroying_first_spreads(changes: Sequence[Change],
                              create_first: Callable[[Change], bool]) -> Callable[[Change], bool]:
    """`create_first`, except that a replacement which references an object whose own replacement destroys first
    destroys first too. Created first, it would wait for itself: its new object needs the referenced object's new
    one (rule 1), which comes only after the old one is gone, which waits for the old referrer's destruction
    (rule 2), which waits for the new referrer (a campaign using a SIP trunk whose type changed, or an assistant
    holding a number, replaced together). Terraform spreads create_before_destroy the other way, to what a
    resource needs; a kind that destroys first cannot take it, so the referrer gives way."""
    first = {i: create_first(c) for i, c in enumerate(changes) if c.replace and not destroys(c)}
    gone_first = {state_address(changes[i].address) for i, yes in first.items() if not yes}
    spreading = bool(gone_first)
    while spreading:  # along chains of replacements: each round turns at least one, or ends
        spreading = False
        for i, yes in first.items():
            if yes and any(state_address(d) in gone_first for d in changes[i].depends_on):
                first[i] = False
                gone_first.add(state_address(changes[i].address))
                spreading = True
    if not gone_first:
        return create_first
    turned = {id(changes[i]) for i, yes in first.items() if not yes}
    return lambda change: id(change) not in turned and create_first(change)


def _successors(count: int, edges: list[tuple[int, int]]) -> tuple[list[list[int]], list[int]]:
    """Each step's followers and how many steps it waits for, each edge once (edges past `count`, a dropped
    barrier's, left out)."""
    successors: list[list[int]] = [[] for _ in range(count)]
    waits_for = [0] * count
    for before, after in set(edges):
        if before < count and after < count:
            successors[before].append(after)
            waits_for[after] += 1
    return successors, waits_for


def _step_name(changes: Sequence[Change], step: Step) -> str:
    """A step of a plan's change (no barrier step is left when a cycle is reported: build_graph drops them)."""
    change = changes[step.change]
    return change.address + {CREATE: " (new)", DESTROY: " (old)"}.get(step.part, f" ({change.action.value})")


def _a_cycle(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """The steps of one cycle among `edges` (as many as it has, first one repeated at the end), for the message."""
    successors, _ = _successors(count, edges)
    state = [0] * count  # 0 not seen, 1 on the path, 2 done
    for start in range(count):
        if state[start]:
            continue
        path, stack = [], [(start, iter(successors[start]))]
        state[start] = 1
        path.append(start)
        while stack:
            node, following = stack[-1]
            step = next(following, None)
            if step is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state[step] == 1:
                return path[path.index(step):] + [step]
            elif state[step] == 0:
                state[step] = 1
                path.append(step)
                stack.append((step, iter(successors[step])))
    return []


def _is_destruction(changes: Sequence[Change], step: Step) -> bool:
    return step.part == DESTROY or (step.part == WHOLE and destroys(changes[step.change]))


def _barriers(changes: Sequence[Change], steps: list[Step], edges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Rule 3's edges, through one barrier step per kind that has plain deletes (appended to `steps`)."""
    deletes: dict[str, list[int]] = {}
    for number, step in enumerate(steps):
        if step.part == WHOLE and changes[step.change].action is Action.DELETE:
            deletes.setdefault(changes[step.change].kind, []).append(number)
    if not deletes:
        return []
    before_a_delete = {a for a, b in edges if _is_destruction(changes, steps[b])}
    added: list[tuple[int, int]] = []
    for kind, gone in deletes.items():
        barrier = len(steps)
        steps.append(Step(-1, BARRIER))
        added += [(step, barrier) for step in gone]
        for number, step in enumerate(steps[:barrier]):
            change = changes[step.change] if step.change >= 0 else None
            if (change is not None and step.part == WHOLE and change.kind == kind and not destroys(change)
                    and number not in before_a_delete):
                added.append((barrier, number))
    return added


def _finish(steps: list[Step], edges: list[tuple[int, int]], problems: dict[int, str],
            parts: list[list[int]]) -> Graph | None:
    """The graph, or None if its edges hold a cycle (Kahn's count)."""
    count = len(steps)
    successors, waits_for = _successors(count, edges)
    remaining = list(waits_for)
    ready = [i for i in range(count) if not remaining[i]]
    seen = 0
    while ready:
        step = ready.pop()
        seen += 1
        for after in successors[step]:
            remaining[after] -= 1
            if not remaining[after]:
                ready.append(after)
    if seen != count:
        return None
    return Graph(steps, successors, waits_for, problems, parts)


@dataclass
class Later:
    """A step's answer when it is not done yet: call `resume` (on a worker) at `at` (time.monotonic()); it answers
    the step's outcome or another Later. Until then the step holds no worker and no place in the window.
    `abandon` answers its outcome when the walk stops at once instead (a KeyboardInterrupt: `abandon_waits`).
    `idle`: resumed before `at` as soon as no step is in flight (a wait many steps share, which one request then
    answers for all of them and which nothing needs sooner: the deletes answered 404, apply.py's _Unconfirmed, and the
    creates whose answers were lost, its _LostCreate)."""

    at: float
    resume: Callable[[], Any]
    abandon: Callable[[], Any] | None = None
    idle: bool = False


@dataclass
class WalkCallbacks:
    """What the walk does with steps; every callback runs on the walking (calling) thread but `run`."""

    run: Callable[[int], Any]                 # on a worker: do step n, return its outcome
    finished: Callable[[int, Future], bool]   # step n's future is done: record it; True if it succeeded
    skipped: Callable[[int, int], None]       # step n will not run because step m (which failed) did not succeed
    not_started: Callable[[int], None]        # step n never started (the walk was stopped)


# Steps submitted and not yet settled, per unit of parallelism (docs/reliability.md: at most this many times
# --parallelism changes are done on the platform and not yet committed, besides the idle waits: the deletes answered
# 404 waiting for their confirming read leave the window, any number of them, their objects still in state, and so do
# the creates whose answers were lost, waiting for the read that finds what they made under their names).
WINDOW = 3


class Walk:
    """Runs a Graph's steps under a worker bound; `stop()` (from any thread) starts nothing new."""

    def __init__(self, graph: Graph, callbacks: WalkCallbacks, parallelism: int):
        self.graph = graph
        self.callbacks = callbacks
        self.parallelism = max(1, parallelism)
        self.stopped = threading.Event()
        self._pending: set[Future] = set()
        self._settled = [False] * len(graph.steps)  # done, failed, skipped or not started
        self._waiting: list[tuple[float, int, int, Later]] = []  # a heap of (due, tie-break, step, Later)
        self._idle_waits: list[tuple[float, int, int, Later]] = []  # the same, of the Laters resumed when idle

    def stop(self) -> None:
        """Start nothing new; cancel what was submitted but has not started (it announces itself cancelled)."""
        self.stopped.set()
        for future in list(self._pending):
            if not getattr(future, "resumed", False):  # a resumed step began long ago: it finishes and reports
                future.cancel()

    def in_flight(self) -> list[Future]:
        """The submitted steps not yet settled (after an exception in `run`, for the caller to finish)."""
        return [f for f in self._pending if not self._settled[f.step]]  # type: ignore[attr-defined]

    def finish(self, future: Future) -> None:
        """Settle a step that was in flight when `run` was left by an exception (a worker finishes what it began;
        a step that had answered Later is given up: `abandon_waits`)."""
        step = future.step  # type: ignore[attr-defined]
        if not self._settled[step] and not future.cancelled():
            outcome = future.result()
            if isinstance(outcome, Later):
                self._abandon(step, outcome)
                return
            self.callbacks.finished(step, future)
            self._settled[step] = True  # after its report: an interrupt in `finished` leaves it to be finished again

    def abandon_waits(self) -> None:
        """Settle every step waiting to be resumed with what its Later's `abandon` answers (the walk stops at once)."""
        waiting, self._waiting, self._idle_waits = self._waiting + self._idle_waits, [], []
        for _, _, step, later in waiting:
            self._abandon(step, later)

    def _abandon(self, step: int, later: Later) -> None:
        if self._settled[step] or later.abandon is None:
            return  # settled by settle_rest, as not started
        done: Future = Future()
        try:
            done.set_result(later.abandon())
        except Exception as error:  # noqa: BLE001 - reported as the step's failure, as a worker's would be
            done.set_exception(error)
        self.callbacks.finished(step, done)
        self._settled[step] = True

    def settle_rest(self) -> None:
        """Every step not settled yet never started (the walk was stopped)."""
        for step in range(len(self.graph.steps)):
            if not self._settled[step]:
                self._settled[step] = True
                if self.graph.steps[step].part != BARRIER:
                    self.callbacks.not_started(step)

    def run(self, pool: Executor, on_idle: Callable[[], None] = lambda: None) -> None:
        """Walk until every step is done, skipped or (after stop) not started. `on_idle` is called at least
        every 0.2 s while waiting (the caller looks at its interrupt flag there). A KeyboardInterrupt or any
        other exception propagates at once (the caller finishes what is in flight: `in_flight`, `finish`)."""
        graph, callbacks, settled = self.graph, self.callbacks, self._settled
        remaining = list(graph.waits_for)
        ready = deque(n for n in range(len(graph.steps)) if not remaining[n])
        finished: queue.SimpleQueue[tuple[int, Future]] = queue.SimpleQueue()
        # Submitted and not settled: the workers' steps, and twice as many done and waiting for their commit (apply
        # lets its commits gather two workers' worth, StateRecorder.committing), so no worker waits for a place.
        window = WINDOW * self.parallelism
        pending = self._pending
        waiting = self._waiting
        idle_waits = self._idle_waits
        order = itertools.count()

        def succeeded(step: int) -> None:
            for after in graph.successors[step]:
                remaining[after] -= 1
                if not remaining[after] and not settled[after]:
                    ready.append(after)

        def failed(step: int) -> None:
            todo = list(graph.successors[step])
            while todo:
                after = todo.pop()
                if settled[after]:
                    continue
                settled[after] = True
                if graph.steps[after].part != BARRIER:
                    callbacks.skipped(after, step)
                todo += graph.successors[after]

        def submit_more() -> None:
            while ready and len(pending) < window and not self.stopped.is_set():
                step = ready.popleft()
                if settled[step]:
                    continue
                if graph.steps[step].part == BARRIER:
                    settled[step] = True
                    succeeded(step)
                    continue
                submit(step, callbacks.run, step)

        def submit(step: int, work: Callable[..., Any], *args: Any) -> Future:
            future = pool.submit(work, *args)
            future.step = step  # type: ignore[attr-defined]
            pending.add(future)
            future.add_done_callback(lambda f, s=step: finished.put((s, f)))
            return future

        def resume(heap: list[tuple[float, int, int, Later]], now: float, early: bool = False) -> None:
            """Resume the waits of `heap` that are due (all of them if `early`, or once stopped: they finish at once)."""
            while heap and (heap[0][0] <= now or early or self.stopped.is_set()):
                _, _, step, later = heapq.heappop(heap)
                submit(step, later.resume).resumed = True  # type: ignore[attr-defined]

        def resume_due() -> float:
            """Resume the waits that are due, and the idle ones once no step is in flight; seconds to the next."""
            now = time.monotonic()
            resume(waiting, now)
            resume(idle_waits, now, early=not pending)  # after the due ones: a poll resumed now is in flight
            return min(heap[0][0] - now if heap else 0.2 for heap in (waiting, idle_waits))

        submit_more()
        while pending or waiting or idle_waits:
            on_idle()
            try:
                step, future = finished.get(timeout=min(0.2, max(0.0, resume_due())))
            except queue.Empty:
                continue
            if future.cancelled():
                pending.discard(future)
                continue  # settled at the end, as not started
            if future.exception() is None and isinstance(future.result(), Later):
                pending.discard(future)  # waiting: its place in the window goes to the next step
                later = future.result()
                heapq.heappush(idle_waits if later.idle else waiting, (later.at, next(order), step, later))
                submit_more()
                continue
            ok = callbacks.finished(step, future)
            settled[step] = True  # after its report: an interrupt in `finished` leaves it in flight, to be finished
            pending.discard(future)
            if ok:
                succeeded(step)
            else:
                failed(step)
            on_idle()  # an interrupt seen now starts nothing more
            submit_more()
        self.settle_rest()


_PENDING, _RUNNING, _CANCELLED, _FINISHED = range(4)


class Call:
    """What Workers.submit answers: concurrent.futures.Future's interface (what a walk and its callbacks use of it:
    result, exception, cancel, cancelled, running, done, add_done_callback), for one call.

    A Future makes a Condition (and its lock) of its own and takes it several times per call; the calls of one
    Workers share one lock, and the Condition on it is woken only when somebody waits for a call not done yet
    (a walk reads a call once it said it is done). `step` and `resumed` are the walk's notes on it."""

    __slots__ = ("_owner", "_state", "_result", "_error", "_callbacks", "step", "resumed")

    def __init__(self, owner: "Workers"):
        self._owner = owner
        self._state = _PENDING
        self._result: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[["Call"], Any]] = []

    def cancel(self) -> bool:
        with self._owner._lock:
            if self._state in (_RUNNING, _FINISHED):
                return False
            if self._state == _CANCELLED:
                return True
            self._state = _CANCELLED
            self._owner._wake()
        self._call_back()
        return True

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def running(self) -> bool:
        return self._state == _RUNNING

    def done(self) -> bool:
        return self._state in (_CANCELLED, _FINISHED)

    def _wait(self, timeout: float | None) -> None:
        owner = self._owner
        with owner._lock:
            if self._state not in (_CANCELLED, _FINISHED):
                owner._waiters += 1
                try:
                    owner._settled.wait_for(lambda: self._state in (_CANCELLED, _FINISHED), timeout)
                finally:
                    owner._waiters -= 1
        if self._state == _CANCELLED:
            raise CancelledError()
        if self._state != _FINISHED:
            raise FuturesTimeout()

    def result(self, timeout: float | None = None) -> Any:
        if self._state != _FINISHED:
            self._wait(timeout)
        if self._error is not None:
            raise self._error
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if self._state != _FINISHED:
            self._wait(timeout)
        return self._error

    def add_done_callback(self, fn: Callable[["Call"], Any]) -> None:
        with self._owner._lock:
            if self._state not in (_CANCELLED, _FINISHED):
                self._callbacks.append(fn)
                return
        self._run_callback(fn)  # already done: run now, an error logged as a Future logs it

    def _start(self) -> bool:
        """The worker's set_running_or_notify_cancel: False if it was cancelled (then it is not run)."""
        with self._owner._lock:
            if self._state == _CANCELLED:
                return False
            self._state = _RUNNING
            return True

    def _finish(self, result: Any, error: BaseException | None) -> None:
        with self._owner._lock:
            self._result, self._error, self._state = result, error, _FINISHED
            self._owner._wake()
        self._call_back()

    def _call_back(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            self._run_callback(fn)

    def _run_callback(self, fn: Callable[["Call"], Any]) -> None:
        try:
            fn(self)
        except Exception:  # as a Future does: logged, and the worker (or the caller adding it) goes on
            logging.getLogger("concurrent.futures").exception("exception calling callback for %r", self)


class Workers(Executor):
    """A fixed set of worker threads that run submitted calls in order: what a walk needs of ThreadPoolExecutor.

    ThreadPoolExecutor's bookkeeping per call (two locks, a work item, an idle semaphore taken on submit and
    given back after each call, both Python code around a Condition) cost about as much CPU as the rest of
    a change's bookkeeping on a slow core. Here a call is one queue put and one get (C), and the Future the
    walk reads (a `Call`, not a Future). Threads start as calls come, up to `count`. `shutdown` runs what was submitted (unless
    cancelled) and joins the threads, as ThreadPoolExecutor's does."""

    def __init__(self, count: int, thread_name_prefix: str = "worker"):
        self._count = max(1, count)
        self._prefix = thread_name_prefix
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._shut = False
        self._lock = threading.Lock()  # every Call's state, and the threads'
        self._settled = threading.Condition(self._lock)  # for whoever waits for a Call not done yet
        self._waiters = 0

    def _wake(self) -> None:
        """A Call was settled (called holding the lock): wake whoever waits for one."""
        if self._waiters:
            self._settled.notify_all()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Call:  # type: ignore[override]
        future = Call(self)
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._calls.put((future, fn, args, kwargs))
            if len(self._threads) < self._count:
                thread = threading.Thread(target=self._work, name=f"{self._prefix}_{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        calls = self._calls
        while True:
            item = calls.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future._start():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - the future holds it, as ThreadPoolExecutor's do
                future._finish(None, error)
                del error
            else:
                future._finish(result, None)
            del item, future, fn, args, kwargs

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        dropped = []
        with self._lock:
            if not self._shut:
                self._shut = True
                while cancel_futures:
                    try:
                        dropped.append(self._calls.get_nowait())
                    except queue.Empty:
                        break
                for _ in self._threads:
                    self._calls.put(None)  # after every call already submitted
        for item in dropped:
            if item is not None:
                item[0].cancel()  # (it takes the lock)
        if wait:
            for thread in self._threads:
                thread.join()


def recorded_lookup(resources: Mapping[str, Any]) -> Callable[[str], Iterable[str]]:
    """`recorded_depends_on` from state resources (ResourceState has `depends_on`)."""
    def lookup(address: str) -> Iterable[str]:
        entry = resources.get(address)
        return getattr(entry, "depends_on", None) or () if entry is not None else ()
    return lookup
