"""The controllers of a healthy cluster, run lazily: on the first read after a change.

`settle` writes the status health.py decides (as kube-controller-manager, through the
status subresource) once per (uid, generation); for Deployments it also keeps the
owned ReplicaSet and the `deployment.kubernetes.io/revision` annotation. `write_status`
is the same status write for tests (`Emulator.set_status`); it marks the object settled
so the simulation does not overwrite what a test chose.

    settle(state, rtype, key)   # call with state.store.lock held
"""

from __future__ import annotations

import copy
from typing import Any

from .catalog import ResourceType, builtin_type
from .health import SIMULATED_KINDS, replica_set_for, simulated_status
from .pipeline import commit, prepare
from .ssa import ApplyRequest, read_entries, record_update
from .state import State, now, schema_for
from .store import Key

__all__ = ["CONTROLLER_MANAGER", "settle", "settle_pending", "write_status"]

CONTROLLER_MANAGER = "kube-controller-manager"
_REVISION = "deployment.kubernetes.io/revision"


def _request(rtype: ResourceType, manager: str, status: bool) -> ApplyRequest:
    schema = schema_for(rtype, status_owned=status)
    return ApplyRequest(manager, False, schema, rtype.api_version, now(), "status" if status else "")


def write_status(
    state: State, rtype: ResourceType, key: Key, status: dict[str, Any] | None, manager: str
) -> dict[str, Any]:
    """Replace the status of a stored object as `manager` would through /status."""
    old = state.store.get(key)
    if old is None:
        raise KeyError(key)
    new = copy.deepcopy(old)
    if status is None:
        new.pop("status", None)
    else:
        new["status"] = copy.deepcopy(status)
    record_update(old, new, read_entries(old), _request(rtype, manager, status=True))
    stored = commit(state, key, old, new, dry_run=False)
    state.settled[key] = _token(stored)
    return stored


def _token(obj: dict[str, Any]) -> tuple[str, int]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("uid", "")), int(meta.get("generation") or 0))


def settle_pending(state: State) -> None:
    """Run the simulated controllers over everything written since they last ran; called
    on every read, so a Deployment (and its ReplicaSet) is rolled out on the next read."""
    while state.pending:
        key = min(state.pending)
        state.pending.discard(key)
        obj = state.store.get(key)
        rtype = state.registry.by_kind(key[0], str(obj.get("kind", ""))) if obj else None
        if rtype is not None:
            settle(state, rtype, key)


def settle(state: State, rtype: ResourceType, key: Key) -> None:
    if (rtype.group, rtype.kind) not in SIMULATED_KINDS:
        return
    obj = state.store.get(key)
    if obj is None or state.settled.get(key) == _token(obj) or obj["metadata"].get("deletionTimestamp"):
        return
    state.settled[key] = _token(obj)
    status = simulated_status(rtype.group, obj, now())
    if status is None:
        return
    if (rtype.group, rtype.kind) == ("apps", "Deployment"):
        obj = _annotate_revision(state, rtype, key, obj, _sync_replica_sets(state, obj))
    write_status(state, rtype, key, status, CONTROLLER_MANAGER)


def _annotate_revision(
    state: State, rtype: ResourceType, key: Key, obj: dict[str, Any], revision: int
) -> dict[str, Any]:
    if (obj["metadata"].get("annotations") or {}).get(_REVISION) == str(revision):
        return obj
    new = copy.deepcopy(obj)
    new["metadata"].setdefault("annotations", {})[_REVISION] = str(revision)
    record_update(obj, new, read_entries(obj), _request(rtype, CONTROLLER_MANAGER, status=False))
    return commit(state, key, obj, new, dry_run=False)


def _owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def _revision_of(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(_REVISION, "0"))


def _sync_replica_sets(state: State, deployment: dict[str, Any]) -> int:
    """Create or update the ReplicaSet of the current template, scale older ones to zero;
    returns the deployment's revision."""
    rs_type = builtin_type("apps", "ReplicaSet")
    meta = deployment["metadata"]
    owned = [rs for rs in state.store.items("apps", "replicasets", meta["namespace"]) if _owned_by(rs, meta["uid"])]
    desired = replica_set_for(deployment)
    current = next((rs for rs in owned if rs["metadata"]["name"] == desired["metadata"]["name"]), None)
    revisions = [_revision_of(rs) for rs in owned]
    revision = _revision_of(current) if current else max(revisions, default=0) + 1
    desired["metadata"]["annotations"][_REVISION] = str(revision)
    for rs in owned:
        if rs is not current and (rs.get("spec") or {}).get("replicas"):
            scaled = copy.deepcopy(rs)
            scaled["spec"]["replicas"] = 0
            _write_replica_set(state, rs_type, rs, scaled)
    _write_replica_set(state, rs_type, current, desired)
    return revision


def _write_replica_set(state: State, rtype: ResourceType, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    namespace = new["metadata"]["namespace"]
    key = state.key(rtype, namespace, new["metadata"]["name"])
    prepared = prepare(state, rtype, namespace, old, new, dry_run=False)
    record_update(old, prepared, read_entries(old), _request(rtype, CONTROLLER_MANAGER, status=False))
    commit(state, key, old, prepared, dry_run=False)
    settle(state, rtype, key)
