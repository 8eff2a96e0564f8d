"""HelmReleases applied twice through the CLI. Given a targetNamespace in between: the state names
the release the first apply made (team/shop), so the second uninstalls it before installing
apps/apps-shop, as helm-controller does when the release target changes. And the release
journal beside the state: kept after a failed apply, removed by one that completes."""

from __future__ import annotations

from pathlib import Path

from fluxform.helm.journal import JournalFile
from tests.kubeapi import HEALTH_ANNOTATION, KubeApi
from tests.support.cli import run
from tests.support.releases import NAMESPACE, RELEASE, ReleaseBench
from tests.support.trees import flux_kustomization, helm_release, write_tree


def _fleet(root: Path, extra: str = "", timeout: str = "20s") -> Path:
    release = helm_release(RELEASE, "./charts/shop", f"  timeout: {timeout}\n{extra}", namespace=NAMESPACE)
    sync = flux_kustomization("flux-system", "./clusters/dev") + "---\n" + release
    return write_tree(root, {"clusters/dev/sync.yaml": sync}) / "clusters" / "dev"


def test_a_changed_target_namespace_uninstalls_the_release_the_state_recorded(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path, field_manager="fluxform")
    bench.create_namespace("apps")
    common = ["--kubeconfig", str(kubeapi.kubeconfig), "--state", str(tmp_path / "state.json"), "--auto-approve"]
    owner = f"HelmRelease/{NAMESPACE}/{RELEASE}"

    first = run("apply", _fleet(bench.fleet), *common, "--init-state")
    assert first.code == 0, first.err
    assert f"{owner}: applied: Helm install (no release -> revision 1, deployed)" in first.out

    moved = run("apply", _fleet(bench.fleet, "  targetNamespace: apps\n"), *common)
    assert moved.code == 0, moved.err
    assert (
        f"{owner}: applied: Helm install (no release -> revision 1, deployed) after uninstalling the old release: "
        "release namespace changed from team to apps"
    ) in moved.out
    assert bench.history() == [] and kubeapi.server.get(("apps", "Deployment", NAMESPACE, "shop-web")) is None
    assert bench.history("apps-shop", NAMESPACE) == [(1, "deployed")]
    assert kubeapi.server.get(("apps", "Deployment", "apps", "apps-shop-web")) is not None

    again = run("plan", _fleet(bench.fleet, "  targetNamespace: apps\n"), *common[:4], "--detailed-exitcode")
    assert again.code == 0, again.out + again.err  # no changes: the state now records apps/apps-shop


def test_the_release_journal_lives_until_an_apply_completes(kubeapi: KubeApi, tmp_path: Path) -> None:
    """Its records (no values) stay after a failed apply, for the next one to recover a pending
    release, and go once an apply completes: an old record must never vouch for a pending
    release someone else leaves later."""
    bench = ReleaseBench(kubeapi, tmp_path, field_manager="fluxform")
    state = tmp_path / "state.json"
    journal = tmp_path / "state.json.releases"
    common = ["--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state), "--auto-approve"]
    failing = f"  values:\n    podAnnotations:\n      {HEALTH_ANNOTATION}: failed\n"

    # --no-rollback: the failed release stays (the automatic rollback would uninstall it)
    failed = run("apply", _fleet(bench.fleet, failing, timeout="3s"), *common, "--init-state", "--no-rollback")
    assert failed.code == 1 and "Helm install of release team/shop failed" in failed.out + failed.err
    records = JournalFile(journal).entries()
    assert [(r.release, r.namespace, r.operation, r.revision_before) for r in records] == [
        (RELEASE, NAMESPACE, "install", None)
    ]

    healed = run("apply", _fleet(bench.fleet), *common)
    assert healed.code == 0, healed.err
    assert "Helm upgrade (revision 1 -> revision 2, deployed)" in healed.out
    assert not journal.exists()


def test_drift_of_an_in_sync_release_is_corrected_by_apply(kubeapi: KubeApi, tmp_path: Path) -> None:
    """spec.driftDetection.mode: enabled: the plan says apply corrects it; apply does, with no
    new Helm revision; the next plan has nothing left to do."""
    bench = ReleaseBench(kubeapi, tmp_path, field_manager="fluxform")
    common = ["--kubeconfig", str(kubeapi.kubeconfig), "--state", str(tmp_path / "state.json"), "--auto-approve"]
    fleet = _fleet(bench.fleet, "  driftDetection:\n    mode: enabled\n")
    assert run("apply", fleet, *common, "--init-state").code == 0
    kubeapi.server.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{RELEASE}-settings", "namespace": NAMESPACE},
         "data": {"greeting": "edited"}},
        manager="kubectl-edit",
        force=True,
    )  # fmt: skip

    corrected = run("apply", fleet, *common)

    assert corrected.code == 0, corrected.err
    assert "corrects this drift without a new Helm revision" in corrected.out  # the plan it showed
    assert (
        f"HelmRelease/{NAMESPACE}/{RELEASE}: applied: Helm correct-drift (revision 1 -> revision 1, deployed); "
        f"drift corrected: ConfigMap/{NAMESPACE}/{RELEASE}-settings (/data/greeting)"
    ) in corrected.out
    settings = kubeapi.server.get(("", "ConfigMap", NAMESPACE, f"{RELEASE}-settings"))
    assert settings is not None and settings["data"]["greeting"] == "hello"
    assert bench.history() == [(1, "deployed")]
    again = run("plan", fleet, *common[:4], "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
