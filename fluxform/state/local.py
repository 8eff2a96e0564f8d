"""Local state backend: one JSON file per cluster under `.fluxform/`, written atomically.

A write goes to a temp file in the same directory, is fsynced, the current file is kept as
`<name>.backup` (a hard link), the temp file is renamed over the state and the directory is
fsynced. A crash at any step leaves the old or the new state, never a torn one
(tests/unit/state/test_local_crash.py kills a writer at each step).

The lock is an OS lock (flock) on `<name>.lock`, whose content is the holder's LockInfo. The
OS drops the lock when its process dies, so a crashed apply never leaves the state locked;
force-unlock removes the lock file, and the old holder then finds its lock gone and refuses
to write.

    backend = LocalBackend(default_state_path(Path("."), "prod"))
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from fluxform.errors import StateError, WriteError
from fluxform.private_file import TEMP_SUFFIX, temp_prefix, write_private
from fluxform.state.backend import locked, next_serial, wait_for_lock
from fluxform.state.codec import read_header
from fluxform.state.lock import (
    LockHeld,
    LockInfo,
    LockLost,
    lock_info_from_json,
    lock_info_to_json,
)
from fluxform.state.model import StateFile, state_from_json, state_to_json

__all__ = ["CRASH_ENV", "CRASH_POINTS", "LocalBackend", "default_state_path"]

#: Test hook: the crash test sets this to a step name and the writer SIGKILLs itself there.
CRASH_ENV = "FLUXFORM_TEST_CRASH_AT"
CRASH_POINTS = ("temp-partial", "temp-written", "temp-synced", "backup-kept", "renamed", "dir-synced")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_state_path(root: Path, context: str) -> Path:
    """`<root>/.fluxform/<context>.state.json`; a context with characters unsafe in file
    names (EKS ARNs have ':' and '/') gets them replaced plus a short hash, so two contexts
    never share a file."""
    safe = _UNSAFE.sub("_", context) or "default"
    if safe != context:
        safe += "-" + hashlib.sha256(context.encode()).hexdigest()[:8]
    return root / ".fluxform" / f"{safe}.state.json"


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(slots=True)
class _Held:
    fd: int
    lock_id: str
    inode: tuple[int, int]


class LocalBackend:
    """A state file on a local (or shared POSIX) filesystem."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.backup_path = path.with_name(path.name + ".backup")
        self._held: _Held | None = None

    @property
    def location(self) -> str:
        return f"file {self.path}"

    # -- reading and writing -------------------------------------------------------------

    def read(self) -> StateFile | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}", detail=exc.strerror or str(exc)) from exc
        return state_from_json(data, str(self.path))

    def write(self, state: StateFile, *, force: bool = False) -> StateFile:
        with self._write_lock():
            serial = next_serial(self._stored_header(force), state, force=force, location=self.location)
            stored = replace(state, serial=serial)
            self._atomic_replace(state_to_json(stored).encode())
        return stored

    def _stored_header(self, force: bool) -> tuple[str, int] | None:
        """Lineage and serial of the stored file, from its first bytes when possible."""
        try:
            with self.path.open("rb") as stored:
                header = read_header(stored.read(4096))
                if header is not None:
                    return header
                stored.seek(0)
                doc = json.loads(stored.read())
            return str(doc["lineage"]), int(doc["serial"])
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _state_io_error(f"cannot read state file {self.path}", exc) from None
        except (ValueError, KeyError, TypeError) as exc:
            if force:
                return None
            raise StateError(
                f"state file {self.path} is damaged; refusing to write over it",
                hint=f"inspect it, restore {self.backup_path.name}, or push with --force",
            ) from exc

    def _atomic_replace(self, data: bytes) -> None:
        """Temp file, fsync, backup link, rename, directory fsync (fluxform.private_file)."""
        self._remove_stale_temps()

        def step(name: str) -> None:
            _crash_point(name)
            if name == "temp-synced":
                self._keep_backup()
                _crash_point("backup-kept")

        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(self.path, data, step=step, what=f"state file {self.path}")
        except WriteError as exc:
            raise StateError(exc.summary, hint=exc.hint) from None
        except OSError as exc:
            raise _state_io_error(f"cannot write state file {self.path}", exc) from None

    def _keep_backup(self) -> None:
        """Point `<name>.backup` at the current file (hard link; copy where links fail)."""
        if not self.path.exists():
            return
        tmp = self.backup_path.with_name(f".{self.backup_path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(self.path, tmp)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            shutil.copyfile(self.path, tmp)
        os.replace(tmp, self.backup_path)
        # rename() between two links of one file does nothing: the backup already was the
        # current file (a writer died between these steps), and `tmp` is still there.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

    def _remove_stale_temps(self) -> None:
        """Temp files left by a writer that crashed (we hold the lock, so none is live)."""
        for target in (self.path, self.backup_path):
            for stale in self.path.parent.glob(f"{temp_prefix(target)}*{TEMP_SUFFIX}"):
                with contextlib.suppress(OSError):
                    stale.unlink()

    # -- locking -------------------------------------------------------------------------

    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        if self._held is not None:
            raise StateError(f"state {self.location} is already locked by this process")
        return wait_for_lock(lambda: self._try_lock(info), timeout)

    def _try_lock(self, info: LockInfo) -> str:
        try:
            return self._lock_file(info)
        except OSError as exc:
            raise _state_io_error(f"cannot lock state file {self.path}", exc) from None

    def _lock_file(self, info: LockInfo) -> str:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LockHeld(self._read_record() or _unknown_holder(), self.location) from None
            inode = _inode(os.fstat(fd))
            if self._path_inode() == inode:
                break
            os.close(fd)  # unlinked by the previous holder or a force-unlock: retry on the new file
        record = lock_info_to_json(info).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        os.fsync(fd)
        self._held = _Held(fd, info.id, inode)
        return info.id

    def unlock(self, lock_id: str) -> None:
        held = self._held
        if held is None or held.lock_id != lock_id:
            raise StateError(f"lock {lock_id} on state {self.location} is not held by this process")
        if self._path_inode() == held.inode:
            with contextlib.suppress(FileNotFoundError):
                self.lock_path.unlink()
        os.close(held.fd)
        self._held = None

    def force_unlock(self, lock_id: str) -> None:
        holder = self._read_record()
        if holder is None:
            raise StateError(f"state {self.location} is not locked")
        if holder.id != lock_id:
            raise StateError(
                f"lock id {lock_id} does not match the lock on state {self.location}",
                detail=f"locked by {holder.describe()}",
            )
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()
        if self._held is not None and self._held.lock_id == lock_id:
            os.close(self._held.fd)
            self._held = None

    def lock_holder(self) -> LockInfo | None:
        """The holder, or None when nobody holds the OS lock (a dead holder's record is stale)."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return self._read_record() or _unknown_holder()
        finally:
            os.close(fd)
        return None

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Our held lock, checked still ours; or a lock taken just for this write."""
        if self._held is not None:
            if self._path_inode() != self._held.inode:
                raise LockLost(
                    f"the lock on state {self.location} was force-unlocked; not writing",
                    hint="someone broke this lock; run the command again",
                )
            yield
            return
        with locked(self, "write state"):
            yield

    def _path_inode(self) -> tuple[int, int] | None:
        try:
            return _inode(os.stat(self.lock_path))
        except FileNotFoundError:
            return None

    def _read_record(self) -> LockInfo | None:
        """The lock record; retried briefly because a new holder writes it just after locking."""
        for _ in range(20):
            try:
                info = lock_info_from_json(self.lock_path.read_bytes())
            except FileNotFoundError:
                return None
            if info is not None:
                return info
            time.sleep(0.01)
        return None


def _state_io_error(summary: str, exc: OSError) -> StateError:
    """One line for a filesystem failure (read-only directory, full disk, ...)."""
    hint = "the state directory must be writable by this user" if isinstance(exc, PermissionError) else ""
    return StateError(summary, detail=exc.strerror or type(exc).__name__, hint=hint)


def _inode(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _unknown_holder() -> LockInfo:
    return LockInfo(id="unknown", who="an unknown process", when="unknown", operation="unknown")
