"""Mid-call tools (`kind: Tool`, API.md "Mid-call tools"): an HTTP request the assistant may make during a call.

The manifest takes the fields of API.md's table only, with the rules that hold on every platform (the newer
reference's extras, `body_format`, `static_fields`, a parameter's `required`, are not on every platform):

    spec:
      name: order_lookup            # lowercase letters and underscores, starting with a letter, at most 64
      description: Look up an order's status by its number.
      endpoint: https://api.example.com/orders/{order_id}/status
      method: GET
      timeout: 10                   # seconds, 1-30 (default 10)
      headers:                      # header name -> value; values are secret (usually ${env.X})
        Authorization: "Bearer ${env.ORDERS_API_KEY}"
      schema:
        - {name: order_id, type: string, description: The order number the caller gives.}

Headers are a mapping, not the platform's list of `{name, value}`: a header name is not secret and a value is,
so the field is sensitive with its keys shown (`keys_shown`): state keeps a digest per header and a plan says
"Authorization (changed)", never the value. The platform shows header values back in clear; a header read
without a `value` is UNKNOWN (no drift), as API.md says a client must treat it.
"""
# Annotations as written, not postponed: see kinds/base.py (the models' fields).
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationInfo, WithJsonSchema, field_validator

from ..errors import ApiError, RejectedError
from ..patterns import LazyPattern
from . import answers
from .answers import item_of, items_of
from .base import UNKNOWN, Endpoints, FieldFacts, Kind, ReadProblem, text

PATH = "/user/tools"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NAME_PATTERN = r"^[a-z][a-z_]*$"              # the older references' rule, within the newer one's
PARAMETER_PATTERN = r"^[A-Za-z][A-Za-z_]*$"
MAX_URL = 2048                                 # the newer reference's cap on endpoint and header values
# An HTTP header name (RFC 9110 token): anything else breaks the request the platform makes mid-call.
HEADER_NAME = LazyPattern(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# `{param}` in the endpoint, not the newer platforms' `{{variable}}`.
PLACEHOLDER = LazyPattern(r"(?<!\{)\{([^{}]*)\}(?!\})")


def _endpoint(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string: an http:// or https:// URL")
    if len(value) > MAX_URL:
        raise ValueError(f"must be at most {MAX_URL} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("must be a valid http:// or https:// URL, without spaces")
    return value


def _header_value(value: Any) -> str:
    """A header value is a credential: these messages never quote it (ValueError: no "(got ...)" is added)."""
    if not isinstance(value, str):
        raise ValueError("a header value must be a string")
    if not value:
        raise ValueError("a header value must not be empty (the platform reads \"\" as missing)")
    if len(value) > MAX_URL:
        raise ValueError(f"a header value must be at most {MAX_URL} characters")
    if "\r" in value or "\n" in value:
        raise ValueError("a header value must not contain a line break")
    return value


HeaderValue = Annotated[str, PlainValidator(_header_value),
                        WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_URL})]
Endpoint = Annotated[str, PlainValidator(_endpoint),
                     WithJsonSchema({"type": "string", "format": "uri", "maxLength": MAX_URL})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)  # see base.py


class Parameter(_Strict):
    """One parameter the model fills from the conversation."""

    name: Annotated[str, Field(json_schema_extra={"pattern": PARAMETER_PATTERN, "minLength": 2, "maxLength": 32},
                               description="2-32 letters and underscores, starting with a letter.")]
    type: Literal["string", "number", "boolean"]
    description: text(3, 255)

    @field_validator("name")
    @classmethod
    def _parameter_name(cls, value: str) -> str:
        if not 2 <= len(value) <= 32 or not re.fullmatch(PARAMETER_PATTERN, value):
            raise ValueError("must be 2-32 letters and underscores, starting with a letter, such as order_id")
        return value


class ToolSpec(_Strict):
    """A mid-call tool's manifest spec."""

    # `schema` is the platform's word; in Python it would shadow BaseModel.schema.
    model_config = ConfigDict(extra="forbid", strict=True, validate_by_alias=True, validate_by_name=True,
                              serialize_by_alias=True, defer_build=True)

    name: Annotated[str, Field(json_schema_extra={"pattern": NAME_PATTERN, "maxLength": 64},
                               description="Lowercase letters and underscores, starting with a letter; at most "
                                           "64 characters (the rule every platform takes).")]
    description: Annotated[text(1, 255), Field(description="When and how the model should use the tool.")]
    # Before the endpoint, whose {param}s must name its parameters (a field validator sees earlier fields).
    parameters: Annotated[list[Parameter], Field(alias="schema", description=(
        "What the model fills from the conversation; {name} in the endpoint takes that parameter's value."))] = []
    endpoint: Endpoint
    method: Literal[METHODS]  # type: ignore[valid-type]
    timeout: Annotated[int, Field(ge=1, le=30, description="Seconds.")] = 10
    headers: Annotated[dict[str, HeaderValue], Field(repr=False, description=(
        "Header name -> value. Values are secret: write them as ${env.NAME}."))] = {}

    @field_validator("name")
    @classmethod
    def _tool_name(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value) or len(value) > 64:
            raise ValueError("must be lowercase letters and underscores, starting with a letter, at most 64 "
                             "characters, such as get_weather")
        return value

    @field_validator("headers", mode="before")
    @classmethod
    def _headers_are_a_mapping(cls, value: Any) -> Any:
        # Every error here is a ValueError, which error reports show without the input: it holds credentials.
        if isinstance(value, list):
            raise ValueError("must be a mapping of header name to value ({Authorization: \"${env.API_KEY}\"}), "
                             "not the platform's list of {name, value}")
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of header name to value ({Authorization: \"${env.API_KEY}\"})")
        for name in value:
            if not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
                raise ValueError(f"{_quoted(name)} is not an HTTP header name (letters, digits and "
                                 "!#$%&'*+-.^_`|~)")
        seen: dict[str, str] = {}
        for name in value:
            if name.lower() in seen:
                raise ValueError(f"{name!r} and {seen[name.lower()]!r} are one header (names are "
                                 "case-insensitive)")
            seen[name.lower()] = name
        return value

    @field_validator("parameters")
    @classmethod
    def _parameters_once(cls, value: list[Parameter]) -> list[Parameter]:
        names = [p.name for p in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"parameter {twice[0]!r} is declared twice")
        return value

    @field_validator("endpoint")
    @classmethod
    def _placeholders_are_parameters(cls, value: str, info: ValidationInfo) -> str:
        if "parameters" not in info.data:
            return value   # the schema has its own errors
        names = [p.name for p in info.data["parameters"]]
        for placeholder in PLACEHOLDER.findall(value):
            if placeholder not in names:
                raise ValueError(f"{{{placeholder}}} names no parameter of the schema "
                                 f"({', '.join(names) or 'it declares none'})")
        return value


def _quoted(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


FIELDS = (
    FieldFacts("name"),
    FieldFacts("description"),
    FieldFacts("endpoint"),
    FieldFacts("method"),
    FieldFacts("timeout", default=10),
    FieldFacts("headers", sensitive=True, keys_shown=True, default={}),
    FieldFacts("schema", default=[]),
)
_SCALARS = {"name": str, "description": str, "endpoint": str, "method": str, "timeout": int}


# --- wire mapping ---

def read(item: dict[str, Any]) -> tuple[dict[str, Any], list[ReadProblem]]:
    """A tool as the platform shows it -> manifest-term values. Messages never quote a value (headers)."""
    values: dict[str, Any] = {}
    problems: list[ReadProblem] = []
    for name, wanted in _SCALARS.items():
        value = item.get(name)
        if isinstance(value, wanted) and not isinstance(value, bool):
            values[name] = value
        else:
            problems.append(ReadProblem(name, f"expected a {wanted.__name__}, got {type(value).__name__}"))
    headers = _read_headers(item.get("headers"))
    if isinstance(headers, ReadProblem):
        problems.append(headers)
    else:
        values["headers"] = headers
    schema = _read_schema(item.get("schema"))
    if isinstance(schema, ReadProblem):
        problems.append(schema)
    else:
        values["schema"] = schema
    return values, problems


def _read_headers(raw: Any) -> dict[str, Any] | ReadProblem:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        return ReadProblem("headers", f"expected a list of {{name, value}}, got {type(raw).__name__}")
    headers: dict[str, Any] = {}
    for index, header in enumerate(raw):
        if not isinstance(header, dict) or not isinstance(header.get("name"), str):
            return ReadProblem("headers", f"item {index} is not a {{name, value}} object")
        name, value = header["name"], header.get("value", UNKNOWN)
        if value is None:
            value = UNKNOWN   # masked or left out: API.md says unknown, not drift
        if name in headers:
            # The same name twice (made outside the provisioner) fits no manifest mapping: a list of the values
            # never equals a manifest's string, so it shows as drift and an update sends the mapping whole.
            previous = headers[name]
            headers[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            headers[name] = value
    return headers


def _read_schema(raw: Any) -> list[dict[str, Any]] | ReadProblem:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        return ReadProblem("schema", "expected a list of {name, type, description}")
    # Newer platforms add `required` to each parameter; the manifest does not manage it (not on every platform).
    return [{key: p.get(key) for key in ("name", "type", "description")} for p in raw]


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    body = {key: fields[key] for key in _SCALARS if fields.get(key) is not None}
    if fields.get("headers") is not None:
        body["headers"] = [{"name": name, "value": value} for name, value in fields["headers"].items()]
    if fields.get("schema") is not None:
        body["schema"] = [{"name": p["name"], "type": p["type"], "description": p["description"]}
                          for p in fields["schema"]]
    return body


def create_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The manifest's fields (`ToolSpec.model_dump()`) -> POST /user/tools body."""
    return _body(fields)


def update_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields to change -> PUT body; `headers` and `schema` replace the platform's lists whole."""
    return _body(fields)


# --- endpoints ---

class PlanLimitError(ApiError):
    """The account's plan allows no more tools: a 422 without `errors`. No retry helps."""


def list_tools(client, parent=None) -> list[dict[str, Any]]:
    return items_of(client.request("GET", PATH), f"GET {PATH}")


def create_tool(client, body: dict[str, Any], parent=None) -> dict[str, Any]:
    try:
        answer = client.request("POST", PATH, json=body)
    except RejectedError as error:
        if error.errors:
            raise
        raise PlanLimitError(
            f"POST {PATH}: the platform refused to create mid-call tool {body.get('name')!r} without naming a "
            f"field ({error.summary}). That is the account's plan limit on mid-call tools: retrying will not "
            "help; upgrade the plan or delete tools nobody uses.", status=422) from None
    return item_of(answer, f"POST {PATH}", created=True)


def update_tool(client, tool_id: int, body: dict[str, Any], parent=None) -> dict[str, Any]:
    return answers.update(client, f"{PATH}/{tool_id}", tool_id, body)


def delete_tool(client, tool_id: int, parent=None) -> None:
    answers.delete(client, f"{PATH}/{tool_id}")


KIND = Kind(
    name="tool",
    manifest_kind="Tool",
    title="mid-call tool",
    spec_model=ToolSpec,
    fields=FIELDS,
    endpoints=Endpoints(list=list_tools, create=create_tool, update=update_tool, delete=delete_tool),
    read=read,
    create_body=create_body,
    update_body=update_body,
    name_field="name",
)
