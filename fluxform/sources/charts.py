"""Fetching Helm charts the way source-controller does, through the content-addressed cache.

* HTTP HelmRepository (`type: default`): read `<url>/index.yaml`, pick the version
  (an exact match first, else the highest inside the semver range, stable only unless the
  range names a pre-release), download `urls[0]` (relative URLs resolved against the repo
  URL), check the index `digest`.
* OCI HelmRepository (`type: oci`): `<url>/<chart>:<version>`; a range lists the tags.
* OCIRepository: `spec.url` + `spec.ref` (digest > semver (+ semverFilter) > tag > latest),
  the layer picked by `layerSelector.mediaType` (else the first layer).

`offline=True` uses only the cache and fails clearly when something is missing; online
runs refresh the index/tags/manifests and reuse cached chart blobs.

    repo = ChartRepository("https://stefanprodan.github.io/podinfo")
    chart = fetch_repository_chart(repo, "podinfo", "6.x", ChartCache.default(), offline=False)
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import yaml

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import ChartCache, sha256_digest
from fluxform.sources.oci.registry import HELM_CHART_LAYER, Credentials, OciClient, parse_oci_url
from fluxform.sources.semver import SemverError, highest, parse_flux_version

__all__ = [
    "ChartFetcher",
    "ChartRepository",
    "FetchedChart",
    "OciSelector",
    "fetch_oci_artifact",
    "fetch_repository_chart",
]

_OFFLINE_HINT = "run `fluxform charts pull PATH` while online to fill the chart cache"
_MAX_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class ChartRepository:
    """A HelmRepository as far as fetching goes."""

    url: str
    type: str = "default"  # "default" (HTTP index) | "oci"
    insecure: bool = False  # plain HTTP for OCI registries
    credentials: Credentials | None = None
    pass_credentials: bool = False  # send credentials to chart URLs on other hosts
    timeout: float = 60.0


@dataclass(frozen=True)
class FetchedChart:
    name: str
    version: str  # version as listed (index entry or tag)
    source: str  # where the archive came from (URL or oci:// ref)
    digest: str  # sha256 of the archive
    data: bytes = field(repr=False)
    revision: str = ""  # OCI: "<tag>@sha256:<manifest digest>" or "sha256:<...>"


@dataclass(frozen=True, slots=True)
class OciSelector:
    """OCIRepository `spec.ref`; precedence digest > semver > tag > "latest"."""

    tag: str = ""
    semver: str = ""
    semver_filter: str = ""
    digest: str = ""


class ChartFetcher:
    """The door chart resolution fetches archives through: the repositories and the cache.

    A subclass records what a fleet asks for (`artifact push --include-charts`) or answers
    from an artifact's chart mirror (air-gapped plans) without touching the resolution rules."""

    def repository_chart(
        self, repo: ChartRepository, chart: str, version: str, cache: ChartCache, *, offline: bool
    ) -> FetchedChart:
        return fetch_repository_chart(repo, chart, version, cache, offline=offline)

    def oci_artifact(
        self,
        url: str,
        selector: OciSelector,
        cache: ChartCache,
        *,
        offline: bool,
        layer_media_type: str = "",
        insecure: bool = False,
        credentials: Credentials | None = None,
    ) -> FetchedChart:
        return fetch_oci_artifact(
            url, selector, cache, offline=offline, layer_media_type=layer_media_type,
            insecure=insecure, credentials=credentials,
        )  # fmt: skip


def fetch_repository_chart(
    repo: ChartRepository, chart: str, version: str, cache: ChartCache, *, offline: bool
) -> FetchedChart:
    """A chart from a HelmRepository; raises SourceError naming repo, chart and version."""
    if repo.type == "oci":
        return _fetch_oci_repository_chart(repo, chart, version, cache, offline=offline)
    index_url = _index_url(repo.url)
    entries = _chart_entries(_load_index(repo, index_url, cache, offline=offline), chart, repo.url)
    entry = _pick_entry(entries, chart, version, repo.url)
    return _download_entry(repo, entry, cache, offline=offline)


def fetch_oci_artifact(
    url: str,
    selector: OciSelector,
    cache: ChartCache,
    *,
    offline: bool,
    layer_media_type: str = "",
    insecure: bool = False,
    credentials: Credentials | None = None,
) -> FetchedChart:
    """The selected layer of an OCIRepository artifact (a chart .tgz for `chartRef`)."""
    ref = parse_oci_url(url)
    client = OciClient(ref.host, plain_http=insecure, credentials=credentials)
    reference, tag = _oci_reference(client, str(ref), ref.repository, selector, cache, offline=offline)
    manifest_digest, manifest = _oci_manifest(client, str(ref), ref.repository, reference, cache, offline=offline)
    layer = _select_layer(manifest, layer_media_type, f"{ref}:{reference}")
    data = _oci_blob(client, ref.repository, layer, cache, offline=offline, what=f"{ref}:{reference}")
    revision = f"{tag}@{manifest_digest}" if tag else manifest_digest
    name = ref.repository.rsplit("/", 1)[-1]
    return FetchedChart(name, tag or reference, f"{ref}:{reference}", sha256_digest(data), data, revision)


# --- HTTP repositories --------------------------------------------------------------------


def _index_url(url: str) -> str:
    return url.rstrip("/") + "/index.yaml"


def _load_index(repo: ChartRepository, index_url: str, cache: ChartCache, *, offline: bool) -> Any:
    """The parsed index, fetched (or read from the cache offline) once per ChartCache."""
    key = f"index {index_url}"
    with cache.memo_lock:
        if key in cache.memo:
            return cache.memo[key]
    if offline:
        data = cache.get_by_ref(key)
        if data is None:
            raise SourceError(f"chart repository index {index_url} is not in the cache (offline)", hint=_OFFLINE_HINT)
    else:
        data = _http_get(index_url, repo, send_credentials=True)
        cache.put_ref(key, cache.put_blob(data))
    index = _parse_index(data, index_url)
    with cache.memo_lock:
        return cache.memo.setdefault(key, index)


def _parse_index(data: bytes, index_url: str) -> Any:
    """index.yaml is data, not a manifest, and can be tens of MB: libyaml's safe loader when
    present (only string fields are read, so Go/YAML-1.1 scalar nuances do not matter)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        raise SourceError(f"chart repository index {index_url} is not valid YAML", detail=str(exc)) from None


def _chart_entries(index: Any, chart: str, repo_url: str) -> list[dict[str, Any]]:
    entries = index.get("entries") if isinstance(index, dict) else None
    if not isinstance(entries, dict):
        raise SourceError(f"chart repository {repo_url} has no index entries")
    found = entries.get(chart)
    if not isinstance(found, list) or not found:
        raise SourceError(f"chart '{chart}' not found in repository {repo_url}", hint="check spec.chart.spec.chart")
    return [e for e in found if isinstance(e, dict)]


def _pick_entry(entries: list[dict[str, Any]], chart: str, version: str, repo_url: str) -> dict[str, Any]:
    """Highest match; equal versions (build metadata only) go to the newest `created`."""
    by_version: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: str(e.get("created") or ""), reverse=True):
        by_version.setdefault(str(entry.get("version") or ""), entry)
    try:
        picked = highest(list(by_version), version)
    except SemverError as exc:
        raise SourceError(f"invalid chart version range '{version}'", detail=str(exc)) from None
    if picked is None:
        raise SourceError(f"no '{chart}' chart with version matching '{version}' found in {repo_url}")
    return by_version[picked]


def _download_entry(repo: ChartRepository, entry: dict[str, Any], cache: ChartCache, *, offline: bool) -> FetchedChart:
    name, version = str(entry.get("name") or ""), str(entry.get("version") or "")
    urls = entry.get("urls") or []
    if not urls:
        raise SourceError(f"chart '{name}' version {version} has no downloadable URLs in {repo.url}")
    chart_url = _resolve_url(repo.url, str(urls[0]))
    expected = str(entry.get("digest") or "")
    expected_digest = f"sha256:{expected}" if re.fullmatch(r"[0-9a-f]{64}", expected) else ""
    data = cache.get_blob(expected_digest) if expected_digest else cache.get_by_ref(f"chart {chart_url}")
    if data is None:
        if offline:
            raise SourceError(
                f"chart '{name}' version {version} from {repo.url} is not in the cache (offline)", hint=_OFFLINE_HINT
            )
        same_host = urllib.parse.urlsplit(chart_url).netloc == urllib.parse.urlsplit(repo.url).netloc
        data = _http_get(chart_url, repo, send_credentials=same_host or repo.pass_credentials)
        digest = sha256_digest(data)
        if expected_digest and digest != expected_digest:
            raise SourceError(
                f"chart '{name}' version {version} from {chart_url} does not match the index digest",
                detail=f"index {expected_digest}, downloaded {digest}",
            )
        cache.put_ref(f"chart {chart_url}", cache.put_blob(data))
    return FetchedChart(name, version, chart_url, sha256_digest(data), data)


def _resolve_url(base: str, ref: str) -> str:
    """Helm repo.ResolveReferenceURL: relative chart URLs are relative to `<repo url>/`."""
    parsed = urllib.parse.urlsplit(ref)
    if parsed.scheme:
        return ref
    return urllib.parse.urljoin(base.rstrip("/") + "/", ref)


class _SameHostCredentials(urllib.request.HTTPRedirectHandler):
    """Drop the Authorization header when a redirect leaves the original host (urllib keeps it)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_SameHostCredentials)


def _http_get(url: str, repo: ChartRepository, *, send_credentials: bool) -> bytes:
    headers = {"User-Agent": "fluxform"}
    if send_credentials and repo.credentials is not None:
        headers["Authorization"] = repo.credentials.basic_header()
    request = urllib.request.Request(url, headers=headers)
    try:
        with _OPENER.open(request, timeout=repo.timeout) as response:
            body: bytes = response.read(_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"GET {_redact(url)} failed: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SourceError(f"cannot fetch {_redact(url)}", detail=str(getattr(exc, "reason", exc))) from None
    if len(body) > _MAX_BYTES:
        raise SourceError(f"{_redact(url)} is larger than {_MAX_BYTES} bytes")
    return body


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


# --- OCI -------------------------------------------------------------------------------------


def _fetch_oci_repository_chart(
    repo: ChartRepository, chart: str, version: str, cache: ChartCache, *, offline: bool
) -> FetchedChart:
    """source-controller OCIChartRepository: a concrete version is the tag (`+` written `_`),
    anything else is a range over the repository's tags."""
    try:
        parse_flux_version(version)
        selector = OciSelector(tag=version.replace("+", "_"))
    except SemverError:
        selector = OciSelector(semver=version or "*")
    fetched = fetch_oci_artifact(
        f"{repo.url.rstrip('/')}/{chart}",
        selector,
        cache,
        offline=offline,
        layer_media_type=HELM_CHART_LAYER,
        insecure=repo.insecure,
        credentials=repo.credentials,
    )
    version = fetched.version.replace("_", "+")
    return FetchedChart(chart, version, fetched.source, fetched.digest, fetched.data, fetched.revision)


def _oci_reference(
    client: OciClient, ref: str, repository: str, selector: OciSelector, cache: ChartCache, *, offline: bool
) -> tuple[str, str]:
    """(reference to fetch, tag or "")."""
    if selector.digest:
        return selector.digest, ""
    if selector.semver:
        tags = _oci_tags(client, ref, repository, cache, offline=offline)
        if selector.semver_filter:
            pattern = re.compile(selector.semver_filter)
            tags = [t for t in tags if pattern.search(t)]
        plus_tags = {t.replace("_", "+"): t for t in tags}
        try:
            picked = highest(list(plus_tags), "" if selector.semver == "*" else selector.semver)
        except SemverError as exc:
            raise SourceError(f"invalid semver range '{selector.semver}'", detail=str(exc)) from None
        if picked is None:
            raise SourceError(f"no tag of {ref} matches semver '{selector.semver}'")
        return plus_tags[picked], plus_tags[picked]
    tag = selector.tag or "latest"
    return tag, tag


def _oci_tags(client: OciClient, ref: str, repository: str, cache: ChartCache, *, offline: bool) -> list[str]:
    key = f"tags {ref}"
    with cache.memo_lock:
        if key in cache.memo:
            return list(cache.memo[key])
    if offline:
        data = cache.get_by_ref(key)
        if data is None:
            raise SourceError(f"tags of {ref} are not in the cache (offline)", hint=_OFFLINE_HINT)
        tags: list[str] = json.loads(data)
    else:
        tags = client.tags(repository)
        cache.put_ref(key, cache.put_blob(json.dumps(tags).encode()))
    with cache.memo_lock:
        return list(cache.memo.setdefault(key, tags))


def _oci_manifest(
    client: OciClient, ref: str, repository: str, reference: str, cache: ChartCache, *, offline: bool
) -> tuple[str, dict[str, Any]]:
    """Manifests are cached as the registry's bytes, so their cache digest is the OCI digest."""
    key = f"manifest {ref}:{reference}"
    if offline:
        digest = reference if reference.startswith("sha256:") else cache.get_ref(key)
        data = cache.get_blob(digest) if digest else None
        if digest is None or data is None:
            raise SourceError(f"{ref}:{reference} is not in the cache (offline)", hint=_OFFLINE_HINT)
    else:
        digest, data = client.manifest(repository, reference)
        cache.put_ref(key, cache.put_blob(data))
    manifest = json.loads(data)
    if not isinstance(manifest, dict):
        raise SourceError(f"{ref}:{reference} is not an OCI image manifest")
    return digest, manifest


def _select_layer(manifest: dict[str, Any], media_type: str, what: str) -> dict[str, Any]:
    layers = [layer for layer in manifest.get("layers") or [] if isinstance(layer, dict)]
    if media_type:
        layers = [layer for layer in layers if layer.get("mediaType") == media_type]
    if not layers:
        wanted = f" of media type {media_type}" if media_type else ""
        raise SourceError(f"{what} has no layer{wanted}")
    return layers[0]


def _oci_blob(
    client: OciClient, repository: str, layer: dict[str, Any], cache: ChartCache, *, offline: bool, what: str
) -> bytes:
    digest = str(layer.get("digest") or "")
    data = cache.get_blob(digest) if digest.startswith("sha256:") else None
    if data is not None:
        return data
    if offline:
        raise SourceError(f"chart layer of {what} is not in the cache (offline)", hint=_OFFLINE_HINT)
    data = client.blob(repository, digest)
    cache.put_blob(data)
    return data
