"""Apply's concurrency helpers, in isolation."""
import threading
import time

from provisioner.apply import SharedLookup, WriteGate, StateRecorder
from provisioner.state import State
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
        recorder.record(f"a{i}", i, {"spec": {}, "protect": False, "sensitive": [], "remote": {}})
        on_disk_when_returned.append(f"a{i}" in backend.read().resources)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = backend.read()
    assert on_disk_when_returned == [True] * 50
    assert len(state.resources) == 50 and 1 <= state.serial <= 50
