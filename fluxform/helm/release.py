"""One HelmRelease applied as a real Helm release, as helm-controller applies it: the entry point
the apply executor calls per HelmRelease owner (and, for its rollback, `rollback`/`uninstall`).

What a call does, in helm-controller's order:
1. read Helm's storage (helm/storage.py): the release's history and status;
2. a `pending-*` release is locked: recovered (marked failed, then rolled back or
   uninstalled) only when the apply journal proves this fluxform's interrupted run left it and
   the state lock is held (helm/journal.py), else refused and never touched;
3. nothing to do when the deployed revision already holds this chart, these values and this
   manifest (helm-controller's in-sync check);
4. a journal record, then the chart's `crds/` per the CRD policy (server-side applied as the
   field manager, or created/replaced without SSA, then waited for `Established`);
5. the Helm actions in a worker process (helm/worker.py) whose argv[0] is the field manager:
   install or upgrade with helm-controller's options, its post-renderers run as a Helm
   post-renderer, remediation and retries (helm/remediation.py).

Storage namespace: helm-controller stores a release in its storage namespace
(`spec.storageNamespace`, by default the HelmRelease's namespace, so any HelmRelease with a
`spec.targetNamespace` elsewhere), which the Helm SDK cannot do by itself (it keeps a
release's records in its release namespace). Then the worker's Helm talks to the cluster
through a loopback proxy that serves this release's storage from the storage namespace
(helm/storage_proxy.py), so the records land where helm-controller and `helm -n <storage
namespace>` read them.

    applier = ReleaseApplier(cluster, options, field_manager="helm-controller", run_id=run)
    outcome = applier.apply(owner.rendered)       # ReleaseFailed (typed) when Helm failed
    applier.rollback(owner.rendered.spec, outcome.revision_before)   # or .uninstall(spec)
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.discovery import Discovery
from fluxform.cluster.errors import Refusal
from fluxform.cluster.mapping import KindMapping, RestMapper
from fluxform.cluster.options import ClusterOptions
from fluxform.cluster.write import apply, create, replace
from fluxform.errors import ClusterError, FluxformError, RenderError, ToolError
from fluxform.helm.drift import correct_drift, detect_drift
from fluxform.helm.journal import ReleaseJournal, ReleaseRecord, proving_record
from fluxform.helm.names import release_name_for, release_namespace_for
from fluxform.helm.policy import ReleasePolicy, with_timeout
from fluxform.helm.postrender import HELM_RELEASE_NAME, HELM_RELEASE_NAMESPACE, origin_labels
from fluxform.helm.render import RenderedRelease
from fluxform.helm.sdk import helm_home_environment, parse_yaml_document
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.helm.storage import StoredRelease, mark_failed, read_history
from fluxform.helm.storage_proxy import PROXY_CONTEXT, StorageProxy
from fluxform.helm.worker_protocol import Step, WorkerRequest, WorkerResult, chart_to_wire
from fluxform.interpreter import WORKER_PYTHON_ENV
from fluxform.objects import ObjectId
from fluxform.scratch import scratch_dir
from fluxform.state.backend import StateBackend
from fluxform.state.lock import LockInfo
from fluxform.tool import run_tool

__all__ = [
    "HeldLock",
    "ReleaseApplier",
    "ReleaseFailed",
    "ReleaseLocked",
    "ReleaseOutcome",
    "ReleaseRef",
    "recorded_release",
    "release_ref",
]

_CRD = KindMapping("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)
_CRD_WAIT = 60.0  # helm-controller waits this long for applied CRDs
_WORKER_MARGIN = 120.0  # seconds past the sum of Helm's own timeouts before the worker is stopped
_MANAGER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    """Where a HelmRelease's Helm release lives (flux-semantics 5.2)."""

    name: str
    namespace: str  # release namespace
    storage_namespace: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def release_ref(spec: HelmReleaseSpec) -> ReleaseRef:
    name = release_name_for(spec.name, target_namespace=spec.target_namespace, release_name=spec.release_name)
    namespace = release_namespace_for(spec.namespace, target_namespace=spec.target_namespace)
    return ReleaseRef(name, namespace, spec.storage_namespace or spec.namespace)


@dataclass(frozen=True)
class ReleaseOutcome:
    """What was done to one release (past tense; never values)."""

    owner: ObjectId
    release: ReleaseRef
    action: str  # install | upgrade | rollback | uninstall | correct-drift | none (already in sync)
    revision_before: int | None  # latest revision before (None: no release)
    revision_after: int | None  # latest revision after (None: no release left)
    status: str  # Helm status of revision_after ("" when none)
    field_manager: str
    steps: tuple[Step, ...] = ()  # each Helm action run, remediation included
    recovered: str = ""  # a pending release this call unlocked first, e.g. "pending-upgrade at 4"
    replaced: str = ""  # why an old release was uninstalled first, e.g. "chart name changed from a to b"
    drift: tuple[str, ...] = ()  # drifted objects found (corrected when action is correct-drift)

    @property
    def remediated(self) -> bool:
        return any(s.action in ("rollback", "uninstall") for s in self.steps[1:])


class ReleaseFailed(FluxformError):
    """Helm failed (after any remediation); `outcome` says where the release was left."""

    def __init__(self, summary: str, outcome: ReleaseOutcome, *, detail: str = "", hint: str = "") -> None:
        super().__init__(summary, detail=detail, hint=hint, subject=outcome.owner)
        self.outcome = outcome


class ReleaseLocked(ReleaseFailed):
    """The release is pending-* and nothing proves fluxform left it: it is not touched."""


@dataclass(frozen=True)
class HeldLock:
    """The state lock the caller holds: recovery of a pending release checks it is still held."""

    backend: StateBackend
    info: LockInfo

    def held(self) -> bool:
        holder = self.backend.lock_holder()
        return holder is not None and holder.id == self.info.id


class ReleaseApplier:
    """Applies HelmReleases to one cluster as `field_manager` (helm-controller when the cluster
    runs Flux, fluxform otherwise, or --field-manager). `scrub` cleans every Helm message
    before it leaves (the fleet's decrypted values, FleetSecrets.scrub)."""

    def __init__(
        self,
        cluster: ClusterClient,
        options: ClusterOptions,
        *,
        field_manager: str,
        run_id: str,
        journal: ReleaseJournal | None = None,
        lock: HeldLock | None = None,
        scrub: Callable[[str], str] = str,
        unbounded_attempts: int = 3,
    ) -> None:
        if not _MANAGER.match(field_manager):
            raise ClusterError(f"field manager {field_manager!r} cannot be a process name", hint="use [A-Za-z0-9._-]")
        self.cluster, self.options = cluster, options
        self.field_manager, self.run_id = field_manager, run_id
        self.journal, self.lock, self.scrub = journal, lock, scrub
        self.unbounded_attempts = unbounded_attempts

    # ----- reads --------------------------------------------------------------------------

    def history(self, ref: ReleaseRef) -> list[StoredRelease]:
        return read_history(self.cluster, ref.storage_namespace, ref.name)

    def status(self, ref: ReleaseRef) -> StoredRelease | None:
        history = self.history(ref)
        return history[-1] if history else None

    # ----- actions ------------------------------------------------------------------------

    def apply(
        self, rendered: RenderedRelease, *, timeout: float | None = None, previous: tuple[str, str] | None = None
    ) -> ReleaseOutcome:
        """Install or upgrade `rendered` (what the plan rendered, re-rendered by the caller:
        a built HelmRelease owner's `Owner.rendered`). `timeout`: seconds over every Helm
        action's own timeout (`--timeout`). `previous`: the release name and namespace the
        last apply gave this HelmRelease (`recorded_release` of its state record), so a changed
        release name, release namespace or storage namespace uninstalls the old release first,
        as helm-controller does."""
        spec = rendered.spec
        if spec is None:
            where = f"{rendered.namespace}/{rendered.release_name}"
            raise RenderError(f"the render of release {where} does not carry its HelmRelease", subject=rendered.owner)
        ref = release_ref(spec)
        replaced, steps = self._retire_moved(spec, ref, previous)
        history, recovered = self._unlocked(spec, ref, self.history(ref))
        latest = history[-1] if history else None
        if latest is not None and _in_sync(latest, rendered, ref):
            return self._drift_checked(spec, ref, latest, recovered)
        if (change := _chart_name_change(latest, rendered, spec)) and latest is not None:
            replaced, steps = change, steps + self._uninstall_for_replace(spec, ref, latest, change)
            history = self.history(ref)
            latest = history[-1] if history else None
        operation = "install" if latest is None or latest.status == "uninstalled" else "upgrade"
        self._record(spec, ref, operation, latest)
        policy = spec.policy
        if rendered.crds:
            ssa = (
                policy.install.server_side_apply
                if operation == "install"
                else _ssa(policy.upgrade.server_side_apply, latest)
            )
            crd_policy = policy.install.crds if operation == "install" and replaced else rendered.crd_policy
            self._apply_crds(spec, rendered.crds, crd_policy, ssa)
        request = WorkerRequest(
            operation="apply",
            release=ref.name,
            namespace=ref.namespace,
            helm_release=_manifest_of(spec),
            chart=chart_to_wire(rendered.chart),
            values=dict(rendered.values),
            apply_methods=_apply_methods(history),
            unbounded_attempts=self.unbounded_attempts,
            timeout=timeout,
            **self._connection(),
        )
        policy = spec.policy if timeout is None else with_timeout(spec.policy, timeout)
        result = self._run_worker(ref, request, _apply_budget(policy, self.unbounded_attempts))
        if steps:
            result = dataclasses.replace(result, steps=(*steps, *result.steps))
        return self._finished(spec, ref, operation, result, recovered, replaced=replaced)

    # ----- drift --------------------------------------------------------------------------

    def _drift_checked(
        self, spec: HelmReleaseSpec, ref: ReleaseRef, latest: StoredRelease, recovered: str
    ) -> ReleaseOutcome:
        """An in-sync release, checked for drift per spec.driftDetection (helm/drift.py): `warn`
        reports it, `enabled` corrects it (no new revision), `disabled` does neither."""
        mode = spec.policy.drift.mode
        if mode == "disabled":
            return self._outcome(spec, ref, "none", latest, latest, recovered=recovered)
        mapper = RestMapper(Discovery(self.cluster))
        drifts = detect_drift(
            self.cluster, mapper, latest.manifest, ref.name, ref.namespace, spec.policy.drift, self.field_manager
        )
        found = tuple(str(d) for d in drifts)
        if not drifts or mode == "warn":
            return dataclasses.replace(
                self._outcome(spec, ref, "none", latest, latest, recovered=recovered), drift=found
            )
        try:
            correct_drift(self.cluster, drifts, field_manager=self.field_manager)
        except ClusterError as exc:
            outcome = self._outcome(spec, ref, "correct-drift", latest, latest, recovered=recovered)
            raise ReleaseFailed(
                f"correcting the drift of Helm release {ref} failed",
                dataclasses.replace(outcome, drift=found),
                detail=self.scrub(exc.one_line()),
            ) from None
        outcome = self._outcome(spec, ref, "correct-drift", latest, latest, recovered=recovered)
        return dataclasses.replace(outcome, drift=found)

    # ----- release identity ---------------------------------------------------------------

    def _retire_moved(
        self, spec: HelmReleaseSpec, ref: ReleaseRef, previous: tuple[str, str] | None
    ) -> tuple[str, tuple[Step, ...]]:
        """helm-controller's ReleaseTargetChanged: the release the last apply made under
        another name, release namespace or storage namespace is uninstalled before the new one
        is installed (else the install would fail on objects that already exist)."""
        old = self._moved_release(spec, ref, previous)
        if old is None:
            return "", ()
        moved, latest = old
        reason = _target_change(moved, ref)
        return reason, self._uninstall_for_replace(spec, moved, latest, reason)

    def _moved_release(
        self, spec: HelmReleaseSpec, ref: ReleaseRef, previous: tuple[str, str] | None
    ) -> tuple[ReleaseRef, StoredRelease] | None:
        """The release this HelmRelease had before (`previous`: its name and release namespace,
        as the state recorded them), when it is not `ref`. Its storage namespace is not
        recorded: it is looked for where Flux would have put it (this storage namespace, the
        HelmRelease's namespace, its release namespace), and taken only when its manifest
        carries this HelmRelease's origin labels."""
        if previous is None:
            return None
        name, namespace = previous
        for storage in dict.fromkeys((ref.storage_namespace, spec.namespace, namespace)):
            candidate = ReleaseRef(name, namespace, storage)
            history = self.history(candidate)
            latest = history[-1] if history else None
            if latest is None or latest.status == "uninstalled" or latest.namespace not in ("", namespace):
                continue
            if candidate == ref:
                return None
            if _made_by(latest, spec):
                return candidate, latest
        return None

    def _uninstall_for_replace(
        self, spec: HelmReleaseSpec, ref: ReleaseRef, latest: StoredRelease, reason: str
    ) -> tuple[Step, ...]:
        self._record(spec, ref, "uninstall", latest)
        request = WorkerRequest("uninstall", ref.name, ref.namespace, _manifest_of(spec), **self._connection())
        result = self._run_worker(ref, request, spec.policy.uninstall.timeout + _WORKER_MARGIN)
        if result.error:
            outcome = self._outcome(spec, ref, "uninstall", latest, None, steps=result.steps, result=result)
            raise ReleaseFailed(
                f"Helm release {ref} must be replaced ({reason}), and uninstalling it failed",
                outcome,
                detail=self.scrub(result.error),
            )
        return result.steps

    def rollback(self, spec: HelmReleaseSpec, revision: int, *, timeout: float | None = None) -> ReleaseOutcome:
        """`helm rollback` to `revision` with the HelmRelease's rollback options (the executor's
        rollback of a failed apply: back to the revision the release had before it).
        `timeout`: a bound on the HelmRelease's own rollback timeout (what is left of
        --rollback-timeout)."""
        ref = release_ref(spec)
        history, recovered = self._unlocked(spec, ref, self.history(ref))
        latest = history[-1] if history else None
        self._record(spec, ref, "rollback", latest)
        request = WorkerRequest(
            operation="rollback",
            release=ref.name,
            namespace=ref.namespace,
            helm_release=_manifest_of(spec),
            revision=revision,
            apply_methods=_apply_methods(history),
            timeout=_bounded(spec.policy.rollback.timeout, timeout),
            **self._connection(),
        )
        result = self._run_worker(ref, request, (request.timeout or spec.policy.rollback.timeout) + _WORKER_MARGIN)
        return self._finished(spec, ref, "rollback", result, recovered)

    def uninstall(self, spec: HelmReleaseSpec, *, timeout: float | None = None) -> ReleaseOutcome:
        """`helm uninstall` with the HelmRelease's uninstall options (the executor's rollback of
        a release this apply installed). `timeout`: as for `rollback`."""
        ref = release_ref(spec)
        history, recovered = self._unlocked(spec, ref, self.history(ref))
        latest = history[-1] if history else None
        if latest is None:
            return self._outcome(spec, ref, "none", None, None, recovered=recovered)
        self._record(spec, ref, "uninstall", latest)
        request = WorkerRequest(
            operation="uninstall",
            release=ref.name,
            namespace=ref.namespace,
            helm_release=_manifest_of(spec),
            timeout=_bounded(spec.policy.uninstall.timeout, timeout),
            **self._connection(),
        )
        result = self._run_worker(ref, request, (request.timeout or spec.policy.uninstall.timeout) + _WORKER_MARGIN)
        return self._finished(spec, ref, "uninstall", result, recovered)

    # ----- pending releases ---------------------------------------------------------------

    def _unlocked(
        self, spec: HelmReleaseSpec, ref: ReleaseRef, history: list[StoredRelease]
    ) -> tuple[list[StoredRelease], str]:
        """The history with a pending latest revision recovered, when that is proven ours."""
        latest = history[-1] if history else None
        if latest is None or not latest.pending:
            return history, ""
        record = (
            proving_record(self.journal.entries(), ref.storage_namespace, ref.name, latest.version)
            if self.journal
            else None
        )
        where = f"{latest.status} at revision {latest.version}"
        if record is None:
            raise ReleaseLocked(
                f"Helm release {ref} is {where} and no apply journal of fluxform shows it left it",
                self._outcome(spec, ref, "none", latest, latest),
                hint="another Helm client may be acting on it: fluxform leaves it alone; once nothing acts on "
                f"it, `helm rollback {ref.name} -n {ref.namespace}` (or let helm-controller unlock it)",
            )
        if self.lock is None or not self.lock.held():
            raise ReleaseLocked(
                f"Helm release {ref} is {where} (left by fluxform run {record.run_id}), but the state lock "
                "is not held: not recovered",
                self._outcome(spec, ref, "none", latest, latest),
                hint="recover it from `fluxform apply`, which holds the state lock",
            )
        unlocked = mark_failed(self.cluster, latest, f"Release unlocked from stale '{latest.status}' state")
        steps: list[Step] = [Step("unlock", unlocked.version, unlocked.status)]
        history = [*history[:-1], unlocked]
        target = _last_good([h for h in history if h.version <= (record.revision_before or 0)])
        if target is None:
            request = WorkerRequest("uninstall", ref.name, ref.namespace, _manifest_of(spec), **self._connection())
            result = self._run_worker(ref, request, spec.policy.uninstall.timeout + _WORKER_MARGIN)
        else:
            request = WorkerRequest(
                "rollback",
                ref.name,
                ref.namespace,
                _manifest_of(spec),
                revision=target.version,
                apply_methods=_apply_methods(history),
                **self._connection(),
            )
            result = self._run_worker(ref, request, spec.policy.rollback.timeout + _WORKER_MARGIN)
        steps += result.steps
        if result.error:
            outcome = self._outcome(spec, ref, "rollback", latest, None, steps=tuple(steps), result=result)
            raise ReleaseFailed(
                f"Helm release {ref} was {where} (left by fluxform run {record.run_id}): recovering it failed",
                outcome,
                detail=self.scrub(result.error),
            )
        return self.history(ref), f"{where} (fluxform run {record.run_id}): unlocked, then " + (
            f"rolled back to revision {target.version}" if target is not None else "uninstalled"
        )

    # ----- helpers ------------------------------------------------------------------------

    def _record(self, spec: HelmReleaseSpec, ref: ReleaseRef, operation: str, latest: StoredRelease | None) -> None:
        if self.journal is None:
            return
        before = latest.version if latest is not None else None
        self.journal.record(
            ReleaseRecord.started(
                self.run_id, spec.id, ref.name, ref.namespace, ref.storage_namespace, operation, before
            )
        )

    def _connection(self) -> dict[str, Any]:
        if self.options.in_cluster or self.cluster.context == "in-cluster":
            return {"kubeconfig": None, "context": ""}
        kubeconfig = str(self.options.kubeconfig) if self.options.kubeconfig is not None else None
        return {"kubeconfig": kubeconfig, "context": self.cluster.context}

    def _apply_crds(
        self, spec: HelmReleaseSpec, crds: Sequence[Mapping[str, Any]], policy: str, server_side: bool
    ) -> None:
        """helm-controller internal/action/crds.go applyCRDs: with server-side apply both Create
        and CreateReplace apply every CRD (Helm's SSA Create is an apply, so existing CRDs are
        updated too); without it, Create only creates missing ones and CreateReplace replaces.
        Then every CRD must be Established within 60 s."""
        for crd in crds:
            if server_side:
                written = apply(self.cluster, _CRD, crd, field_manager=self.field_manager, force=True)
            elif policy == "Create":
                written = create(self.cluster, _CRD, crd, field_manager=self.field_manager)
                if written.failure is not None and written.failure.refusal is Refusal.ALREADY_EXISTS:
                    continue
            else:
                written = self._create_or_replace(crd)
            if not written.ok:
                raise written.error().with_context(subject=spec.id, location=spec.origin)
        self._wait_established(spec, [str((c.get("metadata") or {}).get("name")) for c in crds])

    def _create_or_replace(self, crd: Mapping[str, Any]) -> Any:
        written = create(self.cluster, _CRD, crd, field_manager=self.field_manager)
        if written.failure is None or written.failure.refusal is not Refusal.ALREADY_EXISTS:
            return written
        live = self.cluster.request("GET", _CRD.object_path("", str(crd["metadata"]["name"])))
        version = str(((live.json() or {}).get("metadata") or {}).get("resourceVersion") or "")
        body = {**crd, "metadata": {**crd["metadata"], "resourceVersion": version}}
        return replace(self.cluster, _CRD, body, field_manager=self.field_manager)

    def _wait_established(self, spec: HelmReleaseSpec, names: Sequence[str]) -> None:
        deadline = time.monotonic() + _CRD_WAIT
        waiting = list(names)
        while waiting:
            reply = self.cluster.request("GET", _CRD.object_path("", waiting[0]), what=f"read CRD {waiting[0]}")
            conditions = ((reply.json() or {}).get("status") or {}).get("conditions") or [] if reply.ok else []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                waiting.pop(0)
                continue
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"CustomResourceDefinition {waiting[0]} is not Established after {_CRD_WAIT:g} s",
                    subject=spec.id,
                    location=spec.origin,
                )
            time.sleep(0.2)

    def _run_worker(self, ref: ReleaseRef, request: WorkerRequest, budget: float) -> WorkerResult:
        """The Helm worker as `<python dir>/<field manager>`: Helm's SSA field manager is the
        basename of argv[0]. Its input (values included) goes over stdin only. A release stored
        outside its release namespace is reached through the storage proxy."""
        program = str(Path(sys.executable).parent / self.field_manager)
        with scratch_dir("fluxform-helm-worker-") as home, self._storage_proxy(ref) as proxy:
            env = {**helm_home_environment(home), WORKER_PYTHON_ENV: sys.executable}
            if proxy is not None:
                kubeconfig = proxy.write_kubeconfig(home / "kubeconfig")
                request = dataclasses.replace(request, kubeconfig=str(kubeconfig), context=PROXY_CONTEXT)
            elif request.kubeconfig is None and self.options.in_cluster:
                env.update(KUBECONFIG="", HOME=str(home))  # nothing but the pod's service account
            try:
                ran = run_tool(
                    [program, "-m", "fluxform.helm.worker"],
                    tool="Helm worker",
                    executable=sys.executable,
                    env=env,
                    stdin=request.to_json(),
                    timeout=budget,
                    check=False,
                    # putting a release back may run while a signal stops the apply (its rollback)
                    cleanup=request.operation in ("rollback", "uninstall"),
                )
            except ToolError as exc:
                raise ClusterError(
                    f"Helm {request.operation} of release {request.namespace}/{request.release} was stopped",
                    detail=self.scrub(exc.one_line()),
                ) from None
        lines = [line for line in ran.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
        try:
            return WorkerResult.from_json(lines[-1])
        except (IndexError, ValueError, TypeError, KeyError):
            tail = ran.stderr.decode("utf-8", "replace").strip()[-1500:]
            raise ClusterError(
                f"the Helm worker for release {request.namespace}/{request.release} ended without a result "
                f"(exit {ran.exit_code})",
                detail=self.scrub(tail),
            ) from None

    @contextmanager
    def _storage_proxy(self, ref: ReleaseRef) -> Iterator[StorageProxy | None]:
        if ref.storage_namespace == ref.namespace:
            yield None
            return
        with StorageProxy(
            self.cluster, release=ref.name, namespace=ref.namespace, storage_namespace=ref.storage_namespace
        ) as proxy:
            yield proxy

    def _finished(
        self,
        spec: HelmReleaseSpec,
        ref: ReleaseRef,
        action: str,
        result: WorkerResult,
        recovered: str,
        *,
        replaced: str = "",
    ) -> ReleaseOutcome:
        outcome = ReleaseOutcome(
            owner=spec.id,
            release=ref,
            action=action,
            revision_before=result.revision_before,
            revision_after=result.revision_after,
            status=result.status,
            field_manager=self.field_manager,
            steps=result.steps,
            recovered=recovered,
            replaced=replaced,
        )
        if result.error:
            detail = "; ".join((result.error, *(f"post-renderer: {f}" for f in result.post_render_failures)))
            where = (
                f"release left {outcome.status} at revision {outcome.revision_after}"
                if outcome.status
                else "no release left"
            )
            attempts = sum(1 for s in outcome.steps if s.action in ("install", "upgrade"))
            remedies = [s.action for s in outcome.steps[1:] if s.action in ("rollback", "uninstall")]
            if remedies:
                where += f" after {attempts} attempt(s), remediated by {' and '.join(sorted(set(remedies)))}"
            raise ReleaseFailed(
                f"Helm {action} of release {ref} failed ({where})",
                outcome,
                detail=self.scrub(detail),
            )
        return outcome

    def _outcome(
        self,
        spec: HelmReleaseSpec,
        ref: ReleaseRef,
        action: str,
        before: StoredRelease | None,
        after: StoredRelease | None,
        *,
        steps: tuple[Step, ...] = (),
        result: WorkerResult | None = None,
        recovered: str = "",
    ) -> ReleaseOutcome:
        return ReleaseOutcome(
            owner=spec.id,
            release=ref,
            action=action,
            revision_before=before.version if before is not None else None,
            revision_after=(result.revision_after if result is not None else after.version if after else None),
            status=(result.status if result is not None else after.status if after else ""),
            field_manager=self.field_manager,
            steps=steps,
            recovered=recovered,
        )


def _chart_name_change(latest: StoredRelease | None, rendered: RenderedRelease, spec: HelmReleaseSpec) -> str:
    """helm-controller's TargetChartName: with `upgrade.chartNameChangeStrategy: Reinstall`
    (the default) a release of another chart is uninstalled, then installed anew."""
    if latest is None or latest.status == "uninstalled" or not latest.chart_name:
        return ""
    if latest.chart_name == rendered.chart.name or spec.policy.upgrade.chart_name_change != "Reinstall":
        return ""
    return f"chart name changed from {latest.chart_name} to {rendered.chart.name}"


def _made_by(release: StoredRelease, spec: HelmReleaseSpec) -> bool:
    """Whether a stored release's objects carry this HelmRelease's origin labels."""
    for doc in _DOC_SEPARATOR.split(release.manifest):
        if not doc.strip():
            continue
        labels = (parse_yaml_document(doc).get("metadata") or {}).get("labels") or {}
        if all(labels.get(key) == value for key, value in origin_labels(spec).items()):
            return True
    return False


def recorded_release(manifests: Sequence[Mapping[str, Any] | None]) -> tuple[str, str] | None:
    """The release name and namespace Helm's ownership annotations name on the objects a
    HelmRelease's last apply recorded (the state keeps its objects as Helm sent them)."""
    for manifest in manifests:
        annotations = ((manifest or {}).get("metadata") or {}).get("annotations") or {}
        name, namespace = annotations.get(HELM_RELEASE_NAME), annotations.get(HELM_RELEASE_NAMESPACE)
        if isinstance(name, str) and isinstance(namespace, str) and name and namespace:
            return name, namespace
    return None


def _target_change(old: ReleaseRef, new: ReleaseRef) -> str:
    """The reason helm-controller logs, in its order of checks."""
    if old.storage_namespace != new.storage_namespace:
        return f"storage namespace changed from {old.storage_namespace} to {new.storage_namespace}"
    if old.namespace != new.namespace:
        return f"release namespace changed from {old.namespace} to {new.namespace}"
    return f"release name changed from {old.name} to {new.name}"


def _manifest_of(spec: HelmReleaseSpec) -> dict[str, Any]:
    """The HelmRelease as the worker reads it back (HelmReleaseSpec.from_doc): what decides
    its policy and post-renderers."""
    if spec.source is None:
        raise RenderError("the HelmRelease's manifest is not available to apply it", subject=spec.id)
    return dict(spec.source)


def _ssa(mode: str, latest: StoredRelease | None) -> bool:
    if mode in ("true", "false"):
        return mode == "true"
    return latest is None or latest.apply_method != "csa"


def _apply_methods(history: Sequence[StoredRelease]) -> dict[str, str]:
    return {str(h.version): h.apply_method for h in history if h.apply_method}


def _last_good(history: Sequence[StoredRelease]) -> StoredRelease | None:
    for entry in reversed(history):
        if entry.status in ("deployed", "superseded"):
            return entry
    return None


def _bounded(own: float, bound: float | None) -> float | None:
    """An action's timeout under a caller's bound (None: the action's own, unchanged)."""
    return None if bound is None else min(own, bound)


def _apply_budget(policy: ReleasePolicy, unbounded: int) -> float:
    """How long the worker may take: every attempt and remediation at their own timeouts."""
    retries = max(policy.install.remediation.retries, policy.upgrade.remediation.retries)
    attempts = unbounded if retries < 0 else retries + 1
    longest = max(policy.install.timeout, policy.upgrade.timeout) + (policy.test.timeout if policy.test.enabled else 0)
    remedy = max(policy.rollback.timeout, policy.uninstall.timeout)
    return attempts * (longest + remedy) + _WORKER_MARGIN


def _in_sync(latest: StoredRelease, rendered: RenderedRelease, ref: ReleaseRef) -> bool:
    """helm-controller's InSync: deployed, same chart name and version, same values, and (for
    post-renderer or commonMetadata changes) the same manifest."""
    if latest.status != "deployed" or latest.chart_name != rendered.chart.name:
        return False
    if latest.chart_version != rendered.chart.version or latest.config_digest != rendered.values_digest:
        return False
    return _manifest_objects(latest.manifest, ref.namespace) == _normalised(rendered.objects, ref.namespace)


def _manifest_objects(manifest: str, namespace: str) -> list[str]:
    docs = [parse_yaml_document(part) for part in _DOC_SEPARATOR.split(manifest) if part.strip()]
    return _normalised([d for d in docs if d], namespace)


def _normalised(docs: Sequence[Mapping[str, Any]], namespace: str) -> list[str]:
    """Documents as sorted canonical JSON, the release namespace implied (Helm places
    objects without one there)."""
    out = []
    for doc in docs:
        meta = dict(doc.get("metadata") or {})
        if meta.get("namespace") == namespace:
            meta.pop("namespace")
        out.append(json.dumps({**doc, "metadata": meta}, sort_keys=True))
    return sorted(out)
