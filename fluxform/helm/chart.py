"""Which chart a HelmRelease renders, found as source-controller and helm-controller find it.

* `spec.chart.spec` + HelmRepository (HTTP or OCI): fetched through the chart cache.
* `spec.chart.spec` + GitRepository/Bucket: the chart directory inside the artifact dir the
  caller gives in `HelmContext.source_dirs`; missing `file://` and repository dependencies
  are resolved (`helm dependency build` semantics), never silently dropped.
* `spec.chartRef` OCIRepository: the artifact's chart layer; the version becomes
  `<Chart.yaml version>+<12 hex of the manifest digest>` as helm-controller records it
  (a semver tag must equal the chart version).
* `spec.chartRef` HelmChart: the HelmChart's own spec, resolved as above.
* `valuesFiles`: merged left to right, the result replaces the chart's values.yaml.

    chart = resolve_chart(hr, ctx)
    chart.version, chart.source   # "6.5.0", "HelmRepository/flux-system/podinfo (https://...)"
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import tarfile
import urllib.parse
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from fluxform.errors import Diagnostic, FluxformError, RenderError, SourceError
from fluxform.helm.chart_dir import chart_from_source_dir
from fluxform.helm.chart_model import ChartDependency, ResolvedChart, merge_values_files
from fluxform.helm.context import HelmContext
from fluxform.helm.sdk import chart_metadata, load_chart
from fluxform.helm.spec import ChartTemplate, HelmReleaseSpec, SourceRef
from fluxform.sources.charts import (
    ChartRepository,
    FetchedChart,
    OciSelector,
)
from fluxform.sources.oci.registry import HELM_CHART_LAYER, Credentials
from fluxform.sources.semver import SemverError, Version

__all__ = ["ChartDependency", "ResolvedChart", "resolve_chart"]


def resolve_chart(hr: HelmReleaseSpec, ctx: HelmContext) -> ResolvedChart:
    """Resolve and fetch the chart; errors name the HelmRelease and the source object."""
    try:
        if hr.chart_template is not None:
            # helm-controller creates HelmChart <hr namespace>-<hr name> in the source's namespace
            generated = ctx.lookup("HelmChart", hr.chart_template.source_ref.namespace, f"{hr.namespace}-{hr.name}")
            return _from_template(hr.chart_template, ctx, generated)
        assert hr.chart_ref is not None
        if hr.chart_ref.kind == "OCIRepository":
            return _from_oci_repository(hr.chart_ref.namespace, hr.chart_ref.name, ctx)
        return _from_helm_chart(hr.chart_ref.namespace, hr.chart_ref.name, ctx)
    except FluxformError as exc:
        raise exc.with_context(subject=hr.id, location=hr.origin) from None


def _from_template(tpl: ChartTemplate, ctx: HelmContext, helm_chart: Mapping[str, Any] | None) -> ResolvedChart:
    """The chart source-controller builds for a HelmChart spec; `helm_chart` is the HelmChart
    object when known (its generation enters the version when valuesFiles are used)."""
    ref = tpl.source_ref
    if ref.kind == "HelmRepository":
        repo_doc = _require(ctx, ref.kind, ref.namespace, ref.name)
        repo = _chart_repository(repo_doc, ref, ctx)
        fetched = ctx.fetcher.repository_chart(repo, tpl.chart, tpl.version, ctx.cache, offline=ctx.offline)
        source = f"HelmRepository/{ref.namespace}/{ref.name} ({fetched.source})"
        values = _archive_values_files(fetched.data, tpl, source)
        resolved = ResolvedChart(
            fetched.name, fetched.version, source, fetched.digest, data=fetched.data,
            values_override=values, revision=fetched.revision,
        )  # fmt: skip
    else:
        resolved = chart_from_source_dir(tpl, ref, ctx)
    return _with_build_metadata(resolved, tpl, helm_chart, ctx)


def _with_build_metadata(
    resolved: ResolvedChart, tpl: ChartTemplate, helm_chart: Mapping[str, Any] | None, ctx: HelmContext
) -> ResolvedChart:
    """source-controller's VersionMetadata: `+<12 hex of the source revision>` with
    reconcileStrategy Revision (Git/Bucket), then `.<HelmChart generation>` (or just the
    generation) when valuesFiles are set, replacing any build metadata of the version."""
    parts: list[str] = []
    notes: list[Diagnostic] = []
    ref = tpl.source_ref
    if tpl.reconcile_strategy == "Revision" and ref.kind in ("GitRepository", "Bucket"):
        revision = ctx.source_revisions.get((ref.kind, ref.namespace, ref.name), "")
        hexdigest = revision.rpartition(":")[2] if revision else ""
        if hexdigest:
            parts.append(hexdigest[:12])
        else:
            notes.append(Diagnostic(f"reconcileStrategy Revision: the revision of {ref.kind} {ref.namespace}/"
                                    f"{ref.name} is unknown, so the chart version lacks it"))  # fmt: skip
    if tpl.values_files:
        generation = ((helm_chart or {}).get("metadata") or {}).get("generation")
        if not isinstance(generation, int):
            generation = 1
            notes.append(
                Diagnostic("valuesFiles: HelmChart generation unknown, assumed 1 (it enters the chart version)")
            )
        parts.append(str(generation))
    if not parts:
        return dataclasses.replace(resolved, diagnostics=(*resolved.diagnostics, *notes))
    try:
        version = Version.parse(resolved.version)
    except SemverError:
        raise RenderError(f"failed to parse version from chart metadata as SemVer: {resolved.version}") from None
    mutated = Version(version.major, version.minor, version.patch, version.pre, ".".join(parts))
    return dataclasses.replace(
        resolved,
        version=str(mutated),
        chart_version=resolved.chart_version or resolved.version,
        diagnostics=(*resolved.diagnostics, *notes),
    )


def _from_helm_chart(namespace: str, name: str, ctx: HelmContext) -> ResolvedChart:
    doc = _require(ctx, "HelmChart", namespace, name)
    spec = _spec(doc, "HelmChart", namespace, name)
    source_ref = spec.get("sourceRef") or {}
    kind, ref_name = str(source_ref.get("kind") or ""), str(source_ref.get("name") or "")
    if kind not in ("HelmRepository", "GitRepository", "Bucket") or not ref_name or not spec.get("chart"):
        raise RenderError(f"HelmChart {namespace}/{name} needs spec.chart and spec.sourceRef {{kind, name}}")
    tpl = ChartTemplate(
        chart=str(spec["chart"]),
        version=str(spec.get("version") or "*"),
        source_ref=SourceRef(kind, ref_name, namespace),  # a HelmChart refers to its own namespace
        reconcile_strategy=str(spec.get("reconcileStrategy") or "ChartVersion"),
        values_files=tuple(str(v) for v in spec.get("valuesFiles") or ()),
        ignore_missing_values_files=bool(spec.get("ignoreMissingValuesFiles")),
    )
    return _from_template(tpl, ctx, doc)


# --- HelmRepository -----------------------------------------------------------------------


def _chart_repository(doc: Mapping[str, Any], ref: SourceRef, ctx: HelmContext) -> ChartRepository:
    spec = _spec(doc, ref.kind, ref.namespace, ref.name)
    url = str(spec.get("url") or "")
    if not url:
        raise RenderError(f"HelmRepository {ref.namespace}/{ref.name} has no spec.url")
    if spec.get("provider") not in (None, "", "generic"):
        raise SourceError(
            f"HelmRepository {ref.namespace}/{ref.name}: provider {spec['provider']} authentication is not supported",
            hint="pre-fill the chart cache with `fluxform charts pull` where the registry is reachable",
        )
    repo_type = str(spec.get("type") or ("oci" if url.startswith("oci://") else "default"))
    return ChartRepository(
        url=url,
        type=repo_type,
        insecure=bool(spec.get("insecure")),
        credentials=_credentials(spec, ref, ctx, url),
        pass_credentials=bool(spec.get("passCredentials")),
    )


def _credentials(spec: Mapping[str, Any], ref: SourceRef, ctx: HelmContext, url: str) -> Credentials | None:
    """`spec.secretRef`: `username`/`password` keys (basic auth) or a `.dockerconfigjson`
    entry for the registry host; TLS client certificates are not supported."""
    secret_ref = spec.get("secretRef") or {}
    name = secret_ref.get("name") if isinstance(secret_ref, Mapping) else None
    if not name:
        return None
    secret = _require(ctx, "Secret", ref.namespace, str(name))
    data = _decoded_secret(secret, f"Secret {ref.namespace}/{name}")
    if "username" in data and "password" in data:
        return Credentials(data["username"], data["password"])
    if ".dockerconfigjson" in data:
        found = _docker_config_credentials(data[".dockerconfigjson"], url)
        if found is not None:
            return found
    raise SourceError(
        f"{ref.kind} {ref.namespace}/{ref.name}: Secret {ref.namespace}/{name} has no credentials for {url}",
        hint="supported: username/password keys, or a .dockerconfigjson with an entry for the registry",
    )


def _docker_config_credentials(text: str, url: str) -> Credentials | None:
    host = urllib.parse.urlsplit(url.replace("oci://", "https://", 1)).netloc
    try:
        auths = json.loads(text).get("auths") or {}
    except (ValueError, AttributeError):
        return None
    for key, entry in auths.items():
        if urllib.parse.urlsplit(key if "://" in key else f"https://{key}").netloc != host:
            continue
        if entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]))
        user, _, password = base64.b64decode(str(entry.get("auth") or "")).decode("utf-8", "replace").partition(":")
        if user:
            return Credentials(user, password)
    return None


def _decoded_secret(doc: Mapping[str, Any], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (doc.get("data") or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(value or ""), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SourceError(f"{what}: data key {key!r} is not base64-encoded UTF-8") from None
    out.update({str(k): str(v) for k, v in (doc.get("stringData") or {}).items()})
    return out


def _archive_values_files(data: bytes, tpl: ChartTemplate, source: str) -> Mapping[str, Any] | None:
    """valuesFiles of a packaged chart are paths inside the chart."""
    if not tpl.values_files:
        return None
    files = _archive_files(data)
    return merge_values_files(tpl, lambda p: files.get(str(PurePosixPath(p))), source)


def _archive_files(data: bytes) -> dict[str, str]:
    """Regular files of a chart archive by path relative to the chart root."""
    out: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts
            handle = tar.extractfile(member)
            if len(parts) > 1 and handle is not None:
                out[str(PurePosixPath(*parts[1:]))] = handle.read().decode("utf-8", "replace")
    return out


# --- OCIRepository --------------------------------------------------------------------------


def _from_oci_repository(namespace: str, name: str, ctx: HelmContext) -> ResolvedChart:
    doc = _require(ctx, "OCIRepository", namespace, name)
    spec = _spec(doc, "OCIRepository", namespace, name)
    ref = spec.get("ref") or {}
    selector = OciSelector(
        tag=str(ref.get("tag") or ""),
        semver=str(ref.get("semver") or ""),
        semver_filter=str(ref.get("semverFilter") or ""),
        digest=str(ref.get("digest") or ""),
    )
    layer = spec.get("layerSelector") or {}
    source_ref = SourceRef("OCIRepository", name, namespace)
    url = str(spec.get("url") or "")
    fetched = ctx.fetcher.oci_artifact(
        url,
        selector,
        ctx.cache,
        offline=ctx.offline,
        layer_media_type=str(layer.get("mediaType") or HELM_CHART_LAYER),
        insecure=bool(spec.get("insecure")),
        credentials=_credentials(spec, source_ref, ctx, url),
    )
    return _with_digest_version(fetched, f"OCIRepository/{namespace}/{name} ({fetched.source})")


def _with_digest_version(fetched: FetchedChart, source: str) -> ResolvedChart:
    """helm-controller mutateChartWithSourceRevision: `<version>+<digest[:12]>`."""
    with load_chart(fetched.data) as chart:
        meta = chart_metadata(chart)
    name, chart_version = str(meta.get("name") or ""), str(meta.get("version") or "")
    try:
        version = Version.parse(chart_version)
    except SemverError:
        raise RenderError(f"invalid chart version {chart_version}", detail=source) from None
    tag, _, digest = fetched.revision.rpartition("@")
    if tag and _parses(tag.replace("_", "+")) and Version.parse(tag.replace("_", "+")) != version:
        raise RenderError(f"artifact revision {tag} does not match chart version {chart_version}", detail=source)
    hexdigest = digest.partition(":")[2]
    mutated = Version(version.major, version.minor, version.patch, version.pre, hexdigest[:12])
    return ResolvedChart(
        name, str(mutated), source, fetched.digest, data=fetched.data,
        chart_version=chart_version, revision=fetched.revision,
    )  # fmt: skip


def _parses(text: str) -> bool:
    try:
        Version.parse(text)
    except SemverError:
        return False
    return True


# --- lookups --------------------------------------------------------------------------------


def _require(ctx: HelmContext, kind: str, namespace: str, name: str) -> Mapping[str, Any]:
    doc = ctx.lookup(kind, namespace, name)
    if doc is None:
        raise RenderError(
            f"{kind} {namespace}/{name} not found",
            hint=f"add the {kind} to the fleet (it must be in the desired state or the cluster)",
        )
    return doc


def _spec(doc: Mapping[str, Any], kind: str, namespace: str, name: str) -> Mapping[str, Any]:
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        raise RenderError(f"{kind} {namespace}/{name} has no spec")
    return spec
