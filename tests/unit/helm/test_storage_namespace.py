"""A HelmRelease whose Helm storage is not its release namespace (helm-controller's default for
a HelmRelease with spec.targetNamespace): the release Secrets in the storage namespace, the
objects in the release namespace, through the storage proxy (helm/storage_proxy.py) and the
real Helm SDK; Helm's own client reading the storage namespace is the independent reader."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fluxform.cluster.client import connect
from fluxform.cluster.options import ClusterOptions
from fluxform.helm.release import ReleaseFailed, ReleaseRef
from fluxform.helm.storage_proxy import StorageProxy, _protobuf_secret_name
from tests.kubeapi import HEALTH_ANNOTATION, KubeApi
from tests.support.releases import RELEASE, ReleaseBench

HR_NAMESPACE, TARGET = "flux-system", "apps"
NAME = f"{TARGET}-{RELEASE}"  # helm-controller's release name with a targetNamespace


def _bench(kubeapi: KubeApi, tmp_path: Path) -> ReleaseBench:
    bench = ReleaseBench(kubeapi, tmp_path, namespace=HR_NAMESPACE)
    bench.create_namespace(TARGET)
    return bench


def _deployment(kubeapi: KubeApi) -> dict[str, Any] | None:
    return kubeapi.server.get(("apps", "Deployment", TARGET, f"{NAME}-web"))


def _secret_requests(kubeapi: KubeApi, namespace: str) -> list[str]:
    return [
        f"{r.method} {r.path} {r.query}"
        for r in kubeapi.server.requests
        if f"/namespaces/{namespace}/secrets" in r.path
    ]


def test_release_stored_in_the_helm_release_namespace_and_installed_into_the_target(
    kubeapi: KubeApi, tmp_path: Path
) -> None:
    bench = _bench(kubeapi, tmp_path)
    installed = bench.apply({"greeting": "hi"}, targetNamespace=TARGET)
    assert installed.release == ReleaseRef(NAME, TARGET, HR_NAMESPACE)
    assert (installed.action, installed.revision_after, installed.status) == ("install", 1, "deployed")
    assert bench.storage_secrets(HR_NAMESPACE) == [f"sh.helm.release.v1.{NAME}.v1"]
    assert bench.storage_secrets(TARGET) == [] and _secret_requests(kubeapi, TARGET) == []
    deployment = _deployment(kubeapi)
    assert deployment is not None and kubeapi.server.get(("example.com", "Widget", TARGET, f"{NAME}-widget"))
    assert kubeapi.server.get(("apps", "Deployment", HR_NAMESPACE, f"{NAME}-web")) is None
    assert {m["manager"] for m in deployment["metadata"]["managedFields"] if m["operation"] == "Apply"} == {
        "helm-controller"
    }

    with bench.helm(HR_NAMESPACE) as helm:  # `helm status -n flux-system`: a normal release, namespace apps
        status = helm.status(NAME)
        assert (status["namespace"], status["revision"], status["status"]) == (TARGET, 1, "deployed")
        assert helm.get_values(NAME) == {"greeting": "hi"}
        assert "helm.toolkit.fluxcd.io/namespace: flux-system" in status["manifest"]  # the HelmRelease's

    assert bench.apply({"greeting": "hi"}, targetNamespace=TARGET).action == "none"  # in sync, read from storage
    upgraded = bench.apply({"greeting": "hi", "replicas": 2}, targetNamespace=TARGET)
    assert (upgraded.action, upgraded.revision_before, upgraded.revision_after) == ("upgrade", 1, 2)
    assert (_deployment(kubeapi) or {})["spec"]["replicas"] == 2

    rolled = bench.rollback(1, targetNamespace=TARGET)
    assert (rolled.action, rolled.revision_after, rolled.status) == ("rollback", 3, "deployed")
    assert (_deployment(kubeapi) or {})["spec"]["replicas"] == 1
    assert bench.history(NAME, HR_NAMESPACE) == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    assert bench.storage_secrets(TARGET) == [] and _secret_requests(kubeapi, TARGET) == []

    gone = bench.uninstall(targetNamespace=TARGET)
    assert (gone.action, gone.revision_after) == ("uninstall", None)
    assert bench.storage_secrets(HR_NAMESPACE) == [] and _deployment(kubeapi) is None
    assert _secret_requests(kubeapi, TARGET) == []  # Helm never asked the release namespace for its storage


def test_remediation_and_max_history_act_on_the_storage_namespace(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = _bench(kubeapi, tmp_path)
    spec: dict[str, Any] = {"targetNamespace": TARGET, "maxHistory": 2, "upgrade": {"remediation": {"retries": 1}}}
    bench.apply(**spec)
    bench.apply({"replicas": 2}, **spec)
    with pytest.raises(ReleaseFailed) as caught:
        bench.apply({"replicas": 3, "podAnnotations": {HEALTH_ANNOTATION: "failed"}}, **spec)
    assert [(s.action, s.status) for s in caught.value.outcome.steps] == [
        ("upgrade", "failed"), ("rollback", "deployed"), ("upgrade", "failed"), ("rollback", "deployed"),
    ]  # fmt: skip
    # pruned to maxHistory where it is stored (Helm prunes failed revisions first); the second rollback went to
    # revision 4, the first rollback's, since revision 2 was pruned meanwhile
    assert bench.history(NAME, HR_NAMESPACE) == [(4, "superseded"), (6, "deployed")]
    assert bench.storage_secrets(HR_NAMESPACE) == [f"sh.helm.release.v1.{NAME}.v4", f"sh.helm.release.v1.{NAME}.v6"]
    assert (_deployment(kubeapi) or {})["spec"]["replicas"] == 2 and bench.storage_secrets(TARGET) == []


def test_an_explicit_storage_namespace(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)  # HelmRelease team/shop, no targetNamespace
    bench.create_namespace("helm-storage")
    assert bench.apply(storageNamespace="helm-storage").release == ReleaseRef(RELEASE, "team", "helm-storage")
    assert bench.storage_secrets("helm-storage") == [f"sh.helm.release.v1.{RELEASE}.v1"]
    assert bench.storage_secrets("team") == [] and bench.history(RELEASE, "helm-storage") == [(1, "deployed")]


def test_the_proxy_answers_its_token_only_and_leaves_other_secrets_alone(kubeapi: KubeApi) -> None:
    kubeapi.server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TARGET}})
    kubeapi.server.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": TARGET}})
    with (
        connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig)) as cluster,
        StorageProxy(cluster, release=NAME, namespace=TARGET, storage_namespace=HR_NAMESPACE) as proxy,
    ):
        path = f"/api/v1/namespaces/{TARGET}/secrets/db"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(proxy.url.rsplit("/", 1)[0] + "/not-the-token" + path, timeout=10)
        assert refused.value.code == 401
        with urllib.request.urlopen(proxy.url + path, timeout=10) as answer:
            assert b'"name":"db"' in answer.read().replace(b" ", b"")
        routes = {
            f"/api/v1/namespaces/{TARGET}/secrets/sh.helm.release.v1.{NAME}.v3": HR_NAMESPACE,
            f"/api/v1/namespaces/{TARGET}/secrets/sh.helm.release.v1.{NAME}-other.v3": TARGET,
            f"/api/v1/namespaces/{TARGET}/secrets/db": TARGET,
            f"/api/v1/namespaces/{TARGET}/configmaps/sh.helm.release.v1.{NAME}.v3": TARGET,
        }
        for path, namespace in routes.items():
            assert proxy.route("GET", path, [], b"", "") == path.replace(f"/{TARGET}/", f"/{namespace}/"), path
        listing = f"/api/v1/namespaces/{TARGET}/secrets"
        assert proxy.route("GET", listing, [("labelSelector", f"name={NAME},owner=helm")], b"", "").startswith(
            f"/api/v1/namespaces/{HR_NAMESPACE}/"
        )
        assert proxy.route("GET", listing, [("labelSelector", "owner=helm")], b"", "") == listing
        assert proxy.route("GET", listing, [], b"", "") == listing


def test_the_name_of_a_protobuf_secret_is_read_as_helm_sends_it() -> None:
    # k8s\0 + runtime.Unknown{1: TypeMeta{1:"v1", 2:"Secret"}, 2: Secret{1: ObjectMeta{1: name, 11: labels}}}
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    meta = field(1, b"sh.helm.release.v1.apps-shop.v2") + field(11, field(1, b"owner") + field(2, b"helm"))
    unknown = field(1, field(1, b"v1") + field(2, b"Secret")) + field(2, field(1, meta) + field(3, b"helm.sh/x"))
    assert _protobuf_secret_name(b"k8s\x00" + unknown) == "sh.helm.release.v1.apps-shop.v2"
    assert _protobuf_secret_name(b"{}") == "" and _protobuf_secret_name(b"k8s\x00\xff") == ""


def test_the_proxy_stops_at_once_while_a_watch_streams(kubeapi_factory: Callable[..., KubeApi]) -> None:
    """A watch the worker left open (Helm's wait hangs up when done) must not hold the proxy
    until the cluster ends it: the apply would wait the watch's timeout for every action."""
    kubeapi = kubeapi_factory(watch_timeout=120)
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig)) as cluster:
        proxy = StorageProxy(cluster, release=NAME, namespace=TARGET, storage_namespace=HR_NAMESPACE)
        with proxy:
            watch = urllib.request.urlopen(f"{proxy.url}/api/v1/namespaces/default/configmaps?watch=true", timeout=30)
            started = time.monotonic()
        assert time.monotonic() - started < 5
        watch.close()
