"""What the cluster serves, read once per run: aggregated discovery when the server offers it
(two requests for everything), else legacy discovery fetched per API group on first use.

    discovery = Discovery(cluster)
    discovery.find("apps", "Deployment")   # [Resource(apps, v1, Deployment, deployments, ...)]
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fluxform.cluster.client import ClusterClient

__all__ = ["AGGREGATED_ACCEPT", "Discovery", "Resource", "parse_aggregated", "parse_resource_list"]

#: Ask for aggregated discovery (Kubernetes >= 1.26 beta, 1.30 GA) and accept the legacy form.
AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource of one group version (subresources excluded)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


class Discovery:
    """Lazily filled, cached for the life of the object (one run)."""

    def __init__(self, cluster: ClusterClient) -> None:
        self._cluster = cluster
        self._lock = threading.Lock()
        self._preferred: dict[str, list[str]] | None = None  # group -> versions, preferred first
        self._by_group: dict[str, list[Resource]] = {}  # filled per group (legacy) or at once

    def find(self, group: str, kind: str) -> list[Resource]:
        """Every version serving (group, kind), the group's preferred version first."""
        return [r for r in self.resources(group) if r.kind == kind]

    def resources(self, group: str) -> list[Resource]:
        with self._lock:
            self._load_groups()
            if group not in self._by_group:
                self._by_group[group] = self._fetch_group(group)
            return self._by_group[group]

    def serves_group(self, group: str) -> bool:
        with self._lock:
            self._load_groups()
            assert self._preferred is not None
            return group in self._preferred

    def api_versions(self) -> tuple[str, ...]:
        """Every served `group/version` and `group/version/Kind`, as Helm's
        `.Capabilities.APIVersions` holds them (legacy discovery: reads every group)."""
        with self._lock:
            self._load_groups()
            assert self._preferred is not None
            groups = sorted(self._preferred)
        out: set[str] = set()
        for group in groups:
            for resource in self.resources(group):
                out |= {resource.api_version, f"{resource.api_version}/{resource.kind}"}
        return tuple(sorted(out))

    def server_version(self) -> str:
        """The API server's `gitVersion` (e.g. v1.31.2), "" when it does not say."""
        reply = self._cluster.request("GET", "/version")
        doc = reply.json() if reply.ok else {}
        return str(doc.get("gitVersion") or "") if isinstance(doc, dict) else ""

    def _load_groups(self) -> None:
        if self._preferred is not None:
            return
        core = self._cluster.request("GET", "/api", accept=AGGREGATED_ACCEPT)
        groups = self._cluster.request("GET", "/apis", accept=AGGREGATED_ACCEPT)
        for reply in (core, groups):
            if not reply.ok:
                raise reply.failure().error(
                    f"API discovery (GET {'/api' if reply is core else '/apis'})", context=self._cluster.context
                )
        core_doc, groups_doc = core.json(), groups.json()
        if _is_aggregated(core_doc) and _is_aggregated(groups_doc):
            preferred, by_group = parse_aggregated([core_doc, groups_doc])
            self._preferred, self._by_group = preferred, by_group
            return
        preferred = {"": [str(v) for v in (core_doc or {}).get("versions") or ["v1"]]}
        for item in (groups_doc or {}).get("groups") or []:
            versions = [str(v.get("version")) for v in item.get("versions") or []]
            first = str(((item.get("preferredVersion") or {}).get("version")) or "")
            preferred[str(item.get("name"))] = [first] + [v for v in versions if v != first] if first else versions
        self._preferred = preferred

    def _fetch_group(self, group: str) -> list[Resource]:
        assert self._preferred is not None
        found: list[Resource] = []
        for version in self._preferred.get(group, []):
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            reply = self._cluster.request("GET", path)
            if reply.status == 404:  # a group version that went away since /apis was read
                continue
            if not reply.ok:
                raise reply.failure().error(f"API discovery (GET {path})", context=self._cluster.context)
            found += parse_resource_list(group, version, reply.json())
        return found


def _is_aggregated(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "APIGroupDiscoveryList"


def parse_resource_list(group: str, version: str, doc: Mapping[str, Any]) -> list[Resource]:
    """Resources of a legacy APIResourceList (subresources like `deployments/status` dropped)."""
    return [
        Resource(group, version, str(r["kind"]), str(r["name"]), bool(r.get("namespaced")), tuple(r.get("verbs") or ()))
        for r in doc.get("resources") or []
        if "/" not in str(r.get("name", "/"))
    ]


def parse_aggregated(docs: Iterable[Mapping[str, Any]]) -> tuple[dict[str, list[str]], dict[str, list[Resource]]]:
    """(group -> versions preferred first, group -> resources) from APIGroupDiscoveryList
    documents; the first version listed is the preferred one."""
    preferred: dict[str, list[str]] = {}
    by_group: dict[str, list[Resource]] = {}
    for doc in docs:
        for item in doc.get("items") or []:
            group = str((item.get("metadata") or {}).get("name") or "")
            versions = item.get("versions") or []
            preferred[group] = [str(v.get("version")) for v in versions]
            by_group[group] = [
                Resource(
                    group,
                    str(v.get("version")),
                    str((r.get("responseKind") or {}).get("kind") or ""),
                    str(r.get("resource")),
                    r.get("scope") == "Namespaced",
                    tuple(r.get("verbs") or ()),
                )
                for v in versions
                for r in v.get("resources") or []
            ]
    return preferred, by_group
