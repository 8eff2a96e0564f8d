"""Hostile layers are refused with one line naming the entry; good ones unpack exactly."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from fluxform.errors import SourceError
from fluxform.sources.oci.extract import extract_layer


def layer(*entries: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    """A tar+gzip of (name, content) files and raw TarInfo entries (links, devices)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return gzip.compress(buf.getvalue())


def info(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type, entry.linkname = kind, linkname
    return entry


def test_good_layer_unpacks(tmp_path: Path) -> None:
    data = layer(info(".", tarfile.DIRTYPE), ("apps/app.yaml", b"kind: ConfigMap\n"), ("README.md", b"hi"))
    assert extract_layer(data, tmp_path / "out", limit=1 << 20, what="art") == 2
    assert (tmp_path / "out" / "apps" / "app.yaml").read_bytes() == b"kind: ConfigMap\n"


def test_links_that_stay_inside_are_skipped(tmp_path: Path) -> None:
    data = layer(
        ("a.yaml", b"a"), info("b.yaml", tarfile.SYMTYPE, "a.yaml"), info("sub/c", tarfile.SYMTYPE, "../a.yaml")
    )
    extract_layer(data, tmp_path / "out", limit=1 << 20, what="art")
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["a.yaml"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("../escape.yaml", b"x"), "tar entry '../escape.yaml' climbs out of the artifact"),
        (("apps/../../escape.yaml", b"x"), "climbs out of the artifact with '..'"),
        (("/etc/passwd", b"x"), "tar entry '/etc/passwd' has an absolute or invalid path"),
        (info("evil", tarfile.SYMTYPE, "/etc/passwd"), "tar entry 'evil' is a symlink to '/etc/passwd' outside"),
        (info("apps/evil", tarfile.SYMTYPE, "../../outside"), "is a symlink to '../../outside' outside the artifact"),
        (info("hard", tarfile.LNKTYPE, "../outside"), "tar entry 'hard' is a hard link to '../outside' outside"),
        (info("dev/sda", tarfile.BLKTYPE), "tar entry 'dev/sda' is a device file"),
        (info("tty", tarfile.CHRTYPE), "tar entry 'tty' is a device file"),
        (info("pipe", tarfile.FIFOTYPE), "tar entry 'pipe' is a special file"),
    ],
    ids=[
        "dotdot",
        "dotdot-inside",
        "absolute",
        "symlink-absolute",
        "symlink-escape",
        "hardlink",
        "block",
        "char",
        "fifo",
    ],
)
def test_hostile_entries_are_refused(tmp_path: Path, entry: tarfile.TarInfo | tuple[str, bytes], message: str) -> None:
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(".", r"\.")) as caught:
        extract_layer(layer(entry), tmp_path / "out", limit=1 << 20, what="oci://reg/fleet@sha256:abc")
    assert caught.value.one_line().startswith("oci://reg/fleet@sha256:abc: tar entry")
    assert "\n" not in caught.value.one_line()
    assert not (tmp_path / "escape.yaml").exists() and not (tmp_path / "outside").exists()


def test_oversized_archives_are_refused_before_unpacking(tmp_path: Path) -> None:
    bomb = layer(("zeros", b"\0" * (4 << 20)))  # compresses to a few KiB
    assert len(bomb) < 64 << 10
    with pytest.raises(SourceError, match="layer expands past 1048576 bytes"):
        extract_layer(bomb, tmp_path / "out", limit=1 << 20, what="art")
    assert not (tmp_path / "out").exists()  # refused before anything was written
    with pytest.raises(SourceError, match=r"layer is \d+ bytes, over the limit of 100"):
        extract_layer(bomb, tmp_path / "out2", limit=100, what="art")


def test_not_gzip_or_truncated(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not valid gzip"):
        extract_layer(b"plain text", tmp_path / "out", limit=1 << 20, what="art")
    good = layer(("a", b"a" * 1000))
    with pytest.raises(SourceError, match="truncated gzip"):
        extract_layer(good[: len(good) // 2], tmp_path / "out", limit=1 << 20, what="art")
