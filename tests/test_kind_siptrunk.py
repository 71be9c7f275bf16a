"""SIP trunks (provisioner/kinds/siptrunk.py): the manifest's rules, the wire mapping with no false drift, the
password sent only in a request body, and the endpoints over HTTP, with a delete that is confirmed first because
it shares the number release endpoint."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from pydantic import ValidationError

from kind_support import assert_no_drift as no_drift, assert_read_problem, changed, client, errors_of as spec_errors  # noqa: F401
from provisioner.emulator.numbers import check_trunk, number_fields, trunk_shape
from provisioner.errors import ApiError, NotFoundError, RejectedError
from provisioner.kinds import siptrunk
from provisioner.kinds.base import hide
from provisioner.spec import _problem_from_pydantic

PASSWORD = "pw-DO_NOT_LEAK-9f8e7d"
NUMBER = {
    "sip_trunk_type": "number",
    "phone_number": "+14155551234",
    "nickname": "Office line",
    "sip_username": "office",
    "sip_password": PASSWORD,
    "sip_address": "sip.provider.com",
    "sip_calling_format": "+e164",
    "inbound_authorization_type": "ip",
    "allowed_inbound_ips": ["203.0.113.10", "2001:db8::1"],
    "country_code": "US",
    "outbound_proxy": True,
}
EXTENSION = {**NUMBER, "sip_trunk_type": "extension", "phone_number": "1000", "inbound_authorization_type": "auth",
             "allowed_inbound_ips": None, "country_code": "DE", "nickname": None}


def with_(base: dict = NUMBER, **changes) -> dict:
    return changed(base, **changes)


def errors_of(raw: dict) -> dict[tuple, str]:
    return spec_errors(siptrunk.SipTrunkSpec, raw)


def wanted(raw: dict) -> dict:
    return siptrunk.SipTrunkSpec.model_validate(raw).model_dump(mode="json")


def emulated(body: dict, existing: dict | None = None) -> dict:
    """What the emulator stores and shows (read one, with trunk ids) for a create or an update, without HTTP."""
    fields, errors = check_trunk(body, existing)
    assert not errors, errors
    if existing is None:
        fields = number_fields(fields["phone_number"], fields["country_code"], "sip",
                               **{k: v for k, v in fields.items() if k not in ("phone_number", "country_code")})
    return trunk_shape({"id": 9, "fields": fields, "created_at": "t", "updated_at": "t"}, True)


def assert_no_drift(fields: dict, item: dict) -> None:
    no_drift(siptrunk.KIND, fields, item)


# --- the manifest's rules ---

def test_valid_trunks_of_both_types():
    assert wanted(NUMBER)["allowed_inbound_ips"] == NUMBER["allowed_inbound_ips"]
    extension = wanted(with_(EXTENSION))
    assert extension["allowed_inbound_ips"] is None and extension["outbound_proxy"] is True
    assert wanted(with_(EXTENSION, outbound_proxy=None))["outbound_proxy"] is False
    assert wanted(with_(country_code=None))["country_code"] is None   # a number's country is detected


@pytest.mark.parametrize("base, changes, path, words", [
    (NUMBER, {"sip_trunk_type": "pbx"}, ("sip_trunk_type",), "extension"),
    (NUMBER, {"phone_number": "4155551234"}, ("phone_number",), "E.164"),
    (NUMBER, {"phone_number": "+141555512345678"}, ("phone_number",), "1-15"),
    (EXTENSION, {"phone_number": "1234567890123456"}, ("phone_number",), "1-15"),
    (EXTENSION, {"phone_number": ""}, ("phone_number",), "1-15"),
    (EXTENSION, {"phone_number": " 100"}, ("phone_number",), "spaces"),
    (NUMBER, {"nickname": "x" * 51}, ("nickname",), "at most 50"),
    (NUMBER, {"sip_username": "ab"}, ("sip_username",), "3-128"),
    (NUMBER, {"sip_username": "a" * 129}, ("sip_username",), "3-128"),
    (NUMBER, {"sip_password": "ab"}, ("sip_password",), "at least 3"),
    (NUMBER, {"sip_password": 12345}, ("sip_password",), "string"),
    (NUMBER, {"sip_address": "sip.provider.com:5060"}, ("sip_address",), "without a port"),
    (NUMBER, {"sip_address": "sip://x"}, ("sip_address",), "without a port"),
    (NUMBER, {"sip_calling_format": "E164"}, ("sip_calling_format",), "+e164"),
    (NUMBER, {"inbound_authorization_type": "token"}, ("inbound_authorization_type",), "auth"),
    (NUMBER, {"allowed_inbound_ips": None}, ("allowed_inbound_ips",), "required"),
    (NUMBER, {"allowed_inbound_ips": []}, ("allowed_inbound_ips",), "required"),
    (NUMBER, {"allowed_inbound_ips": ["10.0.0.0/8"]}, ("allowed_inbound_ips",), "not an IP address"),
    (NUMBER, {"allowed_inbound_ips": ["300.1.1.1"]}, ("allowed_inbound_ips",), "not an IP address"),
    (EXTENSION, {"allowed_inbound_ips": ["1.2.3.4"]}, ("allowed_inbound_ips",), "ip only"),
    (EXTENSION, {"country_code": None}, ("country_code",), "required for an extension"),
    (NUMBER, {"country_code": "us"}, ("country_code",), "capital"),
    (NUMBER, {"country_code": "USA"}, ("country_code",), "capital"),
    (NUMBER, {"outbound_proxy": "yes"}, ("outbound_proxy",), "true or false"),
    (NUMBER, {"sip_username": None}, ("sip_username",), "required"),
    (NUMBER, {"sip_password": None}, ("sip_password",), "required"),
    (NUMBER, {"inbound_trunk_id": "x"}, ("inbound_trunk_id",), "unknown field"),
])
def test_every_rule_is_reported_at_its_field_path(base, changes, path, words):
    problems = errors_of(with_(base, **changes))
    assert path in problems, problems
    assert words.lower() in problems[path].lower(), problems[path]


def test_a_blank_nickname_is_no_nickname():
    assert wanted(with_(nickname=""))["nickname"] is None


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
       st.sampled_from([{}, {"sip_username": "x"}, {"phone_number": "nope"}, {"sip_address": "a b"}]))
@example("SIP", {"sip_address": "a b"})  # a word of the messages: in them whatever the password
def test_the_password_is_never_in_a_validation_message(password, other):
    def shapes(text: str) -> tuple:
        return text, text[:2], [text], {"p": text}, len(text)

    def reports(value) -> str:
        try:
            siptrunk.SipTrunkSpec.model_validate(with_(**other, sip_password=value))
        except ValidationError as error:
            return "\n".join(_problem_from_pydantic(e).message + json.dumps(e.get("ctx") or {}, default=str)
                             for e in error.errors(include_url=False))
        return ""

    # A password that is a word of the messages themselves ("SIP", "must") is in them whatever is said of it: the
    # same messages made with a stand-in of the same length say which words those are.
    stand_in = "\u2603" * len(password)
    for value, other_value in zip(shapes(password), shapes(stand_in)):
        if isinstance(value, str) and len(value) >= 3:
            assert value not in reports(value) or value in reports(other_value)


def test_the_spec_repr_hides_the_password():
    assert PASSWORD not in repr(siptrunk.SipTrunkSpec.model_validate(NUMBER))


# --- the wire mapping ---

ips = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))


@st.composite
def trunks(draw) -> dict:
    kind = draw(st.sampled_from(["number", "extension"]))
    authorization = draw(st.sampled_from(["auth", "ip"]))
    raw = {
        "sip_trunk_type": kind,
        "phone_number": draw(st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True)) if kind == "number"
        else draw(st.from_regex(r"[0-9*#]{1,15}", fullmatch=True)),
        "sip_username": draw(st.from_regex(r"[a-z0-9_.]{3,40}", fullmatch=True)),
        "sip_password": draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=3, max_size=40)
                             .filter(lambda p: p.strip() != "")),
        "sip_address": draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)),
        "sip_calling_format": draw(st.sampled_from(["+e164", "e164", "national"])),
        "inbound_authorization_type": authorization,
    }
    if authorization == "ip":
        raw["allowed_inbound_ips"] = draw(st.lists(ips, min_size=1, max_size=3))
    if kind == "extension" or draw(st.booleans()):
        raw["country_code"] = draw(st.sampled_from(["US", "DE", "GB", "FR"]))
    if draw(st.booleans()):
        raw["nickname"] = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=50)
                               .filter(lambda n: n.strip() != "" or n == ""))
    if draw(st.booleans()):
        raw["outbound_proxy"] = draw(st.booleans())
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trunks())
def test_create_body_read_back_equals_the_manifest(raw):
    fields = wanted(raw)
    body = siptrunk.create_body(fields)
    assert body["sip_password"] == raw["sip_password"] and body["sip_trunk_type"] == raw["sip_trunk_type"]
    assert_no_drift(fields, emulated(body))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trunks(), trunks(), st.sets(st.sampled_from([f.name for f in siptrunk.FIELDS if f.name != "sip_trunk_type"])))
def test_an_update_of_some_fields_reads_back_as_the_new_manifest(first, second, changed):
    before = wanted(first)
    if second["sip_trunk_type"] != first["sip_trunk_type"]:   # the type is not updated: a new phone of its form
        second["phone_number"] = first["phone_number"]
    second = {**second, "sip_trunk_type": first["sip_trunk_type"]}
    if second["sip_trunk_type"] == "extension":
        second.setdefault("country_code", "US")
    if "inbound_authorization_type" in changed or "allowed_inbound_ips" in changed:
        changed |= {"inbound_authorization_type", "allowed_inbound_ips"}   # they change together
    after = wanted({k: v for k, v in second.items() if v is not None})
    stored, errors = check_trunk(siptrunk.create_body(before), None)
    assert not errors
    body = siptrunk.update_body({name: after[name] for name in changed})
    assert "sip_trunk_type" not in body
    merged = {**before, **{name: after[name] for name in changed}}
    if merged.get("country_code") is None:
        merged["country_code"] = stored["country_code"]
    assert_no_drift(merged, emulated(body, stored))


def test_the_password_is_sent_only_when_given_to_update_body():
    assert "sip_password" not in siptrunk.update_body({"nickname": "x"})
    assert siptrunk.update_body({"sip_password": "new-pass"}) == {"sip_password": "new-pass"}
    assert siptrunk.update_body({"nickname": None}) == {"nickname": None}   # null clears a nickname
    assert siptrunk.update_body({"inbound_authorization_type": "auth", "allowed_inbound_ips": None}) == \
        {"inbound_authorization_type": "auth"}


def test_the_list_shape_without_trunk_ids_reads_the_same():
    fields = wanted(NUMBER)
    item = emulated(siptrunk.create_body(fields))
    listed = {k: v for k, v in item.items() if not k.endswith("_trunk_id")}
    assert siptrunk.read(item) == siptrunk.read(listed)


@pytest.mark.parametrize("field, value", [
    ("phone_number", None), ("sip_username", 5), ("nickname", 3), ("allowed_inbound_ips", "1.2.3.4"),
    ("outbound_proxy", "false")])
def test_an_unreadable_answer_is_a_read_problem_naming_the_field(field, value):
    assert_read_problem(siptrunk.KIND, emulated(siptrunk.create_body(wanted(NUMBER))), field, value)


def test_an_empty_allow_list_or_blank_nickname_read_as_none():
    item = emulated(siptrunk.create_body(wanted(with_(EXTENSION))))
    item.update(allowed_inbound_ips=[], nickname="")
    values, _ = siptrunk.read(item)
    assert values["allowed_inbound_ips"] is None and values["nickname"] is None


def test_the_kinds_facts():
    kind, facts = siptrunk.KIND, siptrunk.KIND.by_name
    assert kind.name == "siptrunk" and kind.manifest_kind == "SipTrunk" and kind.endpoints.confirm_delete
    password = facts["sip_password"]
    assert not password.shown and password.sensitive and password.send_only_on_change
    assert facts["sip_trunk_type"].replace and not facts["sip_trunk_type"].shown
    assert not any(f.replace for f in siptrunk.FIELDS if f.name != "sip_trunk_type")
    assert {f.name for f in siptrunk.FIELDS} == set(siptrunk.SipTrunkSpec.model_json_schema()["properties"])
    assert hide(PASSWORD, password).startswith("sha256:") and PASSWORD not in hide(PASSWORD, password)
    assert kind.identity(wanted(NUMBER)) == kind.identity(siptrunk.read(emulated(siptrunk.create_body(
        wanted(NUMBER))))[0]) == ("+14155551234", "office", "sip.provider.com")
    assert kind.identity({"phone_number": "1"}) is None


# --- the endpoints, against the emulator over HTTP with a real client ---



def test_create_list_update_delete_over_http(client, platform):
    endpoints, fields = siptrunk.KIND.endpoints, wanted(NUMBER)
    created = endpoints.create(client, siptrunk.create_body(fields), None)
    assert created["inbound_trunk_id"] and "sip_password" not in json.dumps(created)
    listed = {item["id"]: item for item in endpoints.list(client, None)}
    assert_no_drift(fields, listed[created["id"]])

    after = wanted(with_(EXTENSION, sip_trunk_type="number", phone_number=NUMBER["phone_number"],
                         nickname="Front desk"))   # ip -> auth, a new nickname
    changed = {k: after[k] for k in ("nickname", "inbound_authorization_type", "allowed_inbound_ips",
                                     "sip_calling_format")}
    body = siptrunk.update_body(changed)
    updated = endpoints.update(client, created["id"], body, None)
    assert updated["id"] == created["id"] and updated["inbound_trunk_id"] != created["inbound_trunk_id"]
    assert updated["outbound_trunk_id"] == created["outbound_trunk_id"]   # the password was not re-sent
    assert_no_drift({**fields, **changed},
                    {i["id"]: i for i in endpoints.list(client, None)}[created["id"]])

    assert endpoints.confirm_delete(client, created["id"])
    endpoints.delete(client, created["id"], None)
    assert created["id"] not in {item["id"] for item in endpoints.list(client, None)}
    assert not endpoints.confirm_delete(client, created["id"])
    with pytest.raises(NotFoundError):   # already gone: apply confirms it with a list read
        endpoints.delete(client, created["id"], None)
    assert not any(PASSWORD in notice for notice in client.notices)


def test_confirm_delete_refuses_numbers_that_are_not_trunks(client, platform):
    """45 is a rented number and 46 a caller ID in the emulator's catalogue: the shared endpoint would release
    one and delete the other."""
    trunk = siptrunk.KIND.endpoints.create(client, siptrunk.create_body(wanted(NUMBER)), None)
    numbers = {n["id"]: n for n in client.request("GET", "/user/phone-numbers/all")["data"]}
    assert numbers[45]["type"] == "normal" and numbers[46]["type"] == "caller_id"
    assert siptrunk.confirm_delete(client, trunk["id"])
    for number_id in (45, 46, 47, 999_999):
        assert not siptrunk.confirm_delete(client, number_id)
    after = {n["id"]: n for n in client.request("GET", "/user/phone-numbers/all")["data"]}
    assert after[45]["has_active_subscription"] and 46 in after   # nothing was released


def test_error_bodies_are_read_from_error(client):
    with pytest.raises(NotFoundError) as caught:
        siptrunk.KIND.endpoints.update(client, 999_999, {"nickname": "x"}, None)
    assert "SIP trunk not found." in str(caught.value)
    siptrunk.KIND.endpoints.create(client, siptrunk.create_body(wanted(NUMBER)), None)
    with pytest.raises(ApiError) as caught:
        siptrunk.KIND.endpoints.create(client, siptrunk.create_body(wanted(NUMBER)), None)
    assert caught.value.status == 409 and "already exists" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_the_platforms_field_errors_come_back_as_a_rejection(client):
    body = siptrunk.create_body(wanted(NUMBER))
    body["allowed_inbound_ips"] = ["not-an-ip"]
    with pytest.raises(RejectedError) as caught:
        siptrunk.KIND.endpoints.create(client, body, None)
    assert "allowed_inbound_ips.0" in caught.value.errors and PASSWORD not in str(caught.value)


def test_a_16_character_number_is_created_but_the_manifest_keeps_to_15(client):
    """API.md: a number trunk's phone_number is E.164 on create; update documents only 1-15 characters."""
    body = siptrunk.create_body(wanted(NUMBER)) | {"phone_number": "+123456789012345"}
    created = siptrunk.KIND.endpoints.create(client, body, None)
    assert created["phone_number"] == "+123456789012345"
    with pytest.raises(RejectedError):
        siptrunk.KIND.endpoints.update(client, created["id"], {"phone_number": "+123456789012346"}, None)
    assert ("phone_number",) in errors_of(with_(phone_number="+123456789012345"))
    extension = siptrunk.create_body(wanted(with_(EXTENSION))) | {"phone_number": "1234567890123456"}
    with pytest.raises(RejectedError) as caught:
        siptrunk.KIND.endpoints.create(client, extension, None)
    assert "phone_number" in caught.value.errors
