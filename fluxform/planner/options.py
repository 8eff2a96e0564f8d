"""What a user chose about building a fleet, as one typed value.

The CLI parses its flags into a `FleetOptions`; the library turns it into the requests each
stage takes (`request()` for discovery and decryption, `helm()` for HelmRelease rendering).
It is also what a plan file records so that `apply` can render the same fleet again: it holds
paths and policies, never key material.

    options = FleetOptions(keys_dir=Path("fixtures/keys"), missing_charts=Policy.WARN)
    plan = plan_fleet(Path("clusters/staging"), options.request())
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from fluxform.limits import DEFAULT_BUILD_TIMEOUT
from fluxform.planner.kustomization.cache import default_cache_dir

if TYPE_CHECKING:  # the pipeline is imported when a request is made, not to parse flags
    from fluxform.planner.partial import PartialPolicy
    from fluxform.planner.releases import HelmOptions
    from fluxform.planner.workflow import FleetRequest
    from fluxform.progress import Progress

__all__ = ["ArtifactAccess", "FleetOptions", "Policy"]

#: --max-artifact-size default: a compressed layer, or the files it unpacks to
DEFAULT_MAX_ARTIFACT_SIZE = 512 << 20


class Policy(StrEnum):
    """What to do with an input fluxform cannot get here (a chart, a source, an object, a key)."""

    ERROR = "error"  # fail the plan, naming the owner
    WARN = "warn"  # plan the rest; the owner is listed as not planned, with the reason


@dataclass(frozen=True)
class ArtifactAccess:
    """How OCI artifacts are reached and checked (`--plain-http`, `--ca-file`, `--verify-key`,
    `--max-artifact-size`); paths only, so parsing flags imports no registry client."""

    plain_http: bool = False  # HTTP instead of HTTPS (internal registries)
    ca_file: Path | None = None  # a private CA trusted besides the system's
    verify_key: Path | None = None  # cosign public key: artifacts must carry a signature it verifies
    max_size: int = DEFAULT_MAX_ARTIFACT_SIZE  # compressed layer and unpacked files, in bytes


@dataclass(frozen=True)
class FleetOptions:
    #: Flux source -> local directory (`--source NAME=DIR`; NAME as name, ns/name or Kind/ns/name)
    sources: Mapping[str, Path] = field(default_factory=dict)
    repo_root: Path | None = None  # root of the self source; None: found from the start path
    strict_substitute: bool = True  # StrictPostBuildSubstitutions (Flux >= 2.9 default)
    jobs: int = 0  # parallel builds; 0: the CPU count
    cache_dir: Path = field(default_factory=default_cache_dir)  # build cache, Helm renders, diff index
    use_cache: bool = True  # False: --no-cache
    decryption_keys: tuple[Path, ...] = ()  # age identity files and armored PGP secret keys
    keys_dir: Path | None = None  # Secret manifests named by spec.decryption.secretRef
    offline: bool = False  # charts only from the chart cache
    chart_cache: Path | None = None  # None: the default chart cache
    missing_charts: Policy = Policy.ERROR
    missing_sources: Policy = Policy.ERROR
    missing_objects: Policy = Policy.ERROR
    missing_keys: Policy = Policy.ERROR
    root_kustomization: Path | None = None  # --root-ks: the file of the Kustomization owning the start path
    build_timeout: float = DEFAULT_BUILD_TIMEOUT  # seconds one kustomize build may take
    #: `--source REF` (oci://HOST/REPO:TAG, …@sha256:…, an OCI layout tar or directory): the
    #: fleet itself comes from that artifact, and PATH is a directory inside it
    artifact: str = ""
    #: `--source NAME=REF` where REF is an OCI artifact (Flux OCIRepository sources)
    artifact_sources: Mapping[str, str] = field(default_factory=dict)
    artifact_access: ArtifactAccess = field(default_factory=ArtifactAccess)

    @property
    def build_cache_dir(self) -> Path | None:
        return self.cache_dir / "builds" if self.use_cache else None

    @property
    def diff_index_dir(self) -> Path | None:
        return self.cache_dir / "diff-index" if self.use_cache else None

    @property
    def render_cache_dir(self) -> Path | None:
        return self.cache_dir / "renders" if self.use_cache else None

    def helm(self) -> HelmOptions:
        """How HelmReleases are rendered (the live plan adds the cluster's capabilities)."""
        from fluxform.planner.releases import HelmOptions, RenderCache
        from fluxform.sources.chart_cache import ChartCache

        return HelmOptions(
            offline=self.offline,
            cache=ChartCache(self.chart_cache) if self.chart_cache is not None else None,
            render_cache=RenderCache(self.render_cache_dir) if self.render_cache_dir is not None else None,
        )

    def partial_policy(self, partial: bool = False) -> PartialPolicy:
        """Which owners left out a plan may accept: all with `--partial`, else those whose
        cause a `--missing-* warn` flag names."""
        from fluxform.planner.model import Cause
        from fluxform.planner.partial import PartialPolicy

        flags = {
            Cause.CHART: self.missing_charts,
            Cause.SOURCE: self.missing_sources,
            Cause.OBJECT: self.missing_objects,
            Cause.KEYS: self.missing_keys,
        }
        return PartialPolicy(partial, frozenset(c for c, p in flags.items() if p is Policy.WARN))

    def request(self, progress: Progress | None = None) -> FleetRequest:
        """The library's request: discovery, the build cache, the Helm hook and the keys;
        long work reports to `progress` (None: nowhere)."""
        from fluxform.planner.kustomization.discover import DiscoverOptions
        from fluxform.planner.kustomization.run_cache import RunBuildCache
        from fluxform.planner.releases import helm_hook
        from fluxform.planner.secrets import SecretOptions
        from fluxform.planner.workflow import FleetRequest
        from fluxform.progress import NO_PROGRESS

        directory = self.build_cache_dir
        discover = DiscoverOptions(
            sources=dict(self.sources),
            repo_root=self.repo_root,
            strict_substitute=self.strict_substitute,
            jobs=self.jobs or max(1, os.cpu_count() or 1),
            cache=RunBuildCache(directory),  # equal builds run once per run, even with --no-cache
            helm=helm_hook(self.helm()),
            root_kustomization=self.root_kustomization,
            build_timeout=self.build_timeout,
            progress=progress or NO_PROGRESS,
        )
        secrets = SecretOptions(decryption_keys=self.decryption_keys, keys_dir=self.keys_dir)
        return FleetRequest(discover=discover, secrets=secrets, partial=self.partial_policy())
