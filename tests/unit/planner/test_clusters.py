"""Several clusters planned in one run: each plan is the plan of that cluster alone, and a
build both clusters need (equal inputs) runs once (counted, not timed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fluxform.errors import FluxformError
from fluxform.planner.clusters import ClusterTarget, cluster_names, plan_clusters
from fluxform.planner.kustomization.run_cache import RunBuildCache
from fluxform.planner.options import FleetOptions, Policy
from fluxform.planner.planfile import plan_file_from
from fluxform.planner.workflow import FleetRequest, plan_fleet
from tests.support.cli import FIXTURES, KEYS

CLUSTERS = (FIXTURES / "fleet/clusters/production", FIXTURES / "fleet/clusters/staging")
OPTIONS = FleetOptions(keys_dir=KEYS, missing_charts=Policy.WARN, offline=True)


def _request(cache: RunBuildCache) -> FleetRequest:
    request = OPTIONS.request()
    return replace(request, discover=replace(request.discover, cache=cache, jobs=1))


def test_a_build_both_clusters_need_runs_once_and_each_plan_is_its_own(tmp_path: Path) -> None:
    helm = replace(OPTIONS.helm(), cache=None)
    alone = []
    builds_alone = 0
    for path in CLUSTERS:
        cache = RunBuildCache(None)  # nothing on disk: every build counted
        alone.append(plan_fleet(path, _request(cache), helm=helm))
        builds_alone += cache.misses

    together = RunBuildCache(None)
    plans = plan_clusters([ClusterTarget(p) for p in CLUSTERS], _request(together), helm=helm)

    assert [plan_file_from(p) for p in plans] == [plan_file_from(p) for p in alone]
    assert together.shared > 0  # the clusters build some paths with equal inputs
    assert together.misses + together.shared == builds_alone  # ...and those, only those, ran once
    assert together.misses < builds_alone


def test_cluster_names_are_the_last_path_components_and_must_differ(tmp_path: Path) -> None:
    assert cluster_names(list(CLUSTERS)) == ["production", "staging"]
    (tmp_path / "a/prod").mkdir(parents=True)
    (tmp_path / "b/prod").mkdir(parents=True)
    with pytest.raises(FluxformError, match="would share the name 'prod'"):
        cluster_names([tmp_path / "a/prod", tmp_path / "b/prod"])
