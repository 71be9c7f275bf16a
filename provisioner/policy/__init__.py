"""Policies: a team's own rules, CEL expressions over the objects a run will apply (docs/policies.md).

document.py  policy files (`kind: Policy`): form, match, compiled rules, problems with file:line
engine.py    CEL (cel-expr-python): compile, evaluate, cost bounds, readable errors
objects.py   what an expression sees: object, oldObject, workspace, action
check.py     rules x objects -> PolicyReport (passed, warned, denied, errors)
"""
from .check import PolicyReport, RuleError, Subject, Violation, check
from .document import Rule, load_policies

__all__ = ["PolicyReport", "Rule", "RuleError", "Subject", "Violation", "check", "load_policies"]
