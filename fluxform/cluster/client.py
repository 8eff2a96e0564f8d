"""A connection to one cluster: kubeconfig and context selection, in-cluster config, and the
raw request door every cluster call goes through (reads, dry-runs, writes, watches).

Requests use the kubernetes client's configuration, `param_serialize` (auth, exec plugins)
and connection pool (TLS, proxies), but bodies stay raw JSON bytes, sent as they are: 5,000
objects decoded into typed models would cost more than the API calls. Each request is counted, bounded by a timeout
and, by `RetryPolicy`, sent again after a dropped connection, a timeout, 429 or 5xx (the
verbs in write.py settle what a repeated write was answered). A 401, a TLS failure or a
server that stays unreachable or failing raises a ClusterError naming the call: no plan or
apply can go on without the cluster.

    with connect(ClusterOptions(context="prod")) as cluster:
        reply = cluster.request("GET", "/api/v1/namespaces")
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from fluxform import __version__
from fluxform.cluster.errors import ApiFailure, Unreachable, credentials_rejected, transport_error
from fluxform.cluster.options import IN_CLUSTER_CONTEXT, ClusterOptions
from fluxform.errors import ClusterError

__all__ = ["IN_CLUSTER_CONTEXT", "ClusterClient", "ClusterOptions", "Reply", "Stream", "connect"]

_DEFAULT_KUBECONFIG = Path("~/.kube/config")
#: No answer at all: refused, reset, timed out. The request may or may not have been processed.
_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)
#: ... of which these will not get better by asking again.
_PERMANENT_ERRORS = (urllib3.exceptions.SSLError, urllib3.exceptions.LocationValueError)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    data: bytes
    attempts: int = 1  # sends it took; > 1 means an earlier send may have been processed too
    retry_after: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    def json(self) -> Any:
        return json.loads(self.data or b"null")

    def failure(self) -> ApiFailure:
        return ApiFailure.from_response(self.status, self.data)


@dataclass(frozen=True, slots=True)
class _NoAnswer:
    """A send that got no HTTP answer (refused, dropped, timed out): repeated, or raised."""

    error: Unreachable


@dataclass
class Stream:
    """An open streamed answer (a watch): `lines()` yields each newline-terminated line."""

    status: int
    _response: Any

    def lines(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self._response.stream(amt=None, decode_content=False):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            yield from (line for line in complete if line.strip())
        if pending.strip():
            yield pending

    def read(self) -> bytes:
        return bytes(self._response.read() or b"")

    def close(self) -> None:
        self._response.release_conn()
        self._response.close()


class ClusterClient:
    """One cluster, one context. Thread-safe: dry-runs run in a pool, the state Lease renews
    from a thread of its own."""

    def __init__(self, api: client.ApiClient, *, context: str, options: ClusterOptions) -> None:
        self.api = api
        self.context = context
        self.options = options
        self.server = str(api.configuration.host)
        self._count = 0
        self._retries = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    @property
    def request_count(self) -> int:
        """HTTP requests sent, repeats included (benches report requests per object)."""
        with self._lock:
            return self._count

    @property
    def retry_count(self) -> int:
        """Of those, the repeats."""
        with self._lock:
            return self._retries

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        content_type: str = "",
        accept: str = "application/json",
        what: str = "",
    ) -> Reply:
        """One API call, repeated per the retry policy. Returns any HTTP answer but 401, 429
        and 5xx (those raise ClusterError once repeats are spent); `what` names the call in
        errors ("apply Deployment/web/frontend")."""
        policy = self.options.retry
        attempt = 1
        while True:
            answer = self._send(method, path, query, body, content_type, accept, attempt, what)
            status = answer.status if isinstance(answer, Reply) else 0
            if not policy.should_retry(status, attempt=attempt):
                if isinstance(answer, _NoAnswer):
                    raise answer.error
                return self._checked(answer, what or f"{method} {path}")
            retry_after = answer.retry_after if isinstance(answer, Reply) else ""
            time.sleep(policy.delay(attempt=attempt, retry_after=retry_after))
            attempt += 1
            with self._lock:
                self._retries += 1

    def stream(self, path: str, *, query: Sequence[tuple[str, str]], read_timeout: float, what: str = "") -> Stream:
        """A GET whose answer is read as it arrives (watches). Not repeated: the watch
        helper reconnects from the last resourceVersion it saw."""
        with self._lock:
            self._count += 1
        headers = self._headers("application/json", "")
        try:
            _, url, headers, _, _ = self.api.param_serialize(
                "GET", path, query_params=list(query), header_params=headers, auth_settings=["BearerToken"]
            )
            response = self._open("GET", url, headers, None, read_timeout)
        except _TRANSPORT_ERRORS as exc:
            raise self._transport(exc, what) from exc
        if int(response.status) == 401:
            response.release_conn()
            raise credentials_rejected(server=self.server, context=self.context)
        return Stream(int(response.status), response)

    def relay(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]],
        body: bytes | None,
        headers: dict[str, str],
        read_timeout: float | None,
    ) -> Any:
        """One request sent as another client made it (a proxy's: helm/storage_proxy.py):
        this client's credentials and TLS, the caller's Accept, Content-Type and User-Agent,
        never repeated (the client behind the proxy decides that), the answer left unread
        (a urllib3 response to stream; `release_conn()` it). Transport failures raise
        Unreachable."""
        with self._lock:
            self._count += 1
        try:
            _, url, sent, _, _ = self.api.param_serialize(
                method, path, query_params=list(query), header_params={}, auth_settings=["BearerToken"]
            )
            sent.update(headers)
            return self._open(method, url, sent, body, read_timeout)
        except _TRANSPORT_ERRORS as exc:
            raise self._transport(exc, f"{method} {path}") from exc
        except ConfigException as exc:
            raise ClusterError(
                f"cannot get credentials for context {self.context}", detail=str(exc), hint="log in again"
            ) from exc

    def _open(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, read_timeout: float | None
    ) -> Any:
        """One HTTP exchange on the kubernetes client's pool; the answer is read by the caller."""
        timeout = urllib3.Timeout(connect=self.options.connect_timeout, read=read_timeout)
        pool = self.api.rest_client.pool_manager
        return pool.request(method, url, body=body, headers=headers, timeout=timeout, preload_content=False)

    def _headers(self, accept: str, content_type: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        body: bytes | None,
        content_type: str,
        accept: str,
        attempt: int,
        what: str,
    ) -> Reply | _NoAnswer:
        with self._lock:
            self._count += 1
        try:
            _, url, headers, _, _ = self.api.param_serialize(
                method,
                path,
                query_params=list(query),
                header_params=self._headers(accept, content_type),
                auth_settings=["BearerToken"],
            )
            response = self._open(method, url, headers, body, self.options.request_timeout)
            data = bytes(response.data or b"")
            return Reply(int(response.status), data, attempt, str(response.headers.get("Retry-After") or ""))
        except _PERMANENT_ERRORS as exc:  # TLS: certificates do not fix themselves
            raise self._transport(exc, what) from exc
        except _TRANSPORT_ERRORS as exc:
            return _NoAnswer(self._transport(exc, what))
        except ConfigException as exc:  # exec/auth-provider plugin failed to produce credentials
            raise ClusterError(
                f"cannot get credentials for context {self.context}", detail=str(exc), hint="log in again"
            ) from exc

    def _transport(self, exc: BaseException, what: str) -> Unreachable:
        return transport_error(exc, server=self.server, context=self.context, what=what)

    def _checked(self, reply: Reply, what: str) -> Reply:
        if reply.status == 401:
            raise credentials_rejected(server=self.server, context=self.context)
        if reply.status == 429 or reply.status >= 500:
            raise reply.failure().error(what, context=self.context)
        return reply


def connect(options: ClusterOptions) -> ClusterClient:
    """A client for the chosen context; in-cluster config when asked, or when no kubeconfig
    exists but the process runs in a pod."""
    configuration = client.Configuration()
    if options.in_cluster or (_no_kubeconfig(options) and os.environ.get("KUBERNETES_SERVICE_HOST")):
        context = _load_in_cluster(configuration)
    else:
        context = _load_kubeconfig(configuration, options)
    configuration.retries = False  # ClusterClient.request repeats calls itself, knowing which verb it sent
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
