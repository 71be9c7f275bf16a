"""Apply's concurrency helpers, in isolation."""
import itertools
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from provisioner.apply import SharedLookup, WriteGate, StateRecorder
from provisioner.state import DEPOSED, ResourceState, State, deposed_address, deposed_holding
from provisioner.state.sql import open_store


class SlowList:
    def __init__(self):
        self.reads = 0
        self.lock = threading.Lock()

    def list_assistants(self):
        with self.lock:
            self.reads += 1
            number = self.reads
        time.sleep(0.2)
        return [{"id": number}]


def test_a_lookup_reuses_only_a_read_that_began_after_the_failure():
    client = SlowList()
    lookup = SharedLookup(client, WriteGate())
    failed_at = time.monotonic()
    results = []
    threads = [threading.Thread(target=lambda: results.append(lookup.items_read_after(failed_at)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.reads == 1 and results == [[{"id": 1}]] * 8
    # A failure observed after that read began needs a new read.
    assert lookup.items_read_after(time.monotonic()) == [{"id": 2}]


def test_every_recorded_change_is_on_disk_when_record_returns(tmp_path):
    backend = open_store("sqlite", tmp_path / "state" / "s.db")
    recorder = StateRecorder(backend, State.new())

    on_disk_when_returned = []

    def record(i):
        recorder.record(f"a{i}", i + 1, {"spec": {}, "protect": False, "sensitive": [], "remote": {}})  # ids are positive
        on_disk_when_returned.append(f"a{i}" in backend.read().resources)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = backend.read()
    assert on_disk_when_returned == [True] * 50
    assert len(state.resources) == 50 and 1 <= state.serial <= 50


RECORD = {"spec": {}, "protect": False, "sensitive": [], "remote": {}}


class GatedStore:
    """A real SQLite store whose commits wait for the test to open the gate (and can be made to fail)."""

    def __init__(self, tmp_path):
        self.store = open_store("sqlite", tmp_path / "state" / "s.db")
        self.gate = threading.Event()
        self.fail_next = False
        self.commits = []

    def commit(self, state, changes):
        assert self.gate.wait(10), "the test never opened the gate"
        if self.fail_next:
            self.fail_next = False
            raise OSError(28, "No space left on device")
        self.commits.append(sorted(changes))
        return self.store.commit(state, changes)


def test_with_a_committer_queueing_never_waits_and_a_ticket_is_on_disk_once_waited_for(tmp_path):
    gated = GatedStore(tmp_path)
    recorder = StateRecorder(gated, State.new())
    with recorder.committing():
        # The commit is held at the gate: workers queueing meanwhile return at once.
        tickets = [recorder.queue(f"a{i}", i + 1, RECORD) for i in range(20)]
        assert gated.store.read().resources == {}
        gated.gate.set()
        recorder.wait_durable(tickets[-1])
        assert len(gated.store.read().resources) == 20
        # What finished while a commit ran went into the next one: fewer commits than changes.
        assert len(gated.commits) < 20
        recorder.wait_durable(recorder.queue_forget("a0"))
        assert "a0" not in gated.store.read().resources


def test_a_failed_commit_is_raised_to_its_waiters_and_its_rows_go_into_the_next(tmp_path):
    gated = GatedStore(tmp_path)
    recorder = StateRecorder(gated, State.new())
    gated.fail_next = True
    with recorder.committing():
        first = recorder.queue("a", 1, RECORD)
        gated.gate.set()
        with pytest.raises(OSError, match="No space"):
            recorder.wait_durable(first)
        # The next change's commit carries the row that failed with it.
        recorder.wait_durable(recorder.queue("b", 2, RECORD))
    assert set(gated.store.read().resources) == {"a", "b"}
    assert gated.commits == [["a", "b"]]


def test_leaving_the_committing_block_commits_what_is_queued(tmp_path):
    gated = GatedStore(tmp_path)
    gated.gate.set()
    recorder = StateRecorder(gated, State.new())
    with recorder.committing():
        for i in range(5):
            recorder.queue(f"a{i}", i + 1, RECORD)
    assert len(gated.store.read().resources) == 5


def test_changes_queued_within_the_linger_share_one_commit_and_each_is_durable_when_waited_for(tmp_path):
    # Group commit: the committer lets the changes that finish together gather into one transaction (a
    # commit costs about the same CPU for one row as for ten); none is reported before it is on disk.
    gated = GatedStore(tmp_path)
    gated.gate.set()
    recorder = StateRecorder(gated, State.new(), linger=0.5)
    with recorder.committing():
        tickets = [recorder.queue(f"a{i}", i + 1, RECORD) for i in range(10)]
        recorder.wait_durable(tickets[0])
        assert len(gated.store.read().resources) == 10
    assert gated.commits == [sorted(f"a{i}" for i in range(10))]


def test_a_full_group_is_committed_at_once_without_waiting_out_the_linger(tmp_path):
    # apply gives --parallelism as the group: once that many changes wait, their commit starts (the linger bounds
    # how long fewer wait); each is still durable before anyone is told it is.
    gated = GatedStore(tmp_path)
    gated.gate.set()
    recorder = StateRecorder(gated, State.new(), linger=30.0)
    started = time.monotonic()
    with recorder.committing(group=4):
        tickets = [recorder.queue(f"a{i}", i + 1, RECORD) for i in range(4)]
        recorder.wait_durable(tickets[-1])
        assert time.monotonic() - started < 10
        assert len(gated.store.read().resources) == 4
        assert gated.commits == [["a0", "a1", "a2", "a3"]]



@pytest.mark.parametrize("group", [0, 20])
def test_a_claim_is_committed_at_once_with_what_waits_and_without_waiting_out_the_linger(tmp_path, group):
    # An adoption's worker waits for its claim before it sends the update: lingering per claim held each adoption of
    # a fleet back by the linger (the group never fills while every worker waits). What was queued joins that commit.
    gated = GatedStore(tmp_path)
    gated.gate.set()
    recorder = StateRecorder(gated, State.new(), linger=30.0)
    started = time.monotonic()
    with recorder.committing(group=group):
        queued = recorder.queue("a0", 1, RECORD)
        time.sleep(0.1)  # the committer lingers over a0
        recorder.claim("a1", 2, {**RECORD, "spec": None})
        assert time.monotonic() - started < 10
        recorder.wait_durable(queued)
        assert gated.commits == [["a0", "a1"]] and gated.store.read().resources["a1"].spec is None
        recorder.claim("a2", 3, RECORD)  # the committer idle: the same
        assert time.monotonic() - started < 10 and gated.commits[-1] == ["a2"]

def test_a_failed_look_up_after_a_lost_create_leaves_its_outcome_unknown_not_made_nothing():
    """The create answered 500 (it may have succeeded), then the look-up for it was refused with a 4xx (a 429
    past --retry-max-time, a 401): that 4xx said nothing about the create, so a replacement's old object must
    stay deposed; taking it for "made nothing" put the old one back and hid the new one."""
    from types import SimpleNamespace

    from provisioner.apply import _Create, made_nothing
    from provisioner.client import RetryPolicy
    from provisioner.errors import ApiError, ServerError
    from provisioner.plan import Action, Change

    class RefusedLookUp:
        client = SimpleNamespace(retry=RetryPolicy(max_attempts=3), pause=lambda s: None, backoff=lambda a: 0)

        def items_read_after(self, moment):
            raise ApiError("GET /user/campaigns: rate limited", status=429)

    def send(body):
        raise ServerError("POST /user/campaigns: the platform failed (500)", status=500)

    change = Change(address="campaign.winter", action=Action.CREATE, assistant_name="Winter", kind="campaign")
    create = _Create(change, {}, send, set(), RefusedLookUp(), WriteGate(), "campaign")
    assert create.send() is None  # its outcome unknown: looked for
    with pytest.raises(ApiError) as caught:
        create.look()
    assert not made_nothing(caught.value) and "looking for what it made failed" in str(caught.value)
    assert made_nothing(ApiError("POST /user/campaigns: the platform answered 403", status=403))


class _FieldReadsCounted(dict):
    """A listed item, counting the reads of its fields."""

    reads = 0

    def get(self, *args):
        _FieldReadsCounted.reads += 1
        return super().get(*args)


def test_lost_creates_sharing_a_read_find_their_objects_in_it_by_name_not_each_by_scanning_it():
    """The creates whose answers were lost share one read of their kind's list (apply._LostCreate); each then walked
    every item of it for its name: 2,000 lost creates in a list of 2,000, four million looks. Each finds its object in
    an index of that read, built once."""
    from types import SimpleNamespace

    from provisioner.apply import _Create
    from provisioner.client import RetryPolicy
    from provisioner.errors import ServerError
    from provisioner.plan import Action, Change

    count = 2000
    listed = [_FieldReadsCounted(id=i, name=f"Bot {i}") for i in range(1, count + 1)]
    platform = SimpleNamespace(retry=RetryPolicy(max_attempts=3), reads=0)

    def listing():
        platform.reads += 1
        return listed

    def send(body):
        raise ServerError("POST /user/assistant: the platform failed (500)", status=500)

    gate = WriteGate()
    lookup = SharedLookup(listing, gate, platform)
    creates = [_Create(Change(address=f"bot-{i}", action=Action.CREATE, assistant_name=f"Bot {i}"), {}, send, set(),
                       lookup, gate) for i in range(1, count + 1)]
    assert [create.send() for create in creates] == [None] * count  # every outcome unknown, then looked for
    _FieldReadsCounted.reads = 0
    found = [create.look() for create in creates]
    assert found == [(i, "adopted: the create had succeeded though its answer was lost") for i in range(1, count + 1)]
    assert platform.reads == 1 and _FieldReadsCounted.reads <= 3 * count, _FieldReadsCounted.reads


def test_deletes_answered_404_sharing_a_read_look_for_their_ids_in_it_without_scanning_it():
    """The deletes answered 404 share one read of their list to confirm they are gone (apply._Unconfirmed); each then
    walked every item of it for its id: 2,000 such deletes in a list of 2,000 (the deletes that had not yet reached
    the platform still listed), four million looks. Each looks in an index of that read's ids, built once."""
    from types import SimpleNamespace

    from provisioner.apply import _listed_after

    count = 2000
    listed = [_FieldReadsCounted(id=i, name=f"Bot {i}") for i in range(1, count + 1)]
    lookup = SharedLookup(lambda: listed, WriteGate(), SimpleNamespace())
    context = SimpleNamespace(lookup=lambda kind, parent: lookup)
    answered = time.monotonic()
    _FieldReadsCounted.reads = 0
    assert [_listed_after(context, "assistant", None, i, answered) for i in range(1, 2 * count + 1)] == \
        [True] * count + [False] * count
    assert _FieldReadsCounted.reads <= 2 * count, _FieldReadsCounted.reads


def test_two_lost_creates_of_one_name_looking_in_one_read_never_both_take_its_one_new_object():
    """Two creates of one name (tools may share names) whose answers were lost, of which one made its object, look
    for it in one shared read before either records what it found: both took the one new object (the store then
    refused one object at two addresses, and failed both). The first takes it; the second finds nothing it may take
    and, its create having made nothing, sends again."""
    from types import SimpleNamespace

    from provisioner.apply import _Create
    from provisioner.client import RetryPolicy
    from provisioner.errors import ServerError
    from provisioner.plan import Action, Change

    listed = [{"id": 7, "name": "lookup"}]
    platform = SimpleNamespace(retry=RetryPolicy(max_attempts=3), pause=lambda seconds: None,
                               backoff=lambda attempt: 0.0)
    sent = []

    def send(body):
        sent.append(body)
        if len(sent) <= 2:
            raise ServerError("POST /user/tools: the platform failed (500)", status=500)
        return {"id": 8}

    gate, made = WriteGate(), set()
    lookup = SharedLookup(lambda: listed, gate, platform)
    creates = [_Create(Change(address=f"tool.{address}", action=Action.CREATE, assistant_name="lookup", kind="tool"),
                       {"name": "lookup"}, send, made.__contains__, lookup, gate, "tool", made=made)
               for address in ("a", "b")]
    assert [create.send() for create in creates] == [None, None]
    assert creates[0].look() == (7, "adopted: the create had succeeded though its answer was lost")
    assert creates[1].look() == (8, "") and len(sent) == 3  # sent again, as nothing of its own was listed


class _WalksCounted(dict):
    """State's rows, counting the walks through all of them."""

    walks = 0

    def items(self):
        _WalksCounted.walks += 1
        return super().items()

    def values(self):
        _WalksCounted.walks += 1
        return super().values()


def _row(remote_id: int, kind: str) -> ResourceState:
    return ResourceState(id=remote_id, spec={}, kind=kind)


def test_a_replacements_look_for_its_deposed_row_and_a_kinds_ids_do_not_walk_every_row_of_state(tmp_path):
    """Each look walked all of state's rows, under the recorder's lock: 1,000 replacements in a state of 30,000 rows
    made 30 million looks. The recorder keeps an index of what they look for, built once."""
    state = State.new()
    state.resources = _WalksCounted({f"folder.f{i}": _row(1000 + i, "folder") for i in range(5000)})
    recorder = StateRecorder(open_store("sqlite", tmp_path / "s.db"), state)
    _WalksCounted.walks = 0
    for i in range(200):
        address = f"tool.t{i}"
        recorder.queue(address, i + 1, {"spec": {}, "kind": "tool"})
        recorder.queue_moves({address: None, deposed_address(address, state.resources): state.resources[address]})
        assert recorder.deposed_holding(address, i + 1) == f"{address}~deposed"
        assert recorder.ids_of("tool") == set(range(1, i + 2))
    assert _WalksCounted.walks <= 1


ADDRESSES = ["tool.a", "tool.b", "folder.a"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "forget", "depose", "restore"]), st.sampled_from(ADDRESSES),
                          st.integers(0, 3)), max_size=25),
       st.booleans())
def test_the_recorders_looks_answer_what_a_walk_of_every_row_answers(operations, rows_first):
    """Whatever rows were added, forgotten, deposed or put back (through the recorder, as an apply changes them), its
    looks (by its index) answer what a walk of every row answers (state.deposed_holding, the ids of a kind)."""
    state = State.new()
    ids = itertools.count(1)
    if rows_first:
        state.resources.update({"tool.a": _row(next(ids), "tool"), "tool.a~deposed": _row(next(ids), "tool")})
    recorder = StateRecorder(None, state)
    for operation, address, which in operations:
        resources = state.resources
        kind = address.split(".")[0]
        held = [row for row in resources if row.split(DEPOSED)[0] == address and DEPOSED in row]
        if operation == "put":
            recorder.queue(address, next(ids), {"spec": {}, "kind": kind})
        elif operation == "forget":
            recorder.queue_forget(held[which % len(held)] if held and which else address)
        elif operation == "depose" and address in resources:
            recorder.queue_moves({address: None, deposed_address(address, resources): resources[address]})
        elif operation == "restore" and held and address not in resources:
            recorder.queue_moves({held[which % len(held)]: None, address: resources[held[which % len(held)]]})
        for base in ADDRESSES:
            for remote_id in {entry.id for entry in resources.values()}:
                assert recorder.deposed_holding(base, remote_id) == deposed_holding(base, remote_id, resources)
        for kind in ("tool", "folder", "assistant"):
            assert recorder.ids_of(kind) == {entry.id for entry in resources.values() if entry.kind == kind}
