"""Rendering one HelmRelease into the objects helm-controller would apply.

Pipeline (helm-controller reconcile + Helm v4 install/upgrade `renderResources`):
values (valuesFrom, inline) -> chart (resolve, materialise) -> kubeVersion check ->
templates (Helm SDK, schema validated unless disabled) -> split into documents (NOTES.txt
and partials dropped) -> post-renderers per `postRenderStrategy` -> hooks sorted out by
`helm.sh/hook` -> release namespace on namespaced objects without one -> CRDs from
`crds/` (enabled subcharts only, CustomResourceDefinitions only, origin-labelled) per the
install/upgrade CRD policy.

    rendered = render_release(doc, ctx, is_install=True, scopes=KindScopes.from_manifests(docs))
    rendered.objects   # manifests Helm would apply, in render order
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fluxform import yamlio
from fluxform.errors import Diagnostic, FluxformError, RenderError
from fluxform.helm.chart import ResolvedChart, resolve_chart
from fluxform.helm.context import HelmContext
from fluxform.helm.determinism import nondeterministic_call
from fluxform.helm.materialize import open_chart
from fluxform.helm.names import release_name_for, release_namespace_for
from fluxform.helm.postrender import apply_metadata, origin_labels, post_render
from fluxform.helm.render_cache import RenderCache, RenderRequest, RenderStage, render_key
from fluxform.helm.sdk import (
    DEFAULT_KUBE_VERSION,
    RenderOptions,
    chart_crds,
    chart_metadata,
    parse_yaml_document,
    render_chart,
    validate_release_name,
)
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.helm.values import compose_values, values_digest
from fluxform.kinds import KindScopes
from fluxform.limits import LimitExceeded, current_limits
from fluxform.objects import ObjectId, SourceLocation
from fluxform.sources.semver import is_compatible_range

__all__ = ["HOOK_EVENTS", "RenderTimings", "RenderedRelease", "render_release", "render_spec"]

HOOK_ANNOTATION = "helm.sh/hook"
#: Helm's known hook events (release/v1 util manifest_sorter `events`); others are dropped.
HOOK_EVENTS = frozenset(
    {
        "pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade", "post-upgrade",
        "pre-rollback", "post-rollback", "test", "test-success",
    }
)  # fmt: skip
_SPLIT = re.compile(r"(?:^|\s*\n)---\s*")  # releaseutil.SplitManifests


@dataclass(frozen=True)
class RenderTimings:
    """Seconds spent per step (for bench/bench_helm.py)."""

    values: float = 0.0
    chart: float = 0.0  # resolve + load
    render: float = 0.0  # Helm templates
    parse: float = 0.0  # rendered text to objects
    post_render: float = 0.0  # post-renderers, labels, hooks, namespaces, CRDs


@dataclass(frozen=True)
class RenderedRelease:
    owner: ObjectId  # the HelmRelease
    release_name: str
    namespace: str  # release namespace (targetNamespace or the HelmRelease's)
    storage_namespace: str  # where Helm keeps release Secrets
    chart: ResolvedChart
    values_sources: tuple[str, ...]  # valuesFrom entries used, then "spec.values"
    values_digest: str  # sha256 of the composed values as canonical JSON (not Flux's digest)
    objects: tuple[Mapping[str, Any], ...]  # the release manifest: post-rendered, labelled, namespaced
    hooks: tuple[Mapping[str, Any], ...]  # Helm hooks (not part of the release inventory)
    crds: tuple[Mapping[str, Any], ...]  # from crds/, empty when the policy is Skip
    crd_policy: str  # Skip | Create (create missing, never update) | CreateReplace
    hooks_run: bool = True  # False with install/upgrade.disableHooks
    create_namespace: bool = False  # Helm creates `namespace` first (install.createNamespace + targetNamespace)
    diagnostics: tuple[Diagnostic, ...] = ()
    timings: RenderTimings = field(default_factory=RenderTimings)
    #: the composed values Helm gets (may hold values of valuesFrom Secrets: memory only)
    values: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    spec: HelmReleaseSpec | None = field(default=None, repr=False, compare=False)  # the HelmRelease rendered


def render_release(
    doc: Mapping[str, Any],
    ctx: HelmContext,
    *,
    is_install: bool = True,
    scopes: KindScopes | None = None,
    origin: SourceLocation | None = None,
    revision: int | None = None,
    cache: RenderCache | None = None,
) -> RenderedRelease:
    """Render a HelmRelease manifest; every failure is a FluxformError naming it.

    `is_install`: no release exists yet (`.Release.IsInstall`, install CRD policy), else an
    upgrade. `revision`: `.Release.Revision`, default 1 for an install, 2 for an upgrade
    (pass the last release revision + 1 when the cluster is known). `cache`: renders kept
    between runs; pass None when anything secret may reach the values (render_cache.py)."""
    hr = HelmReleaseSpec.from_doc(doc, origin)
    return render_spec(hr, ctx, is_install=is_install, scopes=scopes, revision=revision, cache=cache)


def render_spec(
    hr: HelmReleaseSpec,
    ctx: HelmContext,
    *,
    is_install: bool = True,
    scopes: KindScopes | None = None,
    revision: int | None = None,
    cache: RenderCache | None = None,
) -> RenderedRelease:
    try:
        return _render(hr, ctx, is_install, scopes or KindScopes(), revision or (1 if is_install else 2), cache)
    except FluxformError as exc:
        raise exc.with_context(subject=hr.id, location=hr.origin) from None


def _render(
    hr: HelmReleaseSpec,
    ctx: HelmContext,
    is_install: bool,
    scopes: KindScopes,
    revision: int,
    cache: RenderCache | None,
) -> RenderedRelease:
    clock = time.perf_counter()
    composed = compose_values(hr, ctx.lookup)
    t_values, clock = time.perf_counter() - clock, time.perf_counter()
    name = release_name_for(hr.name, target_namespace=hr.target_namespace, release_name=hr.release_name)
    validate_release_name(name)
    namespace = release_namespace_for(hr.namespace, target_namespace=hr.target_namespace)
    chart = resolve_chart(hr, ctx)
    skip_schema = hr.install_disable_schema_validation if is_install else hr.upgrade_disable_schema_validation
    options = RenderOptions(name, namespace, is_install, revision, ctx.kube_version, ctx.api_versions)
    request = RenderRequest(chart, composed.values, options, skip_schema, hr)
    if any(ref.kind == "Secret" for ref in hr.values_from) and cache is not None:
        cache.refuse()  # values from a Secret are never written anywhere
        cache = None
    key = render_key(request) if cache is not None else ""
    stage = cache.get(key) if cache is not None else None
    t_chart = t_render = t_parse = 0.0
    if stage is None:
        stage, (t_chart, t_render, t_parse) = _render_stage(request)
        if cache is not None:
            if nondeterministic_call(chart, composed.values) is None:
                cache.put(key, stage)
            else:
                cache.refuse()
    clock = time.perf_counter()
    diagnostics = [
        *composed.diagnostics,
        *(_about(hr, d) for d in (*chart.diagnostics, *_notes(hr))),
        *(Diagnostic(summary, subject=hr.id, location=hr.origin, detail=detail) for summary, detail in stage.notes),
    ]
    hooks, manifests = list(stage.hooks), list(stage.manifests)
    # the chart's own CRDs (crds/ or templates/) say how its custom resources are scoped
    scopes = scopes.merged(KindScopes.from_manifests([*stage.crds, *manifests]).crd_scopes)
    for doc in (*hooks, *manifests):
        _place_in_namespace(doc, namespace, scopes)
    policy = hr.install_crds if is_install else hr.upgrade_crds
    crds = [] if policy == "Skip" else list(stage.crds)
    timings = RenderTimings(t_values, t_chart, t_render, t_parse, time.perf_counter() - clock)
    return RenderedRelease(
        owner=hr.id,
        release_name=name,
        namespace=namespace,
        storage_namespace=hr.storage_namespace or hr.namespace,
        chart=chart,
        values_sources=composed.sources,
        values_digest=values_digest(composed.values),
        objects=tuple(manifests),
        hooks=tuple(hooks),
        crds=tuple(crds),
        crd_policy=policy,
        hooks_run=not (hr.install_disable_hooks if is_install else hr.upgrade_disable_hooks),
        create_namespace=is_install and hr.install_create_namespace and bool(hr.target_namespace),
        diagnostics=tuple(diagnostics),
        timings=timings,
        values=composed.values,
        spec=hr,
    )


def _render_stage(request: RenderRequest) -> tuple[RenderStage, tuple[float, float, float]]:
    """The part of a render the cache keeps: load, Helm templates, documents, post-renderers,
    hooks sorted out, CRDs of crds/. It reads `request` and nothing else (render_key)."""
    hr, clock = request.spec, time.perf_counter()
    with open_chart(request.chart, without_schema=request.skip_schema) as loaded:
        _check_kube_version(chart_metadata(loaded), request.options.kube_version or DEFAULT_KUBE_VERSION)
        t_chart, clock = time.perf_counter() - clock, time.perf_counter()
        files = render_chart(loaded, request.values, request.options)
        crd_files = chart_crds(loaded)  # after render: disabled subcharts are gone
    t_render, clock = time.perf_counter() - clock, time.perf_counter()
    docs = _documents(files)
    t_parse = time.perf_counter() - clock
    notes: list[Diagnostic] = []
    hooks, manifests = _post_render_by_strategy(docs, hr, notes)
    crds = _crds(crd_files, hr, notes)
    said = tuple((d.summary, d.detail) for d in notes)
    return RenderStage(tuple(hooks), tuple(manifests), tuple(crds), said), (t_chart, t_render, t_parse)


def _notes(hr: HelmReleaseSpec) -> list[Diagnostic]:
    notes = []
    if hr.remote_cluster:
        notes.append(Diagnostic("spec.kubeConfig: helm-controller installs this release into another cluster"))
    if hr.chart_template is not None and hr.chart_template.verify:
        notes.append(Diagnostic("spec.chart.spec.verify: chart signatures are not verified by fluxform"))
    return notes


def _about(hr: HelmReleaseSpec, diagnostic: Diagnostic) -> Diagnostic:
    return dataclasses.replace(
        diagnostic, subject=diagnostic.subject or hr.id, location=diagnostic.location or hr.origin
    )


def _check_kube_version(meta: Mapping[str, Any], kube_version: str) -> None:
    required = str(meta.get("kubeVersion") or "")
    if required and not is_compatible_range(required, kube_version):
        raise RenderError(
            f"chart requires kubeVersion: {required} which is incompatible with Kubernetes {kube_version}",
            hint="pass the cluster's version (fluxform reads it from the cluster when connected)",
        )


def _documents(files: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every rendered document in file order, as Helm's SortManifests reads them. Counted
    before any is parsed: a template looping to millions of objects fails at the limit."""
    cap = current_limits().objects_per_render
    count = sum(len(_SPLIT.findall(text)) + 1 for text in files.values() if text.strip())
    if count > cap:
        raise LimitExceeded(
            f"the chart renders about {count} documents, over the limit of {cap} objects per owner",
            hint="FLUXFORM_MAX_OBJECTS raises the limit",
        )
    docs: list[dict[str, Any]] = []
    for path in sorted(files):
        base = path.rsplit("/", 1)[-1]
        if base.startswith("_") or path.endswith("NOTES.txt") or not files[path].strip():
            continue
        for text in _SPLIT.split(files[path].lstrip()):
            if text.strip():
                docs.extend(_parse(path, text))
    return docs


def _parse(path: str, text: str) -> list[dict[str, Any]]:
    try:
        parsed = parse_yaml_document(text)
    except RenderError as exc:
        raise RenderError(f"YAML parse error on {path}", detail=exc.detail or exc.summary) from None
    if not parsed:
        return []
    if not parsed.get("kind") or not parsed.get("apiVersion"):
        raise RenderError(f"{path} rendered a document that is not a Kubernetes object (no apiVersion/kind)")
    return [parsed]


def _post_render_by_strategy(
    docs: list[dict[str, Any]], hr: HelmReleaseSpec, diagnostics: list[Diagnostic]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """combined: everything post-rendered; nohooks: hooks untouched; separate: two streams.
    Hooks are sorted out of the final stream (a patch can add or remove a hook annotation)."""
    if hr.post_render_strategy == "combined":
        final = _post_render_stream(docs, hr)
    else:
        hooks, manifests = _split_hooks(docs, hr, [])
        pre = _post_render_stream(hooks, hr) if hr.post_render_strategy == "separate" else hooks
        final = [*pre, *_post_render_stream(manifests, hr)]
    return _split_hooks(final, hr, diagnostics)


def _post_render_stream(docs: list[dict[str, Any]], hr: HelmReleaseSpec) -> list[dict[str, Any]]:
    _check_duplicates(docs)
    return post_render(docs, hr)


def _split_hooks(
    docs: Sequence[dict[str, Any]], hr: HelmReleaseSpec, diagnostics: list[Diagnostic]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    hooks: list[dict[str, Any]] = []
    manifests: list[dict[str, Any]] = []
    for doc in docs:
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        events = annotations.get(HOOK_ANNOTATION) if isinstance(annotations, Mapping) else None
        if events is None:
            manifests.append(doc)
        elif all(e.strip().lower() in HOOK_EVENTS for e in str(events).split(",")):
            hooks.append(doc)
        else:
            diagnostics.append(
                Diagnostic(
                    f"{ObjectId.from_manifest(doc)} has unknown hook type {events!r}; Helm skips it",
                    subject=hr.id,
                    location=hr.origin,
                )
            )
    return hooks, manifests


def _place_in_namespace(doc: dict[str, Any], namespace: str, scopes: KindScopes) -> None:
    """Helm's client puts namespaced objects without a namespace into the release namespace;
    the API server drops a namespace given to a cluster-scoped object."""
    oid = ObjectId.from_manifest(doc)
    meta = doc.setdefault("metadata", {})
    if scopes.is_namespaced(oid.group, oid.kind):
        if not meta.get("namespace"):
            meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)


def _check_duplicates(docs: Sequence[Mapping[str, Any]]) -> None:
    """Flux post-renders through a kustomize ResMap, which refuses two objects with one id
    (group/version/kind, namespace with "" meaning "default", name) in a stream."""
    seen: set[tuple[str, str, str, str]] = set()
    for doc in docs:
        meta = doc.get("metadata") or {}
        key = (str(doc.get("apiVersion")), str(doc.get("kind")), str(meta.get("namespace") or "default"),
               str(meta.get("name")))  # fmt: skip
        if key in seen:
            raise RenderError(
                f"chart renders {ObjectId.from_manifest(doc)} more than once",
                detail="kustomize (Flux's post-renderer) refuses duplicate resources",
                hint="with a hook and a template sharing one object, set spec.postRenderStrategy: separate",
            )
        seen.add(key)


def _crds(
    files: Sequence[Mapping[str, str]], hr: HelmReleaseSpec, diagnostics: list[Diagnostic]
) -> list[dict[str, Any]]:
    """CRDs from crds/ with origin labels; other kinds there are ignored (helm-controller)."""
    out: list[dict[str, Any]] = []
    for entry in files:
        for doc in yamlio.iter_mappings(_load_crd_file(entry)):
            oid = ObjectId.from_manifest(doc)
            if (oid.group, oid.kind) != ("apiextensions.k8s.io", "CustomResourceDefinition"):
                diagnostics.append(
                    Diagnostic(
                        f"{entry.get('filename')}: {oid} in crds/ is not a CustomResourceDefinition; "
                        "helm-controller ignores it (move it to templates/)",
                        subject=hr.id,
                        location=hr.origin,
                    )
                )
                continue
            apply_metadata(doc, labels=origin_labels(hr))
            out.append(doc)
    return out


def _load_crd_file(entry: Mapping[str, str]) -> list[Any]:
    try:
        return yamlio.load_all(entry.get("data") or "")
    except yamlio.YamlError as exc:
        raise RenderError(
            f"failed to parse CustomResourceDefinitions from {entry.get('filename')}", detail=str(exc)
        ) from None
