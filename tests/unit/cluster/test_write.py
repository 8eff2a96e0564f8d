"""The write verbs against the emulator over real HTTP, kubectl reading back what they wrote,
and the retry rules under injected faults: repeats never double-create, a lost answer to a
delete is still a delete, refusals are never repeated."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.errors import FieldConflict, Refusal, Unreachable
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.retry import RetryPolicy
from fluxform.cluster.write import Propagation, apply, create, delete, merge_patch, replace
from fluxform.errors import ClusterError
from tests.kubeapi import KubeApi
from tests.support.kubeclient import configmap, deployment, kubectl, kubectl_json

DEPLOYMENTS = KindMapping("apps", "v1", "Deployment", "deployments", True)
CONFIGMAPS = KindMapping("", "v1", "ConfigMap", "configmaps", True)
WEB = ObjectRef(DEPLOYMENTS, "default", "web")
FAST_RETRIES = RetryPolicy(attempts=4, backoff=0.01)


@pytest.fixture
def cluster(kubeapi: KubeApi) -> Iterator[ClusterClient]:
    options = ClusterOptions(kubeconfig=kubeapi.kubeconfig, request_timeout=2.0, retry=FAST_RETRIES)
    with connect(options) as client:
        yield client


def _managers(kubeapi: KubeApi, *ref: str) -> list[str]:
    live = kubectl_json(kubeapi, "get", *ref, "--show-managed-fields")
    return [entry["manager"] for entry in live["metadata"]["managedFields"]]


# -- server-side apply ------------------------------------------------------------------


def test_apply_creates_then_is_a_no_op(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    first = apply(cluster, DEPLOYMENTS, deployment("web", replicas=2), field_manager="fluxform")
    assert first.ok and first.created and first.obj is not None
    again = apply(cluster, DEPLOYMENTS, deployment("web", replicas=2), field_manager="fluxform")
    assert again.ok and not again.created
    assert again.unwrap()["metadata"]["resourceVersion"] == first.unwrap()["metadata"]["resourceVersion"]
    assert kubectl_json(kubeapi, "get", "deployment", "web")["spec"]["replicas"] == 2
    assert _managers(kubeapi, "deployment", "web")[0] == "fluxform"
    patch = next(r for r in kubeapi.server.requests if r.method == "PATCH")
    assert patch.content_type == "application/apply-patch+yaml"
    assert patch.query == {"fieldManager": "fluxform", "force": "false"}


def test_apply_conflict_names_fields_and_owner_and_force_takes_them(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    apply(cluster, DEPLOYMENTS, deployment("web", replicas=2), field_manager="fluxform").unwrap()
    kubeapi.server.apply(deployment("web", replicas=5), manager="autoscaler", force=True)
    refused = apply(cluster, DEPLOYMENTS, deployment("web", replicas=2), field_manager="fluxform")
    assert refused.failure is not None and refused.failure.refusal is Refusal.CONFLICT
    assert refused.failure.conflicts() == (FieldConflict("autoscaler", ".spec.replicas"),)
    line = refused.error().one_line()
    assert line.startswith("Deployment/default/web: apply failed (context kubeapi): HTTP 409 Conflict: Apply failed")
    assert "hint: fields owned by autoscaler: apply with force" in line
    with pytest.raises(ClusterError, match="apply failed"):
        refused.unwrap()
    forced = apply(cluster, DEPLOYMENTS, deployment("web", replicas=2), field_manager="fluxform", force=True)
    assert forced.ok and kubectl_json(kubeapi, "get", "deployment", "web")["spec"]["replicas"] == 2


def test_apply_of_an_immutable_change_names_the_field(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    apply(cluster, DEPLOYMENTS, deployment("web"), field_manager="fluxform").unwrap()
    moved = deployment("web")
    moved["spec"]["selector"]["matchLabels"]["app"] = moved["spec"]["template"]["metadata"]["labels"]["app"] = "api"
    refused = apply(cluster, DEPLOYMENTS, moved, field_manager="fluxform", force=True)
    assert refused.failure is not None and refused.failure.refusal is Refusal.IMMUTABLE
    assert refused.failure.immutable_fields() == ["spec.selector"]
    assert "spec.selector cannot change: the object must be recreated" in refused.error().one_line()


@pytest.mark.parametrize(
    ("setup", "manifest", "refusal"),
    [
        (None, configmap("c", namespace="nope"), Refusal.NAMESPACE_MISSING),
        ("forbid", configmap("c"), Refusal.FORBIDDEN),
        (None, configmap("Not_A_Name"), Refusal.INVALID),
    ],
    ids=["namespace-missing", "forbidden", "invalid"],
)
def test_apply_refusals_are_typed(
    kubeapi: KubeApi, cluster: ClusterClient, setup: str | None, manifest: dict[str, Any], refusal: Refusal
) -> None:
    if setup == "forbid":
        kubeapi.server.forbid(verb="patch", resource="configmaps")
    refused = apply(cluster, CONFIGMAPS, manifest, field_manager="fluxform")
    assert refused.failure is not None and refused.failure.refusal is refusal
    assert kubeapi.server.objects(kind="ConfigMap") == []
    assert kubeapi.server.request_count(method="PATCH") == 1  # a refusal is an answer: never repeated


def test_dry_run_apply_stores_nothing(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    dry = apply(cluster, DEPLOYMENTS, deployment("web"), field_manager="fluxform", dry_run=True)
    assert dry.ok and dry.unwrap()["spec"]["revisionHistoryLimit"] == 10
    assert dry.verb == "dry-run apply" and kubeapi.server.objects(kind="Deployment") == []


# -- create, replace, merge patch --------------------------------------------------------


def test_create_replace_and_merge_patch(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    created = create(cluster, CONFIGMAPS, configmap("settings", k="v1"), field_manager="fluxform")
    assert created.ok and created.created
    again = create(cluster, CONFIGMAPS, configmap("settings", k="v1"))
    assert again.failure is not None and again.failure.refusal is Refusal.ALREADY_EXISTS and not again.retried

    stale = configmap("settings", k="v2")
    stale["metadata"]["resourceVersion"] = "1"
    refused = replace(cluster, CONFIGMAPS, stale)
    assert refused.failure is not None and refused.failure.refusal is Refusal.MODIFIED
    fresh = copy.deepcopy(stale)
    fresh["metadata"]["resourceVersion"] = created.unwrap()["metadata"]["resourceVersion"]
    assert replace(cluster, CONFIGMAPS, fresh).unwrap()["data"] == {"k": "v2"}

    ref = ObjectRef(CONFIGMAPS, "default", "settings")
    patched = merge_patch(cluster, ref, {"metadata": {"labels": {"team": "blue"}}, "data": {"k": None, "n": "1"}})
    assert patched.ok
    live = kubectl_json(kubeapi, "get", "configmap", "settings")
    assert live["data"] == {"n": "1"} and live["metadata"]["labels"] == {"team": "blue"}
    assert _managers(kubeapi, "configmap", "settings")[0] == "fluxform"


# -- delete ------------------------------------------------------------------------------


def _rollout(kubeapi: KubeApi, cluster: ClusterClient) -> dict[str, Any]:
    live = apply(cluster, DEPLOYMENTS, deployment("web"), field_manager="fluxform").unwrap()
    kubectl(kubeapi, "get", "deployment", "web")  # a read lets the simulated controller make the ReplicaSet
    assert len(kubeapi.server.objects(kind="ReplicaSet")) == 1
    return live


@pytest.mark.parametrize(
    ("propagation", "replica_sets_left"),
    [(Propagation.BACKGROUND, 0), (Propagation.FOREGROUND, 0), (Propagation.ORPHAN, 1)],
    ids=str,
)
def test_delete_with_propagation_policy(
    kubeapi: KubeApi, cluster: ClusterClient, propagation: Propagation, replica_sets_left: int
) -> None:
    _rollout(kubeapi, cluster)
    deleted = delete(cluster, WEB, propagation=propagation)
    assert deleted.ok and not deleted.gone
    if propagation is Propagation.FOREGROUND:  # the answer is the owner, marked, waiting on its dependents
        assert deleted.obj is not None and deleted.obj["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert kubectl(kubeapi, "get", "deployment", "web", check=False).returncode == 1
    assert len(kubeapi.server.objects(kind="ReplicaSet")) == replica_sets_left
    (request,) = [r for r in kubeapi.server.requests if r.method == "DELETE"]
    assert request.content_type == "application/json"


def test_delete_preconditions_refuse_a_changed_object(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    live = _rollout(kubeapi, cluster)
    wrong_uid = delete(cluster, WEB, uid="00000000-not-the-uid")
    assert wrong_uid.failure is not None and wrong_uid.failure.refusal is Refusal.MODIFIED
    kubeapi.server.apply(deployment("web", replicas=3), manager="someone", force=True)
    stale = delete(cluster, WEB, resource_version=live["metadata"]["resourceVersion"])
    assert stale.failure is not None and stale.failure.refusal is Refusal.MODIFIED
    assert kubeapi.server.objects(kind="Deployment") != []
    assert delete(cluster, WEB, uid=live["metadata"]["uid"]).ok


def test_delete_of_a_missing_object_is_gone_not_an_error(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    deleted = delete(cluster, WEB)
    assert deleted.ok and deleted.gone and not deleted.retried


# -- retries -----------------------------------------------------------------------------


def test_apply_repeats_a_dropped_connection_and_a_500(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.inject_fault("/deployments/web$", method="PATCH", drop=True, times=1)
    kubeapi.server.inject_fault("/deployments/web$", method="PATCH", status=500, times=1)
    applied = apply(cluster, DEPLOYMENTS, deployment("web"), field_manager="fluxform")
    assert applied.ok and applied.retried and applied.created
    assert kubeapi.server.request_count(method="PATCH") == 3 and cluster.retry_count == 2
    assert len(kubeapi.server.objects(kind="Deployment")) == 1


def test_apply_whose_answer_was_lost_is_settled_by_the_repeat(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.inject_fault("/deployments/web$", method="PATCH", lose_reply=True, times=1)
    applied = apply(cluster, DEPLOYMENTS, deployment("web"), field_manager="fluxform")
    assert applied.ok and applied.retried and not applied.created  # the first send created it
    assert kubectl_json(kubeapi, "get", "deployment", "web")["metadata"]["generation"] == 1


def test_create_whose_answer_was_lost_rereads_instead_of_failing(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.inject_fault("/configmaps$", method="POST", lose_reply=True, times=1)
    created = create(cluster, CONFIGMAPS, configmap("settings", k="v"))
    assert created.ok and created.retried and not created.created
    assert created.unwrap()["data"] == {"k": "v"}
    assert [r.status for r in kubeapi.server.requests if r.method == "POST"] == [0, 409]
    assert len(kubeapi.server.objects(kind="ConfigMap")) == 1


def test_delete_whose_answer_was_lost_is_done(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.create(configmap("settings"))
    kubeapi.server.inject_fault("/configmaps/settings$", method="DELETE", lose_reply=True, times=1)
    deleted = delete(cluster, ObjectRef(CONFIGMAPS, "default", "settings"))
    assert deleted.ok and deleted.gone and deleted.retried
    assert kubeapi.server.objects(kind="ConfigMap") == []


def test_a_slow_answer_times_out_and_is_repeated(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.inject_fault("/deployments/web$", method="PATCH", latency=3.0, times=1)  # > request_timeout 2s
    assert apply(cluster, DEPLOYMENTS, deployment("web"), field_manager="fluxform").retried


def test_a_failing_server_is_one_error_naming_the_verb_and_object(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.inject_fault("/deployments/web$", status=503)
    with pytest.raises(ClusterError) as caught:
        apply(cluster, DEPLOYMENTS, deployment("web"), field_manager="fluxform")
    line = caught.value.one_line()
    assert line.startswith("apply Deployment/default/web failed (context kubeapi): HTTP 503 ServiceUnavailable")
    assert kubeapi.server.request_count(method="PATCH") == FAST_RETRIES.attempts


def test_a_connection_that_always_drops_is_unreachable(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.inject_fault("/configmaps/settings$", drop=True)
    with pytest.raises(Unreachable) as caught:
        delete(cluster, ObjectRef(CONFIGMAPS, "default", "settings"))
    line = caught.value.one_line()
    assert line.startswith(f"delete ConfigMap/default/settings: cannot reach the Kubernetes API at {kubeapi.url}")
    assert "\n" not in line and kubeapi.server.request_count(method="DELETE") == FAST_RETRIES.attempts
