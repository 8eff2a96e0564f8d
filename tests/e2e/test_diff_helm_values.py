"""A values change for one HelmRelease: the generated values ConfigMap is replaced (new hash
name, old one pruned), the HelmRelease follows it, and nothing else changes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run
from tests.support.gitrepo import generated_fleet_repo


def test_values_change_touches_only_that_release(tmp_path: Path) -> None:
    repo = generated_fleet_repo(tmp_path / "repo", clusters=2, kustomizations=2, seed=5)
    base = repo.commit("fleet")
    values = "apps/app-001/overlays/cluster-00/values.yaml"
    repo.write(values, repo.read(values).replace("replicaCount:", "replicaCount: 7\nold_replicas:"))
    repo.commit("app-001 on cluster-00: 7 replicas")

    result = run("diff", repo.path / "clusters", "--base", base, "--format", "json", "--detailed-exitcode")

    assert result.code == 2, result.err
    data = json.loads(result.out)
    by_path = {c["path"]: c for c in data["clusters"]}
    assert by_path["clusters/cluster-01"]["status"] == "unchanged"
    assert by_path["clusters/cluster-01"]["rendered"] is False  # nothing it reads changed
    owners = {o["id"]: o for o in by_path["clusters/cluster-00"]["owners"]}
    ks = owners.pop("Kustomization/flux-system/app-001")
    actions = sorted((c["action"], c["kind"], c["name"].rsplit("-", 1)[0]) for c in ks["changes"])
    assert actions == [
        ("create", "ConfigMap", "app-001-values"),
        ("delete", "ConfigMap", "app-001-values"),
        ("update", "HelmRelease", "app-001"),
    ]
    created = next(c for c in ks["changes"] if c["action"] == "create")
    deleted = next(c for c in ks["changes"] if c["action"] == "delete")
    assert "replicaCount: 7" in created["after"]["data"]["values.yaml"]
    assert created["name"] != deleted["name"] and deleted["reason"] == "no longer rendered"
    release = next(c for c in ks["changes"] if c["kind"] == "HelmRelease")
    assert release["fields"] == ["spec.valuesFrom[0].name"]
    # With HelmRelease rendering on, the release's own objects follow the new values.
    for owner_id, owner in owners.items():
        assert owner_id == "HelmRelease/app-001/app-001-web", owners
        deployment = next(c for c in owner["changes"] if c["kind"] == "Deployment")
        assert deployment["fields"] == ["spec.replicas"] and deployment["after"]["spec"]["replicas"] == 7
