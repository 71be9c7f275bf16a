"""One list unwrapper for every kind (kinds/answers.items_of): each kind's accepted shapes, and every other
answer an error, never an empty account."""
from __future__ import annotations

import pytest

from provisioner.errors import ApiError
from provisioner.kinds.answers import items_of

ITEM = {"id": 3, "name": "x"}
CAMPAIGNS = dict(keys=("campaigns", "data"), named=True, noun="campaign")
DOCUMENTS = dict(bare=False, named=True, noun="document")


@pytest.mark.parametrize("answer, options", [
    ([ITEM], {}), ({"data": [ITEM]}, {}),
    ([ITEM], CAMPAIGNS), ({"campaigns": [ITEM]}, CAMPAIGNS), ({"data": [ITEM]}, CAMPAIGNS),
    ({"data": [ITEM]}, DOCUMENTS),
])
def test_each_kinds_shapes_are_accepted(answer, options):
    assert items_of(answer, "GET /x", **options) == [ITEM]


@pytest.mark.parametrize("answer, options, expected", [
    ({"items": []}, {}, r"expected a list of items \(\[...\] or \{\"data\": \[...\]\}\)"),
    ({"campaigns": [ITEM], "data": [ITEM]}, CAMPAIGNS, "expected a list of campaigns"),
    ([ITEM], DOCUMENTS, r"expected a list of documents \(\{\"data\": \[...\]\}\)"),
    ([{"name": "x"}], {}, "an item without an integer id"),
    ({"data": [{"id": 3}]}, DOCUMENTS, "a document without an integer id and a name"),
    ([{"id": True, "name": "x"}], CAMPAIGNS, "without an integer id"),
    ([ITEM, ITEM], {}, "item 3 is listed twice"),
])
def test_any_other_answer_is_an_error(answer, options, expected):
    with pytest.raises(ApiError, match=expected):
        items_of(answer, "GET /x", **options)


def test_an_error_shows_the_answers_shape_never_its_values():
    with pytest.raises(ApiError) as raised:
        items_of({"token": "hunter2-secret"}, "GET /x")
    assert "hunter2" not in str(raised.value) and "str" in str(raised.value)
