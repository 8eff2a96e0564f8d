"""Flux's drift rule and what a plan shows of an object."""

from __future__ import annotations

from typing import Any

import pytest

from fluxform.cluster.normalize import comparable, drifted, semantic_equal


def _obj(**parts: Any) -> dict[str, Any]:
    meta = {"name": "x", "resourceVersion": "7", **parts.pop("meta", {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, **parts}


@pytest.mark.parametrize(
    ("live", "dry_run", "expected"),
    [
        (_obj(data={"a": "1"}), _obj(data={"a": "1"}), False),
        (_obj(data={"a": "1"}), _obj(data={"a": "2"}), True),
        (_obj(data={"a": "1"}), {**_obj(data={"a": "1"}), "metadata": {"name": "x"}}, True),  # would be created
        (_obj(meta={"labels": {}}), _obj(), False),  # nil and empty maps are equal
        (_obj(meta={"labels": {"a": "b"}}), _obj(), True),
        (_obj(meta={"annotations": {"a": "b"}}), _obj(meta={"annotations": {"a": "c"}}), True),
        (_obj(meta={"uid": "1", "generation": 3}), _obj(meta={"uid": "2", "managedFields": []}), False),
        (_obj(status={"phase": "a"}), _obj(status={"phase": "b"}), False),
        (_obj(spec={"n": 1}), _obj(spec={"n": 1.0}), True),  # Go tells int64 from float64
        (_obj(spec={"on": True}), _obj(spec={"on": 1}), True),
    ],
)
def test_drifted_follows_flux(live: dict[str, Any], dry_run: dict[str, Any], expected: bool) -> None:
    assert drifted(live, dry_run) is expected


def test_hpa_metrics_duplicated_by_old_servers_are_not_drift() -> None:
    metric = {"type": "Resource", "resource": {"name": "cpu"}}
    live: dict[str, Any] = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"resourceVersion": "1"},
        "spec": {"metrics": [metric]},
    }
    dry = {**live, "spec": {"metrics": [metric, metric, {"type": ""}]}}
    assert not drifted(live, dry)
    assert dry["spec"]["metrics"] == [metric, metric, {"type": ""}]  # the input is left alone


def test_comparable_drops_server_fields_and_status() -> None:
    live = _obj(
        meta={"uid": "u", "creationTimestamp": "t", "managedFields": [{}], "generation": 2, "labels": {}},
        status={"x": 1},
        data={"a": "1"},
    )
    assert comparable(live) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}}
    assert "status" in live and live["metadata"]["uid"] == "u"


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({"a": [1, "x"]}, {"a": [1, "x"]}, True),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ([1], [1, 1], False),
        (None, None, True),
    ],
)
def test_semantic_equal(a: Any, b: Any, equal: bool) -> None:
    assert semantic_equal(a, b) is equal
