"""How helm-controller runs a HelmRelease's Helm actions: the install/upgrade/rollback/
uninstall fields of the spec with helm-controller's defaults, read once into frozen values
the release applier and its worker trust (flux-semantics 5.5, 5.6).

Sources: helm-controller api/v2 (`Get*` defaulting methods) and internal/action (how each
action is configured: wait strategy, server-side apply, take-ownership, CRD policy).
Where the API docs and the code disagree the code wins: `upgrade.crds` defaults to Create
in `crdPolicyOrDefault`, not Skip as the field's doc comment says.

    policy = read_policy(reader, spec)     # called by HelmReleaseSpec.from_doc
    policy.upgrade.remediation.retries     # 0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fluxform.durations import parse_duration
from fluxform.errors import RenderError

__all__ = [
    "DEFAULT_MAX_HISTORY",
    "DEFAULT_TIMEOUT",
    "DriftIgnoreRule",
    "DriftPolicy",
    "InstallPolicy",
    "ReleasePolicy",
    "Remediation",
    "RollbackPolicy",
    "TestPolicy",
    "UninstallPolicy",
    "UpgradePolicy",
    "read_policy",
    "with_timeout",
]

#: spec.timeout when unset (helm-controller GetTimeout), seconds.
DEFAULT_TIMEOUT = 300.0
#: spec.maxHistory when unset (helm-controller GetMaxHistory); 0 keeps every revision.
DEFAULT_MAX_HISTORY = 5
#: strategy.retryInterval when unset (RetryOnFailure), seconds.
DEFAULT_RETRY_INTERVAL = 300.0
CRD_POLICIES = ("Skip", "Create", "CreateReplace")
#: Helm SDK wait strategies: kstatus watcher (Flux's default, its "poller"), Helm 3's
#: polling ("legacy"), or hooks only (disableWait).
WAIT_WATCHER, WAIT_LEGACY, WAIT_HOOKS_ONLY = "watcher", "legacy", "hookOnly"


@dataclass(frozen=True, slots=True)
class Remediation:
    """`install|upgrade.remediation`: what follows a failed action."""

    retries: int = 0  # further attempts after the first failure; negative: unbounded
    remediate_last_failure: bool = False  # remediate when no retries remain too
    strategy: str = "rollback"  # rollback | uninstall (an install is always remediated by uninstall)
    ignore_test_failures: bool | None = None  # remediation.ignoreTestFailures; None: spec.test.ignoreFailures

    def exhausted(self, failures: int) -> bool:
        """helm-controller RetriesExhausted: no attempt left after `failures` failures."""
        return self.retries >= 0 and failures > self.retries


@dataclass(frozen=True, slots=True)
class InstallPolicy:
    timeout: float = DEFAULT_TIMEOUT  # seconds
    wait: str = WAIT_WATCHER
    wait_for_jobs: bool = True
    disable_hooks: bool = False
    disable_openapi_validation: bool = False
    skip_schema_validation: bool = False
    replace: bool = False
    create_namespace: bool = False  # only with spec.targetNamespace
    take_ownership: bool = True  # !disableTakeOwnership
    server_side_apply: bool = True  # Helm 4 defaults (helm-controller without UseHelm3Defaults)
    crds: str = "Create"
    retry: bool = False  # strategy RetryOnFailure: no remediation, retried later as an upgrade
    retry_interval: float = DEFAULT_RETRY_INTERVAL
    remediation: Remediation = field(default_factory=lambda: Remediation(strategy="uninstall"))


@dataclass(frozen=True, slots=True)
class UpgradePolicy:
    timeout: float = DEFAULT_TIMEOUT
    wait: str = WAIT_WATCHER
    wait_for_jobs: bool = True
    disable_hooks: bool = False
    disable_openapi_validation: bool = False
    skip_schema_validation: bool = False
    cleanup_on_fail: bool = False
    force: bool = False  # replace strategy; ignored under server-side apply
    preserve_values: bool = False
    take_ownership: bool = True
    server_side_apply: str = "auto"  # "true" | "false" | "auto" (the last release's apply method)
    crds: str = "Create"
    retry: bool = False
    retry_interval: float = DEFAULT_RETRY_INTERVAL
    remediation: Remediation = field(default_factory=Remediation)
    chart_name_change: str = "Reinstall"  # Reinstall | InPlaceUpdate


@dataclass(frozen=True, slots=True)
class RollbackPolicy:
    timeout: float = DEFAULT_TIMEOUT
    wait: str = WAIT_WATCHER
    wait_for_jobs: bool = True
    disable_hooks: bool = False
    cleanup_on_fail: bool = False
    force: bool = False
    server_side_apply: str = "auto"


@dataclass(frozen=True, slots=True)
class UninstallPolicy:
    timeout: float = DEFAULT_TIMEOUT
    wait: str = WAIT_WATCHER
    disable_hooks: bool = False
    keep_history: bool = False
    deletion_propagation: str = "background"


@dataclass(frozen=True, slots=True)
class DriftIgnoreRule:
    """spec.driftDetection.ignore[]: JSON pointers left out of drift detection (and of its
    correction), on every release object or those `target` selects."""

    paths: tuple[str, ...]
    target: Mapping[str, str] | None = None  # group, version, kind, name, namespace (regexes), label/annotationSelector


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """spec.driftDetection: `enabled` detects and corrects, `warn` detects and reports,
    `disabled` (the default) does neither (helm-controller DriftDetection.GetMode)."""

    mode: str = "disabled"
    ignore: tuple[DriftIgnoreRule, ...] = ()


@dataclass(frozen=True, slots=True)
class TestPolicy:
    """spec.test: Helm's test hooks run after a successful install or upgrade."""

    __test__ = False  # not a pytest class, whatever its name

    enabled: bool = False
    timeout: float = DEFAULT_TIMEOUT  # spec.test.timeout, else spec.timeout
    ignore_failures: bool = False  # spec.test.ignoreFailures
    include: tuple[str, ...] = ()  # filters without exclude: only these tests run
    exclude: tuple[str, ...] = ()  # filters with exclude: true


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    install: InstallPolicy = field(default_factory=InstallPolicy)
    upgrade: UpgradePolicy = field(default_factory=UpgradePolicy)
    rollback: RollbackPolicy = field(default_factory=RollbackPolicy)
    uninstall: UninstallPolicy = field(default_factory=UninstallPolicy)
    max_history: int = DEFAULT_MAX_HISTORY  # revisions Helm keeps after upgrade and rollback; 0: all
    test: TestPolicy = field(default_factory=TestPolicy)
    drift: DriftPolicy = field(default_factory=DriftPolicy)

    @property
    def test_enabled(self) -> bool:
        return self.test.enabled


def with_timeout(policy: ReleasePolicy, seconds: float) -> ReleasePolicy:
    """Every action's timeout replaced (fluxform's --timeout over the HelmRelease's own)."""
    return dataclasses.replace(
        policy,
        install=dataclasses.replace(policy.install, timeout=seconds),
        upgrade=dataclasses.replace(policy.upgrade, timeout=seconds),
        rollback=dataclasses.replace(policy.rollback, timeout=seconds),
        uninstall=dataclasses.replace(policy.uninstall, timeout=seconds),
        test=dataclasses.replace(policy.test, timeout=seconds),
    )


class FieldReader(Protocol):
    """Typed field access raising RenderError that names the HelmRelease (spec.py's reader)."""

    def error(self, summary: str, detail: str = "") -> RenderError: ...
    def mapping(
        self, parent: Mapping[str, Any], key: str, *, required: bool = False, where: str = ""
    ) -> Mapping[str, Any]: ...
    def string(self, parent: Mapping[str, Any], key: str) -> str: ...
    def boolean(self, parent: Mapping[str, Any], key: str) -> bool: ...
    def choice(self, parent: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str: ...


def read_policy(reader: FieldReader, spec: Mapping[str, Any]) -> ReleasePolicy:
    """Every action's policy from `spec`, defaulted as helm-controller defaults it."""
    timeout = _duration(reader, spec, "timeout", DEFAULT_TIMEOUT)
    strategy = reader.mapping(spec, "waitStrategy")
    wait_name = reader.choice(strategy, "name", ("poller", "legacy"), "poller")
    default_wait = WAIT_LEGACY if wait_name == "legacy" else WAIT_WATCHER
    install = reader.mapping(spec, "install")
    upgrade = reader.mapping(spec, "upgrade")
    rollback = reader.mapping(spec, "rollback")
    uninstall = reader.mapping(spec, "uninstall")
    target_namespace = reader.string(spec, "targetNamespace")
    return ReleasePolicy(
        install=_install(reader, install, timeout, default_wait, bool(target_namespace)),
        upgrade=_upgrade(reader, upgrade, timeout, default_wait),
        rollback=RollbackPolicy(
            timeout=_duration(reader, rollback, "timeout", timeout),
            wait=_wait(reader, rollback, default_wait),
            wait_for_jobs=not reader.boolean(rollback, "disableWaitForJobs"),
            disable_hooks=reader.boolean(rollback, "disableHooks"),
            cleanup_on_fail=reader.boolean(rollback, "cleanupOnFail"),
            force=reader.boolean(rollback, "force"),
            server_side_apply=_ssa_mode(reader, rollback),
        ),
        uninstall=UninstallPolicy(
            timeout=_duration(reader, uninstall, "timeout", timeout),
            wait=_wait(reader, uninstall, default_wait),
            disable_hooks=reader.boolean(uninstall, "disableHooks"),
            keep_history=reader.boolean(uninstall, "keepHistory"),
            deletion_propagation=reader.choice(
                uninstall, "deletionPropagation", ("background", "foreground", "orphan"), "background"
            ),
        ),
        max_history=_integer(reader, spec, "maxHistory", DEFAULT_MAX_HISTORY),
        test=_test(reader, reader.mapping(spec, "test"), timeout),
        drift=_drift(reader, reader.mapping(spec, "driftDetection")),
    )


def _test(reader: FieldReader, test: Mapping[str, Any], timeout: float) -> TestPolicy:
    include: list[str] = []
    exclude: list[str] = []
    for item in _list(reader, test, "filters", "test.filters"):
        name = reader.string(item, "name")
        if not name:
            raise reader.error("test.filters[].name is required")
        (exclude if reader.boolean(item, "exclude") else include).append(name)
    return TestPolicy(
        enabled=reader.boolean(test, "enable"),
        timeout=_duration(reader, test, "timeout", timeout),
        ignore_failures=reader.boolean(test, "ignoreFailures"),
        include=tuple(include),
        exclude=tuple(exclude),
    )


def _drift(reader: FieldReader, drift: Mapping[str, Any]) -> DriftPolicy:
    rules = []
    for item in _list(reader, drift, "ignore", "driftDetection.ignore"):
        paths = item.get("paths")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise reader.error("driftDetection.ignore[].paths must be a list of JSON pointers", f"got {paths!r}")
        target = item.get("target")
        if target is not None and not (
            isinstance(target, Mapping) and all(isinstance(v, str) for v in target.values())
        ):
            raise reader.error("driftDetection.ignore[].target must map selector fields to strings")
        rules.append(DriftIgnoreRule(tuple(paths), dict(target) if target is not None else None))
    mode = reader.choice(drift, "mode", ("enabled", "warn", "disabled"), "disabled")
    return DriftPolicy(mode=mode, ignore=tuple(rules))


def _optional_boolean(reader: FieldReader, parent: Mapping[str, Any], key: str) -> bool | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, bool):
        raise reader.error(f"{key} must be true or false", f"got {value!r}")
    return value


def _list(reader: FieldReader, parent: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise reader.error(f"{where} must be a list of mappings")
    return value


def _install(
    reader: FieldReader, install: Mapping[str, Any], timeout: float, default_wait: str, targeted: bool
) -> InstallPolicy:
    remediation = reader.mapping(install, "remediation")
    retry, interval = _strategy(reader, install)
    ssa = install.get("serverSideApply", True)
    if not isinstance(ssa, bool):
        raise reader.error("install.serverSideApply must be true or false", f"got {ssa!r}")
    return InstallPolicy(
        timeout=_duration(reader, install, "timeout", timeout),
        wait=_wait(reader, install, default_wait),
        wait_for_jobs=not reader.boolean(install, "disableWaitForJobs"),
        disable_hooks=reader.boolean(install, "disableHooks"),
        disable_openapi_validation=reader.boolean(install, "disableOpenAPIValidation"),
        skip_schema_validation=reader.boolean(install, "disableSchemaValidation"),
        replace=reader.boolean(install, "replace"),
        create_namespace=targeted and reader.boolean(install, "createNamespace"),
        take_ownership=not reader.boolean(install, "disableTakeOwnership"),
        server_side_apply=ssa,
        crds=reader.choice(install, "crds", CRD_POLICIES, "Create"),
        retry=retry,
        retry_interval=interval,
        remediation=Remediation(
            retries=_integer(reader, remediation, "retries", 0),
            remediate_last_failure=reader.boolean(remediation, "remediateLastFailure"),
            strategy="uninstall",
            ignore_test_failures=_optional_boolean(reader, remediation, "ignoreTestFailures"),
        ),
    )


def _upgrade(reader: FieldReader, upgrade: Mapping[str, Any], timeout: float, default_wait: str) -> UpgradePolicy:
    remediation = reader.mapping(upgrade, "remediation")
    retries = _integer(reader, remediation, "retries", 0)
    last = remediation.get("remediateLastFailure")
    if last is not None and not isinstance(last, bool):
        raise reader.error("upgrade.remediation.remediateLastFailure must be true or false", f"got {last!r}")
    retry, interval = _strategy(reader, upgrade)
    return UpgradePolicy(
        timeout=_duration(reader, upgrade, "timeout", timeout),
        wait=_wait(reader, upgrade, default_wait),
        wait_for_jobs=not reader.boolean(upgrade, "disableWaitForJobs"),
        disable_hooks=reader.boolean(upgrade, "disableHooks"),
        disable_openapi_validation=reader.boolean(upgrade, "disableOpenAPIValidation"),
        skip_schema_validation=reader.boolean(upgrade, "disableSchemaValidation"),
        cleanup_on_fail=reader.boolean(upgrade, "cleanupOnFail"),
        force=reader.boolean(upgrade, "force"),
        preserve_values=reader.boolean(upgrade, "preserveValues"),
        take_ownership=not reader.boolean(upgrade, "disableTakeOwnership"),
        server_side_apply=_ssa_mode(reader, upgrade),
        crds=reader.choice(upgrade, "crds", CRD_POLICIES, "Create"),
        retry=retry,
        retry_interval=interval,
        remediation=Remediation(
            retries=retries,
            # UpgradeRemediation.MustRemediateLastFailure: defaults to retries > 0
            remediate_last_failure=retries > 0 if last is None else last,
            strategy=reader.choice(remediation, "strategy", ("rollback", "uninstall"), "rollback"),
            ignore_test_failures=_optional_boolean(reader, remediation, "ignoreTestFailures"),
        ),
        chart_name_change=reader.choice(
            upgrade, "chartNameChangeStrategy", ("Reinstall", "InPlaceUpdate"), "Reinstall"
        ),
    )


def _strategy(reader: FieldReader, action: Mapping[str, Any]) -> tuple[bool, float]:
    strategy = reader.mapping(action, "strategy")
    name = reader.choice(strategy, "name", ("RemediateOnFailure", "RetryOnFailure"), "RemediateOnFailure")
    return name == "RetryOnFailure", _duration(reader, strategy, "retryInterval", DEFAULT_RETRY_INTERVAL)


def _wait(reader: FieldReader, action: Mapping[str, Any], default_wait: str) -> str:
    """internal/action/wait.go getWaitStrategy: disableWait means hooks only."""
    return WAIT_HOOKS_ONLY if reader.boolean(action, "disableWait") else default_wait


def _ssa_mode(reader: FieldReader, action: Mapping[str, Any]) -> str:
    """The API's enabled|disabled|auto as the Helm SDK spells it (internal/action/ssa.go)."""
    mode = reader.choice(action, "serverSideApply", ("enabled", "disabled", "auto"), "auto")
    return {"enabled": "true", "disabled": "false"}.get(mode, mode)


def _duration(reader: FieldReader, parent: Mapping[str, Any], key: str, default: float) -> float:
    text = reader.string(parent, key)
    if not text:
        return default
    try:
        return parse_duration(text)
    except ValueError:
        raise reader.error(f"{key} must be a Go duration such as 5m or 1h30m", f"got {text!r}") from None


def _integer(reader: FieldReader, parent: Mapping[str, Any], key: str, default: int) -> int:
    value = parent.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise reader.error(f"{key} must be an integer", f"got {value!r}")
    return value
