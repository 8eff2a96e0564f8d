"""`fluxform apply`: execute a saved plan, or plan a fleet, show it and apply it once confirmed.

    fluxform apply plan.json --keys-dir keys                  # exactly that plan (no prompt)
    fluxform apply clusters/staging --keys-dir keys           # plan, show, ask for `yes`
    fluxform apply clusters/staging --auto-approve --suspend  # CI: no prompt, Flux suspended first

Progress goes to stderr (owner, stage, what it waits for, elapsed); one summary line per
owner and the final line go to stdout. Exit 0 when everything applied, 1 otherwise (the
state then lists every object written so far).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fluxform.commands.options import apply_run_options, cluster_options, fleet_options_with_artifacts, rollback_options
from fluxform.errors import FluxformError, StateError
from fluxform.objects import ObjectId
from fluxform.planner.options import FleetOptions
from fluxform.target import TargetFlags, UsageProblem, resolve_target

if TYPE_CHECKING:
    from fluxform.apply.options import ApplyOptions
    from fluxform.apply.report import ApplyReport, ObjectResult, OwnerReport
    from fluxform.apply.stages import Stage
    from fluxform.apply.workflow import ApplyTarget
    from fluxform.planner.planfile import PlanFile

__all__ = ["ApplyPrinter", "apply", "apply_target", "confirm_plan", "interactive", "show_plan"]

_WAIT_EVERY = 5.0  # seconds between two "waiting" lines of one owner


@click.command()
@click.argument("plan_or_path", metavar="[PLAN_FILE | PATH]", type=click.Path(path_type=Path), required=False)
@apply_run_options
@click.option("--field-manager", default="", help="Server-side apply field manager (PATH only; default: as Flux).")
@click.option(
    "--allow-destroy-namespaces",
    is_flag=True,
    help="Let a plan delete Namespaces or CRDs (and everything in them) without a prompt.",
)
@click.option("--suspend", "suspend_flux", is_flag=True, help="Suspend touched Flux objects first (as flux suspend).")
@click.option("--ignore-flux", is_flag=True, help="Apply even where Flux reconciles the touched objects (warns).")
@click.option("--partial", is_flag=True, help="Apply what the plan covers when it leaves owners out (listed).")
@click.option("--force-state", is_flag=True, help="Use a state recorded for another cluster or fleet path (warns).")
@click.option("--init-state", is_flag=True, help="Accept a --state file that does not exist yet (a new state).")
@click.option(
    "--retry-rolled-back", is_flag=True, help="Apply a source revision `fluxform rollback` rolled back (it says so)."
)
@rollback_options
@cluster_options
@fleet_options_with_artifacts
def apply(
    plan_or_path: Path | None,
    auto_approve: bool,
    parallelism: int,
    timeout: float | None,
    field_manager: str,
    allow_destroy_namespaces: bool,
    suspend_flux: bool,
    ignore_flux: bool,
    partial: bool,
    force_state: bool,
    init_state: bool,
    retry_rolled_back: bool,
    no_rollback: bool,
    rollback_timeout: float,
    target: TargetFlags,
    fleet: FleetOptions,
) -> None:
    """Apply a saved plan (PLAN_FILE), or plan the fleet at PATH, show it and apply it.

    A saved plan is applied exactly, after checking it is not stale (state, source and
    cluster unchanged since it was made); PATH is planned against the cluster first and
    applied once you answer `yes` (or with --auto-approve). The state lock is held from
    start to end; the state is written as owners complete. When an owner fails (or a signal
    stops the run) everything this apply wrote is put back, newest first, unless
    --no-rollback."""
    from fluxform.apply.options import ApplyOptions, FluxMode
    from fluxform.apply.report import ApplyFailed

    if suspend_flux and ignore_flux:
        raise click.UsageError("--suspend and --ignore-flux exclude each other")
    if plan_or_path is None and fleet.artifact:
        plan_or_path = Path(".")  # --source REF alone: the artifact's root is the cluster path
    saved = plan_or_path is not None and _is_plan_file(plan_or_path)
    if not saved and not auto_approve and not interactive():
        raise FluxformError(
            "apply asks for confirmation, and stdin is not a terminal",
            hint="review the plan and pass --auto-approve, or apply a saved plan file",
        )
    if target.state_path is not None and not target.state_path.exists() and not init_state:
        raise StateError(
            f"state file {target.state_path} does not exist",
            hint="check the path; --init-state applies into a new, empty state",
        )
    options = ApplyOptions(
        parallelism=parallelism,
        timeout=timeout,
        auto_approved=auto_approve or saved,
        allow_destroy_namespaces=allow_destroy_namespaces,
        partial=partial,
        flux=FluxMode.SUSPEND if suspend_flux else FluxMode.IGNORE if ignore_flux else FluxMode.REFUSE,
        force_state=force_state,
        rollback=not no_rollback,
        rollback_timeout=rollback_timeout,
        retry_rolled_back=retry_rolled_back,
    )
    from fluxform.commands.console import current

    settings = current()
    printer = ApplyPrinter(quiet=settings.quiet or settings.progress is False)
    try:
        report = _run(plan_or_path, saved, target, fleet, options, printer, field_manager)
    except ApplyFailed as failed:
        from fluxform.views.rollback import render_failure

        click.echo(render_failure(failed.report), nl=False)
        raise
    if report is None:
        raise FluxformError("apply cancelled: the answer was not `yes`; nothing was changed")
    click.echo(report.summary_line())


def _run(
    plan_or_path: Path | None,
    saved: bool,
    flags: TargetFlags,
    fleet: FleetOptions,
    options: ApplyOptions,
    printer: ApplyPrinter,
    field_manager: str,
) -> ApplyReport | None:
    from fluxform.apply.workflow import apply_fleet, apply_saved_plan

    # a saved plan resolves config and default state from the fleet path it was made from,
    # as `plan PATH --out` did
    start = _planned_path(plan_or_path) if saved and plan_or_path is not None else plan_or_path
    target, fleet_path = apply_target(flags, start, needs_path=not saved)
    if saved:
        assert plan_or_path is not None
        return apply_saved_plan(plan_or_path, fleet, target, options, printer)
    assert fleet_path is not None
    return apply_fleet(
        fleet_path,
        fleet,
        target,
        options,
        printer,
        show=show_plan,
        confirm=confirm_plan,
        field_manager=field_manager,
    )


def apply_target(flags: TargetFlags, path: Path | None, *, needs_path: bool) -> tuple[ApplyTarget, Path | None]:
    """The cluster and state an apply (or rollback) writes to, and the fleet path."""
    from fluxform.apply.workflow import ApplyTarget

    if not flags.wants_cluster:
        flags = replace(flags, live=True)  # apply always talks to a cluster: the default kubeconfig's
    resolved = resolve_target(flags, path=path, needs_path=needs_path, live=True, default_state=True)
    if resolved.cluster is None or resolved.state is None:
        raise UsageProblem("apply needs a cluster and a state: pass --kubeconfig/--context or --state")
    settings = resolved.config.state
    target = ApplyTarget(
        cluster=resolved.cluster,
        backend=resolved.state,
        context=resolved.config.context,
        recipients=settings.recipients,
        history_limit=settings.history_limit,
        lock_timeout=settings.lock_timeout,
    )
    return target, resolved.fleet_path


def _planned_path(plan_file: Path) -> Path | None:
    """The fleet path a saved plan was made from, when it still exists (else: the working dir)."""
    from fluxform.planner.planfile import read_plan_file

    target = Path(read_plan_file(plan_file).target)
    return target if target.exists() else None


def interactive() -> bool:
    """Whether someone can answer the prompt."""
    return sys.stdin.isatty()


def _is_plan_file(path: Path) -> bool:
    """A saved plan is a JSON file; a fleet is a directory (or the YAML file of --root-ks)."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


def show_plan(plan: PlanFile) -> None:
    from fluxform.commands.console import stdout_colour
    from fluxform.views.plan import render_text

    colour = stdout_colour()
    click.echo(render_text(plan, colour=colour), nl=False, color=colour)


def confirm_plan(plan: PlanFile) -> bool:
    if not plan.has_changes():
        return True
    click.echo("\nDo you want to perform these actions? Only 'yes' will be accepted to approve.")
    answer: str = click.prompt("  Enter a value", default="", show_default=False)
    return answer.strip() == "yes"


class ApplyPrinter:
    """The ApplyObserver of the CLI: progress on stderr (unless --quiet / --no-progress),
    one line per owner on stdout, warnings always."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self._lock = threading.Lock()
        self._last_wait: dict[ObjectId, float] = {}

    def _err(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            click.echo(text, err=True)

    def owner_started(self, owner: ObjectId) -> None:
        self._err(f"{owner}: applying")

    def stage_started(self, owner: ObjectId, stage: Stage, objects: int) -> None:
        self._err(f"{owner}: {stage.describe()}: {objects} object(s)")

    def object_done(self, owner: ObjectId, result: ObjectResult) -> None:
        detail = f" ({result.detail})" if result.detail else ""
        self._err(f"  {result.id} {result.action}{detail}")

    def waiting(self, owner: ObjectId, what: str, elapsed: float) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last_wait.get(owner)
            if last is not None and now - last < _WAIT_EVERY:
                return
            self._last_wait[owner] = now
        self._err(f"{owner}: waiting for {what} ({elapsed:.0f}s elapsed)")

    def owner_finished(self, report: OwnerReport) -> None:
        with self._lock:
            click.echo(report.summary_line())

    def warning(self, text: str) -> None:
        with self._lock:
            click.echo(f"Warning: {' '.join(text.split())}", err=True)
