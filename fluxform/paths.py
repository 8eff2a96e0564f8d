"""Joining untrusted paths under a root, as Flux does (filepath-securejoin).

`..` and symlinks are resolved as if `root` were `/`, so the result never leaves `root`;
missing parts are kept. Used for a Kustomization's `spec.path` and for every file the
SOPS pre-build step reads.

    secure_join(Path("/artifact"), "../../etc/passwd")  # /artifact/etc/passwd
"""

from __future__ import annotations

import os
from pathlib import Path

from fluxform.errors import SourceError

__all__ = ["MAX_SYMLINK_HOPS", "secure_join"]

MAX_SYMLINK_HOPS = 255


def secure_join(root: Path, unsafe: str) -> Path:
    """`root/unsafe` with every `..` and symlink resolved as if `root` were `/`."""
    pending = [part for part in reversed(unsafe.split("/")) if part not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if not candidate.is_symlink():
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise SourceError(f"too many levels of symbolic links under {root} resolving {unsafe}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending.extend(part for part in reversed(target.split("/")) if part not in ("", "."))
    return root.joinpath(*resolved)
