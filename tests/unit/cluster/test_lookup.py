"""Single GETs and selected LISTs: missing is None, refusals are one line naming the object."""

from __future__ import annotations

import pytest

from fluxform.cluster.client import ClusterOptions, connect
from fluxform.cluster.lookup import get_object, list_objects
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.errors import ClusterError
from tests.kubeapi import KubeApi
from tests.support.kubeclient import configmap

CONFIGMAPS = KindMapping("", "v1", "ConfigMap", "configmaps", True)


def test_get_returns_the_object_or_none(kubeapi: KubeApi) -> None:
    kubeapi.server.create(configmap("settings", k="v"))
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig)) as cluster:
        assert get_object(cluster, ObjectRef(CONFIGMAPS, "default", "settings")) is not None
        assert get_object(cluster, ObjectRef(CONFIGMAPS, "default", "absent")) is None
        assert get_object(cluster, ObjectRef(CONFIGMAPS, "no-such-namespace", "settings")) is None
        kubeapi.server.forbid(verb="get", resource="configmaps")
        with pytest.raises(ClusterError) as caught:
            get_object(cluster, ObjectRef(CONFIGMAPS, "default", "settings"))
    assert caught.value.one_line().startswith(
        "ConfigMap/default/settings: get failed (context kubeapi): HTTP 403 Forbidden: "
    )


def test_list_selects_by_label_across_pages(kubeapi: KubeApi) -> None:
    for index in range(5):
        kubeapi.server.create(configmap(f"part-{index}", labels={"role": "part"}))
    kubeapi.server.create(configmap("head", labels={"role": "head"}))
    options = ClusterOptions(kubeconfig=kubeapi.kubeconfig, list_page_size=2)
    with connect(options) as cluster:
        listing = list_objects(cluster, CONFIGMAPS, "default", label_selector="role=part")
    assert [item["metadata"]["name"] for item in listing.items] == [f"part-{i}" for i in range(5)]
    assert {item["kind"] for item in listing.items} == {"ConfigMap"} and int(listing.resource_version) > 0
    pages = [r for r in kubeapi.server.requests if r.verb == "list"]
    assert len(pages) == 3 and all(r.query["labelSelector"] == "role=part" for r in pages)
