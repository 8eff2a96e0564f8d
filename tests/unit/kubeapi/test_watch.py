"""Watches: initial events, bookmarks, live changes, and simulated status arriving as events."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client

from tests.kubeapi import KubeApi
from tests.support.kubeclient import api_client, configmap, deployment, meta, new_watch, raw, v1_configmap


def _stream(api: KubeApi, path: str) -> Iterator[dict[str, Any]]:
    """Events of a raw watch request, one decoded JSON line at a time."""
    address = urlsplit(api.url)
    conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    try:
        while line := response.readline():
            yield json.loads(line)
    finally:
        conn.close()


def test_client_watch_gets_current_then_new_objects(kubeapi: KubeApi) -> None:
    core = client.CoreV1Api(api_client(kubeapi))
    core.create_namespaced_config_map("default", v1_configmap("a"))
    seen: list[tuple[str, str | None]] = []
    watcher = new_watch()
    for event in watcher.stream(core.list_namespaced_config_map, "default", timeout_seconds=5):
        seen.append((event["type"], meta(event["object"]).name))
        if len(seen) == 1:
            core.create_namespaced_config_map("default", v1_configmap("b"))
        if len(seen) == 2:
            watcher.stop()
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


def test_send_initial_events_ends_with_a_bookmark(kubeapi_factory: Callable[..., KubeApi]) -> None:
    kubeapi = kubeapi_factory(watch_timeout=0.2)  # ends the stream soon after the last event
    kubeapi.server.create(configmap("a"))
    kubeapi.server.create(configmap("b"))
    query = (
        "watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    )
    events = list(_stream(kubeapi, f"/api/v1/namespaces/default/configmaps?{query}"))
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    bookmark = events[-1]["object"]
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bookmark["kind"] == "ConfigMap" and int(bookmark["metadata"]["resourceVersion"]) > 0


def test_watch_from_a_resource_version_replays_later_changes(kubeapi_factory: Callable[..., KubeApi]) -> None:
    kubeapi = kubeapi_factory(watch_timeout=0.2)  # ends the stream soon after the last event
    kubeapi.server.create(configmap("a", k="1"))
    _, listed = raw(kubeapi, "GET", "/api/v1/namespaces/default/configmaps")
    since = listed["metadata"]["resourceVersion"]
    raw(
        kubeapi,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        {"data": {"k": "2"}},
        "application/merge-patch+json",
    )
    raw(kubeapi, "DELETE", "/api/v1/namespaces/default/configmaps/a")
    path = f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={since}&timeoutSeconds=1"
    events = [(e["type"], e["object"]["data"]["k"]) for e in _stream(kubeapi, path)]
    assert events == [("MODIFIED", "2"), ("DELETED", "2")]


def test_watch_filters_by_field_selector(kubeapi_factory: Callable[..., KubeApi]) -> None:
    kubeapi = kubeapi_factory(watch_timeout=0.2)  # ends the stream soon after the last event
    kubeapi.server.create(configmap("a"))
    kubeapi.server.create(configmap("b"))
    path = "/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Db&timeoutSeconds=1"
    assert [e["object"]["metadata"]["name"] for e in _stream(kubeapi, path)] == ["b"]


def test_deployment_becomes_available_through_a_watch(kubeapi: KubeApi) -> None:
    _, listed = raw(kubeapi, "GET", "/apis/apps/v1/namespaces/default/deployments")
    since = listed["metadata"]["resourceVersion"]
    events = _stream(kubeapi, f"/apis/apps/v1/namespaces/default/deployments?watch=true&resourceVersion={since}")
    threading.Timer(0.05, lambda: kubeapi.server.create(deployment("web"))).start()
    for event in events:
        conditions = {c["type"]: c["status"] for c in event["object"]["status"].get("conditions", [])}
        if conditions.get("Available") == "True":
            assert event["type"] == "MODIFIED"
            break
    else:
        raise AssertionError("the watch ended before the Deployment became available")


def test_stopping_the_server_ends_open_watches(kubeapi_factory: Callable[..., KubeApi]) -> None:
    api = kubeapi_factory(watch_timeout=300.0)
    finished = threading.Event()

    def consume() -> None:
        for _ in _stream(api, "/api/v1/namespaces?watch=true"):
            pass
        finished.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    while api.server.request_count(verb="watch") == 0:
        finished.wait(0.01)
    api.stop()
    thread.join(timeout=10)
    assert finished.is_set()
