"""Plan files written by `fluxform plan --out` from the example fleet, offline and against the
Kubernetes API emulator, validate against docs/plan-file.schema.json and read back as written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fluxform.planner.planfile import PlanMode, plan_file_json, read_plan_file
from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, KEYS, run

SCHEMA: dict[str, Any] = json.loads((FIXTURES.parent / "docs" / "plan-file.schema.json").read_text())
MINIMAL = FIXTURES / "minimal" / "clusters" / "dev"


def _validated(plan_file: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(plan_file.read_text())
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert plan_file_json(read_plan_file(plan_file)) == plan_file.read_text()
    return data


@pytest.mark.parametrize("cluster", ["staging", "production"])
def test_offline_plan_files_of_the_example_fleet_validate(cluster: str, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    # production's upstream charts cannot be fetched here: those releases are not planned
    args = ("--keys-dir", KEYS, "--offline", "--missing-charts", "warn", "--chart-cache", tmp_path / "charts")
    result = run("plan", FIXTURES / "fleet" / "clusters" / cluster, *args, "--out", plan_file)
    assert result.code == 0, result.err
    data = _validated(plan_file)
    assert data["mode"] == "offline" and data["live"] is None
    assert data["settings"]["offline"] is True and data["settings"]["missing_charts"] == "warn"
    releases = [o for o in data["owners"] if o["kind"] == "HelmRelease" and o["status"] == "built"]
    assert releases and all(o["spec"]["release"]["name"] for o in releases)
    if cluster == "production":
        assert data["not_planned"] and data["summary"]["not_planned"] == len(data["not_planned"])


def test_live_plan_file_validates_and_carries_the_cluster(kubeapi: KubeApi, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    result = run("plan", MINIMAL, "--kubeconfig", kubeapi.kubeconfig, "--field-manager", "ops", "--out", plan_file)
    assert result.code == 0, result.err
    _validated(plan_file)
    read = read_plan_file(plan_file)
    assert read.mode is PlanMode.LIVE and read.live is not None
    assert read.live.server.startswith("http://127.0.0.1:") and read.live.field_managers.kustomization == "ops"
    assert read.settings.field_manager == "ops"
    deployment = next(c for c in read.changes if c.id.kind == "Deployment")
    assert deployment.live_resource_version == "" and deployment.desired is not None and deployment.digest
