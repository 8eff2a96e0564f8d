"""HelmReleases as owners in the desired state: the discovery hook that renders every
HelmRelease the Kustomizations produced, as helm-controller would after they are applied.

A HelmRelease owns its release manifest (and the CRDs its policy installs); Helm hooks are
not part of the inventory. Its parent is the Kustomization that produced the HelmRelease,
and `spec.dependsOn` orders it among other HelmReleases. A release that cannot be rendered
(a chart that cannot be fetched, a valuesFrom object nothing produces, a bad values file)
is not planned, with the reason; the other releases render as if it were not there.

    options = DiscoverOptions(helm=helm_hook(HelmOptions(offline=True)))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fluxform.errors import Diagnostic, FluxformError, ObjectNotFound, SourceError
from fluxform.helm import (
    HelmContext,
    HelmReleaseSpec,
    ResolvedChart,
    is_helm_release,
    pull_charts,
    release_name,
    release_namespace,
    render_release,
)
from fluxform.helm.materialize import detached
from fluxform.helm.postrender import helm_ownership
from fluxform.helm.render_cache import RenderCache
from fluxform.helm.spec import HELM_GROUP, ChartRef
from fluxform.objects import ObjectId
from fluxform.planner.kustomization.discover import DiscoveryContext, HelmHook
from fluxform.planner.model import REMOTE_REASON, Cause, DesiredObject, Owner, OwnerSpec, OwnerStatus, ReleaseTarget
from fluxform.progress import Stage
from fluxform.sources.chart_cache import ChartCache
from fluxform.sources.charts import ChartFetcher

__all__ = ["HelmOptions", "ReleaseHook", "RenderCache", "chart_pull_hook", "helm_hook", "source_revision"]


@dataclass(frozen=True)
class HelmOptions:
    offline: bool = False  # charts only from the cache (or the repository itself)
    cache: ChartCache | None = None  # None: the default chart cache
    kube_version: str | None = None  # the cluster's, when known
    api_versions: tuple[str, ...] = ()
    # (storage namespace, release name) -> latest installed revision or None, read from the
    # cluster's Helm release Secrets; a release found there renders as an upgrade (IsUpgrade,
    # revision N+1, upgrade CRD policy), as helm-controller would. None: no cluster (installs)
    installed_release: Callable[[str, str], int | None] | None = None
    # how chart archives are fetched; None: repositories and the cache
    fetcher: ChartFetcher | None = None
    # renders kept between runs (--cache-dir); None: every release is rendered. It changes
    # how fast, never what is rendered, so identity() leaves it out
    render_cache: RenderCache | None = None

    def identity(self) -> dict[str, Any]:
        """What of these options changes a render, as plain values (for cache keys): offline,
        the state of the chart cache too; a custom fetcher or release reader is named by
        its type only."""
        cache = self.cache.root if self.cache is not None else ChartCache.default().root
        return {
            "offline": self.offline,
            "chart_cache": str(cache),
            "kube_version": self.kube_version or "",
            "api_versions": sorted(self.api_versions),
            "installed_release": self.installed_release is not None,
            "fetcher": type(self.fetcher).__qualname__ if self.fetcher is not None else "",
            # offline, the cache is all a release can get: what it holds decides which render
            "cache_refs": (self.cache or ChartCache.default()).refs_digest() if self.offline else "",
        }


def source_revision(body: Mapping[str, Any] | None, commit: str, digest: str) -> str:
    """Flux's artifact revision: `<branch>@sha1:<commit>` (or tag), else the digest."""
    if not commit:
        return digest
    ref = ((body or {}).get("spec") or {}).get("ref") or {}
    name = ref.get("branch") or ref.get("tag") or ref.get("name") if isinstance(ref, Mapping) else None
    return f"{name}@sha1:{commit}" if name else f"sha1:{commit}"


def _depends_on(doc: Mapping[str, Any], namespace: str) -> tuple[ObjectId, ...]:
    deps = (doc.get("spec") or {}).get("dependsOn") or []
    return tuple(
        ObjectId(str(d.get("namespace") or namespace), str(d["name"]), HELM_GROUP, "HelmRelease")
        for d in deps
        if isinstance(d, Mapping) and d.get("name")
    )


class _Renderer:
    def __init__(self, options: HelmOptions, ctx: DiscoveryContext) -> None:
        self.options = options
        self.discovery = ctx
        self.scopes = ctx.scopes
        keys = {(r.kind, r.namespace, r.name): path for r, path in ctx.source_dirs.items()}
        revisions = {
            (r.kind, r.namespace, r.name): source_revision(
                ctx.lookup(r.kind, r.namespace, r.name), ctx.source_commits.get(r, ""), ctx.source_digests.get(r, "")
            )
            for r in ctx.source_dirs
        }
        self.helm = HelmContext(
            lookup=self._lookup,
            source_dirs=keys,
            source_revisions=revisions,
            cache=options.cache or ChartCache.default(),
            offline=options.offline,
            kube_version=options.kube_version,
            api_versions=options.api_versions,
            fetcher=options.fetcher or ChartFetcher(),
        )
        self.diagnostics: list[Diagnostic] = []
        self._rendering: ObjectId | None = None  # the release whose lookups are recorded

    def _lookup(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The discovery's lookup, recording what each release reads (isolation needs it)."""
        if self._rendering is not None:
            self.discovery.lookups.setdefault(self._rendering, set()).add((kind, namespace, name))
        return self.discovery.lookup(kind, namespace, name)

    def _may_hold_secrets(self, obj: DesiredObject, spec: HelmReleaseSpec) -> bool:
        """Whether a secret value may reach this release's values, so that its render must
        never be written to the render cache: the HelmRelease itself, or a ConfigMap its
        values come from, held SOPS ciphertext or came from a Kustomization that decrypted
        something or substituted variables from a Secret (discover's `secret_owners`), or
        its values come from a Secret (render.py refuses those too)."""
        if self.discovery.secret_derived(obj):
            return True
        for ref in spec.values_from:
            if ref.kind == "Secret":
                return True
            source = self.discovery.find(ref.kind, spec.namespace, ref.name)
            if source is not None and self.discovery.secret_derived(source):
                return True
        return False

    def owner(self, obj: DesiredObject) -> Owner:
        base = Owner(
            id=obj.id,
            kind="HelmRelease",
            status=OwnerStatus.NOT_PLANNED,
            source="",
            path="",
            parent=obj.owner,
            depends_on=_depends_on(obj.body, obj.id.namespace),
            prune=True,  # Helm removes what left the release manifest
            origin=obj.origin,
        )
        try:
            spec = HelmReleaseSpec.from_doc(obj.body, obj.origin)
        except FluxformError as exc:
            return replace(base, reason=exc.message(beside=obj.origin), cause=Cause.ERROR)
        ref = spec.chart_ref
        path = spec.chart_template.chart if spec.chart_template else _ref_text(ref)
        base = replace(base, path=path, spec=_owner_spec(spec, installed=False))
        if spec.suspend:
            return replace(base, status=OwnerStatus.SUSPENDED)
        self._rendering = spec.id
        try:
            built = self._render(spec, obj)
        except FluxformError as exc:
            if isinstance(exc, ObjectNotFound):
                self.discovery.missing[spec.id] = exc.missing
            if spec.remote_cluster:
                reason = f"{REMOTE_REASON}; not rendered: {exc.message(beside=obj.origin)}"
                return replace(base, status=OwnerStatus.REMOTE, reason=reason, cause=Cause.REMOTE)
            return replace(base, reason=exc.message(beside=obj.origin), cause=_cause_of(exc))
        finally:
            self._rendering = None
        owner = replace(built, depends_on=base.depends_on, parent=base.parent, origin=base.origin)
        if spec.remote_cluster:
            return replace(
                owner,
                status=OwnerStatus.REMOTE,
                reason=REMOTE_REASON,
                cause=Cause.REMOTE,
                objects=(),
                unplanned_objects=owner.objects,
            )
        return owner

    def _render(self, spec: HelmReleaseSpec, obj: DesiredObject) -> Owner:
        lookup = self.options.installed_release
        revision = lookup(spec.storage_namespace or spec.namespace, release_name(spec)) if lookup else None
        cache = self.options.render_cache
        if cache is not None and self._may_hold_secrets(obj, spec):
            cache.refuse()
            cache = None
        rendered = render_release(
            obj.body,
            self.helm,
            is_install=revision is None,
            scopes=self.scopes,
            origin=obj.origin,
            revision=None if revision is None else revision + 1,
            cache=cache,
        )
        self.diagnostics.extend(rendered.diagnostics)
        # crds/ go as they are; the release's objects as Helm sends them, with its ownership metadata
        owned = (helm_ownership(m, rendered.release_name, rendered.namespace) for m in rendered.objects)
        applied = (*rendered.crds, *owned)
        objects = tuple(
            DesiredObject(ObjectId.from_manifest(m), str(m.get("apiVersion")), m, spec.id, obj.origin) for m in applied
        )
        return Owner(
            id=spec.id,
            kind="HelmRelease",
            status=OwnerStatus.BUILT,
            spec=_owner_spec(spec, installed=revision is not None),
            source=rendered.chart.source,
            path=f"{rendered.chart.name}@{rendered.chart.version}",
            parent=obj.owner,
            depends_on=(),
            prune=True,
            origin=obj.origin,
            objects=objects,
            rendered=dataclasses.replace(rendered, chart=detached(rendered.chart)),
            details={
                "release": rendered.release_name,
                "namespace": rendered.namespace,
                "chart": rendered.chart.name,
                "version": rendered.chart.version,
                "values": tuple(rendered.values_sources),
                "crd_policy": rendered.crd_policy,
            },
        )


def _owner_spec(spec: HelmReleaseSpec, *, installed: bool) -> OwnerSpec:
    """What apply needs of a HelmRelease; Helm waits unless the action it takes (upgrade of
    an installed release, else install) has disableWait."""
    return OwnerSpec(
        suspend=spec.suspend,
        interval=spec.interval,
        timeout=spec.timeout,
        wait=not (spec.upgrade_disable_wait if installed else spec.install_disable_wait),
        force=spec.upgrade_force,
        service_account_name=spec.service_account_name,
        target_namespace=spec.target_namespace,
        release=ReleaseTarget(release_name(spec), release_namespace(spec), spec.storage_namespace or spec.namespace),
    )


def _ref_text(ref: ChartRef | None) -> str:
    return f"{ref.kind}/{ref.namespace}/{ref.name}" if ref is not None else ""


def _cause_of(error: FluxformError) -> Cause:
    """Which --missing-* flag accepts a release not rendered for `error`."""
    if isinstance(error, ObjectNotFound):
        return Cause.OBJECT
    return Cause.CHART if isinstance(error, SourceError) else Cause.ERROR


def chart_pull_hook(options: HelmOptions, pulled: list[ResolvedChart]) -> HelmHook:
    """For `fluxform charts pull`: fetch every chart the fleet's HelmReleases need into the
    cache (online), appending what was fetched to `pulled`; renders nothing."""

    def pull_all(ctx: DiscoveryContext) -> tuple[list[Owner], list[Diagnostic]]:
        renderer = _Renderer(options, ctx)
        releases = [o for o in sorted(ctx.objects.values(), key=lambda o: o.id) if is_helm_release(o.body)]
        origins = {o.id: o.origin for o in releases if o.origin is not None}
        ctx.progress.expect(Stage.RENDER, 1)
        started = time.perf_counter()
        fetched = pull_charts([o.body for o in releases], renderer.helm, origins)
        pulled.extend(fetched)
        item = f"charts of {len(releases)} HelmRelease(s): {len(fetched)} fetched"
        ctx.progress.advance(Stage.RENDER, item, seconds=time.perf_counter() - started)
        return [], renderer.diagnostics

    return pull_all


@dataclass(frozen=True)
class ReleaseHook:
    """The discovery hook that renders every HelmRelease; it keeps the options it was made
    from, so a cache of renders (the changed-only index) can be keyed by them."""

    options: HelmOptions

    def __call__(self, ctx: DiscoveryContext) -> tuple[list[Owner], list[Diagnostic]]:
        renderer = _Renderer(self.options, ctx)
        releases = sorted(
            (o for o in ctx.objects.values() if is_helm_release(o.body) and ctx.renders(o.id)), key=lambda o: o.id
        )
        owners = []
        ctx.progress.expect(Stage.RENDER, len(releases))
        for obj in releases:  # each release keeps the warnings its render gave
            before = len(renderer.diagnostics)
            started = time.perf_counter()
            owner = renderer.owner(obj)
            failed = owner.status is OwnerStatus.NOT_PLANNED
            ctx.progress.advance(Stage.RENDER, str(obj.id), seconds=time.perf_counter() - started, failed=failed)
            owners.append(replace(owner, diagnostics=tuple(renderer.diagnostics[before:])))
            del renderer.diagnostics[before:]
        return owners, renderer.diagnostics


def helm_hook(options: HelmOptions) -> ReleaseHook:
    return ReleaseHook(options)
