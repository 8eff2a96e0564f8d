"""The two kustomize engines in tests: run a test under one (`use_engine`), or build with both
and compare every build byte for byte (`ComparingEngine`).

with use_engine(monkeypatch, "subprocess"):
    build_directory(request, cache)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fluxform.kustomize import engine as engine_module
from fluxform.kustomize.binary import BuildFailed, SubprocessEngine, readable_error
from fluxform.kustomize.engine import ENGINE_VARIABLE, KustomizeEngine, kustomize_engine
from fluxform.kustomize.inprocess import InProcessEngine
from tests.support.missing import missing_component

__all__ = ["ENGINES", "ComparingEngine", "inprocess_engine", "use_engine"]

ENGINES = ("subprocess", "inprocess")


def inprocess_engine() -> InProcessEngine:
    """The in-process engine, or the test is skipped saying why it cannot run here."""
    found = InProcessEngine.find()
    if found is None:
        missing_component(
            "pykustomize is not installed for this platform (pip install --ignore-requires-python pykustomize)"
        )
    return found


@contextlib.contextmanager
def use_engine(monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[KustomizeEngine]:
    """The process's engine is `name` (FLUXFORM_KUSTOMIZE_ENGINE) inside the block."""
    if name == "inprocess":
        inprocess_engine()
    monkeypatch.setenv(ENGINE_VARIABLE, name)
    kustomize_engine.cache_clear()
    try:
        yield kustomize_engine()
    finally:
        monkeypatch.delenv(ENGINE_VARIABLE)
        kustomize_engine.cache_clear()


@dataclass
class ComparingEngine:
    """Builds with both engines; returns the subprocess engine's answer and records every
    build whose output (or error message) differs."""

    subprocess: SubprocessEngine = field(default_factory=SubprocessEngine)
    inprocess: InProcessEngine = field(default_factory=inprocess_engine)
    builds: int = 0
    mismatches: list[str] = field(default_factory=list)
    name: str = "both"

    @property
    def version(self) -> str:
        return f"{self.subprocess.version}+{self.inprocess.version}"

    def describe(self) -> str:
        return "both engines, compared"

    def build(self, directory: Path, *, timeout: float) -> str:
        self.builds += 1
        expected, expected_error = _outcome(self.subprocess, directory, timeout)
        got, got_error = _outcome(self.inprocess, directory, timeout)
        if (expected, expected_error) != (got, got_error):
            self.mismatches.append(f"{directory}: {expected_error or expected[:300]!r} != {got_error or got[:300]!r}")
        if expected_error:
            raise BuildFailed(expected_error)
        return expected

    @contextlib.contextmanager
    def installed(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[ComparingEngine]:
        """This engine as the process's engine (wherever the build function asks for it)."""
        from fluxform.planner.kustomization import build, discover

        for module in (engine_module, build, discover):
            monkeypatch.setattr(module, "kustomize_engine", lambda: self)
        try:
            yield self
        finally:
            self.inprocess.close()


def _outcome(engine: KustomizeEngine, directory: Path, timeout: float) -> tuple[str, str]:
    """(output, "") or ("", kustomize's message as fluxform shows it)."""
    try:
        return engine.build(directory, timeout=timeout), ""
    except BuildFailed as exc:
        return "", readable_error(exc.message)
