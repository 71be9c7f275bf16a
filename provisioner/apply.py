"""Executing a plan: the API calls, concurrently, with state persisted after every change that succeeded.

Nothing is decided here that the plan did not decide, with one exception that
keeps the no-duplicates promise: a create whose outcome is unknown (the
platform failed or the connection dropped after the request went out) is
never simply sent again. We first look on the platform for an assistant with
that name that was not there before, and adopt it if it exists.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .client import PlatformClient
from .errors import ApiError, NotFoundError, RejectedError, ServerError, StateError, TransportError
from .plan import Action, Change, Plan
from .ratelimit import RateBudget, WaitCancelled
from .state import ResourceState, State, StateBackend
from .wire import Lookups, Unreadable, create_body, dialect_asked_for, manifest_field, to_dialect


@dataclass
class ChangeResult:
    change: Change
    ok: bool
    seconds: float
    remote_id: int | None = None
    message: str = ""
    # For a 422: the platform's complaint per field.
    field_errors: dict[str, list[str]] = field(default_factory=dict)
    skipped: bool = False
    ticket: int = 0  # the state mutation that records it (StateRecorder.queue); reported once durable
    waited: float = 0.0  # of `seconds`, the time spent waiting for the rate budget (the run's pace, not the platform)


@dataclass
class ApplyReport:
    results: list[ChangeResult] = field(default_factory=list)
    interrupted: bool = False
    halted: str = ""  # why the apply stopped starting changes (the state store failed), if it did

    @property
    def failed(self) -> list[ChangeResult]:
        return [r for r in self.results if not r.ok and not r.skipped]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def count(self, action: Action) -> int:
        return sum(1 for r in self.results if r.ok and r.change.action is action)


class StateRecorder:
    """Records finished changes in state, each committed before it is reported; safe from many threads.

    A commit writes only the rows of the changes it covers (and the serial), so recording a change costs
    the same in a fleet of 10 or 10,000. Commits are grouped: the changes that finish while one commit runs
    all go into the next transaction.

    Two ways in. `record` returns once the change is committed (committing it if nobody is). During an
    apply, `committing()` runs the commits on a thread of their own: workers `queue` a change and go on to
    their next request at once, and whoever reports the change first waits for it with `wait_durable`.
    A worker's next request then overlaps the commit of its last change instead of waiting for it.
    """

    # How long the committer lets changes gather before it commits: well under a request's time, so a report
    # comes hardly later, and enough to put the changes of several workers into one transaction.
    LINGER = 0.01

    def __init__(self, backend: StateBackend, state: State, *, linger: float = LINGER):
        self.backend = backend
        self.state = state
        self.linger = linger
        self._condition = threading.Condition()
        self._changed = 0    # mutations made
        self._durable = 0    # mutations committed
        self._attempted = 0  # mutations covered by the last commit attempt, committed or not
        self._failure: tuple[int, BaseException] | None = None  # (mutations it covered, why) of the last failure
        self._writing = False
        self._committer: threading.Thread | None = None
        self._closing = False
        self._pending: dict[str, ResourceState | None] = {}  # rows changed since the last commit began

    def record(self, address: str, remote_id: int, record: dict) -> None:
        self.record_all([(address, remote_id, record)])

    def record_all(self, records: list[tuple[str, int, dict]]) -> None:
        """Several records in one commit."""
        if records:
            self.wait_durable(self._queue_all(records))

    def forget(self, address: str) -> None:
        self.wait_durable(self.queue_forget(address))

    def queue(self, address: str, remote_id: int, record: dict) -> int:
        """Add the record to the next commit without waiting for it: a ticket for `wait_durable`."""
        return self._queue_all([(address, remote_id, record)])

    def queue_forget(self, address: str) -> int:
        with self._condition:
            if self.state.resources.pop(address, None) is None:
                return self._durable  # nothing to write: durable already
            self._pending[address] = None
            return self._mutated()

    def _queue_all(self, records: list[tuple[str, int, dict]]) -> int:
        with self._condition:
            for address, remote_id, record in records:
                entry = ResourceState.from_dict({"id": remote_id, **record})
                self.state.resources[address] = entry
                self._pending[address] = entry
            return self._mutated()

    def _mutated(self) -> int:
        self._changed += 1
        self._condition.notify_all()  # the committer, if one runs
        return self._changed

    def wait_durable(self, ticket: int) -> None:
        """Block until the mutation `ticket` is committed; raise why if the commit that covered it failed."""
        with self._condition:
            while self._durable < ticket:
                if self._failure is not None and ticket <= self._failure[0]:
                    raise self._failure[1]
                if self._writing or self._committer is not None:
                    self._condition.wait()
                else:
                    self._commit_pending()

    @contextlib.contextmanager
    def committing(self) -> Iterator[None]:
        """Commit queued changes on a thread of its own until the block ends (then whatever is left)."""
        self._closing = False
        self._committer = threading.Thread(target=self._commit_continuously, name="state-commits", daemon=True)
        self._committer.start()
        try:
            yield
        finally:
            with self._condition:
                self._closing = True
                self._condition.notify_all()
            self._committer.join()
            self._committer = None

    def _commit_continuously(self) -> None:
        with self._condition:
            while True:
                # After a failure, wait for a new change before trying again (its workers stop meanwhile).
                while self._attempted >= self._changed and not self._closing:
                    self._condition.wait()
                if self._attempted >= self._changed:
                    return
                if not self._closing and self.linger:
                    # Group commit: the changes that finish in the next moment join this transaction. A worker
                    # does not wait for it (it queued its change and went on), only the change's report does; and
                    # a commit costs about as much CPU for one row as for ten.
                    self._condition.release()
                    try:
                        time.sleep(self.linger)
                    finally:
                        self._condition.acquire()
                try:
                    self._commit_pending()
                except BaseException:  # noqa: BLE001 - kept in _failure; the waiters raise it
                    pass

    def _commit_pending(self) -> None:
        """Commit every pending row (called holding the condition, which is released while writing)."""
        self._writing = True
        batch, covered = self._pending, self._changed
        self._attempted = covered
        self._pending = {}
        self._condition.release()
        try:
            self.backend.commit(self.state, batch)
        except BaseException as error:
            # Not committed: put the rows back (newer changes to the same address win) for the next attempt.
            self._condition.acquire()
            self._pending = {**batch, **self._pending}
            self._failure = (covered, error)
            self._writing = False
            self._condition.notify_all()
            raise
        self._condition.acquire()
        self._writing = False
        self._durable = max(self._durable, covered)
        self._condition.notify_all()


class WriteGate:
    """Writes run side by side; a list read for a lookup waits until none is in flight and holds new ones back.

    The list is read in pages; writes landing between two page reads shift the pages, and a lookup must not
    decide "not there" from a list that moved under it. So while it reads, this apply's own writes pause.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._writing = 0
        self._readers = 0  # waiting or reading: new writes hold back for them

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._condition:
            while self._readers:
                self._condition.wait()
            self._writing += 1
        try:
            yield
        finally:
            with self._condition:
                self._writing -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        with self._condition:
            self._readers += 1
            while self._writing:
                self._condition.wait()
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()


class SharedLookup:
    """The platform's list for threads that must look after a failed create, read once for many.

    A caller needs a list whose reading began after its failure was observed (only such a list is sure to
    show what that request committed). Threads that fail at about the same time share one read: whoever
    finds no suitable list in progress reads one, and the others wait for it.
    """

    def __init__(self, client: PlatformClient, gate: WriteGate):
        self._client = client
        self._gate = gate
        self._condition = threading.Condition()
        self._latest: tuple[float, list[dict]] | None = None  # (when its reading began, items)
        self._reading_since: float | None = None

    def items_read_after(self, moment: float) -> list[dict]:
        with self._condition:
            while True:
                if self._latest is not None and self._latest[0] >= moment:
                    return self._latest[1]
                if self._reading_since is None:
                    break
                self._condition.wait()  # a read in progress: it may do, or the next one will
            began = self._reading_since = time.monotonic()
        try:
            with self._gate.quiet():
                items = self._client.list_assistants()
        finally:
            with self._condition:
                self._reading_since = None
                self._condition.notify_all()
        with self._condition:
            if self._latest is None or self._latest[0] < began:
                self._latest = (began, items)
        return items


def apply_plan(plan: Plan, client: PlatformClient, recorder: StateRecorder, *, known_ids: set[int],
               parallelism: int = 10, on_result: Callable[[ChangeResult], None] | None = None,
               on_start: Callable[[Change], None] | None = None, lookups: Lookups | None = None,
               interrupt: threading.Event | None = None) -> ApplyReport:
    """Run every change; `known_ids` are the platform ids that existed when planning (see module docstring).

    Setting `interrupt` (the CLI's Ctrl-C and SIGTERM handler does) starts nothing new: the changes in flight
    finish, are committed and reported, and the report says it was interrupted. A KeyboardInterrupt does the
    same, but may land anywhere; the handler's event is only looked at between two results."""
    report = ApplyReport()
    stop = threading.Event()
    recorder.record_all([(sync.address, recorder.state.resources[sync.address].id, sync.record)
                         for sync in plan.state_sync if sync.address in recorder.state.resources])

    gate = WriteGate()
    lookup = SharedLookup(client, gate)
    wire = Wire(plan.dialect, lookups or Lookups(), gate)
    budget: RateBudget = getattr(client, "budget", None) or RateBudget()

    def run(change: Change) -> ChangeResult:
        if stop.is_set():
            return ChangeResult(change, ok=False, seconds=0.0, skipped=True, message="not started (interrupted)")
        if on_start:
            on_start(change)
        started = time.monotonic()
        sent_before, waited_before = budget.thread_counters()
        try:
            result = _execute(change, client, recorder, known_ids, lookup, wire)
        except WaitCancelled:
            if budget.thread_counters()[0] == sent_before:
                # Interrupted while it waited for its first request: nothing of it reached the platform.
                result = ChangeResult(change, False, 0.0, change.remote_id, skipped=True,
                                      message="not sent (interrupted while waiting for the rate budget)")
            else:
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      "interrupted while it waited for the rate budget to retry or to look for "
                                      "its outcome; run plan to see where it stands")
        except RejectedError as error:
            other = dialect_asked_for(plan.dialect, error.errors)
            if other:  # every field error is then about names, not values: one line that says what to do
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      f"the platform rejected the {plan.dialect} create dialect ({error.summary}): "
                                      f"this platform takes {other}: set `--api-dialect {other}` (or "
                                      f"PROVISIONER_API_DIALECT={other}, or api_dialect: {other} in provisioner.yaml)")
            else:
                errors = {manifest_field(key, plan.dialect): messages for key, messages in error.errors.items()}
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      f"the platform rejected it: {error.summary}", field_errors=errors)
        except Unreadable as error:
            result = ChangeResult(change, False, 0.0, change.remote_id, f"cannot build the request: {error}")
        except ApiError as error:
            result = ChangeResult(change, False, 0.0, change.remote_id, str(error))
        result.seconds = time.monotonic() - started
        result.waited = min(result.seconds, budget.thread_counters()[1] - waited_before)
        return result

    collected: set[Future] = set()

    def collect(future: Future) -> None:
        """Report a finished change once its state is committed; a store that fails stops new changes."""
        if future in collected:  # Ctrl-C arrived after it was reported, before it left `pending`
            return
        result = future.result()
        try:
            recorder.wait_durable(result.ticket)
        except (StateError, OSError) as error:
            # The store stopped taking writes: start nothing new; what is in flight finishes and is reported.
            report.halted = report.halted or f"the state could not be written ({error}); no further change started"
            stop.set()
            budget.cancel()  # what waits for the rate budget has sent nothing: it must not now
            result = ChangeResult(result.change, False, result.seconds, result.remote_id,
                                  f"done on the platform, but recording it in state failed ({error}); the next "
                                  "plan finds it on the platform and puts the state right")
        report.results.append(result)
        collected.add(future)
        if on_result and not result.skipped:
            on_result(result)

    # Deletes go first: what they give up (a name, an inbound number) is then free for the creates and updates.
    first = [c for c in plan.changes if c.action in (Action.DELETE, Action.FORGET)]
    then = [c for c in plan.changes if c.action not in (Action.DELETE, Action.FORGET)]
    with recorder.committing(), ThreadPoolExecutor(max_workers=max(1, parallelism),
                                                   thread_name_prefix="apply") as pool:
        for phase in (first, then):
            if stop.is_set():
                report.results += [ChangeResult(c, False, 0.0, skipped=True, message="not started (interrupted)")
                                   for c in phase]
                continue
            # A window of a few changes per worker is submitted at a time (it also bounds how many finished
            # changes can wait for their commit). Each announces itself on `finished` when done: one queue
            # read per change, where watching the window with wait() would cost the whole window each time.
            queued = iter(phase)
            pending: set[Future] = set()
            finished: queue.SimpleQueue[Future] = queue.SimpleQueue()

            def start_nothing_new(interrupted: bool) -> None:
                """Cancel the changes not started yet (a cancelled one announces itself too); on an interrupt, also
                those that wait for the rate budget: they have sent nothing yet, and must not."""
                report.interrupted = report.interrupted or interrupted
                stop.set()
                if interrupted:
                    budget.cancel()
                for future in pending:
                    future.cancel()

            def submit_more() -> None:
                while len(pending) < 2 * max(1, parallelism) and not stop.is_set():
                    change = next(queued, None)
                    if change is None:
                        return
                    future = pool.submit(run, change)
                    pending.add(future)
                    future.add_done_callback(finished.put)

            try:
                submit_more()
                while pending:
                    if interrupt is not None and interrupt.is_set() and not report.interrupted:
                        start_nothing_new(interrupted=True)
                    try:
                        future = finished.get(timeout=0.2)  # with a timeout, so an interrupt is seen soon
                    except queue.Empty:
                        continue
                    if not future.cancelled():
                        collect(future)
                    pending.discard(future)
                    submit_more()
            except KeyboardInterrupt:
                # Start nothing new; let what is in flight finish and be recorded.
                start_nothing_new(interrupted=True)
                for future in pending:
                    if not future.cancelled():
                        collect(future)
            except BaseException:
                # A bug, or a broken output pipe: start nothing new. What runs finishes and is committed when
                # the pool and then the committer close; the error goes on up.
                start_nothing_new(interrupted=False)
                raise
    order = {c.address: i for i, c in enumerate(plan.changes)}
    report.results.sort(key=lambda r: order[r.change.address])
    return report


class Wire:
    """Request bodies in the plan's dialect: the manifest's words become the platform's (wire.py)."""

    def __init__(self, dialect: str, lookups: Lookups, gate: WriteGate):
        self.dialect = dialect
        self.lookups = lookups
        self.gate = gate

    def create(self, change: Change) -> dict:
        return create_body(change.body, self.dialect, self.lookups)

    def update(self, change: Change) -> dict:
        return to_dialect(change.body, self.dialect, self.lookups, engine=change.engine_type)


def _execute(change: Change, client: PlatformClient, recorder: StateRecorder, known_ids: set[int],
             lookup: SharedLookup, wire: Wire) -> ChangeResult:
    action = change.action
    if action is Action.CREATE:
        remote_id, message = _create(change, wire.create(change), client, known_ids, lookup, wire.gate)
        return ChangeResult(change, True, 0.0, remote_id, message,
                            ticket=recorder.queue(change.address, remote_id, change.record))
    if action in (Action.UPDATE, Action.IMPORT):
        if change.body:
            try:
                with wire.gate.write():
                    client.update_assistant(change.remote_id, wire.update(change))
            except NotFoundError:
                raise ApiError(f"id {change.remote_id} no longer exists on the platform (deleted since the "
                               "plan was made); run plan again") from None
        return ChangeResult(change, True, 0.0, change.remote_id,
                            ticket=recorder.queue(change.address, change.remote_id, change.record))
    if action is Action.DELETE:
        message = ""
        try:
            with wire.gate.write():
                client.delete_assistant(change.remote_id)
        except NotFoundError:
            message = "it was already gone"
        return ChangeResult(change, True, 0.0, change.remote_id, message, ticket=recorder.queue_forget(change.address))
    if action is Action.FORGET:
        return ChangeResult(change, True, 0.0, change.remote_id, ticket=recorder.queue_forget(change.address))
    raise AssertionError(f"unknown action {action}")


def _create(change: Change, body: dict, client: PlatformClient, known_ids: set[int],
            lookup: SharedLookup, gate: WriteGate) -> tuple[int, str]:
    """Create once, whatever goes wrong in between: (id, note).

    Resending is safe only after looking: each attempt whose outcome is unknown is followed by a search for
    the assistant, and only its confirmed absence allows another attempt (up to twice --max-retries).
    """
    attempts = 2 * client.retry.max_attempts
    for attempt in range(1, attempts + 1):
        try:
            with gate.write():
                return int(client.create_assistant(body)["id"]), ""
        except (ServerError, TransportError) as error:
            failed_at = time.monotonic()
            found = [item for item in lookup.items_read_after(failed_at)
                     if item.get("name") == change.assistant_name and int(item["id"]) not in known_ids]
            if len(found) == 1:
                return int(found[0]["id"]), "adopted: the create had succeeded though its answer was lost"
            if len(found) > 1:
                ids = ", ".join(str(item["id"]) for item in found)
                raise ApiError(f"the outcome of the create was unknown and the platform now has {len(found)} new "
                               f"assistants named {change.assistant_name!r} (ids {ids}); adopt one with "
                               f"`provisioner import {change.address} ID` and delete the others") from None
            if attempt == attempts:
                raise ApiError(f"{error} (gave up after {attempt} attempts; no assistant with this name is on "
                               "the platform, so nothing was created)") from None
            client.pause(client.backoff(attempt))
    raise AssertionError("unreachable")
