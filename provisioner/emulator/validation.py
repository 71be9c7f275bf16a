"""Request validation for both create dialects, answering in the platform's 422 shape (Laravel's wording).

`Request.apply` turns a POST or PUT body into the next canonical record (see fields.py), or into errors keyed
by the names the client sent (nested ones dotted: `post_call_schema.0.name`).
"""
from __future__ import annotations

import copy
import functools
import re
import zoneinfo
from typing import Any, Callable
from urllib.parse import urlsplit

from . import fields as F
from .catalog import Catalog, Tenant

Errors = dict[str, list[str]]
INVALID = object()
Checker = Callable[[Any, str, Errors], Any]

MODES = ("pipeline", "multimodal", "dualplex")
TOOL_TYPES = ("call_transfer", "warm_call_transfer", "end_call", "dtmf_input", "collect_keypad",
              "calendar_integration")
AMBIENT_SOUNDS = ("off", "office", "city", "forest", "crowded_room", "cafe", "nature")


def attr(key: str) -> str:
    return key.replace("_", " ")


def _num(x: float) -> str:
    return f"{x:g}"


def add(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# --- scalar checkers (Laravel's rules, and its leniency: "5" is an integer, "1" a boolean) ---

def string(max_len: int | None = None, min_len: int | None = None, pattern: str | None = None) -> Checker:
    def check(value, key, errors):
        if not isinstance(value, str):
            return add(errors, key, f"The {attr(key)} field must be a string.") or INVALID
        if min_len is not None and max_len is not None and not min_len <= len(value) <= max_len:
            return add(errors, key, f"The {attr(key)} field must be between {min_len} and {max_len} "
                                    "characters.") or INVALID
        if max_len is not None and len(value) > max_len:
            return add(errors, key, f"The {attr(key)} field must not be greater than {max_len} characters.") \
                or INVALID
        if pattern is not None and not re.fullmatch(pattern, value):
            return add(errors, key, f"The {attr(key)} field format is invalid.") or INVALID
        return value
    return check


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _as_number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if re.fullmatch(r"-?\d+", value.strip()) else number
    return None


def integer(low: int | None = None, high: int | None = None) -> Checker:
    def check(value, key, errors):
        number = _as_int(value)
        if number is None:
            return add(errors, key, f"The {attr(key)} field must be an integer.") or INVALID
        if low is not None and high is not None and not low <= number <= high:
            return add(errors, key, f"The {attr(key)} field must be between {low} and {high}.") or INVALID
        return number
    return check


def number(low: float, high: float) -> Checker:
    def check(value, key, errors):
        parsed = _as_number(value)
        if parsed is None:
            return add(errors, key, f"The {attr(key)} field must be a number.") or INVALID
        if not low <= parsed <= high:
            return add(errors, key, f"The {attr(key)} field must be between {_num(low)} and {_num(high)}.") \
                or INVALID
        return parsed
    return check


def boolean(value, key, errors):
    if value in (True, False) and isinstance(value, (bool, int)):
        return bool(value)
    if value in ("0", "1"):
        return value == "1"
    return add(errors, key, f"The {attr(key)} field must be true or false.") or INVALID


def one_of(*choices: str) -> Checker:
    def check(value, key, errors):
        if not isinstance(value, str) or value not in choices:
            return add(errors, key, f"The selected {attr(key)} is invalid.") or INVALID
        return value
    return check


def timezone(value, key, errors):
    if not isinstance(value, str):
        return add(errors, key, f"The {attr(key)} field must be a string.") or INVALID
    if value not in _zones():
        return add(errors, key, f"The {attr(key)} field must be a valid timezone.") or INVALID
    return value


def url(value, key, errors):
    if not isinstance(value, str):
        return add(errors, key, f"The {attr(key)} field must be a string.") or INVALID
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        return add(errors, key, f"The {attr(key)} field must be a valid URL.") or INVALID
    return value


def mapping(value, key, errors):
    """A JSON object (PHP's empty array `[]` counts as an empty one)."""
    if value == []:
        return {}
    if not isinstance(value, dict):
        return add(errors, key, f"The {attr(key)} field must be an array.") or INVALID
    return value


def array(value, key, errors):
    if not isinstance(value, list):
        return add(errors, key, f"The {attr(key)} field must be an array.") or INVALID
    return value


def integer_list(value, key, errors):
    if array(value, key, errors) is INVALID:
        return INVALID
    out = [integer()(item, f"{key}.{i}", errors) for i, item in enumerate(value)]
    return INVALID if INVALID in out else out


def variables(value, key, errors):
    return mapping(value, key, errors)


def nested(item: dict, key: str, errors: Errors, rules: dict[str, tuple[Checker, bool]]) -> dict | object:
    """Check an object's keys: rules are (checker, required); other keys are kept as sent."""
    ok = True
    out = dict(item)
    for name, (checker, required) in rules.items():
        sub = f"{key}.{name}"
        if item.get(name) is None:
            if required:
                add(errors, sub, f"The {attr(sub)} field is required.")
                ok = False
            continue
        value = checker(item[name], sub, errors)
        if value is INVALID:
            ok = False
        else:
            out[name] = value
    return out if ok else INVALID


def post_call_schema(dialect: str) -> Checker:
    if dialect == "v2":
        rules = {"name": (string(16, 3, r"[a-z0-9_]+"), True), "type": (one_of("string", "number", "bool"), True),
                 "description": (string(255, 3), True)}
    else:
        rules = {"name": (string(pattern=r"[A-Za-z0-9_]+"), True),
                 "type": (one_of("string", "number", "bool"), True), "description": (string(), True)}

    def field(item, sub, errors):
        checked = nested(item, sub, errors, rules)
        return INVALID if checked is INVALID else {k: checked[k] for k in ("name", "type", "description")}

    return lambda value, key, errors: objects_of(value, key, errors, field)


def objects_of(value, key, errors, check_item: Callable[[dict, str, Errors], Any]):
    """A list of objects (Laravel's `array` of arrays), each checked by `check_item(item, its key, errors)`."""
    if array(value, key, errors) is INVALID:
        return INVALID
    out = []
    for i, item in enumerate(value):
        sub = f"{key}.{i}"
        if not isinstance(item, dict):
            add(errors, sub, f"The {attr(sub)} field must be an array.")
            out.append(INVALID)
            continue
        out.append(check_item(item, sub, errors))
    return INVALID if INVALID in out else out


def end_call_tool(value, key, errors):
    if mapping(value, key, errors) is INVALID:
        return INVALID
    value = value or {}
    checked = nested(value, key, errors, {"description": (string(500), False)})
    if checked is INVALID:
        return INVALID
    return {"description": checked["description"]} if checked.get("description") is not None else {}


TOOL_RULES: dict[str, dict[str, tuple[Checker, bool]]] = {
    "call_transfer": {"phone_number": (string(50), True), "description": (string(500), False),
                      "timezone": (timezone, False), "warm_transfer": (boolean, False),
                      "warm_transfer_message": (string(1000), False)},
    "warm_call_transfer": {"supervisor_phone": (string(50), True), "outbound_phone_id": (integer(), True),
                           "description": (string(500), True)},
    "end_call": {"description": (string(500), False)},
    "dtmf_input": {"description": (string(500), False)},
    "collect_keypad": {"timeout": (integer(1, 30), False), "stop_key": (one_of("#", "*"), False)},
    "calendar_integration": {"calcom_api_key": (string(255), True), "calcom_event_slug": (string(255), True)},
}


def tools(value, key, errors):
    return objects_of(value, key, errors, _tool)


def _tool(item, sub, errors):
    if item.get("type") is None:
        add(errors, f"{sub}.type", f"The {attr(sub)}.type field is required.")
        return INVALID
    if item["type"] not in TOOL_TYPES:
        add(errors, f"{sub}.type", f"The selected {attr(sub)}.type is invalid.")
        return INVALID
    return nested(item, sub, errors, TOOL_RULES[item["type"]])


def filler_config(value, key, errors):
    if mapping(value, key, errors) is INVALID:
        return INVALID
    out, ok = {}, True
    for name in ("positive", "negative", "question", "neutral"):
        if value.get(name) is None:
            continue
        sub = f"{key}.{name}"
        if array(value[name], sub, errors) is INVALID:
            ok = False
            continue
        items = [string(255)(s, f"{sub}.{i}", errors) for i, s in enumerate(value[name])]
        ok = ok and INVALID not in items
        out[name] = items
    return out if ok else INVALID


def rules_for(dialect: str) -> dict[str, Checker]:
    v2 = dialect == "v2"
    return {
        # shared
        "voice_id": integer(), "phone_number_id": integer(), "timezone": timezone,
        "initial_message": string(200) if v2 else string(), "system_prompt": string(),
        "tool_ids": integer_list, "endpoint_type": one_of("vad", "ai"),
        "endpoint_sensitivity": number(0, 5), "interrupt_sensitivity": number(0, 5),
        "ambient_sound_volume": number(0, 1), "post_call_evaluation": boolean,
        "send_webhook_only_on_completed": boolean, "include_recording_in_webhook": boolean,
        "is_webhook_active": boolean, "webhook_url": url, "use_min_interrupt_words": boolean,
        "min_interrupt_words": integer(0, 10), "variables": variables, "post_call_schema": post_call_schema(dialect),
        "llm_temperature": number(0, 1), "voice_stability": number(0, 1), "voice_similarity": number(0, 1),
        "speech_speed": number(0.7, 1.2), "allow_interruptions": boolean, "end_call_on_voicemail": boolean,
        "max_silence_duration": integer(1, 360) if v2 else integer(1, 120),
        # v1
        "assistant_name": string(255), "language": string(100), "llm_model": string(100),
        "calls_direction": one_of("receive", "make"), "engine_type": one_of("pipeline", "multimodal"),
        "filler_audios": boolean, "record_call": boolean, "noise_cancellation": boolean,
        "re_engagement_interval": integer(7, 600), "max_call_duration": integer(20, 1200),
        "who_speaks_first": one_of("AI assistant", "Customer"), "end_call_tool": end_call_tool,
        # v2
        "name": string(255), "language_id": integer(), "type": one_of("inbound", "outbound"),
        "mode": one_of(*MODES), "llm_model_id": integer(), "multimodal_model_id": integer(),
        "fillers": boolean, "record": boolean, "enable_noise_cancellation": boolean, "wait_for_customer": boolean,
        "max_duration": integer(20, 1200), "reengagement_interval": integer(7, 600), "tools": tools,
        "secondary_language_ids": integer_list, "knowledgebase_id": integer(),
        "knowledgebase_mode": one_of("function_call", "prompt"), "tts_emotion_enabled": boolean,
        "synthesizer_provider_id": integer(), "transcriber_provider_id": integer(),
        "chat_llm_fallback_id": integer(), "turn_detection_threshold": number(0, 1),
        "filler_config": filler_config, "max_initial_silence_duration": integer(1, 120),
        "ringing_time": integer(1, 60), "reengagement_prompt": string(1000), "voice_mail_message": string(1000),
        "ambient_sound": one_of(*AMBIENT_SOUNDS), "conversation_inactivity_timeout": integer(1, 1440),
        "conversation_ended_retrigger": boolean, "conversation_ended_webhook_url": url,
        "folder_id": integer(), "label_ids": integer_list,
    }


RULES = {"v1": rules_for("v1"), "v2": rules_for("v2")}
ALL_REQUIRED = frozenset(F.REQUIRED["v1"]) | frozenset(F.REQUIRED["v2"])
V2_TO_V1 = {v: k for k, v in F.V1_RENAMES.items()}


def detect_dialect(sent: set[str], stored_dialect: str | None) -> str:
    """Which dialect's rules a body is checked with (API.md's tables name the fields of each)."""
    if sent & F.V1_ONLY:
        return "v1"
    if sent & F.V2_ONLY:
        return "v2"
    return stored_dialect or "v1"


class Request:
    """One create (existing=None) or update of an assistant."""

    def __init__(self, catalog: Catalog, tenant: Tenant, server_dialect: str, owned: "Owned"):
        self.catalog = catalog
        self.tenant = tenant
        self.server_dialect = server_dialect
        self.owned = owned

    def apply(self, body: Any, existing: dict | None) -> tuple[dict | None, str, Errors]:
        """(the new canonical record, the body's dialect, errors)."""
        sent = {k: _blank_to_null(v) for k, v in body.items() if k in F.KNOWN} if isinstance(body, dict) else {}
        errors: Errors = {}
        stored_dialect = existing["dialect"] if existing else None
        if self.server_dialect in ("v1", "v2"):
            dialect = self.server_dialect
            foreign = sorted(sent.keys() & (F.V2_ONLY if dialect == "v1" else F.V1_ONLY))
            expected = ", ".join(F.REQUIRED[dialect])
            for key in foreign:
                add(errors, key, f"The {key} field is not part of the {dialect} create dialect this platform "
                                 f"takes ({expected}, and its optional fields).")
                del sent[key]
        else:
            v1, v2 = sorted(sent.keys() & F.V1_ONLY), sorted(sent.keys() & F.V2_RENAMED)
            if existing is None and v1 and v2:
                for key in v1 + v2:
                    add(errors, key, f"The {key} field cannot be combined: this body mixes the v1 create dialect "
                                     f"({', '.join(v1)}) with the v2 one ({', '.join(v2)}); send one of them.")
                return None, "v1", errors
            for key in v1:
                twins = [t for t in (F.V1_RENAMES[key], "multimodal_model_id" if key == "llm_model" else None)
                         if t in sent]
                for twin in twins:
                    add(errors, key, f"The {key} field cannot be sent together with {twin}.")
            dialect = detect_dialect(set(sent), stored_dialect) if existing else (
                "v2" if v2 or (sent.keys() & F.V2_SETTINGS and not v1) else "v1")
        rules = RULES[dialect]
        values: dict[str, Any] = {}
        for key, value in sent.items():
            if value is None:
                if key in ALL_REQUIRED:
                    add(errors, key, f"The {attr(key)} field is required.")
                else:
                    values[key] = None
                continue
            checked = rules[key](value, key, errors)
            if checked is not INVALID:
                values[key] = checked
        if existing is None:
            for key in F.REQUIRED[dialect]:
                if key not in sent:
                    add(errors, key, f"The {attr(key)} field is required.")
        record = self._merge(values, existing, errors)
        self._platform_rules(record, sent, dialect, existing, errors)
        return (None if errors else record), dialect, errors

    # --- building the record ---

    def _merge(self, values: dict[str, Any], existing: dict | None, errors: Errors) -> dict[str, Any]:
        record = F.blank_record() if existing is None else {**F.blank_record(), **copy.deepcopy(existing["fields"])}
        new_mode = values.get("mode") or values.get("engine_type")
        if existing is not None and new_mode and new_mode != record.get("mode"):
            F.reset_for_mode(record, new_mode)
        for key, value in values.items():
            if key in ("end_call_tool", "llm_model"):
                continue
            canon = F.V1_RENAMES.get(key, key)
            if value is None:
                record[canon] = F.default(canon)
            elif key == "language":
                language = self.catalog.language_named(value)
                if language is None:
                    add(errors, key, "The selected language is invalid.")
                else:
                    record["language_id"] = language.id
            elif key == "calls_direction":
                record["type"] = "inbound" if value == "receive" else "outbound"
            elif key == "who_speaks_first":
                record["wait_for_customer"] = value == "Customer"
            else:
                record[canon] = value
        if "end_call_tool" in values:
            record["tools"] = _with_end_call(record.get("tools") or [], values["end_call_tool"])
        if values.get("llm_model") is not None and record.get("mode") in MODES:
            self._resolve_llm_model(record, values["llm_model"], errors)
        return record

    def _resolve_llm_model(self, record: dict, name: str, errors: Errors) -> None:
        record["llm_model"] = name
        if self.catalog.models is None:
            return
        mode = record.get("mode")
        model = self.catalog.model_named(name, "llm" if mode == "pipeline" else mode)
        if model is None:
            add(errors, "llm_model", "The selected llm model is invalid.")
        elif model.type == "llm":
            record["llm_model_id"], record["multimodal_model_id"] = model.id, None
        else:
            record["llm_model_id"], record["multimodal_model_id"] = None, model.id

    # --- rules across fields, on the record as it would be ---

    def _platform_rules(self, record: dict, sent: dict, dialect: str, existing: dict | None,
                        errors: Errors) -> None:
        catalog, mode = self.catalog, record.get("mode")

        def key(canon: str) -> str:
            """The name the client used for a field, else its dialect's name for it."""
            v1_name = V2_TO_V1.get(canon)
            if canon in sent:
                return canon
            if v1_name and v1_name in sent:
                return v1_name
            return v1_name if dialect == "v1" and v1_name else canon

        def fine(*keys: str) -> bool:
            return not errors or not any(k in errors for k in keys)

        mode_key = "engine_type" if "engine_type" in sent or (dialect == "v1" and "mode" not in sent) else "mode"
        if mode not in MODES:
            return
        when_mode = f"when {attr(mode_key)} is {mode}"

        # The model of the mode.
        model_field = "llm_model_id" if mode == "pipeline" else "multimodal_model_id"
        has_model = record.get(model_field) is not None or (catalog.models is None and record.get("llm_model"))
        if not has_model and fine("llm_model", model_field):
            if dialect == "v1" and "multimodal_model_id" not in sent and "llm_model_id" not in sent:
                add(errors, "llm_model", "The llm model field is required.")
            else:
                add(errors, model_field, f"The {attr(model_field)} field is required {when_mode}.")
        if catalog.models is not None:
            if sent.get("llm_model_id") is not None and fine("llm_model_id") and \
                    catalog.model(record["llm_model_id"], ("llm",)) is None:
                add(errors, "llm_model_id", "The selected llm model id is invalid.")
            if sent.get("multimodal_model_id") is not None and fine("multimodal_model_id"):
                kinds = (mode,) if mode != "pipeline" else ("multimodal", "dualplex")
                if catalog.model(record["multimodal_model_id"], kinds) is None:
                    add(errors, "multimodal_model_id", "The selected multimodal model id is invalid.")
            if sent.get("chat_llm_fallback_id") is not None and fine("chat_llm_fallback_id") and \
                    catalog.model(record["chat_llm_fallback_id"], ("llm",)) is None:
                add(errors, "chat_llm_fallback_id", "The selected chat llm fallback id is invalid.")

        # The voice, and that it suits the mode.
        if record.get("voice_id") is not None and fine("voice_id"):
            voice = catalog.voice(record["voice_id"])
            if voice is None:
                add(errors, "voice_id", "The selected voice id is invalid.")
            elif not voice.suits(mode):
                add(errors, "voice_id", f"The selected voice is not compatible with the chosen engine type "
                                        f"({mode}).")

        if sent.get("language_id") is not None and fine("language_id") and \
                catalog.language(record["language_id"]) is None:
            add(errors, "language_id", "The selected language id is invalid.")
        if sent.get("secondary_language_ids") and fine("secondary_language_ids"):
            for i, language_id in enumerate(record["secondary_language_ids"]):
                if catalog.language(language_id) is None:
                    add(errors, f"secondary_language_ids.{i}", f"The selected secondary language ids.{i} is invalid.")

        # Mode rules.
        if mode != "pipeline":
            if record.get("fillers") and fine(key("fillers")):
                add(errors, key("fillers"), f"The {attr(key('fillers'))} field is prohibited {when_mode}.")
            if record.get("filler_config") and fine("filler_config"):
                add(errors, "filler_config", f"The filler config field is prohibited {when_mode}.")
            if record.get("allow_interruptions") is False and fine("allow_interruptions"):
                add(errors, "allow_interruptions", f"The allow interruptions field must be accepted {when_mode}.")
            if record.get("transcriber_provider_id") is not None and fine("transcriber_provider_id"):
                add(errors, "transcriber_provider_id", f"The transcriber provider id field is prohibited {when_mode}.")
            if record.get("knowledgebase_mode") == "prompt" and fine("knowledgebase_mode"):
                add(errors, "knowledgebase_mode", "Only function_call mode is available for multimodal assistants.")
            elif record.get("knowledgebase_id") is not None and record.get("knowledgebase_mode") is None \
                    and fine("knowledgebase_mode"):
                add(errors, "knowledgebase_mode", f"The knowledgebase mode field is required {when_mode}.")
        if mode == "multimodal" and record.get("synthesizer_provider_id") is not None \
                and fine("synthesizer_provider_id"):
            add(errors, "synthesizer_provider_id", f"The synthesizer provider id field is prohibited {when_mode}.")
        if sent.get("synthesizer_provider_id") is not None and fine("synthesizer_provider_id") and \
                catalog.synthesizer(record["synthesizer_provider_id"]) is None:
            add(errors, "synthesizer_provider_id", "The selected synthesizer provider id is invalid.")
        if sent.get("transcriber_provider_id") is not None and fine("transcriber_provider_id") and \
                catalog.transcriber(record["transcriber_provider_id"]) is None:
            add(errors, "transcriber_provider_id", "The selected transcriber provider id is invalid.")

        # The webhook.
        if record.get("is_webhook_active") and not record.get("webhook_url") and fine("webhook_url"):
            add(errors, "webhook_url", "The webhook url field is required when is webhook active is true.")

        # Phone numbers: the tenant's own; an inbound one neither a caller ID nor another inbound's.
        number_id = record.get("phone_number_id")
        if number_id is not None and fine("phone_number_id"):
            number = self.owned.number(number_id)
            if number is None:
                add(errors, "phone_number_id", "The selected phone number id is invalid.")
            elif record.get("type") == "inbound":
                own_id = existing["id"] if existing else None
                if number["type"] == "caller_id":
                    add(errors, "phone_number_id", "The selected phone number id is a caller ID number and "
                                                   "cannot receive calls: an inbound assistant needs another one.")
                elif any(holder != own_id for holder in self.owned.inbound_holders(number_id)):
                    add(errors, "phone_number_id", "The selected phone number id is already assigned to another "
                                                   "inbound assistant.")
        # Ids of the other kinds: the tenant's own objects.
        for field, kind in (("tool_ids", "tool"), ("label_ids", "label")):
            if sent.get(field) and fine(field):
                for i, object_id in enumerate(record[field]):
                    if not self.owned.has(kind, object_id):
                        add(errors, f"{field}.{i}", f"The selected {attr(field)}.{i} is invalid.")
        for field, kind in (("knowledgebase_id", "knowledgebase"), ("folder_id", "folder")):
            if sent.get(field) is not None and fine(field) and not self.owned.has(kind, record[field]):
                add(errors, field, f"The selected {attr(field)} is invalid.")
        for i, tool in enumerate(record.get("tools") or []):
            if isinstance(tool, dict) and tool.get("type") == "warm_call_transfer" and "tools" in sent:
                sub = f"tools.{i}.outbound_phone_id"
                if fine(sub) and self.owned.number(tool.get("outbound_phone_id")) is None:
                    add(errors, sub, f"The selected {attr(sub)} is invalid.")


class Owned:
    """The tenant's objects an assistant's fields refer to, each looked up by its id (the primary key): the
    cost of a create follows its references, not how many objects of that kind the tenant has."""

    def __init__(self, store, user_id: int):
        self.store = store
        self.user_id = user_id
        self._seen: dict[tuple[str, Any], bool] = {}

    def has(self, kind: str, object_id: Any) -> bool:
        """Whether `object_id` is one of the tenant's objects of `kind`."""
        if not isinstance(object_id, int) or isinstance(object_id, bool):
            return False
        key = (kind, object_id)
        if key not in self._seen:
            self._seen[key] = self.store.owns(kind, object_id, self.user_id)
        return self._seen[key]

    def number(self, number_id) -> dict | None:
        """A number the tenant may give an assistant (not one scheduled for release)."""
        row = self.store.object("phone_number", number_id if isinstance(number_id, int) else None, self.user_id)
        return row["fields"] if row and not row["fields"].get("release_scheduled") else None

    def inbound_holders(self, number_id: int) -> list[int]:
        return self.store.inbound_holders(self.user_id, number_id)


def _blank_to_null(value: Any) -> Any:
    """Laravel's ConvertEmptyStringsToNull middleware, which the platform's input goes through."""
    kind = type(value)  # JSON's own types first, without the comparisons below (a body is mostly these)
    if kind is str:
        return None if value == "" else value
    if kind is int or kind is float or kind is bool or value is None:
        return value
    if value == "":
        return None
    if isinstance(value, dict):
        return {k: _blank_to_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_to_null(v) for v in value]
    return value


def _with_end_call(tools: list, end_call: dict | None) -> list:
    """v1's end_call_tool: set, replace or (null) remove the end_call item of `tools`, keeping the others."""
    tools = list(tools)
    where = next((i for i, t in enumerate(tools)
                  if (isinstance(t, dict) and t.get("type") == "end_call") or t == "end_call"), None)
    if end_call is None:
        return [t for i, t in enumerate(tools) if i != where]
    item = {"type": "end_call", **end_call}
    if where is None:
        tools.append(item)
    else:
        tools[where] = item
    return tools


def check_fields(body: Any, rules: dict[str, tuple[Checker, bool]], creating: bool) -> tuple[dict[str, Any], Errors]:
    """The fields of a create (creating) or partial update of another kind: (the checked values sent, errors).

    `rules` are (checker, required on create); an update may omit anything, and a required field sent as null
    is refused. Empty strings count as null (Laravel's ConvertEmptyStringsToNull)."""
    sent = {k: _blank_to_null(v) for k, v in body.items() if k in rules} if isinstance(body, dict) else {}
    errors: Errors = {}
    values: dict[str, Any] = {}
    for key, (checker, required) in rules.items():
        if sent.get(key) is None:
            if required and (creating or key in sent):
                add(errors, key, f"The {attr(key)} field is required.")
            elif key in sent:
                values[key] = None
            continue
        checked = checker(sent[key], key, errors)
        if checked is not INVALID:
            values[key] = checked
    return values, errors
