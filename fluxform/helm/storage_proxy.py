"""A loopback Kubernetes API endpoint for one Helm worker, that keeps one release's Helm storage
in a namespace other than its release namespace.

Why: helm-controller stores a release in its storage namespace (`spec.storageNamespace`,
by default the HelmRelease's own namespace) while Helm installs it into the release namespace
(`spec.targetNamespace`): it builds Helm's action configuration with
`Configuration.Init(getter for the release namespace, storageNamespace, driver)`. The SDK
fluxform uses (helm-python-sdk 0.2.2 over helm-c-sdk) has one namespace for both: its
`helm_config_new` options have no storage namespace, and an install into another namespace
re-initialises the whole configuration, storage included, for that namespace
(`Config.forNamespace`). So when the namespaces differ, the worker's Helm talks to this proxy
instead of the cluster:

* every request goes on to the cluster through fluxform's client (its credentials and TLS;
  the worker never sees them), answers streamed back as they arrive (watches included);
* Helm's storage requests for this one release (Secrets `sh.helm.release.v1.<name>.v<N>` and
  the list Helm's driver makes with `name=<name>,owner=helm`) in the release namespace go to
  the storage namespace instead. Helm's driver names the namespace only in the URL (the
  Secret bodies it sends carry none), so rewriting the path is all it takes; the release
  records keep their own `namespace` (the release namespace), as helm-controller's do.

The proxy listens on 127.0.0.1 and answers only requests whose path starts with its random
token (the server URL in the kubeconfig it writes for the worker, mode 0600); it stores
nothing, and bodies (release Secrets hold values) stay in memory.

    with StorageProxy(cluster, release="web-guestbook", namespace="web", storage_namespace="apps") as proxy:
        kubeconfig = proxy.write_kubeconfig(home / "kubeconfig")
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import secrets
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import urllib3

from fluxform.cluster.client import ClusterClient
from fluxform.errors import FluxformError
from fluxform.private_file import write_private

__all__ = ["PROXY_CONTEXT", "StorageProxy", "release_secret_name"]

#: The context name in the kubeconfig the proxy writes.
PROXY_CONTEXT = "fluxform-storage-proxy"
_CHUNK = 64 * 1024
_RELAYED_HEADERS = ("Accept", "Content-Type", "User-Agent")  # the User-Agent names Helm's field manager
_ANSWER_HEADERS = ("Content-Type", "Content-Encoding", "Audit-Id", "Warning")


def release_secret_name(release: str) -> re.Pattern[str]:
    """Helm's storage key of a release revision (storage/driver: `sh.helm.release.v1.<name>.v<N>`)."""
    return re.compile(rf"^sh\.helm\.release\.v1\.{re.escape(release)}\.v\d+$")


class StorageProxy:
    """Serves one Helm worker while it runs (a context manager); thread-safe, one thread per
    connection."""

    def __init__(self, cluster: ClusterClient, *, release: str, namespace: str, storage_namespace: str) -> None:
        self.cluster = cluster
        self.release, self.namespace, self.storage_namespace = release, namespace, storage_namespace
        self.token = secrets.token_urlsafe(32)
        self._collection = f"/api/v1/namespaces/{namespace}/secrets"
        self._records = release_secret_name(release)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        self.redirected = 0  # storage requests sent to the storage namespace (tests read it)

    # ----- lifetime ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="helm-storage-proxy", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        with self._open_lock:
            answers = list(self._open)
        for answer in answers:  # watches still streaming to a worker that is gone
            _hang_up(answer)
        self._server.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        """The proxy's API root, its token the first path segment: client-go sends no bearer
        token over plain HTTP (verified with the SDK), and a server URL may carry a path."""
        assert self._server is not None, "the proxy is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{self.token}"

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig (0600) that points at this proxy with its token, namespace the release's."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": PROXY_CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": PROXY_CONTEXT, "user": {}}],
            "contexts": [
                {
                    "name": PROXY_CONTEXT,
                    "context": {"cluster": PROXY_CONTEXT, "user": PROXY_CONTEXT, "namespace": self.namespace},
                }
            ],
            "current-context": PROXY_CONTEXT,
        }
        write_private(path, json.dumps(config), what="the Helm worker's kubeconfig")
        return path

    # ----- routing ----------------------------------------------------------------------------

    def route(self, method: str, path: str, query: Sequence[tuple[str, str]], body: bytes, content_type: str) -> str:
        """The path to send a request to: this release's storage in the storage namespace,
        anything else where it was going."""
        stripped = path.rstrip("/")
        if stripped == self._collection:
            if method == "GET" and _selects_release(query, self.release):
                return self._redirected(path)
            if method == "POST" and self._records.match(_posted_name(body, content_type)):
                return self._redirected(path)
            return path
        prefix, _, name = stripped.rpartition("/")
        if prefix == self._collection and self._records.match(name):
            return self._redirected(path)
        return path

    def _redirected(self, path: str) -> str:
        self.redirected += 1
        return path.replace(self._collection, f"/api/v1/namespaces/{self.storage_namespace}/secrets", 1)

    # ----- relaying ---------------------------------------------------------------------------

    def relay(self, request: BaseHTTPRequestHandler) -> None:
        """Answers one request: checked, routed, sent through fluxform's client, answer streamed."""
        split = urlsplit(request.path)
        secret, _, path = split.path.partition("/")[2].partition("/")
        if not hmac.compare_digest(secret, self.token):
            _status(request, 401, "Unauthorized", "this endpoint serves one Helm worker of fluxform")
            return
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        query = parse_qsl(split.query, keep_blank_values=True)
        content_type = request.headers.get("Content-Type", "")
        path = self.route(request.command, f"/{path}", query, body, content_type)
        watch = any(k == "watch" and v in ("true", "1") for k, v in query)
        headers = {k: str(request.headers[k]) for k in _RELAYED_HEADERS if request.headers.get(k)}
        try:
            answer = self.cluster.relay(
                request.command,
                path,
                query=query,
                body=body or None,
                headers=headers,
                read_timeout=None if watch else self.cluster.options.request_timeout,
            )
        except FluxformError as exc:
            _status(request, 503, "ServiceUnavailable", exc.one_line())
            return
        with self._open_lock:
            self._open.add(answer)
        try:
            _stream(request, answer)
        finally:
            with self._open_lock:
                self._open.discard(answer)
            _close(answer)


def _handler_for(proxy: StorageProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers, chunks and the last chunk go out in separate writes: with Nagle's algorithm
        # each answer waited for the client's delayed ACK (measured: ~45 ms per request)
        disable_nagle_algorithm = True

        def _relay(self) -> None:
            proxy.relay(self)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: nothing below the CLI prints."""

    return Handler


def _stream(request: BaseHTTPRequestHandler, answer: Any) -> None:
    """The cluster's answer, chunked, as it arrives; a client that hangs up ends it."""
    request.send_response(int(answer.status))
    for name in _ANSWER_HEADERS:
        if answer.headers.get(name):
            request.send_header(name, str(answer.headers[name]))
    request.send_header("Transfer-Encoding", "chunked")
    request.end_headers()
    try:
        # a chunked answer (a watch) is passed on chunk by chunk as it arrives: stream(amt)
        # would hold each event back until amt bytes came
        chunks = answer.read_chunked(decode_content=False) if answer.chunked else answer.stream(_CHUNK, False)
        for chunk in chunks:
            if chunk:
                request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                request.wfile.flush()
        request.wfile.write(b"0\r\n\r\n")
        request.wfile.flush()
    except (OSError, urllib3.exceptions.HTTPError, ValueError, AttributeError):
        # the worker hung up (a watch it no longer needs), the cluster did, or the answer was
        # closed at shutdown: nothing is left to tell anyone
        request.close_connection = True


def _status(request: BaseHTTPRequestHandler, code: int, reason: str, message: str) -> None:
    """A Kubernetes Status answer, which client-go turns into its error."""
    body = json.dumps(
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
    ).encode()
    request.send_response(code)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def _hang_up(answer: Any) -> None:
    """Ends an answer another thread is blocked reading: its socket shut down, so the read
    returns (closing the answer itself would wait for that read: it holds the buffer's lock)."""
    sock = getattr(getattr(answer, "connection", None), "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _close(answer: Any) -> None:
    with contextlib.suppress(OSError, urllib3.exceptions.HTTPError, ValueError, AttributeError):
        answer.release_conn()
        answer.close()


def _selects_release(query: Sequence[tuple[str, str]], release: str) -> bool:
    """The label selector of Helm's driver for one release: `name=<release>,owner=helm` (a
    status term may follow)."""
    selector = next((v for k, v in query if k == "labelSelector"), "")
    terms = {}
    for term in selector.split(","):
        key, equal, value = term.partition("==" if "==" in term else "=")
        if not equal or key.endswith("!"):
            continue
        terms[key.strip()] = value.strip()
    return terms.get("owner") == "helm" and terms.get("name") == release


def _posted_name(body: bytes, content_type: str) -> str:
    """The name of a Secret being created: JSON, or the protobuf Helm's driver sends."""
    if content_type.startswith("application/json"):
        try:
            return str(((json.loads(body) or {}).get("metadata") or {}).get("name") or "")
        except (ValueError, AttributeError):
            return ""
    if content_type.startswith("application/vnd.kubernetes.protobuf"):
        return _protobuf_secret_name(body)
    return ""


_PROTOBUF_MAGIC = b"k8s\x00"


def _protobuf_secret_name(body: bytes) -> str:
    """`metadata.name` of a protobuf Secret: `k8s\\0`, runtime.Unknown field 2 (raw object),
    v1.Secret field 1 (ObjectMeta), ObjectMeta field 1 (name); "" for anything else."""
    if not body.startswith(_PROTOBUF_MAGIC):
        return ""
    try:
        raw = _field(body[len(_PROTOBUF_MAGIC) :], 2)
        meta = _field(raw, 1) if raw is not None else None
        name = _field(meta, 1) if meta is not None else None
        return name.decode() if name is not None else ""
    except (IndexError, UnicodeDecodeError, ValueError):
        return ""


def _field(message: bytes, number: int) -> bytes | None:
    """The first length-delimited field `number` of a protobuf message (wire format only)."""
    at = 0
    while at < len(message):
        key, at = _varint(message, at)
        wire = key & 7
        if wire == 0:
            _, at = _varint(message, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            size, at = _varint(message, at)
            if key >> 3 == number:
                return message[at : at + size]
            at += size
        else:
            raise ValueError(f"protobuf wire type {wire}")
    return None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
