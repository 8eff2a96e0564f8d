from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import FIXTURES


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own build cache and no ambient SOPS keys."""
    monkeypatch.setenv("FLUXFORM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-cache")


@pytest.fixture
def shared_build_cache(module_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One build cache for a whole test module, instead of one per test (builds are
    content-addressed, so sharing is safe): `pytestmark = pytest.mark.usefixtures("shared_build_cache")`."""
    monkeypatch.setenv("FLUXFORM_CACHE_DIR", str(module_cache))


@pytest.fixture
def fleet_copy(tmp_path: Path) -> Path:
    """A writable copy of the example fleet (tests edit it)."""
    dest = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "fleet", dest)
    return dest


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    """A writable copy of the minimal fleet; returns its cluster directory."""
    shutil.copytree(FIXTURES / "minimal", tmp_path / "minimal")
    return tmp_path / "minimal" / "clusters" / "dev"
