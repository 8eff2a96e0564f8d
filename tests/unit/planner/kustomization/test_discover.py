"""Walking a fleet as Flux does: start path, self source, child Kustomizations, --source."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover, find_repo_root
from fluxform.planner.model import Cause, OwnerStatus
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, write_tree


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def ks(name: str, path: str, extra: str = "", source: str = "flux-system") -> str:
    """A Flux Kustomization document, indented as the texts `write` dedents."""
    return textwrap.indent("---\n" + flux_kustomization(name, path, extra, source=source), "    ")


def cm(name: str, ns: str, data: str) -> str:
    return f"""\
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {name}
      namespace: {ns}
    data:
      {data}
    """


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, "clusters/prod/flux-system.yaml", ks("flux-system", "./clusters/prod"))
    write(
        root,
        "clusters/prod/apps.yaml",
        ks(
            "apps",
            "./apps",
            "  dependsOn: [{name: vars}]\n  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: vars}]\n",
        ),
    )
    write(root, "clusters/prod/vars.yaml", ks("vars", "./vars"))
    write(root, "vars/settings.yaml", cm("vars", "flux-system", "region: eu-west"))
    write(root, "apps/app.yaml", cm("app", "default", "region: ${region}"))
    return root


def test_repo_root_found_from_the_self_managing_kustomization(fleet: Path) -> None:
    assert find_repo_root(fleet / "clusters" / "prod") == fleet.resolve()


def test_repo_root_is_the_ancestor_where_every_path_exists(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, "clusters/dev/apps.yaml", ks("apps", "./apps"))
    write(root, "apps/a.yaml", cm("a", "default", "k: v"))
    assert find_repo_root(root / "clusters" / "dev") == root.resolve()


def test_substitute_from_object_made_by_a_sibling_kustomization_is_waited_for(fleet: Path) -> None:
    state = discover(fleet / "clusters" / "prod")
    owners = [str(o.id) for o in state.owners]
    assert owners.index("Kustomization/flux-system/vars") < owners.index("Kustomization/flux-system/apps")
    app = state.objects()[next(i for i in state.objects() if i.name == "app")]
    assert app.body["data"]["region"] == "eu-west"
    assert app.owner.name == "apps"
    assert state.owner(app.owner) is not None and state.owner(app.owner).parent.name == "flux-system"  # type: ignore[union-attr]


def test_missing_substitute_from_object_leaves_only_its_kustomization_unplanned(fleet: Path) -> None:
    (fleet / "vars" / "settings.yaml").unlink()
    write(fleet, "vars/other.yaml", cm("other", "flux-system", "a: b"))

    state = discover(fleet / "clusters" / "prod")

    apps = state.owner(ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization"))
    assert apps is not None and apps.status is OwnerStatus.NOT_PLANNED and apps.cause is Cause.OBJECT
    assert apps.reason.startswith("substitute from 'ConfigMap/vars' error: not found in namespace flux-system")
    assert str(apps.origin) == "clusters/prod/apps.yaml" and apps.objects == ()
    assert {i.name for i in state.objects()} >= {"other", "vars"}  # the rest of the fleet is planned


def test_suspended_kustomization_is_not_built(fleet: Path) -> None:
    write(fleet, "clusters/prod/apps.yaml", ks("apps", "./does-not-exist", "  suspend: true"))
    state = discover(fleet / "clusters" / "prod")
    apps = next(o for o in state.owners if o.id.name == "apps")
    assert apps.status is OwnerStatus.SUSPENDED and apps.objects == ()


def test_other_sources_need_a_mapping(fleet: Path, tmp_path: Path) -> None:
    write(fleet, "clusters/prod/ext.yaml", ks("ext", "./deploy", source="podinfo"))
    unmapped = discover(fleet / "clusters" / "prod")
    ext = unmapped.owner(ObjectId("flux-system", "ext", "kustomize.toolkit.fluxcd.io", "Kustomization"))
    assert ext is not None and (ext.status, ext.cause) == (OwnerStatus.NOT_PLANNED, Cause.SOURCE)
    assert ext.reason == (
        "cannot resolve spec.sourceRef GitRepository/flux-system/podinfo to a local directory "
        "(hint: map it with --source flux-system/podinfo=DIR)"
    )
    other = tmp_path / "podinfo"
    write(other, "deploy/x.yaml", cm("from-podinfo", "default", "a: b"))
    state = discover(fleet / "clusters" / "prod", DiscoverOptions(sources={"podinfo": other}))
    assert any(i.name == "from-podinfo" for i in state.objects())


def test_start_path_without_self_kustomization_gets_a_synthetic_owner(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, "clusters/dev/apps.yaml", ks("apps", "./apps"))
    write(root, "apps/a.yaml", cm("a", "default", "k: v"))
    state = discover(root / "clusters" / "dev")
    root_owner = state.owners[0]
    assert root_owner.kind == "Root"
    assert "no Flux Kustomization under clusters/dev builds it" in state.diagnostics[0].summary
    ks_obj = next(o for o in root_owner.objects if o.id.kind == "Kustomization")
    assert "labels" not in ks_obj.body["metadata"]  # fluxform, not Flux, owns the root build


def test_namespaced_object_without_namespace_fails_its_owner_in_a_plan_and_warns_in_build(fleet: Path) -> None:
    """Flux's apply of the Kustomization fails (kustomize-controller does not default the
    namespace): its owner is not planned; `build` shows it, with a warning."""
    write(fleet, "apps/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nons\ndata:\n  a: b\n")
    apps_id = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")

    planned = discover(fleet / "clusters" / "prod")
    built = discover(fleet / "clusters" / "prod", DiscoverOptions(purpose="build"))

    apps = planned.owner(apps_id)
    assert apps is not None and apps.status is OwnerStatus.NOT_PLANNED
    assert apps.reason.startswith("ConfigMap/nons namespace not specified (hint: set metadata.namespace")
    assert planned.owner(apps.parent).status is OwnerStatus.BUILT  # type: ignore[arg-type,union-attr]
    shown = built.owner(apps_id)
    assert shown is not None and shown.status is OwnerStatus.BUILT
    assert any(o.id.name == "nons" for o in shown.objects)
    assert any(
        d.subject == apps_id and "ConfigMap/nons namespace not specified" in d.summary for d in built.diagnostics
    )


def test_crd_in_the_fleet_decides_scope_of_its_kind(fleet: Path) -> None:
    write(
        fleet,
        "apps/app.yaml",
        """\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Cluster
          names: {kind: Widget, plural: widgets}
          versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: cluster-wide}
        """,
    )
    state = discover(fleet / "clusters" / "prod")
    assert any(i.kind == "Widget" and i.namespace == "" for i in state.objects())


def test_remote_cluster_kustomizations_are_not_planned_and_same_names_keep_their_files(tmp_path: Path) -> None:
    """Hub-and-spoke (flux2-hub-spoke-example): a Kustomization with spec.kubeConfig applies
    to another cluster, so its objects are not this cluster's; two Kustomizations of one name
    in two namespaces are each located in their own file."""

    def spoke(namespace: str) -> str:
        text = flux_kustomization("tenants", f"./spokes/{namespace}", "  kubeConfig:\n    secretRef:\n      name: kc\n")
        text = text.replace("    name: flux-system\n", "    name: flux-system\n    namespace: flux-system\n")
        return text.replace("namespace: flux-system\nspec:", f"namespace: {namespace}\nspec:", 1)

    root = write_tree(
        tmp_path / "repo",
        {
            "hub/sync.yaml": flux_kustomization("flux-system", "./hub"),
            "hub/production.yaml": spoke("production"),
            "hub/staging.yaml": spoke("staging"),
            "spokes/production/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: x\n",
            "spokes/staging/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: x\n",
        },
    )

    state = discover(root / "hub", DiscoverOptions(repo_root=root, cache=BuildCache.disabled()))

    for namespace in ("production", "staging"):
        oid = ObjectId(namespace, "tenants", "kustomize.toolkit.fluxcd.io", "Kustomization")
        owner = state.owner(oid)
        assert owner is not None and owner.status is OwnerStatus.REMOTE and owner.objects == ()
        assert owner.reason == "applies to a remote cluster (spec.kubeConfig): not planned"
        assert str(owner.origin) == f"hub/{namespace}.yaml"
        assert [str(o.id) for o in owner.unplanned_objects] == ["ConfigMap/x/same"]  # rendered, counted, not planned


def test_git_repository_ignore_is_applied_after_sourceignore(tmp_path: Path) -> None:
    """source-controller appends spec.ignore to the .sourceignore patterns, so a `!` pattern
    there re-includes what .sourceignore excluded (and any pattern drops the defaults)."""
    source = FLUX_SYSTEM_SOURCE + "  ignore: |\n    !/apps/keep.yaml\n"
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev") + "---\n" + source,
            "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps"),
            ".sourceignore": "/apps/*.yaml\n",
            "apps/keep.yaml": textwrap.dedent(cm("kept", "default", "a: b")),
            "apps/drop.yaml": textwrap.dedent(cm("dropped", "default", "a: b")),
        },
    )

    state = discover(root / "clusters/dev", DiscoverOptions(repo_root=root, cache=BuildCache.disabled()))

    names = {i.name for i in state.objects() if i.kind == "ConfigMap"}
    assert names == {"kept"}


def test_a_source_mapped_to_a_directory_is_filtered_with_its_own_spec_ignore(tmp_path: Path) -> None:
    """`--source NAME=DIR`: the mapped directory becomes the GitRepository's artifact, so its
    `spec.ignore` applies to it as source-controller applies it to the checkout."""
    platform = FLUX_SYSTEM_SOURCE.replace("name: flux-system\n  namespace", "name: platform\n  namespace")
    platform += "  ignore: |\n    /apps/drafts/\n"
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": f"{flux_kustomization('flux-system', './clusters/dev')}---\n{FLUX_SYSTEM_SOURCE}",
            "clusters/dev/platform.yaml": platform + "---\n" + flux_kustomization("apps", "./apps", source="platform"),
        },
    )
    other = write_tree(
        tmp_path / "platform",
        {
            "apps/live.yaml": textwrap.dedent(cm("live", "default", "a: b")),
            "apps/drafts/draft.yaml": textwrap.dedent(cm("draft", "default", "a: b")),
        },
    )

    state = discover(
        root / "clusters/dev",
        DiscoverOptions(repo_root=root, sources={"platform": other}, cache=BuildCache.disabled()),
    )

    assert {i.name for i in state.objects() if i.kind == "ConfigMap"} == {"live"}
