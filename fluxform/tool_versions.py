"""Versions of the tools fluxform uses, asked once per installed copy and then remembered.

A tool's version is part of every build cache key and of `fluxform version`, but asking
costs a process (`kubectl version --client`: ~40 ms) or a library load (Helm's SDK: ~70 ms),
on every run. So an answer is kept in the cache dir under the identity of the installed
file (path, size, modification time, inode): replacing the tool changes that identity and
asks again. Entries are verified like every cache entry (fluxform.cache_entry).

    version = remembered_version(Path(kubectl), "kustomize", lambda: probe(kubectl))
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from fluxform.cache_entry import EntryStore, default_cache_dir

__all__ = ["remembered_version"]

_STORE = EntryStore("tool version cache")


def remembered_version(installed: Path, what: str, probe: Callable[[], str]) -> str:
    """`probe()`'s answer for the file `installed`, asked only when that file is new or changed."""
    try:
        info = installed.stat()
    except OSError:
        return probe()
    key = hashlib.sha256(
        f"fluxform-tool-version-v1\0{what}\0{installed.resolve()}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}".encode()
    ).hexdigest()
    path = default_cache_dir() / "tools" / f"{key}.txt"
    payload = _STORE.read(path, key)
    if payload is not None:
        return payload.decode("utf-8", "replace")
    version = probe()
    if version and "unknown" not in version:
        _STORE.write(path, key, version.encode())
    return version
