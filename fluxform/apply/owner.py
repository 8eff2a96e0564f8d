"""One owner's apply, in kustomize-controller's steps: record the pending inventory, apply its
objects stage by stage (waiting for cluster definitions and classes), wait for health,
prune, then shrink its state record to the new inventory.

A HelmRelease owner is handed whole to the `ReleaseApplier` (Helm installs, upgrades, waits
and removes what left the release); its objects are never applied one by one.

    report = OwnerRun(ctx, work, recorder, releases).run()
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fluxform.apply.context import RunContext, Stopped
from fluxform.apply.recorder import StateRecorder
from fluxform.apply.releases import (
    NO_RELEASE_APPLIER,
    ReleaseApplier,
    ReleaseOutcome,
    ReleaseRequest,
    TouchedRelease,
)
from fluxform.apply.report import ObjectAction, ObjectResult, OwnerOutcome, OwnerReport
from fluxform.apply.stages import Stage, apply_key, staged
from fluxform.apply.waits import WaitTarget, wait_healthy
from fluxform.apply.writes import mapping_for, write_object
from fluxform.cluster.mapping import Unmapped
from fluxform.cluster.ref import ObjectRef
from fluxform.errors import ClusterError, FluxformError, PlanError
from fluxform.helm.release import ReleaseFailed, recorded_release
from fluxform.objects import ObjectId
from fluxform.planner.kustomization.spec import parse_duration
from fluxform.planner.live.decide import live_key
from fluxform.planner.live.policy import FLUX_GROUPS
from fluxform.planner.model import DesiredObject, Owner
from fluxform.planner.plan import Action
from fluxform.planner.planfile import PlannedChange, PlanOwner
from fluxform.state.model import OwnerState, StateObject, canonical_digest, utc_now
from fluxform.state.secrets import secret_state_object

__all__ = ["OwnerRun", "OwnerWork", "owner_timeout", "state_record"]

_WRITES = (Action.CREATE, Action.UPDATE, Action.REPLACE)
_KEPT = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.NOOP)
_HELM_TIMEOUT = 300.0  # HelmRelease spec.timeout default (5m)


@dataclass(frozen=True)
class OwnerWork:
    """What one owner applies."""

    id: ObjectId
    plan: PlanOwner | None  # None: the owner left the fleet; only its prunes remain
    changes: tuple[PlannedChange, ...]
    objects: Mapping[ObjectId, DesiredObject] = field(repr=False)  # re-rendered (plaintext) by id
    manager: str  # field manager
    source_revision: str
    source_digest: str = ""  # the OCI manifest digest of its source, when it is an artifact
    rendered: Owner | None = field(default=None, repr=False)  # the re-rendered owner (HelmRelease)
    manifest: Mapping[str, Any] | None = field(default=None, repr=False)  # its Flux object, as rendered

    @property
    def is_release(self) -> bool:
        return self.plan is not None and self.plan.kind == "HelmRelease"

    def writes(self) -> list[PlannedChange]:
        return [c for c in self.changes if c.action in _WRITES]

    def deletions(self) -> list[PlannedChange]:
        return [c for c in self.changes if c.action is Action.DELETE]

    def has_work(self) -> bool:
        return bool(self.writes() or self.deletions())


def owner_timeout(owner: PlanOwner | None, override: float | None) -> float:
    """`--timeout`, else Flux's: a Kustomization's spec.timeout or interval - 30s (never
    below 30 s), a HelmRelease's spec.timeout or 5m."""
    if override is not None:
        return override
    if owner is None:
        return 30.0
    spec = owner.spec
    try:
        if owner.kind == "HelmRelease":
            return parse_duration(spec.timeout) if spec.timeout else _HELM_TIMEOUT
        if spec.timeout:
            return max(30.0, parse_duration(spec.timeout))
        return max(30.0, parse_duration(spec.interval or "0") - 30.0)
    except ValueError:
        raise PlanError(
            f"invalid duration in spec.timeout/spec.interval: {spec.timeout or spec.interval!r}", subject=owner.id
        ) from None


class OwnerRun:
    def __init__(
        self, ctx: RunContext, work: OwnerWork, recorder: StateRecorder, releases: ReleaseApplier | None
    ) -> None:
        self.ctx, self.work, self.recorder, self.releases = ctx, work, recorder, releases
        self.results: list[ObjectResult] = []
        self.release: ReleaseOutcome | None = None

    def run(self) -> OwnerReport:
        started = time.monotonic()
        work = self.work
        if not work.has_work():
            return OwnerReport(work.id, OwnerOutcome.UNCHANGED, tuple(self._unchanged()), time.monotonic() - started)
        self.ctx.observer.owner_started(work.id)
        try:
            self.ctx.check()
            self.recorder.pending(
                work.id, [(c.id, c.api_version) for c in work.changes if c.action in _KEPT], self._template()
            )
            if work.is_release:
                self._release()
            else:
                self._apply_stages()
                self._health()
            failed_deletes = self._prune()
            self.recorder.settle(work.id, self._record(failed_deletes))
        except Stopped as stop:
            return self._report(OwnerOutcome.INTERRUPTED, started, stop.summary)
        except FluxformError as error:
            error.with_context(subject=work.id)
            return self._report(OwnerOutcome.FAILED, started, error.one_line())
        if failed_deletes:
            return self._report(OwnerOutcome.FAILED, started, f"prune failed: {failed_deletes[0][1]}")
        return self._report(OwnerOutcome.APPLIED, started, "")

    def _report(self, outcome: OwnerOutcome, started: float, reason: str) -> OwnerReport:
        results = self.results + (self._unchanged() if outcome is OwnerOutcome.APPLIED else [])
        return OwnerReport(self.work.id, outcome, tuple(results), time.monotonic() - started, reason, self.release)

    def _unchanged(self) -> list[ObjectResult]:
        out = []
        for change in self.work.changes:
            if change.action is Action.NOOP:
                skipped = change.reason.startswith("skipped:")
                out.append(
                    ObjectResult(change.id, ObjectAction.SKIPPED if skipped else ObjectAction.UNCHANGED, change.reason)
                )
            elif change.action is Action.FORGET:
                out.append(ObjectResult(change.id, ObjectAction.FORGOTTEN, change.reason))
        return out

    def _template(self) -> OwnerState:
        plan = self.work.plan
        return OwnerState(
            id=self.work.id,
            prune=plan.prune if plan is not None else True,
            source_revision=self.work.source_revision,
            applied_at=utc_now(),
            applied_by=self.ctx.by,
            objects=(),
            field_manager=self.work.manager,
        )

    # ----- steps ----------------------------------------------------------------------------

    def _apply_stages(self) -> None:
        plan = self.work.plan
        force = plan is not None and plan.spec.force
        for stage, changes in staged(self.work.writes(), key=lambda c: c.id):
            self.ctx.observer.stage_started(self.work.id, stage, len(changes))
            written: list[ObjectRef] = []
            for change in changes:
                obj = self._object(change)
                self.results.append(
                    write_object(self.ctx, obj, owner=self.work.id, manager=self.work.manager, force=force)
                )
                written.append(self._ref(obj.id, obj.api_version))
            if stage.waited and written:
                self._wait([WaitTarget(ref) for ref in written], self.ctx.options.stage_timeout, stage)

    def _object(self, change: PlannedChange) -> DesiredObject:
        return _desired(self.work, change)

    def _ref(self, oid: ObjectId, api_version: str) -> ObjectRef:
        mapping = mapping_for(self.ctx, api_version, oid.kind, oid)
        key = live_key(oid, mapping)
        return ObjectRef(mapping, key.namespace, key.name)

    def _wait(self, targets: Sequence[WaitTarget], timeout: float, stage: Stage | None = None) -> None:
        what = f"{stage.describe()} to be ready" if stage is not None else "health checks"

        def on_wait(pending: str, elapsed: float) -> None:
            self.ctx.observer.waiting(self.work.id, f"{what}: {pending}", elapsed)

        wait_healthy(
            self.ctx.cluster,
            targets,
            timeout=timeout,
            poll_max=self.ctx.options.poll_max,
            what=what,
            stop=self.ctx.check,
            on_wait=on_wait,
        )

    def _health(self) -> None:
        plan = self.work.plan
        if plan is not None and plan.spec.health_check_exprs:
            self.ctx.observer.warning(
                f"{self.work.id}: spec.healthCheckExprs are not evaluated (no CEL engine in this build); "
                "kstatus rules decide the health of those kinds"
            )
        targets = self._health_targets()
        if targets:
            self._wait(targets, owner_timeout(self.work.plan, self.ctx.options.timeout))

    def _health_targets(self) -> list[WaitTarget]:
        """spec.wait: every object applied (skipped ones and the owner itself excepted);
        else spec.healthChecks (Flux objects the cluster does not serve are fluxform's own
        work, awaited through the owner order instead)."""
        plan = self.work.plan
        if plan is None:
            return []
        if plan.spec.wait:
            return [
                WaitTarget(self._ref(c.id, c.api_version), _ttl_job(self.work.objects.get(c.id)))
                for c in self.work.changes
                if c.action in _KEPT and not c.reason.startswith("skipped:") and c.id != plan.id
            ]
        targets = []
        for check in plan.spec.health_checks:
            group = check.api_version.rpartition("/")[0] if "/" in check.api_version else ""
            mapping = self.ctx.mapper.resolve(check.api_version, check.kind)
            if isinstance(mapping, Unmapped):
                if group in FLUX_GROUPS:
                    continue
                raise ClusterError(f"health check {check.kind}/{check.namespace}/{check.name}: {mapping.reason}")
            targets.append(WaitTarget(ObjectRef(mapping, check.namespace if mapping.namespaced else "", check.name)))
        return targets

    def _release(self) -> None:
        plan, work = self.work.plan, self.work
        assert plan is not None
        if self.releases is None or work.rendered is None:
            raise ClusterError(f"{work.id.kind} {work.id}: {NO_RELEASE_APPLIER}")
        self.ctx.check()
        recorded = self.recorder.owner(work.id)  # its old objects first: pending ones carry no manifest
        previous = recorded_release([o.manifest for o in recorded.objects]) if recorded is not None else None
        request = ReleaseRequest(
            plan, work.rendered, work.manifest, work.manager, self.ctx.options.timeout, previous=previous
        )
        self.ctx.preimages.record_release(TouchedRelease(request, *self.releases.latest(request)))
        try:
            self.release = self.releases.apply_release(request)
        except ReleaseFailed as failed:
            self.release = failed.outcome  # where Helm left it, for the report
            raise

    def _prune(self) -> list[tuple[PlannedChange, str]]:
        """Garbage collection (Helm removes what left a release itself); the deletes that
        failed, with why."""
        from fluxform.apply.prune import prune

        deletions = self.work.deletions()
        if not deletions or self.work.is_release:
            return []
        results, failures = prune(self.ctx, self.work.id, deletions)
        self.results += results
        return [(change, error.one_line()) for change, error in failures]

    def _record(self, failed_deletes: Sequence[tuple[PlannedChange, str]]) -> OwnerState | None:
        kept = [c.id for c, _ in failed_deletes]
        return state_record(self.ctx, self.work, self.recorder.owner(self.work.id), kept)


def state_record(
    ctx: RunContext, work: OwnerWork, old: OwnerState | None, failed_deletes: Sequence[ObjectId] = ()
) -> OwnerState | None:
    """The owner's new state record: its new inventory in apply order (masked manifests,
    Secret values sealed or omitted), plus the objects whose delete failed (kept so the next
    apply tries again). None when nothing is left of an owner that left the fleet. An
    unchanged record is the old one, so its `applied_at` says when it last changed."""
    kept = sorted((c for c in work.changes if c.action in _KEPT), key=lambda c: apply_key(c.id))
    objects = [_state_object(ctx, _desired(work, c)) for c in kept]
    previous = {o.id: o for o in old.objects} if old is not None else {}
    objects += [previous[oid] for oid in failed_deletes if oid in previous]
    if work.plan is None and not objects:
        return None
    record = OwnerState(
        id=work.id,
        prune=work.plan.prune if work.plan is not None else (old.prune if old is not None else True),
        source_revision=work.source_revision,
        applied_at=utc_now(),
        applied_by=ctx.by,
        objects=tuple(objects),
        source_digest=work.source_digest,
        field_manager=work.manager,
    )
    if old is not None and _same(old, record):
        return old
    return record


def _same(old: OwnerState, new: OwnerState) -> bool:
    return (old.prune, old.field_manager, old.source_revision, old.source_digest) == (
        new.prune,
        new.field_manager,
        new.source_revision,
        new.source_digest,
    ) and [(o.id, o.api_version, o.digest, o.sealed_values is None) for o in old.objects] == [
        (o.id, o.api_version, o.digest, o.sealed_values is None) for o in new.objects
    ]


def _desired(work: OwnerWork, change: PlannedChange) -> DesiredObject:
    obj = work.objects.get(change.id)
    if obj is None:  # staleness checks make this impossible; keep the promise loudly
        raise PlanError("the re-rendered fleet lacks this object", subject=change.id)
    return obj


def _state_object(ctx: RunContext, obj: DesiredObject) -> StateObject:
    masked = ctx.mask(obj.body, obj.sensitive_paths)
    if (obj.id.group, obj.id.kind) == ("", "Secret"):
        return secret_state_object(obj.id, obj.api_version, masked=masked, plain=obj.body, recipients=ctx.recipients)
    return StateObject(obj.id, obj.api_version, canonical_digest(masked), masked)


def _ttl_job(obj: DesiredObject | None) -> bool:
    if obj is None or (obj.id.group, obj.id.kind) != ("batch", "Job"):
        return False
    return (obj.body.get("spec") or {}).get("ttlSecondsAfterFinished") is not None
