"""How an apply runs: the CLI's flags as one frozen value (`ApplyOptions`).

options = ApplyOptions(parallelism=4, auto_approved=True, flux=FluxMode.SUSPEND)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ApplyOptions", "FluxMode"]


class FluxMode(StrEnum):
    """What to do about Flux Kustomizations/HelmReleases that are not suspended."""

    REFUSE = "refuse"  # default: Flux would revert an unmerged change (or fail a pending Helm release)
    SUSPEND = "suspend"  # --suspend: set spec.suspend: true first, as `flux suspend` does
    IGNORE = "ignore"  # --ignore-flux: go on, with a warning


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = 4  # --parallelism: owners applied at once (independent ones only)
    timeout: float | None = None  # --timeout SECONDS: health waits; None = each owner's spec.timeout
    auto_approved: bool = False  # no one confirmed the printed plan (--auto-approve, or a plan file)
    allow_destroy_namespaces: bool = False  # --allow-destroy-namespaces: Namespace/CRD deletion without a prompt
    partial: bool = False  # --partial: apply what the plan covers when it left owners out
    flux: FluxMode = FluxMode.REFUSE  # --suspend / --ignore-flux
    force_state: bool = False  # --force-state: a state of another cluster or fleet path is only a warning
    stage_timeout: float = 60.0  # Flux's apply wait for CRDs/Namespaces/classes (not spec.timeout)
    poll_max: float = 2.0  # longest pause between two health polls (they start at 0.1 s and double)
    rollback: bool = True  # --no-rollback: leave a failed apply as it stopped (and say what is half-applied)
    rollback_timeout: float = 300.0  # --rollback-timeout SECONDS: the whole rollback, Helm included
    retry_rolled_back: bool = False  # --retry-rolled-back: apply a source revision `fluxform rollback` rolled back
