"""SIGTERM (what CI cancellation sends), SIGHUP and SIGINT stop a run the same clean way:
real `fluxform plan` processes on a fleet decrypting SOPS `.env` generator inputs with a PGP
key are signalled while kustomize reads the decrypted copy, while sops runs and while only
the gpg-agent is up; afterwards nothing is left in the private tmpfs dir or $TMPDIR, and no
process of the run (kubectl, sops, gpg, gpg-agent) is alive (issue 15, item 2)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fluxform.planner.kustomization.view import VIEW_PREFIX
from fluxform.sources.artifact import ARTIFACT_PREFIX
from tests.support.engines import inprocess_engine
from tests.support.keys import PgpTestKey, generate_pgp_key
from tests.support.sops_fleet import plaintext, write_sops_fleet

APPS = 6
REPO = Path(__file__).resolve().parents[2]
FLUXFORM = [sys.executable, "-c", "from fluxform.cli import main; main()"]


@dataclass(frozen=True)
class _Process:
    pid: int
    argv: tuple[str, ...]


@dataclass(frozen=True)
class _Fleet:
    cluster: Path
    key_file: Path


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Fleet]:
    root = tmp_path_factory.mktemp("signals")
    key: PgpTestKey = generate_pgp_key(root / "gnupg")
    cluster = write_sops_fleet(root / "fleet", key, apps=APPS)
    yield _Fleet(cluster, root / "fleet" / "keys" / "flux.asc")
    subprocess.run(["gpgconf", "--homedir", str(key.home), "--kill", "gpg-agent"], check=False)


@pytest.fixture
def private_dirs() -> Iterator[tuple[Path, Path]]:
    """(tmpfs dir standing in for $XDG_RUNTIME_DIR, disk dir for $TMPDIR), fresh per run."""
    shm = Path(tempfile.mkdtemp(prefix="fluxform-signal-test-", dir="/dev/shm"))
    disk = Path(tempfile.mkdtemp(prefix="fluxform-signal-test-"))
    yield shm, disk
    shutil.rmtree(shm, ignore_errors=True)
    shutil.rmtree(disk, ignore_errors=True)


def _processes_marked(marker: str) -> list[_Process]:
    """Live processes whose environment carries `marker` (every child of the run inherits it)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            argv = tuple(a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a)
        except OSError:
            continue
        if state != "Z":
            found.append(_Process(int(entry.name), argv))
    return found


def _is(name: str) -> Callable[[_Process], bool]:
    return lambda p: bool(p.argv) and Path(p.argv[0]).name == name


def _plaintext_in(shm: Path) -> bool:
    """A decrypted copy exists in the private tmpfs dir (views of sources hold only symlinks,
    the sources' filtered copies only what the repository holds)."""
    return any(not p.name.startswith((VIEW_PREFIX, ARTIFACT_PREFIX)) for p in shm.iterdir())


def _kustomize_on_plaintext(shm: Path) -> Callable[[_Process], bool]:
    """kubectl kustomize running while a decrypted copy exists in the private tmpfs dir."""
    return lambda p: _is("kubectl")(p) and "kustomize" in p.argv and _plaintext_in(shm)


def _worker_on_plaintext(shm: Path) -> Callable[[_Process], bool]:
    """The in-process engine's kustomize worker up while a decrypted copy exists."""
    return lambda p: "fluxform.kustomize.worker" in p.argv and _plaintext_in(shm)


POINTS: dict[str, Callable[[Path], Callable[[_Process], bool]]] = {
    "kustomize": _kustomize_on_plaintext,
    "kustomize-worker": _worker_on_plaintext,
    "sops": lambda shm: _is("sops"),
    "gpg-agent": lambda shm: lambda p: any("gpg-agent" in a for a in p.argv[:1]),
}
#: The kustomize engine each point needs (the others run with the process's own).
ENGINE = {"kustomize": "subprocess", "kustomize-worker": "inprocess"}


def _run_and_signal(
    fleet: _Fleet, shm: Path, disk: Path, point: str, signals: tuple[signal.Signals, ...]
) -> subprocess.CompletedProcess[str]:
    marker = f"FLUXFORM_SIGNAL_TEST={uuid.uuid4()}"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(shm), TMPDIR=str(disk), FLUXFORM_CACHE_DIR=str(disk / "cache"))
    env[marker.partition("=")[0]] = marker.partition("=")[2]
    if point in ENGINE:
        if ENGINE[point] == "inprocess":
            inprocess_engine()  # skips when pykustomize is not installed here
        env["FLUXFORM_KUSTOMIZE_ENGINE"] = ENGINE[point]
    argv = [*FLUXFORM, "plan", str(fleet.cluster), "--decryption-key", str(fleet.key_file), "--jobs", "1"]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wanted = POINTS[point](shm)
    deadline = time.monotonic() + 60
    seen: set[int] = set()
    while not any(wanted(p) for p in _processes_marked(marker)):
        assert proc.poll() is None, (
            f"the run ended before reaching {point}: {proc.stderr.read() if proc.stderr else ''}"
        )
        assert time.monotonic() < deadline, f"{point} never came"
        time.sleep(0.002)
    for index, signum in enumerate(signals):
        if index:
            time.sleep(0.01)  # the next one lands while the run is cleaning up
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    seen.update(p.pid for p in _processes_marked(marker))
    time.sleep(0.2)  # a killed agent may take a moment to go
    left = _processes_marked(marker)
    assert left == [], f"processes of the run still alive: {left}"
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _assert_clean(
    result: subprocess.CompletedProcess[str], shm: Path, disk: Path, signals: tuple[signal.Signals, ...]
) -> None:
    assert result.returncode == 1, result.stderr
    # Python runs pending handlers lowest signal number first: any one sent may be named
    assert any(f"Error: stopped by {s.name};" in result.stderr for s in signals), result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(shm.iterdir()) == [], "private tmpfs dir not empty"
    assert sorted(p.name for p in disk.iterdir() if p.name != "cache") == [], "temp dir not empty"
    secrets = [v for i in range(APPS) for v in plaintext(i).values()]
    for path in [p for p in disk.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        assert not any(s.encode() in data for s in secrets), f"plaintext in {path}"


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_signal_stops_the_run_and_leaves_nothing(
    fleet: _Fleet, private_dirs: tuple[Path, Path], point: str, signum: signal.Signals
) -> None:
    shm, disk = private_dirs
    result = _run_and_signal(fleet, shm, disk, point, (signum,))
    _assert_clean(result, shm, disk, (signum,))


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGTERM, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)],
    ids=["twice", "three"],
)
def test_more_signals_during_cleanup_do_not_skip_it(
    fleet: _Fleet, private_dirs: tuple[Path, Path], signals: tuple[signal.Signals, ...]
) -> None:
    shm, disk = private_dirs
    result = _run_and_signal(fleet, shm, disk, "kustomize", signals)
    _assert_clean(result, shm, disk, signals)


def test_the_same_run_unsignalled_succeeds(fleet: _Fleet, private_dirs: tuple[Path, Path]) -> None:
    """The baseline: the points above are inside a run that would otherwise succeed."""
    shm, disk = private_dirs
    env = dict(os.environ, XDG_RUNTIME_DIR=str(shm), TMPDIR=str(disk), FLUXFORM_CACHE_DIR=str(disk / "cache"))
    argv = [*FLUXFORM, "plan", str(fleet.cluster), "--decryption-key", str(fleet.key_file), "--jobs", "1"]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"Plan: {3 * APPS + 2} to add" in result.stdout  # 2 Secrets + 1 Kustomization per app, 2 of flux-system
    assert sorted(shm.iterdir()) == []
