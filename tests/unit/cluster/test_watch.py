"""Watches and waits against the emulator: events for one object, reconnection when the server
ends the stream or drops it, 410 answered by listing again, polling when watch is forbidden,
and a timeout that says what was awaited and what was last seen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.retry import RetryPolicy
from fluxform.cluster.watch import WaitTimeout, WatchExpired, wait_for, watch
from tests.kubeapi import HEALTH_ANNOTATION, KubeApi
from tests.support.kubeclient import configmap, deployment

CONFIGMAPS = KindMapping("", "v1", "ConfigMap", "configmaps", True)
DEPLOYMENTS = KindMapping("apps", "v1", "Deployment", "deployments", True)
SETTINGS = ObjectRef(CONFIGMAPS, "default", "settings")


def _connect(api: KubeApi) -> ClusterClient:
    return connect(ClusterOptions(kubeconfig=api.kubeconfig, retry=RetryPolicy(attempts=4, backoff=0.01)))


@pytest.fixture
def cluster(kubeapi: KubeApi) -> Iterator[ClusterClient]:
    with _connect(kubeapi) as client:
        yield client


def _later(seconds: float, action: Callable[[], Any]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def _set(api: KubeApi, v: str) -> Callable[[], Any]:
    """Someone else changing the ConfigMap `settings` to data {v: ...}."""
    return lambda: api.server.apply(configmap("settings", v=v), manager="someone", force=True)


def test_watch_follows_one_object_from_a_resource_version(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    start = kubeapi.server.create(configmap("settings", v="1"))["metadata"]["resourceVersion"]
    kubeapi.server.create(configmap("other"))
    _set(kubeapi, v="2")()
    kubeapi.server.delete(SETTINGS.object_id)
    deadline = time.monotonic() + 0.5
    events = watch(cluster, CONFIGMAPS, "default", name="settings", resource_version=start, deadline=deadline)
    seen = [(e.type, e.obj["metadata"]["name"], (e.obj.get("data") or {}).get("v")) for e in events]
    assert seen == [("MODIFIED", "settings", "2"), ("DELETED", "settings", "2")]
    watches = [r for r in kubeapi.server.requests if r.verb == "watch"]
    assert watches[0].query["fieldSelector"] == "metadata.name=settings"
    assert watches[0].query["allowWatchBookmarks"] == "true"


def test_watch_reopens_the_stream_from_the_last_version_seen(kubeapi_factory: Callable[..., KubeApi]) -> None:
    api = kubeapi_factory(watch_timeout=0.3)  # the server ends each stream after 0.3 s
    with _connect(api) as cluster:
        start = api.server.create(configmap("settings", v="0"))["metadata"]["resourceVersion"]
        timers = [_later(0.5 * i, _set(api, v=str(i))) for i in (1, 2, 3)]
        events = watch(cluster, CONFIGMAPS, "default", resource_version=start, deadline=time.monotonic() + 1.8)
        values = [e.obj["data"]["v"] for e in events if e.type == "MODIFIED"]
        for timer in timers:
            timer.join()
    assert values == ["1", "2", "3"]  # none lost between streams, none repeated
    reopened = [r.query.get("resourceVersion") for r in api.server.requests if r.verb == "watch"]
    assert len(reopened) >= 3 and reopened[0] == start and len(set(reopened)) >= 2


def test_watch_reconnects_after_a_dropped_connection(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    start = kubeapi.server.create(configmap("settings", v="1"))["metadata"]["resourceVersion"]
    _set(kubeapi, v="2")()
    kubeapi.server.inject_fault("/configmaps$", drop=True, times=1, watch=True)
    events = watch(cluster, CONFIGMAPS, "default", resource_version=start, deadline=time.monotonic() + 0.5)
    assert [e.obj["data"]["v"] for e in events] == ["2"]


def test_watch_from_a_version_too_old_is_expired(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    with pytest.raises(WatchExpired, match="410"):
        list(watch(cluster, CONFIGMAPS, "default", resource_version="5", deadline=time.monotonic() + 1))


def test_wait_for_a_change_made_meanwhile(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.create(configmap("settings", v="1"))
    timer = _later(0.3, _set(kubeapi, v="2"))
    found = wait_for(cluster, SETTINGS, lambda obj: obj is not None and obj["data"]["v"] == "2", timeout=5, what="v=2")
    timer.join()
    assert found is not None and found["data"] == {"v": "2"}
    assert kubeapi.server.request_count(verb="watch") == 1


def test_wait_for_deletion_and_for_a_state_already_there(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.create(configmap("settings"))
    assert wait_for(cluster, SETTINGS, lambda obj: obj is not None, timeout=1) is not None
    assert kubeapi.server.request_count(verb="watch") == 0  # the list answered it
    timer = _later(0.3, lambda: kubeapi.server.delete(SETTINGS.object_id))
    assert wait_for(cluster, SETTINGS, lambda obj: obj is None, timeout=5, what="deletion") is None
    timer.join()


def test_wait_for_lists_again_after_410(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.create(configmap("settings", v="1"))
    kubeapi.server.inject_fault("/configmaps$", status=410, times=1, watch=True)
    timer = _later(0.3, _set(kubeapi, v="2"))
    found = wait_for(cluster, SETTINGS, lambda obj: obj is not None and obj["data"]["v"] == "2", timeout=5)
    timer.join()
    assert found is not None and kubeapi.server.request_count(verb="list") == 2


def test_wait_for_polls_when_watch_is_forbidden(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.forbid(verb="watch", resource="configmaps")
    kubeapi.server.create(configmap("settings", v="1"))
    timer = _later(0.3, _set(kubeapi, v="2"))
    found = wait_for(
        cluster, SETTINGS, lambda obj: obj is not None and obj["data"]["v"] == "2", timeout=5, poll_interval=0.1
    )
    timer.join()
    assert found is not None and kubeapi.server.request_count(verb="get") >= 2


def test_wait_timeout_names_the_object_and_what_it_last_looked_like(kubeapi: KubeApi, cluster: ClusterClient) -> None:
    kubeapi.server.create(deployment("web", annotations={HEALTH_ANNOTATION: "failed"}))
    ref = ObjectRef(DEPLOYMENTS, "default", "web")

    def available(obj: dict[str, Any] | None) -> bool:
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)

    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        wait_for(cluster, ref, available, timeout=0.6, what="condition Available")
    assert 0.6 <= time.monotonic() - started < 3
    line = caught.value.one_line()
    assert line.startswith(
        "Deployment/default/web: timed out after 0.6s waiting for condition Available (context kubeapi): "
    )
    assert "Available=False (MinimumReplicasUnavailable), Progressing=False (ProgressDeadlineExceeded)" in line
