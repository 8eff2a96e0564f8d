"""The Kubernetes state backend is reached with the plan's own cluster flags: the same
`--kubeconfig/--context` that point a live plan at a cluster point its state there too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fluxform.cluster.options import ClusterOptions
from fluxform.state.kube import KubeBackend
from fluxform.state.model import new_state
from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, run


def test_plan_reads_the_kubernetes_state_of_the_cluster_its_flags_name(
    kubeapi: KubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "minimal", fleet)
    config = "cluster: clusters/dev\nstate:\n  backend: kubernetes\n  namespace: fluxform-state\n"
    (fleet / "fluxform.yaml").write_text(config)
    kubeapi.server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fluxform-state"}})
    backend = KubeBackend.from_options(ClusterOptions(kubeconfig=kubeapi.kubeconfig), namespace="fluxform-state")
    stored = backend.write(new_state("kubeapi"))
    assert backend.name == "kubeapi"  # named after the context it connected to
    monkeypatch.chdir(fleet)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config to fall back on
    monkeypatch.delenv("KUBECONFIG", raising=False)

    result = run("plan", "--kubeconfig", kubeapi.kubeconfig)  # its current context names the state
    assert result.code == 0, result.err
    assert f"lineage {stored.lineage[:4]}" in result.out and "serial 1" in result.out
    reads = [r for r in kubeapi.server.requests if r.path.endswith("/secrets/fluxform-state-kubeapi")]
    assert reads and {r.user_agent.split("/")[0] for r in reads} == {"fluxform"}

    offline = run("plan")  # no flags: fluxform.yaml names no cluster, and there is no kubeconfig to find
    assert offline.code == 1 and offline.err.startswith("Error: cannot tell which cluster's state to use")


def test_state_commands_take_the_in_cluster_flag_to_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    result = run("state", "list", "--backend", "kubernetes", "--backend-namespace", "fluxform-state", "--in-cluster")
    # not a pod: no service account token, which is the error that proves the flag was used
    assert result.code == 1
    assert result.err.startswith("Error: cannot load the in-cluster configuration")


def test_state_commands_name_the_default_state_plan_left_beside_the_fleet_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan PATH` keeps the default local state under PATH/.fluxform/, the `state` commands
    look in the working directory: when that has none, the error names the ones below it."""
    beside = tmp_path / "fleet" / "clusters" / "dev" / ".fluxform"
    beside.mkdir(parents=True)
    (beside / "kubeapi.state.json").write_text("{}")
    monkeypatch.chdir(tmp_path)

    result = run("state", "history", "--context", "kubeapi")

    assert result.code == 1
    assert result.err == (
        f"Error: no state at file {tmp_path}/.fluxform/kubeapi.state.json (hint: plan and apply keep it beside "
        "the fleet path: found fleet/clusters/dev/.fluxform/kubeapi.state.json; run there or pass --state FILE)\n"
    )
