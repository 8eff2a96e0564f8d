"""A live plan over 5,000 objects: wall time and API requests, against the emulator.

    .venv/bin/python bench/bench_live.py [--objects 5000] [--namespaces 20] [--concurrency 8]

Prints figures; never asserts on them. The desired state is built in memory (100 owners of
50 objects: ConfigMaps, Secrets, Services, ServiceAccounts, Deployments over `--namespaces`
namespaces), so only the live part is measured: discovery, reads, dry-runs, comparison.
Scenarios:
  create          the namespaces exist, nothing else: every object is dry-run
  unchanged       everything applied: the client-side check skips every dry-run ("1st": the
                  first read after seeding, which includes the emulator simulating the
                  rollout of every Deployment; the second run is fluxform's own cost)
  unchanged+dry   the same, dry-running every object anyway (what Flux does)
  10% changed     one object in ten edited in the repo
The emulator runs in this process (objects are seeded without HTTP). Its HTTP server does
not set TCP_NODELAY, which adds ~40 ms to every request (delayed ACK); `--keep-nagle` keeps
that, the default turns it off so the figures show fluxform, not the emulator.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform.cluster.client import ClusterOptions, connect
from fluxform.decrypt.mask import Masker, new_mask_key
from fluxform.objects import ObjectId
from fluxform.planner.live.workflow import LiveOptions, plan_live
from fluxform.planner.model import DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.state.model import OwnerState, StateObject, canonical_digest, new_state, next_revision
from tests.kubeapi import KubeApi, start_kubeapi

KINDS = ("ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment")
PER_OWNER = 50


def manifest(kind: str, namespace: str, name: str, version: int) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "labels": {"app": name, "bench": "live"}}
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"v": str(version), "k": "x" * 200}}
    if kind == "Secret":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"token": "c2VjcmV0" * (version + 1)}}
    if kind == "Service":
        service_spec = {"selector": {"app": name}, "ports": [{"name": "http", "port": 80 + version, "protocol": "TCP"}]}
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": service_spec}
    if kind == "ServiceAccount":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta}
    container: dict[str, Any] = {
        "name": "app",
        "image": f"nginx:1.{version}",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
    }
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
    spec: dict[str, Any] = {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


def desired_state(objects: int, namespaces: int, changed_every: int = 0) -> DesiredState:
    owners = []
    for o in range(objects // PER_OWNER):
        owner_id = ObjectId("flux-system", f"team-{o:03d}", "kustomize.toolkit.fluxcd.io", "Kustomization")
        items = []
        for i in range(PER_OWNER):
            n = o * PER_OWNER + i
            kind = KINDS[n % len(KINDS)]
            version = 1 if changed_every and n % changed_every == 0 else 0
            body = manifest(kind, f"ns-{n % namespaces:02d}", f"obj-{n:05d}", version)
            oid = ObjectId.from_manifest(body)
            items.append(DesiredObject(oid, body["apiVersion"], body, owner_id))
        owners.append(
            Owner(owner_id, "Kustomization", OwnerStatus.BUILT, "bench", ".", None, (), True, None, tuple(items))
        )
    return DesiredState(tuple(owners), "bench@sha1:0")


def seed(api: KubeApi, desired: DesiredState, namespaces: int, *, objects: bool) -> None:
    for n in range(namespaces):
        api.server.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{n:02d}"}}, manager="b")
    if objects:
        for owner in desired.owners:
            for obj in owner.objects:
                api.server.apply(dict(obj.body), manager="fluxform", force=True)


def record(desired: DesiredState, mask: Masker) -> Any:
    state = new_state("bench")
    owners = {}
    for owner in desired.owners:
        objs = []
        for obj in owner.objects:
            masked = mask.mask_manifest(obj.body)
            objs.append(StateObject(obj.id, obj.api_version, canonical_digest(masked), masked))
        owners[owner.id] = OwnerState(owner.id, True, "bench", "2026-01-01T00:00:00Z", "bench", tuple(objs))
    return next_revision(state, owners, operation="apply", by="bench")


def run(name: str, api: KubeApi, action: Callable[[], Any], client_count: Callable[[], int]) -> None:
    api.server.clear_requests()
    before = client_count()
    start = time.perf_counter()
    plan = action()
    wall = time.perf_counter() - start
    verbs: dict[str, int] = {}
    for request in api.server.requests:
        verbs[request.verb or "discovery"] = verbs.get(request.verb or "discovery", 0) + 1
    summary = plan.counts()
    print(
        f"{name:<15} {wall:7.2f} s  requests {client_count() - before:5d} "
        f"({', '.join(f'{v} {k}' for k, v in sorted(verbs.items()))})  "
        f"plan: +{summary['add']} ~{summary['change']} ={summary['unchanged']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--keep-nagle", action="store_true", help="leave the emulator's Nagle delay in")
    args = parser.parse_args()
    if not args.keep_nagle:
        from tests.kubeapi import server

        server._Handler.disable_nagle_algorithm = True  # see the module docstring
    desired = desired_state(args.objects, args.namespaces)
    changed = desired_state(args.objects, args.namespaces, changed_every=10)
    mask = Masker(new_mask_key())

    def masking(manifest: Any, paths: Any = ()) -> dict[str, Any]:
        return mask.mask_manifest(manifest, sensitive_paths=paths)

    with tempfile.TemporaryDirectory() as tmp:
        api = start_kubeapi(Path(tmp) / "kubeconfig")
        options = ClusterOptions(kubeconfig=api.kubeconfig, concurrency=args.concurrency)
        try:
            with connect(options) as cluster:
                print(f"{args.objects} objects, {args.namespaces} namespaces, concurrency {args.concurrency}")

                def plan_with(d: DesiredState, state: Any, always: bool = False) -> Any:
                    opts = LiveOptions(always_dry_run=always)
                    return plan_live(d, state, masking, cluster, target="bench", options=opts)

                count = lambda: cluster.request_count  # noqa: E731
                seed(api, desired, args.namespaces, objects=False)
                run("create", api, lambda: plan_with(desired, None), count)
                start = time.perf_counter()
                seed(api, desired, args.namespaces, objects=True)
                state = record(desired, mask)
                print(f"{'(seeding)':<15} {time.perf_counter() - start:7.2f} s")
                run("unchanged 1st", api, lambda: plan_with(desired, state), count)
                run("unchanged", api, lambda: plan_with(desired, state), count)
                run("unchanged+dry", api, lambda: plan_with(desired, state, True), count)
                run("10% changed", api, lambda: plan_with(changed, state), count)
        finally:
            api.stop()


if __name__ == "__main__":
    main()
