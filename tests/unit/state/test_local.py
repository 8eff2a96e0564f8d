"""Local file backend: the shared contract, plus what only a file on disk has."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fluxform.errors import StateError
from fluxform.state.backend import StateBackend
from fluxform.state.local import LocalBackend, default_state_path
from fluxform.state.lock import LockHeld, new_lock_info
from fluxform.state.model import next_revision, state_to_json
from tests.support.states import small_state
from tests.unit.state.backend_contract import BackendContract

REPO = Path(__file__).resolve().parents[3]


class TestLocalContract(BackendContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> Callable[[], LocalBackend]:
        path = tmp_path / ".fluxform" / "test.state.json"
        return lambda: LocalBackend(path)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("prod", "prod.state.json"),
        ("kind-dev.1", "kind-dev.1.state.json"),
        ("arn:aws:eks:eu-west-1:1234:cluster/prod", "arn_aws_eks_eu-west-1_1234_cluster_prod-"),
        ("", "default-"),
    ],
    ids=["plain", "dots", "eks-arn", "empty"],
)
def test_default_path_is_per_context_and_file_safe(context: str, expected: str) -> None:
    path = default_state_path(Path("/fleet"), context)
    assert path.parent == Path("/fleet/.fluxform")
    assert path.name.startswith(expected) and path.name.endswith(".state.json")
    assert "/" not in path.name and ":" not in path.name


def test_sanitised_contexts_do_not_collide() -> None:
    assert default_state_path(Path("."), "a/b") != default_state_path(Path("."), "a:b")


def test_files_are_private_and_the_previous_version_is_kept(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "s" / "c.state.json")
    first = backend.write(small_state())
    second = backend.write(next_revision(first, {}, operation="apply", by="me"))
    assert stat.S_IMODE(backend.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backend.path.parent.stat().st_mode) == 0o700
    assert LocalBackend(backend.backup_path).read() == first
    assert backend.read() == second
    assert not backend.lock_path.exists()


def test_stale_temp_files_are_removed_by_the_next_write(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "c.state.json")
    stale = tmp_path / ".c.state.json.abc123.tmp"
    stale.write_text("partial")
    backend.write(small_state())
    assert not stale.exists()


def test_damaged_state_is_named_and_not_overwritten_unless_forced(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "c.state.json")
    backend.path.write_text('{"format": "fluxform-state", "lin')
    with pytest.raises(StateError) as err:
        backend.read()
    assert str(backend.path) in err.value.one_line()
    with pytest.raises(StateError, match="damaged"):
        backend.write(small_state())
    assert backend.write(small_state(), force=True).serial == 1


_HOLDER = """
import sys, time
from dataclasses import replace
from pathlib import Path
from fluxform.state.local import LocalBackend
from fluxform.state.lock import new_lock_info
backend = LocalBackend(Path(sys.argv[1]))
backend.lock(new_lock_info("apply"))
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_of_a_killed_process_is_released_by_the_os(tmp_path: Path) -> None:
    path = tmp_path / "c.state.json"
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        backend: StateBackend = LocalBackend(path)
        with pytest.raises(LockHeld) as err:
            backend.lock(new_lock_info("apply"))
        assert f"pid {child.pid}" in err.value.holder.who
        assert err.value.holder.operation == "apply"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert backend.lock_holder() is None  # the record is left behind, but nobody holds it
    backend.unlock(backend.lock(new_lock_info("apply")))


def test_pulled_text_is_what_is_stored(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "c.state.json")
    written = backend.write(small_state())
    assert backend.path.read_text() == state_to_json(written)
    assert json.loads(backend.path.read_text())["serial"] == 1


def test_a_reformatted_state_file_is_still_checked_before_writing(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "c.state.json")
    written = backend.write(small_state())
    backend.path.write_text(json.dumps(json.loads(backend.path.read_text()), indent=2))
    with pytest.raises(StateError, match="changed since it was read"):
        backend.write(replace(written, serial=0))
    assert backend.write(written).serial == 2
