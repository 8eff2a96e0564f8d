"""`fluxform plan` and `fluxform show`: what applying the fleet would change, and saved plans.

    fluxform plan clusters/staging --keys-dir keys --out plan.json --detailed-exitcode
    fluxform show plan.json -o markdown

Exit codes with --detailed-exitcode follow Terraform: 0 no changes, 1 error, 2 changes.
A plan leaving owners out (not planned, remote) is an error unless --partial (or the
--missing-* warn flag of their cause) accepts it, and then never exits 0 (planner/partial.py).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fluxform.commands.console import progress, stdout_colour
from fluxform.commands.options import cluster_options, fleet_options_with_artifacts, output_option, partial_option
from fluxform.commands.validation_flags import validation_options
from fluxform.errors import StateError
from fluxform.planner.options import FleetOptions
from fluxform.planner.plan import Plan
from fluxform.planner.validation import ValidationOptions
from fluxform.progress import Progress
from fluxform.state.identity import StateCheck
from fluxform.target import Target, TargetFlags, resolve_target

if TYPE_CHECKING:
    from fluxform.planner.planfile import PlanFile
    from fluxform.planner.releases import HelmOptions
    from fluxform.planner.workflow import FleetRequest

__all__ = ["plan", "show"]


@click.command()
@click.argument("paths", metavar="[PATH]...", nargs=-1, type=click.Path(path_type=Path))
@output_option("text", "json", "yaml", "markdown", "html")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Write the plan (JSON) to this file (several PATHs: a directory)."
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes or leaves owners out, 0 when not."
)
@click.option("--field-manager", default="", help="Server-side apply field manager (default: as Flux, or fluxform).")
@click.option(
    "--force-state", is_flag=True, help="Plan against a state recorded for another cluster or fleet path (warns)."
)
@click.option("--init-state", is_flag=True, help="Accept a --state file that does not exist yet (a new, empty state).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Several PATHs: each cluster's state is DIR/<its last path component>.state.json (default: empty).",
)
@partial_option
@validation_options
@cluster_options
@fleet_options_with_artifacts
def plan(
    paths: tuple[Path, ...],
    output: str,
    out: Path | None,
    detailed_exitcode: bool,
    field_manager: str,
    force_state: bool,
    init_state: bool,
    state_dir: Path | None,
    partial: bool,
    validation: ValidationOptions,
    target: TargetFlags,
    fleet: FleetOptions,
) -> None:
    """Show what applying the fleet at PATH would change.

    Without cluster flags the plan is offline (against the state only); with --kubeconfig,
    --context, --in-cluster or --live it reads the cluster and dry-runs the changes. The
    state is found as the `state` commands find it, and must be this cluster's and this
    fleet path's (--force-state); a --state file that does not exist is an error unless
    --init-state. Several PATHs plan several clusters in one run, sharing equal builds
    (offline; one plan each: see `fluxform/commands/plan_clusters.py`)."""
    if len(paths) > 1:
        from fluxform.commands.plan_clusters import plan_several

        if fleet.artifact or fleet.artifact_sources:
            raise click.UsageError("--source with an OCI artifact plans one PATH at a time")

        return plan_several(
            paths, output=output, out=out, detailed_exitcode=detailed_exitcode, state_dir=state_dir,
            init_state=init_state, force_state=force_state, partial=partial, validation=validation, target=target,
            fleet=fleet,
        )  # fmt: skip
    path = paths[0] if paths else (Path(".") if fleet.artifact else None)  # --source REF: its root
    if target.state_path is not None and not target.state_path.exists() and not init_state:
        raise StateError(
            f"state file {target.state_path} does not exist",
            hint="check the path; --init-state plans against a new, empty state",
        )
    resolved = resolve_target(target, path=path, needs_path=True, live=True, default_state=True, state_optional=True)
    assert resolved.fleet_path is not None
    with progress() as observer:
        result = _plan(resolved, fleet, observer, validation, field_manager=field_manager, force_state=force_state)
    from fluxform.planner.planfile import plan_file_from, write_plan_file

    fleet.partial_policy(partial).check(result.owners)  # before anything is written
    plan_file = plan_file_from(result)
    if out is not None:
        write_plan_file(out, plan_file)
    _echo_plan(plan_file, output)
    if detailed_exitcode and (plan_file.has_changes() or result.skipped()):
        sys.exit(2)


def _plan(
    resolved: Target,
    fleet: FleetOptions,
    observer: Progress,
    validation: ValidationOptions,
    *,
    field_manager: str,
    force_state: bool,
) -> Plan:
    """The plan, offline or against the cluster the target names, reporting to `observer`."""
    assert resolved.fleet_path is not None
    from fluxform.planner.artifacts import opened_artifacts

    with opened_artifacts(fleet) as opened:
        request = replace(fleet.request(progress=observer), validation=validation)
        request = opened.request(request, target=str(resolved.fleet_path))
        path = opened.path(resolved.fleet_path)
        assert path is not None
        return _render_plan(replace(resolved, fleet_path=path), request, opened.helm(fleet.helm()), field_manager,
                            force_state, observer)  # fmt: skip


def _render_plan(
    resolved: Target,
    request: FleetRequest,
    helm: HelmOptions,
    field_manager: str,
    force_state: bool,
    observer: Progress,
) -> Plan:
    assert resolved.fleet_path is not None
    if resolved.cluster is not None:
        from fluxform.planner.live.run import LiveOptions
        from fluxform.planner.live.workflow import plan_fleet_live

        return plan_fleet_live(
            resolved.fleet_path,
            request,
            state_path=resolved.state,
            cluster_options=resolved.cluster,
            live_options=LiveOptions(field_manager=field_manager, progress=observer),
            helm=helm,
            force_state=force_state,
        )
    from fluxform.planner.workflow import plan_fleet

    check = StateCheck(context=resolved.config.context, force=force_state)
    return plan_fleet(resolved.fleet_path, request, state_path=resolved.state, helm=helm, state_check=check)


@click.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@output_option("text", "json", "yaml", "markdown", "html")
def show(plan_file: Path, output: str) -> None:
    """Print a saved plan file."""
    from fluxform.planner.planfile import read_plan_file

    _echo_plan(read_plan_file(plan_file), output)


def _echo_plan(plan_file: PlanFile, output: str) -> None:
    from fluxform.views.plan import render_json, render_markdown, render_text, render_yaml

    if output == "json":
        click.echo(render_json(plan_file), nl=False)
    elif output == "yaml":
        click.echo(render_yaml(plan_file), nl=False)
    elif output == "html":
        from fluxform.views.html import render_html

        click.echo(render_html(plan_file), nl=False)
    elif output == "markdown":
        click.echo(render_markdown(plan_file), nl=False)
    else:
        colour = stdout_colour()
        click.echo(render_text(plan_file, colour=colour), nl=False, color=colour)  # click strips it off a terminal
