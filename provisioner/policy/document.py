"""Policy documents (`kind: Policy`, under policies/): loaded with the file and line of every value, their form
checked, each rule's CEL compiled. Everything wrong with them comes back together as problems with file:line.

    apiVersion: provisioner/v1
    kind: Policy
    metadata:
      name: prod-guardrails
    spec:
      match: {kinds: [Assistant], workspaces: [prod], labels: {team: sales}, actions: [create, update]}
      rules:
        - name: post-call-evaluation
          expression: object.spec.post_call_evaluation == true
          message: prod assistants evaluate their calls
          severity: deny          # deny (the default) stops plan and apply; warn is shown
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Iterable, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Location, Problem
from ..kinds import ASSISTANT, KINDS, kind_of_manifest
from ..manifest import find_manifest_files, load_documents
from ..spec import did_you_mean
from .engine import CompiledRule, compile_rule
from .objects import manifest_kind

API_VERSION = "provisioner/v1"
POLICY_KIND = "Policy"
ACTIONS = ("create", "update", "import", "delete", "none")
# Without `actions`, a rule looks at every object the repository manages whatever the plan does with it (as
# `validate` does offline), except deletes: a deleted object is not "as it will be applied".
DEFAULT_ACTIONS = ("create", "update", "import", "none")
NAME = r"[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?"
# Long enough for any real rule; CEL's own parser bounds nesting (32), this bounds the text.
MAX_EXPRESSION = 4096


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Match(_Strict):
    kinds: list[str] = []
    workspaces: list[str] = []
    labels: dict[str, str] = {}
    actions: list[Literal["create", "update", "import", "delete", "none"]] = []


class _Rule(_Strict):
    name: Annotated[str, Field(pattern=f"^{NAME}$")]
    expression: Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION)]
    message: Annotated[str, Field(max_length=1000)] | None = None
    message_expression: Annotated[str | None, Field(min_length=1, max_length=MAX_EXPRESSION,
                                                    alias="messageExpression")] = None
    severity: Literal["deny", "warn"] = "deny"
    match: _Match | None = None


class _Spec(_Strict):
    match: _Match = _Match()
    rules: Annotated[list[_Rule], Field(min_length=1)]


class _Metadata(_Strict):
    name: Annotated[str, Field(pattern=f"^{NAME}$")]
    description: str | None = None


class _PolicyDocument(_Strict):
    api_version: Literal["provisioner/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    metadata: _Metadata
    spec: _Spec


@dataclass(frozen=True)
class Match:
    """Which objects a rule looks at: every list empty means any."""

    kinds: frozenset[str] = frozenset()        # kind names: assistant, tool, knowledgebase, ...
    workspaces: frozenset[str] = frozenset()
    labels: tuple[tuple[str, str], ...] = ()
    actions: frozenset[str] = frozenset(DEFAULT_ACTIONS)

    def selects(self, kind: str, labels: dict[str, str], workspace: str | None, action: str | None) -> bool:
        """`action` None: offline (validate), where only rules that do not name actions are checked."""
        if self.kinds and kind not in self.kinds:
            return False
        if self.workspaces and workspace not in self.workspaces:
            return False
        if any(labels.get(k) != v for k, v in self.labels):
            return False
        return action in self.actions if action is not None else self.actions == frozenset(DEFAULT_ACTIONS)


@dataclass(frozen=True)
class Rule:
    policy: str                # metadata.name of its policy
    name: str
    severity: str              # deny | warn
    match: Match
    location: Location         # the rule's `expression` in the policy file
    compiled: CompiledRule = field(repr=False, compare=False)
    message: str | None = None

    @property
    def id(self) -> str:
        return f"{self.policy}/{self.name}"


def load_policies(paths: Iterable[str]) -> tuple[list[Rule], list[Problem]]:
    """The rules of every policy file under `paths` (missing paths: no policies), and every problem found."""
    problems: list[Problem] = []
    existing = [p for p in paths if Path(p).exists()]
    files = find_manifest_files(existing, problems)
    documents, read_problems = load_documents(files)
    problems += read_problems
    rules: list[Rule] = []
    seen: dict[str, Location] = {}
    for document in documents:
        if document.content is None:
            continue
        found, doc_problems = _rules_of(document)
        problems += doc_problems
        for rule in found:
            if rule.id in seen:
                problems.append(Problem(f"rule {rule.id} is also defined at {seen[rule.id]}", rule.location))
                continue
            seen[rule.id] = rule.location
            rules.append(rule)
    return rules, problems


def _rules_of(document) -> tuple[list[Rule], list[Problem]]:
    content = document.content
    where = document.locate
    if not isinstance(content, dict) or content.get("kind") != POLICY_KIND:
        kind = content.get("kind") if isinstance(content, dict) else None
        return [], [Problem(f"a policy file holds `kind: {POLICY_KIND}` documents (got kind {kind!r})",
                            where(("kind",)) if kind is not None else where(()))]
    try:
        parsed = _PolicyDocument.model_validate(content)
    except ValidationError as error:
        return [], [Problem(_said(e), where(_raw_path(e["loc"])),
                            ".".join(map(str, _raw_path(e["loc"]))))
                    for e in error.errors(include_url=False)]
    problems: list[Problem] = []
    rules: list[Rule] = []
    default = _match_of(parsed.spec.match, where(("spec", "match")), problems)
    names: set[str] = set()
    for index, raw in enumerate(parsed.spec.rules):
        path = ("spec", "rules", index)
        if raw.name in names:
            problems.append(Problem(f"two rules are named {raw.name!r}", where(path + ("name",))))
            continue
        names.add(raw.name)
        match = _match_of(raw.match, where(path + ("match",)), problems) if raw.match is not None else default
        location = where(path + ("expression",))
        compiled, errors = compile_rule(raw.expression, raw.message_expression)
        for part, message in errors:
            key = "expression" if part == "expression" else "messageExpression"
            problems.append(Problem(f"rule {parsed.metadata.name}/{raw.name}: {key} {message}",
                                    where(path + (key,))))
        if errors:
            continue
        rules.append(Rule(parsed.metadata.name, raw.name, raw.severity, match, location, compiled, raw.message))
    return rules, problems


def _match_of(raw: _Match, location: Location, problems: list[Problem]) -> Match:
    kinds = set()
    # The names an object's `kind` reads (objects.manifest_kind): `Document` too, a kind with no manifest of
    # its own, which docs/policies.md names as an object's kind and a rule may therefore match on.
    shown = {manifest_kind(name): name for name in [ASSISTANT, *KINDS]}
    for word in raw.kinds:
        kind = kind_of_manifest(word) or shown.get(word) or (word if word == ASSISTANT or word in KINDS else None)
        if kind is None:
            known = ", ".join(sorted(shown))
            problems.append(Problem(f"match.kinds: {word!r} is not a kind (one of {known}, or their lowercase "
                                    "address names)", location))
            continue
        kinds.add(kind)
    return Match(frozenset(kinds), frozenset(raw.workspaces), tuple(sorted(raw.labels.items())),
                 frozenset(raw.actions or DEFAULT_ACTIONS))


def _raw_path(loc: tuple) -> tuple:
    """pydantic's path, with aliases (apiVersion, messageExpression) as the file writes them."""
    return tuple("apiVersion" if p == "api_version" else "messageExpression" if p == "message_expression" else p
                 for p in loc)


def _said(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        # Said of a rule's keys wherever the unknown key was (`spek:`, metadata's, a match's): the keys of the
        # mapping that holds it, and the near miss among them.
        *where, key = _raw_path(error["loc"])
        keys = _keys_at(tuple(where))
        return f"unknown key {str(key)!r}{did_you_mean(str(key), keys)} (the keys here: {', '.join(keys)})"
    if error["type"] == "missing":
        return "is required"
    return re.sub(r"^Value error, ", "", error["msg"])


def _keys_at(path: tuple) -> list[str]:
    """The keys a policy document allows in the mapping at `path`, as the file writes them (apiVersion)."""
    model: type[BaseModel] = _PolicyDocument
    for part in path:
        if isinstance(part, str):
            found = next(f for name, f in model.model_fields.items() if part in (name, f.alias))
            model = _model_in(found.annotation) or model
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation) -> type[BaseModel] | None:
    """The model a field's annotation holds (`_Match | None`, `list[_Rule]`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, get_args(annotation))), None)
