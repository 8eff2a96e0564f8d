"""A directory nobody may write to, also when the tests run as root (CI containers do):
mode 0500 for a normal user; for root, which ignores modes, the immutable attribute
(`chattr +i`), under which even root gets EPERM."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[Path]:
    """`directory` (created if needed) made unwritable for the block, writable again after."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        directory.chmod(0o500)
        try:
            yield directory
        finally:
            directory.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(directory)], capture_output=True).returncode != 0:
        pytest.skip("running as root without a working chattr: no way to make a directory read-only")
    try:
        yield directory
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)
