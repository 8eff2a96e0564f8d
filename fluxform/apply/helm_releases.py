"""The executor's `ReleaseApplier`, over fluxform/helm/release.py: each HelmRelease owner is
installed or upgraded through the Helm SDK (in a worker process presenting the field manager),
with the HelmRelease's remediation, and recorded in the release journal beside the state.

One Helm applier per field manager; the journal holds a record per Helm action (no values), so
a release an interrupted apply left `pending-*` is recovered by the next one, under the state
lock (helm/journal.py). The journal is removed once an apply completes.

    releases = HelmReleaseApplier(cluster, options, run_id=run, journal=JournalFile(path), lock=held)
    releases.refusal(owner)          # "" or why it cannot be applied (e.g. no render)
    releases.apply_release(request)  # helm.release.ReleaseOutcome
"""

from __future__ import annotations

from collections.abc import Callable

from fluxform.apply.releases import ReleaseRequest
from fluxform.cluster.client import ClusterClient
from fluxform.cluster.options import ClusterOptions
from fluxform.errors import PlanError
from fluxform.helm.journal import ReleaseJournal
from fluxform.helm.release import HeldLock, ReleaseApplier, ReleaseOutcome
from fluxform.planner.model import Owner

__all__ = ["HelmReleaseApplier"]


class HelmReleaseApplier:
    def __init__(
        self,
        cluster: ClusterClient,
        options: ClusterOptions,
        *,
        run_id: str,
        journal: ReleaseJournal | None,
        lock: HeldLock | None,
        scrub: Callable[[str], str] = str,
    ) -> None:
        self.cluster, self.options, self.run_id = cluster, options, run_id
        self.journal, self.lock, self.scrub = journal, lock, scrub
        self._appliers: dict[str, ReleaseApplier] = {}

    def refusal(self, rendered: Owner) -> str:
        if rendered.rendered is None or rendered.rendered.spec is None:
            return "not applied: its render is not available (it was not rendered by this run)"
        return ""

    def apply_release(self, request: ReleaseRequest) -> ReleaseOutcome:
        rendered = request.rendered.rendered
        if rendered is None:
            raise PlanError("the re-rendered HelmRelease carries no render", subject=request.owner.id)
        return self._applier(request.field_manager).apply(rendered, timeout=request.timeout, previous=request.previous)

    def _applier(self, field_manager: str) -> ReleaseApplier:
        if field_manager not in self._appliers:
            self._appliers[field_manager] = ReleaseApplier(
                self.cluster,
                self.options,
                field_manager=field_manager,
                run_id=self.run_id,
                journal=self.journal,
                lock=self.lock,
                scrub=self.scrub,
            )
        return self._appliers[field_manager]
