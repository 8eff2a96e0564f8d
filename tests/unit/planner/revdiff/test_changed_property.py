"""Property: on generated fleets and random edits committed to a real git repository, the
changed-only diff (clusters skipped, only affected owners compared, a kept base index) is
exactly the full diff."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fleetgen import FleetLayout, FleetSpec, app_name, cluster_name, generate_fleet
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions
from fluxform.planner.workflow import FleetRequest
from fluxform.sources.chart_cache import ChartCache
from fluxform.views.revdiff import diff_to_dict
from tests.support.fleet_edits import APPS, CLUSTERS, EDITS, apply_edit, write_extra_components
from tests.support.gitrepo import TestRepo

CACHE = Path(tempfile.mkdtemp(prefix="fluxform-property-cache-"))  # shared: builds repeat across examples


def _comparable(data: dict[str, Any]) -> list[Any]:
    """What a reviewer sees: per cluster its status, counts, every owner's changes and the
    warnings."""
    clusters = [(c["path"], c["status"], c["summary"], c["owners"], c["diagnostics"]) for c in data["clusters"]]
    return [*clusters, data["summary"]]


def _diff(repo: TestRepo, base: str, *, changed_only: bool, index_dir: Path) -> dict[str, Any]:
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(CACHE / "charts")))
    fleet = FleetRequest(DiscoverOptions(cache=BuildCache(CACHE / "builds"), jobs=2, helm=helm))
    request = DiffRequest((repo.path / "clusters",), base, fleet=fleet, changed_only=changed_only, index_dir=index_dir)
    return diff_to_dict(diff_revisions(request))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 7)), min_size=1, max_size=3),
)
def test_changed_only_diff_equals_full_diff(seed: int, edits: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory(prefix="fluxform-property-") as tmp:
        repo = TestRepo.create(Path(tmp) / "repo")
        layout: FleetLayout = generate_fleet(repo.path, FleetSpec(clusters=CLUSTERS, kustomizations=APPS, seed=seed))
        assert layout.flux_kustomizations == CLUSTERS * APPS
        if seed % 2:  # an owner Flux leaves alone: both modes must show it the same way
            suspended = repo.path / f"clusters/{cluster_name(0)}/apps/{app_name(1)}.yaml"
            suspended.write_text(suspended.read_text().replace("spec:\n", "spec:\n  suspend: true\n", 1))
        write_extra_components(repo.path)
        base = repo.commit("fleet")
        for name, n in edits:
            apply_edit(repo.path, name, n)
        repo.commit("edits")

        full = _diff(repo, base, changed_only=False, index_dir=Path(tmp) / "index")
        cold = _diff(repo, base, changed_only=True, index_dir=Path(tmp) / "index")
        warm = _diff(repo, base, changed_only=True, index_dir=Path(tmp) / "index")  # base index from the cold run

        assert _comparable(cold) == _comparable(full)
        assert _comparable(warm) == _comparable(full)
        for cluster in full["clusters"]:  # every unrendered cluster really had nothing to show
            skipped = next(c for c in warm["clusters"] if c["path"] == cluster["path"])
            assert skipped["rendered"] or cluster["status"] == "unchanged"
