"""Automatic rollback (issue 19, item 2): three Kustomizations in dependsOn order, the third
fails its health check; everything the apply wrote is put back. kubectl, the independent
reader, sees the first two owners' objects as they were (`get -o json` before and after),
the objects the apply created gone, the pruned ones back, the Secret's value restored; the
state records the failed attempt and the rollback, object by object, without a value."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from fluxform.state.local import LocalBackend
from fluxform.state.model import PENDING_DIGEST
from tests.kubeapi import KubeApi
from tests.support.applyfleet import deployment_text
from tests.support.cli import Result, run
from tests.support.kubeclient import kubectl, kubectl_json
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization, write_tree

pytestmark = pytest.mark.usefixtures("shared_build_cache")

LATE = "Kustomization/flux-system/late"
INFRA = "Kustomization/flux-system/infra"
SECRET_V1, SECRET_V2 = "first-secret-value", "second-secret-value"
#: what the API server sets on every write: a restore cannot bring back the old values (the
#: restoring write's own field ownership is recorded, as a real API server does)
SERVER_SET = ("resourceVersion", "managedFields", "generation")
#: objects recreated by the rollback (pruned by the apply) are new objects with the old content
RECREATED = ("uid", "creationTimestamp")


CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: demo
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"""
JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: demo
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
"""


def _secret(name: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: demo\nstringData:\n  token: {value}\n"
    )


def _write_fleet(root: Path, version: int) -> Path:
    """v1: infra (Namespace, 2 ConfigMaps, a Secret, a PersistentVolumeClaim), apps (a Deployment,
    a ConfigMap), late (a ConfigMap). v2 changes, adds and prunes (the claim too) in infra and
    apps, and adds a Job and a Deployment that never becomes healthy to late."""
    two = version == 2
    files = {
        "clusters/dev/sync.yaml": FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", "./clusters/dev"),
        "clusters/dev/infra.yaml": flux_kustomization("infra", "./infra"),
        "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps", "  dependsOn:\n    - name: infra\n"),
        "clusters/dev/late.yaml": flux_kustomization(
            "late", "./late", "  dependsOn:\n    - name: apps\n  wait: true\n  timeout: 1m\n"
        ),
        "infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
        "infra/settings.yaml": configmap_text("settings", "demo", color="red" if two else "blue"),
        "infra/token.yaml": _secret("token", SECRET_V2 if two else SECRET_V1),
        "infra/extra.yaml": configmap_text("fresh", "demo", made="v2") if two else configmap_text("old", "demo"),
        "apps/web.yaml": deployment_text("web", "demo").replace("nginx:1.27", "nginx:1.28" if two else "nginx:1.27"),
        "apps/extra.yaml": _secret("apps-new", "new") if two else configmap_text("app-cfg", "demo", k="v"),
        "late/cfg.yaml": configmap_text("late-cfg", "demo", k="v"),
    }
    if two:
        files["late/broken.yaml"] = deployment_text("broken", "demo", selector="broken", health="failed")
        files["late/job.yaml"] = JOB
    else:
        files["infra/claim.yaml"] = CLAIM
    for stale in root.glob("*/*.yaml") if root.exists() else ():
        stale.unlink()
    write_tree(root, files)
    return root / "clusters" / "dev"


def _apply(api: KubeApi, cluster: Path, state: Path, *args: str) -> Result:
    return run(
        "apply", cluster, "--kubeconfig", api.kubeconfig, "--state", state, "--init-state", "--auto-approve", *args
    )


def _snapshot(api: KubeApi) -> dict[str, dict[str, Any]]:
    """Every object of namespace demo (and the Namespace) as kubectl reads it, by kind/name."""
    found: dict[str, dict[str, Any]] = {}
    for kind in ("configmaps", "secrets", "deployments", "services", "persistentvolumeclaims", "jobs"):
        listing = kubectl_json(api, "get", kind, "-n", "demo", "--show-managed-fields")
        for item in listing["items"]:
            found[f"{item['kind']}/{item['metadata']['name']}"] = item
    namespace = kubectl(api, "get", "namespace", "demo", "-o", "json", check=False)
    if namespace.returncode == 0:
        found["Namespace/demo"] = json.loads(namespace.stdout)
    return found


def _comparable(obj: dict[str, Any], *aside: str) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in (*SERVER_SET, *aside)}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def test_a_failed_third_owner_puts_the_first_two_back_as_they_were(kubeapi: KubeApi, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cluster = _write_fleet(tmp_path / "repo", 1)
    assert _apply(kubeapi, cluster, state).code == 0
    before = _snapshot(kubeapi)
    recorded_before = LocalBackend(state).read()
    assert recorded_before is not None
    _write_fleet(tmp_path / "repo", 2)

    result = _apply(kubeapi, cluster, state)

    assert result.code == 1
    plan_text = result.out[: result.out.index("Plan: ")]
    assert "Not reversible (an apply's rollback cannot undo these):" in plan_text  # said before it happens
    assert (
        "  ! delete PersistentVolumeClaim/demo/data: deleting a PersistentVolumeClaim releases its volume" in plan_text
    )
    assert "  ! create Job/demo/migrate: a Job runs once created" in plan_text
    assert f"{LATE}: failed: " in result.out and "health checks failed early" in result.out
    assert "Apply failed, rolled back: " in result.out
    assert "Rollback complete: " in result.out and "not restored" not in result.out
    after = _snapshot(kubeapi)
    assert set(after) == set(before)  # created objects gone (fresh, apps-new, broken), pruned ones back
    for key, was in before.items():
        aside = RECREATED if key in ("ConfigMap/old", "ConfigMap/app-cfg", "PersistentVolumeClaim/data") else ()
        assert _comparable(after[key], *aside) == _comparable(was, *aside), key
    assert base64.b64decode(after["Secret/token"]["data"]["token"]).decode() == SECRET_V1
    lines = result.out.splitlines()
    assert "  Deployment/demo/broken: deleted" in lines
    assert "  ConfigMap/demo/app-cfg: recreated" in lines and "  ConfigMap/demo/old: recreated" in lines
    assert "  Secret/demo/token: restored" in lines and "  Deployment/demo/web: restored" in lines
    report = result.out[result.out.index("Rollback (newest write first):") :]
    assert "Not reversible (done by the failed apply; no rollback undoes it):" in report
    assert "  PersistentVolumeClaim/demo/data: deleting a PersistentVolumeClaim releases its volume" in report
    assert "  Job/demo/migrate: a Job runs once created; a rollback cannot undo what it did" in report

    recorded = LocalBackend(state).read()
    assert recorded is not None
    assert recorded.operation == "apply (failed, rolled back)"
    assert {k: [(o.id, o.digest) for o in v.objects] for k, v in recorded.owners.items()} == {
        k: [(o.id, o.digest) for o in v.objects] for k, v in recorded_before.owners.items()
    }
    failed = recorded.history[-1]
    assert failed.operation == "apply (failed)"
    assert {(str(a.id), a.action) for a in failed.actions} >= {
        ("ConfigMap/demo/settings", "configured"),
        ("Secret/demo/token", "configured"),
        ("ConfigMap/demo/fresh", "created"),
        ("ConfigMap/demo/old", "deleted"),
        ("Deployment/demo/broken", "created"),
    }
    assert {(str(a.id), a.action) for a in recorded.actions} >= {
        ("Secret/demo/token", "restored"),
        ("ConfigMap/demo/fresh", "deleted"),
        ("ConfigMap/demo/old", "recreated"),
    }
    text = state.read_text()
    assert SECRET_V1 not in text and SECRET_V2 not in text
    assert base64.b64encode(SECRET_V1.encode()).decode() not in text
    assert not (tmp_path / "state.json.journal").exists()  # the rollback settled the run

    history = run("state", "history", "--state", state, "-o", "json")
    items = json.loads(history.out)["items"]
    assert [i["operation"] for i in items[:3]] == ["apply (failed, rolled back)", "apply (failed)", "apply"]
    assert {"owner": INFRA, "id": "Secret/demo/token", "action": "restored", "detail": ""} in items[0]["actions"]
    assert {"owner": INFRA, "id": "Secret/demo/token", "action": "configured", "detail": ""} in items[1]["actions"]
    assert SECRET_V1 not in history.out and SECRET_V2 not in history.out

    plan = run("plan", cluster, "--kubeconfig", kubeapi.kubeconfig, "--state", state, "-o", "json")
    assert plan.code == 0, plan.err  # the v2 plan again: the same changes as before the failed apply


def test_no_rollback_leaves_the_apply_half_done_and_says_what(kubeapi: KubeApi, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cluster = _write_fleet(tmp_path / "repo", 1)
    assert _apply(kubeapi, cluster, state).code == 0
    _write_fleet(tmp_path / "repo", 2)

    result = _apply(kubeapi, cluster, state, "--no-rollback")

    assert result.code == 1
    assert "Half-applied (--no-rollback: left as the failed apply wrote it):" in result.out
    assert "  ConfigMap/demo/settings: update (by Kustomization/flux-system/infra)" in result.out
    assert "  ConfigMap/demo/old: delete (by Kustomization/flux-system/infra)" in result.out
    assert "Rollback" not in result.out
    after = _snapshot(kubeapi)
    assert "ConfigMap/old" not in after and "ConfigMap/fresh" in after and "Deployment/broken" in after
    recorded = LocalBackend(state).read()
    assert recorded is not None and recorded.operation == "apply (failed)"
    assert (tmp_path / "state.json.journal").exists()


def test_a_failure_before_the_first_write_leaves_the_state_as_it_was(kubeapi: KubeApi, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cluster = _write_fleet(tmp_path / "repo", 1)
    assert _apply(kubeapi, cluster, state).code == 0
    before = LocalBackend(state).read()
    assert before is not None
    _write_fleet(tmp_path / "repo", 2)
    # the pre-image read of infra's first write fails after the client's retries: infra's
    # pending record (listing what it would create) is written, no object is
    kubeapi.server.inject_fault(r"/namespaces/demo/configmaps/fresh$", method="GET", status=500, times=8)

    result = _apply(kubeapi, cluster, state)

    assert result.code == 1
    assert "Rollback complete: nothing to undo" in result.out
    after = LocalBackend(state).read()
    assert after is not None and after.operation == "apply (failed, rolled back)"
    assert after.history[-1].operation == "apply (failed)"
    assert any(o.digest == PENDING_DIGEST for owner in after.history[-1].owners.values() for o in owner.objects)
    assert after.owners == before.owners  # the pending records went with the rollback
