"""How an apply run ends: the final state write (what it did, object by object), the automatic
rollback when it failed (apply/rollback.py) and its own state revision, the journals closed,
and the report returned, or raised with the failure (`ApplyFailed`) or the signal.

    report = FinishedRun(ctx, recorder, base, works, reports, cancelled, commit, restore).conclude(
        releases, Journals(journal, release_journal_path), touched_flux, warnings)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fluxform.apply.context import RunContext
from fluxform.apply.flux import resume_command
from fluxform.apply.owner import OwnerWork, state_record
from fluxform.apply.preimages import JournalFile, TouchedRelease, Write
from fluxform.apply.recorded import Restore
from fluxform.apply.recorder import StateRecorder
from fluxform.apply.releases import ReleaseApplier
from fluxform.apply.report import ApplyFailed, ApplyReport, OwnerOutcome, OwnerReport
from fluxform.apply.rollback import RollbackReport, restored_owners, roll_back, step_records
from fluxform.cancellation import Cancelled, shielded
from fluxform.cluster.ref import ObjectRef
from fluxform.objects import ObjectId
from fluxform.state.model import ActionRecord, OwnerState, RolledBack, StateFile

__all__ = ["FinishedRun", "Journals"]

_FAILED = (OwnerOutcome.FAILED, OwnerOutcome.INTERRUPTED)


@dataclass(frozen=True)
class Journals:
    """The run's write journal and the Helm release journal's file: kept when the run leaves
    the cluster unsettled (the next run reports and recovers from them), removed otherwise."""

    writes: JournalFile | None
    releases: Path | None


@dataclass
class FinishedRun:
    ctx: RunContext
    recorder: StateRecorder
    base: StateFile  # the state the run started from
    works: Mapping[ObjectId, OwnerWork]
    reports: list[OwnerReport]
    cancelled: Cancelled | None
    commit: str  # the git commit applied ("" unknown)
    restore: Restore | None  # `fluxform rollback`: the revision restored
    scrub: Callable[[str], str] = str  # decrypted values out of the reasons the state keeps

    @property
    def failed(self) -> bool:
        return self.cancelled is not None or any(r.outcome in _FAILED for r in self.reports)

    @property
    def verb(self) -> str:
        return f"rollback to serial {self.restore.serial}" if self.restore is not None else "apply"

    def conclude(
        self,
        releases: ReleaseApplier | None,
        journals: Journals,
        touched_flux: Sequence[ObjectRef],
        warnings: Sequence[str],
    ) -> ApplyReport:
        """Write the last state(s), roll back a failure, close the journals (no signal cuts
        this short), then return the report or raise."""
        ctx, failed = self.ctx, self.failed
        writes = ctx.preimages.items()
        rolled: RollbackReport | None = None
        with shielded():
            away = self.restore.away_from if self.restore is not None and not failed else None
            final = self._final_state(away)
            if failed and ctx.options.rollback:
                rolled = roll_back(ctx.cluster, writes, releases, timeout=ctx.options.rollback_timeout)
                final = self._rolled_back_state(final, rolled)
            report = ApplyReport(
                tuple(self.reports),
                final.serial,
                tuple(r.object_id for r in touched_flux),
                tuple(warnings),
                rollback=rolled,
                half_applied=tuple(_half_applied(writes)) if failed and not ctx.options.rollback else (),
                resume=tuple(resume_command(touched_flux)),
            )
            settled = not failed or (rolled is not None and rolled.complete)
            if journals.writes is not None:
                journals.writes.close(done=settled)
            if journals.releases is not None and settled:
                journals.releases.unlink(missing_ok=True)
        if self.cancelled is not None and rolled is None:
            raise self.cancelled
        if failed:
            raise ApplyFailed(self._summary(), report, writes, hint=_failure_hint(final, rolled))
        return report

    def _summary(self) -> str:
        first = next((r for r in self.reports if r.outcome in _FAILED), None)
        if first is not None:
            return f"{first.owner} {first.outcome}: {first.reason}"
        return f"the apply was stopped by {self.cancelled.signal_name if self.cancelled else 'a signal'}"

    def _final_state(self, rolled_back: RolledBack | None) -> StateFile:
        """Owners untouched by this run get their refreshed records; the others are as the run
        left them (settled, or pending after a failure)."""
        ctx, recorder, works, reports, cancelled = self.ctx, self.recorder, self.works, self.reports, self.cancelled
        verb, source_commit = self.verb, self.commit
        outcomes = {r.owner: r.outcome for r in reports}
        owners: dict[ObjectId, OwnerState] = recorder.owners()
        for work in works.values():
            if outcomes.get(work.id) is not OwnerOutcome.UNCHANGED:
                continue
            record = state_record(ctx, work, owners.get(work.id))
            if record is None:
                owners.pop(work.id, None)
            else:
                owners[work.id] = record
        failed = any(o in (OwnerOutcome.FAILED, OwnerOutcome.INTERRUPTED) for o in outcomes.values())
        operation = f"{verb} (interrupted)" if cancelled is not None else f"{verb} (failed)" if failed else verb
        current = recorder.current
        if recorder.writes == 0 and current.serial > 0 and owners == dict(current.owners) and rolled_back is None:
            return current  # nothing was written and no record changed: no new serial, no plan made stale
        return recorder.finish(
            owners,
            operation=operation,
            actions=_actions(reports, self.scrub),
            source_commit=source_commit,
            rolled_back=rolled_back,
        )

    def _rolled_back_state(self, failed: StateFile, rolled: RollbackReport) -> StateFile:
        """The rollback's own revision after the failed apply's: the owners as they were, the
        objects not restored still listed, and each step in the history."""
        recorder, base, cancelled, verb = self.recorder, self.base, self.cancelled, self.verb
        if not rolled.steps and dict(failed.owners) == dict(base.owners):
            return failed  # nothing written, nothing recorded: no revision to add
        owners = restored_owners(base.owners, failed.owners, rolled)  # pending records of writes never sent go too
        what = "rolled back" if rolled.complete else "rollback incomplete"
        why = f"stopped by {cancelled.signal_name}" if cancelled is not None else "failed"
        return recorder.append(
            owners,
            operation=f"{verb} ({why}, {what})",
            actions=step_records(rolled, self.scrub),
            source_commit=base.source_commit,
        )


def _failure_hint(final: StateFile, rolled: RollbackReport | None) -> str:
    if rolled is None:
        return f"the state (serial {final.serial}) lists every object written so far; plan and apply again"
    if rolled.complete:
        return f"the cluster is as it was before this apply; the state (serial {final.serial}) records both"
    return (
        f"the objects listed as not restored are as the failed apply left them; the state (serial {final.serial}) "
        "lists them: plan and apply again, or fix them by hand"
    )


def _half_applied(writes: Sequence[Write]) -> list[str]:
    """--no-rollback: every write the failed apply left in place, one line each."""
    lines = []
    for write in writes:
        if isinstance(write, TouchedRelease):
            lines.append(f"{write.owner}: Helm release (revision before: {write.revision_before or 'none'})")
        else:
            lines.append(f"{write.id}: {write.action} (by {write.owner})")
    return lines


def _actions(reports: Sequence[OwnerReport], scrub: Callable[[str], str]) -> list[ActionRecord]:
    """What the apply did, object by object (and release by release), for the history (the
    reasons scrubbed of the fleet's decrypted values: the state is shared)."""
    out = []
    for report in reports:
        if report.release is not None and report.release.action != "none":
            release = report.release
            out.append(
                ActionRecord(
                    report.owner,
                    report.owner,
                    f"Helm {release.action}",
                    f"revision {release.revision_before or 'none'} -> {release.revision_after or 'none'} "
                    f"({release.status or 'no status'})",
                )
            )
        out += [ActionRecord(report.owner, r.id, str(r.action), scrub(r.detail)) for r in report.objects]
        if report.outcome not in (OwnerOutcome.APPLIED, OwnerOutcome.UNCHANGED):
            out.append(ActionRecord(report.owner, report.owner, str(report.outcome), scrub(report.reason)))
    return out
