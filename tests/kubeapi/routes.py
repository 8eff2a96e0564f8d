"""Non-resource paths: /version, discovery, OpenAPI v3 (paths only) and health endpoints.

response = document(state, request, ("apis", "apps", "v1"), "127.0.0.1:6443")
"""

from __future__ import annotations

from .aggregated import aggregated_list, aggregated_media
from .discovery import api_group, api_group_list, api_resource_list, api_versions, version_info
from .errors import method_not_allowed, path_not_found
from .messages import ApiRequest, ApiResponse
from .openapi import group_version_document, openapi_index
from .state import State

__all__ = ["document"]

_ROOT_PATHS = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"]


def document(
    state: State, request: ApiRequest, parts: tuple[str, ...], server_address: str, *, aggregated: bool = True
) -> ApiResponse:
    """Answer a GET on a non-resource path (caller holds the store lock). `aggregated`: /api and
    /apis answer aggregated discovery to clients that ask for it."""
    if request.method not in ("GET", "HEAD"):
        raise method_not_allowed()
    media = aggregated_media(request.headers.get("accept", "")) if aggregated else ""
    if media and parts in (("api",), ("apis",)):
        return ApiResponse(200, aggregated_list(state.registry, core=parts == ("api",), media=media), media)
    body: object = None
    match parts:
        case ():
            body = {"paths": _ROOT_PATHS}
        case ("version",):
            body = version_info()
        case ("healthz" | "livez" | "readyz",):
            return ApiResponse(200, "ok", content_type="text/plain")
        case ("api",):
            body = api_versions(server_address)
        case ("api", version):
            body = api_resource_list(state.registry, "", version)
        case ("apis",):
            body = api_group_list(state.registry)
        case ("apis", group):
            body = api_group(state.registry, group)
        case ("apis", group, version):
            body = api_resource_list(state.registry, group, version)
        case ("openapi", "v3"):
            body = openapi_index(state.registry)
        case ("openapi", "v3", "api", version):
            body = group_version_document(state.registry, "", version)
        case ("openapi", "v3", "apis", group, version):
            body = group_version_document(state.registry, group, version)
    if body is None:
        raise path_not_found()
    return ApiResponse(200, body)
