"""`diff` reads each revision as source-controller archives it: a file the GitRepository's
`spec.ignore`, a `.sourceignore` or source-controller's default exclusions leave out of the
artifact never reaches a build, so changing it changes nothing, as in `plan`. And a change
to `spec.ignore` itself changes what every owner reads, changed-only included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import FIXTURES, KEYS, run
from tests.support.gitrepo import TestRepo

CLUSTER = "fleet/clusters/staging"
SYNC = f"{CLUSTER}/flux-system/gotk-sync.yaml"
NOTES = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  text: "{text}"
"""
SPEC_URL = "  url: ssh://git@github.com/example-org/fleet-infra\n"


def _ignore(repo: TestRepo, pattern: str) -> None:
    """spec.ignore on the self source's GitRepository of the staging cluster."""
    repo.replace(SYNC, SPEC_URL, SPEC_URL + f"  ignore: |\n    {pattern}\n")


def _diff(repo: TestRepo, base: str, *flags: str) -> dict[str, Any]:
    result = run("diff", repo.path / CLUSTER, "--base", base, "--keys-dir", KEYS, "-o", "json", *flags)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


TEAM_BLUE = "Kustomization/flux-system/team-blue"
ROOT = "Kustomization/flux-system/flux-system"


def _changed(data: dict[str, Any], owner_id: str) -> list[tuple[str, str]]:
    """The changes of one owner (a chart from the GitRepository changes at every commit)."""
    return sorted(
        (c["action"], f"{c['kind']}/{c['name']}")
        for cluster in data["clusters"]
        for owner in cluster["owners"]
        if owner["id"] == owner_id
        for c in owner["changes"]
    )


def _repo(tmp_path: Path) -> TestRepo:
    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(FIXTURES / "fleet", "fleet")
    return repo


@pytest.mark.parametrize(
    ("ignored", "setup"),
    [
        ("fleet/tenants/team-blue/notes.yaml", "spec.ignore"),
        ("fleet/tenants/team-blue/notes.yaml", ".sourceignore"),
        ("fleet/tenants/team-blue/.github/notes.yaml", "default exclusions"),
    ],
    ids=["spec-ignore", "sourceignore", "default-exclusions"],
)
@pytest.mark.parametrize("mode", [(), ("--full",)], ids=["changed-only", "full"])
def test_an_ignored_file_that_differs_changes_nothing(
    tmp_path: Path, ignored: str, setup: str, mode: tuple[str, ...]
) -> None:
    repo = _repo(tmp_path)
    if setup == "spec.ignore":
        _ignore(repo, "/tenants/team-blue/notes.yaml")
    elif setup == ".sourceignore":
        repo.write("fleet/.sourceignore", "/tenants/team-blue/notes.yaml\n")
    repo.write(ignored, NOTES.format(text="one"))
    base = repo.commit("an ignored file")
    repo.write(ignored, NOTES.format(text="two"))
    repo.commit("the ignored file changes")

    data = _diff(repo, base, *mode)

    assert _changed(data, TEAM_BLUE) == []
    # the same file, not ignored, is a change: the test would see one
    plan = run("plan", repo.path / CLUSTER, "--keys-dir", KEYS, "-o", "json")
    assert plan.code == 0, plan.err
    assert "notes" not in {c["name"] for c in json.loads(plan.out)["changes"]}


DOCS_KS = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: docs
  namespace: flux-system
spec:
  interval: 10m
  sourceRef:
    kind: GitRepository
    name: flux-system
  path: ./docs
  targetNamespace: default
  prune: true
"""


@pytest.mark.parametrize("mode", [(), ("--full",)], ids=["changed-only", "full"])
def test_a_new_spec_ignore_drops_what_it_names(tmp_path: Path, mode: tuple[str, ...]) -> None:
    """The owner reading the newly ignored file looks up nothing and no file it reads
    changed: changed-only must still render it, as its artifact is not the base's."""
    repo = _repo(tmp_path)
    repo.write(f"{CLUSTER}/docs.yaml", DOCS_KS)
    repo.write("fleet/docs/notes.yaml", NOTES.format(text="one"))
    repo.write("fleet/docs/index.yaml", NOTES.format(text="kept").replace("notes", "index"))
    base = repo.commit("a docs Kustomization")
    _ignore(repo, "/docs/notes.yaml")
    repo.commit("ignore the notes")

    data = _diff(repo, base, *mode)

    assert _changed(data, "Kustomization/flux-system/docs") == [("delete", "ConfigMap/notes")]
    assert ("update", "GitRepository/flux-system") in _changed(data, ROOT)
