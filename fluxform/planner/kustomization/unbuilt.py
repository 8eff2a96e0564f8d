"""What a Kustomization that could not be built would have rendered, as far as can be told.

When a Kustomization fails (its source, its build, its substitution, its decryption), Flux
applies nothing of it, so the Flux Kustomizations and HelmReleases only it would create or
update are not reconciled from this revision either. They are listed as "not planned:
depends on X" rather than silently dropped: from the raw build when kustomize got that far
(its object ids also say what the failed owner would produce, for those waiting on it),
else from the Flux objects written in the files below its `spec.path`, and, recursively,
below theirs.

    found = from_raw_build(ks, output_text)      # or: from_files(ks, source_root)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.limits import LimitExceeded, read_limited
from fluxform.objects import ObjectId, SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.kustomization.roots import normalise_path
from fluxform.planner.kustomization.spec import KUSTOMIZATION_GROUP, FluxKustomization, is_flux_kustomization

__all__ = ["FluxChild", "from_files", "from_raw_build", "produced_ids"]

_HELM_GROUP = "helm.toolkit.fluxcd.io"
_MAX_SCANNED_FILES = 20_000  # a bound on the walk below one failed Kustomization


@dataclass(frozen=True)
class FluxChild:
    """A Flux object a failed owner would have applied: its id, its parent, its file."""

    id: ObjectId
    parent: ObjectId
    origin: SourceLocation | None
    depends_on: tuple[ObjectId, ...] = ()


def produced_ids(output_text: str) -> list[ObjectId]:
    """Ids of the objects of a raw kustomize build (before Flux's own steps)."""
    return [ObjectId.from_manifest(doc) for doc in _docs(output_text) if _named(doc)]


def from_raw_build(ks: FluxKustomization, output_text: str) -> list[FluxChild]:
    """The Flux children in a raw build of `ks`."""
    return [c for doc in _docs(output_text) if (c := _child(doc, ks.id, ks.id.namespace, None)) is not None]


def from_files(ks: FluxKustomization, root: Path | None) -> list[FluxChild]:
    """The Flux children written below `ks`'s path in its source (when it is known), and
    below the paths of the Kustomizations among them, each path walked once. A document's
    parent is the Kustomization whose path holds its file most closely."""
    if root is None:
        return []
    found: dict[ObjectId, tuple[FluxChild, str]] = {}  # child -> (it, the directory of its file)
    paths: dict[ObjectId, str] = {ks.id: normalise_path(ks.path)}
    todo: list[tuple[str, str]] = [(ks.path, ks.target_namespace or ks.id.namespace)]
    walked: set[str] = set()
    budget = [_MAX_SCANNED_FILES]
    while todo:
        path, namespace = todo.pop(0)
        if "${" in path or normalise_path(path) in walked:
            continue
        walked.add(normalise_path(path))
        for file, doc in _flux_docs(secure_join(root, path), budget):
            origin = SourceLocation(file.relative_to(root).as_posix())
            child = _child(doc, ks.id, namespace, origin)
            if child is None or child.id == ks.id or child.id in found:
                continue
            found[child.id] = (child, normalise_path(file.parent.relative_to(root).as_posix()))
            if child.id.kind == "Kustomization":
                spec: Mapping[str, Any] = doc["spec"] if isinstance(doc.get("spec"), Mapping) else {}
                paths[child.id] = normalise_path(str(spec.get("path") or ""))
                todo.append((str(spec.get("path") or ""), str(spec.get("targetNamespace") or child.id.namespace)))
    return sorted(
        (replace(c, parent=_closest(paths, c.id, folder, ks.id)) for c, folder in found.values()), key=lambda c: c.id
    )


def _closest(paths: Mapping[ObjectId, str], oid: ObjectId, folder: str, default: ObjectId) -> ObjectId:
    """The Kustomization whose path is the deepest directory holding `folder` (not `oid` itself)."""
    best, depth = default, -1
    for owner, path in paths.items():
        inside = not path or folder == path or folder.startswith(f"{path}/")
        if owner != oid and inside and len(path) > depth:
            best, depth = owner, len(path)
    return best


def _child(doc: Mapping[str, Any], parent: ObjectId, namespace: str, origin: SourceLocation | None) -> FluxChild | None:
    api_version = str(doc.get("apiVersion") or "")
    is_release = doc.get("kind") == "HelmRelease" and api_version.startswith(f"{_HELM_GROUP}/")
    if not (is_flux_kustomization(doc) or is_release) or not _named(doc):
        return None
    meta = doc["metadata"]
    oid = ObjectId(
        str(meta.get("namespace") or namespace), str(meta["name"]), api_version.partition("/")[0], str(doc["kind"])
    )
    depends = []
    spec: Mapping[str, Any] = doc["spec"] if isinstance(doc.get("spec"), Mapping) else {}
    for dep in spec.get("dependsOn") or [] if isinstance(spec.get("dependsOn"), list) else []:
        if isinstance(dep, Mapping) and dep.get("name"):
            depends.append(ObjectId(str(dep.get("namespace") or oid.namespace), str(dep["name"]), oid.group, oid.kind))
    return FluxChild(oid, parent, origin, tuple(depends))


def _named(doc: Mapping[str, Any]) -> bool:
    meta = doc.get("metadata")
    return isinstance(meta, Mapping) and bool(meta.get("name")) and bool(doc.get("kind"))


def _docs(text: str) -> list[dict[str, Any]]:
    try:
        return [d for d in yamlio.load_all(text, unknown_tags="plain") if isinstance(d, dict)]
    except yamlio.YamlError:
        return []


def _flux_docs(directory: Path, budget: list[int]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Flux Kustomization and HelmRelease documents of the YAML files below `directory`."""
    if not directory.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            budget[0] -= 1
            if budget[0] < 0:
                return
            if not name.endswith((".yaml", ".yml")):
                continue
            path = Path(dirpath) / name
            with contextlib.suppress(OSError, LimitExceeded):  # a best-effort listing: skip it
                data = read_limited(path)
                if KUSTOMIZATION_GROUP.encode() in data or _HELM_GROUP.encode() in data:
                    yield from ((path, d) for d in _docs(data.decode("utf-8", "replace")))
