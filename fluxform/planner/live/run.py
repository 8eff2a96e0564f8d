"""The steps of one live plan (see planner/live/workflow.py): map kinds, read live objects, dry-run
what could change, decide each object, pair dropped objects for prune, summarise warnings.

    plan = LiveRun(desired, state, masking, cluster, mapper, managers, options).plan("target")
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from fluxform import __version__
from fluxform.cluster.client import ClusterClient
from fluxform.cluster.dryrun import DryRun, dry_run_apply
from fluxform.cluster.mapping import KindMapping, RestMapper, Unmapped
from fluxform.cluster.read import ALL_NAMES, LiveSnapshot, read_live
from fluxform.decrypt.mask import LAST_APPLIED_ANNOTATION
from fluxform.errors import ClusterError, Diagnostic
from fluxform.objects import ObjectId
from fluxform.planner.live.decide import (
    Decision,
    LiveChange,
    NamespaceState,
    ObjectFacts,
    decide,
    decide_removal,
    live_key,
    needs_dry_run,
)
from fluxform.planner.live.helm_releases import ReleaseView
from fluxform.planner.live.policy import FLUX_GROUPS, FLUX_MARKER, FieldManagers
from fluxform.planner.model import DesiredObject, DesiredState
from fluxform.planner.plan import Action, Change, Masking, Plan
from fluxform.planner.settings import LiveTarget, PlanSettings
from fluxform.progress import NO_PROGRESS, Progress, Stage, stage, timed
from fluxform.state.model import StateFile

__all__ = ["LiveOptions", "LiveRun"]

_LISTED_IDS = 5  # ids named in an aggregated warning before "and N more"
Paths = tuple[tuple[str | int, ...], ...]


@dataclass(frozen=True)
class LiveOptions:
    field_manager: str = ""  # --field-manager; "" = Flux's controllers when the cluster runs Flux, else fluxform
    always_dry_run: bool = False  # dry-run objects the client-side check finds unchanged too (as Flux does)
    progress: Progress = field(default=NO_PROGRESS, compare=False)  # cluster reads and dry-runs report here


class LiveRun:
    """One plan's working set; split in steps so each stays short."""

    def __init__(
        self,
        desired: DesiredState,
        state: StateFile | None,
        masking: Masking,
        cluster: ClusterClient,
        mapper: RestMapper,
        managers: FieldManagers,
        options: LiveOptions,
        releases: Mapping[ObjectId, ReleaseView] | None = None,
    ) -> None:
        self.desired, self.state, self.masking, self.cluster = desired, state, masking, cluster
        self.mapper, self.managers, self.options = mapper, managers, options
        self.recorded = dict(state.objects()) if state is not None else {}
        self.diagnostics: list[Diagnostic] = []
        self.reinstalled = {oid: view.replace for oid, view in (releases or {}).items() if view.replace}
        self.drift_modes = {oid: view.drift_mode for oid, view in (releases or {}).items() if view.drift_mode}
        for view in (releases or {}).values():
            # a HelmRelease's objects are what its deployed release holds (Helm deletes what
            # left it, and drift is measured from it), whatever the state recorded
            self.recorded.update(view.records)
            self.diagnostics += view.diagnostics
        self.desired_ids = set(desired.objects())
        self.forcing_owners = _forcing_owners(desired)
        self.flux_installed = bool(mapper.discovery.find(*FLUX_MARKER))
        self.paths: dict[ObjectId, Paths] = {}
        self.forbidden_dry_run: set[str] = set()

    def plan(self, target: str, settings: PlanSettings) -> Plan:
        planned, flux_skipped = self._map_desired()
        removed = self._map_removed()
        snapshot = self._read(planned, removed)
        facts = [self._facts(obj, mapping, snapshot) for obj, mapping in planned]
        dry_runs = self._dry_runs(facts)
        decisions = [decide(f, dry_runs.get(i)) for i, f in enumerate(facts)]
        removals = self._removals(removed, snapshot)
        self._summarise(decisions, flux_skipped)
        return Plan(
            fluxform_version=__version__,
            target=target,
            source_revision=self.desired.source_revision,
            state_lineage=self.state.lineage if self.state is not None else "",
            state_serial=self.state.serial if self.state is not None else 0,
            mode="live",
            owners=self.desired.owners,
            changes=tuple(self._reinstalled(c) for c in self._release_drift(decisions)) + tuple(reversed(removals)),
            drift=tuple(d.drift for d in decisions if d.drift is not None),
            diagnostics=(*self.desired.diagnostics, *_unique(self.diagnostics)),
            settings=replace(settings, field_manager=self.options.field_manager).with_render_facts(
                self.desired.settings
            ),
            live=self._live_target(),
        )

    def _release_drift(self, decisions: Sequence[Decision]) -> list[Change]:
        """What apply does with the drift of a HelmRelease whose release is otherwise in sync
        (helm-controller evaluates drift only then; an upgrade re-applies every object anyway):
        `enabled` corrects it, `warn` and `disabled` (the default) leave it (the drift list
        still shows it)."""
        upgraded = {d.change.owner for d in decisions if d.change.action is not Action.NOOP and d.drift is None}
        out: list[Change] = []
        for d in decisions:
            mode = self.drift_modes.get(d.change.owner)
            if mode is None or d.drift is None or d.change.owner in upgraded:
                out.append(d.change)
            elif mode == "enabled":
                reason = "apply corrects this drift without a new Helm revision (spec.driftDetection.mode: enabled)"
                out.append(replace(d.change, reason=reason))
            else:
                left = {
                    "warn": "apply reports it, not corrected (spec.driftDetection.mode: warn)",
                    "disabled": "apply leaves it (spec.driftDetection is disabled, helm-controller's default)",
                }[mode]
                out.append(replace(d.change, action=Action.NOOP, before=None, reason=f"{d.drift.reason}: {left}"))
        return out

    def _reinstalled(self, change: Change) -> Change:
        """A release apply uninstalls and installs anew: each of its objects still there is
        deleted and created again (a replace)."""
        reason = self.reinstalled.get(change.owner)
        if not reason or change.action not in (Action.UPDATE, Action.NOOP):
            return change
        return replace(change, action=Action.REPLACE, reason=reason)

    # ----- mapping ------------------------------------------------------------------------

    def _map_desired(self) -> tuple[list[tuple[DesiredObject, KindMapping | Unmapped]], list[ObjectId]]:
        planned: list[tuple[DesiredObject, KindMapping | Unmapped]] = []
        flux_skipped: list[ObjectId] = []
        unmapped: dict[tuple[str, str], Unmapped] = {}
        for owner in self.desired.owners:
            for obj in owner.objects:
                mapping = self.mapper.resolve(obj.api_version, obj.id.kind)
                if isinstance(mapping, Unmapped) and obj.id.group in FLUX_GROUPS and not self.flux_installed:
                    flux_skipped.append(obj.id)
                    continue
                if isinstance(mapping, Unmapped):
                    unmapped.setdefault((mapping.api_version, mapping.kind), mapping)
                self.paths[live_key(obj.id, mapping)] = _with_last_applied(obj.sensitive_paths)
                planned.append((obj, mapping))
        for problem in unmapped.values():
            self.diagnostics.append(Diagnostic(f"{problem.reason}: applying its objects will fail"))
        return planned, flux_skipped

    def _map_removed(self) -> list[tuple[ObjectId, KindMapping | Unmapped]]:
        removed = []
        for oid in sorted(self.recorded):
            if oid not in self.desired_ids:
                _, previous = self.recorded[oid]
                removed.append((oid, self.mapper.resolve(previous.api_version, oid.kind)))
        return removed

    # ----- reading ------------------------------------------------------------------------

    def _read(
        self,
        planned: Iterable[tuple[DesiredObject, KindMapping | Unmapped]],
        removed: Iterable[tuple[ObjectId, KindMapping | Unmapped]],
    ) -> LiveSnapshot:
        by_type: dict[tuple[str, str], KindMapping] = {}
        wanted: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        namespaced = False
        pairs = [(obj.id, mapping) for obj, mapping in planned] + list(removed)
        for oid, mapping in pairs:
            if not isinstance(mapping, KindMapping) or not mapping.served:
                continue
            key = live_key(oid, mapping)
            if mapping.namespaced and not key.namespace:
                continue  # reported as an error of the object itself
            namespaced |= mapping.namespaced
            by_type.setdefault((mapping.group, mapping.kind), mapping)
            wanted[(mapping.group, mapping.kind)][key.namespace].add(key.name)
        reads: dict[KindMapping, dict[str, Any]] = {by_type[t]: dict(per_ns) for t, per_ns in wanted.items()}
        namespaces = self.mapper.resolve("v1", "Namespace")
        if namespaced and isinstance(namespaces, KindMapping):
            reads[by_type.get(("", "Namespace"), namespaces)] = {"": ALL_NAMES}
        snapshot = read_live(self.cluster, reads, keep=self._mask_live, progress=self.options.progress)
        if reads and all(_denied(snapshot, mapping, per_ns) for mapping, per_ns in reads.items()):
            raise ClusterError(
                f"the cluster forbids reading every type this plan needs ({len(reads)} types, "
                f"e.g. {_first_denied(snapshot)}): nothing could be compared with it",
                hint="grant the credentials get/list on the fleet's types, or plan without cluster flags "
                "(against the state only)",
            )
        self._report_unreadable(snapshot)
        return snapshot

    def _mask_live(self, oid: ObjectId, item: dict[str, Any]) -> dict[str, Any]:
        return self.masking(item, self.paths.get(oid, ()))

    def _report_unreadable(self, snapshot: LiveSnapshot) -> None:
        for (group, kind, namespace), failure in sorted(snapshot.unreadable.items()):
            where = f" in namespace {namespace}" if namespace else ""
            kind_text = f"{kind}.{group}" if group else kind
            self.diagnostics.append(
                Diagnostic(
                    f"cannot read {kind_text}{where} (HTTP {failure.status} {failure.reason}): "
                    "its objects are compared with the state only",
                    detail=failure.message,
                )
            )

    def _facts(self, obj: DesiredObject, mapping: KindMapping | Unmapped, snapshot: LiveSnapshot) -> ObjectFacts:
        key = live_key(obj.id, mapping)
        masked = self.masking(obj.body, obj.sensitive_paths)
        failure = ""
        if isinstance(mapping, KindMapping) and mapping.served:
            unreadable = snapshot.unreadable.get((mapping.group, mapping.kind, key.namespace))
            unreadable = unreadable or snapshot.unreadable.get((mapping.group, mapping.kind, ""))
            failure = f"HTTP {unreadable.status} {unreadable.reason}" if unreadable else ""
        return ObjectFacts(
            obj=obj,
            masked=masked,
            recorded=self.recorded.get(obj.id),
            mapping=mapping,
            live=snapshot.get(key),
            read_failure=failure,
            manager=self.managers.for_owner(obj.owner),
            namespace=self._namespace_state(key, mapping, snapshot),
            owner_forces=obj.owner in self.forcing_owners,
        )

    def _namespace_state(
        self, key: ObjectId, mapping: KindMapping | Unmapped, snapshot: LiveSnapshot
    ) -> NamespaceState:
        if not isinstance(mapping, KindMapping) or not mapping.namespaced:
            return NamespaceState.UNKNOWN
        if not key.namespace:
            self.diagnostics.append(
                Diagnostic(f"namespaced {mapping.kind} has no metadata.namespace: apply will fail", key)
            )
            return NamespaceState.MISSING
        if snapshot.get(ObjectId("", key.namespace, "", "Namespace")) is not None:
            return NamespaceState.EXISTS
        if not snapshot.readable("", "Namespace", ""):
            return NamespaceState.UNKNOWN
        if ObjectId("", key.namespace, "", "Namespace") in self.desired_ids:
            return NamespaceState.PLANNED
        return NamespaceState.MISSING

    # ----- dry-runs -----------------------------------------------------------------------

    def _dry_runs(self, facts: Sequence[ObjectFacts]) -> dict[int, DryRun]:
        """Dry-run what needs it, in parallel; the first of each type goes alone, so a type
        whose dry-runs are forbidden costs one 403, not one per object."""
        todo: dict[KindMapping, list[int]] = defaultdict(list)
        for index, fact in enumerate(facts):
            if needs_dry_run(fact, always=self.options.always_dry_run):
                assert isinstance(fact.mapping, KindMapping)
                todo[fact.mapping].append(index)
        results: dict[int, DryRun] = {}
        total = sum(len(indexes) for indexes in todo.values())
        with (
            stage(self.options.progress, Stage.DRY_RUN, "Dry-running changes", total=total),
            ThreadPoolExecutor(max_workers=max(1, self.cluster.options.concurrency)) as pool,
        ):
            firsts = [indexes[0] for indexes in todo.values()]
            results.update(zip(firsts, pool.map(lambda i: self._dry_run(facts[i]), firsts), strict=True))
            rest: list[int] = []
            for indexes in todo.values():
                denied = results[indexes[0]].failure
                if denied is not None and denied.is_forbidden:
                    results.update((i, results[indexes[0]]) for i in indexes[1:])
                else:
                    rest += indexes[1:]
            results.update(zip(rest, pool.map(lambda i: self._dry_run(facts[i]), rest), strict=True))
        for mapping, indexes in todo.items():
            if any((failure := results[i].failure) is not None and failure.is_forbidden for i in indexes):
                self.forbidden_dry_run.add(mapping.resource)
        return results

    def _dry_run(self, fact: ObjectFacts) -> DryRun:
        assert isinstance(fact.mapping, KindMapping)
        with timed(self.options.progress, Stage.DRY_RUN, str(fact.obj.id)):
            outcome = dry_run_apply(self.cluster, fact.mapping, fact.obj.body, field_manager=fact.manager)
        if outcome.result is None:
            return outcome
        paths = self.paths.get(live_key(fact.obj.id, fact.mapping), ())
        return DryRun(self.masking(outcome.result, paths))

    # ----- removals and summary -----------------------------------------------------------

    def _removals(
        self, removed: Iterable[tuple[ObjectId, KindMapping | Unmapped]], snapshot: LiveSnapshot
    ) -> list[Change]:
        out: list[Change] = []
        for oid, mapping in removed:
            owner_state, previous = self.recorded[oid]
            key = live_key(oid, mapping)
            failure = ""
            if isinstance(mapping, KindMapping) and not snapshot.readable(mapping.group, mapping.kind, key.namespace):
                failure = "its type could not be listed"
            change = decide_removal(
                owner_state, previous, self.desired.owner(owner_state.id), snapshot.get(key), failure
            )
            if change is not None:
                out.append(change)
        return out

    def _summarise(self, decisions: Sequence[Decision], flux_skipped: Sequence[ObjectId]) -> None:
        for decision in decisions:
            self.diagnostics += decision.diagnostics
        adopted = [d.change.id for d in decisions if isinstance(d.change, LiveChange) and d.change.adopted]
        if adopted:
            self.diagnostics.append(
                Diagnostic(
                    f"{len(adopted)} object(s) exist in the cluster but not in the state; applying adopts them: "
                    + _some(adopted)
                )
            )
        if flux_skipped:
            self.diagnostics.append(
                Diagnostic(
                    f"the cluster has no Flux CRDs: {len(flux_skipped)} Flux object(s) are not applied "
                    f"(fluxform does their work): {_some(flux_skipped)}"
                )
            )
        if self.forbidden_dry_run:
            self.diagnostics.append(
                Diagnostic(
                    "server-side dry-run is forbidden for "
                    + ", ".join(sorted(self.forbidden_dry_run))
                    + ": those objects were compared client-side through their managed fields "
                    "(list merges and quantities are estimated)"
                )
            )

    def _live_target(self) -> LiveTarget:
        comparison = "server-side apply dry-run"
        if self.forbidden_dry_run:
            comparison += "; client-side for " + ", ".join(sorted(self.forbidden_dry_run)) + " (dry-run forbidden)"
        return LiveTarget(self.cluster.context, self.cluster.server, self.managers, comparison)


def _forcing_owners(desired: DesiredState) -> set[ObjectId]:
    """Flux Kustomizations with `spec.force: true` (they recreate on immutable changes)."""
    objects = desired.objects()
    forcing = set()
    for owner in desired.owners:
        manifest = objects.get(owner.id)
        if manifest is not None and (manifest.body.get("spec") or {}).get("force") is True:
            forcing.add(owner.id)
    return forcing


def _with_last_applied(paths: Paths) -> Paths:
    """A kubectl-applied copy of an object with secret leaves carries them in plaintext."""
    if not paths:
        return paths
    return (*paths, ("metadata", "annotations", LAST_APPLIED_ANNOTATION))


def _unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[str] = set()
    out = []
    for diagnostic in diagnostics:
        if diagnostic.one_line() not in seen:
            seen.add(diagnostic.one_line())
            out.append(diagnostic)
    return out


def _some(ids: Sequence[ObjectId]) -> str:
    shown = ", ".join(str(i) for i in ids[:_LISTED_IDS])
    return shown + (f" and {len(ids) - _LISTED_IDS} more" if len(ids) > _LISTED_IDS else "")


def _denied(snapshot: LiveSnapshot, mapping: KindMapping, per_ns: Mapping[str, Any]) -> bool:
    """Every namespace of `mapping` the plan wanted was refused (or its cluster-wide list)."""
    if not snapshot.readable(mapping.group, mapping.kind, ""):
        return True
    return all(not snapshot.readable(mapping.group, mapping.kind, ns) for ns in per_ns)


def _first_denied(snapshot: LiveSnapshot) -> str:
    (group, kind, namespace), failure = min(snapshot.unreadable.items())
    where = f" in namespace {namespace}" if namespace else ""
    return (
        f"{kind}.{group}{where}: HTTP {failure.status} {failure.reason}"
        if group
        else (f"{kind}{where}: HTTP {failure.status} {failure.reason}")
    )
