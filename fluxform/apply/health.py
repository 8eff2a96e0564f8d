"""Is an object healthy? kstatus's rules (fluxcd/cli-utils `pkg/kstatus/status`, flux-semantics
4.7), one function per kind, so apply waits for what Flux's health checks wait for.

Generic rules come first: an object being deleted is Terminating; an observedGeneration that
lags the generation is InProgress; a `Reconciling=True` condition is InProgress and
`Stalled=True` is Failed (how Flux's own objects report). Then the kind's rule: Deployments
rolled out and available, StatefulSets and DaemonSets ready, Jobs complete (a running Job
counts, as in kstatus), CRDs Established, PVCs Bound. Any other kind is Current once it
exists, except that an object with a `Ready` condition must have it True (fluxform's rule for
custom resources: kstatus leaves them Current; Flux's controllers set Reconciling/Stalled).

    health = object_health(live)            # Health(HealthStatus.CURRENT, "Deployment is available. ...")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Health", "HealthStatus", "object_health"]


class HealthStatus(StrEnum):
    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True, slots=True)
class Health:
    status: HealthStatus
    message: str = ""

    @property
    def current(self) -> bool:
        return self.status is HealthStatus.CURRENT

    @property
    def failed(self) -> bool:
        return self.status is HealthStatus.FAILED


Rule = Callable[[Mapping[str, Any]], Health]
_NO_DEADLINE = 2**31 - 1  # a Deployment without progressDeadlineSeconds: the controller sets no Progressing


def _int(obj: Mapping[str, Any], path: str, default: int) -> int:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node if isinstance(node, int) and not isinstance(node, bool) else default


def _str(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ""
        node = node[part]
    return node if isinstance(node, str) else ""


def _conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = (obj.get("status") or {}).get("conditions") if isinstance(obj.get("status"), Mapping) else None
    return [c for c in found or [] if isinstance(c, Mapping)]


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in _conditions(obj) if c.get("type") == kind), None)


def _progress(message: str) -> Health:
    return Health(HealthStatus.IN_PROGRESS, message)


def _current(message: str) -> Health:
    return Health(HealthStatus.CURRENT, message)


def _generic(obj: Mapping[str, Any]) -> Health | None:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Health(HealthStatus.TERMINATING, "being deleted")
    generation = meta.get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration") if isinstance(obj.get("status"), Mapping) else None
    if isinstance(generation, int) and isinstance(observed, int) and observed != generation:
        return _progress(f"generation is {generation}, but the latest observed generation is {observed}")
    for condition in _conditions(obj):
        if condition.get("type") == "Reconciling" and condition.get("status") == "True":
            return _progress(_said(condition, "Reconciling"))
        if condition.get("type") == "Stalled" and condition.get("status") == "True":
            return Health(HealthStatus.FAILED, _said(condition, "Stalled"))
    return None


def _said(condition: Mapping[str, Any], fallback: str) -> str:
    reason, message = str(condition.get("reason") or ""), str(condition.get("message") or "")
    return ": ".join(p for p in (reason, message) if p) or fallback


def _deployment(obj: Mapping[str, Any]) -> Health:
    progressing = _int(obj, "spec.progressDeadlineSeconds", _NO_DEADLINE) == _NO_DEADLINE
    available = False
    for condition in _conditions(obj):
        if condition.get("type") == "Progressing":
            if condition.get("reason") == "ProgressDeadlineExceeded":
                return Health(HealthStatus.FAILED, _said(condition, "progress deadline exceeded"))
            if condition.get("status") == "True" and condition.get("reason") == "NewReplicaSetAvailable":
                progressing = True
        elif condition.get("type") == "Available" and condition.get("status") == "True":
            available = True
    spec_n = _int(obj, "spec.replicas", 1)
    status_n, updated = _int(obj, "status.replicas", 0), _int(obj, "status.updatedReplicas", 0)
    ready, avail = _int(obj, "status.readyReplicas", 0), _int(obj, "status.availableReplicas", 0)
    if spec_n > status_n:
        return _progress(f"Replicas: {status_n}/{spec_n}")
    if spec_n > updated:
        return _progress(f"Updated: {updated}/{spec_n}")
    if status_n > spec_n:
        return _progress(f"Pending termination: {status_n - spec_n}")
    if updated > avail:
        return _progress(f"Available: {avail}/{updated}")
    if spec_n > ready:
        return _progress(f"Ready: {ready}/{spec_n}")
    if not progressing:
        return _progress("ReplicaSet not Available")
    if not available:
        return _progress("Deployment not Available")
    return _current(f"Deployment is available. Replicas: {status_n}")


def _statefulset(obj: Mapping[str, Any]) -> Health:
    if _str(obj, "spec.updateStrategy.type") == "OnDelete":
        return _current("StatefulSet is using the OnDelete update strategy")
    spec_n, status_n = _int(obj, "spec.replicas", 1), _int(obj, "status.replicas", 0)
    if spec_n > status_n:
        return _progress(f"Replicas: {status_n}/{spec_n}")
    ready = _int(obj, "status.readyReplicas", 0)
    if spec_n > ready:
        return _progress(f"Ready: {ready}/{spec_n}")
    if status_n > spec_n:
        return _progress(f"Pending termination: {status_n - spec_n}")
    partition = _int(obj, "spec.updateStrategy.rollingUpdate.partition", -1)
    updated = _int(obj, "status.updatedReplicas", 0)
    if partition != -1:
        if updated < spec_n - partition:
            return _progress(f"updated: {updated}/{spec_n - partition}")
        return _current(f"Partition rollout complete. updated: {updated}")
    current = _int(obj, "status.currentReplicas", 0)
    if spec_n > current:
        return _progress(f"current: {current}/{spec_n}")
    if _str(obj, "status.currentRevision") != _str(obj, "status.updateRevision"):
        return _progress("Waiting for updated revision to match current")
    return _current(f"All replicas scheduled as expected. Replicas: {status_n}")


def _daemonset(obj: Mapping[str, Any]) -> Health:
    if not isinstance((obj.get("metadata") or {}).get("generation"), int):
        return _progress("DaemonSet metadata.generation not found")
    if _int(obj, "status.observedGeneration", -1) == -1:
        return _progress("DaemonSet status.observedGeneration not found")
    desired = _int(obj, "status.desiredNumberScheduled", -1)
    if desired == -1:
        return _progress("Missing .status.desiredNumberScheduled")
    for field, label in (
        ("currentNumberScheduled", "Current"),
        ("updatedNumberScheduled", "Updated"),
        ("numberAvailable", "Available"),
        ("numberReady", "Ready"),
    ):
        have = _int(obj, f"status.{field}", 0)
        if desired > have:
            return _progress(f"{label}: {have}/{desired}")
    return _current(f"All replicas scheduled as expected. Replicas: {desired}")


def _replicaset(obj: Mapping[str, Any]) -> Health:
    failure = _condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return _progress("Replica Failure condition. Check Pods")
    spec_n = _int(obj, "spec.replicas", 1)
    for field, label in (
        ("fullyLabeledReplicas", "Labelled"),
        ("availableReplicas", "Available"),
        ("readyReplicas", "Ready"),
    ):
        have = _int(obj, f"status.{field}", 0)
        if spec_n > have:
            return _progress(f"{label}: {have}/{spec_n}")
    status_n = _int(obj, "status.replicas", 0)
    if status_n > spec_n:
        return _progress(f"Pending termination: {status_n - spec_n}")
    return _current(f"ReplicaSet is available. Replicas: {status_n}")


def _job(obj: Mapping[str, Any]) -> Health:
    for condition in _conditions(obj):
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return _current("Job Completed")
        if condition.get("type") == "Failed":
            return Health(HealthStatus.FAILED, _said(condition, "Job Failed"))
        if condition.get("type") == "Suspended":
            return _current("Job is suspended")
    if not _str(obj, "status.startTime"):
        return _progress("Job not started")
    return _current("Job in progress")  # kstatus: a started Job counts as healthy


def _pod(obj: Mapping[str, Any]) -> Health:
    phase = _str(obj, "status.phase")
    if phase in ("Succeeded", "Failed"):
        return _current(f"Pod has completed ({phase})")
    if phase == "Running":
        ready = _condition(obj, "Ready")
        if ready is not None and ready.get("status") == "True":
            return _current("Pod is Ready")
        statuses = (obj.get("status") or {}).get("containerStatuses") or []
        looping = [
            str(s.get("name"))
            for s in statuses
            if isinstance(s, Mapping)
            and ((s.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
        ]
        if looping:
            return Health(HealthStatus.FAILED, f"Containers in CrashLoop state: {','.join(looping)}")
        return _progress("Pod is running but is not Ready")
    return _progress(f"Pod is in the {phase or 'unobserved'} phase")


def _pvc(obj: Mapping[str, Any]) -> Health:
    phase = _str(obj, "status.phase") or "unknown"
    return _current("PVC is Bound") if phase == "Bound" else _progress(f"PVC is not Bound. phase: {phase}")


def _service(obj: Mapping[str, Any]) -> Health:
    if _str(obj, "spec.type") == "LoadBalancer" and not _str(obj, "spec.clusterIP"):
        return _progress("ClusterIP not set. Service type: LoadBalancer")
    return _current("Service is ready")


def _crd(obj: Mapping[str, Any]) -> Health:
    for condition in _conditions(obj):
        if condition.get("type") == "NamesAccepted" and condition.get("status") == "False":
            return Health(HealthStatus.FAILED, _said(condition, "names not accepted"))
        if condition.get("type") == "Established":
            if condition.get("status") == "False" and condition.get("reason") != "Installing":
                return Health(HealthStatus.FAILED, _said(condition, "not established"))
            if condition.get("status") == "True":
                return _current("CRD is established")
    return _progress("Install in progress")


def _namespace(obj: Mapping[str, Any]) -> Health:
    phase = _str(obj, "status.phase")
    if phase == "Terminating":
        return Health(HealthStatus.TERMINATING, "Namespace is terminating")
    return _current(f"Namespace is {phase or 'Active'}")


def _always(obj: Mapping[str, Any]) -> Health:
    return _current("Resource is always ready")


_RULES: dict[tuple[str, str], Rule] = {
    ("", "Service"): _service,
    ("", "Pod"): _pod,
    ("", "Secret"): _always,
    ("", "ConfigMap"): _always,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Namespace"): _namespace,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("policy", "PodDisruptionBudget"): _always,
    ("batch", "CronJob"): _always,
    ("batch", "Job"): _job,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}


def _ready_condition(obj: Mapping[str, Any]) -> Health:
    ready = _condition(obj, "Ready")
    if ready is None or ready.get("status") == "True":
        return _current("Resource is current")
    return _progress("Ready=" + str(ready.get("status") or "Unknown") + ": " + _said(ready, "not ready"))


def object_health(obj: Mapping[str, Any] | None) -> Health:
    """The kstatus of a live object (None: it does not exist)."""
    if obj is None:
        return Health(HealthStatus.NOT_FOUND, "not found")
    generic = _generic(obj)
    if generic is not None:
        return generic
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    rule = _RULES.get((group, str(obj.get("kind") or "")), _ready_condition)
    return rule(obj)
