"""Whose state is this? (issue 15, item 7) A state records its cluster (context, server) and
fleet path; a plan against another's is an error unless --force-state, a --state file that
does not exist is an error unless --init-state, and plan and the state commands read the
same state file."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from fluxform.state.local import LocalBackend
from fluxform.state.model import new_state
from tests.e2e.live_cluster import apply_fleet
from tests.e2e.state_from_plan import record_plan
from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, KEYS, Result, run
from tests.support.keys import mask_key_of

MINIMAL = FIXTURES / "minimal" / "clusters" / "dev"


def _one_error(result: Result) -> str:
    assert result.code == 1, result.out + result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    return lines[0]


@pytest.fixture
def staging_state(fleet_copy: Path, tmp_path: Path) -> Path:
    """The state of the staging cluster, as apply records it (fleet path clusters/staging)."""
    plan_file = tmp_path / "staging-plan.json"
    assert run("plan", fleet_copy / "clusters" / "staging", "--keys-dir", KEYS, "--out", plan_file).code == 0
    state_file = tmp_path / "staging.state.json"
    base = new_state("staging", mask_key=mask_key_of(KEYS), fleet_path="clusters/staging")
    record_plan(plan_file, state_file, mask_key=mask_key_of(KEYS), state=base)
    return state_file


def test_state_of_another_fleet_path_is_refused(fleet_copy: Path, staging_state: Path) -> None:
    production = fleet_copy / "clusters" / "production"
    args = ("plan", production, "--keys-dir", KEYS, "--offline", "--missing-charts", "warn", "--state", staging_state)
    line = _one_error(run(*args))
    assert f"state file {staging_state} was recorded for another cluster or fleet" in line
    assert "fleet path clusters/staging (this plan: clusters/production)" in line
    assert "--force-state" in line

    forced = run(*args, "--force-state", "--no-color")
    assert forced.code == 0, forced.err
    assert "! --force-state: state file" in forced.out
    assert "to destroy" in forced.out


def test_state_of_its_own_fleet_path_plans_quietly(fleet_copy: Path, staging_state: Path) -> None:
    result = run("plan", fleet_copy / "clusters" / "staging", "--keys-dir", KEYS, "--state", staging_state)
    assert result.code == 0, result.err
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in result.out
    assert "force-state" not in result.out


def test_mistyped_state_path_is_an_error_unless_init_state(tmp_path: Path) -> None:
    missing = tmp_path / "stat.json"
    line = _one_error(run("plan", MINIMAL, "--state", missing))
    assert line.startswith(f"Error: state file {missing} does not exist")
    assert "--init-state" in line
    created = run("plan", MINIMAL, "--state", missing, "--init-state", "--no-color")
    assert created.code == 0, created.err
    assert "Plan: 5 to add" in created.out
    assert not missing.exists()  # a plan writes no state


def test_live_plan_refuses_the_state_of_another_server(kubeapi: KubeApi, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    backend = LocalBackend(state_file)
    applied = apply_fleet(kubeapi, MINIMAL, state_file)
    backend.write(replace(applied, server="https://prod.example.com:6443", fleet_path="clusters/dev"))
    args = ("plan", MINIMAL, "--kubeconfig", kubeapi.kubeconfig, "--state", state_file)
    line = _one_error(run(*args))
    assert f"server https://prod.example.com:6443 (this plan: {kubeapi.url})" in line

    recorded = backend.read()
    assert recorded is not None
    backend.write(replace(recorded, server=kubeapi.url))  # the right cluster, its context renamed
    backend.write(replace(backend.read() or recorded, cluster="renamed-context"))
    assert run(*args, "--detailed-exitcode").code == 0  # the server decides, not the context name


def test_plan_and_state_commands_read_the_same_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubeapi: KubeApi
) -> None:
    """No --state: both use .fluxform/<current context>.state.json of the fleet root."""
    fleet = tmp_path / "minimal"
    shutil.copytree(FIXTURES / "minimal", fleet)
    (fleet / "fluxform.yaml").write_text("cluster: clusters/dev\n")
    monkeypatch.chdir(fleet)
    monkeypatch.setenv("KUBECONFIG", str(kubeapi.kubeconfig))  # current context: kubeapi
    plan_file = tmp_path / "plan.json"
    assert run("plan", "--out", plan_file).code == 0
    state_file = fleet / ".fluxform" / "kubeapi.state.json"
    written = record_plan(
        plan_file, state_file, mask_key=mask_key_of(KEYS), state=new_state("kubeapi", mask_key=mask_key_of(KEYS))
    )
    history = run("state", "history")
    assert history.code == 0, history.err
    assert f"{written.serial} (current)" in history.out
    planned = run("plan", "--detailed-exitcode", "--no-color")
    assert planned.code == 0, planned.out + planned.err  # the recorded state: nothing to do
    assert f"lineage {written.lineage}, serial {written.serial}" in planned.out
