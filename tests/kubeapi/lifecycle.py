"""What happens around storing and removing objects: CRD establishment and cascades.

A stored CRD is established at once (its types join discovery, its status says so);
removing a Namespace removes everything in it, removing a CRD removes its custom
resources and its types, and removing an owner removes its dependents (background
garbage collection) unless the delete asked to orphan them. A foreground delete first
marks the owner (deletionTimestamp + the `foregroundDeletion` finalizer, a MODIFIED event
watchers see), then removes the dependents, then the owner.

    remove_object(state, key)
"""

from __future__ import annotations

import copy
from typing import Any

from .state import State
from .store import Key

__all__ = ["crd_status", "on_stored", "remove_in_foreground", "remove_object"]

_CRD = ("apiextensions.k8s.io", "customresourcedefinitions")
FOREGROUND = "foregroundDeletion"


def crd_status(crd: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """Status the apiextensions controllers would write once names are accepted."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    stored = list(((old or {}).get("status") or {}).get("storedVersions") or [])
    for version in spec.get("versions") or []:
        if version.get("storage") and version.get("name") not in stored:
            stored.append(version.get("name"))
    transition = (((old or {}).get("status") or {}).get("conditions") or [{}])[0].get("lastTransitionTime")
    when = transition or crd["metadata"].get("creationTimestamp", "")
    conditions = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "lastTransitionTime": when,
            "reason": "NoConflicts",
            "message": "no conflicts found",
        },
        {
            "type": "Established",
            "status": "True",
            "lastTransitionTime": when,
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    return {"conditions": conditions, "acceptedNames": names, "storedVersions": stored}


def on_stored(state: State, key: Key, stored: dict[str, Any]) -> None:
    if key[:2] == _CRD:
        state.registry.add_crd(stored)


def _dependents(state: State, uid: str) -> list[Key]:
    found = []
    for key in state.store.all_keys():
        obj = state.store.get(key) or {}
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        if any(ref.get("uid") == uid for ref in refs):
            found.append(key)
    return found


def remove_object(state: State, key: Key, *, orphan: bool = False) -> dict[str, Any] | None:
    """Delete one object now, then whatever depended on it."""
    obj = state.store.delete(key)
    state.settled.pop(key, None)
    state.pending.discard(key)
    if obj is None:
        return None
    if key[:2] == ("", "namespaces"):
        for inner in [k for k in state.store.all_keys() if k[2] == key[3]]:
            remove_object(state, inner)
    if key[:2] == _CRD:
        spec = obj.get("spec") or {}
        plural = (spec.get("names") or {}).get("plural")
        for inner in [k for k in state.store.all_keys() if k[0] == spec.get("group") and k[1] == plural]:
            remove_object(state, inner)
        state.registry.remove_crd(key[3])
    if not orphan:
        for dependent in _dependents(state, str(obj["metadata"].get("uid", ""))):
            remove_object(state, dependent)
    return obj


def remove_in_foreground(state: State, key: Key, stamp: str) -> dict[str, Any]:
    """propagationPolicy=Foreground: what the API answers (the marked owner), with the
    dependents and then the owner gone by the time the answer is sent."""
    obj = state.store.get(key)
    assert obj is not None
    marked = copy.deepcopy(obj)
    meta = marked["metadata"]
    meta.update(deletionTimestamp=stamp, deletionGracePeriodSeconds=0)
    meta["finalizers"] = [*(meta.get("finalizers") or []), FOREGROUND]
    stored = state.store.put(key, marked, "MODIFIED")
    for dependent in _dependents(state, str(meta.get("uid", ""))):
        remove_object(state, dependent)
    remove_object(state, key, orphan=True)
    return stored
