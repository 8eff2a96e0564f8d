"""Child process for test_local_crash: writes the next state revision of a local state.

python -m tests.unit.state.crash_writer STATE_FILE   (FLUXFORM_TEST_CRASH_AT=<step>)
"""

from __future__ import annotations

import sys
from pathlib import Path

from fluxform.state.local import LocalBackend
from fluxform.state.model import StateFile, new_state, next_revision
from tests.support.states import deployment, owner, state_object

FIXED_TIME = "2025-06-01T12:00:00Z"
FIXED_LINEAGE = "00000000-0000-4000-8000-000000000001"
FIXED_MASK_KEY = "A" * 43 + "="


def next_state(old: StateFile | None) -> StateFile:
    """The revision the child writes: deterministic, so the parent can predict it."""
    base = old or new_state("crash", lineage=FIXED_LINEAGE, mask_key=FIXED_MASK_KEY)
    objects = [state_object(deployment("apps", f"svc-{i}", "2.0.0")) for i in range(200)]
    apps = owner("apps", objects, revision="main@sha1:new")
    return next_revision(base, {apps.id: apps}, operation="apply", by="crash-writer", at=FIXED_TIME)


def main(path: str) -> None:
    backend = LocalBackend(Path(path))
    backend.write(next_state(backend.read()))


if __name__ == "__main__":
    main(sys.argv[1])
