"""Property over a history: on every commit of a 50-commit history of a generated fleet, the
changed-only diff of the commit against its parent is exactly the full diff, with each
diff starting from the index the previous one kept (carried forward from its base's), as
in CI where each pull request's base is the head an earlier run saw. The carried indexes
must also be exactly the indexes a whole render of those revisions makes."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from bench.fleetgen import FleetSpec, generate_fleet
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.revdiff.changed import IndexStore
from fluxform.planner.revdiff.compare import FleetDiff
from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions
from fluxform.planner.validation import ValidationOptions
from fluxform.planner.workflow import FleetRequest
from fluxform.sources.chart_cache import ChartCache
from fluxform.views.revdiff import diff_to_dict
from tests.support.fleet_edits import APPS, CLUSTERS, EDITS, apply_edit, write_extra_components
from tests.support.gitrepo import TestRepo

COMMITS = 50


def _history(repo: TestRepo, seed: int) -> list[str]:
    """The fleet, then COMMITS commits of one to three random edits each."""
    generate_fleet(repo.path, FleetSpec(clusters=CLUSTERS, kustomizations=APPS, seed=seed))
    write_extra_components(repo.path)
    commits = [repo.commit("fleet")]
    rng = random.Random(seed)
    for number in range(COMMITS):
        edits = [(rng.choice(EDITS), rng.randrange(8)) for _ in range(rng.randint(1, 3))]
        for name, n in edits:
            apply_edit(repo.path, name, n)
        commits.append(repo.commit(f"{number}: {', '.join(name for name, _ in edits)}"))
    return commits


def _diff(repo: TestRepo, base: str, head: str, cache: Path, *, changed_only: bool, index: Path) -> FleetDiff:
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(cache / "charts")))
    discover = DiscoverOptions(cache=BuildCache(cache / "builds"), jobs=2, helm=helm)
    fleet = FleetRequest(discover, validation=ValidationOptions(enabled=True))  # as `fluxform diff` runs
    request = DiffRequest(
        (repo.path / "clusters",), base, head, fleet=fleet, changed_only=changed_only, index_dir=index
    )
    return diff_revisions(request)


def _comparable(result: FleetDiff) -> list[Any]:
    data = diff_to_dict(result)
    clusters = [(c["path"], c["status"], c["summary"], c["owners"], c["diagnostics"]) for c in data["clusters"]]
    return [*clusters, data["summary"]]


def test_changed_only_equals_full_on_every_commit_of_a_history(tmp_path: Path) -> None:
    repo = TestRepo.create(tmp_path / "repo")
    commits = _history(repo, seed=7)
    chained, whole = tmp_path / "index-chained", tmp_path / "index-whole"

    for number, (base, head) in enumerate(itertools.pairwise(commits)):
        full = _diff(repo, base, head, tmp_path, changed_only=False, index=whole)
        changed = _diff(repo, base, head, tmp_path, changed_only=True, index=chained)
        assert _comparable(changed) == _comparable(full), repo.git("log", "-1", "--format=%s", head)
        # only the first diff renders its base whole: every later one starts from a kept index
        assert changed.timings.get("cold", 0) == (CLUSTERS if number == 0 else 0)

    # every index the chain carried forward is the one a whole render of that revision makes
    kept = sorted(p.name for p in chained.iterdir())
    trees = {repo.git("rev-parse", f"{c}^{{tree}}") for c in commits}  # an edit may undo an earlier one
    assert len(kept) == len(trees) * CLUSTERS
    for name in kept:
        key = name.removesuffix(".json")
        carried, rendered = IndexStore(chained).load(key), IndexStore(whole).load(key)
        assert carried is not None and carried == rendered, name
