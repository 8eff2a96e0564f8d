"""`fluxform graph`: the owner graph of a fleet, or of a saved plan, as Mermaid or DOT.

    fluxform graph clusters/staging --keys-dir keys            # Mermaid, coloured by change
    fluxform graph plan.json -o dot | dot -Tsvg > owners.svg   # a plan saved with --out

Nodes are Kustomizations and HelmReleases, coloured by what the plan does to their objects
(add, change, destroy, not planned, unchanged); solid edges parent -> child, dotted edges
dependsOn. A fleet path is planned offline against `--state` (none: everything is new),
owners that cannot be rendered drawn as not planned rather than failing the command.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from fluxform.commands.options import fleet_options
from fluxform.commands.validation_flags import validation_options
from fluxform.planner.options import FleetOptions
from fluxform.planner.validation import ValidationOptions

__all__ = ["graph"]


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o", "--output", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True, help="Format."
)
@click.option("--state", "state_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="State file the fleet is planned against (default: none, everything is new).")  # fmt: skip
@click.option("--all", "draw_all", is_flag=True, help="Draw every owner (default: fold unchanged subtrees past 40).")
@validation_options
@fleet_options
def graph(
    path: Path,
    output: str,
    state_path: Path | None,
    draw_all: bool,
    validation: ValidationOptions,
    fleet: FleetOptions,
) -> None:
    """Print the owner graph of the fleet at PATH, or of a plan file saved with `plan --out`."""
    from fluxform.planner.planfile import plan_file_from, read_plan_file
    from fluxform.planner.workflow import plan_fleet
    from fluxform.views.graph import collapse, graph_of_plan, render_dot, render_mermaid

    if path.is_file() and path.suffix == ".json":
        plan_file = read_plan_file(path)
    else:
        request = replace(fleet.request(), validation=validation)
        plan_file = plan_file_from(plan_fleet(path, request, state_path=state_path, helm=fleet.helm()))
    owners = graph_of_plan(plan_file)
    drawn = owners if draw_all else collapse(owners)
    click.echo(render_dot(drawn) if output == "dot" else render_mermaid(drawn), nl=False)
