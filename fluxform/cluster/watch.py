"""Following objects as they change: a watch stream with a deadline, and `wait_for` on top.

`watch` yields the events of one type (one namespace, optionally one name) after a
resourceVersion until a deadline, reconnecting from the last resourceVersion seen when the
server ends the stream (its `timeoutSeconds`) or the connection drops, as client-go's
reflector does. A resourceVersion the server no longer has (410) raises `WatchExpired`: the
caller lists again. A watch the credentials may not make (403, 405) raises `WatchRefused`.

`wait_for` lists the object, checks the predicate, then watches it until the predicate holds
or the timeout passes (`WaitTimeout`, one line naming the object and what was awaited); when
watching is refused it polls with GETs instead, so read-only RBAC without `watch` still works.

    crd = wait_for(cluster, ref, lambda obj: is_established(obj), timeout=30, what="Established")
    wait_for(cluster, ref, lambda obj: obj is None, timeout=60, what="deletion")
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from fluxform.cluster.client import ClusterClient, Stream
from fluxform.cluster.errors import ApiFailure, Unreachable
from fluxform.cluster.lookup import get_object, list_objects
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.errors import ClusterError

__all__ = ["WaitTimeout", "WatchEvent", "WatchExpired", "WatchRefused", "wait_for", "watch"]

#: Longest single watch request; the stream is reopened after it, as kubectl does.
MAX_WATCH_SECONDS = 300

Predicate = Callable[[dict[str, Any] | None], bool]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK
    obj: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str((self.obj.get("metadata") or {}).get("resourceVersion") or "")


class WatchExpired(ClusterError):
    """410: the resourceVersion to watch from is too old; list again."""


class WatchRefused(ClusterError):
    """403 or 405 on the watch itself: poll instead."""


class WaitTimeout(ClusterError):
    """The awaited state did not come before the deadline."""


def watch(
    cluster: ClusterClient,
    mapping: KindMapping,
    namespace: str = "",
    *,
    name: str = "",
    label_selector: str = "",
    resource_version: str = "",
    deadline: float,
) -> Iterator[WatchEvent]:
    """Events after `resource_version` ("" = from now, with the current objects as ADDED)
    until `deadline` (time.monotonic()). Bookmarks are asked for and passed on."""
    version = resource_version
    failures = 0
    while (remaining := deadline - time.monotonic()) > 0:
        seconds = max(1, min(MAX_WATCH_SECONDS, math.ceil(remaining)))
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(seconds))]
        query += [(k, v) for k, v in (("resourceVersion", version), ("labelSelector", label_selector)) if v]
        if name:
            query.append(("fieldSelector", f"metadata.name={name}"))
        what = f"watch {mapping.resource}" + (f" in namespace {namespace}" if namespace else "")
        try:
            # a read blocks no longer than the deadline: a quiet stream must not outlive it
            stream = cluster.stream(mapping.collection_path(namespace), query=query, read_timeout=remaining, what=what)
        except Unreachable:
            failures += 1
            if failures >= cluster.options.retry.attempts:
                raise
            time.sleep(min(cluster.options.retry.delay(attempt=failures), max(0.0, deadline - time.monotonic())))
            continue
        try:
            _check_opened(stream, what, cluster.context)
            for event in _events(stream, what, cluster.context):
                failures = 0
                version = event.resource_version or version
                yield event
                if time.monotonic() >= deadline:
                    return
        except (urllib3.exceptions.HTTPError, OSError):
            if time.monotonic() >= deadline:
                return  # the read gave up at the deadline: nothing more came
            failures += 1  # dropped mid-stream: reopen from the last resourceVersion seen
            if failures >= cluster.options.retry.attempts:
                raise ClusterError(f"{what} failed (context {cluster.context}): the connection kept dropping") from None
        finally:
            stream.close()


def _check_opened(stream: Stream, what: str, context: str) -> None:
    if stream.status == 200:
        return
    failure = ApiFailure.from_response(stream.status, stream.read())
    error = failure.error(what, context=context)
    if stream.status == 410:
        raise WatchExpired(error.summary, detail=error.detail)
    if stream.status in (403, 405):
        raise WatchRefused(error.summary, detail=error.detail, hint=error.hint)
    raise error


def _events(stream: Stream, what: str, context: str) -> Iterator[WatchEvent]:
    for line in stream.lines():
        try:
            doc = json.loads(line)
        except ValueError:
            raise ClusterError(f"{what} failed (context {context}): the server sent a line that is not JSON") from None
        kind, obj = str(doc.get("type") or ""), doc.get("object")
        if not isinstance(obj, dict):
            continue
        if kind == "ERROR":
            failure = ApiFailure.from_response(int(obj.get("code") or 500), json.dumps(obj))
            error = failure.error(what, context=context)
            if failure.status == 410:
                raise WatchExpired(error.summary, detail=error.detail)
            raise error
        yield WatchEvent(kind, obj)


def wait_for(
    cluster: ClusterClient,
    ref: ObjectRef,
    predicate: Predicate,
    *,
    timeout: float,
    what: str = "the awaited state",
    poll_interval: float = 1.0,
) -> dict[str, Any] | None:
    """Wait until `predicate(obj)` holds (obj None: the object does not exist); returns that
    state. WaitTimeout after `timeout` seconds, naming the object and `what`."""
    deadline = time.monotonic() + timeout
    try:
        return _watch_until(cluster, ref, predicate, deadline, what, timeout)
    except WatchRefused:
        return _poll_until(cluster, ref, predicate, deadline, what, timeout, poll_interval)


def _watch_until(
    cluster: ClusterClient, ref: ObjectRef, predicate: Predicate, deadline: float, what: str, timeout: float
) -> dict[str, Any] | None:
    while True:
        listing = list_objects(cluster, ref.mapping, ref.namespace, field_selector=f"metadata.name={ref.name}")
        current = listing.items[0] if listing.items else None
        if predicate(current):
            return current
        try:
            for event in watch(
                cluster,
                ref.mapping,
                ref.namespace,
                name=ref.name,
                resource_version=listing.resource_version,
                deadline=deadline,
            ):
                if event.type == "BOOKMARK":
                    continue
                current = None if event.type == "DELETED" else event.obj
                if predicate(current):
                    return current
        except WatchExpired:
            continue  # list again, watch from the new resourceVersion
        raise _timed_out(ref, what, timeout, current, cluster.context)


def _poll_until(
    cluster: ClusterClient,
    ref: ObjectRef,
    predicate: Predicate,
    deadline: float,
    what: str,
    timeout: float,
    interval: float,
) -> dict[str, Any] | None:
    while True:
        current = get_object(cluster, ref)
        if predicate(current):
            return current
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timed_out(ref, what, timeout, current, cluster.context)
        time.sleep(min(interval, remaining))


def _timed_out(ref: ObjectRef, what: str, timeout: float, last: Mapping[str, Any] | None, context: str) -> WaitTimeout:
    error = WaitTimeout(
        f"timed out after {timeout:g}s waiting for {what} (context {context})",
        detail=_last_seen(last),
    )
    error.with_context(subject=ref.object_id)
    return error


def _last_seen(obj: Mapping[str, Any] | None) -> str:
    """What the object looked like last, without its content (it may be a Secret)."""
    if obj is None:
        return "the object does not exist"
    conditions = (obj.get("status") or {}).get("conditions") or []
    shown = [
        f"{c.get('type')}={c.get('status')}" + (f" ({c.get('reason')})" if c.get("reason") else "")
        for c in conditions
        if isinstance(c, dict)
    ]
    version = (obj.get("metadata") or {}).get("resourceVersion", "")
    return f"last seen at resourceVersion {version}" + (f": {', '.join(shown)}" if shown else "")
