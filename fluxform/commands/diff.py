"""`fluxform diff`: what a change between two git revisions does to each cluster.

    fluxform diff clusters --base origin/main --head HEAD -o markdown --detailed-exitcode
    fluxform diff clusters                  # HEAD against the work tree: what uncommitted edits do

Exit codes with --detailed-exitcode: 0 no differences, 1 error, 2 differences.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from fluxform.commands.console import progress, stdout_colour
from fluxform.commands.options import fleet_options, output_option, partial_option
from fluxform.commands.validation_flags import validation_options
from fluxform.planner.model import Owner
from fluxform.planner.options import FleetOptions
from fluxform.planner.revdiff.compare import FleetDiff
from fluxform.planner.validation import ValidationOptions
from fluxform.private_file import write_private
from fluxform.views.revdiff import (
    MARKDOWN_LIMIT,
    render_diff_json,
    render_diff_markdown,
    render_diff_text,
    render_diff_yaml,
)

__all__ = ["diff"]

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


@click.command("diff")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--base", metavar="REV", help="Revision to compare against (e.g. origin/main; default: HEAD, with no --head)."
)
@click.option(
    "--head",
    metavar="REV",
    help="Revision with the change (default: the work tree, uncommitted and untracked files included).",
)
@output_option("text", "json", "yaml", "markdown", "html")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are differences or owners not compared, 0 when not."
)
@click.option("--full", is_flag=True, help="Render and compare everything (no changed-only shortcuts).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON diff here.")
@click.option(
    "--step-summary/--no-step-summary",
    default=True,
    show_default=True,
    help=f"Append the Markdown diff to ${STEP_SUMMARY_ENV} when it is set (GitHub Actions).",
)
@click.option("--markdown-limit", type=int, default=MARKDOWN_LIMIT, show_default=True, help="Markdown size cap.")
@partial_option
@validation_options
@fleet_options
def diff(
    paths: tuple[Path, ...],
    base: str | None,
    head: str | None,
    output: str,
    detailed_exitcode: bool,
    full: bool,
    out: Path | None,
    step_summary: bool,
    markdown_limit: int,
    partial: bool,
    validation: ValidationOptions,
    fleet: FleetOptions,
) -> None:
    """Compare the clusters at PATHS between --base and --head (a directory of clusters,
    such as clusters/, stands for each cluster below it). Without --head the change is the
    work tree as `git add -A` would stage it (edits, deletions, untracked files not
    ignored), compared with --base or HEAD. The work tree, index and repository are never
    changed."""
    from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions

    if base is None and head is not None:
        raise click.UsageError("--head needs --base (the revision to compare it with)")
    policy = fleet.partial_policy(partial)
    with progress() as observer:
        request = DiffRequest(
            paths,
            base or "HEAD",
            head,
            replace(fleet.request(progress=observer), validation=validation, partial=policy),  # index key: both
            changed_only=not full,
            index_dir=fleet.diff_index_dir,
        )
        result = diff_revisions(request)
    policy.check(_left_out(result))  # before anything is written
    if out is not None:
        write_private(out, render_diff_json(result))
    summary_file = os.environ.get(STEP_SUMMARY_ENV)
    if step_summary and summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(render_diff_markdown(result, limit=markdown_limit))
    if output == "json":
        click.echo(render_diff_json(result), nl=False)
    elif output == "yaml":
        click.echo(render_diff_yaml(result), nl=False)
    elif output == "markdown":
        click.echo(render_diff_markdown(result, limit=markdown_limit), nl=False)
    elif output == "html":
        from fluxform.views.revdiff_html import render_diff_html

        click.echo(render_diff_html(result), nl=False)
    else:
        colour = stdout_colour()
        click.echo(render_diff_text(result, colour=colour), nl=False, color=colour)  # click strips it off a terminal
    if detailed_exitcode and (result.has_changes() or result.not_compared()):
        sys.exit(2)


def _left_out(result: FleetDiff) -> list[Owner]:
    """The owners not rendered at one revision at least (as the head saw them, if it did)."""
    return [o.left_out for o in result.not_compared() if o.left_out is not None]
