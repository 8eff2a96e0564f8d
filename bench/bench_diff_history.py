"""Changed-only against --full over a fleet's last N commits; prints figures, asserts nothing.

Each commit is diffed against its first parent, as a pull request against the branch it
merged into. Three passes over the same commits, in one process, with one build cache:

  warm-up  --full on every commit (fills the build cache, so neither mode below pays builds)
  then, commit by commit, side by side (which runs first alternates; the machine is shared):
  full     --full, warm build cache
  changed  changed-only, warm build cache, starting with no kept index: the first commit
           renders its base whole, every later one starts from the index the diff before
           it kept (carried forward), as in CI where a pull request's base is a head an
           earlier run saw

Per commit: files changed, both times, their ratio, the owners changed-only rendered, and
whether both outputs are the same (they must be: `mismatch` is a bug). Then the median and
worst ratios and the commits where changed-only was slower. Use a fleet you generate
(bench/fleetgen.py, committed with history) or a public fleet cloned for measurement (never
commit its files):

    .venv/bin/python bench/bench_diff_history.py ~/src/home-ops --cluster kubernetes/flux/cluster \
        --commits 50 --offline --partial
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform.planner.options import FleetOptions
from fluxform.planner.partial import PartialPolicy
from fluxform.planner.revdiff.compare import FleetDiff
from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions
from fluxform.planner.validation import ValidationOptions
from fluxform.planner.workflow import FleetRequest
from fluxform.tool import find_executable, run_tool
from fluxform.views.revdiff import diff_to_dict


@dataclass(frozen=True)
class Timed:
    seconds: float
    result: FleetDiff


def _git(repo: Path, *args: str) -> str:
    git = find_executable("git")
    assert git is not None
    return run_tool([git, *args], tool="git", cwd=repo).stdout.decode()


def _pairs(repo: Path, head: str, commits: int) -> list[tuple[str, str]]:
    """(first parent, commit) for the last `commits` commits on the first-parent line, oldest first."""
    listed = _git(repo, "rev-list", "--first-parent", f"--max-count={commits + 1}", head).split()
    listed.reverse()
    return list(itertools.pairwise(listed))


def _diff(
    repo: Path, clusters: list[str], pair: tuple[str, str], fleet: FleetRequest, *, changed_only: bool, index: Path
) -> Timed:
    paths = tuple(repo / c for c in clusters)
    request = DiffRequest(paths, pair[0], pair[1], fleet=fleet, changed_only=changed_only, index_dir=index)
    started = time.perf_counter()
    result = diff_revisions(request)
    return Timed(time.perf_counter() - started, result)


def _comparable(result: FleetDiff) -> str:
    data = diff_to_dict(result)
    data.pop("mode", None)
    return json.dumps(data, sort_keys=True)


def _rendered_owners(result: FleetDiff) -> str:
    renders = result.timings.get("render", 0.0)
    paths = [k for k in ("cold", "grow", "write-all", "fallback", "whole") if result.timings.get(k)]
    detail = ",".join(f"{k}={int(result.timings[k])}" for k in paths)
    return f"render {renders:5.2f}s {detail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="changed-only vs --full over a fleet's last N commits")
    parser.add_argument("repo", type=Path, help="a git work tree holding the fleet")
    parser.add_argument("--cluster", action="append", required=True, help="cluster path in the repo (repeatable)")
    parser.add_argument("--commits", type=int, default=50)
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--offline", action="store_true", help="charts from the chart cache only")
    parser.add_argument("--partial", action="store_true", help="accept owners that cannot be rendered here")
    parser.add_argument("--keys-dir", type=Path)
    parser.add_argument("--no-validate", action="store_true", help="leave out the schema check (the CLI runs it)")
    parser.add_argument("--cache-dir", type=Path, help="build cache to use (default: a fresh temp dir)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="fluxform-bench-history-"))
    try:
        cache = args.cache_dir or scratch / "cache"
        options = FleetOptions(cache_dir=cache, offline=args.offline, keys_dir=args.keys_dir)
        validation = ValidationOptions(enabled=not args.no_validate)  # as `fluxform diff` runs it
        fleet = replace(options.request(), partial=PartialPolicy(accept_all=args.partial), validation=validation)
        pairs = _pairs(args.repo, args.head, args.commits)
        print(f"{args.repo}: {len(pairs)} commits, clusters {', '.join(args.cluster)}")
        warm = [_diff(args.repo, args.cluster, p, fleet, changed_only=False, index=scratch / "i0") for p in pairs]
        fulls, changed = [], []
        for number, pair in enumerate(pairs):  # side by side, the first alternating: the machine is shared
            run_full = partial(_diff, args.repo, args.cluster, pair, fleet, changed_only=False, index=scratch / "i1")
            run_changed = partial(_diff, args.repo, args.cluster, pair, fleet, changed_only=True, index=scratch / "i2")
            if number % 2:
                changed.append(run_changed())
                fulls.append(run_full())
            else:
                fulls.append(run_full())
                changed.append(run_changed())
        ratios, slower, mismatches = [], [], []
        print(f"{'commit':<12} {'files':>5} {'full s':>7} {'changed s':>9} {'ratio':>6}  changed-only detail")
        for pair, first, full, fast in zip(pairs, warm, fulls, changed, strict=True):
            ratio = fast.seconds / full.seconds
            ratios.append(ratio)
            same = _comparable(full.result) == _comparable(fast.result) == _comparable(first.result)
            if not same:
                mismatches.append(pair[1][:10])
            if fast.seconds > full.seconds:
                slower.append(pair[1][:10])
            print(
                f"{pair[1][:10]:<12} {len(fast.result.changed_files):>5} {full.seconds:7.2f} {fast.seconds:9.2f} "
                f"{ratio:6.2f}  {_rendered_owners(fast.result)}{'' if same else '  MISMATCH'}"
            )
        total_full, total_changed = sum(f.seconds for f in fulls), sum(c.seconds for c in changed)
        print(f"\nwarm-up (full, filling the build cache): {sum(w.seconds for w in warm):.1f} s")
        print(f"full: {total_full:.1f} s, median {statistics.median(f.seconds for f in fulls):.2f} s a commit")
        print(f"changed-only: {total_changed:.1f} s, median {statistics.median(c.seconds for c in changed):.2f} s")
        print(f"changed-only / full: median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}, "
              f"total {total_changed / total_full:.2f}")  # fmt: skip
        print(f"commits where changed-only was slower: {len(slower)} {' '.join(slower)}")
        print(f"mismatches (must be 0): {len(mismatches)} {' '.join(mismatches)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
