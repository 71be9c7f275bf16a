"""The emulator's catalogue: voices, languages, models, providers and tenants, read from YAML (API.md's format).

Unknown keys are ignored (and kept on voices/providers, which answer them back). Older files load too: without
`models` every model name is accepted, and without `iso_2` the code is derived from the language's name.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

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
    model_config = ConfigDict(extra="ignore")

    id: int
    phone_number: str
    country_code: str = "US"
    type_label: str = "Normal"
    # A caller-ID number shows on outbound calls and can never receive calls (no inbound assistant).
    caller_id: bool = False


class Tenant(BaseModel):
    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1)
    user_id: int
    phone_numbers: list[PhoneNumber] = Field(default_factory=list)

    def number(self, number_id) -> PhoneNumber | None:
        return next((n for n in self.phone_numbers if n.id == number_id), None)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="ignore")

    voices: list[Voice]
    languages: list[Language]
    # None: an older catalogue without models; every model name is accepted and ids read back null.
    models: list[Model] | None = None
    synthesizer_providers: list[Provider] = Field(default_factory=list)
    transcriber_providers: list[Provider] = Field(default_factory=list)
    tenants: list[Tenant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Catalog":
        tokens = [t.token for t in self.tenants]
        if len(set(tokens)) != len(tokens):
            raise ValueError("two tenants share a token")
        return self

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
        return next((m for m in self.models or () if m.type == model_type
                     and (m.name == name or (m.type != "llm" and m.code == name))), None)

    def synthesizer(self, provider_id) -> Provider | None:
        return next((p for p in self.synthesizer_providers if p.id == provider_id), None)

    def transcriber(self, provider_id) -> Provider | None:
        return next((p for p in self.transcriber_providers if p.id == provider_id), None)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalogue at `path`, or the shipped default."""
    if path is None:
        text = resources.files(__package__).joinpath("default_catalog.yaml").read_text(encoding="utf-8")
        source = "the default catalogue"
    else:
        text = Path(path).read_text(encoding="utf-8")
        source = str(path)
    try:
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError("a catalogue is a mapping with voices, languages and tenants")
        return Catalog.model_validate(data)
    except (ValidationError, yaml.YAMLError, ValueError) as error:
        raise ValueError(f"invalid catalogue {source}: {error}") from None
