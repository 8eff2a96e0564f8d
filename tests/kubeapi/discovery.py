"""Legacy (unaggregated) discovery documents: /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>.

Clients asking for aggregated discovery get aggregated.py's documents on /api and /apis
instead (unless the emulator was started with `aggregated_discovery=False`, like a cluster
older than 1.26, when they fall back to these, as client-go does on plain `application/json`).

    body = api_resource_list(registry, "apps", "v1")
"""

from __future__ import annotations

from typing import Any

from .catalog import ResourceType
from .registry import Registry

__all__ = ["api_group", "api_group_list", "api_resource_list", "api_versions", "version_info"]

KUBE_VERSION = "v1.36.0"


def version_info() -> dict[str, str]:
    """GET /version: a recent release so kubectl prints no version-skew warning."""
    major, minor, _ = KUBE_VERSION[1:].split(".")
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "gitVersion": KUBE_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group_doc(g, versions) for g, versions in registry.groups() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    for name, versions in registry.groups():
        if name == group and group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}
    return None


def _resource_entries(rtype: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular_name,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        main["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        main["categories"] = list(rtype.categories)
    entries = [main]
    if rtype.status:
        entries.append(
            {
                "name": f"{rtype.plural}/status",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.resources(group, version)
    if not types:
        return None
    resources = [entry for rtype in sorted(types, key=lambda t: t.plural) for entry in _resource_entries(rtype)]
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
