"""The selection logic (provisioner/selection.py): kubectl-style label selectors, globs, excludes. Pure."""
import pytest
from hypothesis import given, settings, strategies as st

from provisioner.errors import ProvisionerError
from provisioner.selection import Requirement, SelectorError, matches, parse_selector, select

keys = st.from_regex(r"[a-z][a-z0-9_.-]{0,10}[a-z0-9]", fullmatch=True)
values = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,8}[A-Za-z0-9])?", fullmatch=True)
requirements = st.one_of(
    st.builds(lambda k, v: Requirement(k, "=", (v,)), keys, values),
    st.builds(lambda k, v: Requirement(k, "!=", (v,)), keys, values),
    st.builds(lambda k: Requirement(k, "exists"), keys),
    st.builds(lambda k: Requirement(k, "!"), keys),
    st.builds(lambda k, vs: Requirement(k, "in", tuple(vs)), keys, st.lists(values, min_size=1, max_size=3)),
    st.builds(lambda k, vs: Requirement(k, "notin", tuple(vs)), keys, st.lists(values, min_size=1, max_size=3)),
)
label_sets = st.dictionaries(keys, values, max_size=4)


@given(st.lists(requirements, min_size=1, max_size=4), st.sampled_from([",", ", ", " ,"]))
def test_a_written_selector_parses_back_to_its_requirements(parts, separator):
    text = separator.join(str(r) for r in parts)
    assert parse_selector(text) == tuple(parts)


@given(st.lists(requirements, min_size=1, max_size=4), label_sets)
def test_a_selector_matches_when_every_requirement_does(parts, labels):
    assert matches(parts, labels) == all(r.matches(labels) for r in parts)


@given(keys, values, label_sets)
def test_negations_are_complements(key, value, labels):
    assert Requirement(key, "=", (value,)).matches(labels) != Requirement(key, "!=", (value,)).matches(labels)
    assert Requirement(key, "exists").matches(labels) != Requirement(key, "!").matches(labels)
    assert Requirement(key, "in", (value,)).matches(labels) != Requirement(key, "notin", (value,)).matches(labels)


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_with_a_selector_error(text):
    try:
        parsed = parse_selector(text)
    except SelectorError as error:
        assert "selector" in str(error)
    else:
        assert parsed and all(isinstance(r, Requirement) for r in parsed)


@pytest.mark.parametrize("text, labels, expected", [
    ("team=sales,tier!=gold", {"team": "sales", "tier": "basic"}, True),
    ("team=sales,tier!=gold", {"team": "sales", "tier": "gold"}, False),
    ("team==sales", {"team": "sales"}, True),
    ("tier!=gold", {}, True),  # as kubectl: an object without the label is not gold
    ("team", {"team": ""}, True),
    ("!team", {"team": "x"}, False),
    ("env in (prod, staging)", {"env": "staging"}, True),
    ("env notin (prod,staging)", {}, True),
    ("example.com/team=sales", {"example.com/team": "sales"}, True),
])
def test_kubectl_examples(text, labels, expected):
    assert matches(parse_selector(text), labels) is expected


@pytest.mark.parametrize("text", ["", "team=", "=sales", "team in ()", "team in (a", "a,,b", "a,", "team=sa les",
                                  "-bad=1", "a b"])
def test_malformed_selectors_are_refused(text):
    if text == "team=":  # an empty value is a value (kubectl: team= selects team="")
        assert parse_selector(text) == (Requirement("team", "=", ("",)),)
        return
    with pytest.raises(SelectorError):
        parse_selector(text)


def test_an_assistant_is_selected_and_excluded_by_either_form_of_its_address():
    """`--exclude assistant.x` was kept as written: named as excluded, while the plan (and destroy) changed `x`
    all the same; and `assistant.*` matched no assistant (their addresses are bare names)."""
    labels = {"folder.sales": {}, "sales-a": {}, "ops": {}, "knowledgebase.assistant.doc": {}}
    assert select(labels, excludes=["assistant.ops"]).excluded == {"ops"}
    assert select(labels, targets=["assistant.sales-a"]).targets == ["sales-a"]
    assert select(labels, targets=["assistant.*"]).targets == ["ops", "sales-a"]
    assert select(labels, excludes=["assistant.s*"]).excluded == {"sales-a"}
    assert select(labels, targets=["knowledgebase.assistant.doc"]).targets == ["knowledgebase.assistant.doc"]


def test_select_combines_targets_selector_and_excludes():
    labels = {"folder.sales": {"team": "sales"}, "sales-a": {"team": "sales"}, "sales-b": {"team": "sales"},
              "ops": {"team": "ops"}, "old": {}}
    assert select(labels).targets is None
    assert select(labels, targets=["sales-*"]).targets == ["sales-a", "sales-b"]
    assert select(labels, selector="team=sales", targets=["sales-*"]).targets == ["sales-a", "sales-b"]
    chosen = select(labels, selector="team=sales", excludes=["sales-b"])
    assert chosen.targets == ["folder.sales", "sales-a"] and chosen.excluded == {"sales-b"}
    assert select(labels, excludes=["*"]).targets is None and select(labels, excludes=["*"]).excluded == set(labels)
    assert select(labels, selector="team=nobody").nothing
    assert select(labels, targets=["ops"], excludes=["ops"]).nothing
    with pytest.raises(ProvisionerError, match="--target 'x-\\*' matches no address"):
        select(labels, targets=["x-*"])
