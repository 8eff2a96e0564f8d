"""The content-addressed chart cache."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fluxform.sources.chart_cache import ChartCache, default_cache_dir, sha256_digest


def test_blob_round_trip_and_refs(tmp_path: Path) -> None:
    cache = ChartCache(tmp_path / "cache")
    digest = cache.put_blob(b"chart bytes")
    assert digest == sha256_digest(b"chart bytes")
    assert cache.get_blob(digest) == b"chart bytes"
    cache.put_ref("index http://x", digest)
    assert cache.get_ref("index http://x") == digest
    assert cache.get_by_ref("index http://x") == b"chart bytes"
    assert cache.get_ref("index http://y") is None
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700


def test_corrupt_blob_is_a_miss_and_removed(tmp_path: Path) -> None:
    cache = ChartCache(tmp_path)
    digest = cache.put_blob(b"good")
    blob = next(p for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"tampered")
    assert cache.get_blob(digest) is None
    assert not blob.exists()


def test_missing_and_foreign_digests(tmp_path: Path) -> None:
    cache = ChartCache(tmp_path)
    assert cache.get_blob("sha256:" + "0" * 64) is None
    assert cache.get_blob("md5:abc") is None
    with pytest.raises(ValueError):
        cache.get_blob("sha256:../../etc/passwd")


def test_default_dir_honours_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "fluxform" / "charts"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "fluxform" / "charts"
