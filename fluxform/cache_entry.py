"""Entries of the caches fluxform keeps between runs, verified before they are believed.

A cache directory is an input like any other: CI restores it from somewhere, a bad restore
truncates files, and anyone who can write it could put objects into a plan. So every entry
carries, on its first line, the key it stands for (the digest of all its inputs) and a
SHA-256 over that key and its content; a read checks both and treats anything else (a
truncated, edited, renamed or foreign file) as absent: it is discarded with one warning and
the caller rebuilds it. Writes go through `private_file` (random temp + rename), so a
concurrent run never reads half an entry.

A digest detects corruption and edits that do not recompute it; it does not authenticate
the writer (whoever can write the cache can compute one), which is why the README tells CI
users to restore the cache only from keys their own trusted runs saved.

    store = EntryStore("build cache")
    store.write(path, key, payload)
    payload = store.read(path, key)     # None when missing or discarded
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import FluxformWarning
from fluxform.private_file import write_private

__all__ = ["EntryStore", "InvalidEntry", "default_cache_dir", "seal", "unseal"]

_MAGIC = b"fluxform-cache-entry/1"
#: Larger files are not read at all (a build's output is capped well below this).
MAX_ENTRY_BYTES = 1 << 30


def default_cache_dir() -> Path:
    """`$FLUXFORM_CACHE_DIR`, else `$XDG_CACHE_HOME/fluxform`, else `~/.cache/fluxform`."""
    if os.environ.get("FLUXFORM_CACHE_DIR"):
        return Path(os.environ["FLUXFORM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fluxform"


class InvalidEntry(ValueError):
    """An entry that is not what its key says; the reason is for the warning."""


def _digest(key: str, payload: bytes) -> str:
    return hashlib.sha256(_MAGIC + b"\0" + key.encode() + b"\0" + payload).hexdigest()


def seal(key: str, payload: bytes) -> bytes:
    """Header line (format, key, digest) followed by the payload."""
    return b"%s %s sha256:%s\n" % (_MAGIC, key.encode(), _digest(key, payload).encode()) + payload


def unseal(key: str, data: bytes) -> bytes:
    """The payload of a sealed entry for `key`; InvalidEntry when anything does not match."""
    header, newline, payload = data.partition(b"\n")
    if not newline:
        raise InvalidEntry("no header")
    fields = header.split(b" ")
    if len(fields) != 3 or fields[0] != _MAGIC:
        raise InvalidEntry("not a fluxform cache entry")
    if fields[1] != key.encode():
        raise InvalidEntry("it holds the entry of other inputs")
    expected = b"sha256:" + _digest(key, payload).encode()
    if not hmac.compare_digest(fields[2], expected):
        raise InvalidEntry("its content does not match its digest")
    return payload


@dataclass(frozen=True)
class EntryStore:
    """Reads and writes sealed entries; `name` says which cache in warnings."""

    name: str

    def read(self, path: Path, key: str) -> bytes | None:
        """The verified payload, or None (missing, unreadable, or discarded with a warning)."""
        try:
            data = _read_regular_file(path)
        except FileNotFoundError:
            return None
        except (OSError, InvalidEntry) as exc:
            self.discard(path, str(exc) if isinstance(exc, InvalidEntry) else (exc.strerror or str(exc)))
            return None
        try:
            return unseal(key, data)
        except InvalidEntry as exc:
            self.discard(path, str(exc))
            return None

    def write(self, path: Path, key: str, payload: bytes) -> None:
        """Store an entry; a cache that cannot be written only makes the next run slower."""
        with contextlib.suppress(Exception):
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(path, seal(key, payload))

    def discard(self, path: Path, reason: str) -> None:
        """Remove a bad entry and say so once."""
        with contextlib.suppress(OSError):
            path.unlink()
        warnings.warn(FluxformWarning(f"{self.name} entry {path} was discarded and is rebuilt: {reason}"), stacklevel=2)


def _read_regular_file(path: Path) -> bytes:
    """The file's bytes, refusing links, devices and absurd sizes (never block, never loop)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidEntry("not a regular file")
        if info.st_size > MAX_ENTRY_BYTES:
            raise InvalidEntry(f"larger than {MAX_ENTRY_BYTES >> 20} MiB")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
