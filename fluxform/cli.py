"""fluxform's command line: flags in, one library call, rendered output, exit code.

Every FluxformError becomes one line on stderr and exit code 1. `plan --detailed-exitcode`
follows Terraform: 0 no changes, 1 error, 2 changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from fluxform import __version__
from fluxform.commands.diff import diff
from fluxform.commands.fleet import fleet_options, fleet_request, helm_options, write_private
from fluxform.commands.state import force_unlock, state_group
from fluxform.config import FluxformConfig, load_config
from fluxform.errors import FluxformError
from fluxform.helm import ResolvedChart
from fluxform.planner.model import DesiredState
from fluxform.planner.planfile import read_plan_file
from fluxform.planner.releases import HelmOptions, chart_pull_hook
from fluxform.planner.workflow import plan_fleet, rendered_fleet
from fluxform.sources.chart_cache import ChartCache
from fluxform.state.backend import StateBackend, open_backend
from fluxform.views.plan import plan_to_dict, render_json, render_markdown, render_text
from fluxform.views.tables import (
    format_table,
    helm_release_table,
    kustomization_table,
    owner_manifests,
    sources_table,
)

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="fluxform")
def cli() -> None:
    """Terraform-style plan/apply for Flux GitOps repositories."""


def _fleet_path(path: Path | None, config: FluxformConfig) -> Path:
    if path is not None:
        return path
    if config.cluster_path:
        return config.root / config.cluster_path
    raise click.UsageError("give the cluster PATH, or set `cluster:` in fluxform.yaml")


def _state_source(state_path: Path | None, config: FluxformConfig) -> Path | StateBackend | None:
    """--state FILE, else the state fluxform.yaml configures, else none (an empty state)."""
    if state_path is not None:
        return state_path
    if config.source is None:
        return None
    return open_backend(
        config.state, root=config.root, kubeconfig=config.kubeconfig, context=config.context or "default"
    )


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option(
    "--state", "state_path", type=click.Path(path_type=Path), help="State file (default: fluxform.yaml's, else empty)."
)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="fluxform.yaml to use.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write the plan (JSON) to this file.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes, 0 when not.")
@click.option("--color/--no-color", default=None, help="Colour text output (default: when a terminal).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help="Plan against this cluster.")
@click.option("--context", "kube_context", help="kubeconfig context (implies a live plan).")
@click.option("--in-cluster", is_flag=True, help="Use the pod's service account (implies a live plan).")
@click.option("--live", is_flag=True, help="Plan against the cluster of the default kubeconfig.")
@click.option("--field-manager", default="", help="Server-side apply field manager (default: as Flux, or fluxform).")
@fleet_options
def plan(
    path: Path | None,
    state_path: Path | None,
    config_file: Path | None,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    color: bool | None,
    kubeconfig: Path | None,
    kube_context: str | None,
    in_cluster: bool,
    live: bool,
    field_manager: str,
    **fleet: Any,
) -> None:
    """Show what applying the fleet at PATH would change.

    Without cluster flags the plan is offline (against --state only); with --kubeconfig,
    --context, --in-cluster or --live it reads the cluster and dry-runs the changes."""
    config = load_config(config_file, path or Path.cwd())
    path = _fleet_path(path, config)
    state_source = _state_source(state_path, config)
    wants_live = bool(kubeconfig or kube_context or in_cluster or live)  # never implied by config/env
    kubeconfig = kubeconfig or config.kubeconfig
    kube_context = kube_context or config.context or None
    if wants_live:
        from fluxform.cluster.client import ClusterOptions
        from fluxform.planner.live.workflow import LiveOptions, live_plan_to_dict, plan_fleet_live

        result = plan_fleet_live(
            path,
            fleet_request(fleet),
            state_path=state_source,
            cluster_options=ClusterOptions(kubeconfig=kubeconfig, context=kube_context or "", in_cluster=in_cluster),
            live_options=LiveOptions(field_manager=field_manager),
            helm=helm_options(fleet),
        )
        data = live_plan_to_dict(result)
    else:
        result = plan_fleet(path, fleet_request(fleet), state_path=state_source)
        data = plan_to_dict(result)
    as_json = render_json(data)
    if out is not None:
        write_private(out, as_json)
    if fmt == "json":
        click.echo(as_json, nl=False)
    elif fmt == "markdown":
        click.echo(render_markdown(data), nl=False)
    else:
        colour = sys.stdout.isatty() if color is None else color
        click.echo(render_text(data, colour=colour), nl=False)
    if detailed_exitcode and result.has_changes():
        sys.exit(2)


@cli.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
def show(plan_file: Path, fmt: str) -> None:
    """Print a saved plan file."""
    data = read_plan_file(plan_file)
    if fmt == "json":
        click.echo(render_json(data), nl=False)
    elif fmt == "markdown":
        click.echo(render_markdown(data), nl=False)
    else:
        click.echo(render_text(data, colour=sys.stdout.isatty()), nl=False)


@cli.group()
def get() -> None:
    """List what a fleet defines."""


def _register_table(name: str, table: Callable[[DesiredState], str], summary: str) -> None:
    """`fluxform get NAME PATH`: render the fleet, print one table of it."""

    @get.command(name, help=summary)
    @click.argument("path", type=click.Path(path_type=Path))
    @fleet_options
    def command(path: Path, **fleet: Any) -> None:
        with rendered_fleet(path, fleet_request(fleet)) as (state, _):
            click.echo(table(state), nl=False)


_register_table("ks", kustomization_table, "Flux Kustomizations reachable from PATH, in apply order.")
_register_table("sources", sources_table, "Flux sources defined in the fleet and which Kustomizations use them.")
_register_table("hr", helm_release_table, "HelmReleases: chart, resolved version, source, release and values sources.")


@cli.group()
def build() -> None:
    """Print rendered manifests."""


@build.command("ks")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--namespace", "-n", default="", help="Namespace of the Kustomization (default: any).")
@click.option("--show-secrets", is_flag=True, help="Print decrypted Secret values (said on stderr).")
@fleet_options
def build_ks(name: str, path: Path, namespace: str, show_secrets: bool, **fleet: Any) -> None:
    """The manifests Flux would apply for Kustomization NAME (Secret values masked)."""
    with rendered_fleet(path, fleet_request(fleet)) as (state, secrets):
        if show_secrets:
            click.echo("fluxform: --show-secrets: printing decrypted Secret values in plaintext", err=True)
        masking = None if show_secrets else secrets.masking(None)
        click.echo(owner_manifests(state, "Kustomization", name, namespace, masking), nl=False)


@build.command("hr")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--namespace", "-n", default="", help="Namespace of the HelmRelease (default: any).")
@click.option("--show-secrets", is_flag=True, help="Print Secret values in plaintext (said on stderr).")
@fleet_options
def build_hr(name: str, path: Path, namespace: str, show_secrets: bool, **fleet: Any) -> None:
    """The manifests helm-controller would apply for HelmRelease NAME (Secret values masked)."""
    with rendered_fleet(path, fleet_request(fleet)) as (state, secrets):
        if show_secrets:
            click.echo("fluxform: --show-secrets: printing Secret values in plaintext", err=True)
        masking = None if show_secrets else secrets.masking(None)
        click.echo(owner_manifests(state, "HelmRelease", name, namespace, masking), nl=False)


@cli.group()
def charts() -> None:
    """Chart cache for air-gapped planning."""


@charts.command("pull")
@click.argument("path", type=click.Path(path_type=Path))
@fleet_options
def charts_pull(path: Path, **fleet: Any) -> None:
    """Fetch every chart the fleet at PATH needs into the chart cache (needs network)."""
    request = fleet_request(fleet)
    pulled: list[ResolvedChart] = []
    helm = HelmOptions(cache=ChartCache(Path(fleet["chart_cache"])) if fleet.get("chart_cache") else None)
    request = replace(request, discover=replace(request.discover, helm=chart_pull_hook(helm, pulled)))
    with rendered_fleet(path, request):
        pass
    rows = [[c.name, c.version, c.source, c.digest] for c in pulled]
    click.echo(format_table(["CHART", "VERSION", "SOURCE", "DIGEST"], rows), nl=False)


@cli.command()
def version() -> None:
    """Versions of fluxform and the tools it runs."""
    from fluxform.versions import tool_versions

    for name, value in tool_versions().items():
        click.echo(f"{name}: {value}")


cli.add_command(state_group)
cli.add_command(force_unlock)
cli.add_command(diff)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="fluxform", standalone_mode=False)
    except FluxformError as exc:
        click.echo(f"Error: {exc.one_line()}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else 1)
    except SystemExit:
        raise
    sys.exit(0)
