"""Discovery and REST mapping against the emulator, aggregated (what clusters >= 1.30 answer,
the emulator's default) and legacy (older clusters), plus the aggregated document format."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.discovery import Discovery, Resource, parse_aggregated
from fluxform.cluster.mapping import KindMapping, RestMapper, Unmapped
from tests.e2e.live_cluster import crd
from tests.kubeapi import KubeApi


def test_legacy_discovery_reads_only_the_groups_asked_for(kubeapi_factory: Callable[..., KubeApi]) -> None:
    kubeapi = kubeapi_factory(aggregated_discovery=False)
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig)) as cluster:
        discovery = Discovery(cluster)
        assert discovery.find("apps", "Deployment") == [
            Resource("apps", "v1", "Deployment", "deployments", True, discovery.find("apps", "Deployment")[0].verbs)
        ]
        assert discovery.find("apps", "Deployment")[0].verbs  # cached: no second fetch
        assert discovery.find("", "Namespace")[0].namespaced is False
    paths = [r.path for r in kubeapi.server.requests]
    assert paths == ["/api", "/apis", "/apis/apps/v1", "/api/v1"]


def test_aggregated_discovery_answers_everything_in_two_requests(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.apply(crd("example.com", "Widget", "widgets", "v1", scope="Cluster"), manager="test")
    discovery = Discovery(cluster)
    (deployments,) = discovery.find("apps", "Deployment")
    assert (deployments.version, deployments.plural, deployments.namespaced) == ("v1", "deployments", True)
    assert "patch" in deployments.verbs and discovery.find("", "Namespace")[0].namespaced is False
    assert [(r.plural, r.namespaced) for r in discovery.find("example.com", "Widget")] == [("widgets", False)]
    assert "apps/v1/Deployment" in discovery.api_versions() and "example.com/v1" in discovery.api_versions()
    assert [r.path for r in kubeapi.server.requests] == ["/api", "/apis"]
    assert {r.query.get("timeout") for r in kubeapi.server.requests} == {None}


def test_a_new_crd_is_seen_by_the_next_run(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    assert Discovery(cluster).find("example.com", "Widget") == []
    kubeapi.server.apply(crd("example.com", "Widget", "widgets", "v1", scope="Cluster"), manager="test")
    assert [(r.plural, r.namespaced) for r in Discovery(cluster).find("example.com", "Widget")] == [("widgets", False)]


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("apps/v1", "Deployment", KindMapping("apps", "v1", "Deployment", "deployments", True)),
        ("v1", "Namespace", KindMapping("", "v1", "Namespace", "namespaces", False)),
        ("example.com/v1", "Widget", KindMapping("example.com", "v1", "Widget", "widgets", True, served=False)),
        ("example.com/v2", "Widget", "the cluster does not serve Widget (example.com/v2) and no CustomResource"),
        ("apps/v1beta1", "Deployment", "the cluster serves Deployment only as apps/v1, not apps/v1beta1"),
        ("example.com/v1", "Gadget", "the cluster does not serve Gadget (example.com/v1)"),
    ],
)
def test_rest_mapping_knows_served_kinds_and_crds_in_the_plan(
    cluster: ClusterClient, api_version: str, kind: str, expected: KindMapping | str
) -> None:
    mapper = RestMapper(Discovery(cluster), planned_crds=[crd("example.com", "Widget", "widgets", "v1")])
    found = mapper.resolve(api_version, kind)
    if isinstance(expected, str):
        assert isinstance(found, Unmapped) and found.reason.startswith(expected)
    else:
        assert found == expected


@pytest.mark.parametrize(
    ("mapping", "namespace", "name", "path"),
    [
        (KindMapping("apps", "v1", "Deployment", "deployments", True), "web", "front",
         "/apis/apps/v1/namespaces/web/deployments/front"),
        (KindMapping("", "v1", "ConfigMap", "configmaps", True), "", "", "/api/v1/configmaps/"),
        (KindMapping("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False), "x", "system:a",
         "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aa"),
    ],
)  # fmt: skip
def test_paths(mapping: KindMapping, namespace: str, name: str, path: str) -> None:
    assert mapping.object_path(namespace, name) == path


def test_aggregated_discovery_document() -> None:
    core = {
        "kind": "APIGroupDiscoveryList",
        "items": [
            {
                "metadata": {"name": ""},
                "versions": [
                    {
                        "version": "v1",
                        "resources": [
                            {
                                "resource": "namespaces",
                                "responseKind": {"group": "", "version": "v1", "kind": "Namespace"},
                                "scope": "Cluster",
                                "verbs": ["get", "list"],
                                "subresources": [{"subresource": "status"}],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    groups = {
        "kind": "APIGroupDiscoveryList",
        "items": [
            {
                "metadata": {"name": "autoscaling"},
                "versions": [
                    {"version": "v2", "resources": [_hpa("v2")]},
                    {"version": "v1", "resources": [_hpa("v1")]},
                ],
            }
        ],
    }
    preferred, by_group = parse_aggregated([core, groups])
    assert preferred == {"": ["v1"], "autoscaling": ["v2", "v1"]}
    assert by_group[""] == [Resource("", "v1", "Namespace", "namespaces", False, ("get", "list"))]
    assert [r.version for r in by_group["autoscaling"]] == ["v2", "v1"]


def _hpa(version: str) -> dict[str, object]:
    return {
        "resource": "horizontalpodautoscalers",
        "responseKind": {"group": "autoscaling", "version": version, "kind": "HorizontalPodAutoscaler"},
        "scope": "Namespaced",
        "verbs": ["list"],
    }


def test_capabilities_for_helm(cluster: ClusterClient) -> None:
    discovery = Discovery(cluster)
    versions = discovery.api_versions()
    assert {"v1", "v1/ConfigMap", "apps/v1", "apps/v1/Deployment", "batch/v1/CronJob"} <= set(versions)
    assert list(versions) == sorted(versions)
    assert discovery.server_version().startswith("v1.")
