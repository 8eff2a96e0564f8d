"""Health checks (spec.wait) with kstatus rules: a rollout that fails is reported at once
(Flux's fail-fast on a Stalled/Failed object), one that never finishes at the timeout, each
naming the object and the reason; with --no-rollback the owner's state stays pending and
nothing is pruned (the automatic rollback is tests/e2e/test_apply_rollback.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fluxform.state.model import PENDING_DIGEST
from tests.kubeapi import KubeApi
from tests.support.applyfleet import APPS, apply_cli, deployment_text, write_apply_fleet

pytestmark = pytest.mark.usefixtures("shared_build_cache")


def _fleet(tmp_path: Path, health: str) -> Path:
    fleet = write_apply_fleet(tmp_path / "repo", apps_spec="  wait: true\n")
    (fleet.parents[1] / "apps" / "deployment.yaml").write_text(deployment_text("web", "demo", health=health))
    return fleet


def test_healthy_objects_pass_the_wait(kubeapi: KubeApi, tmp_path: Path) -> None:
    result = apply_cli(kubeapi, _fleet(tmp_path, "healthy"), tmp_path / "state.json")
    assert result.code == 0, result.err
    assert f"{APPS}: applied: 5 created" in result.out


def test_a_failed_rollout_fails_fast_naming_the_object_and_reason(kubeapi: KubeApi, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    started = time.monotonic()

    result = apply_cli(kubeapi, _fleet(tmp_path, "failed"), state, "--no-rollback")

    assert time.monotonic() - started < 60  # spec.timeout is 1m; fail-fast does not wait for it
    assert result.code == 1
    line = result.err.strip().splitlines()[-1]
    assert line.startswith(f"Error: {APPS} failed: {APPS}: health checks failed early due to stalled resources:")
    assert "[Deployment/demo/web status: 'Failed' (ProgressDeadlineExceeded:" in line
    assert "Apply failed: 8 created, 0 configured, 0 deleted; 3 owners: 1 applied, 1 unchanged, 1 failed." in result.out
    doc = json.loads(state.read_text())
    assert doc["operation"] == "apply (failed)"
    apps = doc["ownerRecords"][doc["owners"]["flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization"]]
    assert {o["digest"] for o in apps["objects"]} == {PENDING_DIGEST}  # pending: not confirmed applied


def test_a_rollout_that_never_finishes_times_out(kubeapi: KubeApi, tmp_path: Path) -> None:
    result = apply_cli(kubeapi, _fleet(tmp_path, "progressing"), tmp_path / "state.json", "--timeout", "2")

    assert result.code == 1
    line = result.err.strip().splitlines()[-1]
    assert "health checks: timeout after 2s waiting for: [Deployment/demo/web status: 'InProgress' (" in line
    assert f"{APPS}: waiting for health checks: [Deployment/demo/web status: 'InProgress'" in result.err  # progress
