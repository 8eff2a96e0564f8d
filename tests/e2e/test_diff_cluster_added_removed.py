"""A cluster path that exists at one revision only: all of it is created, or all pruned.
The removed one need not exist in the work tree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.cli import run
from tests.support.gitrepo import generated_fleet_repo


def test_cluster_path_added_and_removed(tmp_path: Path) -> None:
    repo = generated_fleet_repo(tmp_path / "repo", clusters=2, kustomizations=1, seed=4)
    base = repo.commit("fleet")
    shutil.copytree(repo.path / "clusters/cluster-01", repo.path / "clusters/cluster-09")
    repo.replace("clusters/cluster-09/flux-system/gotk-sync.yaml", "./clusters/cluster-01", "./clusters/cluster-09")
    shutil.rmtree(repo.path / "clusters/cluster-01")
    repo.commit("replace cluster-01 by cluster-09")

    paths = [repo.path / "clusters/cluster-01", repo.path / "clusters/cluster-09"]
    result = run("diff", *paths, "--base", base, "--format", "json", "--detailed-exitcode")

    assert result.code == 2, result.err
    removed, added = json.loads(result.out)["clusters"]
    assert (removed["path"], removed["status"]) == ("clusters/cluster-01", "removed")
    assert (added["path"], added["status"]) == ("clusters/cluster-09", "added")
    objects = removed["summary"]["destroy"]
    assert objects > 5 and removed["summary"] == {
        "add": 0,
        "change": 0,
        "destroy": objects,
        "forget": 0,
        "not_planned": 0,
    }
    assert added["summary"] == {"add": objects, "change": 0, "destroy": 0, "forget": 0, "not_planned": 0}
    assert {o["status"] for o in removed["owners"]} == {"removed"}
    assert {o["status"] for o in added["owners"]} == {"added"}

    missing = run("diff", repo.path / "clusters/nowhere", "--base", base)
    assert missing.code == 1 and "clusters/nowhere exists at neither revision" in missing.err
