"""SIP trunks (`kind: SipTrunk`, API.md "Phone numbers and SIP trunks"): the user's own SIP provider or PBX.

    spec:
      sip_trunk_type: number          # or extension; decides phone_number's form; changing it replaces the trunk
      phone_number: "+14155551234"    # number: E.164; extension: 1-15 characters ("1000")
      nickname: Office line           # at most 50
      sip_username: office
      sip_password: ${env.OFFICE_SIP_PASSWORD}
      sip_address: sip.provider.com   # the SIP server, without a port
      sip_calling_format: +e164       # +e164, e164 or national
      inbound_authorization_type: ip  # auth (username and password) or ip (an allow-list)
      allowed_inbound_ips: [203.0.113.10]
      country_code: US                # required for an extension; detected from a number when left out
      outbound_proxy: false

`sip_password` is write-only and secret: never shown back, so state keeps a digest of what was sent and the
password is sent again only when that digest changes (a changed password re-creates both voice trunks).
`sip_trunk_type` is neither taken by update nor shown back: a change replaces the trunk.

A trunk IS a phone number: its id is a phone-number id, and it is deleted through the number release endpoint,
so a delete first confirms the id is in the SIP trunk list (`confirm_delete`); anything else is refused.
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
import ipaddress
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationInfo, WithJsonSchema, field_validator

from . import answers
from .answers import item_of, items_of
from .base import E164, Endpoints, FieldFacts, Kind, ReadProblem, text

TRUNKS = "/user/phone-numbers/sip-trunks"
NUMBERS = "/user/phone-numbers"
# The SIP server's host name or IPv4 address, without a port.
HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?")
COUNTRY = re.compile(r"[A-Z]{2}")


def _password(value: Any) -> str:
    """A credential: these messages never quote it (ValueError: no "(got ...)" is added)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) < 3:
        raise ValueError("must be at least 3 characters")
    return value


Password = Annotated[str, PlainValidator(_password), WithJsonSchema({"type": "string", "minLength": 3,
                                                                    "writeOnly": True})]


class SipTrunkSpec(BaseModel):
    """A SIP trunk's manifest spec."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)  # see base.py

    sip_trunk_type: Literal["extension", "number"] = Field(
        description="Decides phone_number's form; cannot be updated: a change replaces the trunk.")
    phone_number: Annotated[text(1, 15), Field(description=(
        "number: E.164 (+14155551234); extension: 1-15 characters (1000)."))]
    nickname: Optional[text(0, 50)] = None
    sip_username: text(3, 128)
    sip_password: Annotated[Password, Field(repr=False, description="Write-only and secret: ${env.NAME}.")]
    sip_address: Annotated[str, Field(json_schema_extra={"pattern": HOST.pattern, "maxLength": 255},
                                      description="The SIP server, without a port (sip.provider.com).")]
    sip_calling_format: Literal["+e164", "e164", "national"]
    inbound_authorization_type: Literal["auth", "ip"]
    allowed_inbound_ips: Optional[list[str]] = Field(None, validate_default=True,
                                                     description="With ip only: at least one IP address.")
    country_code: Optional[Annotated[str, Field(json_schema_extra={"pattern": COUNTRY.pattern})]] = Field(
        None, validate_default=True,
        description="ISO country code; required for an extension, detected from a number when left out.")
    outbound_proxy: bool = False

    @field_validator("phone_number")
    @classmethod
    def _phone_number_form(cls, value: str, info: ValidationInfo) -> str:
        # At most 15 characters for both forms: update takes only 1-15 (API.md), so a longer number could
        # never be changed in place.
        if info.data.get("sip_trunk_type") == "number" and not E164.fullmatch(value):
            raise ValueError("must be an E.164 number for a number trunk (+14155551234)")
        if value != value.strip():
            raise ValueError("must not start or end with spaces")
        return value

    @field_validator("nickname")
    @classmethod
    def _blank_nickname_is_none(cls, value: Optional[str]) -> Optional[str]:
        return value or None   # the platform reads "" as null: compare it as null, never as drift

    @field_validator("sip_address")
    @classmethod
    def _host(cls, value: str) -> str:
        if not HOST.fullmatch(value):
            raise ValueError("must be the SIP server's host name or IP address, without a port (sip.provider.com)")
        return value

    @field_validator("allowed_inbound_ips")
    @classmethod
    def _ips(cls, value: Optional[list[str]], info: ValidationInfo) -> Optional[list[str]]:
        for address in value or []:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None
        authorization = info.data.get("inbound_authorization_type")
        if authorization == "ip" and not value:
            raise ValueError("is required, with at least one IP address, when inbound_authorization_type is ip")
        if authorization == "auth" and value is not None:
            raise ValueError("is for inbound_authorization_type ip only (under auth the platform clears it)")
        return value

    @field_validator("country_code")
    @classmethod
    def _country(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is not None and not COUNTRY.fullmatch(value):
            raise ValueError("must be two capital letters, an ISO country code (US, GB, DE)")
        if value is None and info.data.get("sip_trunk_type") == "extension":
            raise ValueError("is required for an extension trunk (only a number's country can be detected)")
        return value


FIELDS = (
    FieldFacts("sip_trunk_type", shown=False, replace=True),
    FieldFacts("phone_number"),
    FieldFacts("nickname", default=None),
    FieldFacts("sip_username"),
    FieldFacts("sip_password", shown=False, sensitive=True, send_only_on_change=True),
    FieldFacts("sip_address"),
    FieldFacts("sip_calling_format"),
    FieldFacts("inbound_authorization_type"),
    FieldFacts("allowed_inbound_ips", default=None),
    # No default: when left out the platform detects it from the number, and nothing is compared.
    FieldFacts("country_code"),
    FieldFacts("outbound_proxy", default=False),
)
_STRINGS = ("phone_number", "sip_username", "sip_address", "sip_calling_format", "inbound_authorization_type",
            "country_code")


# --- wire mapping ---

def read(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
    """A trunk as the platform shows it -> manifest-term values (no sip_password, no sip_trunk_type: never
    shown)."""
    values: dict[str, Any] = {}
    problems: list[ReadProblem] = []
    for name in _STRINGS:
        if isinstance(item.get(name), str):
            values[name] = item[name]
        else:
            problems.append(ReadProblem(name, f"expected a string, got {type(item.get(name)).__name__}"))
    nickname = item.get("nickname")
    if nickname is None or isinstance(nickname, str):
        values["nickname"] = nickname or None
    else:
        problems.append(ReadProblem("nickname", f"expected a string or null, got {type(nickname).__name__}"))
    ips = item.get("allowed_inbound_ips")
    if ips is None or isinstance(ips, list) and all(isinstance(ip, str) for ip in ips):
        values["allowed_inbound_ips"] = ips or None   # [] and null both say "no allow-list"
    else:
        problems.append(ReadProblem("allowed_inbound_ips", "expected a list of IP addresses or null"))
    proxy = item.get("outbound_proxy", False)
    if isinstance(proxy, bool):
        values["outbound_proxy"] = proxy
    else:
        problems.append(ReadProblem("outbound_proxy", f"expected true or false, got {type(proxy).__name__}"))
    return values, problems


IDENTITY_FIELDS = ("phone_number", "sip_username", "sip_address")


def identity(fields: dict[str, Any]) -> tuple[str, str, str] | None:
    """The platform refuses a second trunk with the same phone number, username and address (its 409)."""
    key = tuple(fields.get(name) for name in IDENTITY_FIELDS)
    return key if all(isinstance(part, str) for part in key) else None  # type: ignore[return-value]


def create_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The manifest's fields (`SipTrunkSpec.model_dump()`) -> POST body; the only place sip_password goes."""
    return {name: value for name, value in fields.items() if name in _FIELD_NAMES and value is not None}


def update_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields to change -> PUT body. sip_trunk_type is not taken by update (a change replaces the trunk);
    nickname null clears it; the allow-list is left out under auth, where switching clears it."""
    body = {name: value for name, value in fields.items() if name in _FIELD_NAMES and name != "sip_trunk_type"}
    if body.get("allowed_inbound_ips") is None:
        body.pop("allowed_inbound_ips", None)
    for name in ("phone_number", "sip_username", "sip_password", "sip_address", "sip_calling_format",
                 "inbound_authorization_type", "country_code", "outbound_proxy"):
        if body.get(name, "") is None:   # a required field sent as null is refused
            del body[name]
    return body


_FIELD_NAMES = frozenset(f.name for f in FIELDS)


# --- endpoints ---

def list_trunks(client, parent=None) -> list[dict[str, Any]]:
    return items_of(client.request("GET", TRUNKS), f"GET {TRUNKS}")


def create_trunk(client, body: dict[str, Any], parent=None) -> dict[str, Any]:
    return item_of(client.request("POST", TRUNKS, json=body), f"POST {TRUNKS}", created=True)


def update_trunk(client, trunk_id: int, body: dict[str, Any], parent=None) -> dict[str, Any]:
    return answers.update(client, f"{TRUNKS}/{trunk_id}", trunk_id, body)


def delete_trunk(client, trunk_id: int, parent=None) -> None:
    """DELETE /user/phone-numbers/{id}: the number release endpoint. The graph calls `confirm_delete` first."""
    answers.delete(client, f"{NUMBERS}/{trunk_id}")


def confirm_delete(client, trunk_id: int) -> bool:
    """Whether the id is one of the account's SIP trunks now: only then may the release endpoint be called, as
    anything else there releases a rented number or deletes a caller ID. An id in no list is not confirmed
    either (the caller's refresh already drops a trunk that is gone)."""
    return any(item["id"] == trunk_id for item in list_trunks(client))


KIND = Kind(
    name="siptrunk",
    manifest_kind="SipTrunk",
    title="SIP trunk",
    spec_model=SipTrunkSpec,
    fields=FIELDS,
    endpoints=Endpoints(list=list_trunks, create=create_trunk, update=update_trunk, delete=delete_trunk,
                        confirm_delete=confirm_delete),
    read=read,
    create_body=create_body,
    update_body=update_body,
    name_field="nickname",
    identity=identity,
    identity_fields=IDENTITY_FIELDS,
    # API.md: 409 for a second trunk with the same number, username and address: a replacement (--replace) must
    # delete the old one first, or the new one is always refused.
    create_before_destroy=False,
)
