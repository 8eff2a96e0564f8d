"""Server-side apply dry-run: what the object would look like after `apply`, as Flux asks.

The request is Flux's own (fluxcd/pkg ssa `dryRunApply`): PATCH with
`application/apply-patch+yaml`, `dryRun=All`, the field manager, `force=true`. The server
merges with the live object, defaults, validates and runs admission, and stores nothing.
A refusal comes back as an `ApiFailure` for the planner to read (403: fall back to a
client-side comparison; 422 immutable: replace; 404 namespace: created by this plan?).

    outcome = dry_run_apply(cluster, mapping, manifest, field_manager="kustomize-controller")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.errors import ApiFailure
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.write import APPLY_PATCH, apply, apply_payload

__all__ = ["APPLY_PATCH", "DryRun", "apply_payload", "dry_run_apply"]


@dataclass(frozen=True, slots=True)
class DryRun:
    result: dict[str, Any] | None  # the post-apply object (no resourceVersion: it would be created)
    failure: ApiFailure | None = None


def dry_run_apply(
    cluster: ClusterClient, mapping: KindMapping, manifest: Mapping[str, Any], *, field_manager: str
) -> DryRun:
    written = apply(cluster, mapping, manifest, field_manager=field_manager, force=True, dry_run=True)
    return DryRun(written.obj, written.failure)
