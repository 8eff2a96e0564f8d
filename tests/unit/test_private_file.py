"""write_private: the one way fluxform writes a file (plan, state, cache entry)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from fluxform.errors import WriteError
from fluxform.private_file import write_private
from tests.support.readonly import read_only


def test_new_file_is_private_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "plan.json"
    write_private(target, '{"a": 1}\n')
    assert target.read_text() == '{"a": 1}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["plan.json"]


def test_existing_world_readable_file_becomes_private(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_planted_symlink_at_the_old_fixed_temp_name_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "plan.json"
    (tmp_path / ".plan.json.tmp").symlink_to(victim)
    write_private(target, "plan")
    assert victim.read_text() == "precious"
    assert target.read_text() == "plan" and not target.is_symlink()


def test_symlink_target_is_refused_and_its_destination_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "plan.json"
    target.symlink_to(victim)
    with pytest.raises(WriteError, match="symbolic link"):
        write_private(target, "plan")
    assert victim.read_text() == "precious"
    assert target.is_symlink()


def test_directory_target_is_refused_without_a_stray_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(WriteError, match="is a directory"):
        write_private(target, "plan")
    assert list(tmp_path.iterdir()) == [target]
    assert list(target.iterdir()) == []


def test_read_only_directory_is_one_clear_error(tmp_path: Path) -> None:
    with read_only(tmp_path / "ro") as directory, pytest.raises(WriteError) as caught:
        write_private(directory / "plan.json", "plan", what="--out ro/plan.json")
    assert caught.value.one_line().startswith("cannot write --out ro/plan.json: ")
    assert "not writable" in caught.value.one_line()
    assert list(directory.iterdir()) == []


def test_concurrent_writers_never_fail_and_leave_one_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    payloads = [(f"writer {i}\n" * 2000).encode() for i in range(64)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(payloads))

    def write(payload: bytes) -> None:
        barrier.wait()
        try:
            write_private(target, payload)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_failed_write_removes_its_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"

    def crash(step: str) -> None:
        if step == "temp-written":
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_private(target, "plan", step=crash)
    assert list(tmp_path.iterdir()) == []
