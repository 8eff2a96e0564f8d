"""The steps every write shares: server-owned metadata, status handling, defaulting,
validation, generation, then the commit (no-op detection, dry run, storage, hooks).

Managed fields are recorded by the caller between `prepare` and `commit`, because
Apply and Update record them differently.

    new = prepare(state, rtype, namespace, old, new, dry_run=False)
    record_update(old, new, entries, request)
    stored = commit(state, rtype, key, old, new, dry_run=False)
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from .catalog import ResourceType
from .defaults import apply_defaults, initial_status
from .lifecycle import crd_status, on_stored, remove_object
from .state import State, now
from .store import Key
from .validation import validate

__all__ = ["commit", "prepare", "unchanged"]

_SERVER_FIELDS = (
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "resourceVersion",
)


def _stamp_new(rtype: ResourceType, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    for name in _SERVER_FIELDS:
        meta.pop(name, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    if rtype.generation:
        meta["generation"] = 1
    if rtype.status:
        if rtype.custom:
            obj.pop("status", None)
        else:
            obj["status"] = initial_status(rtype.group, rtype.kind)


def _carry_server_fields(rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any]) -> None:
    meta, old_meta = obj["metadata"], old["metadata"]
    for name in _SERVER_FIELDS:
        if name in old_meta:
            meta[name] = old_meta[name]
        else:
            meta.pop(name, None)
    if rtype.status:
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)


def _content(obj: dict[str, Any], with_status: bool) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "metadata" and (with_status or k != "status")}


_OMITTED_WHEN_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences")


def _drop_empty_metadata(value: Any, nested: bool) -> None:
    """ObjectMeta's maps and lists are `omitempty`: a real server never stores `labels: {}`.
    Nested metadata (pod templates) is typed only in built-in kinds; custom resources keep it."""
    if isinstance(value, list):
        for item in value:
            _drop_empty_metadata(item, nested)
        return
    if not isinstance(value, dict):
        return
    for key, inner in value.items():
        if key == "metadata" and isinstance(inner, dict):
            for name in _OMITTED_WHEN_EMPTY:
                if inner.get(name) in ({}, []):
                    del inner[name]
        if nested:
            _drop_empty_metadata(inner, nested)


def prepare(
    state: State, rtype: ResourceType, namespace: str, old: dict[str, Any] | None, new: dict[str, Any], dry_run: bool
) -> dict[str, Any]:
    """Turn a client's object into what the server would store (mutates and returns `new`)."""
    new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
    meta = new.setdefault("metadata", {})
    if rtype.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    _drop_empty_metadata(new, nested=not rtype.custom)
    if old is None:
        _stamp_new(rtype, new)
    else:
        _carry_server_fields(rtype, new, old)
    apply_defaults(rtype.group, new, old, state.allocator, dry_run)
    validate(rtype.group, new, old)
    if old is not None and rtype.generation and _content(old, not rtype.status) != _content(new, not rtype.status):
        meta["generation"] = int(old["metadata"].get("generation") or 1) + 1
    if (rtype.group, rtype.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        new["status"] = crd_status(new, old)
    return new


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].pop("resourceVersion", None)
    for entry in out["metadata"].get("managedFields") or []:
        entry.pop("time", None)
    return out


def unchanged(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """A write that changes nothing but managedFields timestamps is not stored (no new resourceVersion)."""
    return _comparable(old) == _comparable(new)


def commit(state: State, key: Key, old: dict[str, Any] | None, new: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """Store `new` (unless a dry run or a no-op) and return what the client gets back."""
    if old is not None and unchanged(old, new):
        return old
    if dry_run:
        if old is None:
            new["metadata"].pop("resourceVersion", None)
        return new
    meta = new["metadata"]
    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
        remove_object(state, key)
        return new
    stored = state.store.put(key, new, "ADDED" if old is None else "MODIFIED")
    state.pending.add(key)
    on_stored(state, key, stored)
    return stored
