"""Helm renders kept between runs: a warm render runs no template and gives what a fresh
render gives; every input of the cached part changes the key; values from a Secret and
non-deterministic charts are never stored; a damaged entry is rendered again.

Real Helm SDK and kustomize; renders are counted by wrapping the SDK call (the real one runs)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from fluxform.errors import FluxformWarning
from fluxform.helm import HelmContext, RenderedRelease, render_release
from fluxform.helm import render as render_module
from fluxform.helm.render_cache import RenderCache
from fluxform.helm.sdk import RenderOptions
from fluxform.helm.sdk import render_chart as sdk_render_chart
from fluxform.sources.chart_cache import ChartCache
from tests.support.charts_http import write_chart
from tests.support.engines import use_engine
from tests.support.trees import crd_text

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
  password: {{ .Values.password | default "" | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  install: {{ .Release.IsInstall | quote }}
  revision: {{ .Release.Revision | quote }}
  namespace: {{ .Release.Namespace | quote }}
"""
HOOK = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install,never-heard-of
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
"""
SCHEMA = {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}}
SOURCE = ("GitRepository", "flux-system", "fleet")


def _doc(**spec: Any) -> dict[str, Any]:
    source = {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"interval": "10m", "chart": {"spec": {"chart": "./charts/app", "sourceRef": source}}, **spec},
    }


class Objects:
    """A tiny desired state for valuesFrom lookups."""

    def __init__(self, *docs: Mapping[str, Any]) -> None:
        self.docs = {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs}

    def __call__(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.docs.get((kind, namespace, name))


def _configmap(greeting: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-values", "namespace": "apps"},
        "data": {"values.yaml": f"greeting: {greeting}\n"},
    }


def _chart(fleet: Path, templates: Mapping[str, str] | None = None, version: str = "1.0.0") -> Path:
    return write_chart(
        fleet / "charts",
        "app",
        version,
        templates=templates or {"settings.yaml": SETTINGS, "hook.yaml": HOOK},
        values={"replicas": 1},
        crds={"crd.yaml": crd_text("Widget") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n"},
        schema=SCHEMA,
    )


@dataclass
class Renders:
    """How many times the Helm SDK rendered templates."""

    count: int = 0


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Renders:
    seen = Renders()
    real = sdk_render_chart  # what render.py calls

    def counted(chart: Any, values: Mapping[str, Any], options: RenderOptions) -> dict[str, str]:
        seen.count += 1
        return real(chart, values, options)

    monkeypatch.setattr(render_module, "render_chart", counted)
    return seen


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    _chart(tmp_path / "fleet")
    return tmp_path / "fleet"


def _ctx(fleet: Path, tmp_path: Path, *docs: Mapping[str, Any]) -> HelmContext:
    return HelmContext(Objects(_configmap("from-configmap"), *docs), {SOURCE: fleet}, cache=ChartCache(tmp_path / "c"))


def _same(a: RenderedRelease, b: RenderedRelease) -> None:
    assert (a.objects, a.hooks, a.crds) == (b.objects, b.hooks, b.crds)
    assert [d.one_line() for d in a.diagnostics] == [d.one_line() for d in b.diagnostics]
    assert (a.release_name, a.namespace, a.storage_namespace, a.values_digest, a.chart.digest) == (
        b.release_name, b.namespace, b.storage_namespace, b.values_digest, b.chart.digest,
    )  # fmt: skip


def test_a_warm_render_runs_no_template_and_gives_what_a_fresh_render_gives(
    fleet: Path, tmp_path: Path, renders: Renders
) -> None:
    ctx = _ctx(fleet, tmp_path)
    doc = _doc(values={"greeting": "hi"}, valuesFrom=[{"kind": "ConfigMap", "name": "web-values"}])
    fresh = render_release(doc, ctx)
    cold_cache = RenderCache(tmp_path / "renders")
    cold = render_release(doc, ctx, cache=cold_cache)
    assert (renders.count, cold_cache.stored) == (2, 1)

    warm_cache = RenderCache(tmp_path / "renders")  # the next run
    warm = render_release(doc, ctx, cache=warm_cache)

    assert renders.count == 2 and (warm_cache.hits, warm_cache.misses) == (1, 0)
    for rendered in (cold, warm):
        _same(rendered, fresh)
    assert [h["metadata"]["name"] for h in warm.hooks] == [] and any(
        "unknown hook type" in d.summary for d in warm.diagnostics
    )  # the render's own warnings come back from the entry, naming the release
    assert any("not a CustomResourceDefinition" in d.summary and d.subject == warm.owner for d in warm.diagnostics)
    assert warm.crds[0]["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"


def test_the_cached_part_is_not_shared_with_the_release_it_is_handed_to(
    fleet: Path, tmp_path: Path, renders: Renders
) -> None:
    """Namespaces filled in after the cached part: a cluster-scoped CRD of the fleet changes
    placement without a new render, and a hit hands out objects of its own."""
    ctx = _ctx(fleet, tmp_path)
    cache = RenderCache(tmp_path / "renders")
    first = render_release(_doc(), ctx, cache=cache)
    second = render_release(_doc(), ctx, cache=cache)
    assert renders.count == 1
    assert first.objects == second.objects and first.objects[0] is not second.objects[0]


def _values(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["values"] = {"greeting": "changed"}
    return doc, ctx


def _values_from(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["valuesFrom"] = [{"kind": "ConfigMap", "name": "web-values"}]
    return doc, replace(ctx, lookup=Objects(_configmap("another greeting")))


def _template(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    chart = ctx.source_dirs[SOURCE] / "charts/app/templates/settings.yaml"
    chart.write_text(chart.read_text().replace("greeting:", "salutation:"))
    return doc, ctx


def _chart_version(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    _chart(ctx.source_dirs[SOURCE], version="1.0.1")
    return doc, ctx


def _namespace(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["metadata"]["namespace"] = "other"
    return doc, replace(ctx, lookup=Objects())


def _target_namespace(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["targetNamespace"] = "elsewhere"
    return doc, ctx


def _storage_namespace(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["storageNamespace"] = "helm-storage"
    return doc, ctx


def _release_name(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["releaseName"] = "frontend"
    return doc, ctx


def _kube_version(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    return doc, replace(ctx, kube_version="v1.31.4")


def _api_versions(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    return doc, replace(ctx, api_versions=("monitoring.coreos.com/v1",))


def _post_renderer(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    patch = {"patch": "- op: add\n  path: /data/patched\n  value: 'yes'\n", "target": {"kind": "ConfigMap"}}
    doc["spec"]["postRenderers"] = [{"kustomize": {"patches": [patch]}}]
    return doc, ctx


def _common_metadata(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["commonMetadata"] = {"labels": {"team": "web"}}
    return doc, ctx


def _strategy(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["postRenderStrategy"] = "nohooks"
    return doc, ctx


def _schema_validation(doc: dict[str, Any], ctx: HelmContext) -> tuple[dict[str, Any], HelmContext]:
    doc["spec"]["install"] = {"disableSchemaValidation": True}
    return doc, ctx


Change = Callable[[dict[str, Any], HelmContext], tuple[dict[str, Any], HelmContext]]
CHANGES: list[Change] = [
    _values, _values_from, _template, _chart_version, _namespace, _target_namespace, _storage_namespace,
    _release_name, _kube_version, _api_versions, _post_renderer, _common_metadata, _strategy, _schema_validation,
]  # fmt: skip


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__.strip("_"))
def test_every_input_of_the_render_changes_the_key(
    fleet: Path, tmp_path: Path, renders: Renders, change: Change
) -> None:
    ctx = _ctx(fleet, tmp_path)
    cache = RenderCache(tmp_path / "renders")
    render_release(_doc(), ctx, cache=cache)
    assert render_release(_doc(), ctx, cache=cache).objects  # a hit
    assert (renders.count, cache.hits) == (1, 1)

    doc, changed_ctx = change(_doc(), ctx)
    cached = render_release(copy.deepcopy(doc), changed_ctx, cache=cache)

    assert (renders.count, cache.misses, cache.stored) == (2, 2, 2)  # rendered again, and kept
    _same(cached, render_release(doc, changed_ctx))  # what a fresh render of it gives


@pytest.mark.parametrize("is_install, revision", [(False, None), (False, 7)])
def test_an_upgrade_and_its_revision_change_the_key(
    fleet: Path, tmp_path: Path, renders: Renders, is_install: bool, revision: int | None
) -> None:
    ctx = _ctx(fleet, tmp_path)
    cache = RenderCache(tmp_path / "renders")
    render_release(_doc(), ctx, cache=cache, is_install=False, revision=3)
    upgraded = render_release(_doc(), ctx, cache=cache, is_install=is_install, revision=revision)
    assert renders.count == 2
    assert upgraded.objects[0]["data"]["revision"] == str(revision or 2)


def test_the_kustomize_engine_of_the_post_renderers_changes_the_key(
    fleet: Path, tmp_path: Path, renders: Renders, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _ctx(fleet, tmp_path)
    cache = RenderCache(tmp_path / "renders")
    doc, _ = _post_renderer(_doc(), ctx)
    plain = _doc()
    for engine in ("subprocess", "inprocess"):
        with use_engine(monkeypatch, engine):
            render_release(copy.deepcopy(doc), ctx, cache=cache)
            render_release(copy.deepcopy(plain), ctx, cache=cache)
    # the release with post-renderers rendered once per engine; the one without, once
    assert (renders.count, cache.hits) == (3, 1)


def test_values_from_a_secret_are_never_stored(fleet: Path, tmp_path: Path, renders: Renders) -> None:
    password = "correct-horse-battery-4f1c2d"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web-secret-values", "namespace": "apps"},
        "stringData": {"values.yaml": f"password: {password}\n"},
    }
    ctx = _ctx(fleet, tmp_path, secret)
    cache = RenderCache(tmp_path / "renders")
    doc = _doc(valuesFrom=[{"kind": "Secret", "name": "web-secret-values"}])

    first = render_release(copy.deepcopy(doc), ctx, cache=cache)
    render_release(copy.deepcopy(doc), ctx, cache=cache)

    assert first.objects[0]["data"]["password"] == password  # it did reach the render
    assert (renders.count, cache.stored, cache.refused, cache.hits) == (2, 0, 2, 0)
    assert not (tmp_path / "renders").exists() or not any((tmp_path / "renders").rglob("*"))


def _entry(directory: Path) -> Path:
    (entry,) = [p for p in directory.rglob("*.json") if p.is_file()]
    return entry


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _emptied(path: Path) -> None:
    path.write_bytes(b"")


def _edited(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"from-configmap", b"evil-greeting!"))


@pytest.mark.parametrize("damage", [_truncated, _emptied, _edited], ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_entry_is_a_miss_not_an_error(
    fleet: Path, tmp_path: Path, renders: Renders, damage: Callable[[Path], None]
) -> None:
    ctx = _ctx(fleet, tmp_path)
    doc = _doc(valuesFrom=[{"kind": "ConfigMap", "name": "web-values"}])
    fresh = render_release(copy.deepcopy(doc), ctx, cache=RenderCache(tmp_path / "renders"))
    damage(_entry(tmp_path / "renders"))

    cache = RenderCache(tmp_path / "renders")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = render_release(copy.deepcopy(doc), ctx, cache=cache)

    _same(again, fresh)
    assert (renders.count, cache.misses, cache.stored) == (2, 1, 1)
    said = [str(w.message) for w in caught if isinstance(w.message, FluxformWarning)]
    assert len(said) == 1 and said[0].startswith("Helm render cache entry")
    assert render_release(copy.deepcopy(doc), ctx, cache=RenderCache(tmp_path / "renders")).objects == fresh.objects
    assert renders.count == 2  # the entry written again is good


NONDETERMINISTIC_TEMPLATES = {
    "randAlphaNum": "password: {{ randAlphaNum 16 | quote }}",
    "genCA": '{{- $ca := genCA "ca" 365 }}\ncert: {{ $ca.Cert | b64enc | quote }}',
    "uuidv4": "id: {{ uuidv4 | quote }}",
    "now": 'stamp: {{ now | date "2006-01-02" | quote }}',
    "lookup": '{{- $s := lookup "v1" "Secret" .Release.Namespace "x" }}\nfound: {{ empty $s | quote }}',
}


@pytest.mark.parametrize("call", sorted(NONDETERMINISTIC_TEMPLATES))
def test_a_chart_that_renders_differently_each_time_is_never_stored(
    tmp_path: Path, renders: Renders, call: str
) -> None:
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: changing\ndata:\n"
    text = f"{head}  {NONDETERMINISTIC_TEMPLATES[call]}\n"
    fleet = tmp_path / "fleet"
    _chart(fleet, templates={"changing.yaml": text, "settings.yaml": SETTINGS})
    ctx = _ctx(fleet, tmp_path)
    cache = RenderCache(tmp_path / "renders")

    render_release(_doc(), ctx, cache=cache)
    render_release(_doc(), ctx, cache=cache)

    assert (renders.count, cache.stored, cache.refused) == (2, 0, 2)


def test_a_chart_that_renders_the_same_each_time_is_stored(tmp_path: Path, renders: Renders) -> None:
    """Control for the test above: the same shape of chart without such a call is kept."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: steady\ndata:\n  day: {{ .Values.date | quote }}\n"
    fleet = tmp_path / "fleet"
    _chart(fleet, templates={"steady.yaml": text, "settings.yaml": SETTINGS})
    ctx = _ctx(fleet, tmp_path)
    cache = RenderCache(tmp_path / "renders")
    render_release(_doc(values={"date": "monday"}), ctx, cache=cache)
    render_release(_doc(values={"date": "monday"}), ctx, cache=cache)
    assert (renders.count, cache.stored, cache.hits) == (1, 1, 1)
