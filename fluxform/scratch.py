"""Scratch directories fluxform makes (artifact copies, build mirrors, chart copies): private
(0700), removed on the way out whatever happens, even when a signal stops the run.

Creation and removal are shielded from signals (fluxform.cancellation), and every live
directory is registered, so the CLI can remove anything a crash left with
`remove_leftovers()` before it exits.

    with scratch_dir("fluxform-build-") as tmp:
        ...
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from fluxform.cancellation import shielded

__all__ = ["remove_leftovers", "scratch_dir"]

_LIVE: set[Path] = set()
_LOCK = threading.Lock()


@contextlib.contextmanager
def scratch_dir(prefix: str, *, parent: Path | None = None) -> Iterator[Path]:
    """A fresh 0700 directory under `parent` (default: the temp dir), removed on exit."""
    with shielded():  # created and registered, or neither
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        with _LOCK:
            _LIVE.add(path)
    try:
        path.chmod(0o700)
        yield path
    finally:
        with shielded():  # a signal must not cut the removal short
            shutil.rmtree(path, ignore_errors=True)
            with _LOCK:
                _LIVE.discard(path)


def remove_leftovers() -> list[Path]:
    """Remove scratch directories still registered (each `scratch_dir` removes its own on
    the way out; this is the last resort at exit). Returns those removed."""
    with shielded(), _LOCK:
        left = sorted(_LIVE)
        for path in left:
            shutil.rmtree(path, ignore_errors=True)
        _LIVE.clear()
    return left
