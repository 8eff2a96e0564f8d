"""Writes through the real kubernetes client: create, replace, patch, apply, delete, dry run."""

from __future__ import annotations

from typing import Any

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
    meta,
    present,
    raw,
    v1_configmap,
    v1_deployment,
)


def test_create_get_list_with_label_selectors(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    core.create_namespaced_config_map("default", v1_configmap("a", labels={"app": "x", "tier": "web"}, k="1"))
    core.create_namespaced_config_map("default", v1_configmap("b", labels={"app": "y"}, k="2"))
    core.create_namespaced_config_map("kube-system", v1_configmap("c", "kube-system", labels={"app": "x"}, k="3"))

    def names(**kwargs: Any) -> list[str]:
        return [present(meta(i).name) for i in core.list_config_map_for_all_namespaces(**kwargs).items]

    assert names() == ["a", "b", "c"]
    assert names(label_selector="app=x") == ["a", "c"]
    assert names(label_selector="app in (x,y),!tier") == ["b", "c"]
    assert names(field_selector="metadata.namespace=default,metadata.name!=a") == ["b"]
    assert [meta(i).name for i in core.list_namespaced_config_map("default", label_selector="tier").items] == ["a"]
    got = core.read_namespaced_config_map("a", "default")
    assert got.data == {"k": "1"} and meta(got).uid and int(present(meta(got).resource_version)) > 0


def test_metadata_stamped_on_create(kubeapi: KubeApi) -> None:
    created = (
        dynamic_client(kubeapi)
        .resources.get(api_version="apps/v1", kind="Deployment")
        .create(body=deployment("web"), namespace="default")
    )
    meta = created.to_dict()["metadata"]
    assert meta["generation"] == 1 and meta["creationTimestamp"].endswith("Z") and len(meta["uid"]) == 36
    assert meta["managedFields"][0]["manager"] == "OpenAPI-Generator"  # the client's User-Agent prefix
    assert meta["managedFields"][0]["operation"] == "Update"


def test_resource_versions_are_a_global_counter(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    first = core.create_namespaced_config_map("default", v1_configmap("a"))
    second = core.create_namespaced_config_map("kube-system", v1_configmap("b", "kube-system"))
    first_version, second_version = (int(present(meta(o).resource_version)) for o in (first, second))
    assert second_version == first_version + 1


def test_missing_namespace_is_404_like_the_real_server(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("nope", v1_configmap("a", namespace="nope"))
    assert error_status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'namespaces "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "namespaces"},
        "code": 404,
    }


def test_cluster_scoped_kinds_ignore_namespace(kubeapi: KubeApi) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client(kubeapi))
    body = client.V1ClusterRole(metadata=client.V1ObjectMeta(name="reader", namespace="ignored"), rules=[])
    created = rbac.create_cluster_role(body)
    assert meta(created).namespace is None


def test_already_exists(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    core.create_namespaced_config_map("default", v1_configmap("a"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", v1_configmap("a"))
    status = error_status(caught.value)
    assert (caught.value.status, status["reason"], status["message"]) == (
        409,
        "AlreadyExists",
        'configmaps "a" already exists',
    )


def test_stale_resource_version_conflicts_on_put_and_patch(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    stale = core.create_namespaced_config_map("default", v1_configmap("a", k="1"))
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    stale.data = {"k": "3"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("a", "default", stale)
    status = error_status(caught.value)
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert status["message"].startswith('Operation cannot be fulfilled on configmaps "a": the object has been modified')
    patch = {"metadata": {"resourceVersion": meta(stale).resource_version}, "data": {"k": "4"}}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("a", "default", patch)
    assert caught.value.status == 409
    assert core.read_namespaced_config_map("a", "default").data == {"k": "2"}


@pytest.mark.parametrize(
    ("change", "bumped"),
    [
        ({"spec": {"replicas": 3}}, True),
        ({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}, True),
        ({"metadata": {"labels": {"team": "a"}}}, False),
        ({"metadata": {"annotations": {"note": "x"}}}, False),
        ({"status": {"replicas": 7}}, False),
    ],
    ids=["replicas", "image", "label", "annotation", "status-via-main-resource"],
)
def test_generation_bumps_only_for_spec_changes(kubeapi: KubeApi, change: dict[str, Any], bumped: bool) -> None:
    apps = client.AppsV1Api(api_client(kubeapi))
    apps.create_namespaced_deployment("default", v1_deployment("web"))
    before = apps.read_namespaced_deployment("web", "default")
    after = apps.patch_namespaced_deployment("web", "default", change)
    assert meta(after).generation == present(meta(before).generation) + (1 if bumped else 0)
    assert present(after.status).replicas == present(before.status).replicas, (
        "status is not writable through the main resource"
    )


def test_status_subresource_changes_status_only(kubeapi: KubeApi) -> None:
    apps = client.AppsV1Api(api_client(kubeapi))
    apps.create_namespaced_deployment("default", v1_deployment("web"))
    patched = apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"replicas": 9}, "spec": {"paused": True}}
    )
    assert present(patched.status).replicas == 9 and not present(patched.spec).paused
    assert meta(patched).generation == 1
    managers = {(m.manager, m.subresource) for m in present(meta(patched).managed_fields)}
    assert ("OpenAPI-Generator", "status") in managers


@pytest.mark.parametrize("verb", ["create", "replace", "patch", "apply", "delete"])
def test_dry_run_never_stores(kubeapi: KubeApi, verb: str) -> None:
    dyn = dynamic_client(kubeapi)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    if verb != "create":
        deployments.create(body=deployment("web"), namespace="default")
    before = [o["metadata"] for o in kubeapi.server.objects(kind="Deployment")]
    body = deployment("web", replicas=5)
    if verb == "create":
        result = deployments.create(body=body, namespace="default", dry_run="All")
    elif verb == "replace":
        result = deployments.replace(body=body, namespace="default", dry_run="All")
    elif verb == "patch":
        result = deployments.patch(
            name="web",
            namespace="default",
            body={"spec": {"replicas": 5}},
            content_type="application/merge-patch+json",
            dry_run="All",
        )
    elif verb == "apply":
        result = deployments.server_side_apply(
            body=body, namespace="default", field_manager="flux", force_conflicts=True, dry_run="All"
        )
    else:
        result = deployments.delete(name="web", namespace="default", dry_run="All")
    if verb != "delete":
        assert result.spec.replicas == 5, "the answer is the would-be object"
        assert result.spec.template.spec.containers[0].terminationMessagePath == "/dev/termination-log"
    assert [o["metadata"] for o in kubeapi.server.objects(kind="Deployment")] == before


def test_dry_run_create_has_no_resource_version_and_update_keeps_the_live_one(kubeapi: KubeApi) -> None:
    deployments = dynamic_client(kubeapi).resources.get(api_version="apps/v1", kind="Deployment")
    dry = deployments.server_side_apply(body=deployment("web"), namespace="default", field_manager="f", dry_run="All")
    assert dry.metadata.resourceVersion is None and dry.metadata.uid
    live = deployments.server_side_apply(body=deployment("web"), namespace="default", field_manager="f")
    dry = deployments.server_side_apply(
        body=deployment("web", replicas=4), namespace="default", field_manager="f", dry_run="All"
    )
    assert dry.metadata.resourceVersion == live.metadata.resourceVersion
    assert dry.metadata.generation == 2


def test_apply_creates_then_noop_apply_keeps_resource_version(kubeapi: KubeApi) -> None:
    deployments = dynamic_client(kubeapi).resources.get(api_version="apps/v1", kind="Deployment")
    first = deployments.server_side_apply(body=deployment("web"), namespace="default", field_manager="flux")
    again = deployments.server_side_apply(body=deployment("web"), namespace="default", field_manager="flux")
    assert again.metadata.resourceVersion == first.metadata.resourceVersion
    assert kubeapi.server.requests[-1].status == 200


def test_apply_conflict_over_http_and_force(kubeapi: KubeApi) -> None:
    deployments = dynamic_client(kubeapi).resources.get(api_version="apps/v1", kind="Deployment")
    deployments.server_side_apply(body=deployment("web", replicas=2), namespace="default", field_manager="flux")
    status, body = raw(
        kubeapi,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=helm&force=false",
        deployment("web", replicas=3),
        "application/apply-patch+yaml",
    )
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "flux": .spec.replicas'
    assert body["details"]["causes"][0]["field"] == ".spec.replicas"
    forced = deployments.server_side_apply(
        body=deployment("web", replicas=3), namespace="default", field_manager="helm", force_conflicts=True
    )
    assert forced.spec.replicas == 3
    owners = [m["manager"] for m in forced.to_dict()["metadata"]["managedFields"] if m["operation"] == "Apply"]
    assert sorted(owners) == ["flux", "helm"], "flux keeps the fields it still shares"


def test_apply_requires_field_manager(kubeapi: KubeApi) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    status, body = raw(kubeapi, "PATCH", path, deployment("web"), "application/apply-patch+yaml")
    assert (status, body["reason"]) == (400, "BadRequest")
    assert "fieldManager is required" in body["message"]


def test_apply_yaml_body(kubeapi: KubeApi) -> None:
    text = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  enabled: 'on'\n"
    status, body = raw(
        kubeapi, "PATCH", "/api/v1/namespaces/default/configmaps/a?fieldManager=m", text, "application/apply-patch+yaml"
    )
    assert (status, body["data"]) == (201, {"enabled": "on"})


def test_json_and_strategic_patches(kubeapi: KubeApi) -> None:
    apps = client.AppsV1Api(api_client(kubeapi))
    apps.create_namespaced_deployment("default", v1_deployment("web"))
    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    patched = apps.patch_namespaced_deployment("web", "default", sidecar)  # the typed client sends strategic merge
    containers = present(present(patched.spec).template.spec).containers
    assert [c.name for c in containers] == ["app", "sidecar"]
    assert containers[1].image_pull_policy == "Always"
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    assert present(apps.patch_namespaced_deployment("web", "default", ops).spec).replicas == 4


def test_delete_with_finalizer_waits_for_the_finalizer(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    body = v1_configmap("a")
    meta(body).finalizers = ["example.com/hold"]
    core.create_namespaced_config_map("default", body)
    core.delete_namespaced_config_map("a", "default")
    held = core.read_namespaced_config_map("a", "default")
    assert meta(held).deletion_timestamp is not None
    core.patch_namespaced_config_map("a", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("a", "default")
    assert caught.value.status == 404


def test_delete_answers_status_and_accepts_delete_options(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    created = core.create_namespaced_config_map("default", v1_configmap("a"))
    wrong = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-it"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map("a", "default", body=wrong)
    assert caught.value.status == 409
    options = client.V1DeleteOptions(propagation_policy="Background")
    status = core.delete_namespaced_config_map("a", "default", body=options)  # the typed client returns a dict
    assert isinstance(status, dict)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"] == {"name": "a", "group": "", "kind": "configmaps", "uid": meta(created).uid}


def test_foreground_delete_answers_the_marked_owner_then_removes_it_after_its_dependents(kubeapi: KubeApi) -> None:
    apps = client.AppsV1Api(api_client(kubeapi))
    created = apps.create_namespaced_deployment("default", v1_deployment("web"))
    assert len(apps.list_namespaced_replica_set("default").items) == 1
    answer = apps.delete_namespaced_deployment("web", "default", propagation_policy="Foreground")
    assert isinstance(answer, dict)  # the typed client returns the marked object as a dict
    assert answer["metadata"]["finalizers"] == ["foregroundDeletion"] and answer["metadata"]["deletionTimestamp"]
    events = kubeapi.server.state.store.events_after(int(present(meta(created).resource_version)))
    kinds = [(e.type, e.key[1]) for e in events if e.type != "ADDED"]
    assert kinds[-3:] == [("MODIFIED", "deployments"), ("DELETED", "replicasets"), ("DELETED", "deployments")]
    assert apps.list_namespaced_replica_set("default").items == []
    assert kubeapi.server.objects(kind="Deployment") == []


def test_namespace_delete_removes_its_objects(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team")))
    core.create_namespaced_config_map("team", v1_configmap("a", namespace="team"))
    core.create_namespaced_config_map("default", v1_configmap("b"))
    answer = core.delete_namespace("team")
    assert isinstance(answer, dict)
    assert answer["status"] == {"phase": "Terminating"}
    assert [o["metadata"]["name"] for o in kubeapi.server.objects(kind="ConfigMap")] == ["b"]
    with pytest.raises(ApiException):
        core.read_namespace("team")


def test_deleting_a_deployment_collects_its_replica_sets(kubeapi: KubeApi) -> None:
    apps = client.AppsV1Api(api_client(kubeapi))
    apps.create_namespaced_deployment("default", v1_deployment("web"))
    (replica_set,) = apps.list_namespaced_replica_set("default").items
    assert present(meta(replica_set).owner_references)[0].name == "web"
    apps.delete_namespaced_deployment("web", "default")
    assert apps.list_namespaced_replica_set("default").items == []


def test_delete_collection_with_selector(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    for name, app in (("a", "x"), ("b", "y"), ("c", "x")):
        core.create_namespaced_config_map("default", v1_configmap(name, labels={"app": app}))
    core.delete_collection_namespaced_config_map("default", label_selector="app=x")
    assert [o["metadata"]["name"] for o in kubeapi.server.objects(kind="ConfigMap")] == ["b"]


def test_generate_name(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="job-"))
    created = core.create_namespaced_config_map("default", body)
    name = present(meta(created).name)
    assert name.startswith("job-") and len(name) == 9


def test_list_pages_with_limit_and_continue(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    for name in "abcde":
        core.create_namespaced_config_map("default", v1_configmap(name))
    names: list[list[str | None]] = []
    token: str | None = None
    while True:
        page = core.list_namespaced_config_map("default", limit=2, _continue=token)
        names.append([meta(i).name for i in page.items])
        token = present(page.metadata).var_continue
        if not token:
            break
    assert names == [["a", "b"], ["c", "d"], ["e"]]


def test_managed_fields_empty_list_keeps_and_empty_entry_resets(kubeapi: KubeApi) -> None:
    kubeapi.server.apply(configmap("a", k="1"), manager="flux")
    path = "/api/v1/namespaces/default/configmaps/a"
    merge = "application/merge-patch+json"
    _, kept = raw(kubeapi, "PATCH", path, {"metadata": {"managedFields": []}}, merge)
    assert [m["manager"] for m in kept["metadata"]["managedFields"]] == ["flux"]
    _, reset = raw(kubeapi, "PATCH", path, {"metadata": {"managedFields": [{}]}}, merge)
    assert "managedFields" not in reset["metadata"]
