"""A saved plan is applied only while it is the truth: refused, with one line naming what moved,
when the cluster changed an object it changes, when the state moved on, when the source
changed, or when it was made against another cluster; nothing is written then."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kubeapi import KubeApi
from tests.support.applyfleet import apply_cli, plan_cli, write_apply_fleet
from tests.support.cli import run
from tests.support.kubeclient import kubectl
from tests.support.trees import replace_in_file

pytestmark = pytest.mark.usefixtures("shared_build_cache")


@pytest.fixture
def setup(kubeapi: KubeApi, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The fleet applied, then changed (the ConfigMap's color) and planned to a file."""
    fleet = write_apply_fleet(tmp_path / "repo")
    state = tmp_path / "state.json"
    assert apply_cli(kubeapi, fleet, state).code == 0
    replace_in_file(fleet.parents[1] / "apps" / "configmap.yaml", "color: blue", "color: green")
    plan = tmp_path / "plan.json"
    assert plan_cli(kubeapi, fleet, state, "--out", str(plan)).code == 0
    return fleet, state, plan


def _apply_plan(kubeapi: KubeApi, plan: Path, state: Path, *args: str) -> tuple[int, str]:
    result = run("apply", plan, "--kubeconfig", kubeapi.kubeconfig, "--state", state, *args)
    return result.code, result.err


def test_the_saved_plan_applies_when_nothing_moved(kubeapi: KubeApi, setup: tuple[Path, Path, Path]) -> None:
    _, state, plan = setup
    code, err = _apply_plan(kubeapi, plan, state)
    assert code == 0, err
    cm = kubectl(kubeapi, "get", "configmap", "settings", "-n", "demo", "-o", "jsonpath={.data.color}")
    assert cm.stdout == "green"


def test_refused_when_the_cluster_changed_an_object_the_plan_changes(
    kubeapi: KubeApi, setup: tuple[Path, Path, Path]
) -> None:
    _, state, plan = setup
    before = state.read_text()
    kubectl(kubeapi, "label", "configmap", "settings", "-n", "demo", "edited=by-hand")

    code, err = _apply_plan(kubeapi, plan, state)

    assert code == 1
    assert err.startswith("Error: ConfigMap/demo/settings: the plan is stale: it changed in the cluster since the plan")
    assert "resourceVersion" in err and err.count("\n") == 1
    cm = kubectl(kubeapi, "get", "configmap", "settings", "-n", "demo", "-o", "jsonpath={.data.color}")
    assert cm.stdout == "blue" and state.read_text() == before


def test_refused_when_the_state_serial_moved(kubeapi: KubeApi, setup: tuple[Path, Path, Path]) -> None:
    fleet, state, plan = setup
    assert apply_cli(kubeapi, fleet, state).code == 0  # someone applied meanwhile

    code, err = _apply_plan(kubeapi, plan, state)

    assert code == 1
    assert "Error: the plan is stale: the state moved from serial" in err and "(someone applied)" in err


def test_refused_when_the_source_changed(kubeapi: KubeApi, setup: tuple[Path, Path, Path]) -> None:
    fleet, state, plan = setup
    replace_in_file(fleet.parents[1] / "apps" / "configmap.yaml", "color: green", "color: red")

    code, err = _apply_plan(kubeapi, plan, state)

    assert code == 1
    assert "Error: the plan is stale: the source is at revision sha256:" in err


def test_refused_against_another_cluster(
    kubeapi: KubeApi, kubeapi_factory: Callable[..., KubeApi], setup: tuple[Path, Path, Path]
) -> None:
    _, state, plan = setup
    other: KubeApi = kubeapi_factory()

    code, err = _apply_plan(other, plan, state)

    assert code == 1
    assert "was made against the cluster at " + kubeapi.url in err


def test_a_plan_applies_with_the_default_state_beside_the_fleet(kubeapi: KubeApi, tmp_path: Path) -> None:
    """The default local state lives in `.fluxform/` under the fleet path: its lock file,
    taken before apply re-renders, must not make the plan's own source look changed."""
    fleet = write_apply_fleet(tmp_path / "repo")
    kube = ["--kubeconfig", str(kubeapi.kubeconfig)]
    plan = tmp_path / "plan.json"
    assert run("plan", fleet, *kube, "--out", plan).code == 0

    applied = run("apply", plan, *kube)

    assert applied.code == 0, applied.err
    assert list((fleet / ".fluxform").glob("*.state.json"))
    again = run("plan", fleet, *kube, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_a_plan_made_with_a_relative_path_names_it_when_applied_elsewhere(
    kubeapi: KubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = write_apply_fleet(tmp_path / "repo")
    state, plan = tmp_path / "state.json", tmp_path / "plan.json"
    monkeypatch.chdir(tmp_path / "repo")
    assert plan_cli(kubeapi, fleet.relative_to(tmp_path / "repo"), state, "--out", str(plan)).code == 0
    monkeypatch.chdir(tmp_path)

    code, err = _apply_plan(kubeapi, plan, state, "--init-state")

    assert code == 1
    assert f"Error: {plan} was made from the fleet path {fleet.relative_to(tmp_path / 'repo')}," in err
    assert "which is not a directory here (hint: run apply from the directory plan ran in" in err
    assert not state.exists()
