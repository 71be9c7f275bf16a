"""The platform's catalogues, and the plan-time checks of what manifests point at in them.

Everything a manifest names on the platform is checked before any write:
the voice (and that it suits the engine), the language, the model (in the
models catalogue of the engine's type), the phone number (one of the user's,
and for an inbound assistant one that `?type=inbound` offers or that it already
holds, and no other inbound manifest takes), and v2's secondary languages.
Only the catalogues the manifests need are read, concurrently.
"""
from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .errors import Problem
from .manifest import Manifest
from .redaction import SENSITIVE
from .spec import did_you_mean
from .wire import MODEL_TYPE, Lookups


@dataclass
class Catalog:
    lookups: Lookups
    voices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by mode
    numbers: list[dict[str, Any]] | None = None          # the user's own (?type=outbound lists them all)
    inbound_numbers: list[dict[str, Any]] | None = None  # those an inbound assistant may take
    client: Any = field(default=None, repr=False)          # reads the models catalogues met later

    @classmethod
    def fetch(cls, client, manifests: Iterable[Manifest], *, engines: Iterable[str] = (),
              pool: ThreadPoolExecutor | None = None) -> "Catalog":
        """The catalogues these manifests (and assistants of `engines`) need, read concurrently."""
        manifests = list(manifests)
        modes = sorted({m.spec.engine_type for m in manifests})
        model_types = sorted({MODEL_TYPE[e] for e in set(modes) | set(engines)})
        wants_numbers = any(m.spec.phone_number_id is not None for m in manifests)
        wants_inbound = any(m.spec.phone_number_id is not None and m.spec.calls_direction == "receive"
                            for m in manifests)
        jobs: dict[str, Callable[[], Any]] = {"languages": client.languages}
        jobs.update({f"models:{t}": (lambda t=t: client.models(t)) for t in model_types})
        jobs.update({f"voices:{m}": (lambda m=m: client.voices(m)) for m in modes})
        if wants_numbers:
            jobs["numbers"] = lambda: client.phone_numbers("outbound")
        if wants_inbound:
            jobs["inbound"] = lambda: client.phone_numbers("inbound")
        results = _run_all(jobs, pool)
        lookups = Lookups(results["languages"], {t: results[f"models:{t}"] for t in model_types})
        return cls(lookups, {m: results[f"voices:{m}"] for m in modes}, results.get("numbers"),
                   results.get("inbound"), client)

    def voices_of_other_engines(self) -> dict[str, list[dict[str, Any]]]:
        """Every engine's voices (read now for the engines no manifest uses): to say that a voice that does not
        suit the engine belongs to another, rather than that it does not exist."""
        for mode in MODEL_TYPE:
            if mode not in self.voices and self.client is not None:
                self.voices[mode] = self.client.voices(mode)
        return self.voices

    def ensure_models(self, engines: Iterable[str]) -> None:
        """Read the models catalogues of engines met on the platform but in no manifest (to name their ids)."""
        models = self.lookups.models = self.lookups.models or {}
        for kind in sorted({MODEL_TYPE[e] for e in engines if e in MODEL_TYPE} - set(models)):
            models[kind] = self.client.models(kind)


def _run_all(jobs: dict[str, Callable[[], Any]], pool: ThreadPoolExecutor | None) -> dict[str, Any]:
    if pool is None:
        with ThreadPoolExecutor(max(1, min(8, len(jobs))), thread_name_prefix="catalog") as own:
            return _run_all(jobs, own)
    futures = {name: pool.submit(job) for name, job in jobs.items()}
    return {name: future.result() for name, future in futures.items()}


def check_references(manifests: list[Manifest], catalog: Catalog, held_numbers: dict[str, Any] | None = None,
                     released: set[int] = frozenset()) -> list[Problem]:
    """Problems with what the manifests name; `held_numbers`: address -> the number its assistant holds now;
    `released`: numbers that assistants deleted by the same plan give up first."""
    held_numbers = held_numbers or {}
    languages = [str(lang.get("name")) for lang in catalog.lookups.languages]
    owned = {n.get("id"): n for n in (catalog.numbers or []) + (catalog.inbound_numbers or [])}
    inbound_ok = {n.get("id") for n in (catalog.inbound_numbers or [])}
    inbound_takers: dict[int, list[Manifest]] = defaultdict(list)
    problems = []
    known_languages = set(languages)
    model_names: dict[str, list[str]] = {}  # engine type -> its models' names (listed once, not per manifest)
    voice_ids = _VoiceIds(catalog)

    def problem(manifest: Manifest, field: str, message: str, *path: str | int) -> None:
        if field in manifest.sensitive:  # e.g. filled from ${env.X}: the message must not quote it
            message = _without_value(message, getattr(manifest.spec, field, None), field)
        problems.append(Problem(message, manifest.location("spec", field, *path), f"spec.{field}"
                                + "".join(f"[{p}]" for p in path), manifest.address))

    for manifest in manifests:
        spec = manifest.spec
        if not voice_ids.suits(spec.engine_type, spec.voice_id):
            _check_voice(manifest, catalog, problem)
        if spec.language not in known_languages:
            problem(manifest, "language", f"language {spec.language!r} does not exist on the platform"
                                          f"{did_you_mean(spec.language, languages)}; "
                                          f"languages: {_listing(languages)}")
        for index, name in enumerate(spec.secondary_languages or []):
            if name not in known_languages:
                problem(manifest, "secondary_languages", f"language {name!r} does not exist on the platform"
                                                         f"{did_you_mean(name, languages)}", index)
        models = (catalog.lookups.models or {}).get(MODEL_TYPE[spec.engine_type])
        if models:  # a platform without a models catalogue for this engine cannot be checked against
            names = model_names.get(spec.engine_type)
            if names is None:
                names = model_names[spec.engine_type] = [str(m.get("name")) for m in models]
            if spec.llm_model not in names:
                kind = MODEL_TYPE[spec.engine_type]
                problem(manifest, "llm_model", f"model {spec.llm_model!r} is not in the platform's {kind} models "
                                               f"(engine_type {spec.engine_type}){did_you_mean(spec.llm_model, names)};"
                                               f" models: {_listing(names)}")
        number = manifest.fields.get("phone_number_id")
        if not isinstance(number, int) or isinstance(number, bool):
            continue  # unset, or an object this apply creates first ({"$ref": ...}): nothing to check yet
        if number not in owned:
            mine = [f"{n.get('id')} ({n.get('phone_number')})" for n in owned.values()]
            problem(manifest, "phone_number_id", f"phone number {number} is not one of your phone numbers; "
                                                 f"yours: {_listing(mine)}")
        elif spec.calls_direction == "receive":
            inbound_takers[number].append(manifest)
            if number not in inbound_ok and held_numbers.get(manifest.address) != number and number not in released:
                problem(manifest, "phone_number_id",
                        f"phone number {number} ({owned[number].get('phone_number')}) cannot take inbound calls "
                        "for this assistant: it is a caller-ID number or another inbound assistant holds it "
                        "(the platform's ?type=inbound list does not offer it)")
    for number, takers in sorted(inbound_takers.items()):
        for manifest in takers[1:]:
            problem(manifest, "phone_number_id", f"phone number {number} is also the inbound number of "
                                                 f"{takers[0].address!r} ({takers[0].location('spec', 'phone_number_id')});"
                                                 " an inbound number belongs to one assistant")
    return problems


class _VoiceIds:
    """Whether a voice suits an engine, as _check_voice's first test finds it (`v.get("id") == voice_id` for one
    of the engine's voices), from one set of ids per engine: a fleet's thousands of manifests name a few voices."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.ids: dict[str, set | None] = {}

    def suits(self, engine: Any, voice_id: Any) -> bool:
        """True only if a voice of `engine` has this id (False: ask _check_voice)."""
        if engine not in self.ids:
            try:
                self.ids[engine] = {v.get("id") for v in self.catalog.voices.get(engine, [])}
            except (TypeError, AttributeError):  # an id that is no key, a voice that is no mapping: ask each time
                self.ids[engine] = None
        ids = self.ids[engine]
        # A set finds an object by identity first: only for values equal to themselves (not a NaN).
        return ids is not None and type(voice_id) in _SELF_EQUAL and voice_id in ids


_SELF_EQUAL = frozenset({int, str, bool})


def _without_value(message: str, value: Any, field: str) -> str:
    if isinstance(value, str) and value:
        return message.replace(repr(value), SENSITIVE).replace(value, SENSITIVE)
    return f"the platform does not accept this value (not shown: spec.{field} is sensitive)"


def _check_voice(manifest: Manifest, catalog: Catalog, problem) -> None:
    spec = manifest.spec
    suitable = catalog.voices.get(spec.engine_type, [])
    if any(v.get("id") == spec.voice_id for v in suitable):
        return
    for mode, voices in catalog.voices_of_other_engines().items():
        voice = next((v for v in voices if v.get("id") == spec.voice_id), None)
        if voice is not None:
            problem(manifest, "voice_id", f"voice {spec.voice_id} ({voice.get('name')}) exists, but for engine_type "
                                          f"{mode}, not {spec.engine_type}: set engine_type: {mode}, or choose one "
                                          f"of the {spec.engine_type} voices: {_voices(suitable)}")
            return
    problem(manifest, "voice_id", f"voice {spec.voice_id} does not exist for engine_type {spec.engine_type}; "
                                  f"{spec.engine_type} voices: {_voices(suitable)}")


def _voices(voices: list[dict[str, Any]]) -> str:
    return _listing([f"{v.get('id')} ({v.get('name')})" for v in voices])


def _listing(items: list[str], limit: int = 12) -> str:
    if not items:
        return "none"
    more = f", and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more

