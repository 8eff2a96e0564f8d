"""`fluxform plan --missing-sources/--missing-objects`: the flags reach discovery and Helm,
the default stays a one-line error, and warn plans the rest of the fleet."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.cli import run
from tests.support.trees import write_tree
from tests.unit.planner.kustomization.test_discover_missing import FLEET


def test_default_fails_with_one_line_and_warn_plans_the_rest(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", FLEET)
    common = ("plan", root / "clusters/dev", "--repo-root", root, "--no-cache", "--offline")
    common += ("--chart-cache", tmp_path / "charts")

    failed = run(*common)
    warned = run(*common, "--missing-sources", "warn", "--missing-objects", "warn")

    assert failed.code == 1 and failed.out == ""
    assert len(failed.err.strip().splitlines()) == 1
    assert "GitRepository/flux-system/team-repo" in failed.err and "--source" in failed.err
    assert warned.code == 0, warned.err
    assert "+ create  ConfigMap/default/plain" in warned.out
    assert "tunnel.yaml): not rendered: substitute from 'Secret/tunnel-id'" in warned.out
    assert "HelmRelease/flux-system/web" in warned.out and "made-in-the-cluster" in warned.out
    assert "ConfigMap/default/tunnel" not in warned.out  # not rendered: nothing of it is planned
