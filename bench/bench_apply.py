"""`fluxform apply` of 1,000 objects in 50 owners against the emulator: wall time and API
requests per object, for a first apply (everything created), a no-op re-apply and an apply
changing one object in ten, each beside the live plan of the same fleet measured in the same
run (the plan is the part of an apply that is not writing).

    .venv/bin/python bench/bench_apply.py [--owners 50] [--per-owner 20] [--parallelism 4]

Prints figures; never asserts on them. The fleet is generated on disk (a self-managing
flux-system Kustomization, `--owners` Kustomizations of `--per-owner` objects: ConfigMaps in 5
namespaces that the first owner creates, every other owner depending on it) and goes through
the whole apply path: render, live plan, staleness checks, pre-flight dry-run, writes with
their pre-image reads, state writes per owner. The emulator runs in this process with Nagle's
delay off (see bench/bench_live.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform.apply.options import ApplyOptions
from fluxform.apply.progress import SilentObserver
from fluxform.apply.workflow import ApplyTarget, apply_fleet
from fluxform.cluster.client import ClusterOptions
from fluxform.planner.live.workflow import LiveOptions, plan_fleet_live
from fluxform.planner.options import FleetOptions
from fluxform.state.local import LocalBackend
from tests.kubeapi import KubeApi, start_kubeapi
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization, write_tree

NAMESPACES = 5


def write_fleet(root: Path, owners: int, per_owner: int, version: int) -> Path:
    """`owners` Kustomizations of `per_owner` objects each: the first holds the namespaces
    (and ConfigMaps to make up its count), the others depend on it."""
    files = {
        "clusters/bench/sync.yaml": FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", "./clusters/bench")
    }
    files["apps/app-0/namespaces.yaml"] = "".join(
        f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-{n}\n" for n in range(NAMESPACES)
    )
    for o in range(owners):
        needs = "  dependsOn:\n    - name: app-0\n" if o else ""
        files[f"clusters/bench/app-{o}.yaml"] = flux_kustomization(f"app-{o}", f"./apps/app-{o}", needs)
        for i in range(per_owner - (NAMESPACES if o == 0 else 0)):
            value = f"v{version}" if (o * per_owner + i) % 10 == 0 else "v1"
            files[f"apps/app-{o}/cm-{i}.yaml"] = configmap_text(
                f"app-{o}-cm-{i}", f"bench-{i % NAMESPACES}", value=value, payload="x" * 200
            )
    write_tree(root, files)
    return root / "clusters" / "bench"


def measure(api: KubeApi, what: str, run: object) -> tuple[float, int]:
    assert callable(run)
    api.server.clear_requests()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started, len(api.server.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--per-owner", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--keep-nagle", action="store_true", help="leave the emulator's Nagle delay in")
    args = parser.parse_args()
    if not args.keep_nagle:
        from tests.kubeapi import server

        server._Handler.disable_nagle_algorithm = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        api = start_kubeapi(root / "kubeconfig")
        fleet = write_fleet(root / "repo", args.owners, args.per_owner, 1)
        objects = args.owners * args.per_owner
        options = FleetOptions(cache_dir=root / "cache", jobs=2)
        cluster = ClusterOptions(kubeconfig=api.kubeconfig)
        state = root / "state.json"
        target = ApplyTarget(cluster=cluster, backend=LocalBackend(state))
        apply_options = ApplyOptions(parallelism=args.parallelism, auto_approved=True)

        def plan() -> None:
            plan_fleet_live(
                fleet,
                options.request(),
                state_path=state if state.exists() else None,
                cluster_options=cluster,
                live_options=LiveOptions(),
                helm=options.helm(),
            )

        def apply() -> None:
            report = apply_fleet(
                fleet, options, target, apply_options, SilentObserver(), show=lambda p: None, confirm=lambda p: True
            )
            assert report is not None and report.ok

        plan()  # warm the build cache: every figure below renders from it
        rows = []
        for name, edit in (("first apply (create)", None), ("no-op re-apply", None), ("1 in 10 changed", 2)):
            if edit is not None:
                write_fleet(root / "repo", args.owners, args.per_owner, edit)
                plan()  # the edited files' builds, once: both figures then render from the cache
            plan_seconds, plan_requests = measure(api, "plan", plan)
            apply_seconds, apply_requests = measure(api, "apply", apply)
            rows.append((name, plan_seconds, plan_requests, apply_seconds, apply_requests))
        api.stop()
    print(f"apply of {objects} objects in {args.owners} owners (parallelism {args.parallelism})")
    print(
        f"{'scenario':<22} {'plan s':>7} {'plan req/obj':>12} {'apply s':>8} {'apply req/obj':>13} {'apply/plan':>10}"
    )
    for name, ps, pr, aps, ar in rows:
        print(f"{name:<22} {ps:7.2f} {pr / objects:12.2f} {aps:8.2f} {ar / objects:13.2f} {aps / ps:9.1f}x")


if __name__ == "__main__":
    main()
