"""Several clusters' plans printed together (`fluxform plan PATH PATH...`).

Each plan prints as it would alone (views/plan.py), in the order the paths were given, so
every cluster keeps its header and its `Plan: ...` line; text ends with the totals, JSON is
one document listing the plan files (docs/plan-file.md, "Several clusters"), and Markdown,
for a pull-request comment, holds every cluster under one heading.

    click.echo(render_set_text(plan_files, colour=False), nl=False)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fluxform import yamlio
from fluxform.planner.planfile import FORMAT_VERSION, PlanFile, plan_file_json
from fluxform.views.plan import render_markdown, render_text, summary_line

__all__ = ["PLAN_SET_KIND", "render_set_json", "render_set_markdown", "render_set_text", "render_set_yaml", "totals"]

PLAN_SET_KIND = "fluxform-plans"


def totals(plans: Sequence[PlanFile]) -> dict[str, int]:
    """The summaries of all plans, added up (same keys as one plan's `summary`)."""
    summed: dict[str, int] = {}
    for plan in plans:
        for key, value in plan.counts().items():
            summed[key] = summed.get(key, 0) + value
    return summed


def _total_line(plans: Sequence[PlanFile]) -> str:
    counts = totals(plans)
    line = (
        f"Total for {len(plans)} clusters: {counts['add']} to add, {counts['change']} to change, "
        f"{counts['destroy']} to destroy"
    )
    if counts.get("forget"):
        line += f", {counts['forget']} to forget"
    if counts.get("not_planned"):
        line += f"; {counts['not_planned']} owner{'s' if counts['not_planned'] != 1 else ''} not planned"
    return line + "."


def render_set_text(plans: Sequence[PlanFile], *, colour: bool = False) -> str:
    return "\n".join(render_text(p, colour=colour) for p in plans) + "\n" + _total_line(plans) + "\n"


def _document(plans: Sequence[PlanFile]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": PLAN_SET_KIND,
        "plans": [json.loads(plan_file_json(p)) for p in plans],
        "summary": totals(plans),
    }


def render_set_json(plans: Sequence[PlanFile]) -> str:
    """`{"kind": "fluxform-plans", "format_version", "summary": totals, "plans": [plan file...]}`."""
    return json.dumps(_document(plans), indent=2, sort_keys=True) + "\n"


def render_set_yaml(plans: Sequence[PlanFile]) -> str:
    """The plan set's JSON, as YAML."""
    return yamlio.dump(_document(plans))


def render_set_markdown(plans: Sequence[PlanFile]) -> str:
    head = [f"## fluxform plan: {len(plans)} clusters", "", f"**{_total_line(plans)}**", ""]
    head += [f"- `{p.target}`: {summary_line(p.counts())}" for p in plans]
    return "\n".join(head) + "\n\n" + "\n".join(render_markdown(p) for p in plans)
