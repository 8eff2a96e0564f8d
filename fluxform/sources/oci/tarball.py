"""The content layer of a Flux artifact, packed as fluxcd/pkg/tar `Tar` packs it.

Why our own tar writer and not `tarfile`: the bytes must be reproducible and equal to what
Go's archive/tar writes for the same tree, and tarfile differs (PAX for long names where Go
splits into the USTAR prefix, GNU-style PAX header names, and padding of the archive to a
10 KiB record). What is reproduced from fluxcd/pkg/tar and Go's archive/tar:

* a lexical walk (`filepath.WalkDir`), the root first as `.`, names relative with `/`, no
  trailing slash on directories; only regular files and directories (symlinks and special
  files are skipped, not followed);
* uid/gid 0, empty uname/gname, mtime 0 (the epoch), mode = permission + setuid/setgid/
  sticky bits; USTAR headers (octal fields NUL-terminated, checksum `%06o\\0 `), a name over
  100 bytes split at the last `/` that fits the 155-byte prefix, else a PAX `path` record in a
  `PaxHeaders.0/<name>` entry; the archive ends with two zero blocks, no record padding;
* gzip with mtime 0, no file name, OS byte 255, default level (zlib's deflate stream is not
  Go's, so the compressed bytes, and the digest, differ from `flux push artifact`'s; fluxform's
  own pushes of one tree are byte-identical).

    layer = pack_tree(Path("fleet"), ListingFilter(matcher))
    layer.data, layer.diff_id     # gzip bytes, sha256 of the uncompressed tar
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fluxform.errors import SourceError
from fluxform.sources.artifact import ListingFilter

__all__ = ["PackedLayer", "pack_tree", "tar_header"]

_BLOCK = 512
_NAME, _PREFIX = 100, 155


@dataclass(frozen=True)
class PackedLayer:
    data: bytes = field(repr=False)  # the gzip-compressed tar
    diff_id: str  # sha256 of the uncompressed tar (the OCI config's rootfs diff_id)
    files: int  # regular files packed


def pack_tree(root: Path, keep: ListingFilter, *, limit: int) -> PackedLayer:
    """Tar+gzip `root` as Flux does, keeping what `keep` keeps; refuses trees over `limit`."""
    tar = io.BytesIO()
    files = total = 0
    for rel, path, info in _walk(root, keep):
        is_dir = stat.S_ISDIR(info.st_mode)
        size = 0 if is_dir else info.st_size
        total += size
        if total > limit:
            raise SourceError(f"{root} holds more than {limit} bytes of files", hint="raise --max-artifact-size")
        tar.write(tar_header(rel, stat.S_IMODE(info.st_mode), size, b"5" if is_dir else b"0"))
        if not is_dir:
            data = path.read_bytes()
            if len(data) != size:
                raise SourceError(f"{path} changed while it was being packed")
            tar.write(data + b"\0" * (-len(data) % _BLOCK))
            files += 1
    tar.write(b"\0" * (2 * _BLOCK))
    raw = tar.getvalue()
    return PackedLayer(_gzip(raw), "sha256:" + hashlib.sha256(raw).hexdigest(), files)


def _gzip(raw: bytes) -> bytes:
    """gzip as Go's compress/gzip writes it with a zero Header: no flags, mtime 0, XFL 0 at
    the default level, OS 255 (Python's gzip module writes OS 3 on some versions)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(raw) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(raw) & 0xFFFFFFFF, len(raw) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + trailer


def _walk(root: Path, keep: ListingFilter) -> Iterator[tuple[str, Path, os.stat_result]]:
    """(name, path, lstat) in filepath.WalkDir order; directories the filter drops are still
    entered when `!` patterns could re-include something below them (Flux never prunes)."""
    yield ".", root, root.stat()
    yield from _walk_dir(root, (), keep)


def _walk_dir(
    directory: Path, parts: tuple[str, ...], keep: ListingFilter
) -> Iterator[tuple[str, Path, os.stat_result]]:
    for name in sorted(os.listdir(directory), key=os.fsencode):
        path = directory / name
        info = path.lstat()
        child = (*parts, name)
        rel = "/".join(child)
        if stat.S_ISDIR(info.st_mode):
            if keep.prunes(child):
                continue
            if keep.has_dir(child):
                yield rel, path, info
            yield from _walk_dir(path, child, keep)
        elif stat.S_ISREG(info.st_mode) and keep.keeps(rel):
            yield rel, path, info


def tar_header(name: str, mode: int, size: int, typeflag: bytes) -> bytes:
    """The header block(s) Go's tar.Writer.WriteHeader emits for this entry."""
    encoded = name.encode()
    if len(encoded) <= _NAME and name.isascii():
        return _block(encoded, b"", mode, size, typeflag)
    split = _split_ustar(name)
    if split is not None:
        prefix, suffix = split
        return _block(suffix.encode(), prefix.encode(), mode, size, typeflag)
    record = _pax_record("path", name)
    directory, _, base = name.rpartition("/")
    pax_name = f"{directory}/PaxHeaders.0/{base}" if directory else f"PaxHeaders.0/{base}"
    pax_name_ascii = _ascii(pax_name)[:_NAME].rstrip("/").encode()
    pax = _block(pax_name_ascii, b"", 0, len(record), b"x") + record + b"\0" * (-len(record) % _BLOCK)
    return pax + _block(_truncated_name(name), b"", mode, size, typeflag)


def _split_ustar(name: str) -> tuple[str, str] | None:
    """Go's splitUSTARPath: the longest prefix (<= 155 bytes) ending at a `/`."""
    length = len(name)
    if length <= _NAME or not name.isascii():
        return None
    if length > _PREFIX + 1:
        length = _PREFIX + 1
    elif name[length - 1] == "/":
        length -= 1
    i = name.rfind("/", 0, length)
    suffix_len = len(name) - i - 1
    if i <= 0 or suffix_len > _NAME or suffix_len == 0 or i > _PREFIX:
        return None
    return name[:i], name[i + 1 :]


def _ascii(text: str) -> str:
    return "".join(c for c in text if c.isascii())


def _truncated_name(name: str) -> bytes:
    """The v7 name field of a PAX entry: ASCII only, first 100 bytes, no trailing `/`."""
    text = _ascii(name)
    if len(text) > _NAME and text[_NAME - 1] == "/":
        text = text[:_NAME].rstrip("/")
    return text[:_NAME].encode()


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    size = len(body) + len(str(len(body)))
    if len(str(size)) + len(body) != size:
        size = len(str(size)) + len(body)
    return str(size).encode() + body


def _octal(value: int, width: int) -> bytes:
    text = format(value, "o").encode()
    return text.rjust(width - 1, b"0") + b"\0"


def _block(name: bytes, prefix: bytes, mode: int, size: int, typeflag: bytes) -> bytes:
    header = bytearray(_BLOCK)
    header[0 : len(name)] = name
    header[100:108] = _octal(mode, 8)
    header[108:116] = _octal(0, 8)  # uid
    header[116:124] = _octal(0, 8)  # gid
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(0, 12)  # mtime: the epoch
    header[156:157] = typeflag
    header[257:265] = b"ustar\x0000"
    header[329:337] = _octal(0, 8)  # devmajor
    header[337:345] = _octal(0, 8)  # devminor
    header[345 : 345 + len(prefix)] = prefix
    header[148:156] = b" " * 8
    checksum = sum(header)
    header[148:156] = _octal(checksum, 7) + b" "
    return bytes(header)
