"""HelmReleases applied as real Helm releases (helm/release.py): the Helm SDK in its worker
against the emulator, checked with Helm's own client (what `helm history`, `helm get` and
helm-controller see) and the emulator's stored objects."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from fluxform.helm.release import ReleaseFailed
from tests.kubeapi import KubeApi
from tests.support.releases import HEALTH_ANNOTATION, NAMESPACE, RELEASE, ReleaseBench, write_shop_chart

FAILING = {"podAnnotations": {HEALTH_ANNOTATION: "failed"}}


def _deployment(kubeapi: KubeApi) -> dict[str, Any]:
    found = kubeapi.server.get(("apps", "Deployment", NAMESPACE, f"{RELEASE}-web"))
    assert found is not None
    return found


def _steps(outcome: Any) -> list[tuple[str, int | None, str]]:
    return [(s.action, s.revision, s.status) for s in outcome.steps]


def test_install_upgrade_and_rollback_of_a_chart_with_a_crd_and_a_deployment(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    installed = bench.apply({"greeting": "hi"})
    assert (installed.action, installed.revision_before, installed.revision_after, installed.status) == (
        "install", None, 1, "deployed",
    )  # fmt: skip
    crd = kubeapi.server.get(("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"))
    assert crd is not None and crd["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == RELEASE
    assert kubeapi.server.get(("example.com", "Widget", NAMESPACE, f"{RELEASE}-widget")) is not None

    assert bench.apply({"greeting": "hi", "replicas": 2}).revision_after == 2
    assert bench.apply({"greeting": "hi", "replicas": 3}).revision_after == 3
    assert _deployment(kubeapi)["spec"]["replicas"] == 3

    rolled = bench.rollback(2)
    assert (rolled.action, rolled.revision_before, rolled.revision_after, rolled.status) == (
        "rollback",
        3,
        4,
        "deployed",
    )
    assert _deployment(kubeapi)["spec"]["replicas"] == 2
    assert bench.history() == [(1, "superseded"), (2, "superseded"), (3, "superseded"), (4, "deployed")]

    with bench.helm() as helm:  # `helm get` sees a normal release of the chart, its values, the post-rendered manifest
        status = helm.status(RELEASE)
        assert (status["chart_name"], status["chart_version"], status["revision"]) == (RELEASE, "0.1.0", 4)
        assert helm.get_values(RELEASE) == {"greeting": "hi", "replicas": 2}
        manifest = status["manifest"]
    assert "helm.toolkit.fluxcd.io/namespace: team" in manifest and "postrender-filename" not in manifest
    assert "# Source: shop/templates/deployment.yaml" in manifest  # Helm mapped each document back to its template


def test_an_unchanged_release_is_left_alone(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply({"replicas": 2})
    again = bench.apply({"replicas": 2})
    assert (again.action, again.revision_before, again.revision_after, again.steps) == ("none", 1, 1, ())
    changed = bench.apply({"replicas": 2}, commonMetadata={"labels": {"team": "blue"}})  # same chart and values
    assert (changed.action, changed.revision_after) == ("upgrade", 2)
    assert _deployment(kubeapi)["metadata"]["labels"]["team"] == "blue"


def test_post_renderers_run_inside_helm_and_the_manifest_is_what_fluxform_rendered(
    kubeapi: KubeApi, tmp_path: Path
) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop-web\nspec:\n  minReadySeconds: 7\n"
    spec = {
        "postRenderers": [
            {"kustomize": {"patches": [{"patch": patch}], "images": [{"name": "nginx", "newTag": "1.27"}]}}
        ],
        "commonMetadata": {"annotations": {"owner": "platform"}},
    }
    bench.apply({"replicas": 2}, **spec)
    deployment = _deployment(kubeapi)
    assert deployment["spec"]["minReadySeconds"] == 7
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert deployment["metadata"]["annotations"]["owner"] == "platform"
    # the stored manifest equals the plan's render object for object: applying again changes nothing
    assert bench.apply({"replicas": 2}, **spec).action == "none"


def test_an_upgrade_that_never_becomes_healthy_is_rolled_back(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply({"replicas": 2})
    with pytest.raises(ReleaseFailed) as caught:
        bench.apply({"replicas": 3, **FAILING}, upgrade={"remediation": {"retries": 1}})
    outcome = caught.value.outcome
    assert _steps(outcome) == [
        ("upgrade", 2, "failed"), ("rollback", 3, "deployed"), ("upgrade", 4, "failed"), ("rollback", 5, "deployed"),
    ]  # fmt: skip
    assert (outcome.status, outcome.revision_after, outcome.remediated) == ("deployed", 5, True)
    line = caught.value.one_line()
    assert "(release left deployed at revision 5 after 2 attempt(s), remediated by rollback)" in line
    assert "not ready" in line
    assert bench.history() == [(1, "superseded"), (2, "failed"), (3, "superseded"), (4, "failed"), (5, "deployed")]
    deployment = _deployment(kubeapi)  # the previous revision's content is back, and healthy
    assert deployment["spec"]["replicas"] == 2 and HEALTH_ANNOTATION not in json.dumps(deployment["spec"])
    assert deployment["status"]["availableReplicas"] == 2


def test_a_failed_upgrade_without_remediation_is_left_failed(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    with pytest.raises(ReleaseFailed) as caught:
        bench.apply(FAILING)  # helm-controller's default: retries 0, remediateLastFailure false
    assert _steps(caught.value.outcome) == [("upgrade", 2, "failed")]
    assert bench.history() == [(1, "deployed"), (2, "failed")]  # Helm supersedes only on success
    with pytest.raises(ReleaseFailed) as retried:  # RetryOnFailure: no remediation either
        bench.apply(FAILING, upgrade={"strategy": {"name": "RetryOnFailure"}, "remediation": {"retries": 3}})
    assert _steps(retried.value.outcome) == [("upgrade", 3, "failed")]


def test_a_failed_install_is_uninstalled_between_retries(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    with pytest.raises(ReleaseFailed) as caught:
        bench.apply(FAILING, install={"remediation": {"retries": 1}})
    assert _steps(caught.value.outcome) == [("install", 1, "failed"), ("uninstall", None, ""), ("install", 1, "failed")]
    assert bench.history() == [(1, "failed")]  # the last failure is kept: remediateLastFailure defaults to false
    with pytest.raises(ReleaseFailed) as upgraded:  # a failed release is upgraded next (helm-controller: Failed)
        bench.apply(FAILING, install={"remediation": {"retries": 1, "remediateLastFailure": True}})
    assert _steps(upgraded.value.outcome) == [("upgrade", 2, "failed")]


def test_uninstall_strategy_reinstalls(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    with pytest.raises(ReleaseFailed) as caught:
        bench.apply(FAILING, upgrade={"remediation": {"remediateLastFailure": True, "strategy": "uninstall"}})
    assert _steps(caught.value.outcome) == [("upgrade", 2, "failed"), ("uninstall", None, "")]
    assert bench.history() == [] and kubeapi.server.get(("apps", "Deployment", NAMESPACE, f"{RELEASE}-web")) is None
    assert bench.apply().action == "install"


def _short_names(kubeapi: KubeApi) -> list[str]:
    crd = kubeapi.server.get(("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"))
    assert crd is not None
    return list(crd["spec"]["names"].get("shortNames") or [])


@pytest.mark.parametrize(
    ("upgrade", "updated"),
    [
        ({}, True),  # default Create, under server-side apply: Helm's SSA "create" is an apply
        ({"crds": "CreateReplace"}, True),
        ({"crds": "Skip"}, False),
        ({"crds": "Create", "serverSideApply": "disabled"}, False),  # client-side: existing CRDs stay
        ({"crds": "CreateReplace", "serverSideApply": "disabled"}, True),
    ],
    ids=["create-ssa", "create-replace", "skip", "create-csa", "create-replace-csa"],
)
def test_crd_policies_on_upgrade(kubeapi: KubeApi, tmp_path: Path, upgrade: dict[str, Any], updated: bool) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    csa = upgrade.get("serverSideApply") == "disabled"
    bench.apply(install={"serverSideApply": not csa})
    assert _short_names(kubeapi) == []
    write_shop_chart(bench.fleet, "0.2.0", crd_short_name="wd")
    outcome = bench.apply(upgrade=upgrade, install={"serverSideApply": not csa})
    assert outcome.action == "upgrade" and outcome.status == "deployed"
    assert _short_names(kubeapi) == (["wd"] if updated else [])


def test_crd_policy_skip_on_install(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply({"widget": False}, install={"crds": "Skip"})
    assert kubeapi.server.get(("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com")) is None


def test_history_is_kept_to_max_history(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    for replicas in range(1, 5):
        bench.apply({"replicas": replicas}, maxHistory=2)
    assert bench.history() == [(3, "superseded"), (4, "deployed")]
    assert bench.storage_secrets() == [f"sh.helm.release.v1.{RELEASE}.v3", f"sh.helm.release.v1.{RELEASE}.v4"]


@pytest.mark.parametrize("manager", ["helm-controller", "fluxform", "ops-team"])
def test_server_side_apply_presents_the_field_manager(kubeapi: KubeApi, tmp_path: Path, manager: str) -> None:
    bench = ReleaseBench(kubeapi, tmp_path, field_manager=manager)
    bench.apply()
    installs = len(kubeapi.server.requests)
    bench.apply({"replicas": 2})
    for ref in (
        ("apps", "Deployment", NAMESPACE, f"{RELEASE}-web"),
        ("", "ConfigMap", NAMESPACE, f"{RELEASE}-settings"),
        ("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"),
    ):
        stored = kubeapi.server.get(ref)
        assert stored is not None
        applied = {m["manager"] for m in stored["metadata"]["managedFields"] if m["operation"] == "Apply"}
        assert applied == {manager}, ref
    patches = [(i, r) for i, r in enumerate(kubeapi.server.requests) if r.verb == "patch" and "/deployments/" in r.path]
    # server-side apply as the manager; Helm's install creates without forcing, upgrades force conflicts
    assert [(r.query["fieldManager"], r.query["force"], i > installs) for i, r in patches] == [
        (manager, "false", False), (manager, "true", True),
    ]  # fmt: skip


def _processes_holding(secret: bytes) -> list[str]:
    """Processes of this machine whose argv or environment hold `secret` (those we may read)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                if secret in (proc / part).read_bytes():
                    found.append(f"{proc.name}/{part}")
            except OSError:
                continue
    return found


def _files_holding(secret: bytes, roots: list[Path]) -> list[str]:
    """Files under `roots` holding `secret`; directories other tests remove meanwhile are skipped."""
    found = []
    for root in roots:
        for directory, _, files in os.walk(root):  # errors (a vanished directory) are ignored
            for name in files:
                path = Path(directory) / name
                try:
                    if not path.is_symlink() and secret in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    continue
    return found


def test_values_reach_helm_through_pipes_only(kubeapi: KubeApi, tmp_path: Path) -> None:
    """A value (say, decrypted from a valuesFrom Secret) is in no process's argv or environment
    and in no file while the worker and its post-renderer plugin run, and Helm still gets it."""
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    bench = ReleaseBench(kubeapi, tmp_path)
    scratch = [Path(tempfile.gettempdir()), Path("/dev/shm"), tmp_path]
    seen: list[str] = []
    scans: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            scans.append(time.monotonic())  # when the scan began: it overlaps the run if before `returned`
            seen.extend(_processes_holding(secret.encode()))
            seen.extend(_files_holding(secret.encode(), [p for p in scratch[0].glob("fluxform-*")] + scratch[1:]))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(ReleaseFailed):  # a Deployment that stays progressing keeps the worker alive ~3 s
            bench.apply({"greeting": secret, **{"podAnnotations": {HEALTH_ANNOTATION: "progressing"}}}, timeout="3s")
    finally:
        returned = time.monotonic()
        done.set()
        watcher.join()
    # scans ran while Helm worked; each is finished before join (how many fit depends on the load)
    assert seen == [] and len([t for t in scans if t < returned]) >= 1 and not watcher.is_alive()
    settings = kubeapi.server.get(("", "ConfigMap", NAMESPACE, f"{RELEASE}-settings"))
    assert settings is not None and settings["data"]["greeting"] == secret


def test_timeout_bounds_helms_wait_and_disable_wait_skips_it(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    stuck = {"podAnnotations": {HEALTH_ANNOTATION: "progressing"}}
    started = time.monotonic()
    with pytest.raises(ReleaseFailed) as caught:
        bench.apply(stuck, upgrade={"timeout": "2s"})
    assert 2 <= time.monotonic() - started < 15
    assert "context deadline exceeded" in caught.value.one_line() or "timed out" in caught.value.one_line()
    waitless = bench.apply({**stuck, "replicas": 2}, upgrade={"disableWait": True})  # Helm does not wait at all
    assert (waitless.action, waitless.status, waitless.revision_after) == ("upgrade", "deployed", 3)


def test_a_timeout_given_to_apply_overrides_the_helm_releases(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    rendered = bench.render(bench.spec({"podAnnotations": {HEALTH_ANNOTATION: "progressing"}}, timeout="10m"))
    started = time.monotonic()
    with bench.applier() as applier, pytest.raises(ReleaseFailed):
        applier.apply(rendered, timeout=2)  # --timeout over spec.timeout: 10m
    assert time.monotonic() - started < 30
    assert bench.history() == [(1, "deployed"), (2, "failed")]


def test_a_rollback_given_a_timeout_waits_no_longer_than_it(kubeapi: KubeApi, tmp_path: Path) -> None:
    """What is left of --rollback-timeout bounds Helm's wait of a rollback whose target never
    becomes healthy, below the HelmRelease's own (10m): the rollback fails in time."""
    bench = ReleaseBench(kubeapi, tmp_path)
    stuck = {"podAnnotations": {HEALTH_ANNOTATION: "progressing"}}
    bench.apply(stuck, install={"disableWait": True})  # revision 1: deployed, never healthy
    bench.apply()  # revision 2: healthy
    started = time.monotonic()
    with bench.applier() as applier, pytest.raises(ReleaseFailed) as caught:
        applier.rollback(bench.spec(timeout="10m"), 1, timeout=2)
    assert time.monotonic() - started < 30
    assert "rollback" in caught.value.one_line()
    assert bench.history()[-1] == (3, "failed")
