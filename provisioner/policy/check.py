"""Check objects against policy rules: which rules passed, warned or denied, every violation, every error.

Pure apart from the CEL calls: takes the rules and the objects (with their planned actions), returns a report.
A rule that fails on an object (an unknown field, a wrong type, its cost limit, a result that is not a bool) is
an error of the policy, reported with its file and line and the object's, and never counts as a pass. A rule
whose evaluations together take longer than `time_limit` is stopped and reported as timed out.
"""
from __future__ import annotations

import mmap
import os
import pickle
import signal
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import Location, ProvisionerError
from ..redaction import SENSITIVE
from .document import Rule
from .engine import EvaluationError, activation, combined, evaluate, memory_bound, spec_fields_used
from .objects import redacted

TIME_LIMIT = 10.0   # seconds one rule may spend over all the objects of a run
POLL_SECONDS = 0.02  # how often the parent looks at what the evaluating child is doing


@dataclass(frozen=True)
class Subject:
    """One object to check: its view (objects.py), its sensitive fields, its planned action."""

    address: str
    kind: str
    labels: dict[str, str]
    location: Location | None
    object: dict[str, Any] | None
    sensitive: frozenset[str] = frozenset()   # redacted in what messageExpression sees (objects.redacted)
    action: str | None = None                 # None: offline (validate)
    old: dict[str, Any] | None = None


@dataclass
class Violation:
    rule: Rule
    address: str
    kind: str
    location: Location | None
    message: str
    action: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.rule.policy, "rule": self.rule.name, "severity": self.rule.severity,
                "policy_file": self.rule.location.file, "policy_line": self.rule.location.line,
                "address": self.address, "kind": self.kind, "action": self.action,
                "file": self.location.file if self.location else None,
                "line": self.location.line if self.location else None, "message": self.message}


@dataclass
class RuleError:
    """A rule that could not be evaluated on an object: a fault of the policy, which stops the run."""

    rule: Rule
    address: str | None
    location: Location | None
    message: str

    def __str__(self) -> str:
        on = f" on {self.address}" + (f" ({self.location})" if self.location else "") if self.address else ""
        return f"{self.rule.location}: rule {self.rule.id}{on}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.rule.policy, "rule": self.rule.name, "policy_file": self.rule.location.file,
                "policy_line": self.rule.location.line, "address": self.address,
                "file": self.location.file if self.location else None,
                "line": self.location.line if self.location else None, "message": self.message}


@dataclass
class PolicyReport:
    rules: list[Rule]
    checked: dict[str, int] = field(default_factory=dict)   # rule id -> objects it looked at
    violations: list[Violation] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    offline: bool = False

    def status(self, rule: Rule) -> str:
        """passed | warned | denied | error | not-applicable (no object selected)."""
        return self._status(rule, {e.rule.id for e in self.errors}, Counter(v.rule.id for v in self.violations))

    def _status(self, rule: Rule, erred: set[str], violated: Counter) -> str:
        """status() from the rules that erred and each rule's count of violations, gathered once for every rule."""
        if rule.id in erred:
            return "error"
        if violated[rule.id]:
            return "denied" if rule.severity == "deny" else "warned"
        return "passed" if self.checked.get(rule.id) else "not-applicable"

    @property
    def denied(self) -> list[Violation]:
        return [v for v in self.violations if v.rule.severity == "deny"]

    @property
    def warned(self) -> list[Violation]:
        return [v for v in self.violations if v.rule.severity == "warn"]

    @property
    def blocks(self) -> bool:
        """Whether plan and apply must stop: a deny, or a policy that could not be evaluated."""
        return bool(self.denied or self.errors)

    def to_dict(self) -> dict[str, Any]:
        counts = {"passed": 0, "warned": 0, "denied": 0, "error": 0, "not-applicable": 0}
        rules = []
        # One pass over the violations for all the rules: a pass per rule was rules x violations (240 rules over
        # 2,000 assistants, 15 s).
        erred, violated = {e.rule.id for e in self.errors}, Counter(v.rule.id for v in self.violations)
        for rule in self.rules:
            status = self._status(rule, erred, violated)
            counts[status] += 1
            rules.append({"policy": rule.policy, "rule": rule.name, "severity": rule.severity, "status": status,
                          "file": rule.location.file, "line": rule.location.line,
                          "objects": self.checked.get(rule.id, 0),
                          "violations": violated[rule.id]})
        return {"summary": counts, "rules": rules, "violations": [v.to_dict() for v in self.violations],
                "errors": [e.to_dict() for e in self.errors]}


def _narrowed(seen: dict[str, Any] | None, used: set[str] | None) -> dict[str, Any] | None:
    """`seen` with only the spec fields the rules read (engine.spec_fields_used); whole when `used` is None."""
    if used is None or not isinstance(seen, dict) or not isinstance(seen.get("spec"), dict):
        return seen
    return {**seen, "spec": {name: value for name, value in seen["spec"].items() if name in used}}


def _without_secrets(message: str, subject: Subject) -> str:
    """`message` with each text of the subject's sensitive fields as "(sensitive)": an evaluation error may quote
    what the rule met (CEL names a missing key by its value), and the rule sees the object whole."""
    found: list[str] = []

    def texts(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                texts(item)
        elif isinstance(value, list):
            for item in value:
                texts(item)

    for seen in (subject.object, subject.old):
        if seen:
            for name in subject.sensitive:
                texts((seen.get("spec") or {}).get(name))
    for secret in sorted(set(found), key=len, reverse=True):
        if secret and secret != SENSITIVE:
            message = message.replace(secret, SENSITIVE)
    return message


def check(rules: list[Rule], subjects: Iterable[Subject], workspace: str | None,
          time_limit: float = TIME_LIMIT, offline: bool = False) -> PolicyReport:
    """The report; where processes fork, computed by a child that the time limit can stop (_isolated)."""
    subjects = list(subjects)
    if not hasattr(os, "fork") or not rules:
        with memory_bound():  # an expression may build gigabytes in a few hundred characters (engine.MEMORY_LIMIT)
            return _check(rules, subjects, workspace, time_limit, offline)
    return _isolated(rules, subjects, workspace, time_limit, offline)


# What the child evaluating the rules is doing, shared with its parent (an anonymous mmap survives fork), as five
# numbers: a count of the child's writes, the rule being evaluated (-1: none; COMBINED: several at once), the
# subject's index, when it started, and what the rule had spent before it. The parent reads them while the child
# writes them: each is stored on its own (struct.pack_into zeroes the whole record before it fills it in, and a
# parent that looked then saw rule 0 on the first subject, started at time 0: hours over its budget), and the
# count is odd while a write is under way, so a read that overlaps one is not taken.
_SLOTS = 5
_IDLE, COMBINED = -1, -2
_progress: memoryview | None = None


def _running(index: int, subject: int = -1, spent: float = 0.0) -> None:
    if _progress is not None:
        _record(_progress, index, subject, time.monotonic(), spent)


def _record(progress: memoryview, index: int, subject: int, started: float, spent: float) -> None:
    progress[0] += 1  # odd: being written
    progress[1], progress[2], progress[3], progress[4] = index, subject, started, spent
    progress[0] += 1


def _last_record(progress: memoryview) -> tuple[int, int, float, float] | None:
    """(rule, subject, started, spent) as the child last wrote them whole; None while it is writing them."""
    count = progress[0]
    index, subject, started, spent = progress[1:_SLOTS].tolist()
    if count % 2 or progress[0] != count:
        return None
    return int(index), int(subject), started, spent


def _isolated(rules: list[Rule], subjects: list[Subject], workspace: str | None, time_limit: float,
              offline: bool) -> PolicyReport:
    """cel-cpp holds the GIL and cannot be interrupted, and one evaluation of a few hundred characters can take an
    hour (10,000 iterations, each a regular expression over a string the expression built): the time limit is
    only a limit if the evaluations run in a child that can be killed. A rule whose evaluation outlives its
    budget is reported as timed out, and the check starts again without it (without combining the rules, when
    several were evaluated at once and which one hung is not known)."""
    stopped: dict[int, RuleError] = {}
    alone = False
    while True:
        outcome, hung = _in_child(rules, subjects, workspace, time_limit, offline, set(stopped), alone)
        if outcome is not None:
            report = _rebuilt(rules, outcome, offline)
            report.errors += list(stopped.values())
            return report
        index, subject = hung
        if index == COMBINED:
            alone = True
            continue
        address = subjects[subject].address if 0 <= subject < len(subjects) else None
        stopped[index] = RuleError(rules[index], None, None, f"timed out: its evaluations took more than "
                                   f"{time_limit:g}s" + (f" (on {address})" if address else ""))


def _in_child(rules, subjects, workspace, time_limit, offline, skip: set[int], alone: bool):
    """(the child's report as plain data, None), or (None, (rule index, subject index)) when it was killed for
    evaluating one rule (or COMBINED) longer than its budget allows."""
    global _progress
    progress = memoryview(mmap.mmap(-1, _SLOTS * 8)).cast("d")
    _record(progress, _IDLE, -1, 0.0, 0.0)
    with tempfile.TemporaryFile() as out:
        with warnings.catch_warnings():
            # Python 3.12 warns of fork() beside threads (the planning's): the child only evaluates and writes.
            warnings.simplefilter("ignore", DeprecationWarning)
            parent, pid = os.getpid(), os.fork()
        if pid == 0:  # the child: evaluate, write the outcome, and leave without running the parent's cleanup
            code = 1
            try:
                _dies_with(parent)
                _progress = progress
                with memory_bound():
                    report = _check(rules, subjects, workspace, time_limit, offline, skip, alone)
                pickle.dump(_plain(rules, report), out)
                out.flush()
                code = 0
            finally:
                os._exit(code)
        try:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                index, subject, started, spent = _last_record(progress) or (_IDLE, -1, 0.0, 0.0)
                if index != _IDLE and time.monotonic() - started + spent > max(time_limit, 0.05):
                    _stop(pid)
                    return None, (index, subject)
                time.sleep(POLL_SECONDS)
        except BaseException:  # Ctrl-C, a pipeline's SIGTERM: the child must not go on evaluating on its own
            _stop(pid)
            raise
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise ProvisionerError(f"the policy check stopped unexpectedly (exit {code})")
        out.seek(0)
        return pickle.load(out), None


def _dies_with(parent: int) -> None:
    """The child killed when its parent ends (Linux): a pipeline's SIGTERM ends the parent at once, and a child
    left evaluating a hostile rule would go on for as long as the rule takes."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent ended before that
        os._exit(1)


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _plain(rules: list[Rule], report: PolicyReport) -> tuple:
    """The report without its rules (their compiled programs do not pickle): rules by index."""
    index = {rule.id: i for i, rule in enumerate(rules)}
    return (report.checked,
            [(index[v.rule.id], v.address, v.kind, v.location, v.message, v.action) for v in report.violations],
            [(index[e.rule.id], e.address, e.location, e.message) for e in report.errors])


def _rebuilt(rules: list[Rule], plain: tuple, offline: bool) -> PolicyReport:
    checked, violations, errors = plain
    return PolicyReport(rules, checked, [Violation(rules[i], *rest) for i, *rest in violations],
                        [RuleError(rules[i], *rest) for i, *rest in errors], offline=offline)


def _check(rules: list[Rule], subjects: Iterable[Subject], workspace: str | None, time_limit: float,
           offline: bool, skip: set[int] = frozenset(), alone: bool = False) -> PolicyReport:
    report = PolicyReport(rules, {r.id: 0 for r in rules}, offline=offline)
    ids = [rule.id for rule in rules]
    broken: set[int] = set(skip)             # rules that erred or timed out: not evaluated again
    spent = [0.0] * len(rules)
    programs: dict[tuple[int, ...], Any] = {}
    selections: dict[tuple, tuple[int, ...]] = {}   # (kind, labels, action) -> the rules that select it
    passed: dict[tuple[int, ...], int] = {}          # selection -> objects on which every rule held (fast path)
    used = spec_fields_used(rule.compiled.expression for rule in rules)  # None: objects go in whole
    for subject_index, subject in enumerate(subjects):
        key = (subject.kind, tuple(sorted(subject.labels.items())), subject.action, len(broken))
        selected = selections.get(key)
        if selected is None:
            selected = selections[key] = tuple(
                i for i, rule in enumerate(rules)
                if i not in broken and rule.match.selects(subject.kind, subject.labels, workspace, subject.action)
                and (subject.object is not None or subject.action == "delete"))
        if not selected:
            continue
        bound = activation({"object": _narrowed(subject.object, used), "oldObject": _narrowed(subject.old, used),
                            "workspace": workspace, "action": subject.action})
        started = time.perf_counter()
        _running(COMBINED if len(selected) > 1 and not alone else _IDLE)
        results = None if alone else _all_at_once(selected, rules, programs, bound)
        _running(_IDLE)
        share = (time.perf_counter() - started) / len(selected)
        # (`is True`: a rule that gives 1 is an error, not a pass; a count of True would take 1 for one)
        held = results is not None and all(result is True for result in results)
        if held:  # the common case: every rule held, no per-rule work in Python
            passed[selected] = passed.get(selected, 0) + 1
            for index in selected:
                spent[index] += share
        for position, index in enumerate(selected if not held else ()):
            rule = rules[index]
            report.checked[ids[index]] += 1
            spent[index] += share
            started = time.perf_counter()
            _running(index, subject_index, spent[index])
            try:
                result = results[position] if results is not None else evaluate(rule.compiled.program, bound)
                if not isinstance(result, bool):
                    # Only a number is quoted: a text or a list may be (or hold) a sensitive value.
                    shown = f" {_clip(repr(result))}" if type(result) in (int, float) else ""
                    raise EvaluationError(f"gave {type(result).__name__}{shown}, not a bool "
                                          "(true: the object complies)")
            except EvaluationError as error:
                report.errors.append(RuleError(rule, subject.address, subject.location,
                                               _without_secrets(str(error), subject)))
                broken.add(index)
                continue
            finally:
                spent[index] += time.perf_counter() - started
                _running(_IDLE)
            if not result:
                _running(index, subject_index, spent[index])  # its messageExpression is the rule's time too
                report.violations.append(Violation(rule, subject.address, subject.kind, subject.location,
                                                   _message(rule, subject, workspace), subject.action))
                _running(_IDLE)
        for index in selected:
            if index not in broken and spent[index] > time_limit:
                report.errors.append(RuleError(rules[index], None, None,
                                               f"timed out: its evaluations took more than {time_limit:g}s "
                                               f"(after {subject.address})"))
                broken.add(index)
    for selected, count in passed.items():
        for index in selected:
            report.checked[ids[index]] += count
    return report


def _all_at_once(selected: tuple[int, ...], rules: list[Rule], programs: dict, bound) -> list | None:
    """Every selected rule's result from one evaluation; None if that fails (then each is evaluated alone)."""
    if len(selected) == 1:
        return None
    if selected not in programs:
        try:
            programs[selected] = combined(tuple(rules[i].compiled for i in selected))
        except RuntimeError:
            # cel-cpp's bounds hold for the list too: rules that each compile may not together (100,000
            # characters; a rule nested 31 deep is one level deeper inside it). Each is then evaluated alone.
            programs[selected] = None
    program = programs[selected]
    if program is None:
        return None
    try:
        return evaluate(program, bound)
    except EvaluationError:
        return None


def _message(rule: Rule, subject: Subject, workspace: str | None) -> str:
    if rule.compiled.message_program is not None:
        shown = activation({"object": redacted(subject.object, subject.sensitive),
                            "oldObject": redacted(subject.old, subject.sensitive), "workspace": workspace,
                            "action": subject.action})
        try:
            said = evaluate(rule.compiled.message_program, shown)
            if isinstance(said, str) and said.strip():
                return said
        except EvaluationError as error:
            fallback = rule.message or f"failed: {rule.compiled.expression}"
            return f"{fallback} (messageExpression failed: {error})"
    return rule.message or f"failed: {_clip(rule.compiled.expression, 200)}"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
