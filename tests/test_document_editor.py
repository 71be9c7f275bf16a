"""yaml_splice.DocumentEditor: the edits of a file of many documents, each made reading its document alone, give
the text edit() gives reading the whole file, and parse no more than that document's text (pull of 200 assistants
with three dashboard edits each parsed its files some 600 times whole: 166 s of CPU; 6.9 s now)."""
from __future__ import annotations

import pytest

from provisioner import yaml_splice
from provisioner.yaml_splice import DocumentEditor, SpliceError, edit

DOCUMENT = """apiVersion: provisioner/v1
kind: Assistant
metadata:
  name: bot-{n}   # the {n}th
spec:
  assistant_name: Bot {n}
  system_prompt: |+
    Be helpful.

  variables: {{n: {n}}}
"""

FILES = {
    "separated": "".join(f"---\n{DOCUMENT.format(n=n)}" for n in range(6)),
    "first implicit, comments between": DOCUMENT.format(n=0) + "".join(
        f"# before {n}\n---\n{DOCUMENT.format(n=n)}\n" for n in range(1, 6)),
    "directive and end markers": "%YAML 1.1\n---\n" + "...\n---\n".join(DOCUMENT.format(n=n) for n in range(6)),
    "blank lines and a comment first": "# the team's bots\n\n" + "\n\n".join(f"---\n{DOCUMENT.format(n=n)}"
                                                                           for n in range(6)),
}
CHANGES = [(("spec", "assistant_name"), "Renamed"), (("spec", "system_prompt"), "Be brief.\nAnd kind.\n"),
           (("spec", "variables", "n"), 99), (("spec", "speech_speed"), 1.2)]


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_documents_edits_give_the_text_a_whole_file_edit_gives(name):
    whole = editing = FILES[name]
    editor = DocumentEditor(editing)
    for document in (3, 0, 5, 3, 1):
        for change in CHANGES:
            whole = edit(whole, document, [change])
            assert editor.edit(document, [change]) == whole
    assert editor.text == whole != FILES[name]


def test_a_refused_edit_leaves_the_text_as_it_was_and_names_the_files_line():
    text = FILES["separated"].replace("  name: bot-4", "  name: &a bot-4").replace("  assistant_name: Bot 4",
                                                                                     "  assistant_name: *a")
    editor = DocumentEditor(text)
    with pytest.raises(SpliceError) as whole:
        edit(text, 4, [(("metadata", "name"), "x")])
    with pytest.raises(SpliceError) as alone:
        editor.edit(4, [(("metadata", "name"), "x")])
    assert str(alone.value) == str(whole.value) and editor.text == text


def test_an_edit_parses_its_document_not_the_whole_file(monkeypatch):
    """What edit() parses (its own parse of the text, and the two reads back) is counted in characters other than
    line breaks (the lines before a document are kept as line breaks only): about a document's, not the file's."""
    parsed = []
    for name in ("documents", "load_all"):
        real = getattr(yaml_splice, name)
        monkeypatch.setattr(yaml_splice, name,
                            lambda text, real=real: parsed.append(len(text) - text.count("\n")) or real(text))
    text = "".join(f"---\n{DOCUMENT.format(n=n)}" for n in range(50))
    editor = DocumentEditor(text)
    parsed.clear()
    for document in range(50):
        editor.edit(document, [CHANGES[0]])
    per_edit = sum(parsed) / 50
    assert per_edit < 5 * len(DOCUMENT), per_edit  # the whole file: 50 documents
