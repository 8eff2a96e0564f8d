"""The write verbs under faults: requests per object and wall time, against the emulator.

    .venv/bin/python bench/bench_cluster_writes.py [--objects 500] [--namespaces 5] [--fault-share 0.05]

Prints figures; never asserts on them. Each scenario applies `--objects` ConfigMaps with
server-side apply, then deletes them, one call at a time (apply will run owners in
parallel; this measures the client, not the executor):
  clean    no faults: the baseline
  faulty   a share of the objects gets each fault once: a 500 on the apply, a dropped
           connection on the apply, an apply whose answer is lost after the write, and a
           delete whose answer is lost after the delete
Then it checks what the cluster holds (every object once, with the applied data; nothing
left after the deletes) and prints the number of mismatches, which must be 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.retry import RetryPolicy
from fluxform.cluster.write import apply, delete
from tests.kubeapi import KubeApi, start_kubeapi

CONFIGMAPS = KindMapping("", "v1", "ConfigMap", "configmaps", True)


def _manifest(namespace: str, name: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "labels": {"bench": "writes"}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"name": name, "k": "x" * 200}}


def _names(objects: int, namespaces: int) -> list[tuple[str, str]]:
    return [(f"bench-{i % namespaces}", f"cm-{i}") for i in range(objects)]


def _inject(api: KubeApi, names: list[tuple[str, str]], share: float, seed: int) -> int:
    """Each fault once on a random `share` of the objects; returns how many faults."""
    rng = random.Random(seed)
    faults = [
        {"method": "PATCH", "status": 500},
        {"method": "PATCH", "drop": True},
        {"method": "PATCH", "lose_reply": True},
        {"method": "DELETE", "lose_reply": True},
    ]
    count = 0
    for fault in faults:
        for namespace, name in rng.sample(names, max(1, int(len(names) * share))):
            api.server.inject_fault(f"/namespaces/{namespace}/configmaps/{name}$", times=1, **fault)  # type: ignore[arg-type]
            count += 1
    return count


def _apply_all(cluster: ClusterClient, names: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for namespace, name in names:
        apply(cluster, CONFIGMAPS, _manifest(namespace, name), field_manager="bench").unwrap()
    return time.perf_counter() - start


def _delete_all(cluster: ClusterClient, names: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for namespace, name in names:
        delete(cluster, ObjectRef(CONFIGMAPS, namespace, name)).unwrap()
    return time.perf_counter() - start


def _mismatches(api: KubeApi, names: list[tuple[str, str]], applied: bool) -> int:
    stored = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in api.server.objects(kind="ConfigMap")}
    if not applied:
        return len(stored)
    wrong = sum(1 for key in names if (stored.get(key) or {}).get("data", {}).get("name") != key[1])
    return wrong + len(set(stored) - set(names))


def _scenario(names: list[tuple[str, str]], namespaces: int, share: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        api = start_kubeapi(Path(tmp) / "kubeconfig")
        try:
            for index in range(namespaces):
                api.server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{index}"}})
            faults = _inject(api, names, share, seed=7) if share else 0
            options = ClusterOptions(kubeconfig=api.kubeconfig, retry=RetryPolicy(attempts=4, backoff=0.01))
            with connect(options) as cluster:
                apply_s = _apply_all(cluster, names)
                requests = cluster.request_count
                after_apply = _mismatches(api, names, applied=True)
                delete_s = _delete_all(cluster, names)
                delete_requests = cluster.request_count - requests
                retries = cluster.retry_count
                after_delete = _mismatches(api, names, applied=False)
        finally:
            api.stop()
    return {
        "faults": faults,
        "apply_s": apply_s,
        "delete_s": delete_s,
        "apply_requests": requests,
        "delete_requests": delete_requests,
        "retries": retries,
        "mismatches": after_apply + after_delete,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=5)
    parser.add_argument("--fault-share", type=float, default=0.05, help="share of objects hit by each fault")
    args = parser.parse_args()
    names = _names(args.objects, args.namespaces)
    results = {
        "clean": _scenario(names, args.namespaces, 0.0),
        "faulty": _scenario(names, args.namespaces, args.fault_share),
    }
    base = results["clean"]
    print(f"{args.objects} ConfigMaps, server-side apply then delete, one call at a time")
    header = ("scenario", "faults", "apply s", "req/obj", "delete s", "req/obj", "retries", "ratio", "mismatches")
    print("{:<8} {:>6} {:>8} {:>8} {:>9} {:>8} {:>7} {:>6} {}".format(*header))
    for label, r in results.items():
        ratio = (r["apply_s"] + r["delete_s"]) / (base["apply_s"] + base["delete_s"])
        print(
            f"{label:<8} {int(r['faults']):>6} {r['apply_s']:>8.2f} {r['apply_requests'] / args.objects:>8.3f} "
            f"{r['delete_s']:>9.2f} {r['delete_requests'] / args.objects:>8.3f} {int(r['retries']):>7} {ratio:>6.2f} "
            f"{int(r['mismatches'])}"
        )


if __name__ == "__main__":
    main()
