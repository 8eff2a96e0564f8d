"""`apply PATH` shows the plan and asks; only `yes` applies. Without a terminal and without
--auto-approve it refuses before reading anything; a saved plan file needs no prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.commands.apply import apply
from tests.kubeapi import KubeApi
from tests.support.applyfleet import write_apply_fleet
from tests.support.cli import invoke, run
from tests.support.kubeclient import kubectl

pytestmark = pytest.mark.usefixtures("shared_build_cache")


def _args(kubeapi: KubeApi, fleet: Path, state: Path) -> list[str]:
    return [str(fleet), "--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state), "--init-state"]


def test_no_terminal_and_no_auto_approve_refuses(kubeapi: KubeApi, tmp_path: Path) -> None:
    fleet = write_apply_fleet(tmp_path / "repo")
    kubeapi.server.clear_requests()

    result = run("apply", *_args(kubeapi, fleet, tmp_path / "state.json"))

    assert result.code == 1
    assert result.err == (
        "Error: apply asks for confirmation, and stdin is not a terminal (hint: review the plan and pass "
        "--auto-approve, or apply a saved plan file)\n"
    )
    assert not kubeapi.server.requests and not (tmp_path / "state.json").exists()


@pytest.mark.parametrize(("answer", "applied"), [("yes\n", True), ("no\n", False), ("\n", False)])
def test_only_yes_applies(
    kubeapi: KubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, applied: bool
) -> None:
    monkeypatch.setattr("fluxform.commands.apply.interactive", lambda: True)
    fleet = write_apply_fleet(tmp_path / "repo")

    result = invoke(apply, *_args(kubeapi, fleet, tmp_path / "state.json"), input=answer)

    assert "Plan: 8 to add, 0 to change, 0 to destroy." in result.output
    assert "Do you want to perform these actions? Only 'yes' will be accepted to approve." in result.output
    exists = kubectl(kubeapi, "get", "namespace", "demo", check=False).returncode == 0
    assert exists is applied
    if applied:
        assert result.exit_code == 0, result.output
        assert "Apply complete: 8 created" in result.output
    else:
        assert result.exit_code == 1
        assert "apply cancelled" in str(result.exception)
        assert not (tmp_path / "state.json").exists()
