"""Server-side apply dry-run: what the object would look like after `apply`, as Flux asks.

The request is Flux's own (fluxcd/pkg ssa `dryRunApply`): PATCH with
`application/apply-patch+yaml`, `dryRun=All`, the field manager, `force=true`. The server
merges with the live object, defaults, validates and runs admission, and stores nothing.
A refusal comes back as an `ApiFailure` for the planner to read (403: fall back to a
client-side comparison; 422 immutable: replace; 404 namespace: created by this plan?).

    outcome = dry_run_apply(cluster, mapping, manifest, field_manager="kustomize-controller")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.errors import ApiFailure
from fluxform.cluster.mapping import KindMapping

__all__ = ["APPLY_PATCH", "DryRun", "apply_payload", "dry_run_apply"]

APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True, slots=True)
class DryRun:
    result: dict[str, Any] | None  # the post-apply object (no resourceVersion: it would be created)
    failure: ApiFailure | None = None


def apply_payload(mapping: KindMapping, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as sent: no `status`, no namespace on a cluster-scoped kind (the client
    drops it there, as kubectl and Flux's client do)."""
    payload = {k: v for k, v in manifest.items() if k != "status"}
    meta = dict(payload.get("metadata") or {})
    if not mapping.namespaced:
        meta.pop("namespace", None)
    payload["metadata"] = meta
    return payload


def dry_run_apply(
    cluster: ClusterClient, mapping: KindMapping, manifest: Mapping[str, Any], *, field_manager: str
) -> DryRun:
    payload = apply_payload(mapping, manifest)
    meta = payload["metadata"]
    path = mapping.object_path(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
    query = [("dryRun", "All"), ("fieldManager", field_manager), ("force", "true")]
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    reply = cluster.request("PATCH", path, query=query, body=body, content_type=APPLY_PATCH)
    if reply.ok:
        return DryRun(reply.json())
    return DryRun(None, reply.failure())
