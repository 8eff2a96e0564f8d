"""SIGTERM (CI cancellation) while an apply waits for a rollout: it stops between two steps,
puts back what it wrote (or, with --no-rollback, writes the state as it stands: the owner's
pending inventory), releases the lock and exits non-zero with one line; the next apply takes
the lock and converges."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fluxform.state.model import PENDING_DIGEST
from tests.kubeapi import KubeApi
from tests.support.applyfleet import apply_cli, deployment_text, write_apply_fleet

pytestmark = pytest.mark.usefixtures("shared_build_cache")

FLUXFORM = [sys.executable, "-c", "from fluxform.cli import main; main()"]
_OWNER_LABEL = "kustomize.toolkit.fluxcd.io/name"


def _sigterm_while_waiting(kubeapi: KubeApi, fleet: Path, state: Path, *args: str) -> tuple[int, str, str]:
    argv = ["apply", str(fleet), "--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state), *args]
    process = subprocess.Popen(
        [*FLUXFORM, *argv, "--init-state", "--auto-approve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    path = "/apis/apps/v1/namespaces/demo/deployments/web"
    deadline = time.monotonic() + 60
    while kubeapi.server.request_count(method="GET", path=path + "$") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the health check polls the Deployment: the apply is waiting
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def test_sigterm_while_waiting_rolls_back_and_releases_the_lock(kubeapi: KubeApi, tmp_path: Path) -> None:
    fleet = write_apply_fleet(tmp_path / "repo", apps_spec="  wait: true\n")
    deployment = fleet.parents[1] / "apps" / "deployment.yaml"
    deployment.write_text(deployment_text("web", "demo", health="progressing"))
    state = tmp_path / "state.json"

    code, out, err = _sigterm_while_waiting(kubeapi, fleet, state)

    assert code == 1
    assert "Error: Kustomization/flux-system/apps interrupted: stopped by a signal" in err
    assert "Rollback complete: 8 deleted" in out
    assert not [o for o in kubeapi.server.objects() if (o["metadata"].get("labels") or {}).get(_OWNER_LABEL)]
    doc = json.loads(state.read_text())
    assert doc["operation"] == "apply (stopped by SIGTERM, rolled back)"
    assert doc["owners"] == {}
    assert not (tmp_path / "state.json.journal").exists()

    deployment.write_text(deployment_text("web", "demo"))
    again = apply_cli(kubeapi, fleet, state)  # the lock was released

    assert again.code == 0, again.err


def test_sigterm_with_no_rollback_writes_the_state_as_it_stands(kubeapi: KubeApi, tmp_path: Path) -> None:
    fleet = write_apply_fleet(tmp_path / "repo", apps_spec="  wait: true\n")
    deployment = fleet.parents[1] / "apps" / "deployment.yaml"
    deployment.write_text(deployment_text("web", "demo", health="progressing"))
    state = tmp_path / "state.json"

    code, out, err = _sigterm_while_waiting(kubeapi, fleet, state, "--no-rollback")

    assert code == 1
    assert err.strip().splitlines()[-1].startswith("Error: stopped by SIGTERM")
    assert "Kustomization/flux-system/apps: interrupted: 5 created: stopped by a signal" in out
    doc = json.loads(state.read_text())
    assert doc["operation"] == "apply (interrupted)"
    apps = doc["ownerRecords"][doc["owners"]["flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization"]]
    assert {o["id"] for o in apps["objects"]} >= {"demo_web_apps_Deployment", "demo_settings__ConfigMap"}
    assert {o["digest"] for o in apps["objects"]} == {PENDING_DIGEST}
    assert (tmp_path / "state.json.journal").exists()  # what the interrupted run wrote, for the next one

    deployment.write_text(deployment_text("web", "demo"))
    again = apply_cli(kubeapi, fleet, state)  # the lock was released

    assert again.code == 0, again.err
    assert "Warning: the previous apply (run " in again.err and "was interrupted after " in again.err
    assert "rolling forward to this fleet" in again.err
    assert not (tmp_path / "state.json.journal").exists()
