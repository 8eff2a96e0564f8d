"""Benchmark the offline plan on a synthetic fleet: per-stage times; prints, asserts nothing.

Plans every cluster of a bench/fleetgen.py fleet against an empty state, three ways:
naive (sequential builds, no cache), parallel with an empty build cache, and parallel
with a warm cache. Stages come from discovery's own timings (build: waiting for kustomize;
decrypt; substitute; helm) plus the diff against the state (plan_offline), the plan file
(built, written and read back) and the rest of discovery (walking, post-build, ordering).

    .venv/bin/python bench/bench_plan.py --clusters 4 --kustomizations 25 [--tmpdir /dev/shm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleetgen import FleetSpec, generate_fleet
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.plan import plan_offline
from fluxform.planner.planfile import plan_file_from, read_plan_file, write_plan_file
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import FleetSecrets, SecretOptions
from fluxform.sources.chart_cache import ChartCache


@dataclass
class Run:
    label: str
    stages: dict[str, float] = field(default_factory=dict)
    objects: int = 0

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    @property
    def total(self) -> float:
        return sum(self.stages.get(stage, 0.0) for stage in ("discover", "diff", "plan file"))


def plan_all(label: str, clusters: list[Path], options: DiscoverOptions) -> Run:
    run = Run(label)
    with FleetSecrets(SecretOptions(use_env=False)) as secrets:
        masking = secrets.masking(None)
        for cluster in clusters:
            started = time.perf_counter()
            state = discover(cluster, options)
            run.add("discover", time.perf_counter() - started)
            for stage, seconds in state.timings.items():
                run.add(f"  {stage}", seconds)
            started = time.perf_counter()
            plan = plan_offline(state, None, masking, target=str(cluster))
            run.add("diff", time.perf_counter() - started)
            started = time.perf_counter()
            written = Path(tempfile.gettempdir()) / f"fluxform-bench-plan-{os.getpid()}.json"
            write_plan_file(written, plan_file_from(plan))
            read_plan_file(written)
            written.unlink()
            run.add("plan file", time.perf_counter() - started)
            run.objects += len(plan.changes)
    return run


def report(runs: list[Run]) -> None:
    stages = sorted({s for r in runs for s in r.stages}, key=lambda s: (s.startswith(" "), s))
    print(f"  {'stage':<16}" + "".join(f"{r.label:>22}" for r in runs))
    for stage in ("discover", *[s for s in stages if s.startswith(" ")], "diff", "plan file"):
        print(f"  {stage:<16}" + "".join(f"{r.stages.get(stage, 0.0):>20.2f} s" for r in runs))
    print(f"  {'total':<16}" + "".join(f"{r.total:>20.2f} s" for r in runs))
    naive = runs[0].total
    print(f"  {'vs naive':<16}" + "".join(f"{naive / r.total:>21.1f}x" for r in runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the offline plan per stage.")
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--kustomizations", type=int, default=25)
    parser.add_argument("--tmpdir", help="temp directory for everything (e.g. /dev/shm)")
    args = parser.parse_args(argv)
    if args.tmpdir:
        tempfile.tempdir = args.tmpdir
    root = Path(tempfile.mkdtemp(prefix="fluxform-bench-plan-"))
    try:
        layout = generate_fleet(root / "fleet", FleetSpec(args.clusters, args.kustomizations, seed=1))
        clusters = [root / "fleet" / p for p in layout.cluster_paths]
        jobs = os.cpu_count() or 1
        helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(root / "charts")))
        cold = DiscoverOptions(jobs=jobs, cache=BuildCache(root / "cache"), helm=helm)
        runs = [
            plan_all("naive (seq, no cache)", clusters, replace(cold, jobs=1, cache=BuildCache.disabled())),
            plan_all(f"{jobs} jobs, cold cache", clusters, cold),
            plan_all(f"{jobs} jobs, warm cache", clusters, cold),
        ]
        print(f"plan of {len(clusters)} clusters x {args.kustomizations} Flux Kustomizations (+HelmReleases), "
              f"{runs[0].objects} objects; temp dir {tempfile.gettempdir()}")  # fmt: skip
        report(runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
