"""What rendering a HelmRelease may consult besides the HelmRelease itself.

The caller (discovery/plan) builds one HelmContext per run: a lookup into the desired
state (or the cluster) for ConfigMaps, Secrets and Flux source objects, where source
artifacts sit on disk, the chart cache and whether the network may be used, and the
cluster's capabilities when known.

    ctx = HelmContext(lookup=desired.lookup, source_dirs={("GitRepository", "flux-system", "fleet"): repo})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fluxform.helm.values import Lookup
from fluxform.sources.chart_cache import ChartCache
from fluxform.sources.charts import ChartFetcher

__all__ = ["HelmContext", "SourceKey"]

#: (kind, namespace, name) of a GitRepository / Bucket / OCIRepository.
SourceKey = tuple[str, str, str]


@dataclass(frozen=True)
class HelmContext:
    # (kind, namespace, name) -> manifest (ConfigMap, Secret with base64 data, HelmRepository,
    # GitRepository, OCIRepository, HelmChart, Bucket) from the desired state, or None
    lookup: Lookup
    # artifact directory of each GitRepository/Bucket (e.g. the fleet checkout)
    source_dirs: Mapping[SourceKey, Path] = field(default_factory=dict)
    # artifact revision of those sources ("main@sha1:<hex>", "sha256:<hex>"), for charts with
    # reconcileStrategy Revision; unknown ones are reported as a Diagnostic
    source_revisions: Mapping[SourceKey, str] = field(default_factory=dict)
    # chart archives, indexes and OCI metadata; offline runs read only from here
    cache: ChartCache = field(default_factory=ChartCache.default)
    # no network: charts come from the cache or from source_dirs, else a clear error
    offline: bool = False
    # `.Capabilities.KubeVersion`; None = the Helm SDK default (helm.sdk.DEFAULT_KUBE_VERSION)
    kube_version: str | None = None
    # extra `.Capabilities.APIVersions` ("group/version" or "group/version/Kind")
    api_versions: tuple[str, ...] = ()
    # how archives are fetched (repositories + cache; a recorder or an artifact's chart mirror)
    fetcher: ChartFetcher = field(default_factory=ChartFetcher)
