"""HelmRelease rendering as Flux's helm-controller does it: the public face of fluxform/helm/.

    ctx = HelmContext(lookup=desired_lookup, source_dirs={("GitRepository", "flux-system", "fleet"): root})
    rendered = render_release(hr_doc, ctx, is_install=True, scopes=scopes)
    charts = pull_charts(all_manifests, ctx)       # `fluxform charts pull`: fill the cache

Modules behind it, one job each: spec (typed HelmRelease) and policy (its Helm action
options), names (release name and namespace), values + strvals (values composition), chart,
chart_dir and chart_model (chart resolution) over sources/charts (repositories, OCI, cache),
materialize (loading), sdk (the Helm SDK door), postrender (post-renderers, labels), render
(the pipeline). Applying a release: release (ReleaseApplier, the apply executor's entry),
storage (Helm's release Secrets), journal (proof of fluxform's own Helm actions), worker and
worker_protocol (the Helm process, named after the field manager), plugin (the post-renderer
relay Helm runs), remediation (install/upgrade with helm-controller's retries and remedies).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fluxform.errors import FluxformError, SourceError
from fluxform.helm.chart import ChartDependency, ResolvedChart, resolve_chart
from fluxform.helm.context import HelmContext, SourceKey
from fluxform.helm.names import release_name_for, release_namespace_for
from fluxform.helm.render import RenderedRelease, RenderTimings, render_release, render_spec
from fluxform.helm.sdk import DEFAULT_KUBE_VERSION, sdk_version
from fluxform.helm.spec import HELM_GROUP, HelmReleaseSpec
from fluxform.helm.values import ComposedValues, Lookup, compose_values
from fluxform.objects import ObjectId, SourceLocation
from fluxform.sources.chart_cache import ChartCache, default_cache_dir

__all__ = [
    "DEFAULT_KUBE_VERSION",
    "ChartCache",
    "ChartDependency",
    "ChartRequest",
    "ComposedValues",
    "HelmContext",
    "HelmReleaseSpec",
    "Lookup",
    "RenderTimings",
    "RenderedRelease",
    "ResolvedChart",
    "SourceKey",
    "collect_chart_refs",
    "compose_values",
    "default_cache_dir",
    "is_helm_release",
    "pull_charts",
    "release_name",
    "release_namespace",
    "render_release",
    "render_spec",
    "resolve_chart",
    "sdk_version",
]


def is_helm_release(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "HelmRelease" and str(doc.get("apiVersion") or "").startswith(f"{HELM_GROUP}/")


def release_name(hr: HelmReleaseSpec) -> str:
    """The Helm release name helm-controller uses (shortened past 53 characters)."""
    return release_name_for(hr.name, target_namespace=hr.target_namespace, release_name=hr.release_name)


def release_namespace(hr: HelmReleaseSpec) -> str:
    return release_namespace_for(hr.namespace, target_namespace=hr.target_namespace)


@dataclass(frozen=True, slots=True)
class ChartRequest:
    """One chart a HelmRelease needs, for `fluxform charts pull` and `get hr`."""

    owner: ObjectId
    chart: str  # chart name/path, or the chartRef object
    version: str  # semver range ("" for chartRef)
    source: str  # "HelmRepository/ns/name", "OCIRepository/ns/name", ...


def collect_chart_refs(
    manifests: Iterable[Mapping[str, Any]], origins: Mapping[ObjectId, SourceLocation] | None = None
) -> list[ChartRequest]:
    """Every chart the HelmReleases in `manifests` need, sorted by HelmRelease."""
    out: list[ChartRequest] = []
    for doc in manifests:
        if not is_helm_release(doc):
            continue
        hr = HelmReleaseSpec.from_doc(doc, (origins or {}).get(ObjectId.from_manifest(doc)))
        if hr.chart_template is not None:
            ref = hr.chart_template.source_ref
            source = f"{ref.kind}/{ref.namespace}/{ref.name}"
            out.append(ChartRequest(hr.id, hr.chart_template.chart, hr.chart_template.version, source))
        elif hr.chart_ref is not None:
            ref_text = f"{hr.chart_ref.kind}/{hr.chart_ref.namespace}/{hr.chart_ref.name}"
            out.append(ChartRequest(hr.id, ref_text, "", ref_text))
    return sorted(out, key=lambda r: r.owner)


def pull_charts(
    manifests: Iterable[Mapping[str, Any]],
    ctx: HelmContext,
    origins: Mapping[ObjectId, SourceLocation] | None = None,
) -> list[ResolvedChart]:
    """Fetch every chart (and repository dependency) the fleet needs into `ctx.cache`, online.

    All HelmReleases are tried; failures are reported together at the end, so one run
    shows everything an air-gapped cache would lack."""
    online = dataclasses.replace(ctx, offline=False)
    pulled: dict[str, ResolvedChart] = {}
    failures: list[str] = []
    for doc in manifests:
        if not is_helm_release(doc):
            continue
        try:
            hr = HelmReleaseSpec.from_doc(doc, (origins or {}).get(ObjectId.from_manifest(doc)))
            chart = resolve_chart(hr, online)
        except FluxformError as exc:
            failures.append(exc.one_line())
            continue
        pulled.setdefault(chart.digest, chart)
    if failures:
        raise SourceError(f"{len(failures)} chart(s) could not be pulled", detail="; ".join(failures))
    return sorted(pulled.values(), key=lambda c: (c.name, c.version))
