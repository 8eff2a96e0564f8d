"""Simulated controllers: workloads roll out on the next read unless annotated otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kubeapi import HEALTH_ANNOTATION, KubeApi
from tests.support.kubeclient import deployment, raw, request_ok

DEPLOYMENT = "/apis/apps/v1/namespaces/default/deployments/web"


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"].get("conditions", [])}


def _get(api: KubeApi, path: str) -> dict[str, Any]:
    return request_ok(api, "GET", path)


def test_deployment_rolls_out_on_the_next_read(kubeapi: KubeApi) -> None:
    created = kubeapi.server.create(deployment("web", replicas=3))
    assert created["status"] == {}, "the write itself answers before any controller ran"
    live = _get(kubeapi, DEPLOYMENT)
    status = live["status"]
    assert status["observedGeneration"] == live["metadata"]["generation"] == 1
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (
        3,
        3,
        3,
        3,
    )
    assert _conditions(live) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    status_managers = {(m["manager"], m.get("subresource")) for m in live["metadata"]["managedFields"]}
    assert ("kube-controller-manager", "status") in status_managers


@pytest.mark.parametrize(
    ("mode", "available", "progressing"),
    [
        ("failed", ("False", "MinimumReplicasUnavailable"), ("False", "ProgressDeadlineExceeded")),
        ("progressing", ("False", "MinimumReplicasUnavailable"), ("True", "ReplicaSetUpdated")),
    ],
)
def test_deployment_health_annotation(
    kubeapi: KubeApi, mode: str, available: tuple[str, str], progressing: tuple[str, str]
) -> None:
    kubeapi.server.create(deployment("web", annotations={HEALTH_ANNOTATION: mode}))
    for _ in range(2):
        live = _get(kubeapi, DEPLOYMENT)
        assert _conditions(live) == {"Available": available, "Progressing": progressing}
        assert "availableReplicas" not in live["status"]


def test_new_template_gets_a_new_replica_set_and_revision(kubeapi: KubeApi) -> None:
    kubeapi.server.create(deployment("web"))
    first = _get(kubeapi, DEPLOYMENT)
    status, _ = raw(
        kubeapi,
        "PATCH",
        DEPLOYMENT,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}},
        "application/strategic-merge-patch+json",
    )
    assert status == 200
    second = _get(kubeapi, DEPLOYMENT)
    assert second["status"]["observedGeneration"] == second["metadata"]["generation"] == 2
    assert first["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert second["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    replica_sets = _get(kubeapi, "/apis/apps/v1/namespaces/default/replicasets")["items"]
    assert sorted(rs["spec"]["replicas"] for rs in replica_sets) == [0, 1]


def test_replica_set_is_owned_and_ready(kubeapi: KubeApi) -> None:
    kubeapi.server.create(deployment("web", replicas=2))
    (replica_set,) = _get(kubeapi, "/apis/apps/v1/namespaces/default/replicasets")["items"]
    owner = replica_set["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Deployment", "web", True)
    assert replica_set["status"]["readyReplicas"] == 2
    assert "pod-template-hash" in replica_set["spec"]["selector"]["matchLabels"]


def _workload(kind: str, mode: str | None = None) -> dict[str, Any]:
    obj = deployment("web", annotations={HEALTH_ANNOTATION: mode} if mode else None)
    obj["kind"] = kind
    return obj


def test_statefulset_and_daemonset(kubeapi: KubeApi) -> None:
    kubeapi.server.create(_workload("StatefulSet"))
    kubeapi.server.create(_workload("DaemonSet"))
    sts = _get(kubeapi, "/apis/apps/v1/namespaces/default/statefulsets/web")["status"]
    assert sts["readyReplicas"] == sts["replicas"] == 1 and sts["currentRevision"] == sts["updateRevision"]
    ds = _get(kubeapi, "/apis/apps/v1/namespaces/default/daemonsets/web")["status"]
    assert ds["numberReady"] == ds["desiredNumberScheduled"] == ds["updatedNumberScheduled"] == 1


def test_failed_statefulset_never_becomes_ready(kubeapi: KubeApi) -> None:
    kubeapi.server.create(_workload("StatefulSet", "failed"))
    sts = _get(kubeapi, "/apis/apps/v1/namespaces/default/statefulsets/web")["status"]
    assert "readyReplicas" not in sts and sts["observedGeneration"] == 1


def _job(mode: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"annotations": {HEALTH_ANNOTATION: mode}} if mode else {}
    template = {"metadata": meta, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "default"},
        "spec": {"template": template},
    }


@pytest.mark.parametrize(("mode", "condition"), [(None, "Complete"), ("failed", "Failed")])
def test_job_completes_or_fails(kubeapi: KubeApi, mode: str | None, condition: str) -> None:
    kubeapi.server.create(_job(mode))
    job = _get(kubeapi, "/apis/batch/v1/namespaces/default/jobs/j")
    assert _conditions(job)[condition][0] == "True"


def test_pvc_binds(kubeapi: KubeApi) -> None:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    kubeapi.server.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "d", "namespace": "default"},
            "spec": spec,
        }
    )
    status = _get(kubeapi, "/api/v1/namespaces/default/persistentvolumeclaims/d")["status"]
    assert status == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}


def test_set_status_sticks_until_the_spec_changes(kubeapi: KubeApi) -> None:
    kubeapi.server.create(deployment("web"))
    chosen = {"observedGeneration": 1, "replicas": 1, "unavailableReplicas": 1}
    kubeapi.server.set_status(("apps", "Deployment", "default", "web"), chosen)
    assert _get(kubeapi, DEPLOYMENT)["status"] == chosen
    assert _get(kubeapi, DEPLOYMENT)["status"] == chosen
    raw(kubeapi, "PATCH", DEPLOYMENT, {"spec": {"replicas": 2}}, "application/merge-patch+json")
    assert _get(kubeapi, DEPLOYMENT)["status"]["availableReplicas"] == 2


def test_set_status_accepts_objectid_like_refs(kubeapi: KubeApi) -> None:
    from fluxform.objects import ObjectId

    kubeapi.server.create(deployment("web"))
    kubeapi.server.set_status(ObjectId(namespace="default", name="web", group="apps", kind="Deployment"), {"x": 1})
    stored = kubeapi.server.get(("apps", "Deployment", "default", "web"))
    assert stored is not None and stored["status"] == {"x": 1}
