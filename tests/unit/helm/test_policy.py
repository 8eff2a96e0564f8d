"""The HelmRelease's action policy (helm/policy.py): helm-controller's defaults and overrides,
each pinned against the helm-controller code that sets them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fluxform.errors import RenderError
from fluxform.helm.policy import ReleasePolicy, Remediation
from fluxform.helm.spec import HelmReleaseSpec

BASE: dict[str, Any] = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {"name": "podinfo", "namespace": "apps"},
    "spec": {
        "interval": "5m",
        "chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "repo"}}},
    },
}


def policy_of(**spec: Any) -> ReleasePolicy:
    doc = copy.deepcopy(BASE)
    doc["spec"].update(spec)
    return HelmReleaseSpec.from_doc(doc).policy


def test_defaults_are_helm_controllers() -> None:
    policy = policy_of()
    install, upgrade, rollback, uninstall = policy.install, policy.upgrade, policy.rollback, policy.uninstall
    assert policy.max_history == 5  # GetMaxHistory
    assert {install.timeout, upgrade.timeout, rollback.timeout, uninstall.timeout} == {300.0}  # GetTimeout: 5m
    assert {install.wait, upgrade.wait, rollback.wait, uninstall.wait} == {"watcher"}  # Helm 4 defaults: kstatus
    assert install.wait_for_jobs and upgrade.wait_for_jobs and rollback.wait_for_jobs
    assert install.server_side_apply is True and upgrade.server_side_apply == "auto" == rollback.server_side_apply
    assert install.take_ownership and upgrade.take_ownership  # !disableTakeOwnership
    # crdPolicyOrDefault: Create for an empty policy on install *and* upgrade (the API comment says Skip)
    assert (install.crds, upgrade.crds) == ("Create", "Create")
    assert install.remediation == Remediation(retries=0, remediate_last_failure=False, strategy="uninstall")
    assert upgrade.remediation == Remediation(retries=0, remediate_last_failure=False, strategy="rollback")
    assert not install.retry and not upgrade.retry
    assert (uninstall.keep_history, uninstall.deletion_propagation) == (False, "background")
    assert not install.create_namespace


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"upgrade": {"remediation": {"retries": 2}}}, Remediation(2, True, "rollback")),  # last failure: retries > 0
        (
            {"upgrade": {"remediation": {"retries": 2, "remediateLastFailure": False}}},
            Remediation(2, False, "rollback"),
        ),
        ({"upgrade": {"remediation": {"retries": -1, "strategy": "uninstall"}}}, Remediation(-1, False, "uninstall")),
        ({"upgrade": {"remediation": {"remediateLastFailure": True}}}, Remediation(0, True, "rollback")),
    ],
    ids=["retries-remediate-last", "explicitly-not-last", "unbounded-uninstall", "last-only"],
)
def test_upgrade_remediation(spec: dict[str, Any], expected: Remediation) -> None:
    assert policy_of(**spec).upgrade.remediation == expected


def test_install_remediation_always_uninstalls_and_never_defaults_last_failure() -> None:
    remediation = policy_of(install={"remediation": {"retries": 3}}).install.remediation
    assert remediation == Remediation(3, False, "uninstall")  # InstallRemediation.MustRemediateLastFailure: false
    assert not remediation.exhausted(3) and remediation.exhausted(4)
    assert not Remediation(-1).exhausted(1000)


def test_timeouts_waits_and_strategies() -> None:
    policy = policy_of(
        timeout="90s",
        waitStrategy={"name": "legacy"},
        install={"timeout": "2m", "disableWait": True, "strategy": {"name": "RetryOnFailure", "retryInterval": "1m"}},
        upgrade={"disableWaitForJobs": True, "serverSideApply": "disabled", "force": True},
        rollback={"serverSideApply": "enabled"},
        uninstall={"disableWait": True, "keepHistory": True, "deletionPropagation": "foreground"},
        maxHistory=0,
    )
    assert (policy.install.timeout, policy.upgrade.timeout, policy.rollback.timeout) == (120.0, 90.0, 90.0)
    assert policy.install.wait == "hookOnly"  # getWaitStrategy: disableWait means hooks only
    assert (policy.upgrade.wait, policy.rollback.wait, policy.uninstall.wait) == ("legacy", "legacy", "hookOnly")
    assert policy.install.retry and policy.install.retry_interval == 60.0
    assert not policy.upgrade.wait_for_jobs and policy.upgrade.force
    assert (policy.upgrade.server_side_apply, policy.rollback.server_side_apply) == ("false", "true")  # toHelmSSAValue
    assert policy.uninstall.keep_history and policy.uninstall.deletion_propagation == "foreground"
    assert policy.max_history == 0


def test_create_namespace_needs_a_target_namespace() -> None:
    assert not policy_of(install={"createNamespace": True}).install.create_namespace
    assert policy_of(targetNamespace="web", install={"createNamespace": True}).install.create_namespace


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"timeout": "5 minutes"}, "timeout must be a Go duration"),
        ({"maxHistory": "5"}, "maxHistory must be an integer"),
        ({"upgrade": {"remediation": {"retries": True}}}, "retries must be an integer"),
        ({"upgrade": {"remediation": {"strategy": "reinstall"}}}, "strategy must be one of rollback, uninstall"),
        ({"install": {"serverSideApply": "yes"}}, "install.serverSideApply must be true or false"),
        ({"upgrade": {"serverSideApply": True}}, "serverSideApply must be one of enabled, disabled, auto"),
    ],
    ids=["duration", "max-history", "retries", "strategy", "install-ssa", "upgrade-ssa"],
)
def test_bad_fields_name_the_helm_release_and_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError) as caught:
        policy_of(**spec)
    assert message in caught.value.one_line() and "HelmRelease/apps/podinfo" in caught.value.one_line()
