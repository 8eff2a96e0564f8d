from __future__ import annotations

from typing import Any

import pytest

from tests.kubeapi.errors import ApiError
from tests.kubeapi.fieldpaths import Schema
from tests.kubeapi.ssa import ApplyRequest, read_entries, record_update, server_side_apply

SCHEMA = Schema("Deployment", builtin=True, skip_status=True)
REPLICAS = ("f:spec", "f:replicas")


def _req(manager: str, force: bool = False, now: str = "2024-01-01T00:00:00Z") -> ApplyRequest:
    return ApplyRequest(manager, force, SCHEMA, "apps/v1", now)


def _config(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}


def _owners(obj: dict[str, Any], path: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(e.manager, e.operation) for e in read_entries(obj) if path in e.fields}


def test_first_apply_owns_exactly_the_applied_fields() -> None:
    obj = server_side_apply(None, _config(replicas=2, paused=False), _req("flux"))
    (entry,) = read_entries(obj)
    assert (entry.manager, entry.operation) == ("flux", "Apply")
    assert entry.fields == {REPLICAS, ("f:spec", "f:paused")}
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:paused": {}, "f:replicas": {}}}


def test_same_value_from_another_manager_is_shared_not_a_conflict() -> None:
    obj = server_side_apply(None, _config(replicas=2), _req("flux"))
    obj = server_side_apply(obj, _config(replicas=2), _req("helm"))
    assert _owners(obj, REPLICAS) == {("flux", "Apply"), ("helm", "Apply")}


def test_different_value_owned_by_another_manager_conflicts() -> None:
    obj = server_side_apply(None, _config(replicas=2), _req("flux"))
    with pytest.raises(ApiError) as caught:
        server_side_apply(obj, _config(replicas=3), _req("helm"))
    error = caught.value
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == 'Apply failed with 1 conflict: conflict with "flux": .spec.replicas'
    assert error.details == {
        "causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "flux"', "field": ".spec.replicas"}]
    }


def test_conflict_with_an_update_manager_names_its_api_version() -> None:
    old = server_side_apply(None, _config(replicas=2), _req("flux"))
    new = {**old, "spec": {**old["spec"], "replicas": 5, "paused": True}}
    record_update(old, new, read_entries(old), _req("kubectl-edit"))
    with pytest.raises(ApiError) as caught:
        server_side_apply(new, _config(replicas=2, paused=False), _req("flux"))
    assert caught.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:\n- .spec.paused\n- .spec.replicas'
    )


def test_force_moves_ownership() -> None:
    obj = server_side_apply(None, _config(replicas=2), _req("flux"))
    obj = server_side_apply(obj, _config(replicas=3), _req("helm", force=True))
    assert obj["spec"]["replicas"] == 3
    assert _owners(obj, REPLICAS) == {("helm", "Apply")}
    assert [e.manager for e in read_entries(obj)] == ["helm"], "flux owned nothing else and is dropped"


@pytest.mark.parametrize(
    ("other_applies", "kept"),
    [(False, False), (True, True)],
    ids=["sole-owner-removed", "co-owned-kept"],
)
def test_field_dropped_from_config_is_removed_unless_co_owned(other_applies: bool, kept: bool) -> None:
    obj = server_side_apply(None, _config(replicas=2, paused=True), _req("flux"))
    if other_applies:
        obj = server_side_apply(obj, _config(paused=True), _req("helm"))
    obj = server_side_apply(obj, _config(replicas=2), _req("flux"))
    assert ("paused" in obj["spec"]) is kept


def test_keyed_list_items_merge_across_managers() -> None:
    def containers(*items: dict[str, Any]) -> dict[str, Any]:
        return _config(template={"spec": {"containers": list(items)}})

    obj = server_side_apply(None, containers({"name": "app", "image": "a:1"}), _req("flux"))
    obj = server_side_apply(obj, containers({"name": "sidecar", "image": "s:1"}), _req("injector"))
    obj = server_side_apply(obj, containers({"name": "app", "image": "a:2"}), _req("flux"))
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "a:2"},
        {"name": "sidecar", "image": "s:1"},
    ]
    obj = server_side_apply(obj, _config(replicas=1), _req("flux"))
    assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "sidecar", "image": "s:1"}]


def test_update_takes_changed_fields_from_appliers() -> None:
    old = server_side_apply(None, _config(replicas=2, paused=False), _req("flux"))
    new = {**old, "spec": {**old["spec"], "replicas": 4}}
    record_update(old, new, read_entries(old), _req("hpa"))
    assert _owners(new, REPLICAS) == {("hpa", "Update")}
    assert _owners(new, ("f:spec", "f:paused")) == {("flux", "Apply")}
    assert [e["operation"] for e in new["metadata"]["managedFields"]] == ["Apply", "Update"]


def test_update_removing_a_field_drops_its_ownership() -> None:
    old = server_side_apply(None, _config(replicas=2, paused=False), _req("flux"))
    new = {**old, "spec": {"replicas": 2}}
    record_update(old, new, read_entries(old), _req("kubectl-edit"))
    (entry,) = read_entries(new)
    assert entry.fields == {REPLICAS}


def test_nulls_in_an_applied_config_are_not_applied() -> None:
    obj = server_side_apply(None, _config(replicas=2, paused=None), _req("flux"))
    assert obj["spec"] == {"replicas": 2}
