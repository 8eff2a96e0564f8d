"""`fluxform plan PATH PATH...`: one plan per cluster entry point, in one run.

    fluxform plan clusters/prod clusters/staging --state-dir states/ --out plans/ -o markdown

Several clusters plan offline (a live plan reads one cluster: plan each PATH on its own).
Each cluster plans against `--state-dir DIR/<name>.state.json` (its name is the path's last
component), else an empty state; `--out DIR` writes `DIR/<name>.json`, one ordinary plan
file per cluster (what `show` and apply read). Every cluster is planned and checked before
anything is written; any error fails the run (exit 1). With --detailed-exitcode the worst
cluster decides: 2 when any has changes or leaves owners out, else 0.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from fluxform.commands.console import progress, stdout_colour
from fluxform.config import load_config
from fluxform.errors import StateError
from fluxform.planner.clusters import ClusterTarget, cluster_names, plan_clusters
from fluxform.planner.options import FleetOptions
from fluxform.planner.planfile import plan_file_from, write_plan_file
from fluxform.planner.validation import ValidationOptions
from fluxform.state.identity import StateCheck
from fluxform.target import TargetFlags, UsageProblem
from fluxform.views.plan_set import render_set_json, render_set_markdown, render_set_text, render_set_yaml

__all__ = ["plan_several"]


def plan_several(
    paths: Sequence[Path],
    *,
    output: str,
    out: Path | None,
    detailed_exitcode: bool,
    state_dir: Path | None,
    init_state: bool,
    force_state: bool,
    partial: bool,
    validation: ValidationOptions,
    target: TargetFlags,
    fleet: FleetOptions,
) -> None:
    _refuse_one_cluster_flags(target, paths)
    if output == "html":
        raise UsageProblem("-o html shows one cluster's plan: give one PATH (or write --out DIR and `show` each)")
    names = cluster_names(paths)
    targets = [
        ClusterTarget(path, _state_of(state_dir, name, init_state)) for path, name in zip(paths, names, strict=True)
    ]
    if out is not None and out.exists() and not out.is_dir():
        raise UsageProblem(f"--out {out} is a file: with several cluster paths it names a directory (one plan each)")
    with progress() as observer:
        request = replace(fleet.request(progress=observer), validation=validation)
        plans = plan_clusters(targets, request, helm=fleet.helm(), state_check=StateCheck(force=force_state))
    policy = fleet.partial_policy(partial)
    for plan in plans:
        policy.check(plan.owners)  # before anything is written
    files = [plan_file_from(plan) for plan in plans]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, plan_file in zip(names, files, strict=True):
            write_plan_file(out / f"{name}.json", plan_file)
    if output == "json":
        click.echo(render_set_json(files), nl=False)
    elif output == "yaml":
        click.echo(render_set_yaml(files), nl=False)
    elif output == "markdown":
        click.echo(render_set_markdown(files), nl=False)
    else:
        colour = stdout_colour()
        click.echo(render_set_text(files, colour=colour), nl=False, color=colour)
    if detailed_exitcode and any(f.has_changes() or f.not_planned for f in files):
        sys.exit(2)


def _refuse_one_cluster_flags(target: TargetFlags, paths: Sequence[Path]) -> None:
    """Flags that name one cluster's cluster or state cannot serve several."""
    if target.wants_cluster:
        raise UsageProblem(
            "a live plan reads one cluster: give one PATH with --kubeconfig/--context/--in-cluster/--live"
        )
    if target.state_path is not None or target.backend:
        raise UsageProblem("--state and --backend name one cluster's state: with several PATHs use --state-dir DIR")
    config = load_config(target.config_file, paths[0])
    if config.source is not None and (config.state.path is not None or config.state.backend != "local"):
        raise UsageProblem(
            f"{config.source} configures one state: with several PATHs use --state-dir DIR (one state per cluster)"
        )


def _state_of(state_dir: Path | None, name: str, init_state: bool) -> Path | None:
    if state_dir is None:
        return None
    state = state_dir / f"{name}.state.json"
    if not state.exists() and not init_state:
        raise StateError(
            f"state file {state} does not exist",
            hint="--state-dir holds <cluster name>.state.json per cluster; --init-state plans against new empty states",
        )
    return state
