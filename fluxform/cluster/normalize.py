"""Compare live objects and dry-run results on what matters, as Flux does.

Flux (fluxcd/pkg ssa `hasDrifted`) calls an object drifted when the dry-run result has no
resourceVersion (it would be created), or its labels differ, or its annotations differ, or
the object minus `metadata` and `status` differs (Go's semantic deep-equal, which counts a
nil map as an empty one). Everything the server owns (managedFields, resourceVersion, uid,
timestamps, generation, status) is noise for a reviewer, so `comparable` drops it before
anything is shown.

    if drifted(live, dry_run): ...
    before, after = comparable(live), comparable(dry_run)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["SERVER_METADATA", "comparable", "drifted", "semantic_equal"]

#: metadata fields the API server writes; never part of a desired state.
SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without status and server-written metadata: what a plan shows."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in SERVER_METADATA}
    for key in ("labels", "annotations"):
        if key in meta and not meta[key]:
            del meta[key]  # nil and empty are the same map
    out["metadata"] = meta
    _dedupe_hpa_metrics(out)
    return out


def drifted(live: Mapping[str, Any], dry_run: Mapping[str, Any]) -> bool:
    """Flux's rule: would applying change the live object?"""
    if not (dry_run.get("metadata") or {}).get("resourceVersion"):
        return True
    for key in ("labels", "annotations"):
        if not semantic_equal(_meta(dry_run).get(key) or {}, _meta(live).get(key) or {}):
            return True
    return not semantic_equal(_body(dry_run), _body(live))


def semantic_equal(a: Any, b: Any) -> bool:
    """Deep equality with Go's types: True is not 1, 1 is not 1.0 (Python's == says they are)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(semantic_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _body(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    _dedupe_hpa_metrics(out, copy_first=True)
    return out


def _dedupe_hpa_metrics(obj: dict[str, Any], *, copy_first: bool = False) -> None:
    """Old API servers (< 1.27) return an HPA's first metric twice plus an empty one on
    dry-run (kubernetes#118293); Flux's DryRunUnstructured drops both, so do we."""
    if obj.get("kind") != "HorizontalPodAutoscaler" or not isinstance(obj.get("spec"), dict):
        return
    metrics = obj["spec"].get("metrics")
    if not isinstance(metrics, list):
        return
    kept: list[Any] = []
    for metric in metrics:
        if isinstance(metric, dict) and metric.get("type") and not any(semantic_equal(metric, k) for k in kept):
            kept.append(metric)
    if len(kept) != len(metrics):
        if copy_first:
            obj["spec"] = {**obj["spec"]}
        obj["spec"]["metrics"] = kept
