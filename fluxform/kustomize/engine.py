"""Which kustomize engine builds, and `kustomize_build`, the one call every build goes through.

Two engines give byte-identical output (a test builds every fixture fleet with both):
`inprocess` (kustomize's Go API, the optional `pykustomize` package; ~2-5 ms a build) is
picked when it is installed for this platform, else `subprocess` (`kubectl kustomize`;
~50-150 ms a build). `FLUXFORM_KUSTOMIZE_ENGINE=subprocess|inprocess` forces one.

    text = kustomize_build(Path("/tmp/view/apps/staging"), timeout=300, paths={view: ""})
    kustomize_engine().name     # "inprocess" or "subprocess"
"""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from fluxform.errors import RenderError
from fluxform.kustomize.binary import BuildFailed, SubprocessEngine, readable_error
from fluxform.kustomize.inprocess import InProcessEngine
from fluxform.limits import DEFAULT_BUILD_TIMEOUT

__all__ = ["ENGINE_VARIABLE", "KustomizeEngine", "kustomize_build", "kustomize_engine"]

ENGINE_VARIABLE = "FLUXFORM_KUSTOMIZE_ENGINE"
_CHOICES = ("subprocess", "inprocess")


class KustomizeEngine(Protocol):
    name: str

    @property
    def version(self) -> str:
        """Part of every build cache key: another engine or version builds again."""
        ...

    def describe(self) -> str:
        """For `fluxform version`."""
        ...

    def build(self, directory: Path, *, timeout: float) -> str:
        """kustomize's output for `directory`; BuildFailed or LimitExceeded."""
        ...


@functools.cache
def kustomize_engine() -> KustomizeEngine:
    """The engine of this process: FLUXFORM_KUSTOMIZE_ENGINE's, else in-process when
    pykustomize is installed for this platform, else the subprocess engine."""
    raw = os.environ.get(ENGINE_VARIABLE, "").strip()
    choice = raw.lower()
    if choice not in ("", "auto", *_CHOICES):
        raise RenderError(
            f"{ENGINE_VARIABLE}={raw!r} is not one of {', '.join(_CHOICES)}",
            hint="unset it to use the in-process engine when pykustomize is installed, else kubectl kustomize",
        )
    if choice == "subprocess":
        return SubprocessEngine()
    inprocess = InProcessEngine.find()
    if inprocess is not None:
        atexit.register(inprocess.close)
        return inprocess
    if choice == "inprocess":
        raise RenderError(
            f"{ENGINE_VARIABLE}=inprocess, but pykustomize is not installed for this platform",
            hint="pip install 'fluxform[inprocess]' (Python 3.14+), or unset it to use kubectl kustomize",
        )
    return SubprocessEngine()


def kustomize_build(directory: Path, *, timeout: float = DEFAULT_BUILD_TIMEOUT, paths: Mapping[Path, str] = {}) -> str:
    """`kustomize build --load-restrictor LoadRestrictionsNone DIR` with the engine of this
    process; raises RenderError with kustomize's own message made readable (the caller adds
    which Flux Kustomization it was): the private directories in `paths` are shown as the
    repository paths they stand for (`{view: ""}`: a file below the view is named relative
    to the repository root). Past `timeout` seconds or a tool limit: LimitExceeded."""
    try:
        return kustomize_engine().build(directory, timeout=timeout)
    except BuildFailed as exc:
        raise RenderError("kustomize build failed", detail=readable_error(exc.message, paths)) from None
