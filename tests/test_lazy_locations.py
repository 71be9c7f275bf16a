"""Locations found when first read: a change's field_locations (plan.FieldLocations) and a document's own place
(block_yaml.Locations[()]) must read exactly as the eager values they stand for, and cost nothing until read."""
import json
from dataclasses import asdict

from hypothesis import given, strategies as st

from provisioner.plan import Action, Change, FieldLocations, Plan

_NAMES = st.lists(st.text("abcdefgh_", min_size=1, max_size=8), unique=True, max_size=6)


def _where(name: str) -> str:
    return f"manifests/a.yaml:{len(name) + 3}"


@given(_NAMES)
def test_field_locations_read_as_the_dict_they_stand_for(names):
    eager = {name: _where(name) for name in names}
    assert FieldLocations.of(_where, names) == eager
    assert dict(FieldLocations.of(_where, names)) == eager
    assert list(FieldLocations.of(_where, names).items()) == list(eager.items())
    assert bool(FieldLocations.of(_where, names)) == bool(eager)
    assert repr(FieldLocations.of(_where, names)) == repr(eager)
    for name in names:
        assert name in FieldLocations.of(_where, names)
        assert FieldLocations.of(_where, names)[name] == eager[name]
        assert FieldLocations.of(_where, names).get(name) == eager[name]
    assert FieldLocations.of(_where, names).get("zz-not-a-field") is None


@given(_NAMES)
def test_a_plan_with_field_locations_found_late_is_the_plan_with_them_found_early(names):
    def plan(locations):
        change = Change("a", Action.CREATE, "A", body={n: 1 for n in names}, field_locations=locations)
        return Plan([change], lineage="l", serial=1)

    late = plan(FieldLocations.of(_where, names)).to_dict()
    early = plan({name: _where(name) for name in names}).to_dict()
    late.pop("created_at"), early.pop("created_at")
    assert json.dumps(late, sort_keys=True) == json.dumps(early, sort_keys=True)
    assert asdict(plan(FieldLocations.of(_where, names)).changes[0])["field_locations"] == {
        name: _where(name) for name in names}


def test_field_locations_are_found_only_when_read():
    asked = []

    def where(name):
        asked.append(name)
        return _where(name)

    locations = FieldLocations.of(where, ["a", "b"])
    change = Change("x", Action.CREATE, "X", field_locations=locations)
    assert asked == [] and change.address == "x"
    assert locations.get("b") == _where("b") and asked == ["a", "b"]
    assert locations["a"] == _where("a") and asked == ["a", "b"]  # found once


def test_a_documents_own_place_is_known_without_reading_it_again(tmp_path):
    from provisioner.manifest import DEFAULT_LIMITS, load_documents

    path = tmp_path / "two.yaml"
    path.write_text("apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: a\nspec:\n  name: A\n---\n"
                    "apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: b\nspec:\n  name: B\n")
    documents, problems = load_documents([path], DEFAULT_LIMITS)
    assert not problems and len(documents) == 2
    for document in documents:
        early = document.locate(())  # before anything else was located
        assert document.locate(("spec", "name")).line == early.line + 5
        assert document.locate(()) == early == document.locations[()]
        assert early.line == (1 if document.content["metadata"]["name"] == "a" else 8)
