"""Where images live: one repository of a registry, or an OCI image layout; and copying
images between them with every blob verified on the way.

Both kinds answer the same small protocol, so push, pull, export and import are one code
path whatever the ends are. Tags in a layout are `org.opencontainers.image.ref.name`
values relative to the fleet repository (`v1`, `charts/podinfo:6.5.0`, `sha256-….sig`).

    src = RegistryRepository(access.client("reg:5000"), "fleet")
    copy_image(src, layout.repository(""), "v1", "v1", limit=512 << 20)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fluxform.errors import FluxformError, SourceError
from fluxform.sources.oci.dockerconfig import registry_credentials
from fluxform.sources.oci.format import ImageManifest
from fluxform.sources.oci.registry import MAX_MANIFEST, OciClient

__all__ = ["ImageStore", "RegistryAccess", "RegistryRepository", "copy_image", "naming"]


class ImageStore(Protocol):
    """One repository's manifests and blobs; every read is digest-checked."""

    @property
    def name(self) -> str: ...

    def manifest(self, reference: str) -> ImageManifest: ...

    def resolve(self, reference: str) -> str | None: ...

    def blob(self, digest: str, size: int, *, limit: int) -> bytes: ...

    def has_blob(self, digest: str) -> bool: ...

    def put_blob(self, data: bytes) -> str: ...

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> str: ...

    def tags(self) -> list[str]: ...

    def child(self, path: str) -> ImageStore:
        """The repository `<this>/<path>` (charts are pushed beside the fleet)."""
        ...


@dataclass(frozen=True)
class RegistryAccess:
    """How to reach registries: the `--plain-http`, `--ca-file` flags and docker credentials."""

    plain_http: bool = False  # HTTP instead of HTTPS (internal registries)
    ca_file: Path | None = None  # a private CA trusted besides the system's
    docker_config: Path | None = None  # None: $DOCKER_CONFIG/config.json or ~/.docker/config.json
    timeout: float = 60.0
    _clients: dict[str, OciClient] = field(default_factory=dict, compare=False, repr=False)

    def client(self, host: str) -> OciClient:
        if host not in self._clients:
            self._clients[host] = OciClient(
                host,
                plain_http=self.plain_http,
                credentials=registry_credentials(host, self.docker_config),
                ca_file=self.ca_file,
                timeout=self.timeout,
            )
        return self._clients[host]


@dataclass(frozen=True)
class RegistryRepository:
    client: OciClient
    repository: str

    @property
    def name(self) -> str:
        return f"oci://{self.client.host}/{self.repository}"

    def manifest(self, reference: str) -> ImageManifest:
        digest, raw = self.client.manifest(self.repository, reference)
        if len(raw) > MAX_MANIFEST:
            raise SourceError(f"{self.name}:{reference}: manifest is larger than {MAX_MANIFEST} bytes")
        manifest = ImageManifest.parse(raw, f"{self.name}@{digest}")
        return manifest

    def resolve(self, reference: str) -> str | None:
        return self.client.resolve(self.repository, reference)

    def blob(self, digest: str, size: int, *, limit: int) -> bytes:
        return self.client.blob(self.repository, digest, size, limit=limit)

    def has_blob(self, digest: str) -> bool:
        return self.client.has_blob(self.repository, digest)

    def put_blob(self, data: bytes) -> str:
        return self.client.put_blob(self.repository, data)

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> str:
        return self.client.put_manifest(self.repository, reference, raw, media_type)

    def tags(self) -> list[str]:
        return self.client.tags(self.repository)

    def child(self, path: str) -> RegistryRepository:
        return RegistryRepository(self.client, f"{self.repository}/{path}")


def copy_image(src: ImageStore, dst: ImageStore, src_ref: str, dst_ref: str, *, limit: int) -> ImageManifest:
    """Copy one image manifest and its blobs; blobs the target has are not sent again."""
    manifest = src.manifest(src_ref)
    for desc in manifest.blobs():
        if not dst.has_blob(desc.digest):
            dst.put_blob(src.blob(desc.digest, desc.size, limit=limit))
    dst.put_manifest(dst_ref, manifest.raw, manifest.media_type)
    return manifest


@contextmanager
def naming(reference: str) -> Iterator[None]:
    """Prefix any error raised inside with the reference the user gave, once."""
    try:
        yield
    except FluxformError as exc:
        if not exc.summary.startswith(reference):
            exc.summary = f"{reference}: {exc.summary}"
            exc.args = (exc.summary,)
        raise
