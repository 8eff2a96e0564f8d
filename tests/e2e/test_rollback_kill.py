"""Crash safety (issue 19, item 4): an apply killed with -9 at a random point is recovered by
the next `rollback`: the journal it left makes that run say what it found ("interrupted after N
write(s) ... rolling back"), and the state it wrote as it went lets the rollback converge to
the recorded revision: every object as v1 had it, nothing v2 created left behind. (kill -9 then
`apply` converging forward is tests/e2e/test_apply_kill.py.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fluxform.state.local import LocalBackend
from tests.kubeapi import KubeApi
from tests.support.cli import run
from tests.support.forkserver import CliForkServer
from tests.support.gitrepo import TestRepo
from tests.support.killing import kill_after_writes
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization

pytestmark = pytest.mark.usefixtures("shared_build_cache")

TRIALS = 8
OWNERS = ("infra", "apps", "extra")
OWNER_LABEL = "kustomize.toolkit.fluxcd.io/name"


def _release(repo: TestRepo, version: int) -> None:
    """Three Kustomizations in a dependsOn chain; v2 changes one ConfigMap per owner, drops
    two and adds two."""
    for stale in repo.path.glob("*/*.yaml"):
        stale.unlink()
    repo.write(
        "clusters/dev/sync.yaml", FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", "./clusters/dev")
    )
    previous = ""
    for owner in OWNERS:
        extra = f"  dependsOn:\n    - name: {previous}\n" if previous else ""
        repo.write(f"clusters/dev/{owner}.yaml", flux_kustomization(owner, f"./{owner}", extra))
        names = [f"{owner}-{i}" for i in range(8)] if version == 1 else [f"{owner}-{i}" for i in range(2, 10)]
        for name in names:
            value = "v2" if version == 2 and name.endswith("-3") else "v1"
            repo.write(f"{owner}/{name}.yaml", configmap_text(name, "kill", value=value))
        previous = owner
    repo.write("infra/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kill\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", f"v{version}")


def _fleet(api: KubeApi) -> dict[str, str]:
    return {
        obj["metadata"]["name"]: str((obj.get("data") or {}).get("value"))
        for obj in api.server.objects(kind="ConfigMap")
        if OWNER_LABEL in ((obj.get("metadata") or {}).get("labels") or {})
    }


def test_kill_at_random_points_then_rollback_converges_to_the_recorded_revision(
    kubeapi: KubeApi, tmp_path: Path
) -> None:
    chooser = random.Random(19)
    killed_mid_apply = 0
    with CliForkServer() as server:
        for trial in range(TRIALS):
            killed_mid_apply += _trial(kubeapi, server, tmp_path / f"trial-{trial}", chooser.randint(1, 15))
    assert killed_mid_apply >= TRIALS // 2  # the kills really landed inside applies


def _trial(kubeapi: KubeApi, server: CliForkServer, base: Path, writes: int) -> bool:
    kubeapi.server.reset()
    kubeapi.server.inject_fault(r"^/api/", method="PATCH", latency=0.01)
    kubeapi.server.inject_fault(r"^/api/", method="DELETE", latency=0.01)
    repo = TestRepo.create(base / "repo")
    cluster = repo.path / "clusters" / "dev"
    state = base / "state.json"
    common = ["--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state)]
    _release(repo, 1)
    assert run("apply", cluster, *common, "--init-state", "--auto-approve").code == 0
    v1 = _fleet(kubeapi)
    recorded = LocalBackend(state).read()
    assert recorded is not None
    _release(repo, 2)

    killed = kill_after_writes(kubeapi, server, ["apply", str(cluster), *common, "--auto-approve"], writes)

    back = run("rollback", cluster, *common, "--to", str(recorded.serial), "--auto-approve")
    assert back.code == 0, f"{writes} writes: {back.err}"
    assert _fleet(kubeapi) == v1, f"{writes} writes"
    assert not (base / "state.json.journal").exists()  # the rollback settled the interrupted run
    plan = run("plan", cluster, *common, "--detailed-exitcode")  # HEAD (v2) against the rolled-back cluster
    assert plan.code == 2, plan.out
    assert "was rolled back at serial" in plan.out
    return killed and "was interrupted after" in back.err and "rolling back to the recorded revision" in back.err
