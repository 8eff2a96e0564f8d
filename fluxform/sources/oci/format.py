"""The Flux OCI artifact format, as fluxcd/pkg/oci `Push` writes it, and reading it back.

Manifest (go-containerregistry v0.21.5 under fluxcd/pkg/oci, serialised by Go's
encoding/json: compact, struct fields in declaration order, map keys sorted, `<>&` escaped):

    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
     "config":{"mediaType":"application/vnd.cncf.flux.config.v1+json","size":N,"digest":"sha256:…"},
     "layers":[{"mediaType":"application/vnd.cncf.flux.content.v1.tar+gzip","size":N,"digest":"sha256:…"}],
     "annotations":{"org.opencontainers.image.created":"…","org.opencontainers.image.revision":"…",
                    "org.opencontainers.image.source":"…"}}

Config (the empty image's config file after `mutate.ConfigFile` set `created` and
`mutate.Append` added the layer with an empty history entry):

    {"architecture":"","created":"…","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"",
     "rootfs":{"type":"layers","diff_ids":["sha256:<uncompressed tar>"]},"config":{}}

fluxform adds one annotation of its own when charts ride along (`CHARTS_ANNOTATION`, see
chartmirror.py); Flux copies annotations into the OCIRepository's artifact metadata and
otherwise ignores them.

    manifest = flux_manifest(layer, created="2024-05-01T10:00:00Z", source=url, revision=rev)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import sha256_digest
from fluxform.sources.oci.registry import MANIFEST_TYPES, OCI_MANIFEST

__all__ = [
    "CHARTS_ANNOTATION",
    "CREATED_ANNOTATION",
    "FLUX_CONFIG",
    "FLUX_CONTENT",
    "FLUX_IGNORE_PATHS",
    "REVISION_ANNOTATION",
    "SOURCE_ANNOTATION",
    "Descriptor",
    "FluxArtifactBlobs",
    "ImageManifest",
    "flux_artifact",
    "go_json",
    "image_manifest",
    "parse_created",
]

FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
FLUX_CONTENT = "application/vnd.cncf.flux.content.v1.tar+gzip"
SOURCE_ANNOTATION = "org.opencontainers.image.source"
REVISION_ANNOTATION = "org.opencontainers.image.revision"
CREATED_ANNOTATION = "org.opencontainers.image.created"
CHARTS_ANNOTATION = "dev.fluxform.charts"
# flux push artifact's --ignore-paths default (flux2 `excludeOCI`: sourceignore ExcludeVCS + ExcludeExt)
FLUX_IGNORE_PATHS = (
    ".git/", ".gitignore", ".gitmodules", ".gitattributes",
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
)  # fmt: skip
_ZERO_TIME = "0001-01-01T00:00:00Z"
_GO_HTML_ESCAPES = (
    ("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"),
)  # fmt: skip


def go_json(value: Any) -> bytes:
    """JSON bytes as Go's json.Marshal writes them for the same (ordered) values."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_HTML_ESCAPES:
        text = text.replace(char, escape)
    return text.encode()


def parse_created(value: str) -> str:
    """Validate an RFC 3339 time (Go's time.RFC3339) and return it as Go marshals it."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise SourceError(f"invalid creation time {value!r}", hint="use RFC 3339, e.g. 2024-05-01T10:00:00Z") from None
    if "T" not in value.upper() or moment.tzinfo is None:
        raise SourceError(f"invalid creation time {value!r}", hint="RFC 3339 needs a date, a time and a zone")
    offset = moment.utcoffset() or dt.timedelta()
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    if not offset:
        zone = "Z"
    else:
        minutes = int(offset.total_seconds()) // 60
        zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    size: int
    digest: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "size": self.size, "digest": self.digest}
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out

    @classmethod
    def of(cls, media_type: str, data: bytes, annotations: Mapping[str, str] | None = None) -> Descriptor:
        return cls(media_type, len(data), sha256_digest(data), dict(annotations or {}))

    @classmethod
    def from_json(cls, value: Any, what: str) -> Descriptor:
        if not isinstance(value, dict):
            raise SourceError(f"{what}: a descriptor is not an object")
        digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType")
        if not isinstance(digest, str) or not _is_sha256(digest):
            raise SourceError(f"{what}: descriptor digest {digest!r} is not a sha256 digest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise SourceError(f"{what}: descriptor {digest} has no valid size")
        annotations = value.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise SourceError(f"{what}: descriptor {digest} annotations are not an object")
        return cls(str(media_type or ""), size, digest, {str(k): str(v) for k, v in annotations.items()})


def _is_sha256(digest: str) -> bool:
    hexdigest = digest.removeprefix("sha256:")
    return digest.startswith("sha256:") and len(hexdigest) == 64 and all(c in "0123456789abcdef" for c in hexdigest)


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """An OCI image manifest as read: what fluxform verifies and walks."""

    digest: str
    raw: bytes = field(repr=False)
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str]

    @classmethod
    def parse(cls, raw: bytes, what: str) -> ImageManifest:
        try:
            doc = json.loads(raw)
        except ValueError:
            raise SourceError(f"{what}: manifest is not JSON") from None
        if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
            raise SourceError(f"{what}: not an OCI image manifest (schemaVersion 2)")
        media_type = str(doc.get("mediaType") or OCI_MANIFEST)
        if media_type not in MANIFEST_TYPES:
            raise SourceError(f"{what}: manifest media type {media_type} is not an image manifest")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise SourceError(f"{what}: manifest has no layers list")
        annotations = doc.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise SourceError(f"{what}: manifest annotations are not an object")
        return cls(
            digest=sha256_digest(raw),
            raw=raw,
            media_type=media_type,
            config=Descriptor.from_json(doc.get("config"), what),
            layers=tuple(Descriptor.from_json(layer, what) for layer in layers),
            annotations={str(k): str(v) for k, v in annotations.items()},
        )

    def blobs(self) -> tuple[Descriptor, ...]:
        return (self.config, *self.layers)


def image_manifest(config: Descriptor, layers: list[Descriptor], annotations: Mapping[str, str]) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    if annotations:
        doc["annotations"] = dict(sorted(annotations.items()))
    return go_json(doc)


@dataclass(frozen=True)
class FluxArtifactBlobs:
    """A built artifact, ready to upload: manifest bytes and the blobs it names."""

    manifest: bytes = field(repr=False)
    blobs: Mapping[str, bytes] = field(repr=False)  # digest -> bytes (config and layer)

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def flux_artifact(layer: bytes, diff_id: str, annotations: Mapping[str, str]) -> FluxArtifactBlobs:
    """Config + manifest around a content layer; `annotations` must hold `created`."""
    created = annotations[CREATED_ANNOTATION]
    config = go_json({
        "architecture": "",
        "created": parse_created(created),
        "history": [{"created": _ZERO_TIME}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    })  # fmt: skip
    config_desc, layer_desc = Descriptor.of(FLUX_CONFIG, config), Descriptor.of(FLUX_CONTENT, layer)
    manifest = image_manifest(config_desc, [layer_desc], annotations)
    return FluxArtifactBlobs(manifest, {config_desc.digest: config, layer_desc.digest: layer})
