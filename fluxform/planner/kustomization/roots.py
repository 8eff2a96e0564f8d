"""Where a fleet starts: its source root, and the Kustomization that owns the start path.

The start path (usually `clusters/<name>`) is normally built by a self-managing
`flux-system` Kustomization found in its own output (flux bootstrap's layout). When the
owning Kustomization lies elsewhere (e.g. `deploy/<cluster>/flux-kustomization.yaml`, or a
FluxInstance of flux-operator points at the path), `--root-ks FILE` names it, or the path
given is that file itself; without either, a synthetic root owner stands in for it.

    root = find_repo_root(Path("clusters/staging"))
    ks = root_from_file(Path("deploy/prod/flux-kustomization.yaml"), root, "deploy/prod/app")
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError, SourceError
from fluxform.limits import read_limited
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.kustomization.spec import KUSTOMIZATION_GROUP, FluxKustomization, SourceRef, is_flux_kustomization
from fluxform.sources.git import GitRepository

__all__ = [
    "EXTERNAL_ARTIFACT",
    "ROOT_OWNER_NAME",
    "find_repo_root",
    "may_build_from_repository",
    "normalise_path",
    "repo_root_of_root_file",
    "root_from_file",
    "start_of_root_file",
    "synthetic_root",
]

ROOT_OWNER_NAME = "fluxform-root"
EXTERNAL_ARTIFACT = "ExternalArtifact"


def normalise_path(path: str) -> str:
    clean = posixpath.normpath("/" + path.replace("\\", "/")).strip("/")
    return "" if clean == "." else clean


def may_build_from_repository(doc: Mapping[str, Any]) -> bool:
    """A Flux Kustomization whose path may be relative to the repository: not one reading an
    ExternalArtifact (its paths are inside an artifact an ArtifactGenerator builds)."""
    if not is_flux_kustomization(doc):
        return False
    ref = (doc.get("spec") or {}).get("sourceRef")
    return not (isinstance(ref, Mapping) and ref.get("kind") == EXTERNAL_ARTIFACT)


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
        normalise_path(str((doc.get("spec") or {}).get("path") or ""))
        for doc in docs
        if isinstance(doc, dict) and may_build_from_repository(doc)
    )


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


def synthetic_root(rel_start: str) -> FluxKustomization:
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


def _flux_kustomizations(file: Path) -> list[dict[str, Any]]:
    try:
        docs = yamlio.load_all(read_limited(file))
    except (OSError, yamlio.YamlError) as exc:
        raise RenderError(f"{file}: cannot read the root Kustomization file", detail=str(exc)) from None
    found = [d for d in docs if isinstance(d, dict) and may_build_from_repository(d)]
    if not found:
        raise RenderError(
            f"{file} holds no Flux Kustomization reading a GitRepository, OCIRepository or Bucket",
            hint="--root-ks names the file of the Kustomization whose spec.path is the start path",
        )
    return found


def start_of_root_file(file: Path, repo_root: Path | None) -> tuple[Path, Path]:
    """(source root, start path) when the path given is a Kustomization file: its
    spec.path, relative to `repo_root` or else to the nearest ancestor of the file holding
    that path (else the git work tree)."""
    docs = _flux_kustomizations(file)
    if len(docs) > 1:
        raise RenderError(
            f"{file} holds {len(docs)} Flux Kustomizations", hint="give the start path and --root-ks FILE"
        )
    rel = normalise_path(str((docs[0].get("spec") or {}).get("path") or ""))
    if repo_root is None:
        folder = file.resolve().parent
        repo_root = next((c for c in (folder, *folder.parents) if (c / rel).is_dir()), None)
    if repo_root is None:
        with contextlib.suppress(SourceError):
            repo_root = GitRepository.containing(file.resolve().parent).top
    if repo_root is None or not (repo_root / rel).is_dir():
        raise RenderError(
            f"{file}: spec.path {rel or './'} is not a directory of any folder above it",
            hint="pass --repo-root DIR (the source root spec.path is relative to)",
        )
    return repo_root.resolve(), (repo_root / rel).resolve()


def repo_root_of_root_file(file: Path, start: Path) -> Path | None:
    """The source root under which a Kustomization of `file` has `start` as its spec.path:
    the nearest ancestor of `start` that makes one of their paths point at it."""
    paths = {normalise_path(str((d.get("spec") or {}).get("path") or "")) for d in _flux_kustomizations(file)}
    start = start.resolve()
    for candidate in (start, *start.parents):
        if normalise_path(start.relative_to(candidate).as_posix()) in paths:
            return candidate
    return None


def root_from_file(file: Path, repo_root: Path, rel_start: str) -> FluxKustomization:
    """The Flux Kustomization of `file` whose spec.path is the start path (`--root-ks`)."""
    target = normalise_path(rel_start)
    for doc in _flux_kustomizations(file):
        if normalise_path(str((doc.get("spec") or {}).get("path") or "")) == target:
            try:
                origin = SourceLocation(file.resolve().relative_to(repo_root).as_posix())
            except ValueError:
                origin = SourceLocation(str(file))
            return FluxKustomization.from_doc(doc, origin)
    raise RenderError(
        f"{file}: no Flux Kustomization in it has spec.path {target or './'} (the start path)",
        hint="give the start path its own Kustomization's file, or that file alone as the path",
    )
