"""A file document's fingerprint is computed once per (path, size, mtime_ns) in a run: one plan reads and hashes
each file once (it expands the knowledge base's documents three times), and a changed file is hashed again."""
from __future__ import annotations

import os
import time

from provisioner.kinds import document
from test_graph_guards_e2e import knowledge_base

KB = knowledge_base("help", "Help", "{name: Hours, key: hours, type: txt, file: hours.txt}")


def counting(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = document.hash_file

    def hash_file(kind, path):
        calls.append(os.fspath(path))
        return real(kind, path)

    monkeypatch.setattr(document, "hash_file", hash_file)
    monkeypatch.setattr(document, "_FINGERPRINTS", {})
    return calls


def aged(path, seconds: float = 60.0) -> None:
    """Its mtime well in the past: outside the racy window, as a file of a checkout is."""
    past = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(past, past))


def test_one_plan_hashes_a_document_file_once(workspace, platform, monkeypatch):
    calls = counting(monkeypatch)
    aged(workspace.write("manifests/hours.txt", "Open 9 to 5.\n"))
    workspace.write("manifests/kb.yaml", KB)
    plan = workspace.run("plan", "--api-dialect", "v2")
    assert plan.exit_code == 0 and "knowledgebase.help.hours" in plan.output, plan.all
    assert len(calls) == 1, calls


def test_a_changed_file_is_hashed_again_and_replaces_the_document(workspace, platform, monkeypatch):
    calls = counting(monkeypatch)
    hours = workspace.write("manifests/hours.txt", "Open 9 to 5.\n")
    aged(hours, 120)
    workspace.write("manifests/kb.yaml", KB)
    assert workspace.run("apply", "--auto-approve", "--api-dialect", "v2").exit_code == 0
    assert len(calls) == 1, calls
    hours.write_text("Open 9 to 6.\n")  # same size; a new mtime
    aged(hours, 60)
    plan = workspace.run("plan", "--api-dialect", "v2")
    assert "knowledgebase.help.hours" in plan.output and "-/+" in plan.output, plan.all
    assert len(calls) == 2, calls


def test_a_file_written_just_now_is_not_kept(tmp_path, monkeypatch):
    calls = counting(monkeypatch)
    path = tmp_path / "fresh.txt"
    path.write_text("new")  # its mtime is now: it could change again within the timestamp's granularity
    first = document.file_fingerprint("txt", path)
    assert document.file_fingerprint("txt", path) == first and len(calls) == 2
    aged(path)
    document.file_fingerprint("txt", path)
    document.file_fingerprint("txt", path)
    assert len(calls) == 3
    path.write_text("newer")  # another size
    aged(path)
    assert document.file_fingerprint("txt", path) != first and len(calls) == 4
