"""Apply after the fleet changed: an update, a removal pruned (after health), the prune rules on
the live object (another owner's labels, prune: disabled), and a Namespace removal that needs
--allow-destroy-namespaces under --auto-approve. kubectl reads the results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kubeapi import KubeApi
from tests.support.applyfleet import APPS, INFRA, apply_cli, plan_cli, write_apply_fleet
from tests.support.kubeclient import kubectl, kubectl_json
from tests.support.trees import replace_in_file

pytestmark = pytest.mark.usefixtures("shared_build_cache")


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    return write_apply_fleet(tmp_path / "repo")


@pytest.fixture
def state(kubeapi: KubeApi, fleet: Path, tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    first = apply_cli(kubeapi, fleet, path)
    assert first.code == 0, first.err
    return path


def _state_ids(state: Path) -> set[str]:
    """The inventory ids the current revision of the state records."""
    doc = json.loads(state.read_text())
    return {o["id"] for key in doc["owners"].values() for o in doc["ownerRecords"][key]["objects"]}


def test_update_is_configured_and_removal_is_pruned(kubeapi: KubeApi, fleet: Path, state: Path) -> None:
    repo = fleet.parents[1]
    replace_in_file(repo / "apps" / "configmap.yaml", "color: blue", "color: green")
    (repo / "apps" / "service.yaml").unlink()

    result = apply_cli(kubeapi, fleet, state)

    assert result.code == 0, result.err
    assert f"{APPS}: applied: 1 configured, 1 deleted, 3 unchanged" in result.out
    assert kubectl_json(kubeapi, "get", "configmap", "settings", "-n", "demo")["data"] == {"color": "green"}
    gone = kubectl(kubeapi, "get", "service", "web", "-n", "demo", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert "demo_web__Service" not in _state_ids(state)
    assert "demo_settings__ConfigMap" in _state_ids(state)
    again = plan_cli(kubeapi, fleet, state)
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in again.out


def test_prune_leaves_what_another_owner_adopted_or_prune_disabled_keeps(
    kubeapi: KubeApi, fleet: Path, state: Path
) -> None:
    repo = fleet.parents[1]
    kubectl(kubeapi, "label", "service", "web", "-n", "demo", "--overwrite", "kustomize.toolkit.fluxcd.io/name=other")
    kubectl(kubeapi, "annotate", "configmap", "settings", "-n", "demo", "kustomize.toolkit.fluxcd.io/prune=disabled")
    (repo / "apps" / "service.yaml").unlink()
    (repo / "apps" / "configmap.yaml").unlink()

    result = apply_cli(kubeapi, fleet, state)

    assert result.code == 0, result.err
    assert f"{APPS}: unchanged: 3 unchanged, 2 forgotten" in result.out, result.out
    kubectl(kubeapi, "get", "service", "web", "-n", "demo")  # both still there
    kubectl(kubeapi, "get", "configmap", "settings", "-n", "demo")
    assert not {"demo_web__Service", "demo_settings__ConfigMap"} & _state_ids(state)  # dropped from the inventory


def test_namespace_removal_is_shown_and_needs_the_flag(kubeapi: KubeApi, fleet: Path, state: Path) -> None:
    repo = fleet.parents[1]
    (repo / "infra" / "namespace.yaml").unlink()
    for name in ("configmap", "secret", "deployment", "service", "widget"):
        (repo / "apps" / f"{name}.yaml").unlink()

    planned = plan_cli(kubeapi, fleet, state)
    assert "Deleting these deletes everything in them" in planned.out
    assert f"  - Namespace/demo  ({INFRA})" in planned.out

    refused = apply_cli(kubeapi, fleet, state)

    assert refused.code == 1
    assert refused.err.startswith("Error: the plan deletes Namespace/demo and everything in it")
    assert "--allow-destroy-namespaces" in refused.err
    kubectl(kubeapi, "get", "namespace", "demo")  # nothing was deleted
    kubectl(kubeapi, "get", "configmap", "settings", "-n", "demo")

    allowed = apply_cli(kubeapi, fleet, state, "--allow-destroy-namespaces")

    assert allowed.code == 0, allowed.err
    assert f"{INFRA}: applied: 1 deleted, 2 unchanged" in allowed.out
    assert f"{APPS}: applied: 5 deleted" in allowed.out  # in their namespace, gone with it
    assert kubectl(kubeapi, "get", "namespace", "demo", check=False).returncode != 0
