"""Writes: create (POST), replace (PUT), patch (merge, JSON, strategic, server-side apply),
status updates and deletes, each honouring dryRun=All.

    status, body = create(state, call)
"""

from __future__ import annotations

import copy
import random
from typing import Any

from .errors import ApiError, already_exists, bad_request, modified_conflict, not_found, unsupported_media_type
from .lifecycle import remove_in_foreground, remove_object
from .messages import APPLY_PATCH, ResourceCall
from .patches import json_patch, merge_patch, strategic_merge_patch
from .pipeline import commit, prepare
from .reads import select
from .ssa import ApplyRequest, read_entries, record_update, server_side_apply
from .state import State, now, schema_for

__all__ = ["apply", "create", "delete", "delete_collection", "patch", "replace"]

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _request(call: ResourceCall, manager: str, *, force: bool = False) -> ApplyRequest:
    status = call.subresource == "status"
    schema = schema_for(call.rtype, status_owned=status)
    return ApplyRequest(manager, force, schema, call.rtype.api_version, now(), "status" if status else "")


def _decode_object(call: ResourceCall) -> dict[str, Any]:
    """The request body as an object of the URL's type, namespace and name."""
    obj = call.request.decode_body()
    if not isinstance(obj, dict) or not isinstance(obj.setdefault("metadata", {}), dict):
        raise bad_request("the request body must be a Kubernetes object")
    rtype = call.rtype
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version and str(api_version).rpartition("/")[0] != rtype.group:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({rtype.api_version})"
        )
    if kind and kind != rtype.kind:
        raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})")
    meta = obj["metadata"]
    if rtype.namespaced and meta.get("namespace") and meta["namespace"] != call.namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    if call.name and meta.get("name") and meta["name"] != call.name:
        raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({call.name})")
    if call.name:
        meta["name"] = call.name
    return obj


def _require_namespace(state: State, call: ResourceCall) -> None:
    if call.rtype.namespaced and not state.namespace_exists(call.scope_namespace):
        raise not_found("namespaces", "", call.scope_namespace)


def _live(state: State, call: ResourceCall) -> dict[str, Any]:
    obj = state.store.get(state.key(call.rtype, call.namespace, call.name or ""))
    if obj is None:
        raise not_found(call.rtype.plural, call.rtype.group, call.name or "")
    return obj


def create(state: State, call: ResourceCall) -> tuple[int, dict[str, Any]]:
    obj = _decode_object(call)
    meta = obj["metadata"]
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_CHARS, k=5))
    if meta.get("resourceVersion"):
        raise bad_request("resourceVersion should not be set on objects to be created")
    _require_namespace(state, call)
    key = state.key(call.rtype, call.namespace, str(meta.get("name") or ""))
    if state.store.get(key) is not None:
        raise already_exists(call.rtype.plural, call.rtype.group, key[3])
    entries = read_entries(obj)
    new = prepare(state, call.rtype, call.scope_namespace, None, obj, call.dry_run)
    record_update(None, new, entries, _request(call, call.manager))
    return 201, state.present(call.rtype, commit(state, key, None, new, call.dry_run))


def _update(state: State, call: ResourceCall, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A PUT or non-apply PATCH result `new` of `old`; `new`'s managedFields are the base."""
    if new["metadata"].get("resourceVersion") not in (None, "", old["metadata"]["resourceVersion"]):
        raise modified_conflict(call.rtype.plural, call.rtype.group, old["metadata"]["name"])
    if call.subresource == "status":
        status_only = copy.deepcopy(old)
        status_only["status"] = new.get("status")
        new = status_only
    # An empty managedFields list means "unchanged" (as on a real server); [{}] resets them.
    entries = read_entries(new if new["metadata"].get("managedFields") else old)
    key = state.key(call.rtype, call.namespace, old["metadata"]["name"])
    if call.subresource != "status":
        new = prepare(state, call.rtype, call.scope_namespace, old, new, call.dry_run)
    record_update(old, new, entries, _request(call, call.manager))
    stored = commit(state, key, old, new, call.dry_run)
    if call.subresource == "status" and not call.dry_run:
        state.settled[key] = (stored["metadata"]["uid"], int(stored["metadata"].get("generation") or 0))
    return state.present(call.rtype, stored)


def replace(state: State, call: ResourceCall) -> dict[str, Any]:
    old = _live(state, call)
    return _update(state, call, old, _decode_object(call))


def patch(state: State, call: ResourceCall) -> tuple[int, dict[str, Any]]:
    content_type = call.request.content_type
    if content_type == APPLY_PATCH:
        return apply(state, call)
    if call.params.get("force"):
        raise bad_request("force may only be set for apply patches (application/apply-patch+yaml)")
    old = _live(state, call)
    body = call.request.decode_body()
    if content_type == "application/merge-patch+json":
        patched = merge_patch(copy.deepcopy(old), body)
    elif content_type == "application/json-patch+json":
        patched = json_patch(old, body)
    elif content_type == "application/strategic-merge-patch+json":
        if call.rtype.custom:
            raise unsupported_media_type(
                f"{content_type} (strategic merge patch is not supported for custom resources)"
            )
        patched = strategic_merge_patch(copy.deepcopy(old), body)
    else:
        raise unsupported_media_type(content_type or "no content type")
    if not isinstance(patched, dict) or (patched.get("metadata") or {}).get("name") != old["metadata"]["name"]:
        raise bad_request("a patch may not change the object's name or turn it into a non-object")
    return 200, _update(state, call, old, patched)


def apply(state: State, call: ResourceCall) -> tuple[int, dict[str, Any]]:
    """Server-side apply (`application/apply-patch+yaml`); creates the object if absent."""
    manager = call.params.get("fieldManager")
    if not manager:
        raise bad_request("PATCH, application/apply-patch+yaml: fieldManager is required for apply requests")
    config = _decode_object(call)
    if not config.get("apiVersion") or not config.get("kind"):
        raise bad_request("apiVersion and kind must be set in an applied object")
    if config["metadata"].get("managedFields"):
        raise bad_request("metadata.managedFields must be nil")
    key = state.key(call.rtype, call.namespace, call.name or "")
    old = state.store.get(key)
    wanted_rv = config["metadata"].get("resourceVersion")
    if wanted_rv and (old is None or wanted_rv != old["metadata"]["resourceVersion"]):
        raise modified_conflict(call.rtype.plural, call.rtype.group, call.name or "")
    if old is None:
        if call.subresource:
            raise not_found(call.rtype.plural, call.rtype.group, call.name or "")
        _require_namespace(state, call)
    force = call.params.get("force", "").lower() in ("true", "1")
    merged = server_side_apply(old, config, _request(call, manager, force=force))
    if call.subresource == "status" and old is not None:
        new = copy.deepcopy(old)
        new["status"] = merged.get("status")
        new["metadata"]["managedFields"] = merged["metadata"].get("managedFields")
        return 200, state.present(call.rtype, commit(state, key, old, new, call.dry_run))
    new = prepare(state, call.rtype, call.scope_namespace, old, merged, call.dry_run)
    stored = commit(state, key, old, new, call.dry_run)
    return (201 if old is None else 200), state.present(call.rtype, stored)


def _delete_options(call: ResourceCall) -> dict[str, Any]:
    """DeleteOptions from the body (JSON or protobuf) and the query, the query winning."""
    options: dict[str, Any] = {}
    if call.request.body.strip():
        decoded = call.request.decode_body()
        if not isinstance(decoded, dict) or decoded.get("kind", "DeleteOptions") != "DeleteOptions":
            raise bad_request("the body of a delete must be DeleteOptions")
        options = decoded
    if "propagationPolicy" in call.params:
        options["propagationPolicy"] = call.params["propagationPolicy"]
    return options


def _check_preconditions(call: ResourceCall, obj: dict[str, Any], options: dict[str, Any]) -> None:
    pre = options.get("preconditions") or {}
    meta = obj["metadata"]
    if pre.get("uid") and pre["uid"] != meta.get("uid"):
        message = f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}"
        raise ApiError(409, "Conflict", message, {"name": meta["name"], "kind": call.rtype.plural})
    if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
        raise modified_conflict(call.rtype.plural, call.rtype.group, meta["name"])


def _delete_one(state: State, call: ResourceCall, obj: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Delete (or start deleting, with finalizers) one stored object; returns the response body."""
    rtype, meta = call.rtype, obj["metadata"]
    key = state.key(rtype, meta.get("namespace"), meta["name"])
    dry_run = call.dry_run or "All" in (options.get("dryRun") or [])
    policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
    if policy not in ("Background", "Foreground", "Orphan"):
        raise bad_request(f'propagationPolicy: Unsupported value: "{policy}"')
    if meta.get("finalizers"):
        if meta.get("deletionTimestamp") or dry_run:
            return state.present(rtype, obj)
        marked = copy.deepcopy(obj)
        marked["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
        return state.present(rtype, state.store.put(key, marked, "MODIFIED"))
    if policy == "Foreground" and not dry_run and rtype.kind != "Namespace":
        return state.present(rtype, remove_in_foreground(state, key, now()))
    if not dry_run:
        remove_object(state, key, orphan=policy == "Orphan")
    if rtype.kind == "Namespace" and not rtype.group:
        gone = state.present(rtype, obj)
        gone["metadata"]["deletionTimestamp"] = now()
        gone["status"] = {"phase": "Terminating"}
        return gone
    details = {"name": meta["name"], "group": rtype.group, "kind": rtype.plural, "uid": meta.get("uid")}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def delete(state: State, call: ResourceCall) -> dict[str, Any]:
    obj = _live(state, call)
    options = _delete_options(call)
    _check_preconditions(call, obj, options)
    return _delete_one(state, call, obj, options)


def delete_collection(state: State, call: ResourceCall) -> dict[str, Any]:
    options = _delete_options(call)
    deleted = [state.present(call.rtype, obj) for obj in select(state, call.rtype, call.namespace, call.params)]
    for obj in deleted:
        _delete_one(state, call, obj, options)
    list_meta = {"resourceVersion": str(state.store.resource_version)}
    return {"kind": call.rtype.list_kind, "apiVersion": call.rtype.api_version, "metadata": list_meta, "items": deleted}
