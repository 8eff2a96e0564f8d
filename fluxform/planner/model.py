"""The desired state: rendered objects grouped by the Flux object that owns them.

An owner is a Flux Kustomization or HelmRelease (or the synthetic root build when the
start path has no self-managing Kustomization). Desired manifests may hold decrypted
Secret values in memory; they are masked before anything leaves the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluxform.errors import Diagnostic
from fluxform.objects import ObjectId, SourceLocation

if TYPE_CHECKING:
    from fluxform.helm.render import RenderedRelease

__all__ = [
    "REMOTE_REASON",
    "Cause",
    "DesiredObject",
    "DesiredState",
    "HealthCheck",
    "HealthCheckExpr",
    "Owner",
    "OwnerSpec",
    "OwnerStatus",
    "ReleaseTarget",
]

REMOTE_REASON = "applies to a remote cluster (spec.kubeConfig): not planned"


class OwnerStatus(StrEnum):
    BUILT = "built"
    SUSPENDED = "suspended"  # spec.suspend: Flux does nothing; neither do we (no prune either)
    REMOTE = "remote"  # spec.kubeConfig: another cluster's objects, rendered but not planned here
    NOT_PLANNED = "not planned"  # could not be rendered here (Owner.reason says why); left alone

    @property
    def planned(self) -> bool:
        """Whether the plan covers this owner: built, or suspended (Flux does nothing, and
        the plan says so). Remote and not planned owners are skipped: a plan holding one
        is partial."""
        return self in (OwnerStatus.BUILT, OwnerStatus.SUSPENDED)


class Cause(StrEnum):
    """Why an owner was not planned, as far as the `--missing-* warn` flags care: each flag
    accepts one cause; an owner depending on a not planned one inherits its cause."""

    ERROR = "error"  # a bad manifest, a failed build or render: only --partial accepts it
    SOURCE = "source"  # a source not mapped with --source (--missing-sources)
    OBJECT = "object"  # a looked-up object nothing in the fleet produces (--missing-objects)
    KEYS = "keys"  # SOPS data and no key given at all (--missing-keys)
    CHART = "chart"  # a chart that cannot be fetched (--missing-charts)
    REMOTE = "remote"  # applies to another cluster (spec.kubeConfig): only --partial accepts it


@dataclass(frozen=True, slots=True)
class DesiredObject:
    id: ObjectId
    api_version: str
    body: Mapping[str, Any] = field(repr=False)  # full manifest; never mutate
    owner: ObjectId
    origin: SourceLocation | None = None
    #: leaves that held SOPS ciphertext in a non-Secret kind: plaintext now, masked on output
    sensitive_paths: tuple[tuple[str | int, ...], ...] = ()


@dataclass(frozen=True)
class HealthCheck:
    """A `spec.healthChecks[]` entry: an object apply waits for (flux-semantics 4.7)."""

    api_version: str  # Flux's default is apps/v1
    kind: str
    name: str
    namespace: str  # "" for cluster-scoped objects


@dataclass(frozen=True)
class HealthCheckExpr:
    """A `spec.healthCheckExprs[]` entry: CEL rules that replace kstatus for matching kinds."""

    api_version: str
    kind: str  # "" = every kind of the group
    current: str
    in_progress: str = ""
    failed: str = ""


@dataclass(frozen=True)
class ReleaseTarget:
    """Where a HelmRelease's Helm release lives (flux-semantics 5.2)."""

    name: str  # the release name Flux computes (releaseName, or <targetNamespace>-<name>, shortened)
    namespace: str  # the release namespace: objects without a namespace go there
    storage_namespace: str  # where Helm keeps its release Secrets


@dataclass(frozen=True)
class OwnerSpec:
    """The fields of the Flux object that decide how apply acts on its objects, read once at
    discovery so nothing later needs the Flux object's manifest (flux-semantics 4.7, 4.8, 5.6).
    Durations are kept as written: "" means Flux's default."""

    suspend: bool = False
    interval: str = ""
    timeout: str = ""  # Kustomization: default interval - 30s (floor 30s); HelmRelease: 5m
    wait: bool = False  # Kustomization spec.wait; HelmRelease: Helm waits unless disableWait
    force: bool = False  # Kustomization spec.force (recreate on immutable fields); HelmRelease upgrade.force
    service_account_name: str = ""  # apply, prune and health checks impersonate it
    target_namespace: str = ""
    health_checks: tuple[HealthCheck, ...] = ()
    health_check_exprs: tuple[HealthCheckExpr, ...] = ()
    release: ReleaseTarget | None = None  # HelmRelease only


@dataclass(frozen=True)
class Owner:
    """A Flux Kustomization/HelmRelease and what building it produced."""

    id: ObjectId
    kind: str  # "Kustomization" | "HelmRelease" | "Root"
    status: OwnerStatus
    source: str  # e.g. "GitRepository/flux-system/flux-system" or a chart description
    path: str  # Kustomization spec.path, or chart
    parent: ObjectId | None  # the owner whose build produced this Flux object
    depends_on: tuple[ObjectId, ...]
    prune: bool
    origin: SourceLocation | None
    objects: tuple[DesiredObject, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # kind-specific facts for `get`
    spec: OwnerSpec = field(default_factory=OwnerSpec)  # what apply needs of the Flux object
    diagnostics: tuple[Diagnostic, ...] = ()  # warnings rendering it gave
    #: for a remote or not planned owner: why, in one line (e.g. "depends on Kustomization/...")
    reason: str = ""
    cause: Cause | None = None  # for a remote or not planned owner: which flag accepts skipping it
    #: what a remote owner, or one not planned only because of another, rendered: shown by
    #: `build`, counted by `get`, never planned (nothing here reaches a plan)
    unplanned_objects: tuple[DesiredObject, ...] = ()
    #: a built HelmRelease's render (chart, values, release names): what apply hands to
    #: helm/release.py, while the render's source artifact exists (a chart read from the
    #: repository lives in it). Holds values (maybe decrypted): memory only, never written.
    rendered: RenderedRelease | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DesiredState:
    owners: tuple[Owner, ...]  # in dependency order (dependsOn, then parent before child)
    source_revision: str  # digest or revision of the artifact the state came from
    diagnostics: tuple[Diagnostic, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. strict substitution, for the plan header
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)  # seconds per stage; never rendered
    #: owners not rendered in this state but standing in for themselves as another render
    #: saw them (DiscoverOptions.stand_ins): their objects carry ids, not manifests
    stand_ins: frozenset[ObjectId] = frozenset()
    #: (source root, files read) of each Kustomization's build, when discovery knows them;
    #: absolute paths, valid while the source root (often a temporary artifact) exists
    inputs: Mapping[ObjectId, tuple[Path, frozenset[Path]]] = field(default_factory=dict, compare=False)
    #: objects each owner's render looked up, as (kind, namespace, name): substituteFrom,
    #: valuesFrom, chart sources; apply orders their producers before the owner
    lookups: Mapping[ObjectId, frozenset[tuple[str, str, str]]] = field(default_factory=dict, compare=False)

    def objects(self) -> dict[ObjectId, DesiredObject]:
        return {obj.id: obj for owner in self.owners for obj in owner.objects}

    def owner(self, owner_id: ObjectId) -> Owner | None:
        return next((o for o in self.owners if o.id == owner_id), None)

    def skipped(self) -> tuple[Owner, ...]:
        """Owners this desired state does not plan (remote or not planned), in order."""
        return tuple(o for o in self.owners if not o.status.planned)
