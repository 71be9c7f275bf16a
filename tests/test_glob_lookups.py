"""A glob of --target or --exclude is tested only against the addresses that begin with its text before the first
wildcard (found by bisecting the sorted addresses), never against every address: 2,000 globs over 8,000 addresses
were 32 million fnmatch calls (14.5 s of CPU to plan). The addresses each glob names are those of testing all."""
import fnmatch

import pytest
from hypothesis import given, settings, strategies as st

from provisioner import selection
from provisioner.errors import ProvisionerError
from provisioner.selection import ASSISTANT_PREFIX, expand_patterns


def every_match(pattern, addresses):
    """The addresses a glob names, by testing each (as expand_patterns did)."""
    return sorted(a for a in set(addresses) if fnmatch.fnmatchcase(a, pattern)
                  or ("." not in a and fnmatch.fnmatchcase(f"{ASSISTANT_PREFIX}{a}", pattern)))


ADDRESS = st.text("ab.-t[", min_size=1, max_size=6) | st.sampled_from(
    ["assistant.a", "tool.a", "a", "ab", "knowledgebase.a.b", "assistant", "assistan"])
GLOB = st.text("ab.-*?[]", min_size=1, max_size=6).filter(selection.is_glob) | st.sampled_from(
    ["assistant.*", "assistant.a*", "a*", "*", "as*", "tool.*", "assistant.[ab]*", "[a]*", "assistant*"])


@settings(max_examples=500, deadline=None)
@given(st.lists(ADDRESS, max_size=12), GLOB)
def test_a_glob_names_the_addresses_testing_every_one_would(addresses, pattern):
    expected = every_match(pattern, addresses)
    if not expected:
        with pytest.raises(ProvisionerError, match="matches no address"):
            expand_patterns([pattern], addresses, "--target")
    else:
        assert expand_patterns([pattern], addresses, "--target") == expected


def test_thousands_of_globs_do_not_each_test_every_address(monkeypatch):
    calls = 0
    real = fnmatch.fnmatchcase

    def counted(name, pattern):
        nonlocal calls
        calls += 1
        return real(name, pattern)

    monkeypatch.setattr(selection.fnmatch, "fnmatchcase", counted)
    addresses = [f"bench-{i}" for i in range(4_000)]
    globs = [f"bench-{i}*" for i in range(1, 1_000)]
    found = expand_patterns(globs, addresses, "--target")
    assert found == sorted(a for a in addresses if a != "bench-0")
    assert calls < 50_000  # 8 million before: every glob with every address, in both forms
