"""Views of plain data: a plan, an apply, the state. Renderers take data and return strings; they do no I/O
and decide nothing.

text.py      Terraform-style text (the default on a terminal)
json.py      the documented JSON documents (docs/plan-format.md, docs/plan.schema.json)
markdown.py  a pull-request comment
"""
from __future__ import annotations

from .json import plan_json, problems_json, state_document, state_json, validation_json
from .markdown import plan_markdown, state_markdown
from .text import (COLOUR, HEADLINE, VERB_DONE, apply_summary, plan_text, result_line, state_text, summary_counts,
                   summary_line, value)

FORMATS = ("text", "json", "markdown")


def plan_as(plan, fmt: str) -> str:
    return {"text": plan_text, "json": plan_json, "markdown": plan_markdown}[fmt](plan)


def state_as(document: dict, fmt: str) -> str:
    return {"text": state_text, "json": state_json, "markdown": state_markdown}[fmt](document)


__all__ = ["COLOUR", "FORMATS", "HEADLINE", "VERB_DONE", "apply_summary", "plan_as", "plan_json", "plan_markdown",
           "plan_text", "problems_json", "result_line", "state_as", "state_document", "state_json",
           "state_markdown", "state_text", "summary_counts", "summary_line", "validation_json", "value"]
