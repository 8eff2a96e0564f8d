"""A live plan compares a HelmRelease with its deployed Helm release (planner/live/
helm_releases.py): what Helm will change and delete is measured from the release manifest in
Helm's storage, live edits show as drift from it, and a pending or failed release is said so.
The release is made by fluxform's ReleaseApplier (the real Helm SDK); no state file is used."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import helm_python
import pytest

from fluxform.objects import ObjectId
from fluxform.planner.plan import Action, Plan
from fluxform.planner.workflow import rendered_fleet
from tests.e2e.live_cluster import plan, request
from tests.kubeapi import KubeApi
from tests.support.charts_http import write_chart
from tests.support.desired import owner_of
from tests.support.releases import DEFAULT_VALUES, DEPLOYMENT, HEALTH_ANNOTATION, NAMESPACE, RELEASE, ReleaseBench
from tests.support.trees import flux_kustomization, helm_release, write_tree

LEFT_ALONE = "apply leaves it (spec.driftDetection is disabled, helm-controller's default)"
WARNED = "apply reports it, not corrected (spec.driftDetection.mode: warn)"
CORRECTED = "apply corrects this drift without a new Helm revision (spec.driftDetection.mode: enabled)"


def _fleet(root: Path, values: str = "replicas: 1", extra: str = "", chart: str = "./charts/shop") -> Path:
    spec = f"  timeout: 20s\n{extra}  values:\n    {values}\n"
    release = helm_release(RELEASE, chart, spec, namespace=NAMESPACE)
    sync = flux_kustomization("flux-system", "./clusters/dev") + "---\n" + release
    return write_tree(root, {"clusters/dev/sync.yaml": sync}) / "clusters" / "dev"


def _release_changes(result: Plan) -> dict[str, tuple[str, str]]:
    owner = f"HelmRelease/{NAMESPACE}/{RELEASE}"
    return {str(c.id): (str(c.action), c.reason) for c in result.changes if str(c.owner) == owner}


def _warnings(result: Plan) -> list[str]:
    return [d.one_line() for d in result.diagnostics if "Helm release" in d.summary]


@pytest.fixture
def bench(kubeapi: KubeApi, tmp_path: Path) -> ReleaseBench:
    # the chart lands in tmp_path/fleet/charts/shop; a cluster without Flux: both apply as "fluxform"
    return ReleaseBench(kubeapi, tmp_path, field_manager="fluxform")


def test_a_deployed_release_in_sync_plans_no_changes(kubeapi: KubeApi, bench: ReleaseBench, tmp_path: Path) -> None:
    bench.apply({"replicas": 1})
    result = plan(kubeapi, _fleet(bench.fleet), keys_dir=None)
    changes = _release_changes(result)
    assert changes == {
        "CustomResourceDefinition/widgets.example.com": ("no-op", ""),
        "Deployment/team/shop-web": ("no-op", ""),
        "ConfigMap/team/shop-settings": ("no-op", ""),
        "Widget/team/shop-widget": ("no-op", ""),
    }  # the release's objects are Helm's: not "adopted", although no state records them
    assert _warnings(result) == [] and result.drift == ()


def test_changes_deletions_and_drift_are_measured_from_the_release(
    kubeapi: KubeApi, bench: ReleaseBench, tmp_path: Path
) -> None:
    bench.apply({"replicas": 1})
    settings = kubeapi.server.get(("", "ConfigMap", NAMESPACE, f"{RELEASE}-settings"))
    assert settings is not None
    edited: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{RELEASE}-settings"}}
    kubeapi.server.apply(
        {**edited, "metadata": {**edited["metadata"], "namespace": NAMESPACE}, "data": {"greeting": "edited"}},
        manager="kubectl-edit",
        force=True,
    )
    (bench.fleet / "charts" / RELEASE / "templates" / "widget.yaml").unlink()  # the chart drops the Widget
    result = plan(kubeapi, _fleet(bench.fleet, "replicas: 2"), keys_dir=None)
    changes = _release_changes(result)
    assert changes["Deployment/team/shop-web"] == ("update", "")
    assert changes["Widget/team/shop-widget"] == ("delete", "no longer rendered by HelmRelease/team/shop")
    assert changes["ConfigMap/team/shop-settings"] == ("update", "reverts changes made outside of fluxform")
    [drift] = result.drift
    assert (str(drift.id), drift.reason) == ("ConfigMap/team/shop-settings", "changed outside of fluxform")
    assert drift.before is not None and drift.after is not None
    assert (drift.before["data"]["greeting"], drift.after["data"]["greeting"]) == ("hello", "edited")


def test_a_failed_release_is_said_so(kubeapi: KubeApi, bench: ReleaseBench) -> None:
    bench.apply({"replicas": 1})
    with pytest.raises(Exception, match="Helm upgrade of release team/shop failed"):
        bench.apply({"replicas": 1, "podAnnotations": {HEALTH_ANNOTATION: "failed"}})
    result = plan(kubeapi, _fleet(bench.fleet), keys_dir=None)
    [warning] = _warnings(result)
    assert warning.startswith("HelmRelease/team/shop")
    assert "Helm release team/shop is failed at revision 2" in warning and "apply upgrades it" in warning
    # measured from the deployed revision 1, which this fleet renders: live holds revision 2's failed spec
    assert _release_changes(result)["Deployment/team/shop-web"] == (
        "update",
        "reverts changes made outside of fluxform",
    )


def test_a_pending_release_is_said_so(kubeapi: KubeApi, bench: ReleaseBench) -> None:
    errors: list[BaseException] = []

    def other_client() -> None:  # the helm CLI, say: installs, then upgrades and waits
        with bench.helm() as helm:
            with helm_python.Chart.load(bench.fleet / "charts" / RELEASE) as chart:
                helm.install(chart, RELEASE, {"replicas": 1}, namespace=NAMESPACE, timeout=20, wait="watcher")
            with helm_python.Chart.load(bench.fleet / "charts" / RELEASE) as chart:
                try:
                    values = {"replicas": 1, "podAnnotations": {HEALTH_ANNOTATION: "progressing"}}
                    helm.upgrade(chart, RELEASE, values, namespace=NAMESPACE, timeout=6, wait="watcher")
                except helm_python.HelmError as exc:
                    errors.append(exc)

    thread = threading.Thread(target=other_client)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while bench.history()[-1:] != [(2, "pending-upgrade")] and time.monotonic() < deadline:
            time.sleep(0.1)
        result = plan(kubeapi, _fleet(bench.fleet), keys_dir=None)
    finally:
        thread.join(timeout=30)
    [warning] = _warnings(result)
    assert "Helm release team/shop is pending-upgrade at revision 2" in warning and "leaves it alone" in warning
    assert all(action != Action.DELETE for action, _ in _release_changes(result).values())


def test_the_owner_a_plan_rendered_is_what_apply_installs(kubeapi: KubeApi, bench: ReleaseBench) -> None:
    """The apply executor's path: the HelmRelease owner of the desired state carries its render
    (chart, values, names); applying it makes a release the next plan finds in sync."""
    cluster = _fleet(bench.fleet, "replicas: 2")
    with rendered_fleet(cluster, request(keys_dir=None)) as (desired, _):  # the chart lives as long as the render
        owner = owner_of(desired, ObjectId(NAMESPACE, RELEASE, "helm.toolkit.fluxcd.io", "HelmRelease"))
        assert owner.rendered is not None and owner.rendered.spec is not None
        with bench.applier() as applier:
            outcome = applier.apply(owner.rendered)
    assert (outcome.action, outcome.revision_after, outcome.status) == ("install", 1, "deployed")
    result = plan(kubeapi, cluster, keys_dir=None)
    assert {action for action, _ in _release_changes(result).values()} == {"no-op"}
    assert result.drift == () and _warnings(result) == []


def test_a_release_stored_outside_its_release_namespace_is_read_from_its_storage(
    kubeapi: KubeApi, bench: ReleaseBench
) -> None:
    """targetNamespace apps without storageNamespace: Helm's records in team (the HelmRelease's
    namespace), the objects in apps; the plan finds the release there and measures from it."""
    bench.create_namespace("apps")
    cluster = _fleet(bench.fleet, "replicas: 2", extra="  targetNamespace: apps\n")
    with rendered_fleet(cluster, request(keys_dir=None)) as (desired, _):
        owner = owner_of(desired, ObjectId(NAMESPACE, RELEASE, "helm.toolkit.fluxcd.io", "HelmRelease"))
        assert owner.rendered is not None
        with bench.applier() as applier:
            outcome = applier.apply(owner.rendered)
    assert (str(outcome.release), outcome.release.storage_namespace, outcome.status) == (
        "apps/apps-shop",
        NAMESPACE,
        "deployed",
    )
    assert (
        bench.storage_secrets(NAMESPACE) == ["sh.helm.release.v1.apps-shop.v1"] and bench.storage_secrets("apps") == []
    )
    kubeapi.server.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "apps-shop-settings", "namespace": "apps"},
         "data": {"greeting": "edited"}},
        manager="kubectl-edit",
        force=True,
    )  # fmt: skip
    kubeapi.server.clear_requests()
    result = plan(kubeapi, cluster, keys_dir=None)
    assert _release_changes(result) == {
        "CustomResourceDefinition/widgets.example.com": ("no-op", ""),
        "Deployment/apps/apps-shop-web": ("no-op", ""),
        "ConfigMap/apps/apps-shop-settings": ("no-op", f"changed outside of fluxform: {LEFT_ALONE}"),
        "Widget/apps/apps-shop-widget": ("no-op", ""),
    }  # measured from the deployed release read from team: not "adopted", no state file
    [drift] = result.drift
    assert (str(drift.id), drift.reason) == ("ConfigMap/apps/apps-shop-settings", "changed outside of fluxform")
    assert _warnings(result) == []
    storage_reads = {r.path for r in kubeapi.server.requests if r.path.endswith("/secrets")}
    assert storage_reads == {f"/api/v1/namespaces/{NAMESPACE}/secrets"}


def test_a_chart_name_change_is_planned_as_a_replace(kubeapi: KubeApi, bench: ReleaseBench) -> None:
    """upgrade.chartNameChangeStrategy: Reinstall (the default): apply uninstalls the release and
    installs the new chart's; each object still rendered is planned as a replace."""
    bench.apply({"replicas": 1})
    write_chart(
        bench.fleet / "charts", "store", "1.0.0", templates={"deployment.yaml": DEPLOYMENT}, values=DEFAULT_VALUES
    )
    result = plan(kubeapi, _fleet(bench.fleet, chart="./charts/store"), keys_dir=None)
    changes = _release_changes(result)
    reason = "chart name changed from shop to store: apply reinstalls the release"
    assert changes["Deployment/team/shop-web"] == ("replace", reason)
    assert changes["ConfigMap/team/shop-settings"] == ("delete", "no longer rendered by HelmRelease/team/shop")
    in_place = _fleet(
        bench.fleet, chart="./charts/store", extra="  upgrade:\n    chartNameChangeStrategy: InPlaceUpdate\n"
    )
    assert _release_changes(plan(kubeapi, in_place, keys_dir=None))["Deployment/team/shop-web"] == ("no-op", "")


@pytest.mark.parametrize(
    ("mode", "action", "reason"),
    [
        ("", "no-op", f"changed outside of fluxform: {LEFT_ALONE}"),
        ("warn", "no-op", "changed outside of fluxform: " + WARNED),
        ("enabled", "update", CORRECTED),
    ],
)  # fmt: skip
def test_drift_of_an_in_sync_release_says_what_apply_does_with_it(
    kubeapi: KubeApi, bench: ReleaseBench, mode: str, action: str, reason: str
) -> None:
    bench.apply({"replicas": 1})
    kubeapi.server.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{RELEASE}-settings", "namespace": NAMESPACE},
         "data": {"greeting": "edited"}},
        manager="kubectl-edit",
        force=True,
    )  # fmt: skip
    extra = f"  driftDetection:\n    mode: {mode}\n" if mode else ""
    result = plan(kubeapi, _fleet(bench.fleet, extra=extra), keys_dir=None)
    assert _release_changes(result)["ConfigMap/team/shop-settings"] == (action, reason)
    [drift] = result.drift  # listed whatever apply does with it
    assert str(drift.id) == "ConfigMap/team/shop-settings"
