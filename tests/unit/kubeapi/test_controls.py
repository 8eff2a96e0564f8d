"""Test levers: RBAC denials, injected faults, the request log, bearer tokens, reset."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kubeapi import KubeApi
from tests.support.kubeclient import (
    api_client,
    configmap,
    deployment,
    dynamic_client,
    error_status,
    kubectl,
    meta,
    raw,
    v1_configmap,
)


def test_forbidden_is_shaped_like_rbac(kubeapi: KubeApi) -> None:
    kubeapi.server.forbid(verb="patch", resource="deployments", namespace="default")
    kubeapi.server.create(deployment("web"))
    deployments = dynamic_client(kubeapi).resources.get(api_version="apps/v1", kind="Deployment")
    with pytest.raises(ApiException) as caught:
        deployments.server_side_apply(body=deployment("web"), namespace="default", field_manager="flux")
    body = error_status(caught.value)
    assert (body["code"], body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        'deployments.apps "web" is forbidden: User "test" cannot patch resource "deployments" '
        'in API group "apps" in the namespace "default"'
    )
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert deployments.get(name="web", namespace="default").metadata.name == "web", "other verbs still allowed"


def test_forbidden_list_at_cluster_scope_through_kubectl(kubeapi: KubeApi) -> None:
    kubeapi.server.forbid(verb="list", resource="namespaces")
    result = kubectl(kubeapi, "get", "namespaces", check=False)
    assert result.returncode == 1
    assert (
        'namespaces is forbidden: User "test" cannot list resource "namespaces" in API group "" at the cluster scope'
        in (result.stderr)
    )


def test_injected_error_for_a_number_of_times(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    fault = kubeapi.server.inject_fault(r"/configmaps$", status=503, times=1, method="POST")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", v1_configmap("a"))
    assert caught.value.status == 503 and error_status(caught.value)["reason"] == "ServiceUnavailable"
    assert fault.times == 0
    assert meta(core.create_namespaced_config_map("default", v1_configmap("a"))).name == "a"


def test_dropped_connection(kubeapi: KubeApi) -> None:
    kubeapi.server.inject_fault(r"^/version$", drop=True, times=1)
    address = urlsplit(kubeapi.url)
    conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    conn.request("GET", "/version")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    conn.close()
    assert raw(kubeapi, "GET", "/version")[0] == 200


def test_latency_fault_still_answers(kubeapi: KubeApi) -> None:
    kubeapi.server.inject_fault(r"^/version$", latency=0.05, times=1)
    assert raw(kubeapi, "GET", "/version")[0] == 200
    (record,) = [r for r in kubeapi.server.requests if r.path == "/version"]
    assert record.status == 200


def test_request_log_counts_lists_per_type(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    kubeapi.server.clear_requests()
    core.list_namespaced_config_map("default", label_selector="app=web")
    core.list_namespaced_secret("default")
    assert kubeapi.server.request_count(verb="list") == 2
    assert kubeapi.server.request_count(verb="list", path=r"/configmaps$") == 1
    (record,) = [r for r in kubeapi.server.requests if r.path.endswith("/configmaps")]
    assert (record.method, record.query, record.status) == ("GET", {"labelSelector": "app=web"}, 200)


def test_expired_token_is_401_for_both_clients(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    kubeapi.server.require_token()
    assert meta(core.read_namespace("default")).name == "default", "the kubeconfig token is valid"
    kubeapi.server.expire_token()
    with pytest.raises(ApiException) as caught:
        core.read_namespace("default")
    assert caught.value.status == 401 and error_status(caught.value)["reason"] == "Unauthorized"
    result = kubectl(kubeapi, "get", "ns", "default", check=False)
    assert result.returncode == 1 and "You must be logged in to the server" in result.stderr


def test_reset_returns_to_a_fresh_cluster(kubeapi: KubeApi) -> None:
    kubeapi.server.create(configmap("a"))
    kubeapi.server.forbid(verb="get")
    kubeapi.server.reset()
    assert [o["kind"] for o in kubeapi.server.objects()] == ["Namespace"] * 3
    assert raw(kubeapi, "GET", "/api/v1/namespaces/default")[0] == 200
    assert kubeapi.server.requests[-1].path == "/api/v1/namespaces/default"


def test_apply_control_plays_another_manager(kubeapi: KubeApi) -> None:
    kubeapi.server.apply(deployment("web", replicas=2), manager="kustomize-controller")
    deployments = dynamic_client(kubeapi).resources.get(api_version="apps/v1", kind="Deployment")
    with pytest.raises(ApiException) as caught:
        deployments.server_side_apply(body=deployment("web", replicas=5), namespace="default", field_manager="fluxform")
    assert 'conflict with "kustomize-controller"' in error_status(caught.value)["message"]


def test_factory_starts_independent_emulators(kubeapi_factory: Callable[..., KubeApi]) -> None:
    first, second = kubeapi_factory(), kubeapi_factory()
    first.server.create(configmap("only-here"))
    assert first.url != second.url and first.kubeconfig_path != second.kubeconfig_path
    assert second.server.objects(kind="ConfigMap") == []
