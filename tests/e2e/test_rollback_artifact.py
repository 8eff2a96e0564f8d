"""`fluxform rollback` of a fleet applied from an OCI artifact (issue 19, item 3): the revision a
state serial recorded (`oci://…:tag@sha256:…`) is opened again by its digest, though the tag
has moved on, checked digest by digest and applied; the revision rolled away from is marked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxform.state.local import LocalBackend
from tests.kubeapi import KubeApi
from tests.support.applyfleet import write_apply_fleet
from tests.support.cli import run
from tests.support.kubeclient import kubectl_json
from tests.support.registry import Registry, registry
from tests.support.trees import replace_in_file

__all__ = ["registry"]

pytestmark = pytest.mark.usefixtures("shared_build_cache")

GIT = ("--source", "https://git.example.com/fleet.git", "--revision", "main@sha1:" + "c" * 40)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory without the fleet: every PATH names a directory of the artifact."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


def _push(tree: Path, url: str) -> str:
    pushed = run("artifact", "push", tree, url, "--plain-http", *GIT, "--reproducible")
    assert pushed.code == 0, pushed.err
    return pushed.out.strip()


def _color(api: KubeApi) -> str:
    found: str = kubectl_json(api, "get", "configmap", "settings", "-n", "demo")["data"]["color"]
    return found


def test_rollback_opens_the_recorded_artifact_by_its_digest(
    registry: Registry, kubeapi: KubeApi, tmp_path: Path, elsewhere: Path
) -> None:
    repo = tmp_path / "repo"
    write_apply_fleet(repo)
    url = f"oci://{registry.host}/e2e/rollback:v1"
    first = _push(repo, url)
    state = tmp_path / "state.json"
    target = ("--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state), "--plain-http")
    applied = run("apply", "clusters/dev", "--source", url, *target, "--init-state", "--auto-approve")
    assert applied.code == 0, applied.err
    good = LocalBackend(state).read()
    assert good is not None
    replace_in_file(repo / "apps" / "configmap.yaml", "color: blue", "color: red")
    second = _push(repo, url)  # the tag moves on
    again = run("apply", "clusters/dev", "--source", url, *target, "--auto-approve")
    assert again.code == 0, again.err
    assert _color(kubeapi) == "red"

    result = run("rollback", "clusters/dev", *target, "--auto-approve", "--reason", "red is wrong")

    assert result.code == 0, result.err
    pinned = f"oci://{registry.host}/e2e/rollback@{first}"
    assert f"clusters/dev from {pinned} (state serial {good.serial})" in result.out.splitlines()[0]
    assert f"Rollback to serial {good.serial} complete: 0 created, 1 configured, 0 deleted;" in result.out
    assert _color(kubeapi) == "blue"
    state_after = LocalBackend(state).read()
    assert state_after is not None and state_after.operation == f"rollback to serial {good.serial}"
    assert [(r.source_revision, r.reason) for r in state_after.rolled_back] == [(f"{url}@{second}", "red is wrong")]
    planned = run("plan", "clusters/dev", "--source", url, *target)
    assert "was rolled back at serial" in planned.out
