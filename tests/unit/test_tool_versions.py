"""Tool versions are asked once per installed copy (issue 21, lever 4: no probe per run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxform.tool_versions import remembered_version


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUXFORM_CACHE_DIR", str(tmp_path / "cache"))


def test_probe_runs_once_per_installed_file_and_again_when_it_changes(tmp_path: Path) -> None:
    tool = tmp_path / "kubectl"
    tool.write_bytes(b"v1")
    asked: list[str] = []

    def probe() -> str:
        asked.append("asked")
        return f"version of {tool.read_bytes().decode()}"

    assert remembered_version(tool, "kubectl", probe) == "version of v1"
    assert remembered_version(tool, "kubectl", probe) == "version of v1"
    assert len(asked) == 1
    tool.write_bytes(b"v22")  # reinstalled: another size (and time)
    assert remembered_version(tool, "kubectl", probe) == "version of v22"
    assert len(asked) == 2


def test_same_size_and_time_but_another_inode_asks_again(tmp_path: Path) -> None:
    tool = tmp_path / "sops"
    tool.write_bytes(b"aa")
    assert remembered_version(tool, "sops", lambda: "one") == "one"
    stat = tool.stat()
    replacement = tmp_path / "new"
    replacement.write_bytes(b"bb")
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    replacement.replace(tool)
    assert remembered_version(tool, "sops", lambda: "two") == "two"


def test_unknown_answers_are_not_remembered(tmp_path: Path) -> None:
    tool = tmp_path / "kustomize"
    tool.write_bytes(b"x")
    assert remembered_version(tool, "kustomize", lambda: "unknown") == "unknown"
    assert remembered_version(tool, "kustomize", lambda: "v5.8.1") == "v5.8.1"


def test_a_missing_file_is_probed_every_time(tmp_path: Path) -> None:
    assert remembered_version(tmp_path / "gone", "x", lambda: "v1") == "v1"
    assert remembered_version(tmp_path / "gone", "x", lambda: "v2") == "v2"
