"""Discovery with per-owner isolation, on generated fleets shaped like the public fleets that
used to fail whole: an owner that cannot render is not planned with its reason and file,
what it would have applied is listed as depending on it, and the rest renders as usual."""

from __future__ import annotations

from pathlib import Path

from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, OwnerFocus, discover
from fluxform.planner.model import Cause, DesiredState, OwnerStatus
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.sources.chart_cache import ChartCache
from tests.support.trees import flux_kustomization, write_tree

HELM_GROUP = "helm.toolkit.fluxcd.io"


def ks(name: str) -> ObjectId:
    return ObjectId("flux-system", name, "kustomize.toolkit.fluxcd.io", "Kustomization")


def cm(name: str, namespace: str = "default", data: str = "{}") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata: {data}\n"


def release(name: str, repository: str, extra: str = "") -> str:
    return f"""\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
      chart: hello
      version: 1.0.0
      sourceRef:
        kind: HelmRepository
        name: {repository}
{extra}"""


CHART_TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"

LOCAL_RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/hello
      sourceRef:
        kind: GitRepository
        name: flux-system
{extra}"""

UNREACHABLE_REPOSITORY = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: nowhere
  namespace: flux-system
spec:
  interval: 1h
  url: http://127.0.0.1:9/charts
"""


def _render(root: Path, start: str = "clusters/dev", **options: object) -> DesiredState:
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(root.parent / "charts")))
    opts = DiscoverOptions(repo_root=root, cache=BuildCache.disabled(), helm=helm)
    for key, value in options.items():
        opts = __import__("dataclasses").replace(opts, **{key: value})
    return discover(root / start, opts)


def _left_out(state: DesiredState) -> dict[str, tuple[str, str, Cause | None, str]]:
    return {
        str(o.id): (str(o.status), o.reason, o.cause, o.origin.path if o.origin else "")
        for o in state.owners
        if o.status is not OwnerStatus.BUILT
    }


def test_a_failed_build_lists_the_flux_objects_below_its_path_as_depending_on_it(tmp_path: Path) -> None:
    """onedr0p/home-ops' layout: a cluster-apps Kustomization whose path holds one ks.yaml
    per app; its build fails, so each app's Kustomization (and release) is listed, with its
    file, as depending on it; a sibling waiting for it (dependsOn) too; the rest is planned."""
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
            "clusters/dev/apps.yaml": flux_kustomization("cluster-apps", "./apps"),
            "clusters/dev/later.yaml": flux_kustomization(
                "later", "./later", "  dependsOn:\n    - name: cluster-apps\n"
            ),
            "clusters/dev/healthy.yaml": flux_kustomization("healthy", "./healthy"),
            "apps/kustomization.yaml": "resources: [missing.yaml, web/ks.yaml]\n",
            "apps/web/ks.yaml": flux_kustomization("web", "./apps/web/app"),
            "apps/web/app/release.yaml": release("web", "nowhere"),
            "later/cm.yaml": cm("later"),
            "healthy/cm.yaml": cm("healthy"),
        },
    )

    state = _render(root)

    left_out = _left_out(state)
    status, reason, cause, file = left_out["Kustomization/flux-system/cluster-apps"]
    assert (status, cause, file) == ("not planned", Cause.ERROR, "clusters/dev/apps.yaml")
    assert reason.startswith("kustomize build failed")
    depends = ("not planned", "depends on Kustomization/flux-system/cluster-apps", Cause.ERROR)
    assert left_out["Kustomization/flux-system/web"] == (*depends, "apps/web/ks.yaml")
    assert left_out["Kustomization/flux-system/later"] == (*depends, "clusters/dev/later.yaml")
    assert left_out["HelmRelease/flux-system/web"] == (
        "not planned", "depends on Kustomization/flux-system/web", Cause.ERROR, "apps/web/app/release.yaml"
    )  # fmt: skip
    assert state.owner(ks("healthy")).status is OwnerStatus.BUILT  # type: ignore[union-attr]
    assert "ConfigMap/default/later" not in {str(i) for i in state.objects()}


def test_an_unreachable_chart_fails_its_release_only(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
            "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps"),
            "apps/repository.yaml": UNREACHABLE_REPOSITORY,
            "apps/web.yaml": release("web", "nowhere"),
            "apps/api.yaml": LOCAL_RELEASE.format(name="api", extra="  dependsOn:\n    - name: web\n"),
            "apps/other.yaml": LOCAL_RELEASE.format(name="other", extra=""),
            "apps/cm.yaml": cm("plain"),
            "charts/hello/Chart.yaml": "apiVersion: v2\nname: hello\nversion: 1.0.0\n",
            "charts/hello/templates/cm.yaml": CHART_TEMPLATE,
        },
    )

    state = _render(root)

    left_out = _left_out(state)
    web = left_out["HelmRelease/flux-system/web"]
    assert (web[0], web[2], web[3]) == ("not planned", Cause.CHART, "apps/web.yaml")
    assert "tags of" in web[1] or "not in the cache" in web[1], web[1]
    assert left_out["HelmRelease/flux-system/api"] == (
        "not planned", "depends on HelmRelease/flux-system/web", Cause.CHART, "apps/api.yaml"
    )  # fmt: skip
    ids = {str(i) for i in state.objects()}
    assert {"ConfigMap/default/plain", "ConfigMap/flux-system/other"} <= ids
    assert "ConfigMap/flux-system/api" not in ids  # rendered, kept aside: it waits for web
    api = state.owner(ObjectId("flux-system", "api", HELM_GROUP, "HelmRelease"))
    assert api is not None
    assert [str(o.id) for o in api.unplanned_objects] == ["ConfigMap/flux-system/api"]


def test_a_substitution_that_fails_after_the_build_still_names_what_it_would_produce(tmp_path: Path) -> None:
    """cluster-settings needs a variable nobody defines; app substitutes from the ConfigMap
    cluster-settings would produce, so it depends on it (not "nothing produces it")."""
    needs = "  postBuild:\n    substitute:\n      unused: x\n"
    reads = "  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n        name: settings\n"
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
            "clusters/dev/settings.yaml": flux_kustomization("cluster-settings", "./settings", needs),
            "clusters/dev/app.yaml": flux_kustomization("app", "./app", reads),
            "settings/cm.yaml": cm("settings", "flux-system", "{region: '${undefined_region}'}"),
            "app/cm.yaml": cm("app", "default", "{region: '${region}'}"),
        },
    )

    state = _render(root)

    left_out = _left_out(state)
    assert (
        'variable not set (strict mode): "undefined_region"'
        in left_out["Kustomization/flux-system/cluster-settings"][1]
    )
    assert left_out["Kustomization/flux-system/app"] == (
        "not planned",
        "depends on Kustomization/flux-system/cluster-settings (it would produce ConfigMap/flux-system/settings)",
        Cause.ERROR,
        "clusters/dev/app.yaml",
    )


CLUSTER_POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: {name}
spec:
  rules: []
"""


def test_a_custom_kind_without_its_crd_takes_its_scope_from_the_object(tmp_path: Path) -> None:
    """flux2-multi-tenancy: kyverno's CRDs ship in its chart (not rendered here), its
    ClusterPolicies have no namespace: cluster-scoped, one warning for the kind."""
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
            "clusters/dev/policies.yaml": flux_kustomization("policies", "./policies"),
            "policies/a.yaml": CLUSTER_POLICY.format(name="a"),
            "policies/b.yaml": CLUSTER_POLICY.format(name="b"),
            "policies/namespaced.yaml": "apiVersion: kyverno.io/v1\nkind: Policy\nmetadata: {name: p, namespace: t}\n",
        },
    )

    state = _render(root)

    assert state.owner(ks("policies")).status is OwnerStatus.BUILT  # type: ignore[union-attr]
    ids = {str(i) for i in state.objects()}
    assert {"ClusterPolicy/a", "ClusterPolicy/b", "Policy/t/p"} <= ids
    (warning,) = [d.summary for d in state.diagnostics if "ClusterPolicy" in d.summary]
    assert warning == (
        "ClusterPolicy.kyverno.io has no CustomResourceDefinition in the fleet (it ships in a chart or is installed "
        "out of band): 2 object(s) without a namespace taken as cluster-scoped"
    )
    assert not any(d.summary.startswith("Policy.kyverno.io") for d in state.diagnostics)  # it has a namespace
    live = _render(root, cluster_scope=lambda group, kind: True if kind == "ClusterPolicy" else None)
    assert "namespace not specified" in live.owner(ks("policies")).reason  # type: ignore[union-attr]


def test_remote_owners_are_rendered_counted_and_not_planned(tmp_path: Path) -> None:
    remote = "  kubeConfig:\n    secretRef:\n      name: spoke-kubeconfig\n"
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/hub/sync.yaml": flux_kustomization("flux-system", "./clusters/hub"),
            "clusters/hub/spoke.yaml": flux_kustomization("spoke", "./spoke", remote),
            "spoke/cm.yaml": cm("on-the-spoke"),
            "spoke/child.yaml": flux_kustomization("spoke-child", "./spoke-child"),
        },
    )

    state = _render(root, "clusters/hub")

    spoke = state.owner(ks("spoke"))
    assert spoke is not None and (spoke.status, spoke.cause) == (OwnerStatus.REMOTE, Cause.REMOTE)
    assert spoke.reason == "applies to a remote cluster (spec.kubeConfig): not planned"
    assert sorted(str(o.id) for o in spoke.unplanned_objects) == [
        "ConfigMap/default/on-the-spoke",
        "Kustomization/flux-system/spoke-child",
    ]
    assert state.owner(ks("spoke-child")) is None  # the spoke's own Flux reconciles it, not this cluster's
    assert "ConfigMap/default/on-the-spoke" not in {str(i) for i in state.objects()}


ROOT_FILE = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: prod
  namespace: flux-system
spec:
  interval: 10m
  path: ./deploy/prod/app
  prune: true
  targetNamespace: shop
  sourceRef:
    kind: GitRepository
    name: flux-system
"""


def test_the_owner_of_the_start_path_may_lie_outside_it(tmp_path: Path) -> None:
    """deploy/<cluster>/flux-kustomization.yaml owns deploy/<cluster>/app: --root-ks names
    it, or the path given is that file; without either the start path gets a synthetic root."""
    root = write_tree(
        tmp_path / "repo",
        {
            "deploy/prod/flux-kustomization.yaml": ROOT_FILE,
            "deploy/prod/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop}\n",
        },
    )
    file = root / "deploy/prod/flux-kustomization.yaml"

    named = _render(root, "deploy/prod/app", root_kustomization=file)
    by_path = discover(file, DiscoverOptions(cache=BuildCache.disabled()))
    synthetic = _render(root, "deploy/prod/app")

    for state in (named, by_path):
        (owner,) = state.owners
        assert (owner.id, str(owner.origin)) == (ks("prod"), "deploy/prod/flux-kustomization.yaml")
        (obj,) = owner.objects
        assert str(obj.id) == "ConfigMap/shop/shop"  # its targetNamespace applies
        assert obj.body["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "prod"
    (owner,) = synthetic.owners
    assert owner.kind == "Root" and "--root-ks FILE" in synthetic.diagnostics[0].summary


def test_a_focused_render_renders_only_what_the_owner_needs(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
            "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps"),
            "apps/repository.yaml": UNREACHABLE_REPOSITORY,
            "apps/web.yaml": release("web", "nowhere"),
            "apps/deeper.yaml": flux_kustomization("deeper", "./deeper"),
            "deeper/cm.yaml": cm("deep"),
        },
    )

    for_apps = _render(root, focus=OwnerFocus("Kustomization", "apps", "flux-system"))
    for_web = _render(root, focus=OwnerFocus("HelmRelease", "web"))

    assert [str(o.id) for o in for_apps.owners] == [
        "Kustomization/flux-system/flux-system",
        "Kustomization/flux-system/apps",
    ]
    assert {str(o.id) for o in for_web.owners if o.kind == "HelmRelease"} == {"HelmRelease/flux-system/web"}
    assert for_web.owner(ks("deeper")) is not None  # a release's valuesFrom may come from anywhere: all built
