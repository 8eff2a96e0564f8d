"""`fluxform diff PATH` without --head compares with the work tree (issue 22, item 6): HEAD (or
--base) against the files as `git add -A` would stage them: uncommitted edits and untracked
files, not ignored ones. The user's index, status and object store stay as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import FIXTURES, run
from tests.support.gitrepo import TestRepo


def _configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: hello\ndata:\n  a: b\n"


@pytest.fixture
def repo(tmp_path: Path) -> TestRepo:
    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(FIXTURES / "minimal")
    repo.write(".gitignore", "clusters/dev/ignored.yaml\n")
    repo.commit("base")
    return repo


def _loose_objects(repo: TestRepo) -> set[Path]:
    return {p for p in (repo.path / ".git" / "objects").rglob("*") if p.is_file()}


def _changes(result_out: str) -> dict[str, str]:
    data = json.loads(result_out)
    return {
        f"{c['kind']}/{c['name']}": c["action"]
        for cluster in data["clusters"]
        for owner in cluster["owners"]
        for c in owner["changes"]
    }


def test_head_against_uncommitted_and_untracked_files(repo: TestRepo) -> None:
    repo.replace("apps/hello/deployment.yaml", "replicas: 1", "replicas: 4")  # uncommitted edit
    repo.write("apps/hello/extra.yaml", _configmap("extra"))  # untracked, used by the edited kustomization
    repo.replace("apps/hello/kustomization.yaml", "  - deployment.yaml", "  - deployment.yaml\n  - extra.yaml")
    repo.write("clusters/dev/ignored.yaml", _configmap("ignored"))  # ignored: not part of the change
    status, objects = repo.git("status", "--porcelain"), _loose_objects(repo)

    result = run("diff", repo.path / "clusters/dev", "-o", "json", "--no-step-summary", "--detailed-exitcode")

    assert result.code == 2, result.err
    data = json.loads(result.out)
    assert data["base"]["revision"] == "HEAD" and data["head"]["revision"] == "work tree"
    assert data["base"]["commit"] == repo.git("rev-parse", "HEAD").strip()
    assert _changes(result.out) == {"Deployment/hello": "update", "ConfigMap/extra": "create"}
    assert sorted(data["changed_files"]) == [
        "apps/hello/deployment.yaml",
        "apps/hello/extra.yaml",
        "apps/hello/kustomization.yaml",
    ]
    assert repo.git("status", "--porcelain") == status  # index and work tree as they were
    assert _loose_objects(repo) == objects  # nothing written to the repository's object store
    text = run("diff", repo.path / "clusters/dev", "--no-step-summary")
    assert text.out.startswith("fluxform diff HEAD (") and " -> work tree (" in text.out.splitlines()[0]


def test_base_alone_compares_that_revision_with_the_work_tree(repo: TestRepo) -> None:
    base = repo.git("rev-parse", "HEAD").strip()
    repo.write("apps/hello/committed.yaml", _configmap("committed"))
    repo.replace("apps/hello/kustomization.yaml", "  - deployment.yaml", "  - deployment.yaml\n  - committed.yaml")
    repo.commit("add a ConfigMap")
    repo.replace("apps/hello/deployment.yaml", "replicas: 1", "replicas: 2")  # and an uncommitted edit

    result = run("diff", repo.path / "clusters/dev", "--base", base, "-o", "json", "--no-step-summary")

    assert result.code == 0, result.err
    assert _changes(result.out) == {"Deployment/hello": "update", "ConfigMap/committed": "create"}
    assert json.loads(result.out)["base"]["commit"] == base


def test_a_clean_work_tree_is_head(repo: TestRepo) -> None:
    result = run("diff", repo.path / "clusters/dev", "-o", "json", "--no-step-summary", "--detailed-exitcode")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["head"] == {"revision": "HEAD", "commit": repo.git("rev-parse", "HEAD").strip()}
    assert data["summary"]["change"] == 0 and data["changed_files"] == []


def test_head_without_base_is_a_usage_error(repo: TestRepo) -> None:
    result = run("diff", repo.path / "clusters/dev", "--head", "HEAD")
    assert result.code == 1 and "--head needs --base" in result.err
