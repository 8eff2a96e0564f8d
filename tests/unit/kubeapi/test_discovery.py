"""Discovery documents, and how applying or deleting a CRD changes them."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.kubeapi import KubeApi
from tests.kubeapi.discovery import KUBE_VERSION
from tests.support.kubeclient import dynamic_client, kubectl, kubectl_json, raw, request_ok

APPLY = "application/apply-patch+yaml"


def widget_crd(scope: str = "Namespaced", versions: tuple[str, ...] = ("v1",)) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": v == versions[0],
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
                for v in versions
            ],
        },
    }


def _apply_crd(api: KubeApi, crd: dict[str, Any]) -> dict[str, Any]:
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}?fieldManager=flux"
    return request_ok(api, "PATCH", path, crd, APPLY, expect=(200, 201))


def test_version(kubeapi: KubeApi) -> None:
    status, body = raw(kubeapi, "GET", "/version")
    assert status == 200 and body["gitVersion"] == KUBE_VERSION and body["major"] == "1"


def test_core_and_group_discovery(kubeapi: KubeApi) -> None:
    _, api = raw(kubeapi, "GET", "/api")
    assert api["versions"] == ["v1"]
    _, core = raw(kubeapi, "GET", "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["namespaces"]["namespaced"] is False and by_name["configmaps"]["namespaced"] is True
    assert by_name["services"]["shortNames"] == ["svc"] and "services/status" in by_name
    assert set(by_name["secrets"]["verbs"]) >= {"get", "list", "watch", "create", "update", "patch", "delete"}
    _, groups = raw(kubeapi, "GET", "/apis")
    names = [g["name"] for g in groups["groups"]]
    for group in (
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "policy",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
    ):
        assert group in names
    _, apps = raw(kubeapi, "GET", "/apis/apps/v1")
    assert {r["kind"] for r in apps["resources"]} == {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
    status, _ = raw(kubeapi, "GET", "/apis/example.com/v1")
    assert status == 404


def test_crd_apply_establishes_and_serves_the_new_type(kubeapi: KubeApi) -> None:
    crd = _apply_crd(kubeapi, widget_crd(versions=("v1", "v1beta1")))
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"Established": "True", "NamesAccepted": "True"}
    assert crd["status"]["acceptedNames"]["kind"] == "Widget" and crd["status"]["storedVersions"] == ["v1"]
    _, groups = raw(kubeapi, "GET", "/apis")
    group = next(g for g in groups["groups"] if g["name"] == "example.com")
    assert group["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    _, resources = raw(kubeapi, "GET", "/apis/example.com/v1beta1")
    assert {(r["name"], r["kind"], r["namespaced"]) for r in resources["resources"]} == {
        ("widgets", "Widget", True),
        ("widgets/status", "Widget", True),
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    status, created = raw(kubeapi, "POST", "/apis/example.com/v1/namespaces/default/widgets", widget)
    assert status == 201 and created["metadata"]["generation"] == 1
    status, as_beta = raw(kubeapi, "GET", "/apis/example.com/v1beta1/namespaces/default/widgets/w")
    assert (status, as_beta["apiVersion"], as_beta["spec"]) == (200, "example.com/v1beta1", {"size": 3})
    _, listed = raw(kubeapi, "GET", "/apis/example.com/v1/widgets")
    assert listed["kind"] == "WidgetList" and listed["items"][0]["kind"] == "Widget"


def test_cluster_scoped_crd(kubeapi: KubeApi) -> None:
    _apply_crd(kubeapi, widget_crd(scope="Cluster"))
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    status, created = raw(kubeapi, "POST", "/apis/example.com/v1/widgets", widget)
    assert status == 201 and "namespace" not in created["metadata"]


def test_crd_delete_removes_type_and_objects(kubeapi: KubeApi) -> None:
    _apply_crd(kubeapi, widget_crd())
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    raw(kubeapi, "POST", "/apis/example.com/v1/namespaces/default/widgets", widget)
    status, _ = raw(kubeapi, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert status == 200
    assert kubeapi.server.objects(kind="Widget") == []
    _, groups = raw(kubeapi, "GET", "/apis")
    assert "example.com" not in [g["name"] for g in groups["groups"]]


def test_crd_name_must_match_plural_and_group(kubeapi: KubeApi) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "gadgets.example.com"
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com?fieldManager=flux"
    status, body = raw(kubeapi, "PATCH", path, crd, APPLY)
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.name"


def test_dry_run_crd_adds_no_type(kubeapi: KubeApi) -> None:
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com?fieldManager=f&dryRun=All"
    status, _ = raw(kubeapi, "PATCH", path, widget_crd(), APPLY)
    assert status == 201
    assert raw(kubeapi, "GET", "/apis/example.com/v1")[0] == 404


def test_dynamic_client_sees_the_crd_after_invalidating_its_cache(kubeapi: KubeApi) -> None:
    dyn = dynamic_client(kubeapi)
    with pytest.raises(Exception, match="Widget"):
        dyn.resources.get(api_version="example.com/v1", kind="Widget")
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.server_side_apply(body=widget_crd(), field_manager="flux")
    dyn.resources.invalidate_cache()
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}}
    widgets.server_side_apply(body=body, namespace="default", field_manager="flux")
    assert widgets.get(name="w", namespace="default").spec.a == 1


def test_kubectl_applies_a_crd_then_its_resource(kubeapi: KubeApi) -> None:
    import json

    kubectl(kubeapi, "apply", "--server-side", "--validate=false", "-f", "-", stdin=json.dumps(widget_crd()))
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}}
    out = kubectl(kubeapi, "apply", "--server-side", "--validate=false", "-f", "-", stdin=json.dumps(widget))
    assert "widget.example.com/w serverside-applied" in out.stdout
    assert kubectl_json(kubeapi, "get", "wg", "w")["spec"] == {"a": 1}


def _aggregated(api: KubeApi, path: str, accept: str) -> tuple[str, Any]:
    request = urllib.request.Request(api.url + path, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], json.loads(response.read())


AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def test_aggregated_discovery_is_answered_to_clients_that_ask(kubeapi: KubeApi) -> None:
    _apply_crd(kubeapi, widget_crd(versions=("v2", "v1")))
    media, groups = _aggregated(kubeapi, "/apis", f"{AGGREGATED_V2},{AGGREGATED_V2BETA1},application/json")
    assert media == AGGREGATED_V2 and groups["apiVersion"] == "apidiscovery.k8s.io/v2"
    by_name = {item["metadata"]["name"]: item for item in groups["items"]}
    assert "" not in by_name and [v["version"] for v in by_name["example.com"]["versions"]] == ["v2", "v1"]
    (widgets,) = by_name["example.com"]["versions"][0]["resources"]
    assert widgets["responseKind"] == {"group": "example.com", "version": "v2", "kind": "Widget"}
    assert widgets["scope"] == "Namespaced" and widgets["shortNames"] == ["wg"]
    assert widgets["subresources"][0]["subresource"] == "status"

    media, core = _aggregated(kubeapi, "/api", AGGREGATED_V2BETA1)
    assert media == AGGREGATED_V2BETA1 and [item["metadata"]["name"] for item in core["items"]] == [""]
    namespaces = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "namespaces")
    assert namespaces["scope"] == "Cluster"

    media, legacy = _aggregated(kubeapi, "/apis", "application/json")
    assert media == "application/json" and legacy["kind"] == "APIGroupList"


def test_kubectl_reads_aggregated_discovery(kubeapi: KubeApi) -> None:
    _apply_crd(kubeapi, widget_crd())
    kubeapi.server.clear_requests()
    names = kubectl(kubeapi, "api-resources", "--api-group=example.com", "-o", "name").stdout.split()
    assert names == ["widgets.example.com"]
    assert [r.path for r in kubeapi.server.requests] == ["/api", "/apis"]  # no per-group reads
