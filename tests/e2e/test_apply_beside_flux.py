"""In a cluster that runs Flux, apply writes as Flux's controllers (field manager
kustomize-controller) and refuses to touch a Kustomization Flux would reconcile back, unless
--suspend (spec.suspend: true first, as `flux suspend`) or --ignore-flux (a warning)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.live_cluster import ensure_namespace, install_flux_crds
from tests.kubeapi import KubeApi
from tests.support.applyfleet import APPS, apply_cli, write_apply_fleet
from tests.support.kubeclient import kubectl, kubectl_json
from tests.support.trees import replace_in_file

pytestmark = pytest.mark.usefixtures("shared_build_cache")


def _color(kubeapi: KubeApi) -> str:
    return kubectl(kubeapi, "get", "configmap", "settings", "-n", "demo", "-o", "jsonpath={.data.color}").stdout


def test_apply_beside_flux(kubeapi: KubeApi, tmp_path: Path) -> None:
    install_flux_crds(kubeapi)
    ensure_namespace(kubeapi, "flux-system")
    fleet = write_apply_fleet(tmp_path / "repo")
    state = tmp_path / "state.json"
    first = apply_cli(kubeapi, fleet, state)  # Flux's objects do not exist yet: nothing reconciles them
    assert first.code == 0, first.err
    live = kubectl_json(kubeapi, "get", "configmap", "settings", "-n", "demo", "--show-managed-fields")
    assert {m["manager"] for m in live["metadata"]["managedFields"]} == {"kustomize-controller"}
    ks = kubectl_json(kubeapi, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "apps", "-n", "flux-system")
    assert "suspend" not in ks["spec"]  # Flux's own objects are applied too, now that the cluster serves them

    replace_in_file(fleet.parents[1] / "apps" / "configmap.yaml", "color: blue", "color: green")
    refused = apply_cli(kubeapi, fleet, state)

    assert refused.code == 1
    assert f"Error: the cluster runs Flux and {APPS} is not suspended" in refused.err
    assert "--suspend" in refused.err and _color(kubeapi) == "blue"

    ignored = apply_cli(kubeapi, fleet, state, "--ignore-flux")

    assert ignored.code == 0, ignored.err
    assert f"Warning: --ignore-flux: Flux reconciles {APPS}; it may revert this apply" in ignored.err
    assert _color(kubeapi) == "green"

    replace_in_file(fleet.parents[1] / "apps" / "configmap.yaml", "color: green", "color: red")
    suspended = apply_cli(kubeapi, fleet, state, "--suspend")

    assert suspended.code == 0, suspended.err
    assert "resume when you are done: flux resume kustomization apps -n flux-system" in suspended.err
    ks = kubectl_json(kubeapi, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "apps", "-n", "flux-system")
    assert ks["spec"]["suspend"] is True and _color(kubeapi) == "red"
    again = apply_cli(kubeapi, fleet, state)  # suspended now: nothing to refuse
    assert again.code == 0, again.err
