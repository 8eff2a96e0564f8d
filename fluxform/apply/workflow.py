"""`fluxform apply`, start to end: a saved plan, or a fleet planned and confirmed on the spot.

with the state lock held (taken first, released last, whatever happens):
  the plan must still be the truth (apply/staleness.py): state, source, cluster
  owners left out (not planned; HelmReleases without a Helm applier) need --partial
  Namespace/CRD deletions need a prompt or --allow-destroy-namespaces
  Flux must not be reconciling what is touched (refuse, --suspend, --ignore-flux)
  every write is dry-run once more (apply/preflight.py): a refusal aborts, nothing written
  owners applied in dependency order (apply/executor.py), the state written as it goes
  the final state: the next serial, the apply in history

report = apply_saved_plan(Path("plan.json"), fleet, target, ApplyOptions(), observer)
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fluxform.apply.context import RunContext
from fluxform.apply.executor import Executor
from fluxform.apply.flux import resume_command, runs_flux, suspend, unsuspended
from fluxform.apply.helm_releases import HelmReleaseApplier
from fluxform.apply.options import ApplyOptions, FluxMode
from fluxform.apply.order import ObjectKey, owner_graph
from fluxform.apply.outcome import FinishedRun, Journals
from fluxform.apply.owner import OwnerWork
from fluxform.apply.preflight import namespaces_created, preflight
from fluxform.apply.preimages import JournalFile, PreImages
from fluxform.apply.progress import ApplyObserver
from fluxform.apply.recorded import Restore, check_recorded
from fluxform.apply.recorder import StateRecorder
from fluxform.apply.releases import NO_RELEASE_APPLIER, ReleaseApplier
from fluxform.apply.report import ApplyReport, OwnerOutcome
from fluxform.apply.staleness import StalePlan, check_live, check_render, check_state
from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.discovery import Discovery
from fluxform.cluster.mapping import RestMapper
from fluxform.cluster.ref import ObjectRef
from fluxform.decrypt.mask import Masker
from fluxform.errors import ClusterError, Diagnostic, FluxformError, PlanError, StateError
from fluxform.helm.journal import JournalFile as HelmJournal
from fluxform.helm.release import HeldLock
from fluxform.objects import ObjectId
from fluxform.planner.artifacts import OpenedArtifacts, TagMoved, opened_artifacts, owner_source_revision
from fluxform.planner.live.helm_releases import InstalledReleases
from fluxform.planner.live.run import LiveOptions
from fluxform.planner.live.workflow import plan_live, rendered_for_cluster
from fluxform.planner.model import DesiredObject, DesiredState, OwnerStatus
from fluxform.planner.options import FleetOptions
from fluxform.planner.plan import CONTAINER_KINDS, Action, Masking, with_recorded_dependants
from fluxform.planner.planfile import PlanFile, PlanMode, PlannedChange, plan_file_from, read_plan_file
from fluxform.planner.secrets import FleetSecrets
from fluxform.planner.settings import PlanSettings
from fluxform.planner.workflow import plan_settings
from fluxform.sources.git import GitRepository
from fluxform.state.backend import StateBackend, locked
from fluxform.state.identity import Identity, check_state_identity
from fluxform.state.local import LocalBackend
from fluxform.state.lock import LockInfo
from fluxform.state.model import DEFAULT_HISTORY_LIMIT, StateFile, new_state
from fluxform.state.rollbacks import rolled_back_note

__all__ = ["ApplyTarget", "apply_fleet", "apply_saved_plan", "fleet_options_for"]

_LISTED = 5
_FAILED = (OwnerOutcome.FAILED, OwnerOutcome.INTERRUPTED)


@dataclass(frozen=True)
class ApplyTarget:
    """Where to apply: the cluster and the state (resolved from flags and fluxform.yaml)."""

    cluster: ClusterOptions
    backend: StateBackend
    context: str = ""  # the context a new state is recorded for ("" = the one connected to)
    recipients: tuple[str, ...] = ()  # age/SSH recipients Secret values in state are sealed to
    history_limit: int = DEFAULT_HISTORY_LIMIT
    lock_timeout: float = 0.0


@dataclass
class _Session:
    cluster: ClusterClient
    discovery: Discovery
    target: ApplyTarget
    options: ApplyOptions
    observer: ApplyObserver
    releases: ReleaseApplier | None  # None: HelmReleases through the Helm SDK (HelmReleaseApplier)
    lock: LockInfo
    state: StateFile | None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    release_journal: HelmJournal | None = None
    scrub: Callable[[str], str] = str  # the fleet's decrypted values out of any text kept (FleetSecrets.scrub)


def fleet_options_for(settings: PlanSettings, fleet: FleetOptions) -> FleetOptions:
    """The CLI's fleet options (keys, caches, jobs) with everything that decides the render
    taken from the plan: apply renders the fleet exactly as the plan did."""
    return replace(
        fleet,
        sources={m.name: Path(m.path) for m in settings.sources},
        repo_root=Path(settings.repo_root) if settings.repo_root else None,
        root_kustomization=Path(settings.root_kustomization) if settings.root_kustomization else None,
        strict_substitute=settings.strict_substitute,
        missing_sources=settings.missing_sources,
        missing_objects=settings.missing_objects,
        missing_keys=settings.missing_keys,
        missing_charts=settings.missing_charts,
        offline=settings.offline,
        chart_cache=Path(settings.chart_cache) if settings.chart_cache else None,
        artifact=settings.artifact,
        artifact_sources={m.name: m.path for m in settings.artifact_sources},
    )


def apply_saved_plan(
    plan_path: Path,
    fleet: FleetOptions,
    target: ApplyTarget,
    options: ApplyOptions,
    observer: ApplyObserver,
    *,
    releases: ReleaseApplier | None = None,
) -> ApplyReport:
    """Apply exactly the plan in `plan_path` (no prompt: the plan is what was reviewed)."""
    plan = read_plan_file(plan_path)
    if plan.mode is not PlanMode.LIVE or plan.live is None:
        raise PlanError(
            f"{plan_path} is an offline plan: apply needs a plan made against the cluster",
            hint="plan with --kubeconfig/--context (or --live) and --out FILE",
        )
    fleet = fleet_options_for(plan.settings, fleet)
    if not plan.settings.artifact and not Path(plan.target).is_dir():  # an artifact's path is inside it
        raise PlanError(
            f"{plan_path} was made from the fleet path {plan.target}, which is not a directory here",
            hint="run apply from the directory plan ran in, with the fleet checked out at the planned revision",
        )
    with connect(target.cluster) as cluster:
        _same_cluster(plan, cluster, plan_path)
        discovery = Discovery(cluster)
        with locked(target.backend, "apply", timeout=target.lock_timeout) as lock:
            state = target.backend.read()
            check_state(plan, state)
            session = _Session(cluster, discovery, target, options, observer, releases, lock, state)
            with (
                _pinned_artifacts(fleet) as opened,
                _rendered(opened, plan, fleet, cluster, discovery) as (
                    desired,
                    secrets,
                    _,
                ),
            ):
                _with_helm(session, secrets.scrub)
                masking = secrets.masking(state)
                return _execute(session, plan, desired, masking)


def apply_fleet(
    path: Path,
    fleet: FleetOptions,
    target: ApplyTarget,
    options: ApplyOptions,
    observer: ApplyObserver,
    *,
    show: Callable[[PlanFile], None],
    confirm: Callable[[PlanFile], bool],
    field_manager: str = "",
    releases: ReleaseApplier | None = None,
    restore: Restore | None = None,
) -> ApplyReport | None:
    """Plan `path` against the cluster, `show` the plan, and apply it once `confirm` says yes
    (None: not confirmed, nothing written). The lock is held from before the plan.
    `restore`: `fluxform rollback` renders a recorded revision at `path`; every object it
    recorded must render with its recorded digest, or nothing is planned."""
    with connect(target.cluster) as cluster:
        discovery = Discovery(cluster)
        discovery.serves_group("")
        with locked(target.backend, "apply", timeout=target.lock_timeout) as lock, opened_artifacts(fleet) as opened:
            state = target.backend.read()
            session = _Session(cluster, discovery, target, options, observer, releases, lock, state)
            request = opened.request(fleet.request(), target=str(path))
            helm = opened.helm(fleet.helm())
            rendered = opened.path(path)
            assert rendered is not None
            with rendered_for_cluster(rendered, request, cluster, discovery, helm) as (desired, secrets, installed):
                _with_helm(session, secrets.scrub)
                if state is not None:
                    current = Identity(
                        fleet_path=str(desired.settings.get("fleet_path", "")),
                        context=cluster.context,
                        server=cluster.server,
                    )
                    warning = check_state_identity(
                        state, current, location=target.backend.location, force=options.force_state
                    )
                    if warning is not None:
                        desired = replace(desired, diagnostics=(*desired.diagnostics, warning))
                    if restore is not None:
                        check_recorded(desired, restore, _masking(state))
                    elif note := rolled_back_note(state, desired.source_revision):
                        desired = replace(desired, diagnostics=(*desired.diagnostics, Diagnostic(note)))
                elif restore is not None:
                    raise StateError("the state is empty: there is nothing recorded to roll back to")
                masking = secrets.masking(state)
                planned = plan_live(
                    desired,
                    state,
                    masking,
                    cluster,
                    target=restore.shown_as if restore is not None and restore.shown_as else str(path),
                    options=LiveOptions(field_manager=field_manager),
                    discovery=discovery,
                    settings=plan_settings(request, helm),
                    installed=installed,
                )
                plan = plan_file_from(planned)
                show(plan)
                if not plan.has_changes() and not plan.not_planned:
                    observer.warning("no changes: the cluster already matches the fleet")
                if options.auto_approved:
                    pass
                elif not confirm(plan):
                    return None
                return _execute(session, plan, desired, masking, restore)


def _rendered(
    opened: OpenedArtifacts, plan: PlanFile, fleet: FleetOptions, cluster: ClusterClient, discovery: Discovery
) -> contextlib.AbstractContextManager[tuple[DesiredState, FleetSecrets, InstalledReleases]]:
    """The fleet a saved plan names, rendered again from the same sources (artifacts at
    their recorded digests)."""
    path = opened.path(Path(plan.target))
    assert path is not None
    request = opened.request(fleet.request(), target=plan.target)
    return rendered_for_cluster(path, request, cluster, discovery, opened.helm(fleet.helm()))


@contextlib.contextmanager
def _pinned_artifacts(fleet: FleetOptions) -> Iterator[OpenedArtifacts]:
    """The artifacts a saved plan recorded, opened at their digests; a tag that points
    elsewhere now makes the plan stale (one line naming both digests)."""
    try:
        with opened_artifacts(fleet, check_pins=True) as opened:
            yield opened
    except TagMoved as moved:
        what = "the tag" if moved.reference.startswith("oci://") else "the artifact"
        raise StalePlan(
            f"the plan is stale: {what} {moved.reference} points at {moved.now}, the plan was made from "
            f"{moved.planned}",
            hint="plan again (fluxform plan ... --out FILE) and apply the new plan",
        ) from None


def _with_helm(session: _Session, scrub: Callable[[str], str]) -> None:
    """HelmReleases through the Helm SDK, unless the caller gave its own applier. Their
    journal lives beside a local state, so the next apply can recover a release this one
    leaves pending (it stays until an apply completes)."""
    session.scrub = scrub
    if session.releases is not None:
        return
    backend = session.target.backend
    if isinstance(backend, LocalBackend):
        session.release_journal = HelmJournal(backend.path.with_name(backend.path.name + ".releases"))
    session.releases = HelmReleaseApplier(
        session.cluster,
        session.target.cluster,
        run_id=session.run_id,
        journal=session.release_journal,
        lock=HeldLock(backend, session.lock),
        scrub=scrub,
    )


def _same_cluster(plan: PlanFile, cluster: ClusterClient, plan_path: Path) -> None:
    assert plan.live is not None
    if plan.live.server.rstrip("/") != cluster.server.rstrip("/"):
        raise PlanError(
            f"{plan_path} was made against the cluster at {plan.live.server}, "
            f"but this apply reaches {cluster.server} (context {cluster.context})",
            hint="apply with the --kubeconfig/--context the plan used",
        )


# ----- the apply itself ---------------------------------------------------------------------


def _execute(
    session: _Session, plan: PlanFile, desired: DesiredState, masking: Masking, restore: Restore | None = None
) -> ApplyReport:
    cluster, options, observer = session.cluster, session.options, session.observer
    check_state(plan, session.state)
    _check_rolled_back(plan, session.state, options, restore)
    base = _base_state(session, plan)
    desired = with_recorded_dependants(desired, session.state)
    flux_served = runs_flux(session.discovery)
    objects = check_render(plan, desired, masking, flux_served=flux_served)
    works, left_out = _works(plan, desired, objects, session.releases)
    _check_left_out(plan, left_out, options)
    _check_destroys(plan, options)
    produced: dict[ObjectKey, ObjectId] = {
        (o.id.kind, o.id.namespace, o.id.name): owner.id for owner in desired.owners for o in owner.objects
    }
    graph = owner_graph([o for o in plan.owners if o.status is OwnerStatus.BUILT], produced, desired.lookups)
    crds = [
        o.body
        for o in objects.values()
        if (o.id.group, o.id.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition")
    ]
    mapper = RestMapper(session.discovery, crds)
    touched_flux = _flux_to_suspend(session, works)
    check_live(plan, cluster, mapper)
    preflight(cluster, mapper, works.values(), namespaces_created(works.values()))
    if touched_flux:
        suspend(cluster, touched_flux)
        for line in resume_command(touched_flux):
            observer.warning(f"suspended for this apply; resume when you are done: {line}")
    journal = _journal(session.target.backend, observer, restoring=restore is not None)
    preimages = PreImages(journal, run_id=session.run_id)
    ctx = RunContext(
        cluster,
        mapper,
        options,
        observer,
        preimages,
        _masking(base),
        recipients=session.target.recipients,
        by=session.lock.who,
    )
    # before any signal: git is not started after one
    commit = restore.commit if restore is not None else _source_commit(Path(plan.target))
    recorder = StateRecorder(
        session.target.backend,
        base,
        by=session.lock.who,
        history_limit=session.target.history_limit,
        source_commit=commit,
    )
    reports, cancelled = Executor(ctx, works, graph, recorder, session.releases, left_out).run()
    run = FinishedRun(ctx, recorder, base, works, reports, cancelled, commit, restore, session.scrub)
    journals = Journals(journal, session.release_journal.path if session.release_journal is not None else None)
    return run.conclude(session.releases, journals, touched_flux, _warnings(plan))


def _check_rolled_back(plan: PlanFile, state: StateFile | None, options: ApplyOptions, restore: Restore | None) -> None:
    """A source revision `fluxform rollback` rolled back is applied again only on request."""
    note = rolled_back_note(state, plan.source.revision)
    if note and restore is None and not options.retry_rolled_back:
        raise PlanError(f"refused: {note}", hint="fix the fleet and plan again, or pass --retry-rolled-back")


def _source_commit(target: Path) -> str:
    """The git commit the fleet was rendered from (`fluxform rollback --to` re-renders it);
    "" outside a git clone."""
    try:
        return GitRepository.containing(target).resolve("HEAD")
    except FluxformError:
        return ""


def _base_state(session: _Session, plan: PlanFile) -> StateFile:
    """The state the run starts from, recording this cluster and fleet path."""
    cluster, target = session.cluster, session.target
    current = Identity(fleet_path=plan.settings.fleet_path, context=cluster.context, server=cluster.server)
    state = session.state
    if state is None:
        return new_state(target.context or cluster.context, server=cluster.server, fleet_path=plan.settings.fleet_path)
    warning = check_state_identity(state, current, location=target.backend.location, force=session.options.force_state)
    if warning is not None:
        session.observer.warning(warning.summary)
    return replace(
        state, server=state.server or cluster.server, fleet_path=state.fleet_path or plan.settings.fleet_path
    )


def _masking(state: StateFile) -> Masking:
    masker = Masker(state.mask_key_bytes())

    def mask(manifest: Mapping[str, object], paths: Sequence[tuple[str | int, ...]] = ()) -> dict[str, object]:
        return masker.mask_manifest(manifest, sensitive_paths=paths)

    return mask


def _works(
    plan: PlanFile,
    desired: DesiredState,
    objects: Mapping[ObjectId, DesiredObject],
    releases: ReleaseApplier | None,
) -> tuple[dict[ObjectId, OwnerWork], dict[ObjectId, str]]:
    """One OwnerWork per owner the plan applies (and per owner that left the fleet), and the
    owners left out with why."""
    assert plan.live is not None
    by_owner: dict[ObjectId, list[PlannedChange]] = {}
    for change in plan.changes:
        by_owner.setdefault(change.owner, []).append(change)
    rendered_objects = desired.objects()
    works: dict[ObjectId, OwnerWork] = {}
    left_out: dict[ObjectId, str] = {n.owner: f"not planned: {n.reason}" for n in plan.not_planned}
    planned_ids = {o.id for o in plan.owners}
    for owner in plan.owners:
        if owner.status is not OwnerStatus.BUILT:
            continue
        rendered = desired.owner(owner.id)
        manifest = rendered_objects.get(owner.id)
        revision, digest = owner_source_revision(plan.settings, plan.source.revision, owner.source)
        work = OwnerWork(
            id=owner.id,
            plan=owner,
            changes=tuple(by_owner.get(owner.id, [])),
            objects={oid: rendered_objects[oid] for oid in objects if rendered_objects[oid].owner == owner.id},
            manager=plan.live.field_managers.for_owner(owner.id),
            source_revision=revision,
            source_digest=digest,
            rendered=rendered,
            manifest=manifest.body if manifest is not None else None,
        )
        if work.is_release and work.has_work():
            refusal = NO_RELEASE_APPLIER if releases is None or rendered is None else releases.refusal(rendered)
            if refusal:
                left_out[owner.id] = refusal
                continue
        works[owner.id] = work
    for owner_id, changes in by_owner.items():
        if owner_id not in planned_ids:
            works[owner_id] = OwnerWork(
                id=owner_id,
                plan=None,
                changes=tuple(changes),
                objects={},
                manager=plan.live.field_managers.for_owner(owner_id),
                source_revision=plan.source.revision,
                source_digest=owner_source_revision(plan.settings, plan.source.revision, "")[1],
            )
    return works, left_out


def _check_left_out(plan: PlanFile, left_out: Mapping[ObjectId, str], options: ApplyOptions) -> None:
    if not left_out or options.partial:
        return
    by_reason: dict[str, list[str]] = {}
    for owner, reason in left_out.items():
        by_reason.setdefault(reason, []).append(str(owner))
    lines = [f"{', '.join(owners)}: {reason}" for reason, owners in by_reason.items()]
    shown = "; ".join(lines[:_LISTED]) + (f"; and {len(lines) - _LISTED} more" if len(lines) > _LISTED else "")
    raise PlanError(
        f"{len(left_out)} owner(s) cannot be applied: {shown}",
        hint="apply the rest with --partial (owners depending on these are left out too)",
    )


def _check_destroys(plan: PlanFile, options: ApplyOptions) -> None:
    """Deleting a Namespace or a CRD deletes everything in it: without a prompt, only with
    --allow-destroy-namespaces."""
    destroys = [c.id for c in plan.changes if c.action is Action.DELETE and (c.id.group, c.id.kind) in CONTAINER_KINDS]
    if destroys and options.auto_approved and not options.allow_destroy_namespaces:
        raise PlanError(
            f"the plan deletes {', '.join(str(d) for d in destroys[:_LISTED])} and everything in "
            f"{'it' if len(destroys) == 1 else 'them'}",
            hint="applying that without a prompt needs --allow-destroy-namespaces",
        )


def _flux_to_suspend(session: _Session, works: Mapping[ObjectId, OwnerWork]) -> list[ObjectRef]:
    """Flux objects this apply touches that Flux would reconcile: refused, or returned to be
    suspended (--suspend), or warned about (--ignore-flux)."""
    if not runs_flux(session.discovery):
        return []
    touched = [w.id for w in works.values() if w.has_work()]
    active = unsuspended(session.cluster, session.discovery, touched)
    if not active:
        return []
    names = ", ".join(str(r) for r in active[:_LISTED]) + (
        f" and {len(active) - _LISTED} more" if len(active) > _LISTED else ""
    )
    mode = session.options.flux
    if mode is FluxMode.SUSPEND:
        return active
    if mode is FluxMode.IGNORE:
        session.observer.warning(
            f"--ignore-flux: Flux reconciles {names}; it may revert this apply (or fail a Helm upgrade in progress)"
        )
        return []
    raise ClusterError(
        f"the cluster runs Flux and {names} {'is' if len(active) == 1 else 'are'} not suspended: Flux would revert "
        "this apply at its next reconcile (and fails any Helm release it finds pending)",
        hint="--suspend sets spec.suspend: true first (as `flux suspend`), --ignore-flux applies anyway",
    )


def _journal(backend: StateBackend, observer: ApplyObserver, *, restoring: bool) -> JournalFile | None:
    """This run's journal; one an interrupted run (kill -9, a crash) left is reported first:
    the state it wrote as it went lists every object that run may have written, so this run
    converges from it, forward to the fleet (apply) or back to a recorded revision (rollback)."""
    if not isinstance(backend, LocalBackend):
        return None
    journal = JournalFile(backend.path.with_name(backend.path.name + ".journal"))
    leftover = journal.leftover()
    if leftover:
        last = leftover[-1]
        direction = "rolling back to the recorded revision" if restoring else "rolling forward to this fleet"
        observer.warning(
            f"the previous apply (run {last.get('run', '?')}) was interrupted after {len(leftover)} write(s), "
            f"the last one {last.get('action', '?')} of {last.get('id', '?')}; {direction}: the state lists every "
            "object it may have written, and this run converges from there"
        )
    journal.start()
    return journal


def _warnings(plan: PlanFile) -> list[str]:
    return [d.summary for d in plan.diagnostics]
