"""OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`) as a directory or a tar
file: what `artifact export` writes and `artifact import` / `plan --source FILE.tar` read.

A layout holds the fleet artifact and everything carried with it; `index.json` names each
manifest with `org.opencontainers.image.ref.name`, relative to the fleet repository: `v1`
(the fleet), `sha256-<hex>.sig` (its cosign signature), `charts/podinfo:6.5.0` (a chart).
A tar is read in place (members looked up by name, never extracted), refusing member names
that are absolute or climb with `..`, and blobs over the size limit; every blob is
re-hashed when read.

    layout = OciLayout.create(tmp)                 # writable directory
    copy_image(registry_repo, layout.repository(""), "v1", "v1", limit=...)
    write_layout_tar(layout.root, Path("fleet.tar"))
    with open_layout(Path("fleet.tar")) as read:   # directory or tar
        read.repository("").manifest("v1")
"""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import sha256_digest
from fluxform.sources.oci.format import Descriptor, ImageManifest
from fluxform.sources.oci.registry import MAX_MANIFEST

__all__ = ["INDEX_MEDIA_TYPE", "REF_NAME", "LayoutRepository", "OciLayout", "open_layout", "write_layout_tar"]

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
_LAYOUT_FILE = "oci-layout"
_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass
class OciLayout:
    """A layout; `files` reads a path inside it (a directory or tar members)."""

    origin: str  # what the user named, for messages
    read_file: Callable[[str, int], bytes]  # (path inside the layout, size limit; 0 = only check it exists)
    root: Path | None = None  # writable directory, or None (a tar is read-only)
    index: list[Descriptor] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path) -> OciLayout:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / _LAYOUT_FILE).write_bytes(_LAYOUT)
        layout = cls(str(root), _directory_reader(root), root)
        layout.save()
        return layout

    def read(self, path: str, limit: int) -> bytes:
        return self.read_file(path, limit)

    def repository(self, prefix: str) -> LayoutRepository:
        return LayoutRepository(self, prefix)

    def ref_names(self) -> list[str]:
        return sorted(d.annotations.get(REF_NAME, "") for d in self.index if d.annotations.get(REF_NAME))

    def lookup(self, ref_name: str) -> Descriptor | None:
        found = [d for d in self.index if d.annotations.get(REF_NAME) == ref_name]
        return found[-1] if found else None

    def tag(self, ref_name: str, desc: Descriptor) -> None:
        self.index = [d for d in self.index if d.annotations.get(REF_NAME) != ref_name]
        self.index.append(Descriptor(desc.media_type, desc.size, desc.digest, {REF_NAME: ref_name}))
        self.save()

    def put_blob(self, data: bytes) -> str:
        if self.root is None:
            raise SourceError(f"{self.origin}: a layout tar is read-only")
        digest = sha256_digest(data)
        path = self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")
        if not path.is_file():
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest

    def has_blob(self, digest: str) -> bool:
        if self.root is not None:
            return (self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")).is_file()
        try:
            self.read(_blob_path(digest), 0)
        except SourceError:
            return False
        return True

    def save(self) -> None:
        if self.root is None:
            raise SourceError(f"{self.origin}: a layout tar is read-only")
        entries = sorted(self.index, key=lambda d: (d.annotations.get(REF_NAME, ""), d.digest))
        doc = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [d.to_json() for d in entries]}
        (self.root / "index.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _blob_path(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


@dataclass(frozen=True)
class LayoutRepository:
    """The ImageStore view of a layout for one repository (`prefix` "" is the fleet's)."""

    layout: OciLayout
    prefix: str

    @property
    def name(self) -> str:
        return f"{self.layout.origin}" + (f" ({self.prefix})" if self.prefix else "")

    def _ref_name(self, tag: str) -> str:
        return f"{self.prefix}:{tag}" if self.prefix else tag

    def resolve(self, reference: str) -> str | None:
        if reference.startswith("sha256:"):
            return reference if self.layout.has_blob(reference) else None
        desc = self.layout.lookup(self._ref_name(reference))
        return desc.digest if desc else None

    def manifest(self, reference: str) -> ImageManifest:
        digest = self.resolve(reference)
        if digest is None:
            raise SourceError(f"not found in layout {self.layout.origin}: {self._ref_name(reference)}")
        raw = self.layout.read(_blob_path(digest), MAX_MANIFEST)
        if sha256_digest(raw) != digest:
            raise SourceError(f"layout {self.layout.origin}: manifest {digest} does not match its digest")
        return ImageManifest.parse(raw, f"{self.layout.origin}@{digest}")

    def blob(self, digest: str, size: int, *, limit: int) -> bytes:
        if size > limit:
            raise SourceError(f"layout {self.layout.origin}: blob {digest} is {size} bytes, over the limit of {limit}")
        data = self.layout.read(_blob_path(digest), limit)
        if len(data) != size:
            raise SourceError(
                f"layout {self.layout.origin}: blob {digest} has {len(data)} bytes, the manifest says {size}"
            )
        if sha256_digest(data) != digest:
            raise SourceError(f"layout {self.layout.origin}: blob {digest} does not match its digest")
        return data

    def has_blob(self, digest: str) -> bool:
        return self.layout.has_blob(digest)

    def put_blob(self, data: bytes) -> str:
        return self.layout.put_blob(data)

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> str:
        digest = self.layout.put_blob(raw)
        if not reference.startswith("sha256:"):
            self.layout.tag(self._ref_name(reference), Descriptor(media_type, len(raw), digest))
        return digest

    def tags(self) -> list[str]:
        names = self.layout.ref_names()
        if not self.prefix:
            return [n for n in names if "/" not in n and ":" not in n]
        return [n.removeprefix(f"{self.prefix}:") for n in names if n.startswith(f"{self.prefix}:")]

    def child(self, path: str) -> LayoutRepository:
        return LayoutRepository(self.layout, f"{self.prefix}/{path}" if self.prefix else path)


@contextlib.contextmanager
def open_layout(path: Path) -> Iterator[OciLayout]:
    """A layout directory or tar, read-only (a directory is still writable through `root`)."""
    if path.is_dir():
        layout = OciLayout(str(path), _directory_reader(path), path)
        layout.index = _read_index(layout)
        yield layout
        return
    try:
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise SourceError(f"{path} is not an OCI layout directory or tar file", detail=str(exc)[:200]) from None
    with tar:
        members = _tar_members(tar, path)
        layout = OciLayout(str(path), _tar_reader(tar, members, path))
        layout.index = _read_index(layout)
        yield layout


def _read_index(layout: OciLayout) -> list[Descriptor]:
    try:
        marker = json.loads(layout.read(_LAYOUT_FILE, 4096))
        index = json.loads(layout.read("index.json", MAX_MANIFEST))
    except ValueError:
        raise SourceError(f"{layout.origin}: oci-layout or index.json is not JSON") from None
    if not isinstance(marker, dict) or not str(marker.get("imageLayoutVersion", "")).startswith("1."):
        raise SourceError(f"{layout.origin}: unsupported OCI layout version")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise SourceError(f"{layout.origin}: index.json has no manifests list")
    return [Descriptor.from_json(m, f"{layout.origin} index.json") for m in manifests]


def _directory_reader(root: Path) -> Callable[[str, int], bytes]:
    def read(path: str, limit: int) -> bytes:
        target = root / path
        try:
            if target.is_symlink():
                raise SourceError(f"{root}: {path} is a symlink, refused")
            size = target.stat().st_size
            if limit and size > limit:
                raise SourceError(f"{root}: {path} is {size} bytes, over the limit of {limit}")
            return target.read_bytes() if limit else b""
        except FileNotFoundError:
            raise SourceError(f"{root} is not a complete OCI layout: {path} is missing") from None

    return read


def _tar_members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        name = member.name.removeprefix("./")
        if name.startswith("/") or ".." in name.split("/"):
            raise SourceError(f"{path}: tar member {member.name!r} has an unsafe path, refused")
        if member.isfile():
            members[name] = member
    return members


def _tar_reader(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], origin: Path) -> Callable[[str, int], bytes]:
    def read(path: str, limit: int) -> bytes:
        member = members.get(path)
        if member is None:
            raise SourceError(f"{origin} is not a complete OCI layout: {path} is missing")
        if limit and member.size > limit:
            raise SourceError(f"{origin}: {path} is {member.size} bytes, over the limit of {limit}")
        if not limit:
            return b""
        handle: IO[bytes] | None = tar.extractfile(member)
        return handle.read() if handle is not None else b""

    return read


def write_layout_tar(root: Path, target: Path) -> None:
    """Pack a layout directory into a reproducible tar (sorted, zero times and owners),
    written beside `target` and renamed into place, so a failure leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
                rel = path.relative_to(root).as_posix()
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
                with path.open("rb") as data:
                    tar.addfile(info, data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
