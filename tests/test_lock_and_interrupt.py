"""Honest locks and interrupts (issue 21): an apply whose lock is force-unlocked stops before its next state write;
force-unlock asks first and warns about a live holder; a run waiting for the lock says for whom and how long;
Ctrl-C on a terminal during a rate-paced apply is acknowledged at once and sends nothing that still waited for
the rate budget. Real processes against the emulator, on SQLite and PostgreSQL; the Ctrl-C through a pty."""
from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time


from conftest import TOKEN
from provisioner.state.sql import open_store
from test_reliability import assert_exactly_once, spawn, wait_for_assistants, write_fleet


def holder_of(workspace, backend):
    store = open_store(backend, workspace.state_file)
    try:
        deadline = time.monotonic() + 20
        while (holder := store.lock_holder()) is None:
            assert time.monotonic() < deadline, "the apply never took the lock"
            time.sleep(0.05)
        return holder
    finally:
        store.close()


def test_an_apply_whose_lock_is_force_unlocked_stops_before_its_next_write(workspace, backend):
    write_fleet(workspace, 30)
    workspace.platform.faults(latency_ms=150)
    process = spawn(workspace, "apply", "--auto-approve", "--parallelism=2")
    try:
        wait_for_assistants(workspace, 3)
        holder = holder_of(workspace, backend)
        unlocked = workspace.run("force-unlock", holder.id, "--force", api=False)
        assert unlocked.exit_code == 0, unlocked.all
        # The holder is this host's running apply: said before unlocking it.
        assert f"pid {process.pid} on this host) is still running" in " ".join(unlocked.stderr.split())
        at_unlock = len(workspace.platform.assistants())
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        workspace.platform.faults(latency_ms=0)
    assert process.returncode == 1, (out, err)
    assert "no longer holds the state lock" in err and "force-unlock" in err
    created = workspace.platform.assistants()
    # It stopped: what it sent after losing the lock is at most what was in flight (one per worker).
    assert len(created) <= at_unlock + 2 < 30
    # Nothing lost: every id in state is on the platform, and the next run finds the rest by name.
    state_ids = {e["id"] for e in workspace.state()["resources"].values()}
    assert state_ids <= {a["id"] for a in created}
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert_exactly_once(workspace, 30)


def test_force_unlock_asks_first(workspace):
    workspace.add("a")
    store = open_store("sqlite", workspace.state_file)
    held = store.lock("apply", 0)
    try:
        declined = workspace.run("force-unlock", held.id, input="no\n", api=False)
        assert declined.exit_code == 1 and "cancelled" in declined.stderr
        assert f"Lock ID:   {held.id}" in declined.output and "Only 'yes' will be accepted" in declined.output
        assert store.lock_holder().id == held.id
        accepted = workspace.run("force-unlock", held.id, input="yes\n", api=False)
        assert accepted.exit_code == 0 and "unlocked" in accepted.output
        assert store.lock_holder() is None
    finally:
        store.close()


def test_a_run_waiting_for_the_lock_says_who_holds_it_and_for_how_long_it_waits(workspace):
    workspace.add("a")
    store = open_store("sqlite", workspace.state_file)
    held = store.lock("apply", 0)
    threading.Timer(0.5, store.unlock, args=(held.id,)).start()
    try:
        result = workspace.run("apply", "--auto-approve", "--lock-timeout=10s")
    finally:
        store.close()
    assert result.exit_code == 0, result.all
    said = " ".join(result.stderr.split())
    assert f"The state is locked by {held.who} (apply since {held.created}" in said
    assert f"lock ID {held.id}); waiting up to 10s for it (--lock-timeout)" in said


# --- Ctrl-C on a terminal ---

def _spawn_on_a_terminal(workspace, *args):
    """The CLI with a pty as its controlling terminal: a ^C typed into it is the terminal's SIGINT."""
    import fcntl
    import pty
    import termios

    controller, terminal = pty.openpty()

    def take_the_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "NO_COLOR": "1", "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "provisioner", *args, f"--api-url={workspace.platform.url}"],
                               cwd=workspace.root, env=env, stdin=terminal, stdout=terminal, stderr=terminal,
                               start_new_session=True, preexec_fn=take_the_terminal)
    os.close(terminal)
    return process, controller


@contextlib.contextmanager
def _on_a_terminal(workspace, *args):
    """A Screen of the CLI run on a terminal; the process is killed if it still runs at the end."""
    process, controller = _spawn_on_a_terminal(workspace, *args)
    try:
        yield Screen(controller, process)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)


class Screen:
    """What the terminal has shown so far."""

    def __init__(self, controller, process):
        self.controller, self.process, self.seen = controller, process, b""

    @property
    def text(self) -> str:
        return self.seen.decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            assert time.monotonic() < deadline, f"{pattern!r} never appeared; the terminal showed:\n{self.text}"
            ready, _, _ = select.select([self.controller], [], [], 0.1)
            if not ready:
                assert self.process.poll() is None or select.select([self.controller], [], [], 0)[0], \
                    f"{pattern!r} never appeared; the terminal showed:\n{self.text}"
                continue
            try:
                chunk = os.read(self.controller, 65536)
            except OSError:  # the process closed the terminal
                chunk = b""
            assert chunk, f"{pattern!r} never appeared; the terminal showed:\n{self.text}"
            self.seen += chunk
        return self.text


def test_ctrl_c_during_a_paced_apply_is_acknowledged_and_sends_nothing_that_waited_for_the_budget(workspace):
    write_fleet(workspace, 20)
    with _on_a_terminal(workspace, "apply", "--auto-approve", "--parallelism=6", "--rate-limit=1/0.4s") as screen:
        shown = screen.wait_for(r"(Creation complete.*\n.*){3}")
        # The pace shows as waiting for the budget, not as the platform's time.
        assert re.search(r"Creation complete after \d+\.\ds \(waited \d+\.\ds for the rate budget\)", shown), shown
        os.write(screen.controller, b"\x03")  # Ctrl-C, typed
        sent_at_interrupt = len(workspace.platform.assistants())
        screen.wait_for(r"Interrupt received: sending nothing new", timeout=5)
        shown = screen.wait_for(r"Apply interrupted\.")
        screen.process.wait(timeout=30)
    assert screen.process.returncode == 1
    created = workspace.platform.assistants()
    # Six workers were waiting for the budget; what was not on the wire yet was never sent.
    assert len(created) <= sent_at_interrupt + 1, shown
    said = " ".join(shown.split())
    assert re.search(r"Interrupted: changes in flight were finished; \d+ done and recorded, \d+ not started "
                     r"\(nothing was sent for them\): ", said), shown
    assert sorted(e["id"] for e in workspace.state()["resources"].values()) == sorted(a["id"] for a in created)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert_exactly_once(workspace, 20)


def test_a_second_ctrl_c_says_what_is_left_and_the_requests_on_the_wire_are_still_recorded(workspace):
    write_fleet(workspace, 6)
    workspace.platform.faults(latency_ms=1500, methods=["POST"])
    with _on_a_terminal(workspace, "apply", "--auto-approve", "--parallelism=3") as screen:
        screen.wait_for(r"Creating\.\.\.|Plan:")
        time.sleep(0.5)  # three creates are on the wire
        os.write(screen.controller, b"\x03")
        screen.wait_for(r"Interrupt received: sending nothing new", timeout=5)
        os.write(screen.controller, b"\x03")
        screen.wait_for(r"Still finishing the requests on the wire, so that each is recorded \(at most 30s", timeout=5)
        shown = screen.wait_for(r"Apply interrupted\.")
        screen.process.wait(timeout=30)
    assert screen.process.returncode == 1, shown
    created = workspace.platform.assistants()
    assert created, shown  # the requests on the wire were not abandoned...
    # ...and each one's outcome is in state.
    assert sorted(e["id"] for e in workspace.state()["resources"].values()) == sorted(a["id"] for a in created)
    workspace.platform.faults(latency_ms=0, methods=None)
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert_exactly_once(workspace, 6)


# --- Ctrl-C and a closed stdin outside an apply's changes (README: exit codes) ---

def test_ctrl_c_during_a_plan_exits_130_and_says_interrupted(workspace):
    """click turns a KeyboardInterrupt into its Abort: the run said "Aborted." and exited 1, not the documented 130."""
    write_fleet(workspace, 3)
    workspace.platform.faults(latency_ms=1500)
    try:
        process = spawn(workspace, "plan", "--json")
        time.sleep(1.5)  # reading the platform
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        workspace.platform.faults(latency_ms=0)
    assert process.returncode == 130, (out, err)
    assert "Interrupted." in err and "Aborted" not in err and out == ""


def test_an_apply_with_stdin_closed_or_ctrl_c_at_the_question_is_refused_and_changes_nothing(workspace):
    write_fleet(workspace, 2)
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}
    closed = subprocess.run([sys.executable, "-m", "provisioner", "apply", f"--api-url={workspace.platform.url}"],
                            cwd=workspace.root, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60, preexec_fn=lambda: os.close(0))  # `provisioner apply <&-`
    assert closed.returncode == 1, closed.stderr
    assert "Apply cancelled. Nothing was changed." in closed.stderr and "bug" not in closed.stderr
    with _on_a_terminal(workspace, "apply") as screen:
        screen.wait_for(r"Enter a value:")
        os.write(screen.controller, b"\x03")
        shown = screen.wait_for(r"Apply cancelled\. Nothing was changed\.")
        screen.process.wait(timeout=30)
    assert screen.process.returncode == 1, shown
    assert workspace.platform.assistants() == []


def test_what_an_interrupted_run_says_on_a_terminal_is_plain_under_no_color(workspace):
    """"Interrupted." (and the other messages said after the command's context is gone) ignored NO_COLOR and
    --no-color on a terminal: it came red."""
    write_fleet(workspace, 3)
    workspace.platform.faults(latency_ms=1500)
    try:
        with _on_a_terminal(workspace, "plan") as screen:  # NO_COLOR=1
            time.sleep(1.5)  # reading the platform
            os.write(screen.controller, b"\x03")
            shown = screen.wait_for(r"Interrupted\.")
            screen.process.wait(timeout=30)
    finally:
        workspace.platform.faults(latency_ms=0)
    assert screen.process.returncode == 130, shown
    assert "\x1b[" not in shown, repr(shown)


def test_a_lock_lost_while_the_workers_wait_for_the_rate_budget_stops_the_run_before_they_send(workspace):
    """Nothing commits while every worker waits for the rate budget, so a force-unlock then was found only after
    the budget's window reopened and they had all sent: creates no state recorded, racing the run that took the
    lock. The apply looks at its lock between commits, and sends nothing that still waited for the budget."""
    write_fleet(workspace, 40)
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN}
    env.pop("PROVISIONER_RATE_LIMIT", None)  # the documented pace: 20 requests per 10 s
    process = subprocess.Popen([sys.executable, "-m", "provisioner", "apply", "--auto-approve", "--parallelism=4",
                                f"--api-url={workspace.platform.url}"], cwd=workspace.root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_assistants(workspace, 15)
        settled, seen = time.monotonic(), len(workspace.platform.assistants())
        while time.monotonic() - settled < 1.0:  # the budget is spent: every worker waits for it
            time.sleep(0.1)
            if len(workspace.platform.assistants()) != seen:
                settled, seen = time.monotonic(), len(workspace.platform.assistants())
        holder = holder_of(workspace, "sqlite")
        assert workspace.run("force-unlock", holder.id, "--force", api=False).exit_code == 0
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, (out, err)
    assert "no longer holds the state lock" in err and "Apply failed." in out, (out, err)
    assert len(workspace.platform.assistants()) == seen  # nothing sent after the lock was lost
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert_exactly_once(workspace, 40)
