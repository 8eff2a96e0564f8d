"""Benchmark: what applying a HelmRelease as a real Helm release costs, against the emulator.

    .venv/bin/python bench/bench_release.py [--rounds 10]

Per round, on one release (chart with a CRD, a custom resource, a Deployment, a ConfigMap):
* baseline: an upgrade with the Helm SDK called in this process (no post-renderer, Helm's
  default field manager), the cheapest way the SDK can upgrade;
* fluxform: an upgrade through ReleaseApplier (Helm worker process with the field manager as
  its argv[0], post-renderer plugin relaying to fluxform's chain, storage read, journal-free);
* proxied: the same upgrade of a release stored outside its release namespace (HelmRelease in
  flux-system, targetNamespace apps): every Helm request through the storage proxy;
* in sync: ReleaseApplier.apply of an unchanged release (storage read only, no worker);
* drift check: the same with spec.driftDetection.mode warn (a dry-run apply per object);
* detach: archiving the chart directory so the render outlives its source (planner hook).
Prints medians and ratios against the baseline measured in the same run. Never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import helm_python

from fluxform.helm.materialize import detached
from tests.kubeapi import start_kubeapi
from tests.support.releases import NAMESPACE, RELEASE, ReleaseBench


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        root = Path(tmp)
        api = start_kubeapi(root / "kubeconfig")
        try:
            _run(ReleaseBench(api, root), args.rounds)
        finally:
            api.stop()


def _run(bench: ReleaseBench, rounds: int) -> None:
    bench.apply({"replicas": 1})
    baseline, fluxform, in_sync, detach = [], [], [], []
    with bench.helm() as helm:
        for i in range(rounds):
            with helm_python.Chart.load(bench.fleet / "charts" / RELEASE) as chart:
                start = time.perf_counter()
                helm.upgrade(chart, f"{RELEASE}-sdk", {"replicas": i + 1, "widget": False}, namespace=NAMESPACE,
                             timeout=60, wait="watcher") if i else helm.install(
                    chart, f"{RELEASE}-sdk", {"replicas": 1, "widget": False}, namespace=NAMESPACE, timeout=60,
                    wait="watcher")  # fmt: skip
                baseline.append(time.perf_counter() - start)
    for i in range(rounds):
        start = time.perf_counter()
        bench.apply({"replicas": i + 2})
        fluxform.append(time.perf_counter() - start)
        start = time.perf_counter()
        outcome = bench.apply({"replicas": i + 2})
        in_sync.append(time.perf_counter() - start)
        assert outcome.action == "none"
    proxied, drift = [], []
    stored_elsewhere = ReleaseBench(bench.kubeapi, bench.fleet.parent, namespace="flux-system")
    stored_elsewhere.create_namespace("apps")
    for i in range(rounds):
        start = time.perf_counter()
        stored_elsewhere.apply({"replicas": i + 2}, targetNamespace="apps")
        proxied.append(time.perf_counter() - start)
        start = time.perf_counter()
        outcome = bench.apply({"replicas": rounds + 1}, driftDetection={"mode": "warn"})
        drift.append(time.perf_counter() - start)
        assert outcome.action == "none" and outcome.drift == ()
    rendered = bench.render(bench.spec({"replicas": 1}))
    for _ in range(rounds):
        start = time.perf_counter()
        detached(rendered.chart)
        detach.append(time.perf_counter() - start)
    base = statistics.median(baseline)
    print(f"rounds: {rounds}")
    for name, times in (("SDK upgrade in process (baseline)", baseline), ("ReleaseApplier upgrade", fluxform),
                        ("upgrade through the storage proxy", proxied), ("ReleaseApplier, release in sync", in_sync),
                        ("in sync, drift check (warn)", drift), ("chart detach (archive)", detach)):  # fmt: skip
        median = statistics.median(times)
        print(f"{name:<36} median {median * 1000:8.1f} ms   x{median / base:5.2f} of baseline")


if __name__ == "__main__":
    main()
