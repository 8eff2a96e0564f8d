"""Connecting: kubeconfig and context selection, in-cluster config, the request door."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fluxform.cluster.client import ClusterOptions, connect
from fluxform.errors import ClusterError
from tests.kubeapi import KubeApi


def _two_contexts(path: Path, good_url: str, current: str) -> Path:
    """A kubeconfig with a working context `lab` and a dead one `prod` (nothing listens on port 9)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "lab", "cluster": {"server": good_url}},
            {"name": "prod", "cluster": {"server": "http://127.0.0.1:9"}},
        ],
        "users": [{"name": "u", "user": {"token": "kubeapi-token"}}],
        "contexts": [
            {"name": "lab", "context": {"cluster": "lab", "user": "u"}},
            {"name": "prod", "context": {"cluster": "prod", "user": "u"}},
        ],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("current", "chosen", "server"), [("lab", "", "good"), ("prod", "lab", "good"), ("lab", "prod", "dead")]
)
def test_context_is_the_flag_else_the_current_one(
    kubeapi: KubeApi, tmp_path: Path, current: str, chosen: str, server: str
) -> None:
    kubeconfig = _two_contexts(tmp_path / "config", kubeapi.url, current)
    with connect(ClusterOptions(kubeconfig=kubeconfig, context=chosen)) as cluster:
        assert cluster.context == (chosen or current)
        assert cluster.server == (kubeapi.url if server == "good" else "http://127.0.0.1:9")


def test_kubeconfig_comes_from_the_environment_when_not_given(
    kubeapi: KubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = _two_contexts(tmp_path / "config", kubeapi.url, "lab")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with connect(ClusterOptions()) as cluster:
        assert cluster.request("GET", "/version").json()["gitVersion"].startswith("v1.")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-file", "kubeconfig {tmp}/absent does not exist"),
        ("unknown-context", "context 'staging' is not in kubeconfig {tmp}/config: contexts: lab, prod"),
        ("not-yaml", "cannot read kubeconfig {tmp}/config"),
    ],
)
def test_kubeconfig_problems_are_one_line_errors(kubeapi: KubeApi, tmp_path: Path, case: str, message: str) -> None:
    kubeconfig = _two_contexts(tmp_path / "config", kubeapi.url, "lab")
    options = ClusterOptions(kubeconfig=kubeconfig)
    if case == "missing-file":
        options = ClusterOptions(kubeconfig=tmp_path / "absent")
    elif case == "unknown-context":
        options = ClusterOptions(kubeconfig=kubeconfig, context="staging")
    else:
        kubeconfig.write_text("{not: [yaml")
    with pytest.raises(ClusterError) as caught:
        connect(options)
    assert caught.value.one_line().startswith(message.format(tmp=tmp_path))


def test_in_cluster_config_is_used_in_a_pod_without_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    # not a pod: the service account token file is missing, which is the error we expect
    with pytest.raises(ClusterError, match="cannot load the in-cluster configuration"):
        connect(ClusterOptions())


def test_requests_are_counted_and_name_fluxform(kubeapi: KubeApi) -> None:
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig)) as cluster:
        cluster.request("GET", "/api")
        reply = cluster.request("GET", "/api/v1/namespaces/nope")
    assert reply.status == 404 and reply.failure().reason == "NotFound"
    assert cluster.request_count == 2
    assert [r.user_agent.split("/")[0] for r in kubeapi.server.requests] == ["fluxform", "fluxform"]


def test_dead_server_of_the_chosen_context_is_a_clear_error(kubeapi: KubeApi, tmp_path: Path) -> None:
    kubeconfig = _two_contexts(tmp_path / "config", kubeapi.url, "lab")
    options = ClusterOptions(kubeconfig=kubeconfig, context="prod", connect_timeout=1)
    with connect(options) as cluster, pytest.raises(ClusterError) as caught:
        cluster.request("GET", "/api")
    assert caught.value.one_line().startswith("cannot reach the Kubernetes API at http://127.0.0.1:9 (context prod): ")
