"""Phone numbers and SIP trunks (API.md "Phone numbers and SIP trunks"): every number of the tenant, nicknames,
the shop (search, purchase) and release, and SIP trunks, which are phone numbers with SIP settings.

A number is stored with its `type` (normal, sip, caller_id), decided for catalogue numbers by `type_label`."""
from __future__ import annotations

import ipaddress
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from .answers import answer, error, failure_body, invalid, message, object_body, path_id
from .catalog import Tenant
from .kind import Kind
from .validation import INVALID, Errors, add, attr, boolean, check_fields, one_of, string

NUMBER_NOT_FOUND = "Phone number not found."
TRUNK_NOT_FOUND = "SIP trunk not found."
INVALID_DATA = "The given data was invalid."
TYPE_LABELS = {"normal": "Normal", "sip": "SIP", "caller_id": "Caller ID"}
E164 = r"\+[1-9]\d{1,14}"


def number_type(type_label: str) -> str:
    """A catalogue number's kind from its `type_label` alone (API.md's emulator additions)."""
    word = re.sub(r"[\s_-]", "", type_label).casefold()
    return {"callerid": "caller_id", "sip": "sip", "siptrunk": "sip"}.get(word, "normal")


# country: (dialling code, an area code of the offers, monthly price in USD, address requirements, SMS)
SHOP = {
    "DE": ("49", "30", 1.50, "local", False), "US": ("1", "415", 1.15, "none", True),
    "CA": ("1", "416", 1.30, "none", True), "GB": ("44", "20", 1.50, "local", True),
    "AU": ("61", "2", 6.50, "local", True), "IL": ("972", "3", 5.00, "local", False),
    "PL": ("48", "22", 3.00, "local", False), "FI": ("358", "9", 4.00, "foreign", False),
    "NL": ("31", "20", 2.00, "local", False), "DK": ("45", "3", 3.00, "none", False),
    "IT": ("39", "02", 2.50, "inventory", False),
}
# Dialling code -> country, for a trunk's country_code (the longest code that matches wins).
COUNTRY_BY_CODE = {"1": "US", "49": "DE", "44": "GB", "61": "AU", "972": "IL", "48": "PL", "358": "FI",
                   "31": "NL", "45": "DK", "39": "IT", "33": "FR", "34": "ES", "41": "CH", "43": "AT"}


def detect_country(phone_number: str) -> str | None:
    digits = phone_number.lstrip("+")
    for length in (3, 2, 1):
        if digits[:length] in COUNTRY_BY_CODE:
            return COUNTRY_BY_CODE[digits[:length]]
    return None


def number_fields(phone_number: str, country_code: str, kind: str, type_label: str | None = None, **extra) -> dict:
    """A stored phone number."""
    return {"phone_number": phone_number, "nickname": None, "country_code": country_code, "type": kind,
            "type_label": type_label or TYPE_LABELS[kind], "sms_capable": False, "region": None,
            "has_active_subscription": kind == "normal", "release_scheduled": False, **extra}


def all_shape(row: dict) -> dict:
    f = row["fields"]
    return {"id": row["id"], "phone_number": f["phone_number"], "nickname": f.get("nickname"),
            "country_code": f["country_code"], "type": f["type"], "type_label": f["type_label"],
            "sms_capable": f.get("sms_capable", False), "region": f.get("region"),
            "has_active_subscription": f.get("has_active_subscription", False), "created_at": row["created_at"]}


# --- SIP trunks ---

def _password(value, key, errors):
    if not isinstance(value, str):
        return add(errors, key, f"The {attr(key)} field must be a string.") or INVALID
    if len(value) < 3:
        return add(errors, key, f"The {attr(key)} field must be at least 3 characters.") or INVALID
    return value


def _ips(value, key, errors):
    if not isinstance(value, list):
        return add(errors, key, f"The {attr(key)} field must be an array.") or INVALID
    ok = True
    for i, item in enumerate(value):
        try:
            ipaddress.ip_address(item if isinstance(item, str) else "")
        except ValueError:
            add(errors, f"{key}.{i}", f"The {attr(key)}.{i} field must be a valid IP address.")
            ok = False
    return value if ok else INVALID


TRUNK_RULES = {
    "sip_trunk_type": (one_of("extension", "number"), True),
    # Its form depends on sip_trunk_type (check_trunk): an extension 1-15 characters, a number E.164.
    "phone_number": (string(), True),
    "nickname": (string(50), False),
    "sip_username": (string(128, 3), True),
    "sip_password": (_password, True),
    # The SIP server without a port.
    "sip_address": (string(255, 1, r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?"), True),
    "sip_calling_format": (one_of("+e164", "e164", "national"), True),
    "inbound_authorization_type": (one_of("auth", "ip"), True),
    "allowed_inbound_ips": (_ips, False),
    "country_code": (string(2, 2, r"[A-Z]{2}"), False),
    "outbound_proxy": (boolean, False),
}
# Update documents only "1-15 characters" for phone_number. country_code is required (only a create may leave it
# out, to have it detected from a number): an update may change it, never clear it.
UPDATE_RULES = {**{k: v for k, v in TRUNK_RULES.items() if k != "sip_trunk_type"},
                "phone_number": (string(15, 1), True), "country_code": (TRUNK_RULES["country_code"][0], True)}
# Which voice trunks a changed field re-creates.
REBUILDS = {"sip_username": ("inbound", "outbound"), "sip_password": ("inbound", "outbound"),
            "phone_number": ("inbound", "outbound"), "sip_address": ("outbound",), "outbound_proxy": ("outbound",),
            "inbound_authorization_type": ("inbound",), "allowed_inbound_ips": ("inbound",)}


def _trunk_id(direction: str) -> str:
    return f"ST_{direction[:2].upper()}_{secrets.token_hex(6)}"


def check_trunk(body, existing: dict | None) -> tuple[dict | None, Errors]:
    """A trunk's next fields, or errors (also used on the catalogue's initial trunks)."""
    creating = existing is None
    values, errors = check_fields(body, TRUNK_RULES if creating else UPDATE_RULES, creating)
    if creating and "phone_number" in values:
        if values.get("sip_trunk_type") == "number":
            if not re.fullmatch(E164, values["phone_number"]):
                add(errors, "phone_number", "The phone number field must be a valid E.164 number (+14155551234).")
        elif string(15, 1)(values["phone_number"], "phone_number", errors) is INVALID:
            del values["phone_number"]
    fields = dict(existing) if existing else {"nickname": None, "outbound_proxy": False,
                                              "allowed_inbound_ips": None}
    fields.update({k: v for k, v in values.items() if k != "sip_trunk_type"})
    if fields.get("outbound_proxy") is None:
        fields["outbound_proxy"] = False
    if creating and fields.get("country_code") is None and "country_code" not in errors:
        detected = detect_country(fields.get("phone_number") or "") \
            if values.get("sip_trunk_type") == "number" else None
        if detected is None:
            add(errors, "country_code", "The country code field is required.")
        fields["country_code"] = detected
    if fields.get("inbound_authorization_type") == "ip":
        if not fields.get("allowed_inbound_ips") and not any(k.startswith("allowed_inbound_ips") for k in errors):
            add(errors, "allowed_inbound_ips", "The allowed inbound ips field is required when inbound "
                                               "authorization type is ip.")
    else:
        fields["allowed_inbound_ips"] = None   # switching to auth clears the allow-list
    if errors:
        return None, errors
    rebuilt = {"inbound", "outbound"} if creating else {
        d for key, directions in REBUILDS.items() if key in values and values[key] != existing.get(key)
        for d in directions}
    for direction in rebuilt:
        fields[f"{direction}_trunk_id"] = _trunk_id(direction)
    return fields, {}


def trunk_shape(row: dict, with_trunk_ids: bool) -> dict:
    f = row["fields"]
    shape = {"id": row["id"], "phone_number": f["phone_number"], "nickname": f.get("nickname"),
             "sip_username": f["sip_username"], "sip_address": f["sip_address"],
             "sip_calling_format": f["sip_calling_format"],
             "inbound_authorization_type": f["inbound_authorization_type"],
             "allowed_inbound_ips": f.get("allowed_inbound_ips"), "outbound_proxy": f.get("outbound_proxy", False),
             "country_code": f["country_code"], "created_at": row["created_at"], "updated_at": row["updated_at"]}
    if with_trunk_ids:
        shape.update(inbound_trunk_id=f.get("inbound_trunk_id"), outbound_trunk_id=f.get("outbound_trunk_id"))
    return shape


class PhoneNumbers(Kind):
    name = "phone_numbers"
    table_kind = "phone_number"
    invalid_message = INVALID_DATA

    def __init__(self, platform):
        super().__init__(platform)
        # What the shop offered each tenant: a purchase takes only a number a search returned.
        self.offers: dict[int, dict[str, tuple[str, bool]]] = {}

    def routes(self) -> list:
        endpoint, base = self.platform.endpoint, "/user/phone-numbers"
        return [
            # The older list API.md mentions beside /all: only SMS-capable numbers with an active subscription.
            endpoint("GET", base, self.sms_numbers, kind=self.name),
            endpoint("GET", base + "/all", self.all, kind=self.name),
            endpoint("GET", base + "/search", self.search, kind=self.name),
            endpoint("POST", base + "/purchase", self.purchase, write=True, kind=self.name,   # its documented 500
                     failure=failure_body(self.name, "Failed to purchase phone number from provider. Please contact "
                                                     "support.")),
            endpoint("PUT", base + "/{id}", self.update, write=True, kind=self.name),
            endpoint("DELETE", base + "/{id}", self.release, write=True, kind=self.name),
        ]

    def owned(self, user_id: int) -> list[dict]:
        return self.store.objects(self.table_kind, user_id)

    async def all(self, request: Request, tenant: Tenant) -> Response:
        return answer(200, {"data": [all_shape(row) for row in self.owned(tenant.user_id)]})

    async def sms_numbers(self, request: Request, tenant: Tenant) -> Response:
        return answer(200, {"data": [all_shape(row) for row in self.owned(tenant.user_id)
                                     if (f := row["fields"]).get("sms_capable") and f.get("has_active_subscription")]})

    def not_found(self) -> Response:
        return error(404, NUMBER_NOT_FOUND)

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        values, errors = check_fields(body, {"nickname": (string(50), False)}, False)
        return (None, errors) if errors else ({**row["fields"], **values}, {})

    def updated(self, tenant: Tenant, row: dict) -> Response:
        shape = all_shape(row)
        return answer(200, {"message": "Phone number updated successfully.",
                            "data": {k: shape[k] for k in ("id", "phone_number", "nickname", "country_code",
                                                           "type")}})

    async def search(self, request: Request, tenant: Tenant) -> Response:
        country = (request.query_params.get("country_code") or "DE").upper()
        contains = request.query_params.get("contains") or ""
        errors: Errors = {}
        if country not in SHOP:
            add(errors, "country_code", "The selected country code is invalid.")
        if contains and not re.fullmatch(r"\d{1,10}", contains):
            add(errors, "contains", "The contains field must be digits only, at most 10.")
        if errors:
            return invalid(errors, INVALID_DATA)
        code, area, price, address, sms = SHOP[country]
        taken = self.store.field_values(self.table_kind, "phone_number")
        offers = []
        # E.164: at most 15 digits with the country code (API.md: what the search offers, the purchase takes). The
        # digits asked for are kept; the area code goes first when they do not all fit beside it.
        national = f"{area}{contains}" if len(code) + len(area) + len(contains) + 4 <= 15 else contains
        suffix = min(4, 15 - len(code) - len(national))
        for i in range(5):
            candidate = f"+{code}{national}{i:0{suffix}d}"
            if candidate in taken:
                continue
            shown = (f"+{code} {area} {contains}{i:0{suffix}d}" if national != contains
                     else f"+{code} {candidate[1 + len(code):]}")
            offers.append({"phone_number": candidate, "phone_number_formatted": shown,
                           "country_code": country, "price": price,
                           "stripe_price_id": f"price_emulator_{country.lower()}", "address_requirements": address,
                           "sms_capable": sms})
        remembered = self.offers.setdefault(tenant.user_id, {})
        if len(remembered) > 10_000:
            remembered.clear()
        remembered.update({o["phone_number"]: (country, sms) for o in offers})
        return answer(200, {"data": offers})

    async def purchase(self, request: Request, tenant: Tenant) -> Response:
        wanted = (await object_body(request)).get("phone_number")
        if not isinstance(wanted, str) or not re.fullmatch(E164, wanted):
            return error(422, "Unable to parse phone number. Please provide a valid E.164 format number.")
        with self.store.lock:
            if wanted in self.store.field_values(self.table_kind, "phone_number"):
                return error(400, "This phone number is already in use.")
            offer = self.offers.get(tenant.user_id, {}).get(wanted)
            if offer is None:
                return error(400, "This phone number is not available for purchase. Please search for available "
                                  "numbers first.")
            if not tenant.payment_method:
                return error(402, "No payment method found. Please add a payment method to your account.")
            country, sms = offer
            row = self.store.insert(self.table_kind, tenant.user_id,
                                    number_fields(wanted, country, "normal", sms_capable=sms))
        return answer(201, {"message": "Phone number purchased successfully.",
                            "data": {"id": row["id"], "phone_number": wanted, "country_code": country,
                                     "type": "normal", "sms_capable": sms}})

    async def release(self, request: Request, tenant: Tenant) -> Response:
        with self.store.lock:
            row = self.find(tenant, path_id(request))
            if row is None:
                return self.not_found()
            fields = row["fields"]
            if fields["type"] == "normal":
                if fields.get("release_scheduled"):
                    return error(400, "Phone number is already scheduled for release.")
                # The subscription ends; the number stays until the end of the billing period.
                self.store.replace(self.table_kind, row["id"], {**fields, "release_scheduled": True,
                                                                "has_active_subscription": False})
                text = "Phone number released successfully. It will be removed at the end of the billing period."
            else:
                self.store.remove(self.table_kind, [row["id"]])
                text = "Phone number deleted successfully."
            self.let_go(tenant.user_id, row["id"])
        return message(200, text)

    def let_go(self, user_id: int, number_id: int) -> None:
        """Assistants on the number lose it; campaigns drop it from their rotation."""
        self.store.rewrite_assistants(user_id, "phone_number_id = ?", (number_id,),
                                      lambda f: f.__setitem__("phone_number_id", None))

        def drop(fields: dict) -> bool:
            ids = fields.get("phone_number_ids") or []
            fields["phone_number_ids"] = [i for i in ids if i != number_id]
            return len(fields["phone_number_ids"]) != len(ids)
        self.store.rewrite_objects("campaign", user_id, drop)


class SipTrunks(Kind):
    name = "sip_trunks"
    table_kind = "phone_number"
    invalid_message = INVALID_DATA

    def routes(self) -> list:
        endpoint, base = self.platform.endpoint, "/user/phone-numbers/sip-trunks"
        return [
            endpoint("GET", base, self.list, kind=self.name),
            endpoint("POST", base, self.create, write=True, kind=self.name,   # its documented 500
                     failure=failure_body(self.name, "Failed to create SIP trunk. Please try again or contact "
                                                     "support.")),
            endpoint("GET", base + "/{id}", self.read, kind=self.name),
            endpoint("PUT", base + "/{id}", self.update, write=True, kind=self.name),
        ]

    def _trunks(self, user_id: int) -> list[dict]:
        return [row for row in self.store.objects(self.table_kind, user_id) if row["fields"]["type"] == "sip"]

    def find(self, tenant: Tenant, object_id: int | None) -> dict | None:
        row = self.store.object(self.table_kind, object_id, tenant.user_id)
        return row if row and row["fields"]["type"] == "sip" else None

    def not_found(self) -> Response:
        return error(404, TRUNK_NOT_FOUND)

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        return check_trunk(body, row["fields"])

    def updated(self, tenant: Tenant, row: dict) -> Response:
        return answer(200, {"message": "SIP trunk updated successfully.", "data": trunk_shape(row, True)})

    async def list(self, request: Request, tenant: Tenant) -> Response:
        return answer(200, {"data": [trunk_shape(row, False) for row in self._trunks(tenant.user_id)]})

    async def read(self, request: Request, tenant: Tenant) -> Response:
        row = self.find(tenant, path_id(request))
        return answer(200, {"data": trunk_shape(row, True)}) if row else self.not_found()

    async def create(self, request: Request, tenant: Tenant) -> Response:
        body = await object_body(request)
        with self.store.lock:
            fields, errors = check_trunk(body, None)
            if errors:
                return invalid(errors, INVALID_DATA)
            same = ("phone_number", "sip_username", "sip_address")
            if any(all(row["fields"].get(k) == fields[k] for k in same) for row in self._trunks(tenant.user_id)):
                return error(409, "A SIP trunk with the same phone number, username, and address already exists.")
            row = self.store.insert(self.table_kind, tenant.user_id,
                                    number_fields(fields["phone_number"], fields["country_code"], "sip", **{
                                        k: v for k, v in fields.items() if k not in ("phone_number",
                                                                                     "country_code")}))
        return answer(201, {"message": "SIP trunk created successfully.", "data": trunk_shape(row, True)})

