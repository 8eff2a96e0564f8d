"""CI output: markdown tables then collapsible per-owner diffs, capped with a note of what
was cut; $GITHUB_STEP_SUMMARY appended; --out JSON; --detailed-exitcode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.gitrepo import TestRepo, generated_fleet_repo


@pytest.fixture
def changed_fleet(tmp_path: Path) -> tuple[TestRepo, str]:
    """Every app's base changes: one update per Kustomization in each of 2 clusters, each
    its own (one edit made in several owners would be grouped across them)."""
    repo = generated_fleet_repo(tmp_path / "repo", clusters=2, kustomizations=3, seed=11)
    base = repo.commit("fleet")
    for number, app in enumerate(("app-000", "app-001", "app-002"), start=1):
        repo.replace(f"apps/{app}/base/service.yaml", "port: 80", f"port: 808{number}")
    repo.commit("services on 8081")
    return repo, base


def test_markdown_has_tables_then_collapsible_diffs(changed_fleet: tuple[TestRepo, str]) -> None:
    repo, base = changed_fleet
    result = run("diff", repo.path / "clusters", "--base", base, "--format", "markdown")
    assert result.code == 0, result.err
    md = result.out
    assert md.startswith(f"### fluxform diff: `{base}` → `HEAD`\n\n**Plan: 0 to add, 6 to change, 0 to destroy.**")
    assert md.count("| Owner | Status | + add | ~ change | - destroy | . forget |") == 2
    assert "| `Kustomization/flux-system/app-001` | changed | 0 | 1 | 0 | 0 |" in md
    assert md.count("<details><summary>") == 6 and md.count("</details>") == 6
    assert md.index("#### `clusters/cluster-01`") < md.index("<details>")  # every table before any diff
    assert "-  - port: 80\n+  - port: 8081" in md
    assert "Not shown" not in md


def test_markdown_is_capped_with_a_note_of_what_was_cut(changed_fleet: tuple[TestRepo, str]) -> None:
    repo, base = changed_fleet
    result = run("diff", repo.path / "clusters", "--base", base, "--format", "markdown", "--markdown-limit", "4000")
    assert result.code == 0, result.err
    assert len(result.out) <= 4000
    assert result.out.count("```mermaid") == 2  # the graphs come first, then tables, then diffs
    shown = result.out.count("<details>")
    assert 0 < shown < 6
    assert f"the diffs of {6 - shown} owner(s) ({6 - shown} change(s))" in result.out


def test_step_summary_out_file_and_exit_codes(
    changed_fleet: tuple[TestRepo, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base = changed_fleet
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "diff.json"

    changed = run("diff", repo.path / "clusters", "--base", base, "--detailed-exitcode", "--out", out)
    same = run("diff", repo.path / "clusters", "--base", "HEAD", "--detailed-exitcode", "--no-step-summary")

    assert (changed.code, same.code) == (2, 0), (changed.err, same.err)
    text = summary.read_text()
    assert text.startswith("earlier step\n### fluxform diff:") and text.count("### fluxform diff") == 1
    data = json.loads(out.read_text())
    assert (data["kind"], data["format_version"], data["summary"]["change"]) == ("fluxform-diff", "1.0", 6)
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in same.out
