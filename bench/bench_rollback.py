"""Fault injection: N applies (v1 -> v2) against the emulator with random 500s, dropped
connections, lost replies and latency; after each, the cluster must equal either the old (v1)
or the new (v2) desired state, and the state must say which. Prints the mismatch count (the
figure must be 0) and how the applies ended.

    .venv/bin/python bench/bench_rollback.py [--rounds 100] [--seed 19]

Each round: a fresh cluster and state, v1 applied without faults, then 2-6 random faults armed
(each on one method and one object or collection path, 2-8 times, consumed by the first
matching requests, rollback's included) and v2 applied: it succeeds, or fails and is rolled back
automatically. "Equal" compares every object fluxform applied (kind, name, data) with the
reference v1 and v2 clusters measured without faults in the same run; "the state says which"
compares every recorded object's id (and digest, Secrets aside: their digests are keyed per
state) with the reference states. Prints figures; never asserts on them.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform.apply.options import ApplyOptions
from fluxform.apply.progress import SilentObserver
from fluxform.apply.report import ApplyFailed
from fluxform.apply.workflow import ApplyTarget, apply_fleet
from fluxform.cluster.client import ClusterOptions
from fluxform.errors import FluxformError
from fluxform.planner.options import FleetOptions
from fluxform.state.local import LocalBackend
from fluxform.state.model import StateFile
from tests.kubeapi import KubeApi, start_kubeapi
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization, write_tree

OWNERS = ("infra", "apps", "extra")
OWNER_LABEL = "kustomize.toolkit.fluxcd.io/name"
#: weighted towards what fails an apply mid-way (a pre-image read, a prune) and what a rollback sends
METHODS = ("GET",) * 7 + ("DELETE",) * 5 + ("PATCH",) * 3 + ("PUT",) * 3 + ("POST",) * 2


def write_fleet(root: Path, version: int) -> Path:
    """Three Kustomizations in a dependsOn chain, 6 ConfigMaps and a Secret each; v2 changes
    one ConfigMap and the Secret per owner, drops two ConfigMaps and adds two."""
    for stale in root.glob("*/*.yaml") if root.exists() else ():
        stale.unlink()
    files = {
        "clusters/dev/sync.yaml": FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", "./clusters/dev")
    }
    previous = ""
    for owner in OWNERS:
        needs = f"  dependsOn:\n    - name: {previous}\n" if previous else ""
        files[f"clusters/dev/{owner}.yaml"] = flux_kustomization(owner, f"./{owner}", needs)
        names = [f"{owner}-{i}" for i in (range(6) if version == 1 else range(2, 8))]
        for name in names:
            value = f"v{version}" if name.endswith("-3") else "v1"
            files[f"{owner}/{name}.yaml"] = configmap_text(name, "rb", value=value)
        files[f"{owner}/secret.yaml"] = (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {owner}-token\n  namespace: rb\n"
            f"stringData:\n  token: secret-v{version}\n"
        )
        previous = owner
    files["infra/namespace.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rb\n"
    write_tree(root, files)
    return root / "clusters" / "dev"


def cluster_view(api: KubeApi) -> dict[tuple[str, str], Any]:
    """Every object fluxform applied: (kind, name) -> its data."""
    return {
        (obj["kind"], obj["metadata"]["name"]): obj.get("data")
        for obj in api.server.objects()
        if OWNER_LABEL in ((obj.get("metadata") or {}).get("labels") or {})
    }


def state_view(state: StateFile | None) -> dict[str, str]:
    if state is None:
        return {}
    return {
        str(obj.id): ("secret" if obj.is_secret else obj.digest)
        for owner in state.owners.values()
        for obj in owner.objects
    }


def arm_faults(api: KubeApi, chooser: random.Random) -> list[str]:
    names = [f"{o}-{i}" for o in OWNERS for i in range(8)] + [f"{o}-token" for o in OWNERS]
    armed = []
    for _ in range(chooser.randint(2, 6)):
        method = chooser.choice(METHODS)
        if method == "POST":
            path = chooser.choice((r"/namespaces/rb/configmaps$", r"/namespaces/rb/secrets$"))
        else:
            path = f"/namespaces/rb/[a-z]+/{chooser.choice(names)}$"
        kind = chooser.choice(("500", "drop", "lose_reply", "latency"))
        times = chooser.randint(2, 8)  # the client sends a call up to 4 times: 4 or more fail it
        if kind == "500":
            api.server.inject_fault(path, method=method, status=500, times=times)
        elif kind == "drop":
            api.server.inject_fault(path, method=method, drop=True, times=times)
        elif kind == "lose_reply":
            api.server.inject_fault(path, method=method, lose_reply=True, times=min(times, 3))
        else:
            api.server.inject_fault(path, method=method, latency=chooser.uniform(0.01, 0.1), times=times * 4)
        armed.append(f"{kind} x{times} {method} {path}")
    return armed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    chooser = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    mismatches: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        api = start_kubeapi(root / "kubeconfig")
        options = FleetOptions(cache_dir=root / "cache", jobs=2)
        apply_options = ApplyOptions(auto_approved=True, rollback_timeout=120.0)

        def apply(version: int, state: Path) -> str:
            fleet = write_fleet(root / "repo", version)
            target = ApplyTarget(cluster=ClusterOptions(kubeconfig=api.kubeconfig), backend=LocalBackend(state))
            try:
                report = apply_fleet(
                    fleet, options, target, apply_options, SilentObserver(), show=lambda p: None, confirm=lambda p: True
                )
            except ApplyFailed as failed:
                rolled = failed.report.rollback
                return "rolled back" if rolled is not None and rolled.complete else "rollback incomplete"
            except FluxformError:
                return "refused before any write"
            assert report is not None
            return "applied"

        def fresh(version: int, name: str) -> tuple[Path, dict[tuple[str, str], Any], dict[str, str]]:
            api.server.reset()
            state = root / name
            state.unlink(missing_ok=True)
            if version == 2:
                assert apply(1, state) == "applied"
            assert apply(version, state) == "applied"
            return state, cluster_view(api), state_view(LocalBackend(state).read())

        _, old_cluster, old_state = fresh(1, "ref-v1.json")
        _, new_cluster, new_state = fresh(2, "ref-v2.json")
        for round_ in range(args.rounds):
            state, _, _ = fresh(1, f"round-{round_}.json")
            armed = arm_faults(api, chooser)
            outcome = apply(2, state)
            api.server.controls.clear()  # faults off, log cleared: read the cluster as it is
            outcomes[outcome] += 1
            cluster, recorded = cluster_view(api), state_view(LocalBackend(state).read())
            if cluster == old_cluster and recorded == old_state:
                continue
            if cluster == new_cluster and recorded == new_state:
                continue
            which = "old" if cluster == old_cluster else "new" if cluster == new_cluster else "neither"
            mismatches.append(f"round {round_} ({outcome}): cluster {which}; faults: {'; '.join(armed)}")
        api.stop()
    seconds = time.perf_counter() - started
    print(f"{args.rounds} applies v1 -> v2 with random faults (seed {args.seed}), {seconds:.0f}s")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:<26} {count:4d}")
    print(f"mismatches (cluster neither old nor new, or the state not saying which): {len(mismatches)}")
    for line in mismatches:
        print(f"  {line}")


if __name__ == "__main__":
    main()
