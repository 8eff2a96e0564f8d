"""Renaming a tenant's directory and its Flux Kustomization: Flux prunes the old
Kustomization's objects and the new one creates them, so the diff shows both."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import FIXTURES, KEYS, run
from tests.support.gitrepo import TestRepo


def test_renamed_directory_prunes_old_objects_and_creates_new(tmp_path: Path) -> None:
    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(FIXTURES / "fleet", "fleet")
    base = repo.commit("fleet")
    repo.move("fleet/tenants/team-blue", "fleet/tenants/team-green")
    tenants = "fleet/clusters/staging/tenants.yaml"
    repo.replace(tenants, "name: team-blue\n  namespace: flux-system", "name: team-green\n  namespace: flux-system")
    repo.replace(tenants, "path: ./tenants/team-blue", "path: ./tenants/team-green")
    repo.commit("rename team-blue's directory")

    result = run("diff", repo.path / "fleet/clusters/staging", "--base", base, "--keys-dir", KEYS, "--format", "json")

    assert result.code == 0, result.err
    (cluster,) = json.loads(result.out)["clusters"]
    owners = {o["id"]: o for o in cluster["owners"]}
    old, new = owners["Kustomization/flux-system/team-blue"], owners["Kustomization/flux-system/team-green"]
    assert (old["status"], new["status"]) == ("removed", "added")
    objects = {
        "ConfigMap/backup-script",
        "Service/echo",
        "Deployment/echo",
        "CronJob/backup",
        "NetworkPolicy/allow-http",
    }
    assert {f"{c['kind']}/{c['name']}" for c in old["changes"]} == objects
    assert {f"{c['kind']}/{c['name']}" for c in new["changes"]} == objects
    assert {c["action"] for c in old["changes"]} == {"delete"}
    assert {c["reason"] for c in old["changes"]} == {"moves to Kustomization/flux-system/team-green"}
    assert {c["action"] for c in new["changes"]} == {"create"}
    assert {c["reason"] for c in new["changes"]} == {"moves from Kustomization/flux-system/team-blue"}
    labels = next(c for c in new["changes"] if c["kind"] == "Service")["after"]["metadata"]["labels"]
    assert labels["kustomize.toolkit.fluxcd.io/name"] == "team-green"
    root = owners["Kustomization/flux-system/flux-system"]
    assert sorted((c["action"], c["name"]) for c in root["changes"]) == [
        ("create", "team-green"),
        ("delete", "team-blue"),
    ]
