"""Campaigns (API.md "Campaigns"): create under both spellings, list (bare array), start/stop, delete; no update.

The emulator places no calls: a campaign starts without leads or balance unless the tenant's catalogue entry says
`balance: false`. Leads are outside the API reference; a test adds them through the admin endpoint
`/_emulator/campaigns/{id}/leads`, and deleting the campaign deletes them, as the platform does."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .answers import answer, failure_body, invalid, message, object_body, path_id
from .catalog import Tenant
from .kind import Kind
from .validation import (INVALID, Errors, add, attr, boolean, check_fields, integer, integer_list, one_of, string,
                         timezone)

INVALID_DATA = "The given data was invalid."
NOT_OUTBOUND = "Assistant not found or not an outbound assistant."
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARALLEL_CALL_LIMIT = 10


def _days(value, key, errors):
    if not isinstance(value, list):
        return add(errors, key, f"The {attr(key)} field must be an array.") or INVALID
    checked = [one_of(*DAYS)(day, f"{key}.{i}", errors) for i, day in enumerate(value)]
    return INVALID if INVALID in checked else checked


def _distinct_ids(value, key, errors):
    ids = integer_list(value, key, errors)
    if ids is INVALID:
        return INVALID
    for i, number_id in enumerate(ids):
        if number_id in ids[:i]:
            add(errors, f"{key}.{i}", f"The {attr(key)}.{i} field has a duplicate value.")
    return INVALID if any(k.startswith(f"{key}.") for k in errors) else ids


RULES = {
    "name": (string(255), True), "assistant_id": (integer(), True), "timezone": (timezone, False),
    "max_calls_in_parallel": (integer(1, PARALLEL_CALL_LIMIT), False),
    "allowed_hours_start_time": (string(5, 5, r"([01]\d|2[0-3]):[0-5]\d"), False),
    "allowed_hours_end_time": (string(5, 5, r"([01]\d|2[0-3]):[0-5]\d"), False),
    "allowed_days": (_days, False), "max_retries": (integer(1, 5), False),
    "retry_interval": (integer(10, 4320), False), "retry_on_voicemail": (boolean, False),
    "retry_on_goal_incomplete": (boolean, False), "goal_completion_variable": (string(255), False),
    "mark_complete_when_no_leads": (boolean, False), "phone_number_ids": (_distinct_ids, False),
}
DEFAULTS = {"timezone": "UTC", "max_calls_in_parallel": 3, "allowed_hours_start_time": "00:00",
            "allowed_hours_end_time": "23:59", "allowed_days": list(DAYS), "max_retries": 3, "retry_interval": 60,
            "retry_on_voicemail": False, "retry_on_goal_incomplete": False, "goal_completion_variable": None,
            "mark_complete_when_no_leads": True, "phone_number_ids": []}
SHOWN = ("id", "name", "status", "max_calls_in_parallel", "mark_complete_when_no_leads", "allowed_hours_start_time",
         "allowed_hours_end_time", "allowed_days", "max_retries", "retry_interval", "created_at", "updated_at")


def shape(row: dict, with_seconds: bool) -> dict:
    """A campaign as answered: times with seconds in the create answer, `H:i` in the list (API.md's examples)."""
    f = row["fields"]
    item = {"id": row["id"], **{k: f.get(k) for k in SHOWN[1:-2]}, "created_at": row["created_at"],
            "updated_at": row["updated_at"]}
    if with_seconds:
        for key in ("allowed_hours_start_time", "allowed_hours_end_time"):
            item[key] += ":00"
    return item


def check(store, user_id: int, body: dict) -> tuple[dict | None, Errors]:
    """A new campaign's fields by the create rules (the API's and a catalogue's initial campaigns), or errors.
    An assistant that is not the user's outbound one is the error NOT_OUTBOUND on `assistant_id` (which the API
    answers as its 404), checked after the fields and before the rules that need the assistant."""
    values, errors = check_fields(body, RULES, True)
    if errors:
        return None, errors
    assistant = store.get(user_id, values["assistant_id"])
    if assistant is None or assistant["fields"].get("type") != "outbound":
        return None, {"assistant_id": [NOT_OUTBOUND]}
    variable = values.get("goal_completion_variable")
    if variable is not None and not any(
            isinstance(item, dict) and item.get("name") == variable and item.get("type") == "bool"
            for item in assistant["fields"].get("post_call_schema") or []):
        # Not documented; the emulator refuses it as the platform's validation would.
        add(errors, "goal_completion_variable", "The goal completion variable must name a bool item of the "
                                                "assistant's post call schema.")
    own = {row["id"] for row in store.objects("phone_number", user_id)}
    for i, number_id in enumerate(values.get("phone_number_ids") or []):
        if number_id not in own:
            add(errors, f"phone_number_ids.{i}", f"The selected phone number ids.{i} is invalid.")
    if errors:
        return None, errors
    return {**DEFAULTS, **{k: v for k, v in values.items() if v is not None}, "status": "draft"}, {}


class Campaigns(Kind):
    name = "campaigns"
    table_kind = "campaign"
    invalid_message = INVALID_DATA
    # A running campaign is stopped first; its leads and its numbers go with it (let_go).
    deleted_message = "Campaign deleted successfully"

    def routes(self) -> list:
        endpoint = self.platform.endpoint
        return [
            endpoint("GET", "/user/campaigns", self.list, kind=self.name),
            # The Famulor reference's plural and the Autocalls reference's singular.
            endpoint("POST", "/user/campaigns", self.create, write=True, kind=self.name),
            endpoint("POST", "/user/campaign", self.create, write=True, kind=self.name),
            # Every status answer says whether it succeeded, a failure too.
            endpoint("POST", "/user/campaigns/update-status", self.update_status, write=True, kind=self.name,
                     failure=failure_body(self.name, success=False)),
            endpoint("DELETE", "/user/campaign/{id}", self.delete, write=True, kind=self.name),
        ]

    async def list(self, request: Request, tenant: Tenant) -> Response:
        return answer(200, [shape(row, False) for row in self.store.objects(self.table_kind, tenant.user_id)])

    async def create(self, request: Request, tenant: Tenant) -> Response:
        body = await object_body(request)
        with self.store.lock:
            fields, errors = check(self.store, tenant.user_id, body)
            if errors.get("assistant_id") == [NOT_OUTBOUND]:
                return message(404, NOT_OUTBOUND)
            if errors:
                return invalid(errors, INVALID_DATA)
            limit = self.settings.campaign_limit
            if limit is not None and self.store.count(self.table_kind, tenant.user_id) >= limit:
                return message(403, "You have reached the maximum number of campaigns allowed by your plan.")
            row = self.store.insert(self.table_kind, tenant.user_id, fields)
        return answer(201, {"message": "Campaign created successfully", "data": shape(row, True)})

    async def update_status(self, request: Request, tenant: Tenant) -> Response:
        body = await object_body(request)
        action = body.get("action")
        if action not in ("start", "stop"):
            return message(400, "Invalid action. Must be either 'start' or 'stop'.", success=False)
        campaign_id = body.get("campaign_id")
        with self.store.lock:
            row = self.store.object(self.table_kind, campaign_id if isinstance(campaign_id, int)
                                    and not isinstance(campaign_id, bool) else None)
            if row is None:
                return message(404, "Campaign not found.", success=False)
            if row["user_id"] != tenant.user_id:
                return message(403, "Access denied - Campaign does not belong to authenticated user.", success=False)
            if action == "start" and not tenant.balance:
                return message(400, "Insufficient balance to start the campaign. Please top up your account.",
                               success=False, data={"campaign_id": row["id"], "status": row["fields"]["status"]})
            status = "in-progress" if action == "start" else "stopped"
            self.store.replace(self.table_kind, row["id"], {**row["fields"], "status": status})
        return message(200, f"Campaign {'started' if action == 'start' else 'stopped'} successfully.", success=True,
                       data={"campaign_id": row["id"], "status": status})

    def let_go(self, user_id: int, object_id: int) -> None:
        self.store.remove_children("lead", object_id)

    # --- leads: outside the API reference, added and read through the admin endpoints ---

    async def add_leads(self, request: Request) -> Response:
        """`{"leads": [{"phone_number": "+14155550123", ...}, ...]}`: each lead kept under the campaign as sent."""
        body = await object_body(request)
        leads = body.get("leads")
        if not isinstance(leads, list) or not all(isinstance(lead, dict) and isinstance(lead.get("phone_number"), str)
                                                  for lead in leads):
            return message(422, 'Expected {"leads": [{"phone_number": "...", ...}, ...]}.')
        with self.store.lock:
            campaign = self.store.object(self.table_kind, path_id(request))
            if campaign is None:
                return self.not_found()
            for lead in leads:
                self.store.insert("lead", campaign["user_id"], lead, parent_id=campaign["id"])
            count = len(self.store.objects("lead", campaign["user_id"], campaign["id"]))
        return answer(201, {"campaign_id": campaign["id"], "leads": count})

    async def read_leads(self, request: Request) -> Response:
        """The leads kept under a campaign id, whether or not the campaign still exists (a deleted one has none)."""
        campaign_id = path_id(request)
        with self.store.lock:
            rows = [] if campaign_id is None else self.store.children("lead", campaign_id)
        return answer(200, {"campaign_id": campaign_id, "data": [{"id": r["id"], **r["fields"]} for r in rows]})

    # A dashboard edit (the admin endpoints; the API has no update): the settings API.md lists, checked as on
    # create.

    def not_found(self) -> Response:
        return message(404, "Campaign not found")

    def changed(self, tenant: Tenant, row: dict, body: dict) -> tuple[dict | None, Errors]:
        values, errors = check_fields(body, {k: v for k, v in RULES.items() if k != "assistant_id"}, False)
        return (None, errors) if errors else ({**row["fields"], **values}, {})

    def updated(self, tenant: Tenant, row: dict) -> Response:
        return answer(200, {"message": "Campaign updated.", "data": shape(row, True)})
