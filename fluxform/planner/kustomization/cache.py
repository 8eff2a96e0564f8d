"""Content-addressed cache of kustomize build output.

The key covers every input: the kustomize engine and version, the kustomization document
Flux would write, and the path and bytes of every file in the input closure. An entry holds
the output and its documents already parsed (output.py), sealed with their key and a digest
and verified on every read (`fluxform.cache_entry`): a damaged or edited entry is discarded
with a warning and the build runs again. Builds whose inputs were decrypted are never cached
(no decrypted value may be persisted).

    cache = BuildCache.default()
    found = cache.get(key) or cache.put(key, text, parse_documents(text))
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fluxform.cache_entry import EntryStore, default_cache_dir
from fluxform.limits import read_limited
from fluxform.planner.kustomization.output import Documents, pack, unpack

__all__ = ["BuildCache", "build_key", "default_cache_dir"]


def build_key(
    tool_version: str,
    kustomization: str,
    files: Iterable[Path],
    root: Path,
    target: str,
    file_digest: Callable[[Path, str], bytes] | None = None,
) -> str:
    """`file_digest(path, relative)`: SHA-256 of a file's bytes (refusing one over the file
    size limit), e.g. the run's memo of them (closure.TreeFacts.digest)."""
    digest = hashlib.sha256()
    digest.update(f"fluxform-build-v3\0{tool_version}\0{target}\0".encode())
    digest.update(kustomization.encode())
    for path in sorted(files):
        relative = str(path.relative_to(root))
        digest.update(b"\0" + relative.encode() + b"\0")
        if file_digest is not None:
            digest.update(file_digest(path, relative))
        else:
            digest.update(hashlib.sha256(read_limited(path, what=relative)).digest())
    return digest.hexdigest()


@dataclass
class BuildCache:
    directory: Path | None  # None disables the cache
    hits: int = 0
    misses: int = 0

    @classmethod
    def default(cls) -> BuildCache:
        return cls(default_cache_dir() / "builds")

    @classmethod
    def disabled(cls) -> BuildCache:
        return cls(None)

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / key[:2] / f"{key}.yaml"

    def get(self, key: str) -> tuple[str, Documents] | None:
        """The verified output for `key` and its parsed documents, or None (missing, or
        damaged and discarded)."""
        path = self._path(key)
        payload = None if path is None else _STORE.read(path, key)
        found = _decoded(payload)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put(self, key: str, text: str, documents: Documents) -> tuple[str, Documents]:
        path = self._path(key)
        if path is not None:
            _STORE.write(path, key, pack(text, documents))
        return text, documents


_STORE = EntryStore("build cache")


def _decoded(payload: bytes | None) -> tuple[str, Documents] | None:
    if payload is None:
        return None
    try:
        return unpack(payload)
    except (UnicodeDecodeError, ValueError):
        return None  # sealed by us, so only a forged entry gets here: treat as absent
