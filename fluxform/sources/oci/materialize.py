"""A named artifact turned into a verified local directory: what `artifact pull`,
`artifact inspect` and (next) `plan --source` use.

`materialize(ref, options)` resolves a tag to a digest once (a ref with both must agree),
verifies the cosign signature when a key is given (before any blob is used), picks the
layer as source-controller does (`layerSelector.mediaType`, else the first), checks its
size against the limit and its digest, unpacks it hostile-safe, then filters it as
source-controller re-archives an extracted OCI layer (`.sourceignore` / `spec.ignore`, else
the default exclusions). It yields the directory with the manifest digest, annotations and
the chart mapping, plus a `fetcher` that answers the fleet's chart questions from the
artifact's chart mirror while the context is open.

    with materialize("oci://reg:5000/fleet:v1", MaterializeOptions(access)) as art:
        art.root, art.digest, art.charts, art.fetcher
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fluxform.errors import SourceError
from fluxform.sources.artifact import IgnoreMatcher, copy_filtered
from fluxform.sources.oci.chartmirror import ChartEntry, MirrorFetcher, decode_entries
from fluxform.sources.oci.cosign import signature_tag, verify_image
from fluxform.sources.oci.cosignkey import PublicKey
from fluxform.sources.oci.extract import extract_layer
from fluxform.sources.oci.format import CHARTS_ANNOTATION, Descriptor, ImageManifest
from fluxform.sources.oci.layout import open_layout
from fluxform.sources.oci.push import DEFAULT_MAX_SIZE
from fluxform.sources.oci.reference import ArtifactRef, LayoutRef, parse_source_ref
from fluxform.sources.oci.store import ImageStore, RegistryAccess, RegistryRepository, naming

__all__ = [
    "ArtifactInfo",
    "MaterializeOptions",
    "MaterializedArtifact",
    "OpenedArtifact",
    "PullResult",
    "chart_entries",
    "inspect_artifact",
    "materialize",
    "open_artifact",
    "pull_artifact",
    "verify_opened",
]


@dataclass(frozen=True)
class MaterializeOptions:
    access: RegistryAccess = field(default_factory=RegistryAccess)
    verify_key: PublicKey | None = None  # --verify-key: refuse an artifact without a valid signature
    max_size: int = DEFAULT_MAX_SIZE  # --max-artifact-size: compressed layer and unpacked files
    layer_media_type: str = ""  # OCIRepository spec.layerSelector.mediaType ("" = first layer)
    ignore: str = ""  # OCIRepository spec.ignore
    filtered: bool = True  # apply source-controller's ignore rules after unpacking


@dataclass(frozen=True)
class OpenedArtifact:
    store: ImageStore
    manifest: ImageManifest
    name: str  # the reference pinned to its digest, for messages and plans
    tag: str  # the tag it was found under ("" for a digest reference)


@dataclass(frozen=True)
class MaterializedArtifact:
    root: Path  # the verified, unpacked (and filtered) tree; private, removed on exit
    digest: str  # manifest digest
    reference: str  # e.g. oci://reg:5000/fleet:v1@sha256:…, or fleet.tar@sha256:…
    annotations: dict[str, str]
    charts: tuple[ChartEntry, ...]
    signatures: int  # signatures verified (0 when no key was given)
    fetcher: MirrorFetcher  # chart questions answered from the artifact's mirror


@dataclass(frozen=True)
class ArtifactInfo:
    reference: str
    digest: str
    media_type: str
    size: int  # manifest + config + layers, in bytes
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str]
    charts: tuple[ChartEntry, ...]
    signed: bool  # a cosign signature tag exists
    signatures: int  # verified with --verify-key (0 when not asked)


@contextlib.contextmanager
def open_artifact(text: str | ArtifactRef | LayoutRef, access: RegistryAccess) -> Iterator[OpenedArtifact]:
    source = parse_source_ref(text) if isinstance(text, str) else text
    with naming(str(source)):
        if isinstance(source, ArtifactRef):
            store = RegistryRepository(access.client(source.host), source.repository)
            manifest = _registry_manifest(store, source)
            yield OpenedArtifact(
                store, manifest, f"{source}@{manifest.digest}" if not source.digest else str(source), source.tag
            )
            return
        with open_layout(source.path) as layout:
            repo = layout.repository("")
            tag = _fleet_tag(repo.tags(), str(source.path))
            manifest = repo.manifest(tag)
            yield OpenedArtifact(repo, manifest, f"{source.path}@{manifest.digest}", tag)


def _registry_manifest(store: RegistryRepository, ref: ArtifactRef) -> ImageManifest:
    manifest = store.manifest(ref.reference)
    if ref.digest and ref.tag:
        moved = store.resolve(ref.tag)
        if moved != ref.digest:
            raise SourceError(f"tag {ref.tag} points at {moved}, not {ref.digest}", hint="the tag moved: re-plan")
    return manifest


def _fleet_tag(tags: list[str], origin: str) -> str:
    candidates = [t for t in tags if not t.endswith(".sig")]
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise SourceError(f"{origin}: expected one artifact tag in the layout, found {found}")
    return candidates[0]


def chart_entries(manifest: ImageManifest, what: str) -> tuple[ChartEntry, ...]:
    text = manifest.annotations.get(CHARTS_ANNOTATION)
    return tuple(decode_entries(text, what)) if text else ()


def verify_opened(opened: OpenedArtifact, key: PublicKey | None) -> int:
    if key is None:
        return 0
    return verify_image(opened.store, opened.manifest.digest, key, what=opened.name)


def _select_layer(manifest: ImageManifest, media_type: str, what: str) -> Descriptor:
    layers = [la for la in manifest.layers if not media_type or la.media_type == media_type]
    if not layers:
        wanted = f" of media type {media_type}" if media_type else ""
        raise SourceError(f"{what}: the artifact has no layer{wanted}")
    return layers[0]


@contextlib.contextmanager
def materialize(text: str | ArtifactRef | LayoutRef, options: MaterializeOptions) -> Iterator[MaterializedArtifact]:
    with open_artifact(text, options.access) as opened, naming(opened.name):
        signatures = verify_opened(opened, options.verify_key)
        layer = _select_layer(opened.manifest, options.layer_media_type, opened.name)
        blob = opened.store.blob(layer.digest, layer.size, limit=options.max_size)
        tmp = Path(tempfile.mkdtemp(prefix="fluxform-oci-"))
        try:
            raw = tmp / "layer"
            extract_layer(blob, raw, limit=options.max_size, what=f"{opened.name} layer {layer.digest}")
            root = raw
            if options.filtered:
                root = tmp / "artifact"
                root.mkdir(mode=0o700)
                copy_filtered(raw, root, IgnoreMatcher.for_tree(raw, options.ignore))
            charts = chart_entries(opened.manifest, opened.name)
            yield MaterializedArtifact(
                root=root,
                digest=opened.manifest.digest,
                reference=opened.name,
                annotations=dict(opened.manifest.annotations),
                charts=charts,
                signatures=signatures,
                fetcher=MirrorFetcher(opened.store, charts, options.max_size),
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class PullResult:
    output: Path
    reference: str
    digest: str
    files: int
    signatures: int


def pull_artifact(text: str, output: Path, options: MaterializeOptions) -> PullResult:
    """Unpack the artifact's layer into `output` (new or empty): what the artifact holds,
    without source-controller's filtering, as `flux pull artifact`. Written to a private
    sibling first and renamed, so a failed pull leaves nothing."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise SourceError(f"{output} exists and is not an empty directory")
    raw_options = MaterializeOptions(
        options.access, options.verify_key, options.max_size, options.layer_media_type, "", False
    )
    with materialize(text, raw_options) as art:
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
        try:
            shutil.copytree(art.root, staging / "tree", symlinks=True)
            if output.exists():
                output.rmdir()
            (staging / "tree").rename(output)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        files = sum(1 for p in output.rglob("*") if p.is_file())
        return PullResult(output, art.reference, art.digest, files, art.signatures)


def inspect_artifact(text: str, access: RegistryAccess, verify_key: PublicKey | None = None) -> ArtifactInfo:
    with open_artifact(text, access) as opened, naming(opened.name):
        manifest = opened.manifest
        signed = opened.store.resolve(signature_tag(manifest.digest)) is not None
        signatures = verify_opened(opened, verify_key)
        return ArtifactInfo(
            reference=opened.name,
            digest=manifest.digest,
            media_type=manifest.media_type,
            size=len(manifest.raw) + sum(d.size for d in manifest.blobs()),
            layers=manifest.layers,
            annotations=dict(manifest.annotations),
            charts=chart_entries(manifest, opened.name),
            signed=signed,
            signatures=signatures,
        )
