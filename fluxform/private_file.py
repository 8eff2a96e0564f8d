"""Writing a file fluxform produces (plan, state, cache entry) so that nobody can redirect
it and nobody ever reads half of it.

The bytes go to a fresh temp file in the target's own directory, created exclusively with
a random name and mode 0600 (`mkstemp`: O_CREAT|O_EXCL, and O_NOFOLLOW on a planted link),
are fsynced, then renamed over the target and the directory is fsynced. So a symlink
planted at a predictable temp name is never followed, two concurrent writers each rename a
complete file (the last one wins), a crash leaves the old or the new file, and the temp
file is removed on any failure. A target that is a directory or a symlink is refused: the
rename would replace a link the user made, and writing through it is what an attacker
planting it wants.

    write_private(Path("plan.json"), text)
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from fluxform.errors import WriteError

__all__ = ["TEMP_SUFFIX", "fsync_directory", "temp_prefix", "write_private"]

#: Temp files are `.<target name>.<random>.tmp`, so a writer that finds one left by a
#: crashed predecessor can tell whose it is.
TEMP_SUFFIX = ".tmp"

#: Called with a step name ("temp-partial", "temp-written", "temp-synced", "renamed",
#: "dir-synced") as the write passes it; the state backend keeps its backup and the crash
#: tests kill the writer there.
StepHook = Callable[[str], None]


def temp_prefix(target: Path) -> str:
    return f".{target.name}."


def write_private(path: Path, data: bytes | str, *, step: StepHook | None = None, what: str = "") -> None:
    """Atomically replace `path` with `data` (0600). Raises WriteError naming `what` (or the
    path) and the reason, with nothing half-written left behind."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    label = what or str(path)
    _refuse_non_file(path, label)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise _error(label, exc) from None
    try:
        try:
            _write_all(fd, payload, step)
            os.fsync(fd)
        finally:
            os.close(fd)
        _step(step, "temp-synced")
        os.replace(tmp, path)
        _step(step, "renamed")
        fsync_directory(directory)
        _step(step, "dir-synced")
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise _error(label, exc) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _refuse_non_file(path: Path, label: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _error(label, exc) from None
    if stat.S_ISDIR(mode):
        raise WriteError(f"cannot write {label}: it is a directory", hint="give a file name")
    if stat.S_ISLNK(mode):
        raise WriteError(
            f"cannot write {label}: it is a symbolic link",
            hint="fluxform does not write through links; remove it or give the link's target",
        )
    if not stat.S_ISREG(mode):
        raise WriteError(f"cannot write {label}: it is not a regular file")


def _write_all(fd: int, payload: bytes, step: StepHook | None) -> None:
    half = len(payload) // 2
    for index, chunk in enumerate((payload[:half], payload[half:])):
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        _step(step, "temp-partial" if index == 0 else "temp-written")


def _step(hook: StepHook | None, name: str) -> None:
    if hook is not None:
        hook(name)


def _error(label: str, exc: OSError) -> WriteError:
    reason = exc.strerror or type(exc).__name__
    return WriteError(f"cannot write {label}: {reason}", hint=_hint(exc))


def _hint(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "the directory is not writable by this user; choose another path or fix its permissions"
    if exc.errno is not None and exc.errno == 28:  # ENOSPC
        return "the disk is full"
    if exc.errno is not None and exc.errno == 30:  # EROFS
        return "the filesystem is read-only; choose another path"
    return ""
