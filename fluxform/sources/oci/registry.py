"""A small OCI distribution (registry v2 API) client: what pulling charts and pushing and
pulling Flux artifacts need, spoken over urllib3 (installed with the kubernetes client).

Reads: tags, manifests (digest checked), blobs (digest and size checked, size capped).
Writes: blob uploads (monolithic, or chunked PATCHes past `CHUNK`), cross-repository mounts,
manifest puts (the digest the registry answers is checked against ours).
Auth: anonymous, HTTP basic, or the bearer-token challenge (with basic credentials or a
docker identity token); a token is asked again when a push needs a wider scope.
TLS: the system trust store plus `ca_file` (a private CA); `plain_http` for registries
without TLS (HelmRepository/OCIRepository `insecure`).

Why not the `oras` package: its requests wrapper retries connection failures five times
with sleeps up to 83 s, prints registry errors to stdout, raises bare ValueError and adds a
title annotation Flux does not write. Tests still push with oras, an independent client.

    client = OciClient("ghcr.io", credentials=None)
    digest, raw = client.manifest("stefanprodan/charts/podinfo", "6.5.0")
    data = client.blob("stefanprodan/charts/podinfo", json.loads(raw)["layers"][0]["digest"])
"""

from __future__ import annotations

import base64
import functools
import json
import re
import ssl
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import sha256_digest

__all__ = [
    "HELM_CHART_LAYER",
    "HELM_CONFIG",
    "MANIFEST_TYPES",
    "OCI_MANIFEST",
    "Credentials",
    "OciClient",
    "OciReference",
    "parse_oci_url",
    "sha256_digest",
]

HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = (OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json")
MAX_BLOB = 512 * 1024 * 1024  # refuse absurd blobs rather than exhausting memory
MAX_MANIFEST = 4 * 1024 * 1024  # registries refuse larger manifests too
CHUNK = 16 * 1024 * 1024  # blobs above this are uploaded in PATCH chunks


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    identity_token: str = field(default="", repr=False)  # docker's OAuth2 refresh token

    def basic_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True, slots=True)
class OciReference:
    """`oci://host[:port]/repository`, split."""

    host: str
    repository: str

    def __str__(self) -> str:
        return f"oci://{self.host}/{self.repository}"


def parse_oci_url(url: str) -> OciReference:
    if not url.startswith("oci://"):
        raise SourceError(f"not an OCI URL: {url}", hint="OCI URLs look like oci://registry/path")
    host, _, repository = url.removeprefix("oci://").strip("/").partition("/")
    if not host or not repository:
        raise SourceError(f"OCI URL needs a registry and a repository path: {url}")
    return OciReference(host, repository)


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: bytes
    headers: dict[str, str]


class OciClient:
    """One registry host; the bearer token is kept per repository."""

    def __init__(
        self,
        host: str,
        *,
        plain_http: bool = False,
        credentials: Credentials | None = None,
        ca_file: Path | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.scheme = "http" if plain_http else "https"
        self.credentials = credentials
        self.timeout = timeout
        self._tokens: dict[str, str] = {}
        import urllib3  # here: a plan that fetches nothing never loads it (~0.1 s CPU)

        self._pool = urllib3.PoolManager(
            ssl_context=None if plain_http else _tls_context(ca_file, host),
            retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5),
            timeout=urllib3.Timeout(connect=min(timeout, 15.0), read=timeout),
        )

    # --- reads -------------------------------------------------------------------------

    def tags(self, repository: str) -> list[str]:
        """All tags (follows `Link` pagination); a repository not there yet has none."""
        url: str | None = f"{self._base(repository)}/tags/list?n=1000"
        tags: list[str] = []
        while url:
            response = self._request("GET", repository, url, accept="application/json", ok=(200, 404))
            if response.status == 404:
                return tags
            tags.extend(json.loads(response.body).get("tags") or [])
            url = _next_link(response.headers.get("link", ""), self.scheme, self.host)
        return tags

    def manifest(self, repository: str, reference: str) -> tuple[str, bytes]:
        """(`sha256:` digest, raw manifest bytes) for a tag or digest; parse with `json.loads`."""
        url = f"{self._base(repository)}/manifests/{reference}"
        body = self._request("GET", repository, url, accept=", ".join(MANIFEST_TYPES), limit=MAX_MANIFEST).body
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and reference != digest:
            raise SourceError(f"manifest {self.host}/{repository}@{reference} has digest {digest}")
        return digest, body

    def resolve(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at, or None when the tag does not exist."""
        url = f"{self._base(repository)}/manifests/{reference}"
        response = self._request("HEAD", repository, url, accept=", ".join(MANIFEST_TYPES), ok=(200, 404))
        if response.status == 404:
            return None
        digest = response.headers.get("docker-content-digest", "")
        return digest or self.manifest(repository, reference)[0]

    def blob(self, repository: str, digest: str, size: int | None = None, *, limit: int = MAX_BLOB) -> bytes:
        """The blob, refused unless its sha256 (and `size`, when given) match."""
        if size is not None and size > limit:
            raise SourceError(f"blob {self.host}/{repository}@{digest} is {size} bytes, over the limit of {limit}")
        body = self._request("GET", repository, f"{self._base(repository)}/blobs/{digest}", limit=limit).body
        if size is not None and len(body) != size:
            raise SourceError(f"blob {self.host}/{repository}@{digest} has {len(body)} bytes, the manifest says {size}")
        if sha256_digest(body) != digest:
            raise SourceError(f"blob {self.host}/{repository}@{digest} does not match its digest")
        return body

    def has_blob(self, repository: str, digest: str) -> bool:
        url = f"{self._base(repository)}/blobs/{digest}"
        return self._request("HEAD", repository, url, ok=(200, 404)).status == 200

    # --- writes ------------------------------------------------------------------------

    def put_blob(self, repository: str, data: bytes, *, mount_from: str = "") -> str:
        """Upload `data` unless the repository has it (or can mount it from `mount_from`)."""
        digest = sha256_digest(data)
        if self.has_blob(repository, digest):
            return digest
        query = f"?mount={digest}&from={urllib.parse.quote(mount_from, safe='/')}" if mount_from else ""
        started = self._request("POST", repository, f"{self._base(repository)}/blobs/uploads/{query}", ok=(201, 202))
        if started.status == 201:
            return digest  # mounted
        location = self._location(started)
        for offset in range(0, len(data), CHUNK) if len(data) > CHUNK else ():
            chunk = data[offset : offset + CHUNK]
            headers = {
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Type": "application/octet-stream",
            }
            location = self._location(
                self._request("PATCH", repository, location, body=chunk, headers=headers, ok=(202,))
            )
        final = data if len(data) <= CHUNK else b""
        self._request(
            "PUT",
            repository,
            _with_query(location, digest=digest),
            body=final,
            headers={"Content-Type": "application/octet-stream"},
            ok=(201,),
        )
        return digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
        """PUT a manifest under a tag (or its digest); returns its digest."""
        digest = sha256_digest(body)
        url = f"{self._base(repository)}/manifests/{reference}"
        response = self._request("PUT", repository, url, body=body, headers={"Content-Type": media_type}, ok=(201,))
        answered = response.headers.get("docker-content-digest", "")
        if answered and answered != digest:
            raise SourceError(
                f"registry {self.host} stored manifest {repository}:{reference} as {answered}, not {digest}"
            )
        return digest

    # --- transport ---------------------------------------------------------------------

    def _base(self, repository: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{repository}"

    def _location(self, response: _Response) -> str:
        location = response.headers.get("location", "")
        if not location:
            raise SourceError(f"registry {self.host} started an upload without a Location")
        return location if "://" in location else f"{self.scheme}://{self.host}{location}"

    def _request(
        self,
        method: str,
        repository: str,
        url: str,
        *,
        accept: str = "*/*",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        limit: int = MAX_BLOB,
    ) -> _Response:
        """One request; a 401 is answered once with the registry's challenge, then retried."""
        sent = {"Accept": accept, "User-Agent": "fluxform", **(headers or {})}
        auth = self._tokens.get(repository)
        response = self._send(method, url, sent, body, auth, limit)
        if response.status == 401:
            challenge = response.headers.get("www-authenticate", "")
            self._tokens[repository] = self._authorize(challenge, url, had=auth)
            response = self._send(method, url, sent, body, self._tokens[repository], limit)
        if response.status not in ok:
            raise self._error(method, url, response)
        return response

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, auth: str | None, limit: int
    ) -> _Response:
        from urllib3.exceptions import HTTPError as Urllib3Error
        from urllib3.exceptions import MaxRetryError

        if auth:
            headers = {**headers, "Authorization": auth}
        try:
            raw = self._pool.request(method, url, body=body, headers=headers, preload_content=False)
            try:
                data = raw.read(limit + 1) if method != "HEAD" else b""
            finally:
                raw.release_conn()
        except MaxRetryError as exc:
            raise self._transport_error(exc.reason or exc) from None
        except (Urllib3Error, OSError) as exc:
            raise self._transport_error(exc) from None
        if len(data) > limit:
            raise SourceError(f"{_redact(url)} is larger than {limit} bytes")
        return _Response(raw.status, data, {k.lower(): v for k, v in raw.headers.items()})

    def _transport_error(self, exc: BaseException) -> SourceError:
        from urllib3.exceptions import SSLError

        if isinstance(exc, SSLError | ssl.SSLError):
            return SourceError(
                f"TLS handshake with registry {self.host} failed",
                detail=_short(exc),
                hint="pass --ca-file with the registry's CA certificate, or --plain-http for a registry without TLS",
            )
        return SourceError(f"cannot reach registry {self.host}", detail=_short(exc))

    def _authorize(self, challenge: str, url: str, *, had: str | None) -> str:
        scheme, params = _parse_challenge(challenge)
        if scheme == "basic":
            if self.credentials is None:
                raise SourceError(
                    f"registry {self.host} requires credentials",
                    detail=_redact(url),
                    hint="log in (docker login writes ~/.docker/config.json) or set $DOCKER_CONFIG",
                )
            if had == self.credentials.basic_header():
                raise SourceError(f"registry {self.host} denied access (HTTP 401)", detail=_redact(url))
            return self.credentials.basic_header()
        if scheme != "bearer" or "realm" not in params:
            raise SourceError(f"registry {self.host} asks for unsupported authentication", detail=challenge[:200])
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        creds = self.credentials
        if creds is not None and creds.identity_token:
            form = {
                **query,
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "fluxform",
            }
            response = self._send("POST", params["realm"], {"Content-Type": "application/x-www-form-urlencoded"},
                                   urllib.parse.urlencode(form).encode(), None, MAX_MANIFEST)  # fmt: skip
        else:
            token_url = params["realm"] + ("?" + urllib.parse.urlencode(query) if query else "")
            response = self._send("GET", token_url, {"Accept": "application/json"}, None,
                                  creds.basic_header() if creds else None, MAX_MANIFEST)  # fmt: skip
        if response.status != 200:
            raise SourceError(f"registry {self.host} refused a token", detail=f"HTTP {response.status}")
        try:
            payload = json.loads(response.body)
        except ValueError:
            payload = {}
        token = payload.get("token") or payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str):
            raise SourceError(f"registry {self.host} token response has no token")
        if had == f"Bearer {token}":
            raise SourceError(f"registry {self.host} denied access (HTTP 401)", detail=_redact(url))
        return f"Bearer {token}"

    def _error(self, method: str, url: str, response: _Response) -> SourceError:
        where = _redact(url)
        detail = _registry_message(response.body)
        if response.status == 404:
            return SourceError(f"not found in registry: {where}", detail=detail)
        if response.status in (401, 403):
            return SourceError(
                f"registry {self.host} denied access (HTTP {response.status})",
                detail=f"{method} {where}" + (f": {detail}" if detail else ""),
                hint="check the credentials for this registry in ~/.docker/config.json or $DOCKER_CONFIG",
            )
        return SourceError(f"registry {self.host} answered HTTP {response.status} to {method} {where}", detail=detail)


@functools.cache
def _system_tls_context() -> ssl.SSLContext:
    """Loading the system's CA store takes ~20 ms: once per run, shared by every client
    (an SSLContext is made to be shared; a private CA gets a context of its own)."""
    return ssl.create_default_context()


def _tls_context(ca_file: Path | None, host: str) -> ssl.SSLContext:
    if ca_file is None:
        return _system_tls_context()
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise SourceError(f"cannot load CA file {ca_file} for registry {host}", detail=_short(exc)) from None
    return context


def _short(exc: BaseException) -> str:
    text = str(exc)
    match = re.search(r"\[SSL: [A-Z_]+\] [^(]*|certificate verify failed[^'\")]*", text)
    return " ".join((match.group(0) if match else text).split())[:300]


def _registry_message(body: bytes) -> str:
    """The first `errors[].message` of a registry error body, if any."""
    try:
        errors = json.loads(body).get("errors") or []
        return str(errors[0].get("message") or errors[0].get("code") or "")[:200]
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


def _with_query(url: str, **params: str) -> str:
    separator = "&" if "?" in url else "?"
    return url + separator + urllib.parse.urlencode(params)


def _redact(url: str) -> str:
    """Upload URLs carry state tokens in their query: show the path only."""
    return url.split("?", 1)[0]


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


def _next_link(link: str, scheme: str, host: str) -> str | None:
    match = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", link)
    if not match:
        return None
    target = match.group(1)
    return target if "://" in target else f"{scheme}://{host}{target}"
