"""The Kubernetes state backend is reached with the plan's own cluster flags: the same
`--kubeconfig/--context` that point a live plan at a cluster point its state there too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fluxform.cluster.options import ClusterOptions
from fluxform.state.kube import KubeBackend
from fluxform.state.model import new_state
from tests.e2e.cli import FIXTURES, run
from tests.kubeapi import KubeApi


def test_plan_reads_the_kubernetes_state_of_the_cluster_its_flags_name(
    kubeapi: KubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "minimal", fleet)
    config = "cluster: clusters/dev\nstate:\n  backend: kubernetes\n  namespace: fluxform-state\n"
    (fleet / "fluxform.yaml").write_text(config)
    kubeapi.server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fluxform-state"}})
    assert kubeapi.kubeconfig_path is not None
    backend = KubeBackend.from_options(ClusterOptions(kubeconfig=kubeapi.kubeconfig_path), namespace="fluxform-state")
    stored = backend.write(new_state("kubeapi"))
    assert backend.name == "kubeapi"  # named after the context it connected to
    monkeypatch.chdir(fleet)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config to fall back on
    monkeypatch.delenv("KUBECONFIG", raising=False)

    result = run("plan", "--kubeconfig", kubeapi.kubeconfig_path, "--context", "kubeapi")
    assert result.code == 0, result.err
    assert f"lineage {stored.lineage[:4]}" in result.out and "serial 1" in result.out
    reads = [r for r in kubeapi.server.requests if r.path.endswith("/secrets/fluxform-state-kubeapi")]
    assert reads and {r.user_agent.split("/")[0] for r in reads} == {"fluxform"}

    offline = run("plan")  # no flags: fluxform.yaml names no kubeconfig, and there is none to find
    assert offline.code == 1 and offline.err.startswith("Error: ") and "kubeconfig" in offline.err
