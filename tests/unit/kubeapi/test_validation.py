"""422 Invalid answers, including the immutable fields that force a replace."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.kubeapi import KubeApi
from tests.support.kubeclient import configmap, deployment, raw

APPLY = "application/apply-patch+yaml"


def _apply(api: KubeApi, obj: dict[str, Any], manager: str = "flux") -> tuple[int, Any]:
    group_version = obj["apiVersion"]
    prefix = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
    plural = obj["kind"].lower() + "s"
    path = f"{prefix}/namespaces/default/{plural}/{obj['metadata']['name']}?fieldManager={manager}&force=true"
    return raw(api, "PATCH", path, obj, APPLY)


def _workload(kind: str) -> dict[str, Any]:
    obj = deployment("web")
    obj["kind"] = kind
    if kind == "StatefulSet":
        obj["spec"]["serviceName"] = "web"
    return obj


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


def _job() -> dict[str, Any]:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"template": template},
    }


def _pvc() -> dict[str, Any]:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }


def _immutable_secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web", "namespace": "default"},
        "immutable": True,
        "data": {"k": "MQ=="},
    }


def _binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "web", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"},
        "subjects": [],
    }


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    target = changed
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return changed


NEW_SELECTOR = {"matchLabels": {"app": "web2"}}
NEW_TEMPLATE_LABELS = {"app": "web2"}


def _reselect(obj: dict[str, Any]) -> dict[str, Any]:
    return _set(_set(obj, "spec.selector", NEW_SELECTOR), "spec.template.metadata.labels", NEW_TEMPLATE_LABELS)


CASES = [
    pytest.param(
        _workload("Deployment"),
        _reselect,
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        "field is immutable",
        id="deployment-selector",
    ),
    pytest.param(_workload("DaemonSet"), _reselect, "spec.selector: Invalid value", id="daemonset-selector"),
    pytest.param(
        _workload("StatefulSet"),
        _reselect,
        'StatefulSet.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other '
        "than 'replicas'",
        id="statefulset-selector",
    ),
    pytest.param(
        _service(),
        lambda o: _set(o, "spec.clusterIP", "10.96.200.200"),
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.200.200"}: '
        "may not change once set",
        id="service-clusterip",
    ),
    pytest.param(
        _job(),
        lambda o: _set(o, "spec.template.spec.containers", [{"name": "c", "image": "alpine"}]),
        'Job.batch "web" is invalid: spec.template: Invalid value: ',
        id="job-template",
    ),
    pytest.param(
        _pvc(),
        lambda o: _set(o, "spec.accessModes", ["ReadWriteMany"]),
        'PersistentVolumeClaim "web" is invalid: spec: Forbidden: spec is immutable after creation',
        id="pvc-spec",
    ),
    pytest.param(
        _immutable_secret(),
        lambda o: _set(o, "data", {"k": "Mg=="}),
        'Secret "web" is invalid: data: Forbidden: field is immutable when `immutable` is set',
        id="immutable-secret",
    ),
    pytest.param(
        _binding(),
        lambda o: _set(o, "roleRef.name", "b"),
        "roleRef: Invalid value: rbac.RoleRef{",
        id="rolebinding-roleref",
    ),
]


@pytest.mark.parametrize(("original", "change", "message"), CASES)
def test_immutable_fields_are_422(kubeapi: KubeApi, original: dict[str, Any], change: Any, message: str) -> None:
    status, _ = _apply(kubeapi, original)
    assert status == 201
    status, body = _apply(kubeapi, change(original))
    assert (status, body["reason"], body["code"]) == (422, "Invalid", 422)
    assert message in body["message"]
    assert body["details"]["name"] == "web" and body["details"]["causes"]


def test_pvc_storage_request_may_grow(kubeapi: KubeApi) -> None:
    assert _apply(kubeapi, _pvc())[0] == 201
    status, body = _apply(kubeapi, _set(_pvc(), "spec.resources.requests", {"storage": "2Gi"}))
    assert status == 200 and body["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_service_apply_without_cluster_ip_keeps_the_allocated_one(kubeapi: KubeApi) -> None:
    _, first = _apply(kubeapi, _service())
    status, again = _apply(kubeapi, _set(_service(), "spec.ports", [{"port": 81}]))
    assert status == 200 and again["spec"]["clusterIP"] == first["spec"]["clusterIP"]


def test_invalid_details_shape(kubeapi: KubeApi) -> None:
    obj = configmap("Bad_Name")
    status, body = raw(kubeapi, "POST", "/api/v1/namespaces/default/configmaps", obj)
    assert status == 422
    assert body["details"]["kind"] == "ConfigMap" and body["details"]["name"] == "Bad_Name"
    cause = body["details"]["causes"][0]
    assert cause["reason"] == "FieldValueInvalid" and cause["field"] == "metadata.name"
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ')


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (
            {**_job(), "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}},
            "spec.template.spec.restartPolicy",
        ),
        (_set(deployment("web"), "spec.template.metadata.labels", {"app": "other"}), "spec.template.metadata.labels"),
        (_set(deployment("web"), "spec.template.spec.containers", []), "spec.template.spec.containers"),
    ],
    ids=["job-restart-policy", "selector-mismatch", "no-containers"],
)
def test_create_validation(kubeapi: KubeApi, obj: dict[str, Any], field: str) -> None:
    status, body = _apply(kubeapi, obj)
    assert status == 422
    assert [c["field"] for c in body["details"]["causes"]] == [field]
