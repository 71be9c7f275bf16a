"""CEL through cel-expr-python (Google's cel-cpp): compile a rule once, evaluate it per object.

Why this library (docs/policies.md has the figures): it is the CEL team's own implementation, with CEL's type
checker (an undeclared variable or a wrong operand type is a compile error with line and column) and cel-cpp's
evaluation bounds: a parse nesting limit of 32 and at most 10,000 comprehension iterations per evaluation. Those
bound neither what an evaluation builds nor how long it takes (each iteration may scan a string of megabytes the
expression built): memory_bound caps the memory, and check.py runs the evaluations in a child it can kill.

Speed comes from evaluating, per object, every rule that selects it as ONE expression (a list of the rules'
results): crossing from Python into C++ costs more than most rules do. When that combined evaluation fails
(a rule errs on this object, or the object exhausts the iteration budget), each rule is evaluated alone so the
error names its rule.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from cel_expr_python import cel

VARIABLES = {"object": cel.Type.DYN, "oldObject": cel.Type.DYN, "workspace": cel.Type.DYN,
             "action": cel.Type.DYN}
_ENV = cel.NewEnv(variables=VARIABLES)
# Bytes the evaluations of a run may add to the process. cel-cpp bounds nesting and iterations, not what is built:
# nested map()s each joining copies of the last level's string reach gigabytes in 360 characters.
MEMORY_LIMIT = 1 << 30
_ERROR_PREFIX = re.compile(r"^[A-Z_]+: ")
_STATUS_SUFFIX = re.compile(r"\s*\[[A-Z_]+\]$")
_BAD_PATTERN = re.compile(r"(invalid regular expression: [^:]*):")
_UNHELD = re.compile(r"(?:Integer value '(-?\d+)' out of range|Non-CEL value type) for '(object|oldObject)\["
                     r"(?:.*': ([A-Za-z_][A-Za-z0-9_]*)\.?$)?", re.S)
_PATH_KEY = re.compile(r"\['([A-Za-z0-9_-]+)'\](?= -> )")


@dataclass(frozen=True)
class CompiledRule:
    expression: str
    program: Any
    message_program: Any = None


class EvaluationError(Exception):
    """An expression failed on one object: an unknown field, a wrong type, or its cost limit."""


def compile_rule(expression: str, message_expression: str | None) -> tuple[CompiledRule | None, list[tuple[str, str]]]:
    """The compiled rule, or (None, [(part, what is wrong)]) with part 'expression' or 'messageExpression'."""
    errors: list[tuple[str, str]] = []
    program = _checked(expression, cel.Type.BOOL, "expression", errors)
    message_program = (_checked(message_expression, cel.Type.STRING, "messageExpression", errors)
                       if message_expression is not None else None)
    if errors:
        return None, errors
    return CompiledRule(expression, program, message_program), []


def _checked(text: str, wanted, part: str, errors: list[tuple[str, str]]):
    """`text` compiled and type-checked: its result must be `wanted` (or dyn, known only when evaluated)."""
    try:
        program = _ENV.compile(text)
    except RuntimeError as error:
        errors.append((part, f"does not compile: {compile_message(error)}"))
        return None
    kind = program.return_type()
    if kind != wanted and kind != cel.Type.DYN:
        errors.append((part, f"must give a {wanted.name().lower()}, but gives "
                             f"{kind.name()}"))
    return program


def compile_message(error: Exception) -> str:
    """cel-cpp's 'ERROR: <input>:1:24: Syntax error: ...' lines, as 'line 1, column 24: ...'."""
    text = _STATUS_SUFFIX.sub("", _ERROR_PREFIX.sub("", str(error).strip()))
    found = []
    for line in text.splitlines():
        match = re.match(r"\s*ERROR: <input>:(-?\d+):(-?\d+): (.*)", line)
        if match:
            where = f"line {match.group(1)}, column {match.group(2)}: " if int(match.group(1)) > 0 else ""
            said = f"{where}{match.group(3)}"
            if said not in found:
                found.append(said)
    return "; ".join(found) if found else text.splitlines()[0] if text else "unknown error"


def runtime_message(error: Exception) -> str:
    text = _STATUS_SUFFIX.sub("", _ERROR_PREFIX.sub("", str(error).strip()))
    if "Iteration budget exceeded" in text:
        return "exceeded its cost limit (10,000 comprehension iterations in one evaluation)"
    match = re.search(r"(?:[Nn]o such key: ?|Key not found in map : )\"?([^\"]*)\"?", text)
    if match:
        return f"names an unknown field {match.group(1).strip()!r}"
    match = _UNHELD.match(text)
    if match:
        # cel-cpp converts the object lazily and names where it failed by the repr of every map on the way: the
        # whole spec, prompts and secrets (escaped, so check._without_secrets would not find them) included.
        # Only the keys of that path are kept.
        number, python_type = match.group(1), match.group(3)
        what = f"a number CEL cannot hold ({number}: more than 64 bits)" if number else \
            f"a value CEL cannot hold (a Python {python_type})"
        path = [match.group(2), *_PATH_KEY.findall(text)]
        return f"meets {what} at {'.'.join(path)}"
    match = _BAD_PATTERN.match(text)
    if match:
        # RE2 quotes the pattern from where it fails on ("missing ]: [rest"): when the pattern is a value the rule
        # met (a password), that is part of a secret, which check._without_secrets cannot find whole.
        return f"{match.group(1)} (the pattern is not quoted: it may be a value the rule met)"
    return text


_OBJECT = re.compile(r"\b(?:object|oldObject)\b")
_SPEC_FIELD = re.compile(r"\.spec\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")
_OTHER_PART = re.compile(r"\.(?:metadata|kind|address|apiVersion)\b")


def spec_fields_used(expressions: Iterable[str]) -> set[str] | None:
    """The spec fields the expressions read, when each use of `object` and `oldObject` reads a named field
    (`object.spec.max_duration`, `object.metadata...`): an object then need only carry those into CEL (turning
    a full manifest, prompts and schemas, into CEL values is most of an evaluation's cost). None when any use
    takes the object or its spec whole (`object.spec["x"]`, `object == oldObject`, `has(object.spec)`...): the
    whole object then. A field the kind does not have stays absent either way, so it is still an error."""
    fields: set[str] = set()
    for expression in expressions:
        for found in _OBJECT.finditer(expression):
            rest = expression[found.end():]
            spec = _SPEC_FIELD.match(rest)
            if spec:
                fields.add(spec.group(1))
            elif not _OTHER_PART.match(rest):
                return None
    return fields


def activation(variables: dict[str, Any]):
    return _ENV.Activation(variables)


def combined(programs: tuple[CompiledRule, ...]):
    """One program giving the list of the rules' results (newlines: a rule's `//` comment ends with its line)."""
    return _ENV.compile("[" + ",".join(f"(\n{rule.expression}\n)" for rule in programs) + "]")


def evaluate(program, bound) -> Any:
    """The plain value of `program` on an activation; EvaluationError with a readable message if it fails."""
    try:
        value = program.eval(bound)
    except RuntimeError as error:
        raise EvaluationError(runtime_message(error)) from None
    except MemoryError:  # cel-cpp's std::bad_alloc, at memory_bound's limit
        raise EvaluationError(f"exceeded its memory limit ({MEMORY_LIMIT >> 20} MiB for the evaluations of "
                              "a run)") from None
    if value.type() == cel.Type.ERROR:  # an evaluation error is a value in cel-cpp, not an exception
        raise EvaluationError(runtime_message(value.plain_value()))
    return value.plain_value()


@contextmanager
def memory_bound(limit: int = MEMORY_LIMIT) -> Iterator[None]:
    """The process's address space capped at its present size plus `limit` while policies are evaluated, so that
    an expression building a huge value fails with MemoryError (evaluate: an error of its rule) instead of taking
    the machine's memory. Where the size cannot be read (no /proc, no `resource`: not Linux), no cap."""
    try:
        import resource

        with open("/proc/self/statm") as file:
            size = int(file.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + limit if hard == resource.RLIM_INFINITY else min(size + limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield  # already as tight
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
