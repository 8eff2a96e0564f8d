"""Live plans and kinds: a CRD with its custom resources in one plan, namespaces that do
not exist yet, kinds the cluster does not know, Flux's own kinds with and without Flux,
and the field manager choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.planner.model import OwnerStatus
from fluxform.planner.planfile import plan_file_from
from fluxform.views.plan import render_text
from tests.e2e.live_cluster import (
    apply_fleet,
    by_id,
    changes_by_action,
    crd,
    ensure_namespace,
    install_flux_crds,
    plan,
)
from tests.kubeapi import KubeApi
from tests.support.trees import crd_text

pytestmark = pytest.mark.usefixtures("shared_build_cache")

WIDGET_CRD = crd_text("Widget")
WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: blue
  namespace: hello
spec:
  size: 3
"""


def _add(cluster_dir: Path, name: str, text: str) -> None:
    app = cluster_dir.parent.parent / "apps" / "hello"
    (app / name).write_text(text)
    kustomization = app / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + f"  - {name}\n")


def test_crd_and_its_custom_resource_in_one_plan_in_a_new_namespace(kubeapi: KubeApi, hello: Path) -> None:
    _add(hello, "crd.yaml", WIDGET_CRD)
    _add(hello, "widget.yaml", WIDGET)
    kubeapi.server.clear_requests()
    result = plan(kubeapi, hello)
    assert sorted(changes_by_action(result)["create"]) == [
        "ConfigMap/hello/hello-config",
        "CustomResourceDefinition/widgets.example.com",
        "Deployment/hello/hello",
        "Namespace/hello",
        "Widget/hello/blue",
    ]
    assert by_id(result, "Widget/hello/blue").reason == "its CustomResourceDefinition is created by this plan"
    assert by_id(result, "Deployment/hello/hello").reason == ""  # its namespace is created by this plan
    assert not [d for d in result.diagnostics if "namespace" in d.summary]
    paths = [r.path for r in kubeapi.server.requests]
    assert not [p for p in paths if p.startswith("/apis/example.com")]  # not served yet: no read, no dry-run
    assert not [p for p in paths if "/namespaces/hello/" in p and "PATCH" in p]
    state = hello.parent.parent / "state.json"
    apply_fleet(kubeapi, hello, state)
    kubeapi.server.clear_requests()
    again = plan(kubeapi, hello, state)
    assert not again.has_changes()
    assert kubeapi.server.request_count(verb="list", path="widgets") == 1


def test_without_flux_its_kinds_are_not_applied_and_the_manager_is_fluxform(kubeapi: KubeApi, hello: Path) -> None:
    result = plan(kubeapi, hello)
    assert result.live is not None and result.live.field_managers.describe() == "fluxform (the cluster has no Flux)"
    ids = [str(c.id) for c in result.changes]
    assert "Kustomization/flux-system/hello" not in ids and "GitRepository/flux-system/flux-system" not in ids
    summaries = [d.summary for d in result.diagnostics]
    assert any(s.startswith("the cluster has no Flux CRDs: 2 Flux object(s) are not applied") for s in summaries)


def test_with_flux_its_kinds_are_applied_as_kustomize_controller(kubeapi: KubeApi, hello: Path) -> None:
    install_flux_crds(kubeapi)
    ensure_namespace(kubeapi, "flux-system")
    result = plan(kubeapi, hello)
    assert result.live is not None and (
        result.live.field_managers.describe()
        == "kustomize-controller, helm-controller for HelmRelease objects (the cluster runs Flux)"
    )
    assert by_id(result, "Kustomization/flux-system/hello").action == "create"
    managers = {r.path: r.query["fieldManager"] for r in kubeapi.server.requests if r.method == "PATCH"}
    patches = [r for r in kubeapi.server.requests if r.method == "PATCH"]
    assert all(r.query["dryRun"] == "All" and r.query["force"] == "true" for r in patches)
    # clusters/dev has no self-managing Kustomization: fluxform's root owner applies `hello`
    assert managers["/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/hello"] == "fluxform"
    assert managers["/api/v1/namespaces/hello"] == "kustomize-controller"  # an object of Kustomization hello


def test_field_manager_flag_wins(kubeapi: KubeApi, hello: Path) -> None:
    install_flux_crds(kubeapi)
    ensure_namespace(kubeapi, "flux-system")
    result = plan(kubeapi, hello, field_manager="platform-team")
    assert result.live is not None
    managers = result.live.field_managers
    assert (managers.kustomization, managers.helm_release, managers.root) == ("platform-team",) * 3
    assert result.settings.field_manager == "platform-team"  # recorded, so apply uses it again
    assert {r.query.get("fieldManager") for r in kubeapi.server.requests if r.method == "PATCH"} == {"platform-team"}


def test_unknown_kind_and_missing_namespace_are_marked_warnings(kubeapi: KubeApi, hello: Path) -> None:
    _add(hello, "gadget.yaml", WIDGET.replace("Widget", "Gadget").replace("name: blue", "name: red"))
    _add(hello, "stray.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray, namespace: nowhere}\n")
    result = plan(kubeapi, hello)
    gadget = by_id(result, "Gadget/hello/red")
    assert gadget.action == "create"
    assert "does not serve Gadget (example.com/v1)" in gadget.reason
    summaries = [d.one_line() for d in result.diagnostics]
    assert (
        "the cluster does not serve Gadget (example.com/v1) and no CustomResourceDefinition in this plan "
        "defines it: applying its objects will fail"
    ) in summaries
    assert "namespace nowhere does not exist and this plan does not create it: applying into it will fail" in summaries
    text = render_text(plan_file_from(result))
    assert "Warnings:" in text and "Traceback" not in text


@pytest.mark.parametrize("scope", ["Cluster", "Namespaced"])
def test_a_kind_without_its_crd_in_the_fleet_takes_its_scope_from_the_cluster(
    kubeapi: KubeApi, hello: Path, scope: str
) -> None:
    """The Policy CRD was installed out of band (by a chart, by hand): a live plan asks the
    cluster's discovery, not the object, whether a namespaceless Policy is valid."""
    kubeapi.server.apply(crd("example.com", "Policy", "policies", "v1", scope), manager="out-of-band")
    _add(hello, "policy.yaml", "apiVersion: example.com/v1\nkind: Policy\nmetadata:\n  name: strict\n")

    result = plan(kubeapi, hello)

    owner = next(o for o in result.owners if o.id.name == "hello")
    guessed = [d for d in result.diagnostics if "Policy.example.com has no CustomResourceDefinition" in d.summary]
    assert not guessed  # the cluster decided, nothing was guessed
    if scope == "Cluster":
        assert owner.status is OwnerStatus.BUILT and by_id(result, "Policy/strict").action == "create"
    else:
        assert owner.status is OwnerStatus.NOT_PLANNED
        assert owner.reason.startswith("Policy/strict namespace not specified")
