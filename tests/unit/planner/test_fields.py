"""Changed field paths of an update (deepdiff over masked manifests)."""

from __future__ import annotations

import pytest

from fluxform.planner.fields import changed_fields, field_path


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        (["spec", "replicas"], "spec.replicas"),
        (["spec", "containers", 0, "image"], "spec.containers[0].image"),
        (["metadata", "labels", "app.kubernetes.io/name"], 'metadata.labels["app.kubernetes.io/name"]'),
    ],
)
def test_field_path_format(parts: list[str | int], path: str) -> None:
    assert field_path(parts) == path


def test_added_removed_and_changed_values_are_listed_sorted() -> None:
    before = {"metadata": {"labels": {"a": "1", "gone": "x"}, "resourceVersion": "1"}, "spec": {"replicas": 1}}
    after = {"metadata": {"labels": {"a": "1", "new": "y"}, "resourceVersion": "9"}, "spec": {"replicas": 2}}
    assert changed_fields(before, after) == ["metadata.labels.gone", "metadata.labels.new", "spec.replicas"]


def test_list_item_change_and_no_change() -> None:
    before = {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}
    after = {"spec": {"containers": [{"name": "a", "image": "x:2"}]}}
    assert changed_fields(before, after) == ["spec.containers[0].image"]
    assert changed_fields(before, before) == []
    assert changed_fields(None, after) == []
