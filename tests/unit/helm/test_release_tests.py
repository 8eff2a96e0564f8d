"""spec.test: Helm's test hooks run after a successful install or upgrade, as helm-controller
runs them (timeout, filters, ignoreFailures); a failed test is a failed action, remediated
unless ignored. Real Helm SDK against the emulator, whose test pods succeed unless annotated
failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluxform.helm.release import ReleaseFailed
from tests.kubeapi import HEALTH_ANNOTATION, KubeApi
from tests.support.releases import NAMESPACE, RELEASE, ReleaseBench

TEST_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-%(name)s
  annotations:
    helm.sh/hook: test
    {{- if .Values.%(switch)s }}
    %(health)s: failed
    {{- end }}
spec:
  restartPolicy: Never
  containers:
    - name: check
      image: busybox:1.36
"""


def _bench(kubeapi: KubeApi, tmp_path: Path) -> ReleaseBench:
    bench = ReleaseBench(kubeapi, tmp_path)
    tests = bench.fleet / "charts" / RELEASE / "templates" / "tests"
    tests.mkdir(exist_ok=True)
    for name, switch in (("connection", "connectionFails"), ("smoke", "smokeFails")):
        (tests / f"{name}.yaml").write_text(TEST_POD % {"name": name, "switch": switch, "health": HEALTH_ANNOTATION})
    return bench


def _steps(outcome: Any) -> list[tuple[str, int | None, str, bool]]:
    return [(s.action, s.revision, s.status, s.failed) for s in outcome.steps]


def test_tests_run_after_install_and_upgrade(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = _bench(kubeapi, tmp_path)
    installed = bench.apply(test={"enable": True})
    assert _steps(installed) == [("install", 1, "deployed", False), ("test", 1, "deployed", False)]
    pod = kubeapi.server.get(("", "Pod", NAMESPACE, f"{RELEASE}-connection"))
    assert pod is not None and pod["status"]["phase"] == "Succeeded"  # Helm ran it
    upgraded = bench.apply({"replicas": 2}, test={"enable": True})
    assert _steps(upgraded) == [("upgrade", 2, "deployed", False), ("test", 2, "deployed", False)]
    untested = bench.apply({"replicas": 3})  # spec.test.enable false: helm-controller's default
    assert [s.action for s in untested.steps] == ["upgrade"]


def test_a_failed_test_fails_the_upgrade_and_is_remediated(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = _bench(kubeapi, tmp_path)
    bench.apply()
    with pytest.raises(ReleaseFailed) as caught:
        bench.apply({"smokeFails": True}, test={"enable": True}, upgrade={"remediation": {"retries": 1}})
    assert _steps(caught.value.outcome) == [
        ("upgrade", 2, "deployed", False), ("test", 2, "deployed", True), ("rollback", 3, "deployed", False),
        ("upgrade", 4, "deployed", False), ("test", 4, "deployed", True), ("rollback", 5, "deployed", False),
    ]  # fmt: skip
    assert "Helm upgrade of release team/shop failed" in caught.value.one_line()
    assert "shop-smoke" in caught.value.one_line()  # Helm's message names the failed test pod
    with pytest.raises(ReleaseFailed) as unremediated:  # retries 0: the failed test leaves it as it is
        bench.apply({"smokeFails": True}, test={"enable": True})
    assert [s.action for s in unremediated.value.outcome.steps] == ["upgrade", "test"]


def test_ignored_failures_and_filters(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = _bench(kubeapi, tmp_path)
    bench.apply()
    ignored = bench.apply({"smokeFails": True}, test={"enable": True, "ignoreFailures": True})
    assert _steps(ignored) == [("upgrade", 2, "deployed", False), ("test", 2, "deployed", True)]
    by_remediation = bench.apply(
        {"smokeFails": True, "replicas": 2},
        test={"enable": True},
        upgrade={"remediation": {"retries": 1, "ignoreTestFailures": True}},
    )
    assert [s.action for s in by_remediation.steps] == ["upgrade", "test"]
    filtered = bench.apply(
        {"smokeFails": True, "replicas": 3},
        test={"enable": True, "filters": [{"name": f"{RELEASE}-smoke", "exclude": True}]},
    )
    assert _steps(filtered) == [("upgrade", 4, "deployed", False), ("test", 4, "deployed", False)]
