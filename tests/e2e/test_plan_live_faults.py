"""Live plans when the cluster is unreachable, refuses, or restricts: each is one clear error
or a clearly marked warning in the plan, never a traceback. Also Flux's skip policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.cluster.client import ClusterOptions
from fluxform.errors import ClusterError
from fluxform.planner.live.decide import CLIENT_SIDE
from fluxform.planner.live.workflow import plan_fleet_live
from fluxform.planner.planfile import plan_file_from
from fluxform.views.plan import render_text
from tests.e2e.live_cluster import apply_fleet, by_id, plan, request
from tests.kubeapi import KubeApi
from tests.support.trees import replace_in_file

pytestmark = pytest.mark.usefixtures("shared_build_cache")


@pytest.fixture
def state(kubeapi: KubeApi, hello: Path, tmp_path: Path) -> Path:
    """The state file after applying the minimal fleet to the cluster."""
    state_file = tmp_path / "state.json"
    apply_fleet(kubeapi, hello, state_file)
    return state_file


def _edit(cluster_dir: Path, name: str, old: str, new: str) -> None:
    replace_in_file(cluster_dir.parent.parent / "apps" / "hello" / name, old, new, count=1)


def _error(cluster_dir: Path, options: ClusterOptions) -> str:
    with pytest.raises(ClusterError) as caught:
        plan_fleet_live(cluster_dir, request(), state_path=None, cluster_options=options)
    line = caught.value.one_line()
    assert "\n" not in line and "Traceback" not in line
    return line


def test_unreachable_api_server_is_one_clear_error(kubeapi: KubeApi, hello: Path) -> None:
    kubeapi.stop()
    line = _error(hello, ClusterOptions(kubeconfig=kubeapi.kubeconfig, connect_timeout=1.0))
    assert line.startswith(f"cannot reach the Kubernetes API at {kubeapi.url} (context kubeapi): ")
    assert "Connection refused" in line and "HTTPConnection" not in line


def test_expired_credentials_are_one_clear_error(kubeapi: KubeApi, hello: Path) -> None:
    kubeapi.server.expire_token()
    line = _error(hello, ClusterOptions(kubeconfig=kubeapi.kubeconfig))
    assert line.startswith(
        f"the Kubernetes API at {kubeapi.url} rejected the credentials of context kubeapi (HTTP 401)"
    )
    assert "expired token or certificate" in line


def test_unknown_context_lists_the_known_ones(kubeapi: KubeApi, hello: Path) -> None:
    line = _error(hello, ClusterOptions(kubeconfig=kubeapi.kubeconfig, context="prod"))
    assert line.startswith("context 'prod' is not in kubeconfig ")
    assert "contexts: kubeapi" in line and "--context" in line


def test_missing_kubeconfig_file(kubeapi: KubeApi, hello: Path, tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"kubeconfig .*nope does not exist"):
        plan_fleet_live(hello, request(), state_path=None, cluster_options=ClusterOptions(kubeconfig=tmp_path / "nope"))


def test_transient_server_errors_and_dropped_connections_are_retried(kubeapi: KubeApi, hello: Path) -> None:
    kubeapi.server.inject_fault(r"/api/v1/namespaces$", status=503, times=1)
    kubeapi.server.inject_fault(r"/apis/apps/v1/", drop=True, times=1)
    result = plan(kubeapi, hello)
    assert result.counts()["add"] == 3


def test_persistent_server_error_is_one_clear_error(kubeapi: KubeApi, hello: Path) -> None:
    kubeapi.server.inject_fault(r"/apis/apps/v1/", status=500)
    line = _error(hello, ClusterOptions(kubeconfig=kubeapi.kubeconfig))
    assert "failed (context kubeapi): HTTP 500 InternalError: kubeapi: injected fault (500)" in line


def test_forbidden_list_of_one_type_is_a_warning_and_falls_back_to_state(
    kubeapi: KubeApi, hello: Path, state: Path
) -> None:
    kubeapi.server.forbid(verb="list", resource="configmaps")
    result = plan(kubeapi, hello, state)
    config = by_id(result, "ConfigMap/hello/hello-config")
    assert config.action == "no-op" and config.reason == "live object not readable (HTTP 403 Forbidden)"
    assert by_id(result, "Deployment/hello/hello").action == "no-op"
    warnings = [d.one_line() for d in result.diagnostics]
    assert any(
        w.startswith("cannot read ConfigMap in namespace hello (HTTP 403 Forbidden): its objects are compared")
        for w in warnings
    ), warnings


def test_forbidden_dry_run_falls_back_to_client_side_and_says_so(kubeapi: KubeApi, hello: Path, state: Path) -> None:
    kubeapi.server.forbid(verb="patch")  # read-only CI credentials
    _edit(hello, "configmap.yaml", "color: blue", "color: green")
    _edit(hello, "deployment.yaml", "replicas: 1", "replicas: 3")
    kubeapi.server.clear_requests()
    result = plan(kubeapi, hello, state)
    config = by_id(result, "ConfigMap/hello/hello-config")
    assert config.action == "update" and config.reason == CLIENT_SIDE
    assert "-  color: blue\n+  color: green" in config.diff
    deployment = by_id(result, "Deployment/hello/hello")
    assert deployment.action == "update"
    assert "-  replicas: 1\n+  replicas: 3" in deployment.diff
    assert deployment.diff.count("\n-") == 1  # server defaults are not shown as removed
    assert by_id(result, "Namespace/hello").action == "no-op"
    assert result.live is not None and result.live.comparison == (
        "server-side apply dry-run; client-side for configmaps, deployments.apps (dry-run forbidden)"
    )
    assert kubeapi.server.request_count(method="PATCH") == 2  # one refused dry-run per type, then none
    assert "server-side dry-run is forbidden for configmaps, deployments.apps" in render_text(plan_file_from(result))


def test_reconcile_disabled_and_if_not_present_are_skipped_as_flux_does(
    kubeapi: KubeApi, hello: Path, state: Path
) -> None:
    _edit(hello, "configmap.yaml", "color: blue", "color: green")
    _edit(hello, "configmap.yaml", "  namespace: hello\n", "  namespace: hello\n  annotations:\n"
          "    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent\n")  # fmt: skip
    _edit(hello, "deployment.yaml", "replicas: 1", "replicas: 3")
    _edit(
        hello, "deployment.yaml", "\n  labels:\n", "\n  labels:\n    kustomize.toolkit.fluxcd.io/reconcile: disabled\n"
    )
    result = plan(kubeapi, hello, state)
    assert not result.has_changes()
    assert by_id(result, "ConfigMap/hello/hello-config").reason == (
        "skipped: kustomize.toolkit.fluxcd.io/ssa: IfNotPresent and it exists"
    )
    assert by_id(result, "Deployment/hello/hello").reason == "skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled"
    kubeapi.server.delete(("", "ConfigMap", "hello", "hello-config"))
    recreated = by_id(plan(kubeapi, hello, state), "ConfigMap/hello/hello-config")
    assert recreated.action == "create"  # IfNotPresent: applied when absent


def test_immutable_change_under_a_forcing_kustomization_is_a_plain_replace(
    kubeapi: KubeApi, hello: Path, state: Path
) -> None:
    deployment = hello.parent.parent / "apps" / "hello" / "deployment.yaml"
    replace_in_file(deployment, "app.kubernetes.io/name: hello", "app.kubernetes.io/name: hi")
    ks = hello / "hello.yaml"
    replace_in_file(ks, "  prune: true\n", "  prune: true\n  force: true\n")
    replace = by_id(plan(kubeapi, hello, state), "Deployment/hello/hello")
    assert replace.action == "replace"
    assert replace.reason == "spec.selector cannot change (immutable)"


def test_a_cluster_forbidding_every_read_fails_the_plan(kubeapi: KubeApi, hello: Path, tmp_path: Path) -> None:
    """Nothing can be compared with the cluster: not 'no changes' (exit 0), an error (issue 15)."""
    from tests.support.cli import run

    state = tmp_path / "state.json"
    apply_fleet(kubeapi, hello, state)
    kubeapi.server.forbid(verb="list")
    result = run("plan", hello, "--kubeconfig", kubeapi.kubeconfig, "--state", state, "--detailed-exitcode")
    assert result.code == 1, result.out + result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: the cluster forbids reading every type this plan needs")
    assert "HTTP 403 Forbidden" in lines[0]
