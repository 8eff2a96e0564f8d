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


@pytest.fixture
def fleet_copy(tmp_path: Path) -> Path:
    """A writable copy of the example fleet (tests edit it)."""
    dest = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "fleet", dest)
    return dest
