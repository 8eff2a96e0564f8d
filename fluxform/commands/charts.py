"""`fluxform charts pull`: fill the chart cache so a fleet can be planned air-gapped.

fluxform charts pull clusters/production && fluxform plan clusters/production --offline
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from fluxform.commands.console import progress
from fluxform.commands.options import fleet_options
from fluxform.planner.options import FleetOptions

__all__ = ["charts"]


@click.group()
def charts() -> None:
    """Chart cache for air-gapped planning."""


@charts.command("pull")
@click.argument("path", type=click.Path(path_type=Path))
@fleet_options
def pull(path: Path, fleet: FleetOptions) -> None:
    """Fetch every chart the fleet at PATH needs into the chart cache (needs network)."""
    from fluxform.helm import ResolvedChart
    from fluxform.planner.releases import HelmOptions, chart_pull_hook
    from fluxform.planner.workflow import rendered_fleet
    from fluxform.sources.chart_cache import ChartCache
    from fluxform.views.tables import format_table

    pulled: list[ResolvedChart] = []
    helm = HelmOptions(cache=ChartCache(fleet.chart_cache) if fleet.chart_cache is not None else None)
    with progress() as observer:  # builds, then releases rendered (each fetches its chart)
        request = fleet.request(progress=observer)
        request = replace(request, discover=replace(request.discover, helm=chart_pull_hook(helm, pulled)))
        with rendered_fleet(path, request):
            pass
    rows = [[c.name, c.version, c.source, c.digest] for c in pulled]
    click.echo(format_table(["CHART", "VERSION", "SOURCE", "DIGEST"], rows), nl=False)
