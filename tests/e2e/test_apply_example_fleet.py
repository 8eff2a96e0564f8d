"""The example fleet applied into an empty emulated cluster through the CLI, every object
checked with kubectl (the independent client), then planned again: no changes.

HelmReleases platform/status-page and apps/guestbook become real Helm releases (through the
Helm SDK, release Secrets `deployed`); guestbook's release web/web-guestbook is stored in its
HelmRelease's namespace apps (Flux's default with a targetNamespace), its objects in web."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from fluxform.decrypt.mask import secret_plaintexts
from fluxform.objects import ObjectId
from tests.e2e.live_cluster import render
from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.kubeclient import kubectl, kubectl_json

pytestmark = pytest.mark.usefixtures("shared_build_cache")

STATUS_PAGE, GUESTBOOK = "HelmRelease/platform/status-page", "HelmRelease/apps/guestbook"


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "fleet", tmp_path / "fleet")
    return tmp_path / "fleet" / "clusters" / "staging"


def _kubectl_get(api: KubeApi, oid: ObjectId, api_version: str) -> dict[str, object]:
    resource = f"{oid.kind}.{api_version.rpartition('/')[0]}" if "/" in api_version else oid.kind
    args = ["get", resource, oid.name, "--show-managed-fields"] + (["-n", oid.namespace] if oid.namespace else [])
    found: dict[str, object] = kubectl_json(api, *args)
    return found


def test_example_fleet_applied_checked_with_kubectl_then_no_changes(
    kubeapi: KubeApi, staging: Path, tmp_path: Path
) -> None:
    kubectl(kubeapi, "create", "namespace", "flux-system")  # as `flux bootstrap` would (a protobuf body)
    state = tmp_path / "state.json"
    common = ["--keys-dir", str(KEYS), "--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state)]

    applied = run("apply", staging, *common, "--init-state", "--auto-approve", "--partial")

    assert applied.code == 0, applied.err
    assert f"{STATUS_PAGE}: applied: Helm install (no release -> revision 1, deployed)" in applied.out
    assert f"{GUESTBOOK}: applied: Helm install (no release -> revision 1, deployed)" in applied.out
    assert "7 owners: 7 applied." in applied.out, applied.out
    release = kubectl_json(kubeapi, "get", "secret", "sh.helm.release.v1.status-page.v1", "-n", "platform")
    assert release["metadata"]["labels"]["status"] == "deployed" and release["type"] == "helm.sh/release.v1"
    guestbook = kubectl_json(kubeapi, "get", "secret", "sh.helm.release.v1.web-guestbook.v1", "-n", "apps")
    assert guestbook["metadata"]["labels"]["status"] == "deployed"
    assert kubectl(kubeapi, "get", "secrets", "-n", "web", "-l", "owner=helm", "-o", "name").stdout.strip() == ""
    web = kubectl_json(kubeapi, "get", "deployment", "web-guestbook-podinfo-lite", "-n", "web")
    assert web["spec"]["template"]["spec"]["priorityClassName"] == "apps-critical"  # its postRenderers ran
    chart_deployment = kubectl_json(
        kubeapi, "get", "deployment", "status-page-podinfo-lite", "-n", "platform", "--show-managed-fields"
    )
    assert ("fluxform", "Apply") in {
        (m["manager"], m["operation"]) for m in chart_deployment["metadata"]["managedFields"]
    }
    kubectl(kubeapi, "get", "crd", "greetings.podinfo.example.com")
    desired = render(staging)
    secrets = [
        v.decode() for owner in desired.owners for o in owner.objects for v in secret_plaintexts(o.body) if len(v) > 3
    ]
    checked = 0
    for owner in desired.owners:
        if owner.kind != "Kustomization":
            continue
        for obj in owner.objects:
            if obj.id.group.endswith("toolkit.fluxcd.io"):
                continue  # the cluster has no Flux CRDs: fluxform does their work
            live = _kubectl_get(kubeapi, obj.id, obj.api_version)
            meta = live["metadata"]
            assert isinstance(meta, dict)
            assert meta["labels"]["kustomize.toolkit.fluxcd.io/name"] == owner.id.name, obj.id
            managers = {(m["manager"], m["operation"]) for m in meta["managedFields"]}
            assert ("fluxform", "Apply") in managers, (obj.id, managers)
            if obj.id.kind in ("ConfigMap", "Secret"):
                want = dict(obj.body.get("data") or {})
                if obj.id.kind == "Secret":
                    string_data = {
                        k: base64.b64encode(str(v).encode()).decode()
                        for k, v in (obj.body.get("stringData") or {}).items()
                    }
                    want.update(string_data)
                assert live.get("data") == want, obj.id
            checked += 1
    assert checked == 29
    stored = state.read_text()
    assert secrets and not [s for s in secrets if s in stored]  # the state holds no plaintext

    again = run("plan", staging, *common, "-o", "json")

    assert again.code == 0, again.err
    plan = json.loads(again.out)
    kustomization_changes = [c for c in plan["changes"] if c["owner_id"].endswith("_Kustomization")]
    assert len(kustomization_changes) == 29 and {c["action"] for c in kustomization_changes} == {"no-op"}
    release_changes = {c["owner"]: c["action"] for c in plan["changes"] if c["owner"] in (STATUS_PAGE, GUESTBOOK)}
    assert set(release_changes) == {STATUS_PAGE, GUESTBOOK}
    assert set(release_changes.values()) == {"no-op"}  # each Helm release is what the fleet renders
    assert {c["action"] for c in plan["changes"]} == {"no-op"}
    (staging.parents[1] / "infrastructure" / "controllers" / "status-page.yaml").write_text(
        (staging.parents[1] / "infrastructure" / "controllers" / "status-page.yaml")
        .read_text()
        .replace("message: Platform status", "message: Platform status (upgraded)")
    )

    upgraded = run("apply", staging, *common, "--auto-approve", "--partial")

    assert upgraded.code == 0, upgraded.err
    assert f"{STATUS_PAGE}: applied: Helm upgrade (revision 1 -> revision 2, deployed)" in upgraded.out
    second = kubectl_json(kubeapi, "get", "secret", "sh.helm.release.v1.status-page.v2", "-n", "platform")
    assert second["metadata"]["labels"]["status"] == "deployed"


def test_apply_without_the_plans_decryption_keys_says_which_key_and_writes_nothing(
    kubeapi: KubeApi, staging: Path, tmp_path: Path
) -> None:
    kubectl(kubeapi, "create", "namespace", "flux-system")
    state, plan = tmp_path / "state.json", tmp_path / "plan.json"
    kube = ["--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state), "--init-state"]
    assert run("plan", staging, "--keys-dir", str(KEYS), *kube, "--out", str(plan)).code == 0

    applied = run("apply", plan, *kube)

    assert applied.code == 1
    assert applied.err.startswith(
        "Error: apply cannot render Kustomization/flux-system/flux-system as the plan did: no decryption keys"
    )
    assert "flux-system/sops-age" in applied.err and applied.err.count("\n") == 1
    assert not state.exists()
    assert kubectl(kubeapi, "get", "namespace", "platform", check=False).returncode != 0
