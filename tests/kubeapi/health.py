"""What the controllers of a healthy cluster would write into status, decided per object.

Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs roll out completely, PVCs
bind, pods that run to completion (Helm's test pods) succeed and others run, unless the pod
template (or the object itself) carries the annotation `kubeapi.fluxform.dev/health`:
`failed` (never available; Deployments report ProgressDeadlineExceeded, Jobs
BackoffLimitExceeded, pods Failed) or `progressing` (stays in progress).

    status = simulated_status("apps", deployment, now)   # None: nothing to simulate
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "HEALTH_ANNOTATION",
    "SIMULATED_KINDS",
    "replica_set_for",
    "replica_set_name",
    "simulated_status",
    "template_hash",
]

HEALTH_ANNOTATION = "kubeapi.fluxform.dev/health"
_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' rand.SafeEncodeString


def template_hash(template: Any) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE_CHARS[b % len(_SAFE_CHARS)] for b in digest[:10])


def _mode(obj: dict[str, Any]) -> str:
    template_meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    for meta in (template_meta, obj.get("metadata") or {}):
        mode = (meta.get("annotations") or {}).get(HEALTH_ANNOTATION)
        if mode:
            return str(mode)
    return "healthy"


def _condition(kind: str, ok: bool, reason: str, message: str, now: str, update_time: bool = False) -> dict[str, Any]:
    condition = {"type": kind, "status": "True" if ok else "False"}
    if update_time:
        condition["lastUpdateTime"] = now
    condition.update(lastTransitionTime=now, reason=reason, message=message)
    return condition


def _nonzero(**counts: int) -> dict[str, int]:
    """Go's omitempty: zero counters are left out."""
    return {k: v for k, v in counts.items() if v}


def _replicas(obj: dict[str, Any]) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def _deployment(obj: dict[str, Any], mode: str, now: str) -> dict[str, Any]:
    n, rs = _replicas(obj), f'ReplicaSet "{replica_set_name(obj)}"'
    if mode == "healthy":
        counts = _nonzero(replicas=n, updatedReplicas=n, readyReplicas=n, availableReplicas=n)
        available = _condition(
            "Available", True, "MinimumReplicasAvailable", "Deployment has minimum availability.", now, True
        )
        progressing = _condition(
            "Progressing", True, "NewReplicaSetAvailable", f"{rs} has successfully progressed.", now, True
        )
    else:
        counts = _nonzero(replicas=n, updatedReplicas=n, unavailableReplicas=n)
        available = _condition(
            "Available",
            False,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
            True,
        )
        if mode == "failed":
            progressing = _condition(
                "Progressing", False, "ProgressDeadlineExceeded", f"{rs} has timed out progressing.", now, True
            )
        else:
            progressing = _condition("Progressing", True, "ReplicaSetUpdated", f"{rs} is progressing.", now, True)
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        **counts,
        "conditions": [available, progressing],
    }


def _statefulset(obj: dict[str, Any], mode: str, _now: str) -> dict[str, Any]:
    n, name = _replicas(obj), obj["metadata"]["name"]
    revision = f"{name}-{template_hash((obj.get('spec') or {}).get('template'))}"
    if mode == "healthy":
        counts = _nonzero(replicas=n, readyReplicas=n, currentReplicas=n, updatedReplicas=n, availableReplicas=n)
        current = revision
    else:
        counts = _nonzero(replicas=n, currentReplicas=n, updatedReplicas=n if mode == "failed" else 0)
        current = revision if mode == "failed" else f"{name}-previous"
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        **counts,
        "currentRevision": current,
        "updateRevision": revision,
        "collisionCount": 0,
    }


def _daemonset(obj: dict[str, Any], mode: str, _now: str) -> dict[str, Any]:
    ok = mode == "healthy"
    counts = _nonzero(
        numberReady=int(ok),
        numberAvailable=int(ok),
        numberUnavailable=int(not ok),
        updatedNumberScheduled=int(mode != "progressing"),
    )
    return {
        "currentNumberScheduled": 1,
        "desiredNumberScheduled": 1,
        "numberMisscheduled": 0,
        "observedGeneration": obj["metadata"].get("generation", 1),
        **counts,
    }


def _replicaset(obj: dict[str, Any], mode: str, _now: str) -> dict[str, Any]:
    n = _replicas(obj) if mode == "healthy" else 0
    counts = _nonzero(fullyLabeledReplicas=_replicas(obj), readyReplicas=n, availableReplicas=n)
    return {"replicas": _replicas(obj), **counts, "observedGeneration": obj["metadata"].get("generation", 1)}


def _job(obj: dict[str, Any], mode: str, now: str) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if mode == "failed":
        conditions = [
            _condition(
                "FailureTarget", True, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now
            ),
            _condition("Failed", True, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now),
        ]
        return {
            "startTime": now,
            "failed": int(spec.get("backoffLimit", 6)) + 1,
            "terminating": 0,
            "ready": 0,
            "uncountedTerminatedPods": {},
            "conditions": conditions,
        }
    if mode == "progressing":
        return {"startTime": now, "active": 1, "terminating": 0, "ready": 0, "uncountedTerminatedPods": {}}
    conditions = [
        _condition("SuccessCriteriaMet", True, "CompletionsReached", "Reached expected number of succeeded pods", now),
        _condition("Complete", True, "CompletionsReached", "Reached expected number of succeeded pods", now),
    ]
    return {
        "startTime": now,
        "completionTime": now,
        "succeeded": int(spec.get("completions", 1)),
        "terminating": 0,
        "ready": 0,
        "uncountedTerminatedPods": {},
        "conditions": conditions,
    }


def _pod(obj: dict[str, Any], mode: str, now: str) -> dict[str, Any]:
    """A pod that runs to completion (restartPolicy Never/OnFailure: Helm's test and hook pods)
    has Succeeded (`failed`: Failed, exit code 1); one that keeps running is Running and Ready."""
    spec = obj.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or []]
    if mode == "progressing":
        return {"phase": "Pending", "startTime": now}
    if spec.get("restartPolicy", "Always") == "Always":
        ready = mode == "healthy"
        return {
            "phase": "Running",
            "startTime": now,
            "conditions": [_condition("Ready", ready, "", "", now)],
            "containerStatuses": [{"name": n, "ready": ready, "restartCount": 0, "started": True} for n in names],
        }
    code, reason = (0, "Completed") if mode == "healthy" else (1, "Error")
    terminated = {"exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now}
    return {
        "phase": "Succeeded" if mode == "healthy" else "Failed",
        "startTime": now,
        "containerStatuses": [
            {"name": n, "ready": False, "restartCount": 0, "state": {"terminated": terminated}} for n in names
        ],
    }


def _pvc(obj: dict[str, Any], mode: str, _now: str) -> dict[str, Any] | None:
    if mode != "healthy":
        return None
    spec = obj.get("spec") or {}
    capacity = dict(((spec.get("resources") or {}).get("requests")) or {})
    return {"phase": "Bound", "accessModes": list(spec.get("accessModes") or []), "capacity": capacity}


_SIMULATORS: dict[tuple[str, str], Callable[[dict[str, Any], str, str], dict[str, Any] | None]] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Pod"): _pod,
}
SIMULATED_KINDS = frozenset(_SIMULATORS)


def simulated_status(group: str, obj: dict[str, Any], now: str) -> dict[str, Any] | None:
    """The status a controller would have written by now; None when it would write none."""
    simulate = _SIMULATORS.get((group, str(obj.get("kind", ""))))
    return simulate(obj, _mode(obj), now) if simulate else None


def replica_set_name(deployment: dict[str, Any]) -> str:
    template = (deployment.get("spec") or {}).get("template")
    return f"{deployment['metadata']['name']}-{template_hash(template)}"


def replica_set_for(deployment: dict[str, Any]) -> dict[str, Any]:
    """The ReplicaSet the deployment controller keeps for the current pod template."""
    spec = deployment.get("spec") or {}
    pod_hash = template_hash(spec.get("template"))
    template = json.loads(json.dumps(spec.get("template") or {}))
    template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
    selector = json.loads(json.dumps(spec.get("selector") or {}))
    selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
    meta = deployment["metadata"]
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": replica_set_name(deployment),
            "namespace": meta.get("namespace", ""),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {"deployment.kubernetes.io/desired-replicas": str(_replicas(deployment))},
            "ownerReferences": [owner],
        },
        "spec": {"replicas": _replicas(deployment), "selector": selector, "template": template},
    }
