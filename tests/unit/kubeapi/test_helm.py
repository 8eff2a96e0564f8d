"""Helm's Go SDK (`helm_python`) as a client of the emulator: a chart with a CRD in `crds/`,
a custom resource of it and a Deployment is installed, upgraded, fails an upgrade, is rolled
back and uninstalled, with both of Helm's waiters. What Helm sends is what a real cluster gets:
legacy discovery re-read after the CRD, protobuf release Secrets and DeleteOptions,
server-side apply, watch-list with BOOKMARKs (watcher) or ReplicaSet polling (legacy)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest

from fluxform.helm.sdk import use_private_helm_home
from tests.kubeapi import HEALTH_ANNOTATION, KubeApi
from tests.support.kubeclient import kubectl, kubectl_json

RELEASE = "shop"
NAMESPACE = "team"

_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\nimage: nginx:1.25\npodAnnotations: {}\n",
    "crds/widgets.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
""",
    "templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
      annotations: {{ toJson .Values.podAnnotations }}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
""",
    "templates/widget.yaml": """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}-widget
spec:
  size: {{ .Values.replicas }}
""",
}


@pytest.fixture
def chart(tmp_path: Path) -> Iterator[helm_python.Chart]:
    for name, text in _CHART.items():
        (tmp_path / "shop" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shop" / name).write_text(text)
    use_private_helm_home()
    with helm_python.Chart.load(tmp_path / "shop") as loaded:
        yield loaded


def _helm(kubeapi: KubeApi) -> helm_python.Config:
    kubeapi.server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    return helm_python.Config(kubeconfig_path=kubeapi.kubeconfig, kube_context="kubeapi", namespace=NAMESPACE)


@pytest.fixture
def helm(kubeapi: KubeApi) -> Iterator[helm_python.Config]:
    with _helm(kubeapi) as config:
        yield config


def _release_secrets(kubeapi: KubeApi) -> dict[str, dict[str, Any]]:
    listed = kubectl_json(kubeapi, "-n", NAMESPACE, "get", "secrets", "-l", f"owner=helm,name={RELEASE}")
    return {item["metadata"]["name"]: item for item in listed["items"]}


def _history(helm: helm_python.Config) -> list[tuple[int, str]]:
    return [(entry["revision"], entry["status"]) for entry in helm.history(RELEASE)]


@pytest.mark.parametrize(
    ("wait", "aggregated"),
    [("watcher", True), ("legacy", False)],
    ids=["watcher-aggregated-discovery", "legacy-legacy-discovery"],
)
def test_install_upgrade_failed_upgrade_rollback_uninstall(
    kubeapi_factory: Callable[..., KubeApi], chart: helm_python.Chart, wait: str, aggregated: bool
) -> None:
    kubeapi = kubeapi_factory(aggregated_discovery=aggregated)
    with _helm(kubeapi) as helm:
        _release_lifecycle(kubeapi, helm, chart, wait)
    if not aggregated:  # an old cluster: Helm had to read each group version
        assert any(r.path == "/apis/apps/v1" for r in kubeapi.server.requests)


def _release_lifecycle(kubeapi: KubeApi, helm: helm_python.Config, chart: helm_python.Chart, wait: str) -> None:
    installed = helm.install(chart, RELEASE, {}, namespace=NAMESPACE, timeout=30, wait=wait)
    assert (installed["revision"], installed["status"]) == (1, "deployed")
    crd = kubectl_json(kubeapi, "get", "crd", "widgets.example.com")
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    assert kubectl_json(kubeapi, "-n", NAMESPACE, "get", "widget", f"{RELEASE}-widget")["spec"] == {"size": 1}
    secret = _release_secrets(kubeapi)[f"sh.helm.release.v1.{RELEASE}.v1"]
    assert secret["type"] == "helm.sh/release.v1" and secret["metadata"]["labels"]["status"] == "deployed"
    assert base64.b64decode(secret["data"]["release"])  # Helm's gzipped release record, stored as sent

    upgraded = helm.upgrade(chart, RELEASE, {"replicas": 2}, namespace=NAMESPACE, timeout=30, wait=wait)
    assert (upgraded["revision"], upgraded["status"]) == (2, "deployed")
    assert kubectl_json(kubeapi, "-n", NAMESPACE, "get", "deployment", f"{RELEASE}-web")["spec"]["replicas"] == 2

    broken = {"replicas": 2, "podAnnotations": {HEALTH_ANNOTATION: "failed"}}
    with pytest.raises(helm_python.HelmError):  # watcher: Failed at once; legacy: waits out its timeout
        helm.upgrade(chart, RELEASE, broken, namespace=NAMESPACE, timeout=2, wait=wait)
    assert _history(helm)[-1] == (3, "failed")

    helm.rollback(RELEASE, version=2, timeout=30, wait=wait)
    assert _history(helm) == [(1, "superseded"), (2, "superseded"), (3, "failed"), (4, "deployed")]
    web = kubectl_json(kubeapi, "-n", NAMESPACE, "get", "deployment", f"{RELEASE}-web")
    assert HEALTH_ANNOTATION not in json.dumps(web["spec"]["template"]) and web["spec"]["replicas"] == 2
    assert web["status"]["availableReplicas"] == 2
    assert [(r["name"], r["revision"], r["status"]) for r in helm.list(all_states=True)] == [(RELEASE, 4, "deployed")]

    helm.uninstall(RELEASE, wait=wait, timeout=30)
    assert _release_secrets(kubeapi) == {}
    assert kubeapi.server.objects(kind="Deployment") == [] and kubeapi.server.objects(kind="Widget") == []
    deletes = [r for r in kubeapi.server.requests if r.verb == "delete" and "/secrets/" in r.path]
    assert {(r.content_type, r.status) for r in deletes} == {("application/vnd.kubernetes.protobuf", 200)}
    assert "widgets.example.com" in kubectl(kubeapi, "get", "crd").stdout  # Helm never deletes crds/ CRDs


def test_release_storage_and_chart_objects_go_through_the_formats_real_clusters_get(
    kubeapi: KubeApi, helm: helm_python.Config, chart: helm_python.Chart
) -> None:
    helm.install(chart, RELEASE, {}, namespace=NAMESPACE, timeout=30, wait="watcher")
    requests = kubeapi.server.requests
    secrets = [r for r in requests if r.verb in ("create", "update") and "/secrets" in r.path]
    assert [r.verb for r in secrets] == ["create", "update"]  # pending-install, then deployed
    assert {r.content_type for r in secrets} == {"application/vnd.kubernetes.protobuf"}
    applies = [r for r in requests if r.verb == "patch"]
    assert sorted(r.path.rsplit("/", 2)[-2] for r in applies) == ["customresourcedefinitions", "deployments", "widgets"]
    assert {r.content_type for r in applies} == {"application/apply-patch+yaml"}
    assert {r.query["force"] for r in applies} == {"false"} and all(r.query["fieldManager"] for r in applies)
    watches = [r for r in requests if r.verb == "watch"]
    assert watches and all(r.query.get("sendInitialEvents") == "true" for r in watches)
    crd_apply = next(i for i, r in enumerate(requests) if "customresourcedefinitions" in r.path)
    assert any(r.path == "/apis" for r in requests[crd_apply:])  # discovery re-read once the chart's CRD exists
