"""Executing a plan: the API calls, concurrently, with state persisted after every change that succeeded.

Nothing is decided here that the plan did not decide, with one exception that
keeps the no-duplicates promise: a create whose outcome is unknown (the
platform failed or the connection dropped after the request went out) is
never simply sent again. We first look on the platform for an assistant with
that name that was not there before, and adopt it if it exists.
"""
from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from dataclasses import replace
from functools import partial
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence

from .client import PlatformClient
from .client import TimedOutError, UnansweredError, UnknownOutcomeError, is_id
from .errors import (ApiError, NotFoundError, ProvisionerError, RateLimitSpentError, RejectedError, ServerError,
                     StateError, TransportError)
from .kinds.base import Kind
from .moves import moved_rows
from .json_text import SCALAR_TYPES
from .plan import REF, Action, Change, Plan, count_changes, is_marker
from .plan_campaigns import withdraws
from .plan_graph import holders_of_trunks_going, trunks_going
from .plan_kinds import index_by, moved_from, seen_fields
from .ratelimit import RateBudget, WaitCancelled
from .scrub import masking, scrub
from .shared_reads import SIBLINGS_WAIT, Due, SharedReads
from .state import (DEFAULT_KIND, DEPOSED, LockLostError, OwnedElsewhereError, ResourceState, State, StateBackend,
                    deposed_address, is_deposed)
from .walk import (CREATE, DESTROY, WHOLE, Later, Walk, WalkCallbacks, Workers, build_graph, destroys,
                   recorded_lookup, state_address)
from .wire import Lookups, Unreadable, create_body, dialect_asked_for, manifest_field, read_fields, to_dialect


# How long apply waits, by default, for an object the platform processes (a document) to be ready (--wait-timeout).
DEFAULT_WAIT_TIMEOUT = 600.0
# The longest a delete answered 404 waits for the list read that confirms it gone (_Unconfirmed), or a create whose
# answer was lost for the read that looks for what it made (_LostCreate), while other steps keep the walk busy: it is
# read as soon as none is in flight, once for every such delete or create of that list by then. What waits for the
# delete (its kind's creates, its parent's delete) or the create waits that long at most; a longer burst of them makes
# one read per CONFIRM_WAIT.
CONFIRM_WAIT = 10.0
# How often a running apply checks that the state lock is still its own between commits: while its workers wait for
# the rate budget nothing commits, and a lock lost meanwhile would be found only after they had all sent.
LOCK_CHECK = 1.0


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
    # Why the apply stopped starting changes, if it did (`halt`): the state store failed, or the platform's rate limit
    # is used up until a reset further away than --retry-max-time, or both.
    halted: str = ""
    store_failed: bool = False  # the store failed: it cancelled what waited for the rate budget
    moved: int = 0    # state entries that moved blocks renamed
    # The causes of the halt, by source (the store's, the rate limit's): (why, what to do about it, or "").
    _causes: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def halt(self, source: str, why: str, advice: str = "") -> None:
        """Start no further change because of `why` (the first of each `source`), said in `halted` with the causes
        before it: a store that fails after the rate limit's halt (or before it) is named too, where the Stopped
        line named the first cause alone."""
        if source in self._causes:
            return
        self._causes[source] = (why, advice)
        advice_given = "".join(f" ({given})" for _, given in self._causes.values() if given)
        self.halted = "; and ".join(cause for cause, _ in self._causes.values()) + "; no further change started" \
            + advice_given

    @property
    def failed(self) -> list[ChangeResult]:
        return [r for r in self.results if not r.ok and not r.skipped]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.halted

    def count(self, action: Action) -> int:
        return sum(1 for r in self.results if r.ok and r.change.action is action)

    def counts(self) -> dict[str, int]:
        """The plan summary's counts (plan.count_changes) of the changes that succeeded: a replacement is one
        added and one destroyed, as in the plan."""
        return count_changes([r.change for r in self.results if r.ok])


class StateRecorder:
    """Records finished changes in state, each committed before it is reported; safe from many threads.

    A commit writes only the rows of the changes it covers (and the serial), so recording a change costs
    the same in a fleet of 10 or 10,000. Commits are grouped: the changes that finish while one commit runs
    all go into the next transaction.

    Two ways in. `record` returns once the change is committed (committing it if nobody is). During an
    apply, `committing()` runs the commits on a thread of their own: workers `queue` a change and go on to
    their next request at once, and whoever reports the change first waits for it with `wait_durable`.
    A worker's next request then overlaps the commit of its last change instead of waiting for it. A `claim`
    (an adoption's, before anything is sent to the object) is waited for by its worker, so it is committed at once.
    """

    # How long the committer lets changes gather before it commits: a few requests' time, so a report comes
    # hardly later for whoever reads it, and enough to put the changes of several workers into one transaction.
    LINGER = 0.05

    def __init__(self, backend: StateBackend, state: State, *, linger: float = LINGER):
        self.backend = backend
        self.state = state
        self.linger = linger
        lock = threading.Lock()
        self._condition = threading.Condition(lock)  # waiters for durability (or a failure)
        self._work = threading.Condition(lock)       # the committer, for mutations to commit
        self._group = 0        # mutations that end the linger early (committing(group=)); 0: the linger only
        self._listening = False  # the committer waits on _work (idle, or lingering with a group set)
        self._changed = 0    # mutations made
        self._urgent = 0     # the last mutation a worker waits for before it sends anything (a claim): no linger
        self._durable = 0    # mutations committed
        self._attempted = 0  # mutations covered by the last commit attempt, committed or not
        self._failure: tuple[int, BaseException] | None = None  # (mutations it covered, why) of the last failure
        self._writing = False
        self._committer: threading.Thread | None = None
        self._closing = False
        self._pending: dict[str, ResourceState | None] = {}  # rows changed since the last commit began
        # Of each pending row: what state held before its first pending change (put back if the store refuses the
        # row: OwnedElsewhereError), and the mutation that last changed it.
        self._before: dict[str, ResourceState | None] = {}
        self._ticket_of: dict[str, int] = {}
        self._refused: dict[int, OwnedElsewhereError] = {}  # mutations whose rows the store refused, and why
        self._lingering = False
        # What a worker looks up in state's rows (deposed_holding, ids_of), built at the first look and kept as the
        # rows change here (_set_row; while an apply runs, state's rows change only here): a walk of every row per
        # look made 1,000 replacements in a state of 30,000 rows 30 million looks.
        self._indexed = False
        self._deposed: dict[str, dict[str, None]] = {}  # address -> its deposed rows' addresses (in order)
        self._ids: dict[str, dict[int, int]] = {}       # kind -> id -> how many rows of that kind hold it

    def record(self, address: str, remote_id: int, record: dict) -> None:
        self.record_all([(address, remote_id, record)])

    def record_all(self, records: list[tuple[str, int, dict]]) -> None:
        """Several records in one commit."""
        if records:
            self.wait_durable(self._queue_all(records))

    def forget(self, address: str) -> None:
        self.wait_durable(self.queue_forget(address))

    def claim(self, address: str, remote_id: int, record: dict) -> None:
        """Record the object as this state's before anything is sent to it: committed at once (with whatever else
        waits), not after the linger, which would hold each adoption of a fleet back by it. Raises
        OwnedElsewhereError, and state is as it was, if the store refuses it (another workspace or project recorded
        the object first)."""
        self.wait_durable(self._queue_all([(address, remote_id, record)], urgent=True))

    # A worker's looks through state's rows are made holding the lock every change to them holds: walking the live
    # dict while the other workers' changes added rows, a look in a large state met one and ended the apply
    # ("dictionary changed size during iteration"). They read the index (_indexed), not every row.

    def deposed_holding(self, address: str, remote_id: int) -> str | None:
        """The deposed row of `address` that holds `remote_id`, if any (state.deposed_holding)."""
        with self._condition:
            self._index()
            return next((deposed for deposed in self._deposed.get(address, ())
                         if self.state.resources[deposed].id == remote_id), None)

    def ids_of(self, kind: str) -> set[int]:
        """The ids state records for objects of `kind`."""
        with self._condition:
            self._index()
            return set(self._ids.get(kind, ()))

    def holds(self, kind: str, remote_id: int) -> bool:
        """Whether a row of state holds the object `remote_id` of `kind` (asked after each lost create: ids_of, a
        set of every id of the kind, made that quadratic)."""
        with self._condition:
            self._index()
            return remote_id in self._ids.get(kind, ())

    def _index(self) -> None:
        """Index state's rows for the looks above, once (holding the condition)."""
        if not self._indexed:
            for address, entry in self.state.resources.items():
                self._reindex(address, None, entry)
            self._indexed = True

    def _set_row(self, address: str, entry: ResourceState | None) -> None:
        """Change one row of state (None: gone), and the index once built (holding the condition)."""
        before = self.state.resources.get(address)
        if entry is None:
            self.state.resources.pop(address, None)
        else:
            self.state.resources[address] = entry
        if self._indexed:
            self._reindex(address, before, entry)

    def _reindex(self, address: str, before: ResourceState | None, after: ResourceState | None) -> None:
        """One row's change (`before` -> `after`; None: no row) in the index."""
        if before is not None:
            ids = self._ids.get(before.kind, {})
            if ids.get(before.id, 0) > 1:
                ids[before.id] -= 1
            else:
                ids.pop(before.id, None)
        if after is not None:
            ids = self._ids.setdefault(after.kind, {})
            ids[after.id] = ids.get(after.id, 0) + 1
        if is_deposed(address):
            rows = self._deposed.setdefault(address.split(DEPOSED, 1)[0], {})
            if after is None:
                rows.pop(address, None)
            else:
                rows[address] = None

    def queue(self, address: str, remote_id: int, record: dict) -> int:
        """Add the record to the next commit without waiting for it: a ticket for `wait_durable`."""
        return self._queue_all([(address, remote_id, record)])

    def queue_forget(self, address: str) -> int:
        with self._condition:
            if address not in self.state.resources:
                # Nothing to write: no mutation to wait for (not the last commit's, which may be one the store
                # refused, and its waiter would be told so).
                return 0
            self._pend(address, None)
            return self._mutated([address])

    def queue_moves(self, rows: Mapping[str, ResourceState | None]) -> int:
        """Several rows (None: gone) in one mutation, hence one transaction: a move is never half done."""
        with self._condition:
            for address, entry in rows.items():
                self._pend(address, entry)
            return self._mutated(list(rows))

    def _queue_all(self, records: list[tuple[str, int, dict]], urgent: bool = False) -> int:
        with self._condition:
            for address, remote_id, record in records:
                data = {"id": remote_id, **record}
                existing = self.state.resources.get(address)
                if existing is not None and "kind" not in record:
                    # A record that does not say (a state sync, an assistant's change without references) keeps
                    # the row's kind and what it pointed at.
                    data["kind"] = existing.kind
                    data.setdefault("depends_on", existing.depends_on)
                self._pend(address, ResourceState.from_dict(data))
            return self._mutated([address for address, _, _ in records], urgent)

    def _pend(self, address: str, entry: ResourceState | None) -> None:
        """Change one row of state (None: gone) for the next commit, holding the condition."""
        if address not in self._before:
            self._before[address] = self.state.resources.get(address)
        self._set_row(address, entry)
        self._pending[address] = entry

    def _mutated(self, addresses: list[str], urgent: bool = False) -> int:
        self._changed += 1
        for address in addresses:
            self._ticket_of[address] = self._changed
        if urgent:
            self._urgent = self._changed
        # Only the committer cares about a new mutation, and only when it is idle, a group is complete or a worker
        # waits for it: not one wake-up per change (the waiters for durability are woken by commits, not mutations).
        if self._listening and (not self._lingering or urgent or self._group_complete()):
            self._work.notify()
        return self._changed

    def _group_complete(self) -> bool:
        return bool(self._group) and self._changed - self._attempted >= self._group

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
            if ticket in self._refused:
                raise self._refused[ticket]

    @contextlib.contextmanager
    def committing(self, group: int = 0) -> Iterator[None]:
        """Commit queued changes on a thread of its own until the block ends (then whatever is left). `group`:
        a commit starts as soon as that many changes wait for it, without lingering longer (apply gives
        twice its --parallelism: two thirds of the walk's window of changes it lets be done but not yet recorded, so
        that the workers go on while a group gathers)."""
        self._closing = False
        self._group = max(0, group)
        self._committer = threading.Thread(target=self._commit_continuously, name="state-commits", daemon=True)
        self._committer.start()
        try:
            yield
        finally:
            with self._condition:
                self._closing = True
                self._work.notify_all()
            self._committer.join()
            self._committer = None

    def _commit_continuously(self) -> None:
        with self._work:
            while True:
                # After a failure, wait for a new change before trying again (its workers stop meanwhile).
                while self._attempted >= self._changed and not self._closing:
                    self._listening = True
                    self._work.wait()
                    self._listening = False
                if self._attempted >= self._changed:
                    return
                if not self._closing and self.linger:
                    # Group commit: the changes that finish in the next moment join this transaction. A worker
                    # does not wait for it (it queued its change and went on), only the change's report does; and
                    # a commit costs about as much CPU for one row as for ten. A full group ends the wait early.
                    # A claim ends it too: its worker waits for it before sending anything.
                    until = time.monotonic() + self.linger
                    self._lingering = self._listening = True
                    try:
                        while not self._closing and self._urgent <= self._attempted and not self._group_complete():
                            left = until - time.monotonic()
                            if left <= 0:
                                break
                            self._work.wait(left)
                    finally:
                        self._lingering = self._listening = False
                try:
                    self._commit_pending()
                except BaseException:  # noqa: BLE001 - kept in _failure; the waiters raise it
                    pass

    def _commit_pending(self) -> None:
        """Commit every pending row (called holding the condition, which is released while writing)."""
        self._writing = True
        batch, before, tickets, covered = self._pending, self._before, self._ticket_of, self._changed
        self._attempted = covered
        self._pending, self._before, self._ticket_of = {}, {}, {}
        self._condition.release()
        try:
            self._commit_owned(batch, before, tickets)
        except BaseException as error:
            # Not committed: put the rows back (newer changes to the same address win) for the next attempt.
            self._condition.acquire()
            self._pending = {**batch, **self._pending}
            self._before = {**self._before, **before}  # (what the store holds: the older)
            self._ticket_of = {**tickets, **self._ticket_of}
            self._failure = (covered, error)
            self._writing = False
            self._condition.notify_all()
            raise
        self._condition.acquire()
        self._writing = False
        self._durable = max(self._durable, covered)
        self._condition.notify_all()

    def _commit_owned(self, batch: dict[str, ResourceState | None], before: dict[str, ResourceState | None],
                      tickets: dict[str, int]) -> None:
        """Commit `batch`. Rows the store refuses, as objects another workspace or project recorded first (its
        one-owner index: their run passed the same look-ups at the same moment), are taken out with every row of
        their mutations (a move stays whole), put back in state as the store holds them, and their mutations refused
        (wait_durable raises why); the rest is committed. Only those changes fail: nothing is forgotten or deleted."""
        while batch:
            try:
                self.backend.commit(self.state, batch)
                return
            except OwnedElsewhereError as refused:
                with self._condition:
                    self._refuse(refused, batch, before, tickets)

    def _refuse(self, refused: OwnedElsewhereError, batch: dict[str, ResourceState | None],
                before: dict[str, ResourceState | None], tickets: dict[str, int]) -> None:
        """_commit_owned's refusal of `refused`'s rows (holding the condition)."""
        mutations = {tickets[address] for address in refused.owners}
        for mutation in mutations:
            self._refused[mutation] = OwnedElsewhereError({address: owner for address, owner in refused.owners.items()
                                                           if tickets[address] == mutation})
        for address in [address for address, mutation in tickets.items() if mutation in mutations]:
            del batch[address], tickets[address]
            held = before.pop(address)
            if address in self._pending:  # changed again since: that change starts from what the store holds
                self._before[address] = held
            else:
                self._set_row(address, held)


class WriteGate:
    """Writes run side by side; a list read for a lookup waits until none is in flight and holds new ones back.

    The list is read in pages; writes landing between two page reads shift the pages, and a lookup must not
    decide "not there" from a list that moved under it. So while it reads, this apply's own writes pause.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._writing = 0
        self._readers = 0  # waiting or reading: new writes hold back for them
        self._write = _GateWrite(self)

    def write(self) -> "_GateWrite":
        """`with gate.write():` around one write (a plain context manager: one per change, no generator)."""
        return self._write

    def _begin_write(self) -> None:
        with self._condition:
            while self._readers:
                self._condition.wait()
            self._writing += 1

    def _end_write(self) -> None:
        with self._condition:
            self._writing -= 1
            if self._readers and not self._writing:  # only a reader waits for the writes to end
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


class _GateWrite:
    """WriteGate.write()'s context manager (it keeps no state of its own: one serves every thread)."""

    __slots__ = ("_gate",)

    def __init__(self, gate: WriteGate):
        self._gate = gate

    def __enter__(self) -> None:
        self._gate._begin_write()

    def __exit__(self, *exc) -> None:
        self._gate._end_write()


class SharedLookup:
    """The platform's list for threads that must look after a failed create, read once for many.

    A caller needs a list whose reading began after its failure was observed (only such a list is sure to
    show what that request committed). Threads that fail at about the same time share one read: whoever
    finds no suitable list in progress reads one, and the others wait for it. A read that fails (the platform's
    error, after the client's retries) answers them all with its error: it began late enough for each, and each
    read of its own, one after the other, had repeated every attempt.
    """

    def __init__(self, listing: Callable[[], list[dict]], gate: WriteGate, client: PlatformClient | None = None):
        if hasattr(listing, "list_assistants"):  # a client: its assistants
            client, listing = listing, listing.list_assistants  # type: ignore[union-attr]
        self._listing = listing
        self.client = client if client is not None else getattr(listing, "__self__", None)
        self._gate = gate
        self._condition = threading.Condition()
        # (when its reading began, items, or the ApiError it failed with)
        self._latest: tuple[float, Listing | ApiError] | None = None
        self._reading_since: float | None = None

    def items_read_after(self, moment: float) -> Listing:
        with self._condition:
            while True:
                if self._latest is not None and self._latest[0] >= moment:
                    return self._answer(self._latest[1])
                if self._reading_since is None:
                    break
                self._condition.wait()  # a read in progress: it may do, or the next one will
            began = self._reading_since = time.monotonic()
        answer: Listing | ApiError | None = None
        try:
            with self._gate.quiet():
                answer = Listing(self._listing())
        except ApiError as error:
            answer = error
        finally:
            with self._condition:
                self._reading_since = None
                if answer is not None and (self._latest is None or self._latest[0] < began):
                    self._latest = (began, answer)
                self._condition.notify_all()
        return self._answer(answer)

    @staticmethod
    def _answer(answer: Listing | ApiError) -> Listing:
        if isinstance(answer, ApiError):
            raise answer
        return answer


class Listing(list):
    """One read of a list (SharedLookup), which many changes look in: each finds its own items by a key (a name, an
    identity, an id) in an index built once per read and key. Each scanning every item made a burst of N lost
    creates (or deletes answered 404) sharing a read N x N looks."""

    def __init__(self, items: Iterable[dict]):
        super().__init__(items)
        self._indexes: dict[Hashable, dict[Hashable, list[dict]]] = {}
        self._lock = threading.Lock()

    def having(self, by: Hashable, key: Callable[[dict], Any], value: Any) -> list[dict]:
        """The items whose `key(item)` is `value`, in list order (not to be changed: the index's own list); `by`
        names the key, so that every caller of one key shares its index."""
        with self._lock:
            index = self._indexes.get(by)
            if index is None:
                index = self._indexes[by] = index_by(self, key)
        try:
            return index.get(value, [])
        except TypeError:  # unhashable: no listed item's key (each hashable, or left out) can be it
            return []


def apply_plan(plan: Plan, client: PlatformClient, recorder: StateRecorder, *,
               known_ids: set[int] | Mapping[str, set[int]],
               parallelism: int = 10, on_result: Callable[[ChangeResult], None] | None = None,
               on_start: Callable[[Change], None] | None = None, lookups: Lookups | None = None,
               interrupt: threading.Event | None = None, kinds: Mapping[str, Kind] | None = None,
               wait_timeout: float = DEFAULT_WAIT_TIMEOUT, allow_replace: bool = False,
               on_progress: Callable[[str], None] | None = None) -> ApplyReport:
    """Run every change, walking the plan's graph (walk.py); `known_ids` are the platform ids that existed when
    planning, per kind (a bare set: the assistants'), see the module docstring.

    Setting `interrupt` (the CLI's Ctrl-C and SIGTERM handler does) starts nothing new: the changes in flight
    finish, are committed and reported, and the report says it was interrupted. A KeyboardInterrupt does the
    same, but may land anywhere; the handler's event is only looked at between two results."""
    kinds = kinds if kinds is not None else registered_kinds()
    refuse_lossy_replacements(plan, kinds, allow_replace)
    report = ApplyReport()
    changes = plan.changes
    moved = moved_rows(recorder.state.resources, plan.moves) if plan.moves else {}
    after = _entries_after(recorder.state.resources, moved)
    uses = _recorded_after(after, plan)
    refuse_trunks_in_use(plan, after, uses)
    # The graph first, from state as the moves and the refreshes below will leave it: a plan refused for a cycle
    # ("nothing was applied") then writes nothing either (it committed them, and a saved plan went stale).
    graph = build_graph(changes, uses, lambda c: _create_first(c, kinds), withdraws)
    if moved:  # moved blocks: one commit renames the entries (ids kept) before any change needs them
        recorder.wait_durable(recorder.queue_moves(moved))
        report.moved = len(plan.moves)
    recorder.record_all([(sync.address, recorder.state.resources[sync.address].id, sync.record)
                         for sync in plan.state_sync if sync.address in recorder.state.resources])
    mark_deleting(plan.changes, recorder)
    gate = WriteGate()
    budget: RateBudget = getattr(client, "budget", None) or RateBudget()
    known = dict(known_ids) if isinstance(known_ids, Mapping) else {DEFAULT_KIND: set(known_ids)}
    context = _Context(client, recorder, known, gate, Wire(plan.dialect, lookups or Lookups(), gate), kinds,
                       wait_timeout, on_progress or (lambda line: None), changes)
    stop = threading.Event()

    def run_step(number: int) -> ChangeResult | Later:
        step = graph.steps[number]
        change = changes[step.change]
        if stop.is_set():
            return ChangeResult(change, ok=False, seconds=0.0, skipped=True, message=f"not started ({why_stopped()})")
        if on_start and step.part != DESTROY:
            on_start(change)
        return attempt(number, time.monotonic())

    def attempt(number: int, started: float,
                waiting: _Waiting | _Unconfirmed | _LostCreate | None = None) -> ChangeResult | Later:
        """The step's work (or, resumed, what it waited for: a readiness poll, the list read that confirms a delete
        answered 404 or looks for what a lost create made), its errors as results; a wait as walk.Later.
        A failure's retry notices and message may quote the body sent: its sensitive values are masked there."""
        change = changes[graph.steps[number].change]
        if not (change.sensitive and change.body):
            return attempt_unmasked(number, started, waiting)
        with masking(change.body, change.sensitive):
            result = attempt_unmasked(number, started, waiting)
            if isinstance(result, ChangeResult) and not result.ok:
                result.message = scrub(result.message)
                result.field_errors = {field: [scrub(str(m)) for m in messages]
                                       for field, messages in (result.field_errors or {}).items()}
        return result

    def attempt_unmasked(number: int, started: float,
                         waiting: _Waiting | _Unconfirmed | _LostCreate | None = None) -> ChangeResult | Later:
        """attempt, its messages as they are."""
        step = graph.steps[number]
        change = changes[step.change]
        sent_before, waited_before = budget.thread_counters()
        claims_before = context.claims_here()
        try:
            if waiting is not None:
                result = waiting.poll()
            else:
                problem = graph.problems.get(step.change)
                if problem:
                    raise Unresolvable(problem)
                result = _execute(change, step.part, context, stop)
                if isinstance(result, _Unconfirmed):
                    # Read with the others' when the walk has nothing in flight: no worker is held meanwhile.
                    return Later(result.answered + CONFIRM_WAIT, partial(attempt, number, started, result),
                                 abandon=partial(unconfirmed, result, started), idle=True)
                if isinstance(result, _Waiting):  # created, to be waited for: its first poll at once
                    waiting = result
                    result = waiting.poll()
            if isinstance(result, _LostCreate):
                # Looked for with the others whose answers were lost when the walk has nothing in flight (its create
                # sent again, when nothing was made, and lost again: the same): no worker is held meanwhile.
                result.waited += budget.thread_counters()[1] - waited_before
                return Later(result.due, partial(attempt, number, started, result),
                             abandon=partial(unlooked, result, started), idle=True)
            if isinstance(result, _Waiting):
                # Polled again when due, by the walk: no worker (no --parallelism slot) is held meanwhile. It leaves
                # the walk's window only once its create is committed (the bound on changes done and not recorded).
                recorder.wait_durable(result.ticket)
                result.waited += budget.thread_counters()[1] - waited_before
                return Later(time.monotonic() + result.delay, partial(attempt, number, started, result),
                             abandon=partial(abandoned, result, started))
        except WaitCancelled:
            # Cancelled by an interrupt, or by a store that failed (store_failed says so first); never by the rate
            # limit's halt, which cancels nothing (what waits is refused unsent once let through).
            why = "the state could not be written" if report.store_failed else "interrupted"
            unsent = waiting is None and budget.thread_counters()[0] == sent_before
            if unsent and context.claims_here() != claims_before:
                # An adoption whose claim was committed: not "not sent" (among the changes not started), since
                # state now holds the object as adopted.
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      _adopted_unsent(change, f"{why} while it waited for the rate budget"))
            elif unsent:
                # Cancelled while it waited for its first request: nothing of it reached the platform.
                result = ChangeResult(change, False, 0.0, change.remote_id, skipped=True,
                                      message=f"not sent ({why} while it waited for the rate budget)")
            else:
                stopped = "interrupted" if why == "interrupted" else f"stopped ({why})"
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      waiting.unconfirmed(stopped) if isinstance(waiting, _Unconfirmed) else
                                      f"{stopped} while it waited for the rate budget to retry or to look for "
                                      "its outcome; run plan to see where it stands")
        except RejectedError as error:
            other = dialect_asked_for(plan.dialect, error.errors) if change.kind == DEFAULT_KIND else None
            if other:  # every field error is then about names, not values: one line that says what to do
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      f"the platform rejected the {plan.dialect} create dialect ({error.summary}): "
                                      f"this platform takes {other}: set `--api-dialect {other}` (or "
                                      f"PROVISIONER_API_DIALECT={other}, or api_dialect: {other} in provisioner.yaml)")
            else:
                errors = ({manifest_field(key, plan.dialect): messages for key, messages in error.errors.items()}
                          if change.kind == DEFAULT_KIND else dict(error.errors))
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      f"the platform rejected it: {error.summary}", field_errors=errors)
        except (Unreadable, Unresolvable) as error:
            result = ChangeResult(change, False, 0.0, change.remote_id, f"cannot build the request: {error}")
        except RateLimitSpentError as error:
            # Every later request would fail the same way, unsent: the run starts nothing new, as for a store that
            # failed, and a change that sent nothing is reported not started, not as thousands of failures.
            report.halt("rate limit", error.why, "run again after that time, or raise --retry-max-time")
            stop.set()
            unsent = waiting is None and budget.thread_counters()[0] == sent_before
            if unsent and context.claims_here() != claims_before:
                # An adoption whose claim was committed, then nothing sent: not "not started", since state now holds
                # the object as adopted (the next plan shows what is left as a change of an object it manages).
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      _adopted_unsent(change, "the platform's rate limit stopped the run"))
            else:
                # A delete answered 404 whose confirming read cannot be sent: state keeps it, and says why.
                result = ChangeResult(change, False, 0.0, change.remote_id,
                                      waiting.unconfirmed(f"stopped ({error.why})")
                                      if isinstance(waiting, _Unconfirmed) else str(error), skipped=unsent)
        except (ApiError, ClaimRefused) as error:
            result = ChangeResult(change, False, 0.0, change.remote_id, str(error))
        if waiting is not None:  # reported once its create is committed, whatever the wait's outcome
            result.ticket = max(result.ticket, waiting.ticket)
        result.seconds = time.monotonic() - started
        result.waited = min(result.seconds, budget.thread_counters()[1] - waited_before
                            + (waiting.waited if waiting is not None else 0.0))
        return result

    def abandoned(waiting: _Waiting, started: float) -> ChangeResult:
        """A wait the walk gives up at once (a second interrupt): the object was created and is in state."""
        return ChangeResult(waiting.change, False, time.monotonic() - started, waiting.remote_id,
                            f"{waiting.change.address} (id {waiting.remote_id}) was created; interrupted while "
                            "waiting for it to be ready", ticket=waiting.ticket, waited=waiting.waited)

    def unconfirmed(waiting: _Unconfirmed, started: float) -> ChangeResult:
        """A confirmation the walk gives up at once (a second interrupt): state keeps the object."""
        return ChangeResult(waiting.change, False, time.monotonic() - started, waiting.remote_id,
                            waiting.unconfirmed("interrupted"))

    def unlooked(lost: _LostCreate, started: float) -> ChangeResult:
        """A look for what a lost create made that the walk gives up at once (a second interrupt)."""
        change = lost.create.change
        return ChangeResult(change, False, time.monotonic() - started, change.remote_id, lost.unlooked("interrupted"),
                            waited=lost.waited)

    # A replacement is two steps: its change is reported once, when both are settled (done, failed, skipped or
    # not started), by _replacement_result.
    halves: dict[int, dict[str, ChangeResult]] = {}
    # Steps settled here: a step whose `finished` an interrupt cut short is finished again (walk.finish), and must
    # not be reported twice if the interrupt came after its report.
    settled_steps: set[int] = set()

    def report_change(result: ChangeResult) -> None:
        report.results.append(result)
        if on_result and not result.skipped:
            on_result(result)

    def settle(number: int, result: ChangeResult) -> None:
        if number in settled_steps:
            return
        # Settled before its report: an interrupt inside the result line's print (on_result, where the walking
        # thread spends much of its time) left it unsettled with its result already in the report, and the walk's
        # finishing it again reported it twice.
        settled_steps.add(number)
        step = graph.steps[number]
        if len(graph.parts[step.change]) == 1:
            report_change(result)
        else:
            settled = halves.setdefault(step.change, {})
            settled[step.part] = result
            if len(settled) == 2:
                report_change(_replacement_result(halves.pop(step.change)))

    def store_failed(error: BaseException) -> None:
        """The store stopped taking writes: start nothing new; what is in flight finishes and is reported, but
        nothing that still waits for the rate budget is sent (it could not be recorded)."""
        report.halt("store", f"the state could not be written ({error})")
        report.store_failed = True
        budget.cancel()
        start_nothing_new(interrupted=False)

    def finished(number: int, future: Future) -> bool:
        """Record a finished step once its state is committed; a store that fails stops new changes."""
        step = graph.steps[number]
        try:
            result = future.result()
        except OwnedElsewhereError as error:
            # A worker's own wait for a commit: the store refused its record (another workspace's object), this
            # change alone stops; the store still takes every other change's.
            change = changes[step.change]
            settle(number, ChangeResult(change, False, 0.0, change.remote_id, refused_here(change, error)))
            return False
        except (StateError, OSError) as error:
            # A worker's own wait for a commit (a replacement's old object moved aside, an action's record, a created
            # object before its wait) failed: where the change stopped, only the platform now says. An adoption's
            # claim that failed sent nothing.
            store_failed(getattr(error, "failure", error))
            change = changes[step.change]
            result = ChangeResult(change, False, 0.0, change.remote_id, str(error) if isinstance(error, ClaimFailed)
                                  else f"stopped: recording its progress in state failed ({error}); run plan to see "
                                  "where it stands (it finds on the platform what was done)")
            settle(number, result)
            return False
        try:
            recorder.wait_durable(result.ticket)
        except OwnedElsewhereError as error:
            result = ChangeResult(result.change, False, result.seconds, result.remote_id,
                                  refused_here(result.change, error))
        except (StateError, OSError) as error:
            store_failed(error)
            result = ChangeResult(result.change, False, result.seconds, result.remote_id,
                                  f"done on the platform, but recording it in state failed ({error}); the next "
                                  "plan finds it on the platform and puts the state right")
        if result.ok and step.part != DESTROY and not destroys(result.change) and result.remote_id is not None:
            context.ids[state_address(result.change.address)] = result.remote_id
        settle(number, result)
        return result.ok

    def skipped(number: int, because: int) -> None:
        change = changes[graph.steps[number].change]
        cause = changes[graph.steps[because].change]
        message = ("not started: its other half failed" if cause is change
                   else f"not started: because {cause.address} failed")
        settle(number, ChangeResult(change, False, 0.0, change.remote_id, skipped=True, message=message))

    def not_started(number: int) -> None:
        change = changes[graph.steps[number].change]
        settle(number, ChangeResult(change, False, 0.0, change.remote_id, skipped=True,
                                    message=f"not started ({why_stopped()})"))

    def why_stopped() -> str:
        """Why the run starts nothing new, in a change's words (a replacement's other half says it)."""
        if report.store_failed:
            return "the state could not be written"
        if report.halted and not report.interrupted:
            return "the platform's rate limit stopped the run"
        return "interrupted"

    walk = Walk(graph, WalkCallbacks(run_step, finished, skipped, not_started), parallelism)

    def start_nothing_new(interrupted: bool) -> None:
        """Cancel the steps not started yet; on an interrupt, also those that wait for the rate budget: they
        have sent nothing yet, and must not."""
        report.interrupted = report.interrupted or interrupted
        stop.set()
        if interrupted:
            budget.cancel()
        walk.stop()

    lock_checked = [time.monotonic()]

    def look_at_interrupt() -> None:
        if interrupt is not None and interrupt.is_set() and not report.interrupted:
            start_nothing_new(interrupted=True)
        if time.monotonic() - lock_checked[0] >= LOCK_CHECK and not report.store_failed:
            look_at_lock()

    def look_at_lock() -> None:
        """A lock lost between commits (a force-unlock; on PostgreSQL, its connection ended) stops the run now,
        before the changes waiting for the rate budget send. Any other failure of the look is left to the next
        commit."""
        lock_checked[0] = time.monotonic()
        try:
            getattr(recorder.backend, "confirm_lock", lambda: None)()
        except LockLostError as error:
            store_failed(error)
        except (StateError, OSError):
            pass

    # A commit costs about as much for twenty rows as for ten (the same pages, one fsync): groups of two workers'
    # worth halve the commits of a fleet (walk.WINDOW leaves the room for them).
    with recorder.committing(group=2 * parallelism), Workers(parallelism, thread_name_prefix="apply") as pool:
        try:
            walk.run(pool, look_at_interrupt)
        except KeyboardInterrupt:
            # Start nothing new; let what is in flight finish and be recorded; a created object waiting to be ready
            # is reported as such (it is in state), not as not started.
            start_nothing_new(interrupted=True)
            for future in walk.in_flight():
                walk.finish(future)
            walk.abandon_waits()
            walk.settle_rest()
        except BaseException:
            # A bug, or a broken output pipe: start nothing new. What runs finishes and is committed when
            # the pool and then the committer close; the error goes on up.
            start_nothing_new(interrupted=False)
            raise
    if report.store_failed and not report.interrupted:
        budget.resume()  # cancelled by store_failed for this walk only: the run's later reads (verify) go on
    if interrupt is not None and interrupt.is_set() and not report.interrupted:
        # A Ctrl-C after the walk's last look at it: its handler cancelled the budget, which must stay cancelled
        # (looked at after the resume, as the handler sets the event before it cancels), and the run says it was
        # interrupted (its verify would read through a cancelled budget).
        report.interrupted = True
        budget.cancel()
    if not report.store_failed:  # (a store that failed is not written to again, its lost lock included)
        unmark_unsent(report.results, recorder)
    order = {id(c): i for i, c in enumerate(changes)}
    report.results.sort(key=lambda r: order.get(id(r.change), len(order)))
    return report


def refused_here(change: Change, error: OwnedElsewhereError) -> str:
    """A change whose record the store refused: what it did on the platform stays, and with the object's owner. An
    adoption's record refused had sent nothing: one that sends an update commits its claim first (_claim), and one
    that sends none, or only an action its record must precede, is claimed by that record."""
    if change.action is Action.IMPORT:
        return str(ClaimRefused(error))
    return f"done on the platform, but not recorded in this state: {error}"


def _adopted_unsent(change: Change, why: str) -> str:
    """What an adoption whose claim was committed says when `why` (the platform's rate limit stopped the run, an
    interrupt or a store that failed cut its wait for the rate budget short) kept it from sending anything more."""
    if change.action is Action.IMPORT:
        return f"adopted (recorded in state), but its update was not sent: {why}; the next plan shows the update"
    return f"adopted (recorded in state), but nothing was sent to it: {why}; the next plan shows its replacement again"


class ClaimRefused(ProvisionerError):
    """An adoption whose claim the store refused (_claim): nothing was sent to the object."""

    def __init__(self, error: OwnedElsewhereError):
        super().__init__(f"not adopted, and nothing was sent to it: {error}")


class ClaimFailed(StateError):
    """An adoption whose claim could not be committed (_claim): the store failed, and nothing was sent to the object."""

    def __init__(self, failure: StateError | OSError):
        super().__init__(f"not adopted, and nothing was sent to it: recording its claim in state failed ({failure}); "
                         "run plan to see where it stands")
        self.failure = failure


def _replacement_result(halves: dict[str, ChangeResult]) -> ChangeResult:
    """One report for a replacement's two halves (CREATE: the new object, DESTROY: the old one)."""
    made, gone = halves[CREATE], halves[DESTROY]
    change = made.change
    seconds, waited = made.seconds + gone.seconds, made.waited + gone.waited
    if made.ok and gone.ok:
        return ChangeResult(change, True, seconds, made.remote_id, made.message, waited=waited)
    if made.ok:  # the old one is still there (deposed in state): the next apply destroys it
        why = gone.message.removeprefix("not started: ").removeprefix("not started ")
        return ChangeResult(change, False, seconds, made.remote_id,
                            f"the new object (id {made.remote_id}) was created, but the old one (id {change.remote_id}) "
                            f"was not destroyed: {why}; the next apply destroys it", waited=waited)
    if gone.ok:  # destroyed first, and its replacement was not made
        return ChangeResult(change, False, seconds, None,
                            f"the old object (id {change.remote_id}) was destroyed, but the new one was not created: "
                            f"{made.message}; the next apply creates it", waited=waited)
    failed = made if not made.skipped else gone
    return ChangeResult(change, False, seconds, change.remote_id, failed.message, field_errors=failed.field_errors,
                        skipped=made.skipped and gone.skipped, waited=waited)


def made_nothing(error: ApiError) -> bool:
    """Whether a create that raised `error` surely made nothing: the platform refused it (a 4xx answer: 400, 403
    when a plan's limit is reached, 409, 422) or its absence was seen after every attempt. Not after a 5xx, a lost
    connection or an answer that leaves the outcome unknown (its object may exist: the next plan finds it)."""
    if isinstance(error, (RejectedError, NotCreated)):
        return True
    if isinstance(error, (ServerError, TransportError)):
        return False
    return isinstance(error.status, int) and 400 <= error.status < 500


def _may_still_be_at_work(error: ApiError) -> bool:
    """Whether a failed create may still be under way on the platform, so that a look right after it cannot show
    its absence: no answer within --request-timeout, a connection that failed after the whole request went out
    (the platform may have it), or a gateway's 504 (it stopped waiting, not the platform)."""
    return isinstance(error, (TimedOutError, UnansweredError)) or (isinstance(error, ServerError)
                                                                  and error.status == 504)


class _TakenId(UnknownOutcomeError):
    """A create answered with an id that cannot be the new object's: it succeeded, but its id is unknown."""


def _loosely(name: Any) -> Any:
    """A name as a platform that trims or folds it might store it: spacing collapsed, case folded."""
    return " ".join(name.split()).casefold() if isinstance(name, str) else name


def mark_deleting(changes: list[Change], recorder: StateRecorder) -> None:
    """Mark in state, in one commit before the walk sends anything, each object `changes` delete (ResourceState.
    deleting). A run killed (SIGKILL, a lost machine) with its deletes on the wire leaves them done on the platform
    and in state: its re-run finds them gone, and without the mark could not tell them from another account's view
    (refused by the mass-forget guard, plan.count_vanished). One commit per plan that deletes, whatever its size."""
    _set_deleting(recorder, [change.address for change in changes if change.action is Action.DELETE], True)


def unmark_unsent(results: list[ChangeResult], recorder: StateRecorder) -> None:
    """Take the mark off, in one commit after the walk, each object whose delete was never sent (interrupted, or
    not started because another change failed): marked, another account's token then found it gone and forgot it
    unguarded, a Ctrl-C'd destroy's untouched objects with it. What was sent keeps it, done or not (a delete whose
    answer failed may have been carried out)."""
    _set_deleting(recorder, [result.change.address for result in results
                             if result.skipped and result.change.action is Action.DELETE], False)


def _set_deleting(recorder: StateRecorder, addresses: list[str], deleting: bool) -> None:
    resources = recorder.state.resources
    rows = {address: replace(resources[address], deleting=deleting) for address in addresses
            if address in resources and resources[address].deleting != deleting}
    if rows:
        recorder.wait_durable(recorder.queue_moves(rows))


def _entries_after(resources: Mapping[str, Any], moved: Mapping[str, Any]) -> dict[str, Any]:
    """State's entries once `moved` (moved_rows: address -> entry, None: gone) is committed."""
    return {address: entry for address, entry in {**resources, **moved}.items() if entry is not None}


def refuse_trunks_in_use(plan: Plan, resources: Mapping[str, Any], uses: Callable[[str], Iterable[str]]) -> None:
    """A SIP trunk this plan deletes or replaces that an object it leaves as it is uses (`uses`: its recorded uses
    once the plan's refreshes are committed, _recorded_after): the platform would take the number from that object.
    The plan's checks (replaced_users_left_out, numbers_destroyed_in_use) read the manifests, so a plan saved before
    them, or whose holder has no manifest any more, deleted the trunk from under it; refused before anything is
    sent. (A holder whose manifest no longer names the trunk has that use refreshed away by the plan.)"""
    going = {state_address(trunk.address): trunk for trunk in trunks_going(plan).values()}
    if not going:
        return
    changed = {state_address(change.address) for change in plan.changes}
    held = [(holder, trunk) for holder in sorted(resources) if holder not in changed
            for trunk in sorted(set(uses(holder)) & going.keys())]
    if held:
        raise ProvisionerError("; ".join(
            f"{holder} uses {trunk}, which this plan {'replaces' if going[trunk].replace else 'deletes'}, and the "
            f"plan leaves {holder} as it is: the platform would take the number from it" for holder, trunk in held)
            + ". Nothing was applied. Make a new plan (with --target, add the holders as targets too)")


def _recorded_after(after: Mapping[str, Any], plan: Plan) -> Callable[[str], Iterable[str]]:
    """walk.recorded_lookup over state's entries once the moves are committed (`after`, _entries_after) and the
    plan's state refreshes (records of entries there after the moves) too, with the SIP trunks going whose
    ids an entry holds (holders_of_trunks_going): state records no use of a trunk imported after its holder, and
    a replaced holder's old self was left on the platform without its number when its delete failed."""
    synced = {sync.address: list(sync.record.get("depends_on") or [])
              for sync in plan.state_sync if sync.address in after}
    recorded = recorded_lookup(after)
    holding = holders_of_trunks_going(plan, after)

    def lookup(address: str) -> Iterable[str]:
        uses = synced[address] if address in synced else recorded(address)
        return [*uses, *holding[address]] if address in holding else uses
    return lookup


class NotCreated(ApiError):
    """A create that surely made nothing (its absence was seen after every attempt)."""


class Unresolvable(ProvisionerError):
    """A change that cannot be sent as planned: a reference without an id, a kind this program does not know."""


def registered_kinds() -> Mapping[str, Kind]:
    """The registry of kinds (provisioner/kinds/__init__.py), or none yet."""
    try:
        from . import kinds as package
    except ImportError:  # pragma: no cover
        return {}
    return getattr(package, "KINDS", {})


def refuse_lossy_replacements(plan: Plan, kinds: Mapping[str, Kind], allowed: bool) -> None:
    """A replacement that destroys what cannot be had back (a campaign's leads) needs --allow-replace."""
    if allowed:
        return
    lossy = [f"{c.address} ({c.replace_reason or getattr(kinds.get(c.kind), 'replace_loses', None)})"
             for c in plan.changes if c.replace and not destroys(c)
             and getattr(kinds.get(c.kind), "replace_loses", None)]
    if lossy:
        raise ProvisionerError("this plan replaces objects whose replacement loses data: " + ", ".join(lossy)
                               + ". Nothing was applied. If that is intended, apply again with --allow-replace.")


def _create_first(change: Change, kinds: Mapping[str, Kind]) -> bool:
    """Whether a replacement may create the new object before destroying the old one: not when the platform
    refuses two of one name (or whatever else the kind says cannot exist twice)."""
    if change.kind == DEFAULT_KIND:
        # An inbound number is held by one assistant at a time: the old one lets it go before the new one takes it.
        return change.body.get("phone_number_id") is None
    kind = kinds.get(change.kind)
    if kind is None:
        return True
    explicit = kind.create_before_destroy
    return (not kind.unique_names) if explicit is None else explicit


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


class _Context:
    """What every step of one apply shares: the client, state, the ids known so far, the list reads."""

    def __init__(self, client: PlatformClient, recorder: StateRecorder, known: dict[str, set[int]],
                 gate: WriteGate, wire: Wire, kinds: Mapping[str, Kind], wait_timeout: float,
                 progress: Callable[[str], None], changes: Sequence[Change] = ()):
        self.client = client
        self.changes = changes
        self._creates: dict[tuple, list[str]] | None = None  # creates_alike's index, built at its first use
        self.recorder = recorder
        self.known = known
        self.gate = gate
        self.wire = wire
        self.kinds = kinds
        self.wait_timeout = wait_timeout
        self.progress = progress
        self.ids: dict[str, int] = {}  # state address -> the id its object got in this apply
        # (kind, id) of the old objects this apply's replacements destroyed: a replacement destroyed first (the walk
        # decides, not the kind alone) finds no old object to move aside or claim when it creates the new one.
        self.replaced: set[tuple[str, int]] = set()
        # kind -> the ids this apply's creates got, each added before its write ends (_create): a lookup after a
        # lost create, which reads once every write in flight has ended, never takes a sibling's object for its own.
        self.made: dict[str, set[int]] = {}
        self._state_ids: dict[str, set[int]] = {}  # kind -> ids state held when first asked (taken_before)
        self._state_addresses: dict[str, str] = {}  # for id_of
        self._lookups: dict[tuple[str, int | None], SharedLookup] = {}
        self.readiness_reads = SharedReads()  # the readiness polls' list reads, one per parent at a time (_Waiting)
        self._lock = threading.Lock()
        self._mine = threading.local()  # per worker: the adoption claims it committed (claims_here)

    def lookup(self, kind: str, parent: int | None = None) -> SharedLookup:
        with self._lock:
            key = (kind, parent)
            if key not in self._lookups:
                if kind == DEFAULT_KIND:
                    listing = self.client.list_assistants
                else:
                    endpoints = self.kind(kind).endpoints
                    listing = lambda: endpoints.list(self.client, parent)  # noqa: E731
                self._lookups[key] = SharedLookup(listing, self.gate, self.client)
            return self._lookups[key]

    def taken_before(self, kind: str, remote_id: int) -> bool:
        """Whether `remote_id` was another object's before this apply: listed when planning, or recorded in state
        (a knowledge base whose documents were not listed). State's ids are gathered once per kind: a scan per
        create was quadratic, and a new id (never a reused one) is what a create answers."""
        if remote_id in self.known.get(kind, ()):
            return True
        with self._lock:
            ids = self._state_ids.get(kind)
            if ids is None:
                ids = self._state_ids[kind] = self.recorder.ids_of(kind)
        return remote_id in ids

    def claims_here(self) -> int:
        """The adoption claims (_claim) the calling thread committed so far: a step compares two readings to tell
        whether it claimed its object before it stopped."""
        return getattr(self._mine, "claims", 0)

    def claimed(self) -> None:
        self._mine.claims = self.claims_here() + 1

    def owned_elsewhere(self, kind: str, ids: list[int]) -> set[int]:
        """Of `ids` (objects of `kind`), those another workspace or project of the store manages (StateBackend.owners;
        a store that cannot say: none)."""
        owners = getattr(self.recorder.backend, "owners", None)
        return set(owners(kind, ids)) if owners is not None and ids else set()

    def creates_alike(self, change: Change, name: str | None = None) -> list[str]:
        """The addresses of this apply's other creates of `change`'s kind and of its name, or of `name` (under its
        parent, for a child): tools, campaigns and documents may share names, and assistants' may differ in case
        only, so the new objects a lost create finds under its name may be theirs."""
        key = self._create_key(change, change.assistant_name if name is None else name)
        return [c.address for c in self._creates_of(key) if c.address != change.address]

    def creates_unlike(self, change: Change) -> dict[str, list[str]]:
        """Of this apply's other creates of `change`'s kind and name, those whose body differs from its own in a field
        the platform never shows back (a campaign's assistant_id), with those fields: a new object of that name cannot
        be told theirs or this create's by its read. Others (all fields shown: tools) are told by the next plan."""
        kind = self.kinds.get(change.kind)
        hidden = [f.name for f in kind.fields if not f.shown and kind.action(f.name) is None] if kind else []
        found = {}
        for other in self._creates_of(self._create_key(change)):
            if other.address == change.address or self._recorded_anew(other):
                continue  # one already holding its new object made nothing more: the one found is this create's
            differ = [name for name in hidden if (other.body or {}).get(name) != (change.body or {}).get(name)]
            if differ:
                found[other.address] = differ
        return found

    def _recorded_anew(self, change: Change) -> bool:
        """Whether state already holds the object a create (or a replacement's new half) made or adopted."""
        entry = self.recorder.state.resources.get(change.address)
        return entry is not None and entry.id != change.remote_id

    def _creates_of(self, key: tuple) -> list[Change]:
        """This apply's creates (replacements' new halves included) of one _create_key."""
        with self._lock:
            if self._creates is None:
                self._creates = index_by((c for c in self.changes if c.action is Action.CREATE or c.replace),
                                         self._create_key)
        return self._creates.get(key, [])

    def _create_key(self, change: Change, name: str | None = None) -> tuple:
        kind = self.kinds.get(change.kind)
        parent = change.address.rpartition(".")[0] if kind is not None and kind.parent_field else None
        return change.kind, change.assistant_name if name is None else name, parent

    def made_of(self, kind: str) -> set[int]:
        with self._lock:
            return self.made.setdefault(kind, set())

    def kind(self, name: str) -> Kind:
        kind = self.kinds.get(name)
        if kind is None:
            raise Unresolvable(f"this provisioner does not know the kind {name!r}")
        return kind

    def state_address(self, address: str) -> str:
        """walk.state_address, worked out once per address (the references of thousands of changes share a few)."""
        known = self._state_addresses.get(address)
        if known is None:
            known = self._state_addresses[address] = state_address(address)
        return known

    def id_of(self, address: str) -> int:
        """The id of the object at `address`: made in this apply, else as state holds it."""
        address = self.state_address(address)
        found = self.ids.get(address)
        if found is not None:
            return found
        entry = self.recorder.state.resources.get(address)
        if entry is None:
            raise Unresolvable(f"{address} has no id: it was not created (is it in the plan, and did it succeed?) "
                               "and is not in state")
        return entry.id


def resolve_refs(value: Any, id_of: Callable[[str], int]) -> Any:
    """`value` with every `{"$ref": address}` (anywhere inside, lists too) replaced by that object's id.

    Every dict and list is a new one (as ever); a plain value (most of a body and a record) is taken as it is
    without a call of its own: a graph's assistant was about 80 calls per change, most of them for strings."""
    if isinstance(value, dict):
        if is_marker(value):
            return id_of(value[REF])
        return {key: item if item.__class__ in PLAIN_VALUES else resolve_refs(item, id_of) for key, item in value.items()}
    if isinstance(value, list):
        return [item if item.__class__ in PLAIN_VALUES else resolve_refs(item, id_of) for item in value]
    return value


# Values resolve_refs has nothing to look into (exactly these classes: a subclass of dict or list is looked into).
PLAIN_VALUES = SCALAR_TYPES


def _resolved(change: Change, context: _Context) -> tuple[dict, dict]:
    """The change's body and record with every reference an id (state then records ids, never markers: a
    replaced object's new id is then a difference the next plan sees). A change with markers lists their
    addresses in `depends_on` (GRAPH.md), so one without any is sent as planned, at no cost per change."""
    if not change.depends_on:
        return change.body, _with_kind(change, change.record, context)
    return (resolve_refs(change.body, context.id_of),
            _with_kind(change, resolve_refs(change.record, context.id_of), context))


def _with_kind(change: Change, record: dict, context: _Context) -> dict:
    """The record with the change's kind and references (what a later delete must come after)."""
    if change.kind == DEFAULT_KIND and not change.depends_on:
        entry = context.recorder.state.resources.get(change.address)
        if entry is None or not entry.depends_on:
            return record  # as records were before kinds: byte-identical rows, no work per change
    return {**record, "kind": change.kind,
            "depends_on": sorted({*record.get("depends_on", ()), *map(context.state_address, change.depends_on)})}


def _execute(change: Change, part: str, context: _Context,
             stop: threading.Event) -> ChangeResult | _Waiting | _Unconfirmed | _LostCreate:
    if change.kind == DEFAULT_KIND:
        if part != WHOLE:
            return _replace_assistant(change, part, context)
        return _execute_assistant(change, context)
    return _execute_kind(change, part, context, stop)


def _execute_assistant(change: Change, context: _Context,
                       undo: Callable[[ApiError], None] | None = None) -> ChangeResult | _LostCreate:
    """An assistant's change; `undo` as _made's, for a replacement's create half."""
    action, client, recorder, wire = change.action, context.client, context.recorder, context.wire
    if action is Action.CREATE:
        body, record = _resolved(change, context)
        if body is not change.body:
            change = replace(change, body=body)
        create = _Create(change, wire.create(change), context.client.create_assistant,
                         partial(_known_or_claimed, context, DEFAULT_KIND), context.lookup(DEFAULT_KIND), wire.gate,
                         "assistant", made=context.made_of(DEFAULT_KIND),
                         taken_before=partial(context.taken_before, DEFAULT_KIND),
                         owned_elsewhere=partial(context.owned_elsewhere, DEFAULT_KIND),
                         alike=partial(context.creates_alike, change))
        return _made(create, partial(_assistant_created, change, record, recorder), undo)
    if action in (Action.UPDATE, Action.IMPORT):
        body, record = _resolved(change, context)
        if body:
            if action is Action.IMPORT:
                _claim(change, change.address, record, context)
            sent = replace(change, body=body) if body is not change.body else change
            try:
                with wire.gate.write():
                    client.update_assistant(change.remote_id, wire.update(sent))
            except NotFoundError:
                raise ApiError(f"id {change.remote_id} no longer exists on the platform (deleted since the "
                               "plan was made); run plan again") from None
        return ChangeResult(change, True, 0.0, change.remote_id,
                            ticket=recorder.queue(change.address, change.remote_id, record))
    if action is Action.DELETE:
        try:
            with wire.gate.write():
                client.delete_assistant(change.remote_id)
        except NotFoundError as error:
            return _Unconfirmed(change, change.remote_id, error, context, DEFAULT_KIND, None, change.address)
        return ChangeResult(change, True, 0.0, change.remote_id, ticket=recorder.queue_forget(change.address))
    if action is Action.FORGET:
        return ChangeResult(change, True, 0.0, change.remote_id, ticket=recorder.queue_forget(change.address))
    raise AssertionError(f"unknown action {action}")


def _assistant_created(change: Change, record: dict, recorder: StateRecorder, remote_id: int,
                       message: str) -> ChangeResult:
    return ChangeResult(change, True, 0.0, remote_id, message, ticket=recorder.queue(change.address, remote_id, record))


def _adopts(change: Change, held: ResourceState | None) -> bool:
    """Whether the change takes the platform's object it names, which state does not hold at its address (a namesake
    adopted by name, to be updated or replaced)."""
    return change.remote_id is not None and (held is None or held.id != change.remote_id)


def _claim(change: Change, address: str, record: dict, context: _Context) -> None:
    """Record the object an adoption takes (by its name) as this state's, as the plan read it, before anything is sent
    (its update; for a replacement, its successor's create or its own delete): what `provisioner import` records (no
    spec: nothing applied yet, so the next plan shows the update again if it fails). Two workspaces or projects that
    adopt one object at the same moment both passed the look-up of its owners: the store's one-owner index refuses
    the second claim, which then sends nothing (an update sent before the record changed the object of the workspace
    that recorded it, under that workspace's state; a replacement deleted it)."""
    item = change.remote_item
    if item is None:
        seen: dict[str, Any] = {}
    else:
        fields = read_fields(item, context.wire.lookups)[0] if change.kind == DEFAULT_KIND \
            else context.kind(change.kind).read(item)[0]
        seen = seen_fields(change.kind, fields, record.get("sensitive") or ())
    claim = {"spec": None, "protect": record.get("protect", False), "sensitive": record.get("sensitive") or [],
             "remote": seen, "source": record.get("source"), "kind": change.kind}
    try:
        context.recorder.claim(address, change.remote_id, claim)
    except OwnedElsewhereError as refused:
        raise ClaimRefused(refused) from None
    except (StateError, OSError) as failed:  # the run stops (store_failed), this change saying it sent nothing
        raise ClaimFailed(failed) from None
    context.claimed()


def _replace_assistant(change: Change, part: str, context: _Context) -> ChangeResult | _LostCreate:
    """One half of an assistant's replacement (--replace), as _execute_kind does it for the other kinds: the old
    one deposed in state while the new one is created first, or forgotten when it is destroyed first."""
    recorder, address = context.recorder, change.address
    if part == DESTROY:
        old = change.remote_id
        old_address = recorder.deposed_holding(address, old) or (
            None if context.ids.get(address) is not None else address)
        try:
            with context.wire.gate.write():
                context.client.delete_assistant(old)
        except NotFoundError as error:
            return _Unconfirmed(change, old, error, context, DEFAULT_KIND, None, old_address)
        ticket = recorder.queue_forget(old_address) if old_address else 0
        return ChangeResult(change, True, 0.0, old, ticket=ticket)
    entry = recorder.state.resources.get(address)
    old = deposed = None
    if entry is not None and entry.id == change.remote_id:
        old, deposed = entry, deposed_address(address, recorder.state.resources)
        recorder.wait_durable(recorder.queue_moves({address: None, deposed: old}))
    return _execute_assistant(change, context, partial(_put_back, recorder, address, deposed, old))


def _parent(kind: Kind, fields: dict, change: Change, context: _Context) -> int | None:
    """The id of the object a child kind lives under (a document's knowledge base), from the change's fields,
    else from what state recorded."""
    if not kind.parent_field:
        return None
    value = fields.get(kind.parent_field)
    if value is None:
        spec = (change.record.get("spec") or {}) if change.record else {}
        value = spec.get(kind.parent_field)
        if value is None:
            entry = context.recorder.state.resources.get(state_address(change.address))
            value = (entry.spec or {}).get(kind.parent_field) if entry is not None else None
        value = resolve_refs(value, context.id_of)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unresolvable(f"its {kind.parent_field} (the {kind.title}'s parent) is not known")
    return value


def _old_parent(kind: Kind, change: Change, old_address: str | None, context: _Context) -> int | None:
    """The parent the object to delete lives under: where the plan found it listed when it moves (its parent's
    field change), else as state recorded it (else, for a plain delete, as the plan found it listed). A
    replacement's change names its new object's parent: a document moved to another knowledge base (a moved block)
    is replaced, and its old half's delete sent under the new knowledge base answered 404 ("already gone"), leaving
    it on the platform, forgotten."""
    moved = moved_from(change)
    if moved is not None:
        return moved  # an imported document has no spec to say where it was
    entry = context.recorder.state.resources.get(old_address) if old_address and kind.parent_field else None
    value = (entry.spec or {}).get(kind.parent_field) if entry is not None else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # A plain delete's body holds the parent the plan found the object listed under (plan_kinds): an imported child
    # has no spec in state, and its delete could not be sent without it. (A replacement's body names the new parent.)
    return _parent(kind, change.body if change.action is Action.DELETE else {}, change, context)


def _execute_kind(change: Change, part: str, context: _Context,
                  stop: threading.Event) -> ChangeResult | _Waiting | _LostCreate:
    """Any kind, through its Endpoints (kinds/base.py): no branch per kind here."""
    kind = context.kind(change.kind)
    endpoints, client, recorder, gate = kind.endpoints, context.client, context.recorder, context.gate
    address = state_address(change.address)
    action = change.action
    if action is Action.FORGET:
        return ChangeResult(change, True, 0.0, change.remote_id, ticket=recorder.queue_forget(address))
    if action is Action.DELETE or part == DESTROY:
        old = change.remote_id
        old_address = address
        if part == DESTROY:
            # Created first: the old half is deposed in state (or, if it never was, only on the platform).
            old_address = recorder.deposed_holding(address, old) or (
                None if context.ids.get(address) is not None else address)
            if old_address == address and _adopts(change, recorder.state.resources.get(address)):
                # Destroyed first (the walk may turn a replacement so), a namesake adopted to be replaced: claimed
                # before its delete (see _claim).
                _claim(change, address, change.record or {}, context)
        parent = _old_parent(kind, change, old_address, context)
        if part == DESTROY:
            # Remembered whatever the delete answers: a create half after it (destroyed first) runs only once the
            # old object is gone (its 404 confirmed included), and must not claim it then.
            context.replaced.add((kind.name, old))
        try:
            _delete(kind, old, parent, context)
        except NotFoundError as error:
            return _Unconfirmed(change, old, error, context, kind.name, parent, old_address)
        ticket = recorder.queue_forget(old_address) if old_address else 0
        return ChangeResult(change, True, 0.0, old, ticket=ticket)
    fields, record = _resolved(change, context)
    parent = _parent(kind, fields, change, context)
    if action is Action.CREATE or part == CREATE:
        old = deposed = None
        held = recorder.state.resources.get(address)
        if part == CREATE and change.remote_id is not None and held is not None and held.id == change.remote_id:
            # Create before destroy: the old object moves aside in state first (Terraform's "deposed"), so a
            # crash between the two halves leaves it to be destroyed by the next apply, never forgotten.
            old = held
            deposed = deposed_address(address, recorder.state.resources)
            recorder.wait_durable(recorder.queue_moves({address: None, deposed: old}))
        elif part == CREATE and _adopts(change, held) and (kind.name, change.remote_id) not in context.replaced:
            # A namesake adopted to be replaced, created first: claimed where a held one moves aside (see _claim),
            # before anything is sent. A create that made nothing leaves it adopted, as a failed update does.
            deposed = deposed_address(address, recorder.state.resources)
            _claim(change, deposed, record, context)
            old = recorder.state.resources[deposed]
        waits = change.wait and endpoints.readiness is not None
        # Until its first poll, the first polls of the objects waiting under the same parent wait for it: one read
        # then answers them all (shared_reads.py).
        coming = context.readiness_reads.coming((kind.name, parent)) if waits else contextlib.nullcontext()
        with coming as arrived:
            # Whether an id is known is asked only if the create's outcome is unknown, of the items its look finds by
            # its key (a set of every known id, made per lost create, was quadratic).
            create = _Create(change, kind.create_body(fields), lambda b: endpoints.create(client, b, parent),
                             partial(_known_or_claimed, context, kind.name), context.lookup(kind.name, parent), gate,
                             kind.title, kind.name_field, made=context.made_of(kind.name),
                             taken_before=partial(context.taken_before, kind.name),
                             identity=_identity_key(kind, fields),
                             owned_elsewhere=partial(context.owned_elsewhere, kind.name),
                             alike=partial(context.creates_alike, change),
                             unlike=partial(context.creates_unlike, change))
            then = partial(_kind_created, kind, change, address, record, parent, context, stop, waits, arrived)
            return _made(create, then, partial(_put_back, recorder, address, deposed, old))
    # update or import; a child's body always names its parent (sent in the path): that alone changes nothing
    sent = kind.update_sends(change.body)
    if sent:
        if endpoints.update is None or kind.update_body is None:
            raise Unresolvable(f"a {kind.title} cannot be updated in place (the plan should replace it)")
        if action is Action.IMPORT:
            _claim(change, address, record, context)
        try:
            with gate.write():
                endpoints.update(client, change.remote_id, kind.update_body(fields), parent)
        except NotFoundError:
            raise ApiError(f"id {change.remote_id} no longer exists on the platform (deleted since the "
                           "plan was made); run plan again") from None
    ticket = recorder.queue(address, change.remote_id, record)
    if change.wait and endpoints.readiness is not None:
        # One the platform was still processing when planned (a wait an earlier apply gave up): what uses it
        # waits for it again, as after its create.
        done = partial(_created, kind, change, change.remote_id, address, record, "", ticket, context)
        return _Waiting(kind, change, change.remote_id, parent, context, stop, done, ticket)
    if change.actions:
        recorder.wait_durable(ticket)
        ticket = _run_actions(kind, change, change.remote_id, address, record, context)
    return ChangeResult(change, True, 0.0, change.remote_id, ticket=ticket)


def _kind_created(kind: Kind, change: Change, address: str, record: dict, parent: int | None, context: _Context,
                  stop: threading.Event, waits: bool, arrived: Callable[[], None] | None, remote_id: int,
                  message: str) -> ChangeResult | _Waiting:
    """A create of `kind` that made `remote_id`: recorded, then its object waited for if the kind is processed."""
    ticket = context.recorder.queue(address, remote_id, record)
    if waits:
        # Polled at once by `attempt`, without waiting for its record to be durable first (the committer commits it
        # meanwhile); its result, whatever the wait's outcome, and its leaving the walk's window wait for that commit
        # (`ticket`).
        done = partial(_created, kind, change, remote_id, address, record, message, ticket, context)
        return _Waiting(kind, change, remote_id, parent, context, stop, done, ticket, arrived)
    return _created(kind, change, remote_id, address, record, message, ticket, context)


def _created(kind: Kind, change: Change, remote_id: int, address: str, record: dict, message: str, ticket: int,
             context: _Context) -> ChangeResult:
    """The end of a create (once its object is ready, for a kind apply waits for): its actions, its result."""
    if change.actions:
        context.recorder.wait_durable(ticket)  # the object is recorded before anything is started on it
        ticket = _run_actions(kind, change, remote_id, address, record, context)
    return ChangeResult(change, True, 0.0, remote_id, message, ticket=ticket)


def _run_actions(kind: Kind, change: Change, remote_id: int, address: str, record: dict, context: _Context) -> int:
    """The actions the plan asked for (a campaign's start or stop), in order, once the object is in state; the
    field's new value goes into state's view of the platform as each one succeeds. A refusal stops the change
    (ApiError names why); what ran before it is recorded."""
    remote = dict(record.get("remote") or {})
    ticket = 0
    for planned in change.actions:
        action = kind.action(planned["field"])
        if action is None:
            raise Unresolvable(f"a {kind.title} has no action for {planned['field']!r} (the plan is not this "
                               "provisioner's)")
        with context.gate.write():
            value = action.run(context.client, remote_id, planned["action"])
        if value is not None:
            remote[planned["field"]] = value
        ticket = context.recorder.queue(address, remote_id, {**record, "remote": remote})
        context.recorder.wait_durable(ticket)
    return ticket


def _known_or_claimed(context: _Context, kind: str, remote_id: int) -> bool:
    """Whether no lost create can have made the object `remote_id` of `kind`: listed when planning, recorded in state
    by now, or made by another create of this apply."""
    return (remote_id in context.known.get(kind, ()) or context.recorder.holds(kind, remote_id)
            or remote_id in context.made_of(kind))


def _delete(kind: Kind, remote_id: int, parent: int | None, context: _Context) -> None:
    """The delete's request; the platform's 404 raises NotFoundError (it is gone only once confirmed: _Unconfirmed)."""
    endpoints = kind.endpoints
    if endpoints.confirm_delete is not None and not endpoints.confirm_delete(context.client, remote_id):
        raise ApiError(f"refusing to delete id {remote_id}: the platform does not list it as a {kind.title} (its "
                       "delete endpoint is shared with another kind); nothing was deleted")
    with context.gate.write():
        endpoints.delete(context.client, remote_id, parent)


class _Unconfirmed:
    """A delete the platform answered with its JSON 404 (at `answered`), reported gone and forgotten only once a list
    read begun after that answer does not show its object (_gone_after_404).

    It waits for that read as a walk.Later that holds no worker and is resumed as soon as the walk has nothing in
    flight (at the latest CONFIRM_WAIT after its 404): the deletes answered 404 meanwhile share that read of their
    list (SharedLookup). Read at once, each such delete held its worker for a read of its own (the list, all its
    pages, while every write paused): deletes retried after a lost answer, each meeting that 404, cost one whole
    list read per few deletes."""

    ticket = 0     # nothing recorded before it is confirmed (attempt's bookkeeping of a wait)
    waited = 0.0

    def __init__(self, change: Change, remote_id: int, error: NotFoundError, context: _Context, kind: str,
                 parent: int | None, forget: str | None):
        self.change, self.remote_id, self.error, self.context = change, remote_id, error, context
        self.kind, self.parent, self.forget = kind, parent, forget
        self.answered = time.monotonic()
        self.title = "assistant" if kind == DEFAULT_KIND else context.kind(kind).title

    def poll(self) -> ChangeResult:
        """The confirming read (an ApiError if it shows the object, or cannot be read); then state forgets it."""
        message = _gone_after_404(self.context, self.kind, self.remote_id, self.parent, self.title, self.error,
                                  self.answered)
        ticket = self.context.recorder.queue_forget(self.forget) if self.forget else 0
        return ChangeResult(self.change, True, 0.0, self.remote_id, message, ticket=ticket)

    def unconfirmed(self, stopped: str) -> str:
        """Why it failed when the run stopped (`stopped`: "interrupted", ...) before its read could be made."""
        return (f"{self.title} {self.remote_id}: the platform answered 404 to its delete; {stopped} before a list "
                "read could confirm it is gone: state keeps it; run plan to see where it stands")


def _gone_after_404(context: _Context, kind: str, remote_id: int, parent: int | None, title: str,
                    error: NotFoundError, answered: float) -> str:
    """"it was already gone" for a delete answered with the platform's 404, once a list read after that answer
    agrees; else an ApiError, and state keeps the object.

    A retried delete whose first attempt did delete meets that 404, and so does one sent to an object that lives
    on (a misrouted path, a platform that failed its own look-up): taken at its word, it had state forget an object
    that stayed on the platform, unmanaged. Read only on this path: a delete that succeeds costs nothing more."""
    try:
        listed = _listed_after(context, kind, parent, remote_id, answered)
    except NotFoundError:
        if parent is None:
            raise ApiError(f"{error}; then the list of {title}s answered 404 too: not taken to mean it is gone, and "
                           "state keeps it") from None
        return _gone_with_parent(context, context.kind(kind).parent_kind, parent, f"{title} {remote_id}", error,
                                 answered)
    except ApiError as looking:
        raise ApiError(f"{error}; then reading the {title}s to confirm it is gone failed ({looking}): state keeps it"
                       ) from None
    if listed:
        raise ApiError(f"{title} {remote_id}: the platform answered 404 to its delete, but still lists it; nothing "
                       f"was deleted and state keeps it ({error})") from None
    return "it was already gone"


def _listed_after(context: _Context, kind: str, parent: int | None, remote_id: int, moment: float) -> bool:
    """Whether a list of `kind` (under `parent`) whose reading began after `moment` shows `remote_id` (looked up in
    that read's index of ids: the deletes that share a read each scanned it)."""
    return bool(context.lookup(kind, parent).items_read_after(moment).having("id", _listed_id, remote_id))


def _listed_id(item: dict) -> Any:
    return item.get("id")


def _gone_with_parent(context: _Context, parent_kind: str, parent: int, what: str, error: NotFoundError,
                      answered: float) -> str:
    """"it was already gone" for a child (a document) whose delete and whose parent's list both answered 404, once
    the list of the parent's kind, read after the delete's 404 (`answered`), no longer shows the parent (which took
    it along); else an ApiError, and state keeps it. Two 404s under one path are no more proof than one: a misrouted
    path, or a platform failing its own look-up of the parent, answered both while the parent and the child lived
    on. A read begun after the delete's 404 proves it as well as one begun after the list's: the children confirmed
    together share it, where each asked for a read begun after its own list's 404 (every parent's list read anew for
    about each tenth of them)."""
    parent_title = context.kind(parent_kind).title
    try:
        listed = _listed_after(context, parent_kind, None, parent, answered)
    except ApiError as looking:
        raise ApiError(f"{error}; then its {parent_title}'s list answered 404, and reading the {parent_title}s to "
                       f"confirm that {parent_title} {parent} is gone failed ({looking}): state keeps {what}") from None
    if listed:
        raise ApiError(f"{what}: the platform answered 404 to its delete and to the list of its {parent_title}, but "
                       f"still lists {parent_title} {parent}; nothing was deleted and state keeps it ({error})"
                       ) from None
    return "it was already gone"  # with its parent, which took it along


class _Waiting:
    """A created object that is not ready yet (a document the platform processes): polled within the rate budget
    (each read is a request) by the walk when due (walk.Later, no worker held between polls) until ready, failed
    or the --wait-timeout deadline, saying every so often how long it has waited; then `done`.

    A poll reads its parent's list (a knowledge base's documents), shared with the other objects waiting under
    that parent (shared_reads.py): it is answered only by a list read that began after its create was answered
    (a later poll: one that began at most half its interval before it was due). It waits for a read in flight,
    and a first poll for the creates under that parent still in flight (at most SIBLINGS_WAIT), as a walk.Later
    of its own, holding no worker."""

    def __init__(self, kind: Kind, change: Change, remote_id: int, parent: int | None, context: _Context,
                 stop: threading.Event, done: Callable[[], ChangeResult], ticket: int,
                 arrived: Callable[[], None] | None = None):
        self.kind, self.change, self.remote_id, self.parent = kind, change, remote_id, parent
        self.context, self.stop, self.done = context, stop, done
        self.ticket = ticket  # the state mutation that records its create (StateRecorder.queue)
        self.arrived = arrived  # says its create's first poll has come (SharedReads.coming)
        self.started = self.said = time.monotonic()
        self.since = self.started  # the read that answers the next poll began at or after this (after the create)
        self.deadline = self.started + context.wait_timeout
        self.delay = 0.0        # until the next poll
        self.waited = 0.0       # time spent waiting for the rate budget, over the polls
        self._next_delay = 1.0

    def poll(self) -> ChangeResult | _Waiting:
        """One readiness poll: the finished change, or itself with `delay` set to when to poll next."""
        change, context = self.change, self.context
        made = "was created" if change.action is Action.CREATE else "exists"
        if self.stop.is_set():
            raise ApiError(f"{change.address} (id {self.remote_id}) {made}; interrupted while waiting for it "
                           "to be ready")
        if self.arrived is not None:
            self.arrived()
            self.arrived = None
        answer = context.readiness_reads.poll((self.kind.name, self.parent), self.since, self._listing,
                                              gather_until=self.started + SIBLINGS_WAIT)
        if isinstance(answer, Due):  # a read in flight answers it (or must end first): no request of its own
            self.delay = max(0.0, answer.at - time.monotonic())
            return self
        item = {"id": self.remote_id, self.kind.name_field: change.assistant_name}
        status = self.kind.endpoints.readiness(item, answer.value.get(self.remote_id), self.parent)
        if status == "ready":
            return self.done()
        if status != "pending":
            raise ApiError(f"{change.address} (id {self.remote_id}) {made}, but will not become ready: {status}")
        now = time.monotonic()
        if now >= self.deadline:
            raise ApiError(f"{change.address} (id {self.remote_id}) {made}, but is still being processed after "
                           f"{context.wait_timeout:g}s (--wait-timeout); what waits for it was not started. Apply "
                           "again later, or raise --wait-timeout")
        if now - self.said >= 10:
            context.progress(f"{change.address}: still processing after {now - self.started:.0f}s "
                             f"(waiting up to {context.wait_timeout:g}s)")
            self.said = now
        self.delay = min(self._next_delay, max(0.0, self.deadline - now))
        self._next_delay = min(self._next_delay * 1.5, 10.0)
        # Newer than this answer (which began before `now`), and near enough to the due time to be worth a poll.
        self.since = now + self.delay / 2
        return self

    def _listing(self) -> dict[int, dict]:
        """The parent's objects by id, as the platform lists them now (none when the parent itself is gone)."""
        try:
            items = self.kind.endpoints.list(self.context.client, self.parent)
        except NotFoundError:  # the parent is gone, and every object under it
            items = []
        return {item["id"]: item for item in items}


@dataclass(frozen=True)
class _Key:
    """What a create's object is found by in its kind's list (Listing.having): the items whose `of(item)` is `value`;
    `by` names that key for the list's index (one kind's creates share it)."""

    by: Hashable
    of: Callable[[dict], Any]
    value: Any


def _loose_name_of(name_field: str, item: dict) -> Any:
    return _loosely(item.get(name_field))


def _identity_of(kind: Kind, item: dict) -> Any:
    return kind.identity(kind.read(item)[0])


def _identity_key(kind: Kind, fields: dict[str, Any]) -> _Key | None:
    """For a kind matched on `Kind.identity` (a SIP trunk's number, username and address), the key of the listed
    item that is the object these fields describe; None for a kind matched on its name. Its name (a trunk's optional
    nickname: "None" when it has none) cannot find what a lost create made: each attempt was sent again."""
    if kind.identity is None or (key := kind.identity(fields)) is None:
        return None
    return _Key(("identity", kind.name), partial(_identity_of, kind), key)


class _Create:
    """One create, made once whatever goes wrong in between.

    Resending is safe only after looking: each attempt whose outcome is unknown (`send` answers None) is followed by
    a search for the object in its kind's list (`look`, once a read begun after that failure can be made), and only
    its confirmed absence allows another attempt (up to twice --max-retries). An object of that name that was not
    there when planning is the lost create's. `known(id)` tells the ids no lost create made; asked after the look's
    read, it must know those in `made` too: each create of this apply adds its new id there before its write ends,
    so that a look (which waits for the writes in flight to end, then reads) knows a same-named sibling's new
    object for what it is.

    An answer naming an id that cannot be the new object's (one `taken_before` this apply, listed when planning or
    recorded in state, or one another create of this apply got) is as doubtful as no answer: recorded, it would take
    that object's place in state (and lose the one it belongs to), so the object is looked for instead.

    `identity`: what a listed item of this create's object is found by, for a kind matched on its identity
    (`_identity_key`); None: its name (the items whose name differs from it only in spacing or case are found too,
    to stop on them).

    A new object that another workspace or project of the store manages (`owned_elsewhere`: its apply, under a
    lock of its own, made it meanwhile in the same account) is never this create's either.
    """

    def __init__(self, change: Change, body: dict, send: Callable[[dict], dict],
                 known: set[int] | Callable[[int], bool], lookup: SharedLookup, gate: WriteGate,
                 title: str = "assistant", name_field: str = "name", made: set[int] | None = None,
                 taken_before: Callable[[int], bool] = lambda remote_id: False, identity: _Key | None = None,
                 owned_elsewhere: Callable[[list[int]], set[int]] = lambda ids: set(),
                 alike: Callable[..., list[str]] = lambda name=None: [],
                 unlike: Callable[[], dict[str, list[str]]] = dict):
        self.change, self.body, self._send, self.lookup, self.gate = change, body, send, lookup, gate
        self.alike = alike  # the apply's other creates of its kind and name, or a name given (creates_alike)
        self.unlike = unlike  # those of them that differ in a field never shown back (creates_unlike)
        self.known = known if callable(known) else known.__contains__
        self.title, self.name_field, self.made, self.taken_before = title, name_field, made, taken_before
        self.owned_elsewhere = owned_elsewhere
        self.name = change.assistant_name
        self.identity = identity
        self.attempts = 2 * lookup.client.retry.max_attempts
        self.attempt = 0
        self.error: ApiError | None = None  # the last attempt's, when its outcome is unknown
        self.failed_at = 0.0  # ... and when it was seen: a read that shows what it made began after it

    def send(self) -> tuple[int, str] | None:
        """The next attempt: (id, note), or None when its outcome is unknown (then `look`)."""
        self.attempt += 1
        made, change, title = self.made, self.change, self.title
        try:
            with self.gate.write():
                answer = self._send(self.body)
                remote_id = answer.get("id") if isinstance(answer, dict) else None
                # Only an id state can hold (a folder's answer of id 0 or -5 was recorded, and the store then
                # refused to read that row: every later run stopped until it was repaired by hand).
                an_id = is_id(remote_id)
                taken = an_id and ((made is not None and remote_id in made) or self.taken_before(remote_id))
                if made is not None and an_id and not taken:
                    made.add(remote_id)
            if not an_id:
                raise UnknownOutcomeError(f"the platform answered the create of {change.address} without the new "
                                          f"{title}'s id", status=200)
            if taken:
                raise _TakenId(f"the platform answered the create of {change.address} with id {remote_id}, which "
                               f"another {title} already had", status=200)
            return remote_id, ""
        except (ServerError, TransportError) as error:
            self.error, self.failed_at = error, time.monotonic()
            return None

    def look(self) -> tuple[int, str] | None:
        """After an attempt whose outcome is unknown: (id, note) of the object it made, found in a list read begun
        after its failure; else, when sending again is safe, the next attempt's outcome (None: unknown again)."""
        error, name, title = self.error, self.name, self.title
        try:
            items = self.lookup.items_read_after(self.failed_at)
        except ApiError as looking:
            # The create may have succeeded: whatever the look-up's own answer (a 4xx included), its outcome
            # stays unknown (not `made_nothing`: a replacement's old object stays deposed).
            raise UnknownOutcomeError(f"{error}; then looking for what it made failed: {looking}",
                                      status=None) from None
        namesakes = self._new_namesakes(items)  # known: after the read (see `made`)
        found = namesakes if self.identity else [item for item in namesakes
                                                     if item.get(self.name_field) == name]
        if len(found) == 1 and not self.identity and self.made is not None and int(found[0]["id"]) not in self.made \
                and self.unlike():  # (found by its identity, a SIP trunk is this create's whatever its nickname)
            raise ApiError(self._whose_unknown(found[0]))
        if len(found) == 1 and not self._takes(int(found[0]["id"])):
            # Another lost create of this apply, of the same name, found it in the same read and took it: one of the
            # two made it, and the other nothing (it would be a second new namesake in a read begun after both).
            namesakes = [item for item in namesakes if item is not found[0]]
            found = []
        if not found and namesakes:
            # Absence is proven by the name only. A new object whose name differs only in spacing or case may
            # be this create's, stored as the platform normalised it: sending again could make one more on
            # every attempt and every run, so the run stops here instead.
            raise ApiError(self._normalised(namesakes))
        if len(found) == 1:
            return int(found[0]["id"]), "adopted: the create had succeeded though its answer was lost"
        if not found and isinstance(error, _TakenId):
            # The platform said it succeeded: sending again could only make a second one.
            raise ApiError(f"{error}, and its list shows no new {title} named {name!r}; nothing more was sent. "
                           "Check the platform, then run again (the next plan finds the object by its name)")
        if len(found) > 1:
            raise ApiError(self._several(found))
        if _may_still_be_at_work(error):
            # A gateway that gave up (504), or our own deadline, ends the wait but not the platform's work: the
            # create may land after the look. Sent again, it made a second object when it did.
            raise UnknownOutcomeError(f"{error}; the platform shows no new {title} named {name!r} yet, but it "
                                      "may still be making it: not sent again. The next apply finds it by its "
                                      "name, or creates it", status=None)
        if self.attempt == self.attempts:
            raise NotCreated(f"{error} (gave up after {self.attempt} attempts; no {title} with this name is on "
                             "the platform, so nothing was created)")
        client = self.lookup.client
        client.pause(client.backoff(self.attempt))
        return self.send()

    def _normalised(self, namesakes: list[dict]) -> str:
        """Why a look that found only new objects whose names differ from its own in spacing or case stops. When
        another create of this apply has such a name exactly, the object is likely that one's (two assistants
        'Twin' and 'twin', one of whose lost creates had made nothing): "or delete it" deleted it, recorded or not."""
        ids = ", ".join(f"{item['id']} ({item.get(self.name_field)!r})" for item in namesakes)
        told = (f"the outcome of the create was unknown, and the platform now has a new {self.title} whose name "
                f"differs from {self.name!r} only in spacing or case: id {ids}")
        theirs = sorted({a for item in namesakes for a in self.alike(str(item.get(self.name_field)))})
        if not theirs:
            return (f"{told}. It may be this create's; adopt it with `provisioner import {self.change.address} ID` "
                    "(or delete it) and run again. Nothing more was sent")
        return (f"{told}, the name of {', '.join(theirs)}, which this apply also creates, so it is likely theirs: "
                f"delete none of it. Nothing more was sent; once state holds it for them, run again to create this one "
                f"(if it never does, it may be this create's: `provisioner import {self.change.address} ID`)")

    def _whose_unknown(self, item: dict) -> str:
        """Why a look that found one new object of its name stops when another create of this apply has that name and
        differs in what the platform never shows back: the one made may be either's (one made its object, the other
        nothing), and taking it for this one gave it, say, the other campaign's assistant, which no plan could see."""
        unlike = self.unlike()
        differ = sorted({name for names in unlike.values() for name in names})
        return (f"the outcome of the create was unknown and the platform now has one new {self.title} named "
                f"{self.name!r} (id {item['id']}), which may be this create's or that of {', '.join(sorted(unlike))}, "
                f"which this apply also creates under that name with another {', '.join(differ)}, never shown back, "
                f"so whose it is cannot be told: delete none of it; import it for the manifest whose it is (`provisioner "
                f"import ADDRESS {item['id']}`, the dashboard shows its settings) and run again, which creates the "
                "other. Nothing more was sent")

    def _several(self, found: list[dict]) -> str:
        """Why a look that found several new namesakes stops, and what to do. When other creates of this apply share
        the name, the others are likely theirs (each found them all): "delete the others" would have deleted them."""
        ids = ", ".join(str(item["id"]) for item in found)
        told = (f"the outcome of the create was unknown and the platform now has {len(found)} new {self.title}s "
                f"named {self.name!r} (ids {ids}); adopt this one's with `provisioner import {self.change.address} ID`")
        alike = self.alike()
        if not alike:
            return f"{told} and delete the others"
        return (f"{told}; the others may be those of {', '.join(alike)}, which this apply also creates under that "
                "name, so delete none of them: once this one is imported, the next plan adopts theirs (or asks "
                "which is whose)")

    def _takes(self, remote_id: int) -> bool:
        """Whether this create takes the object it found, `remote_id`, for its own: not if another create of this apply
        made or took it. The lost creates that share a read look in it side by side, each before the others record
        what they found: two of one name (tools, campaigns may share names) of which one made its object both adopted
        it, and the store, refusing one object at two addresses, failed both and recorded neither."""
        if self.made is None:
            return True
        with _TAKING:
            if remote_id in self.made:
                return False
            self.made.add(remote_id)
            return True

    def _new_namesakes(self, items: Listing) -> list[dict]:
        """The listed items of this create's key (its name, loosely, or its identity) that no lost create can have
        made (`known`) and that no other workspace or project of the store manages (asked about those only)."""
        key = self.identity or _Key(("loosely", self.name_field), partial(_loose_name_of, self.name_field),
                                    _loosely(self.name))
        new = [item for item in items.having(key.by, key.of, key.value) if not self.known(int(item["id"]))]
        foreign = self.owned_elsewhere([int(item["id"]) for item in new]) if new else set()
        return [item for item in new if int(item["id"]) not in foreign] if foreign else new


# Held to look for and add one id to a `made` set (_Create._takes): one check and add for the lost creates of a read.
_TAKING = threading.Lock()


class _LostCreate:
    """A create whose outcome is unknown (`_Create.send` answered None), waiting for a list read begun after that
    failure to show whether it made its object (`_Create.look`); `then` makes the change's outcome of what it made.

    It waits as a walk.Later that holds no worker and is resumed as soon as the walk has nothing in flight (at the
    latest CONFIRM_WAIT after its failure), as a delete answered 404 does (_Unconfirmed): the creates whose answers
    were lost meanwhile share that read of their list (SharedLookup), each finding its object by its key (Listing).
    Looking at once, each held its worker for a read of the whole list while every write paused, a read that served
    the few creates that failed while it ran: a fleet whose every answer was lost read the whole list once per few
    creates, an apply that grew with the square of the fleet (8,000 assistants whose every answer was lost: 544 s,
    now 34 s).
    """

    ticket = 0  # nothing recorded before its object is found (attempt's bookkeeping of a wait)

    def __init__(self, create: _Create, then: Callable[[int, str], Any]):
        self.create, self.then = create, then
        self.undo: list[Callable[[ApiError], None]] = []  # called with the error its create fails with
        self.waited = 0.0

    @property
    def due(self) -> float:
        return self.create.failed_at + CONFIRM_WAIT

    def poll(self) -> Any:
        """The look: the change's outcome (`then`), or itself when its create, sent again, is as unknown again."""
        try:
            made = self.create.look()
        except ApiError as error:
            for undo in self.undo:
                undo(error)
            raise
        if made is None:
            return self
        result = self.then(*made)
        if isinstance(result, _Waiting):
            result.waited += self.waited
        return result

    def unlooked(self, stopped: str) -> str:
        """Why it failed when the run stopped (`stopped`: "interrupted", ...) before its look could be made (not the
        error, which may quote the body sent: this is said outside the masking of its sensitive values)."""
        return (f"the answer to its create was lost; {stopped} before a list read could show whether it was made: "
                "run plan to see where it stands (the next apply finds the object if it was made, or creates it)")


def _made(create: _Create, then: Callable[[int, str], Any], undo: Callable[[ApiError], None] | None = None) -> Any:
    """`then` of what the create's first attempt made, or the _LostCreate that waits to look for it; `undo` called with
    the ApiError the create fails with (now, or once looked for), never with one of `then`'s: a replacement's new
    campaign whose start the platform refused (a 400) was taken for a create that made nothing, and its old one put
    back at its address over the new one's record, which was left on the platform, unrecorded."""
    try:
        made = create.send()
    except ApiError as error:
        if undo is not None:
            undo(error)
        raise
    if made is not None:
        return then(*made)
    lost = _LostCreate(create, then)
    if undo is not None:
        lost.undo.append(undo)
    return lost


def _put_back(recorder: StateRecorder, address: str, deposed: str | None, old: ResourceState | None,
              error: ApiError) -> None:
    """A replacement's old object, moved aside (deposed) before its new one's create, back at its address when that
    create surely made nothing: it is simply kept."""
    if old is not None and deposed is not None and made_nothing(error):
        recorder.wait_durable(recorder.queue_moves({deposed: None, address: old}))
