"""Private scratch directories in memory, for anything that holds plaintext or keys.

Decrypted generator inputs (`envs:` files, patches) must exist as files for kustomize to
read them; they may only ever live on a RAM-backed filesystem, in a directory only this
user can enter, removed as soon as the build is done. A disk temp dir is used only when
the user opts in with FLUXFORM_ALLOW_DISK_TEMP=1.

    with private_tmpfs_dir() as scratch:
        ...  # copy the tree, write decrypted files, run kustomize
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from fluxform.errors import DecryptError
from fluxform.scratch import scratch_dir

__all__ = ["ALLOW_DISK_TEMP_ENV", "is_on_tmpfs", "private_dir", "private_tmpfs_dir"]

#: Set to 1 to let plaintext scratch dirs fall back to the regular (disk) temp dir.
ALLOW_DISK_TEMP_ENV = "FLUXFORM_ALLOW_DISK_TEMP"

_MEMORY_FS_TYPES = frozenset({"tmpfs", "ramfs"})
_PREFIX = "fluxform-"


def _mounts() -> list[tuple[Path, str]]:
    """(mount point, filesystem type) of every mount; empty where /proc is absent."""
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    fields = (line.split() for line in lines)
    return [(Path(f[1].replace("\\040", " ")), f[2]) for f in fields if len(f) >= 3]


def is_on_tmpfs(path: Path) -> bool:
    """Whether `path` lives on tmpfs/ramfs, judged by the innermost mount containing it."""
    resolved = path.resolve()
    containing = [(point, fstype) for point, fstype in _mounts() if point == resolved or point in resolved.parents]
    if not containing:
        return False
    # the innermost mount wins; of two at the same point, the later one shadows the earlier
    _, fstype = max(reversed(containing), key=lambda item: len(str(item[0])))
    return fstype in _MEMORY_FS_TYPES


def _tmpfs_candidates() -> list[Path]:
    """$XDG_RUNTIME_DIR first (the user's own 0700 tmpfs), then the shared /dev/shm."""
    candidates = [Path("/dev/shm")]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        candidates.insert(0, Path(runtime))
    return [c for c in candidates if c.is_dir() and os.access(c, os.W_OK | os.X_OK) and is_on_tmpfs(c)]


def _disk_allowed() -> bool:
    return os.environ.get(ALLOW_DISK_TEMP_ENV, "").strip().lower() in {"1", "true", "yes"}


@contextlib.contextmanager
def private_dir(*, require_tmpfs: bool, prefix: str = _PREFIX) -> Iterator[Path]:
    """A fresh 0700 directory, on tmpfs when one is available, removed on exit.

    With `require_tmpfs`, no tmpfs and no opt-in raises DecryptError instead of using disk."""
    candidates = _tmpfs_candidates()
    if candidates:
        parent: str | None = str(candidates[0])
    elif not require_tmpfs or _disk_allowed():
        parent = None
    else:
        raise DecryptError(
            "no RAM-backed temp directory (tmpfs) for decrypted files",
            detail="/dev/shm is missing or not tmpfs, and so is $XDG_RUNTIME_DIR",
            hint=f"mount a tmpfs at /dev/shm, or set {ALLOW_DISK_TEMP_ENV}=1 to accept plaintext in a "
            "private disk temp dir (removed after the build)",
        )
    with scratch_dir(prefix, parent=Path(parent) if parent else None) as path:
        yield path


@contextlib.contextmanager
def private_tmpfs_dir() -> Iterator[Path]:
    """A private (0700) directory on tmpfs for plaintext, removed on exit (see module doc)."""
    with private_dir(require_tmpfs=True) as path:
        yield path
