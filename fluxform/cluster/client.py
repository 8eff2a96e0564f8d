"""A connection to one cluster: kubeconfig and context selection, in-cluster config, and the
raw request door every cluster read and dry-run goes through.

Requests go through the kubernetes client's `param_serialize` + `call_api` (its auth,
TLS and exec plugins) but bodies stay raw JSON bytes: 5,000 objects decoded into typed
models would cost more than the API calls. Each request is counted, retried on dropped
connections and 429/502/503/504 (every call here is a read or a dry run, so a retry is
always safe), and bounded by a timeout. A 401 or an unreachable server raises at once:
no plan can be made without the cluster.

    with connect(ClusterOptions(context="prod")) as cluster:
        reply = cluster.request("GET", "/api/v1/namespaces")
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from fluxform import __version__
from fluxform.cluster.errors import ApiFailure, credentials_rejected, transport_error
from fluxform.errors import ClusterError

__all__ = ["IN_CLUSTER_CONTEXT", "ClusterClient", "ClusterOptions", "Reply", "connect"]

IN_CLUSTER_CONTEXT = "in-cluster"
_DEFAULT_KUBECONFIG = Path("~/.kube/config")


@dataclass(frozen=True)
class ClusterOptions:
    kubeconfig: Path | None = None  # --kubeconfig; default $KUBECONFIG (':'-separated), then ~/.kube/config
    context: str = ""  # --context; default the kubeconfig's current context
    in_cluster: bool = False  # use the pod's service account even when a kubeconfig exists
    connect_timeout: float = 5.0  # seconds to open a connection
    request_timeout: float = 30.0  # seconds to wait for an answer
    concurrency: int = 8  # parallel requests (dry-runs, lists)
    list_page_size: int = 500  # LIST `limit`, as kubectl; 0 = unpaged


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    data: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.data or b"null")

    def failure(self) -> ApiFailure:
        return ApiFailure.from_response(self.status, self.data)


class ClusterClient:
    """One cluster, one context. Thread-safe: dry-runs run in a pool."""

    def __init__(self, api: client.ApiClient, *, context: str, options: ClusterOptions) -> None:
        self.api = api
        self.context = context
        self.options = options
        self.server = str(api.configuration.host)
        self._count = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._count

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        content_type: str = "",
        accept: str = "application/json",
    ) -> Reply:
        """One HTTP call. Returns any HTTP answer but 401 and 5xx, which raise ClusterError."""
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        with self._lock:
            self._count += 1
        try:
            _, url, headers, _, _ = self.api.param_serialize(
                method, path, query_params=list(query), header_params=headers, auth_settings=["BearerToken"]
            )
            timeout = (self.options.connect_timeout, self.options.request_timeout)
            response = self.api.call_api(method, url, headers, body, None, _request_timeout=timeout)
            reply = Reply(int(response.status), response.read() or b"")  # type: ignore[no-untyped-call]
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise transport_error(exc, server=self.server, context=self.context) from exc
        except ApiException as exc:  # the client's wrapper for TLS failures (status 0)
            raise transport_error(exc, server=self.server, context=self.context) from exc
        except ConfigException as exc:  # exec/auth-provider plugin failed to produce credentials
            raise ClusterError(
                f"cannot get credentials for context {self.context}", detail=str(exc), hint="log in again"
            ) from exc
        if reply.status == 401:
            raise credentials_rejected(server=self.server, context=self.context)
        if reply.status >= 500:
            raise reply.failure().error(f"{method} {path}", context=self.context)
        return reply


def connect(options: ClusterOptions) -> ClusterClient:
    """A client for the chosen context; in-cluster config when asked, or when no kubeconfig
    exists but the process runs in a pod."""
    configuration = client.Configuration()
    if options.in_cluster or (_no_kubeconfig(options) and os.environ.get("KUBERNETES_SERVICE_HOST")):
        context = _load_in_cluster(configuration)
    else:
        context = _load_kubeconfig(configuration, options)
    configuration.retries = urllib3.Retry(
        total=3,
        connect=3,
        read=2,
        status=2,
        backoff_factor=0.1,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=None,  # every call is a read or a dry run
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    configuration.connection_pool_maxsize = max(4, options.concurrency)
    api = client.ApiClient(configuration)
    api.user_agent = f"fluxform/{__version__}"
    return ClusterClient(api, context=context, options=options)


def _no_kubeconfig(options: ClusterOptions) -> bool:
    if options.kubeconfig is not None or os.environ.get("KUBECONFIG"):
        return False
    return not _DEFAULT_KUBECONFIG.expanduser().exists()


def _load_in_cluster(configuration: client.Configuration) -> str:
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException as exc:
        raise ClusterError(
            "cannot load the in-cluster configuration", detail=str(exc), hint="outside a pod, pass --kubeconfig"
        ) from exc
    return IN_CLUSTER_CONTEXT


def _load_kubeconfig(configuration: client.Configuration, options: ClusterOptions) -> str:
    if options.kubeconfig is not None and not options.kubeconfig.is_file():
        raise ClusterError(f"kubeconfig {options.kubeconfig} does not exist", hint="check --kubeconfig")
    # resolved here, not by the client: it reads $KUBECONFIG once, when first imported
    where = str(options.kubeconfig or os.environ.get("KUBECONFIG") or _DEFAULT_KUBECONFIG.expanduser())
    try:
        contexts, active = config.list_kube_config_contexts(config_file=where)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ClusterError(f"cannot read kubeconfig {where}", detail=str(exc), hint="check --kubeconfig") from exc
    names = [str(c.get("name")) for c in contexts or []]
    context = options.context or str((active or {}).get("name") or "")
    if not context or context not in names:
        wanted = f"context {context!r} is not in" if context else "no current context in"
        raise ClusterError(
            f"{wanted} kubeconfig {where}",
            detail=f"contexts: {', '.join(names) or 'none'}",
            hint="pass --context NAME",
        )
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=where, context=context, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ClusterError(f"cannot load context {context} from kubeconfig {where}", detail=str(exc)) from exc
    return context
