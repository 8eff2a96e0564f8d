"""A minimal OpenAPI v3 publication: paths and operations, no schemas.

Enough for clients that only ask whether the server validates fields itself (kubectl's
and Helm's `fieldValidation` probe: a PATCH operation tagged with the GVK and a
`fieldValidation` query parameter); they then send `fieldValidation=Strict` and skip
client-side schema validation. The emulator accepts that parameter but does not check
fields against schemas.

    index = openapi_index(registry)          # GET /openapi/v3
    doc = group_version_document(registry, "apps", "v1")
"""

from __future__ import annotations

import hashlib
from typing import Any

from .catalog import ResourceType
from .discovery import KUBE_VERSION
from .registry import Registry

__all__ = ["group_version_document", "openapi_index"]

_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")


def _prefix(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_index(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, versions in registry.groups():
        for version in versions:
            prefix = _prefix(group, version)
            digest = hashlib.sha256(repr(sorted(t.plural for t in registry.resources(group, version))).encode())
            paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest.hexdigest()[:32].upper()}"}
    return {"paths": paths}


def _operation(rtype: ResourceType, action: str, params: tuple[str, ...]) -> dict[str, Any]:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    return {
        "operationId": f"{action}{rtype.kind}",
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string"}} for p in params],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }


def _paths(rtype: ResourceType) -> dict[str, Any]:
    base = "/" + _prefix(rtype.group, rtype.version)
    collection = f"{base}/namespaces/{{namespace}}/{rtype.plural}" if rtype.namespaced else f"{base}/{rtype.plural}"
    return {
        collection: {
            "get": _operation(rtype, "list", ("labelSelector", "fieldSelector", "limit", "continue", "watch")),
            "post": _operation(rtype, "post", _WRITE_PARAMS),
        },
        f"{collection}/{{name}}": {
            "get": _operation(rtype, "get", ()),
            "put": _operation(rtype, "put", _WRITE_PARAMS),
            "patch": _operation(rtype, "patch", (*_WRITE_PARAMS, "force")),
            "delete": _operation(rtype, "delete", ("dryRun", "propagationPolicy")),
        },
    }


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.resources(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    for rtype in sorted(types, key=lambda t: t.plural):
        paths.update(_paths(rtype))
    info = {"title": "Kubernetes", "version": KUBE_VERSION}
    return {"openapi": "3.0.0", "info": info, "paths": paths, "components": {"schemas": {}}}
