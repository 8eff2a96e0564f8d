from __future__ import annotations

from typing import Any

import pytest

from tests.kubeapi.fieldpaths import (
    Schema,
    decode_fields,
    encode_fields,
    get_path,
    members,
    path_string,
    remove_path,
)

DEPLOYMENT = Schema("Deployment", builtin=True, skip_status=True)
CONTAINER = 'k:{"name":"app"}'
PORT = 'k:{"containerPort":80,"protocol":"TCP"}'


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "uid": "u", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "app", "image": "i", "ports": [{"containerPort": 80}]}]}},
        },
        "status": {"replicas": 1},
    }


def test_members_of_a_builtin_object() -> None:
    paths = set(members(_deployment(), DEPLOYMENT))
    containers = ("f:spec", "f:template", "f:spec", "f:containers")
    assert paths == {
        ("f:metadata", "f:labels", "f:app"),
        ("f:spec", "f:selector"),  # LabelSelector is atomic
        (*containers, CONTAINER),
        (*containers, CONTAINER, "f:name"),
        (*containers, CONTAINER, "f:image"),
        (*containers, CONTAINER, "f:ports", PORT),  # protocol key defaulted to TCP
        (*containers, CONTAINER, "f:ports", PORT, "f:containerPort"),
    }


def test_custom_resource_lists_are_atomic() -> None:
    obj = {"spec": {"containers": [{"name": "a"}]}, "metadata": {"finalizers": ["x"]}}
    assert set(members(obj, Schema("Widget", builtin=False))) == {
        ("f:spec", "f:containers"),
        ("f:metadata", "f:finalizers", 'v:"x"'),
    }


def test_update_sets_include_added_maps_but_not_struct_fields() -> None:
    paths = set(members({"spec": {"template": {"metadata": {"labels": {"a": "1"}}}}}, DEPLOYMENT, with_maps=True))
    assert ("f:spec", "f:template", "f:metadata", "f:labels") in paths
    assert ("f:spec",) not in paths and ("f:spec", "f:template") not in paths


def test_encode_decode_round_trip() -> None:
    paths = set(members(_deployment(), DEPLOYMENT))
    encoded = encode_fields(paths)
    container = encoded["f:spec"]["f:template"]["f:spec"]["f:containers"][CONTAINER]
    assert container["."] == {} and next(iter(container)) == "."
    assert decode_fields(encoded) == paths


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("f:spec", "f:replicas"), ".spec.replicas"),
        (("f:spec", "f:containers", CONTAINER, "f:image"), '.spec.containers[name="app"].image'),
        (("f:ports", PORT), '.ports[containerPort=80,protocol="TCP"]'),
        (("f:metadata", "f:finalizers", 'v:"x"'), '.metadata.finalizers[="x"]'),
    ],
)
def test_path_string(path: tuple[str, ...], text: str) -> None:
    assert path_string(path) == text


def test_get_and_remove_keyed_item_prunes_emptied_parents() -> None:
    obj = _deployment()
    containers = ("f:spec", "f:template", "f:spec", "f:containers")
    assert get_path(obj, (*containers, CONTAINER, "f:image")) == "i"
    assert remove_path(obj, (*containers, CONTAINER))
    assert obj["spec"] == {"selector": {"matchLabels": {"app": "web"}}}, "emptied template removed, selector kept"
    assert not remove_path(obj, (*containers, CONTAINER))
