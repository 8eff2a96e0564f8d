"""Aggregated discovery (apidiscovery.k8s.io v2, GA in Kubernetes 1.30): everything a group
list serves in one document, answered on /api and /apis when the client asks for it in its
Accept header, as client-go, kubectl, Helm and fluxform do. Clients that do not ask get the
legacy documents of discovery.py.

    media = aggregated_media(request.headers.get("accept", ""))   # "" when not asked
    body = aggregated_list(registry, core=False, media=media)
"""

from __future__ import annotations

from typing import Any

from .catalog import ResourceType
from .registry import Registry

__all__ = ["aggregated_list", "aggregated_media"]

_VERSIONS = ("v2", "v2beta1")


def aggregated_media(accept: str) -> str:
    """The aggregated media type to answer with, v2 before v2beta1; "" when the client did not
    ask for one (it then gets legacy discovery)."""
    offered = [part.replace(" ", "") for part in accept.split(",")]
    for version in _VERSIONS:
        wanted = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
        if wanted in offered:
            return wanted
    return ""


def _response_kind(rtype: ResourceType) -> dict[str, str]:
    return {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}


def _resource(rtype: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rtype.plural,
        "responseKind": _response_kind(rtype),
        "scope": "Namespaced" if rtype.namespaced else "Cluster",
        "singularResource": rtype.singular_name,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    if rtype.status:
        status = {"subresource": "status", "responseKind": _response_kind(rtype), "verbs": ["get", "patch", "update"]}
        entry["subresources"] = [status]
    return entry


def aggregated_list(registry: Registry, *, core: bool, media: str) -> dict[str, Any]:
    """The APIGroupDiscoveryList of the core group (/api) or of the named groups (/apis);
    versions in preference order, the preferred first, as the API server lists them."""
    items = []
    for group, versions in registry.groups():
        if (group == "") != core:
            continue
        served = [
            {
                "version": version,
                "resources": [_resource(t) for t in sorted(registry.resources(group, version), key=lambda t: t.plural)],
                "freshness": "Current",
            }
            for version in versions
        ]
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": served})
    api_version = "apidiscovery.k8s.io/" + media.split(";v=")[1].split(";")[0]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}
