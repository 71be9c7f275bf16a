"""Views of plain data: a plan, an apply, the state. Renderers take data and return strings; they do no I/O
and decide nothing.

text.py      Terraform-style text (the default on a terminal)
json.py      the documented JSON documents (docs/plan-format.md, docs/plan.schema.json)
markdown.py  a pull-request comment
"""
from __future__ import annotations

import click

from .json import plan_json, plan_json_pieces, problems_json, pull_json, state_document, state_json, validation_json
from .policies import policies_markdown, policies_text
from .text import (COLOUR, HEADLINE, VERB_DONE, apply_summary, plan_text as _plan_text, result_line, state_text,
                   summary_counts, summary_line, value)

FORMATS = ("text", "json", "markdown")


# Each view of a plan ends with its policy section (render/policies.py) when policies were checked.
def plan_text(plan, *, styled: bool = True) -> str:
    """`styled=False`: the plain text click.echo would strip the styled one to (off a terminal, --no-color)."""
    policies = policies_text(getattr(plan, "policies", None))
    return _plan_text(plan, styled=styled) + (policies if styled else click.unstyle(policies))


# The markdown views (a pull-request comment) are imported when one is asked for, not by every plan.
def plan_markdown(plan, *, limit: int | None = None) -> str:
    """`limit`: the comment's length at most, GitHub's (markdown.COMMENT_LIMIT) unless given."""
    from . import markdown

    limit = markdown.COMMENT_LIMIT if limit is None else limit
    section = policies_markdown(getattr(plan, "policies", None), limit=limit // 3)
    return markdown.plan_markdown(plan, limit=limit - len(section)) + section


def failed_plan_markdown(project: str | None, workspace: str | None, message: str) -> str:
    from .markdown import failed_plan_markdown

    return failed_plan_markdown(project, workspace, message)


def state_markdown(document: dict) -> str:
    from .markdown import state_markdown

    return state_markdown(document)


def plan_as(plan, fmt: str, *, styled: bool = True) -> str:
    """`styled` only matters to the text view (the others have no colours)."""
    if fmt == "text":
        return plan_text(plan, styled=styled)
    return {"json": plan_json, "markdown": plan_markdown}[fmt](plan)


def state_as(document: dict, fmt: str) -> str:
    return {"text": state_text, "json": state_json, "markdown": state_markdown}[fmt](document)


__all__ = ["policies_markdown", "policies_text", "COLOUR", "FORMATS", "HEADLINE", "VERB_DONE", "apply_summary", "failed_plan_markdown", "plan_as", "plan_json", "plan_json_pieces", "plan_markdown",
           "plan_text", "problems_json", "pull_json", "result_line", "state_as", "state_document", "state_json",
           "state_markdown", "state_text", "summary_counts", "summary_line", "validation_json", "value"]
