"""The bounds every run keeps to, so no input can make fluxform (or a tool it runs) eat the
machine: a bad fleet, an alias bomb or a runaway chart fails one owner with one line
naming the limit, instead of driving kubectl to 20 GB or running until a generic timeout.

Defaults sit far above any real fleet seen (see README "Limits"); each can be raised with
an environment variable, and the per-build time limit with `--build-timeout`.

    limits = current_limits()
    data = read_limited(path, what="apps/big.yaml")   # LimitExceeded past limits.file_bytes
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import RenderError

__all__ = [
    "DEFAULT_BUILD_TIMEOUT",
    "LimitExceeded",
    "Limits",
    "check_object_count",
    "current_limits",
    "describe_bytes",
    "file_too_large",
    "read_limited",
]

#: Seconds one kustomize build may take (`--build-timeout`).
DEFAULT_BUILD_TIMEOUT = 300.0
_MIB = 1 << 20


class LimitExceeded(RenderError):
    """An input or a tool went past one of the limits; the message names the limit and how
    to raise it."""


@dataclass(frozen=True, slots=True)
class Limits:
    #: Heap (RLIMIT_DATA) of every subprocess: kustomize, sops, gpg, git.
    tool_memory_bytes: int = 2048 * _MIB
    #: What one subprocess may print on stdout (a build's whole output).
    tool_output_bytes: int = 512 * _MIB
    #: A single file of the repository that fluxform or kustomize reads.
    file_bytes: int = 64 * _MIB
    #: Objects one owner (Kustomization build or HelmRelease) may render.
    objects_per_render: int = 50_000

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ[str] = os.environ) -> Limits:
        """Defaults, overridden by FLUXFORM_TOOL_MEMORY_MB, FLUXFORM_TOOL_OUTPUT_MB,
        FLUXFORM_MAX_FILE_MB and FLUXFORM_MAX_OBJECTS (positive integers)."""
        default = cls()
        return cls(
            tool_memory_bytes=_env_int(environ, "FLUXFORM_TOOL_MEMORY_MB", default.tool_memory_bytes // _MIB) * _MIB,
            tool_output_bytes=_env_int(environ, "FLUXFORM_TOOL_OUTPUT_MB", default.tool_output_bytes // _MIB) * _MIB,
            file_bytes=_env_int(environ, "FLUXFORM_MAX_FILE_MB", default.file_bytes // _MIB) * _MIB,
            objects_per_render=_env_int(environ, "FLUXFORM_MAX_OBJECTS", default.objects_per_render),
        )


def _env_int(environ: dict[str, str] | os._Environ[str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RenderError(f"{name}={raw!r} is not a whole number", hint=f"unset it for the default {default}") from None
    if value <= 0:
        raise RenderError(f"{name}={raw!r} must be positive", hint=f"unset it for the default {default}")
    return value


@functools.cache
def current_limits() -> Limits:
    """The limits of this process (read from the environment once)."""
    return Limits.from_env()


def describe_bytes(size: int) -> str:
    if size >= _MIB:
        return f"{size / _MIB:.0f} MiB"
    return f"{size / 1024:.0f} KiB"


def read_limited(path: Path, *, what: str = "", limit: int | None = None) -> bytes:
    """The bytes of `path`, refusing a file over the file size limit before reading it."""
    cap = current_limits().file_bytes if limit is None else limit
    size = path.stat().st_size
    if size > cap:
        raise file_too_large(what or str(path), size, cap)
    return path.read_bytes()


def file_too_large(what: str, size: int, cap: int) -> LimitExceeded:
    return LimitExceeded(
        f"{what} is {describe_bytes(size)}, over the {describe_bytes(cap)} limit for a file fluxform reads",
        hint="is it meant to be in the repository? FLUXFORM_MAX_FILE_MB raises the limit",
    )


def check_object_count(text: str, what: str) -> None:
    """Refuse a render of more objects than one owner may have, counted by kustomize's
    document separators before anything is parsed (parsing millions is what takes hours)."""
    cap = current_limits().objects_per_render
    if not text.strip():
        return
    count = text.count("\n---\n") + 1
    if count > cap:
        raise LimitExceeded(
            f"{what} renders {count} objects, over the limit of {cap} per owner",
            hint="FLUXFORM_MAX_OBJECTS raises the limit",
        )
