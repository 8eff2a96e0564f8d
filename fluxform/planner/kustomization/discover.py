"""Discover and build a fleet the way Flux walks it in a cluster.

Starting from a path (usually `clusters/<name>`), build it, find the Flux Kustomizations in
the output, build those, and so on, until nothing new appears. The start path is normally
built by a self-managing `flux-system` Kustomization found in its own output; when there
is none, a synthetic root owner stands in for it.

Builds (kustomize subprocesses) run in parallel; the Flux steps after them (decryption,
substitution) run in order because substituteFrom may read objects another build makes.

    state = discover(Path("fixtures/fleet/clusters/staging"), DiscoverOptions())
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import Diagnostic, FluxformError, MissingKeys, ObjectNotFound, RenderError, SourceError
from fluxform.kinds import KindScopes
from fluxform.limits import DEFAULT_BUILD_TIMEOUT, read_limited
from fluxform.objects import ObjectId, SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.dag import order_owners
from fluxform.planner.kustomization.build import BuildOutput, BuildRequest, build_directory
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.generate import spec_changes_build
from fluxform.planner.kustomization.postbuild import (
    Decryptor,
    PostBuildContext,
    VariablesPending,
    finalize_kustomization,
)
from fluxform.planner.kustomization.spec import KUSTOMIZATION_GROUP, FluxKustomization, SourceRef, is_flux_kustomization
from fluxform.planner.model import DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.planner.ownership import one_owner_per_object
from fluxform.scratch import scratch_dir
from fluxform.sources.artifact import Artifact, IgnoreMatcher, copy_filtered, materialize_artifact
from fluxform.sources.generator import GENERATOR_GROUP, ArtifactGenerator, build_artifact
from fluxform.sources.git import GitRepository

__all__ = ["ROOT_OWNER_NAME", "DiscoverOptions", "HelmHook", "discover", "find_repo_root"]

ROOT_OWNER_NAME = "fluxform-root"
EXTERNAL_ARTIFACT = "ExternalArtifact"

#: Renders HelmReleases found in the desired state; returns their owners (objects inside)
#: and warnings.
HelmHook = Callable[["DiscoveryContext"], tuple[list[Owner], list[Diagnostic]]]


@dataclass(frozen=True)
class DiscoverOptions:
    sources: Mapping[str, Path] = field(default_factory=dict)  # --source NAME=DIR
    repo_root: Path | None = None  # the directory the self source's paths are relative to
    strict_substitute: bool = True  # StrictPostBuildSubstitutions, on by default since Flux 2.9
    jobs: int = max(1, os.cpu_count() or 1)
    cache: BuildCache = field(default_factory=BuildCache.disabled)
    decryptor: Decryptor | None = None
    helm: HelmHook | None = None
    # artifacts the caller already materialised (origin dir -> artifact), reused instead of
    # copying the tree again; the caller owns their lifetime (e.g. one per revision in a diff)
    artifacts: Mapping[Path, Artifact] = field(default_factory=dict)
    # the git commit the self source is at, when the caller knows it better than the directory
    # does (a revision extracted from git has no .git); "" means ask git about the directory
    source_commit: str = ""
    # owners rendered elsewhere (e.g. from a base revision's index, in a changed-only diff):
    # they are not built here but stand in for themselves in the result (ordering, counts,
    # the one-owner-per-object check); their objects carry ids only. Anything not listed,
    # including owners unknown to the caller, is rendered.
    stand_ins: tuple[Owner, ...] = ()
    stand_in_scopes: Mapping[tuple[str, str], bool] = field(default_factory=dict)  # their CRDs' scopes
    # "warn": a Kustomization whose source cannot be resolved locally, or whose substituteFrom
    # object nothing in the fleet produces (made at run time, e.g. by external-secrets), is
    # planned as not rendered with a warning instead of failing the plan
    missing_sources: str = "error"
    missing_objects: str = "error"
    missing_keys: str = "error"  # "warn": one that must decrypt with no key given is not rendered
    build_timeout: float = DEFAULT_BUILD_TIMEOUT  # seconds one kustomize build may take


@dataclass
class DiscoveryContext:
    """What the Helm hook needs: the objects so far and where each source lives on disk."""

    objects: dict[ObjectId, DesiredObject]
    source_dirs: dict[SourceRef, Path]
    self_root: Path
    source_commits: dict[SourceRef, str] = field(default_factory=dict)  # git commit, when known
    source_digests: dict[SourceRef, str] = field(default_factory=dict)  # artifact digest
    scopes: KindScopes = field(default_factory=KindScopes)  # CRDs of the whole desired state
    skip: frozenset[ObjectId] = frozenset()  # HelmReleases standing in (DiscoverOptions.stand_ins)

    def lookup(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        for obj in self.objects.values():
            if obj.id.kind == kind and obj.id.namespace == namespace and obj.id.name == name:
                return obj.body
        return None


def _normalise_path(path: str) -> str:
    clean = posixpath.normpath("/" + path.replace("\\", "/")).strip("/")
    return "" if clean == "." else clean


def _kustomization_paths_in_files(directory: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")):
                with contextlib.suppress(OSError):
                    yield from _kustomization_paths(read_limited(Path(dirpath) / name))


@functools.lru_cache(maxsize=4096)
def _kustomization_paths(data: bytes) -> tuple[str, ...]:
    """spec.path (normalised) of every Flux Kustomization in a file's content; memoised by
    content, because both sides of a diff hold mostly the same files."""
    if KUSTOMIZATION_GROUP.encode() not in data:
        return ()
    try:
        docs = yamlio.load_all(data)
    except yamlio.YamlError:
        return ()
    return tuple(
        _normalise_path(str((doc.get("spec") or {}).get("path") or ""))
        for doc in docs
        if isinstance(doc, dict) and _may_build_from_repository(doc)
    )


def _may_build_from_repository(doc: Mapping[str, Any]) -> bool:
    """A Flux Kustomization whose path may be relative to the repository: not one reading an
    ExternalArtifact (its paths are inside an artifact an ArtifactGenerator builds)."""
    if not is_flux_kustomization(doc):
        return False
    ref = (doc.get("spec") or {}).get("sourceRef")
    return not (isinstance(ref, Mapping) and ref.get("kind") == EXTERNAL_ARTIFACT)


@functools.lru_cache(maxsize=4096)
def _kinds_and_names(data: bytes) -> tuple[tuple[str, str, str], ...]:
    """(kind, metadata.name, metadata.namespace or "") of every document of a file that
    mentions a Flux API group; memoised by content like `_kustomization_paths`."""
    if b"toolkit.fluxcd.io" not in data:
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


def find_repo_root(start: Path, is_dir: Callable[[Path], bool] = Path.is_dir, top: Path | None = None) -> Path:
    """The source root the Kustomizations under `start` are relative to: where one of them
    points back at `start` (flux bootstrap's layout), else the nearest ancestor in which
    every Kustomization path exists (`is_dir`: a tree written partly on disk can answer
    from its listing), else the git work tree (`top` when the caller knows it: a tree
    extracted from git has no .git), else `start` itself."""
    start = start.resolve()
    paths = []
    for rel in _kustomization_paths_in_files(start):
        parts = tuple(p for p in rel.split("/") if p)
        if parts and start.parts[-len(parts) :] == parts:
            return Path(*start.parts[: -len(parts)])
        paths.append(rel)
    if paths:
        for candidate in (start, *start.parents):
            if all(is_dir(candidate / p) for p in paths):
                return candidate
    if top is not None:
        return top.resolve()
    with contextlib.suppress(SourceError):  # not a git work tree, or no git
        return GitRepository.containing(start).top
    return start


class _Discovery:
    def __init__(self, options: DiscoverOptions, stack: contextlib.ExitStack) -> None:
        self.options = options
        self.stack = stack
        self.artifacts: dict[Path, Artifact] = {k.resolve(): v for k, v in options.artifacts.items()}
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
        self.generated: dict[tuple[str, str], Path] = {}  # (namespace, name) of ExternalArtifacts built
        self.inputs: dict[ObjectId, tuple[Path, frozenset[Path]]] = {}  # (source root, build closure)
        self.fleet_path = ""  # the start path, relative to the repository root

    # -- sources -------------------------------------------------------------------------
    def artifact(self, directory: Path) -> Artifact:
        directory = directory.resolve()
        if directory not in self.artifacts:
            self.artifacts[directory] = self.stack.enter_context(materialize_artifact(directory))
        return self.artifacts[directory]

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
                hint=f"map it with --source {ref.namespace}/{ref.name}=DIR",
            )
        self.source_dirs[ref] = root
        return root

    def _source_dir(self, ref: SourceRef, self_artifact: Artifact) -> Path | None:
        """Where a source's artifact is: a --source mapping, or the self source."""
        for key in (f"{ref.kind}/{ref.namespace}/{ref.name}", f"{ref.namespace}/{ref.name}", ref.name):
            if key in self.options.sources:
                return self.artifact(self.options.sources[key]).root
        if ref == self.self_source or (self.self_source is None and ref.name == "flux-system"):
            return self_artifact.root
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
    def submit(self, ks: FluxKustomization, root: Path) -> Future[BuildOutput]:
        request = BuildRequest(ks.id, ks.origin, root, ks.path, dict(ks.spec), self.options.build_timeout)
        decryptor = self.options.decryptor
        directory = secure_join(root, ks.path)
        if decryptor is not None and directory.is_dir() and decryptor.needs_source_decryption(ks, directory, root):
            return self.pool.submit(_build_decrypted, request, ks, decryptor)
        plain = self._plain_root
        if plain is not None and plain[0] == directory and not spec_changes_build(ks.spec):
            done: Future[BuildOutput] = Future()  # the start path was already built as is
            done.set_result(plain[1])
            return done
        return self.pool.submit(build_directory, request, self.options.cache)

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
    ) -> None:
        self.claim(ks.id, objects)
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
            objects=tuple(objects),
            details={"targetNamespace": ks.target_namespace or "", "suspend": ks.suspend},
            diagnostics=diagnostics,
            spec=ks.apply_spec,
        )

    def children(
        self, objects: Sequence[DesiredObject], parent: ObjectId, files: frozenset[Path], root: Path
    ) -> list[FluxKustomization]:
        found = []
        for obj in objects:
            if is_flux_kustomization(obj.body) and obj.id != parent:
                location = obj.origin or SourceLocation(f"output of {parent}")
                ks = FluxKustomization.from_doc(obj.body, location)
                self.parents.setdefault(ks.id, parent)
                found.append(ks)
        return found

    def _located(self, obj: DesiredObject, files: frozenset[Path], root: Path) -> DesiredObject:
        """Flux objects get the file they were written in, so their errors can name it
        (not those standing in: nothing here reports on them)."""
        if "toolkit.fluxcd.io" not in obj.id.group or obj.id in self.stand_ins:
            return obj
        return replace(obj, origin=self._definition_file(obj.id, files, root))

    def _definition_file(self, oid: ObjectId, files: frozenset[Path], root: Path) -> SourceLocation | None:
        """The file a Flux object was written in, so errors can name it (kustomize drops it)."""
        exact, unnamespaced = (oid.kind, oid.name, oid.namespace), (oid.kind, oid.name, "")
        fallback: Path | None = None  # written without a namespace (a kustomization sets it)
        for path in sorted(files):
            if path.suffix not in (".yaml", ".yml"):
                continue
            docs = self._flux_objects_in(path, oid.name)
            if exact in docs:
                fallback = path
                break
            if fallback is None and unnamespaced in docs:
                fallback = path
        if fallback is not None:
            with contextlib.suppress(ValueError):
                return SourceLocation(str(fallback.resolve().relative_to(root.resolve())))
        return None

    def _flux_objects_in(self, path: Path, name: str) -> tuple[tuple[str, str, str], ...]:
        """(kind, name, namespace) of the documents of a file defining Flux objects; parsed only when
        the file mentions both a Flux API group and the name looked for."""
        data = self._file_bytes.get(path)
        if data is None:
            data = self._file_bytes[path] = path.read_bytes()  # in the build closure: its size was checked
        if name.encode() not in data:
            return ()
        return _kinds_and_names(data)

    def run(self, start: Path) -> DesiredState:
        if not start.is_dir():
            raise RenderError(f"path {start} does not exist or is not a directory")
        repo_root = (self.options.repo_root or find_repo_root(start)).resolve()
        self_artifact = self.artifact(repo_root)
        rel_start = str(start.resolve().relative_to(repo_root)) if start.resolve() != repo_root else ""
        self.fleet_path = rel_start
        root_ks = self._root_kustomization(self_artifact, rel_start)
        self.parents[root_ks.id] = None
        queue: list[FluxKustomization] = [root_ks]
        deferred: list[_Deferred] = []
        while queue or deferred:
            queue, deferred = self._wave(queue, deferred, self_artifact)
        scopes = KindScopes.from_manifests(o.body for o in self.objects.values())
        scopes = KindScopes({**self.options.stand_in_scopes, **scopes.crd_scopes})
        standing = [obj for owner in self.stand_ins.values() for obj in owner.objects]  # ids suffice here
        self._check_namespaces([*self.objects.values(), *standing], scopes)
        if self.options.helm is not None:
            started = time.perf_counter()
            commit = self.options.source_commit or _git_commit(repo_root)
            context = DiscoveryContext(
                self.objects,
                self.source_dirs,
                self_artifact.root,
                {ref: commit for ref, root in self.source_dirs.items() if root == self_artifact.root},
                {
                    ref: a.digest
                    for a in self.artifacts.values()
                    for ref, root in self.source_dirs.items()
                    if root == a.root
                },
                scopes,
                frozenset(self.stand_ins),
            )
            owners, diagnostics = self.options.helm(context)
            self.diagnostics.extend(diagnostics)
            for owner in owners:
                self.claim(owner.id, owner.objects)
                self.owners[owner.id] = owner
            self.timings["helm"] = time.perf_counter() - started
        self._check_stand_ins()
        ordered, dag_diags = order_owners([*self.owners.values(), *self.stand_ins.values()])
        ordered = one_owner_per_object(ordered, frozenset(self.stand_ins))
        return DesiredState(
            owners=tuple(ordered),
            stand_ins=frozenset(self.stand_ins),
            inputs=dict(self.inputs),
            source_revision=self_artifact.digest,
            # owner by owner in dependency order, so a render standing in for some owners
            # reports the same warnings in the same order as a full one
            diagnostics=(*self.diagnostics, *(d for o in ordered for d in o.diagnostics), *dag_diags),
            settings={
                "fleet_path": self.fleet_path,
                "strict_substitute": self.options.strict_substitute,
                "self_source": str(self.self_source) if self.self_source else "",
            },
            timings=dict(self.timings),
        )

    def _check_stand_ins(self) -> None:
        for stand_in in self.stand_ins.values():
            if stand_in.id in self.owners:
                raise RenderError(f"{stand_in.id} was rendered although it stands in (caller error)")

    def _root_kustomization(self, artifact: Artifact, rel_start: str) -> FluxKustomization:
        """The self-managing Kustomization whose path is the start path, or a synthetic one."""
        synthetic = _synthetic_root(rel_start)
        request = BuildRequest(synthetic.id, None, artifact.root, rel_start, None, self.options.build_timeout)
        output = build_directory(request, self.options.cache)
        self._plain_root = (secure_join(artifact.root, rel_start), output)
        target = _normalise_path(rel_start)
        for doc in _docs(_candidates(output.text, target)):
            spec = doc.get("spec") or {}
            if _may_build_from_repository(doc) and _normalise_path(str(spec.get("path") or "")) == target:
                ks = FluxKustomization.from_doc(doc, SourceLocation(rel_start or "./"))
                self.self_source = ks.source_ref
                return ks
        self.diagnostics.append(
            Diagnostic(
                f"no Flux Kustomization under {rel_start or './'} builds it; planning it as a plain "
                "kustomize build owned by fluxform itself"
            )
        )
        return synthetic

    def _wave(
        self,
        queue: list[FluxKustomization],
        deferred: list[_Deferred],
        self_artifact: Artifact,
    ) -> tuple[list[FluxKustomization], list[_Deferred]]:
        futures: list[tuple[FluxKustomization, Future[BuildOutput]]] = []
        waiting: list[FluxKustomization] = []
        for ks in sorted(queue, key=lambda k: k.id):
            if ks.id in self.owners:
                raise RenderError(f"Flux Kustomization {ks.id} is defined more than once", location=ks.origin)
            if ks.id in self.stand_ins:
                continue  # rendered elsewhere; it stands in for itself
            if ks.suspend:
                self.add_owner(ks, [], OwnerStatus.SUSPENDED)
                continue
            if ks.spec.get("kubeConfig"):  # as for HelmReleases: another cluster's objects
                note = Diagnostic("applies to a remote cluster (spec.kubeConfig): not planned", ks.id, ks.origin)
                self.add_owner(ks, [], OwnerStatus.EXTERNAL, (note,))
                continue
            try:
                root = self.resolve_source(ks, self_artifact)
            except SourcePending:
                waiting.append(ks)  # its ExternalArtifact's generator may come from this wave
                continue
            except SourceError as exc:
                self._unresolved(ks, exc, self.options.missing_sources)
                continue
            futures.append((ks, self.submit(ks, root)))
        started = time.perf_counter()
        ready = [(ks, output) for ks, output, _ in deferred]
        for ks, future in futures:
            try:
                ready.append((ks, future.result()))
            except MissingKeys as exc:  # its generator inputs are encrypted
                self._unresolved(ks, exc, self.options.missing_keys)
        self.timings["build"] = self.timings.get("build", 0.0) + time.perf_counter() - started
        next_queue: list[FluxKustomization] = []
        still_deferred: list[_Deferred] = []
        progressed = False
        for ks, output in ready:
            try:
                objects, diags = finalize_kustomization(ks, output.text, self._postbuild_context())
            except VariablesPending as pending:
                still_deferred.append((ks, output, pending))
                continue
            except MissingKeys as exc:
                self._unresolved(ks, exc, self.options.missing_keys)
                continue
            progressed = True
            root = self.source_dirs.get(ks.source_ref, self_artifact.root)
            objects = [self._located(obj, output.files, root) for obj in objects]
            self.add_owner(ks, objects, OwnerStatus.BUILT, tuple(diags))
            if output.files:  # not known for builds from a decrypted copy
                self.inputs[ks.id] = (root, output.files)
            next_queue.extend(self.children(objects, ks.id, output.files, root))
        stuck = not progressed and not next_queue and not futures
        if stuck and waiting:
            for ks in waiting:
                self._unresolved(ks, _no_generator(ks), self.options.missing_sources)
            waiting = []
        next_queue.extend(waiting)
        if stuck and still_deferred and not next_queue:
            for ks, _, waiting_for in still_deferred:
                self._unresolved(ks, _missing_object(ks, waiting_for), self.options.missing_objects)
            still_deferred = []
        return next_queue, still_deferred

    def _unresolved(self, ks: FluxKustomization, error: FluxformError, policy: str) -> None:
        """Raise `error`; with policy "warn", plan `ks` as not rendered and say why (its
        objects are left alone, as Flux leaves them when the reconciliation fails)."""
        if policy != "warn":
            raise error.with_context(subject=ks.id, location=ks.origin)
        self.add_owner(ks, [], OwnerStatus.EXTERNAL, (Diagnostic.not_rendered(error, ks.id, ks.origin),))

    def _postbuild_context(self) -> PostBuildContext:
        return PostBuildContext(self.lookup, self.options.strict_substitute, self.options.decryptor, self.timings)

    def _check_namespaces(self, objects: list[DesiredObject], scopes: KindScopes) -> None:
        for obj in sorted(objects, key=lambda o: o.id):
            if not obj.id.namespace and scopes.is_namespaced(obj.id.group, obj.id.kind):
                raise RenderError(
                    f"{obj.id.kind}/{obj.id.name} namespace not specified",
                    subject=obj.owner,
                    hint="set metadata.namespace, or targetNamespace on the Flux Kustomization "
                    "(kustomize-controller does not default it)",
                )


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


def _build_decrypted(request: BuildRequest, ks: FluxKustomization, decryptor: Decryptor) -> BuildOutput:
    """Build from a private tmpfs copy holding decrypted generator inputs; never cached."""
    directory = secure_join(request.root, request.path)
    with decryptor.decrypted_tree(ks, directory, request.root) as tree:
        output = build_directory(replace(request, root=tree), BuildCache.disabled())
    return BuildOutput(output.text, frozenset(), cached=False)


def _synthetic_root(rel_start: str) -> FluxKustomization:
    """Stands in for flux-system when the start path has no self-managing Kustomization.
    Its empty namespace marks it synthetic: no Flux owner labels are added for it."""
    return FluxKustomization(
        id=ObjectId("", ROOT_OWNER_NAME, KUSTOMIZATION_GROUP, "Kustomization"),
        origin=SourceLocation(rel_start or "./"),
        path=rel_start,
        source_ref=SourceRef("GitRepository", "flux-system", "flux-system"),
        prune=True,
        suspend=False,
        wait=False,
        interval="",
        timeout=None,
        target_namespace=None,
        name_prefix=None,
        name_suffix=None,
        depends_on=(),
        spec={},
        manifest={},
    )


def _candidates(output: str, target: str) -> str:
    """The documents of kustomize's output that may be a Flux Kustomization whose path is
    `target`: kustomize writes one `---`-separated document per object with plain scalars,
    so a document not mentioning the group and the path is not one. Everything, when no
    document passes (the filter must never be the reason none is found)."""
    if not target:
        return output
    chosen = [d for d in output.split("\n---\n") if KUSTOMIZATION_GROUP in d and target in d]
    return "\n---\n".join(chosen) if chosen else output


def _docs(text: str) -> Iterator[dict[str, Any]]:
    try:
        for doc in yamlio.load_all(text):
            if isinstance(doc, dict):
                yield doc
    except yamlio.YamlError as exc:
        raise RenderError("kustomize output is not valid YAML", detail=str(exc)) from exc


def discover(start: Path, options: DiscoverOptions | None = None) -> DesiredState:
    """Build the fleet reachable from `start`. Temp artifacts are removed before returning."""
    with contextlib.ExitStack() as stack:
        return _Discovery(options or DiscoverOptions(), stack).run(start)
