"""The client-side comparison (no dry-run): covers, dropped managed fields, prediction."""

from __future__ import annotations

from typing import Any

import pytest

from fluxform.cluster.clientside import covers, dropped_fields, predict
from tests.kubeapi import KubeApi


def _cm(labels: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    meta = {"name": "settings", "namespace": "default", "labels": labels}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        ({"spec": {"a": 1}}, {"spec": {"a": 1, "defaulted": 2}}, True),
        ({"spec": {"a": 1}}, {"spec": {"a": 2}}, False),
        ({"spec": {"a": 1}}, {"spec": {"a": True}}, False),
        ({"spec": {"c": [{"name": "x", "image": "i"}]}},
         {"spec": {"c": [{"name": "x", "image": "i", "pull": "A"}]}}, True),
        ({"spec": {"c": [{"name": "x"}, {"name": "y"}]}}, {"spec": {"c": [{"name": "y"}, {"name": "x"}]}}, True),
        ({"spec": {"c": [{"name": "x"}]}}, {"spec": {"c": [{"name": "x"}, {"name": "sidecar"}]}}, False),
        ({"spec": {"args": ["a", "b"]}}, {"spec": {"args": ["b", "a"]}}, False),
        ({"spec": {"empty": {}}}, {"spec": {}}, True),
        ({"spec": {"gone": None}}, {"spec": {}}, True),
        ({"spec": {"gone": None}}, {"spec": {"gone": 1}}, False),
        ({"metadata": {"name": "n", "labels": {"a": "1"}}},
         {"metadata": {"name": "other", "labels": {"a": "1", "b": "2"}}}, True),
        ({"status": {"x": 1}}, {"status": {"x": 2}}, True),
    ],
)  # fmt: skip
def test_covers(desired: dict[str, Any], live: dict[str, Any], expected: bool) -> None:
    assert covers(desired, live) is expected


def test_dropped_fields_come_from_the_appliers_managed_fields(kubeapi: KubeApi) -> None:
    live = kubeapi.server.apply(_cm({"a": "1", "b": "2"}, {"x": "1", "y": "2"}), manager="flux")
    kubeapi.server.apply(_cm({"c": "3"}, {"z": "3"}), manager="someone-else")
    live = kubeapi.server.get(("", "ConfigMap", "default", "settings")) or live
    desired = _cm({"a": "1"}, {"x": "1"})
    assert covers(desired, live)
    assert sorted(dropped_fields(live, desired, "flux")) == ["data.y", "metadata.labels.b"]
    assert sorted(dropped_fields(live, desired, "someone-else")) == ["data.z", "metadata.labels.c"]
    assert dropped_fields(live, desired, "nobody") == []
    after = predict(live, _cm({"a": "9"}, {"x": "1"}), "flux")
    assert after["metadata"]["labels"] == {"a": "9", "c": "3"}  # b dropped, c belongs to someone else
    assert after["data"] == {"x": "1", "z": "3"}
    assert "managedFields" not in after["metadata"] and "resourceVersion" not in after["metadata"]


def test_keyed_list_items_are_matched_by_key(kubeapi: KubeApi) -> None:
    containers: list[dict[str, Any]] = [
        {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]},
        {"name": "log", "image": "l:1"},
    ]
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": containers},
    }
    live = kubeapi.server.apply(pod, manager="flux")
    desired = {**pod, "spec": {"containers": [{**containers[0], "image": "a:2"}]}}
    assert not covers(desired, live)
    assert dropped_fields(live, desired, "flux") == ['spec.containers[{"name":"log"}]']
    after = predict(live, desired, "flux")
    assert [c["name"] for c in after["spec"]["containers"]] == ["app"]
    assert after["spec"]["containers"][0]["image"] == "a:2"
    assert after["spec"]["containers"][0]["terminationMessagePath"] == "/dev/termination-log"  # live default kept
