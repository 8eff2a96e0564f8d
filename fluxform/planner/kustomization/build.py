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
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.kustomize.binary import kustomize_build, kustomize_tool
from fluxform.objects import ObjectId, SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.kustomization.cache import BuildCache, build_key
from fluxform.planner.kustomization.closure import input_closure
from fluxform.planner.kustomization.generate import KUSTOMIZATION_FILE_NAMES, prepare_kustomization

__all__ = ["BuildOutput", "BuildRequest", "build_directory"]


@dataclass(frozen=True)
class BuildRequest:
    owner: ObjectId  # the Flux Kustomization (or the synthetic root) being built
    origin: SourceLocation | None  # where the owner is defined
    root: Path  # artifact root
    path: str  # spec.path as written
    spec: dict[str, object] | None  # the Flux Kustomization spec (None: plain build)


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
    except RenderError as exc:
        raise exc.with_context(subject=request.owner, location=request.origin) from None
    key = build_key(
        kustomize_tool().version, document_text, files, request.root.resolve(), str(directory.relative_to(request.root))
    )
    cached = cache.get(key)
    if cached is not None:
        return BuildOutput(cached, frozenset(files), cached=True)
    text = _run_build(request, directory, document_text)
    cache.put(key, text)
    return BuildOutput(text, frozenset(files), cached=False)


def _run_build(request: BuildRequest, directory: Path, document_text: str) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="fluxform-build-"))
    try:
        os.chmod(tmp, 0o700)
        build_dir = _mirror(request.root, directory, tmp / "root")
        (build_dir / "kustomization.yaml").write_text(document_text, encoding="utf-8")
        return kustomize_build(build_dir)
    except RenderError as exc:
        exc.detail = exc.detail.replace(str(tmp / "root"), "")
        raise exc.with_context(subject=request.owner, location=request.origin) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
