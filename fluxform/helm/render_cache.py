"""Helm renders kept between runs, in the cache directory beside the build cache.

A warm plan of a fleet with many HelmReleases spends most of its time in the Helm SDK,
rendering charts whose inputs did not change. The cached part of a render is everything
from loading the chart to the post-rendered objects (helm/render.py `_render_stage`); its
key is a digest of exactly what that part reads (`RenderRequest`, `render_key`): the chart
after version resolution (digest, version, merged valuesFiles, added dependencies), the
composed values (canonical JSON), release name and namespaces, install or upgrade and
revision, capabilities (kube version, API versions), schema validation, the post-render
fields (strategy, post-renderers, commonMetadata; the kustomize engine when there are
post-renderers), the object limit, and the Helm SDK, fluxform and render-code versions.
Over-approximate on purpose: a stale entry is a wrong plan, a miss only costs a render.

Never stored: a render whose values may hold a secret (the caller passes no cache: values
from a Secret, a HelmRelease or values object that was decrypted or substituted from a
Secret), and a render of a chart whose templates are not deterministic (determinism.py).
Entries are sealed and verified like build cache entries (`fluxform.cache_entry`): a
damaged one is discarded with one warning and the release is rendered again.

    cache = RenderCache(cache_dir / "renders")
    key = render_key(RenderRequest(chart, values, options, skip_schema, spec))
    stage = cache.get(key) or render(...); cache.put(key, stage)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxform import __version__
from fluxform.cache_entry import EntryStore
from fluxform.helm.chart_dir import tree_digest
from fluxform.helm.chart_model import ResolvedChart
from fluxform.helm.sdk import RenderOptions, wheel_version
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.limits import current_limits

__all__ = ["RenderCache", "RenderRequest", "RenderStage", "render_key"]

_SCHEMA = "fluxform-helm-render-v1"
#: The modules whose code decides what the cached part of a render gives.
_RENDER_CODE = ("render.py", "postrender.py", "sdk.py", "materialize.py", "determinism.py", "render_cache.py")

Document = dict[str, Any]


@dataclass(frozen=True)
class RenderRequest:
    """What the cached part of a render reads, and nothing else."""

    chart: ResolvedChart
    values: Mapping[str, Any]  # composed user values (valuesFrom, then spec.values)
    options: RenderOptions  # release name and namespace, install/upgrade, revision, capabilities
    skip_schema: bool  # install/upgrade disableSchemaValidation
    spec: HelmReleaseSpec  # its post-render fields and name/namespace (origin labels)


@dataclass(frozen=True)
class RenderStage:
    """A render before namespaces are filled in and the CRD policy applied (those depend
    on the fleet's CRDs and the action, and are cheap)."""

    hooks: tuple[Document, ...]
    manifests: tuple[Document, ...]
    crds: tuple[Document, ...]  # from crds/, origin-labelled
    notes: tuple[tuple[str, str], ...] = ()  # (summary, detail) of the render's warnings


def render_key(request: RenderRequest) -> str:
    hr, chart = request.spec, request.chart
    material = {
        "schema": _SCHEMA,
        "fluxform": __version__,
        "code": _code_digest(),
        "helm_sdk": _sdk_version(),
        "chart": _chart_identity(chart),
        "values": request.values,
        "options": dataclasses.asdict(request.options),
        "skip_schema": request.skip_schema,
        "release": [hr.name, hr.namespace, hr.release_name, hr.target_namespace, hr.storage_namespace],
        "post_render": {
            "strategy": hr.post_render_strategy,
            "renderers": [[list(r.patches), list(r.images)] for r in hr.post_renderers],
            "labels": hr.common_labels,
            "annotations": hr.common_annotations,
            "engine": _kustomize_version() if hr.post_renderers else "",
        },
        "objects_per_render": current_limits().objects_per_render,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _chart_identity(chart: ResolvedChart) -> dict[str, Any]:
    deps = [
        [d.name, tree_digest(d.path) if d.path is not None else hashlib.sha256(d.data or b"").hexdigest()]
        for d in chart.dependencies
    ]
    return {
        "name": chart.name,
        "version": chart.version,
        "chart_version": chart.chart_version,
        "digest": chart.digest,
        "values_override": chart.values_override,
        "dependencies": deps,
    }


@functools.cache
def _code_digest() -> str:
    """A change of the render code between two commits of one fluxform version renders anew."""
    digest = hashlib.sha256()
    for name in _RENDER_CODE:
        try:
            digest.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes())
        except OSError:
            digest.update(name.encode() + b"\0unreadable")
    return digest.hexdigest()


@functools.cache
def _sdk_version() -> str:
    """The wheel's version (it pins the Go Helm SDK); the library is loaded by then (the
    release name was checked with it), and reading the package metadata costs more."""
    return wheel_version()


def _kustomize_version() -> str:
    from fluxform.kustomize.engine import kustomize_engine

    return kustomize_engine().version


@dataclass(eq=False)
class RenderCache:
    """Renders by key in `directory` (None: nothing read or written, e.g. --no-cache)."""

    directory: Path | None
    hits: int = 0
    misses: int = 0
    stored: int = 0
    refused: int = 0  # renders not stored: secret inputs or a non-deterministic chart

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> RenderStage | None:
        path = self._path(key)
        stage = _decoded(None if path is None else _STORE.read(path, key))
        if stage is None:
            self.misses += 1
        else:
            self.hits += 1
        return stage

    def put(self, key: str, stage: RenderStage) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            payload = json.dumps(
                {"hooks": stage.hooks, "manifests": stage.manifests, "crds": stage.crds, "notes": stage.notes},
                ensure_ascii=False,
                separators=(",", ":"),
            )
        except (TypeError, ValueError):
            return  # a value JSON cannot hold exactly: not cached
        _STORE.write(path, key, payload.encode())
        self.stored += 1

    def refuse(self) -> None:
        """Count a render that is not stored (for tests and the bench)."""
        self.refused += 1


_STORE = EntryStore("Helm render cache")


def _decoded(payload: bytes | None) -> RenderStage | None:
    """The stage an entry holds; None when absent or not of this shape (only a forged
    entry gets here: it was sealed with its key)."""
    if payload is None:
        return None
    try:
        data = json.loads(payload)
        parts = [data[name] for name in ("hooks", "manifests", "crds", "notes")]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None
    if not all(isinstance(p, list) for p in parts) or not all(
        isinstance(doc, dict) for docs in parts[:3] for doc in docs
    ):
        return None
    notes = parts[3]
    if not all(isinstance(n, list) and len(n) == 2 and all(isinstance(s, str) for s in n) for n in notes):
        return None
    return RenderStage(tuple(parts[0]), tuple(parts[1]), tuple(parts[2]), tuple((s, d) for s, d in notes))
