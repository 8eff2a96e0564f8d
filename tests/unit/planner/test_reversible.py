"""Which changes no rollback undoes: said in the plan before apply, listed after a rollback."""

from __future__ import annotations

import pytest

from fluxform.objects import ObjectId
from fluxform.planner.reversible import irreversible_change, irreversible_write

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
