"""The base commit must be in the clone: a clear error when it is not (shallow CI clones),
a working diff when a shallow clone holds both commits."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run
from tests.support.gitrepo import TestRepo, generated_fleet_repo


def _history(tmp_path: Path) -> tuple[TestRepo, list[str]]:
    repo = generated_fleet_repo(tmp_path / "origin", clusters=1, kustomizations=1, seed=2)
    commits = [repo.commit("fleet")]
    for memory in (33, 34):
        repo.replace("apps/app-000/base/deployment.yaml", f"memory: {memory - 1}Mi", f"memory: {memory}Mi")
        commits.append(repo.commit(f"{memory}Mi"))
    return repo, commits


def test_unknown_base_commit_is_a_clear_error(tmp_path: Path) -> None:
    repo, _ = _history(tmp_path)
    result = run("diff", repo.path / "clusters", "--base", "0123456789abcdef0123456789abcdef01234567")
    assert result.code == 1
    assert "revision '0123456789abcdef0123456789abcdef01234567' is not in this clone" in result.err
    assert "shallow" not in result.err and "git fetch" in result.err


def test_shallow_clone_without_the_base_says_how_to_fetch_it(tmp_path: Path) -> None:
    origin, commits = _history(tmp_path)
    clone = origin.shallow_clone(tmp_path / "ci", depth=1)
    result = run("diff", clone.path / "clusters", "--base", commits[1])
    assert result.code == 1
    assert f"revision '{commits[1]}' is not in this clone (it is a shallow clone)" in result.err
    assert "fetch-depth: 0" in result.err
    assert result.out == ""


def test_shallow_clone_holding_both_commits_works(tmp_path: Path) -> None:
    origin, commits = _history(tmp_path)
    clone = origin.shallow_clone(tmp_path / "ci", depth=2)
    result = run("diff", clone.path / "clusters", "--base", "HEAD~1", "--format", "json", "--detailed-exitcode")
    assert result.code == 2, result.err
    data = json.loads(result.out)
    assert data["base"]["commit"] == commits[1] and data["head"]["commit"] == commits[2]
    (change,) = data["clusters"][0]["owners"][0]["changes"]
    assert change["fields"] == ["spec.template.spec.containers[0].resources.requests.memory"]
    assert "-            memory: 33Mi\n+            memory: 34Mi" in change["diff"]
