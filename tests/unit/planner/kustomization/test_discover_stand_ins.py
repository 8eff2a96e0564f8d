"""Owners standing in for themselves (DiscoverOptions.stand_ins): discovery renders only the
others, yet the result orders, counts and checks every owner as a full render would."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.model import DesiredState, OwnerStatus
from fluxform.planner.ownership import StandInCollision
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.revdiff.changed import IndexRoots, RenderIndex, index_state
from fluxform.planner.revdiff.digests import ObjectDigest
from fluxform.sources.chart_cache import ChartCache
from tests.support.desired import owner_of
from tests.support.ids import hr, ks
from tests.support.trees import FLUX_SYSTEM_SOURCE, crd_text, flux_kustomization, helm_release, write_tree

ROOT, INFRA, APPS = ks("flux-system"), ks("infra"), ks("apps")
WEB = hr("web")
WIDGET_SCOPE = ("example.com", "Widget", False)  # cluster-scoped


def _flux_ks(name: str, path: str, extra: str = "") -> str:
    return "---\n" + flux_kustomization(name, path, extra)


#: flux-system (the cluster path) defines infra and apps and the ConfigMap apps substitutes
#: from; infra holds a cluster-scoped CRD and a HelmRelease of a chart in the repository;
#: apps (dependsOn infra) holds a namespaceless Widget that only infra's CRD makes valid.
#: The release's chart verification gives a warning, which must outlive its render.
FLEET = {
    "clusters/prod/sync.yaml": FLUX_SYSTEM_SOURCE + _flux_ks("flux-system", "./clusters/prod"),
    "clusters/prod/infra.yaml": _flux_ks("infra", "./infra"),
    "clusters/prod/apps.yaml": _flux_ks(
        "apps",
        "./apps",
        "  dependsOn: [{name: infra}]\n  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: vars}]\n",
    ),
    "clusters/prod/vars.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: vars
  namespace: flux-system
data:
  region: eu-west
""",
    "infra/crd.yaml": crd_text("Widget", scope="Cluster"),
    # fluxform warns it cannot check signatures
    "infra/release.yaml": helm_release("web", "./charts/web", chart_extra="      verify: {provider: cosign}\n"),
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-web\ndata:\n  port: '8080'\n"
    ),
    "apps/app.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: default
data:
  region: ${region}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
""",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "repo", FLEET)


def _render(
    repo: Path,
    tmp_path: Path,
    index: RenderIndex | None = None,
    rendered: frozenset[ObjectId] = frozenset(),
    *,
    scopes: bool = True,  # pass the stand-ins' CRD scopes (as the diff does)
) -> DesiredState:
    """The whole fleet, or with the index's owners outside `rendered` standing in."""
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(tmp_path / "charts")))
    options = DiscoverOptions(repo_root=repo, cache=BuildCache.disabled(), jobs=2, helm=helm)
    if index is not None:
        stand_ins, stand_in_scopes = index.stand_ins(rendered)
        options = replace(options, stand_ins=stand_ins, stand_in_scopes=stand_in_scopes if scopes else {})
    return discover(repo / "clusters/prod", options)


def _full_and_index(repo: Path, tmp_path: Path) -> tuple[DesiredState, RenderIndex]:
    full = _render(repo, tmp_path)
    return full, index_state(full, IndexRoots(repo, ""))


def _comparable(state: DesiredState, owner: ObjectId) -> list[tuple[object, ...]]:
    """Objects as a diff sees them; origin too, except for the Flux objects of owners
    standing in (discovery leaves them unlocated: nothing reports on them)."""
    found = state.owner(owner)
    assert found is not None, owner
    return [
        (o.id, o.api_version, o.body, o.owner, o.sensitive_paths, o.origin if o.id not in (INFRA, WEB) else None)
        for o in found.objects
    ]


def test_stand_ins_are_not_rendered_but_keep_their_place(repo: Path, tmp_path: Path) -> None:
    full, index = _full_and_index(repo, tmp_path)
    rendered = index.wanted({APPS})
    assert rendered == {APPS, ROOT}  # the parent, which also produces the looked-up ConfigMap
    shutil.rmtree(repo / "charts")  # a stand-in release is not rendered: its chart is never read

    partial = _render(repo, tmp_path, index, rendered)

    order = [o.id for o in full.owners]
    assert [o.id for o in partial.owners] == order
    assert order[0] == ROOT and order.index(INFRA) < order.index(APPS) and order.index(INFRA) < order.index(WEB)
    assert partial.stand_ins == {INFRA, WEB}
    for oid in rendered:
        assert _comparable(partial, oid) == _comparable(full, oid), oid
    for oid in (INFRA, WEB):
        stand_in, original = partial.owner(oid), full.owner(oid)
        assert stand_in is not None and original is not None
        assert [o.id for o in stand_in.objects] == [o.id for o in original.objects] != []
        assert all(o.body == {} and o.owner == oid for o in stand_in.objects)  # ids and apiVersions only
        assert [o.api_version for o in stand_in.objects] == [o.api_version for o in original.objects]
        assert (stand_in.kind, stand_in.status, stand_in.path, stand_in.parent, stand_in.depends_on) == (
            original.kind, original.status, original.path, original.parent, original.depends_on,
        )  # fmt: skip
    assert owner_of(partial, WEB).kind == "HelmRelease"
    assert any("spec.chart.spec.verify" in d.summary for d in full.diagnostics)
    assert partial.diagnostics == full.diagnostics  # the stand-in release's warning included
    app = partial.objects()[ObjectId("default", "app", "", "ConfigMap")]
    assert app.body["data"] == {"region": "eu-west"}  # looked up from the rendered root


def test_scopes_of_stand_in_crds_decide_the_namespace_check(repo: Path, tmp_path: Path) -> None:
    _, index = _full_and_index(repo, tmp_path)
    rendered = index.wanted({APPS})
    assert index.owners[INFRA].crd_scopes == (WIDGET_SCOPE,)
    assert index.stand_ins(rendered)[1] == {WIDGET_SCOPE[:2]: False}

    with_scopes = _render(repo, tmp_path, index, rendered)
    without = _render(repo, tmp_path, index, rendered, scopes=False)

    guessed = "Widget.example.com has no CustomResourceDefinition in the fleet"
    assert not any(guessed in d.summary for d in with_scopes.diagnostics)  # the stand-in's CRD decides
    assert any(guessed in d.summary for d in without.diagnostics)  # else the object's own lack of namespace


def test_object_a_stand_in_lists_cannot_be_rendered_by_another_owner(repo: Path, tmp_path: Path) -> None:
    _, index = _full_and_index(repo, tmp_path)
    (repo / "apps/settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-web\n  namespace: flux-system\n"
    )  # the stand-in release renders this one

    with pytest.raises(
        StandInCollision, match=r"ConfigMap/flux-system/web-web is produced by .*apps and by .*web"
    ) as e:
        _render(repo, tmp_path, index, index.wanted({APPS}))
    assert e.value.stand_in == WEB  # the caller renders it too, and the copies are compared then


def test_owners_the_index_does_not_know_are_rendered(repo: Path, tmp_path: Path) -> None:
    _, index = _full_and_index(repo, tmp_path)
    (repo / "clusters/prod/extra.yaml").write_text(_flux_ks("extra", "./extra"))
    (repo / "extra").mkdir()
    (repo / "extra/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n")

    partial = _render(repo, tmp_path, index, index.wanted({APPS}))

    extra = partial.owner(ks("extra"))
    assert extra is not None and ks("extra") not in partial.stand_ins
    assert [o.body["metadata"]["name"] for o in extra.objects] == ["x"]


def test_json_round_trip_keeps_what_stand_ins_are_made_of(repo: Path, tmp_path: Path) -> None:
    full, index = _full_and_index(repo, tmp_path)

    loaded = RenderIndex.from_json(index.to_json())

    assert loaded == index
    for owner in full.owners:  # every fact a stand-in shows survives the trip
        stand_in = loaded.owners[owner.id].stand_in()
        assert (stand_in.kind, stand_in.status, stand_in.path, stand_in.source, stand_in.parent) == (
            owner.kind, owner.status, owner.path, owner.source, owner.parent,
        )  # fmt: skip
        assert (stand_in.depends_on, stand_in.prune, stand_in.diagnostics) == (
            owner.depends_on, owner.prune, owner.diagnostics,
        )  # fmt: skip
        assert [o.id for o in stand_in.objects] == [o.id for o in owner.objects]
    crd = ObjectId("", "widgets.example.com", "apiextensions.k8s.io", "CustomResourceDefinition")
    infra, web = loaded.owners[INFRA].stand_in(), loaded.owners[WEB].stand_in()
    assert (infra.kind, infra.status, infra.path) == ("Kustomization", OwnerStatus.BUILT, "./infra")
    assert {o.id for o in infra.objects} == {crd, WEB} and loaded.owners[INFRA].crd_scopes == (WIDGET_SCOPE,)
    assert (web.kind, web.parent, web.path) == ("HelmRelease", INFRA, "web@0.1.0")
    assert [d.subject for d in web.diagnostics] == [WEB] and "verify" in web.diagnostics[0].summary
    assert loaded.owners[APPS].depends_on == (INFRA,)
    assert loaded.stand_ins(frozenset({ROOT, APPS})) == index.stand_ins(frozenset({ROOT, APPS}))


# -- conditional stand-ins (DiscoverOptions.stand_in_digests) ------------------------------------

DIGEST = ObjectDigest(b"k" * 32)


def _conditional(repo: Path, tmp_path: Path, index: RenderIndex, rendered: frozenset[ObjectId]) -> DesiredState:
    """`rendered` rendered, every other owner standing in while its own object is unchanged."""
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(tmp_path / "charts")))
    stand_ins, scopes = index.stand_ins(rendered)
    digests = {o.id: index.owners[o.id].object_digest for o in stand_ins}
    options = DiscoverOptions(
        repo_root=repo, cache=BuildCache.disabled(), jobs=2, helm=helm, stand_ins=stand_ins, stand_in_scopes=scopes,
        stand_in_digests=digests, object_digest=DIGEST,
    )  # fmt: skip
    return discover(repo / "clusters/prod", options)


def _digest_index(repo: Path, tmp_path: Path) -> RenderIndex:
    return index_state(_render(repo, tmp_path), IndexRoots(repo, ""), DIGEST)


def test_a_stand_in_whose_object_its_rendered_parent_renders_the_same_stands_in(repo: Path, tmp_path: Path) -> None:
    index = _digest_index(repo, tmp_path)
    assert index.owners[INFRA].object_digest.startswith("hmac-sha256:")

    partial = _conditional(repo, tmp_path, index, frozenset({ROOT}))

    assert partial.stand_ins == {INFRA, APPS, WEB}


def test_a_stand_in_whose_object_changed_renders_and_its_unchanged_child_stands_in(repo: Path, tmp_path: Path) -> None:
    index = _digest_index(repo, tmp_path)
    (repo / "clusters/prod/infra.yaml").write_text(_flux_ks("infra", "./infra", "  timeout: 5m\n"))

    partial = _conditional(repo, tmp_path, index, frozenset({ROOT}))
    full = _render(repo, tmp_path)

    assert partial.stand_ins == {APPS, WEB}  # infra renders; its release's object is the same
    assert _comparable(partial, INFRA)[1:] == _comparable(full, INFRA)[1:]
    assert owner_of(partial, INFRA).spec == owner_of(full, INFRA).spec


def test_a_stand_in_its_rendered_parent_no_longer_renders_is_gone(repo: Path, tmp_path: Path) -> None:
    index = _digest_index(repo, tmp_path)
    (repo / "clusters/prod/infra.yaml").unlink()  # infra is gone, and with it its release

    partial = _conditional(repo, tmp_path, index, frozenset({ROOT}))
    full = _render(repo, tmp_path)

    assert [(o.id, o.status, o.reason) for o in partial.owners] == [(o.id, o.status, o.reason) for o in full.owners]
    assert INFRA not in {o.id for o in partial.owners} and WEB not in {o.id for o in partial.owners}
    assert partial.stand_ins == {APPS}
