"""The input closure of a kustomize directory: every file a build of it may read.

Used for the build cache key and for changed-only planning. It over-approximates on
purpose (a stale cache entry is a wrong plan; a spurious miss only costs a build): every
file beside a kustomization file, every path-like string in it that exists, recursively.
Remote bases are refused here because fluxform plans offline from the artifact.

    files = input_closure(artifact_root, artifact_root / "apps/staging", prepared.document)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.limits import read_limited
from fluxform.planner.kustomization.generate import find_kustomization_file

__all__ = ["REMOTE_PREFIXES", "file_references", "input_closure", "is_remote"]

REMOTE_PREFIXES = (
    "http://", "https://", "git::", "gh:", "ssh://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/",
)  # fmt: skip


def is_remote(reference: str) -> bool:
    return reference.lower().startswith(REMOTE_PREFIXES) or "?ref=" in reference


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


_LIST_FIELDS = (
    "resources",
    "components",
    "bases",
    "crds",
    "configurations",
    "transformers",
    "generators",
    "validators",
)


def file_references(document: Mapping[str, Any]) -> Iterator[str]:
    """Every path a kustomization makes kustomize read (inline YAML entries excluded)."""
    for field in _LIST_FIELDS:
        for ref in document.get(field) or []:
            if isinstance(ref, str) and "\n" not in ref:
                yield ref
    for field in ("patches", "patchesJson6902", "replacements"):
        for entry in document.get(field) or []:
            if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
                yield entry["path"]
    for entry in document.get("patchesStrategicMerge") or []:
        if isinstance(entry, str) and "\n" not in entry and ":" not in entry:
            yield entry
    for field in ("configMapGenerator", "secretGenerator"):
        for gen in document.get(field) or []:
            if not isinstance(gen, Mapping):
                continue
            for ref in [*(gen.get("files") or []), *(gen.get("envs") or []), gen.get("env")]:
                if isinstance(ref, str) and ref:
                    yield ref.rpartition("=")[2] if "=" in ref else ref
    openapi = document.get("openapi")
    if isinstance(openapi, Mapping) and isinstance(openapi.get("path"), str):
        yield openapi["path"]


def _check_confined(root: Path, directory: Path, document: Mapping[str, Any]) -> None:
    """Flux builds on a secure filesystem rooted at the artifact: nothing outside it loads."""
    for ref in file_references(document):
        if is_remote(ref):
            continue
        target = (directory / ref).resolve()
        if not target.is_relative_to(root):
            raise RenderError(
                f"{ref!r} is outside the source root",
                hint="Flux's secure filesystem refuses files outside the artifact; keep them in the repository",
            )


def _all_files(directory: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def input_closure(root: Path, directory: Path, document: Mapping[str, Any]) -> set[Path]:
    """Files (absolute, inside `root`) a build of `directory` with `document` may read."""
    seen_dirs: set[Path] = set()
    files: set[Path] = set()
    _visit(root.resolve(), directory.resolve(), document, files, seen_dirs)
    return files


def _visit(root: Path, directory: Path, document: Mapping[str, Any] | None, files: set[Path], seen: set[Path]) -> None:
    if directory in seen:
        return
    seen.add(directory)
    if document is None:
        name = find_kustomization_file(directory)
        if name is None:
            # no kustomization: the generator reads everything below
            files.update(_all_files(directory))
            return
        try:
            loaded = yamlio.load(read_limited(directory / name, what=repo_relative(directory / name, root)))
        except yamlio.YamlError:
            loaded = None  # kustomize will report it; the file itself is in the closure below
        document = loaded if isinstance(loaded, Mapping) else {}
    _check_confined(root, directory, document)
    files.update(p for p in directory.iterdir() if p.is_file())
    for field in ("resources", "components", "bases"):
        for ref in document.get(field) or []:
            if isinstance(ref, str) and is_remote(ref):
                raise RenderError(
                    f"remote {field[:-1]} {ref!r} is not supported offline",
                    hint="vendor it into the repository, or map it with --source",
                )
    for text in _strings(document):
        for candidate in (text, text.partition("=")[2]):
            if not candidate or "\n" in candidate or len(candidate) > 4096:
                continue
            path = (directory / candidate).resolve()
            if not path.is_relative_to(root) or not path.exists():
                continue
            if path.is_file():
                files.add(path)
            elif path.is_dir() and path != directory:
                if find_kustomization_file(path) is not None:
                    _visit(root, path, None, files, seen)
                else:
                    files.update(_all_files(path))


def repo_relative(path: Path, root: Path) -> str:
    """`path` as the repository names it (absolute when outside `root`)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
