"""One HelmRelease's Helm actions as helm-controller's reconcile loop would take them, collapsed
into one run (runs inside the Helm worker; flux-semantics 5.6, helm-controller
internal/reconcile atomic_release.go and internal/action).

* No release (or an uninstalled one): install; a failed install is remediated by uninstall
  and retried `install.remediation.retries` times.
* Otherwise: upgrade; a failed upgrade is remediated by rolling back to the previous
  successful revision (or by uninstall, then install, with `upgrade.remediation.strategy:
  uninstall`) and retried `upgrade.remediation.retries` times. Once retries are spent the
  last failure is remediated only with `remediateLastFailure` (for upgrades its default is
  `retries > 0`), else the release is left `failed`, as helm-controller leaves it Stalled.
* `strategy.name: RetryOnFailure`: no remediation; helm-controller retries after
  `retryInterval`, on a later reconcile, so this run stops at the first failure.
* Negative retries mean "unbounded" to Flux, which retries across reconciles forever; a run
  must end, so they are capped at `unbounded_attempts` attempts.

    program = ReleaseProgram(helm, spec, request, open_chart, post_render_options)
    result = program.apply()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from fluxform.helm.policy import Remediation, with_timeout
from fluxform.helm.sdk import HelmActionFailed, HelmReleases
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.helm.worker_protocol import Step, WorkerRequest, WorkerResult

if TYPE_CHECKING:
    import helm_python

__all__ = ["ChartOpener", "ReleaseProgram"]

ChartOpener = Callable[[], AbstractContextManager["helm_python.Chart"]]
_GOOD = ("deployed", "superseded")


class ReleaseProgram:
    def __init__(
        self,
        helm: HelmReleases,
        spec: HelmReleaseSpec,
        request: WorkerRequest,
        open_chart: ChartOpener,
        post_render: Mapping[str, Any],
        apply_methods: Mapping[int, str],
    ) -> None:
        self.helm, self.spec, self.request = helm, spec, request
        self.policy = spec.policy if request.timeout is None else with_timeout(spec.policy, request.timeout)
        self.name = request.release
        self.open_chart = open_chart
        self.post_render = dict(post_render)  # post_renderer, post_renderer_args, post_render_strategy
        self.apply_methods = dict(apply_methods)  # revision -> "ssa" | "csa", from the stored releases
        self.steps: list[Step] = []

    # ----- operations ---------------------------------------------------------------------

    def apply(self) -> WorkerResult:
        history = self.helm.history(self.name)
        before = history[-1] if history else None
        if before is not None and str(before["status"]).startswith("pending-"):
            return self._result(before, f"release is {before['status']} at revision {before['revision']}", "locked")
        if before is None or before["status"] == "uninstalled":
            return self._install_loop(before)
        return self._upgrade_loop(before)

    def rollback(self) -> WorkerResult:
        history = self.helm.history(self.name)
        before = history[-1] if history else None
        step = self._rollback(self.request.revision)
        return self._result(before, step.error, step.error_kind)

    def uninstall(self) -> WorkerResult:
        history = self.helm.history(self.name)
        before = history[-1] if history else None
        step = self._uninstall()
        return self._result(before, step.error, step.error_kind)

    # ----- loops ----------------------------------------------------------------------------

    def _install_loop(self, before: Mapping[str, Any] | None) -> WorkerResult:
        install = self.policy.install
        failures = 0
        while True:
            step = self._tested(self._install(), install.remediation)
            if not step.failed:
                return self._result(before)
            failures += 1
            if install.retry:
                return self._result(before, step.error, step.error_kind)
            exhausted = self._exhausted(install.remediation, failures)
            if exhausted and not install.remediation.remediate_last_failure:
                return self._result(before, step.error, step.error_kind)
            remedy = self._uninstall()
            if remedy.failed or exhausted:
                return self._result(before, step.error, step.error_kind)

    def _upgrade_loop(self, before: Mapping[str, Any]) -> WorkerResult:
        upgrade = self.policy.upgrade
        failures = 0
        installing = False
        while True:
            step = self._tested(self._install() if installing else self._upgrade(), upgrade.remediation)
            if not step.failed:
                return self._result(before)
            failures += 1
            if upgrade.retry:
                return self._result(before, step.error, step.error_kind)
            exhausted = self._exhausted(upgrade.remediation, failures)
            if exhausted and not upgrade.remediation.remediate_last_failure:
                return self._result(before, step.error, step.error_kind)
            if upgrade.remediation.strategy == "uninstall" or installing:
                remedy = self._uninstall()
                installing = True
            elif (rollback_to := _last_good(self._history_before(step.revision))) is None:
                message = f"{step.error}; no previous successful revision to roll back to"
                return self._result(before, message, "missing-rollback-target")
            else:  # the latest good revision before this attempt's (maxHistory may have pruned the first)
                remedy = self._rollback(rollback_to)
            if remedy.failed or exhausted:
                return self._result(before, step.error, step.error_kind)

    def _tested(self, step: Step, remediation: Remediation) -> Step:
        """helm-controller's Test action after a successful install or upgrade (spec.test):
        a failed test is the action's failure, remediated as one, unless test failures are
        ignored (remediation.ignoreTestFailures, else spec.test.ignoreFailures)."""
        test = self.policy.test
        if step.failed or not test.enabled:
            return step
        tested = self._test()
        ignored = test.ignore_failures if remediation.ignore_test_failures is None else remediation.ignore_test_failures
        return tested if tested.failed and not ignored else step

    def _exhausted(self, remediation: Remediation, failures: int) -> bool:
        if remediation.retries < 0:
            return failures >= self.request.unbounded_attempts
        return remediation.exhausted(failures)

    # ----- actions --------------------------------------------------------------------------

    def _install(self) -> Step:
        install = self.policy.install
        options = {
            "timeout_seconds": _seconds(install.timeout),
            "wait": install.wait,
            "wait_for_jobs": install.wait_for_jobs,
            "disable_hooks": install.disable_hooks,
            "disable_openapi_validation": install.disable_openapi_validation,
            "skip_schema_validation": install.skip_schema_validation,
            "replace": install.replace,
            "create_namespace": install.create_namespace,
            "take_ownership": install.take_ownership,
            "server_side_apply": install.server_side_apply,
            "force_conflicts": install.server_side_apply,  # helm-controller always forces under SSA
            "skip_crds": True,  # CRDs go first, per the install CRD policy (release.py)
            **self.post_render,
        }
        return self._run("install", lambda chart: self.helm.install(chart, self.name, self._values(), options))

    def _upgrade(self) -> Step:
        upgrade = self.policy.upgrade
        ssa = self._server_side(upgrade.server_side_apply, self._latest_revision())
        options = {
            "timeout_seconds": _seconds(upgrade.timeout),
            "wait": upgrade.wait,
            "wait_for_jobs": upgrade.wait_for_jobs,
            "disable_hooks": upgrade.disable_hooks,
            "disable_openapi_validation": upgrade.disable_openapi_validation,
            "skip_schema_validation": upgrade.skip_schema_validation,
            "cleanup_on_fail": upgrade.cleanup_on_fail,
            "max_history": self.policy.max_history,
            "reset_values": not upgrade.preserve_values,
            "reuse_values": upgrade.preserve_values,
            "take_ownership": upgrade.take_ownership,
            "server_side_apply": "true" if ssa else "false",
            "force_conflicts": ssa,
            "force_replace": upgrade.force and not ssa,
            **self.post_render,
        }
        return self._run("upgrade", lambda chart: self.helm.upgrade(chart, self.name, self._values(), options))

    def _rollback(self, revision: int) -> Step:
        rollback = self.policy.rollback
        ssa = self._server_side(rollback.server_side_apply, revision)
        options = {
            "version": revision,
            "timeout_seconds": _seconds(rollback.timeout),
            "wait": rollback.wait,
            "wait_for_jobs": rollback.wait_for_jobs,
            "disable_hooks": rollback.disable_hooks,
            "cleanup_on_fail": rollback.cleanup_on_fail,
            "max_history": self.policy.max_history,
            "server_side_apply": "true" if ssa else "false",
            "force_conflicts": ssa,
            "force_replace": rollback.force and not ssa,
        }
        return self._action("rollback", lambda: self.helm.rollback(self.name, options))

    def _uninstall(self) -> Step:
        uninstall = self.policy.uninstall
        options = {
            "timeout_seconds": _seconds(uninstall.timeout),
            "wait": uninstall.wait,
            "disable_hooks": uninstall.disable_hooks,
            "keep_history": uninstall.keep_history,
            "deletion_propagation": uninstall.deletion_propagation,
        }
        return self._action("uninstall", lambda: self.helm.uninstall(self.name, options))

    def _test(self) -> Step:
        test = self.policy.test
        options = {
            "timeout_seconds": _seconds(test.timeout),
            "include_names": list(test.include),
            "exclude_names": list(test.exclude),
        }
        return self._action("test", lambda: self.helm.test(self.name, options))

    def _run(self, action: str, call: Callable[[helm_python.Chart], object]) -> Step:
        def with_chart() -> None:
            with self.open_chart() as chart:  # a fresh load each time: Helm mutates a chart it renders
                call(chart)

        return self._action(action, with_chart)

    def _action(self, action: str, call: Callable[[], object]) -> Step:
        error, kind = "", ""
        try:
            call()
        except HelmActionFailed as exc:
            error, kind = exc.one_line(), exc.kind
        history = self.helm.history(self.name)
        latest = history[-1] if history else None
        step = Step(
            action,
            int(latest["revision"]) if latest else None,
            str(latest["status"]) if latest else "",
            error,
            kind,
        )
        self.steps.append(step)
        return step

    # ----- helpers --------------------------------------------------------------------------

    def _values(self) -> dict[str, Any]:
        return dict(self.request.values or {})

    def _history_before(self, revision: int | None) -> list[dict[str, Any]]:
        """The revisions older than the one a failed attempt left: an upgrade whose tests
        failed is itself `deployed`, and must not be its own rollback target."""
        history = self.helm.history(self.name)
        return [h for h in history if revision is None or int(h["revision"]) < revision]

    def _latest_revision(self) -> int | None:
        history = self.helm.history(self.name)
        return int(history[-1]["revision"]) if history else None

    def _server_side(self, mode: str, revision: int | None) -> bool:
        """ "auto" follows the apply method the release (upgrade) or the target (rollback) was
        applied with, as helm-controller resolves it; a revision of unknown method counts as
        server-side (Helm 4's default)."""
        if mode in ("true", "false"):
            return mode == "true"
        return self.apply_methods.get(revision or 0, "ssa") != "csa"

    def _result(self, before: Mapping[str, Any] | None, error: str = "", kind: str = "") -> WorkerResult:
        history = self.helm.history(self.name)
        latest = history[-1] if history else None
        return WorkerResult(
            revision_before=int(before["revision"]) if before else None,
            revision_after=int(latest["revision"]) if latest else None,
            status=str(latest["status"]) if latest else "",
            steps=tuple(self.steps),
            error=error,
            error_kind=kind,
        )


def _last_good(history: list[dict[str, Any]]) -> int | None:
    """The revision a failed upgrade rolls back to: the latest deployed or superseded one."""
    for entry in reversed(history):
        if entry["status"] in _GOOD:
            return int(entry["revision"])
    return None


def _seconds(timeout: float) -> int:
    return max(1, math.ceil(timeout))
