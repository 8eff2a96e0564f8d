# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""Private RAM-backed scratch directories for plaintext."""

from __future__ import annotations

from pathlib import Path

import pytest

import fluxform.decrypt.tmpfs as tmpfs
from fluxform.decrypt import ALLOW_DISK_TEMP_ENV, is_on_tmpfs, private_tmpfs_dir
from fluxform.errors import DecryptError


def test_private_tmpfs_dir_is_private_in_memory_and_removed() -> None:
    with private_tmpfs_dir() as scratch:
        assert scratch.stat().st_mode & 0o777 == 0o700
        assert is_on_tmpfs(scratch)
        (scratch / "sub").mkdir()
        (scratch / "sub" / "plain.env").write_text("A=1\n")
    assert not scratch.exists()


def test_removed_even_when_the_block_fails() -> None:
    with pytest.raises(KeyError), private_tmpfs_dir() as scratch:
        raise KeyError("boom")
    assert not scratch.exists()


def test_without_tmpfs_needs_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tmpfs, "_tmpfs_candidates", list)  # a machine with no tmpfs at all
    monkeypatch.delenv(ALLOW_DISK_TEMP_ENV, raising=False)
    with pytest.raises(DecryptError, match="no RAM-backed temp directory") as caught, private_tmpfs_dir():
        pass
    assert ALLOW_DISK_TEMP_ENV in caught.value.one_line()
    monkeypatch.setenv(ALLOW_DISK_TEMP_ENV, "1")
    with private_tmpfs_dir() as scratch:
        assert scratch.stat().st_mode & 0o777 == 0o700
    assert not scratch.exists()


@pytest.mark.parametrize(("path", "expected"), [("/dev/shm", True), ("/dev/shm/x/y", True), ("/", False)])
def test_is_on_tmpfs(path: str, expected: bool) -> None:
    assert is_on_tmpfs(Path(path)) is expected
