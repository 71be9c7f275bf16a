"""Phone numbers and SIP trunks (API.md "Phone numbers and SIP trunks"): every number, nicknames, the shop,
release, and trunks (created, read, updated, deleted through the phone-number endpoint)."""
from __future__ import annotations

import pytest

import conformance_kind_schemas as S
from conformance_bodies import v1_body, v2_body
from conformance_fixtures import answered, api, other  # noqa: F401 (pytest fixtures)

TRUNK = {"sip_trunk_type": "number", "phone_number": "+14155551234", "sip_username": "acme",
         "sip_password": "s3cret-pass", "sip_address": "sip.provider.com", "sip_calling_format": "+e164",
         "inbound_authorization_type": "auth", "country_code": "US"}


def test_every_number_of_the_user(api, other):
    numbers = answered(api.raw("GET", "/user/phone-numbers/all"), 200, S.NUMBERS_ALL)["data"]
    assert [(n["id"], n["type"], n["type_label"]) for n in numbers] == [
        (45, "normal", "Normal"), (46, "caller_id", "Caller ID"), (47, "normal", "Normal")]
    assert [n["id"] for n in other.get("/user/phone-numbers/all")["data"]] == [90]


def test_nickname_set_and_cleared(api):
    answer = answered(api.raw("PUT", "/user/phone-numbers/45", json={"nickname": "Sales line"}), 200,
                      S.NUMBER_UPDATED)
    assert answer["data"]["nickname"] == "Sales line"
    assert api.get("/user/phone-numbers/all")["data"][0]["nickname"] == "Sales line"
    for cleared in (None, ""):
        api.put("/user/phone-numbers/45", {"nickname": "x"})
        assert api.put("/user/phone-numbers/45", {"nickname": cleared})["data"]["nickname"] is None
    assert list(answered(api.raw("PUT", "/user/phone-numbers/45", json={"nickname": "x" * 51}), 422,
                         S.errors_422())["errors"]) == ["nickname"]


def test_another_users_number_is_not_found(other):
    answered(other.raw("PUT", "/user/phone-numbers/45", json={"nickname": "mine"}), 404, S.NUMBER_404)
    answered(other.raw("DELETE", "/user/phone-numbers/45"), 404, S.NUMBER_404)


def test_search_with_prices_and_purchase(api):
    offers = answered(api.raw("GET", "/user/phone-numbers/search", params={"country_code": "US", "contains": "89"}),
                      200, S.SEARCH)["data"]
    assert offers and all("89" in o["phone_number"] and o["country_code"] == "US" for o in offers)
    assert api.get("/user/phone-numbers/search")["data"][0]["country_code"] == "DE", "DE by default"
    bought = answered(api.raw("POST", "/user/phone-numbers/purchase", json={"phone_number": offers[0]["phone_number"]}),
                      201, S.PURCHASED)["data"]
    assert bought["phone_number"] == offers[0]["phone_number"]
    assert bought["id"] in {n["id"] for n in api.get("/user/phone-numbers/all")["data"]}
    assert offers[0]["phone_number"] not in {o["phone_number"] for o in api.get(
        "/user/phone-numbers/search", country_code="US", contains="89")["data"]}
    answer = answered(api.raw("POST", "/user/phone-numbers/purchase", json={"phone_number": offers[0]["phone_number"]}),
                      400, S.ERROR)
    assert answer["error"] == "This phone number is already in use."


@pytest.mark.parametrize("params, key", [({"country_code": "FR"}, "country_code"), ({"contains": "12a"}, "contains"),
                                         ({"contains": "12345678901"}, "contains")])
def test_search_rules(api, params, key):
    assert list(answered(api.raw("GET", "/user/phone-numbers/search", params=params), 422,
                         S.errors_422())["errors"]) == [key]


def test_purchase_errors(api):
    answer = answered(api.raw("POST", "/user/phone-numbers/purchase", json={"phone_number": "415-555"}), 422, S.ERROR)
    assert answer["error"].startswith("Unable to parse phone number.")
    answer = answered(api.raw("POST", "/user/phone-numbers/purchase", json={"phone_number": "+4930999999"}), 400,
                      S.ERROR)
    assert answer["error"].startswith("This phone number is not available for purchase.")
    answer = answered(api.raw("POST", "/user/phone-numbers/purchase", json={"phone_number": "+14155550190"}), 400,
                      S.ERROR)
    assert answer["error"] == "This phone number is already in use."   # the other tenant's


def test_releasing_a_normal_number_schedules_it_and_the_assistants_lose_it(api):
    assistant = api.create(v1_body(calls_direction="receive", phone_number_id=45))["data"]
    answered(api.raw("DELETE", "/user/phone-numbers/45"), 200, S.RELEASED)
    assert api.find(assistant["id"])["phone_number_id"] is None
    answer = answered(api.raw("DELETE", "/user/phone-numbers/45"), 400, S.ERROR)
    assert answer["error"] == "Phone number is already scheduled for release."
    assert 45 not in {n["id"] for n in api.phone_numbers()}, "no assistant may take it any more"


def test_a_caller_id_is_deleted_at_once(api):
    answered(api.raw("DELETE", "/user/phone-numbers/46"), 200, S.DELETED_NUMBER)
    assert 46 not in {n["id"] for n in api.get("/user/phone-numbers/all")["data"]}
    answered(api.raw("DELETE", "/user/phone-numbers/46"), 404, S.NUMBER_404)


def test_a_trunk_lifecycle_with_the_password_never_shown(api):
    created = answered(api.raw("POST", "/user/phone-numbers/sip-trunks", json=TRUNK), 201, S.TRUNK_CREATED)["data"]
    assert created["allowed_inbound_ips"] is None and created["outbound_proxy"] is False
    listed = answered(api.raw("GET", "/user/phone-numbers/sip-trunks"), 200, S.TRUNKS)["data"]
    assert [t["id"] for t in listed] == [created["id"]]
    read = answered(api.raw("GET", f"/user/phone-numbers/sip-trunks/{created['id']}"), 200, S.TRUNK_ONE)["data"]
    assert read == created
    number = next(n for n in api.get("/user/phone-numbers/all")["data"] if n["id"] == created["id"])
    assert (number["type"], number["type_label"]) == ("sip", "SIP"), "a trunk is a phone number"
    assert created["id"] in {n["id"] for n in api.phone_numbers("inbound")}
    answered(api.raw("DELETE", f"/user/phone-numbers/{created['id']}"), 200, S.DELETED_NUMBER)
    answered(api.raw("GET", f"/user/phone-numbers/sip-trunks/{created['id']}"), 404, S.TRUNK_404)
    answered(api.raw("PUT", f"/user/phone-numbers/sip-trunks/{created['id']}", json={"nickname": "x"}), 404,
             S.TRUNK_404)


def test_which_changes_rebuild_which_voice_trunk(api):
    trunk = api.post("/user/phone-numbers/sip-trunks", TRUNK)["data"]
    path = f"/user/phone-numbers/sip-trunks/{trunk['id']}"

    def ids(body):
        data = answered(api.raw("PUT", path, json=body), 200, S.TRUNK_UPDATED)["data"]
        return data["inbound_trunk_id"], data["outbound_trunk_id"]

    before = (trunk["inbound_trunk_id"], trunk["outbound_trunk_id"])
    same = ids({"sip_calling_format": "national", "country_code": "GB", "nickname": "Office"})
    assert same == before, "only stored"
    inbound, outbound = ids({"sip_password": "an0ther-pass"})
    assert inbound != before[0] and outbound != before[1]
    inbound2, outbound2 = ids({"sip_address": "sip2.provider.com"})
    assert (inbound2, outbound2 != outbound) == (inbound, True)
    inbound3, outbound3 = ids({"inbound_authorization_type": "ip", "allowed_inbound_ips": ["203.0.113.7"]})
    assert (inbound3 != inbound2, outbound3) == (True, outbound2)
    back = api.put(path, {"inbound_authorization_type": "auth"})["data"]
    assert back["allowed_inbound_ips"] is None, "switching to auth clears the allow-list"
    for username_or_number in ({"sip_username": "acme2"}, {"phone_number": "+14155559999"}):
        assert all(a != b for a, b in zip(ids(username_or_number), (back["inbound_trunk_id"],
                                                                     back["outbound_trunk_id"])))
        back = api.get(path)["data"]


@pytest.mark.parametrize("overrides, key", [
    ({"sip_trunk_type": "pbx"}, "sip_trunk_type"), ({"sip_trunk_type": None}, "sip_trunk_type"),
    ({"phone_number": "4155551234"}, "phone_number"), ({"sip_trunk_type": "extension", "phone_number": "1" * 16},
                                                       "phone_number"),
    ({"nickname": "x" * 51}, "nickname"), ({"sip_username": "ab"}, "sip_username"),
    ({"sip_password": "ab"}, "sip_password"), ({"sip_address": "sip.provider.com:5060"}, "sip_address"),
    ({"sip_calling_format": "E164"}, "sip_calling_format"),
    ({"inbound_authorization_type": "token"}, "inbound_authorization_type"),
    ({"inbound_authorization_type": "ip"}, "allowed_inbound_ips"),
    ({"inbound_authorization_type": "ip", "allowed_inbound_ips": ["10.0.0.300"]}, "allowed_inbound_ips.0"),
    ({"sip_trunk_type": "extension", "phone_number": "1000", "country_code": None}, "country_code"),
    ({"outbound_proxy": "maybe"}, "outbound_proxy"),
])
def test_trunk_rules(api, overrides, key):
    body = answered(api.raw("POST", "/user/phone-numbers/sip-trunks", json={**TRUNK, **overrides}), 422,
                    S.errors_422({"const": "The given data was invalid."}))
    assert list(body["errors"]) == [key]


def test_a_numbers_country_is_detected_and_an_extension_is_short(api):
    detected = api.post("/user/phone-numbers/sip-trunks", {**TRUNK, "phone_number": "+4930123456",
                                                           "country_code": None})["data"]
    assert detected["country_code"] == "DE"
    api.post("/user/phone-numbers/sip-trunks", {**TRUNK, "sip_trunk_type": "extension", "phone_number": "1000"})


def test_a_duplicate_trunk_is_a_conflict(api):
    api.post("/user/phone-numbers/sip-trunks", TRUNK)
    body = answered(api.raw("POST", "/user/phone-numbers/sip-trunks", json={**TRUNK, "sip_password": "other"}), 409,
                    S.ERROR)
    assert body["error"].startswith("A SIP trunk with the same phone number, username, and address")


def test_another_users_trunk_is_not_found(api, other):
    trunk = api.post("/user/phone-numbers/sip-trunks", TRUNK)["data"]
    answered(other.raw("GET", f"/user/phone-numbers/sip-trunks/{trunk['id']}"), 404, S.TRUNK_404)
    answered(other.raw("PUT", f"/user/phone-numbers/sip-trunks/{trunk['id']}", json={"nickname": "x"}), 404,
             S.TRUNK_404)
    answered(other.raw("DELETE", f"/user/phone-numbers/{trunk['id']}"), 404, S.NUMBER_404)
    assert other.get("/user/phone-numbers/sip-trunks") == {"data": []}


def test_deleting_a_trunk_unassigns_it(api):
    trunk = api.post("/user/phone-numbers/sip-trunks", TRUNK)["data"]
    assistant = api.create(v2_body(api, type="inbound", phone_number_id=trunk["id"]))["data"]
    api.remove(f"/user/phone-numbers/{trunk['id']}")
    assert api.find(assistant["id"])["phone_number_id"] is None
