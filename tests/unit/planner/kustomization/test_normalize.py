"""Object normalisation before apply (flux-semantics 4.1; fluxcd/pkg ssa/normalize)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from fluxform.planner.kustomization.normalize import normalize_manifest


def pod_spec() -> dict[str, Any]:
    ports = [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]
    return {
        "containers": [{"name": "app", "image": "x", "ports": ports}],
        "initContainers": [{"name": "init", "image": "x", "ports": [{"containerPort": 9}]}],
    }


def workload(api_version: str, kind: str) -> dict[str, Any]:
    template = {"spec": pod_spec()}
    spec: dict[str, Any] = {
        "Pod": pod_spec(),
        "CronJob": {"jobTemplate": {"spec": {"template": template}}},
    }.get(kind, {"template": template})
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}, "spec": spec}


def _pod(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "Pod":
        return dict(spec)
    if manifest["kind"] == "CronJob":
        return dict(spec["jobTemplate"]["spec"]["template"]["spec"])
    return dict(spec["template"]["spec"])


WORKLOADS = [
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
]


@pytest.mark.parametrize(("api_version", "kind"), WORKLOADS, ids=[k for _, k in WORKLOADS])
def test_container_ports_get_tcp_default(api_version: str, kind: str) -> None:
    """4.1: containers[].ports[] without protocol get `protocol: TCP`; an explicit one stays."""
    pod = _pod(normalize_manifest(workload(api_version, kind)))
    assert pod["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 53, "protocol": "UDP"},
    ]


@pytest.mark.parametrize(("api_version", "kind"), WORKLOADS, ids=[k for _, k in WORKLOADS])
def test_init_container_ports_are_not_defaulted(api_version: str, kind: str) -> None:
    """4.1: ssa normalize only walks `containers`, not `initContainers`."""
    pod = _pod(normalize_manifest(workload(api_version, kind)))
    assert pod["initContainers"][0]["ports"] == [{"containerPort": 9}]


def test_unknown_kinds_keep_their_ports() -> None:
    """4.1: only the core kinds ssa converts to typed objects are defaulted."""
    crd_like = workload("example.com/v1", "Deployment")
    assert normalize_manifest(crd_like)["spec"]["template"]["spec"]["containers"][0]["ports"][0] == {
        "containerPort": 80
    }


def test_service_ports_get_tcp_default() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
    }
    expected = [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]
    assert normalize_manifest(svc)["spec"]["ports"] == expected


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secret_string_data_folds_into_data() -> None:
    """4.1: stringData values are base64-encoded into data (winning over a data key of the
    same name) and stringData is removed."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"kept": _b64("old"), "both": _b64("from data")},
        "stringData": {"both": "from stringData", "new": "héllo"},
    }
    out = normalize_manifest(secret)
    assert "stringData" not in out
    assert out["data"] == {"kept": _b64("old"), "both": _b64("from stringData"), "new": _b64("héllo")}


def test_secret_string_data_without_data() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}}
    assert normalize_manifest(secret) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": _b64("b")},
    }


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("example.com/v1", "Widget"), ("v1", "Secret")],
)
def test_status_is_dropped(api_version: str, kind: str) -> None:
    """4.1: `status` is removed from every object except CRDs."""
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "status": {"ready": True}}
    assert "status" not in normalize_manifest(obj)


def test_crd_status_is_kept() -> None:
    """4.1: CRDs keep status so kstatus can read it."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "status": {"acceptedNames": {"kind": "Widget"}},
    }
    assert normalize_manifest(crd)["status"] == {"acceptedNames": {"kind": "Widget"}}


@pytest.mark.parametrize(
    "manifest",
    [
        workload("apps/v1", "Deployment") | {"status": {"replicas": 1}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}, "data": {}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 1}]}},
    ],
    ids=["Deployment", "Secret", "Service"],
)
def test_input_is_not_mutated(manifest: dict[str, Any]) -> None:
    """Desired manifests are shared (frozen wrappers): normalisation returns a new object."""
    original = copy.deepcopy(manifest)
    normalize_manifest(manifest)
    assert manifest == original


def test_normalize_is_idempotent() -> None:
    once = normalize_manifest(workload("apps/v1", "Deployment"))
    assert normalize_manifest(once) == once
