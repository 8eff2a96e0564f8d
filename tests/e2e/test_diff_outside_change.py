"""Changes no Kustomization reads (docs, CI config) give no diff, and changed-only mode
does not even render the clusters once it has the base revision's index."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run
from tests.support.gitrepo import generated_fleet_repo


def test_change_outside_every_kustomization_gives_no_diff(tmp_path: Path) -> None:
    repo = generated_fleet_repo(tmp_path / "repo", clusters=2, kustomizations=2, seed=7)
    repo.write("README.md", "# fleet\n")
    base = repo.commit("fleet")
    repo.write("README.md", "# fleet\n\nNow with docs.\n")
    repo.write(".github/workflows/diff.yaml", "on: pull_request\n")
    repo.write("docs/runbook.yaml", "kind: NotAManifest\n")
    repo.commit("docs only")
    args = ("diff", repo.path / "clusters", "--base", base, "--format", "json", "--detailed-exitcode")

    first, second, full = run(*args), run(*args), run(*args, "--full")

    assert (first.code, second.code, full.code) == (0, 0, 0), (first.err, second.err, full.err)
    for result in (first, second, full):
        data = json.loads(result.out)
        assert data["summary"] == {"add": 0, "change": 0, "destroy": 0, "forget": 0, "not_planned": 0}
        assert {c["status"] for c in data["clusters"]} == {"unchanged"}
        assert all(c["owners"] == [] for c in data["clusters"])
    assert [c["rendered"] for c in json.loads(first.out)["clusters"]] == [False, False]  # base rendered for the index
    assert [c["rendered"] for c in json.loads(full.out)["clusters"]] == [True, True]
    assert [c["unchanged_owners"] for c in json.loads(full.out)["clusters"]] == [5, 5]  # root, 2 ks, 2 releases
