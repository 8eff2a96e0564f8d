"""spec.driftDetection as helm-controller applies it to an in-sync release (helm/drift.py): the
stored manifest server-side dry-run applied, `enabled` corrects (no new revision), `warn`
reports, `disabled` does nothing; exclusions and ignore rules. Real Helm SDK installs, edits
by another field manager in the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluxform.helm.drift import _matches, ignored_paths
from fluxform.helm.policy import DriftIgnoreRule
from tests.kubeapi import KubeApi
from tests.support.releases import NAMESPACE, RELEASE, ReleaseBench

SETTINGS = ("", "ConfigMap", NAMESPACE, f"{RELEASE}-settings")
WEB = ("apps", "Deployment", NAMESPACE, f"{RELEASE}-web")


def _edit(kubeapi: KubeApi) -> None:
    """Someone changes the ConfigMap and deletes the Deployment."""
    kubeapi.server.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": SETTINGS[3], "namespace": NAMESPACE},
         "data": {"greeting": "edited"}},
        manager="kubectl-edit",
        force=True,
    )  # fmt: skip
    kubeapi.server.delete(WEB)


def _greeting(kubeapi: KubeApi) -> str:
    found = kubeapi.server.get(SETTINGS)
    assert found is not None
    return str(found["data"]["greeting"])


def test_enabled_corrects_drift_without_a_new_revision(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    drift = {"driftDetection": {"mode": "enabled"}}
    bench.apply(**drift)
    assert bench.apply(**drift).drift == ()  # nothing drifted yet
    _edit(kubeapi)
    kubeapi.server.clear_requests()
    outcome = bench.apply(**drift)
    assert (outcome.action, outcome.revision_before, outcome.revision_after) == ("correct-drift", 1, 1)
    assert outcome.drift == (
        f"ConfigMap/{NAMESPACE}/{RELEASE}-settings (/data/greeting)",
        f"Deployment/{NAMESPACE}/{RELEASE}-web (deleted)",
    )
    assert _greeting(kubeapi) == "hello" and kubeapi.server.get(WEB) is not None
    assert bench.history() == [(1, "deployed")]  # no Helm action
    writes = [
        (r.method, r.content_type, r.query.get("fieldManager"))
        for r in kubeapi.server.requests
        if r.method in ("POST", "PATCH") and not r.query.get("dryRun")
    ]
    assert writes == [
        ("POST", "application/json", "helm-controller"),  # the deleted Deployment, created
        ("PATCH", "application/json-patch+json", "helm-controller"),  # the ConfigMap, patched
    ]
    assert bench.apply(**drift).drift == ()


def test_warn_reports_and_disabled_ignores(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    _edit(kubeapi)
    warned = bench.apply(driftDetection={"mode": "warn"})
    assert (warned.action, len(warned.drift)) == ("none", 2)
    assert _greeting(kubeapi) == "edited" and kubeapi.server.get(WEB) is None  # reported only
    disabled = bench.apply()  # helm-controller's default
    assert (disabled.action, disabled.drift) == ("none", ())


def test_ignore_rules_and_exclusions_leave_objects_out(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    patch = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop-web\n"
        "  labels:\n    helm.toolkit.fluxcd.io/driftDetection: disabled\n"
    )
    spec: dict[str, Any] = {
        "postRenderers": [{"kustomize": {"patches": [{"patch": patch}]}}],
        "driftDetection": {
            "mode": "enabled",
            "ignore": [{"paths": ["/data/greeting"], "target": {"kind": "ConfigMap"}}],
        },
    }
    bench.apply(**spec)
    _edit(kubeapi)
    outcome = bench.apply(**spec)
    assert (outcome.action, outcome.drift) == ("none", ())
    assert _greeting(kubeapi) == "edited" and kubeapi.server.get(WEB) is None


@pytest.mark.parametrize(
    ("target", "selected"),
    [
        (None, True),
        ({"kind": "Config.*"}, True),
        ({"kind": "Map"}, False),  # anchored, as fluxcd/pkg jsondiff anchors it
        ({"group": "", "version": "v1", "name": "shop-.*", "namespace": "team"}, True),
        ({"labelSelector": "app=web"}, True),
        ({"labelSelector": "app=web,tier!=db"}, True),
        ({"labelSelector": "app!=web"}, False),
        ({"annotationSelector": "owner"}, False),
        ({"annotationSelector": "!owner"}, True),
    ],
)
def test_ignore_rule_targets(target: dict[str, str] | None, selected: bool) -> None:
    meta = {"name": "shop-settings", "namespace": "team", "labels": {"app": "web"}}
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    rule = DriftIgnoreRule(("/data",), target)
    assert (ignored_paths(obj, [rule]) == ["/data"]) is selected


def test_set_based_selectors_are_refused_with_one_line() -> None:
    with pytest.raises(Exception, match="not supported"):
        _matches("app in (web, api)", {"app": "web"})
