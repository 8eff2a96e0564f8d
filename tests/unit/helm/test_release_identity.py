"""A HelmRelease whose chart name or release target changed is replaced as helm-controller
replaces it: the old release uninstalled, the new one installed (internal/action/verify.go
ReleaseTargetChanged, `upgrade.chartNameChangeStrategy`). Real Helm SDK against the emulator;
Helm's own client reads the storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluxform.helm.release import recorded_release
from tests.kubeapi import KubeApi
from tests.support.charts_http import write_chart
from tests.support.releases import DEFAULT_VALUES, DEPLOYMENT, NAMESPACE, RELEASE, ReleaseBench

FLEET = {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}
STORE_CHART = {"spec": {"chart": "./charts/store", "sourceRef": FLEET}}


def _steps(outcome: Any) -> list[tuple[str, int | None, str]]:
    return [(s.action, s.revision, s.status) for s in outcome.steps]


def _web(kubeapi: KubeApi, namespace: str, name: str) -> dict[str, Any] | None:
    return kubeapi.server.get(("apps", "Deployment", namespace, f"{name}-web"))


def _bench_with_store_chart(kubeapi: KubeApi, tmp_path: Path) -> ReleaseBench:
    bench = ReleaseBench(kubeapi, tmp_path)
    write_chart(
        bench.fleet / "charts", "store", "1.0.0", templates={"deployment.yaml": DEPLOYMENT}, values=DEFAULT_VALUES
    )
    return bench


def test_a_changed_chart_name_reinstalls_the_release(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = _bench_with_store_chart(kubeapi, tmp_path)
    bench.apply({"replicas": 2})
    first_uid = (_web(kubeapi, NAMESPACE, RELEASE) or {})["metadata"]["uid"]
    outcome = bench.apply({"replicas": 2}, chart=STORE_CHART)
    assert (outcome.action, outcome.replaced) == ("install", "chart name changed from shop to store")
    assert _steps(outcome) == [("uninstall", None, ""), ("install", 1, "deployed")]
    with bench.helm() as helm:
        status = helm.status(RELEASE)
    assert (status["chart_name"], status["revision"]) == ("store", 1)
    assert bench.history() == [(1, "deployed")]  # a new release, not revision 2 of the old one
    assert (_web(kubeapi, NAMESPACE, RELEASE) or {})["metadata"]["uid"] != first_uid  # recreated
    assert kubeapi.server.get(("", "ConfigMap", NAMESPACE, f"{RELEASE}-settings")) is None  # shop's own object went


def test_in_place_update_upgrades_across_a_chart_name_change(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = _bench_with_store_chart(kubeapi, tmp_path)
    bench.apply()
    upgrade = {"chartNameChangeStrategy": "InPlaceUpdate"}
    outcome = bench.apply(chart=STORE_CHART, upgrade=upgrade)
    assert (outcome.action, outcome.replaced, _steps(outcome)) == ("upgrade", "", [("upgrade", 2, "deployed")])
    assert bench.history() == [(1, "superseded"), (2, "deployed")]


def test_a_changed_release_namespace_uninstalls_the_old_release(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.create_namespace("apps")
    bench.apply({"replicas": 2})
    rendered = bench.render(bench.spec({"replicas": 2}, targetNamespace="apps"))
    with bench.applier() as applier:  # what the state recorded: release team/shop
        outcome = applier.apply(rendered, previous=(RELEASE, NAMESPACE))
    assert outcome.replaced == "release namespace changed from team to apps"
    assert (str(outcome.release), outcome.action, outcome.revision_after) == ("apps/apps-shop", "install", 1)
    assert _steps(outcome)[0] == ("uninstall", None, "")
    assert bench.history() == [] and _web(kubeapi, NAMESPACE, RELEASE) is None  # the old release and its objects
    assert bench.history("apps-shop", NAMESPACE) == [(1, "deployed")] and _web(kubeapi, "apps", "apps-shop")
    with bench.applier() as applier:  # once moved, the state names the new release: nothing more to uninstall
        again = applier.apply(rendered, previous=("apps-shop", "apps"))
    assert (again.action, again.replaced) == ("none", "")


def test_a_changed_storage_namespace_moves_the_release(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.create_namespace("helm-storage")
    bench.apply()
    rendered = bench.render(bench.spec(storageNamespace="helm-storage"))
    with bench.applier() as applier:
        outcome = applier.apply(rendered, previous=(RELEASE, NAMESPACE))
    assert outcome.replaced == "storage namespace changed from team to helm-storage"
    assert bench.storage_secrets(NAMESPACE) == [] and bench.history(RELEASE, "helm-storage") == [(1, "deployed")]


def test_a_release_of_another_helm_release_is_never_uninstalled(kubeapi: KubeApi, tmp_path: Path) -> None:
    """The state's release name must match a release made by this HelmRelease (origin labels)."""
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.create_namespace("apps")
    bench.apply()  # team/shop, made by HelmRelease team/shop
    other = ReleaseBench(kubeapi, tmp_path, namespace="apps")  # HelmRelease apps/shop: another object
    rendered = other.render(other.spec(releaseName="shop-two"))
    with other.applier() as applier:
        outcome = applier.apply(rendered, previous=(RELEASE, NAMESPACE))
    assert (outcome.action, outcome.replaced) == ("install", "")
    assert bench.history() == [(1, "deployed")]


def test_the_recorded_release_is_read_from_helms_ownership_annotations() -> None:
    helm = {"meta.helm.sh/release-name": "web-guestbook", "meta.helm.sh/release-namespace": "web"}
    assert recorded_release([None, {"metadata": {}}, {"metadata": {"annotations": helm}}]) == ("web-guestbook", "web")
    assert recorded_release([{"metadata": {"annotations": {"a": "b"}}}]) is None and recorded_release([]) is None
