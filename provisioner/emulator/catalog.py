"""The emulator's catalogue: voices, languages and tenants, read from YAML (API.md's format)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Voice(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    name: str
    # A voice without a mode is listed under both.
    mode: Literal["pipeline", "multimodal"] | None = None


class Language(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    name: str


class PhoneNumber(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    phone_number: str
    country_code: str = "US"
    type_label: str = "Normal"
    is_available: bool = True
    # inbound or outbound; a number without one (or with another) is listed under both.
    type: str | None = None

    def listed_under(self, kind: str | None) -> bool:
        return kind is None or self.type not in ("inbound", "outbound") or self.type == kind


class Tenant(BaseModel):
    token: str = Field(min_length=1)
    user_id: int
    phone_numbers: list[PhoneNumber] = Field(default_factory=list)


class Catalog(BaseModel):
    voices: list[Voice]
    languages: list[Language]
    tenants: list[Tenant] = Field(min_length=1)

    def tenant_for_token(self, token: str) -> Tenant | None:
        return next((t for t in self.tenants if t.token == token), None)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalogue at `path`, or the shipped default."""
    if path is None:
        text = resources.files(__package__).joinpath("default_catalog.yaml").read_text(encoding="utf-8")
        source = "the default catalogue"
    else:
        text = Path(path).read_text(encoding="utf-8")
        source = str(path)
    try:
        return Catalog.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as error:
        raise ValueError(f"invalid catalogue {source}: {error}") from None
