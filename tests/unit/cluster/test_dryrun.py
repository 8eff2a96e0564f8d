"""Server-side apply dry-runs against the emulator, and how their refusals read."""

from __future__ import annotations

from typing import Any

import pytest

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.dryrun import dry_run_apply
from fluxform.cluster.errors import ApiFailure
from fluxform.cluster.mapping import KindMapping
from tests.kubeapi import KubeApi

DEPLOYMENTS = KindMapping("apps", "v1", "Deployment", "deployments", True)
NAMESPACES = KindMapping("", "v1", "Namespace", "namespaces", False)


def _deployment(app: str = "web", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": app}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


def test_create_has_no_resource_version_and_stores_nothing(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    outcome = dry_run_apply(cluster, DEPLOYMENTS, _deployment(), field_manager="fluxform")
    assert outcome.failure is None and outcome.result is not None
    assert "resourceVersion" not in outcome.result["metadata"]
    assert outcome.result["spec"]["strategy"]["type"] == "RollingUpdate"  # server defaults included
    assert kubeapi.server.get(("apps", "Deployment", "default", "web")) is None
    (request,) = [r for r in kubeapi.server.requests if r.method == "PATCH"]
    assert request.content_type == "application/apply-patch+yaml"
    assert request.query == {"dryRun": "All", "fieldManager": "fluxform", "force": "true"}


def test_update_merges_with_live(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.apply(_deployment(), manager="fluxform")
    outcome = dry_run_apply(cluster, DEPLOYMENTS, _deployment(replicas=3), field_manager="fluxform")
    assert outcome.result is not None and outcome.result["metadata"]["resourceVersion"]
    assert outcome.result["spec"]["replicas"] == 3


def test_immutable_change_is_a_422_naming_the_field(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.apply(_deployment(), manager="fluxform")
    outcome = dry_run_apply(cluster, DEPLOYMENTS, _deployment(app="web2"), field_manager="fluxform")
    failure = outcome.failure
    assert failure is not None and failure.status == 422 and failure.is_immutable
    assert failure.immutable_fields() == ["spec.selector"]


def test_missing_namespace_and_forbidden(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    body = {**_deployment(), "metadata": {"name": "web", "namespace": "absent"}}
    missing = dry_run_apply(cluster, DEPLOYMENTS, body, field_manager="fluxform").failure
    assert missing is not None and missing.is_missing_namespace and not missing.is_immutable
    kubeapi.server.forbid(verb="patch", resource="deployments")
    denied = dry_run_apply(cluster, DEPLOYMENTS, _deployment(), field_manager="fluxform").failure
    assert denied is not None and denied.is_forbidden
    assert 'cannot patch resource "deployments"' in denied.message


def test_cluster_scoped_objects_are_sent_without_a_namespace(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "namespace": "ignored"}}
    outcome = dry_run_apply(cluster, NAMESPACES, body, field_manager="fluxform")
    assert outcome.failure is None
    assert [r.path for r in kubeapi.server.requests] == ["/api/v1/namespaces/team"]


@pytest.mark.parametrize(
    ("status", "body", "reason", "message"),
    [
        (403, b'{"kind":"Status","reason":"Forbidden","message":"no","code":403}', "Forbidden", "no"),
        (502, b"<html>bad gateway</html>", "", "<html>bad gateway</html>"),
        (500, b"", "", ""),
        (422, b'["not", "a", "status"]', "", '["not", "a", "status"]'),
    ],
)
def test_failures_parse_whatever_the_body(status: int, body: bytes, reason: str, message: str) -> None:
    failure = ApiFailure.from_response(status, body)
    assert (failure.status, failure.reason, failure.message) == (status, reason, message)
    assert (
        failure.error("list things", context="prod")
        .one_line()
        .startswith(f"list things failed (context prod): HTTP {status}")
    )
