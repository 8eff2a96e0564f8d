"""Carrying an artifact across an air gap: `export` to an OCI layout (tar or directory) and
`import` from one into a registry, with its charts and cosign signatures.

The layout holds the fleet under its tag, its `.sig` image, and every chart of its mapping
under `charts/<name>:<tag>` (see layout.py for the names). Import checks everything before
it writes: the signature (with a key), every blob's digest and size as it is read, each
chart's layer against the digest the fleet's mapping records; charts go first (refusing a
chart tag that already holds another chart), then the signature, and the fleet's tag last,
so the registry never shows a fleet whose charts are missing.

    export_artifact("oci://reg:5000/fleet:v1", Path("fleet.tar"), options)
    import_artifact(Path("fleet.tar"), parse_artifact_ref("oci://internal/fleet:v1"), options)
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import SourceError
from fluxform.sources.oci.chartmirror import ChartEntry
from fluxform.sources.oci.cosign import signature_tag
from fluxform.sources.oci.layout import OciLayout, write_layout_tar
from fluxform.sources.oci.materialize import (
    MaterializeOptions,
    OpenedArtifact,
    chart_entries,
    open_artifact,
    verify_opened,
)
from fluxform.sources.oci.reference import ArtifactRef, LayoutRef
from fluxform.sources.oci.registry import HELM_CHART_LAYER
from fluxform.sources.oci.store import ImageStore, RegistryRepository, copy_image, naming

__all__ = ["TransferResult", "export_artifact", "import_artifact"]


@dataclass(frozen=True)
class TransferResult:
    reference: str  # where it went, pinned
    digest: str
    charts: int
    signatures: bool  # a signature image was carried
    verified: int  # signatures verified with --verify-key


def export_artifact(text: str, target: Path, options: MaterializeOptions) -> TransferResult:
    """Write the artifact, its signature and its charts as an OCI layout: `target` ending in
    `.tar` is a tar file, anything else a new directory; written privately, then renamed."""
    if target.exists():
        raise SourceError(f"{target} already exists", hint="export to a new path")
    with open_artifact(text, options.access) as opened, naming(opened.name):
        verified = verify_opened(opened, options.verify_key)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent if target.parent.exists() else None)
        )
        try:
            layout = OciLayout.create(staging / "layout")
            carried = _carry(opened, layout.repository(""), opened.tag or "artifact", options.max_size)
            if target.suffix == ".tar":
                write_layout_tar(layout.root or staging, target)
            else:
                (staging / "layout").rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return TransferResult(
            f"{target}@{opened.manifest.digest}", opened.manifest.digest, carried[0], carried[1], verified
        )


def import_artifact(source: Path, target: ArtifactRef, options: MaterializeOptions) -> TransferResult:
    """Push a layout's fleet, charts and signature to `target` (which names the tag)."""
    with open_artifact(LayoutRef(source), options.access) as opened, naming(opened.name):
        verified = verify_opened(opened, options.verify_key)
        with naming(str(target)):
            dest = RegistryRepository(options.access.client(target.host), target.repository)
            charts, signed = _carry(opened, dest, target.tag or "latest", options.max_size)
        pinned = ArtifactRef(target.host, target.repository, target.tag, opened.manifest.digest)
        return TransferResult(str(pinned), opened.manifest.digest, charts, signed, verified)


def _carry(opened: OpenedArtifact, dest: ImageStore, tag: str, limit: int) -> tuple[int, bool]:
    """Charts, then the signature, then the fleet under `tag`; returns (charts, signed)."""
    entries = chart_entries(opened.manifest, opened.name)
    for entry in {e.manifest: e for e in entries}.values():
        _carry_chart(opened.store, dest, entry, limit)
    digest = opened.manifest.digest
    signed = opened.store.resolve(signature_tag(digest)) is not None
    if signed:
        copy_image(opened.store, dest, signature_tag(digest), signature_tag(digest), limit=limit)
    copy_image(opened.store, dest, digest, tag, limit=limit)
    return len({e.manifest for e in entries}), signed


def _carry_chart(src: ImageStore, dest: ImageStore, entry: ChartEntry, limit: int) -> None:
    path, _, tag = entry.ref.partition(":")
    if not path.startswith("charts/") or not tag:
        raise SourceError(f"chart mapping entry {entry.name} has an invalid ref {entry.ref!r}")
    src_chart, dest_chart = src.child(path), dest.child(path)
    manifest = src_chart.manifest(entry.manifest)
    if not any(la.media_type == HELM_CHART_LAYER and la.digest == entry.digest for la in manifest.layers):
        raise SourceError(f"{src_chart.name}@{entry.manifest}: chart layer is not {entry.digest} as the fleet records")
    existing = dest_chart.resolve(tag)
    if existing is not None and existing != entry.manifest:
        raise SourceError(
            f"{dest_chart.name}:{tag} already holds another chart ({existing}), refusing to overwrite it",
            hint="mirrored charts are immutable",
        )
    copy_image(src_chart, dest_chart, entry.manifest, tag, limit=limit)
