"""Which changes no rollback undoes: said in the plan before apply, listed after a rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.objects import ObjectId
from fluxform.planner.reversible import hooks_run, irreversible_change, irreversible_write
from tests.kubeapi import KubeApi
from tests.support.releases import RELEASE, ReleaseBench

PVC = ObjectId("demo", "data", "", "PersistentVolumeClaim")
NAMESPACE = ObjectId("", "demo", "", "Namespace")
CRD = ObjectId("", "widgets.example.com", "apiextensions.k8s.io", "CustomResourceDefinition")
JOB = ObjectId("demo", "migrate", "batch", "Job")
CONFIGMAP = ObjectId("demo", "settings", "", "ConfigMap")


@pytest.mark.parametrize(
    ("oid", "action", "irreversible"),
    [
        (PVC, "delete", True),
        (PVC, "update", False),
        (NAMESPACE, "delete", True),
        (NAMESPACE, "create", False),
        (CRD, "delete", True),
        (JOB, "create", True),
        (JOB, "replace", True),
        (JOB, "delete", False),
        (JOB, "update", False),
        (CONFIGMAP, "delete", False),
        (CONFIGMAP, "create", False),
    ],
    ids=lambda v: str(v),
)
def test_irreversible_changes(oid: ObjectId, action: str, irreversible: bool) -> None:
    assert bool(irreversible_change(oid, action)) is irreversible


def test_a_recreated_job_ran_again() -> None:
    assert irreversible_write(JOB, "recreate") == irreversible_change(JOB, "replace") != ""
    assert irreversible_write(PVC, "delete") == irreversible_change(PVC, "delete") != ""


HOOK = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
"""


def test_a_release_whose_hooks_run_is_not_reversible(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    (bench.fleet / "charts" / RELEASE / "templates" / "hook.yaml").write_text(HOOK)

    note = hooks_run(bench.render(bench.spec()))

    assert (
        note == "its Helm hooks run: Job/shop-migrate (pre-install,pre-upgrade); a rollback cannot undo what they did"
    )
    assert hooks_run(bench.render(bench.spec(install={"disableHooks": True}))) == ""  # Helm skips them
