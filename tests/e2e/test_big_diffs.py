"""Readable big diffs (issue 22, item 5): a label bump on 40 objects is printed once, with the
list of the objects; a long diff is cut per object with a count; the summary names the owners
with the most changes. In `plan` and `diff`, text and Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.state_from_plan import record_plan
from tests.support.cli import KEYS, Result, run
from tests.support.gitrepo import TestRepo
from tests.support.keys import mask_key_of
from tests.support.trees import flux_kustomization, kustomization_file

OBJECTS = 40
BUMP = 'metadata.labels.version: "1.2" -> "1.3"'


def _configmap(name: str, **data: str) -> str:
    lines = "".join(f"  {key}: {value!r}\n" for key, value in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n{lines}"


def _fleet(repo: TestRepo) -> None:
    """Kustomization apps: 40 ConfigMaps labelled version 1.2, and one with 100 settings;
    Kustomization tools: two ConfigMaps."""
    names = [f"cm-{i:02}.yaml" for i in range(OBJECTS)]
    repo.write("clusters/dev/apps.yaml", flux_kustomization("apps", "./apps"))
    repo.write("clusters/dev/tools.yaml", flux_kustomization("tools", "./tools"))
    kustomization = kustomization_file(*names, "big.yaml") + 'labels:\n- pairs:\n    version: "1.2"\n'
    repo.write("apps/kustomization.yaml", kustomization)
    for index, name in enumerate(names):
        repo.write(f"apps/{name}", _configmap(f"cm-{index:02}", index=str(index)))
    repo.write("apps/big.yaml", _configmap("big", **{f"key{i:03}": "old" for i in range(100)}))
    repo.write("tools/kustomization.yaml", kustomization_file("a.yaml", "b.yaml"))
    repo.write("tools/a.yaml", _configmap("a", mode="x"))
    repo.write("tools/b.yaml", _configmap("b", mode="x"))


def _bump(repo: TestRepo) -> None:
    repo.replace("apps/kustomization.yaml", 'version: "1.2"', 'version: "1.3"')
    repo.replace("apps/big.yaml", "'old'", "'new'")
    repo.replace("tools/a.yaml", "'x'", "'y'")


def _check_text(out: str) -> None:
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.strip() == f"~ update  {OBJECTS} objects: {BUMP}")
    listed = [line.strip() for line in lines[head + 1 : head + 1 + OBJECTS]]
    assert listed == [f"ConfigMap/apps/cm-{i:02}" for i in range(OBJECTS)]
    assert sum('"1.2" -> "1.3"' in line for line in lines) == 1  # the edit is printed once
    assert "~ update  ConfigMap/apps/big" in out  # its edit differs (100 settings too): on its own
    assert "more diff lines cut (the whole diff: -o json)" in out
    assert sum(line.lstrip().startswith(("+  key", "-  key")) for line in lines) < 60
    assert "Most changes: Kustomization/flux-system/apps (41), Kustomization/flux-system/tools (1)." in out


def _check_markdown(out: str) -> None:
    assert f"~ update {OBJECTS} objects: {BUMP}" in out
    assert "    ConfigMap/apps/cm-39" in out and out.count('"1.2" -> "1.3"') == 1
    assert "more diff lines cut" in out
    assert "Most changes: `Kustomization/flux-system/apps` (41)" in out


@pytest.fixture
def repo(tmp_path: Path) -> TestRepo:
    repo = TestRepo.create(tmp_path / "repo")
    _fleet(repo)
    return repo


def test_plan_groups_a_label_bump_and_cuts_a_long_diff(repo: TestRepo, tmp_path: Path) -> None:
    cluster, plan_file, state = repo.path / "clusters/dev", tmp_path / "plan.json", tmp_path / "state.json"
    common = ("--repo-root", repo.path, "--no-cache", "--no-color")
    first: Result = run("plan", cluster, *common, "--out", plan_file)
    assert first.code == 0, first.err
    record_plan(plan_file, state, mask_key=mask_key_of(KEYS))
    _bump(repo)

    text = run("plan", cluster, *common, "--state", state)
    markdown = run("plan", cluster, *common, "--state", state, "-o", "markdown")

    assert text.code == markdown.code == 0, text.err + markdown.err
    assert text.out.endswith("Plan: 0 to add, 42 to change, 0 to destroy.\n")
    _check_text(text.out)
    _check_markdown(markdown.out)


def test_diff_groups_a_label_bump_and_cuts_a_long_diff(repo: TestRepo) -> None:
    base = repo.commit("base")
    _bump(repo)
    repo.commit("bump")
    args = ("diff", repo.path / "clusters/dev", "--base", base, "--no-step-summary", "--no-color")

    text = run(*args)
    markdown = run(*args, "-o", "markdown")

    assert text.code == markdown.code == 0, text.err + markdown.err
    assert text.out.endswith("Plan: 0 to add, 42 to change, 0 to destroy.\n")
    _check_text(text.out)
    _check_markdown(markdown.out)
