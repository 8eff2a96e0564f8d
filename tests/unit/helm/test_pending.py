"""Pending releases (helm/release.py, helm/journal.py): a release fluxform's own interrupted run
left `pending-upgrade` is recovered (marked failed, then rolled back) only with the apply
journal's proof and under the state lock; one another Helm client has under way is reported
and never touched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import helm_python
import pytest

from fluxform.errors import ClusterError
from fluxform.helm.journal import JournalFile
from fluxform.helm.release import HeldLock, ReleaseLocked
from fluxform.state.local import LocalBackend
from fluxform.state.lock import new_lock_info
from fluxform.tool import kill_children
from tests.kubeapi import KubeApi
from tests.support.releases import HEALTH_ANNOTATION, NAMESPACE, RELEASE, ReleaseBench

PROGRESSING = {"podAnnotations": {HEALTH_ANNOTATION: "progressing"}}
_WRITES = ("create", "update", "patch", "delete")


def _wait_for_status(bench: ReleaseBench, status: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = bench.history()
        if history and history[-1][1] == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"release never reached {status}: {bench.history()}")


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[HeldLock]:
    backend = LocalBackend(tmp_path / "state" / "fluxform.tfstate")
    info = new_lock_info("apply")
    lock_id = backend.lock(info)
    yield HeldLock(backend, info)
    backend.unlock(lock_id)


def _interrupted_upgrade(kubeapi: KubeApi, tmp_path: Path, journal: JournalFile) -> ReleaseBench:
    """Revision 1 deployed, then a fluxform upgrade killed while Helm waits: pending-upgrade at 2."""
    bench = ReleaseBench(kubeapi, tmp_path, journal=journal, run_id="run-killed")
    bench.apply()
    failures: list[BaseException] = []

    def upgrade() -> None:
        try:
            bench.apply({"replicas": 2, **PROGRESSING}, timeout="60s")
        except ClusterError as exc:
            failures.append(exc)

    worker = threading.Thread(target=upgrade)
    worker.start()
    _wait_for_status(bench, "pending-upgrade")
    kill_children()  # what a kill -9 of fluxform does to its Helm worker (its own process group)
    worker.join(timeout=30)
    assert failures and "ended without a result" in failures[0].args[0]
    assert bench.history() == [(1, "deployed"), (2, "pending-upgrade")]
    return bench


def test_a_release_fluxform_left_pending_is_unlocked_and_rolled_back(
    kubeapi: KubeApi, tmp_path: Path, held_lock: HeldLock
) -> None:
    journal = JournalFile(tmp_path / "apply.journal")
    _interrupted_upgrade(kubeapi, tmp_path, journal)
    install, upgrade = journal.entries()
    assert (install.operation, install.revision_before) == ("install", None)
    assert (upgrade.run_id, upgrade.operation, upgrade.revision_before, upgrade.release) == (
        "run-killed",
        "upgrade",
        1,
        RELEASE,
    )

    bench = ReleaseBench(kubeapi, tmp_path, journal=journal, lock=held_lock, run_id="run-next")
    outcome = bench.apply({"replicas": 3})
    assert outcome.recovered == (
        "pending-upgrade at revision 2 (fluxform run run-killed): unlocked, then rolled back to revision 1"
    )
    assert (outcome.action, outcome.revision_before, outcome.revision_after, outcome.status) == (
        "upgrade",
        3,
        4,
        "deployed",
    )
    assert bench.history() == [(1, "superseded"), (2, "failed"), (3, "superseded"), (4, "deployed")]
    with bench.helm() as helm:  # unlocked as helm-controller's Unlock does it
        described = {revision: helm.get_all(RELEASE, revision=revision)["info"]["description"] for revision in (2, 3)}
    assert described[2] == "Release unlocked from stale 'pending-upgrade' state"
    assert described[3] == "Rollback to 1"


def test_without_the_state_lock_a_pending_release_is_not_recovered(kubeapi: KubeApi, tmp_path: Path) -> None:
    journal = JournalFile(tmp_path / "apply.journal")
    _interrupted_upgrade(kubeapi, tmp_path, journal)
    bench = ReleaseBench(kubeapi, tmp_path, journal=journal, run_id="run-next")
    with pytest.raises(ReleaseLocked) as caught:
        bench.apply({"replicas": 3})
    assert (
        "left by fluxform run run-killed" in caught.value.one_line()
        and "state lock is not held" in caught.value.one_line()
    )
    assert bench.history() == [(1, "deployed"), (2, "pending-upgrade")]


def test_a_release_another_helm_client_has_under_way_is_never_touched(
    kubeapi: KubeApi, tmp_path: Path, held_lock: HeldLock
) -> None:
    journal = JournalFile(tmp_path / "apply.journal")
    bench = ReleaseBench(kubeapi, tmp_path, journal=journal, lock=held_lock)
    other: list[BaseException] = []

    def someone_elses_upgrade() -> None:  # a person with the helm CLI, say
        with bench.helm() as helm:
            with helm_python.Chart.load(bench.fleet / "charts" / RELEASE) as chart:
                helm.install(chart, RELEASE, {}, namespace=NAMESPACE, timeout=20, wait="watcher")
            with helm_python.Chart.load(bench.fleet / "charts" / RELEASE) as chart:
                try:
                    helm.upgrade(chart, RELEASE, PROGRESSING, namespace=NAMESPACE, timeout=8, wait="watcher")
                except helm_python.HelmError as exc:
                    other.append(exc)

    thread = threading.Thread(target=someone_elses_upgrade)
    thread.start()
    _wait_for_status(bench, "pending-upgrade")
    seen = len(kubeapi.server.requests)
    with pytest.raises(ReleaseLocked) as caught:
        bench.apply({"replicas": 3})
    line = caught.value.one_line()
    assert "is pending-upgrade at revision 2 and no apply journal of fluxform shows it left it" in line
    assert "fluxform leaves it alone" in line
    ours = [r for r in kubeapi.server.requests[seen:] if r.verb in _WRITES and not r.user_agent.startswith("pytest")]
    assert [(r.method, r.path) for r in ours if "fluxform" in r.user_agent or "helm-controller" in r.user_agent] == []
    assert caught.value.outcome.status == "pending-upgrade" and caught.value.outcome.revision_after == 2
    thread.join(timeout=30)
    assert other  # the other client's upgrade ran its course (it times out waiting): fluxform did not break it
    assert bench.history() == [(1, "deployed"), (2, "failed")]
