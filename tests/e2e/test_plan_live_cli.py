"""`fluxform plan --kubeconfig` end to end: the CLI against the Kubernetes API emulator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.live_cluster import apply_fleet, patch_live
from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, KEYS, run

MINIMAL = FIXTURES / "minimal" / "clusters" / "dev"


def test_live_plan_through_the_cli(kubeapi: KubeApi, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    args = ("plan", MINIMAL, "--kubeconfig", kubeapi.kubeconfig, "--no-color")
    first = run(*args, "--out", plan_file, "--detailed-exitcode")
    assert first.code == 2, first.err
    assert "(against the live cluster)" in first.out
    assert "  cluster:      kubeapi (http://127.0.0.1:" in first.out
    assert "  apply as:     fluxform" in first.out
    assert "  comparison:   server-side apply dry-run" in first.out
    assert "+ create  Deployment/hello/hello" in first.out
    data = json.loads(plan_file.read_text())
    assert data["mode"] == "live"
    deployment = next(c for c in data["changes"] if c["kind"] == "Deployment")
    assert deployment["live_resource_version"] == "" and deployment["desired"]["kind"] == "Deployment"

    state_file = tmp_path / "state.json"
    apply_fleet(kubeapi, MINIMAL, state_file)
    clean = run(*args, "--state", state_file, "--detailed-exitcode")
    assert clean.code == 0, clean.out + clean.err
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in clean.out

    edit = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello-config", "namespace": "hello"}}
    patch_live(kubeapi, {**edit, "data": {"color": "red"}})  # a field fluxform applied
    drifted = run(*args, "--state", state_file)
    assert "Objects changed outside of fluxform since the last apply:" in drifted.out
    assert "ConfigMap/hello/hello-config" in drifted.out and "+  color: red" in drifted.out


def test_unreachable_cluster_is_one_line_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        "clusters: [{name: gone, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u}}]\nusers: [{name: u, user: {token: t}}]\n"
    )
    result = run("plan", MINIMAL, "--kubeconfig", kubeconfig, "--keys-dir", KEYS)
    assert result.code == 1
    assert result.err.startswith("Error: ") and result.err.count("\n") == 1
    assert "127.0.0.1:9" in result.err
