"""Campaigns (API.md "Campaigns"): the manifest `kind: Campaign`, as one `Kind`.

A campaign has an outbound assistant call through its leads. The platform has no update: every setting is
`replace=True`, and a replacement deletes the campaign's leads (`Kind.replace_loses`), which apply makes only with
the user's explicit consent. Fields the platform never shows back (`assistant_id`, `timezone`, `retry_on_*`,
`goal_completion_variable`, `phone_number_ids`) are write-only: compared with what state recorded as sent.

`status` is not a setting but an action (`POST /user/campaigns/update-status`, start or stop), and starting places
real calls, so it is managed only when the manifest sets it. The manifest says what the user wants, the platform's
status says where the campaign is (the full set is not documented; an unknown one is a read problem, and nothing
is started or stopped from it):

| manifest `status` | platform statuses that satisfy it | otherwise |
| --- | --- | --- |
| `started` | `in-progress`, `active`, `completed` | start |
| `stopped` | `draft`, `stopped`, `paused`, `completed` | stop |

A `completed` campaign (no leads left) satisfies both: starting it again would call nobody, and a plan that asked
for it on every run would never settle. It reads as `completed`.

Create path: `POST /user/campaigns` by default; some white-labels serve `POST /user/campaign` (API.md). Build the
kind for another one with `campaign_kind(create_path)`; `check_create_path` validates a configured value.
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
import re
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo,
                      WithJsonSchema, field_validator)

from ..client import UnknownOutcomeError, is_id
from ..errors import ApiError, NotFoundError
from ..patterns import LazyPattern
from ..spec import FieldProblem, _problem_from_pydantic, did_you_mean
from ..timezones import iana_timezones, is_iana_timezone
from ..wire import DIRECTION_TO_TYPE, Unreadable, _flag, _integer, _short, _text
from .answers import items_of
from .number import KIND as NUMBER
from .base import ADDRESS, E164, NAME, Action, Endpoints, FieldFacts, Kind, ReadProblem, parse_reference

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARALLEL_CALL_LIMIT = 10  # API.md: at most the plan's parallel-call limit, "up to 10"
CREATE_PATHS = ("/user/campaigns", "/user/campaign")  # the Famulor reference's plural, the Autocalls singular
CREATE_PATH = CREATE_PATHS[0]
LIST_PATH = "/user/campaigns"
STATUS_PATH = "/user/campaigns/update-status"
DELETE_PATH = "/user/campaign/{id}"

_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")            # `H:i` as the platform takes it
_READ_TIME = LazyPattern(r"([0-9]{1,2}):([0-5][0-9])(?::[0-5][0-9])?")  # with or without seconds, as it answers

# The platform's status -> the manifest's word for it (the module docstring's table).
STATUS_READ = {"draft": "stopped", "stopped": "stopped", "paused": "stopped", "in-progress": "started",
               "active": "started", "completed": "completed"}
ACTION_FOR = {"started": "start", "stopped": "stop"}


# --- the manifest ---

def _time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 10:30 as the sexagesimal number 630.
        shown = f"{value // 60:02d}:{value % 60:02d}"
        raise ValueError(f"must be a quoted time \"HH:MM\": YAML reads an unquoted {value // 60}:{value % 60:02d} "
                         f"as the number {value}; write '{shown}'")
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValueError(f"must be a time \"HH:MM\" from 00:00 to 23:59, e.g. '09:00' (got {_short(value, 40)})")
    return value


def _day(value: str) -> str:
    if value not in DAYS:
        raise ValueError(f"must be a day in lowercase, monday to sunday (got {_short(value, 40)})"
                         f"{did_you_mean(value.lower(), DAYS)}")
    return value


def _days(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("must name at least one day: a campaign with none would never call "
                         "(leave it out for every day)")
    twice = sorted({day for day in value if value.count(day) > 1}, key=DAYS.index)
    if twice:
        raise ValueError(f"names {', '.join(twice)} more than once")
    return sorted(value, key=DAYS.index)  # the week's order, as read back: no drift from the order written


def _reference(kind: str, value: Any) -> Any:
    parsed = parse_reference(value, kind)
    if isinstance(parsed, str):
        raise ValueError(parsed)
    if parsed.address is not None:
        target = ADDRESS.fullmatch(parsed.address).group("kind")
        allowed = _targets(kind)
        if target not in allowed:
            raise ValueError(f"'{parsed.address}' is a {target}; this field takes "
                             f"{' or '.join(a + ' addresses' for a in allowed)}")
    return value


def _distinct(value: list[Any]) -> list[Any]:
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        key = repr(item)
        if key in seen:
            raise ValueError(f"items {seen[key]} and {index} are the same number ({_short(item, 40)}): "
                             "the numbers must be distinct")
        seen[key] = index
    return value


def _targets(kind: str) -> tuple[str, ...]:
    """The kinds a campaign's reference to `kind` may name by address (an assistant, a number or a SIP trunk):
    read from the number kind itself, as this module is imported before the registry exists."""
    return NUMBER.address_targets if kind == NUMBER.name else (kind,)


def _reference_schema(kind: str) -> dict[str, Any]:
    """The editor schema of a reference value (the validators above say the rest, with file:line)."""
    addresses = "|".join(_targets(kind))
    syntaxes = [{"type": "string", "pattern": rf"^({addresses})\.{NAME}$"},
                {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"],
                 "additionalProperties": False},
                {"type": "integer", "minimum": 1}]
    if kind == "number":
        syntaxes.append({"type": "string", "pattern": f"^{E164.pattern}$"})
    return {"anyOf": syntaxes}


Time = Annotated[Any, BeforeValidator(_time), WithJsonSchema({"type": "string", "pattern": f"^{_TIME.pattern}$"})]
Day = Annotated[str, AfterValidator(_day), WithJsonSchema({"enum": list(DAYS)})]
AssistantRef = Annotated[Any, AfterValidator(partial(_reference, "assistant")),
                         WithJsonSchema(_reference_schema("assistant"))]
NumberRef = Annotated[Any, AfterValidator(partial(_reference, "number")), WithJsonSchema(_reference_schema("number"))]


class CampaignSpec(BaseModel):
    """A campaign's spec, in the platform's field names. Optional fields default to None = left out."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)  # see base.py

    name: Annotated[str, Field(min_length=1, max_length=255, description="The campaign's name on the platform.")]
    assistant_id: Annotated[AssistantRef, Field(
        description="The outbound assistant that calls: \"assistant.NAME\", {name: ...} or an id (write-only).")]
    timezone: str | None = Field(None, description="An IANA time zone; default: the account's (write-only).")
    max_calls_in_parallel: Annotated[int, Field(ge=1, le=PARALLEL_CALL_LIMIT)] | None = Field(
        None, description="1 to the plan's parallel-call limit (at most 10); default 3.")
    allowed_hours_start_time: Time | None = Field(None, description="\"HH:MM\", quoted; default 00:00.")
    allowed_hours_end_time: Time | None = Field(None, description="\"HH:MM\", quoted; default 23:59.")
    allowed_days: Annotated[list[Day], AfterValidator(_days)] | None = Field(
        None, description="Days to call on, monday ... sunday; default all seven.")
    max_retries: Annotated[int, Field(ge=1, le=5)] | None = Field(None, description="1 to 5; default 3.")
    retry_interval: Annotated[int, Field(ge=10, le=4320)] | None = Field(
        None, description="Minutes between retries, 10 to 4320; default 60.")
    retry_on_voicemail: bool | None = Field(None, description="Retry calls that reached voicemail (write-only).")
    retry_on_goal_incomplete: bool | None = Field(
        None, description="Retry calls whose goal was not reached (write-only).")
    goal_completion_variable: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        None, description="A bool item of the assistant's post_call_schema (write-only).")
    mark_complete_when_no_leads: bool | None = Field(None, description="Default true.")
    phone_number_ids: Annotated[list[NumberRef], AfterValidator(_distinct)] | None = Field(
        None, description="Caller-ID rotation: E.164 numbers, \"siptrunk.NAME\", {name: ...} or ids (write-only).")
    status: Literal["started", "stopped"] | None = Field(
        None, description="started or stopped: starts or stops the campaign (real calls). Unmanaged if left out.")

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        # No update means nothing to clear: a null could only mean "left out", so it must be written so.
        if value is None:
            required = cls.model_fields[info.field_name].is_required()
            raise ValueError("is required" if required else "must not be null: leave it out for the platform's "
                             "default")
        return value

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is not None and not is_iana_timezone(value):
            raise ValueError(f"'{value}' is not an IANA time zone{did_you_mean(value, iana_timezones())}")
        return value


SETTINGS = tuple(f for f in CampaignSpec.model_fields if f != "status")


def validate_spec(data: Any) -> tuple[CampaignSpec | None, list[FieldProblem]]:
    """A campaign spec against every rule of API.md's table: all problems, each at its field path."""
    try:
        return CampaignSpec.model_validate(data, strict=True), []
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            problem = _problem_from_pydantic(item)
            if item["type"] == "extra_forbidden" and item["loc"]:
                unknown = str(item["loc"][-1])
                problem = FieldProblem(problem.path, f"unknown field '{unknown}'"
                                       f"{did_you_mean(unknown, CampaignSpec.model_fields)}", problem.kind)
            problems.append(problem)
        return None, problems


# --- the facts the generic planner reads ---

FIELDS = (
    FieldFacts("name", replace=True),
    FieldFacts("assistant_id", shown=False, replace=True, ref="assistant"),
    FieldFacts("timezone", shown=False, replace=True),
    FieldFacts("max_calls_in_parallel", replace=True, default=3),
    FieldFacts("allowed_hours_start_time", replace=True, default="00:00"),
    FieldFacts("allowed_hours_end_time", replace=True, default="23:59"),
    FieldFacts("allowed_days", replace=True, default=list(DAYS)),
    FieldFacts("max_retries", replace=True, default=3),
    FieldFacts("retry_interval", replace=True, default=60),
    FieldFacts("retry_on_voicemail", shown=False, replace=True),
    FieldFacts("retry_on_goal_incomplete", shown=False, replace=True),
    FieldFacts("goal_completion_variable", shown=False, replace=True),
    FieldFacts("mark_complete_when_no_leads", replace=True, default=True),
    FieldFacts("phone_number_ids", shown=False, replace=True, ref="number", many=True),
    FieldFacts("status"),  # changed by STATUS_ACTION, never by a body; no default: unmanaged unless set
)


# --- reading the platform's items ---

def _read_time(value: Any) -> str:
    match = _READ_TIME.fullmatch(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) > 23:
        raise Unreadable(f"expected a time H:i or H:i:s, got {_short(value)}")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _read_days(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(d, str) and d.lower() in DAYS for d in value):
        raise Unreadable(f"expected a list of days monday ... sunday, got {_short(value)}")
    return sorted({d.lower() for d in value}, key=DAYS.index)


def _read_status(value: Any) -> str:
    if value not in STATUS_READ:
        raise Unreadable(f"{_short(value)} is not a status this client knows ({', '.join(STATUS_READ)}); nothing "
                         "is started or stopped from it")
    return STATUS_READ[value]


def _required(read):
    def convert(value: Any) -> Any:
        result = read(value)
        if result is None:
            raise Unreadable("expected a value, got null")
        return result
    return convert


READERS = {
    "name": _required(_text), "max_calls_in_parallel": _required(_integer),
    "allowed_hours_start_time": _read_time, "allowed_hours_end_time": _read_time, "allowed_days": _read_days,
    "max_retries": _required(_integer),
    # Minutes are sent; the list reference's example reads 300 where seconds are meant: compared as sent.
    "retry_interval": _required(_integer),
    "mark_complete_when_no_leads": _required(_flag), "status": _read_status,
}


def read_campaign(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
    """A platform campaign -> the shown fields in manifest terms, and what could not be read."""
    values: dict[str, Any] = {}
    problems: list[ReadProblem] = []
    for name, read in READERS.items():
        if name not in item:
            problems.append(ReadProblem(name, "missing from the platform's answer"))
            continue
        try:
            values[name] = read(item[name])
        except Unreadable as error:
            problems.append(ReadProblem(name, str(error)))
    return values, problems


def create_body(fields: dict[str, Any]) -> dict[str, Any]:
    """Manifest fields, references resolved to ids (or `{"$ref": ...}` markers apply resolves) -> the create body.
    `status` is never sent: it is an action. A field left out is not sent (the platform's default)."""
    return {name: fields[name] for name in SETTINGS if fields.get(name) is not None}


# --- the platform's endpoints ---

def list_campaigns(client, parent=None) -> list[dict[str, Any]]:
    return items_of(client.request("GET", LIST_PATH), f"GET {LIST_PATH}", keys=("campaigns", "data"), named=True,
                    noun="campaign")


def create_campaign(client, body: dict[str, Any], parent=None, *, path: str = CREATE_PATH) -> dict[str, Any]:
    where = f"POST {path}"
    try:
        answer = client.request("POST", path, json=body)
    except NotFoundError as error:
        raise NotFoundError(f"{error}. Either assistant_id {body.get('assistant_id')} is not one of the account's "
                            "outbound assistants (GET /user/assistants/outbound lists them), or this platform "
                            f"creates campaigns at another path ({' or '.join(p for p in CREATE_PATHS if p != path)}"
                            "; see campaign_create_path)", status=404) from None
    except ApiError as error:
        if error.status != 403:
            raise
        raise ApiError(f"{error}. The platform answers 403 to a create when the plan's campaign limit is reached: "
                       "delete a campaign or raise the plan's limit, then apply again", status=403) from None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict) or not is_id(data.get("id")):
        raise UnknownOutcomeError(f"{where}: the platform answered success without the new campaign's id "
                                  f"({_short(answer)})", status=200)
    return data


def delete_campaign(client, campaign_id: int, parent=None) -> None:
    """Deletes the campaign and its leads (the platform stops a running one first)."""
    client.request("DELETE", DELETE_PATH.format(id=campaign_id))


# --- status: an action ---

def plan_status(wanted: Any, current: Any) -> str | None:
    """The action that brings the platform's status (manifest terms; None: not created yet, so draft) to the
    manifest's, or None."""
    if wanted not in ACTION_FOR or current == "completed" or (current or "stopped") == wanted:
        return None
    return ACTION_FOR[wanted]


_REFUSED = {
    400: {"start": "starting needs leads and balance: add leads or top up the account, then apply again",
          "stop": "the platform did not stop it"},
    403: "the campaign belongs to another account: is the API token the account's that created it?",
    404: "the campaign no longer exists on the platform (deleted outside the provisioner); refresh, then plan",
}


def run_status(client, campaign_id: int, action: str) -> str | None:
    """POST update-status; the campaign's new status in manifest terms. A refusal reads as what it means."""
    if action not in ("start", "stop"):
        raise ValueError(f"unknown campaign action {action!r}")
    verb = "starting" if action == "start" else "stopping"
    try:
        # Idempotent: starting a started campaign (or stopping a stopped one) leaves it as it is.
        answer = client.request("POST", STATUS_PATH, json={"campaign_id": campaign_id, "action": action},
                                idempotent=True)
    except ApiError as error:
        hint = _REFUSED.get(error.status)
        hint = hint.get(action) if isinstance(hint, dict) else hint
        if hint is None:
            raise
        raise type(error)(f"{verb} campaign {campaign_id} was refused: {hint} ({error})",
                          status=error.status) from None
    if not isinstance(answer, dict) or answer.get("success") is False:
        message = answer.get("message") if isinstance(answer, dict) else None
        raise ApiError(f"{verb} campaign {campaign_id}: the platform did not confirm it "
                       f"({_short(message or answer)})")
    data = answer.get("data")
    status = data.get("status") if isinstance(data, dict) else None
    return STATUS_READ.get(status)


STATUS_ACTION = Action("status", plan_status, run_status, notes={
    "start": "starts the campaign: places real calls to its leads and spends the account's balance",
    "stop": "stops the campaign: aborts the calls in progress"})


# --- rules across manifests ---

def _value(source: Any, name: str) -> Any:
    if isinstance(source, BaseModel):
        return getattr(source, name, None)
    return source.get(name) if isinstance(source, dict) else None


def assistant_problems(spec: Any, assistant: Any) -> list[tuple[tuple, str]]:
    """The campaign's rules on its assistant (API.md): outbound, and `goal_completion_variable` a `bool` item of
    its post_call_schema. `assistant` is its manifest spec (`calls_direction`, `post_call_schema` items `bool`)
    or the platform's read-shape item (`type`, items `boolean` or `bool`)."""
    problems: list[tuple[tuple, str]] = []
    shown = _short(_value(spec, "assistant_id"), 60)
    direction = _value(assistant, "calls_direction")
    direction = DIRECTION_TO_TYPE.get(direction, direction) if direction is not None else _value(assistant, "type")
    if direction == "inbound":
        problems.append((("assistant_id",), f"{shown} is an inbound assistant (it receives calls); a campaign "
                                            "needs an outbound one (calls_direction: make)"))
    variable = _value(spec, "goal_completion_variable")
    if variable is None:
        return problems
    schema = _value(assistant, "post_call_schema")
    types = {_value(i, "name"): ("bool" if _value(i, "type") in ("bool", "boolean") else _value(i, "type"))
             for i in schema or []}
    bools = sorted(n for n, t in types.items() if t == "bool")
    if schema is None:
        message = f"must name a bool item of {shown}'s post_call_schema, which sets none"
    elif variable not in types:
        listed = f"its bool items: {', '.join(bools)}" if bools else "it has no bool item"
        message = f"'{variable}' is not in {shown}'s post_call_schema ({listed}){did_you_mean(variable, bools)}"
    elif types[variable] != "bool":
        message = f"'{variable}' is a {types[variable]} item of {shown}'s post_call_schema; it must be a bool"
    else:
        return problems
    return problems + [(("goal_completion_variable",), message)]


def number_problems(numbers: list[Any]) -> list[tuple[tuple, str]]:
    """Two references that name the same number (an E.164 string and its id, say), once resolved."""
    problems, first = [], {}
    for index, number in enumerate(numbers):
        number_id = _value(number, "id") if not isinstance(number, int) else number
        if number_id is None:
            continue
        if number_id in first:
            problems.append((("phone_number_ids", index), f"is the same number as item {first[number_id]} "
                                                          f"(id {number_id}): the numbers must be distinct"))
        first.setdefault(number_id, index)
    return problems


def check_graph(spec: Any, graph: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Cross-manifest rules (base.Kind.check_graph): `graph` maps `assistant_id` to the assistant's spec or
    platform item and `phone_number_ids` to the numbers' platform items (or ids), as far as they are known."""
    problems = []
    if graph.get("assistant_id") is not None:
        problems += assistant_problems(spec, graph["assistant_id"])
    if isinstance(graph.get("phone_number_ids"), list):
        problems += number_problems(graph["phone_number_ids"])
    return problems


# --- the kind ---

def check_create_path(path: Any) -> str:
    """A configured create path: one of the spellings the references document."""
    if path not in CREATE_PATHS:
        raise ValueError(f"the campaign create path must be one of {', '.join(CREATE_PATHS)} (got {_short(path)})")
    return path


def campaign_kind(create_path: str = CREATE_PATH) -> Kind:
    """The Campaign kind, creating through `create_path` (configuration: some white-labels write
    POST /user/campaign)."""
    return Kind(
        name="campaign", manifest_kind="Campaign", title="campaign", spec_model=CampaignSpec, fields=FIELDS,
        endpoints=Endpoints(list=list_campaigns, create=partial(create_campaign, path=check_create_path(create_path)),
                            update=None, delete=delete_campaign),
        read=read_campaign, create_body=create_body, replace_loses="deletes leads", check_graph=check_graph,
        actions=(STATUS_ACTION,))


KIND = campaign_kind()
