"""The one Kubernetes client: connection (kubeconfig, context, in-cluster), retries,
discovery and REST mapping, reads (one LIST per type for plans, single GETs), server-side
apply and dry-runs, the other write verbs, watches and waits, and the comparisons Flux
makes between a dry-run result and the live object. Live plans, apply and the Kubernetes
state backend all go through it.

    options.py    ClusterOptions: kubeconfig, context, in-cluster, timeouts, retries
    client.py     connect(), ClusterClient.request: the raw door, counted
    retry.py      which calls are repeated, and the backoff
    errors.py     ApiFailure (a refusal as a value, with its Refusal kind), error lines
    discovery.py  what the cluster serves;  mapping.py  kind -> URL;  ref.py  one object
    read.py       the live objects a plan needs;  lookup.py  get one, list a selection
    write.py      apply, create, replace, merge_patch, delete -> Written
    dryrun.py     Flux's server-side apply dry-run;  watch.py  watch, wait_for

    with connect(ClusterOptions(context="prod")) as cluster:
        mapper = RestMapper(Discovery(cluster))
        applied = apply(cluster, mapper.resolve("apps/v1", "Deployment"), manifest, field_manager="fluxform")

Importing the package is free: names load their module on first use, so building
`ClusterOptions` (options.py) does not import the kubernetes client (~0.3 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluxform.cluster.client import ClusterClient, connect
    from fluxform.cluster.discovery import Discovery
    from fluxform.cluster.dryrun import DryRun, dry_run_apply
    from fluxform.cluster.errors import ApiFailure, FieldConflict, Refusal, Unreachable
    from fluxform.cluster.lookup import Listing, get_object, list_objects
    from fluxform.cluster.mapping import KindMapping, RestMapper, Unmapped
    from fluxform.cluster.options import ClusterOptions
    from fluxform.cluster.read import LiveSnapshot, read_live
    from fluxform.cluster.ref import ObjectRef
    from fluxform.cluster.retry import RetryPolicy
    from fluxform.cluster.watch import WaitTimeout, WatchEvent, WatchExpired, WatchRefused, wait_for, watch
    from fluxform.cluster.write import Propagation, Written, apply, create, delete, merge_patch, replace

_MODULES = {
    "ClusterClient": "fluxform.cluster.client",
    "connect": "fluxform.cluster.client",
    "Discovery": "fluxform.cluster.discovery",
    "DryRun": "fluxform.cluster.dryrun",
    "dry_run_apply": "fluxform.cluster.dryrun",
    "ApiFailure": "fluxform.cluster.errors",
    "FieldConflict": "fluxform.cluster.errors",
    "Refusal": "fluxform.cluster.errors",
    "Unreachable": "fluxform.cluster.errors",
    "Listing": "fluxform.cluster.lookup",
    "get_object": "fluxform.cluster.lookup",
    "list_objects": "fluxform.cluster.lookup",
    "KindMapping": "fluxform.cluster.mapping",
    "RestMapper": "fluxform.cluster.mapping",
    "Unmapped": "fluxform.cluster.mapping",
    "LiveSnapshot": "fluxform.cluster.read",
    "read_live": "fluxform.cluster.read",
    "ObjectRef": "fluxform.cluster.ref",
    "RetryPolicy": "fluxform.cluster.retry",
    "WaitTimeout": "fluxform.cluster.watch",
    "WatchEvent": "fluxform.cluster.watch",
    "WatchExpired": "fluxform.cluster.watch",
    "WatchRefused": "fluxform.cluster.watch",
    "wait_for": "fluxform.cluster.watch",
    "watch": "fluxform.cluster.watch",
    "Propagation": "fluxform.cluster.write",
    "Written": "fluxform.cluster.write",
    "apply": "fluxform.cluster.write",
    "create": "fluxform.cluster.write",
    "delete": "fluxform.cluster.write",
    "merge_patch": "fluxform.cluster.write",
    "replace": "fluxform.cluster.write",
    "ClusterOptions": "fluxform.cluster.options",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'fluxform.cluster' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)


__all__ = [
    "ApiFailure",
    "ClusterClient",
    "ClusterOptions",
    "Discovery",
    "DryRun",
    "FieldConflict",
    "KindMapping",
    "Listing",
    "LiveSnapshot",
    "ObjectRef",
    "Propagation",
    "Refusal",
    "RestMapper",
    "RetryPolicy",
    "Unmapped",
    "Unreachable",
    "WaitTimeout",
    "WatchEvent",
    "WatchExpired",
    "WatchRefused",
    "Written",
    "apply",
    "connect",
    "create",
    "delete",
    "dry_run_apply",
    "get_object",
    "list_objects",
    "merge_patch",
    "read_live",
    "replace",
    "wait_for",
    "watch",
]
