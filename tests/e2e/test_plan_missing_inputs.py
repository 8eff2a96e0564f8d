"""Honest partial plans: owners that cannot be planned fail `plan` by default, one line each;
`--partial` (or the --missing-* warn flag of their cause) plans the rest, lists them and
counts them in the summary, and `--detailed-exitcode` is then 2, never 0."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.e2e.state_from_plan import record_plan
from tests.support.cli import run
from tests.support.trees import write_tree
from tests.unit.planner.kustomization.test_discover_missing import FLEET


def _common(tmp_path: Path) -> tuple[str | Path, ...]:
    root = write_tree(tmp_path / "repo", FLEET)
    return (
        "plan",
        root / "clusters/dev",
        "--repo-root",
        root,
        "--no-cache",
        "--offline",
        "--chart-cache",
        tmp_path / "c",
    )


def test_default_fails_with_one_line_per_owner_and_writes_nothing(tmp_path: Path) -> None:
    failed = run(*_common(tmp_path), "--out", tmp_path / "plan.json")

    assert failed.code == 1 and failed.out == "" and not (tmp_path / "plan.json").exists()
    lines = failed.err.strip().splitlines()
    assert all(line.startswith("Error: ") for line in lines) and len(lines) == 4, failed.err
    assert "Kustomization/flux-system/team (clusters/dev/team.yaml): not planned: cannot resolve" in lines[0]
    assert "--source flux-system/team-repo=DIR" in lines[0]
    assert any("Kustomization/flux-system/tunnel (clusters/dev/tunnel.yaml)" in line for line in lines)
    assert any("HelmRelease/flux-system/web (apps/plain/release.yaml)" in line for line in lines)
    assert lines[-1] == (
        "Error: 3 owners not planned; fix these, or plan the rest with --partial "
        "(or --missing-objects warn, --missing-sources warn)"
    )


def test_a_flag_accepts_only_its_own_cause(tmp_path: Path) -> None:
    result = run(*_common(tmp_path), "--missing-sources", "warn")

    assert result.code == 1 and result.out == ""
    assert "team" not in result.err  # accepted: its source is not mapped
    assert "tunnel" in result.err and "web" in result.err


def test_partial_or_the_flags_plan_the_rest_and_never_exit_0_with_detailed_exitcode(tmp_path: Path) -> None:
    common = (*_common(tmp_path), "--no-color", "--detailed-exitcode")
    warned = run(*common, "--missing-sources", "warn", "--missing-objects", "warn")
    partial = run(*common, "--partial")
    as_json = run(*common, "--partial", "-o", "json")

    assert (warned.code, partial.code, as_json.code) == (2, 2, 2), warned.err + partial.err
    assert warned.out == partial.out
    assert "+ create  ConfigMap/default/plain" in warned.out
    assert "ConfigMap/default/tunnel" not in warned.out  # not planned: nothing of it is
    assert "not planned (clusters/dev/tunnel.yaml): substitute from 'Secret/tunnel-id'" in warned.out
    assert "made-in-the-cluster" in warned.out
    assert warned.out.rstrip().endswith("Plan: 6 to add, 0 to change, 0 to destroy; 3 owners not planned.")
    data = json.loads(as_json.out)
    assert data["summary"]["not_planned"] == 3
    left_out = {o["id"]: o for o in data["owners"] if o["status"] == "not planned"}
    assert set(left_out) == {
        "Kustomization/flux-system/team",
        "Kustomization/flux-system/tunnel",
        "HelmRelease/flux-system/web",
    }
    assert left_out["HelmRelease/flux-system/web"]["file"] == "apps/plain/release.yaml"


def test_a_plan_with_nothing_to_change_but_owners_left_out_is_not_no_changes(tmp_path: Path) -> None:
    """Planned against the state its own first plan would leave: nothing changes in what was
    planned, but owners were left out, so the exit is 2, not 0."""
    first = run(*_common(tmp_path), "--partial", "--out", tmp_path / "first.json")
    assert first.code == 0, first.err
    state = tmp_path / "state.json"
    record_plan(tmp_path / "first.json", state, mask_key=base64.b64encode(bytes(32)).decode())
    again = run(*_common(tmp_path), "--partial", "--state", state, "--detailed-exitcode", "--no-color")

    assert again.code == 2, again.out + again.err
    assert "Plan: 0 to add, 0 to change, 0 to destroy; 3 owners not planned." in again.out
