"""Which addresses a run works on: --target (addresses or globs), --exclude (addresses or globs) and label
selectors as kubectl writes them (`-l team=sales,tier!=gold`). Pure: no I/O, no plan; the planner receives the
addresses chosen here (docs/selection.md).

Selector grammar (kubectl's set-based and equality-based requirements, comma-separated, all must hold):
`key=value`, `key==value`, `key!=value`, `key`, `!key`, `key in (a,b)`, `key notin (a,b)`. As in kubectl,
`key!=value` and `key notin (...)` also match objects without the label.
"""
from __future__ import annotations

import bisect
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .errors import ProvisionerError, closest_addresses
from .patterns import LazyPattern

# kubectl's label keys ([prefix/]name) and values: alphanumerics with '-', '_', '.' inside, at most 63 characters.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
KEY = LazyPattern(rf"(?:[a-z0-9](?:[a-z0-9.-]{{0,251}}[a-z0-9])?/)?{_NAME}")
VALUE = LazyPattern(rf"(?:{_NAME})?")
GLOB_CHARACTERS = frozenset("*?[")


class SelectorError(ProvisionerError):
    """A label selector that cannot be read; the message names the part and what was expected."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # "!=", "notin"

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        return f"{self.key}{self.operator}{self.values[0]}"


_TERM = LazyPattern(r"""\s*(?:
      !\s*(?P<absent>[^\s,=!()]+)                                   # !key
    | (?P<setkey>[^\s,=!()]+)\s+(?P<setop>in|notin)\s*\((?P<set>[^()]*)\)   # key in (a,b)
    | (?P<key>[^\s,=!()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,=!()]*))?  # key, key=value, key!=value
    )\s*(?:,|$)""", re.VERBOSE)


def parse_selector(text: str) -> tuple[Requirement, ...]:
    """The requirements of a selector (all must hold); SelectorError names the part it cannot read."""
    if not text.strip():
        raise SelectorError("the label selector is empty: expected requirements like team=sales,tier!=gold")
    requirements = []
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            raise SelectorError(f"cannot read the label selector {_clip(text)!r} at {_clip(text[position:])!r}: "
                                "expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b), "
                                "separated by commas")
        requirements.append(_requirement(match, text))
        position = match.end()
        if text[match.end() - 1:match.end()] == "," and position >= len(text):
            raise SelectorError(f"the label selector {_clip(text)!r} ends with a comma")
    return tuple(requirements)


def _requirement(match: re.Match, text: str) -> Requirement:
    if match.group("absent"):
        return Requirement(_key(match.group("absent"), text), "!")
    if match.group("setkey"):
        values = tuple(v.strip() for v in match.group("set").split(","))
        if values == ("",):
            raise SelectorError(f"the label selector {_clip(text)!r}: `{match.group('setkey')} "
                                f"{match.group('setop')} ()` needs at least one value")
        return Requirement(_key(match.group("setkey"), text), match.group("setop"),
                           tuple(_value(v, text) for v in values))
    key = _key(match.group("key"), text)
    if match.group("op") is None:
        return Requirement(key, "exists")
    operator = "=" if match.group("op") in ("=", "==") else "!="
    return Requirement(key, operator, (_value(match.group("value"), text),))


def _key(key: str, text: str) -> str:
    if not KEY.fullmatch(key):
        raise SelectorError(f"the label selector {_clip(text)!r}: {_clip(key)!r} is not a label key (letters, "
                            "digits, '-', '_' and '.', at most 63 characters, an optional DNS prefix and '/')")
    return key


def _value(value: str, text: str) -> str:
    if not VALUE.fullmatch(value):
        raise SelectorError(f"the label selector {_clip(text)!r}: {_clip(value)!r} is not a label value (letters, "
                            "digits, '-', '_' and '.', at most 63 characters)")
    return value


def matches(requirements: Iterable[Requirement], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)


def is_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARACTERS for c in pattern)


def expand_patterns(patterns: Iterable[str], addresses: Iterable[str], option: str) -> list[str]:
    """Each pattern as the addresses it names: a glob (fnmatch, case-sensitive) every address it matches, which
    must be one at least; a plain address itself (the planner says if it is unknown)."""
    known = sorted(set(addresses))
    found: list[str] = []
    for pattern in patterns:
        if not is_glob(pattern):
            # `assistant.x` is the assistant `x` (its address in state and plans): kept as written, an --exclude of
            # it was named as excluded and the plan changed (or destroyed) `x` all the same.
            found.append(_bare(pattern))
            continue
        # A glob matches an assistant by either form (`assistant.*` is every assistant, as `tool.*` every tool).
        matched = [a for a in _could_match(pattern, known) if fnmatch.fnmatchcase(a, pattern)
                   or ("." not in a and fnmatch.fnmatchcase(f"{ASSISTANT_PREFIX}{a}", pattern))]
        if not matched:
            raise ProvisionerError(f"{option} {_clip(pattern)!r} matches no address in the manifests or the state")
        found += matched
    return sorted(set(found))


ASSISTANT_PREFIX = "assistant."


def _could_match(pattern: str, known: list[str]) -> list[str]:
    """The addresses of `known` (sorted) that a glob can match: fnmatch matches from the start, so only those
    beginning with its text before the first wildcard (or whose `assistant.` form does), found by bisecting, so
    that thousands of globs do not each test every address (2,000 of them over 8,000 addresses: 32 million)."""
    literal = pattern[:min((pattern.index(c) for c in GLOB_CHARACTERS if c in pattern), default=len(pattern))]
    found = _starting_with(known, literal)
    if ASSISTANT_PREFIX.startswith(literal):  # `*`, `a*`, `assistant.*`: every bare address may match too
        found += [a for a in known if "." not in a]
    elif literal.startswith(ASSISTANT_PREFIX):
        found += _starting_with(known, literal.removeprefix(ASSISTANT_PREFIX))
    return list(dict.fromkeys(found))


def _starting_with(known: list[str], prefix: str) -> list[str]:
    """The addresses of `known` (sorted) that begin with `prefix`: one run of them, from where it would sort."""
    start = end = bisect.bisect_left(known, prefix)
    while end < len(known) and known[end].startswith(prefix):
        end += 1
    return known[start:end]


def _bare(address: str) -> str:
    """An assistant's address as state and plans hold it: `assistant.x` is `x`; any other address as it is."""
    rest = address.removeprefix(ASSISTANT_PREFIX)
    return rest if rest != address and "." not in rest else address


@dataclass
class Selection:
    """What a run works on. `targets`: the addresses to plan (the planner adds what they need), None for all;
    `excluded`: the addresses left out whatever the plan says; `nothing`: the selectors chose no address;
    `by_selector`: the targets are what a -l selector chose, no --target given (the views' advice fits that)."""

    targets: list[str] | None = None
    excluded: set[str] = field(default_factory=set)
    nothing: bool = False
    by_selector: bool = False

    @property
    def narrowed(self) -> bool:
        return self.targets is not None or bool(self.excluded) or self.nothing


def select(labels: Mapping[str, Mapping[str, str]], *, targets: Iterable[str] = (), excludes: Iterable[str] = (),
           selector: str | None = None) -> Selection:
    """`labels`: every address a run knows (manifests and state) -> its metadata.labels ({} when unknown).
    Targets and a selector both narrow (an address must pass both); excludes are taken out afterwards."""
    targets, excludes = list(targets), list(excludes)
    chosen: list[str] | None = None
    if targets:
        chosen = expand_patterns(targets, labels, "--target")
    if selector is not None:
        requirements = parse_selector(selector)
        picked = [a for a, found in labels.items() if matches(requirements, found or {})]
        chosen = sorted(set(picked) if chosen is None else set(picked) & set(chosen))
    excluded = set(expand_patterns(excludes, labels, "--exclude")) if excludes else set()
    excluded |= _inside(excluded, labels)
    for exclude in excludes:
        # As a glob that matches nothing: a mistyped address would leave out nothing, and change what it meant to keep.
        if not is_glob(exclude) and exclude not in labels and _bare(exclude) not in labels:
            raise ProvisionerError(f"--exclude {_clip(exclude)!r} names no address in the manifests or the state"
                                   f"{closest_addresses(exclude, labels)}")
    nothing = chosen is not None and not [a for a in chosen if a not in excluded]
    if chosen is not None:
        chosen = [a for a in chosen if a not in excluded]
    return Selection(chosen, excluded, nothing, by_selector=selector is not None and not targets)


def _inside(parents: set[str], addresses: Iterable[str]) -> set[str]:
    """The addresses declared inside these (a knowledge base's documents). An excluded object is left as it is
    whole, as a targeted one is selected whole: `destroy --exclude knowledgebase.faq` deleted its documents, and of
    a protected one (its documents protected with it) was refused for them."""
    prefixes = tuple(f"{parent}." for parent in parents if "." in parent)  # an assistant (a bare name) holds none
    return {a for a in addresses if a.startswith(prefixes)} if prefixes else set()


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
