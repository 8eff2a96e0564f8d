"""The content layer is packed as fluxcd/pkg/tar packs it (headers as Go's archive/tar
writes them) and is byte-identical for one tree however its files' times and owners vary."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from fluxform.errors import SourceError
from fluxform.sources.artifact import IgnoreMatcher, ListingFilter
from fluxform.sources.oci.format import FLUX_IGNORE_PATHS
from fluxform.sources.oci.tarball import pack_tree, tar_header
from tests.support.trees import write_tree


def _pack(root: Path, ignore: tuple[str, ...] = FLUX_IGNORE_PATHS) -> bytes:
    return pack_tree(root, ListingFilter(IgnoreMatcher.for_push(root, ignore)), limit=1 << 30).data


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as tar:
        return tar.getmembers()


def test_headers_are_sanitised_and_walk_is_lexical(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"b.yaml": "b: 1\n", "a/x.yaml": "x: 1\n", "a.yaml": "a: 1\n", "run.sh": "#!"})
    (root / "run.sh").chmod(0o755)
    os.utime(root / "b.yaml", (1_700_000_000, 1_700_000_000))
    members = _members(_pack(root))
    assert [m.name for m in members] == [".", "a", "a/x.yaml", "a.yaml", "b.yaml", "run.sh"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 0)}
    assert [m.type for m in members[:2]] == [tarfile.DIRTYPE, tarfile.DIRTYPE]
    assert members[-1].mode == 0o755 and members[-2].mode == 0o644


def test_same_tree_packs_to_the_same_bytes(tmp_path: Path) -> None:
    files = {"apps/app.yaml": "kind: ConfigMap\n", "clusters/dev/sync.yaml": "kind: Kustomization\n"}
    first = write_tree(tmp_path / "one", files)
    second = write_tree(tmp_path / "two", files)
    for path in second.rglob("*"):
        os.utime(path, (1_234_567_890, 1_234_567_890))
    assert _pack(first) == _pack(second)
    packed = pack_tree(first, ListingFilter(IgnoreMatcher.for_push(first, FLUX_IGNORE_PATHS)), limit=1 << 20)
    raw = gzip.decompress(packed.data)
    assert packed.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert packed.data[:10] == bytes.fromhex("1f8b08000000000000ff")  # no name, mtime 0, OS 255
    assert len(raw) % 512 == 0 and raw.endswith(b"\0" * 1024)  # two zero blocks, no record padding


def test_symlinks_and_ignored_paths_are_left_out(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "src",
        {"keep.yaml": "k: 1\n", "logo.png": "png", ".git/HEAD": "ref", "sub/.sourceignore": "drop.yaml\n",
         "sub/drop.yaml": "d: 1\n", "sub/stay.yaml": "s: 1\n"},
    )  # fmt: skip
    (root / "link.yaml").symlink_to(root / "keep.yaml")
    names = [m.name for m in _members(_pack(root))]
    assert names == [".", "keep.yaml", "sub", "sub/.sourceignore", "sub/stay.yaml"]
    custom = [m.name for m in _members(_pack(root, ("sub/",)))]
    assert custom == [".", ".git", ".git/HEAD", "keep.yaml", "logo.png"]  # --ignore-paths replaces the default


def test_header_block_matches_go_archive_tar() -> None:
    """Bytes Go's tar.Writer writes for Name "a.yaml", Mode 0644, Size 5, Typeflag '0', all
    else zero (octal fields NUL-terminated, USTAR magic, checksum "%06o\\0 ")."""
    block = tar_header("a.yaml", 0o644, 5, b"0")
    assert block[:6] == b"a.yaml" and block[6:100] == b"\0" * 94
    assert block[100:108] == b"0000644\0" and block[108:124] == b"0000000\0" * 2
    assert block[124:136] == b"00000000005\0" and block[136:148] == b"00000000000\0"
    assert block[156:157] == b"0" and block[257:265] == b"ustar\x0000"
    assert block[329:345] == b"0000000\0" * 2
    checksum = sum(block[:148]) + 8 * 32 + sum(block[156:])
    assert block[148:156] == f"{checksum:06o}".encode() + b"\0 "


def test_long_names_split_like_go_and_fall_back_to_pax() -> None:
    name = "/".join(["d" * 50] * 3) + "/file.yaml"  # 164 bytes
    block = tar_header(name, 0o644, 0, b"0")
    # Go's splitUSTARPath takes the longest prefix that fits 155 bytes
    assert block[345:500].rstrip(b"\0") == ("/".join(["d" * 50] * 3)).encode()
    assert block[:100].rstrip(b"\0") == b"file.yaml"
    pax = tar_header("ü" * 60 + ".yaml", 0o644, 0, b"0")
    assert pax[156:157] == b"x" and pax[:100].rstrip(b"\0") == b"PaxHeaders.0/.yaml"
    record = pax[512:].split(b"\0", 1)[0]
    assert record == f"{len(record)} path={'ü' * 60}.yaml\n".encode()
    with tarfile.open(fileobj=io.BytesIO(pax + b"\0" * 1024)) as tar:
        assert tar.getmembers()[0].name == "ü" * 60 + ".yaml"  # Python's reader agrees


def test_size_limit(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"big.yaml": "x" * 4096})
    with pytest.raises(SourceError, match="more than 1000 bytes"):
        pack_tree(root, ListingFilter(IgnoreMatcher.for_push(root, ())), limit=1000)
