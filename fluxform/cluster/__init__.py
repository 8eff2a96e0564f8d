"""Talking to a Kubernetes cluster: connection (kubeconfig, context, in-cluster), discovery
and REST mapping, one-LIST-per-type reads, server-side apply dry-runs, and the comparisons
Flux makes between a dry-run result and the live object.

    with connect(ClusterOptions(context="prod")) as cluster:
        mapper = RestMapper(Discovery(cluster))
"""

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.discovery import Discovery
from fluxform.cluster.dryrun import DryRun, dry_run_apply
from fluxform.cluster.errors import ApiFailure
from fluxform.cluster.mapping import KindMapping, RestMapper, Unmapped
from fluxform.cluster.read import LiveSnapshot, read_live

__all__ = [
    "ApiFailure",
    "ClusterClient",
    "ClusterOptions",
    "Discovery",
    "DryRun",
    "KindMapping",
    "LiveSnapshot",
    "RestMapper",
    "Unmapped",
    "connect",
    "dry_run_apply",
    "read_live",
]
