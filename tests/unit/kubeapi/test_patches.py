from __future__ import annotations

from typing import Any

import pytest

from tests.kubeapi.errors import ApiError
from tests.kubeapi.patches import json_patch, merge_patch, strategic_merge_patch


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": None, "z": 3}}, {"a": {"x": 1, "z": 3}}),
        ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
        ({"a": 1}, {"b": {"c": None}}, {"a": 1, "b": {}}),
    ],
    ids=["replace", "delete", "nested", "list-replaced", "null-inside-new-object"],
)
def test_merge_patch_follows_rfc7386(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_json_patch_operations() -> None:
    doc: dict[str, Any] = {"spec": {"replicas": 1, "list": ["a", "b"]}, "metadata": {"labels": {"x": "1"}}}
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/spec/list/-", "value": "c"},
        {"op": "remove", "path": "/spec/list/0"},
        {"op": "add", "path": "/metadata/labels/a~1b", "value": "2"},
        {"op": "copy", "from": "/spec/replicas", "path": "/spec/copied"},
        {"op": "move", "from": "/metadata/labels/x", "path": "/metadata/labels/y"},
        {"op": "test", "path": "/spec/replicas", "value": 3},
    ]
    assert json_patch(doc, ops) == {
        "spec": {"replicas": 3, "list": ["b", "c"], "copied": 3},
        "metadata": {"labels": {"a/b": "2", "y": "1"}},
    }
    assert doc["spec"]["replicas"] == 1, "the target is not modified"


@pytest.mark.parametrize(
    "ops",
    [[{"op": "test", "path": "/a", "value": 2}], [{"op": "remove", "path": "/missing"}]],
    ids=["failed-test", "missing-path"],
)
def test_json_patch_errors_are_422(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(ApiError) as caught:
        json_patch({"a": 1}, ops)
    assert caught.value.code == 422


def test_strategic_merge_merges_containers_by_name_and_honours_delete() -> None:
    live = {
        "containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "sidecar", "image": "s:1"},
        ]
    }
    patch = {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [
            {"name": "app", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
            {"name": "sidecar", "$patch": "delete"},
        ],
    }
    assert strategic_merge_patch(live, patch) == {
        "containers": [
            {"name": "app", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}
        ]
    }


def test_strategic_merge_replaces_unkeyed_lists() -> None:
    assert strategic_merge_patch({"args": ["a", "b"]}, {"args": ["c"]}) == {"args": ["c"]}
