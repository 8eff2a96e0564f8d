"""Server-side defaults, seen the way fluxform sees them: in dry-run answers."""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

import pytest

from tests.kubeapi import KubeApi
from tests.support.kubeclient import deployment, raw, request_ok


def _dry_run_create(api: KubeApi, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    return request_ok(api, "POST", f"{path}?dryRun=All", obj, expect=(201,))


def _service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}], **spec},
    }


def test_service_defaults(kubeapi: KubeApi) -> None:
    spec = _dry_run_create(kubeapi, "/api/v1/namespaces/default/services", _service())["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert (spec["type"], spec["sessionAffinity"], spec["ipFamilyPolicy"]) == ("ClusterIP", "None", "SingleStack")


def test_dry_run_does_not_consume_a_cluster_ip(kubeapi: KubeApi) -> None:
    path = "/api/v1/namespaces/default/services"
    first = _dry_run_create(kubeapi, path, _service())["spec"]["clusterIP"]
    second = _dry_run_create(kubeapi, path, _service())["spec"]["clusterIP"]
    _, created = raw(kubeapi, "POST", path, _service())
    assert first == second == created["spec"]["clusterIP"]


def test_node_port_and_headless_services(kubeapi: KubeApi) -> None:
    path = "/api/v1/namespaces/default/services"
    node_port = _dry_run_create(kubeapi, path, _service(type="NodePort"))["spec"]
    assert 30000 <= node_port["ports"][0]["nodePort"] <= 32767
    assert node_port["externalTrafficPolicy"] == "Cluster"
    headless = _dry_run_create(kubeapi, path, _service(clusterIP="None"))["spec"]
    assert headless["clusterIPs"] == ["None"]


def test_deployment_defaults(kubeapi: KubeApi) -> None:
    obj = deployment("web", image="nginx")
    body = _dry_run_create(kubeapi, "/apis/apps/v1/namespaces/default/deployments", obj)
    spec = body["spec"]
    assert (spec["replicas"], spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (1, 10, 600)
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Always" and pod["dnsPolicy"] == "ClusterFirst"
    assert pod["schedulerName"] == "default-scheduler" and pod["securityContext"] == {}
    assert pod["terminationGracePeriodSeconds"] == 30
    (container,) = pod["containers"]
    assert container["imagePullPolicy"] == "Always"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert body["status"] == {}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry:5000/nginx", "Always"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy(kubeapi: KubeApi, image: str, policy: str) -> None:
    body = _dry_run_create(kubeapi, "/apis/apps/v1/namespaces/default/deployments", deployment("web", image=image))
    assert body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_secret_defaults_fold_string_data(kubeapi: KubeApi) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": "YQ=="},
        "stringData": {"b": "bee"},
    }
    body = _dry_run_create(kubeapi, "/api/v1/namespaces/default/secrets", obj)
    assert body["type"] == "Opaque" and "stringData" not in body
    assert body["data"] == {"a": "YQ==", "b": base64.b64encode(b"bee").decode()}


def test_namespace_defaults(kubeapi: KubeApi) -> None:
    body = _dry_run_create(
        kubeapi, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    )
    assert body["spec"] == {"finalizers": ["kubernetes"]}
    assert body["status"] == {"phase": "Active"}
    assert body["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}


def test_initial_namespaces(kubeapi: KubeApi) -> None:
    names = [o["metadata"]["name"] for o in kubeapi.server.objects(kind="Namespace")]
    assert names == ["default", "kube-public", "kube-system"]
