"""The real kubectl as a second, independent client of the emulator."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from tests.kubeapi import KubeApi
from tests.support.kubeclient import configmap, deployment, kubectl, kubectl_json

SSA = ("apply", "--server-side", "--validate=false", "-f", "-")


def test_get_json_and_yaml(kubeapi: KubeApi) -> None:
    kubeapi.server.create(configmap("settings", k="v"))
    as_json = kubectl_json(kubeapi, "get", "configmap", "settings")
    as_yaml = yaml.safe_load(kubectl(kubeapi, "get", "configmap", "settings", "-o", "yaml").stdout)
    assert as_json == as_yaml
    assert as_json["data"] == {"k": "v"} and as_json["kind"] == "ConfigMap"
    listed = kubectl_json(kubeapi, "get", "configmaps", "-A")
    assert listed["kind"] == "List" and [i["metadata"]["name"] for i in listed["items"]] == ["settings"]


def test_default_table_output(kubeapi: KubeApi) -> None:
    kubeapi.server.create(configmap("settings"))
    lines = kubectl(kubeapi, "get", "configmaps").stdout.splitlines()
    assert lines[0].split() == ["NAME", "AGE"] and lines[1].split()[0] == "settings"


def test_server_side_apply_conflict_and_force(kubeapi: KubeApi) -> None:
    manifest = json.dumps(deployment("web", replicas=2))
    assert "deployment.apps/web serverside-applied" in kubectl(kubeapi, *SSA, stdin=manifest).stdout
    other = json.dumps(deployment("web", replicas=4))
    kubectl(kubeapi, *SSA[:3], "--field-manager=autoscaler", "--force-conflicts", "-f", "-", stdin=other)
    conflict = kubectl(kubeapi, *SSA, stdin=manifest, check=False)
    assert conflict.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "autoscaler": .spec.replicas' in conflict.stderr
    kubectl(kubeapi, *SSA[:3], "--force-conflicts", "-f", "-", stdin=manifest)
    live = kubectl_json(kubeapi, "get", "deployment", "web", "--show-managed-fields")
    assert live["spec"]["replicas"] == 2
    replicas_owners = [
        m["manager"] for m in live["metadata"]["managedFields"] if "f:replicas" in m["fieldsV1"].get("f:spec", {})
    ]
    assert replicas_owners == ["kubectl"]


def test_patch_merge_then_apply_conflicts_with_kubectl_patch(kubeapi: KubeApi) -> None:
    manifest = json.dumps(deployment("web", replicas=2))
    kubectl(kubeapi, *SSA, stdin=manifest)
    out = kubectl(kubeapi, "patch", "deployment", "web", "--type", "merge", "-p", '{"spec":{"replicas":3}}')
    assert "deployment.apps/web patched" in out.stdout
    conflict = kubectl(kubeapi, *SSA, stdin=manifest, check=False)
    assert 'conflict with "kubectl-patch" using apps/v1: .spec.replicas' in conflict.stderr


def test_delete(kubeapi: KubeApi) -> None:
    kubeapi.server.create(configmap("settings"))
    assert 'configmap "settings" deleted' in kubectl(kubeapi, "delete", "configmap", "settings").stdout
    missing = kubectl(kubeapi, "get", "configmap", "settings", check=False)
    assert missing.returncode == 1 and 'configmaps "settings" not found' in missing.stderr


def test_get_lease_and_secret(kubeapi: KubeApi) -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "fluxform-lock", "namespace": "kube-system"},
        "spec": {"holderIdentity": "alice", "leaseDurationSeconds": 60},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "state", "namespace": "kube-system"},
        "stringData": {"state.json": "{}"},
    }
    kubectl(kubeapi, *SSA, stdin=json.dumps(lease))
    kubectl(kubeapi, *SSA, stdin=json.dumps(secret))
    got_lease = kubectl_json(kubeapi, "-n", "kube-system", "get", "lease", "fluxform-lock")
    assert got_lease["spec"]["holderIdentity"] == "alice"
    got_secret = kubectl_json(kubeapi, "-n", "kube-system", "get", "secret", "state")
    assert got_secret["type"] == "Opaque"
    assert base64.b64decode(got_secret["data"]["state.json"]) == b"{}"


def test_apply_into_a_missing_namespace(kubeapi: KubeApi) -> None:
    result = kubectl(kubeapi, *SSA, stdin=json.dumps(configmap("c", namespace="nope")), check=False)
    assert result.returncode == 1 and 'namespaces "nope" not found' in result.stderr


def test_immutable_field_error(kubeapi: KubeApi) -> None:
    kubectl(kubeapi, *SSA, stdin=json.dumps(deployment("web")))
    changed = deployment("web")
    changed["spec"]["selector"]["matchLabels"]["app"] = "other"
    changed["spec"]["template"]["metadata"]["labels"]["app"] = "other"
    result = kubectl(kubeapi, *SSA, stdin=json.dumps(changed), check=False)
    assert result.returncode == 1
    assert 'The Deployment "web" is invalid: spec.selector: Invalid value: ' in result.stderr
    assert "field is immutable" in result.stderr


def test_dry_run_server(kubeapi: KubeApi) -> None:
    out = kubectl(kubeapi, *SSA[:3], "--dry-run=server", "-o", "json", "-f", "-", stdin=json.dumps(deployment("web")))
    assert json.loads(out.stdout)["spec"]["revisionHistoryLimit"] == 10
    assert kubeapi.server.objects(kind="Deployment") == []


def test_validating_apply_uses_server_side_field_validation(kubeapi: KubeApi) -> None:
    manifest = json.dumps(deployment("web"))
    assert "serverside-applied" in kubectl(kubeapi, "apply", "--server-side", "-f", "-", stdin=manifest).stdout
    patch = next(r for r in kubeapi.server.requests if r.method == "PATCH")
    assert patch.query["fieldValidation"] == "Strict"


def test_client_side_apply_then_wait_and_rollout_status(kubeapi: KubeApi) -> None:
    assert (
        "deployment.apps/web created"
        in kubectl(kubeapi, "apply", "-f", "-", stdin=json.dumps(deployment("web"))).stdout
    )
    assert (
        "condition met"
        in kubectl(kubeapi, "wait", "--for=condition=Available", "deployment/web", "--timeout=10s").stdout
    )
    out = kubectl(kubeapi, "rollout", "status", "deployment/web", "--timeout=10s").stdout
    assert 'deployment "web" successfully rolled out' in out


def test_create_subcommands_send_protobuf_and_are_decoded(kubeapi: KubeApi, tmp_path: Path) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\xfe\xff")
    kubectl(kubeapi, "create", "namespace", "team")
    kubectl(
        kubeapi,
        "-n",
        "team",
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=user=app",
        f"--from-file={binary}",
    )
    kubectl(kubeapi, "-n", "team", "create", "configmap", "settings", "--from-literal=mode=on")
    kubectl(kubeapi, "-n", "team", "create", "serviceaccount", "runner")
    creates = [r for r in kubeapi.server.requests if r.verb == "create"]
    assert [(r.content_type, r.status) for r in creates] == [("application/vnd.kubernetes.protobuf", 201)] * 4

    namespace = kubectl_json(kubeapi, "get", "namespace", "team")
    assert namespace["status"]["phase"] == "Active" and namespace["metadata"]["name"] == "team"
    secret = kubectl_json(kubeapi, "-n", "team", "get", "secret", "creds")
    assert secret["type"] == "Opaque"
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert data == {"user": b"app", "blob.bin": b"\x00\x01\xfe\xff"}
    assert set(secret["metadata"]) == {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}
    settings = kubectl_json(kubeapi, "-n", "team", "get", "configmap", "settings", "--show-managed-fields")
    assert settings["data"] == {"mode": "on"}
    assert [(m["manager"], m["fieldsV1"]) for m in settings["metadata"]["managedFields"]] == [
        ("kubectl-create", {"f:data": {".": {}, "f:mode": {}}})
    ]
    assert kubectl_json(kubeapi, "-n", "team", "get", "serviceaccount", "runner")["metadata"]["name"] == "runner"


def test_create_into_a_missing_namespace_is_refused(kubeapi: KubeApi) -> None:
    result = kubectl(kubeapi, "-n", "nope", "create", "configmap", "c", "--from-literal=a=b", check=False)
    assert result.returncode == 1 and 'namespaces "nope" not found' in result.stderr
