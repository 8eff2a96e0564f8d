"""Object storage: one dict per object, a global resourceVersion counter, a watch event log.

Objects are keyed by (group, plural, namespace, name) so every served version of a
type shares them. Callers hold `store.lock` across read-modify-write sequences; the
`changed` condition wakes watchers after each write.

    with store.lock:
        stored = store.put(key, obj, "ADDED")   # stamps metadata.resourceVersion
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["Event", "Key", "Store"]

Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
_EVENT_LOG_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: Key
    obj: dict[str, Any]


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[Key, dict[str, Any]] = {}
        self._rv = 1000
        self._events: deque[Event] = deque(maxlen=_EVENT_LOG_SIZE)

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, key: Key) -> dict[str, Any] | None:
        """The stored object itself: copy before changing it."""
        return self._objects.get(key)

    def items(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Stored objects of one type, sorted by namespace then name (the order lists use)."""
        keys = sorted(
            k for k in self._objects if k[0] == group and k[1] == plural and (namespace is None or k[2] == namespace)
        )
        return [self._objects[k] for k in keys]

    def all_keys(self) -> list[Key]:
        return sorted(self._objects)

    def put(self, key: Key, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        """Store a copy of `obj` under a new resourceVersion; returns the stored object."""
        self._rv += 1
        stored = copy.deepcopy(obj)
        stored.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        self._objects[key] = stored
        self._record(key, event_type, stored)
        return stored

    def delete(self, key: Key) -> dict[str, Any] | None:
        obj = self._objects.pop(key, None)
        if obj is not None:
            self._rv += 1
            gone = copy.deepcopy(obj)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._record(key, "DELETED", gone)
        return obj

    def _record(self, key: Key, event_type: str, obj: dict[str, Any]) -> None:
        with self.lock:
            self._events.append(Event(self._rv, event_type, key, obj))
            self.changed.notify_all()

    def events_after(self, rv: int) -> list[Event]:
        return [e for e in self._events if e.rv > rv]

    def oldest_event_rv(self) -> int:
        return self._events[0].rv if self._events else self._rv

    def clear(self) -> None:
        with self.lock:
            self._objects.clear()
            self._events.clear()
            self.changed.notify_all()
