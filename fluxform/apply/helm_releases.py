"""The executor's `ReleaseApplier`, over fluxform/helm/release.py: each HelmRelease owner is
installed or upgraded through the Helm SDK (in a worker process presenting the field manager),
with the HelmRelease's remediation, and recorded in the release journal beside the state.

One Helm applier per field manager; the journal holds a record per Helm action (no values), so
a release an interrupted apply left `pending-*` is recovered by the next one, under the state
lock (helm/journal.py). The journal is removed once an apply completes.

    releases = HelmReleaseApplier(cluster, options, run_id=run, journal=JournalFile(path), lock=held)
    releases.refusal(owner)          # "" or why it cannot be applied (e.g. no render)
    releases.latest(request)         # (4, "deployed"): noted before Helm acts
    releases.apply_release(request)  # helm.release.ReleaseOutcome
    releases.undo(touched)           # a failed apply's rollback: Helm rollback, or uninstall
"""

from __future__ import annotations

from collections.abc import Callable

from fluxform.apply.releases import ReleaseRequest, TouchedRelease
from fluxform.cluster.client import ClusterClient
from fluxform.cluster.options import ClusterOptions
from fluxform.errors import PlanError
from fluxform.helm.journal import ReleaseJournal
from fluxform.helm.release import HeldLock, ReleaseApplier, ReleaseOutcome, release_ref
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.helm.storage import StoredRelease
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

    def latest(self, request: ReleaseRequest) -> tuple[int | None, str]:
        spec = _spec(request)
        latest = self._applier(request.field_manager).status(release_ref(spec))
        return (latest.version, latest.status) if latest is not None else (None, "")

    def undo(self, touched: TouchedRelease, *, timeout: float | None = None) -> str:
        """Back to the revision before the apply: Helm rollback to it (its manifest and values,
        as a new revision, as `helm rollback` does), uninstall when the apply installed the
        release; nothing when Helm never got past it or remediation already restored it."""
        spec = _spec(touched.request)
        applier = self._applier(touched.request.field_manager)
        ref = release_ref(spec)
        history = applier.history(ref)
        latest = history[-1] if history else None
        before = touched.revision_before
        if before is None or touched.status_before == "uninstalled":
            if latest is None or latest.status == "uninstalled":
                return ""
            applier.uninstall(spec, timeout=timeout)
            return f"uninstalled Helm release {ref} (this apply installed it)"
        if latest is None:
            return ""  # gone: nothing Helm can roll back to (reported by the caller's check)
        if latest.version == before and latest.status == touched.status_before:
            return ""
        target = next((h for h in history if h.version == before), None)
        if target is not None and _same_content(latest, target) and latest.status == "deployed":
            return ""  # Helm's remediation already rolled it back to that content
        outcome = applier.rollback(spec, before, timeout=timeout)
        return f"rolled Helm release {ref} back to revision {before} (as revision {outcome.revision_after})"

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


def _spec(request: ReleaseRequest) -> HelmReleaseSpec:
    rendered = request.rendered.rendered
    if rendered is None or rendered.spec is None:
        raise PlanError("the re-rendered HelmRelease carries no render", subject=request.owner.id)
    return rendered.spec


def _same_content(a: StoredRelease, b: StoredRelease) -> bool:
    """Same chart, values and manifest: a rollback to `b` would change nothing."""
    return (a.chart_name, a.chart_version, a.config_digest, a.manifest) == (
        b.chart_name,
        b.chart_version,
        b.config_digest,
        b.manifest,
    ) and a.readable
