"""The one door to subprocesses: every external program runs through `run_tool`.

Secrets go by stdin or environment, never argv. Failures raise `ToolError` with the tail of
stderr so the user sees the program's own message.

    result = run_tool(["kubectl", "kustomize", str(path)], tool="kustomize")
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import ToolError

__all__ = ["ToolResult", "find_executable", "run_tool"]

_STDERR_TAIL = 2000


@dataclass(frozen=True, slots=True)
class ToolResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


def run_tool(
    argv: Sequence[str],
    *,
    tool: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 300.0,
    check: bool = True,
    hint: str = "",
) -> ToolResult:
    """Run `argv`; with `check`, a non-zero exit raises ToolError carrying stderr's tail.

    `env` is merged over a copy of os.environ (so PATH etc. survive)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=full_env,
            input=stdin,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolError(tool, 127, f"executable not found: {argv[0]}", hint=hint) from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(tool, -1, f"timed out after {timeout:.0f}s", hint=hint) from exc
    if check and proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-_STDERR_TAIL:]
        raise ToolError(tool, proc.returncode, tail, hint=hint)
    return ToolResult(proc.stdout, proc.stderr, proc.returncode)


def find_executable(name: str) -> str | None:
    """Prefer the executable installed beside this Python (the venv's wheels), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)
