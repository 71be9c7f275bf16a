"""Hypothesis strategies for plans as the text view sees them: every action, replacements, kinds known and not,
references, the values JSON cannot tell apart (True and 1, 1 and 1.0), the texts that look like what the renderer
writes itself (markers, escape sequences, format signs). For comparing a fast view with the slow one it skips."""
from hypothesis import strategies as st

from provisioner.plan import Action, Change, FieldChange, Plan, StateSync


class Text(str):
    """A str subclass: JSON writes it as a str, the view's own caches key by exact type."""


TRICKY_TEXTS = ["", "a", "1", "true", "null", "(sensitive)", "(known after apply)", "\x00known-after-apply\x00",
                '{"$ref": "x"}', '{"$ref": ', "\x1b[31mred\x1b[0m", "%s %%", "{}", "line 1\nline 2", "é ünï 字",
                "\\", '"', "\u2028"]
texts = st.one_of(st.sampled_from(TRICKY_TEXTS), st.text(max_size=8))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.integers(),
                    st.sampled_from([0.0, -0.0, 1.0, 0.5]), st.floats(allow_nan=True, allow_infinity=True), texts,
                    texts.map(Text))
markers = st.builds(lambda address: {"$ref": address}, st.sampled_from(["tool.a", "folder.f", "x", ""]) | texts)
near_markers = st.one_of(st.builds(lambda v: {"$ref": v}, st.integers() | st.none()),
                         st.builds(lambda a, v: {"$ref": a, "b": v}, texts, scalars),
                         st.builds(lambda a: {"!": 1, "$ref": a}, texts))
leaves = st.one_of(scalars, markers, near_markers)
keys = st.one_of(st.sampled_from(["a", "b", "$ref", "!", " ", "n"]), texts)
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(markers, min_size=1, max_size=17),
    st.dictionaries(keys, inner, max_size=4), st.dictionaries(st.integers(-2, 2), inner, max_size=2),
    st.lists(inner, max_size=3).map(tuple)), max_leaves=8)
FIELD_NAMES = ["assistant_name", "voice_id", "tool_ids", "variables", "system_prompt", "name", "a",
               "a_much_longer_name", "100%", "{x}"]


def field_changes(draw, action):
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, max_size=6))
    found = []
    for name in names:
        before, after = draw(values | texts), draw(values | texts)
        found.append(FieldChange(name, before, after, source=draw(st.sampled_from(["platform", "last-applied"])),
                                 before_known=draw(st.booleans()), reset=draw(st.booleans()),
                                 drift=draw(st.booleans()), sensitive=draw(st.booleans()),
                                 details=draw(st.lists(st.tuples(texts, values | st.none(), values | st.none())
                                                       .map(list), max_size=2)) if action is Action.UPDATE else []))
    return found


@st.composite
def changes(draw):
    action = draw(st.sampled_from(list(Action)))
    kind = draw(st.sampled_from(["assistant", "assistant", "tool", "document", "siptrunk", "widget"]))
    name = draw(st.sampled_from(["bench-0", "support", "a.b"]) | st.text(min_size=1, max_size=5))
    address = name if kind in ("assistant", "widget") else f"{kind}.{name}"
    return Change(address, action, draw(texts), remote_id=draw(st.none() | st.integers(0, 99)),
                  reason=draw(st.none() | texts), fields=field_changes(draw, action), kind=kind,
                  replace=draw(st.booleans()) if action is Action.CREATE else False,
                  replace_reason=draw(st.none() | texts), moved_from=draw(st.none() | st.just("old.address")))


@st.composite
def plans(draw):
    return Plan(draw(st.lists(changes(), max_size=6)), lineage="l", serial=1,
                state_sync=draw(st.lists(st.builds(StateSync, st.just("a"), st.just({})), max_size=1)),
                destroy=draw(st.booleans()), targets=draw(st.lists(st.just("tool.a"), max_size=1)),
                notes=draw(st.lists(texts, max_size=2)), workspace=draw(st.none() | st.just("default")),
                project=draw(st.none() | st.just("p")),
                left_alone=draw(st.lists(st.just({"address": "x", "source": "x.yaml"}), max_size=1)),
                managed_count=draw(st.integers(0, 10)), allow_mass_destroy=draw(st.booleans()),
                moves=draw(st.lists(st.just({"from": "old", "to": "new", "kind": "assistant", "id": 3}), max_size=1)),
                excluded=draw(st.lists(st.just("b"), max_size=1)), selector=draw(st.none() | st.just("team=x")),
                replace_requested=draw(st.lists(st.just("c"), max_size=1)))
