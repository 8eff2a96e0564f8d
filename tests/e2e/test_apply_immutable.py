"""A Deployment selector change (immutable): refused before anything is written unless the
Kustomization has spec.force: true, which deletes and recreates it as Flux does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kubeapi import KubeApi
from tests.support.applyfleet import APPS, apply_cli, deployment_text, write_apply_fleet
from tests.support.kubeclient import kubectl_json
from tests.support.trees import replace_in_file

pytestmark = pytest.mark.usefixtures("shared_build_cache")


def _applied(kubeapi: KubeApi, tmp_path: Path, apps_spec: str = "") -> tuple[Path, Path, str]:
    fleet = write_apply_fleet(tmp_path / "repo", apps_spec=apps_spec)
    state = tmp_path / "state.json"
    assert apply_cli(kubeapi, fleet, state).code == 0
    uid = kubectl_json(kubeapi, "get", "deployment", "web", "-n", "demo")["metadata"]["uid"]
    (fleet.parents[1] / "apps" / "deployment.yaml").write_text(deployment_text("web", "demo", selector="web-v2"))
    replace_in_file(fleet.parents[1] / "apps" / "service.yaml", "app: web", "app: web-v2")
    return fleet, state, str(uid)


def test_immutable_selector_without_force_is_refused_before_any_write(kubeapi: KubeApi, tmp_path: Path) -> None:
    fleet, state, uid = _applied(kubeapi, tmp_path)
    serial = state.read_text()

    result = apply_cli(kubeapi, fleet, state)

    assert result.code == 1
    assert "Error: the pre-flight dry-run refused 1 object(s); nothing was written: Deployment/demo/web: " in result.err
    assert "spec.selector" in result.err and "immutable" in result.err and "spec.force: true" in result.err
    live = kubectl_json(kubeapi, "get", "deployment", "web", "-n", "demo")
    assert live["metadata"]["uid"] == uid and live["spec"]["selector"]["matchLabels"] == {"app": "web"}
    service = kubectl_json(kubeapi, "get", "service", "web", "-n", "demo")
    assert service["spec"]["selector"] == {"app": "web"}  # nothing else written either
    assert state.read_text() == serial


def test_immutable_selector_with_force_recreates_the_object(kubeapi: KubeApi, tmp_path: Path) -> None:
    fleet, state, uid = _applied(kubeapi, tmp_path, apps_spec="  force: true\n")

    result = apply_cli(kubeapi, fleet, state)

    assert result.code == 0, result.err
    assert f"{APPS}: applied: 1 configured, 1 recreated" in result.out
    assert "Deployment/demo/web recreated (an immutable field changed)" in result.err
    live = kubectl_json(kubeapi, "get", "deployment", "web", "-n", "demo")
    assert live["metadata"]["uid"] != uid
    assert live["spec"]["selector"]["matchLabels"] == {"app": "web-v2"}
