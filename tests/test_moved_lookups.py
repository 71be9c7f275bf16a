"""A narrow run of a project with moved blocks looks for the blocks' old names in the project's other files, to
parse only the files that may hold one: each file is now looked through once for all the names (workflow/manifests.py
Words), not once per name (words x files x bytes: 116 s of CPU for a plan of one file among 150 whose moved blocks
named 7,583 old addresses). What it finds is what searching for each word finds."""
from hypothesis import given, settings, strategies as st

from provisioner.workflow.manifests import Words

TEXT = st.binary(max_size=60) | st.text("ab-1 \n.", max_size=60).map(str.encode)
WORD = st.binary(max_size=4) | st.text("ab-1.", max_size=5).map(str.encode)


@settings(max_examples=600, deadline=None)
@given(st.lists(WORD, max_size=6), TEXT)
def test_the_words_found_are_those_searching_for_each_finds(words, data):
    assert Words(words).any_in(data) == any(word in data for word in words)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("ab-1", min_size=1, max_size=4).map(str.encode), min_size=1, max_size=6),
       st.lists(st.text("ab-1 \n", max_size=30).map(str.encode), max_size=8))
def test_many_words_of_few_lengths_are_found_as_each_search_finds_them(words, texts):
    words = words + [b"zz%dq" % i for i in range(300)]  # many: each text is looked at by its runs
    found = Words(words)
    for data in texts:
        assert found.any_in(data) == any(word in data for word in words)


class Counted(frozenset):
    looked_up = 0

    def __contains__(self, item):
        Counted.looked_up += 1
        return super().__contains__(item)


def test_the_work_on_a_text_does_not_grow_with_the_number_of_words():
    """7,500 old names, none in a file of 50 manifests: at most a look-up per byte of the file's runs of name
    letters and length of a name, not a search of the file per name."""
    data = "".join(f"apiVersion: provisioner/v1\nkind: Assistant\nmetadata:\n  name: bench-{i}-{n}-{i * n}\n"
                   f"spec:\n  assistant_name: Bench {i}\n  system_prompt: Answer about order {i}-{n}.\n"
                   for i in range(50) for n in range(3)).encode()
    words = Words(b"bench-%d" % i for i in range(10_000, 17_500))
    words.words = Counted(words.words)
    assert not words.any_in(data)
    assert 0 < Counted.looked_up <= len(data) // 10
    assert Words([b"bench-49-2"]).any_in(data) and Words([b"ench-9", b"order"]).any_in(data)
