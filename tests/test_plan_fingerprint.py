"""A change's remote fingerprint is digested only when a plan is saved or shown (Change.fingerprint), and then is
the digest of the item planned against, as when it was computed at planning."""
import json

from hypothesis import given, settings, strategies as st

from provisioner.plan import Action, Change, Plan
from provisioner.redaction import digest

json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3),
                           max_leaves=12)


def update(item):
    return Change(address="a", action=Action.UPDATE, assistant_name="A", remote_id=7, body={"language": "English"},
                  remote_item=item)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_the_saved_fingerprint_is_the_digest_of_the_item_planned_against(item):
    change = update(item)
    assert change.remote_fingerprint is None  # nothing digested while planning
    data = Plan([change], lineage="l", serial=1).to_dict()
    saved = data["changes"][0]
    assert saved["remote_fingerprint"] == digest(item)
    assert "remote_item" not in saved
    loaded = Plan.from_dict(json.loads(json.dumps(data)))
    assert loaded.changes[0].fingerprint() == digest(item)
    assert loaded.changes[0].remote_item is None


def test_the_item_never_reaches_a_plan_file_or_a_repr():
    change = update({"id": 7, "webhook_url": "https://hooks.example.com/secret-path"})
    assert "secret-path" not in repr(change)
    assert "secret-path" not in json.dumps(Plan([change], lineage="l", serial=1).to_dict())


def test_a_change_without_an_item_keeps_what_it_was_given():
    assert update(None).fingerprint() is None
    given_one = Change(address="a", action=Action.DELETE, assistant_name="A", remote_id=7,
                       remote_fingerprint="sha256:" + "0" * 64)
    assert given_one.fingerprint() == "sha256:" + "0" * 64
