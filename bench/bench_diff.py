"""Benchmark `fluxform diff` on synthetic fleets; prints figures, asserts nothing about time.

For each fleet size (bench/fleetgen.py: "small" ~100 and "large" ~1,000 Flux Kustomizations,
each with a HelmRelease), a git repository is made with the fleet as the base commit and a
one-file change (one overlay's values.yaml, so one Kustomization of one cluster) as head.
Measured, each printed against the naive baseline and the floor:

  naive    full diff, sequential (one kustomize process per Kustomization at a time), no cache
  floor    read and parse every YAML file of both revisions once (nothing rendered)
  full     full diff (every cluster and owner), parallel builds, empty build cache
  warm     the same full diff again: every build is a cache hit
  one-file changed-only diff of the one-file change, warm cache and kept base index
  cli      the same one-file diff as a `fluxform diff` process: interpreter start-up and
           imports included, which the in-process figures leave out

    .venv/bin/python bench/bench_diff.py --sizes small,large [--tmpdir /dev/shm] [--skip-naive]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleetgen import FleetSpec, generate_fleet
from fluxform import yamlio
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.revdiff.compare import FleetDiff
from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions
from fluxform.planner.workflow import FleetRequest
from fluxform.sources.chart_cache import ChartCache
from fluxform.sources.git import GitRepository
from fluxform.tool import find_executable, run_tool

SIZES = {
    "small": FleetSpec(clusters=4, kustomizations=25, seed=1),
    "large": FleetSpec(clusters=10, kustomizations=100, seed=1),
}
CHANGED_FILE = "apps/app-007/overlays/cluster-01/values.yaml"


@dataclass(frozen=True)
class Figure:
    label: str
    seconds: float
    detail: str = ""


def _git(repo: Path, *args: str) -> str:
    git = find_executable("git")
    assert git is not None
    return run_tool([git, *args], tool="git", cwd=repo).stdout.decode()


def make_repo(root: Path, spec: FleetSpec) -> tuple[Path, str, int]:
    """The fleet committed as base, then HEAD = base + a one-file change; returns (repo, base, files)."""
    repo = root / "repo"
    layout = generate_fleet(repo, spec)
    _git(repo, "init", "-q", "-b", "main")
    for key, value in (("user.name", "bench"), ("user.email", "bench@fluxform.invalid"), ("commit.gpgsign", "false")):
        _git(repo, "config", key, value)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "fleet")
    base = _git(repo, "rev-parse", "HEAD").strip()
    changed = repo / CHANGED_FILE
    changed.write_text(changed.read_text().replace("replicaCount:", "replicaCount: 9\nold_replicaCount:", 1))
    _git(repo, "commit", "-q", "-am", "one-file change")
    return repo, base, len(layout.files)


def floor(repo: Path, base: str, scratch: Path) -> Figure:
    """Read both revisions out of git and parse every YAML file once."""
    git = GitRepository(repo)
    started = time.perf_counter()
    docs = templates = 0
    for name, commit in (("base", base), ("head", "HEAD")):
        tree = scratch / f"floor-{name}"
        git.extract(git.resolve(commit), tree)
        for path in tree.rglob("*.y*ml"):
            try:
                docs += len(yamlio.load_all(path.read_bytes()))
            except yamlio.YamlError:
                templates += 1  # a chart template: Go template text, not YAML
    detail = f"{docs} documents, {templates} chart templates"
    return Figure("floor: read + parse all YAML, both revisions", time.perf_counter() - started, detail)


def run_diff(
    repo: Path, base: str, *, cache: BuildCache, jobs: int, changed_only: bool, index: Path | None
) -> FleetDiff:
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(repo.parent / "charts")))
    fleet = FleetRequest(DiscoverOptions(cache=cache, jobs=jobs, helm=helm))
    request = DiffRequest((repo / "clusters",), base, fleet=fleet, changed_only=changed_only, index_dir=index)
    return diff_revisions(request)


def timed(label: str, action: Callable[[], FleetDiff]) -> Figure:
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    rendered = sum(1 for c in result.clusters if c.rendered)
    stages = ", ".join(f"{k} {v:.2f}" for k, v in sorted(result.timings.items()))
    counts = result.counts()
    detail = f"{rendered}/{len(result.clusters)} clusters rendered; {counts['add']}+ {counts['change']}~ "
    detail += f"{counts['destroy']}-; stages: {stages}"
    return Figure(label, seconds, detail)


def timed_cli(repo: Path, base: str, cache_dir: Path) -> Figure:
    """The one-file diff as users run it: a fresh `fluxform diff` process."""
    fluxform = find_executable("fluxform")
    assert fluxform is not None, "install fluxform into the venv first (pip install -e .)"
    argv = [fluxform, "diff", str(repo / "clusters"), "--base", base, "--cache-dir", str(cache_dir)]
    argv += ["--offline", "--chart-cache", str(repo.parent / "charts"), "--format", "json"]
    started = time.perf_counter()
    run_tool(argv, tool="fluxform", cwd=repo)
    return Figure("one-file change: CLI process, start-up included", time.perf_counter() - started)


def report(
    name: str, spec: FleetSpec, files: int, figures: list[Figure], naive: Figure | None, base_floor: Figure
) -> None:
    total = spec.clusters * spec.kustomizations
    print(f"\n== {name}: {spec.clusters} clusters x {spec.kustomizations} = {total} Flux Kustomizations "
          f"(+{total} HelmReleases), {files} files ==")  # fmt: skip
    for figure in [base_floor, *([naive] if naive else []), *figures]:
        line = f"  {figure.label:<52} {figure.seconds:8.2f} s"
        if figure not in (base_floor, naive):
            if naive is not None:
                line += f"   {naive.seconds / figure.seconds:6.1f}x faster than naive"
            line += f"   {figure.seconds / base_floor.seconds:6.2f}x the floor"
        print(line)
        if figure.detail:
            print(f"      {figure.detail}")


@contextmanager
def temp_root(tmpdir: str | None) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="fluxform-bench-", dir=tmpdir))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench(name: str, spec: FleetSpec, *, tmpdir: str | None, skip_naive: bool) -> None:
    with temp_root(tmpdir) as root:
        repo, base, files = make_repo(root, spec)
        base_floor = floor(repo, base, root)
        naive_run = partial(run_diff, repo, base, cache=BuildCache.disabled(), jobs=1, changed_only=False, index=None)
        naive = None if skip_naive else timed("naive: full, sequential, no cache", naive_run)
        cache = BuildCache(root / "cache" / "builds")
        full = partial(run_diff, repo, base, cache=cache, jobs=os.cpu_count() or 1, changed_only=False, index=None)
        changed_only = partial(full, changed_only=True, index=root / "cache" / "diff-index")
        figures = [
            timed("full diff, cold cache", full),
            timed("full diff, warm cache", full),
            timed("changed-only, warm cache, first run (index)", changed_only),
            timed("one-file change: changed-only, warm", changed_only),
            timed_cli(repo, base, root / "cache"),
        ]
        report(name, spec, files, figures, naive, base_floor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark fluxform diff on synthetic fleets.")
    parser.add_argument("--sizes", default="small,large", help="comma-separated: small, large")
    parser.add_argument("--tmpdir", help="temp directory for everything (e.g. /dev/shm); default: the system's")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the slow naive baseline")
    args = parser.parse_args(argv)
    if args.tmpdir:
        tempfile.tempdir = args.tmpdir  # discovery's artifact copies and build mirrors go there too
    print(f"cpus: {os.cpu_count()}, temp dir: {tempfile.gettempdir()}")
    for name in args.sizes.split(","):
        bench(name, SIZES[name], tmpdir=args.tmpdir, skip_naive=args.skip_naive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
