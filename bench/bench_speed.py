"""How fast a plan is, against what reading the repository costs: prints figures, asserts nothing.

For one fleet (a git work tree and the cluster path to plan), each round measures:
  parse floor      read and parse every YAML file of the repository once (PyYAML's C loader)
  naive            `kubectl kustomize` once per Kustomization path the plan builds, one after another
  cold / warm plan `fluxform plan --offline --partial -o json`, with an empty then a filled cache
                   dir, per kustomize engine available (FLUXFORM_KUSTOMIZE_ENGINE)
  one-file diff    `fluxform diff --base C~1 --head C` over the last N commits, each run twice and
                   the second (warm) one timed; the median over the commits
  start-up         `fluxform --help` and `fluxform version`
Every fluxform run is a fresh process, as in CI: wall time, CPU (user+sys, its children
included) and peak RSS (of its largest process). Ratios are taken within a round; the table
shows the median of the rounds. The machine may be shared: trust CPU and ratios over wall time
(the parse floor's CPU is the parse alone, a fluxform run's includes its interpreter start).

    .venv/bin/python bench/bench_speed.py /path/to/home-ops --cluster kubernetes/flux/cluster --rounds 5
    .venv/bin/python bench/bench_speed.py --generate 200 --commits 10 --rounds 5
    .venv/bin/python bench/bench_speed.py --generate 200 --fluxform "python -c 'from fluxform.cli import main; main()'"
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleethistory import fleet_with_history

FLUXFORM = [sys.executable, "-m", "fluxform"]
ENGINES = ("subprocess", "inprocess")


@dataclass(frozen=True)
class Measured:
    wall: float
    cpu: float
    rss_mb: float
    code: int


@dataclass
class Round:
    figures: dict[str, Measured] = field(default_factory=dict)


def measure(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, quiet: bool = False) -> Measured:
    """Run `argv` to its end: wall time, CPU of it and its children, its peak RSS; a failure
    is said on stderr unless `quiet`."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 2) and not quiet:
            err.seek(0)
            print(
                f"  ! {' '.join(map(str, argv[-6:]))}: exit {proc.returncode}: {err.read()[-300:]!r}", file=sys.stderr
            )
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


def yaml_files(repo: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        found += [Path(dirpath, n) for n in filenames if n.endswith((".yaml", ".yml"))]
    return sorted(found)


def parse_floor(files: Sequence[Path]) -> Measured:
    """Read and parse every YAML file once with PyYAML's C loader (invalid ones count as read)."""
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        with contextlib.suppress(yaml.YAMLError):
            list(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader))
    return Measured(time.perf_counter() - started, time.process_time() - cpu, 0.0, 0)


def kustomization_paths(repo: Path, cluster: str) -> list[Path]:
    """Directories the plan builds from the repository itself (the start path's source)."""
    from fluxform.planner.kustomization.discover import DiscoverOptions, discover

    state = discover(repo / cluster, DiscoverOptions())
    roots = {owner.id: state.inputs[owner.id][0] for owner in state.owners if owner.id in state.inputs}
    own = next((roots[o.id] for o in state.owners if o.parent is None and o.id in roots), None)  # the start path's
    built = [o for o in state.owners if o.kind in ("Kustomization", "Root") and roots.get(o.id) == own]
    return sorted({p for p in ((repo / o.path).resolve() for o in built) if p.is_dir()})


def naive(paths: Sequence[Path], repo: Path) -> Measured:
    from fluxform.kustomize.binary import kustomize_tool

    argv = [*kustomize_tool().argv, "--load-restrictor", "LoadRestrictionsNone"]
    wall = cpu = rss = 0.0
    for path in paths:
        one = measure([*argv, str(path)], cwd=repo, quiet=True)  # a directory without a kustomization fails
        wall, cpu, rss = wall + one.wall, cpu + one.cpu, max(rss, one.rss_mb)
    return Measured(wall, cpu, rss, 0)


def available_engines() -> list[str]:
    from fluxform.kustomize.inprocess import InProcessEngine

    return [e for e in ENGINES if e != "inprocess" or InProcessEngine.find() is not None]


def last_commits(repo: Path, count: int) -> list[str]:
    out = subprocess.run(
        ["git", "rev-list", "--first-parent", f"--max-count={count}", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [c for c in out if _has_parent(repo, c)]


def _has_parent(repo: Path, commit: str) -> bool:
    return (
        subprocess.run(["git", "rev-parse", "-q", "--verify", f"{commit}~1"], cwd=repo, capture_output=True).returncode
        == 0
    )


def one_round(repo: Path, cluster: str, files: Sequence[Path], paths: Sequence[Path], commits: Sequence[str],
              engines: Sequence[str], scratch: Path, extra: Sequence[str]) -> Round:  # fmt: skip
    result = Round()
    result.figures["parse floor"] = parse_floor(files)
    result.figures["naive kubectl kustomize"] = naive(paths, repo)
    result.figures["fluxform --help"] = measure([*FLUXFORM, "--help"], cwd=repo)
    result.figures["fluxform version"] = measure([*FLUXFORM, "version"], cwd=repo)
    for engine in engines:
        env = {"FLUXFORM_KUSTOMIZE_ENGINE": engine}
        cache = scratch / f"cache-{engine}"
        shutil.rmtree(cache, ignore_errors=True)
        charts = str(scratch / "charts")
        common = ["--offline", "--partial", "-o", "json", "--cache-dir", str(cache), "--chart-cache", charts, *extra]
        plan = [*FLUXFORM, "plan", cluster, *common]
        result.figures[f"cold plan, {engine}"] = measure(plan, cwd=repo, env=env)
        result.figures[f"warm plan, {engine}"] = measure(plan, cwd=repo, env=env)
        diffs = []
        for commit in commits:
            diff = [*FLUXFORM, "diff", cluster, "--base", f"{commit}~1", "--head", commit, *common]
            measure(diff, cwd=repo, env=env)  # fills the index of both revisions
            diffs.append(measure(diff, cwd=repo, env=env))
        if diffs:
            result.figures[f"one-file diff, {engine}"] = Measured(
                statistics.median(d.wall for d in diffs),
                statistics.median(d.cpu for d in diffs),
                max(d.rss_mb for d in diffs),
                max(d.code for d in diffs),
            )
    return result


def report(title: str, rounds: Sequence[Round]) -> None:
    names = list(rounds[0].figures)

    def median(name: str, what: str) -> float:
        return statistics.median(getattr(r.figures[name], what) for r in rounds)

    def ratio(name: str, base: str, what: str) -> float:
        return statistics.median(
            getattr(r.figures[name], what) / max(getattr(r.figures[base], what), 1e-9) for r in rounds
        )

    print(f"\n{title}; median of {len(rounds)} rounds\n")
    print("| what | wall s | CPU s | peak RSS MB | x floor (wall) | x floor (CPU) | x naive (wall) | x naive (CPU) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        row = [f"{median(name, 'wall'):.3f}", f"{median(name, 'cpu'):.3f}"]
        row.append(f"{median(name, 'rss_mb'):.0f}" if median(name, "rss_mb") else "-")
        planned = name.startswith(("cold", "warm", "one-file"))
        row.append(f"{ratio(name, 'parse floor', 'wall'):.1f}x" if name != "parse floor" else "1x")
        row.append(f"{ratio(name, 'parse floor', 'cpu'):.1f}x" if name != "parse floor" else "1x")
        row.append(f"{ratio(name, 'naive kubectl kustomize', 'wall'):.2f}x" if planned else "-")
        row.append(f"{ratio(name, 'naive kubectl kustomize', 'cpu'):.2f}x" if planned else "-")
        print(f"| {name} | " + " | ".join(row) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plan speed against the parse floor and naive kustomize.")
    parser.add_argument("fleet", nargs="?", type=Path, help="a git work tree holding the fleet")
    parser.add_argument("--cluster", default="", help="the path to plan, relative to FLEET")
    parser.add_argument("--generate", type=int, metavar="N", help="measure a generated fleet of N Kustomizations")
    parser.add_argument("--commits", type=int, default=5, help="one-file diffs over the last N commits (0: none)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated (those installed are used)")
    parser.add_argument("--keys-dir", type=Path, help="passed to fluxform (SOPS keys)")
    parser.add_argument("--tmpdir", help="temp directory for caches and generated fleets")
    parser.add_argument(
        "--fluxform", help="how to run fluxform (a command line; e.g. another checkout's, for a baseline)"
    )
    args = parser.parse_args(argv)
    if args.fluxform:
        FLUXFORM[:] = shlex.split(args.fluxform)
    if args.tmpdir:
        tempfile.tempdir = args.tmpdir
    scratch = Path(tempfile.mkdtemp(prefix="fluxform-bench-speed-"))
    try:
        if args.generate:
            repo = scratch / "fleet"
            layout = fleet_with_history(repo, kustomizations=args.generate, commits=args.commits)
            cluster, title = layout.cluster_paths[0], f"generated fleet, {args.generate} Kustomizations"
        elif args.fleet is not None and args.cluster:
            repo, cluster, title = args.fleet.resolve(), args.cluster, f"{args.fleet.name} ({args.cluster})"
        else:
            parser.error("give FLEET and --cluster, or --generate N")
        engines = [e for e in available_engines() if e in args.engines.split(",")]
        extra = ["--keys-dir", str(args.keys_dir.resolve())] if args.keys_dir else []
        files = yaml_files(repo)
        paths = kustomization_paths(repo, cluster)
        commits = last_commits(repo, args.commits) if args.commits else []
        title += f": {len(files)} YAML files, {len(paths)} Kustomization paths, {len(commits)} commits"
        rounds = []
        for index in range(args.rounds):
            print(f"round {index + 1}/{args.rounds}", file=sys.stderr)
            rounds.append(one_round(repo, cluster, files, paths, commits, engines, scratch, extra))
        report(title, rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
