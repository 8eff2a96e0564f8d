"""Naming objects from tests: tuples, manifests, or anything shaped like fluxform's ObjectId.

as_ref(("apps", "Deployment", "default", "web"))
as_ref({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .catalog import ResourceType

__all__ = ["ObjectRef", "as_ref", "resource_path"]


class ObjectRef(NamedTuple):
    group: str
    kind: str
    namespace: str  # "" for cluster-scoped
    name: str


def as_ref(value: Any) -> ObjectRef:
    """An ObjectRef from a 4-tuple (group, kind, namespace, name), a manifest, or any object
    with group/kind/namespace/name attributes (fluxform.objects.ObjectId qualifies)."""
    if isinstance(value, ObjectRef):
        return value
    if isinstance(value, Mapping):
        meta = value.get("metadata") or {}
        group = str(value.get("apiVersion", "")).rpartition("/")[0]
        return ObjectRef(group, str(value.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")))
    if isinstance(value, tuple) and len(value) == 4:
        return ObjectRef(*(str(part) for part in value))
    if all(hasattr(value, attr) for attr in ObjectRef._fields):
        return ObjectRef(*(str(getattr(value, attr)) for attr in ObjectRef._fields))
    raise TypeError(f"cannot name a Kubernetes object with {value!r}")


def resource_path(rtype: ResourceType, namespace: str, name: str | None = None) -> str:
    base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    if rtype.namespaced:
        base += f"/namespaces/{namespace or 'default'}"
    base += f"/{rtype.plural}"
    return f"{base}/{name}" if name else base
