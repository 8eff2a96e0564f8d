"""The in-process engine: kustomize's Go API (the optional `pykustomize` package) loaded once
and asked for every build, ~2-5 ms each instead of a ~50-150 ms `kubectl kustomize` process.

The library lives in resident workers (fluxform.kustomize.worker), one per build thread,
not in fluxform's own process, because a Go call cannot be stopped: a worker can be killed
at the build's time limit and keeps run_tool's heap and CPU limits; kustomize's warnings
go to the worker's stderr, not the user's terminal; and its Go runtime stays apart from
the Helm SDK's. A worker that has used half its CPU limit is retired before the next build.

    engine = InProcessEngine.find()   # None when pykustomize is not installed for this platform
    text = engine.build(Path("/tmp/view/apps/staging"), timeout=300)
"""

from __future__ import annotations

import importlib.util
import json
import mmap
import platform
import re
import threading
from pathlib import Path

from fluxform.errors import RenderError, ToolError, ToolLimitExceeded
from fluxform.interpreter import real_interpreter
from fluxform.kustomize.binary import LIMIT_HINTS, BuildFailed
from fluxform.limits import LimitExceeded, current_limits
from fluxform.resident import ResidentTool
from fluxform.tool_versions import remembered_version

__all__ = ["InProcessEngine", "library_path"]


def _worker_argv() -> list[str]:
    return [real_interpreter(), "-m", "fluxform.kustomize.worker"]


_ERROR_PREFIX = "kustomize build failed: "


def library_path() -> Path | None:
    """pykustomize's shared library for this platform, found without importing the package
    (its import costs ~70 ms): None when it is not installed or ships no build for here."""
    spec = importlib.util.find_spec("pykustomize")
    if spec is None or not spec.submodule_search_locations:
        return None
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    system = platform.system()
    names = {"Linux": "libpykustomize.so", "Darwin": "libpykustomize.dylib", "Windows": "pykustomize.dll"}
    if system not in names:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "_lib" / f"{system.lower()}-{machine}" / names[system]
        if candidate.is_file():
            return candidate
    return None


def _versions(library: Path) -> str:
    """`pykustomize X, kustomize api vY`: the package's version and the kustomize API module
    its Go build embeds (read from the library's build info, not by loading it)."""
    from importlib import metadata

    api = "unknown"
    with library.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start = data.find(b"\tsigs.k8s.io/kustomize/api\t")
        if start != -1:
            match = re.match(rb"\tsigs\.k8s\.io/kustomize/api\t(v[0-9][^\t\n]*)", data[start : start + 80])
            api = match.group(1).decode() if match else api
    return f"pykustomize {metadata.version('pykustomize')}, kustomize api {api}"


class InProcessEngine:
    """Builds through a pool of resident workers, one per concurrent caller."""

    name = "inprocess"

    def __init__(self, library: Path) -> None:
        self.library = library
        self._idle: list[ResidentTool] = []
        self._lock = threading.Lock()
        self._version = ""

    @classmethod
    def find(cls) -> InProcessEngine | None:
        library = library_path()
        return None if library is None else cls(library)

    @property
    def version(self) -> str:
        if not self._version:
            self._version = remembered_version(self.library, "pykustomize", lambda: _versions(self.library))
        return self._version

    def describe(self) -> str:
        return f"{self.version} (engine inprocess)"

    def build(self, directory: Path, *, timeout: float) -> str:
        """The output; BuildFailed with kustomize's message, LimitExceeded past a limit (the
        worker is killed then, and a fresh one serves the next build)."""
        try:
            worker = self._acquire(timeout)
            header, body = worker.ask(json.dumps({"dir": str(directory)}).encode(), timeout=timeout)
        except ToolLimitExceeded as exc:
            raise LimitExceeded(f"kustomize build was stopped at its {exc.limit}", hint=LIMIT_HINTS[exc.kind]) from None
        except ToolError as exc:
            raise RenderError("the in-process kustomize worker failed", detail=exc.stderr_tail) from None
        self._release(worker, float(header.get("cpu") or 0.0))
        if not header.get("ok"):
            message = str(header.get("error") or "(no message)")
            raise BuildFailed("Error: " + message.removeprefix(_ERROR_PREFIX))
        return body.decode("utf-8")

    def close(self) -> None:
        """Ask every idle worker to leave (they also leave when fluxform exits: stdin closes)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def _acquire(self, timeout: float) -> ResidentTool:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.usable and worker.budget >= timeout and worker.limits == current_limits():
                    return worker
                worker.close()
        worker = ResidentTool.start(_worker_argv(), tool="kustomize", timeout=timeout)
        if not worker.ready.get("ok"):
            worker.close(kill=True)
            raise RenderError(
                "the in-process kustomize engine does not start",
                detail=str(worker.ready.get("error") or ""),
                hint="FLUXFORM_KUSTOMIZE_ENGINE=subprocess uses kubectl kustomize instead",
            )
        return worker

    def _release(self, worker: ResidentTool, cpu_used: float) -> None:
        if worker.worn_out(cpu_used):
            worker.close()
            return
        with self._lock:
            self._idle.append(worker)
