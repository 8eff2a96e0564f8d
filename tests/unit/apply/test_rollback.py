"""roll_back against the emulator: each write undone from its pre-image, newest first; a step
whose answer was lost is recognised as done on its re-read; the deadline leaves the rest
reported, never silently skipped; what the state keeps after an incomplete rollback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fluxform.apply.preimages import Touched
from fluxform.apply.rollback import RollbackReport, RollbackStep, restorable_content, restored_owners, roll_back
from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.lookup import get_object
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.write import apply, delete
from fluxform.objects import ObjectId
from fluxform.state.model import OwnerState, StateObject
from tests.kubeapi import KubeApi

OWNER = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")
CONFIGMAP = KindMapping("", "v1", "ConfigMap", "configmaps", True)


@pytest.fixture
def cluster(kubeapi: KubeApi) -> Iterator[ClusterClient]:
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig)) as client:
        yield client


def _cm(name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"k": value},
    }


def _ref(name: str) -> ObjectRef:
    return ObjectRef(CONFIGMAP, "default", name)


def _write(cluster: ClusterClient, name: str, value: str) -> dict[str, Any] | None:
    """Apply a ConfigMap as an apply would, returning its pre-image."""
    before = get_object(cluster, _ref(name))
    apply(cluster, CONFIGMAP, _cm(name, value), field_manager="fluxform", force=True).unwrap()
    return before


def _apply_then_fail(cluster: ClusterClient) -> list[Touched]:
    """changed: v1 -> v2; created: new; pruned: gone (each with the pre-image an apply keeps)."""
    _write(cluster, "changed", "v1")
    _write(cluster, "gone", "v1")
    writes = [Touched(OWNER, _ref("changed"), "update", _write(cluster, "changed", "v2"))]
    writes.append(Touched(OWNER, _ref("new"), "create", _write(cluster, "new", "v1")))
    pruned = get_object(cluster, _ref("gone"))
    delete(cluster, _ref("gone"))
    writes.append(Touched(OWNER, _ref("gone"), "delete", pruned))
    return writes


def test_each_write_is_undone_newest_first(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    writes = _apply_then_fail(cluster)
    before = {name: get_object(cluster, _ref(name)) for name in ("changed",)}
    assert before["changed"] is not None and before["changed"]["data"] == {"k": "v2"}

    report = roll_back(cluster, writes, None, timeout=30)

    assert [(str(s.id), s.action) for s in report.steps] == [
        ("ConfigMap/default/gone", "recreated"),
        ("ConfigMap/default/new", "deleted"),
        ("ConfigMap/default/changed", "restored"),
    ]
    assert report.complete
    changed = get_object(cluster, _ref("changed"))
    assert changed is not None and writes[0].pre_image is not None
    assert restorable_content(changed) == restorable_content(writes[0].pre_image)
    assert get_object(cluster, _ref("new")) is None
    gone = get_object(cluster, _ref("gone"))
    assert gone is not None and gone["data"] == {"k": "v1"}


def test_a_lost_answer_is_recognised_on_the_re_read(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    writes = _apply_then_fail(cluster)
    kubeapi.server.inject_fault(r"/configmaps/changed$", method="PUT", lose_reply=True, times=1)
    kubeapi.server.inject_fault(r"/configmaps$", method="POST", lose_reply=True, times=1)

    report = roll_back(cluster, writes, None, timeout=30)

    assert report.complete, [s.line() for s in report.steps]
    assert kubeapi.server.request_count(method="PUT", path="/configmaps/changed$") >= 2  # the lost one, repeated
    assert {str(s.id): s.action for s in report.steps}["ConfigMap/default/changed"] == "restored"
    changed = get_object(cluster, _ref("changed"))
    assert changed is not None and changed["data"] == {"k": "v1"}
    assert get_object(cluster, _ref("gone")) is not None


def test_steps_past_the_deadline_are_reported_not_restored(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    writes = _apply_then_fail(cluster)
    kubeapi.server.inject_fault(r"/configmaps", latency=0.3)

    report = roll_back(cluster, writes, None, timeout=0.2)

    assert not report.complete
    missing = report.not_restored()
    assert missing and all("--rollback-timeout of 0.2s reached" in s.reason for s in missing)
    assert report.summary_line().startswith("Rollback incomplete: ")


def test_objects_not_restored_stay_in_the_state() -> None:
    created = ObjectId("default", "new", "", "ConfigMap")
    kept = ObjectId("default", "kept", "", "ConfigMap")
    old = OwnerState(OWNER, True, "sha256:old", "t", "me", (StateObject(kept, "v1", "sha256:k", None),))
    failed = OwnerState(
        OWNER,
        True,
        "sha256:new",
        "t",
        "me",
        (StateObject(kept, "v1", "pending", None), StateObject(created, "v1", "pending", None)),
    )
    report = RollbackReport(
        (RollbackStep(OWNER, created, "not restored", "503"), RollbackStep(OWNER, kept, "restored"))
    )

    owners = restored_owners({OWNER: old}, {OWNER: failed}, report)

    assert [o.id for o in owners[OWNER].objects] == [kept, created]
    assert owners[OWNER].objects[0].digest == "sha256:k"  # restored: as before the apply
