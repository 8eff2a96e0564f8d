"""URL paths to routes: which document or which resource (and object) a request names.

parse_path("/apis/apps/v1/namespaces/web/deployments/api/status")
# ResourcePath(group="apps", version="v1", namespace="web", plural="deployments",
#              name="api", subresource="status")
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["DocumentPath", "ResourcePath", "parse_path"]


@dataclass(frozen=True, slots=True)
class DocumentPath:
    """A non-resource path: version, discovery or openapi; `parts` are the path segments."""

    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResourcePath:
    group: str
    version: str
    namespace: str | None  # None: no namespace segment (cluster-scoped or all namespaces)
    plural: str
    name: str | None = None
    subresource: str | None = None


_NAMESPACE_SUBRESOURCES = ("status", "finalize")


def parse_path(path: str) -> DocumentPath | ResourcePath | None:
    """None when the path is not part of the Kubernetes API at all."""
    parts = tuple(unquote(p) for p in path.strip("/").split("/") if p)
    if not parts:
        return DocumentPath(())
    if parts[0] == "api":
        return _resource("", parts[1:2], parts[2:]) if len(parts) > 2 else DocumentPath(parts)
    if parts[0] == "apis":
        return _resource(parts[1], parts[2:3], parts[3:]) if len(parts) > 3 else DocumentPath(parts)
    return DocumentPath(parts)


def _resource(group: str, version: tuple[str, ...], rest: tuple[str, ...]) -> ResourcePath | None:
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    return ResourcePath(
        group=group,
        version=version[0],
        namespace=namespace,
        plural=rest[0],
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
    )
