"""What Helm's storage says about each HelmRelease of a live plan: the deployed release's
manifest is what the plan compares a HelmRelease's objects with (what Helm will change and
delete on upgrade, and what changed in the cluster since: drift), and a release that is
`pending-*` or `failed` is said so, since apply will not (or will differently) act on it.

One LIST of release Secrets per storage namespace (helm/storage.py), shared with the
render's revision lookups (`InstalledReleases`), and no Helm worker. The deployed manifest
may hold Secrets: its documents are masked here, as every live read is.

    installed = InstalledReleases(cluster)     # render: installed.revision(ns, name)
    views = read_release_views(installed, desired, masking, mapper)
    views[hr_id].records      # {ObjectId: (OwnerState, StateObject)} from the deployed manifest
    views[hr_id].diagnostics  # "Helm release team/shop is pending-upgrade at revision 4: ..."
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.mapping import KindMapping, RestMapper
from fluxform.errors import Diagnostic, FluxformError, RenderError
from fluxform.helm.postrender import helm_ownership
from fluxform.helm.sdk import parse_yaml_document
from fluxform.helm.storage import StoredRelease, list_releases
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredState, Owner, OwnerStatus
from fluxform.planner.plan import Masking
from fluxform.state.model import OwnerState, StateObject, canonical_digest

__all__ = ["InstalledReleases", "ReleaseView", "read_release_views"]

_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


@dataclass(frozen=True)
class ReleaseView:
    owner: ObjectId
    latest: StoredRelease | None  # None: no release in storage (a first install)
    deployed: StoredRelease | None  # the latest deployed revision, if any
    #: the deployed manifest's objects as recorded inventory (masked), keyed by id
    records: Mapping[ObjectId, tuple[OwnerState, StateObject]] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    #: why apply will uninstall the release and install it anew ("" when it upgrades): its
    #: objects are planned as replaced
    replace: str = ""
    #: spec.driftDetection.mode ("" when unknown): what apply does with drift of an in-sync release
    drift_mode: str = ""


class InstalledReleases:
    """Helm's release storage as this plan reads it: one LIST per storage namespace that
    holds a HelmRelease, never cluster-wide, read on first use. Where Secrets may not be
    listed (read-only CI), releases there render as first installs, with a warning."""

    def __init__(self, cluster: ClusterClient) -> None:
        self.cluster = cluster
        self._by_namespace: dict[str, dict[str, list[StoredRelease]]] = {}
        self._unreadable: dict[str, str] = {}
        self._lock = threading.Lock()

    def diagnostics(self) -> list[Diagnostic]:
        return [
            Diagnostic(
                f"cannot list Helm release Secrets in namespace {ns}: its HelmReleases are planned as "
                "first installs (an installed release would render as an upgrade)",
                detail=detail,
            )
            for ns, detail in sorted(self._unreadable.items())
        ]

    def history(self, namespace: str, release: str) -> list[StoredRelease] | None:
        """Revisions of `release` stored in `namespace`, oldest first; None: not readable."""
        with self._lock:
            if namespace not in self._by_namespace and namespace not in self._unreadable:
                try:
                    self._by_namespace[namespace] = list_releases(self.cluster, namespace)
                except FluxformError as exc:
                    self._unreadable[namespace] = exc.detail
            if namespace in self._unreadable:
                return None
            return list(self._by_namespace[namespace].get(release, ()))

    def revision(self, namespace: str, release: str) -> int | None:
        """The latest revision (the render's `.Release.Revision` is the next one)."""
        history = self.history(namespace, release)
        return max((h.version for h in history), default=None) if history else None


def read_release_views(
    installed: InstalledReleases, desired: DesiredState, masking: Masking, mapper: RestMapper
) -> dict[ObjectId, ReleaseView]:
    """A view per planned HelmRelease owner; a release that cannot be read is compared with
    the state only, as before (its namespace's warning comes from InstalledReleases)."""
    views: dict[ObjectId, ReleaseView] = {}
    for owner in desired.owners:
        release = owner.spec.release
        if owner.kind != "HelmRelease" or release is None or owner.status is not OwnerStatus.BUILT:
            continue
        history = installed.history(release.storage_namespace, release.name)
        if history is not None:
            views[owner.id] = _view(owner, history, masking, mapper)
    return views


def _view(owner: Owner, history: list[StoredRelease], masking: Masking, mapper: RestMapper) -> ReleaseView:
    release = owner.spec.release
    assert release is not None
    latest = history[-1] if history else None
    deployed = next((h for h in reversed(history) if h.status == "deployed" and h.readable), None)
    notes = list(_status_notes(owner, latest))
    records: dict[ObjectId, tuple[OwnerState, StateObject]] = {}
    if deployed is not None:
        try:
            records = _records(owner, deployed, masking, mapper)
        except RenderError as exc:
            unreadable = f"the deployed manifest of revision {deployed.version} cannot be read: {exc.summary}"
            notes.append(_warning(owner, unreadable))
    reinstall = _reinstall_reason(owner, latest)
    spec = owner.rendered.spec if owner.rendered is not None else None
    # drift is evaluated on a deployed release only (a failed or pending one is acted on first)
    in_sync = latest is not None and latest.status == "deployed" and not reinstall
    mode = spec.policy.drift.mode if spec is not None and in_sync else ""
    return ReleaseView(owner.id, latest, deployed, records, tuple(notes), reinstall, mode)


def _reinstall_reason(owner: Owner, latest: StoredRelease | None) -> str:
    """helm-controller's chart name change (upgrade.chartNameChangeStrategy: Reinstall, the
    default): the release is uninstalled, then installed anew (helm/release.py)."""
    rendered = owner.rendered
    if latest is None or latest.status == "uninstalled" or rendered is None or rendered.spec is None:
        return ""
    if not latest.chart_name or latest.chart_name == rendered.chart.name:
        return ""
    if rendered.spec.policy.upgrade.chart_name_change != "Reinstall":
        return ""
    return f"chart name changed from {latest.chart_name} to {rendered.chart.name}: apply reinstalls the release"


def _status_notes(owner: Owner, latest: StoredRelease | None) -> Iterable[Diagnostic]:
    if latest is None:
        return
    release = f"Helm release {latest.namespace or latest.storage_namespace}/{latest.name}"
    where = f"{latest.status} at revision {latest.version}"
    if latest.pending:
        yield _warning(
            owner,
            f"{release} is {where}: a Helm action is under way or was interrupted; apply leaves it alone unless "
            "fluxform's apply journal shows fluxform left it (then it unlocks it and rolls it back first)",
        )
    elif latest.status == "failed":
        yield _warning(
            owner,
            f"{release} is {where} ({latest.description or 'its last action failed'}): apply upgrades it, "
            "remediating per spec.upgrade.remediation",
        )
    elif latest.status == "uninstalled":
        yield _warning(owner, f"{release} is {where} (history kept): apply installs it again")


def _records(
    owner: Owner, deployed: StoredRelease, masking: Masking, mapper: RestMapper
) -> dict[ObjectId, tuple[OwnerState, StateObject]]:
    release = owner.spec.release
    assert release is not None
    state = OwnerState(
        id=owner.id,
        prune=True,  # Helm deletes what left the release manifest
        source_revision=f"Helm release {release.namespace}/{release.name} revision {deployed.version}",
        applied_at="",
        applied_by="",
        objects=(),
    )
    records: dict[ObjectId, tuple[OwnerState, StateObject]] = {}
    # the chart's crds/ are not in the manifest, but applied with the release (never deleted)
    crds = [o.body for o in owner.objects if (o.id.group, o.id.kind) == _CRD]
    placed = (_placed(doc, release.namespace, mapper) for doc in _documents(deployed.manifest))
    for doc in [*crds, *(helm_ownership(d, release.name, release.namespace) for d in placed)]:
        masked = masking(doc, ())
        oid = ObjectId.from_manifest(masked)
        records[oid] = (state, StateObject(oid, str(masked.get("apiVersion")), canonical_digest(masked), masked))
    return records


def _documents(manifest: str) -> list[dict[str, Any]]:
    return [doc for part in _DOC_SEPARATOR.split(manifest) if part.strip() and (doc := parse_yaml_document(part))]


def _placed(doc: Mapping[str, Any], namespace: str, mapper: RestMapper) -> dict[str, Any]:
    """Helm puts a namespaced object without a namespace into the release namespace; the API
    server drops a namespace given to a cluster-scoped one (as render.py places desired ones)."""
    meta = dict(doc.get("metadata") or {})
    mapping = mapper.resolve(str(doc.get("apiVersion") or ""), str(doc.get("kind") or ""))
    if isinstance(mapping, KindMapping):
        if mapping.namespaced and not meta.get("namespace"):
            meta["namespace"] = namespace
        elif not mapping.namespaced:
            meta.pop("namespace", None)
    return {**doc, "metadata": meta}


def _warning(owner: Owner, text: str) -> Diagnostic:
    return Diagnostic(text, subject=owner.id, location=owner.origin)
