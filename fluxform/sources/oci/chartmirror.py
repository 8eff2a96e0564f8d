"""Charts carried with a fleet artifact: recorded at push, mirrored as Helm OCI charts
beside the fleet, answered from the mirror on the air-gapped side.

Recording: `ChartRecorder` replaces the chart fetcher while the fleet's HelmReleases
resolve their charts from the chart cache (offline), and keeps each question (repository
URL + chart + version range, or OCIRepository URL + ref + layer type) with its answer.

Mirror: each archive is pushed as a Helm OCI chart to `<fleet repo>/charts/<name>:<version>`
(tag `+` written `_`, as Helm does). Tags are immutable: an existing tag holding another
manifest is an error, never overwritten. The fleet artifact records the mapping in its
manifest annotation `dev.fluxform.charts` (so it is covered by the manifest digest and the
signature), as a Go-marshalled JSON list of entries:

    {"request":{"kind":"repository","url":"https://…","chart":"podinfo","version":"6.x"},
     "name":"podinfo","version":"6.5.0","source":"https://…/podinfo-6.5.0.tgz",
     "digest":"sha256:<archive>","revision":"","ref":"charts/podinfo:6.5.0",
     "manifest":"sha256:<chart manifest>"}

`ref` is relative to the fleet repository, so the mapping survives export/import into
another registry unchanged. `MirrorFetcher` answers the same questions from a store,
pinning each chart by its manifest digest and checking the archive digest; a question the
mapping lacks is an error naming the chart, never a network fetch.

    recorder = ChartRecorder()                           # HelmOptions(fetcher=recorder)
    entries = push_charts(store, recorder.charts(), limit=…)
    MirrorFetcher(store, entries, limit=…)               # HelmOptions(fetcher=...) offline
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import ChartCache, sha256_digest
from fluxform.sources.charts import ChartFetcher, ChartRepository, FetchedChart, OciSelector
from fluxform.sources.oci.format import Descriptor, go_json, image_manifest
from fluxform.sources.oci.registry import HELM_CHART_LAYER, HELM_CONFIG, OCI_MANIFEST, Credentials
from fluxform.sources.oci.store import ImageStore

__all__ = [
    "ChartEntry",
    "ChartRecorder",
    "MirrorFetcher",
    "RecordedChart",
    "decode_entries",
    "encode_entries",
    "push_charts",
]

_MAX_CHART_YAML = 1 << 20


@dataclass(frozen=True)
class RecordedChart:
    """One question a fleet's chart resolution asked, and the archive that answered it."""

    request: Mapping[str, str]
    fetched: FetchedChart


@dataclass(frozen=True)
class ChartEntry:
    """One line of the mapping the fleet artifact carries."""

    request: Mapping[str, str]
    name: str  # FetchedChart fields, so the air-gapped render sees what the connected one saw
    version: str
    source: str
    digest: str  # sha256 of the chart archive
    revision: str
    ref: str  # "charts/<name>:<tag>", relative to the fleet repository
    manifest: str  # digest of the mirrored chart's manifest

    def to_json(self) -> dict[str, Any]:
        return {
            "request": dict(sorted(self.request.items())),
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "digest": self.digest,
            "revision": self.revision,
            "ref": self.ref,
            "manifest": self.manifest,
        }


def _repository_request(repo: ChartRepository, chart: str, version: str) -> dict[str, str]:
    return {"kind": "repository", "url": repo.url, "chart": chart, "version": version}


def _oci_request(url: str, selector: OciSelector, layer_media_type: str) -> dict[str, str]:
    return {
        "kind": "oci",
        "url": url,
        "tag": selector.tag,
        "semver": selector.semver,
        "semverFilter": selector.semver_filter,
        "digest": selector.digest,
        "layer": layer_media_type,
    }


class ChartRecorder(ChartFetcher):
    """Resolves from the chart cache only (whatever the caller's offline flag says) and
    records every answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, RecordedChart] = {}

    def repository_chart(
        self, repo: ChartRepository, chart: str, version: str, cache: ChartCache, *, offline: bool
    ) -> FetchedChart:
        fetched = super().repository_chart(repo, chart, version, cache, offline=True)
        self._keep(_repository_request(repo, chart, version), fetched)
        return fetched

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
        fetched = super().oci_artifact(
            url, selector, cache, offline=True, layer_media_type=layer_media_type,
            insecure=insecure, credentials=credentials,
        )  # fmt: skip
        self._keep(_oci_request(url, selector, layer_media_type), fetched)
        return fetched

    def _keep(self, request: dict[str, str], fetched: FetchedChart) -> None:
        with self._lock:
            self._seen[_key(request)] = RecordedChart(request, fetched)

    def charts(self) -> list[RecordedChart]:
        with self._lock:
            return [self._seen[key] for key in sorted(self._seen)]


def _key(request: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(request.items())), separators=(",", ":"))


def chart_metadata(archive: bytes, what: str) -> dict[str, Any]:
    """Chart.yaml of a packaged chart (the top-level directory's)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile() and member.size < _MAX_CHART_YAML:
                    handle = tar.extractfile(member)
                    doc = yaml.safe_load(handle.read()) if handle else None
                    if isinstance(doc, dict) and doc.get("name") and doc.get("version"):
                        return doc
    except (tarfile.TarError, OSError, yaml.YAMLError) as exc:
        raise SourceError(f"{what}: not a packaged Helm chart", detail=str(exc)[:200]) from None
    raise SourceError(f"{what}: packaged chart has no Chart.yaml with a name and a version")


def _helm_config(meta: Mapping[str, Any]) -> bytes:
    """The chart's metadata as Helm's OCI config (a subset of Chart.yaml's fields)."""
    keys = ("name", "home", "sources", "version", "description", "keywords", "icon", "apiVersion",
            "condition", "tags", "appVersion", "deprecated", "annotations", "kubeVersion", "type")  # fmt: skip
    return go_json({k: meta[k] for k in keys if meta.get(k) not in (None, "", [], {})})


def chart_image(archive: bytes, what: str) -> tuple[str, str, bytes, bytes]:
    """(name, tag, config, manifest) of the Helm OCI chart for an archive; deterministic
    (no creation time), so pushing the same archive twice gives the same manifest."""
    meta = chart_metadata(archive, what)
    name, version = str(meta["name"]), str(meta["version"])
    config = _helm_config(meta)
    annotations = {"org.opencontainers.image.title": name, "org.opencontainers.image.version": version}
    manifest = image_manifest(
        Descriptor.of(HELM_CONFIG, config), [Descriptor.of(HELM_CHART_LAYER, archive)], annotations
    )
    return name, version.replace("+", "_"), config, manifest


def push_charts(fleet: ImageStore, recorded: Sequence[RecordedChart]) -> list[ChartEntry]:
    """Mirror every recorded archive beside the fleet; returns the mapping entries."""
    entries: list[ChartEntry] = []
    pushed: dict[str, tuple[str, str]] = {}  # archive digest -> (ref, manifest digest)
    for record in recorded:
        fetched = record.fetched
        if fetched.digest not in pushed:
            pushed[fetched.digest] = _push_chart(fleet, fetched)
        ref, manifest = pushed[fetched.digest]
        entries.append(
            ChartEntry(
                record.request,
                fetched.name,
                fetched.version,
                fetched.source,
                fetched.digest,
                fetched.revision,
                ref,
                manifest,
            )
        )
    return entries


def _push_chart(fleet: ImageStore, fetched: FetchedChart) -> tuple[str, str]:
    what = f"chart {fetched.name} {fetched.version} ({fetched.source})"
    name, tag, config, manifest = chart_image(fetched.data, what)
    store = fleet.child(f"charts/{name}")
    digest = sha256_digest(manifest)
    existing = store.resolve(tag)
    if existing is not None and existing != digest:
        raise SourceError(
            f"{store.name}:{tag} already holds another chart ({existing}), refusing to overwrite it with {what}",
            hint="mirrored charts are immutable: bump the chart version, or mirror into another repository",
        )
    if existing is None:
        store.put_blob(config)
        store.put_blob(fetched.data)
        store.put_manifest(tag, manifest, OCI_MANIFEST)
    return f"charts/{name}:{tag}", digest


def encode_entries(entries: Sequence[ChartEntry]) -> str:
    ordered = sorted(entries, key=lambda e: _key(e.request))
    return go_json([e.to_json() for e in ordered]).decode()


def decode_entries(text: str, what: str) -> list[ChartEntry]:
    try:
        raw = json.loads(text)
        return [
            ChartEntry(
                {str(k): str(v) for k, v in item["request"].items()},
                str(item["name"]),
                str(item["version"]),
                str(item["source"]),
                str(item["digest"]),
                str(item.get("revision") or ""),
                str(item["ref"]),
                str(item["manifest"]),
            )
            for item in raw
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SourceError(f"{what}: the chart mapping annotation is not valid") from None


@dataclass
class MirrorFetcher(ChartFetcher):
    """Answers chart questions from an artifact's mirror: never the network, never the cache."""

    fleet: ImageStore
    entries: Sequence[ChartEntry]
    limit: int
    _loaded: dict[str, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def repository_chart(
        self, repo: ChartRepository, chart: str, version: str, cache: ChartCache, *, offline: bool
    ) -> FetchedChart:
        return self._answer(_repository_request(repo, chart, version), f"chart {chart} {version} from {repo.url}")

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
        return self._answer(_oci_request(url, selector, layer_media_type), f"OCI artifact {url}")

    def _answer(self, request: dict[str, str], what: str) -> FetchedChart:
        key = _key(request)
        entry = next((e for e in self.entries if _key(e.request) == key), None)
        if entry is None:
            raise SourceError(
                f"{what} is not in the artifact's chart mirror",
                hint="push the fleet again with --include-charts after `fluxform charts pull`",
            )
        data = self._archive(entry)
        return FetchedChart(entry.name, entry.version, entry.source, entry.digest, data, entry.revision)

    def _archive(self, entry: ChartEntry) -> bytes:
        with self._lock:
            if entry.digest in self._loaded:
                return self._loaded[entry.digest]
        path, _, _tag = entry.ref.partition(":")
        store = self.fleet.child(path)
        manifest = store.manifest(entry.manifest)
        layers = [layer for layer in manifest.layers if layer.media_type == HELM_CHART_LAYER]
        if not layers or layers[0].digest != entry.digest:
            raise SourceError(f"{store.name}@{entry.manifest}: chart layer is not {entry.digest}")
        data = store.blob(layers[0].digest, layers[0].size, limit=self.limit)
        with self._lock:
            self._loaded[entry.digest] = data
        return data
