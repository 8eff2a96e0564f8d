"""How to reach one cluster, as a frozen value the CLI builds once (`--kubeconfig`,
`--context`, `--in-cluster`) and hands to everything that talks to the cluster: live plans,
apply and the Kubernetes state backend.

Kept apart from client.py so building options costs nothing: the kubernetes package (~0.3 s
to import) is loaded only when a connection is made.

    options = ClusterOptions(kubeconfig=Path("~/.kube/config").expanduser(), context="prod")
    with connect(options) as cluster: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fluxform.cluster.retry import RetryPolicy

__all__ = ["IN_CLUSTER_CONTEXT", "ClusterOptions"]

#: The context name a client connected with the pod's service account reports.
IN_CLUSTER_CONTEXT = "in-cluster"


@dataclass(frozen=True)
class ClusterOptions:
    kubeconfig: Path | None = None  # --kubeconfig; default $KUBECONFIG (':'-separated), then ~/.kube/config
    context: str = ""  # --context; default the kubeconfig's current context
    in_cluster: bool = False  # use the pod's service account even when a kubeconfig exists
    connect_timeout: float = 5.0  # seconds to open a connection
    request_timeout: float = 30.0  # seconds to wait for an answer
    concurrency: int = 8  # parallel requests (dry-runs, lists)
    list_page_size: int = 500  # LIST `limit`, as kubectl; 0 = unpaged
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # repeats of dropped, throttled, failing calls
