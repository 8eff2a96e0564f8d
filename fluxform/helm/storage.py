"""Helm's release storage read (and, for unlocking, written) through fluxform's cluster client,
as Helm's Secrets driver keeps it: one Secret `sh.helm.release.v1.<name>.v<N>` per revision,
type `helm.sh/release.v1`, labels `owner=helm`, `name`, `status`, `version`, and the release
record in `data.release` as base64(gzip(JSON)) (helm pkg/storage/driver secrets.go, util.go).

Reading here costs one LIST and no Helm worker, so plans and the apply's pre-checks see a
release's history and status cheaply. A release record holds the user's values and a
manifest that may hold Secrets: `StoredRelease` keeps only the manifest, in memory, and
callers mask it before it leaves the process.

    history = read_history(cluster, "team", "shop")      # oldest first
    history[-1].status                                    # "deployed"
    mark_failed(cluster, history[-1], "Release unlocked from stale 'pending-upgrade' state")
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fluxform.cluster.client import ClusterClient
from fluxform.errors import ClusterError
from fluxform.helm.values import values_digest

__all__ = [
    "PENDING_STATUSES",
    "ReleaseUnreadable",
    "StoredRelease",
    "list_releases",
    "mark_failed",
    "read_history",
    "storage_secret_name",
]

#: Helm's release statuses that lock a release: an action is (or was, when interrupted) under way.
PENDING_STATUSES = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})
_GZIP_MAGIC = b"\x1f\x8b\x08"


class ReleaseUnreadable(ClusterError):
    """Helm's storage could not be listed or a record could not be decoded."""


@dataclass(frozen=True)
class StoredRelease:
    """One revision as Helm stored it (no values: they may be secret)."""

    name: str
    storage_namespace: str
    namespace: str  # the release namespace recorded in the release
    version: int
    status: str  # deployed | superseded | failed | uninstalled | uninstalling | pending-*
    description: str
    chart_name: str
    chart_version: str
    app_version: str
    secret_name: str
    resource_version: str
    apply_method: str = ""  # "ssa" (server-side apply) or "csa", Helm 4
    config_digest: str = ""  # values_digest of the values it was made with (the values are not kept)
    manifest: str = field(default="", repr=False)  # may hold Secret values: mask before showing
    readable: bool = True  # False: the record could not be decoded; only its labels are known

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATUSES


def storage_secret_name(name: str, version: int) -> str:
    """Helm's storage key: `sh.helm.release.v1.<release>.v<revision>`."""
    return f"sh.helm.release.v1.{name}.v{version}"


def read_history(cluster: ClusterClient, storage_namespace: str, name: str) -> list[StoredRelease]:
    """Every stored revision of release `name`, oldest first; [] when none (or no namespace).
    A record that cannot be decoded raises ReleaseUnreadable."""
    items = _list(cluster, storage_namespace, f"owner=helm,name={name}", f"Helm release {storage_namespace}/{name}")
    releases = [_decoded(item, storage_namespace) for item in items if _is_release_secret(item, name)]
    return sorted(releases, key=lambda r: r.version)


def list_releases(cluster: ClusterClient, storage_namespace: str) -> dict[str, list[StoredRelease]]:
    """Every release stored in a namespace (one LIST): name -> revisions, oldest first. A
    record that cannot be decoded is kept as its labels say (`readable` False, no manifest)."""
    items = _list(cluster, storage_namespace, "owner=helm", f"Helm releases in namespace {storage_namespace}")
    found: dict[str, list[StoredRelease]] = {}
    for item in items:
        name = str(((item.get("metadata") or {}).get("labels") or {}).get("name") or "")
        if not name or not _is_release_secret(item, name):
            continue
        try:
            release = _decoded(item, storage_namespace)
        except ReleaseUnreadable:
            release = _from_labels(item, storage_namespace)
        found.setdefault(name, []).append(release)
    return {name: sorted(revisions, key=lambda r: r.version) for name, revisions in found.items()}


def _list(cluster: ClusterClient, namespace: str, selector: str, what: str) -> list[dict[str, Any]]:
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets"
    reply = cluster.request("GET", path, query=[("labelSelector", selector)], what=f"list {what}")
    if reply.status == 404:  # a namespace that does not exist holds no release
        return []
    if not reply.ok:
        raise ReleaseUnreadable(
            f"cannot read {what}",
            detail=reply.failure().message,
            hint="the credentials need get/list on Secrets in the release's storage namespace",
        )
    items: list[dict[str, Any]] = (reply.json() or {}).get("items") or []
    return items


def mark_failed(cluster: ClusterClient, release: StoredRelease, description: str) -> StoredRelease:
    """helm-controller's unlock: the stored revision set to `failed` with `description`, as
    Helm's Secrets driver `Update` writes it (labels rebuilt, `modifiedAt` now). Conditional
    on the resourceVersion read: a release that moved since is not overwritten."""
    path = _secret_path(release.storage_namespace, release.secret_name)
    reply = cluster.request("GET", path, what=f"read Helm release {release.secret_name}")
    if not reply.ok:
        raise ReleaseUnreadable(f"cannot read {release.secret_name}", detail=reply.failure().message)
    secret = reply.json()
    record = _record(secret)
    info = record.setdefault("info", {})
    info["status"], info["description"] = "failed", description
    labels = {str(k): str(v) for k, v in (record.get("labels") or {}).items()}
    labels.update(
        modifiedAt=str(int(time.time())), name=release.name, owner="helm", status="failed", version=str(release.version)
    )
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": release.secret_name,
            "namespace": release.storage_namespace,
            "labels": labels,
            "resourceVersion": release.resource_version,
        },
        "type": "helm.sh/release.v1",
        "data": {"release": base64.b64encode(_encode_record(record)).decode()},
    }
    reply = cluster.request(
        "PUT",
        path,
        body=json.dumps(body).encode(),
        content_type="application/json",
        what=f"mark Helm release {release.secret_name} failed",
    )
    if not reply.ok:
        raise ClusterError(f"cannot mark {release.secret_name} failed", detail=reply.failure().message)
    return _decoded(reply.json(), release.storage_namespace)


def _secret_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}"


def _is_release_secret(item: Mapping[str, Any], name: str) -> bool:
    labels = (item.get("metadata") or {}).get("labels") or {}
    return item.get("type") == "helm.sh/release.v1" and labels.get("name") == name and labels.get("owner") == "helm"


def _decoded(secret: Mapping[str, Any], storage_namespace: str) -> StoredRelease:
    meta = secret.get("metadata") or {}
    record = _record(secret)
    info = record.get("info") or {}
    chart = (record.get("chart") or {}).get("metadata") or {}
    labels = meta.get("labels") or {}
    return StoredRelease(
        name=str(record.get("name") or labels.get("name") or ""),
        storage_namespace=storage_namespace,
        namespace=str(record.get("namespace") or ""),
        version=int(record.get("version") or labels.get("version") or 0),
        status=str(info.get("status") or labels.get("status") or ""),
        description=str(info.get("description") or ""),
        chart_name=str(chart.get("name") or ""),
        chart_version=str(chart.get("version") or ""),
        app_version=str(chart.get("appVersion") or ""),
        secret_name=str(meta.get("name") or ""),
        resource_version=str(meta.get("resourceVersion") or ""),
        apply_method=str(record.get("apply_method") or ""),
        config_digest=values_digest(record.get("config") or {}),
        manifest=str(record.get("manifest") or ""),
    )


def _from_labels(secret: Mapping[str, Any], storage_namespace: str) -> StoredRelease:
    meta = secret.get("metadata") or {}
    labels = meta.get("labels") or {}
    version = str(labels.get("version") or "")
    return StoredRelease(
        name=str(labels.get("name") or ""),
        storage_namespace=storage_namespace,
        namespace="",
        version=int(version) if version.isdigit() else 0,
        status=str(labels.get("status") or ""),
        description="",
        chart_name="",
        chart_version="",
        app_version="",
        secret_name=str(meta.get("name") or ""),
        resource_version=str(meta.get("resourceVersion") or ""),
        readable=False,
    )


def _record(secret: Mapping[str, Any]) -> dict[str, Any]:
    """The release record: Secret data is base64 of Helm's base64(gzip(JSON)) text."""
    name = str((secret.get("metadata") or {}).get("name") or "")
    try:
        encoded = base64.b64decode((secret.get("data") or {}).get("release") or "", validate=True)
        raw = base64.b64decode(encoded, validate=True)
        if raw[:3] == _GZIP_MAGIC:  # releases stored before Helm compressed them are plain JSON
            raw = gzip.decompress(raw)
        record = json.loads(raw)
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as exc:
        raise ReleaseUnreadable(f"Helm release record {name} cannot be decoded", detail=type(exc).__name__) from None
    if not isinstance(record, dict):
        raise ReleaseUnreadable(f"Helm release record {name} is not an object")
    return record


def _encode_record(record: Mapping[str, Any]) -> bytes:
    """Helm's encodeRelease: JSON, gzip at best compression, base64 (as text bytes)."""
    raw = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0))
