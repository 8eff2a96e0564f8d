"""kstatus rules per kind (fluxcd/cli-utils pkg/kstatus/status, flux-semantics 4.7), and that
the emulator's simulated controllers satisfy them the way a healthy cluster does."""

from __future__ import annotations

from typing import Any

import pytest

from fluxform.apply.health import HealthStatus, object_health

Obj = dict[str, Any]


def cond(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def deployment(status: Obj, *, replicas: int = 1, generation: int = 1, **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "generation": generation},
        "spec": {"replicas": replicas, "progressDeadlineSeconds": 600, **spec},
        "status": status,
    }


ROLLED_OUT = {
    "observedGeneration": 1,
    "replicas": 1,
    "updatedReplicas": 1,
    "readyReplicas": 1,
    "availableReplicas": 1,
    "conditions": [cond("Available", "True"), cond("Progressing", "True", "NewReplicaSetAvailable")],
}

CASES: list[tuple[str, Obj, HealthStatus, str]] = [
    ("deployment rolled out", deployment(ROLLED_OUT), HealthStatus.CURRENT, "available"),
    (
        "deployment generation not observed",
        deployment(ROLLED_OUT, generation=2),
        HealthStatus.IN_PROGRESS,
        "observed generation is 1",
    ),
    (
        "deployment short of replicas",
        deployment({**ROLLED_OUT, "replicas": 1}, replicas=3),
        HealthStatus.IN_PROGRESS,
        "Replicas: 1/3",
    ),
    (
        "deployment not available",
        deployment({**ROLLED_OUT, "availableReplicas": 0}),
        HealthStatus.IN_PROGRESS,
        "Available: 0/1",
    ),
    (
        "deployment progress deadline exceeded",
        deployment(
            {**ROLLED_OUT, "conditions": [cond("Progressing", "False", "ProgressDeadlineExceeded", "timed out")]}
        ),
        HealthStatus.FAILED,
        "ProgressDeadlineExceeded",
    ),
    (
        "deployment without the NewReplicaSetAvailable reason",
        deployment({**ROLLED_OUT, "conditions": [cond("Available", "True")]}),
        HealthStatus.IN_PROGRESS,
        "ReplicaSet not Available",
    ),
    (
        "deployment without progressDeadlineSeconds needs no Progressing condition",
        {**deployment({**ROLLED_OUT, "conditions": [cond("Available", "True")]}), "spec": {"replicas": 1}},
        HealthStatus.CURRENT,
        "",
    ),
    (
        "statefulset revision mismatch",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "generation": 1},
            "spec": {"replicas": 1},
            "status": {
                "observedGeneration": 1,
                "replicas": 1,
                "readyReplicas": 1,
                "currentReplicas": 1,
                "currentRevision": "db-1",
                "updateRevision": "db-2",
            },
        },
        HealthStatus.IN_PROGRESS,
        "revision",
    ),
    (
        "statefulset OnDelete",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {},
            "spec": {"updateStrategy": {"type": "OnDelete"}},
        },
        HealthStatus.CURRENT,
        "OnDelete",
    ),
    (
        "daemonset without observedGeneration",
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1}, "status": {}},
        HealthStatus.IN_PROGRESS,
        "observedGeneration not found",
    ),
    (
        "job complete",
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "status": {"conditions": [cond("Complete", "True")]}},
        HealthStatus.CURRENT,
        "Completed",
    ),
    (
        "job failed",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {},
            "status": {"conditions": [cond("Failed", "True", "BackoffLimitExceeded")]},
        },
        HealthStatus.FAILED,
        "BackoffLimitExceeded",
    ),
    (
        "job running counts as healthy (kstatus)",
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "status": {"startTime": "2026-01-01T00:00:00Z"}},
        HealthStatus.CURRENT,
        "in progress",
    ),
    (
        "job not started",
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {}},
        HealthStatus.IN_PROGRESS,
        "not started",
    ),
    (
        "crd established",
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {},
            "status": {"conditions": [cond("Established", "True")]},
        },
        HealthStatus.CURRENT,
        "established",
    ),
    (
        "crd names not accepted",
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {},
            "status": {"conditions": [cond("NamesAccepted", "False", "Conflict")]},
        },
        HealthStatus.FAILED,
        "Conflict",
    ),
    (
        "pvc pending",
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Pending"}},
        HealthStatus.IN_PROGRESS,
        "Pending",
    ),
    ("configmap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, HealthStatus.CURRENT, ""),
    (
        "being deleted",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}},
        HealthStatus.TERMINATING,
        "",
    ),
    (
        "flux object stalled",
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"generation": 2},
            "status": {"observedGeneration": 2, "conditions": [cond("Stalled", "True", "InstallFailed", "boom")]},
        },
        HealthStatus.FAILED,
        "InstallFailed: boom",
    ),
    (
        "flux object reconciling",
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {},
            "status": {"conditions": [cond("Reconciling", "True", "Progressing")]},
        },
        HealthStatus.IN_PROGRESS,
        "Progressing",
    ),
    (
        "custom resource Ready=False",
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {},
            "status": {"conditions": [cond("Ready", "False", "Waiting", "for a thing")]},
        },
        HealthStatus.IN_PROGRESS,
        "Waiting: for a thing",
    ),
    (
        "custom resource without conditions",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}},
        HealthStatus.CURRENT,
        "",
    ),
]


@pytest.mark.parametrize(("obj", "status", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(obj: Obj, status: HealthStatus, message: str) -> None:
    health = object_health(obj)
    assert health.status is status, health
    assert message in health.message


def test_absent_object_is_not_found() -> None:
    assert object_health(None).status is HealthStatus.NOT_FOUND
