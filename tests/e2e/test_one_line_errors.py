"""One line, never a traceback (issue 15, items 6 and 8): each bad input is one `Error:` line
on stderr and exit code 1, usage errors included (exit 2 means "changes" to
--detailed-exitcode, so a mistyped flag in CI must not read as "changed")."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fluxform.state.local import LocalBackend
from fluxform.state.model import new_state, state_to_json
from tests.support.cli import FIXTURES, Result, run
from tests.support.readonly import read_only

MINIMAL = FIXTURES / "minimal" / "clusters" / "dev"


def _one_error(result: Result) -> str:
    assert result.code == 1, result.out + result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


def _state_in_read_only_dir(tmp_path: Path, command: Callable[[Path], Result]) -> str:
    state_file = tmp_path / "states" / "dev.state.json"
    LocalBackend(state_file).write(new_state("dev"))
    pushed = tmp_path / "push.json"
    pushed.write_text(state_to_json(new_state("dev")))
    with read_only(state_file.parent):
        return _one_error(command(state_file))


def test_state_push_into_a_read_only_state_dir(tmp_path: Path) -> None:
    line = _state_in_read_only_dir(tmp_path, lambda s: run("state", "push", "--state", s, tmp_path / "push.json"))
    assert "cannot lock state file" in line and "must be writable" in line


def test_state_rm_in_a_read_only_state_dir(tmp_path: Path) -> None:
    line = _state_in_read_only_dir(tmp_path, lambda s: run("state", "rm", "--state", s, "some-id"))
    assert "cannot lock state file" in line


def test_plan_out_into_a_read_only_dir(tmp_path: Path) -> None:
    with read_only(tmp_path / "ro") as directory:
        line = _one_error(run("plan", MINIMAL, "--out", directory / "plan.json"))
    assert f"cannot write {directory / 'plan.json'}" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--jobs", "-3"), "Invalid value for '--jobs': -3 is not in the range x>=0."),
        (("--jobz", "3"), "No such option '--jobz'. Did you mean '--jobs'?"),
        (("--build-timeout", "0"), "Invalid value for '--build-timeout'"),
        (("--missing-keys", "ignore"), "Invalid value for '--missing-keys'"),
        (("--source", "platform-repo"), "Invalid value for '--source': 'platform-repo': expected NAME=DIR"),
    ],
    ids=["negative-jobs", "mistyped-flag", "zero-timeout", "bad-choice", "source-without-dir"],
)
def test_usage_errors_exit_1_even_with_detailed_exitcode(args: tuple[str, ...], expected: str) -> None:
    line = _one_error(run("plan", MINIMAL, "--detailed-exitcode", *args))
    assert expected in line
    assert line.endswith("(see 'fluxform plan --help')")


def test_repo_root_of_the_filesystem_root_is_refused() -> None:
    line = _one_error(run("plan", MINIMAL, "--repo-root", "/"))
    assert "refusing to use the filesystem root / as a source" in line


def test_unknown_command_is_a_usage_error() -> None:
    assert "No such command 'pln'" in _one_error(run("pln"))


def test_corrupted_cache_file_is_one_warning_not_an_error(tmp_path: Path) -> None:
    """Since the cache is verified (item 1), a corrupted entry is rebuilt: one warning, exit 0."""
    assert run("plan", MINIMAL).code == 0
    entries = [p for p in (tmp_path / "cache" / "builds").rglob("*.yaml") if p.is_file()]
    entries[0].write_bytes(os.urandom(512))
    result = run("plan", MINIMAL)
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Warning: build cache entry "), result.err
