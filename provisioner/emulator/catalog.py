"""The emulator's catalogue: voices, languages, models, providers and tenants, read from YAML (API.md's format).

Unknown keys are ignored (and kept on voices/providers, which answer them back). Older files load too: without
`models` every model name is accepted, without `iso_2` the code is derived from the language's name, and without
provider lists the shipped ones are kept. A tenant may start with objects of every kind, assistants and campaigns
included (docs/emulator.md); they are checked by the same rules as the API's creates. A bad file is reported by file, line and field.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Mode = Literal["pipeline", "multimodal", "dualplex"]

# ISO 639-1 codes of common language names, for catalogues written before `iso_2` existed.
_ISO_BY_NAME = {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "portuguese": "pt", "japanese": "ja",
    "italian": "it", "dutch": "nl", "polish": "pl", "russian": "ru", "chinese": "zh", "mandarin": "zh",
    "korean": "ko", "arabic": "ar", "hindi": "hi", "turkish": "tr", "swedish": "sv", "danish": "da",
    "norwegian": "no", "finnish": "fi", "greek": "el", "czech": "cs", "romanian": "ro", "hungarian": "hu",
    "ukrainian": "uk", "hebrew": "he", "indonesian": "id", "vietnamese": "vi", "thai": "th", "malay": "ms",
}


class Voice(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    name: str
    # A voice without a mode suits every mode (older catalogues).
    mode: Mode | None = None
    # A voice without a language is listed for every language.
    language_id: int | None = None

    def suits(self, mode: str | None) -> bool:
        return self.mode is None or mode is None or self.mode == mode

    def public(self) -> dict:
        """As `GET /user/assistants/voices` answers it: current catalogues filter by mode instead of showing it."""
        return self.model_dump(exclude={"mode"}, exclude_none=True)


class Language(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    iso_2: str | None = None

    @model_validator(mode="after")
    def _derive_code(self) -> "Language":
        if self.iso_2 is None:
            self.iso_2 = _ISO_BY_NAME.get(self.name.strip().lower())
        return self

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "iso_2": self.iso_2}


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    type: Literal["llm", "multimodal", "dualplex"] = "llm"
    code: str | None = None

    def public(self) -> dict:
        item = {"id": self.id, "name": self.name}
        if self.type != "llm":
            item["code"] = self.code
        return item


class Provider(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    name: str
    code: str | None = None
    # Languages it speaks; none listed means every language.
    language_ids: list[int] | None = None

    def speaks(self, language_id: int | None) -> bool:
        return language_id is None or self.language_ids is None or language_id in self.language_ids

    def public(self) -> dict:
        return self.model_dump(exclude={"language_ids"}, exclude_none=False)


class PhoneNumber(BaseModel):
    """A number the tenant starts with; its kind is its `type_label` (`Normal`, `Caller ID`, `SIP`). A SIP trunk
    also carries the trunk's create fields (sip_username, sip_password, ...); any number may carry `nickname`,
    `sms_capable` and `region`."""
    model_config = ConfigDict(extra="allow")

    id: int
    phone_number: str
    country_code: str = "US"
    type_label: str = "Normal"
    # Older catalogues marked a caller ID with this key; `type_label: Caller ID` alone says it now.
    caller_id: bool = False


class Tenant(BaseModel):
    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1)
    user_id: int
    phone_numbers: list[PhoneNumber] = Field(default_factory=list)
    # Initial objects of the other kinds, each a create body of its kind (plus an optional `id`); a knowledge
    # base may list its `documents`. Checked by the API's own rules when the catalogue loads.
    tools: list[dict[str, Any]] = Field(default_factory=list)
    knowledgebases: list[dict[str, Any]] = Field(default_factory=list)
    folders: list[dict[str, Any]] = Field(default_factory=list)
    labels: list[dict[str, Any]] = Field(default_factory=list)
    # Initial assistants: each a create body of either dialect (plus an optional `id`), checked by the API's
    # create rules. Initial campaigns: each a campaign create body whose assistant is `assistant` (the name of an
    # initial assistant of the tenant, or its position in `assistants`, 0 for the first) or `assistant_id`.
    assistants: list[dict[str, Any]] = Field(default_factory=list)
    campaigns: list[dict[str, Any]] = Field(default_factory=list)
    # Older catalogues: ids of tools and knowledge bases the tenant owns (started as placeholder objects).
    tool_ids: list[int] = Field(default_factory=list)
    knowledgebase_ids: list[int] = Field(default_factory=list)
    # False: a number purchase answers 402 (no payment method on the account).
    payment_method: bool = True
    # False: starting a campaign answers 400 (insufficient balance).
    balance: bool = True


class Catalog(BaseModel):
    model_config = ConfigDict(extra="ignore")

    voices: list[Voice]
    languages: list[Language]
    # None: an older catalogue without models; every model name is accepted and ids read back null.
    models: list[Model] | None = None
    synthesizer_providers: list[Provider] = Field(default_factory=list)
    transcriber_providers: list[Provider] = Field(default_factory=list)
    tenants: list[Tenant] = Field(min_length=1)

    def tenant_for_token(self, token: str) -> Tenant | None:
        return next((t for t in self.tenants if t.token == token), None)

    def voice(self, voice_id) -> Voice | None:
        return next((v for v in self.voices if v.id == voice_id), None)

    def language(self, language_id) -> Language | None:
        return next((lang for lang in self.languages if lang.id == language_id), None)

    def language_named(self, name: str) -> Language | None:
        wanted = name.strip().casefold()
        return next((lang for lang in self.languages if lang.name.casefold() == wanted), None)

    def model(self, model_id, types: tuple[str, ...]) -> Model | None:
        return next((m for m in self.models or () if m.id == model_id and m.type in types), None)

    def model_named(self, name: str, model_type: str) -> Model | None:
        """A v1 `llm_model`: a model's name, or (for realtime models) its code."""
        wanted = name.casefold()   # the platform's database compares names case-insensitively
        return next((m for m in self.models or () if m.type == model_type
                     and (m.name.casefold() == wanted or (m.type != "llm" and (m.code or "").casefold() == wanted))),
                    None)

    def synthesizer(self, provider_id) -> Provider | None:
        return next((p for p in self.synthesizer_providers if p.id == provider_id), None)

    def transcriber(self, provider_id) -> Provider | None:
        return next((p for p in self.transcriber_providers if p.id == provider_id), None)


PROVIDER_KEYS = ("synthesizer_providers", "transcriber_providers")
# libyaml's loader when PyYAML was built with it: the pure-Python one takes a tenth of a second per catalogue.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Location = tuple  # a field's path in the file: ("tenants", 0, "tools", 1, "name")


def _shipped_text() -> str:
    return resources.files(__package__).joinpath("default_catalog.yaml").read_text(encoding="utf-8")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalogue at `path`, or the shipped default. A bad one raises ValueError naming the file, and each
    problem's line and field."""
    if path is None:
        text, source = _shipped_text(), "the default catalogue"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ValueError(f"invalid catalogue {source}{where}: not YAML ({getattr(error, 'problem', None) or error})"
                         ) from None
    if not isinstance(data, dict):
        raise ValueError(f"invalid catalogue {source}, line 1: a catalogue is a mapping with voices, languages and "
                         "tenants")
    if path is not None:
        shipped = yaml.load(_shipped_text(), Loader=_LOADER)
        for key in PROVIDER_KEYS:   # the platform always has providers: a file without them keeps the shipped
            if data.get(key) is None:
                data[key] = shipped[key]
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as error:
        catalog = None
        problems = [(e["loc"], e["msg"].removeprefix("Value error, ")) for e in error.errors(include_url=False)]
    else:
        from .seeds import problems as seed_problems   # the kinds' rules (their modules import this one)
        problems = _duplicate_tokens(catalog) + seed_problems(catalog)
    if problems:
        lines = [f"  line {_line(text, loc)}: {_field(loc)}: {problem}" for loc, problem in problems]
        raise ValueError(f"invalid catalogue {source}:\n" + "\n".join(lines))
    return catalog


def _duplicate_tokens(catalog: Catalog) -> list[tuple[Location, str]]:
    seen: set[str] = set()
    problems = []
    for i, tenant in enumerate(catalog.tenants):
        if tenant.token in seen:
            problems.append((("tenants", i, "token"), "two tenants share a token"))
        seen.add(tenant.token)
    return problems


def _field(loc: Location) -> str:
    return ".".join(str(part) for part in loc) or "(the whole file)"


def _line(text: str, loc: Location) -> int:
    """The line of the deepest node of `loc` present in the YAML text (1-based)."""
    node = yaml.compose(text, Loader=_LOADER)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((value for key, value in node.value if key.value == str(part)), None)
            if found is None:
                break
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1 if node is not None else 1
