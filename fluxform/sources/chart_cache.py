"""Content-addressed cache for chart archives and the repository metadata that picks them.

Blobs (chart .tgz, index.yaml, OCI manifests, tag lists) are stored once under their
sha256; small "refs" name a blob by what it answers (`index <repo url>`, `tags <oci repo>`,
`manifest <oci repo>:<tag>`, ...). Online runs refresh refs and reuse blobs; `--offline`
runs resolve everything from refs, so `fluxform charts pull` fills exactly what a plan needs.
Every blob read is re-hashed: a corrupt file is dropped and reported as a miss.

    cache = ChartCache()                   # $XDG_CACHE_HOME/fluxform/charts
    digest = cache.put_blob(data)          # "sha256:<hex>"
    cache.put_ref("index https://charts.example.com", digest)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ChartCache", "default_cache_dir", "sha256_digest"]


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/fluxform/charts`, else `~/.cache/fluxform/charts`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fluxform" / "charts"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ChartCache:
    """A cache directory (created 0700 on first write; charts may come from private repos).

    `memo` lives as long as this object: an index or tag list is fetched and parsed once per
    run, however many HelmReleases use the repository. Make one ChartCache per run."""

    root: Path
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    memo_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def default(cls) -> ChartCache:
        return cls(default_cache_dir())

    def put_blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        path = self._blob_path(digest)
        if not path.is_file():
            self._write(path, data)
        return digest

    def get_blob(self, digest: str) -> bytes | None:
        """The blob, or None when absent or corrupt (a corrupt blob is removed)."""
        if not digest.startswith("sha256:"):
            return None
        path = self._blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if sha256_digest(data) != digest:
            path.unlink(missing_ok=True)
            return None
        return data

    def put_ref(self, key: str, digest: str) -> None:
        self._write(self._ref_path(key), json.dumps({"key": key, "digest": digest}).encode())

    def get_ref(self, key: str) -> str | None:
        try:
            record = json.loads(self._ref_path(key).read_text())
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        digest = record.get("digest")
        return digest if isinstance(digest, str) else None

    def get_by_ref(self, key: str) -> bytes | None:
        digest = self.get_ref(key)
        return None if digest is None else self.get_blob(digest)

    def refs_digest(self) -> str:
        """A digest of every ref the cache holds (what an offline run can resolve), so what
        was computed from the cache can be keyed by its state; cheap: refs are small."""
        digest = hashlib.sha256(b"fluxform-chart-refs-v1\0")
        refs = self.root / "refs"
        for path in sorted(refs.glob("*.json")) if refs.is_dir() else []:
            with contextlib.suppress(OSError):
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    def _blob_path(self, digest: str) -> Path:
        hexdigest = digest.removeprefix("sha256:")
        if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / "blobs" / "sha256" / hexdigest[:2] / hexdigest

    def _ref_path(self, key: str) -> Path:
        return self.root / "refs" / (hashlib.sha256(key.encode()).hexdigest() + ".json")

    def _write(self, path: Path, data: bytes) -> None:
        """Atomic write (temp file + rename) so concurrent runs never see half a blob."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
