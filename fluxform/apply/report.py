"""What an apply did, in past tense: per object, per owner, and for the whole run.

The report is built as the run goes and returned whole, also with a failure (`ApplyFailed`
carries it), so the caller always learns what was written before the error: rollback
(issue 19) starts from it. It never holds a manifest or a value, only ids and actions; the
pre-images live beside it in memory (apply/preimages.py).

    report.owners[0].summary_line()   # "Kustomization/flux-system/apps: applied: 2 created, ..."
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from fluxform.apply.preimages import Write
from fluxform.apply.releases import ReleaseOutcome
from fluxform.apply.rollback import RollbackReport
from fluxform.errors import FluxformError
from fluxform.objects import ObjectId

__all__ = ["ApplyFailed", "ApplyReport", "ObjectAction", "ObjectResult", "OwnerOutcome", "OwnerReport"]


class ObjectAction(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    RECREATED = "recreated"  # deleted and created again: an immutable field changed (spec.force)
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # a Flux policy (ssa: Ignore, reconcile: disabled, ...) leaves it alone
    DELETED = "deleted"
    KEPT = "kept"  # garbage collection left it (owner labels or policies on the live object)
    FORGOTTEN = "forgotten"  # left the inventory, stays in the cluster (prune off, prune: disabled)


_WRITES = (ObjectAction.CREATED, ObjectAction.CONFIGURED, ObjectAction.RECREATED, ObjectAction.DELETED)
#: the order counts are shown in: what was written first
_SHOWN = (*_WRITES, ObjectAction.UNCHANGED, ObjectAction.SKIPPED, ObjectAction.KEPT, ObjectAction.FORGOTTEN)


@dataclass(frozen=True, slots=True)
class ObjectResult:
    id: ObjectId
    action: ObjectAction
    detail: str = ""  # why (a skip or keep reason), for people


class OwnerOutcome(StrEnum):
    APPLIED = "applied"  # applied, healthy, pruned; its state shrank to the new inventory
    UNCHANGED = "unchanged"  # nothing to write or delete
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped between two writes (a signal, or another owner failed)
    NOT_APPLIED = "not applied"  # left out before it started (not planned, a dependency failed, ...)


@dataclass(frozen=True)
class OwnerReport:
    owner: ObjectId
    outcome: OwnerOutcome
    objects: tuple[ObjectResult, ...] = ()
    seconds: float = 0.0
    reason: str = ""  # why it failed or was left out, one line
    release: ReleaseOutcome | None = None  # a HelmRelease: what Helm did

    def counts(self) -> Counter[ObjectAction]:
        return Counter(result.action for result in self.objects)

    def wrote(self) -> bool:
        return any(result.action in _WRITES for result in self.objects) or (
            self.release is not None and self.release.action != "none"
        )

    def summary_line(self) -> str:
        """One line for stdout: `Kustomization/flux-system/apps: applied: 1 created, ... (1.2s)`."""
        counts = self.counts()
        parts = [f"{counts[a]} {a}" for a in _SHOWN if counts[a]]
        if self.release is not None and (self.release.action != "none" or self.release.drift):
            parts.insert(0, _release_text(self.release))
        text = f"{self.owner}: {self.outcome}"
        if parts:
            text += ": " + ", ".join(parts)
        if self.reason:
            text += f" ({self.reason})" if self.outcome is OwnerOutcome.APPLIED else f": {self.reason}"
        if self.seconds:
            text += f" [{self.seconds:.1f}s]"
        return text


def _release_text(release: ReleaseOutcome) -> str:
    before = f"revision {release.revision_before}" if release.revision_before is not None else "no release"
    after = f"revision {release.revision_after}" if release.revision_after is not None else "none"
    text = f"Helm {release.action} ({before} -> {after}, {release.status or 'no status'})"
    if release.replaced:
        text += f" after uninstalling the old release: {release.replaced}"
    tests = [s for s in release.steps if s.action == "test"]
    if tests:
        text += "; Helm tests failed (ignored)" if tests[-1].failed else "; Helm tests passed"
    if release.drift:
        done = "corrected" if release.action == "correct-drift" else "detected, not corrected (driftDetection: warn)"
        text += f"; drift {done}: {', '.join(release.drift)}"
    return text


@dataclass(frozen=True)
class ApplyReport:
    owners: tuple[OwnerReport, ...]
    state_serial: int = 0  # the serial of the last state written (0: none written)
    suspended: tuple[ObjectId, ...] = ()  # Flux objects this apply suspended (--suspend)
    warnings: tuple[str, ...] = field(default=())
    rollback: RollbackReport | None = None  # after a failure: what the automatic rollback did
    half_applied: tuple[str, ...] = ()  # --no-rollback after a failure: each write left in place
    resume: tuple[str, ...] = ()  # `flux resume ...` for what this run suspended (resuming is the operator's call)

    def totals(self) -> Counter[ObjectAction]:
        total: Counter[ObjectAction] = Counter()
        for owner in self.owners:
            total.update(owner.counts())
        return total

    def by_outcome(self, outcome: OwnerOutcome) -> list[OwnerReport]:
        return [o for o in self.owners if o.outcome is outcome]

    @property
    def ok(self) -> bool:
        return not any(o.outcome in (OwnerOutcome.FAILED, OwnerOutcome.INTERRUPTED) for o in self.owners)

    def summary_line(self) -> str:
        """`Apply complete: 3 created, 1 configured, 0 deleted; 4 owners applied.` or the failed form."""
        totals = self.totals()
        created = totals[ObjectAction.CREATED] + totals[ObjectAction.RECREATED]
        objects = (
            f"{created} created, {totals[ObjectAction.CONFIGURED]} configured, {totals[ObjectAction.DELETED]} deleted"
        )
        owners = _owner_counts(self.owners)
        head = "Apply complete" if self.ok else "Apply failed"
        if not self.ok and self.rollback is not None:
            head += ", rolled back" if self.rollback.complete else ", rollback incomplete"
        return f"{head}: {objects}; {owners}."


def _owner_counts(owners: Iterable[OwnerReport]) -> str:
    counts = Counter(o.outcome for o in owners)
    order = (OwnerOutcome.APPLIED, OwnerOutcome.UNCHANGED, OwnerOutcome.FAILED, OwnerOutcome.INTERRUPTED)
    parts = [f"{counts[o]} {o}" for o in order if counts[o]]
    if counts[OwnerOutcome.NOT_APPLIED]:
        parts.append(f"{counts[OwnerOutcome.NOT_APPLIED]} not applied")
    total = sum(counts.values())
    return f"{total} owner{'s' if total != 1 else ''}: " + ", ".join(parts) if parts else "no owners"


class ApplyFailed(FluxformError):
    """An apply that stopped on an error; `report` says what was done before it, `touched`
    holds every write sent with its pre-image (in memory only: rollback restores from it)."""

    def __init__(self, summary: str, report: ApplyReport, touched: Sequence[Write] = (), *, hint: str = "") -> None:
        super().__init__(summary, hint=hint)
        self.report = report
        self.touched = tuple(touched)
