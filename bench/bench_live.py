"""A live plan over 5,000 objects: wall time, fluxform's own CPU and API requests, against
the emulator.

    .venv/bin/python bench/bench_live.py [--objects 5000] [--namespaces 20] [--concurrency 8]

Prints figures; never asserts on them. The desired state is built in memory (100 owners of
50 objects: ConfigMaps, Secrets, Services, ServiceAccounts, Deployments over `--namespaces`
namespaces), so only the live part is measured: discovery, reads, dry-runs, comparison.
The emulator runs in a child process, so `cpu` is fluxform's alone (this process, every
thread); `requests` are counted by the emulator, per verb, and LISTs per type (pages of one
LIST included).
Scenarios:
  create          the namespaces exist, nothing else: every object is dry-run
  unchanged       everything applied: the client-side check skips every dry-run ("1st": the
                  first read after seeding, which includes the emulator simulating the
                  rollout of every Deployment; the second run is fluxform's own cost)
  unchanged+dry   the same, dry-running every object anyway (what Flux does)
  10% changed     one object in ten edited in the repo
Objects are seeded in the emulator's process, without HTTP. Its HTTP server does not set
TCP_NODELAY, which adds ~40 ms to every request (delayed ACK); `--keep-nagle` keeps that,
the default turns it off so the figures show fluxform, not the emulator.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform.cluster.client import ClusterOptions, connect
from fluxform.decrypt.mask import Masker, new_mask_key
from fluxform.objects import ObjectId
from fluxform.planner.live.workflow import LiveOptions, plan_live
from fluxform.planner.model import DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.state.model import OwnerState, StateObject, canonical_digest, new_state, next_revision
from tests.kubeapi import start_kubeapi

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


class Emulator:
    """The emulator in a child process, driven over a pipe: seed, clear and read its
    request log. Its CPU is its own, not fluxform's."""

    def __init__(self, kubeconfig: Path, objects: int, namespaces: int, nagle: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, kubeconfig, objects, namespaces, nagle))
        self._process.start()
        assert self._conn.recv() == "ready"

    def call(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def stop(self) -> None:
        self.call("stop")
        self._process.join(timeout=30)


def _serve(conn: Connection, kubeconfig: Path, objects: int, namespaces: int, nagle: bool) -> None:
    if not nagle:
        from tests.kubeapi import server

        server._Handler.disable_nagle_algorithm = True  # see the module docstring
    api = start_kubeapi(kubeconfig)
    desired = desired_state(objects, namespaces)
    conn.send("ready")
    while True:
        command = conn.recv()
        if command == "namespaces":
            for n in range(namespaces):
                namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{n:02d}"}}
                api.server.apply(namespace, manager="b")
            conn.send(None)
        elif command == "objects":
            for owner in desired.owners:
                for obj in owner.objects:
                    api.server.apply(dict(obj.body), manager="fluxform", force=True)
            conn.send(None)
        elif command == "clear":
            api.server.clear_requests()
            conn.send(None)
        elif command == "requests":
            conn.send([(r.verb, r.path) for r in api.server.requests])
        elif command == "stop":
            api.stop()
            conn.send(None)
            return


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


def run(name: str, emulator: Emulator, action: Callable[[], Any]) -> None:
    emulator.call("clear")
    wall, cpu = time.perf_counter(), time.process_time()
    plan = action()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    requests = emulator.call("requests")
    verbs: dict[str, int] = {}
    for verb, _ in requests:
        verbs[verb or "discovery"] = verbs.get(verb or "discovery", 0) + 1
    types = {path.rsplit("/", 1)[-1] for verb, path in requests if verb == "list"}
    summary = plan.counts()
    print(
        f"{name:<15} {wall:7.2f} s  cpu {cpu:5.2f} s  requests {len(requests):5d} "
        f"({', '.join(f'{v} {k}' for k, v in sorted(verbs.items()))}; {len(types)} types listed)  "
        f"plan: +{summary['add']} ~{summary['change']} ={summary['unchanged']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--keep-nagle", action="store_true", help="leave the emulator's Nagle delay in")
    args = parser.parse_args()
    desired = desired_state(args.objects, args.namespaces)
    changed = desired_state(args.objects, args.namespaces, changed_every=10)
    mask = Masker(new_mask_key())

    def masking(manifest: Any, paths: Any = ()) -> dict[str, Any]:
        return mask.mask_manifest(manifest, sensitive_paths=paths)

    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        emulator = Emulator(kubeconfig, args.objects, args.namespaces, args.keep_nagle)
        options = ClusterOptions(kubeconfig=kubeconfig, concurrency=args.concurrency)
        try:
            with connect(options) as cluster:
                print(f"{args.objects} objects, {args.namespaces} namespaces, concurrency {args.concurrency}")

                def plan_with(d: DesiredState, state: Any, always: bool = False) -> Any:
                    opts = LiveOptions(always_dry_run=always)
                    return plan_live(d, state, masking, cluster, target="bench", options=opts)

                emulator.call("namespaces")
                run("create", emulator, lambda: plan_with(desired, None))
                start = time.perf_counter()
                emulator.call("objects")
                state = record(desired, mask)
                print(f"{'(seeding)':<15} {time.perf_counter() - start:7.2f} s")
                run("unchanged 1st", emulator, lambda: plan_with(desired, state))
                run("unchanged", emulator, lambda: plan_with(desired, state))
                run("unchanged+dry", emulator, lambda: plan_with(desired, state, True))
                run("10% changed", emulator, lambda: plan_with(changed, state))
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
