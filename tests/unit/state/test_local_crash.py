"""SIGKILL a real writer process at every step of a state write: afterwards the state is
always the old or the new one, never torn or empty, and the next writer proceeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fluxform.state.local import CRASH_ENV, CRASH_POINTS, LocalBackend
from fluxform.state.model import StateFile, new_state, next_revision
from tests.support.states import deployment, owner, state_object
from tests.unit.state.crash_writer import FIXED_LINEAGE, FIXED_MASK_KEY, next_state

REPO = Path(__file__).resolve().parents[3]
#: Steps after which the new state is in place.
COMMITTED = {"renamed", "dir-synced"}


def _old_state() -> StateFile:
    apps = owner("apps", [state_object(deployment("apps", f"svc-{i}", "1.0.0")) for i in range(200)])
    state = new_state("crash", lineage=FIXED_LINEAGE, mask_key=FIXED_MASK_KEY)
    return next_revision(state, {apps.id: apps}, operation="apply", by="setup", at="2025-01-01T00:00:00Z")


def _run_writer(path: Path, crash_at: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    argv = [sys.executable, "-m", "tests.unit.state.crash_writer", str(path)]
    return subprocess.run(argv, cwd=REPO, env=env, timeout=60, check=False).returncode


@pytest.mark.parametrize("existing", [True, False], ids=["over-old-state", "first-write"])
@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_writer_leaves_old_or_new_state(tmp_path: Path, crash_at: str, existing: bool) -> None:
    backend = LocalBackend(tmp_path / ".fluxform" / "crash.state.json")
    old = backend.write(_old_state()) if existing else None
    new = replace(next_state(old), serial=(old.serial if old else 0) + 1)

    assert _run_writer(backend.path, crash_at) == -signal.SIGKILL

    after = backend.read()
    assert after == (new if crash_at in COMMITTED else old)
    assert backend.lock_holder() is None  # the OS dropped the dead writer's lock

    # The next writer is not hindered by what the crash left behind.
    assert _run_writer(backend.path, None) == 0
    final = backend.read()
    assert final is not None and final.serial == (after.serial if after else 0) + 1
    leftovers = sorted(p.name for p in backend.path.parent.iterdir() if p.name.endswith(".tmp"))
    assert leftovers == []
