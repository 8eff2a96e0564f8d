"""A change in a base shared by overlays of two clusters shows up in both, and only there."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.cli import run
from tests.support.diffjson import without_mode
from tests.support.gitrepo import generated_fleet_repo


def _owners(cluster: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(o["id"]): o for o in cluster["owners"]}


def test_base_change_reaches_the_overlay_in_each_cluster(tmp_path: Path) -> None:
    repo = generated_fleet_repo(tmp_path / "repo", clusters=2, kustomizations=2, seed=3)
    base = repo.commit("fleet")
    repo.replace("apps/app-000/base/deployment.yaml", "memory: 32Mi", "memory: 64Mi")
    repo.commit("app-000: more memory")

    result = run("diff", repo.path / "clusters", "--base", base, "--format", "json", "--detailed-exitcode")

    assert result.code == 2, result.err
    data = json.loads(result.out)
    assert data["changed_files"] == ["apps/app-000/base/deployment.yaml"]
    assert data["summary"] == {"add": 0, "change": 2, "destroy": 0, "forget": 0, "not_planned": 0}
    assert [c["path"] for c in data["clusters"]] == ["clusters/cluster-00", "clusters/cluster-01"]
    for cluster in data["clusters"]:
        owners = _owners(cluster)
        assert list(owners) == ["Kustomization/flux-system/app-000"], cluster["path"]
        (change,) = owners["Kustomization/flux-system/app-000"]["changes"]
        assert (change["action"], change["kind"], change["namespace"], change["name"]) == (
            "update", "Deployment", "app-000", "app-000",
        )  # fmt: skip
        assert change["fields"] == ["spec.template.spec.containers[0].resources.requests.memory"]
        assert "-            memory: 32Mi" in change["diff"] and "+            memory: 64Mi" in change["diff"]


def test_full_mode_agrees_and_text_names_both_clusters(tmp_path: Path) -> None:
    repo = generated_fleet_repo(tmp_path / "repo", clusters=2, kustomizations=2, seed=3)
    base = repo.commit("fleet")
    repo.replace("apps/app-000/base/deployment.yaml", "memory: 32Mi", "memory: 64Mi")
    repo.commit("app-000: more memory")

    changed_only = run("diff", repo.path / "clusters", "--base", base, "--format", "json")
    full = run("diff", repo.path / "clusters", "--base", base, "--format", "json", "--full")
    text = run("diff", repo.path / "clusters", "--base", base, "--no-color")

    assert changed_only.code == full.code == text.code == 0, (changed_only.err, full.err, text.err)
    assert without_mode(json.loads(changed_only.out)) == without_mode(json.loads(full.out))
    assert "clusters/cluster-00: 0 to add, 1 to change, 0 to destroy" in text.out
    assert "clusters/cluster-01: 0 to add, 1 to change, 0 to destroy" in text.out
    assert "~ update  Deployment/app-000/app-000" in text.out
    assert text.out.rstrip().endswith("Plan: 0 to add, 2 to change, 0 to destroy.")
