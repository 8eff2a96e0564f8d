"""A small OCI distribution (registry v2 API) client for pulling charts and artifacts.

Pulls only: list tags, read a manifest (with its digest), read a blob (digest verified).
Auth: anonymous, HTTP basic, or the bearer-token challenge most registries use (with
basic credentials when given). `plain_http` is HelmRepository/OCIRepository `insecure`.

Why not the `oras` package: its requests wrapper retries connection failures five times
with sleeps up to 83 s (minutes before `--offline`-style clear failure), prints registry
errors and raises bare ValueError. Tests still push with oras, an independent client.

    client = OciClient("ghcr.io", credentials=None)
    digest, raw = client.manifest("stefanprodan/charts/podinfo", "6.5.0")
    data = client.blob("stefanprodan/charts/podinfo", json.loads(raw)["layers"][0]["digest"])
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import sha256_digest

__all__ = [
    "HELM_CHART_LAYER",
    "HELM_CONFIG",
    "MANIFEST_TYPES",
    "Credentials",
    "OciClient",
    "OciReference",
    "parse_oci_url",
]

HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_MAX_BYTES = 512 * 1024 * 1024  # refuse absurd blobs rather than exhausting memory


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

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


class OciClient:
    """One registry host; the bearer token is kept per repository scope."""

    def __init__(
        self, host: str, *, plain_http: bool = False, credentials: Credentials | None = None, timeout: float = 60.0
    ) -> None:
        self.host = host
        self.scheme = "http" if plain_http else "https"
        self.credentials = credentials
        self.timeout = timeout
        self._tokens: dict[str, str] = {}

    def tags(self, repository: str) -> list[str]:
        """All tags (follows `Link` pagination)."""
        url: str | None = f"{self._base(repository)}/tags/list?n=1000"
        tags: list[str] = []
        while url:
            body, headers = self._get(repository, url, accept="application/json")
            tags.extend(json.loads(body).get("tags") or [])
            url = _next_link(headers.get("Link", ""), self.scheme, self.host)
        return tags

    def manifest(self, repository: str, reference: str) -> tuple[str, bytes]:
        """(`sha256:` digest, raw manifest bytes) for a tag or digest; parse with `json.loads`."""
        url = f"{self._base(repository)}/manifests/{reference}"
        body, _ = self._get(repository, url, accept=", ".join(MANIFEST_TYPES))
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and reference != digest:
            raise SourceError(f"manifest {self.host}/{repository}@{reference} has digest {digest}")
        return digest, body

    def blob(self, repository: str, digest: str) -> bytes:
        body, _ = self._get(repository, f"{self._base(repository)}/blobs/{digest}", accept="*/*")
        if sha256_digest(body) != digest:
            raise SourceError(f"blob {self.host}/{repository}@{digest} does not match its digest")
        return body

    def _base(self, repository: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{repository}"

    def _get(self, repository: str, url: str, *, accept: str) -> tuple[bytes, dict[str, str]]:
        headers = {"Accept": accept}
        auth = self._tokens.get(repository)
        if auth:
            headers["Authorization"] = auth
        try:
            return self._request(url, headers)
        except urllib.error.HTTPError as exc:
            if exc.code != 401 or auth:
                raise self._error(url, exc) from None
            challenge = exc.headers.get("WWW-Authenticate", "")
        self._tokens[repository] = self._authorize(challenge, url)
        headers["Authorization"] = self._tokens[repository]
        try:
            return self._request(url, headers)
        except urllib.error.HTTPError as exc:
            raise self._error(url, exc) from None

    def _request(self, url: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(_MAX_BYTES + 1)
                if len(body) > _MAX_BYTES:
                    raise SourceError(f"{url} is larger than {_MAX_BYTES} bytes")
                return body, dict(response.headers.items())
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"cannot reach registry {self.host}", detail=str(reason)) from None

    def _authorize(self, challenge: str, url: str) -> str:
        scheme, params = _parse_challenge(challenge)
        if scheme == "basic":
            if self.credentials is None:
                raise SourceError(f"registry {self.host} requires credentials", detail=url)
            return self.credentials.basic_header()
        if scheme != "bearer" or "realm" not in params:
            raise SourceError(f"registry {self.host} asks for unsupported authentication", detail=challenge)
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        token_url = params["realm"] + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.basic_header()
        try:
            body, _ = self._request(token_url, headers)
        except urllib.error.HTTPError as exc:
            raise SourceError(f"registry {self.host} refused a token", detail=f"HTTP {exc.code}") from None
        payload = json.loads(body)
        token = payload.get("token") or payload.get("access_token")
        if not isinstance(token, str):
            raise SourceError(f"registry {self.host} token response has no token")
        return f"Bearer {token}"

    def _error(self, url: str, exc: urllib.error.HTTPError) -> SourceError:
        if exc.code == 404:
            return SourceError(f"not found in registry: {url}")
        if exc.code in (401, 403):
            return SourceError(f"registry {self.host} denied access (HTTP {exc.code})", detail=url)
        return SourceError(f"registry {self.host} answered HTTP {exc.code}", detail=url)


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
