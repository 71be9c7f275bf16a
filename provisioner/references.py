"""Plan-time checks of what a manifest points at on the platform: voices, languages, phone numbers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Problem
from .manifest import Manifest
from .spec import did_you_mean


@dataclass(frozen=True)
class Catalog:
    voices: list[dict[str, Any]]
    languages: list[dict[str, Any]]
    phone_numbers: list[dict[str, Any]]  # the user's own

    @classmethod
    def fetch(cls, client) -> "Catalog":
        return cls(client.voices(), client.languages(), client.phone_numbers())


def reference_warnings(manifests: list[Manifest], catalog: Catalog) -> list[str]:
    """Oddities the platform's contract does not forbid, worth a line in the plan."""
    modes = {v.get("id"): v.get("mode") for v in catalog.voices}
    return [f"{m.address} ({m.location('spec', 'voice_id')}): voice {m.spec.voice_id} is a {modes[m.spec.voice_id]} "
            f"voice, and engine_type is {m.spec.engine_type}"
            for m in manifests if modes.get(m.spec.voice_id) not in (None, m.spec.engine_type)]


def check_references(manifests: list[Manifest], catalog: Catalog) -> list[Problem]:
    voices = {v.get("id"): v for v in catalog.voices}
    languages = [str(lang.get("name")) for lang in catalog.languages]
    numbers = {n.get("id"): n for n in catalog.phone_numbers}
    problems = []

    def problem(manifest: Manifest, field: str, message: str) -> None:
        problems.append(Problem(message, manifest.location("spec", field), f"spec.{field}", manifest.address))

    for manifest in manifests:
        spec = manifest.spec
        if spec.voice_id not in voices:
            known = ", ".join(f"{v.get('id')} ({v.get('name')}, {v.get('mode')})" for v in catalog.voices[:12])
            problem(manifest, "voice_id", f"voice {spec.voice_id} does not exist on the platform; "
                                          f"voices: {known or 'none'}")
        if spec.language not in languages:
            problem(manifest, "language", f"language {spec.language!r} does not exist on the platform"
                                          f"{did_you_mean(spec.language, languages)}; "
                                          f"languages: {', '.join(languages[:20]) or 'none'}")
        if spec.phone_number_id is not None and spec.phone_number_id not in numbers:
            owned = ", ".join(f"{n.get('id')} ({n.get('phone_number')})" for n in catalog.phone_numbers[:12])
            problem(manifest, "phone_number_id", f"phone number {spec.phone_number_id} is not one of your "
                                                 f"phone numbers; yours: {owned or 'none'}")
    return problems
