"""Rendering HelmReleases end to end with the real Helm SDK, kustomize, HTTP repo and registry."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import helm_python
import pytest

from fluxform.errors import RenderError, SourceError
from fluxform.helm import HelmContext, RenderedRelease, collect_chart_refs, pull_charts, render_release
from fluxform.helm.sdk import use_private_helm_home
from fluxform.kinds import KindScopes
from fluxform.sources.chart_cache import ChartCache
from tests.support.charts_http import ChartRepoServer, publish, write_chart
from tests.support.registry import Registry, registry
from tests.support.trees import crd_text

__all__ = ["registry"]

HELPERS = '{{- define "app.fullname" -}}{{ .Release.Name }}-app{{- end -}}\n'
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""
CAPABILITIES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: capabilities
  namespace: {{ .Values.configNamespace | default .Release.Namespace }}
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  install: {{ .Release.IsInstall | quote }}
  revision: {{ .Release.Revision | quote }}
  password: {{ .Values.password | default "" | quote }}
"""
CLUSTER_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Name }}-reader
  namespace: should-be-dropped
rules: []
"""
HOOK = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
"""
CRD = (
    crd_text("Widget")
    + """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-crd
"""
)
SCHEMA = {
    "type": "object",
    "properties": {"replicaCount": {"type": "integer", "minimum": 1}},
}
SUB_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-sub\ndata: {}\n"
SUB_CRD = crd_text("Gadget")


def build_app_chart(parent: Path, version: str = "1.0.0") -> Path:
    """A vendored chart: helpers, schema, hook, CRDs, NOTES, and a conditional subchart."""
    chart = write_chart(
        parent,
        "app",
        version,
        templates={
            "_helpers.tpl": HELPERS,
            "deployment.yaml": DEPLOYMENT,
            "capabilities.yaml": CAPABILITIES,
            "clusterrole.yaml": CLUSTER_ROLE,
            "hook.yaml": HOOK,
            "NOTES.txt": "Thanks for installing {{ .Release.Name }}",
        },
        values={
            "replicaCount": 1,
            "image": {"repository": "ghcr.io/example/web", "tag": "1.0"},
            "sub": {"enabled": False},
        },
        crds={"crd.yaml": CRD},
        schema=SCHEMA,
        dependencies=[
            {"name": "sub", "version": "0.1.0", "repository": "file://charts/sub", "condition": "sub.enabled"}
        ],
    )
    write_chart(chart / "charts", "sub", "0.1.0", templates={"cm.yaml": SUB_CM}, crds={"crd.yaml": SUB_CRD})
    return chart


def _chart_from_fleet(chart: str) -> dict[str, Any]:
    """`spec.chart` of a HelmRelease whose chart is `chart` in GitRepository flux-system/fleet."""
    source = {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}
    return {"spec": {"chart": chart, "sourceRef": source}}


def _fleet_ctx(root: Path, tmp_path: Path) -> HelmContext:
    """A context whose GitRepository flux-system/fleet is the directory `root`."""
    return HelmContext(Desired(), {("GitRepository", "flux-system", "fleet"): root}, cache=ChartCache(tmp_path / "c"))


def hr_doc(**spec: Any) -> dict[str, Any]:
    full: dict[str, Any] = {
        "interval": "10m",
        "chart": _chart_from_fleet("./charts/app"),
    }
    full.update(spec)
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": full,
    }


class Desired:
    """A tiny desired state: lookup by (kind, namespace, name)."""

    def __init__(self, *docs: Mapping[str, Any]) -> None:
        self.docs = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}

    def __call__(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.docs.get((kind, namespace, name))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    build_app_chart(root / "charts")
    return root


@pytest.fixture
def ctx(fleet: Path, tmp_path: Path) -> HelmContext:
    return HelmContext(
        lookup=Desired(),
        source_dirs={("GitRepository", "flux-system", "fleet"): fleet},
        cache=ChartCache(tmp_path / "cache"),
    )


def by_kind(rendered: RenderedRelease, kind: str) -> list[Mapping[str, Any]]:
    return [o for o in rendered.objects if o["kind"] == kind]


def test_render_from_git_source(ctx: HelmContext) -> None:
    rendered = render_release(hr_doc(), ctx)
    assert (rendered.release_name, rendered.namespace, rendered.storage_namespace) == ("web", "apps", "apps")
    assert (
        rendered.chart.version == "1.0.0" and rendered.chart.source == "GitRepository/flux-system/fleet (./charts/app)"
    )
    kinds = sorted(o["kind"] for o in rendered.objects)
    assert kinds == ["ClusterRole", "ConfigMap", "Deployment"]  # NOTES.txt, helpers, hook and subchart left out
    deployment = by_kind(rendered, "Deployment")[0]
    assert deployment["metadata"]["name"] == "web-app"
    assert deployment["metadata"]["namespace"] == "apps"  # Helm's client puts it in the release namespace
    assert deployment["metadata"]["labels"] == {
        "chart": "app-1.0.0",
        "helm.toolkit.fluxcd.io/name": "web",
        "helm.toolkit.fluxcd.io/namespace": "apps",
    }
    assert "namespace" not in by_kind(rendered, "ClusterRole")[0]["metadata"]
    assert [h["metadata"]["name"] for h in rendered.hooks] == ["web-migrate"]
    assert rendered.hooks[0]["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"  # combined strategy
    assert [c["metadata"]["name"] for c in rendered.crds] == ["widgets.example.com"]
    assert rendered.crds[0]["metadata"]["labels"] == {
        "helm.toolkit.fluxcd.io/name": "web",
        "helm.toolkit.fluxcd.io/namespace": "apps",
    }
    assert rendered.crd_policy == "Create"
    assert any("not-a-crd" in d.summary and "not a CustomResourceDefinition" in d.summary for d in rendered.diagnostics)


def test_reconcile_strategy_revision(ctx: HelmContext) -> None:
    spec = hr_doc()["spec"]["chart"]["spec"] | {"reconcileStrategy": "Revision"}
    doc = hr_doc(chart={"spec": spec})
    unknown = render_release(doc, ctx)
    assert unknown.chart.version == "1.0.0"
    assert any("revision of GitRepository flux-system/fleet is unknown" in d.summary for d in unknown.diagnostics)
    revisions = {("GitRepository", "flux-system", "fleet"): "main@sha1:0123456789abcdef0123456789abcdef01234567"}
    known = render_release(doc, dataclasses.replace(ctx, source_revisions=revisions))
    assert known.chart.version == "1.0.0+0123456789ab"
    assert by_kind(known, "Deployment")[0]["metadata"]["labels"]["chart"] == "app-1.0.0_0123456789ab"


def test_subchart_condition_controls_templates_and_crds(ctx: HelmContext) -> None:
    rendered = render_release(hr_doc(values={"sub": {"enabled": True}}), ctx)
    assert "web-sub" in [o["metadata"]["name"] for o in by_kind(rendered, "ConfigMap")]
    assert sorted(c["metadata"]["name"] for c in rendered.crds) == ["gadgets.example.com", "widgets.example.com"]


def test_target_namespace_and_long_release_name(ctx: HelmContext) -> None:
    long_ns = "a-very-lengthy-target-namespace-with"
    doc = hr_doc(targetNamespace=long_ns)
    doc["metadata"]["name"] = "a-nice-object-name"
    rendered = render_release(doc, ctx)
    assert rendered.release_name == "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3"
    assert rendered.namespace == long_ns and rendered.storage_namespace == "apps"
    assert not rendered.create_namespace and rendered.hooks_run
    created = render_release(
        hr_doc(targetNamespace="team", install={"createNamespace": True, "disableHooks": True}), ctx
    )
    assert created.create_namespace and not created.hooks_run
    assert by_kind(rendered, "Deployment")[0]["metadata"]["namespace"] == long_ns


def test_invalid_release_name(ctx: HelmContext) -> None:
    with pytest.raises(RenderError, match="invalid Helm release name 'Web_App'"):
        render_release(hr_doc(releaseName="Web_App"), ctx)


def test_explicit_namespace_in_template_is_kept(ctx: HelmContext) -> None:
    rendered = render_release(hr_doc(values={"configNamespace": "elsewhere"}), ctx)
    assert by_kind(rendered, "ConfigMap")[0]["metadata"]["namespace"] == "elsewhere"


def test_schema_violation_is_reported_and_can_be_disabled(ctx: HelmContext) -> None:
    with pytest.raises(RenderError) as info:
        render_release(hr_doc(values={"replicaCount": 0}), ctx)
    assert "values.schema.json" in info.value.summary
    assert "/replicaCount" in info.value.detail and "minimum" in info.value.detail
    assert info.value.one_line().startswith("HelmRelease/apps/web")
    rendered = render_release(hr_doc(values={"replicaCount": 0}, install={"disableSchemaValidation": True}), ctx)
    assert by_kind(rendered, "Deployment")[0]["spec"]["replicas"] == 0


def test_capabilities_default_and_given(ctx: HelmContext) -> None:
    default = by_kind(render_release(hr_doc(), ctx), "ConfigMap")[0]["data"]
    assert default["kube"] == "v1.36.0" and default["monitoring"] == "false" and default["install"] == "true"
    cluster = dataclasses.replace(ctx, kube_version="v1.30.4", api_versions=("monitoring.coreos.com/v1",))
    rendered = render_release(hr_doc(), cluster, is_install=False)
    data = by_kind(rendered, "ConfigMap")[0]["data"]
    assert data == {"kube": "v1.30.4", "monitoring": "true", "install": "false", "revision": "2", "password": ""}
    assert (
        by_kind(render_release(hr_doc(), cluster, is_install=False, revision=7), "ConfigMap")[0]["data"]["revision"]
        == "7"
    )
    assert default["revision"] == "1"


def test_unsupported_features_are_reported(ctx: HelmContext) -> None:
    spec = hr_doc()["spec"]["chart"]["spec"] | {"verify": {"provider": "cosign"}}
    doc = hr_doc(chart={"spec": spec}, kubeConfig={"secretRef": {"name": "remote"}})
    summaries = [d.summary for d in render_release(doc, ctx).diagnostics]
    assert any("another cluster" in s for s in summaries)
    assert any("signatures are not verified" in s for s in summaries)


def test_chart_kube_version_requirement(tmp_path: Path) -> None:
    chart_root = tmp_path / "src"
    write_chart(chart_root, "needs", "1.0.0", templates={"cm.yaml": SUB_CM}, extra={"kubeVersion": ">=1.34.0-0"})
    ctx = _fleet_ctx(chart_root, tmp_path)
    doc = hr_doc(chart=_chart_from_fleet("needs"))
    assert render_release(doc, ctx).objects  # SDK default v1.36.0 satisfies it
    with pytest.raises(
        RenderError,
        match=re.escape("chart requires kubeVersion: >=1.34.0-0 which is incompatible with Kubernetes v1.30.0"),
    ):
        render_release(doc, dataclasses.replace(ctx, kube_version="v1.30.0"))


def test_crd_policies(ctx: HelmContext) -> None:
    assert render_release(hr_doc(install={"crds": "Skip"}), ctx).crds == ()
    upgrade = render_release(hr_doc(), ctx, is_install=False)
    assert upgrade.crd_policy == "Create" and len(upgrade.crds) == 1  # helm-controller code default, not the docs' Skip
    replace = render_release(hr_doc(upgrade={"crds": "CreateReplace"}), ctx, is_install=False)
    assert replace.crd_policy == "CreateReplace"


SCALE_PATCH = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-app}\nspec: {replicas: 5}\n"


def test_post_renderers_common_metadata_and_origin_labels(ctx: HelmContext) -> None:
    doc = hr_doc(
        postRenderers=[
            {
                "kustomize": {
                    "patches": [
                        {"patch": SCALE_PATCH},
                        {
                            "target": {"kind": "ConfigMap", "name": "capabilities"},
                            "patch": "- op: add\n  path: /data/patched\n  value: 'yes'\n",
                        },
                    ],
                    "images": [{"name": "ghcr.io/example/web", "newTag": "2.0"}],
                }
            }
        ],
        commonMetadata={
            "labels": {"team": "web", "helm.toolkit.fluxcd.io/name": "spoofed"},
            "annotations": {"owner": "ops"},
        },
    )
    rendered = render_release(doc, ctx)
    deployment = by_kind(rendered, "Deployment")[0]
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/web:2.0"
    assert deployment["metadata"]["labels"]["team"] == "web"
    assert deployment["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"  # origin label wins
    assert deployment["metadata"]["annotations"] == {"owner": "ops"}
    assert "team" not in deployment["spec"]["template"]["metadata"]["labels"]  # metadata only, unlike kustomize labels
    assert by_kind(rendered, "ConfigMap")[0]["data"]["patched"] == "yes"


def test_post_render_patch_can_turn_an_object_into_a_hook(ctx: HelmContext) -> None:
    patch = (
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: capabilities, namespace: apps, annotations: {helm.sh/hook: post-install}}\n"
    )
    rendered = render_release(hr_doc(postRenderers=[{"kustomize": {"patches": [{"patch": patch}]}}]), ctx)
    assert "capabilities" in [h["metadata"]["name"] for h in rendered.hooks]
    assert not by_kind(rendered, "ConfigMap")


def test_values_from_with_target_path_and_optional(ctx: HelmContext) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web-secrets", "namespace": "apps"},
        "data": {"password": base64.b64encode(b"hunter2").decode()},
    }
    values_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-values", "namespace": "apps"},
                 "data": {"values.yaml": "replicaCount: 3\nimage:\n  tag: '1.5'\n"}}  # fmt: skip
    doc = hr_doc(
        valuesFrom=[
            {"kind": "ConfigMap", "name": "web-values"},
            {"kind": "Secret", "name": "web-secrets", "valuesKey": "password", "targetPath": "password"},
            {"kind": "ConfigMap", "name": "absent", "optional": True},
        ],
        values={"image": {"repository": "registry.local/web"}},
    )
    rendered = render_release(doc, dataclasses.replace(ctx, lookup=Desired(secret, values_cm)))
    deployment = by_kind(rendered, "Deployment")[0]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/web:1.5"
    assert by_kind(rendered, "ConfigMap")[0]["data"]["password"] == "hunter2"
    assert rendered.values_sources == (
        "ConfigMap/apps/web-values (values.yaml)",
        "Secret/apps/web-secrets (password) -> password",
        "spec.values",
    )
    with pytest.raises(RenderError, match="could not resolve Secret chart values reference 'apps/web-secrets'"):
        render_release(doc, dataclasses.replace(ctx, lookup=Desired(values_cm)))


def test_duplicate_objects_fail_like_flux_unless_streams_are_separate(tmp_path: Path) -> None:
    sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: shared\n"
    hook_sa = sa.replace("name: shared", "name: shared\n  annotations:\n    helm.sh/hook: pre-install")
    root = tmp_path / "src"
    write_chart(root, "dup", "1.0.0", templates={"sa.yaml": sa, "hook-sa.yaml": hook_sa})
    ctx = _fleet_ctx(root, tmp_path)
    spec = {"chart": _chart_from_fleet("dup")}
    with pytest.raises(RenderError, match="renders ServiceAccount/shared more than once"):
        render_release(hr_doc(**spec), ctx)
    rendered = render_release(hr_doc(**spec, postRenderStrategy="separate"), ctx)
    assert len(rendered.objects) == 1 and len(rendered.hooks) == 1


def test_missing_file_dependency_is_vendored_or_fails_loudly(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write_chart(root / "libs", "common", "2.1.0", templates={"cm.yaml": SUB_CM.replace("-sub", "-common")})
    deps = [{"name": "common", "version": "2.x", "repository": "file://../../libs/common"}]
    write_chart(root / "charts", "withdep", "1.0.0", templates={"cm.yaml": SUB_CM}, dependencies=deps)
    ctx = _fleet_ctx(root, tmp_path)
    spec = {"chart": _chart_from_fleet("charts/withdep")}
    rendered = render_release(hr_doc(**spec), ctx)
    assert sorted(o["metadata"]["name"] for o in rendered.objects) == ["web-common", "web-sub"]
    assert not (root / "charts" / "withdep" / "charts").exists()  # the source is never modified

    deps[0]["repository"] = "file://../../libs/missing"
    write_chart(root / "charts", "withdep", "1.0.0", templates={"cm.yaml": SUB_CM}, dependencies=deps)
    with pytest.raises(RenderError, match=re.escape("chart dependency common: no chart at file://../../libs/missing")):
        render_release(hr_doc(**spec), ctx)


def test_declared_dependency_absent_from_archive_fails(tmp_path: Path) -> None:
    """Helm's render drops a missing dependency silently; fluxform must not."""
    use_private_helm_home()
    chart = write_chart(tmp_path / "src", "lonely", "1.0.0", templates={"cm.yaml": SUB_CM})
    archive = Path(helm_python.package(chart, destination=tmp_path))
    with ChartRepoServer(tmp_path / "served") as server:
        (server.root / archive.name).write_bytes(archive.read_bytes())
        helm_python.repo_index_generate(server.root, base_url=server.url)
        # rewrite Chart.yaml inside the served archive to declare a dependency it lacks
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(archive) as src, tarfile.open(fileobj=buf, mode="w:gz") as dst:
            for member in src.getmembers():
                data = src.extractfile(member)
                content = data.read() if data else b""
                if member.name.endswith("Chart.yaml"):
                    content += b"dependencies:\n- name: ghost\n  version: 1.0.0\n  repository: file://../ghost\n"
                    member.size = len(content)
                dst.addfile(member, io.BytesIO(content))
        (server.root / archive.name).write_bytes(buf.getvalue())
        helm_python.repo_index_generate(server.root, base_url=server.url)
        ctx = HelmContext(Desired(_helm_repo(server.url)), cache=ChartCache(tmp_path / "c"))
        with pytest.raises(RenderError, match="is missing dependencies in charts/: ghost"):
            render_release(_repo_hr("lonely", "*"), ctx)


def _helm_repo(url: str, repo_type: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"url": url, "interval": "1h"}
    if repo_type:
        spec.update(type=repo_type, insecure=True)
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "flux-system"}, "spec": spec}  # fmt: skip


def _repo_hr(chart: str, version: str, **extra: Any) -> dict[str, Any]:
    tpl = {
        "chart": chart,
        "version": version,
        "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"},
    }
    return hr_doc(chart={"spec": {**tpl, **extra}})


@pytest.fixture
def http_chart_repo(tmp_path: Path) -> Iterator[ChartRepoServer]:
    with ChartRepoServer(tmp_path / "served") as server:
        for version in ("1.0.0", "1.1.0"):
            publish(build_app_chart(tmp_path / f"src-{version}", version), server)
        yield server


def test_http_repository_chart_and_offline_modes(http_chart_repo: ChartRepoServer, tmp_path: Path) -> None:
    cache = ChartCache(tmp_path / "cache")
    ctx = HelmContext(Desired(_helm_repo(http_chart_repo.url)), cache=cache)
    doc = _repo_hr("app", "~1.0")
    with pytest.raises(SourceError) as info:
        render_release(doc, dataclasses.replace(ctx, offline=True))
    assert "not in the cache (offline)" in info.value.summary and info.value.subject is not None

    assert [r.owner.name for r in collect_chart_refs([doc])] == ["web"]
    pulled = pull_charts([doc, {"kind": "ConfigMap"}], ctx)
    assert [(c.name, c.version) for c in pulled] == [("app", "1.0.0")]
    served = len(http_chart_repo.requests)
    rendered = render_release(doc, dataclasses.replace(ctx, offline=True))
    assert len(http_chart_repo.requests) == served  # offline: the network was not used
    assert rendered.chart.version == "1.0.0"
    assert rendered.chart.source == f"HelmRepository/flux-system/charts ({http_chart_repo.url}/app-1.0.0.tgz)"
    assert by_kind(rendered, "Deployment")[0]["metadata"]["labels"]["chart"] == "app-1.0.0"


def test_pull_charts_reports_every_failure_and_keeps_the_rest(http_chart_repo: ChartRepoServer, tmp_path: Path) -> None:
    cache = ChartCache(tmp_path / "cache")
    ctx = HelmContext(Desired(_helm_repo(http_chart_repo.url)), cache=cache, offline=True)
    good = _repo_hr("app", "1.1.0")
    broken = _repo_hr("app", "*")
    broken["metadata"]["name"] = "broken"
    broken["spec"]["chart"]["spec"]["sourceRef"]["name"] = "missing"
    chart_ref = hr_doc(chartRef={"kind": "OCIRepository", "name": "podinfo"})
    del chart_ref["spec"]["chart"]
    chart_ref["metadata"]["name"] = "oci"
    refs = collect_chart_refs([good, broken, chart_ref])
    assert [(r.owner.name, r.chart, r.version, r.source) for r in refs] == [
        ("broken", "app", "*", "HelmRepository/flux-system/missing"),
        ("oci", "OCIRepository/apps/podinfo", "", "OCIRepository/apps/podinfo"),
        ("web", "app", "1.1.0", "HelmRepository/flux-system/charts"),
    ]
    with pytest.raises(SourceError) as info:
        pull_charts([good, broken, chart_ref], ctx)  # pulls online even from an offline context
    assert info.value.summary == "2 chart(s) could not be pulled"
    assert "HelmRelease/apps/broken: HelmRepository flux-system/missing not found" in info.value.detail
    assert render_release(good, ctx).chart.version == "1.1.0"  # the good chart is cached for offline use


def test_values_files_replace_chart_values(http_chart_repo: ChartRepoServer, tmp_path: Path) -> None:
    ctx = HelmContext(Desired(_helm_repo(http_chart_repo.url)), cache=ChartCache(tmp_path / "cache"))
    rendered = render_release(_repo_hr("app", "1.1.0", valuesFiles=["values.yaml"]), ctx)
    assert by_kind(rendered, "Deployment")[0]["spec"]["replicas"] == 1
    # source-controller appends the HelmChart generation (unknown here: 1, with a warning)
    assert rendered.chart.version == "1.1.0+1"
    assert by_kind(rendered, "Deployment")[0]["metadata"]["labels"]["chart"] == "app-1.1.0_1"
    assert any("HelmChart generation unknown" in d.summary for d in rendered.diagnostics)
    helm_chart = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                  "metadata": {"name": "apps-web", "namespace": "flux-system", "generation": 3}}  # fmt: skip
    known = dataclasses.replace(ctx, lookup=Desired(_helm_repo(http_chart_repo.url), helm_chart))
    assert render_release(_repo_hr("app", "1.1.0", valuesFiles=["values.yaml"]), known).chart.version == "1.1.0+3"
    with pytest.raises(RenderError, match=re.escape("values file prod.yaml not found")):
        render_release(_repo_hr("app", "1.1.0", valuesFiles=["values.yaml", "prod.yaml"]), ctx)
    ignored = _repo_hr("app", "1.1.0", valuesFiles=["values.yaml", "prod.yaml"], ignoreMissingValuesFiles=True)
    assert render_release(ignored, ctx).chart.values_override is not None


def test_missing_helm_repository_names_the_helmrelease(tmp_path: Path) -> None:
    with pytest.raises(RenderError) as info:
        render_release(_repo_hr("app", "*"), HelmContext(Desired(), cache=ChartCache(tmp_path)))
    assert info.value.one_line().startswith("HelmRelease/apps/web: HelmRepository flux-system/charts not found")


def test_oci_repository_chart_ref_version_carries_the_digest(registry: Registry, tmp_path: Path) -> None:
    use_private_helm_home()
    archive = Path(helm_python.package(build_app_chart(tmp_path / "src", "1.1.0"), destination=tmp_path))
    helm_python.push(archive, f"oci://{registry.host}/render", plain_http=True)
    layer = {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"}
    spec: dict[str, Any] = {"url": f"oci://{registry.host}/render/app", "ref": {"semver": "1.x"}, "insecure": True}
    oci_repo = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": "app", "namespace": "apps"},
        "spec": {**spec, "layerSelector": layer},
    }
    doc = hr_doc(chartRef={"kind": "OCIRepository", "name": "app"})
    del doc["spec"]["chart"]
    cache = ChartCache(tmp_path / "cache")
    rendered = render_release(doc, HelmContext(Desired(oci_repo), cache=cache))
    digest = rendered.chart.revision.split("@sha256:")[1]
    assert rendered.chart.revision.startswith("1.1.0@sha256:")
    assert rendered.chart.version == f"1.1.0+{digest[:12]}"
    assert by_kind(rendered, "Deployment")[0]["metadata"]["labels"]["chart"] == f"app-1.1.0_{digest[:12]}"
    offline = render_release(doc, HelmContext(Desired(oci_repo), cache=cache, offline=True))
    assert offline.objects == rendered.objects

    helm_repo = _helm_repo(f"oci://{registry.host}/render", "oci")
    via_helm_repo = render_release(_repo_hr("app", "1.1.0"), HelmContext(Desired(helm_repo), cache=cache))
    assert via_helm_repo.chart.version == "1.1.0"  # HelmRepository charts keep their version


def test_scopes_from_the_charts_own_crds(tmp_path: Path) -> None:
    crd = crd_text("Widget", scope="Cluster")
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    root = tmp_path / "src"
    write_chart(root, "widgets", "1.0.0", templates={"w.yaml": widget}, crds={"crd.yaml": crd})
    ctx = _fleet_ctx(root, tmp_path)
    spec = {"chart": _chart_from_fleet("widgets")}
    rendered = render_release(hr_doc(**spec, install={"crds": "Skip"}), ctx)
    assert "namespace" not in rendered.objects[0]["metadata"]  # cluster-scoped per the chart's CRD
    assert rendered.crds == ()


def test_scopes_from_crds_in_the_desired_state(ctx: HelmContext) -> None:
    crd = {
        "kind": "CustomResourceDefinition",
        "spec": {"group": "rbac.authorization.k8s.io", "names": {"kind": "ClusterRole"}, "scope": "Namespaced"},
    }
    rendered = render_release(hr_doc(), ctx, scopes=KindScopes.from_manifests([crd]))
    assert by_kind(rendered, "ClusterRole")[0]["metadata"]["namespace"] == "should-be-dropped"
