"""Changed-only planning: which owners a set of changed files can affect.

An owner's render is a function of the files its build reads (its input closure, and for
a HelmRelease the chart directory and values files), of its own Flux object (written in
its parent's output), of the objects it looks up (substituteFrom, valuesFrom, its chart
source) and of the run's options. So, for a list of changed paths, the owners that may
render differently are: those whose inputs contain a changed path (or whose directories
would see a new file), the children of an affected owner, and the owners looking up an
object an affected owner produces; repeated until nothing is added. Everything else is
provably equal on both sides and needs neither rendering nor comparison.

Over-approximation is deliberate: a spurious "affected" costs a render, a missed one is a
wrong diff. Owners whose inputs cannot be known (other sources, HelmReleases whose chart
version carries the source revision) count as affected whenever anything changed.

The index of one render holds paths and ids only, never values, so it may be kept on disk.

    index = index_state(base_state, IndexRoots(root=tree / "fleet", prefix="fleet"))
    affected = index.affected(repo.changed_files(base, head))
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.cache_entry import EntryStore
from fluxform.errors import Diagnostic, FluxformError
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.kinds import KindScopes
from fluxform.objects import ObjectId, SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.kustomization.closure import input_closure
from fluxform.planner.kustomization.generate import find_kustomization_file, prepare_kustomization
from fluxform.planner.kustomization.spec import FluxKustomization
from fluxform.planner.model import Cause, DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.sources.artifact import IGNORE_FILE
from fluxform.validate import crd_schemas

__all__ = [
    "INDEX_VERSION",
    "Digest",
    "IndexRoots",
    "IndexStore",
    "ObjectKey",
    "OwnerInputs",
    "RenderIndex",
    "crd_digest",
    "index_state",
    "lookup_digests",
    "owner_inputs",
    "self_ignore_of",
]

INDEX_VERSION = "14"

#: (kind, namespace, name) of an object an owner looks up; group left out, as discovery does.
ObjectKey = tuple[str, str, str]
#: a keyed digest of a manifest (digests.ObjectDigest)
Digest = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class OwnerInputs:
    id: ObjectId
    parent: ObjectId | None
    files: frozenset[str] | None  # repository-relative; None: unknown, affected by any change
    dirs: frozenset[str] = frozenset()  # a new file below one of these may be read
    lookups: tuple[ObjectKey, ...] = ()
    #: renders kinds whose scope the CRDs of the whole desired state decide (HelmReleases
    #: place namespaced objects in the release namespace): any affected owner may add a CRD
    scope_sensitive: bool = False
    #: what the render showed of the owner, so it can stand in for itself unrendered
    #: (DiscoverOptions.stand_ins): ids and scopes only, never a manifest or a value
    kind: str = "Kustomization"
    status: OwnerStatus = OwnerStatus.BUILT
    path: str = ""
    source: str = ""
    depends_on: tuple[ObjectId, ...] = ()
    prune: bool = True
    objects: tuple[str, ...] = ()  # inventory ids (parsed only when standing in)
    crd_scopes: tuple[tuple[str, str, bool], ...] = ()  # (group, kind, namespaced) of its CRDs
    diagnostics: tuple[Diagnostic, ...] = ()  # its warnings (they name objects, never values)
    flat_dirs: frozenset[str] = frozenset()  # a new file directly in one of these may be read
    reason: str = ""  # why it is not planned (remote, or not planned)
    cause: Cause | None = None
    origin: str = ""  # its file, for the list of owners not planned
    #: keyed digest of its own object as its parent rendered it (digests.py); "" unknown.
    #: An owner whose parent renders again stands in while this is what the parent renders.
    object_digest: str = ""
    crd_digest: str = ""  # keyed digest of the CRDs it renders ("" none): the schema check reads them
    api_versions: tuple[str, ...] = ()  # of its objects, in the order of `objects`
    crd_versions: tuple[tuple[str, str, str], ...] = ()  # (group, version, kind) its CRDs give a schema

    def stand_in(self) -> Owner:
        """The owner as the render saw it, its objects reduced to their ids."""
        return Owner(
            id=self.id,
            kind=self.kind,
            status=self.status,
            source=self.source,
            path=self.path,
            parent=self.parent,
            depends_on=self.depends_on,
            prune=self.prune,
            origin=SourceLocation(self.origin) if self.origin else None,
            objects=tuple(
                DesiredObject(ObjectId.parse(i), v, {}, self.id)
                for i, v in zip(self.objects, self.api_versions or ("",) * len(self.objects), strict=True)
            ),
            diagnostics=self.diagnostics,
            reason=self.reason,
            cause=self.cause,
        )


@dataclass(frozen=True)
class RenderIndex:
    owners: Mapping[ObjectId, OwnerInputs]
    producers: Mapping[ObjectKey, ObjectId] = field(default_factory=dict)  # looked-up objects only
    diagnostics: tuple[Diagnostic, ...] = ()  # the render's warnings, in its order
    #: keyed digest of each looked-up object (digests.py): an owner looking one up stands in
    #: while the object, rendered again, digests the same
    lookup_digests: Mapping[ObjectKey, str] = field(default_factory=dict)
    #: the self source's spec.ignore the render filtered its artifact with: where it changed,
    #: every owner reads another tree, so nothing stands in
    self_ignore: str = ""
    #: the schema check is on: an owner's objects are judged by the CRDs other owners render,
    #: so a changed CRD affects the owners of its kind, and rendering those needs its owner
    schema_links: bool = field(default=False, compare=False)

    def scopes(self) -> dict[tuple[str, str], bool]:
        """The CRD scopes of the whole render: (group, kind) -> namespaced."""
        return {(group, kind): namespaced for o in self.owners.values() for group, kind, namespaced in o.crd_scopes}

    def seeds(self, changed: Iterable[str]) -> set[ObjectId]:
        """Owners that read a changed path directly."""
        paths = list(changed)
        if not paths:
            return set()
        if any(posixpath.basename(p) == IGNORE_FILE for p in paths):
            return set(self.owners)  # the artifact's file filter itself changed
        found = set()
        for inputs in self.owners.values():
            files = inputs.files
            if files is None or not files.isdisjoint(paths) or any(_reaches(inputs, p) for p in paths):
                found.add(inputs.id)
        return found

    def affected(self, changed: Iterable[str]) -> frozenset[ObjectId]:
        """Every owner whose render may differ once `changed` paths changed (an upper
        bound: owners reached through a parent or a lookup may render the same)."""
        affected = self.seeds(changed)
        if affected:
            affected |= self.scope_sensitive()
        grew = bool(affected)
        while grew:
            grew = False
            for inputs in self.owners.values():
                if inputs.id not in affected and self._depends_on_any(inputs, affected):
                    affected.add(inputs.id)
                    grew = True
        return frozenset(affected)

    def _depends_on_any(self, inputs: OwnerInputs, affected: set[ObjectId]) -> bool:
        if inputs.parent in affected:
            return True
        if self.schema_links and not self._schema_owners(inputs).isdisjoint(affected):
            return True
        for key in inputs.lookups:
            producer = self.producers.get(key)
            if producer is None or producer in affected:
                return True  # absent at base: an affected owner may start producing it
        return False

    def looking_up(self, owners: Iterable[ObjectId]) -> set[ObjectId]:
        """Owners looking up an object one of `owners` produces (one step, not transitively)."""
        producers = set(owners)
        return {o.id for o in self.owners.values() if any(self.producers.get(k) in producers for k in o.lookups)}

    def scope_sensitive(self) -> set[ObjectId]:
        """Owners whose objects' scopes the CRDs of the whole render decide."""
        return {o.id for o in self.owners.values() if o.scope_sensitive}

    def wanted(self, owners: Iterable[ObjectId]) -> frozenset[ObjectId]:
        """What rendering `owners` needs rendered too: their parents up to the root and the
        producers of the objects they look up, transitively."""
        wanted: set[ObjectId] = set()
        todo = [o for o in owners if o in self.owners]
        while todo:
            oid = todo.pop()
            if oid in wanted:
                continue
            wanted.add(oid)
            inputs = self.owners[oid]
            if inputs.parent is not None and inputs.parent in self.owners:
                todo.append(inputs.parent)
            todo += [p for p in (self.producers.get(k) for k in inputs.lookups) if p is not None]
            if self.schema_links:
                todo += sorted(self._schema_owners(inputs))
        return frozenset(wanted)

    def _schema_owners(self, inputs: OwnerInputs) -> frozenset[ObjectId]:
        """The other owners rendering a CRD of a kind `inputs`' owner renders."""
        kinds = {(oid.group, oid.kind) for oid in map(ObjectId.parse, inputs.objects)}
        crd_owners = self._crd_owners
        return frozenset(o for kind in kinds for o in crd_owners.get(kind, ()) if o != inputs.id)

    @functools.cached_property
    def _crd_owners(self) -> dict[tuple[str, str], tuple[ObjectId, ...]]:
        found: dict[tuple[str, str], list[ObjectId]] = {}
        for inputs in self.owners.values():
            for group, kind, _ in inputs.crd_scopes:
                found.setdefault((group, kind), []).append(inputs.id)
        return {k: tuple(v) for k, v in found.items()}

    def producer_of(self, key: ObjectKey) -> ObjectId | None:
        """The owner whose render had the object (kind, namespace, name), if any."""
        kind, namespace, name = key
        for owner in self.owners.values():
            for inventory_id in owner.objects:
                oid = ObjectId.parse(inventory_id)
                if (oid.kind, oid.namespace, oid.name) == (kind, namespace, name):
                    return owner.id
        return None

    def stand_in_crds(self, rendered: frozenset[ObjectId]) -> frozenset[tuple[str, str, str]]:
        """(group, version, kind) the CRDs of the owners outside `rendered` give a schema."""
        return frozenset(c for oid, o in self.owners.items() if oid not in rendered for c in o.crd_versions)

    def stand_ins(self, rendered: frozenset[ObjectId]) -> tuple[tuple[Owner, ...], dict[tuple[str, str], bool]]:
        """The owners outside `rendered`, standing in for themselves, and their CRDs' scopes."""
        others = [o for oid, o in sorted(self.owners.items()) if oid not in rendered]
        scopes = {(group, kind): namespaced for o in others for group, kind, namespaced in o.crd_scopes}
        return tuple(o.stand_in() for o in others), scopes

    def to_json(self) -> str:
        owners = [
            {
                "id": o.id.inventory_id(),
                "parent": o.parent.inventory_id() if o.parent else None,
                "files": sorted(o.files) if o.files is not None else None,
                "dirs": sorted(o.dirs),
                "flat_dirs": sorted(o.flat_dirs),
                "lookups": [list(k) for k in o.lookups],
                "scope_sensitive": o.scope_sensitive,
                "kind": o.kind,
                "status": str(o.status),
                "path": o.path,
                "source": o.source,
                "depends_on": [d.inventory_id() for d in o.depends_on],
                "prune": o.prune,
                "objects": list(o.objects),
                "crd_scopes": [list(c) for c in o.crd_scopes],
                "diagnostics": [_diagnostic_json(d) for d in o.diagnostics],
                "reason": o.reason,
                "cause": str(o.cause) if o.cause is not None else None,
                "origin": o.origin,
                "object_digest": o.object_digest,
                "crd_digest": o.crd_digest,
                "api_versions": list(o.api_versions),
                "crd_versions": [list(c) for c in o.crd_versions],
            }
            for o in sorted(self.owners.values(), key=lambda o: o.id)
        ]
        producers = [[*k, v.inventory_id()] for k, v in sorted(self.producers.items())]
        diagnostics = [_diagnostic_json(d) for d in self.diagnostics]
        lookup_digests = [[*k, v] for k, v in sorted(self.lookup_digests.items())]
        data = {
            "version": INDEX_VERSION,
            "owners": owners,
            "producers": producers,
            "diagnostics": diagnostics,
            "lookup_digests": lookup_digests,
            "self_ignore": self.self_ignore,
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RenderIndex:
        data = json.loads(text)
        if data.get("version") != INDEX_VERSION:
            raise ValueError("index version mismatch")
        owners = {}
        for item in data["owners"]:
            oid = ObjectId.parse(item["id"])
            owners[oid] = OwnerInputs(
                id=oid,
                parent=ObjectId.parse(item["parent"]) if item["parent"] else None,
                files=frozenset(item["files"]) if item["files"] is not None else None,
                dirs=frozenset(item["dirs"]),
                flat_dirs=frozenset(item["flat_dirs"]),
                lookups=tuple((k[0], k[1], k[2]) for k in item["lookups"]),
                scope_sensitive=bool(item["scope_sensitive"]),
                kind=str(item["kind"]),
                status=OwnerStatus(item["status"]),
                path=str(item["path"]),
                source=str(item["source"]),
                depends_on=tuple(ObjectId.parse(d) for d in item["depends_on"]),
                prune=bool(item["prune"]),
                objects=tuple(str(i) for i in item["objects"]),
                crd_scopes=tuple((str(c[0]), str(c[1]), bool(c[2])) for c in item["crd_scopes"]),
                diagnostics=tuple(_diagnostic_from_json(d) for d in item["diagnostics"]),
                reason=str(item["reason"]),
                cause=Cause(item["cause"]) if item["cause"] is not None else None,
                origin=str(item["origin"]),
                object_digest=str(item["object_digest"]),
                crd_digest=str(item["crd_digest"]),
                api_versions=tuple(str(v) for v in item["api_versions"]),
                crd_versions=tuple((str(c[0]), str(c[1]), str(c[2])) for c in item["crd_versions"]),
            )
        producers = {(p[0], p[1], p[2]): ObjectId.parse(p[3]) for p in data["producers"]}
        diagnostics = tuple(_diagnostic_from_json(d) for d in data["diagnostics"])
        lookup_digests = {(d[0], d[1], d[2]): str(d[3]) for d in data["lookup_digests"]}
        return cls(owners, producers, diagnostics, lookup_digests, str(data["self_ignore"]))


def _diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    location = diagnostic.location
    return {
        "summary": diagnostic.summary,
        "subject": diagnostic.subject.inventory_id() if diagnostic.subject else None,
        "location": [location.path, location.line, location.document] if location else None,
        "detail": diagnostic.detail,
    }


def _diagnostic_from_json(item: Mapping[str, Any]) -> Diagnostic:
    location = item["location"]
    return Diagnostic(
        str(item["summary"]),
        ObjectId.parse(item["subject"]) if item["subject"] else None,
        SourceLocation(str(location[0]), location[1], location[2]) if location else None,
        str(item["detail"]),
    )


def _reaches(inputs: OwnerInputs, path: str) -> bool:
    """A new or changed `path` may be read: the nearest of its directories the owner reads
    decides (a directory read whole reaches everything below it, one read flat only its
    own files; a flat one below a whole one stops it)."""
    parent = posixpath.dirname(path)
    for directory in _ancestors(path):
        if directory in inputs.dirs:
            return True
        if directory in inputs.flat_dirs:
            return directory == parent
    return False


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]


# -- building an index from a render ---------------------------------------------------------


@dataclass(frozen=True)
class IndexRoots:
    root: Path  # the self source on disk (the tree the render read)
    prefix: str  # that root relative to the repository top ("" when it is the top)
    mapped_sources: frozenset[str] = frozenset()  # --source keys: those owners read elsewhere
    #: charts come from the chart cache alone (offline; its state is in the index key): a
    #: release whose chart it lacks fails the same way until the cache changes
    charts_fixed: bool = False


def index_state(state: DesiredState, roots: IndexRoots, digest: Digest | None = None) -> RenderIndex:
    """The inputs of every owner of `state`, rendered from the files under `roots.root`
    (with `digest`, the digests of their own objects and of what they look up)."""
    owners = owner_inputs(state, roots, digest=digest)
    producer_of = {_key(obj.id): obj.owner for o in state.owners for obj in o.objects}
    wanted = {k for o in owners.values() for k in o.lookups}
    producers = {k: producer_of[k] for k in wanted if k in producer_of}
    digests = lookup_digests(state, wanted, digest) if digest is not None else {}
    kept = {k: v for k, v in digests.items() if v}
    return RenderIndex(owners, producers, state.diagnostics, kept, self_ignore_of(state))


def self_ignore_of(state: DesiredState) -> str:
    """The spec.ignore the render filtered the self source's artifact with ("" none)."""
    return str(state.settings.get("self_ignore") or "")


def lookup_digests(state: DesiredState, keys: Iterable[ObjectKey], digest: Digest) -> dict[ObjectKey, str]:
    """The digest of each looked-up object `state` holds ("" when an owner standing in
    holds it: its manifest is not known here)."""
    wanted = set(keys)
    found: dict[ObjectKey, list[Mapping[str, Any]]] = {}
    for owner in state.owners:
        for obj in owner.objects:
            if _key(obj.id) in wanted:
                found.setdefault(_key(obj.id), []).append(obj.body)
    return {k: _digest_all(bodies, digest) for k, bodies in found.items()}


def crd_digest(owner: Owner, digest: Digest) -> str:
    """The keyed digest of the CRDs `owner` renders ("" when it renders none)."""
    crds = [o.body for o in owner.objects if (o.id.group, o.id.kind) == _CRD]
    return _digest_all(crds, digest) if crds else ""


_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


def _digest_all(bodies: list[Mapping[str, Any]], digest: Digest) -> str:
    if any(not body for body in bodies):
        return ""
    digests = sorted(digest(body) for body in bodies)
    return digests[0] if len(digests) == 1 else digest({"all": digests})


def owner_inputs(
    state: DesiredState,
    roots: IndexRoots,
    only: Iterable[ObjectId] | None = None,
    *,
    digest: Digest | None = None,
) -> dict[ObjectId, OwnerInputs]:
    """The inputs of the rendered owners of `state` (of those in `only`, when given)."""
    manifests = {oid: obj.body for oid, obj in state.objects().items()}
    producer_of = {_key(oid): obj.owner for oid, obj in state.objects().items()}
    self_source = str(state.settings.get("self_source") or "")
    chosen = None if only is None else set(only)
    owners: dict[ObjectId, OwnerInputs] = {}
    for owner in state.owners:
        if owner.id in state.stand_ins or (chosen is not None and owner.id not in chosen):
            continue
        manifest = manifests.get(owner.id)
        if owner.kind == "HelmRelease":
            inputs = _helm_inputs(owner, manifest, roots, self_source, manifests)
        else:
            inputs = _kustomization_inputs(owner, manifest, roots, self_source, state.inputs.get(owner.id))
        parent = owner.parent or (producer_of.get(_key(owner.id)) if owner.kind == "HelmRelease" else None)
        sensitive = owner.kind == "HelmRelease" and any("." in o.id.group for o in owner.objects)
        crds = KindScopes.from_manifests(o.body for o in owner.objects).crd_scopes
        files, dirs, lookups, flat_dirs = inputs
        owners[owner.id] = OwnerInputs(
            owner.id,
            parent,
            files,
            dirs,
            lookups,
            flat_dirs=flat_dirs,
            scope_sensitive=sensitive,
            kind=owner.kind,
            status=owner.status,
            path=owner.path,
            source=owner.source,
            depends_on=owner.depends_on,
            prune=owner.prune,
            objects=tuple(o.id.inventory_id() for o in owner.objects),
            crd_scopes=tuple((group, kind, namespaced) for (group, kind), namespaced in sorted(crds.items())),
            diagnostics=owner.diagnostics,
            reason=owner.reason,
            cause=owner.cause,
            origin=owner.origin.path if owner.origin is not None else "",
            object_digest=digest(manifest) if digest is not None and isinstance(manifest, Mapping) and manifest else "",
            crd_digest=crd_digest(owner, digest) if digest is not None else "",
            api_versions=tuple(o.api_version for o in owner.objects),
            crd_versions=tuple(sorted(crd_schemas(o.body for o in owner.objects))),
        )
    return owners


#: (files, dirs read recursively, lookups, dirs read flat)
_Inputs = tuple[frozenset[str] | None, frozenset[str], tuple[ObjectKey, ...], frozenset[str]]
_NONE: frozenset[str] = frozenset()


def _key(oid: ObjectId) -> ObjectKey:
    return (oid.kind, oid.namespace, oid.name)


def _reads_self(source: str, self_source: str, mapped: frozenset[str]) -> bool:
    rest = source.partition("/")[2]
    namespace, _, name = rest.partition("/")
    if {source, f"{namespace}/{name}", name} & mapped:
        return False
    return source == self_source or (not self_source and name == "flux-system")


def _kustomization_inputs(
    owner: Owner, manifest: Any, roots: IndexRoots, self_source: str, built: tuple[Path, frozenset[Path]] | None
) -> _Inputs:
    spec: Mapping[str, Any] | None = None
    lookups: tuple[ObjectKey, ...] = ()
    if isinstance(manifest, Mapping) and owner.id.namespace:
        ks = FluxKustomization.from_doc(manifest)
        spec = ks.spec
        refs = (ks.post_build or {}).get("substituteFrom") or []
        lookups = tuple(
            (str(r.get("kind")), ks.id.namespace, str(r.get("name"))) for r in refs if isinstance(r, Mapping)
        )
    if owner.status is OwnerStatus.SUSPENDED:
        return _NONE, _NONE, lookups, _NONE  # Flux renders nothing for it: only its object matters
    if owner.status is OwnerStatus.NOT_PLANNED:
        return None, _NONE, lookups, _NONE  # what it reads is not known: any change may fix it
    if not _reads_self(owner.source, self_source, roots.mapped_sources):
        return None, _NONE, lookups, _NONE
    directory = secure_join(roots.root, owner.path)
    if built is not None and built[0] == roots.root:  # the closure discovery's build computed
        return _kustomize_dirs(_relative_inputs(built[1], [directory], roots), roots, lookups, directory)
    try:
        document = prepare_kustomization(directory, spec=spec, root=roots.root).document
        files = input_closure(roots.root, directory, document)
    except (FluxformError, OSError):
        return None, _NONE, lookups, _NONE
    return _kustomize_dirs(_relative_inputs(files, [directory], roots), roots, lookups, directory)


def _helm_inputs(
    owner: Owner, manifest: Any, roots: IndexRoots, self_source: str, manifests: Mapping[ObjectId, Any]
) -> _Inputs:
    """What a release reads. Unknown (None: affected by any change) when it did not render
    for a reason no file decides (_unknown_failure), or when its chart is chosen by a
    version range the registry or cache answers, not the repository."""
    if not isinstance(manifest, Mapping):
        return None, _NONE, (), _NONE
    hr = HelmReleaseSpec.from_doc(manifest)
    lookups = [(ref.kind, hr.namespace, ref.name) for ref in hr.values_from]
    if hr.chart_ref is not None:
        ref_key = (hr.chart_ref.kind, hr.chart_ref.namespace, hr.chart_ref.name)
        lookups.append(ref_key)
        source = manifests.get(ObjectId(hr.chart_ref.namespace, hr.chart_ref.name, _SOURCE_GROUP, hr.chart_ref.kind))
        if _unknown_failure(owner, roots) or not _pinned_oci(source):
            return None, _NONE, tuple(lookups), _NONE
        if hr.chart_ref.kind == "OCIRepository":  # the chart comes from a registry: the object is the input
            return _NONE, _NONE, tuple(lookups), _NONE
        return None, _NONE, tuple(lookups), _NONE  # a HelmChart or ExternalArtifact may read the repository
    template = hr.chart_template
    assert template is not None
    ref = template.source_ref
    lookups.append((ref.kind, ref.namespace, ref.name))
    if template.values_files:  # the HelmChart's generation enters the chart version
        lookups.append(("HelmChart", ref.namespace, f"{hr.namespace}-{hr.name}"))
    if _unknown_failure(owner, roots):
        return None, _NONE, tuple(lookups), _NONE
    if ref.kind == "HelmRepository":
        if not _EXACT_VERSION.fullmatch(template.version):  # the repository's index picks the chart
            return None, _NONE, tuple(lookups), _NONE
        return _NONE, _NONE, tuple(lookups), _NONE  # the chart comes from the chart cache
    source = f"{ref.kind}/{ref.namespace}/{ref.name}"
    if template.reconcile_strategy == "Revision" or not _reads_self(source, self_source, roots.mapped_sources):
        return None, _NONE, tuple(lookups), _NONE  # chart version carries the source revision
    chart_dir = secure_join(roots.root, template.chart)
    files = set(_walk(chart_dir))
    for name in template.values_files:
        files |= {p for p in (secure_join(roots.root, name), chart_dir / name) if p.is_file()}
    dirs = [chart_dir, *(_local_dependency_dirs(chart_dir))]
    files |= {p for d in dirs[1:] for p in _walk(d)}
    file_set, read_from = _relative_inputs(files, [], roots)
    recursive = _all_relative(dirs, roots)  # the chart and its local dependencies, whole
    # values files outside the chart are read flat; nothing below a chart may stop its recursion
    flat = {d for d in read_from if not any(d == r or d.startswith(f"{r}/") for r in recursive)}
    return file_set, recursive, tuple(lookups), frozenset(flat)


_SOURCE_GROUP = "source.toolkit.fluxcd.io"
#: a chart version that names one version (no range, no wildcard): the cache holds it as is
_EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def _unknown_failure(owner: Owner, roots: IndexRoots) -> bool:
    """A release not rendered for a reason no input of the index decides: waiting for
    another owner (isolation may release it at the other revision), or a chart it could
    not fetch online (the network may answer next time)."""
    if owner.status is not OwnerStatus.NOT_PLANNED:
        return False
    if owner.reason.startswith("depends on ") or owner.cause is Cause.ERROR:  # ERROR: its warnings are the render's
        return True
    return owner.cause is Cause.CHART and not roots.charts_fixed


def _pinned_oci(source: Any) -> bool:
    """An OCIRepository naming its artifact by tag or digest (not a semver range)."""
    if not isinstance(source, Mapping):
        return True  # not an OCIRepository of the fleet: its inputs are judged elsewhere
    ref = (source.get("spec") or {}).get("ref") if isinstance(source.get("spec"), Mapping) else None
    return not (isinstance(ref, Mapping) and ref.get("semver") and not ref.get("digest"))


def _local_dependency_dirs(chart_dir: Path) -> list[Path]:
    """`file://` dependencies outside the chart directory (Helm reads them when charts/ lacks them)."""
    try:
        meta = yamlio.load((chart_dir / "Chart.yaml").read_bytes())
    except (yamlio.YamlError, OSError):
        return []
    deps = meta.get("dependencies") if isinstance(meta, Mapping) else None
    out = []
    for dep in deps or []:
        repository = str(dep.get("repository") or "") if isinstance(dep, Mapping) else ""
        if repository.startswith("file://"):
            out.append((chart_dir / repository.removeprefix("file://")).resolve())
    return out


def _kustomize_dirs(
    relative: tuple[frozenset[str], frozenset[str]], roots: IndexRoots, lookups: tuple[ObjectKey, ...], build: Path
) -> _Inputs:
    """Which directories a build reads whole: those Flux's generator scans (the build
    directory when it has no kustomization file, and its subdirectories without one, down
    from it), where any new file may change the build. Every other directory it reads from
    is read flat: kustomize reads what a kustomization names, so only a new file directly
    in it (another kustomization file name) may matter."""
    files, dirs = relative
    start = _repo_relative(build, roots)
    has_marker: dict[str, bool] = {}

    def marked(directory: str) -> bool:
        if directory not in has_marker:
            inner = directory[len(roots.prefix) :].lstrip("/") if roots.prefix else directory
            has_marker[directory] = find_kustomization_file(roots.root / inner) is not None
        return has_marker[directory]

    def scanned(directory: str) -> bool:
        """The generator reaches it: no kustomization file from the build directory down to it."""
        if start is None or not (start == "" or directory == start or directory.startswith(f"{start}/")):
            return False
        parts = [p for p in directory[len(start) :].split("/") if p]
        chain = [posixpath.join(start, *parts[:depth]) for depth in range(len(parts) + 1)]
        return not any(marked(d) for d in chain)

    recursive = {d for d in dirs if scanned(d)}
    return files, frozenset(recursive), lookups, frozenset(dirs - recursive)


def _walk(directory: Path) -> list[Path]:
    return [Path(d) / f for d, _, names in os.walk(directory) for f in names]


def _repo_relative(path: Path, roots: IndexRoots) -> str | None:
    """`path` (on disk, below the source root) as a repository-relative path, or None."""
    root = roots.root.resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        return None
    inner = resolved.relative_to(root).as_posix()
    inner = "" if inner == "." else inner
    return posixpath.join(roots.prefix, inner).rstrip("/") if roots.prefix else inner


def _all_relative(paths: Iterable[Path], roots: IndexRoots) -> frozenset[str]:
    return frozenset(r for r in (_repo_relative(p, roots) for p in paths) if r is not None)


def _relative_inputs(
    files: Iterable[Path], dirs: Iterable[Path], roots: IndexRoots
) -> tuple[frozenset[str], frozenset[str]]:
    """Files read, and the directories read from (those given, and the files' own)."""
    file_set = _all_relative(files, roots)
    return file_set, _all_relative(dirs, roots) | {posixpath.dirname(f) for f in file_set}


# -- keeping indexes between runs ------------------------------------------------------------


@dataclass(frozen=True)
class IndexStore:
    """Indexes on disk, keyed by everything the render depended on besides the files."""

    directory: Path | None  # None: nothing is kept

    def key(self, tree_id: str, cluster: str, settings: Mapping[str, Any]) -> str:
        fields = {"tree": tree_id, "cluster": cluster, "settings": settings, "index": INDEX_VERSION}
        text = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def load(self, key: str) -> RenderIndex | None:
        """The verified index kept for `key`, or None (never kept, or damaged: discarded with
        a warning, so the caller renders the base again)."""
        if self.directory is None:
            return None
        path = self.directory / f"{key}.json"
        payload = _INDEX_ENTRIES.read(path, key)
        if payload is None:
            return None
        try:
            return RenderIndex.from_json(payload.decode("utf-8"))
        except (ValueError, KeyError, TypeError, IndexError) as exc:  # sealed by an older fluxform
            _INDEX_ENTRIES.discard(path, f"unreadable ({type(exc).__name__})")
            return None

    def has(self, key: str) -> bool:
        """An index is kept for `key` (not yet verified: `load` does that)."""
        return self.directory is not None and (self.directory / f"{key}.json").is_file()

    def save(self, key: str, index: RenderIndex) -> None:
        if self.directory is None:
            return
        _INDEX_ENTRIES.write(self.directory / f"{key}.json", key, index.to_json().encode("utf-8"))


_INDEX_ENTRIES = EntryStore("changed-only index")
