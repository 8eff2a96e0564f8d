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


OWNERS = 10
PASSWORDS = ("c2VjcmV0LW9uZQ==", "c2VjcmV0LXR3bw==")  # two values, five owners each


def _secret(name: str, password: str) -> str:
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n  password: {password}\n"
    )


def _fleet_of_owners(repo: TestRepo) -> None:
    """Ten Kustomizations labelling their four ConfigMaps version 1.2, each with a Secret."""
    for owner in range(OWNERS):
        names = [f"cm-{owner}-{i}.yaml" for i in range(4)]
        repo.write(f"clusters/dev/team-{owner}.yaml", flux_kustomization(f"team-{owner}", f"./teams/{owner}"))
        labels = 'labels:\n- pairs:\n    version: "1.2"\n  includeSelectors: false\n'
        repo.write(f"teams/{owner}/kustomization.yaml", kustomization_file(*names, "secret.yaml") + labels)
        for index, name in enumerate(names):
            repo.write(f"teams/{owner}/{name}", _configmap(f"cm-{owner}-{index}", index=str(index)))
        repo.write(f"teams/{owner}/secret.yaml", _secret(f"secret-{owner}", "b2xk"))


def _bump_all(repo: TestRepo) -> None:
    """The label bump in every owner, and each Secret's password changed (to one of two values)."""
    for owner in range(OWNERS):
        repo.replace(f"teams/{owner}/kustomization.yaml", 'version: "1.2"', 'version: "1.3"')
        repo.replace(f"teams/{owner}/secret.yaml", "b2xk", PASSWORDS[owner % 2])


def _check_across(out: str, indent: str) -> None:
    lines = [line.strip() for line in out.splitlines()]
    head = lines.index(f"~ update{indent}40 objects in {OWNERS} owners: {BUMP}")
    listed = lines[head + 1 : head + 41]
    assert listed == [
        f"ConfigMap/apps/cm-{o}-{i}  (Kustomization/flux-system/team-{o})" for o in range(OWNERS) for i in range(4)
    ]
    assert sum('"1.2" -> "1.3"' in line for line in lines) == 2  # once for the ConfigMaps, once for the Secrets
    # the Secrets: one group by path (both values alike), each with the label bump; no fingerprint in it
    secrets = lines.index(f"~ update{indent}{OWNERS} objects in {OWNERS} owners, each:")
    assert lines[secrets + 1 : secrets + 3] == ["data.password: masked value changed", BUMP]
    assert "hmac" not in "\n".join(lines[secrets : secrets + 3 + OWNERS])
    assert sum("update(s) made alike across owners, listed above" in line for line in lines) == OWNERS


@pytest.fixture
def owners_repo(tmp_path: Path) -> TestRepo:
    repo = TestRepo.create(tmp_path / "owners")
    _fleet_of_owners(repo)
    return repo


def test_plan_and_show_group_one_edit_across_owners(owners_repo: TestRepo, tmp_path: Path) -> None:
    cluster, plan_file, state = owners_repo.path / "clusters/dev", tmp_path / "plan.json", tmp_path / "state.json"
    common = ("--repo-root", owners_repo.path, "--no-cache", "--no-color")
    first = run("plan", cluster, *common, "--out", plan_file)
    assert first.code == 0, first.err
    record_plan(plan_file, state, mask_key=mask_key_of(KEYS))
    _bump_all(owners_repo)

    text = run("plan", cluster, *common, "--state", state, "--out", plan_file)
    markdown = run("plan", cluster, *common, "--state", state, "-o", "markdown")
    shown = run("show", plan_file, "--no-color")
    shown_markdown = run("show", plan_file, "-o", "markdown")

    assert {text.code, markdown.code, shown.code, shown_markdown.code} == {0}, text.err + markdown.err + shown.err
    assert text.out.endswith(f"Plan: 0 to add, {OWNERS * 5} to change, 0 to destroy.\n")
    for out, indent in ((text.out, "  "), (shown.out, "  "), (markdown.out, " "), (shown_markdown.out, " ")):
        _check_across(out, indent)
    assert "<summary>Made alike across owners: 50 update(s)</summary>" in markdown.out


def test_diff_groups_one_edit_across_owners(owners_repo: TestRepo) -> None:
    base = owners_repo.commit("base")
    _bump_all(owners_repo)
    owners_repo.commit("bump")
    args = ("diff", owners_repo.path / "clusters/dev", "--base", base, "--no-step-summary", "--no-color")

    text = run(*args)
    markdown = run(*args, "-o", "markdown")

    assert text.code == markdown.code == 0, text.err + markdown.err
    _check_across(text.out, "  ")
    _check_across(markdown.out, " ")
    assert "`clusters/dev`: made alike across owners: 50 update(s)" in markdown.out
