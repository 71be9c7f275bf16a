"""`${var.NAME}` and `${env.NAME}` in manifest values, resolved on the loaded documents so every value keeps its line.

- `${var.NAME}` comes from `vars/<workspace>.yaml`, then `--var-file FILE`s, then `--var NAME=VALUE`s (later
  wins). A value that is exactly one reference takes the variable's type (number, bool, list, map); a
  reference inside a longer string is interpolated as text.
- `${env.NAME}` comes from the environment and is always secret: the spec field holding it joins the
  manifest's sensitive set, so it is masked in output and digested in state and plan files.
- `$${` is a literal `${`.
- A vars file's value may hold `${env.NAME}` (a per-workspace secret: `vars/prod.yaml` names the prod
  secret's variable); a variable holding one is as secret as `${env.NAME}` written in the manifest.

Substitution happens before spec validation, so a substituted value is checked like any other, at the
line of the reference.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .errors import Problem
from .scrub import register_secret
from .manifest import DEFAULT_LIMITS, Document, Limits, load_documents
from .patterns import LazyPattern
from .spec import did_you_mean

VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REFERENCE = LazyPattern(r"\s*(var|env)\.([A-Za-z0-9_-]+)\s*")
# Spec fields that are shown in plans and used to find an assistant: they cannot be secret.
NOT_SECRET_FIELDS = frozenset({"assistant_name"})


class TemplateError(ValueError):
    """A string whose `${...}` cannot be read."""


@dataclass(frozen=True)
class Reference:
    namespace: str  # "var" or "env"
    name: str

    def __str__(self) -> str:
        return f"${{{self.namespace}.{self.name}}}"


def parse(text: str) -> list[str | Reference]:
    """`text` as literal strings and references, in order; `$${` becomes a literal `${`."""
    parts: list[str | Reference] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
        elif text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise TemplateError("'${' is not closed by '}' (write '$${' for a literal '${')")
            inner = text[i + 2:end]
            match = _REFERENCE.fullmatch(inner)
            if not match or not (VAR_NAME if match.group(1) == "var" else ENV_NAME).fullmatch(match.group(2)):
                raise TemplateError(f"'${{{inner}}}' is not a reference: use ${{var.NAME}} or ${{env.NAME}} "
                                    "(write '$${' for a literal '${')")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Reference(match.group(1), match.group(2)))
            i = end + 1
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def escape(text: str) -> str:
    """The template that `parse` reads back as exactly `text`."""
    return text.replace("${", "$${")


def escaped(value: Any) -> Any:
    """`value` with every text in it escaped (`escape`): what a manifest must hold to read back as `value`."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {k: escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escaped(v) for v in value]
    return value


@dataclass
class Variables:
    """Variable values and where each was set (for messages)."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    # Variables whose value (from a vars file) holds ${env.NAME}: expanded where used, and as secret as ${env}.
    secret: set[str] = field(default_factory=set)

    def set(self, name: str, value: Any, origin: str) -> None:
        self.values[name] = value
        self.origins[name] = origin
        self.secret.discard(name)


@dataclass
class ExpansionBudget:
    """The characters variables may put into one file's values (--manifest-limit bytes, as for aliases): a
    variable used many times must not make a small file stand for far more, as an alias bomb cannot (a 17 KB
    manifest and a 200 KB vars file took 330 MB)."""

    limit: int
    spent: int = 0
    reported: bool = False

    def spend(self, size: int) -> bool:
        self.spent += size
        return self.spent <= self.limit


def _size(value: Any) -> int:
    """About the characters a substituted value adds: its strings' lengths, a few for any other scalar."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_size(k) + _size(v) for k, v in value.items()) + 1
    if isinstance(value, list):
        return sum(_size(v) for v in value) + 1
    return 8


_ENV_IN_TEXT = LazyPattern(r"(?<!\$)\$\{\s*env\.")
_VAR_IN_TEXT = LazyPattern(r"(?<!\$)\$\{\s*var\.[^}]{0,60}\}?")


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _check_env_references(value: Any) -> tuple[bool, str | None]:
    """Whether a vars-file value uses ${env.NAME} (per-workspace secrets), and what is wrong with it if anything.
    Other strings are literal text, except that ${var.NAME} is refused: variables are not chained, and the
    text would otherwise reach the manifest as written."""
    uses_env = False
    for text in _strings(value):
        if not _ENV_IN_TEXT.search(text):
            chained = _VAR_IN_TEXT.search(text)
            if chained:
                return False, (f"{chained.group(0)}: a variables file may use ${{env.NAME}}, not other variables "
                               "(write the value itself)")
            continue
        uses_env = True
        try:
            parts = parse(text)
        except TemplateError as error:
            return True, str(error)
        inner = next((p for p in parts if isinstance(p, Reference) and p.namespace == "var"), None)
        if inner is not None:
            return True, f"{inner}: a variables file may use ${{env.NAME}}, not other variables"
    return uses_env, None


def _expand_env(value: Any, environ: Mapping[str, str], missing: list[str]) -> Any:
    """`value` (a secret variable's) with every ${env.NAME} replaced; unset names are added to `missing`."""
    if isinstance(value, dict):
        return {key: _expand_env(item, environ, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand_env(item, environ, missing) for item in value]
    if not isinstance(value, str) or not _ENV_IN_TEXT.search(value):
        return value
    out = []
    for part in parse(value):  # checked when the file was read
        if isinstance(part, str):
            out.append(part)
        elif part.name in environ:
            register_secret(environ[part.name])  # masked in every message and view from now on
            out.append(environ[part.name])
        else:
            missing.append(part.name)
    return "".join(out)


_EMPTY_OR_NULL = frozenset({"''", '""', "~", "null", "Null", "NULL"})  # what --var reads as "" or null


def parse_var_flag(text: str) -> tuple[str, Any]:
    """`--var NAME=VALUE`: VALUE read as a YAML scalar, so `speed=1.1` is a number and `on=true` a bool."""
    name, sep, raw = text.partition("=")
    name = name.strip(" \t")  # spaces around it, not a line break or a separator (a name matches whole)
    if not sep or not VAR_NAME.fullmatch(name):
        raise ValueError(f"--var {text!r}: expected NAME=VALUE, NAME being letters, digits, '_' or '-'")
    if raw == "":
        return name, ""
    loader = yaml.SafeLoader(raw)
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    except Exception:  # noqa: BLE001 - a YAMLError, or what YAML cannot build (2026-02-30, !!int x): the text
        return name, raw  # as given, as a manifest keeps a date (a ValueError read as this flag's own problem)
    finally:
        loader.dispose()
    if node is None or raw[node.end_mark.index:].strip():
        # A `#` YAML reads as a comment (`#sales` read as null, `Room #4` as "Room"): the text as given.
        return name, raw
    if value in ("", None) and raw.strip() not in _EMPTY_OR_NULL:
        return name, raw  # YAML's syntax with no text after it (`|`, `>`, `!`): the text as given, not "" or null
    # Only scalars: a flow list or map on the command line is more often a typo than an intent.
    return name, value if isinstance(value, (str, int, float, bool)) or value is None else raw


def load_variables(var_files: Iterable[str | Path], var_flags: Iterable[str], auto_file: Path | None = None,
                   limits: Limits = DEFAULT_LIMITS) -> tuple[Variables, list[Problem]]:
    """Variables from the workspace's file (when it exists), the --var-files, then the --vars; later wins."""
    variables = Variables()
    problems: list[Problem] = []
    files = ([auto_file] if auto_file is not None and auto_file.is_file() else [])
    for given in var_files:
        path = Path(given)
        if not path.is_file():
            what = "not a regular file" if path.exists() else "no such file"  # /dev/zero, a folder, a FIFO
            problems.append(Problem(f"--var-file {given}: {what}"))
        else:
            files.append(path)
    documents = []
    for file in files:  # one at a time: the same file may be given twice (vars/<workspace>.yaml and --var-file)
        found, read_problems = load_documents([file], limits)
        problems += read_problems
        for extra in found[1:]:  # a second document would silently win over the first
            problems.append(Problem("a variables file must be one mapping of NAME: value, not several YAML "
                                    "documents (`---`)", extra.locate()))
        documents += found[:1]
    for document in documents:
        if not isinstance(document.content, dict):
            problems.append(Problem("a variables file must be one mapping of NAME: value", document.locate()))
            continue
        for name, value in document.content.items():
            where = document.locate((name,))
            if not isinstance(name, str) or not VAR_NAME.fullmatch(name):
                problems.append(Problem(f"invalid variable name {name!r}: use letters, digits, '_' or '-'", where))
                continue
            variables.set(name, value, str(where))
            uses_env, wrong = _check_env_references(value)
            if wrong:
                problems.append(Problem(wrong, where, name))
            elif uses_env:
                variables.secret.add(name)
    for flag in var_flags:
        try:
            name, value = parse_var_flag(flag)
        except ValueError as error:
            problems.append(Problem(str(error)))
            continue
        variables.set(name, value, "--var")
        uses_env, wrong = _check_env_references(value)  # the same rules as a vars file's value
        if wrong:
            problems.append(Problem(f"--var {name}: {wrong}"))
        elif uses_env:
            variables.secret.add(name)
    return variables, problems


def _names_of(document: Document) -> frozenset[str]:
    """The spec fields of the document's kind that are its object's name (shown in plans, used to find it on the
    platform): an assistant's assistant_name, another kind's name field."""
    from .kinds import BY_MANIFEST_KIND

    content = document.content
    written = content.get("kind") if isinstance(content, dict) else None
    # A kind that is not a string (`kind: [Assistant]`, reported by validation) is no key: a list is unhashable.
    kind = BY_MANIFEST_KIND.get(written) if isinstance(written, str) else None
    name = getattr(kind, "name_field", None) if kind is not None else None
    return NOT_SECRET_FIELDS | {name} if name else NOT_SECRET_FIELDS


def _a_childs_name(path: tuple) -> bool:
    """spec.documents[2].name: an object declared inside another's manifest (a knowledge base's document), named."""
    return len(path) == 4 and path[1] == "documents" and isinstance(path[2], int) and path[3] == "name"


def interpolate(document: Document, variables: Variables, environ: Mapping[str, str],
                budget: ExpansionBudget | None = None) -> list[Problem]:
    """Substitute every reference in `document` in place; spec fields holding ${env} become sensitive. `budget`:
    its file's (ExpansionBudget), shared by the file's documents; None for no bound."""
    problems: list[Problem] = []
    secret_fields: set[str] = set()
    not_secret = _names_of(document)

    def resolve(value: Any, path: tuple) -> Any:
        if isinstance(value, dict):
            return {key: resolve(item, path + (key,)) for key, item in value.items()}
        if isinstance(value, list):
            return [resolve(item, path + (index,)) for index, item in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        return _substitute(value, path)

    def _substitute(text: str, path: tuple) -> Any:
        def problem(message: str) -> None:
            problems.append(Problem(message, document.locate(path), _dotted(path)))

        if path == ("metadata", "name"):
            problem("metadata.name cannot use variables: it is the assistant's address in state, the same in "
                    "every workspace (vary spec.assistant_name instead)")
            return text
        try:
            parts = parse(text)
        except TemplateError as error:
            problem(str(error))
            return text
        if budget is not None and not _within(budget, parts, variables, environ):
            if not budget.reported:
                budget.reported = True
                problem(f"the variables used in {document.file} come to more than {budget.limit} characters of "
                        "values (each use counts its whole value); if the file is meant to be this way, raise it "
                        "with --manifest-limit bytes=N")
            return text
        values = []
        for part in parts:
            if isinstance(part, str):
                values.append(part)
            elif part.namespace == "env":
                if path[:1] != ("spec",) or len(path) < 2:
                    problem(f"{part} can be used only in spec values, which are kept secret")
                    return text
                if path[1] in not_secret or _a_childs_name(path):
                    problem(f"{part}: {_dotted(path)} is shown in plans and used to find the object on the "
                            "platform, so it cannot hold a secret")
                    return text
                secret_fields.add(str(path[1]))
                if part.name not in environ:
                    hint = did_you_mean(part.name, [n for n in environ if n.isupper()])
                    problem(f"environment variable {part.name} is not set (used as {part}){hint}")
                    return text
                register_secret(environ[part.name])  # masked in every message and view from now on
                values.append(environ[part.name])
            elif part.name in variables.secret:
                # A vars file's ${env.X}: the same rules as ${env.X} written in the manifest, told where it is.
                origin = variables.origins[part.name]
                if path[:1] != ("spec",) or len(path) < 2 or path[1] in not_secret or _a_childs_name(path):
                    problem(f"{part} holds ${{env.…}} ({origin}), so it is secret: it can be used only in spec "
                            "values other than the object's name, which are kept secret")
                    return text
                secret_fields.add(str(path[1]))
                missing: list[str] = []
                value = _expand_env(copy.deepcopy(variables.values[part.name]), environ, missing)
                if missing:
                    problem(f"environment variable {missing[0]} is not set (used by {part}, set in {origin})"
                            f"{did_you_mean(missing[0], [n for n in environ if n.isupper()])}")
                    return text
                values.append(value)
            elif part.name in variables.values:
                # A copy: a list or map used in several places must not be one shared object.
                values.append(copy.deepcopy(variables.values[part.name]))
            else:
                hint = did_you_mean(part.name, variables.values)
                names = sorted(variables.values)
                known = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "") \
                    if names else "none"
                problem(f"undefined variable '{part.name}'{hint} (defined: {known}); set it in "
                        "vars/<workspace>.yaml, a --var-file or --var NAME=VALUE")
                return text
        if len(parts) == 1 and isinstance(parts[0], Reference):
            return values[0]
        out = []
        for part, value in zip(parts, values):
            if isinstance(value, (dict, list)):
                problem(f"{part} is a {'map' if isinstance(value, dict) else 'list'}; it can only be used as "
                        "a whole value, not inside a string")
                return text
            out.append(value if isinstance(value, str) else _text(value))
        return "".join(out)

    document.content = resolve(document.content, ())
    if secret_fields:
        document.sensitive = document.sensitive | frozenset(secret_fields)
    return problems


def _within(budget: ExpansionBudget, parts: list, variables: Variables, environ: Mapping[str, str]) -> bool:
    """Charge the budget for what `parts` substitute (before any value is copied); False once it is spent."""
    size = 0
    for part in parts:
        if isinstance(part, Reference):
            source = variables.values if part.namespace == "var" else environ
            size += _size(source.get(part.name, ""))
    return budget.spend(size)


def _text(value: Any) -> str:
    """A scalar as YAML writes it: true, 1.1, null, 2024-01-31."""
    return json.dumps(value) if isinstance(value, (bool, int, float)) or value is None else str(value)


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text

