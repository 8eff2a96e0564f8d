"""`fluxform plan --missing-sources/--missing-objects`: the flags reach discovery and Helm,
the default stays a one-line error, and warn plans the rest of the fleet."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run
from tests.support.fleets import MISSING_INPUTS
from tests.support.trees import write_tree


def test_default_fails_with_one_line_and_warn_plans_the_rest(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", MISSING_INPUTS)
    common: tuple[str | Path, ...] = ("plan", root / "clusters/dev", "--repo-root", root, "--no-cache", "--offline")
    common += ("--chart-cache", tmp_path / "charts")

    failed = run(*common)
    warned = run(*common, "--missing-sources", "warn", "--missing-objects", "warn", "--no-color")

    assert failed.code == 1 and failed.out == ""
    assert len(failed.err.strip().splitlines()) == 1
    assert "GitRepository/flux-system/team-repo" in failed.err and "--source" in failed.err
    assert warned.code == 0, warned.err
    assert "+ create  ConfigMap/default/plain" in warned.out
    assert "tunnel.yaml): not rendered: substitute from 'Secret/tunnel-id'" in warned.out
    assert "HelmRelease/flux-system/web" in warned.out and "made-in-the-cluster" in warned.out
    assert "ConfigMap/default/tunnel" not in warned.out  # not rendered: nothing of it is planned


def test_owners_not_planned_are_listed_in_every_format_and_the_summary(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", MISSING_INPUTS)
    common: tuple[str | Path, ...] = ("plan", root / "clusters/dev", "--repo-root", root, "--no-cache", "--offline")
    common += ("--chart-cache", tmp_path / "charts", "--missing-sources", "warn", "--missing-objects", "warn")
    plan_file = tmp_path / "plan.json"
    text = run(*common, "--no-color", "--out", plan_file)
    markdown = run(*common, "--format", "markdown")

    not_planned = json.loads(plan_file.read_text())["not_planned"]
    assert [(n["owner"], n["file"]) for n in not_planned] == [
        ("Kustomization/flux-system/team", "clusters/dev/team.yaml"),
        ("Kustomization/flux-system/tunnel", "clusters/dev/tunnel.yaml"),
        ("HelmRelease/flux-system/web", "apps/plain/release.yaml"),
    ]
    assert "cannot resolve spec.sourceRef GitRepository/flux-system/team-repo" in not_planned[0]["reason"]
    assert json.loads(plan_file.read_text())["summary"]["not_planned"] == 3
    assert text.out.endswith("\nPlan: 6 to add, 0 to change, 0 to destroy; 3 owners not planned.\n")
    assert (
        "Kustomization/flux-system/tunnel  (GitRepository/flux-system/flux-system, ./apps/tunnel)\n"
        "  not planned (its objects are left as they are): not rendered: substitute from 'Secret/tunnel-id'"
    ) in text.out
    assert "**Plan: 6 to add, 0 to change, 0 to destroy; 3 owners not planned.**" in markdown.out
    assert (
        "- `HelmRelease/flux-system/web` (`apps/plain/release.yaml`): not rendered: could not resolve" in markdown.out
    )
    assert run("show", plan_file).out == text.out
