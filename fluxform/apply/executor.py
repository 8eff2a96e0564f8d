"""Owners in dependency order, independent ones at once (at most `parallelism`).

An owner starts once every owner it waits for (apply/order.py) is applied or unchanged.
After a failure no further owner starts; those already running finish (they depend on
nothing that failed), and every owner not started is reported `not applied`, naming why.
Owners that left the fleet only have their objects pruned, after everything else
succeeded (removals last, as the plan lists them).

A signal (SIGINT, SIGTERM, SIGHUP) arrives in the main thread, which only waits here: the
run is asked to stop, running owners stop before their next write, and `Cancelled` is
handed back to the caller once they have, so the state is written before the process exits.

    reports, cancelled = Executor(ctx, works, graph, recorder, releases, left_out).run()
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from fluxform.apply.context import RunContext
from fluxform.apply.order import OwnerGraph
from fluxform.apply.owner import OwnerRun, OwnerWork
from fluxform.apply.recorder import StateRecorder
from fluxform.apply.releases import ReleaseApplier
from fluxform.apply.report import OwnerOutcome, OwnerReport
from fluxform.cancellation import Cancelled
from fluxform.objects import ObjectId

__all__ = ["Executor"]

_DONE = (OwnerOutcome.APPLIED, OwnerOutcome.UNCHANGED)
_POLL = 0.2  # seconds the main thread waits at a time (signals are handled between waits)


class Executor:
    def __init__(
        self,
        ctx: RunContext,
        works: Mapping[ObjectId, OwnerWork],
        graph: OwnerGraph,
        recorder: StateRecorder,
        releases: ReleaseApplier | None,
        left_out: Mapping[ObjectId, str],
    ) -> None:
        self.ctx, self.works, self.graph = ctx, works, graph
        self.recorder, self.releases = recorder, releases
        self.left_out = dict(left_out)
        self.reports: dict[ObjectId, OwnerReport] = {}

    def run(self) -> tuple[list[OwnerReport], Cancelled | None]:
        """Every owner's report in plan order, and the signal that stopped the run (if any)."""
        cancelled: Cancelled | None = None
        try:
            self._run_owners([o for o in self.graph.order if o in self.works or o in self.left_out])
            gone = [o for o in self.works if o not in self.graph.needs]
            if gone:
                self._run_owners(gone)
        except Cancelled as signal:
            cancelled = signal
            self.ctx.stop(f"stopped by {signal.signal_name}")
        order = [*self.graph.order, *(o for o in self.works if o not in self.graph.needs)]
        for owner in order:
            if owner not in self.reports and (owner in self.works or owner in self.left_out):
                self._finish(OwnerReport(owner, OwnerOutcome.NOT_APPLIED, reason=self._why_not(owner, cancelled)))
        return [self.reports[o] for o in order if o in self.reports], cancelled

    def _run_owners(self, owners: list[ObjectId]) -> None:
        todo = list(owners)
        running: dict[Future[OwnerReport], ObjectId] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.ctx.options.parallelism)) as pool:
            try:
                while todo or running:
                    for owner in self._ready(todo, len(running)):
                        todo.remove(owner)
                        running[
                            pool.submit(OwnerRun(self.ctx, self.works[owner], self.recorder, self.releases).run)
                        ] = owner
                    if not running:
                        break  # what is left waits for an owner that failed or was left out
                    done, _ = wait(running, timeout=_POLL, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.pop(future)
                        self._finish(future.result())
            except Cancelled:
                self.ctx.stop("stopped by a signal")
                self._drain(running)
                raise

    def _ready(self, todo: list[ObjectId], running: int) -> list[ObjectId]:
        if self._failed() or self.ctx.stopping:
            return []
        free = max(1, self.ctx.options.parallelism) - running
        ready: list[ObjectId] = []
        for owner in todo:
            if len(ready) >= free:
                break
            if owner in self.left_out:
                continue
            needs = self.graph.needs.get(owner, frozenset())
            if all(self.reports.get(n) is not None and self.reports[n].outcome in _DONE for n in needs):
                ready.append(owner)
        return ready

    def _drain(self, running: dict[Future[OwnerReport], ObjectId]) -> None:
        """Running owners stop at their next check; their reports are kept."""
        while running:
            done, _ = wait(running, timeout=_POLL)
            for future in done:
                running.pop(future)
                self._finish(future.result())

    def _failed(self) -> bool:
        return any(r.outcome in (OwnerOutcome.FAILED, OwnerOutcome.INTERRUPTED) for r in self.reports.values())

    def _finish(self, report: OwnerReport) -> None:
        self.reports[report.owner] = report
        self.ctx.observer.owner_finished(report)

    def _why_not(self, owner: ObjectId, cancelled: Cancelled | None) -> str:
        if owner in self.left_out:
            return self.left_out[owner].removeprefix("not applied: ")
        for needed in sorted(self.graph.needs.get(owner, frozenset())):
            report = self.reports.get(needed)
            if needed in self.left_out or (report is not None and report.outcome not in _DONE):
                return f"depends on {needed}, which was not applied"
        if cancelled is not None:
            return f"not started: the apply was stopped by {cancelled.signal_name}"
        failed = [o for o, r in self.reports.items() if r.outcome in (OwnerOutcome.FAILED, OwnerOutcome.INTERRUPTED)]
        return f"not started: {failed[0]} failed" if failed else "not started"
