"""REST mapping: which URL serves a kind, and whether it is namespaced.

Discovery is the authority for what the cluster serves today; CustomResourceDefinitions in
the desired state count too, so a plan that adds a CRD and its custom resources together
maps both (their objects are marked `served=False`: nothing to read, nothing to dry-run yet).

    mapper = RestMapper(Discovery(cluster), planned_crds=[crd_manifest, ...])
    mapping = mapper.resolve("apps/v1", "Deployment")
    mapping.object_path("web", "frontend")   # /apis/apps/v1/namespaces/web/deployments/frontend
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fluxform.cluster.discovery import Discovery

__all__ = ["KindMapping", "RestMapper", "Unmapped", "split_api_version"]


@dataclass(frozen=True, slots=True)
class KindMapping:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    served: bool = True  # False: its CRD is only in the desired state (created by this plan)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def resource(self) -> str:
        """`deployments.apps`, as the API server names it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        return f"{base}/{self.plural}"

    def object_path(self, namespace: str, name: str) -> str:
        return f"{self.collection_path(namespace)}/{quote(name, safe='')}"


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A kind the cluster does not serve (in that version) and no planned CRD defines."""

    api_version: str
    kind: str
    reason: str


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class RestMapper:
    def __init__(self, discovery: Discovery, planned_crds: Iterable[Mapping[str, Any]] = ()) -> None:
        self.discovery = discovery
        self._planned = _planned_kinds(planned_crds)
        self._cache: dict[tuple[str, str], KindMapping | Unmapped] = {}
        self._lock = threading.Lock()

    def resolve(self, api_version: str, kind: str) -> KindMapping | Unmapped:
        key = (api_version, kind)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._resolve(api_version, kind)
            return self._cache[key]

    def _resolve(self, api_version: str, kind: str) -> KindMapping | Unmapped:
        group, version = split_api_version(api_version)
        served = self.discovery.find(group, kind)
        for resource in served:
            if resource.version == version:
                return KindMapping(group, version, kind, resource.plural, resource.namespaced)
        planned = self._planned.get((group, kind))
        if planned is not None and version in planned[2]:
            return KindMapping(group, version, kind, planned[0], planned[1], served=False)
        if served:
            versions = ", ".join(r.api_version for r in served)
            return Unmapped(api_version, kind, f"the cluster serves {kind} only as {versions}, not {api_version}")
        return Unmapped(
            api_version,
            kind,
            f"the cluster does not serve {kind} ({api_version}) "
            "and no CustomResourceDefinition in this plan defines it",
        )


def _planned_kinds(crds: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[str, bool, frozenset[str]]]:
    """(group, kind) -> (plural, namespaced, served versions) of CRDs in the desired state."""
    out: dict[tuple[str, str], tuple[str, bool, frozenset[str]]] = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if not (isinstance(group, str) and isinstance(kind, str) and isinstance(plural, str)):
            continue
        versions = frozenset(
            str(v.get("name")) for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served", True)
        )
        out[(group, kind)] = (plural, spec.get("scope", "Namespaced") != "Cluster", versions)
    return out
