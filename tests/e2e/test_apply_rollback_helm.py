"""Automatic rollback of Helm releases (issue 19, item 2), through the real Helm SDK: three
HelmReleases in dependsOn order; the third's upgrade never becomes healthy. The first, upgraded
by the failed apply, is rolled back to its previous revision; the second, installed by it, is
uninstalled; the third (Helm left it failed) is rolled back too. Helm's own history (read
with kubectl from the release Secrets) shows every step."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, run
from tests.support.kubeclient import kubectl_json
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, helm_release, write_tree

pytestmark = pytest.mark.usefixtures("shared_build_cache")


def _release(name: str, message: str, depends_on: str = "", health: str = "") -> str:
    extra = f"  dependsOn:\n    - name: {depends_on}\n" if depends_on else ""
    annotations = f"    podAnnotations:\n      kubeapi.fluxform.dev/health: {health}\n" if health else ""
    extra += f"  timeout: 20s\n  values:\n    ui:\n      message: {message}\n{annotations}"
    return helm_release(name, "./charts/podinfo-lite", extra, namespace="demo")


def _write_fleet(root: Path, version: int) -> Path:
    two = version == 2
    releases = [_release("status", f"status v{version}")]
    if two:
        releases.append(_release("extra", "extra", depends_on="status"))
    releases.append(
        _release("broken", "broken", depends_on="extra" if two else "status", health="failed" if two else "")
    )
    files = {
        "clusters/dev/sync.yaml": FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", "./clusters/dev"),
        "clusters/dev/infra.yaml": flux_kustomization("infra", "./infra"),
        "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps", "  dependsOn:\n    - name: infra\n"),
        "infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
        "apps/releases.yaml": "---\n".join(releases),
    }
    for stale in root.glob("*/*.yaml") if root.exists() else ():
        stale.unlink()
    write_tree(root, files)
    if not (root / "charts").exists():
        shutil.copytree(FIXTURES / "fleet" / "charts", root / "charts")
    return root / "clusters" / "dev"


def _history(api: KubeApi, release: str) -> list[tuple[int, str, str]]:
    """(revision, status, ui message) of each stored revision, as kubectl reads Helm's storage."""
    listing = kubectl_json(api, "get", "secrets", "-n", "demo", "-l", f"owner=helm,name={release}")
    out = []
    for item in listing["items"]:
        record: dict[str, Any] = json.loads(
            gzip.decompress(base64.b64decode(base64.b64decode(item["data"]["release"])))
        )
        message = str(((record.get("config") or {}).get("ui") or {}).get("message", ""))
        out.append((int(record["version"]), str(record["info"]["status"]), message))
    return sorted(out)


def test_releases_are_rolled_back_and_one_installed_by_the_failed_apply_is_uninstalled(
    kubeapi: KubeApi, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    cluster = _write_fleet(tmp_path / "repo", 1)
    common = ["--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state), "--init-state", "--auto-approve"]
    first = run("apply", cluster, *common, "--parallelism", "1")
    assert first.code == 0, first.err
    assert _history(kubeapi, "status") == [(1, "deployed", "status v1")]
    _write_fleet(tmp_path / "repo", 2)

    result = run("apply", cluster, *common, "--parallelism", "1")

    assert result.code == 1
    assert "HelmRelease/demo/broken: failed: " in result.out
    lines = result.out.splitlines()
    assert "  HelmRelease/demo/status: rolled Helm release demo/status back to revision 1 (as revision 3)" in lines
    assert "  HelmRelease/demo/extra: uninstalled Helm release demo/extra (this apply installed it)" in lines
    assert "  HelmRelease/demo/broken: rolled Helm release demo/broken back to revision 1 (as revision 3)" in lines
    assert "Rollback complete: 3 Helm release(s) put back" in result.out
    assert _history(kubeapi, "status") == [
        (1, "superseded", "status v1"),
        (2, "superseded", "status v2"),
        (3, "deployed", "status v1"),
    ]
    assert _history(kubeapi, "extra") == []
    assert [(r, s) for r, s, _ in _history(kubeapi, "broken")] == [(1, "superseded"), (2, "failed"), (3, "deployed")]
    deployments = kubectl_json(kubeapi, "get", "deployments", "-n", "demo")
    assert sorted(d["metadata"]["name"] for d in deployments["items"]) == [
        "broken-podinfo-lite",
        "status-podinfo-lite",
    ]
