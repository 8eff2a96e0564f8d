"""Discover and build a fleet the way Flux walks it in a cluster.

Starting from a path (usually `clusters/<name>`), build it, find the Flux Kustomizations in
the output, build those, and so on, until nothing new appears (roots.py says where the walk
starts and which Kustomization owns the start path). Every Kustomization and HelmRelease
renders or fails on its own, as Flux reconciles each on its own: one that fails is not
planned, with its reason and file, and only what waits for it goes with it
(planner/isolation.py); everything else is rendered as usual.

Builds (kustomize subprocesses) run in parallel; the Flux steps after them (decryption,
substitution) run in order because substituteFrom may read objects another build makes.

    state = discover(Path("fixtures/fleet/clusters/staging"), DiscoverOptions())
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from fluxform import yamlio
from fluxform.decrypt.buildmask import mask_like_flux_build
from fluxform.errors import Diagnostic, FluxformError, MissingKeys, ObjectNotFound, RenderError, SourceError
from fluxform.kinds import KindScopes
from fluxform.kustomize.engine import kustomize_engine
from fluxform.limits import DEFAULT_BUILD_TIMEOUT, read_limited
from fluxform.objects import ObjectId, SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.dag import order_owners
from fluxform.planner.isolation import Links, ObjectKey, isolate, key_of, not_planned
from fluxform.planner.kustomization.build import BuildOutput, BuildRequest, build_directory
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.generate import spec_changes_build
from fluxform.planner.kustomization.output import split_documents
from fluxform.planner.kustomization.postbuild import (
    Decryptor,
    PostBuildContext,
    VariablesPending,
    finalize_kustomization,
)
from fluxform.planner.kustomization.roots import (
    EXTERNAL_ARTIFACT,
    ROOT_OWNER_NAME,
    find_repo_root,
    may_build_from_repository,
    normalise_path,
    repo_root_of_root_file,
    root_from_file,
    start_of_root_file,
    synthetic_root,
)
from fluxform.planner.kustomization.spec import KUSTOMIZATION_GROUP, FluxKustomization, SourceRef, is_flux_kustomization
from fluxform.planner.kustomization.unbuilt import FluxChild, from_files, from_raw_build, produced_ids
from fluxform.planner.kustomization.view import SourceView
from fluxform.planner.model import REMOTE_REASON, Cause, DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.planner.ownership import one_owner_per_object
from fluxform.planner.validation import OwnerValidator, StandingIn
from fluxform.progress import NO_PROGRESS, Progress, Stage, stage, timed
from fluxform.scratch import scratch_dir
from fluxform.sources.artifact import Artifact, IgnoreMatcher, copy_filtered, materialize_artifact
from fluxform.sources.generator import GENERATOR_GROUP, ArtifactGenerator, build_artifact
from fluxform.sources.git import GitRepository

__all__ = [
    "ROOT_OWNER_NAME",
    "ArtifactSources",
    "DiscoverOptions",
    "DiscoveryContext",
    "HelmHook",
    "OwnerFocus",
    "discover",
    "find_repo_root",
]

#: Renders HelmReleases found in the desired state; returns their owners (objects inside)
#: and warnings.
HelmHook = Callable[["DiscoveryContext"], tuple[list[Owner], list[Diagnostic]]]

#: (group, kind) -> namespaced, per the cluster's API discovery; None: the cluster does not serve it
ClusterScope = Callable[[str, str], bool | None]


class ArtifactSources(Protocol):
    """Sources that are OCI artifacts (planner/artifacts.py): each returns the unpacked,
    verified tree of a source, or None when it is not one of its own. `body` is the source
    object as the fleet defines it (None: the fleet does not define it)."""

    def mapped(self, ref: SourceRef, body: Mapping[str, Any] | None) -> Path | None:
        """A `--source NAME=REF` artifact mapping."""
        ...

    def from_spec(self, ref: SourceRef, body: Mapping[str, Any] | None) -> Path | None:
        """An OCIRepository pulled from its own spec.url and spec.ref."""
        ...


@dataclass(frozen=True)
class OwnerFocus:
    """The one owner `build ks|hr NAME` wants: discovery renders it and what it needs (its
    ancestors, the producers of what it looks up), renders no other HelmRelease, and stops
    once a Kustomization named exactly has been rendered."""

    kind: str  # "Kustomization" (the synthetic root too) or "HelmRelease"
    name: str
    namespace: str = ""  # "" for any namespace

    def matches(self, oid: ObjectId) -> bool:
        return oid.kind == self.kind and oid.name == self.name and self.namespace in ("", oid.namespace)

    @property
    def exact(self) -> bool:
        """At most one owner matches, so the walk may stop once it was rendered."""
        return bool(self.namespace) or self.name == ROOT_OWNER_NAME


@dataclass(frozen=True)
class DiscoverOptions:
    sources: Mapping[str, Path] = field(default_factory=dict)  # --source NAME=DIR
    repo_root: Path | None = None  # the directory the self source's paths are relative to
    strict_substitute: bool = True  # StrictPostBuildSubstitutions, on by default since Flux 2.9
    jobs: int = max(1, os.cpu_count() or 1)
    cache: BuildCache = field(default_factory=BuildCache.disabled)
    decryptor: Decryptor | None = None
    helm: HelmHook | None = None
    # artifacts the caller materialises itself (origin dir -> the artifact of that dir filtered
    # with a source's spec.ignore, "" none), used instead of copying the tree; the caller owns
    # their lifetime (e.g. a diff writes each revision's from git)
    artifacts: Mapping[Path, Callable[[str], Artifact]] = field(default_factory=dict)
    # the git commit the self source is at, when the caller knows it better than the directory
    # does (a revision extracted from git has no .git); "" means ask git about the directory
    source_commit: str = ""
    # owners rendered elsewhere (e.g. from a base revision's index, in a changed-only diff):
    # they are not built here but stand in for themselves in the result (ordering, counts,
    # the one-owner-per-object check); their objects carry ids only. Anything not listed,
    # including owners unknown to the caller, is rendered.
    stand_ins: tuple[Owner, ...] = ()
    stand_in_scopes: Mapping[tuple[str, str], bool] = field(default_factory=dict)  # their CRDs' scopes
    # stand-ins listed here stand in only while their own object, as an owner rendered here
    # renders it, has this digest (by `object_digest`; "" never matches): otherwise they are
    # rendered. One whose parent is rendered here but renders it no more (or failed) does
    # not stand in either: it is gone, or listed as depending on its parent, as in a full
    # render. Stand-ins not listed stand in whatever happens.
    stand_in_digests: Mapping[ObjectId, str] = field(default_factory=dict)
    object_digest: Callable[[Mapping[str, Any]], str] | None = None
    stand_in_crds: frozenset[tuple[str, str, str]] = frozenset()  # (group, version, kind) the stand-ins define
    # "build": show owners as `flux build` does: SOPS data no key decrypts is masked
    # (**SOPS**), and a namespaced object without a namespace is a warning, not an error
    purpose: str = "plan"
    focus: OwnerFocus | None = None  # `build ks|hr NAME`: render that owner and what it needs
    root_kustomization: Path | None = None  # --root-ks FILE: the Kustomization owning the start path
    cluster_scope: ClusterScope | None = None  # a live plan: kinds without a CRD in the fleet
    build_timeout: float = DEFAULT_BUILD_TIMEOUT  # seconds one kustomize build may take
    progress: Progress = field(default=NO_PROGRESS, compare=False)  # builds (and the Helm hook's renders) report here
    #: a plan's schema check (planner/validation.py): an owner it fails is not planned
    validator: OwnerValidator | None = None
    #: sources that are OCI artifacts (--source NAME=REF, OCIRepository spec.url); None: none
    artifact_sources: ArtifactSources | None = field(default=None, compare=False)
    #: the revision the self source is at when it is not the directory's content digest
    #: (the fleet came from an OCI artifact: its reference pinned to the manifest digest)
    source_revision: str = ""


@dataclass
class DiscoveryContext:
    """What the Helm hook needs: the objects so far and where each source lives on disk.
    The hook records what each release looked up (and what it missed) for isolation."""

    objects: dict[ObjectId, DesiredObject]
    source_dirs: dict[SourceRef, Path]
    self_root: Path
    source_commits: dict[SourceRef, str] = field(default_factory=dict)  # git commit, when known
    source_digests: dict[SourceRef, str] = field(default_factory=dict)  # artifact digest
    scopes: KindScopes = field(default_factory=KindScopes)  # CRDs of the whole desired state
    skip: frozenset[ObjectId] = frozenset()  # HelmReleases standing in (DiscoverOptions.stand_ins)
    focus: OwnerFocus | None = None
    lookups: dict[ObjectId, set[ObjectKey]] = field(default_factory=dict)
    missing: dict[ObjectId, ObjectKey] = field(default_factory=dict)
    progress: Progress = field(default=NO_PROGRESS)  # the hook reports each release rendered
    #: Kustomizations whose objects may hold a secret value: they decrypted something or
    #: substituted variables from a Secret (no render of what they made is cached)
    secret_owners: frozenset[ObjectId] = frozenset()
    _index: dict[ObjectKey, ObjectId] | None = field(default=None, init=False, repr=False, compare=False)
    _indexed: int = field(default=0, init=False, repr=False, compare=False)

    def lookup(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        found = self.find(kind, namespace, name)
        return None if found is None else found.body

    def find(self, kind: str, namespace: str, name: str) -> DesiredObject | None:
        """The first object (in `objects` order) of that kind, namespace and name. Indexed:
        every release looks up several objects, and a scan each time grew with the square
        of the fleet (a third of a warm plan's Helm stage at 800 releases). The hook only
        reads `objects`; the index is made again if their number changes."""
        index = self._index
        if index is None or self._indexed != len(self.objects):
            index, count = {}, len(self.objects)
            for key, obj in self.objects.items():
                index.setdefault((obj.id.kind, obj.id.namespace, obj.id.name), key)
            self._index, self._indexed = index, count  # published whole: never seen half-made
        found = index.get((kind, namespace, name))
        return None if found is None else self.objects.get(found)

    def secret_derived(self, obj: DesiredObject) -> bool:
        """Whether a secret value may be in this object: it held SOPS ciphertext (or a
        leaf filled from a Secret), or its Kustomization decrypted or substituted from one."""
        return bool(obj.sensitive_paths) or obj.owner in self.secret_owners

    def renders(self, release: ObjectId) -> bool:
        """Whether the hook renders this HelmRelease (not standing in, and focused on)."""
        return release not in self.skip and (self.focus is None or self.focus.matches(release))


@functools.lru_cache(maxsize=4096)
def _kinds_and_names(data: bytes, flux_only: bool = True) -> tuple[tuple[str, str, str], ...]:
    """(kind, metadata.name, metadata.namespace or "") of every document of a file (only of
    one that mentions a Flux API group, with `flux_only`); memoised by content, as both
    sides of a diff share files."""
    if flux_only and b"toolkit.fluxcd.io" not in data:
        return ()
    try:
        docs = yamlio.load_all(data, unknown_tags="plain")
    except yamlio.YamlError:
        return ()
    found = []
    for doc in docs:
        if isinstance(doc, dict):
            meta = doc.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            found.append((str(doc.get("kind")), str(meta.get("name")), str(meta.get("namespace") or "")))
    return tuple(found)


@functools.lru_cache(maxsize=1024)
def _yaml_files_in_order(files: frozenset[Path]) -> tuple[Path, ...]:
    """The YAML files of a build closure, sorted once per closure (not once per object)."""
    return tuple(sorted(path for path in files if path.suffix in (".yaml", ".yml")))


class _Discovery:
    def __init__(self, options: DiscoverOptions, stack: contextlib.ExitStack) -> None:
        self.options = options
        self.stack = stack
        self.artifacts: dict[tuple[Path, str], Artifact] = {}
        self.provided = {k.resolve(): v for k, v in options.artifacts.items()}
        self.self_ignore = ""  # the self source's spec.ignore, as its artifact was filtered
        self.objects: dict[ObjectId, DesiredObject] = {}
        self.owners: dict[ObjectId, Owner] = {}
        self.parents: dict[ObjectId, ObjectId | None] = {}
        self.diagnostics: list[Diagnostic] = []
        self.self_source: SourceRef | None = None
        self.source_dirs: dict[SourceRef, Path] = {}
        self.pool = ThreadPoolExecutor(max_workers=options.jobs)
        # builds not yet started are dropped when discovery fails or is stopped by a signal
        stack.callback(self.pool.shutdown, wait=True, cancel_futures=True)
        self._file_bytes: dict[Path, bytes] = {}
        self.timings: dict[str, float] = {}
        self._plain_root: tuple[Path, BuildOutput] | None = None  # start path built without a spec
        self.stand_ins = {o.id: o for o in options.stand_ins}
        self.confirmed: set[ObjectId] = set()  # conditional stand-ins whose object was found unchanged
        self.generated: dict[tuple[str, str], Path] = {}  # (namespace, name) of ExternalArtifacts built
        self.fleet_path = ""  # the start path, relative to the repository root
        self.inputs: dict[ObjectId, tuple[Path, frozenset[Path]]] = {}  # (source root, build closure)
        # isolation: what each owner looked up, what a failed one waited for, what failed
        # owners would have produced, and the owners listed only because their parent failed
        self.lookups: dict[ObjectId, set[ObjectKey]] = {}
        self.missing: dict[ObjectId, ObjectKey] = {}
        self.would_produce: dict[ObjectKey, ObjectId] = {}
        self.blocked_by: dict[ObjectId, ObjectId] = {}
        self.undecrypted: set[ObjectId] = set()  # built without the keys they need (purpose "build")
        self.secret_owners: set[ObjectId] = set()  # DiscoveryContext.secret_owners
        self.views: dict[Path, SourceView] = {}  # one per source root, shared by its builds

    @property
    def building(self) -> bool:
        return self.options.purpose == "build"

    # -- sources -------------------------------------------------------------------------
    def artifact(self, directory: Path, ignore: str = "") -> Artifact:
        """`directory` filtered as source-controller filters it; `ignore`: the source
        object's spec.ignore, applied after the tree's `.sourceignore` files."""
        key = (directory.resolve(), ignore)
        if key not in self.artifacts:
            provider = self.provided.get(key[0])
            if provider is not None:
                self.artifacts[key] = provider(ignore)
            else:
                self.artifacts[key] = self.stack.enter_context(materialize_artifact(key[0], ignore=ignore))
        return self.artifacts[key]

    def _ignore_of(self, ref: SourceRef, objects: Sequence[Mapping[str, Any]]) -> str:
        """spec.ignore of the source object `ref` names, when the fleet defines it."""
        for doc in objects:
            meta = doc.get("metadata") or {}
            if (doc.get("kind"), meta.get("namespace"), meta.get("name")) == (ref.kind, ref.namespace, ref.name):
                ignore = (doc.get("spec") or {}).get("ignore")
                return ignore if isinstance(ignore, str) else ""
        return ""

    def resolve_source(self, ks: FluxKustomization, self_artifact: Artifact) -> Path:
        ref = ks.source_ref
        root = self._source_dir(ref, self_artifact)
        if root is None and ref.kind == EXTERNAL_ARTIFACT:
            root = self._generated(ks, self_artifact)
        if root is None:
            raise SourceError(
                f"cannot resolve spec.sourceRef {ref} to a local directory",
                subject=ks.id,
                location=ks.origin,
                hint=f"map it with --source {ref.namespace}/{ref.name}="
                + (
                    "REF (an oci:// reference, a layout tar or directory) or DIR"
                    if ref.kind == "OCIRepository"
                    else "DIR"
                ),
            )
        self.source_dirs[ref] = root
        return root

    def _source_dir(self, ref: SourceRef, self_artifact: Artifact) -> Path | None:
        """Where a source's artifact is: a --source mapping (a directory or an OCI artifact),
        the self source, or an OCIRepository's own registry."""
        source = self.objects.get(ref.id)  # by its API group: lookup() is for core kinds
        body = source.body if source is not None else None
        for key in (f"{ref.kind}/{ref.namespace}/{ref.name}", f"{ref.namespace}/{ref.name}", ref.name):
            if key in self.options.sources:
                ignore = self._ignore_of(ref, [body]) if body is not None else ""
                return self.artifact(self.options.sources[key], ignore).root
        oci = self.options.artifact_sources
        if oci is not None and (mapped := oci.mapped(ref, body)) is not None:
            return mapped
        if ref == self.self_source or (self.self_source is None and ref.name == "flux-system"):
            return self_artifact.root
        if oci is not None:
            return oci.from_spec(ref, body)
        return None

    def _generated(self, ks: FluxKustomization, self_artifact: Artifact) -> Path:
        """The ExternalArtifact an ArtifactGenerator of the fleet builds, built here from
        its sources' artifacts (sources/generator.py). SourcePending while no generator
        rendered so far produces it: a sibling's build may still bring it."""
        ref = ks.source_ref
        key = (ref.namespace, ref.name)
        if key in self.generated:
            return self.generated[key]
        generators = [
            ArtifactGenerator.from_doc(o.body)
            for o in self.objects.values()
            if o.id.kind == "ArtifactGenerator" and o.id.group == GENERATOR_GROUP and o.id.namespace == ref.namespace
        ]
        found = [(g, g.artifacts[ref.name]) for g in generators if ref.name in g.artifacts]
        if not found:
            raise SourcePending(ks)
        generator, output = found[0]
        sources: dict[str, Path] = {}
        for alias, (kind, namespace, name) in generator.sources.items():
            root = self._source_dir(SourceRef(kind, namespace, name), self_artifact)
            if root is None:
                raise SourceError(
                    f"ArtifactGenerator {generator.id.namespace}/{generator.id.name}: cannot resolve source "
                    f"{kind}/{namespace}/{name} (alias {alias}) to a local directory",
                    subject=ks.id,
                    hint=f"map it with --source {namespace}/{name}=DIR",
                )
            sources[alias] = root
        scratch = self.stack.enter_context(scratch_dir("fluxform-generated-"))
        build_artifact(output, sources, scratch / "staging")
        (scratch / "artifact").mkdir()
        copy_filtered(scratch / "staging", scratch / "artifact", IgnoreMatcher.for_ignore_files(()))
        self.generated[key] = scratch / "artifact"
        return self.generated[key]

    # -- building ------------------------------------------------------------------------
    def request(self, owner: ObjectId, origin: SourceLocation | None, root: Path, path: str, spec: Any) -> BuildRequest:
        """A build of `path` in the source at `root`, in the run's view of that source."""
        if root not in self.views:
            self.views[root] = self.stack.enter_context(SourceView.of(root))
        return BuildRequest(owner, origin, root, path, spec, self.options.build_timeout, self.views[root])

    def submit(self, ks: FluxKustomization, root: Path) -> Future[BuildOutput]:
        request = self.request(ks.id, ks.origin, root, ks.path, dict(ks.spec))
        decryptor = self.options.decryptor
        directory = secure_join(root, ks.path)
        progress = self.options.progress
        progress.expect(Stage.BUILD, 1)
        if decryptor is not None and directory.is_dir() and decryptor.needs_source_decryption(ks, directory, root):
            return self.pool.submit(_timed, progress, ks.id, _build_decrypted, request, ks, decryptor)
        plain = self._plain_root
        if plain is not None and plain[0] == directory and not spec_changes_build(ks.spec):
            done: Future[BuildOutput] = Future()  # the start path was already built as is
            done.set_result(plain[1])
            progress.advance(Stage.BUILD, str(ks.id))
            return done
        return self.pool.submit(_timed, progress, ks.id, build_directory, request, self.options.cache)

    def lookup(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        obj = self.objects.get(ObjectId(namespace, name, "", kind))
        return None if obj is None else obj.body

    def claim(self, owner: ObjectId, objects: Sequence[DesiredObject]) -> None:
        """Record an owner's objects for lookups (the first copy of one rendered twice; which
        owner keeps it is decided once the order is known: planner/ownership.py)."""
        for obj in objects:
            self.objects.setdefault(obj.id, obj)

    def add_owner(
        self,
        ks: FluxKustomization,
        objects: list[DesiredObject],
        status: OwnerStatus,
        diagnostics: tuple[Diagnostic, ...] = (),
        *,
        reason: str = "",
        cause: Cause | None = None,
    ) -> None:
        if status is OwnerStatus.BUILT:
            self.claim(ks.id, objects)  # lookups see what the cluster would hold, not the mask
        if self.building:  # SOPS data no key decrypted is shown as Flux's CLI shows it
            objects = [replace(o, body=mask_like_flux_build(o.body)) for o in objects]
        self.owners[ks.id] = Owner(
            id=ks.id,
            kind="Kustomization" if ks.id.namespace else "Root",
            status=status,
            source=str(ks.source_ref),
            path=ks.path or "./",
            parent=self.parents.get(ks.id),
            depends_on=ks.depends_on,
            prune=ks.prune,
            origin=ks.origin,
            objects=tuple(objects) if status is OwnerStatus.BUILT else (),
            details={"targetNamespace": ks.target_namespace or "", "suspend": ks.suspend},
            diagnostics=diagnostics,
            spec=ks.apply_spec,
            reason=reason,
            cause=cause,
            unplanned_objects=() if status is OwnerStatus.BUILT else tuple(objects),
        )

    def children(
        self, objects: Sequence[DesiredObject], parent: ObjectId, files: frozenset[Path], root: Path
    ) -> list[FluxKustomization]:
        found = []
        for obj in objects:
            if is_flux_kustomization(obj.body) and obj.id != parent:
                location = obj.origin or SourceLocation(f"output of {parent}")
                self.parents.setdefault(obj.id, parent)
                try:
                    ks = FluxKustomization.from_doc(obj.body, location)
                except RenderError as exc:  # an invalid Kustomization: Flux's apply of it fails
                    self._invalid_child(obj, parent, location, exc)
                    continue
                self.parents.setdefault(ks.id, parent)
                found.append(ks)
        return found

    def _invalid_child(
        self, obj: DesiredObject, parent: ObjectId, location: SourceLocation, error: RenderError
    ) -> None:
        oid = ObjectId(obj.id.namespace, obj.id.name, KUSTOMIZATION_GROUP, "Kustomization")
        if oid in self.owners:
            return
        self.owners[oid] = Owner(
            oid, "Kustomization", OwnerStatus.NOT_PLANNED, "", "", parent, (), True, location,
            reason=error.message(beside=location), cause=Cause.ERROR,
        )  # fmt: skip

    def _located(self, obj: DesiredObject, files: frozenset[Path], root: Path) -> DesiredObject:
        """Flux objects get the file they were written in, so their errors can name it
        (not those standing in: nothing here reports on them)."""
        if "toolkit.fluxcd.io" not in obj.id.group or (obj.id in self.stand_ins and self._still_stands_in(obj)):
            return obj
        return replace(obj, origin=self._definition_file(obj.id, files, root))

    def _still_stands_in(self, obj: DesiredObject) -> bool:
        """A stand-in's own object was rendered here: it keeps standing in only when that
        object is what the index it came from saw (DiscoverOptions.stand_in_digests)."""
        expected = self.options.stand_in_digests.get(obj.id)
        digest = self.options.object_digest
        if expected is None or digest is None:
            return True
        if expected and digest(obj.body) == expected:
            self.confirmed.add(obj.id)
            return True
        del self.stand_ins[obj.id]  # what declares it changed: it is rendered here
        return False

    def _drop_vanished_stand_ins(self) -> None:
        """Conditional stand-ins whose parent was rendered here (or vanished itself) without
        rendering them: nothing declares them any more, so, as in a full render, they are gone."""
        vanished: set[ObjectId] = set()
        grew = True
        while grew:
            grew = False
            for oid, stand_in in list(self.stand_ins.items()):
                if oid not in self.options.stand_in_digests or oid in self.confirmed:
                    continue
                if stand_in.parent in vanished or (stand_in.parent in self.owners and stand_in.parent != oid):
                    del self.stand_ins[oid]
                    vanished.add(oid)
                    grew = True

    def _definition_file(
        self, oid: ObjectId, files: frozenset[Path], root: Path, *, flux_only: bool = True
    ) -> SourceLocation | None:
        """The file an object was written in, so errors can name it (kustomize drops it)."""
        exact, unnamespaced = (oid.kind, oid.name, oid.namespace), (oid.kind, oid.name, "")
        fallback: Path | None = None  # written without a namespace (a kustomization sets it)
        for path in _yaml_files_in_order(files):
            docs = self._flux_objects_in(path, oid.name, flux_only)
            if exact in docs:
                fallback = path
                break
            if fallback is None and unnamespaced in docs:
                fallback = path
        if fallback is not None:
            with contextlib.suppress(ValueError):
                return SourceLocation(str(fallback.resolve().relative_to(root.resolve())))
        return None

    def _flux_objects_in(self, path: Path, name: str, flux_only: bool = True) -> tuple[tuple[str, str, str], ...]:
        """(kind, name, namespace) of the documents of a file defining Flux objects (any
        objects, unless `flux_only`); parsed only when the file mentions the name looked for."""
        data = self._file_bytes.get(path)
        if data is None:
            data = self._file_bytes[path] = path.read_bytes()  # in the build closure: its size was checked
        if name.encode() not in data:
            return ()
        return _kinds_and_names(data, flux_only)

    # -- the walk ------------------------------------------------------------------------
    def run(self, start: Path) -> DesiredState:
        root_file = self.options.root_kustomization
        repo_root = self.options.repo_root
        if start.is_file():  # the path given is the owning Kustomization's file
            root_file = start
            repo_root, start = start_of_root_file(start, repo_root)
        if not start.is_dir():
            raise RenderError(f"path {start} does not exist or is not a directory")
        if repo_root is None and root_file is not None:
            repo_root = repo_root_of_root_file(root_file, start)
        repo_root = (repo_root or find_repo_root(start)).resolve()
        self_artifact = self.artifact(repo_root)
        rel_start = str(start.resolve().relative_to(repo_root)) if start.resolve() != repo_root else ""
        self.fleet_path = rel_start
        root_ks, failure = self._root_kustomization(self_artifact, rel_start, root_file)
        ignore = self._ignore_of(root_ks.source_ref, self._plain_docs()) if failure is None else ""
        if ignore:  # the self source's spec.ignore decides what its artifact holds
            self.self_ignore = ignore
            self_artifact = self.artifact(repo_root, ignore)
            root_ks, failure = self._root_kustomization(self_artifact, rel_start, root_file)
        self.parents[root_ks.id] = None
        queue: list[FluxKustomization] = [root_ks]
        if failure is not None:
            self._fail(root_ks, failure, Cause.ERROR, root=self_artifact.root)
            queue = []
        deferred: list[_Deferred] = []
        with stage(self.options.progress, Stage.BUILD, "Building Kustomizations"):
            while (queue or deferred) and not self._focus_done():
                queue, deferred = self._wave(queue, deferred, self_artifact)
        self._drop_vanished_stand_ins()
        scopes = KindScopes.from_manifests(o.body for o in self.objects.values())
        scopes = KindScopes({**self.options.stand_in_scopes, **scopes.crd_scopes})
        if self.options.helm is not None and not (self.options.focus and self.options.focus.kind != "HelmRelease"):
            self._render_releases(repo_root, self_artifact, scopes)
        all_crds = KindScopes.from_manifests(o.body for owner in self.owners.values() for o in owner.objects)
        self._check_scopes(scopes.merged(all_crds.crd_scopes))
        self._validate()
        return self._result(self_artifact)

    def _builds_anyway(self, ks: FluxKustomization) -> bool:
        """`build ks NAME` of a suspended Kustomization builds it, as `flux build ks` does
        (suspension stops the controller, not the build), with a warning saying so."""
        focus = self.options.focus
        if not (self.building and focus is not None and focus.matches(ks.id)):
            return False
        note = "suspended (spec.suspend: true): Flux applies none of this until it is resumed"
        self.diagnostics.append(Diagnostic(note, ks.id, ks.origin))
        return True

    def _validate(self) -> None:
        """The schema check: an owner whose objects the API server would refuse is not
        planned (before isolation, so what waits for it goes with it)."""
        check = self.options.validator
        if check is None or self.building:
            return
        started = time.perf_counter()
        standing = StandingIn(tuple(self.stand_ins.values()), self.options.stand_in_crds)
        verdict = check([o for o in self.owners.values() if o.id not in self.stand_ins], self._object_file, standing)
        self.timings["validate"] = time.perf_counter() - started
        for oid, reason in verdict.failed.items():
            self.owners[oid] = not_planned(self.owners[oid], reason, Cause.ERROR)
        self.diagnostics.extend(verdict.diagnostics)

    def _focus_done(self) -> bool:
        focus = self.options.focus
        if focus is None or focus.kind == "HelmRelease" or not focus.exact:
            return False
        return any(focus.matches(oid) for oid in self.owners)

    def _plain_docs(self) -> list[dict[str, Any]]:
        return _output_docs(self._plain_root[1]) if self._plain_root is not None else []

    def _render_releases(self, repo_root: Path, self_artifact: Artifact, scopes: KindScopes) -> None:
        assert self.options.helm is not None
        started = time.perf_counter()
        commit = self.options.source_commit or _git_commit(repo_root)
        context = DiscoveryContext(
            self.objects,
            self.source_dirs,
            self_artifact.root,
            {ref: commit for ref, root in self.source_dirs.items() if root == self_artifact.root},
            {ref: a.digest for a in self.artifacts.values() for ref, r in self.source_dirs.items() if r == a.root},
            scopes,
            frozenset(self.stand_ins),
            self.options.focus,
            progress=self.options.progress,
            secret_owners=frozenset(self.secret_owners),
        )
        with stage(self.options.progress, Stage.RENDER, "Rendering HelmReleases"):
            owners, diagnostics = self.options.helm(context)
        self.diagnostics.extend(diagnostics)
        for owner in owners:
            if owner.status is OwnerStatus.BUILT:
                self.claim(owner.id, owner.objects)
            self.owners[owner.id] = owner
        for release, keys in context.lookups.items():
            self.lookups.setdefault(release, set()).update(keys)
        self.missing.update(context.missing)
        self.timings["helm"] = time.perf_counter() - started

    def _result(self, self_artifact: Artifact) -> DesiredState:
        for stand_in in self.stand_ins.values():
            if stand_in.id in self.owners:
                raise RenderError(f"{stand_in.id} was rendered although it stands in (caller error)")
        ordered, dag_diags = order_owners([*self.owners.values(), *self.stand_ins.values()])
        links = Links(
            {k: frozenset(v) for k, v in self.lookups.items()}, self.missing, self.would_produce, self.blocked_by
        )
        ordered = isolate(ordered, links)
        ordered = one_owner_per_object(ordered, frozenset(self.stand_ins), self._object_file)
        decryptor = self.options.decryptor
        if decryptor is not None:  # the one place a render's words are scrubbed of decrypted values
            ordered = [
                replace(o, reason=decryptor.scrub(o.reason), diagnostics=decryptor.scrub_diagnostics(o.diagnostics))
                for o in ordered
            ]
            self.diagnostics = list(decryptor.scrub_diagnostics(self.diagnostics))
            dag_diags = list(decryptor.scrub_diagnostics(dag_diags))
        return DesiredState(
            owners=tuple(ordered),
            stand_ins=frozenset(self.stand_ins),
            inputs=dict(self.inputs),
            lookups={k: frozenset(v) for k, v in self.lookups.items()},
            source_revision=self.options.source_revision or self_artifact.digest,
            # owner by owner in dependency order, so a render standing in for some owners
            # reports the same warnings in the same order as a full one
            diagnostics=(*self.diagnostics, *(d for o in ordered for d in o.diagnostics), *dag_diags),
            settings={
                "fleet_path": self.fleet_path,
                "strict_substitute": self.options.strict_substitute,
                "self_source": str(self.self_source) if self.self_source else "",
                "self_ignore": self.self_ignore,
            },
            timings=dict(self.timings),
        )

    def _object_file(self, obj: ObjectId, owner: Owner) -> str:
        """The file `owner`'s build read `obj` from, or its own file (warnings name both)."""
        found = self.inputs.get(owner.id)
        if found is not None:
            location = self._definition_file(obj, found[1], found[0], flux_only=False)
            if location is not None:
                return location.path
        return str(owner.origin) if owner.origin is not None else str(owner.id)

    def _root_kustomization(
        self, artifact: Artifact, rel_start: str, root_file: Path | None
    ) -> tuple[FluxKustomization, FluxformError | None]:
        """The Kustomization owning the start path (the self-managing one found in its own
        output, the one `root_file` holds, or a synthetic one), and the start path's build
        error, if any (that owner is then not planned)."""
        chosen = root_from_file(root_file, artifact.origin, rel_start) if root_file is not None else None
        synthetic = synthetic_root(rel_start)
        request = self.request(synthetic.id, None, artifact.root, rel_start, None)
        target = normalise_path(rel_start)
        try:
            output = build_directory(request, self.options.cache)
        except FluxformError as exc:
            found = chosen or _self_managing_in_files(secure_join(artifact.root, rel_start), target)
            if found is not None:
                self.self_source = found.source_ref
            return found or synthetic, exc
        self._plain_root = (secure_join(artifact.root, rel_start), output)
        if chosen is not None:
            self.self_source = chosen.source_ref
            return chosen, None
        for doc in _output_docs(output, target):
            spec = doc.get("spec") or {}
            if may_build_from_repository(doc) and normalise_path(str(spec.get("path") or "")) == target:
                ks = FluxKustomization.from_doc(doc, SourceLocation(rel_start or "./"))
                self.self_source = ks.source_ref
                return ks, None
        self.diagnostics.append(
            Diagnostic(
                f"no Flux Kustomization under {rel_start or './'} builds it; planning it as a plain "
                "kustomize build owned by fluxform itself (--root-ks FILE names the one that does)"
            )
        )
        return synthetic, None

    def _wave(
        self,
        queue: list[FluxKustomization],
        deferred: list[_Deferred],
        self_artifact: Artifact,
    ) -> tuple[list[FluxKustomization], list[_Deferred]]:
        futures: list[tuple[FluxKustomization, Path, Future[BuildOutput]]] = []
        waiting: list[FluxKustomization] = []
        for ks in sorted(queue, key=lambda k: k.id):
            if ks.id in self.owners and not self._listed_only(ks.id):
                self._defined_twice(ks)
                continue
            if ks.id in self.stand_ins:
                continue  # rendered elsewhere; it stands in for itself
            if ks.suspend and not self._builds_anyway(ks):
                self.add_owner(ks, [], OwnerStatus.SUSPENDED)
                continue
            try:
                root = self.resolve_source(ks, self_artifact)
            except SourcePending:
                waiting.append(ks)  # its ExternalArtifact's generator may come from this wave
                continue
            except FluxformError as exc:
                self._fail(ks, exc, Cause.SOURCE if isinstance(exc, SourceError) else Cause.ERROR)
                continue
            futures.append((ks, root, self.submit(ks, root)))
        started = time.perf_counter()
        ready = [(ks, output) for ks, output, _ in deferred]
        for ks, root, future in futures:
            try:
                ready.append((ks, future.result()))
            except MissingKeys as exc:  # its generator inputs are encrypted
                if self.building:  # shown as Flux's CLI shows it: built as is, masked
                    self.undecrypted.add(ks.id)
                    request = self.request(ks.id, ks.origin, root, ks.path, dict(ks.spec))
                    ready.append((ks, build_directory(request, self.options.cache)))
                    continue
                self._fail(ks, exc, Cause.KEYS, root=root)
            except FluxformError as exc:
                self._fail(ks, exc, Cause.ERROR, root=root)
        self.timings["build"] = self.timings.get("build", 0.0) + time.perf_counter() - started
        next_queue: list[FluxKustomization] = []
        still_deferred: list[_Deferred] = []
        progressed = False
        for ks, output in ready:
            try:
                objects, diags = self._finalize(ks, output)
            except VariablesPending as pending:
                still_deferred.append((ks, output, pending))
                continue
            except FluxformError as exc:
                self._fail(ks, exc, Cause.KEYS if isinstance(exc, MissingKeys) else Cause.ERROR, output=output)
                continue
            progressed = True
            if _may_carry_secrets(ks, output, objects):
                self.secret_owners.add(ks.id)
            root = self.source_dirs.get(ks.source_ref, self_artifact.root)
            objects = [self._located(obj, output.files, root) for obj in objects]
            if output.files:  # not known for builds from a decrypted copy
                self.inputs[ks.id] = (root, output.files)
            if ks.spec.get("kubeConfig"):  # another cluster's objects: counted, shown, not planned
                self.add_owner(ks, objects, OwnerStatus.REMOTE, tuple(diags), reason=REMOTE_REASON, cause=Cause.REMOTE)
                continue
            self.add_owner(ks, objects, OwnerStatus.BUILT, tuple(diags))
            next_queue.extend(self.children(objects, ks.id, output.files, root))
        stuck = not progressed and not next_queue and not futures
        if stuck and waiting:
            for ks in waiting:
                self._fail(ks, _no_generator(ks), Cause.SOURCE)
            waiting = []
        next_queue.extend(waiting)
        if stuck and still_deferred and not next_queue:
            for ks, output, waiting_for in still_deferred:
                self.missing[ks.id] = (waiting_for.kind, ks.id.namespace, waiting_for.name)
                self._fail(ks, _missing_object(ks, waiting_for), Cause.OBJECT, output=output)
            still_deferred = []
        return next_queue, still_deferred

    def _finalize(self, ks: FluxKustomization, output: BuildOutput) -> tuple[list[DesiredObject], list[Diagnostic]]:
        """Flux's steps after the build; for `build`, SOPS data no key decrypts is kept
        encrypted (and masked like Flux's CLI masks it) instead of failing."""
        text, values, documents = output.text, output.secret_values, output.documents
        try:
            return finalize_kustomization(ks, text, self._postbuild_context(ks), values, documents)
        except MissingKeys:
            if not self.building:
                raise
            self.undecrypted.add(ks.id)
            return finalize_kustomization(ks, text, self._postbuild_context(ks), values, documents)

    def _postbuild_context(self, ks: FluxKustomization) -> PostBuildContext:
        looked_up = self.lookups.setdefault(ks.id, set())

        def lookup(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
            looked_up.add((kind, namespace, name))
            return self.lookup(kind, namespace, name)

        decryptor = None if ks.id in self.undecrypted else self.options.decryptor
        return PostBuildContext(lookup, self.options.strict_substitute, decryptor, self.timings)

    # -- owners that are not planned ------------------------------------------------------
    def _fail(
        self,
        ks: FluxKustomization,
        error: FluxformError,
        cause: Cause,
        *,
        output: BuildOutput | None = None,
        root: Path | None = None,
    ) -> None:
        """`ks` is not planned because of `error`; what it would have applied is listed as
        depending on it (from its raw build, else from the files below its path)."""
        if ks.spec.get("kubeConfig"):
            reason = f"{REMOTE_REASON}; not rendered: {error.message(beside=ks.origin)}"
            self.add_owner(ks, [], OwnerStatus.REMOTE, reason=reason, cause=Cause.REMOTE)
            return
        self.add_owner(ks, [], OwnerStatus.NOT_PLANNED, reason=error.message(beside=ks.origin), cause=cause)
        if output is not None:
            for oid in produced_ids(output.text):
                self.would_produce.setdefault(key_of(oid), ks.id)
            children = from_raw_build(ks, output.text)
            source = self.source_dirs.get(ks.source_ref)
            if source is not None and output.files:
                children = [replace(c, origin=self._definition_file(c.id, output.files, source)) for c in children]
        else:
            children = from_files(ks, root if root is not None else self.source_dirs.get(ks.source_ref))
        for child in children:
            self._listed_dependant(child, cause)

    def _listed_dependant(self, child: FluxChild, cause: Cause) -> None:
        """A Flux object only a failed owner would apply: listed, not planned (a conditional
        stand-in too: its parent renders differently here)."""
        if child.id in self.stand_ins and child.id in self.options.stand_in_digests:
            del self.stand_ins[child.id]
        if child.id in self.owners or child.id in self.stand_ins:
            return
        self.parents.setdefault(child.id, child.parent)
        self.owners[child.id] = Owner(
            child.id,
            "HelmRelease" if child.id.kind == "HelmRelease" else "Kustomization",
            OwnerStatus.NOT_PLANNED,
            "",
            "",
            child.parent,
            child.depends_on,
            True,
            child.origin,
            reason=f"depends on {child.parent}",
            cause=cause,
        )
        self.blocked_by[child.id] = child.parent

    def _listed_only(self, oid: ObjectId) -> bool:
        """Listed as depending on a failed owner, but found by another walk: built after all."""
        if oid not in self.blocked_by:
            return False
        del self.blocked_by[oid]
        del self.owners[oid]
        return True

    def _defined_twice(self, ks: FluxKustomization) -> None:
        first = self.owners[ks.id]
        self.diagnostics.append(
            Diagnostic(
                f"defined more than once (also in {first.origin or 'the output of ' + str(first.parent)}); "
                "the first definition is planned, Flux would apply both (the last reconcile wins)",
                ks.id,
                ks.origin,
            )
        )

    def _check_scopes(self, scopes: KindScopes) -> None:
        """A namespaced object without a namespace fails Flux's apply of its owner (an error
        in a plan, a warning in `build`). A kind whose CRD is not in the fleet takes its
        scope from the cluster's discovery when there is one, else from the object itself."""
        unknown: dict[tuple[str, str], int] = {}
        for owner in sorted(self.owners.values(), key=lambda o: o.id):
            problems = [o for o in owner.objects if not o.id.namespace and self._namespaced(o, scopes, unknown)]
            if not problems:
                continue
            problem = problems[0]
            error = RenderError(
                f"{problem.id.kind}/{problem.id.name} namespace not specified",
                subject=owner.id,
                hint="set metadata.namespace, or targetNamespace on the Flux Kustomization "
                "(kustomize-controller does not default it)",
            )
            if self.building:
                self.diagnostics.append(Diagnostic(error.message(beside=owner.origin), owner.id, owner.origin))
            else:
                self.owners[owner.id] = not_planned(owner, error.message(beside=owner.origin), Cause.ERROR)
        for stand_in in self.stand_ins.values():  # ids only: the caller renders it when in doubt
            for obj in stand_in.objects:
                if not obj.id.namespace and self._namespaced(obj, scopes, unknown):
                    raise RenderError(f"{obj.id.kind}/{obj.id.name} namespace not specified", subject=stand_in.id)
        for (group, kind), count in sorted(unknown.items()):
            self.diagnostics.append(
                Diagnostic(
                    f"{kind}.{group} has no CustomResourceDefinition in the fleet (it ships in a chart or is "
                    f"installed out of band): {count} object(s) without a namespace taken as cluster-scoped"
                )
            )

    def _namespaced(self, obj: DesiredObject, scopes: KindScopes, unknown: dict[tuple[str, str], int]) -> bool:
        group, kind = obj.id.group, obj.id.kind
        if scopes.knows(group, kind):
            return scopes.is_namespaced(group, kind)
        if self.options.cluster_scope is not None:
            served = self.options.cluster_scope(group, kind)
            if served is not None:
                return served
        unknown[(group, kind)] = unknown.get((group, kind), 0) + 1
        return False  # as the object says: no namespace, so cluster-scoped


#: a Kustomization built but waiting for a substituteFrom object, and what it waits for
_Deferred = tuple[FluxKustomization, BuildOutput, VariablesPending]


def _missing_object(ks: FluxKustomization, missing: VariablesPending) -> ObjectNotFound:
    """Why a Kustomization's substitution cannot finish: the object nothing produces."""
    return ObjectNotFound(
        f"substitute from '{missing.kind}/{missing.name}' error: not found in namespace "
        f"{ks.id.namespace} (nothing in the fleet produces it)",
        (missing.kind, ks.id.namespace, missing.name),
        subject=ks.id,
        location=ks.origin,
        hint="mark it optional: true, or add it to the fleet",
    )


def _no_generator(ks: FluxKustomization) -> SourceError:
    ref = ks.source_ref
    return SourceError(
        f"no ArtifactGenerator in the fleet produces ExternalArtifact {ref.namespace}/{ref.name}",
        subject=ks.id,
        location=ks.origin,
        hint=f"add the generator, or map it with --source {ref.namespace}/{ref.name}=DIR",
    )


class SourcePending(Exception):
    """A Kustomization's ExternalArtifact has no generator yet; retried after the next wave."""

    def __init__(self, ks: FluxKustomization) -> None:
        super().__init__(str(ks.source_ref))
        self.ks = ks


def _git_commit(directory: Path) -> str:
    """HEAD of the git work tree holding `directory`, or "" (not a repository, no git, no commit)."""
    with contextlib.suppress(SourceError):
        return GitRepository.containing(directory).resolve("HEAD")
    return ""


def _timed(progress: Progress, owner: ObjectId, build: Callable[..., BuildOutput], *args: Any) -> BuildOutput:
    """`build(*args)` in a worker, reported to `progress` with its time (failed if it raises)."""
    with timed(progress, Stage.BUILD, str(owner)):
        return build(*args)


def _may_carry_secrets(ks: FluxKustomization, output: BuildOutput, objects: Sequence[DesiredObject]) -> bool:
    """Whether a secret value may have reached a Kustomization's objects: it substitutes
    variables from a Secret, or it decrypted anything (generator inputs, whose builds have
    no recorded closure, or resources). Over-approximate: it only decides what is cached."""
    post_build = ks.post_build or {}
    refs = post_build.get("substituteFrom") or []
    if any(isinstance(ref, Mapping) and ref.get("kind") == "Secret" for ref in refs):
        return True
    if output.secret_values or any(obj.sensitive_paths for obj in objects):
        return True
    return ks.decryption is not None and not output.files


def _build_decrypted(request: BuildRequest, ks: FluxKustomization, decryptor: Decryptor) -> BuildOutput:
    """Build from a private tmpfs copy holding decrypted generator inputs; never cached."""
    directory = secure_join(request.root, request.path)
    with decryptor.decrypted_tree(ks, directory, request.root) as (tree, values):
        output = build_directory(replace(request, root=tree, view=None), BuildCache.disabled())
    return BuildOutput(output.text, frozenset(), cached=False, secret_values=values, documents=output.documents)


def _self_managing_in_files(directory: Path, target: str) -> FluxKustomization | None:
    """The Kustomization written below `directory` whose path is `target`, read from the
    files when the start path itself does not build (so its owner still has its name)."""
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(f for f in filenames if f.endswith((".yaml", ".yml"))):
            with contextlib.suppress(OSError, yamlio.YamlError, RenderError):
                for doc in yamlio.load_all(read_limited(Path(dirpath) / name)):
                    spec = doc.get("spec") if isinstance(doc, dict) else None
                    path = normalise_path(str(spec.get("path") or "")) if isinstance(spec, dict) else None
                    if path == target and may_build_from_repository(doc):
                        rel = (Path(dirpath) / name).relative_to(directory).as_posix()
                        return FluxKustomization.from_doc(doc, SourceLocation(rel))
    return None


def _output_docs(output: BuildOutput, target: str | None = None) -> list[dict[str, Any]]:
    """The mapping documents of a build's output (parsed by the build when it could), or
    with a `target`, those that may be a Flux Kustomization whose path it is: kustomize
    writes one document per object with plain scalars, so a document not mentioning the
    group and the path is not one. Every document, when none passes (the filter must never
    be the reason none is found)."""
    texts = split_documents(output.text)
    chosen = list(range(len(texts)))
    if target:
        chosen = [i for i, text in enumerate(texts) if KUSTOMIZATION_GROUP in text and target in text] or chosen
    if output.documents is None or len(output.documents) != len(texts):
        return list(_docs("---\n".join(texts[i] for i in chosen)))
    return [yamlio.clone(output.documents[i]) for i in chosen if isinstance(output.documents[i], dict)]


def _docs(text: str) -> Iterator[dict[str, Any]]:
    try:
        for doc in yamlio.load_all(text):
            if isinstance(doc, dict):
                yield doc
    except yamlio.YamlError as exc:
        raise RenderError("kustomize output is not valid YAML", detail=str(exc)) from exc


def discover(start: Path, options: DiscoverOptions | None = None) -> DesiredState:
    """Build the fleet reachable from `start` (a directory, or the file of the Kustomization
    owning one). Temp artifacts are removed before returning."""
    kustomize_engine()  # a bad FLUXFORM_KUSTOMIZE_ENGINE is one error, not every owner's
    with contextlib.ExitStack() as stack:
        return _Discovery(options or DiscoverOptions(), stack).run(start)
