"""Progress on stderr (issue 22, item 2): never on stdout (a run with progress prints the
same bytes there as one without), bars on a terminal, lines in a log when asked, GitHub
Actions log groups, -q silences, -v adds per-owner timings, cluster reads are reported."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, KEYS, run

STAGING = FIXTURES / "fleet" / "clusters" / "staging"
MINIMAL = FIXTURES / "minimal" / "clusters" / "dev"


@pytest.fixture(autouse=True)
def _no_ci_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_progress_goes_to_stderr_and_stdout_is_byte_identical() -> None:
    plain = run("plan", STAGING, "--keys-dir", KEYS, "--no-cache")
    shown = run("plan", STAGING, "--keys-dir", KEYS, "--no-cache", "--progress")
    timed = run("plan", STAGING, "--keys-dir", KEYS, "--no-cache", "--progress", "-v")

    assert plain.code == shown.code == timed.code == 0, plain.err + shown.err
    assert shown.out == plain.out == timed.out
    assert plain.err == ""  # not a terminal: off unless asked
    assert shown.err.splitlines()[0].startswith("fluxform: Building Kustomizations: 5 done in ")
    assert "fluxform: Rendering HelmReleases: 2 done in " in shown.err
    assert "Kustomization/flux-system/apps" not in shown.err  # per-owner lines come with -v
    apps = next(line for line in timed.err.splitlines() if line.startswith("  Kustomization/flux-system/apps "))
    assert apps.endswith("s") and float(apps.split()[-1].rstrip("s")) >= 0


def test_quiet_silences_progress_even_when_asked() -> None:
    result = run("plan", STAGING, "--keys-dir", KEYS, "--progress", "-q")
    assert result.code == 0 and result.err == ""


def test_github_actions_gets_log_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    plain = run("get", "hr", STAGING, "--keys-dir", KEYS)
    grouped = run("get", "hr", STAGING, "--keys-dir", KEYS, "--progress")

    assert grouped.out == plain.out and plain.err == ""
    lines = grouped.err.splitlines()
    assert lines[0] == "::group::fluxform: Building Kustomizations"
    assert "::group::fluxform: Rendering HelmReleases" in lines
    assert "  HelmRelease/apps/guestbook" in lines and lines[-1] == "::endgroup::"
    assert sum(line.startswith("::group::") for line in lines) == lines.count("::endgroup::") == 2


def test_bars_on_a_terminal_leave_stdout_untouched(tmp_path: Path) -> None:
    """stderr on a pseudo-terminal, stdout a pipe: the bars reach the terminal only."""
    fluxform = Path(sys.executable).with_name("fluxform")  # the console script beside this Python
    argv = [str(fluxform), "plan", str(STAGING), "--keys-dir", str(KEYS), "--no-cache"]
    env = {**os.environ, "FLUXFORM_PROGRESS_DELAY": "0", "FLUXFORM_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("NO_COLOR", None)
    env.pop("GITHUB_ACTIONS", None)
    plain = subprocess.run([*argv, "--no-progress"], capture_output=True, env=env, check=True, timeout=120)
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=terminal, env=env) as process:
            os.close(terminal)
            seen = _read_all(controller)
            out = process.stdout.read() if process.stdout else b""
            assert process.wait(timeout=120) == 0
    finally:
        os.close(controller)
    assert out == plain.stdout and out.endswith(b"Plan: 46 to add, 0 to change, 0 to destroy.\n")
    assert b"Building Kustomizations" in seen and b"\x1b[" in seen
    assert b"Plan:" not in seen


def _read_all(descriptor: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_live_plan_reports_its_cluster_reads(kubeapi: KubeApi) -> None:
    result = run("plan", MINIMAL, "--kubeconfig", kubeapi.kubeconfig, "--progress", "-v")
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    reads = [line for line in lines if line.startswith("  ConfigMap") or line.startswith("  Deployment")]
    assert reads, result.err
    assert any(line.startswith("fluxform: Reading the cluster: ") for line in lines)
    assert "Plan:" not in result.err


def test_charts_pull_reports_builds_and_the_chart_fetch(tmp_path: Path) -> None:
    args = ("charts", "pull", STAGING, "--keys-dir", KEYS, "--chart-cache", tmp_path / "charts")
    plain = run(*args)
    shown = run(*args, "--progress", "-v")
    assert plain.code == shown.code == 0, plain.err + shown.err
    assert plain.err == "" and shown.out == plain.out
    assert "fluxform: Building Kustomizations: 5 done in " in shown.err
    assert "  charts of 2 HelmRelease(s): " in shown.err


def test_diff_reports_its_git_reads_and_indexes(tmp_path: Path) -> None:
    from tests.support.gitrepo import TestRepo

    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(FIXTURES / "minimal")
    base = repo.commit("base")
    args = ("diff", repo.path / "clusters/dev", "--base", base, "--no-step-summary")
    plain = run(*args)
    shown = run(*args, "--progress", "-v")
    assert plain.code == shown.code == 0, plain.err + shown.err
    assert plain.err == "" and shown.out == plain.out
    lines = shown.err.splitlines()
    assert any(line.startswith("fluxform: Reading revisions from git: ") for line in lines)
    assert f"  clusters/dev at {base[:12]}: found" in "\n".join(lines)  # the first run kept the base's index
    assert any(line.startswith("fluxform: Changed-only indexes: ") for line in lines)
