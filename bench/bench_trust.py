"""What the issue-15 safeguards cost on the plan path, each against a baseline measured in
the same run; prints, asserts nothing.

- verified cache reads: `BuildCache.get` (header, key and SHA-256 checked) against reading
  the same entry's bytes unverified;
- bounded subprocesses: `run_tool` (own process group, heap and CPU limits, deadline, output
  cap) against a bare `subprocess.run` of the same kustomize build;
- SOPS MAC checks: a plan of a fleet of whole-file encrypted Secrets with the per-file MAC
  check against the same plan with the check switched off.

    .venv/bin/python bench/bench_trust.py [--entries 400] [--secrets 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform import yamlio
from fluxform.decrypt.macs import SourceMacs
from fluxform.kustomize.binary import kustomize_tool
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.secrets import SecretOptions
from fluxform.planner.workflow import FleetRequest, plan_fleet
from fluxform.tool import run_tool

REPO = Path(__file__).resolve().parents[1]
KEYS = REPO / "fixtures" / "keys"
RECIPIENT = "age1eg26z7g52cqtk82wvlva02l24y60sxqx8l2rc0hnxk3zn50jme3sxzkayl"  # fixtures/keys, test-only


def _best(fn: Callable[[], object], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def cache_reads(root: Path, entries: int) -> tuple[float, float]:
    cache = BuildCache(root / "cache")
    text = yamlio.dump_all(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 200}}
        for i in range(40)
    )
    keys = [f"{i:064x}" for i in range(entries)]
    for key in keys:
        cache.put(key, text, None)
    paths = [cache._path(key) for key in keys]  # the baseline reads the same files
    verified = _best(lambda: [cache.get(key) for key in keys])
    raw = _best(lambda: [p.read_bytes().decode() for p in paths if p is not None])
    return verified, raw


def tool_runs(runs: int) -> tuple[float, float]:
    argv = [*kustomize_tool().argv, str(REPO / "fixtures" / "fleet" / "apps" / "staging")]
    bounded = _best(lambda: [run_tool(argv, tool="kustomize") for _ in range(runs)], rounds=2)
    bare = _best(lambda: [subprocess.run(argv, capture_output=True, check=True) for _ in range(runs)], rounds=2)
    return bounded, bare


def _secrets_fleet(root: Path, count: int) -> Path:
    sops = shutil.which("sops", path=str(Path(sys.executable).parent)) or "sops"
    names = [f"secret-{i}.yaml" for i in range(count)]
    flux = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\n"
        "spec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
        "  decryption: {provider: sops, secretRef: {name: sops-age}}\n"
    )
    files = {
        "clusters/dev/kustomization.yaml": "resources: [apps.yaml]\n",
        "clusters/dev/apps.yaml": flux,
        "apps/kustomization.yaml": yamlio.dump({"namespace": "default", "resources": names}),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for i, name in enumerate(names):
        plain = yamlio.dump(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s-{i}"}, "stringData": {"v": f"value-{i}"}}
        )
        argv = [sops, "--disable-version-check", "--config", os.devnull, "encrypt", "--age", RECIPIENT]
        argv += ["--encrypted-regex", "^stringData$", "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"]
        out = subprocess.run(argv, input=plain.encode(), capture_output=True, check=True).stdout
        (root / "apps" / name).write_bytes(out)
    return root / "clusters" / "dev"


def mac_checks(root: Path, count: int) -> tuple[float, float]:
    cluster = _secrets_fleet(root / "fleet", count)
    request = FleetRequest(DiscoverOptions(cache=BuildCache(root / "plan-cache")), SecretOptions(keys_dir=KEYS))
    plan_fleet(cluster, request)  # warm the build cache: both runs then only decrypt
    checked = _best(lambda: plan_fleet(cluster, request), rounds=2)
    original = SourceMacs.check
    SourceMacs.check = lambda self, *a, **k: []  # type: ignore[method-assign]
    try:
        unchecked = _best(lambda: plan_fleet(cluster, request), rounds=2)
    finally:
        SourceMacs.check = original  # type: ignore[method-assign]
    return checked, unchecked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cost of the issue-15 safeguards on the plan path.")
    parser.add_argument("--entries", type=int, default=400, help="build cache entries read")
    parser.add_argument("--runs", type=int, default=20, help="kustomize builds per round")
    parser.add_argument("--secrets", type=int, default=20, help="whole-file encrypted Secrets in the fleet")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="fluxform-bench-trust-"))
    try:
        verified, raw = cache_reads(root, args.entries)
        per_entry = (verified - raw) / args.entries * 1e6
        print(f"cache: {args.entries} warm reads  verified {verified * 1000:8.1f} ms  unverified {raw * 1000:8.1f} ms"
              f"  ratio {verified / raw:5.2f}x  (+{per_entry:.0f} us per entry)")  # fmt: skip
        bounded, bare = tool_runs(args.runs)
        print(f"tools: {args.runs} kustomize builds  run_tool {bounded:8.2f} s  subprocess.run {bare:8.2f} s"
              f"  ratio {bounded / bare:5.2f}x")  # fmt: skip
        checked, unchecked = mac_checks(root, args.secrets)
        print(f"macs:  warm plan of {args.secrets} encrypted Secrets  checked {checked:8.2f} s  "
              f"unchecked {unchecked:8.2f} s  ratio {checked / unchecked:5.2f}x")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
