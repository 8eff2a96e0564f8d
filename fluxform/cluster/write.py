"""The write verbs: server-side apply, create, replace, merge patch, delete.

Each returns a `Written` saying what the API did, or why it refused (an `ApiFailure` whose
`refusal` is conflict, modified, already-exists, immutable, invalid, namespace-missing,
forbidden, ...); `unwrap()` turns a refusal into one ClusterError line naming the verb and
the object. Failures no caller can act on (unreachable server, 401, 5xx after retries)
raise at once.

Calls are repeated on dropped connections, 429 and 5xx (cluster/retry.py); a repeated call
may find its first send already processed, and each verb settles that here, as Flux's and
kubectl's clients must:
- apply (server-side apply) and merge patch are idempotent: the repeat's answer stands;
- create answered 409 AlreadyExists after a repeat re-reads the object and reports it
  (`retried`, not `created`): never a second object, never a false failure;
- delete answered 404 after a repeat is done (`gone`);
- replace answered 409 after a repeat stays a refusal marked `retried`: only the caller
  can tell its own write from someone else's (the state backend compares content).

    applied = apply(cluster, mapping, manifest, field_manager="kustomize-controller")
    if applied.failure and applied.failure.refusal is Refusal.IMMUTABLE: ...
    live = applied.unwrap()
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fluxform.cluster.client import ClusterClient, Reply
from fluxform.cluster.errors import ApiFailure, Refusal
from fluxform.cluster.lookup import get_object
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.errors import ClusterError

__all__ = [
    "APPLY_PATCH",
    "MERGE_PATCH",
    "Propagation",
    "Written",
    "apply",
    "apply_payload",
    "create",
    "delete",
    "merge_patch",
    "replace",
]

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


class Propagation(StrEnum):
    """DeleteOptions.propagationPolicy: what happens to the object's dependents."""

    BACKGROUND = "Background"  # delete now, the garbage collector removes dependents after
    FOREGROUND = "Foreground"  # dependents first; the object stays (deletionTimestamp) until then
    ORPHAN = "Orphan"  # dependents are left behind


@dataclass(frozen=True, slots=True)
class Written:
    """What one write did. `obj` is the API's answer: the object as stored (or as it would be,
    for a dry run); for a delete, the object still finishing (finalizers, Foreground) or None."""

    verb: str
    ref: ObjectRef
    context: str
    obj: dict[str, Any] | None = None
    failure: ApiFailure | None = None
    created: bool = False  # HTTP 201: this write made the object
    retried: bool = False  # sent more than once: an earlier send may have been processed
    gone: bool = False  # delete: the object was not there (already deleted)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def error(self) -> ClusterError:
        """The refusal as one line: `Deployment/web/frontend: apply failed (context prod): HTTP 409 ...`."""
        assert self.failure is not None
        error = self.failure.error(self.verb, context=self.context)
        error.with_context(subject=self.ref.object_id)
        return error

    def unwrap(self) -> dict[str, Any]:
        """The answered object; ClusterError on a refusal; {} for a delete that left nothing."""
        if self.failure is not None:
            raise self.error()
        return self.obj or {}


def apply_payload(mapping: KindMapping, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as sent: no `status`, no namespace on a cluster-scoped kind (the client
    drops it there, as kubectl and Flux's client do)."""
    payload = {k: v for k, v in manifest.items() if k != "status"}
    meta = dict(payload.get("metadata") or {})
    if not mapping.namespaced:
        meta.pop("namespace", None)
    payload["metadata"] = meta
    return payload


def apply(
    cluster: ClusterClient,
    mapping: KindMapping,
    manifest: Mapping[str, Any],
    *,
    field_manager: str,
    force: bool = False,
    dry_run: bool = False,
) -> Written:
    """Server-side apply (`application/apply-patch+yaml`) as `field_manager`; creates the
    object when absent. `force` takes over fields other managers own (Flux always forces)."""
    payload = apply_payload(mapping, manifest)
    ref = ObjectRef.of(mapping, payload)
    query = [("fieldManager", field_manager), ("force", "true" if force else "false"), *_dry(dry_run)]
    verb = "dry-run apply" if dry_run else "apply"
    reply = cluster.request(
        "PATCH", ref.path, query=query, body=_json(payload), content_type=APPLY_PATCH, what=f"{verb} {ref}"
    )
    return _written(verb, ref, cluster, reply)


def create(
    cluster: ClusterClient,
    mapping: KindMapping,
    manifest: Mapping[str, Any],
    *,
    field_manager: str = "",
    dry_run: bool = False,
) -> Written:
    """POST a new object. A repeat answered AlreadyExists re-reads and reports the object."""
    payload = apply_payload(mapping, manifest)
    ref = ObjectRef.of(mapping, payload)
    query = [*_manager(field_manager), *_dry(dry_run)]
    path = mapping.collection_path(ref.namespace)
    reply = cluster.request(
        "POST", path, query=query, body=_json(payload), content_type="application/json", what=f"create {ref}"
    )
    written = _written("create", ref, cluster, reply)
    if written.failure is not None and written.failure.refusal is Refusal.ALREADY_EXISTS and reply.retried:
        live = get_object(cluster, ref)
        if live is not None:
            return Written("create", ref, cluster.context, live, retried=True)
    return written


def replace(
    cluster: ClusterClient,
    mapping: KindMapping,
    manifest: Mapping[str, Any],
    *,
    field_manager: str = "",
    dry_run: bool = False,
) -> Written:
    """PUT the whole object; a `metadata.resourceVersion` in it makes the write conditional
    (409, refusal MODIFIED, when the object changed since it was read)."""
    payload = apply_payload(mapping, manifest)
    ref = ObjectRef.of(mapping, payload)
    query = [*_manager(field_manager), *_dry(dry_run)]
    reply = cluster.request(
        "PUT", ref.path, query=query, body=_json(payload), content_type="application/json", what=f"replace {ref}"
    )
    return _written("replace", ref, cluster, reply)


def merge_patch(
    cluster: ClusterClient,
    ref: ObjectRef,
    patch: Mapping[str, Any],
    *,
    field_manager: str = "",
    dry_run: bool = False,
) -> Written:
    """JSON merge patch (RFC 7386): maps merge, `null` deletes, lists are replaced whole."""
    query = [*_manager(field_manager), *_dry(dry_run)]
    reply = cluster.request(
        "PATCH", ref.path, query=query, body=_json(dict(patch)), content_type=MERGE_PATCH, what=f"patch {ref}"
    )
    return _written("patch", ref, cluster, reply)


def delete(
    cluster: ClusterClient,
    ref: ObjectRef,
    *,
    propagation: Propagation = Propagation.BACKGROUND,
    uid: str = "",
    resource_version: str = "",
    dry_run: bool = False,
) -> Written:
    """Delete with DeleteOptions. `uid`/`resource_version` are preconditions: the API refuses
    (409, refusal MODIFIED) when the object is no longer the one that was read. 404 is
    success (`gone`): the object is not there, which is what a delete wants."""
    options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": str(propagation)}
    preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
    if preconditions:
        options["preconditions"] = preconditions
    if dry_run:
        options["dryRun"] = ["All"]
    reply = cluster.request(
        "DELETE", ref.path, body=_json(options), content_type="application/json", what=f"delete {ref}"
    )
    if reply.status == 404:
        return Written("delete", ref, cluster.context, gone=True, retried=reply.retried)
    written = _written("delete", ref, cluster, reply)
    if written.ok and isinstance(written.obj, dict) and written.obj.get("kind") == "Status":
        return Written("delete", ref, cluster.context, retried=reply.retried)
    return written


def _written(verb: str, ref: ObjectRef, cluster: ClusterClient, reply: Reply) -> Written:
    if not reply.ok:
        return Written(verb, ref, cluster.context, failure=reply.failure(), retried=reply.retried)
    obj = reply.json()
    return Written(
        verb,
        ref,
        cluster.context,
        obj if isinstance(obj, dict) else None,
        created=reply.status == 201,
        retried=reply.retried,
    )


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def _dry(dry_run: bool) -> list[tuple[str, str]]:
    return [("dryRun", "All")] if dry_run else []


def _manager(field_manager: str) -> list[tuple[str, str]]:
    return [("fieldManager", field_manager)] if field_manager else []
