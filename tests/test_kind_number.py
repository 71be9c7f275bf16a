"""Phone numbers (provisioner/kinds/number.py): references resolved through the account's numbers, never a guess,
never a purchase or a release; and the contract additions in kinds/base.py the tool and trunk kinds use."""
from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from conftest import TOKEN
from provisioner.client import PlatformClient
from provisioner.errors import ApiError, NotFoundError
from provisioner.kinds import number, siptrunk
from provisioner.kinds.base import UNKNOWN, FieldFacts, Reference, hide, keyed_changes, matches, parse_reference

NUMBERS = [
    {"id": 45, "phone_number": "+14155550100", "nickname": "Sales", "type": "normal"},
    {"id": 46, "phone_number": "+14155550101", "nickname": None, "type": "caller_id"},
    {"id": 47, "phone_number": "+442071838750", "nickname": "London", "type": "normal"},
    {"id": 48, "phone_number": "+4930123456", "nickname": "Dup", "type": "sip"},
    {"id": 49, "phone_number": "+4930123456", "nickname": "Dup", "type": "normal"},
]


def resolve(value, addresses=None):
    reference = parse_reference(value, "number")
    assert isinstance(reference, Reference), reference
    return number.resolve_number(reference, NUMBERS, addresses)


@pytest.mark.parametrize("value, expected", [
    ("+14155550100", 45), ({"name": "London"}, 47), (46, 46), ("+442071838750", 47)])
def test_a_reference_resolves_to_the_one_matching_number(value, expected):
    assert resolve(value) == expected


@pytest.mark.parametrize("value, words", [
    ("+14155559999", "no phone number +14155559999 in this account (its numbers: +14155550100"),
    ({"name": "Nobody"}, "no phone number nicknamed 'Nobody'"),
    (4242, "phone number id 4242 is not one of this account's numbers"),
    ("+4930123456", "2 numbers match phone number +4930123456 (ids 48 (sip), 49 (normal))"),
    ({"name": "Dup"}, "2 numbers match"),
    ("tool.order-lookup", "tool.order-lookup is not a phone number"),
    ("siptrunk.unknown", "siptrunk.unknown: no SipTrunk manifest has this name"),
])
def test_no_match_or_two_is_a_message_never_a_guess(value, words):
    message = resolve(value, {"siptrunk.office": 12})
    assert isinstance(message, str) and words in message, message


def test_a_trunk_address_is_its_id_or_known_after_apply():
    assert resolve("siptrunk.office", {"siptrunk.office": 12}) == 12
    assert resolve("siptrunk.office", {"siptrunk.office": None}) == {"$ref": "siptrunk.office"}


def test_the_message_lists_a_few_numbers_and_counts_the_rest():
    many = [{"id": i, "phone_number": f"+1415555{i:04d}"} for i in range(1, 9)]
    message = number.resolve_number(Reference("number", number="+19999999999"), many)
    assert "+14155550005" in message and "+14155550006" not in message and "and 3 more" in message
    assert "has no phone numbers" in number.resolve_number(Reference("number", id=3), [])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), unique=True, max_size=12),
       st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_every_listed_number_resolves_to_its_id_and_no_other_does(phones, other):
    numbers = [{"id": i + 1, "phone_number": p} for i, p in enumerate(phones)]
    for item in numbers:
        assert number.resolve_number(Reference("number", number=item["phone_number"]), numbers) == item["id"]
        assert number.resolve_number(Reference("number", id=item["id"]), numbers) == item["id"]
    outcome = number.resolve_number(Reference("number", number=other), numbers)
    assert isinstance(outcome, str) if other not in phones else outcome == phones.index(other) + 1


def test_the_kind_is_reference_only_and_names_trunks():
    kind = number.KIND
    assert kind.name == "number" and kind.reference_only and kind.accepts == ("siptrunk",)
    assert kind.endpoints.update is None
    for call in (lambda: kind.endpoints.create(None, {}, None), lambda: kind.endpoints.delete(None, 45, None),
                 lambda: kind.create_body({})):
        with pytest.raises(number.NeverBoughtOrReleased):
            call()


def test_the_account_numbers_and_a_trunk_over_http(platform):
    with PlatformClient(platform.url, TOKEN) as client:
        trunk = siptrunk.create_trunk(client, {
            "sip_trunk_type": "number", "phone_number": "+14155557777", "sip_username": "desk",
            "sip_password": "secret-pw", "sip_address": "sip.example.com", "sip_calling_format": "+e164",
            "inbound_authorization_type": "auth"})
        numbers = number.list_numbers(client)
        assert {45, 46, 47, trunk["id"]} <= {n["id"] for n in numbers}
        assert number.resolve_number(Reference("number", number="+14155557777"), numbers) == trunk["id"]
        assert number.resolve_number(Reference("number", number="+14155550100"), numbers) == 45
        values, problems = number.read(next(n for n in numbers if n["id"] == trunk["id"]))
        assert problems == [] and values["type"] == "sip"
        writes = [w for w in platform.writes() if "phone-numbers" in w.get("path", "")]
        assert all(w.get("method") != "DELETE" and "purchase" not in w.get("path", "") for w in writes)


def test_a_numbers_list_without_phone_numbers_is_an_error():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": 1}]})

    with PlatformClient("http://p.test/api", "t", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ApiError, match="no phone_number"):
            number.list_numbers(client)


# --- kinds/base.py additions and the client's error text ---

def test_matches_treats_unknown_as_agreeing_and_keeps_types_apart():
    assert matches({"a": 1, "b": [1, {"c": "x"}]}, {"a": UNKNOWN, "b": [1, {"c": "x"}]})
    assert not matches({"a": 1}, {"a": 1, "b": 2}) and not matches([1], [1, 2])
    assert not matches(True, 1) and not matches(1, True) and matches(1, 1.0) and matches(None, None)


def test_hide_digests_per_key_only_for_keys_shown():
    plain, keyed = FieldFacts("p", sensitive=True), FieldFacts("h", sensitive=True, keys_shown=True)
    assert hide({"A": "x"}, plain).startswith("sha256:")
    hidden = hide({"A": "x"}, keyed)
    assert set(hidden) == {"A"} and hidden["A"].startswith("sha256:") and hide(hidden, keyed) == hidden
    assert hide("x", FieldFacts("n")) == "x" and hide(None, plain) is None
    assert keyed_changes(hidden, {"A": "x"}) == [] and keyed_changes(hidden, {"A": "y"}) == ["A (changed)"]


def test_text_lengths_say_both_bounds():
    from pydantic import TypeAdapter, ValidationError
    from provisioner.kinds.base import text

    with pytest.raises(ValidationError, match="must be 3-5 characters"):
        TypeAdapter(text(3, 5)).validate_python("ab")
    with pytest.raises(ValidationError, match="at most 2 characters"):
        TypeAdapter(text(0, 2)).validate_python("abc")
    assert TypeAdapter(text(3, 5)).json_schema() == {"type": "string", "minLength": 3, "maxLength": 5}


@pytest.mark.parametrize("body, words", [
    ({"error": "Phone number not found."}, "Phone number not found."),
    ({"message": "Tool not found", "error": "other"}, "Tool not found"),
    ({"error": ""}, '{"error":""}'),   # no text: the raw answer
])
def test_the_client_reads_message_else_error(body, words):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json=body)

    with PlatformClient("http://p.test/api", "t", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(NotFoundError) as caught:
            client.request("GET", "/user/phone-numbers/sip-trunks/1")
    assert words in str(caught.value)
