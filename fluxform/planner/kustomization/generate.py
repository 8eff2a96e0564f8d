"""The kustomization.yaml kustomize-controller actually builds.

Flux never builds a directory's kustomization file as written: it finds or generates one
(fluxcd/pkg kustomize `Generator`), decodes it into kustomize's Kustomization type (so
unknown fields are silently dropped), then writes the Flux Kustomization's spec into it:
targetNamespace/namePrefix/nameSuffix replace, patches/components append, images merge by
name, buildMetadata replaces. This module reproduces that, without touching the tree.

    prepared = prepare_kustomization(directory, spec=ks.spec)
    prepared.document  # the mapping to write as kustomization.yaml
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.limits import read_limited
from fluxform.objects import SourceLocation

__all__ = [
    "KUSTOMIZATION_FILE_NAMES",
    "PreparedKustomization",
    "find_kustomization_file",
    "prepare_kustomization",
    "spec_changes_build",
]

KUSTOMIZATION_FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

#: Top-level fields of kustomize's Kustomization type (api v0.21); others are dropped.
KNOWN_FIELDS = frozenset(
    {
        "apiVersion", "kind", "metadata", "openapi", "namePrefix", "nameSuffix", "namespace",
        "commonLabels", "labels", "commonAnnotations", "patchesStrategicMerge", "patchesJson6902",
        "patches", "images", "replacements", "replicas", "vars", "sortOptions", "resources",
        "components", "crds", "bases", "configMapGenerator", "secretGenerator", "helmGlobals",
        "helmCharts", "helmChartInflationGenerator", "generatorOptions", "configurations",
        "generators", "transformers", "validators", "buildMetadata",
    }
)  # fmt: skip

_SELECTOR_FIELDS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")
# fluxcd/pkg IsLocalRelativePath: kustomize's remote prefixes, matched case-insensitively.
_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")


@dataclass(frozen=True)
class PreparedKustomization:
    document: dict[str, Any]
    generated: bool  # True when the directory had no kustomization file
    existing_file: str | None  # the recognised file name found in the directory


def find_kustomization_file(directory: Path) -> str | None:
    for name in KUSTOMIZATION_FILE_NAMES:
        if (directory / name).is_file():
            return name
    return None


def prepare_kustomization(
    directory: Path, *, spec: Mapping[str, Any] | None, root: Path | None = None
) -> PreparedKustomization:
    """Find or generate the kustomization for `directory` and merge `spec` into it.
    `root` is only used to print paths relative to the artifact in errors."""
    existing = find_kustomization_file(directory)
    if existing is None:
        document = _generate(directory, root or directory)
    else:
        document = _read_existing(directory / existing, root or directory)
        if not document.get("resources"):
            document["buildMetadata"] = ["originAnnotations"]
    if spec:
        _merge_spec(document, spec, directory)
    return PreparedKustomization(document, existing is None, existing)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _read_existing(path: Path, root: Path) -> dict[str, Any]:
    try:
        loaded = yamlio.load(read_limited(path, what=_relative(path, root)))
    except yamlio.YamlError as exc:
        raise RenderError(
            "invalid kustomization file", detail=str(exc), location=SourceLocation(_relative(path, root), exc.line)
        ) from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise RenderError("kustomization file is not a mapping", location=SourceLocation(_relative(path, root)))
    document = {k: v for k, v in loaded.items() if k in KNOWN_FIELDS}
    document.setdefault("apiVersion", "kustomize.config.k8s.io/v1beta1")
    document.setdefault("kind", "Kustomization")
    return document


def _generate(directory: Path, root: Path) -> dict[str, Any]:
    """Flux's generator: every .yaml/.yml under the directory, lexical walk, a subdirectory
    holding a kustomization file becomes one resource and is not descended."""
    resources: list[str] = []
    for dirpath, dirnames, filenames in os.walk(directory):
        current = Path(dirpath)
        entries = sorted([(d, True) for d in dirnames] + [(f, False) for f in filenames])
        descend: list[str] = []
        for name, is_dir in entries:
            path = current / name
            rel = "./" + str(path.relative_to(directory))
            if is_dir:
                if find_kustomization_file(path) is not None:
                    resources.append(rel)
                else:
                    descend.append(name)
                continue
            if path.suffix not in (".yaml", ".yml"):
                continue
            _check_decodes(path, root)
            resources.append(rel)
        dirnames[:] = descend
    # os.walk visits a directory's files before its subdirectories; Go's Walk interleaves
    # them lexically. Re-sort by path components to get Go's order.
    resources.sort(key=lambda r: r.split("/"))
    document: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if resources:
        document["resources"] = resources
    else:
        document["namespace"] = "_placeholder"
    return document


#: sha256 of file contents already seen to decode: the same file is generated for again and
#: again (both sides of a diff, a parent and its index); a failure is never remembered
_DECODES: set[bytes] = set()
_DECODES_LIMIT = 200_000


def _check_decodes(path: Path, root: Path) -> None:
    """kustomize's resource factory must accept the file: valid YAML (custom tags allowed),
    every document an object with a kind and a metadata.name (List items likewise)."""
    data = read_limited(path, what=_relative(path, root))
    digest = hashlib.sha256(data).digest()
    if digest in _DECODES:
        return
    _check_decodes_text(data, _relative(path, root))
    if len(_DECODES) < _DECODES_LIMIT:
        _DECODES.add(digest)


def _check_decodes_text(data: bytes, rel: str) -> None:
    try:
        docs = yamlio.load_all(data, unknown_tags="plain")
    except yamlio.YamlError as exc:
        raise RenderError(
            f"failed to decode Kubernetes YAML from {rel}", detail=str(exc), location=SourceLocation(rel, exc.line)
        ) from exc
    for index, doc in enumerate(docs):
        problem = _not_a_resource(doc)
        if problem:
            raise RenderError(
                f"failed to decode Kubernetes YAML from {rel}",
                detail=problem,
                location=SourceLocation(rel, document=index),
                hint="Flux includes every .yaml/.yml under spec.path; exclude non-manifests with .sourceignore",
            )


def _not_a_resource(doc: Any) -> str:
    if not isinstance(doc, dict):
        return "document is not a mapping"
    if not doc.get("kind"):
        return "missing kind"
    if str(doc["kind"]).endswith("List") and isinstance(doc.get("items"), list):
        return next((p for p in map(_not_a_resource, doc["items"]) if p), "")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        return "missing metadata.name"
    return ""


_BUILD_FIELDS = (
    "targetNamespace", "namePrefix", "nameSuffix", "patches", "components", "images", "buildMetadata",
    "patchesStrategicMerge", "patchesJson6902",
)  # fmt: skip


def spec_changes_build(spec: Mapping[str, Any] | None) -> bool:
    """Whether a Flux Kustomization spec changes what kustomize builds (vs a plain build)."""
    if not spec:
        return False
    if spec.get("namePrefix") is not None or spec.get("nameSuffix") is not None:
        return True  # even "" replaces the file's prefix/suffix
    return any(spec.get(field) not in (None, "", []) for field in _BUILD_FIELDS)


def _merge_spec(document: dict[str, Any], spec: Mapping[str, Any], directory: Path) -> None:
    if spec.get("targetNamespace"):
        document["namespace"] = str(spec["targetNamespace"])
    if spec.get("namePrefix") is not None:
        document["namePrefix"] = str(spec["namePrefix"])
    if spec.get("nameSuffix") is not None:
        document["nameSuffix"] = str(spec["nameSuffix"])
    for patch in spec.get("patches") or []:
        entry: dict[str, Any] = {"patch": patch.get("patch", "")}
        target = _selector(patch.get("target"))
        if target:
            entry["target"] = target
        document.setdefault("patches", []).append(entry)
    _merge_components(document, spec, directory)
    for patch in spec.get("patchesStrategicMerge") or []:
        document.setdefault("patchesStrategicMerge", []).append(yamlio.dump(patch))
    for patch in spec.get("patchesJson6902") or []:
        json_entry: dict[str, Any] = {"patch": yamlio.dump(patch.get("patch") or [])}
        target = _selector(patch.get("target"))
        if target:
            json_entry["target"] = target
        document.setdefault("patchesJson6902", []).append(json_entry)
    _merge_images(document, spec.get("images") or [])
    if spec.get("buildMetadata"):
        document["buildMetadata"] = list(spec["buildMetadata"])


def _selector(target: Any) -> dict[str, Any]:
    if not isinstance(target, Mapping):
        return {}
    return {k: target[k] for k in _SELECTOR_FIELDS if target.get(k)}


def _is_local_relative(path: str) -> bool:
    lowered = path.lower()
    if any(len(p) < len(path) and lowered.startswith(p) for p in _REMOTE_PREFIXES):
        return False
    return not (os.path.isabs(path) or os.path.isabs(lowered.removeprefix("file://")))


def _merge_components(document: dict[str, Any], spec: Mapping[str, Any], directory: Path) -> None:
    ignore_missing = bool(spec.get("ignoreMissingComponents"))
    for component in spec.get("components") or []:
        component = str(component)
        if not _is_local_relative(component):
            raise RenderError(f"component path '{component}' must be local and relative")
        if ignore_missing and not (directory / component).exists():
            continue
        document.setdefault("components", []).append(component)


def _merge_images(document: dict[str, Any], images: list[Any]) -> None:
    existing: list[dict[str, Any]] = document.setdefault("images", []) if images else []
    for image in images:
        if not isinstance(image, Mapping) or not image.get("name"):
            raise RenderError("spec.images entries need a name")
        match = next((e for e in existing if e.get("name") == image["name"]), None)
        if match is None:
            existing.append({k: image[k] for k in ("name", "newName", "newTag", "digest") if image.get(k)})
            continue
        if image.get("newName"):
            match["newName"] = image["newName"]
        if image.get("newTag") or image.get("digest"):
            for key in ("newTag", "digest"):
                if image.get(key):
                    match[key] = image[key]
                else:
                    match.pop(key, None)
