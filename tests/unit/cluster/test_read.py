"""Reading live objects: one LIST per type (in its namespace when it has one), never a GET per object."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.read import ALL_NAMES, read_live
from fluxform.objects import ObjectId
from tests.e2e.live_cluster import ensure_namespace
from tests.kubeapi import KubeApi

CONFIGMAPS = KindMapping("", "v1", "ConfigMap", "configmaps", True)
SECRETS = KindMapping("", "v1", "Secret", "secrets", True)
NAMESPACES = KindMapping("", "v1", "Namespace", "namespaces", False)


@pytest.fixture
def cluster(kubeapi: KubeApi) -> Iterator[ClusterClient]:
    for namespace in ("a", "b", "c"):
        ensure_namespace(kubeapi, namespace)
        for index in range(3):
            _configmap(kubeapi, namespace, f"cm{index}")
        kubeapi.server.create(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": namespace}, "data": {}}
        )
    kubeapi.server.clear_requests()
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig, list_page_size=4)) as client:
        yield client


def _configmap(api: KubeApi, namespace: str, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}
    api.server.create({**body, "data": {"k": "v"}})


def _lists(api: KubeApi) -> list[tuple[str, str]]:
    return [(r.path, r.query.get("continue", "")[:1]) for r in api.server.requests if r.verb == "list"]


def test_spread_type_is_one_cluster_wide_list_keeping_only_wanted(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    snapshot = read_live(cluster, {CONFIGMAPS: {"a": {"cm0", "absent"}, "b": {"cm2"}}})
    assert sorted(snapshot.objects) == [ObjectId("a", "cm0", "", "ConfigMap"), ObjectId("b", "cm2", "", "ConfigMap")]
    found = snapshot.get(ObjectId("a", "cm0", "", "ConfigMap"))
    assert found is not None and found["apiVersion"] == "v1" and found["kind"] == "ConfigMap"
    # 9 ConfigMaps in pages of 4: one LIST, three pages
    assert [path for path, _ in _lists(kubeapi)] == ["/api/v1/configmaps"] * 3
    assert snapshot.lists == 3 and kubeapi.server.request_count(verb="get") == 0


def test_single_namespace_is_listed_in_it(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    read_live(cluster, {CONFIGMAPS: {"c": {"cm1"}}, SECRETS: {"a": {"s"}}})
    assert sorted(path for path, _ in _lists(kubeapi)) == [
        "/api/v1/namespaces/a/secrets",
        "/api/v1/namespaces/c/configmaps",
    ]


def test_secrets_spread_are_one_list_without_helm_storage(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    release = "sh.helm.release.v1.web.v1"
    storage = {"name": release, "namespace": "a", "labels": {"owner": "helm"}}
    kubeapi.server.create({"apiVersion": "v1", "kind": "Secret", "metadata": storage, "type": "helm.sh/release.v1"})
    kubeapi.server.clear_requests()

    snapshot = read_live(cluster, {SECRETS: {"a": {"s", release}, "b": {"s"}}})

    assert sorted(snapshot.objects) == [ObjectId("a", "s", "", "Secret"), ObjectId("b", "s", "", "Secret")]
    lists = [r for r in kubeapi.server.requests if r.verb == "list"]
    assert [r.path for r in lists] == ["/api/v1/secrets"]  # 3 Secrets: one page
    assert lists[0].query["fieldSelector"] == "type!=helm.sh/release.v1"


def test_forbidden_cluster_wide_secret_list_falls_back_to_namespaces(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.forbid(verb="list", resource="secrets", namespace="")
    snapshot = read_live(cluster, {SECRETS: {"a": {"s"}, "b": {"s"}}})
    assert sorted(snapshot.objects) == [ObjectId("a", "s", "", "Secret"), ObjectId("b", "s", "", "Secret")]
    assert [path for path, _ in _lists(kubeapi)] == [
        "/api/v1/secrets",
        "/api/v1/namespaces/a/secrets",
        "/api/v1/namespaces/b/secrets",
    ]


def test_forbidden_cluster_wide_list_falls_back_to_namespaces(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.forbid(verb="list", resource="configmaps", namespace="")
    kubeapi.server.forbid(verb="list", resource="configmaps", namespace="b")
    snapshot = read_live(cluster, {CONFIGMAPS: {"a": {"cm0"}, "b": {"cm0"}}})
    assert list(snapshot.objects) == [ObjectId("a", "cm0", "", "ConfigMap")]
    assert list(snapshot.unreadable) == [("", "ConfigMap", "b")]
    assert snapshot.unreadable[("", "ConfigMap", "b")].status == 403
    assert not snapshot.readable("", "ConfigMap", "b") and snapshot.readable("", "ConfigMap", "a")


def test_all_names_and_the_keep_hook(cluster: ClusterClient) -> None:
    seen: list[ObjectId] = []

    def keep(oid: ObjectId, item: dict[str, Any]) -> dict[str, Any]:
        seen.append(oid)
        return {"kept": oid.name}

    snapshot = read_live(cluster, {NAMESPACES: {"": ALL_NAMES}}, keep=keep)
    assert {"a", "b", "c", "default", "kube-system"} <= {oid.name for oid in snapshot.objects}
    assert snapshot.get(ObjectId("", "a", "", "Namespace")) == {"kept": "a"}
    assert sorted(seen) == sorted(snapshot.objects)


def test_a_type_gone_since_discovery_reads_as_empty(cluster: ClusterClient) -> None:
    gone = KindMapping("example.com", "v1", "Widget", "widgets", True)
    snapshot = read_live(cluster, {gone: {"a": {"w"}}})
    assert snapshot.objects == {} and snapshot.unreadable == {}
