"""Several clusters planned in one run (`fluxform plan clusters/prod clusters/staging`).

Each cluster entry point is planned on its own, against its own state, exactly as `plan
PATH` plans it; what the run shares is work, never results: one build cache object (its
in-memory layer, run_cache.py, answers every build whose inputs equal one already run,
so an app base both clusters build is built once) and one chart cache (an index or chart
fetched once). The plans come back in the order the paths were given.

    plans = plan_clusters([ClusterTarget(Path("clusters/prod"), state)], request, helm=helm)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import FluxformError
from fluxform.planner.plan import Plan
from fluxform.planner.releases import HelmOptions
from fluxform.planner.workflow import FleetRequest, plan_fleet
from fluxform.state.backend import StateBackend
from fluxform.state.identity import StateCheck

__all__ = ["ClusterTarget", "cluster_names", "plan_clusters"]


@dataclass(frozen=True)
class ClusterTarget:
    path: Path  # the cluster entry point (a directory, or the file of its root Kustomization)
    state: Path | StateBackend | None = None  # None: planned against an empty state


def cluster_names(paths: Sequence[Path]) -> list[str]:
    """A short file-name-safe name per cluster path (its last component: `prod` for
    clusters/prod), for the files written per cluster; two paths sharing one are an error."""
    names = [re.sub(r"[^A-Za-z0-9._-]", "_", (p.stem if p.is_file() else p.resolve().name) or "root") for p in paths]
    seen: dict[str, Path] = {}
    for name, path in zip(names, paths, strict=True):
        if name in seen:
            raise FluxformError(
                f"cluster paths {seen[name]} and {path} would share the name {name!r}",
                hint="plan them in separate runs, or give paths whose last components differ",
            )
        seen[name] = path
    return names


def plan_clusters(
    targets: Sequence[ClusterTarget],
    request: FleetRequest,
    *,
    helm: HelmOptions | None = None,
    state_check: StateCheck | None = None,
) -> list[Plan]:
    """One offline plan per target, sharing the request's build cache and `helm`'s chart
    cache (one object each for the whole run)."""
    return [
        plan_fleet(target.path, request, state_path=target.state, helm=helm, state_check=state_check)
        for target in targets
    ]
