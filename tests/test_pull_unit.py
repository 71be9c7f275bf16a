"""pull.py's pure decisions: selection, and values back in the manifest's words."""
from __future__ import annotations

from types import SimpleNamespace

from provisioner.pull import _manifest_value, _references, selection_selector, targets_selector
from provisioner.selection import Selection


def test_target_selects_the_address_its_assistant_prefix_and_a_parents_children():
    selected = targets_selector(["assistant.support", "knowledgebase.faq"])
    assert selected("support", {}) and selected("knowledgebase.faq", {}) and selected("knowledgebase.faq.pricing", {})
    assert not selected("sales", {}) and not selected("knowledgebase.faqs", {})
    assert targets_selector([])("anything", {})


def test_a_selection_excludes_an_address_and_its_children_and_nothing_selects_nothing():
    selected = selection_selector(Selection(targets=None, excluded={"knowledgebase.faq", "sales"}))
    assert selected("support", {}) and not selected("sales", {}) and not selected("knowledgebase.faq.pricing", {})
    narrowed = selection_selector(Selection(targets=["support", "sales"], excluded={"sales"}))
    assert narrowed("support", {}) and not narrowed("sales", {}) and not narrowed("other", {})
    assert not selection_selector(Selection(nothing=True))("support", {})


def manifest(kind="assistant"):
    return SimpleNamespace(kind=kind)


def test_an_id_of_a_managed_object_comes_back_as_its_address():
    addresses = {("knowledgebase", 7): "knowledgebase.returns", ("siptrunk", 45): "siptrunk.office",
                 ("assistant", 3): "caller"}
    assert _manifest_value(manifest(), "knowledgebase_id", 7, "knowledgebase.faq", addresses, {}) == \
        "knowledgebase.returns"
    assert _manifest_value(manifest(), "phone_number_id", 45, 12, addresses, {}) == "siptrunk.office"
    assert _manifest_value(manifest("campaign"), "assistant_id", 3, "assistant.x", addresses, {}) == \
        "assistant.caller"
    assert _manifest_value(manifest(), "knowledgebase_id", 8, "knowledgebase.faq", addresses, {}) == 8  # unmanaged
    assert _manifest_value(manifest(), "knowledgebase_id", None, "knowledgebase.faq", addresses, {}) is None


def test_a_reference_written_as_a_number_or_a_name_keeps_its_form():
    number = SimpleNamespace(id=46, name="Main", fields={"phone_number": "+14155550100"})
    kb = SimpleNamespace(id=9, name="Legacy FAQ", fields={})
    objects = {"number": [number], "knowledgebase": [kb]}
    assert _manifest_value(manifest(), "phone_number_id", 46, "+14155559999", {}, objects) == "+14155550100"
    assert _manifest_value(manifest(), "knowledgebase_id", 9, {"name": "Old"}, {}, objects) == {"name": "Legacy FAQ"}


def test_variables_are_found_anywhere_in_a_value():
    found = _references({"a": ["x ${var.company} y", "${env.KEY}"], "b": "$${var.literal}"})
    assert [str(r) for r in found] == ["${var.company}", "${env.KEY}"]


def test_a_text_holding_a_variable_sign_is_written_escaped():
    assert _manifest_value(manifest(), "system_prompt", "Say ${price} now", "Say it", {}, {}) == "Say $${price} now"


def test_several_files_are_replaced_all_or_none(tmp_path):
    """A failure while the new texts are written (here: the second file's folder is gone, as a full disk would
    fail it) leaves every file as it was."""
    import pytest

    from provisioner.state.local import atomic_write_all

    first, second = tmp_path / "a.yaml", tmp_path / "gone" / "b.yaml"
    first.write_text("old\n")
    with pytest.raises(OSError):
        atomic_write_all([(first, b"new\n"), (second, b"new\n")])
    assert first.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]
    atomic_write_all([(first, b"new\n")])
    assert first.read_text() == "new\n"


def test_a_private_files_new_text_is_never_readable_by_others_even_before_it_is_moved(tmp_path, monkeypatch):
    """The temporary beside the file was made with the default mode (0644 under the usual umask) and only then given
    the file's: for a moment, a 0600 manifest's new text was readable by every user of the machine."""
    import os
    import stat

    from provisioner.state import local

    private = tmp_path / "secret.yaml"
    private.write_text("old\n")
    private.chmod(0o600)
    seen = []
    real_fsync = os.fsync

    def fsync(descriptor):  # the text is written: what mode does its file have now?
        seen.append(stat.S_IMODE(os.fstat(descriptor).st_mode))
        real_fsync(descriptor)
    monkeypatch.setattr(local.os, "fsync", fsync)
    local.atomic_write_all([(private, b"new\n")])
    assert seen[0] == 0o600 and stat.S_IMODE(private.stat().st_mode) == 0o600 and private.read_text() == "new\n"
