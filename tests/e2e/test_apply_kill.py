"""kill -9 at random points of an apply process (22 trials: first applies, and updates that
create, change and prune), then: the state lists every object of the fleet found in the
cluster, a second apply converges, and a plan shows no changes (issue 18, items 6 and Tests).

Each kill lands just after the N-th write request reached the cluster (N drawn at random over
the whole apply, prunes included), so the trials spread over every phase; a little latency on
writes keeps the process between two steps when the kill arrives. The applies are real
processes, forked from a server that imported fluxform once (tests/support/forkserver.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fluxform.objects import ObjectId
from fluxform.state.local import LocalBackend
from tests.kubeapi import KubeApi
from tests.support.cli import run
from tests.support.forkserver import CliForkServer
from tests.support.killing import kill_after_writes
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization, write_tree

pytestmark = pytest.mark.usefixtures("shared_build_cache")

TRIALS = 22
OWNERS = ("infra", "apps", "extra")
OWNER_LABEL = "kustomize.toolkit.fluxcd.io/name"


def _write_fleet(root: Path, version: int) -> Path:
    """Three Kustomizations in a dependsOn chain; version 2 changes one ConfigMap per owner,
    drops two and adds two."""
    files = {
        "clusters/dev/sync.yaml": FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", "./clusters/dev")
    }
    previous = ""
    for owner in OWNERS:
        extra = f"  dependsOn:\n    - name: {previous}\n" if previous else ""
        files[f"clusters/dev/{owner}.yaml"] = flux_kustomization(owner, f"./{owner}", extra)
        names = [f"{owner}-{i}" for i in range(8)] if version == 1 else [f"{owner}-{i}" for i in range(2, 10)]
        for name in names:
            value = "v2" if version == 2 and name.endswith("-3") else "v1"
            files[f"{owner}/{name}.yaml"] = configmap_text(name, "kill", value=value)
        previous = owner
    files["infra/namespace.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kill\n"
    for stale in root.glob("*/*.yaml") if root.exists() else ():
        stale.unlink()
    write_tree(root, files)
    return root / "clusters" / "dev"


def _fleet_objects(api: KubeApi) -> set[ObjectId]:
    """Objects in the cluster that fluxform applied (they carry Flux's owner labels)."""
    return {
        ObjectId.from_manifest(obj)
        for obj in api.server.objects()
        if OWNER_LABEL in ((obj.get("metadata") or {}).get("labels") or {})
    }


def test_kill_at_random_points_then_the_state_covers_the_cluster_and_apply_converges(
    kubeapi: KubeApi, tmp_path: Path
) -> None:
    chooser = random.Random(18)
    killed_mid_apply = 0
    with CliForkServer() as server:
        for trial in range(TRIALS):
            # a first apply sends 25 writes, an update 15 (2 creates, 1 change, 2 prunes per owner)
            killed_mid_apply += _trial(kubeapi, server, tmp_path, trial, chooser.randint(1, 15 if trial % 2 else 25))
    assert killed_mid_apply >= TRIALS // 2  # the kills really landed inside applies


def _trial(kubeapi: KubeApi, server: CliForkServer, tmp_path: Path, trial: int, writes: int) -> bool:
    """One kill; True when it landed inside an apply that had written something."""
    kubeapi.server.reset()
    kubeapi.server.inject_fault(r"^/api/", method="PATCH", latency=0.01)
    kubeapi.server.inject_fault(r"^/api/", method="DELETE", latency=0.01)
    base = tmp_path / f"trial-{trial}"
    state = base / "state.json"
    cluster = _write_fleet(base / "repo", 1)
    common = ["--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state)]
    if trial % 2:  # an update: applied at version 1, killed while applying version 2
        assert run("apply", cluster, *common, "--init-state", "--auto-approve").code == 0
        _write_fleet(base / "repo", 2)
    argv = ["apply", str(cluster), *common, "--init-state", "--auto-approve"]

    killed = kill_after_writes(kubeapi, server, argv, writes)

    in_cluster = _fleet_objects(kubeapi)
    recorded = LocalBackend(state).read()
    listed = set(recorded.objects()) if recorded is not None else set()
    assert in_cluster <= listed, f"trial {trial}: in the cluster, not in the state: {in_cluster - listed}"

    again = run("apply", cluster, *common, "--init-state", "--auto-approve")
    assert again.code == 0, f"trial {trial}: {again.err}"
    plan = run("plan", cluster, *common, "--detailed-exitcode")
    assert plan.code == 0, f"trial {trial}: {plan.out}"
    assert len(_fleet_objects(kubeapi)) == 3 * 8 + 1
    return killed and bool(in_cluster)
