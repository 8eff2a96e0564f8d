"""Build one Flux Kustomization's directory with real kustomize, as kustomize-controller does.

kustomize-controller writes its merged kustomization.yaml into its own copy of the artifact.
We must not write into the shared artifact (parallel builds, and a parent directory's
generator walk would see our files), so each build gets a private *mirror*: the directories
on the path from the artifact root down to the build directory are real, everything else
is a symlink back into the artifact. Relative references (`../base`, `../../components`)
therefore resolve exactly as in the artifact, and our kustomization.yaml sits where Flux
writes its own.

    output = build_directory(request, cache)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.kustomize.binary import kustomize_build, kustomize_tool
from fluxform.limits import DEFAULT_BUILD_TIMEOUT, LimitExceeded, check_object_count
from fluxform.objects import ObjectId, SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.kustomization.cache import BuildCache, build_key
from fluxform.planner.kustomization.closure import input_closure, repo_relative
from fluxform.planner.kustomization.generate import KUSTOMIZATION_FILE_NAMES, prepare_kustomization
from fluxform.scratch import scratch_dir

__all__ = ["BuildOutput", "BuildRequest", "build_directory"]


@dataclass(frozen=True)
class BuildRequest:
    owner: ObjectId  # the Flux Kustomization (or the synthetic root) being built
    origin: SourceLocation | None  # where the owner is defined
    root: Path  # artifact root
    path: str  # spec.path as written
    spec: dict[str, object] | None  # the Flux Kustomization spec (None: plain build)
    timeout: float = DEFAULT_BUILD_TIMEOUT  # seconds kustomize may take (--build-timeout)


@dataclass(frozen=True)
class BuildOutput:
    text: str  # kustomize's multi-document output
    files: frozenset[Path]  # input closure (absolute)
    cached: bool
    #: what decrypted generator inputs put into the output (memory only; never cached)
    secret_values: frozenset[str] = field(default=frozenset(), repr=False)


def _mirror(root: Path, target: Path, mirror_root: Path) -> Path:
    """Real directories along root->target, symlinks for everything beside them."""
    rel_parts = target.relative_to(root).parts
    src, dst = root, mirror_root
    dst.mkdir(parents=True, exist_ok=True)
    for depth in range(len(rel_parts) + 1):
        next_part = rel_parts[depth] if depth < len(rel_parts) else None
        at_target = next_part is None
        for entry in sorted(src.iterdir()):
            if entry.name == next_part or (at_target and entry.name in KUSTOMIZATION_FILE_NAMES):
                continue
            os.symlink(entry, dst / entry.name)
        if next_part is None:
            break
        src, dst = src / next_part, dst / next_part
        dst.mkdir()
    return dst


def build_directory(request: BuildRequest, cache: BuildCache) -> BuildOutput:
    directory = secure_join(request.root, request.path)
    if not directory.is_dir():
        raise RenderError(
            f"kustomization path not found: {request.path or './'}",
            subject=request.owner,
            location=request.origin,
            hint="spec.path is relative to the source root",
        )
    try:
        prepared = prepare_kustomization(directory, spec=request.spec, root=request.root)
        document_text = yamlio.dump(prepared.document)
        files = input_closure(request.root, directory, prepared.document)
        root = request.root.resolve()
        # reads every input, refusing one over the file size limit (limits.py)
        key = build_key(kustomize_tool().version, document_text, files, root, str(directory.relative_to(request.root)))
        cached = cache.get(key)
        if cached is not None:
            check_object_count(cached, "kustomize build")
            return BuildOutput(cached, frozenset(files), cached=True)
        _refuse_alias_bombs(files, root)
        text = _run_build(request, directory, document_text, files)
        check_object_count(text, "kustomize build")
    except RenderError as exc:
        raise exc.with_context(subject=request.owner, location=request.origin) from None
    cache.put(key, text)
    return BuildOutput(text, frozenset(files), cached=False)


def _refuse_alias_bombs(files: Iterable[Path], root: Path) -> None:
    """kustomize expands YAML aliases without bound: refuse a file whose aliases expand past
    yamlio's bound before it runs (the heap limit would stop it too, but after gigabytes)."""
    for path in sorted(files):
        if path.suffix in (".yaml", ".yml"):
            try:
                yamlio.check_alias_expansion(path.read_bytes())
            except yamlio.YamlError as exc:
                raise LimitExceeded(
                    str(exc),
                    location=SourceLocation(repo_relative(path, root), exc.line),
                    hint="a YAML alias bomb? anchors and aliases must not multiply a document",
                ) from None


def _run_build(request: BuildRequest, directory: Path, document_text: str, files: Iterable[Path]) -> str:
    with scratch_dir("fluxform-build-") as tmp:
        try:
            build_dir = _mirror(request.root, directory, tmp / "root")
            (build_dir / "kustomization.yaml").write_text(document_text, encoding="utf-8")
            # kustomize names files below the mirror or, past a symlink, below the artifact
            # (a private copy): both stand for the repository root
            return kustomize_build(build_dir, timeout=request.timeout, paths={tmp / "root": "", request.root: ""})
        except RenderError as exc:
            location = _duplicate_key_file(exc.detail, files, request.root.resolve()) or request.origin
            raise exc.with_context(subject=request.owner, location=location) from None


_DUPLICATE = re.compile(r'line (\d+): mapping key "(.+?)" already defined at line (\d+)')


def _duplicate_key_file(message: str, files: Iterable[Path], root: Path) -> SourceLocation | None:
    """The input file a Go YAML decoder refused for a duplicate key: its message names the
    line and the key but not the file."""
    match = _DUPLICATE.search(message)
    if match is None:
        return None
    wanted = (match.group(2), int(match.group(1)), int(match.group(3)))
    for path in sorted(files):
        if path.suffix in (".yaml", ".yml") and wanted in yamlio.duplicate_keys(path.read_bytes()):
            return SourceLocation(repo_relative(path, root), wanted[1])
    return None
