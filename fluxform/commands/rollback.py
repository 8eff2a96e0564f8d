"""`fluxform rollback`: put the cluster back to a revision the state recorded.

    fluxform rollback clusters/prod --reason "bad release"          # the last complete apply before
    fluxform rollback clusters/prod --to 12 --auto-approve          # serial 12 of `fluxform state history`

The git commit that serial was applied from is rendered again; every object must come out
with the digest recorded then (else refused, naming the object); the plan is shown and, once
confirmed, applied by the apply executor (a failure is rolled back as any apply's). Flux
objects it touches are suspended and stay so: the report prints `flux resume`. The source
revision rolled away from is marked in the state; applying it again needs --retry-rolled-back.
"""

from __future__ import annotations

from pathlib import Path

import click

from fluxform.commands.apply import ApplyPrinter, apply_target, confirm_plan, interactive, show_plan
from fluxform.commands.options import apply_run_options, cluster_options, fleet_options_with_artifacts, rollback_options
from fluxform.errors import FluxformError
from fluxform.planner.options import FleetOptions
from fluxform.target import TargetFlags

__all__ = ["rollback"]


@click.command()
@click.argument("path", metavar="[PATH]", type=click.Path(path_type=Path), required=False)
@click.option("--to", "serial", type=click.IntRange(min=1), help="State serial to restore (default: see above).")
@click.option("--reason", default="", help="Why, recorded in the state beside the rolled-back revision.")
@apply_run_options
@click.option("--ignore-flux", is_flag=True, help="Do not suspend the Flux objects it touches (warns).")
@click.option("--partial", is_flag=True, help="Restore what renders when some owners cannot be (listed).")
@click.option(
    "--allow-destroy-namespaces",
    is_flag=True,
    help="Let the rollback delete Namespaces or CRDs (and everything in them) without a prompt.",
)
@rollback_options
@cluster_options
@fleet_options_with_artifacts
def rollback(
    path: Path | None,
    serial: int | None,
    reason: str,
    auto_approve: bool,
    parallelism: int,
    timeout: float | None,
    ignore_flux: bool,
    partial: bool,
    allow_destroy_namespaces: bool,
    no_rollback: bool,
    rollback_timeout: float,
    target: TargetFlags,
    fleet: FleetOptions,
) -> None:
    """Restore a revision the state recorded (--to SERIAL; default: the last complete apply
    of another source revision), re-rendered from its git commit and checked digest by digest."""
    from fluxform.apply.options import ApplyOptions, FluxMode
    from fluxform.apply.report import ApplyFailed
    from fluxform.apply.restore import rollback_fleet
    from fluxform.commands.console import current
    from fluxform.views.rollback import render_failure

    if not auto_approve and not interactive():
        raise FluxformError(
            "rollback asks for confirmation, and stdin is not a terminal",
            hint="review the plan and pass --auto-approve",
        )
    options = ApplyOptions(
        parallelism=parallelism,
        timeout=timeout,
        auto_approved=auto_approve,
        allow_destroy_namespaces=allow_destroy_namespaces,
        partial=partial,
        flux=FluxMode.IGNORE if ignore_flux else FluxMode.SUSPEND,
        rollback=not no_rollback,
        rollback_timeout=rollback_timeout,
    )
    apply_to, fleet_path = apply_target(target, path, needs_path=True)
    assert fleet_path is not None
    settings = current()
    printer = ApplyPrinter(quiet=settings.quiet or settings.progress is False)
    try:
        restore, report = rollback_fleet(
            fleet_path, serial, reason, fleet, apply_to, options, printer, show=show_plan, confirm=confirm_plan
        )
    except ApplyFailed as failed:
        click.echo(render_failure(failed.report), nl=False)
        raise
    if report is None:
        raise FluxformError("rollback cancelled: the answer was not `yes`; nothing was changed")
    click.echo(report.summary_line().replace("Apply complete", f"Rollback to serial {restore.serial} complete", 1))
    click.echo(
        f"State serial {report.state_serial}: source revision {restore.away_from.source_revision} marked rolled back "
        f"({restore.away_from.reason}); applying it again needs --retry-rolled-back."
    )
    if report.resume:
        click.echo("Flux objects stay suspended; resume them once the fleet is fixed:")
        for line in report.resume:
            click.echo(f"  {line}")
