"""Watches (`?watch=true`): a stream of ADDED/MODIFIED/DELETED events, one JSON per line.

Without a resourceVersion (or with "0", or `sendInitialEvents=true`) the stream starts
with an ADDED event per current object; `sendInitialEvents=true` then sends the BOOKMARK
annotated `k8s.io/initial-events-end: "true"` that watch-list clients (Helm's waits) need.
With a resourceVersion it replays changes after it (410 Expired when too old). Live
changes follow until `timeoutSeconds`, capped by the emulator's watch timeout, or until
the server stops. A watch counts as a read, so simulated controllers settle what it
delivers and their status changes arrive as MODIFIED events.

    stream = open_watch(state, rtype, "default", params, stop_event, max_seconds=10)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from .catalog import ResourceType
from .errors import bad_request, gone
from .reads import select
from .selectors import matches_fields, matches_labels, parse_field_selector, parse_label_selector
from .simulation import settle_pending
from .state import State
from .store import Event

__all__ = ["open_watch"]


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _bookmark(rtype: ResourceType, rv: int) -> bytes:
    meta = {"resourceVersion": str(rv), "annotations": {"k8s.io/initial-events-end": "true"}}
    return _line("BOOKMARK", {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta})


def _timeout(params: Mapping[str, str], max_seconds: float) -> float:
    try:
        requested = float(params.get("timeoutSeconds") or max_seconds)
    except ValueError as exc:
        raise bad_request(f"invalid timeoutSeconds: {params.get('timeoutSeconds')}") from exc
    return max(0.0, min(requested, max_seconds))


def open_watch(
    state: State,
    rtype: ResourceType,
    namespace: str | None,
    params: Mapping[str, str],
    stop: threading.Event,
    max_seconds: float,
) -> Iterator[bytes]:
    """Validate the watch request now (errors become normal responses), then stream."""
    labels = parse_label_selector(params.get("labelSelector", ""))
    fields = parse_field_selector(params.get("fieldSelector", ""), rtype.kind)
    timeout = _timeout(params, max_seconds)
    send_initial = params.get("sendInitialEvents") == "true"
    rv_param = params.get("resourceVersion", "")
    scope = namespace if rtype.namespaced else None
    with state.store.lock:
        if send_initial or rv_param in ("", "0"):
            initial = [state.present(rtype, obj) for obj in select(state, rtype, scope, params)]
            start = state.store.resource_version
        else:
            if not rv_param.isdigit():
                raise bad_request(f"invalid resourceVersion: {rv_param}")
            start, initial = int(rv_param), []
            if start < state.store.oldest_event_rv() - 1:
                raise gone(rv_param, state.store.oldest_event_rv())

    def wanted(event: Event) -> bool:
        group, plural, ns, _ = event.key
        if (group, plural) != (rtype.group, rtype.plural) or (scope is not None and ns != scope):
            return False
        return matches_labels(labels, event.obj["metadata"].get("labels")) and matches_fields(fields, event.obj)

    def stream() -> Iterator[bytes]:
        for obj in initial:
            yield _line("ADDED", obj)
        if send_initial:
            yield _bookmark(rtype, start)
        deadline, last = time.monotonic() + timeout, start
        while not stop.is_set() and time.monotonic() < deadline:
            batch: list[bytes] = []
            with state.store.lock:
                events = state.store.events_after(last)
                if not events:
                    state.store.changed.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                    continue
                for event in events:
                    last = event.rv
                    if wanted(event):
                        batch.append(_line(event.type, state.present(rtype, event.obj)))
                settle_pending(state)
            yield from batch

    return stream()
