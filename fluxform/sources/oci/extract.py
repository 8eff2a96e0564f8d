"""Unpacking an artifact layer into a directory without trusting it.

A layer comes from a registry or a tarball someone carried across an air gap, so it is
treated as hostile: the gzip stream is inflated with a cap (`limit`, `--max-artifact-size`)
before tar parses anything, and every entry is checked before it is written. Refused, with
the entry named: absolute names, `..` components, backslashes, links (symbolic or hard)
whose target leaves the directory, device files and FIFOs, and archives over the limit.
Links that stay inside are skipped, as Flux's artifacts hold none; regular files and
directories are written with their permission bits (no setuid/setgid), never through a
link. Nothing is kept when a check fails (the caller's directory is private and removed).

    files = extract_layer(blob, Path(tmp) / "artifact", limit=512 << 20, what="oci://reg/fleet@sha256:...")
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
import zlib
from pathlib import Path

from fluxform.errors import SourceError

__all__ = ["extract_layer", "gunzip_limited"]

_READ = 1 << 20


def gunzip_limited(data: bytes, *, limit: int, what: str) -> bytes:
    """Inflate a gzip stream, refusing one that expands past `limit` bytes."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while pending:
            out += inflater.decompress(pending, _READ)
            if len(out) > limit:
                raise SourceError(f"{what}: layer expands past {limit} bytes", hint="raise --max-artifact-size")
            pending = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data.strip(b"\0"):
                raise SourceError(f"{what}: layer holds data after its gzip stream")
    except zlib.error as exc:
        raise SourceError(f"{what}: layer is not valid gzip", detail=str(exc)) from None
    if not inflater.eof:
        raise SourceError(f"{what}: layer is a truncated gzip stream")
    return bytes(out)


def extract_layer(data: bytes, target: Path, *, limit: int, what: str) -> int:
    """Unpack a tar+gzip layer into `target` (created 0700); returns the files written."""
    if len(data) > limit:
        raise SourceError(
            f"{what}: layer is {len(data)} bytes, over the limit of {limit}", hint="raise --max-artifact-size"
        )
    raw = gunzip_limited(data, limit=limit, what=what)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    root = os.path.realpath(target)
    files = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                rel = _checked_name(member.name, what)
                if member.issym() or member.islnk():
                    _check_link(member, rel, what)
                    continue
                if member.isdir():
                    if rel:
                        _make_dirs(root, rel, member.mode, what)
                elif member.isreg():
                    _write_file(root, rel, tar, member, what)
                    files += 1
                else:
                    kind = "device file" if member.ischr() or member.isblk() else "special file"
                    raise SourceError(f"{what}: tar entry {member.name!r} is a {kind}, refused")
    except tarfile.TarError as exc:
        raise SourceError(f"{what}: layer is not a valid tar archive", detail=str(exc)) from None
    return files


def _checked_name(name: str, what: str) -> str:
    """The entry's path relative to the target ("" for the root), or a refusal."""
    if not name or "\\" in name or "\0" in name or name.startswith("/"):
        raise SourceError(f"{what}: tar entry {name!r} has an absolute or invalid path, refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SourceError(f"{what}: tar entry {name!r} climbs out of the artifact with '..', refused")
    return "/".join(parts)


def _check_link(member: tarfile.TarInfo, rel: str, what: str) -> None:
    """A link may stay (it is skipped); one pointing outside is refused."""
    target = member.linkname
    if member.issym():
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    else:
        resolved = posixpath.normpath(target)
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        kind = "symlink" if member.issym() else "hard link"
        raise SourceError(f"{what}: tar entry {member.name!r} is a {kind} to {target!r} outside the artifact, refused")


def _make_dirs(root: str, rel: str, mode: int, what: str) -> str:
    current = root
    for part in rel.split("/"):
        current = os.path.join(current, part)
        try:
            os.mkdir(current, 0o700)
        except FileExistsError:
            if os.path.islink(current) or not os.path.isdir(current):
                raise SourceError(f"{what}: tar entry {rel!r} collides with a file of the same name") from None
    os.chmod(current, (mode & 0o777) | 0o700)
    return current


def _write_file(root: str, rel: str, tar: tarfile.TarFile, member: tarfile.TarInfo, what: str) -> None:
    if not rel:
        raise SourceError(f"{what}: tar entry {member.name!r} is a file at the artifact root, refused")
    parent, _, name = rel.rpartition("/")
    directory = _make_dirs_keep_mode(root, parent, what)
    path = os.path.join(directory, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise SourceError(f"{what}: cannot write tar entry {member.name!r}", detail=exc.strerror or "") from None
    source = tar.extractfile(member)
    with os.fdopen(fd, "wb") as handle:
        if source is not None:
            while chunk := source.read(_READ):
                handle.write(chunk)
    os.chmod(path, (member.mode & 0o777) | 0o600)  # the owner reads it back; setuid/setgid dropped


def _make_dirs_keep_mode(root: str, rel: str, what: str) -> str:
    """Parents of a file, created 0700 when the archive has no entry for them (as Flux's
    MkdirAll), never through a link."""
    current = root
    for part in rel.split("/") if rel else ():
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise SourceError(f"{what}: tar entry below {rel!r} would be written through a link, refused")
        if not os.path.isdir(current):
            os.mkdir(current, 0o700)
    return current
